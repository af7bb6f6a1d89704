import pytest

from ampere import summarize as S
from ampere.facts import parse
from ampere.settings import Settings

NOISY = (
    "Hey everyone, welcome back to the stream. Don't forget to follow and like. Um, so, you know. "
    "This is the Green Shore Lion 30 lamp. The material is metal. Look at this orange polka dot color. "
    "Yesterday the Iron Bay Tiger 40 sold out. The price is $125."
)
CHATTER = (
    "Thanks for all the likes, keep them coming. Let me know in the comments what you think. "
    "Um, so, you know, share the stream with a friend."
)


def _words(text):
    return {S._norm(t) for t in S.tokens(text)}


def test_grounding_drops_invented_words_and_keeps_transcript_spelling():
    fake_llm = "Acme SuperLamp 3000 by Green Shore Lions, metal, orange, price $125 and $99"
    out = S.ground(fake_llm, NOISY)
    assert "Acme" not in out and "SuperLamp" not in out and "3000" not in out and "99" not in out
    assert "$125" in out and "metal" in out and "orange" in out
    assert "Lion" in out.split() and "Lions" not in out.split()  # fuzzy match, transcript's spelling
    assert _words(out) <= _words(NOISY)


def test_compact_drops_stopwords_and_repeats():
    assert S.compact("the Green Shore Lion the Lion is metal metal") == "Green Shore Lion metal"


def test_product_signal():
    assert S.has_product_signal(NOISY)
    assert S.has_product_signal("check this out, only forty nine dollars")
    assert not S.has_product_signal(CHATTER)
    assert not S.has_product_signal("I love this one. OK, I'm back.")


def test_baselines():
    raw = S.RawSummarizer(max_words=5).summarize(NOISY)
    assert raw.text == "Hey everyone, welcome back to" and raw.model == "raw"
    kw = S.KeywordSummarizer().summarize(NOISY).text
    assert "Lion" in kw and "$125" in kw and "follow" not in kw
    assert S.KeywordSummarizer().summarize(CHATTER).text == S.EMPTY
    assert S.RawSummarizer().summarize("").text == S.EMPTY


def test_make_summarizer_kinds():
    assert isinstance(S.make_summarizer(Settings(summarizer="raw").summarizer), S.RawSummarizer)
    assert isinstance(S.make_summarizer(Settings(summarizer="keyword").summarizer), S.KeywordSummarizer)
    assert S.make_summarizer(Settings(summarizer="none").summarizer).summarize(NOISY).text == S.EMPTY
    with pytest.raises(ValueError, match="llm-stock"):  # the settings name the kinds there are
        Settings(summarizer="gpt")


def test_word_grammar_only_offers_transcript_words():
    g = S.word_grammar("The price is $125.", 8)
    assert '"empty"' in g and '"$125"' in g and '"price"' in g and "{0,7}" in g


@pytest.fixture(scope="module")
def llm():
    pytest.importorskip("llama_cpp")
    try:
        S.default_gguf()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    s = S.LlamaSummarizer(Settings().summarizer)
    assert s.llm is not None  # load outside the timed calls
    return s


@pytest.mark.models
def test_llm_summary_is_short_grounded_and_fast(llm):
    runs = [llm.summarize(NOISY) for _ in range(3)]
    out = runs[0]
    assert out.model == "llm-stock" and out.text != S.EMPTY
    assert len(out.text.split()) <= 24
    assert _words(out.text) <= _words(NOISY)  # never a word the speaker did not say
    assert _words(out.text) & {"green", "shore", "lion", "lamp", "metal", "orange", "125"}
    # (time per window is measured by bench/quality.py summarizer, not asserted here: a loaded machine flakes)
    assert all(r.ms > 0 for r in runs)
    assert [r.text for r in runs] == [out.text] * 3  # temperature 0: deterministic


@pytest.mark.models
def test_llm_unconstrained_output_is_still_grounded(llm):
    free = S.LlamaSummarizer(Settings().summarizer, constrain=False)
    raw = free.generate(NOISY)
    out = free.summarize(NOISY).text
    assert _words(out) <= _words(NOISY)
    # the one-shot example's product is what the unconstrained tiny model tends to copy
    assert "Garden" not in out and "Hawk" not in out
    assert raw  # the model said something before grounding


@pytest.mark.models
def test_llm_chatter_is_empty(llm):
    # the tiny model never chose "empty" by itself in trials; the product-signal gate does it
    assert llm.summarize(CHATTER).text == S.EMPTY
    assert llm.summarize("").text == S.EMPTY


# --- the default: the task-adapted model (LoRA from `ampere summarizer train`, in git) ---------------


@pytest.fixture(scope="module")
def adapted():
    pytest.importorskip("llama_cpp")
    s = S.make_summarizer(Settings(summarizer="llm").summarizer)
    assert isinstance(s, S.FactsSummarizer)
    assert s.llm is not None  # loaded before the test times it
    return s


@pytest.mark.models
def test_adapted_summary_keeps_the_product_and_drops_the_passing_mention(adapted):
    from ampere.facts import parse

    runs = [adapted.summarize(NOISY) for _ in range(3)]
    facts = parse(runs[0].facts)
    assert facts.brand == "Green Shore" and facts.model == "Lion 30"
    assert "Iron Bay" not in runs[0].text and "Tiger" not in runs[0].text
    assert runs[0].text == facts.text() and runs[0].model.startswith("llm+")
    assert [r.facts for r in runs] == [runs[0].facts] * 3  # temperature 0: deterministic
    # the budget of 1 s per window on 2 cores is measured by bench/quality.py summarizer


@pytest.mark.models
def test_adapted_summary_carries_facts_over_chatter_and_resets_on_a_new_product(adapted):
    from ampere.facts import parse

    before = "brand: Green Shore | model: Lion 30 | type: lamp | price: 125"
    assert parse(adapted.summarize(CHATTER, before=before).facts).brand == "Green Shore"
    assert adapted.summarize("", before=before).facts == before  # silence: nothing new was said
    nxt = parse(
        adapted.summarize("Alright, here is something new. Check out the Iron Bay Tiger 40 mug.", before=before).facts
    )
    assert nxt.brand == "Iron Bay" and nxt.model == "Tiger 40"


def test_adapted_summarizer_says_how_to_get_a_missing_adapter(tmp_path):
    with pytest.raises(S.ConfigError, match="ampere summarizer train"):
        S.make_summarizer(Settings(summarizer={"kind": "llm", "lora": str(tmp_path / "missing.gguf")}).summarizer)


def test_the_adapted_summarizer_cannot_state_a_name_the_catalogue_does_not_have(monkeypatch):
    s = S.FactsSummarizer(Settings().summarizer)
    # what a small model trained on one vocabulary writes: a brand of its training set, not of this catalogue
    monkeypatch.setattr(s, "generate", lambda transcript, before: "brand: Wild Park | model: Zorvik 40 | price: 49")
    vocab = S.NameVocabulary(["Zorvik", "40", "Zorvik 40", "Mellora Tey"])
    out = s.summarize("check out the zorvik 40 handbag, only 49 dollars", names=vocab)
    facts = parse(out.facts)
    assert facts.brand == "" and facts.model == "Zorvik 40" and facts.price == "49"
    # a near miss is written the catalogue's way
    monkeypatch.setattr(s, "generate", lambda transcript, before: "brand: Melora Tey | price: 120")
    assert parse(s.summarize("the melora tey is 120 dollars", names=vocab).facts).brand == "Mellora Tey"


def test_facts_expire_when_not_heard_for_a_while():
    facts = parse("brand: Zorvik | price: 49")
    ages: dict = {}
    for _ in range(3):
        facts, ages = S.expire(facts, "drop a heart in the chat", ages, max_age=3)
    assert facts.brand == "Zorvik" and ages == {"brand": 3, "price": 3}
    facts, ages = S.expire(facts, "thanks for the likes", ages, max_age=3)
    assert facts.is_empty() and ages == {}
    kept, ages = S.expire(parse("brand: Zorvik"), "the zorvik again", {"brand": 3}, max_age=3)
    assert kept.brand == "Zorvik" and ages == {"brand": 0}
