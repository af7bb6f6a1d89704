"""Word overlap between what was said and a product's title.

Brand and model names are exactly what a small frozen text encoder blurs
("Sparrow 900" vs "Spark 70") and what a title states verbatim, so the tagger
adds this overlap to the embedding similarity (hybrid retrieval). Tokens are
lower-case letters or digit runs: safe to put in a RediSearch query as they are.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z]+|\d+")
# words that say nothing about which product it is; kept short on purpose
STOPWORDS = frozenset("""
a an and are at be but by can do for from get go got guys has have hey i if in is it its just like look me more
my not now of off on one only or our out over so that the them then there these they this those to today too
up us was we what when with you your yes yeah um uh okay ok right really very also here dollars dollar price
""".split())


def tokens(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())}


def overlap(title_tokens: set[str], spoken: set[str]) -> float:
    """Share of the title's words that were spoken (0..1)."""
    return len(title_tokens & spoken) / len(title_tokens) if title_tokens else 0.0
