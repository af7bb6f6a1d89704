"""The generator's words without building media: names split by product split, prices, template families,
overlay shares, the second speech engine and scoring of invented names."""

from __future__ import annotations

import random
import shutil
from collections import defaultdict

import numpy as np
import pytest

from ampere_synth import PRESETS, make_products
from ampere_synth.live import CHAT_OTHER_SHARE, _plan_chat, _plan_screen
from ampere_synth.names import BRAND_FIRST, name_words
from ampere_synth.products import price_label
from ampere_synth.render import LiveStudio
from ampere_synth.scripts import FAMILIES, HELDOUT_FAMILIES, PRICE_SHAPES, Phrasebook, is_heldout
from ampere_synth.shapes import branded_sprite, sprite
from ampere_synth.speech import SR, Voice, speak
from ampere_train.factscore import Vocabulary, score_text, truth_facts


@pytest.mark.parametrize("preset,seed", [("bench", 0), ("bench", 3), ("demo", 0), ("train", 1)])
def test_name_words_are_split_disjoint(preset, seed):
    words = defaultdict(set)
    for p in make_products(PRESETS[preset], seed):
        words[p.split] |= name_words(p.brand) | name_words(p.model)
    assert not words["train"] & words["val"] and not words["train"] & words["test"]
    assert not words["val"] & words["test"]


def test_names_mix_invented_words_and_one_word_names():
    ps = make_products(PRESETS["bench"], 0)
    one_word = sum(len(p.brand.split()) == 1 or len(p.model.split()) == 1 for p in ps) / len(ps)
    assert 0.3 <= one_word <= 0.5
    english = {w.lower() for w in BRAND_FIRST}
    invented = sum(not ({w.lower() for w in p.brand.split()} & english) for p in ps) / len(ps)
    assert invented > 0.2
    assert len({(p.brand, p.model) for p in ps}) == len(ps)
    groups = defaultdict(list)
    for p in ps:
        groups[p.group].append(p)
    for members in groups.values():  # look-alikes: one look, distinct prices
        assert len({(p.category, p.shape, p.colour, p.pattern) for p in members}) == 1
        assert len({p.price for p in members}) == len(members)


def test_prices_with_cents_agree_in_title_and_card():
    ps = make_products(PRESETS["bench"], 0)
    cents = [p for p in ps if isinstance(p.price, float)]
    assert 0.2 <= len(cents) / len(ps) <= 0.5
    for p in ps:
        assert p.price_label in p.title() and p.price_label == price_label(p.price)
        assert p.row()["price"] == p.price
    p = cents[0]
    assert p.price_label == f"${p.price:.2f}" and truth_facts(p).price == f"{p.price:.2f}"
    assert truth_facts({**p.row(), "price": 49}).price == "49"


def test_price_shapes():
    got = {k: f(49.99) for k, f in PRICE_SHAPES.items()}
    assert got["dollars"] == "forty nine dollars ninety nine" and got["bare"] == "forty nine ninety nine"
    assert got["and_cents"] == "forty nine dollars and ninety nine cents" and got["under"] == "under fifty dollars"
    assert PRICE_SHAPES["bucks"](119) == "one hundred nineteen bucks"
    assert PRICE_SHAPES["short"](249.99) == "two forty nine, ninety nine"


def test_template_families_split_into_fit_and_heldout():
    fit, held = Phrasebook(heldout=False), Phrasebook(heldout=True)
    assert len(FAMILIES) >= 20 and sum(len(v) for v in FAMILIES.values()) >= 200
    for fam, phrasings in FAMILIES.items():
        assert len(phrasings) >= 4 and len(set(phrasings)) == len(phrasings), fam
        assert not set(fit.choices[fam]) & set(held.choices[fam])
        assert held.has(fam)  # every family can be said in a held-out stream
        assert fit.has(fam) == (fam not in HELDOUT_FAMILIES)
    assert not set(fit.shapes) & set(held.shapes) and fit.shapes and held.shapes
    rng = random.Random(0)
    for _ in range(200):
        fam = rng.choice(sorted(FAMILIES))
        book = held if fam in HELDOUT_FAMILIES or rng.random() < 0.5 else fit
        s = book.say(
            fam,
            rng,
            name="Zorvik Quonto",
            brand="Zorvik",
            model="Quonto",
            noun="mug",
            material="clay",
            look="red",
            price=49.99,
            old_price=69.99,
            other="Vexa 40",
            user="bea",
        )
        k = int(s.variant.split("|")[0].rsplit(".", 1)[1])
        assert is_heldout(fam, k) == book.heldout and "{" not in s.text


class _P:
    def __init__(self, pid, group, price=49.99):
        self.product_id, self.group, self.price, self.brand, self.model = pid, group, price, f"Br{pid}", f"Mo{pid}"
        self.name = f"{self.brand} {self.model}"
        self.price_label = price_label(price)


def test_overlay_shares_and_chat_distractors():
    rng = random.Random(1)
    studio = LiveStudio(rng, (640, 360))
    catalog = [_P(f"p{i}", f"g{i // 3}") for i in range(12)]
    segs, on_air = [], {}
    names = 0
    for i in range(400):
        card = rng.random() < 0.82
        sc = _plan_screen(
            studio,
            "product",
            catalog[i % 12],
            i * 20.0,
            i * 20.0 + 20,
            rng,
            card,
            69.99 if card and rng.random() < 0.3 else None,
        )
        names += sc["name_card"] is not None
        segs.append({"start": i * 20.0, "end": i * 20.0 + 20, "screen": sc})
        on_air[i] = catalog[i % 12]
        if sc["price_card"]:
            assert 20 <= (sc["price_card"]["box"][3] - sc["price_card"]["box"][1]) * 360 <= 90
    assert 0.15 <= names / 400 <= 1 / 3
    _plan_chat(studio, segs, on_air, catalog, 8000.0, random.Random(2))
    chat = [c for s in segs for c in s["screen"]["chat"]]
    others = sum(
        c["product_id"] is not None and c["product_id"] != on_air[i].product_id
        for i, s in enumerate(segs)
        for c in s["screen"]["chat"]
    )
    assert len(chat) > 1000 and abs(others / len(chat) - CHAT_OTHER_SHARE) < 0.04


def test_brand_is_printed_small_on_the_sprite():
    a = np.asarray(branded_sprite("mug", "straight", "red", "solid", "Zorvik"))
    b = np.asarray(branded_sprite("mug", "straight", "red", "solid", "Vexa Tey"))
    base = np.asarray(sprite("mug", "straight", "red", "solid", 256))
    assert a.shape == (256, 256, 4) and (a != b).any() and (a != base).any()
    rows = np.flatnonzero((a != base).any(axis=(1, 2)))
    assert rows.max() - rows.min() <= 256 / 12  # a line of small type


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed (make sysdeps)")
def test_flite_voice_speaks_at_16k():
    x = speak("the Zorvik Quonto, forty nine ninety nine", Voice("slt", 170, 50, "flite"))
    assert x.dtype == np.float32 and 1.0 < len(x) / SR < 6.0 and np.abs(x).max() > 0.05
    y = speak("the Zorvik Quonto, forty nine ninety nine", Voice("slt", 170, 50, "flite"))
    assert np.array_equal(x, y)  # deterministic


def test_score_text_reads_invented_names():
    ps = make_products(PRESETS["demo"], 0)
    p, other = ps[0], ps[5]
    truth = truth_facts(p)
    text = f"the {p.brand} {p.model} {truth.type}, {p.price_label}, and the {other.brand} {other.model}"
    for vocab in (Vocabulary.of(ps), None):  # the dataset's own names, or every generator name
        c, stated, true = score_text(text, truth, vocab)
        assert c == 4 and true == 6, (text, vocab is None)
        assert stated >= 5
    assert score_text("thanks for all the likes", truth) == (0, 0, 6)
