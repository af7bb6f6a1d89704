"""Which product is on air in a live window: candidates from the index, scored on every signal the window has.

A candidate product page scores
    cosine(window, page)                                       the embedding: look, summary
  + lexical_weight   x share of the title's words said in the window
  + screen_weight    x share of the title's words shown on screen (OCR; viewers' chat lines left out)
  + onair_weight     x how surely the product's name was said on air, not in passing (``ampere.onair``)
  + attribute_weight x agreement of the prices, materials, colours and names heard (``speech``) and read on
                       screen (``screen_attributes``) with the product's catalogue attributes
                       (``ampere.attributes``; viewers' chat lines count for nothing)
Candidates are the pages nearest the window's embedding, the pages whose titles share words with what was
said or shown, and the pages whose price was said or shown; when the platform gave the stream's product list,
only its products. Title words are matched against what was said in this window, not the summary: the summary
carries the previous product's name into the next one's first windows when the adapter misses the change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ampere import onair
from ampere.attributes import AttributeMatcher, Evidence, is_chat_line, prices_in_speech, prices_on_screen
from ampere.chat import overlay_lines
from ampere.settings import TaggerOptions
from ampere.textnorm import content_tokens, overlap

MAX_PRICE_QUERIES = 4


@dataclass
class Candidate:
    key: str
    product_id: str
    title: str
    cosine: float
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)  # each signal's contribution (for debugging, tests)


def rank_products(hits: Iterable) -> list[tuple[str, float]]:
    """Best score per product over its catalog items, best first (hits: .product_id, .score)."""
    best: dict[str, float] = {}
    for h in hits:
        if h.product_id and h.score > best.get(h.product_id, float("-inf")):
            best[h.product_id] = h.score
    return sorted(best.items(), key=lambda kv: -kv[1])


def smooth(
    current: list[tuple[str, float]], previous: list[tuple[str, float]], alpha: float
) -> list[tuple[str, float]]:
    """Blend this window's product scores with the previous window's (already blended) ones (the tagger
    without the segmenter). A product missing from one list counts with that list's lowest score."""
    if not previous or alpha <= 0:
        return current
    cur, prev = dict(current), dict(previous)
    cur_floor, prev_floor = min(cur.values(), default=0.0), min(prev.values(), default=0.0)
    blended = {
        p: (1 - alpha) * cur.get(p, cur_floor) + alpha * prev.get(p, prev_floor) for p in cur.keys() | prev.keys()
    }
    return sorted(blended.items(), key=lambda kv: -kv[1])


def screen_texts(screen: Sequence) -> list[str]:
    """OCR lines of a window (``Transcribed.screen`` rows ``[text, score, x0, y0, x1, y1, t]`` or strings)."""
    return [str(row[0] if isinstance(row, (list, tuple)) else row) for row in screen or ()]


def screen_words(screen: Sequence) -> set[str]:
    """Content words of a window's OCR lines, those ``is_chat_line`` takes for a viewer's comment left out."""
    return content_tokens(" ".join(line for line in screen_texts(screen) if not is_chat_line(line)))


def central_rows(screen: Sequence, span: tuple[float, float] | None) -> list:
    """The OCR rows read on frames near the window's centre (within a quarter window of it). Rows without a
    frame time, or a window without ``span`` or without any central frame, keep all their rows."""
    rows = list(screen or ())
    if span is None or not rows:
        return rows
    start, end = span
    mid, reach = (start + end) / 2, (end - start) / 4 + 1e-6
    timed = [r for r in rows if isinstance(r, (list, tuple)) and len(r) >= 7]
    if len(timed) < len(rows):
        return rows
    central = [r for r in timed if abs(float(r[6]) - mid) <= reach]
    return central or rows


def _row(hit) -> dict:
    f = hit.fields
    try:
        attrs = json.loads(f.get("attributes") or "{}")
    except (TypeError, ValueError):
        attrs = {}
    return {
        "product_id": hit.product_id,
        "title": f.get("title", ""),
        "attributes": attrs if isinstance(attrs, dict) else {},
    }


def _source_total(score, source: str, weights) -> float:
    """One source's share of an ``AttributeScore`` total (weighted as the matcher weighs it)."""
    if score is None or weights is None:
        return 0.0
    return getattr(weights, source) * sum(getattr(weights, a, 0.0) * v for a, v in score.source(source).items())


class Tagger:
    """Scores the catalogue's product pages for one live window (``index``: ``ampere.store.ItemIndex``)."""

    def __init__(self, index, options: TaggerOptions | None = None):
        self.index = index
        self.options = options or TaggerOptions()

    def _price_hits(self, prices: Iterable[float], restrict: Sequence[str] | None, k: int) -> list:
        hits = []
        for p in list(dict.fromkeys(round(p, 2) for p in prices))[:MAX_PRICE_QUERIES]:
            tags: dict = {"domain": "page"}
            if restrict:
                tags["product_id"] = list(restrict)
            hits += self.index.find(
                tags=tags, numeric={"price": (p * 0.995 - 0.01, p * 1.005 + 0.01)}, sort_by=None, limit=k
            )
        return hits

    def candidates(
        self,
        vec: np.ndarray,
        transcript: str,
        mentions: Sequence = (),
        screen: Sequence = (),
        restrict: Sequence[str] | None = None,
        span: tuple[float, float] | None = None,
    ) -> list[Candidate]:
        """Product pages scored for the window (``restrict``: the stream's product list, when known; ``span``:
        the window's start and end on the stream's clock, the frame times of ``screen`` rows)."""
        o = self.options
        k = o.k * 4
        tags = {"product_id": list(restrict)} if restrict else None
        hits = {h.key: h for h in self.index.knn(vec, k=k, domains=["page"], tags=tags)}
        cosine = {key: h.score for key, h in hits.items()}
        spoken = content_tokens(transcript)
        shown = screen_words(screen)
        # prices and names read in viewers' comments point at whatever they ask about: measured on val, the
        # comment panel's lines as attribute evidence cost 1.9 points of top-1 (its words as screen words do not)
        shown_lines = overlay_lines(screen)
        edge = o.screen_edge_weight
        central = central_rows(screen, span) if edge < 1 else list(screen or ())
        narrowed = len(central) < len(screen or ())
        shown_c = screen_words(central) if narrowed else shown
        words = spoken | shown
        extra = []
        if words and (o.lexical_weight > 0 or o.screen_weight > 0 or o.attribute_weight > 0):
            extra += [
                h
                for h in self.index.text_candidates(words, k=k)
                if h.key not in hits and (not restrict or h.product_id in restrict)
            ]
        if o.attribute_weight > 0:
            prices = [
                p.value for p in prices_on_screen(shown_lines) + prices_in_speech(transcript) if p.kind == "price"
            ]
            extra += [
                h
                for h in self._price_hits(prices, restrict, k)
                if h.key not in hits and (not restrict or h.product_id in restrict)
            ]
        extra = list({h.key: h for h in extra}.values())
        for h, v in zip(extra, self.index.vectors([h.key for h in extra])):
            if v is not None:
                hits[h.key] = h
                cosine[h.key] = float(v @ vec)
        attr, attr_c = {}, {}
        w = None
        if o.attribute_weight > 0 and hits:
            matcher = AttributeMatcher([_row(h) for h in hits.values()])
            attr = matcher.score(Evidence(transcript, shown_lines))
            attr_c = matcher.score(Evidence("", overlay_lines(central))) if narrowed else attr
            w = matcher.weights
        out = []
        for key, h in hits.items():
            title = h.fields.get("title", "")
            title_tokens = content_tokens(title)
            parts = {
                "cosine": cosine[key],
                "lexical": o.lexical_weight * overlap(title_tokens, spoken),
                "screen": o.screen_weight
                * (edge * overlap(title_tokens, shown) + (1 - edge) * overlap(title_tokens, shown_c)),
                "onair": o.onair_weight * onair.onair_score(title, mentions),
                "attributes": o.attribute_weight * _source_total(attr.get(h.product_id), "speech", w),
                "screen_attributes": o.attribute_weight
                * (
                    edge * _source_total(attr.get(h.product_id), "screen", w)
                    + (1 - edge) * _source_total(attr_c.get(h.product_id), "screen", w)
                ),
            }
            out.append(Candidate(key, h.product_id, title, cosine[key], sum(parts.values()), parts))
        return out

    def scores(
        self,
        vec: np.ndarray,
        transcript: str,
        mentions: Sequence = (),
        screen: Sequence = (),
        restrict: Sequence[str] | None = None,
        span: tuple[float, float] | None = None,
    ) -> list[tuple[str, float]]:
        """This window's products, best first (each product's best page)."""
        ranked = rank_products(self.candidates(vec, transcript, mentions, screen, restrict, span))
        return ranked[: self.options.k * 2]

    def rank(
        self,
        vec: np.ndarray,
        transcript: str,
        mentions: Sequence,
        previous: list[tuple[str, float]],
        said_nothing: bool,
        screen: Sequence = (),
        restrict: Sequence[str] | None = None,
        span: tuple[float, float] | None = None,
    ) -> list[tuple[str, float]]:
        """This window's products blended with the previous window's (the tagger without the segmenter;
        ``said_nothing``: the window's speech said nothing about a product, so it leans on the past more)."""
        o = self.options
        current = self.scores(vec, transcript, mentions, screen, restrict, span)
        alpha = o.smoothing_empty if said_nothing else o.smoothing
        return smooth(current, previous, alpha)[: o.k * 2]
