"""Product facts: the summarizer's output format, the training targets the generator's truth gives,
and the attribute recall/precision the summarizers are scored with.

The adapted summarizer writes one line of keyed facts, e.g.
``brand: Open Lane | model: Jaguar 50 | type: handbag | colour: grey | material: cotton | price: 155``,
or ``none``. Keys make the output checkable attribute by attribute; the text the encoder embeds is the
values in catalogue-title order (``Open Lane Jaguar 50 cotton handbag grey $155``), so a live window's
summary and a product page's title speak the same language.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields, replace

from ampere.textnorm import words

NONE = "none"
# a value counts as heard when some span of the transcript is this similar to it (ASR drift:
# "open lane" ~ "openlane", "jaguar 50" ~ "jaguar fifty" is not, numbers must match as digits)
HEARD_RATIO = 0.75
_KEYED = re.compile(r"\s*([A-Za-z]+)\s*:\s*([^|]*)")


@dataclass(frozen=True)
class Facts:
    brand: str = ""
    model: str = ""
    type: str = ""
    colour: str = ""
    material: str = ""
    price: str = ""  # dollars, with cents when there are any ("49", "49.99"), no "$"

    def is_empty(self) -> bool:
        return not any(getattr(self, a) for a in ATTRIBUTES)

    def line(self) -> str:
        """The keyed line the LLM is trained to write (and reads back as context)."""
        parts = [f"{a}: {getattr(self, a)}" for a in ATTRIBUTES if getattr(self, a)]
        return " | ".join(parts) if parts else NONE

    def text(self) -> str:
        """Values in catalogue-title order: what the text branch embeds."""
        if self.is_empty():
            return NONE
        words = [self.brand, self.model, self.material, self.type, self.colour, f"${self.price}" if self.price else ""]
        return " ".join(w for w in words if w)

    def items(self) -> dict[str, str]:
        return {a: getattr(self, a) for a in ATTRIBUTES if getattr(self, a)}


ATTRIBUTES = tuple(f.name for f in fields(Facts))  # in the order the keyed line states them


def parse(line: str) -> Facts:
    """Read a keyed line back; unknown keys and junk are ignored (a small model's output is not trusted)."""
    line = (line or "").strip().splitlines()[0] if (line or "").strip() else ""
    if not line or line.lower().startswith(NONE):
        return Facts()
    found: dict[str, str] = {}
    for chunk in line.split("|"):
        m = _KEYED.match(chunk)
        if not m:
            continue
        key, value = m.group(1).lower(), " ".join(m.group(2).split())
        if key == "color":
            key = "colour"
        if key in ATTRIBUTES and value and key not in found:
            if key == "price":
                value = _price(value)
                if not value:
                    continue
            found[key] = value
    return Facts(**found)


def _price(value: str) -> str:
    """A price as the facts line writes it: dollars, and cents when there are any ("49", "49.99")."""
    m = re.search(r"\d+(?:[.,]\d{1,2})?", value.replace("$", ""))
    if not m:
        return ""
    amount = float(m.group(0).replace(",", "."))
    return f"{amount:.2f}".rstrip("0").rstrip(".") if amount % 1 else str(int(amount))


_PRICE_VALUE = re.compile(r"\d+(?:\.\d{1,2})?")


def _norm_words(text: str) -> list[str]:
    return words(text)


def heard(value: str, transcript: str, ratio: float = HEARD_RATIO) -> bool:
    """Was this fact said (as far as the ASR got it)? Fuzzy over word spans for names, exact for numbers."""
    if _PRICE_VALUE.fullmatch(value or ""):
        # a price: said in any of the shapes hosts use ("49 99", "49 dollars and 99 cents", "$49.99")
        from ampere.attributes import prices_in_speech

        amount = float(value)
        if any(abs(p.value - amount) < 0.005 for p in prices_in_speech(transcript)):
            return True
    v = _norm_words(value)
    t = _norm_words(transcript)
    if not v or not t:
        return False
    if len(v) == 1 and v[0].isdigit():
        return v[0] in t
    n = len(v)
    target = " ".join(v)
    for k in (n - 1, n, n + 1):  # ASR splits and merges words ("openlane", "open lane")
        if k < 1:
            continue
        for i in range(len(t) - k + 1):
            span = t[i : i + k]
            # a model number must be said exactly: "Legend 50" is not "Legend 500"
            if any(w.isdigit() for w in v) and [w for w in v if w.isdigit()] != [w for w in span if w.isdigit()]:
                continue
            if difflib.SequenceMatcher(None, target, " ".join(span)).ratio() >= ratio:
                return True
    return False


def merge(before: Facts, now: Facts) -> Facts:
    """Facts known so far about the product on air: what was heard before, updated by what is heard now."""
    return replace(before, **now.items())


def score(pred: Facts, truth: Facts) -> tuple[int, int, int]:
    """(correct, stated, true) attribute counts; a stated value is correct when it is the truth's value
    (case-, space- and '$'-insensitive)."""

    def norm(v: str) -> str:
        return "".join(_norm_words(v))

    p, t = pred.items(), truth.items()
    correct = sum(1 for a, v in p.items() if a in t and norm(v) == norm(t[a]))
    return correct, len(p), len(t)
