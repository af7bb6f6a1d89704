"""The window grid and window ids, in one place.

Windows of a live stream are ``[k*hop, k*hop + length)`` in media time, so a replay of the same stream
yields the same windows and every effect keyed by window overwrites instead of duplicating. A trailing
partial window is kept when it holds at least ``min_tail_s`` (half a window by default): enough speech
to say something.
"""

from __future__ import annotations

import math
import re

# stream ids travel in record keys and Redis keys (inside a {hash tag}); keep them plain
STREAM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def valid_stream_id(stream_id: str) -> bool:
    return isinstance(stream_id, str) and bool(STREAM_ID.match(stream_id))


def window_ms(start_s: float) -> int:
    """A window's start in whole milliseconds: float jitter in a replayed start maps to the same id."""
    if not math.isfinite(start_s) or start_s < 0:
        raise ValueError(f"bad window start {start_s!r}")
    return int(round(start_s * 1000))


def window_id(stream_id: str, start_s: float) -> str:
    if not stream_id:
        raise ValueError("empty stream id")
    return f"{stream_id}:{window_ms(start_s)}"


def default_min_tail(window_s: float) -> float:
    return window_s / 2


def grid(duration: float, window_s: float, hop_s: float, min_tail_s: float | None = None) -> list[tuple[float, float]]:
    """(start, end) of every window a stream of this length gets, the trailing partial one included."""
    if not (0 < hop_s <= window_s):
        raise ValueError(f"need 0 < hop ({hop_s}) <= window ({window_s})")
    min_tail = default_min_tail(window_s) if min_tail_s is None else min_tail_s
    out: list[tuple[float, float]] = []
    k = 0
    while k * hop_s < duration - 1e-9:
        start = round(k * hop_s, 3)
        if start + window_s <= duration + 1e-6:
            out.append((start, round(start + window_s, 3)))
        elif duration - start >= min_tail - 1e-6:
            out.append((start, round(duration, 3)))  # the stream's last, partial window
            break
        else:
            break
        k += 1
    return out
