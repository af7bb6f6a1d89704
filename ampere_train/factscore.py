"""Facts as the data generator knows them: the summarizer's training targets and how free-text summaries are
scored. Tied to the generator's vocabulary (``ampere_synth.products`` and ``ampere_synth.names``), so it lives
with training, not serving. Names are read from a dataset's own products (``Vocabulary.of``) where given,
else from every name the generator can make (``Vocabulary.generator``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ampere.facts import ATTRIBUTES, Facts, _norm_words, heard


def price_text(price) -> str:
    """49 -> "49", 49.0 -> "49", 49.99 -> "49.99" (a products.jsonl price as the facts carry it)."""
    p = float(price)
    return f"{p:.2f}" if abs(p - round(p)) > 1e-6 else str(int(round(p)))


def truth_facts(product) -> Facts:
    """All facts of a generated product (a ``synth.products.Product`` or its JSON row)."""
    get = (lambda k: product[k]) if isinstance(product, dict) else (lambda k: getattr(product, k))
    from ampere_synth.products import CATEGORIES

    noun = CATEGORIES[get("category")][0]
    return Facts(
        brand=get("brand"),
        model=get("model"),
        type=noun,
        colour=get("colour"),
        material=get("material"),
        price=price_text(get("price")),
    )


def _key(name: str) -> str:
    return " ".join(_norm_words(name))


@dataclass(frozen=True)
class Vocabulary:
    """Brand and model names a free-text summary is checked for (normalised: lower case, words)."""

    brands: frozenset  # "silver harbor", "zorvik", "mellora tey"
    models: frozenset  # one-word models and whole names: "quonto", "k7", "falcon 40"
    families: frozenset  # words that head a model number: "falcon" in "falcon 40"
    brand_words: frozenset = frozenset()  # generator mode: invented brand words, "mellora" (+ a tail word)
    tails: frozenset = frozenset()

    @classmethod
    def of(cls, products: Iterable) -> Vocabulary:
        """The names of these products (rows of a dataset's products.jsonl, or ``Product``s)."""
        brands, models, families = set(), set(), set()
        for p in products:
            get = (lambda k, p=p: p[k]) if isinstance(p, dict) else (lambda k, p=p: getattr(p, k))
            brands.add(_key(get("brand")))
            m = _norm_words(get("model"))
            models.add(" ".join(m))
            if len(m) >= 2 and m[-1].isdigit():
                families.add(" ".join(m[:-1]))
        return cls(frozenset(brands), frozenset(models), frozenset(families))

    @classmethod
    @lru_cache(maxsize=1)
    def generator(cls) -> Vocabulary:
        """Every name form the generator makes (``ampere_synth.names``): English brand pairs, invented
        brands (+ tail), English and invented model words (alone or with a number), codes."""
        from ampere_synth import names as n

        brands = {f"{a} {b}".lower() for a in n.BRAND_FIRST for b in n.BRAND_SECOND}
        brands |= {w.lower() for w in n.INVENTED_BRANDS}
        words = {w.lower() for w in n.MODEL_NOUNS + n.INVENTED_MODELS}
        return cls(
            frozenset(brands),
            frozenset(words | {c.lower() for c in n.CODES}),
            frozenset(words),
            frozenset(w.lower() for w in n.INVENTED_BRANDS),
            frozenset(w.lower() for w in n.INVENTED_BRAND_TAILS),
        )

    @lru_cache(maxsize=4)  # noqa: B019 -- a handful of frozen vocabularies live as long as the process
    def brand_pattern(self) -> re.Pattern:
        alts = sorted(self.brands, key=len, reverse=True)
        tails = "|".join(sorted(self.tails, key=len, reverse=True))
        tail = rf"(?:\s+(?:{tails}))?" if tails else ""
        body = "|".join(r"\s+".join(map(re.escape, b.split())) for b in alts)
        return re.compile(rf"\b(?:{body}){tail}\b", re.IGNORECASE)


def without_brands(transcript: str, vocab: Vocabulary | None = None) -> str:
    """The transcript with catalogue brand names blanked: "Red Mountain" says nothing about the colour red."""
    return (vocab or Vocabulary.generator()).brand_pattern().sub(" ", transcript or "")


def heard_facts(truth: Facts, transcript: str, vocab: Vocabulary | None = None) -> Facts:
    """The part of the truth that the transcript carries: the target a de-noiser can be asked for."""
    plain = without_brands(transcript, vocab)
    return Facts(
        **{
            a: (v if heard(v, transcript if a in ("brand", "model") else plain) else "")
            for a, v in truth.items().items()
        }
    )


_PRICE = re.compile(r"\$\s?(\d+(?:\.\d\d)?)|\b(\d+(?:\.\d\d)?)\s*(?:dollars?|bucks)\b", re.IGNORECASE)


def score_text(summary: str, truth: Facts, vocab: Vocabulary | None = None) -> tuple[int, int, int]:
    """Attribute scoring for free-text summaries (raw ASR, keyword baseline, the stock prompted model),
    which carry no keys: an attribute is recalled when its value occurs in the text; the text's stated
    attributes are those of ANY catalogue kind found in it (every known brand, model, type, colour,
    material and dollar figure), so filler costs nothing and wrong product names cost precision.
    ``vocab``: the names to look for, e.g. ``Vocabulary.of(products)``; default: every generator name."""
    from ampere_synth.products import CATEGORIES, COLOURS

    v = vocab or Vocabulary.generator()
    words = _norm_words(summary)
    joined = " " + " ".join(words) + " "
    t = truth.items()
    stated: dict[str, set[str]] = {a: set() for a in ATTRIBUTES}
    for m in v.brand_pattern().finditer(joined):
        stated["brand"].add(" ".join(m.group(0).lower().split()))
    for brand in stated["brand"]:  # "Red Mountain" states a brand, not the colour red
        joined = joined.replace(f" {brand} ", "  ")
    rest = joined.split()
    i = 0
    while i < len(rest):
        w = rest[i]
        if w in v.families and i + 1 < len(rest) and rest[i + 1].isdigit():
            stated["model"].add(f"{w} {rest[i + 1]}")
            i += 2
            continue
        if w in v.models:
            stated["model"].add(w)
        i += 1
    for model in v.models:  # several-word catalogue models said in full
        if " " in model and f" {model} " in joined:
            stated["model"].add(model)
    for noun, _, materials, _ in CATEGORIES.values():
        if f" {noun} " in joined:
            stated["type"].add(noun)
        for mat in materials:
            if f" {mat} " in joined:
                stated["material"].add(mat)
    for c in COLOURS:
        if f" {c} " in joined:
            stated["colour"].add(c)
    for m in _PRICE.finditer(summary or ""):
        stated["price"].add(" ".join(_norm_words(m.group(1) or m.group(2))))
    correct = sum(1 for a in ATTRIBUTES if a in t and " ".join(_norm_words(t[a])) in stated[a])
    n_stated = sum(len(v) for v in stated.values())
    return correct, n_stated, len(t)
