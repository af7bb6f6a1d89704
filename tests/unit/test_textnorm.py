import pytest

from ampere import textnorm as tn


def test_content_tokens_keep_names_and_numbers_and_drop_filler():
    t = tn.content_tokens("Hey guys, this is the Blue Peak Sparrow 900 — only $49.99 dollars!")
    assert {"blue", "peak", "sparrow", "900", "49", "99"} <= t
    assert not t & {"hey", "guys", "this", "is", "the", "only", "dollars"}


def test_overlap_is_the_share_of_title_words_spoken():
    title = tn.content_tokens("Blue Peak Sparrow 900 plastic speaker")
    assert tn.overlap(title, tn.content_tokens("the blue peak sparrow nine hundred")) == pytest.approx(3 / 6)
    assert tn.overlap(title, tn.content_tokens("blue peak spark 70")) == pytest.approx(2 / 6)
    assert tn.overlap(set(), tn.content_tokens("anything")) == 0.0


def test_one_word_definition_for_every_stage():
    assert tn.words("K7 by Zorvik, $49.99") == ["k", "7", "by", "zorvik", "49", "99"]
    assert tn.words("Café Crème 20") == ["café", "crème", "20"]
    assert tn.words(None) == [] and tn.words("") == []


def test_number_words_become_digits():
    assert tn.numbers_as_digits("the eagle thirty for forty nine dollars") == "the eagle 30 for 49 dollars"
    assert tn.numbers_as_digits("") == ""


def test_name_runs_and_the_longest_one():
    title = "Open Lane Jaguar 50 cotton handbag, grey, $155"
    assert tn.name_runs(title)[0] == ["Open", "Lane", "Jaguar", "50"]
    assert tn.longest_name_run(title) == ["open", "lane", "jaguar", "50"]
    assert tn.longest_name_run("a plain lower case title") == []


def test_hostile_input_is_bounded():
    huge = "Zorvik 40 " * 100_000
    assert len(tn.words(huge)) <= tn.MAX_TEXT_CHARS
    assert tn.content_tokens("\x00\x01 \u202e") == set()
