"""The generator's truth, and how live tags are scored against it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ampere.grid import grid


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def on_air(segments: list[dict], start: float, end: float) -> str | None:
    """The product on air for the majority of [start, end), or None if none holds a majority (segments
    with ``product_id`` null, the intro, outro and breaks, count as no product)."""
    if end <= start:
        return None
    share: dict[str, float] = {}
    for seg in segments:
        overlap = min(end, seg["end"]) - max(start, seg["start"])
        if overlap > 0 and seg.get("product_id"):
            share[seg["product_id"]] = share.get(seg["product_id"], 0.0) + overlap
    if not share:
        return None
    pid, dur = max(share.items(), key=lambda kv: kv[1])
    return pid if dur > (end - start) / 2 else None


@dataclass
class TagScore:
    windows: int  # tagged windows that have a majority product in the truth
    correct: int
    untagged: int = 0
    null_windows: int = 0  # tagged windows with no product on air (intro, outro, breaks): not in top1
    null_recalled: int = 0  # of those, tagged "no product"
    said_none: int = 0  # windows tagged "no product"
    said_none_right: int = 0  # of those, with no product on air

    @property
    def top1(self) -> float:
        return self.correct / self.windows if self.windows else 0.0

    @property
    def no_product_recall(self) -> float | None:
        return self.null_recalled / self.null_windows if self.null_windows else None

    @property
    def no_product_precision(self) -> float | None:
        return self.said_none_right / self.said_none if self.said_none else None


def score_tags(tags: list[dict], streams: dict[str, list[dict]]) -> TagScore:
    """tags: dicts with stream_id, start, end, product_id ("" for "no product on air"), in the order they were
    published; streams: stream_id -> truth segments. The last tag of a window counts (a correction comes after
    the tag it revises; at-least-once delivery can repeat one)."""
    last: dict[tuple[str, float], dict] = {}
    for t in tags:
        if t["stream_id"] in streams:
            last[(t["stream_id"], round(t["start"], 3))] = t
    correct = n = null = null_hit = said_none = said_none_right = 0
    for t in last.values():
        truth = on_air(streams[t["stream_id"]], t["start"], t["end"])
        none = not t.get("product_id")
        said_none += none
        if truth is None:
            null += 1
            null_hit += none
            said_none_right += none
            continue
        n += 1
        correct += int(t["product_id"] == truth)
    return TagScore(
        windows=n,
        correct=correct,
        null_windows=null,
        null_recalled=null_hit,
        said_none=said_none,
        said_none_right=said_none_right,
    )


def expected_windows(duration: float, window_s: float, hop_s: float, min_tail_s: float | None = None) -> int:
    """How many windows ``WindowAssembler`` closes for a stream of this length (tail included)."""
    return len(grid(duration, window_s, hop_s, min_tail_s))
