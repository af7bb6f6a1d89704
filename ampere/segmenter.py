"""Deciding over time which product is on air: an online Viterbi over a stream's windows.

A product stays on air for 30-45 s or more, so the tag of one window should not follow every wobble of that
window's scores, and intro, outro and chatter have no product at all. Each window's candidate scores are the
emissions of an HMM whose states are the products (plus ``NONE``, no product on air); moving between two
products costs ``switch_penalty``, entering or leaving ``NONE`` costs ``none_penalty``, and ``NONE`` emits
``none_score`` in every window (so it wins where no product scores above it for a while).

Priors on how products follow each other, fitted like the rest (bench/tagging.py): a stream opens and closes
with nothing on air (``start_in_none``: its first window enters a product only at ``none_penalty``;
``end_in_none``: its last window pays ``none_penalty`` for ending on a product), and a
product the stream has shown and moved on from comes back less often than a new one is shown
(``return_penalty``, added to the switch into it; hosts do come back to a product, so it is a cost, not a rule).

The decision delay is bounded: window t gets a provisional tag at once (the best state now), and window t-1
its final one (the state the best path through t went through). When the final tag differs from the one
published for t-1, the caller publishes a correction. The state kept between windows is the previous window's
path scores and the products the decided path has left, a few dozen values, so another worker can carry on
from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NONE = ""  # the "no product on air" state (a product id is never empty)
MAX_LEFT = 64  # products remembered as shown and left (the most recent ones)


@dataclass
class SegmenterState:
    scores: dict[str, float] = field(default_factory=dict)  # best path score ending in each state
    decision: str | None = None  # the provisional tag published for this window
    last: str | None = None  # the latest product of the decided (final) path
    left: list[str] = field(default_factory=list)  # products the decided path showed and moved on from

    def to_dict(self) -> dict:
        return {"scores": self.scores, "decision": self.decision, "last": self.last, "left": self.left}

    @classmethod
    def of(cls, d: dict | None) -> SegmenterState:
        if not d:
            return cls()
        return cls(
            {str(k): float(v) for k, v in (d.get("scores") or {}).items()},
            d.get("decision"),
            d.get("last") or None,
            [str(p) for p in d.get("left") or []],
        )

    def after_none(self) -> SegmenterState:
        """This state with the path in "no product" (a silent window), its memory of shown products kept."""
        return SegmenterState({NONE: 0.0}, NONE, self.last, list(self.left))


@dataclass
class Step:
    decision: str  # this window's provisional tag (NONE: no product)
    confidence: float  # 0..1, from the margin over the runner-up state
    previous: str | None  # the final tag of the previous window (None for a stream's first window)
    state: SegmenterState


class Segmenter:
    def __init__(
        self,
        switch_penalty: float,
        none_penalty: float,
        none_score: float,
        keep: int = 16,
        margin_scale: float = 1.0,
        return_penalty: float = 0.0,
        start_in_none: bool = False,
        end_in_none: bool = False,
    ):
        self.switch_penalty = float(switch_penalty)
        self.none_penalty = float(none_penalty)
        self.none_score = float(none_score)
        self.keep = int(keep)  # states carried to the next window: the best few, NONE always
        self.margin_scale = float(margin_scale)
        self.return_penalty = float(return_penalty)
        self.start_in_none = bool(start_in_none)
        self.end_in_none = bool(end_in_none)

    @classmethod
    def of(cls, options) -> Segmenter:
        """From ``TaggerOptions``."""
        return cls(
            options.switch_penalty,
            options.none_penalty,
            options.none_score,
            return_penalty=options.return_penalty,
            start_in_none=options.start_in_none,
            end_in_none=options.end_in_none,
        )

    def initial(self) -> SegmenterState:
        """The state before a stream's first window."""
        return SegmenterState({NONE: 0.0}) if self.start_in_none else SegmenterState()

    def _penalty(self, a: str, b: str, left: frozenset = frozenset()) -> float:
        if a == b:
            return 0.0
        if NONE in (a, b):
            return self.none_penalty
        return self.switch_penalty + (self.return_penalty if b in left else 0.0)

    def step(
        self, prev: SegmenterState, emissions: dict[str, float], none_score: float | None = None, last: bool = False
    ) -> Step:
        """One window: ``emissions`` are its candidates' scores (higher is better; a product it did not score
        counts with the lowest score it gave). ``none_score``: what "no product" scores in this window, when
        the window itself says something about it (``none_score()`` below); else the constant ``self.none_score``.
        ``last``: the stream's last window (its decision is final at once)."""
        nscore = self.none_score if none_score is None else float(none_score)
        emit = {p: float(s) for p, s in emissions.items() if p != NONE}
        floor = min(emit.values(), default=nscore)
        emit[NONE] = nscore
        states = set(emit) | set(prev.scores)
        left = frozenset(prev.left)
        scores: dict[str, float] = {}
        back: dict[str, str] = {}
        for s in states:
            e = emit.get(s, floor)
            if not prev.scores:
                scores[s], back[s] = e, s
                continue
            best_from, best = max(
                ((p, v - self._penalty(p, s, left)) for p, v in prev.scores.items()), key=lambda kv: kv[1]
            )
            scores[s], back[s] = e + best, best_from
        if last and self.end_in_none:
            scores = {s: v - (self.none_penalty if s != NONE else 0.0) for s, v in scores.items()}
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        decision = ranked[0][0]
        runner = ranked[1][1] if len(ranked) > 1 else ranked[0][1]
        margin = ranked[0][1] - runner
        confidence = margin / (margin + self.margin_scale) if margin > 0 else 0.0
        # no window before this one: the start state (``initial``) has scores but no decision
        previous = back[decision] if prev.scores and prev.decision is not None else None
        # the decided path: window t-1's final tag; a product it moves on from joins those shown and left
        latest, shown_left = prev.last, list(prev.left)
        if previous and previous != latest:
            shown_left = [p for p in shown_left if p not in (latest, previous)] + ([latest] if latest else [])
            shown_left, latest = shown_left[-MAX_LEFT:], previous
        # carry the best states and NONE; shift so numbers stay small over a long stream
        top = ranked[0][1]
        kept = dict(ranked[: self.keep])
        kept.setdefault(NONE, scores[NONE])
        return Step(
            decision,
            round(confidence, 4),
            previous,
            SegmenterState({k: round(v - top, 6) for k, v in kept.items()}, decision, latest, shown_left),
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
