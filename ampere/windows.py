"""Rolling windows over a live stream's audio and keyframes.

Windows are ``[k*hop, k*hop + length)`` in media time, so their ids are
deterministic: a replay of the same stream yields the same windows, and the
index overwrites instead of duplicating. A window closes once audio has
covered its end; state is per stream and small (at most one window of audio).
The assembler is pure; ``ampere.ingest`` journals its input in Redis so that
another worker can rebuild a stream's open windows after a restart or rebalance.

Bounds (``settings.limits``): audio that arrives ahead of a missing chunk waits up to ``reorder_s`` of media
for it and is put back in order; past that the hole is padded with silence, and a chunk that turns up after
its span was padded is refused (``LateMedia``), never dropped in silence. A hole longer than ``max_jump_s`` is
refused (``MediaLimit``) unless the next chunk continues from the refused one: the source really resumed
later, so the stream resumes there and the hole is skipped, not filled with windows of silence. ``check_*``
raise before anything changes; ``add_*`` assume the check passed.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ampere.grid import window_id
from ampere.media import LateMedia, MediaLimit
from encoders.frames import pick_evenly

_EPS = 1e-3  # media-time tolerance (s) for contiguous chunks


@dataclass
class WindowMedia:
    stream_id: str
    start: float
    end: float
    audio: np.ndarray  # float32 mono
    frames: list[tuple[float, bytes]]  # (media time, jpeg), at most frames_per_window, time order
    full: list[tuple[float, bytes]] = field(default_factory=list)  # readable frames inside the window (OCR)
    final: bool = False  # the stream's last window (its products are no longer live once it is tagged)

    @property
    def window_id(self) -> str:
        return window_id(self.stream_id, self.start)


@dataclass
class _StreamState:
    audio_start: float = 0.0  # media time of audio[0]
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    full: list[tuple[float, bytes]] = field(default_factory=list)
    next_index: int = 0  # index of the next window to close
    last_t: float = 0.0
    pending: list[tuple[float, np.ndarray]] = field(default_factory=list)  # audio ahead of a hole, by t0
    padded: deque = field(default_factory=lambda: deque(maxlen=64))  # (start, end) of holes filled with silence
    jump_to: float | None = None  # end of a refused jump: a chunk starting there confirms the new clock
    dropped: int = 0  # redelivered (or late) media dropped because its windows had closed

    @property
    def fresh(self) -> bool:
        return len(self.audio) == 0 and self.next_index == 0 and not self.pending

    def covered_end(self, sr: int) -> float:
        return self.audio_start + len(self.audio) / sr


class WindowAssembler:
    def __init__(
        self,
        window_s: float,
        hop_s: float,
        sample_rate: int,
        frames_per_window: int,
        min_tail_s: float | None = None,
        *,
        max_jump_s: float = math.inf,
        reorder_s: float = 0.0,
        max_frames_per_s: float = math.inf,
    ):
        if not (0 < hop_s <= window_s):
            raise ValueError(f"need 0 < hop ({hop_s}) <= window ({window_s})")
        self.window_s = window_s
        self.hop_s = hop_s
        self.sr = sample_rate
        self.k = frames_per_window
        # a trailing partial window is worth indexing only if it holds enough speech to say something
        self.min_tail_s = window_s / 2 if min_tail_s is None else min_tail_s
        self.max_jump_s = max_jump_s
        self.reorder_s = reorder_s
        self.max_frames_per_s = max_frames_per_s
        self._streams: dict[str, _StreamState] = {}

    def streams(self) -> list[str]:
        return list(self._streams)

    def drop(self, stream_id: str) -> None:
        """Forget a stream's state without closing anything (its journal can rebuild it)."""
        self._streams.pop(stream_id, None)

    def _state(self, stream_id: str) -> _StreamState:
        return self._streams.setdefault(stream_id, _StreamState())

    # ---------------------------------------------------------------- audio

    def check_audio(self, stream_id: str, t0: float, n: int) -> None:
        """Raise MediaLimit / LateMedia if a chunk of ``n`` samples at ``t0`` must be refused; changes nothing
        but the memory of a refused jump (so that the next chunk can confirm it)."""
        st = self._streams.get(stream_id)
        if st is None or st.fresh or self.would_restart(stream_id, t0):
            return
        cov = st.covered_end(self.sr)
        end = t0 + n / self.sr
        if t0 > cov + _EPS:
            ahead = t0 - cov
            if ahead > self.max_jump_s:
                if st.jump_to is not None and abs(t0 - st.jump_to) <= _EPS + 0.05:
                    return  # the source resumed later for real
                st.jump_to = end
                raise MediaLimit(
                    f"audio jumps {ahead:.1f} s ahead of the stream's {cov:.1f} s (limit {self.max_jump_s:g} s)"
                )
            return
        lo, hi = t0, min(end, cov)
        for a, b in st.padded:
            if lo < b - _EPS and hi > a + _EPS:
                raise LateMedia(
                    f"audio for {max(lo, a):.2f}-{min(hi, b):.2f} s arrived after that span was padded "
                    f"with silence (reorder bound {self.reorder_s:g} s)"
                )

    def add_audio(self, stream_id: str, t0: float, pcm: np.ndarray) -> list[WindowMedia]:
        st = self._state(stream_id)
        pcm = np.asarray(pcm, dtype=np.float32).reshape(-1)
        out: list[WindowMedia] = []
        if st.fresh:
            st.audio_start = t0
        elif self.would_restart(stream_id, t0):
            # time went back by more than a window: the stream was restarted or replayed
            self._streams[stream_id] = st = _StreamState(audio_start=t0)
        elif t0 - st.covered_end(self.sr) > self.max_jump_s:
            # a confirmed jump: close what the old clock can still close, then start again on the new one
            out += self._close_ready(stream_id, st, final=True)
            self._streams[stream_id] = st = _StreamState(audio_start=t0)
        st.jump_to = None
        cov = st.covered_end(self.sr)
        if t0 > cov + _EPS:
            i = bisect.bisect_left([p[0] for p in st.pending], t0)
            if not (i < len(st.pending) and abs(st.pending[i][0] - t0) <= _EPS):  # not a duplicate
                st.pending.insert(i, (t0, pcm))
        else:
            self._append(st, t0, pcm)
        self._drain(st, final=False)
        st.last_t = max(st.last_t, st.covered_end(self.sr))
        return out + self._close_ready(stream_id, st, final=False)

    def _append(self, st: _StreamState, t0: float, pcm: np.ndarray) -> None:
        cov = st.covered_end(self.sr)
        if t0 < cov - _EPS:
            # overlap (redelivery after a crash): keep only the new tail
            skip = int(round((cov - t0) * self.sr))
            if skip >= len(pcm):
                st.dropped += 1
                return
            pcm = pcm[skip:]
        st.audio = np.concatenate([st.audio, pcm])

    def _drain(self, st: _StreamState, final: bool) -> None:
        """Move waiting chunks in once the hole before them is filled, or pad the hole once audio has waited
        ``reorder_s`` beyond it (at the end of the stream: at once)."""
        while st.pending:
            cov = st.covered_end(self.sr)
            t0, pcm = st.pending[0]
            if t0 <= cov + _EPS:
                st.pending.pop(0)
                self._append(st, t0, pcm)
                continue
            waited = max(p[0] + len(p[1]) / self.sr for p in st.pending) - cov
            if not final and waited <= self.reorder_s + _EPS:
                return
            gap = int(round((t0 - cov) * self.sr))
            st.audio = np.concatenate([st.audio, np.zeros(gap, np.float32)])
            st.padded.append((cov, cov + gap / self.sr))

    def would_restart(self, stream_id: str, t0: float) -> bool:
        """Audio at t0 goes back by more than a window: the stream was restarted or replayed."""
        st = self._streams.get(stream_id)
        return st is not None and t0 + 1e-3 < st.next_index * self.hop_s - self.window_s

    def open_from(self, stream_id: str) -> float | None:
        """Start of the stream's next window to close (media before it is no longer needed), or None."""
        st = self._streams.get(stream_id)
        return None if st is None else st.next_index * self.hop_s

    # ---------------------------------------------------------------- keyframes

    def check_frame(self, stream_id: str, t: float) -> None:
        """Raise MediaLimit for a keyframe far ahead of the stream's audio or over the per-second rate."""
        st = self._streams.get(stream_id)
        if st is None:
            return
        keep_from = st.next_index * self.hop_s
        if t < keep_from - 1e-6 or any(abs(f[0] - t) < 1e-6 for f in st.frames):
            return  # redelivered, or for a closed window: dropped, not refused
        if not st.fresh:
            ahead = t - max(st.covered_end(self.sr), keep_from)
            if ahead > self.max_jump_s + self.window_s:
                raise MediaLimit(
                    f"keyframe at {t:.1f} s is {ahead:.1f} s ahead of the stream's audio (limit {self.max_jump_s:g} s)"
                )
        cap = math.ceil(self.max_frames_per_s)
        second = math.floor(t)
        if sum(1 for f in st.frames if math.floor(f[0]) == second) >= cap:
            raise MediaLimit(
                f"more than {cap} keyframes in media second {second} (limit {self.max_frames_per_s:g} per second)"
            )
        if len(st.frames) >= cap * (self.window_s + self.max_jump_s + 2 if math.isfinite(self.max_jump_s) else 1e9):
            raise MediaLimit(f"more than {len(st.frames)} keyframes waiting for audio")

    def add_frame(self, stream_id: str, t: float, jpeg: bytes, full: bytes = b"") -> list[WindowMedia]:
        st = self._state(stream_id)
        if t < st.next_index * self.hop_s - 1e-6:
            st.dropped += 1  # its windows have closed: redelivered (or late)
            return []
        if any(abs(f[0] - t) < 1e-6 for f in st.frames):
            return []  # redelivered
        bisect.insort(st.frames, (t, jpeg), key=lambda f: f[0])
        if full:
            bisect.insort(st.full, (t, full), key=lambda f: f[0])
        return []

    # ---------------------------------------------------------------- closing

    def end(self, stream_id: str) -> list[WindowMedia]:
        st = self._streams.get(stream_id)
        if st is None:
            return []
        self._drain(st, final=True)
        out = self._close_ready(stream_id, st, final=True)
        del self._streams[stream_id]
        if out:
            out[-1].final = True
        return out

    def _close_ready(self, stream_id: str, st: _StreamState, final: bool) -> list[WindowMedia]:
        out: list[WindowMedia] = []
        covered_end = st.covered_end(self.sr)
        while True:
            start = st.next_index * self.hop_s
            end = start + self.window_s
            if start < st.audio_start - 1e-6:
                # the stream began mid-grid (replay from an offset): skip windows we cannot fill
                st.next_index = math.ceil((st.audio_start - 1e-6) / self.hop_s)
                continue
            if covered_end + 1e-6 >= end:
                out.append(self._cut(stream_id, st, start, end))
                st.next_index += 1
                continue
            if final and covered_end - start >= self.min_tail_s:
                out.append(self._cut(stream_id, st, start, covered_end))
                st.next_index += 1
            break
        self._trim(st)
        return out

    def _cut(self, stream_id: str, st: _StreamState, start: float, end: float) -> WindowMedia:
        a = int(round((start - st.audio_start) * self.sr))
        b = int(round((end - st.audio_start) * self.sr))
        audio = st.audio[max(a, 0) : max(b, 0)].copy()
        inside = [f for f in st.frames if start <= f[0] < end]
        readable = [f for f in st.full if start <= f[0] < end]
        # the frame nearest the centre of each of k equal segments (the method's frame sampling)
        picked = inside if len(inside) <= self.k else [inside[i] for i in pick_evenly(len(inside), self.k)]
        return WindowMedia(stream_id, start, end, audio, picked, readable)

    def _trim(self, st: _StreamState) -> None:
        keep_from = st.next_index * self.hop_s
        drop = int(math.floor((keep_from - st.audio_start) * self.sr))
        if drop > 0:
            st.audio = st.audio[drop:]
            st.audio_start += drop / self.sr
        st.frames = [f for f in st.frames if f[0] >= keep_from]
        st.full = [f for f in st.full if f[0] >= keep_from]
