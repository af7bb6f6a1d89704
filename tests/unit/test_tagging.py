from types import SimpleNamespace

from ampere.summarize import name_words, summary_for_embedding, window_text
from ampere.tagger import rank_products, smooth


def hit(pid, score):
    return SimpleNamespace(product_id=pid, score=score)


def test_rank_products_takes_best_page_per_product():
    ranked = rank_products([hit("A", 0.5), hit("B", 0.7), hit("A", 0.9), hit("", 0.99)])
    assert ranked == [("A", 0.9), ("B", 0.7)]


def test_smoothing_holds_the_tag_through_one_ambiguous_window():
    previous = [("A", 0.8), ("B", 0.5)]
    current = [("B", 0.55), ("A", 0.5)]  # chatter window leaning slightly to B
    assert smooth(current, previous, alpha=0.5)[0][0] == "A"
    assert smooth(current, previous, alpha=0.0)[0][0] == "B"
    assert smooth(current, [], alpha=0.9) == current


def test_smoothing_follows_a_clear_change_of_product():
    previous = [("A", 0.6), ("B", 0.4)]
    current = [("B", 0.9), ("A", 0.3)]
    out = dict(smooth(current, previous, alpha=0.5))
    assert max(out, key=out.get) == "B"
    # a product missing from one list counts with that list's lowest score
    assert dict(smooth([("C", 0.9)], previous, 0.5))["C"] == 0.5 * 0.9 + 0.5 * 0.4


def test_empty_summary_marker_is_not_embedded():
    assert summary_for_embedding("empty") == "" and summary_for_embedding(" Empty ") == ""
    assert summary_for_embedding("red oak lamp") == "red oak lamp"


def test_window_text_adds_the_overlays_read_on_screen_not_the_chat():
    rows = [
        ["Ridgeway Falcon 20", 0.93, 0.6, 0.1, 0.9, 0.16, 0.0],
        ["Ridgeway Falcon 20", 0.91, 0.6, 0.1, 0.9, 0.16, 4.0],  # the same card on the next frame: once
        ["mia: is the Otter back?", 0.9, 0.02, 0.7, 0.3, 0.74, 0.0],  # a viewer names another product
        ["$49.99", 0.88, 0.6, 0.2, 0.7, 0.25, 0.0],
    ]
    assert window_text("leather strap, waterproof", rows) == "leather strap, waterproof | Ridgeway Falcon 20 | $49.99"
    assert window_text("empty", rows) == "Ridgeway Falcon 20 | $49.99"  # the marker still embeds as nothing
    assert window_text("red oak lamp") == "red oak lamp"
    assert window_text("x", ["a" * 200, "b" * 100, "short"], screen_chars=210) == "x | " + "a" * 200 + " | short"


def test_window_text_with_the_catalogue_keeps_only_lines_that_name_or_price_a_product():
    rows = ["LIVE", "2.1K watching", "FLASH SALE", "Ridgeway Falcon 20", "$49.99", "ridgewya falcon"]
    words = name_words(["Ridgeway", "Falcon 20", "Otter"])
    assert words == {"ridgeway", "falcon", "otter"}
    assert window_text("", rows, words) == "Ridgeway Falcon 20 | $49.99 | ridgewya falcon"
    assert window_text("", ["LIVE", "NEW"], words) == ""
