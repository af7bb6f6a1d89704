"""Decode and encode the media the pipeline moves around, with PyAV and Pillow only.

No ffmpeg binary is needed at run time: PyAV links the ffmpeg libraries. Audio is
always mono float32 in [-1, 1] at the pipeline's sample rate; frames are whole RGB uint8 frames, downscaled
with their aspect kept (``fit_within``).
"""

from __future__ import annotations

import heapq
import io
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from ampere.errors import PoisonRecord

# int16 full scale used by every float <-> int16 conversion in the system (pipeline blobs too)
_I16 = 32767.0
_MAX_SKEW_S = 5.0  # how far one stream may lag the other before ordering stops waiting for it


class MediaError(PoisonRecord):
    """Bytes or a source that cannot be decoded, or do not have the expected format."""

    category = "bad-media"


class MediaLimit(MediaError):
    """Media over one of the bounds in ``settings.limits`` (too long, too many pixels, a time jump, ...)."""

    category = "media-limit"


class LateMedia(MediaError):
    """Media that arrived after the span it covers was padded with silence or closed."""

    category = "late-media"


# Pillow refuses (DecompressionBombError) images over twice this and warns over it; every decode here checks
# the header against the caller's own bound first (settings.limits.max_frame_pixels)
DEFAULT_MAX_PIXELS = 1920 * 1080
Image.MAX_IMAGE_PIXELS = 4096 * 4096
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # sizes are checked below
_JPEG_MODES = ("L", "RGB", "CMYK", "YCbCr")


@dataclass
class AudioPiece:
    t0: float  # media time of pcm[0], seconds
    pcm: np.ndarray  # float32 mono


@dataclass
class FramePiece:
    t: float
    rgb: np.ndarray  # the whole frame, longest side frame_size (aspect kept): what the visual tower sees
    full: np.ndarray | None = None  # the same frame, longest side <= full_size: readable text, for OCR


@dataclass
class EndPiece:
    t: float  # media time the source ended at


# --- frames -------------------------------------------------------------------------------------


def fit_within(img: Image.Image, max_side: int) -> np.ndarray:
    """The whole frame, downscaled so its longest side is at most ``max_side`` (never upscaled, aspect kept).

    No crop: a live frame's product is often held at the edge and its price card sits in a corner, so the
    pipeline keeps the whole picture; the visual tower squashes it to its square input exactly as training
    does (``encoders.frames.to_square``).
    """
    img = img.convert("RGB")
    w, h = img.size
    scale = min(1.0, max_side / max(w, h))
    if scale < 1.0:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise MediaError(f"encode_jpeg wants an HxWx3 uint8 array, got {arr.dtype} {arr.shape}")
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _open_jpeg(data: bytes, max_pixels: int) -> Image.Image:
    """The image with only its header read: format, mode and size are checked before any pixel is decoded."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 4:
        raise MediaError("image is empty or too short to be a JPEG")
    if bytes(data[:2]) != b"\xff\xd8":
        raise MediaError("image is not a JPEG (no SOI marker)")
    try:
        img = Image.open(io.BytesIO(data), formats=["JPEG"])
    except Image.DecompressionBombError:
        raise MediaLimit(
            f"image is over {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels, over the limit of {max_pixels}"
        ) from None
    except Exception as exc:
        raise MediaError(f"cannot read the image header ({type(exc).__name__})") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise MediaError(f"image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise MediaLimit(f"image is {w}x{h} = {w * h} pixels, over the limit of {max_pixels}")
    if img.mode not in _JPEG_MODES:
        raise MediaError(f"unsupported JPEG mode {img.mode!r}")
    return img


def jpeg_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) from the header, checked against ``max_pixels``; nothing is decoded."""
    return _open_jpeg(data, max_pixels).size


def decode_jpeg(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """JPEG bytes -> HxWx3 uint8; MediaLimit before decoding anything over ``max_pixels``, MediaError on garbage
    (truncated data included)."""
    img = _open_jpeg(data, max_pixels)
    try:
        img.load()
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Exception as exc:
        raise MediaError(f"cannot decode image ({len(data)} bytes): {type(exc).__name__}") from None


# --- audio chunks (FLAC in memory) ---------------------------------------------------------------


def encode_audio(pcm: np.ndarray, sample_rate: int) -> bytes:
    """Mono float32 -> FLAC bytes: lossless at int16 and about half the size of raw PCM."""
    x = np.asarray(pcm, dtype=np.float32).reshape(-1)
    s16 = np.round(np.clip(x, -1.0, 1.0) * _I16).astype(np.int16)
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        st = out.add_stream("flac", rate=sample_rate)
        st.layout = "mono"
        st.format = "s16"
        if len(s16):
            fr = av.AudioFrame.from_ndarray(s16.reshape(1, -1), format="s16", layout="mono")
            fr.sample_rate = sample_rate
            fr.pts = 0
            fr.time_base = Fraction(1, sample_rate)
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def decode_audio(data: bytes, expected_rate: int, max_s: float | None = None) -> np.ndarray:
    """FLAC bytes -> mono float32; MediaError on garbage, another sample rate or more than one channel (as
    decoded, not only as declared), MediaLimit as soon as the decoded audio passes ``max_s`` seconds (a few KB
    of FLAC can hold an hour of silence: decoding stops at the bound)."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or not len(data):
        raise MediaError("audio chunk is empty")
    limit = None if max_s is None else int(max_s * expected_rate)
    parts: list[np.ndarray] = []
    got = 0
    try:
        with av.open(io.BytesIO(data), "r", format="flac") as inp:
            if not inp.streams.audio:
                raise MediaError("no audio stream in chunk")
            st = inp.streams.audio[0]
            if st.sample_rate != expected_rate:
                raise MediaError(f"audio chunk is {st.sample_rate} Hz, expected {expected_rate} Hz")
            if st.channels != 1:
                raise MediaError(f"audio chunk has {st.channels} channels, expected mono")
            for fr in inp.decode(st):
                if fr.sample_rate != expected_rate:
                    raise MediaError(f"audio chunk changes to {fr.sample_rate} Hz, expected {expected_rate} Hz")
                if fr.layout.nb_channels != 1:
                    raise MediaError(f"audio chunk has {fr.layout.nb_channels} channels, expected mono")
                a = fr.to_ndarray().reshape(-1)  # mono: packed and planar are one row
                parts.append(a)
                got += len(a)
                if limit is not None and got > limit:
                    raise MediaLimit(f"audio chunk decodes to more than {max_s:g} s (limit {max_s:g} s)")
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"cannot decode audio chunk ({len(data)} bytes): {type(exc).__name__}") from None
    if not parts:
        return np.zeros(0, np.float32)
    s = np.concatenate(parts)
    if s.dtype == np.int16:
        return s.astype(np.float32) / _I16
    if s.dtype == np.int32:  # FLAC decoders hand back s32 (MSB-aligned) for streams over 16 bits
        return (s.astype(np.float64) / 65536.0 / _I16).astype(np.float32)
    if s.dtype == np.uint8:
        return (s.astype(np.float32) - 128.0) / 128.0
    return s.astype(np.float32)


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Mono float32 at ``from_rate`` -> mono float32 at ``to_rate`` (libswresample through PyAV)."""
    x = np.ascontiguousarray(np.asarray(pcm, dtype=np.float32).reshape(1, -1))
    if from_rate == to_rate or x.shape[1] == 0:
        return x.reshape(-1).copy()
    fr = av.AudioFrame.from_ndarray(x, format="flt", layout="mono")
    fr.sample_rate = int(from_rate)
    rs = av.AudioResampler(format="flt", layout="mono", rate=int(to_rate))
    parts = [o.to_ndarray().reshape(-1) for o in rs.resample(fr)] + [
        o.to_ndarray().reshape(-1) for o in rs.resample(None)
    ]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


# --- containers -----------------------------------------------------------------------------------


def _open(source: str):
    try:
        if "://" in source:
            # network sources: fail instead of hanging forever on a dead URL
            return av.open(source, timeout=(15.0, 15.0))
        return av.open(source)
    except Exception as exc:
        raise MediaError(f"cannot open {source}: {exc}") from None


def _origin(container) -> float:
    # live sources (HLS, RTMP) start at arbitrary timestamps; media time starts at 0 for us
    st = container.start_time
    return st / 1e6 if st is not None and st > 0 else 0.0


def _frame_time(frame, origin: float) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base) - origin


def probe_duration(path: str) -> float:
    with _open(path) as c:
        if c.duration:
            return c.duration / 1e6
        d = [float(s.duration * s.time_base) for s in c.streams if s.duration and s.time_base]
    if d:
        return max(d)
    raise MediaError(f"{path}: duration unknown")


class _AudioChunker:
    """Resample decoded frames to mono float32 and cut fixed-length chunks with their media time."""

    def __init__(self, sample_rate: int, chunk_s: float):
        self.rate = sample_rate
        self.n = max(1, int(round(chunk_s * sample_rate)))
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        self.buf: list[np.ndarray] = []
        self.buffered = 0
        self.t0: float | None = None  # media time of the first buffered sample

    def _append(self, frames) -> None:
        for fr in frames:
            a = fr.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            if len(a):
                self.buf.append(a)
                self.buffered += len(a)

    def push(self, frame, t: float | None) -> list[AudioPiece]:
        out: list[AudioPiece] = []
        if t is not None:
            if self.t0 is None:
                self.t0 = t
            else:
                expected = self.t0 + self.buffered / self.rate
                if t - expected > 0.25:  # a hole in the source: emit what we have, restart the clock
                    out += self.flush_partial(keep_resampler=True)
                    self.t0 = t
        elif self.t0 is None:
            self.t0 = 0.0
        self._append(self.resampler.resample(frame))
        out += self._cut()
        return out

    def _cut(self) -> list[AudioPiece]:
        out: list[AudioPiece] = []
        if self.buffered < self.n:
            return out
        data = np.concatenate(self.buf)
        k = 0
        t0 = self.t0 if self.t0 is not None else 0.0  # set by the first push, before anything is buffered
        while len(data) - k >= self.n:
            out.append(AudioPiece(t0, data[k : k + self.n].copy()))
            t0 += self.n / self.rate
            self.t0 = t0
            k += self.n
        rest = data[k:]
        self.buf, self.buffered = ([rest] if len(rest) else []), len(rest)
        return out

    def flush_partial(self, keep_resampler: bool = False) -> list[AudioPiece]:
        if not keep_resampler:
            self._append(self.resampler.resample(None))
        out = self._cut()
        if self.buffered:
            out.append(AudioPiece(self.t0 or 0.0, np.concatenate(self.buf)))
            self.t0 = (self.t0 or 0.0) + self.buffered / self.rate
            self.buf, self.buffered = [], 0
        return out

    @property
    def end(self) -> float:
        return (self.t0 or 0.0) + self.buffered / self.rate


def iter_media(
    source: str,
    sample_rate: int = 16000,
    chunk_s: float = 1.0,
    keyframe_fps: float = 2.0,
    frame_size: int = 256,
    realtime: bool = False,
    full_every_s: float = 0.0,
    full_size: int = 640,
    start_s: float = 0.0,
    speed: float = 1.0,
) -> Iterator[AudioPiece | FramePiece | EndPiece]:
    """Audio chunks and sampled keyframes of any source PyAV opens, in media-time order, then EndPiece.
    Every ``full_every_s`` seconds (0: never) a keyframe also carries the frame at up to ``full_size`` px.

    Pieces are held back only until every active stream has moved past them, so
    memory stays bounded by the demuxer's interleaving, not by the source length.
    ``start_s``: pieces before this media time are skipped (a resumed replay), without pacing;
    ``speed``: with ``realtime``, media seconds per wall-clock second.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    if keyframe_fps <= 0 or chunk_s <= 0 or sample_rate <= 0 or frame_size <= 0:
        raise ValueError("sample_rate, chunk_s, keyframe_fps and frame_size must be positive")
    container = _open(source)
    try:
        a_st = container.streams.audio[0] if container.streams.audio else None
        v_st = container.streams.video[0] if container.streams.video else None
        if a_st is None and v_st is None:
            raise MediaError(f"{source}: no audio or video stream")
        origin = _origin(container)
        chunker = _AudioChunker(sample_rate, chunk_s) if a_st is not None else None
        step = 1.0 / keyframe_fps
        next_frame_t = next_full_t = 0.0
        watermark = {s.index: 0.0 for s in (a_st, v_st) if s is not None}
        heap: list[tuple[float, int, object]] = []
        seq = 0
        end_t = 0.0
        pace = _Pacer(speed) if realtime else None

        def emit_ready(final: bool = False):
            if final:
                limit = float("inf")
            else:
                # a stream that stopped early must not hold the other one back for the rest of the source
                hi = max(watermark.values())
                limit = max(min(watermark.values()), hi - _MAX_SKEW_S)
            while heap and heap[0][0] <= limit:
                t, _, piece = heapq.heappop(heap)
                if t + 1e-6 < start_s:
                    continue
                if pace:
                    pace.wait(t)
                yield piece

        streams = [s for s in (a_st, v_st) if s is not None]
        try:
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    t = _frame_time(frame, origin)
                    if packet.stream is a_st:
                        assert chunker is not None and a_st is not None
                        for p in chunker.push(frame, t):
                            heapq.heappush(heap, (p.t0, seq, p))
                            seq += 1
                        watermark[a_st.index] = chunker.t0 or 0.0
                        end_t = max(end_t, chunker.end)
                    else:
                        if t is None or v_st is None:
                            continue
                        end_t = max(end_t, t + (float(1 / v_st.average_rate) if v_st.average_rate else 0.0))
                        watermark[v_st.index] = t
                        if t + 1e-6 >= next_frame_t:
                            image = frame.to_image()
                            full = None
                            if full_every_s > 0 and t + 1e-6 >= next_full_t:
                                full = fit_within(image, full_size)
                                while next_full_t <= t + 1e-6:
                                    next_full_t += full_every_s
                            piece = FramePiece(t, fit_within(image, frame_size), full)
                            heapq.heappush(heap, (t, seq, piece))
                            seq += 1
                            while next_frame_t <= t + 1e-6:
                                next_frame_t += step
                yield from emit_ready()
        except av.error.FFmpegError as exc:
            raise MediaError(f"{source}: decoding failed: {exc}") from None
        if chunker is not None:
            for p in chunker.flush_partial():
                heapq.heappush(heap, (p.t0, seq, p))
                seq += 1
            end_t = max(end_t, chunker.end)
        yield from emit_ready(final=True)
        yield EndPiece(end_t)
    finally:
        container.close()


class _Pacer:
    """Hold pieces back to wall-clock speed, as a live source would deliver them."""

    def __init__(self, speed: float = 1.0):
        self.start_wall: float | None = None
        self.start_t = 0.0
        self.speed = speed

    def wait(self, t: float) -> None:
        now = time.monotonic()
        if self.start_wall is None:
            self.start_wall, self.start_t = now, t
            return
        delay = self.start_wall + (t - self.start_t) / self.speed - now
        if delay > 0:
            time.sleep(delay)


# --- whole-file helpers (offline short-video indexing, training data) ---------------------------


def read_audio(path: str, start: float = 0.0, end: float | None = None, sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 samples of [start, end) seconds (end None: to the end); empty if no audio."""
    with _open(path) as c:
        if not c.streams.audio:
            return np.zeros(0, np.float32)
        st = c.streams.audio[0]
        origin = _origin(c)
        rs = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        parts: list[np.ndarray] = []
        first_t: float | None = None
        got = 0
        want_end = None if end is None else int(round(end * sample_rate))
        try:
            for fr in c.decode(st):
                if first_t is None:
                    first_t = max(0.0, _frame_time(fr, origin) or 0.0)
                    lead = int(round(first_t * sample_rate))
                    if lead:  # keep sample index == media time, as the slice below assumes
                        parts.append(np.zeros(lead, np.float32))
                        got += lead
                for o in rs.resample(fr):
                    a = o.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    parts.append(a)
                    got += len(a)
                if want_end is not None and got >= want_end:
                    break
            else:
                for o in rs.resample(None):
                    parts.append(o.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: audio decoding failed: {exc}") from None
    if not parts:
        return np.zeros(0, np.float32)
    pcm = np.concatenate(parts)
    first = max(0, int(round(start * sample_rate)))
    return pcm[first:want_end].copy() if want_end is not None else pcm[first:].copy()


def read_frames(path: str, times: list[float], size: int) -> list[np.ndarray]:
    """One RGB frame (longest side ``size``) per requested time (the first frame at or after it; the last
    frame past the end)."""
    if not times:
        return []
    order = sorted(range(len(times)), key=lambda i: times[i])
    out: list[np.ndarray | None] = [None] * len(times)
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(f"{path}: no video stream")
        origin = _origin(c)
        k = 0
        last = None
        try:
            for fr in c.decode(c.streams.video[0]):
                t = _frame_time(fr, origin) or 0.0
                last = fr
                rgb = None
                while k < len(order) and t + 1e-6 >= times[order[k]]:
                    rgb = rgb if rgb is not None else fit_within(fr.to_image(), size)
                    out[order[k]] = rgb
                    k += 1
                if k == len(order):
                    break
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: video decoding failed: {exc}") from None
        if last is None:
            raise MediaError(f"{path}: video stream has no frames")
        if k < len(order):
            rgb = fit_within(last.to_image(), size)
            for i in order[k:]:
                out[i] = rgb
    return out  # type: ignore[return-value]
