from types import SimpleNamespace

from ampere.summarize import summary_for_embedding
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
