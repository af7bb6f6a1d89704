"""ampere.attributes: prices heard and seen, and catalogue attributes matched per source."""

from __future__ import annotations

import time

import pytest

from ampere.attributes import (
    AttributeMatcher,
    Evidence,
    MatchWeights,
    Price,
    is_chat_line,
    price_matches,
    prices_in_speech,
    prices_on_screen,
    valid_price,
)
from ampere.ocr import TextLine


def said(text: str) -> list[tuple[float, str]]:
    return [(p.value, p.kind) for p in prices_in_speech(text)]


def shown(lines, candidates=None) -> list[tuple[float, str]]:
    return [(p.value, p.kind) for p in prices_on_screen(lines, candidates)]


# --- prices in speech ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, price",
    [
        ("and it is only 49 dollars 99", 49.99),
        ("forty nine dollars and ninety nine cents", 49.99),
        ("49 dollars and 99 cents", 49.99),
        ("you can get it for $49.99.", 49.99),
        ("it's 49.99 today", 49.99),
        ("the price is 49 99", 49.99),
        ("the price is forty-nine ninety-nine", 49.99),
        ("119 bucks, guys", 119.0),
        ("the price is a hundred and nineteen dollars", 119.0),
        ("you can get it today for twenty five dollars", 25.0),
        ("the price is one hundred forty-nine ninety-nine", 149.99),
        ("it costs 1,299 dollars", 1299.0),
        ("only 99 cents", 0.99),
        ("ＯＮＬＹ ＄１４９", 149.0),  # fullwidth
    ],
)
def test_spoken_price_shapes(text, price):
    assert (price, "price") in said(text)


def test_kinds_and_confidences():
    assert said("all of these are under thirty dollars") == [(30.0, "upper")]
    assert said("less than 30 bucks") == [(30.0, "upper")]
    assert said("it was 199 dollars, now 149 dollars") == [(199.0, "old"), (149.0, "price")]
    assert said("it was only 49 dollars") == [(49.0, "price")]  # today's price in the past tense
    sure, vague = prices_in_speech("$49.99")[0], prices_in_speech("the price is 49 99")[0]
    assert sure.confidence > vague.confidence and sure.has_cents and sure.source == "speech"
    # "one forty-nine" is 149 more often than 1.49: both are given, 149 surer
    both = {p.value: p.confidence for p in prices_in_speech("it is only one forty nine")}
    assert both[149.0] > both[1.49]


@pytest.mark.parametrize(
    "text",
    [
        "the Wolf 20 is back",
        "check out the Open Shore Wolf 20 chair",
        "the high oak panther 900 speaker",
        "only 2 left",
        "for 3 days only",
        "twenty percent off",
        "save 20 dollars",
        "$20 off everything",
        "forty nine ninety nine",  # two numbers with no price word near them
        "I have one of these",
        "mike22 and 1e308 dollars",
        "-5 dollars",
        "$0",
    ],
)
def test_not_prices(text):
    assert said(text) == []


def test_a_model_number_next_to_a_price():
    assert said("get the Open Shore Wolf 20 for 49 dollars") == [(49.0, "price")]
    assert said("the Wolf 20 for only 49 99") == [(49.99, "price")]


@pytest.mark.parametrize(
    "text",
    [
        "9" * 1_000_000,
        "49 dollars " * 200_000,
        "1." * 500_000,
        "$" * 1_000_000,
        "nine " * 200_000,
        "\x00\x1f\u202e49 dollars\u200b" * 1000,
        "💰" * 100_000,
        "\ud800 $49",
        "O0" * 300_000,
    ],
)
def test_hostile_speech_is_bounded(text):
    t = time.perf_counter()
    out = prices_in_speech(text)
    assert time.perf_counter() - t < 2.0 and len(out) <= 32
    assert all(0 < p.value <= 100_000 for p in out)


def test_non_text_is_no_text():
    assert prices_in_speech(None) == [] and prices_in_speech(123) == [] and prices_in_speech("") == []  # type: ignore[arg-type]


# --- prices on screen ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, price",
    [
        ("$149.99", 149.99),
        ("$ 149", 149.0),
        ("149.99$", 149.99),
        ("USD 149", 149.0),
        ("149,99", 149.99),
        ("$1,299", 1299.0),
        ("$1O9.99", 109.99),
        ("$l49", 149.0),
        ("$149 . 99", 149.99),
        ("Price: $49.99", 49.99),
        ("NOW ONLY $149.99!", 149.99),
        ("149", 149.0),
    ],
)
def test_screen_price_shapes(line, price):
    assert (price, "price") in shown([line])


def test_screen_old_prices_and_noise():
    assert shown(["WAS $199.99", "NOW $149.99"]) == [(199.99, "old"), (149.99, "price")]
    assert shown(["-$199.99-"]) == [(199.99, "old")]
    assert shown(["LIVE DEAL", "-20%", "SAVE $50", "Zorvik 40 Trail Backpack", "2 for 1", "Zorvik 540 Tote"]) == []
    assert (149.0, "price") in shown(["5149"])  # alone on its card, "$149" read as "5149" is a possibility
    # with boxes: the smaller, dearer price under the card's main one is the struck-through one
    main = TextLine("$149.99", 0.99, (0.70, 0.72, 0.96, 0.84), "bottom-right")
    struck = TextLine("$199.99", 0.99, (0.70, 0.83, 0.82, 0.90), "bottom-right")
    assert sorted(shown([main, struck])) == [(149.99, "price"), (199.99, "old")]
    # stacked on one card at the same size: the dearer is the old one
    small = TextLine("$266.99", 0.99, (0.03, 0.83, 0.20, 0.90), "bottom-left")
    below = TextLine("$340.99", 0.99, (0.03, 0.90, 0.17, 0.96), "bottom-left")
    assert sorted(shown([small, below])) == [(266.99, "price"), (340.99, "old")]
    # two prices far apart on screen are two prices
    far = TextLine("$340.99", 0.99, (0.70, 0.10, 0.85, 0.17), "top-right")
    assert sorted(shown([small, far])) == [(266.99, "price"), (340.99, "price")]


def test_dollar_sign_read_as_5_or_s_is_resolved_against_the_catalogue():
    both = shown(["5149.99"])
    assert (149.99, "price") in both and (5149.99, "price") in both  # no catalogue: both readings
    fixed = prices_on_screen(["5149.99"], candidates=[149.99, 129.99])
    assert [(p.value, p.misread) for p in fixed] == [(149.99, True)] and fixed[0].confidence >= 0.85
    assert shown(["5149.99"], candidates=[5149.99]) == [(5149.99, "price")]
    assert shown(["S149.99"], candidates=[149.99]) == [(149.99, "price")]
    assert shown(["S10"], candidates=[149.99]) == []  # "Galaxy S10" is no $10 for this catalogue
    assert shown(["$14999"], candidates=[149.99]) == [(149.99, "price")]  # the point lost


def test_chat_lines_are_their_own_source():
    assert is_chat_line("mike22: is the Zorvik 40 back?") and not is_chat_line("Price: $49.99")
    assert shown(["mike22: is the Zorvik 40 back?"]) == []
    (p,) = prices_on_screen(["anna_b: is it $49?"])
    assert (p.value, p.source) == (49.0, "chat")


def test_hostile_screen_lines():
    t = time.perf_counter()
    assert prices_on_screen([None, 5, b"$49", object()]) == []  # type: ignore[list-item]
    assert prices_on_screen(None) == [] and prices_on_screen([]) == []  # type: ignore[arg-type]
    out = prices_on_screen(["1," * 500_000, "5" * 100_000, "$1O.l, " * 100_000] * 100)
    assert time.perf_counter() - t < 2.0 and len(out) <= 32


# --- price agreement -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "observed, catalogue, score",
    [
        (149.99, 149.99, 1.0),
        (Price(149.0), 149.99, 0.8),
        (149.49, 149.99, 0.7),
        (Price(150.0), 149.99, 0.6),
        (120.0, 149.99, 0.0),
        (float("nan"), 49.0, 0.0),
        (49.0, float("inf"), 0.0),
        (5.0, -5.0, 0.0),
        (49.0, "$49", 1.0),
        (49.0, None, 0.0),
        (49.0, "junk", 0.0),
        (Price(30.0, "upper"), 25.0, 0.3),
        (Price(30.0, "upper"), 35.0, 0.0),
        (Price(30.0, "lower"), 35.0, 0.3),
    ],
)
def test_price_matches(observed, catalogue, score):
    assert price_matches(observed, catalogue) == pytest.approx(score)


def test_price_matches_tolerance_is_graded():
    near, far = price_matches(147.0, 149.99, tolerance=0.05), price_matches(143.0, 149.99, tolerance=0.05)
    assert 0.5 > near > far > 0 and price_matches(143.0, 149.99, tolerance=0.0) == 0.0


def test_valid_price():
    assert [valid_price(v) for v in ("49.99", "$1,299.00", 12, True, float("nan"), -1, 1e300, "abc", None)] == [
        49.99,
        1299.0,
        12.0,
        None,
        None,
        None,
        None,
        None,
        None,
    ]


# --- the matcher -----------------------------------------------------------------------------------

# one look-alike group (same look, differ in brand, model, material, price) and a neighbour
ROWS = [
    {
        "product_id": "p1",
        "title": "Stone Creek Sparrow 900 plastic speaker, white checked, $95",
        "attributes": {
            "brand": "Stone Creek",
            "model": "Sparrow 900",
            "material": "plastic",
            "colour": "white",
            "pattern": "checks",
            "category": "speaker",
            "price": 95,
        },
    },
    {
        "product_id": "p2",
        "title": "Red Mountain Legend 50 aluminum speaker, white checked, $129",
        "attributes": {
            "brand": "Red Mountain",
            "model": "Legend 50",
            "material": "aluminum",
            "colour": "white",
            "pattern": "checks",
            "category": "speaker",
            "price": 129,
        },
    },
    {
        "product_id": "p3",
        "title": "Stone Creek Sparrow 90 wood speaker, white checked, $149.99",
        "attributes": {
            "brand": "Stone Creek",
            "model": "Sparrow 90",
            "material": "wood",
            "colour": "white",
            "pattern": "checks",
            "category": "speaker",
            "price": 149.99,
        },
    },
    {
        "product_id": "p4",
        "title": "Sky High Comet 10 glass vase, sky blue, $45",
        "attributes": {
            "brand": "Sky High",
            "model": "Comet 10",
            "material": "glass",
            "colour": "sky blue",
            "category": "vase",
            "price": 45,
        },
    },
    {
        "product_id": "p5",
        "title": "Lake Bay Zorvik 40 canvas backpack, blue, $59",
        "attributes": {
            "brand": "Lake Bay",
            "model": "Zorvik 40",
            "material": "canvas",
            "colour": "blue",
            "category": "backpack",
            "price": 59,
        },
    },
]


@pytest.fixture(scope="module")
def matcher() -> AttributeMatcher:
    return AttributeMatcher(ROWS)


def best(scores) -> str:
    return max(scores.values(), key=lambda s: s.total).product_id


def test_speech_attributes_pick_the_look_alike(matcher):
    scores = matcher.score(Evidence("check out this one, made of wood, and it is only 149 dollars 99"))
    assert best(scores) == "p3"
    assert scores["p3"].speech["material"] == 1.0 and scores["p3"].speech["price"] > 0.8
    assert "price" not in scores.get("p1", None).speech if "p1" in scores else True


def test_screen_price_alone_and_sources_kept_apart(matcher):
    scores = matcher.score(Evidence("", ["LIVE DEAL", "$129.00"]))
    assert best(scores) == "p2" and scores["p2"].screen["price"] > 0.9 and not scores["p2"].speech
    mixed = matcher.score(Evidence("real aluminum, feel that", ["$95"]))
    assert mixed["p2"].speech == {"material": 1.0} and mixed["p1"].screen == {"price": pytest.approx(0.9)}


def test_chat_lines_name_other_products_without_weight(matcher):
    scores = matcher.score(Evidence("", ["mike22: is the Zorvik 40 back?", "$95"]))
    assert scores["p5"].chat["model"] == 1.0 and scores["p5"].total == 0.0
    assert best(scores) == "p1"
    weighted = AttributeMatcher(ROWS, MatchWeights(chat=0.5)).score(Evidence("", ["mike22: is the Zorvik 40 back?"]))
    assert weighted["p5"].total == pytest.approx(0.5)


def test_dollar_read_as_5_on_screen_resolves_to_a_catalogue_price(matcher):
    scores = matcher.score(Evidence("", ["5149.99"]))
    assert best(scores) == "p3" and scores["p3"].screen["price"] >= 0.85


def test_names_model_numbers_and_brand_words(matcher):
    scores = matcher.score(Evidence("the Stone Creek Sparrow 900 for 95 dollars"))
    assert scores["p1"].speech["model"] == 1.0 and scores["p1"].speech["brand"] == 1.0
    assert "model" not in scores["p3"].speech  # Sparrow 90 is not Sparrow 900
    assert scores["p3"].speech["brand"] == 1.0  # the same brand
    obs = matcher.observe(Evidence("the Stone Creek Sparrow 900 for 95 dollars"))
    assert [p.value for p in obs.prices] == [95.0]  # 900 is the model, not a price
    # "Red" of the brand Red Mountain is not the colour red
    red = matcher.observe(Evidence("the Red Mountain Legend 50 is here"))
    assert not [h for h in red.phrases if h.attribute == "colour"]


def test_multi_word_colours_and_drift(matcher):
    sky = matcher.score(Evidence("it comes in sky blue"))
    assert sky["p4"].speech["colour"] == 1.0 and "p5" not in sky
    blue = matcher.score(Evidence("it comes in blue"))
    assert blue["p5"].speech["colour"] == 1.0 and blue["p4"].speech["colour"] == 0.5
    assert matcher.score(Evidence("it comes in skyblue"))["p4"].speech["colour"] == 1.0
    drift = matcher.score(Evidence("real alluminum and some canvases"))
    assert drift["p2"].speech["material"] > 0.85 and drift["p5"].speech["material"] == 1.0
    assert "p1" not in matcher.score(Evidence("let me check out the chat"))  # "check" is no pattern


def test_rows_without_attributes_work_from_titles():
    m = AttributeMatcher([{"product_id": r["product_id"], "title": r["title"]} for r in ROWS])
    p3 = m.products["p3"]
    assert (p3.price, p3.brand, p3.model) == (149.99, "stone creek", "sparrow 90")
    assert p3.phrases["material"] == {"wood"} and p3.phrases["colour"] == {"white"}
    assert m.products["p4"].phrases["colour"] == {"sky blue"}  # not also "blue"
    scores = m.score(Evidence("the Sparrow 90, made of wood", ["$149.99"]))
    assert best(scores) == "p3" and set(scores["p3"].speech) == {"model", "material"}


def test_candidates_restrict_and_rows_of_one_product_merge():
    rows = ROWS + [{"product_id": "p3", "title": "p3 second page", "attributes": {"colour": "beige"}}]
    m = AttributeMatcher(rows)
    assert len(m) == 5 and m.products["p3"].phrases["colour"] == {"white", "beige"}
    scores = m.score(Evidence("white, 95 dollars"), candidates=["p2", "p3"])
    assert set(scores) == {"p2", "p3"}


def test_hostile_rows_and_evidence():
    m = AttributeMatcher(
        [
            {"product_id": "a", "title": "x", "attributes": {"price": float("nan"), "colour": 5}},
            {"product_id": None},
            {"title": "no id"},
            "junk",
            None,  # type: ignore[list-item]
            {"product_id": "b", "title": None, "attributes": "bad"},
            {"product_id": "c", "title": "Sky High Comet 10 glass vase, $1e9"},
        ]
    )
    assert set(m.products) == {"a", "b", "c"} and m.products["a"].price is None and m.products["c"].price is None
    t = time.perf_counter()
    assert m.score(Evidence("9" * 1_000_000, ["$" * 1000] * 1000)) == {}
    m.score(Evidence("glass " * 100_000, ["glass" * 100] * 1000))
    assert time.perf_counter() - t < 3.0
    assert m.score(Evidence(None, None)) == {} and m.score("not evidence") == {}  # type: ignore[arg-type]
    assert AttributeMatcher([]).score(Evidence("49 dollars, leather", ["$49"])) == {}


def test_a_thousand_products_score_quickly():
    colours, materials = ["red", "navy", "sky blue", "green"], ["leather", "canvas", "suede", "nylon"]
    rows = [
        {
            "product_id": f"p{i}",
            "title": f"Brand{i % 300} Model {i}",
            "attributes": {
                "brand": f"North {chr(97 + i % 26)}{i % 300}",
                "model": f"Falcon {10 * (i % 90)}",
                "colour": colours[i % 4],
                "material": materials[i // 4 % 4],
                "price": 9 + i % 390,
            },
        }
        for i in range(1000)
    ]
    m = AttributeMatcher(rows)
    ev = Evidence(
        "okay next up, the North c28 Falcon 280 in sky blue suede, only 37 dollars, "
        "some of you asked about the North a0 Falcon 100",
        ["$37.00", "LIVE DEAL", "bob: $99?"],
    )
    m.score(ev)
    t = time.perf_counter()
    for _ in range(5):
        scores = m.score(ev)
    assert (time.perf_counter() - t) / 5 < 0.25  # a few ms unloaded; loose for a shared machine
    assert scores["p28"].speech["price"] > 0.8 and scores["p28"].screen["price"] > 0.9
