import pytest

from ampere.names import NameSnapper, names_of, snapper_from_rows

CATALOG = [
    {
        "title": "Open Shore Wolf 20 pine chair, teal checked, $275",
        "attributes": {"brand": "Open Shore", "model": "Wolf 20"},
    },
    {"title": "Little Mountain Eagle 30 wool hat", "attributes": {"brand": "Little Mountain", "model": "Eagle 30"}},
    {"title": "High Oak Panther 900 plastic speaker", "attributes": {"brand": "High Oak", "model": "Panther 900"}},
    {"title": "High Oak Jaguar 90 plastic speaker", "attributes": {"brand": "High Oak", "model": "Jaguar 90"}},
    {"title": "Red Mountain Legend 50 suede handbag", "attributes": {"brand": "Red Mountain", "model": "Legend 50"}},
]


@pytest.fixture(scope="module")
def snapper() -> NameSnapper:
    return snapper_from_rows(CATALOG)


def test_names_come_from_attributes_or_the_titles_capitalised_runs():
    assert names_of(CATALOG[0]) == {"Open Shore", "Wolf 20", "Open Shore Wolf 20"}
    assert names_of({"title": "Nike Air Zoom Pegasus 40 running shoe, $120"}) == {"Nike Air Zoom Pegasus 40"}
    assert names_of({"title": "plain lowercase title"}) == set()


@pytest.mark.parametrize(
    "heard, said",
    [
        ("Check out the open short world 20 chair.", "Check out the Open Shore Wolf 20 chair."),
        ("Check out the high oak pan's 900 speaker.", "Check out the High Oak Panther 900 speaker."),
        # number words become digits, and the name starts after "the", not at it
        ("Yesterday the little mountain eagle thirty sold out.", "Yesterday the Little Mountain Eagle 30 sold out."),
    ],
)
def test_near_misses_of_catalogue_names_are_replaced(snapper, heard, said):
    assert snapper.correct(heard) == said


def test_numbers_must_match_exactly(snapper):
    # "Legend 500" is not a catalogue model: only the brand may be corrected, the number stays
    out = snapper.correct("the red mountain legend 500 is back")
    assert "Legend 50 " not in out + " " and "500" in out


def test_chatter_is_left_alone(snapper):
    text = "Share the stream with a friend, drop a heart in the chat if you are enjoying this."
    assert snapper.correct(text) == text


def test_an_empty_catalogue_changes_only_number_words():
    assert (
        NameSnapper([]).correct("only twenty nine dollars for the open shore") == "only 29 dollars for the open shore"
    )
