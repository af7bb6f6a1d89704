"""Which product is on air in a live window: candidates from the index, scored, then smoothed over the stream.

A candidate product page is scored by
    cosine(window, page) + lexical_weight x (share of the title's words said in the window)
                         + onair_weight x (how surely the product's name was said on air, ``ampere.onair``)
Title words are matched against what was said in this window, not the summary: the summary carries the previous
product's name into the next one's first windows when the adapter misses the change (measured on the tests'
tiny stream: 9/16 matching the summary, 13/16 matching the transcript).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ampere import onair
from ampere.settings import TaggerOptions
from ampere.textnorm import content_tokens, overlap


@dataclass
class Candidate:
    key: str
    product_id: str
    title: str
    cosine: float
    score: float = 0.0


def rank_products(hits: Iterable) -> list[tuple[str, float]]:
    """Best score per product over its catalog items, best first (hits: .product_id, .score)."""
    best: dict[str, float] = {}
    for h in hits:
        if h.product_id and h.score > best.get(h.product_id, float("-inf")):
            best[h.product_id] = h.score
    return sorted(best.items(), key=lambda kv: -kv[1])


def smooth(current: list[tuple[str, float]], previous: list[tuple[str, float]], alpha: float) -> list[tuple[str, float]]:
    """Blend this window's product scores with the previous window's (already blended) ones.

    A product stays on air for tens of seconds and windows overlap, so one window of chatter or a passing
    mention of another product should not flip the tag. A product missing from one list counts with that
    list's lowest score.
    """
    if not previous or alpha <= 0:
        return current
    cur, prev = dict(current), dict(previous)
    cur_floor, prev_floor = min(cur.values(), default=0.0), min(prev.values(), default=0.0)
    blended = {p: (1 - alpha) * cur.get(p, cur_floor) + alpha * prev.get(p, prev_floor) for p in cur.keys() | prev.keys()}
    return sorted(blended.items(), key=lambda kv: -kv[1])


class Tagger:
    """Scores the catalogue's product pages for one live window (``index``: ``ampere.store.ItemIndex``)."""

    def __init__(self, index, options: TaggerOptions | None = None):
        self.index = index
        self.options = options or TaggerOptions()

    def candidates(self, vec: np.ndarray, transcript: str, mentions: Sequence = ()) -> list[Candidate]:
        """Product pages near the window's embedding, plus pages whose title shares words with what was said."""
        o = self.options
        k = o.k * 4
        cands = {h.key: Candidate(h.key, h.product_id, h.fields.get("title", ""), h.score)
                 for h in self.index.knn(vec, k=k, domains=["page"])}
        spoken = content_tokens(transcript)
        if spoken and o.lexical_weight > 0:
            extra = [h for h in self.index.text_candidates(spoken, k=k) if h.key not in cands]
            for h, v in zip(extra, self.index.vectors([h.key for h in extra])):
                if v is not None:
                    cands[h.key] = Candidate(h.key, h.product_id, h.fields.get("title", ""), float(v @ vec))
        for c in cands.values():
            c.score = (c.cosine + o.lexical_weight * overlap(content_tokens(c.title), spoken)
                       + o.onair_weight * onair.onair_score(c.title, mentions))
        return list(cands.values())

    def rank(self, vec: np.ndarray, transcript: str, mentions: Sequence, previous: list[tuple[str, float]],
             said_nothing: bool) -> list[tuple[str, float]]:
        """This window's products, best first, blended with the previous window's (``said_nothing``: the
        window's speech said nothing about a product, so it leans on the previous window more)."""
        o = self.options
        current = rank_products(self.candidates(vec, transcript, mentions))[: o.k * 2]
        alpha = o.smoothing_empty if said_nothing else o.smoothing
        return smooth(current, previous, alpha)[: o.k * 2]
