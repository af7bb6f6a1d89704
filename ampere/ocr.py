"""On-screen text of live keyframes: price cards, name cards, badges, chat lines.

Whisper tiny.en mishears invented product names, but live streams print the price (and sometimes the
name) on screen. PP-OCR det/rec models as shipped inside the ``rapidocr`` wheel (ONNX, run by
onnxruntime, nothing downloaded) read them; on 640x360 frames the price card reads exactly, on the
pipeline's 96 px square keyframes it mostly does not (offline-stack.md), so OCR wants the full frame.

Nothing is loaded at import or construction: ``Reader`` builds the engine on first use. Frames of a
live stream repeat (a static product shot, a paused host), so ``changed`` compares a small grayscale
thumbnail with the previous frame's and the reader returns the previous lines for an unchanged frame. In a
frame that did change (the host moves), lines whose crops look as in the stream's previous frame (a price card,
a badge) keep their text, and only the others go through the recognizer (``OcrOptions.reuse_lines``).
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ampere.errors import PoisonRecord
from ampere.settings import OcrOptions

log = logging.getLogger(__name__)

Region = Literal["top-left", "top", "top-right", "left", "centre", "right", "bottom-left", "bottom", "bottom-right"]
_REGIONS: tuple[tuple[str, ...], ...] = (
    ("top-left", "top", "top-right"),
    ("left", "centre", "right"),
    ("bottom-left", "bottom", "bottom-right"),
)


class BadFrame(PoisonRecord):
    """The frame cannot be read: ``reason`` says why (shape, dtype, size)."""

    def __init__(self, reason: str):
        super().__init__(f"bad frame: {reason}")
        self.reason = reason


class OcrError(RuntimeError):
    """The OCR engine failed on a frame it was given."""


class OcrUnavailable(OcrError):
    """The OCR engine is not installed or failed to load."""


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float  # recognizer confidence, 0..1
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as shares of the frame's width and height
    region: Region  # 3x3 grid cell of the box centre

    @property
    def height(self) -> float:
        """Text height as a share of the frame's: the headline price is the tallest number on its card."""
        return self.box[3] - self.box[1]


def check_frame(rgb: object) -> np.ndarray:
    """``rgb`` as a C-contiguous HxWx3 uint8 array, or ``BadFrame``."""
    if not isinstance(rgb, np.ndarray):
        raise BadFrame(f"expected a numpy array, got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise BadFrame(f"expected shape HxWx3 (RGB), got {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise BadFrame(f"expected dtype uint8, got {rgb.dtype}")
    h, w = rgb.shape[:2]
    if h < 1 or w < 1:
        raise BadFrame(f"empty frame {w}x{h}")
    return np.ascontiguousarray(rgb)


def region_of(box: tuple[float, float, float, float]) -> Region:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    col = 0 if cx < 1 / 3 else 2 if cx > 2 / 3 else 1
    row = 0 if cy < 1 / 3 else 2 if cy > 2 / 3 else 1
    return _REGIONS[row][col]  # type: ignore[return-value]


# --- "did the frame change?" ----------------------------------------------------------------------


def thumbnail(rgb: np.ndarray, size: tuple[int, int] = (64, 36)) -> np.ndarray:
    """Grayscale block means of the frame on a ``size`` (width, height) grid, float32."""
    frame = check_frame(rgb)
    h, w = frame.shape[:2]
    tw, th = min(size[0], w), min(size[1], h)
    # a big frame is subsampled first: block means of a 4K frame would cost more than the check saves
    step = max(1, min(h // (th * 4), w // (tw * 4)))
    small = frame[::step, ::step]
    grey = small @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    rows = np.linspace(0, grey.shape[0], th + 1).astype(int)[:-1]
    cols = np.linspace(0, grey.shape[1], tw + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(grey, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, grey.shape[0])), np.diff(np.append(cols, grey.shape[1])))
    return (sums / counts).astype(np.float32)


def changed(
    prev_thumb: np.ndarray | None, frame: np.ndarray, threshold: float = 12.0, size: tuple[int, int] = (64, 36)
) -> tuple[bool, np.ndarray]:
    """(did ``frame`` change since the frame ``prev_thumb`` was made of, ``frame``'s thumbnail).

    The largest cell difference decides, not the mean: a new price changes a few cells of a small card
    a lot and the rest of the frame not at all. No previous thumbnail, or one of another shape, counts
    as changed.
    """
    thumb = thumbnail(frame, size)
    if prev_thumb is None or prev_thumb.shape != thumb.shape:
        return True, thumb
    return bool(np.max(np.abs(thumb - prev_thumb)) > threshold), thumb


# --- the reader -----------------------------------------------------------------------------------


def _clean(text: str, limit: int) -> str:
    # recognizers emit odd code points now and then; keep printable text on one line
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())[:limit]


def _warmup_image() -> np.ndarray:
    import cv2

    img = np.full((64, 256, 3), 255, np.uint8)
    cv2.putText(img, "$12.99", (10, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (0, 0, 0), 3)
    return img


def _downscale(frame: np.ndarray, max_pixels: int) -> np.ndarray:
    import cv2  # comes with rapidocr; only needed for oversized frames

    h, w = frame.shape[:2]
    ratio = (max_pixels / (h * w)) ** 0.5
    return cv2.resize(frame, (max(1, int(w * ratio)), max(1, int(h * ratio))), interpolation=cv2.INTER_AREA)


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top to bottom; lines whose centres lie within half a line height of a row's first line are one
    row, read left to right (a price and its struck-through old price side by side)."""
    out: list[TextLine] = []
    row: list[TextLine] = []
    for ln in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        if row and abs((ln.box[1] + ln.box[3]) / 2 - (row[0].box[1] + row[0].box[3]) / 2) > row[0].height / 2:
            out += sorted(row, key=lambda r: r.box[0])
            row = []
        row.append(ln)
    return out + sorted(row, key=lambda r: r.box[0])


def line_signature(crop: np.ndarray, size: tuple[int, int] = (48, 8)) -> np.ndarray:
    """A text line's crop as a ``size`` (width, height) grey thumbnail, float32: coarse enough that the
    detector's box jitter of a pixel or two moves it little, fine enough that one changed digit moves a cell."""
    import cv2

    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.resize(grey.astype(np.float32), size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class _Known:
    """A recognised line of a stream's previous frame: what a same-looking crop is taken to say."""

    shape: tuple[int, int]
    signature: np.ndarray
    text: str
    score: float

    def matches(self, shape: tuple[int, int], signature: np.ndarray, max_diff: float) -> bool:
        return (
            abs(shape[0] - self.shape[0]) <= 4
            and abs(shape[1] - self.shape[1]) <= 6
            and float(np.max(np.abs(signature - self.signature))) <= max_diff
        )


@dataclass
class _Recognised:
    """The engine's output shape (boxes, txts, scores) for lines partly taken from the previous frame."""

    boxes: list
    txts: list[str]
    scores: list[float]


@dataclass
class ReaderStats:
    read: int = 0  # frames OCRed
    skipped: int = 0  # unchanged frames answered from the stream's previous lines
    downscaled: int = 0
    ms: float = 0.0  # total time in the engine
    lines_recognised: int = 0  # text lines run through the recognizer (reuse_lines on)
    lines_reused: int = 0  # lines that took the text of a matching line of the stream's previous frame


class Reader:
    """OCR of RGB keyframes. Cheap to construct; the engine loads on the first ``read`` (or ``load``).

    Calls are serialised by a lock, so one instance may be shared by the threads of a worker, but they
    take turns: one engine is meant for one worker thread.
    """

    def __init__(self, options: OcrOptions | None = None):
        self.options = options or OcrOptions()
        self.stats = ReaderStats()
        self._engine: object | None = None
        self._lock = threading.Lock()
        # stream -> (thumbnail, lines) of its last read frame
        self._last: OrderedDict[str, tuple[np.ndarray, list[TextLine]]] = OrderedDict()
        # stream -> the recognised lines of its last read frame (reuse_lines)
        self._known: OrderedDict[str, list[_Known]] = OrderedDict()
        self._reuse_ok: bool | None = None

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def _params(self) -> dict:
        o = self.options
        return {
            # "warning" logs every frame without text as an engine error
            "Global.log_level": "error",
            "Global.use_cls": o.use_angle_classifier,
            "Global.text_score": o.min_score,
            "EngineConfig.onnxruntime.intra_op_num_threads": o.threads,
            "EngineConfig.onnxruntime.use_cuda": o.use_cuda,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.limit_side_len": o.det_limit_side_len,
            "Det.limit_type": o.det_limit_type,
            "Rec.rec_batch_num": o.rec_batch,
        }

    def load(self) -> None:
        """Load the models now (a worker's warm-up), so a missing package shows at start; a disabled
        reader loads nothing."""
        if self.options.enabled:
            with self._lock:
                self._load_locked()

    def _load_locked(self):
        if self._engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:
                raise OcrUnavailable("OCR needs the 'rapidocr' package (pip install rapidocr)") from exc
            try:
                engine = RapidOCR(params=self._params())
                # the engine loads each model on its first use (the recognizer only once something was
                # detected): show it a word here, so no live frame pays for the load
                engine(_warmup_image())
            except Exception as exc:  # any load failure is the same news for the caller
                raise OcrUnavailable(f"OCR engine failed to load: {exc}") from exc
            self._engine = engine
        return self._engine

    def _prepare(self, rgb: object) -> np.ndarray:
        frame = check_frame(rgb)
        h, w = frame.shape[:2]
        o = self.options
        if max(h, w) / min(h, w) > o.max_aspect:
            raise BadFrame(f"aspect ratio {w}x{h} beyond 1:{o.max_aspect:g}")
        if h * w > o.max_pixels:
            if o.oversize == "reject":
                raise BadFrame(f"{w}x{h} is over the {o.max_pixels} pixel limit")
            frame = _downscale(frame, o.max_pixels)
            self.stats.downscaled += 1
        return frame

    def read(self, rgb: np.ndarray, stream: str | None = None) -> list[TextLine]:
        """The frame's text lines in reading order (top to bottom, then left to right).

        With ``stream``, a frame that did not change since that stream's last read frame is not read
        again: its lines are returned (``stats.skipped`` counts these).
        """
        o = self.options
        with self._lock:
            frame = self._prepare(rgb)
            if not o.enabled:
                return []
            thumb = None
            if stream is not None and o.skip_unchanged > 0:
                prev = self._last.get(stream)
                moved, thumb = changed(prev[0] if prev else None, frame, o.skip_unchanged, o.thumb_size)
                if not moved and prev is not None:
                    self._last.move_to_end(stream)
                    self.stats.skipped += 1
                    return list(prev[1])
            engine = self._load_locked()
            t = time.perf_counter()
            bgr = np.ascontiguousarray(frame[:, :, ::-1])  # rapidocr wants BGR (OpenCV order)
            try:
                if stream is not None and o.reuse_lines > 0 and not o.use_angle_classifier and self._can_reuse(engine):
                    out = self._recognise_reusing(engine, bgr, stream)
                else:
                    out = engine(bgr, use_det=True, use_rec=True)  # the engine keeps call options: say them
            except Exception as exc:  # the engine's own errors (OpenCV, onnxruntime) under one name
                raise OcrError(f"OCR failed on a {frame.shape[1]}x{frame.shape[0]} frame: {exc}") from exc
            self.stats.ms += (time.perf_counter() - t) * 1000
            self.stats.read += 1
            lines = self._lines(out, frame.shape[1], frame.shape[0])
            if thumb is not None and stream is not None:
                self._last[stream] = (thumb, lines)
                self._last.move_to_end(stream)
                while len(self._last) > o.max_streams:
                    self._last.popitem(last=False)
            return list(lines)

    def _can_reuse(self, engine) -> bool:
        """Line reuse runs the engine's detector and recognizer apart (``recognize_txt``, its crop helper);
        an engine version without them reads every line, as with ``reuse_lines: 0``."""
        if self._reuse_ok is None:
            try:
                from rapidocr.utils.process_img import get_rotate_crop_image  # noqa: F401

                self._reuse_ok = callable(getattr(engine, "recognize_txt", None))
            except ImportError:
                self._reuse_ok = False
            if not self._reuse_ok:
                log.warning("this rapidocr cannot recognise lines apart: ocr.reuse_lines is off")
        return self._reuse_ok

    def _recognise_reusing(self, engine, bgr: np.ndarray, stream: str) -> _Recognised:
        """Detect every line, recognise only those that do not look like a line of the stream's previous frame.
        Detection is the cheap part (~85 ms of ~430 on a 640x360 frame with 8 lines)."""
        from rapidocr.utils.process_img import get_rotate_crop_image

        det = engine(bgr, use_det=True, use_rec=False)  # boxes in the frame's own pixels
        boxes = getattr(det, "boxes", None)
        if boxes is None or len(boxes) == 0:
            self._remember(stream, [])
            return _Recognised([], [], [])
        crops = [get_rotate_crop_image(bgr, np.array(b, dtype=np.float32)) for b in boxes]
        shapes = [(int(c.shape[0]), int(c.shape[1])) for c in crops]
        sigs = [line_signature(c) for c in crops]
        known = self._known.get(stream, [])
        max_diff = self.options.reuse_lines
        found: list[_Known | None] = [
            next((k for k in known if k.matches(shape, sig, max_diff)), None) for shape, sig in zip(shapes, sigs)
        ]
        miss = [i for i, k in enumerate(found) if k is None]
        texts = [k.text if k else "" for k in found]
        scores = [k.score if k else 0.0 for k in found]
        if miss:
            rec = engine.recognize_txt([crops[i] for i in miss])
            for i, text, score in zip(miss, rec.txts or (), rec.scores or ()):
                texts[i], scores[i] = str(text), float(score)
        self.stats.lines_recognised += len(miss)
        self.stats.lines_reused += len(crops) - len(miss)
        self._remember(stream, [_Known(sh, sg, tx, sc) for sh, sg, tx, sc in zip(shapes, sigs, texts, scores)])
        return _Recognised(list(boxes), texts, scores)

    def _remember(self, stream: str, lines: list[_Known]) -> None:
        self._known[stream] = lines
        self._known.move_to_end(stream)
        while len(self._known) > self.options.max_streams:
            self._known.popitem(last=False)

    def forget(self, stream: str) -> None:
        """Drop a stream's last frame (the stream ended)."""
        with self._lock:
            self._last.pop(stream, None)
            self._known.pop(stream, None)

    def _lines(self, out, width: int, height: int) -> list[TextLine]:
        txts, scores, boxes = getattr(out, "txts", None), getattr(out, "scores", None), getattr(out, "boxes", None)
        if not txts or boxes is None or scores is None:
            return []
        o = self.options
        lines = []
        for text, score, quad in zip(txts, scores, boxes):
            text = _clean(text, o.max_line_chars)
            if not text or not float(score) >= o.min_score:
                continue
            pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            box = (
                float(np.clip(x0 / width, 0, 1)),
                float(np.clip(y0 / height, 0, 1)),
                float(np.clip(x1 / width, 0, 1)),
                float(np.clip(y1 / height, 0, 1)),
            )
            lines.append(TextLine(text, float(score), box, region_of(box)))
        return reading_order(lines)[: o.max_lines]
