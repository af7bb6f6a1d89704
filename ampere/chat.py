"""Which of a frame's OCR lines are viewers' chat, not the shop's overlays.

Chat names what viewers ask about, often another product ("is the Fox 2 back?", "I got the Bear last week"),
so it must not count as what the screen shows. A line is chat when it reads "name: message", or when it sits in
a chat panel: live-commerce players stack comments as a column of left-aligned lines of one small font, and a
message that wraps continues on a line with no name on it. Overlays (price card, name card, badges) are single
lines or short stacks of different sizes. The layout rule needs the lines' boxes; lines without one are judged
by their text alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ampere.attributes import is_chat_line

MIN_PANEL_LINES = 3  # a column this long, one font, tightly stacked, is a comment panel
X_TOLERANCE = 0.015  # left edges that line up (share of the frame's width)
HEIGHT_RATIO = 1.5  # a line's height within this factor of its column's median: one font
GAP_LINES = 1.2  # at most this many line heights between two lines of one panel


Box = tuple[float, float, float, float]


def _box(values: object) -> Box | None:
    try:
        b = tuple(float(v) for v in values[:4])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return None
    ok = len(b) == 4 and all(math.isfinite(v) for v in b) and b[2] > b[0] and b[3] > b[1]
    return (b[0], b[1], b[2], b[3]) if ok else None


def _row(row: object) -> tuple[str, Box | None, float]:
    """(text, box, frame time) of a screen row: ``[text, score, x0, y0, x1, y1, t]`` (Transcribed.screen), an
    object with ``.text`` and ``.box`` (ampere.ocr.TextLine), or a string."""
    if isinstance(row, (list, tuple)):
        text = str(row[0]) if row else ""
        try:
            t = float(row[6]) if len(row) > 6 else 0.0
        except (TypeError, ValueError):
            t = 0.0
        return text, _box(row[2:6]), t
    box = getattr(row, "box", None)
    return str(getattr(row, "text", row)), (_box(box) if box is not None else None), 0.0


def _panels(lines: list[tuple[int, Box]]) -> set[int]:
    """Indices of lines (of one frame) that form comment panels."""
    out: set[int] = set()
    lines = sorted(lines, key=lambda il: il[1][0])
    columns: list[list[tuple[int, Box]]] = []
    for il in lines:
        if columns and il[1][0] - columns[-1][0][1][0] <= X_TOLERANCE:
            columns[-1].append(il)
        else:
            columns.append([il])
    for col in columns:
        if len(col) < MIN_PANEL_LINES:
            continue
        heights = sorted(b[3] - b[1] for _, b in col)
        median = heights[len(heights) // 2]
        col = sorted(
            (il for il in col if median / HEIGHT_RATIO <= il[1][3] - il[1][1] <= median * HEIGHT_RATIO),
            key=lambda il: il[1][1],
        )
        run: list[int] = []
        prev_top = prev_bottom = 0.0
        for i, b in col:
            # one below the other, close: the same panel (lines on top of each other are not stacked)
            if run and (b[1] - prev_bottom > GAP_LINES * median or b[1] - prev_top < 0.5 * median):
                if len(run) >= MIN_PANEL_LINES:
                    out.update(run)
                run = []
            run.append(i)
            prev_top, prev_bottom = b[1], b[3]
        if len(run) >= MIN_PANEL_LINES:
            out.update(run)
    return out


def chat_flags(rows: Sequence[object]) -> list[bool]:
    """For each screen row, whether it is a viewer's chat line (by its text, or by the panel it sits in)."""
    parsed = [_row(r) for r in rows or ()]
    flags = [is_chat_line(text) for text, _, _ in parsed]
    by_frame: dict[float, list[tuple[int, Box]]] = {}
    for i, (_, box, t) in enumerate(parsed):
        if box is not None:
            by_frame.setdefault(round(t, 3), []).append((i, box))
    for lines in by_frame.values():
        for i in _panels(lines):
            flags[i] = True
    return flags


def overlay_lines(rows: Sequence[object]) -> list[str]:
    """The texts of the rows that are the shop's own overlays (chat left out)."""
    return [_row(r)[0] for r, chat in zip(rows or (), chat_flags(rows)) if not chat]
