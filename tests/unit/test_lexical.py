import pytest

from ampere import index
from ampere.lexical import overlap, tokens


def test_tokens_keep_names_and_numbers_and_drop_filler():
    t = tokens("Hey guys, this is the Blue Peak Sparrow 900 — only $49.99 dollars!")
    assert {"blue", "peak", "sparrow", "900", "49", "99"} <= t
    assert not t & {"hey", "guys", "this", "is", "the", "only", "dollars"}


def test_overlap_is_the_share_of_title_words_spoken():
    title = tokens("Blue Peak Sparrow 900 plastic speaker")
    assert overlap(title, tokens("the blue peak sparrow nine hundred")) == pytest.approx(3 / 6)
    assert overlap(title, tokens("blue peak spark 70")) == pytest.approx(2 / 6)
    assert overlap(set(), tokens("anything")) == 0.0


@pytest.mark.parametrize("word", ["a|b", "x}", "@domain:{page}", "two words", "café", "*"])
def test_text_candidates_refuses_query_syntax(word):
    with pytest.raises(ValueError, match="plain letters"):
        index.text_candidates(None, ["ok", word], k=5)
