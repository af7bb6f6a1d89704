"""The tagger's candidates and scores: screen prices, attributes, the stream's product list."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from ampere.settings import TaggerOptions
from ampere.tagger import Tagger, central_rows, rank_products

PAGES = [  # one look-alike group: same look, other name, material and price
    (
        "A",
        "Zorvik 40 cotton handbag, grey, $49.99",
        {"brand": "Zorvik", "model": "40", "material": "cotton", "price": 49.99, "colour": "grey"},
    ),
    (
        "B",
        "Mellora Tey suede handbag, grey, $120",
        {"brand": "Mellora", "model": "Tey", "material": "suede", "price": 120, "colour": "grey"},
    ),
    (
        "C",
        "Quonto K7 leather handbag, grey, $75",
        {"brand": "Quonto", "model": "K7", "material": "leather", "price": 75, "colour": "grey"},
    ),
]


class FakeIndex:
    """The search index's answers, from PAGES; every page equally near the window's embedding (look-alikes)."""

    def __init__(self, pages=PAGES):
        self.pages = [
            SimpleNamespace(
                key=f"page:{p}",
                product_id=p,
                score=0.5,
                fields={"title": t, "attributes": json.dumps(a), "price": str(a["price"])},
            )
            for p, t, a in pages
        ]
        self.asked = []

    def knn(self, vec, k, domains=None, tags=None):
        allowed = set(tags["product_id"]) if tags else None
        return [h for h in self.pages if allowed is None or h.product_id in allowed]

    def text_candidates(self, words, k):
        return []

    def find(self, tags=None, numeric=None, sort_by=None, limit=10):
        lo, hi = numeric["price"]
        self.asked.append((lo, hi))
        return [h for h in self.pages if lo <= float(h.fields["price"]) <= hi]

    def vectors(self, keys):
        return [np.zeros(4, np.float32)] * len(keys)


def top(cands):
    return rank_products(SimpleNamespace(product_id=c.product_id, score=c.score) for c in cands)[0][0]


def test_the_price_on_screen_picks_the_look_alike():
    tagger = Tagger(FakeIndex(), TaggerOptions(attribute_weight=1.0))
    screen = [
        ["LIVE", 0.99, 0, 0, 0.1, 0.05, 4.0],
        ["NOW", 0.98, 0.1, 0.7, 0.2, 0.75, 4.0],
        ["$120", 0.97, 0.1, 0.75, 0.3, 0.9, 4.0],
    ]
    cands = tagger.candidates(np.zeros(4, np.float32), "so this one is really nice, feel that", screen=screen)
    assert top(cands) == "B"
    by = {c.product_id: c for c in cands}
    assert by["B"].parts["screen_attributes"] > 0 and by["A"].parts["screen_attributes"] == 0
    assert by["B"].parts["attributes"] == 0  # nothing was said about it


def test_a_spoken_price_and_material_count_too_and_chat_lines_do_not():
    tagger = Tagger(FakeIndex(), TaggerOptions(attribute_weight=1.0))
    cands = tagger.candidates(np.zeros(4, np.float32), "real leather, and it is only seventy five dollars")
    assert top(cands) == "C"
    chat = [["mike22: is the Zorvik 40 back? 49.99?", 0.95, 0.6, 0.7, 0.99, 0.75, 4.0]]
    cands = tagger.candidates(np.zeros(4, np.float32), "", screen=chat)
    assert {c.product_id: c.parts["attributes"] for c in cands}["A"] == 0


def test_a_comment_panel_gives_no_attribute_evidence_and_the_price_card_does():
    tagger = Tagger(FakeIndex(), TaggerOptions(attribute_weight=1.0))
    panel = [  # viewers' comments stacked at the left, one wrapping without the viewer's name
        ["zoe ordered the Zorvik 40!", 0.99, 0.014, 0.62, 0.33, 0.675, 4.0],
        ["noah is the Quonto K7 still", 0.99, 0.014, 0.68, 0.34, 0.735, 4.0],
        ["available? $75", 0.99, 0.015, 0.74, 0.12, 0.795, 4.0],
    ]
    card = [["NOW", 0.98, 0.5, 0.73, 0.58, 0.79, 4.0], ["$120", 0.97, 0.5, 0.79, 0.8, 0.93, 4.0]]
    by = {c.product_id: c for c in tagger.candidates(np.zeros(4, np.float32), "", screen=panel + card)}
    assert by["A"].parts["screen_attributes"] == 0 and by["C"].parts["screen_attributes"] == 0
    assert by["B"].parts["screen_attributes"] > 0


def test_the_stream_product_list_restricts_the_candidates():
    index = FakeIndex()
    tagger = Tagger(index, TaggerOptions(attribute_weight=1.0))
    cands = tagger.candidates(np.zeros(4, np.float32), "only seventy five dollars", restrict=["A", "B"])
    assert {c.product_id for c in cands} <= {"A", "B"}


def test_without_attributes_the_tagger_asks_no_price_queries():
    index = FakeIndex()
    Tagger(index, TaggerOptions(attribute_weight=0.0)).candidates(
        np.zeros(4, np.float32), "seventy five dollars", screen=[["$120", 0.9, 0, 0, 1, 1, 0.0]]
    )
    assert index.asked == []


def test_central_rows_keep_the_frame_at_the_window_centre():
    rows = [["$49.99", 0.9, 0.1, 0.75, 0.3, 0.9, 72.0], ["$120", 0.9, 0.1, 0.75, 0.3, 0.9, 76.0]]
    assert central_rows(rows, (72.0, 80.0)) == [rows[1]]
    assert central_rows(rows, None) == rows  # no span: every row
    assert central_rows(["$120"], (72.0, 80.0)) == ["$120"]  # no frame times: every row
    assert central_rows(rows[:1], (72.0, 80.0)) == rows[:1]  # no central frame: every row


def test_the_frame_at_the_centre_outweighs_the_one_at_the_start_when_asked():
    # a window across a product change: its start frame still shows A's price card, its centre B's
    screen = [["$49.99", 0.97, 0.1, 0.75, 0.3, 0.9, 72.0], ["$120", 0.97, 0.1, 0.75, 0.3, 0.9, 76.0]]
    vec = np.zeros(4, np.float32)
    alike = Tagger(FakeIndex(), TaggerOptions(attribute_weight=1.0, screen_edge_weight=1.0))
    flat = {
        c.product_id: c.parts["screen_attributes"] for c in alike.candidates(vec, "", screen=screen, span=(72.0, 80.0))
    }
    assert flat["A"] > 0 and flat["B"] > 0
    centred = Tagger(FakeIndex(), TaggerOptions(attribute_weight=1.0, screen_edge_weight=0.25))
    cands = centred.candidates(vec, "", screen=screen, span=(72.0, 80.0))
    by = {c.product_id: c for c in cands}
    assert top(cands) == "B"
    assert by["A"].parts["screen_attributes"] == pytest.approx(0.25 * flat["A"])  # its price: only at the start
    assert by["B"].parts["screen_attributes"] == pytest.approx(flat["B"])
