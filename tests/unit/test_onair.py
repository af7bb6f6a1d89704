from types import SimpleNamespace

import numpy as np
import pytest

from ampere.onair import Mention, NameIndex, OnAirModel, features, onair_score, title_name, words
from ampere.settings import Settings, TaggerOptions
from ampere.tagger import Tagger, rank_products
from ampere_train.tagger import fit

NAMES = NameIndex.of(
    ["North River", "Blaze 300", "North River Blaze 300", "Blue Lane", "Rocket 600", "Blue Lane Rocket 600"]
)


def test_mentions_are_longest_names_said_without_overlap():
    tw = words("this is the North River Blaze 300 hat, from North River. not the blue lane rocket 600")
    said = [" ".join(m.name) for m in NAMES.find(tw)]
    assert said == ["north river blaze 300", "north river", "blue lane rocket 600"]
    assert NAMES.find(words("nothing named here")) == []
    # one-word names count ("the K7 by Zorvik"), unless too short to be anything but an ordinary word
    assert [m.name for m in NameIndex.of(["Zorvik", "Rex"]).find(words("by zorvik, the rex"))] == [("zorvik",)]


def test_features_see_the_words_around_a_mention():
    tw = words("this is not the Blue Lane Rocket 600 that one is different")
    f = features(tw, NAMES.find(tw)[0])
    assert {"L:not", "L1:the", "L2:not_the", "R1:that", "R:different", "num:True", "len:4"} <= set(f)


def _synthetic(n: int = 40):
    # on air after "check out the"/"here we have the", in passing after "not the"/"asked about the"
    X, y = [], []
    for i in range(n):
        name = f"Brand{i} Model {10 * (i % 9 + 1)}"
        for left, label in (
            ("check out the", 1),
            ("here we have the", 1),
            ("this is not the", 0),
            ("some of you asked about the", 0),
        ):
            tw = words(f"{left} {name} okay")
            m = NameIndex.of([name]).find(tw)[0]
            X.append(features(tw, m))
            y.append(label)
    return X, y


def test_a_fitted_model_tells_on_air_from_passing_mentions_of_unseen_names():
    model = fit(*_synthetic())
    names = NameIndex.of(["Zed Mark 70"])
    ((m_on, p_on),) = model.mentions("check out the Zed Mark 70 okay", names)
    ((m_off, p_off),) = model.mentions("this is not the Zed Mark 70 okay", names)
    assert p_on > 0.8 and p_off < 0.2
    with pytest.raises(ValueError):
        fit([["L:a"], ["L:b"]], [1, 1])


def test_model_file_round_trip_and_missing_file(tmp_path):
    model = fit(*_synthetic(10))
    back = OnAirModel.load(model.save(tmp_path / "m.json"))
    f = ["L:check", "L1:the", "num:True"]
    assert back.prob(f) == pytest.approx(model.prob(f))
    with pytest.raises(FileNotFoundError, match="ampere tagger train"):
        OnAirModel.load(tmp_path / "absent.json")


def test_score_is_mention_probability_times_share_of_the_name():
    title = "North River Blaze 300 wool hat, white, $49"
    assert title_name(title) == ["north", "river", "blaze", "300"]
    full = (Mention(("north", "river", "blaze", "300"), 0, 4), 0.9)
    brand = (Mention(("north", "river"), 0, 2), 0.8)
    other = (Mention(("blue", "lane"), 0, 2), 0.99)
    assert onair_score(title, [full]) == pytest.approx(0.9)
    assert onair_score(title, [brand]) == pytest.approx(0.4)
    assert onair_score(title, [brand, full, other]) == pytest.approx(0.9)
    assert onair_score(title, [other]) == 0.0
    assert onair_score("a hat", [full]) == 0.0


def _mention_probs(model, families, heldout):
    from ampere_synth.scripts import FAMILIES, is_heldout

    name = "Zorvik Tey 40"
    names = NameIndex.of([name, "Mellora 7"])
    out = []
    for fam in families:
        for k, template in enumerate(FAMILIES[fam]):
            if is_heldout(fam, k) != heldout:
                continue
            said = template.format(
                name=name,
                other=name,
                brand="Zorvik Tey",
                model="40",
                noun="bag",
                user="ann",
                material="cotton",
                look="red",
                price="ten dollars",
                old_price="twenty dollars",
            )
            out += [
                p
                for m, p in model.mentions(f"check it out. {said}. drop a heart in the chat.", names)
                if " ".join(m.name) == name.lower()
            ]
    return out


def test_shipped_model_discounts_names_said_in_passing_also_in_phrasings_it_never_saw():
    model = OnAirModel.load(Settings().tagger.onair_model)
    passing = ["mention_sold_out", "mention_asked", "mention_back_tomorrow", "mention_not_the", "mention_from_earlier"]
    for heldout, bar in ((False, 0.9), (True, 0.6)):  # measured: 0.99 on fit phrasings, 0.72 on held-out ones
        on = _mention_probs(model, ["name_intro", "repeat"], heldout)
        off = _mention_probs(model, passing, heldout)
        auc = sum((a > b) + 0.5 * (a == b) for a in on for b in off) / (len(on) * len(off))
        assert on and off and auc > bar, (heldout, auc)


class FakeIndex:
    """What the tagger asks of the search index, answered from a list of pages."""

    def __init__(self, pages):
        self.pages = pages

    def knn(self, vec, k, domains=None, tags=None):
        return self.pages

    def text_candidates(self, words, k):
        return []

    def find(self, tags=None, numeric=None, sort_by=None, limit=10):
        return []

    def vectors(self, keys):
        return [None] * len(keys)


def test_tagger_ranks_the_product_named_on_air_above_one_named_in_passing():
    pages = [
        SimpleNamespace(key="page:A", product_id="A", score=0.5, fields={"title": "Sun Lane Pilot 40 hat"}),
        SimpleNamespace(key="page:B", product_id="B", score=0.5, fields={"title": "Lake Island Wolf 10 hat"}),
    ]
    text = "This is not the Lake Island Wolf 10. Check out the Sun Lane Pilot 40."
    model = fit(*_synthetic())
    said = model.mentions(text, NameIndex.of(["Sun Lane Pilot 40", "Lake Island Wolf 10"]))
    vec = np.zeros(4, np.float32)
    with_onair = Tagger(FakeIndex(pages), TaggerOptions(onair_weight=3.0, attribute_weight=0)).candidates(
        vec, text, said
    )
    without = Tagger(FakeIndex(pages), TaggerOptions(onair_weight=0.0, attribute_weight=0)).candidates(vec, text, said)
    rank = lambda cands: [
        p for p, _ in rank_products(SimpleNamespace(product_id=c.product_id, score=c.score) for c in cands)
    ]
    assert rank(with_onair)[0] == "A"
    # both titles are fully spoken: word overlap alone cannot tell them apart
    assert {c.product_id: c.score for c in without}["A"] == {c.product_id: c.score for c in without}["B"]


def test_a_name_said_in_two_parts_in_either_order_covers_the_whole_name():
    names = NameIndex.of(["Zorvik", "K7", "Zorvik K7"])
    scored = [(m, 0.9) for m in names.find(words("check out the K7 by Zorvik"))]
    assert onair_score("Zorvik K7 cotton handbag, grey, $49.99", scored) == pytest.approx(0.9)
    half = [(m, 0.9) for m in names.find(words("the zorvik is back"))]
    assert onair_score("Zorvik K7 cotton handbag", half) == pytest.approx(0.9 / 3)
