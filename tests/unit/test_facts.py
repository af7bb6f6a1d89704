from ampere.facts import Facts, heard, merge, parse, score
from ampere_train.factscore import heard_facts, score_text, truth_facts

TRUTH = Facts(brand="Open Lane", model="Jaguar 50", type="handbag", colour="grey", material="cotton", price="155")


def test_line_parse_round_trip_and_title_order_text():
    assert parse(TRUTH.line()) == TRUTH
    assert TRUTH.text() == "Open Lane Jaguar 50 cotton handbag grey $155"
    assert parse("none") == Facts() and Facts().line() == "none" and Facts().text() == "none"
    # junk, unknown keys, "color" spelling and "$" in prices are tolerated
    assert parse("Brand: Red Mountain | color: red | size: XL | price: $49 | model:") == Facts(
        brand="Red Mountain", colour="red", price="49"
    )
    assert parse("") == Facts() and parse("garbage without keys") == Facts()


def test_heard_is_fuzzy_for_names_and_exact_for_numbers():
    assert heard("Open Lane", "check out the openlane jaguar")  # ASR merged the words
    assert heard("Jaguar 50", "the jagwar 50 handbag")
    assert not heard("Jaguar 50", "the jaguar 500 handbag")  # a different model
    assert heard("155", "only $155 today") and not heard("155", "only $15 today")
    assert not heard("Open Lane", "thanks for all the likes")


def test_heard_facts_and_merge_carry_what_is_known():
    first = heard_facts(TRUTH, "This is the Open Lane Jaguar 50. Real cotton, feel that.")
    assert first == Facts(brand="Open Lane", model="Jaguar 50", material="cotton")
    later = merge(first, heard_facts(TRUTH, "Drop a heart in the chat. Only $155."))
    assert later == Facts(brand="Open Lane", model="Jaguar 50", material="cotton", price="155")


def test_scores():
    assert score(TRUTH, TRUTH) == (6, 6, 6)
    assert score(Facts(brand="Open Lane", model="Jaguar 500"), TRUTH) == (1, 2, 6)
    # free text: every catalogue name in it is a stated attribute, so a wrong product costs precision
    c, stated, true = score_text("open lane jaguar 50 handbag and the Red Mountain Legend 80, $155", TRUTH)
    assert (c, true) == (4, 6) and stated == 6
    assert score_text("thanks for all the likes", TRUTH) == (0, 0, 6)


def test_truth_facts_from_a_product_row():
    row = {
        "brand": "Open Lane",
        "category": "bottle",
        "colour": "grey",
        "material": "steel",
        "model": "Hawk 60",
        "price": 25,
    }
    assert truth_facts(row).type == "water bottle" and truth_facts(row).price == "25"
