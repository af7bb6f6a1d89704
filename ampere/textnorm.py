"""Text normalisation shared by every stage: word tokens, stopwords, number words, product-name rules.

One definition of a word means the tagger, the name corrector, the on-air model, the summarizer's guard and the
fact scorer all agree on what "the same words" are: lower-case runs of letters (any script) or of digits, so
"K7" is ``k 7`` and "$49.99" is ``49 99`` everywhere. (The model's hashed n-grams in ``encoders.ngrams`` keep
their own tokenizer: changing it would change the trained features.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WORD = re.compile(r"[^\W\d_]+|\d+")
# words as written, for grounding a summary in a transcript: case, "$", apostrophes and decimals kept
SURFACE_TOKEN = re.compile(r"\$?\d+(?:[.,]\d+)*|[^\W\d_][\w'-]*")
MAX_TEXT_CHARS = 20_000  # a window's transcript is a few hundred characters; bound hostile input

# words that say nothing about which product it is (one list for every stage)
STOPWORDS = frozenset(
    """
a an and are as at be been but by can do does did for from get go going got guys has have had he her here hey
his how i if in is it its it's just know let let's like look me more my no not now of off ok okay on one only
or our out over really right see she so some that the them then there these they this those to today too um uh
hmm up us was we well were what when which who will with would yeah yes you your also very all again about
check down next new item thing think everyone
""".split()
)
PRICE_WORDS = frozenset("dollar dollars price prices priced cost costs bucks usd cents cent".split())


def bounded(text: str | None) -> str:
    return (text or "")[:MAX_TEXT_CHARS]


def words(text: str | None) -> list[str]:
    """Lower-case word tokens in order."""
    return WORD.findall(bounded(text).lower())


def word_spans(text: str | None) -> list[re.Match]:
    """Word tokens with their positions, case kept (for rewriting a text in place)."""
    return list(WORD.finditer(bounded(text)))


def content_tokens(text: str | None) -> set[str]:
    """Words that can tell products apart: no stopwords, no price words, no single letters (digits stay)."""
    return {t for t in words(text) if t not in STOPWORDS and t not in PRICE_WORDS and (len(t) > 1 or t.isdigit())}


def overlap(title_tokens: set[str], spoken: set[str]) -> float:
    """Share of the title's words that were spoken (0..1)."""
    return len(title_tokens & spoken) / len(title_tokens) if title_tokens else 0.0


def surface_tokens(text: str | None) -> list[str]:
    return SURFACE_TOKEN.findall(bounded(text))


def numbers_as_digits(text: str | None) -> str:
    """Number words written as digits ("eagle thirty" -> "eagle 30", "forty nine ninety nine" -> "49 99")."""
    from text_to_num import alpha2digit

    text = bounded(text)
    try:
        return alpha2digit(text, "en")
    except Exception:  # text2num raises on odd inputs; the words as they were are still usable
        return text


def name_runs(text: str | None) -> list[list[str]]:
    """Runs of capitalised words and numbers ("Open Lane Jaguar 50" in "Open Lane Jaguar 50 cotton handbag"):
    how a title names its product when the catalogue gives no brand/model attributes."""
    runs: list[list[str]] = []
    run: list[str] = []
    for w in [m.group(0) for m in WORD.finditer(bounded(text))] + [""]:
        if w[:1].isupper() or w.isdigit():
            run.append(w)
            continue
        if run:
            runs.append(run)
        run = []
    return runs


def longest_name_run(text: str | None) -> list[str]:
    """The product's name in a title: its longest capitalised run, lower case."""
    runs = name_runs(text)
    return [w.lower() for w in max(runs, key=len)] if runs else []


def join(words_: Iterable[str]) -> str:
    return " ".join(words_)
