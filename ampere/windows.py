"""Rolling windows over a live stream's audio and keyframes.

Windows are ``[k*hop, k*hop + length)`` in media time, so their ids are
deterministic: a replay of the same stream yields the same windows, and the
index overwrites instead of duplicating. A window closes once audio has
covered its end; state is per stream and small (at most one window of audio).
The assembler is pure; ``ampere.ingest`` journals its input in Redis so that
another worker can rebuild a stream's open windows after a restart or rebalance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ampere.grid import window_id
from encoders.frames import pick_evenly


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


class WindowAssembler:
    def __init__(self, window_s: float, hop_s: float, sample_rate: int, frames_per_window: int,
                 min_tail_s: float | None = None):
        if not (0 < hop_s <= window_s):
            raise ValueError(f"need 0 < hop ({hop_s}) <= window ({window_s})")
        self.window_s = window_s
        self.hop_s = hop_s
        self.sr = sample_rate
        self.k = frames_per_window
        # a trailing partial window is worth indexing only if it holds enough speech to say something
        self.min_tail_s = window_s / 2 if min_tail_s is None else min_tail_s
        self._streams: dict[str, _StreamState] = {}

    def streams(self) -> list[str]:
        return list(self._streams)

    def _state(self, stream_id: str) -> _StreamState:
        return self._streams.setdefault(stream_id, _StreamState())

    def add_audio(self, stream_id: str, t0: float, pcm: np.ndarray) -> list[WindowMedia]:
        st = self._state(stream_id)
        pcm = np.asarray(pcm, dtype=np.float32).reshape(-1)
        covered_end = st.audio_start + len(st.audio) / self.sr
        if len(st.audio) == 0 and st.next_index == 0:
            st.audio_start = t0
        elif self.would_restart(stream_id, t0):
            # time went back by more than a window: the stream was restarted or replayed
            self._streams[stream_id] = st = _StreamState(audio_start=t0)
        elif t0 > covered_end + 1e-3:
            # a gap (lost chunk): pad with silence so media time stays aligned with sample index
            gap = int(round((t0 - covered_end) * self.sr))
            st.audio = np.concatenate([st.audio, np.zeros(gap, np.float32)])
        elif t0 < covered_end - 1e-3:
            # overlap (redelivery after a crash): keep only the new tail
            skip = int(round((covered_end - t0) * self.sr))
            pcm = pcm[skip:]
        st.audio = np.concatenate([st.audio, pcm])
        st.last_t = max(st.last_t, st.audio_start + len(st.audio) / self.sr)
        return self._close_ready(stream_id, st, final=False)

    def would_restart(self, stream_id: str, t0: float) -> bool:
        """Audio at t0 goes back by more than a window: the stream was restarted or replayed."""
        st = self._streams.get(stream_id)
        return st is not None and t0 + 1e-3 < st.next_index * self.hop_s - self.window_s

    def open_from(self, stream_id: str) -> float | None:
        """Start of the stream's next window to close (media before it is no longer needed), or None."""
        st = self._streams.get(stream_id)
        return None if st is None else st.next_index * self.hop_s

    def add_frame(self, stream_id: str, t: float, jpeg: bytes, full: bytes = b"") -> list[WindowMedia]:
        st = self._state(stream_id)
        if any(abs(f[0] - t) < 1e-6 for f in st.frames):
            return []  # redelivered
        st.frames.append((t, jpeg))
        st.frames.sort(key=lambda f: f[0])
        if full:
            st.full.append((t, full))
            st.full.sort(key=lambda f: f[0])
        return []

    def end(self, stream_id: str) -> list[WindowMedia]:
        st = self._streams.get(stream_id)
        if st is None:
            return []
        out = self._close_ready(stream_id, st, final=True)
        del self._streams[stream_id]
        if out:
            out[-1].final = True
        return out

    def _close_ready(self, stream_id: str, st: _StreamState, final: bool) -> list[WindowMedia]:
        out: list[WindowMedia] = []
        covered_end = st.audio_start + len(st.audio) / self.sr
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
        audio = st.audio[max(a, 0):max(b, 0)].copy()
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
