"""Deciding over time which product is on air: an online Viterbi over a stream's windows.

A product stays on air for 30-45 s or more, so the tag of one window should not follow every wobble of that
window's scores, and intro, outro and chatter have no product at all. Each window's candidate scores are the
emissions of an HMM whose states are the products (plus ``NONE``, no product on air); moving between two
products costs ``switch_penalty``, entering or leaving ``NONE`` costs ``none_penalty``, and ``NONE`` emits
``none_score`` in every window (so it wins where no product scores above it for a while).

The decision delay is bounded: window t gets a provisional tag at once (the best state now), and window t-1
its final one (the state the best path through t went through). When the final tag differs from the one
published for t-1, the caller publishes a correction. The state kept between windows is the previous window's
path scores, a few dozen numbers, so another worker can carry on from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NONE = ""  # the "no product on air" state (a product id is never empty)


@dataclass
class SegmenterState:
    scores: dict[str, float] = field(default_factory=dict)  # best path score ending in each state
    decision: str | None = None  # the provisional tag published for this window

    def to_dict(self) -> dict:
        return {"scores": self.scores, "decision": self.decision}

    @classmethod
    def of(cls, d: dict | None) -> SegmenterState:
        if not d:
            return cls()
        return cls({str(k): float(v) for k, v in (d.get("scores") or {}).items()}, d.get("decision"))


@dataclass
class Step:
    decision: str  # this window's provisional tag (NONE: no product)
    confidence: float  # 0..1, from the margin over the runner-up state
    previous: str | None  # the final tag of the previous window (None for a stream's first window)
    state: SegmenterState


class Segmenter:
    def __init__(
        self, switch_penalty: float, none_penalty: float, none_score: float, keep: int = 16, margin_scale: float = 1.0
    ):
        self.switch_penalty = float(switch_penalty)
        self.none_penalty = float(none_penalty)
        self.none_score = float(none_score)
        self.keep = int(keep)  # states carried to the next window: the best few, NONE always
        self.margin_scale = float(margin_scale)

    def _penalty(self, a: str, b: str) -> float:
        if a == b:
            return 0.0
        return self.none_penalty if NONE in (a, b) else self.switch_penalty

    def step(self, prev: SegmenterState, emissions: dict[str, float], none_score: float | None = None) -> Step:
        """One window: ``emissions`` are its candidates' scores (higher is better; a product it did not score
        counts with the lowest score it gave). ``none_score``: what "no product" scores in this window, when
        the window itself says something about it (``none_score()`` below); else the constant ``self.none_score``."""
        nscore = self.none_score if none_score is None else float(none_score)
        emit = {p: float(s) for p, s in emissions.items() if p != NONE}
        floor = min(emit.values(), default=nscore)
        emit[NONE] = nscore
        states = set(emit) | set(prev.scores)
        scores: dict[str, float] = {}
        back: dict[str, str] = {}
        for s in states:
            e = emit.get(s, floor)
            if not prev.scores:
                scores[s], back[s] = e, s
                continue
            best_from, best = max(((p, v - self._penalty(p, s)) for p, v in prev.scores.items()), key=lambda kv: kv[1])
            scores[s], back[s] = e + best, best_from
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        decision = ranked[0][0]
        runner = ranked[1][1] if len(ranked) > 1 else ranked[0][1]
        margin = ranked[0][1] - runner
        confidence = margin / (margin + self.margin_scale) if margin > 0 else 0.0
        previous = back[decision] if prev.scores else None
        # carry the best states and NONE; shift so numbers stay small over a long stream
        top = ranked[0][1]
        kept = dict(ranked[: self.keep])
        kept.setdefault(NONE, scores[NONE])
        return Step(
            decision,
            round(confidence, 4),
            previous,
            SegmenterState({k: round(v - top, 6) for k, v in kept.items()}, decision),
        )


def none_score(options, presence: float | None) -> float:
    """What "no product on air" scores in a window (``options``: ``TaggerOptions``): the constant
    ``none_score``, raised when the frames look empty. ``presence`` is the visual tower's product-in-frame
    score (``encoders.runtime.Embedding.presence``; None: not known); each unit below ``presence_pivot`` adds
    ``presence_weight``. On the benchmark, with the chat still naming products in an outro and the host's
    speech empty of them, the frames are what says the show has moved on (bench/tagging.py)."""
    if presence is None or options.presence_weight <= 0:
        return float(options.none_score)
    return float(options.none_score + options.presence_weight * (options.presence_pivot - presence))
