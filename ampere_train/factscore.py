"""Facts as the data generator knows them: the summarizer's training targets and how free-text summaries are
scored. Tied to the generator's vocabulary (``ampere_synth.products``), so it lives with training, not serving."""
from __future__ import annotations

import re

from ampere.facts import ATTRIBUTES, Facts, _norm_words, heard

def truth_facts(product) -> Facts:
    """All facts of a generated product (a ``synth.products.Product`` or its JSON row)."""
    get = (lambda k: product[k]) if isinstance(product, dict) else (lambda k: getattr(product, k))
    from ampere_synth.products import CATEGORIES
    noun = CATEGORIES[get("category")][0]
    return Facts(brand=get("brand"), model=get("model"), type=noun, colour=get("colour"),
                 material=get("material"), price=str(get("price")))


_BRANDS_RE = None


def without_brands(transcript: str) -> str:
    """The transcript with catalogue brand names blanked: "Red Mountain" says nothing about the colour red."""
    global _BRANDS_RE
    if _BRANDS_RE is None:
        from ampere_synth.products import BRAND_FIRST, BRAND_SECOND
        _BRANDS_RE = re.compile(r"\b(?:" + "|".join(BRAND_FIRST) + r")\s+(?:" + "|".join(BRAND_SECOND) + r")\b",
                                re.IGNORECASE)
    return _BRANDS_RE.sub(" ", transcript or "")


def heard_facts(truth: Facts, transcript: str) -> Facts:
    """The part of the truth that the transcript carries: the target a de-noiser can be asked for."""
    plain = without_brands(transcript)
    return Facts(**{a: (v if heard(v, transcript if a in ("brand", "model") else plain) else "")
                    for a, v in truth.items().items()})


def score_text(summary: str, truth: Facts) -> tuple[int, int, int]:
    """Attribute scoring for free-text summaries (raw ASR, keyword baseline, the stock prompted model),
    which carry no keys: an attribute is recalled when its value occurs in the text; the text's stated
    attributes are those of ANY catalogue kind found in it (every known brand, model word, type, colour,
    material and dollar figure), so filler costs nothing and wrong product names cost precision."""
    from ampere_synth.products import BRAND_FIRST, BRAND_SECOND, CATEGORIES, COLOURS, MODEL_NOUNS
    words = _norm_words(summary)
    joined = " " + " ".join(words) + " "
    t = truth.items()
    stated: dict[str, set[str]] = {a: set() for a in ATTRIBUTES}
    model_nouns = {m.lower() for m in MODEL_NOUNS}
    for b1 in BRAND_FIRST:
        for b2 in BRAND_SECOND:
            if f" {b1.lower()} {b2.lower()} " in joined:
                stated["brand"].add(f"{b1} {b2}".lower())
    for brand in stated["brand"]:  # "Red Mountain" states a brand, not the colour red
        joined = joined.replace(f" {brand} ", "  ")
    for i, w in enumerate(words):
        if w in model_nouns and i + 1 < len(words) and words[i + 1].isdigit():
            stated["model"].add(f"{w} {words[i + 1]}")
    for noun, _, materials, _ in CATEGORIES.values():
        if f" {noun} " in joined:
            stated["type"].add(noun)
        for m in materials:
            if f" {m} " in joined:
                stated["material"].add(m)
    for c in COLOURS:
        if f" {c} " in joined:
            stated["colour"].add(c)
    for m in re.finditer(r"\$\s?(\d+)|\b(\d+)\s*(?:dollars?|bucks)\b", summary or "", re.IGNORECASE):
        stated["price"].add(m.group(1) or m.group(2))
    correct = sum(1 for a in ATTRIBUTES if a in t and " ".join(_norm_words(t[a])) in stated[a])
    n_stated = sum(len(v) for v in stated.values())
    return correct, n_stated, len(t)
