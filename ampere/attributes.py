"""Structured attribute evidence: prices, materials, colours, patterns and names heard or seen in a
window, matched against the catalogue's attributes.

Look-alike products differ exactly in brand, model, material and price, and Whisper mishears invented
names; prices and materials are ordinary words it gets right, and the screen prints the price. So the
tagger and the summarizer get, per product, how well what was said and what was shown agree with the
product's attributes, kept apart by source (speech, screen, chat lines on screen) so they can be
weighed separately.

Plain Python. Every entry point bounds its work (text length, lines, hits), normalises unicode and
strips control characters, and uses regexes without nested quantifiers, so hostile input costs
linear time.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process

from ampere.names import names_of

MAX_TEXT_CHARS = 8000  # ~10 minutes of speech; a window's transcript is a few hundred characters
MAX_TOKENS = 2000
MAX_LINES = 128  # a window's keyframes together (4 x ampere.ocr's 32 lines)
MAX_LINE_CHARS = 200
MAX_HITS = 32
MAX_PRICE = 100_000.0

PriceKind = Literal["price", "upper", "lower", "old"]
Source = Literal["speech", "screen", "chat"]
SOURCES: tuple[Source, ...] = ("speech", "screen", "chat")


@dataclass(frozen=True)
class Price:
    value: float  # dollars, rounded to cents
    kind: PriceKind = "price"  # upper: "under $30"; lower: "from $30"; old: "was $199", a struck-through price
    confidence: float = 1.0  # how surely this is a price, 0..1 ("$49.99" high, "only 49" low)
    has_cents: bool = False  # the cents were stated ("49.99", "49 dollars 99"), not just dollars
    source: Source = "speech"
    text: str = ""  # what it was read from (bounded)
    misread: bool = False  # read by undoing an OCR confusion ("5149.99" -> 149.99, "S49" -> 49)


# --- text hygiene ----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")


def clean_text(text: object, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` as a bounded, NFKC-normalised string without control characters (fullwidth "＄１４９"
    becomes "$149"); anything that is not a string becomes ""."""
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKC", text[: limit * 2])  # NFKC may expand: cut before and after
    return _CONTROL.sub(" ", text)[:limit]


def valid_price(value: object) -> float | None:
    """A catalogue or parsed price as dollars (0 < p <= MAX_PRICE), or None for junk, NaN, inf."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        m = _TITLE_PRICE.search(clean_text(value, 64)) or re.fullmatch(
            r"\s*([0-9]{1,7}(?:\.[0-9]{1,2})?)\s*", clean_text(value, 64)
        )
        if not m:
            return None
        value = _number(m.group(1))
        value = value[0] if value else None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(v) or not 0 < v <= MAX_PRICE:
        return None
    return round(v, 2)


_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?")
_DECIMAL = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,2})?")
_DECIMAL_COMMA = re.compile(r"[0-9]{1,7},[0-9]{2}")


def _number(s: str) -> tuple[float, bool] | None:
    """(value, cents stated) of a number as written in prices: "149", "149.99", "1,299", "149,99"."""
    if len(s) > 16:
        return None
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(s):
        s = s.replace(",", ".")
    if not _DECIMAL.fullmatch(s):
        return None
    v = float(s)
    if not 0 < v <= MAX_PRICE:
        return None
    return round(v, 2), "." in s


# --- prices in speech ------------------------------------------------------------------------------

# words and numbers ("1e308", "mike22" are words, not numbers), currency signs, a minus, sentence breaks
_SPEECH_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.,'][A-Za-z0-9]+)*|[$€£%.!?;:]|(?<![A-Za-z0-9])-(?=[0-9])")
_NUMERIC = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_UNITS = frozenset({"dollar", "dollars", "bucks", "buck", "usd", "euros", "euro", "pounds", "quid"})
_CENTS = frozenset({"cents", "cent"})
_STRONG_CUES = frozenset(
    {
        "price",
        "priced",
        "prices",
        "cost",
        "costs",
        "costing",
        "pay",
        "paying",
        "only",
        "just",
        "sale",
        "deal",
        "now",
        "retail",
        "retails",
        "was",
        "under",
        "below",
        "over",
        "from",
    }
)
_MEDIUM_CUES = frozenset({"for", "at", "is", "it's", "its"})
# words that may stand between a cue and the number ("only like 49", "it's just about 20 dollars")
_FILLERS = frozenset(
    {
        "like",
        "about",
        "around",
        "a",
        "an",
        "be",
        "it",
        "it's",
        "its",
        "is",
        "just",
        "only",
        "low",
        "as",
        "now",
        "that",
        "this",
        "one",
        "for",
        "at",
        "of",
        "to",
        "the",
        "um",
        "uh",
    }
)
_KIND_WORDS: dict[str, PriceKind] = {
    "under": "upper",
    "below": "upper",
    "less": "upper",
    "max": "upper",
    "maximum": "upper",
    "within": "upper",
    "over": "lower",
    "above": "lower",
    "least": "lower",
    "from": "lower",
    "starting": "lower",
    "more": "lower",
    "between": "lower",
    "was": "old",
    "were": "old",
    "regular": "old",
    "regularly": "old",
    "originally": "old",
    "original": "old",
    "retail": "old",
    "retails": "old",
    "reg": "old",
    "msrp": "old",
    "list": "old",
    "normally": "old",
    "usually": "old",
    "compare": "old",
    "value": "old",
    "rrp": "old",
}
# "up to 30 dollars"
_UP_TO = ("up", "to")
# a bare number followed by these counts things, it is not a price ("only 2 left", "for 3 days")
_COUNTED = frozenset(
    """left hours hour minutes minute mins seconds days day weeks week months years year times
pieces piece items item pack packs colors colours sizes people viewers likes percent inch inches cm mm
ml liters litres oz pounds kg gb tb watts am pm more of x""".split()
)
_DISCOUNT = frozenset({"off", "discount", "cheaper", "savings"})
_SAVE = frozenset({"save", "saving", "saves"})
_BREAKS = frozenset(".!?;:")


_KIND_SKIP = _FILLERS | {"than", "price", "priced", "retail", "at"}


def _kind_before(low: list[str], start: int) -> PriceKind:
    """The price kind the words just before a price give ("under", "less than", "up to", "was"). "was"
    counts only right before the number: "it was only 49 dollars" is today's price."""
    for k in range(start - 1, max(-1, start - 4), -1):
        w = low[k]
        if w == "to" and k >= 1 and low[k - 1] == "up":
            return "upper"
        if w in _KIND_WORDS and (w not in ("was", "were") or k == start - 1):
            return _KIND_WORDS[w]
        if w not in _KIND_SKIP:
            break
    return "price"


def _cue_before(low: list[str], start: int) -> str:
    """'strong', 'medium' or '' by the words just before ``start``. Any other word stops the search
    ("the Wolf 20": "wolf"), so a model number is not read as a price."""
    best = ""
    for k in range(start - 1, max(-1, start - 4), -1):
        w = low[k]
        if w in _STRONG_CUES:
            return "strong"
        if w in _MEDIUM_CUES and not best:
            best = "medium"
        elif w not in _FILLERS:
            break
    return best


def _name_like(orig: list[str], k: int) -> bool:
    """A capitalised word that is not the first of its sentence: Whisper capitalises names."""
    if k < 0 or not orig[k][:1].isupper() or orig[k].lower() in _STRONG_CUES | _MEDIUM_CUES | _FILLERS:
        return False
    return k > 0 and orig[k - 1] not in _BREAKS


def _is_int(tok: str, max_len: int = 7) -> bool:
    return tok.isdigit() and len(tok) <= max_len


def _speech_prices(text: str) -> list[Price]:
    """Prices in text whose number words are already digits (see ``prices_in_speech``)."""
    orig = _SPEECH_TOKEN.findall(text)[:MAX_TOKENS]
    low = [t.lower() for t in orig]
    n = len(low)
    out: list[Price] = []
    i = 0
    while i < n and len(out) < MAX_HITS * 2:
        tok = low[i]
        if not tok[:1].isdigit() or not _NUMERIC.fullmatch(tok):
            i += 1
            continue
        num = _number(tok)
        if num is None or (i > 0 and low[i - 1] == "-"):  # "-5 dollars" is no price
            i += 1
            continue
        value, cents = num
        start = i - 1 if i > 0 and low[i - 1] in ("$", "€", "£") else i
        marked = start < i or (i > 0 and low[i - 1] == "usd")
        j = i + 1  # first token after the price
        conf = 0.0
        nxt = low[j] if j < n else ""
        if nxt in ("%", "percent"):
            i = j + 1
            continue
        if nxt in _UNITS:
            marked, j = True, j + 1
            k = j + 1 if j < n and low[j] == "and" else j
            if not cents and k < n and _is_int(low[k], 2):
                if k + 1 < n and low[k + 1] in _CENTS:  # "49 dollars and 99 cents"
                    value, cents, j, conf = value + int(low[k]) / 100, True, k + 2, 0.95
                elif len(low[k]) == 2 and (k + 1 >= n or low[k + 1] not in _COUNTED | _UNITS):  # "49 dollars 99"
                    value, cents, j, conf = value + int(low[k]) / 100, True, k + 1, 0.85
            conf = conf or 0.9
        elif nxt in _CENTS and not marked and not cents and value < 100:  # "99 cents"
            value, cents, j, conf = value / 100, True, j + 1, 0.7
        elif marked:
            conf = 0.95 if cents else 0.9
        else:
            cue = _cue_before(low, i)
            if _name_like(orig, i - 1):
                i += 1
                continue
            if not cents and _is_int(tok, 4) and j < n and _is_int(low[j], 2) and len(low[j]) == 2 and cue:
                # "49 99" (forty-nine ninety-nine); "1 49" is one forty-nine: 149 or 1.49, both kept
                a, b = int(tok), int(low[j])
                j += 1
                conf = 0.7 if cue == "strong" else 0.6
                if a < 10 and b >= 10:
                    value, cents = a * 100 + b, False
                    if j < n and _is_int(low[j], 2) and len(low[j]) == 2:  # "1 49 99"
                        value, cents, j = value + int(low[j]) / 100, True, j + 1
                    else:
                        out.append(
                            Price(
                                round(a + b / 100, 2),
                                _kind_before(low, start),
                                round(conf - 0.3, 2),
                                True,
                                "speech",
                                " ".join(orig[start:j])[:60],
                            )
                        )
                        conf -= 0.1
                else:
                    value, cents = a + b / 100, True
                if j < n and low[j] in _UNITS:
                    j, conf = j + 1, conf + 0.1
            elif cents:  # "49.99": prices are the numbers people say with cents
                conf = 0.8 if cue else 0.6
            elif cue == "strong" and (j >= n or low[j] not in _COUNTED):
                conf = 0.5
            else:
                i += 1
                continue
        after = low[j] if j < n else ""
        if after in _DISCOUNT or (start > 0 and low[start - 1] in _SAVE):
            i = j  # "$20 off", "save 20 dollars": a discount, not the price
            continue
        value = round(value, 2)
        if 0 < value <= MAX_PRICE:
            out.append(
                Price(
                    value,
                    _kind_before(low, start),
                    round(min(conf, 1.0), 2),
                    cents,
                    "speech",
                    " ".join(orig[start:j])[:60],
                )
            )
        i = max(j, i + 1)
    return _dedup(out)


def _dedup(prices: list[Price]) -> list[Price]:
    """One hit per (value, kind, source), the surest; in order of first appearance; at most MAX_HITS."""
    best: dict[tuple, Price] = {}
    for p in prices:
        key = (p.value, p.kind, p.source)
        if key not in best or p.confidence > best[key].confidence:
            best[key] = p
    return list(best.values())[:MAX_HITS]


def digits_for_words(text: str) -> str:
    """Number words as digits ("a hundred and nineteen" -> "a 119"), as ``ampere.names`` does."""
    from text_to_num import alpha2digit

    try:
        return alpha2digit(text, "en")
    except Exception:
        return text


def prices_in_speech(text: str) -> list[Price]:
    """Prices said in a (transcribed) window, in the shapes hosts say and Whisper writes them:
    "$49.99", "49.99", "49 dollars 99", "forty nine dollars and ninety nine cents", "119 bucks",
    "a hundred and nineteen dollars", "the price is 49 99", "only 1 49" (one forty-nine = 149),
    "under thirty dollars" (kind "upper"), "was 199" (kind "old"). Numbers after a capitalised name
    ("Wolf 20") or counting things ("only 2 left") are not prices; "20 percent", "$20 off" are skipped.
    """
    return _speech_prices(digits_for_words(clean_text(text)))


# --- prices on screen ------------------------------------------------------------------------------

# "mike22: is the Zorvik 40 back?": a viewer's line, not the shop's card
_CHAT = re.compile(r"\s*@?([A-Za-z0-9_.\-]{2,24})\s?:\s*\S")
_NOT_USERS = frozenset(
    {
        "price",
        "now",
        "was",
        "sale",
        "deal",
        "only",
        "reg",
        "regular",
        "save",
        "today",
        "special",
        "offer",
        "just",
        "new",
        "usd",
        "total",
        "live",
        "was price",
        "our price",
        "list",
        "msrp",
        "colour",
        "color",
        "material",
        "size",
        "model",
        "brand",
        "name",
    }
)
_SPACED = re.compile(r"(?<=[0-9])\s?([.,])\s?(?=[0-9])")
_CUR_SPACE = re.compile(r"([$€£])\s(?=[0-9OolI|])")
# digit runs where OCR read 0 as O and 1 as l, I or |: "$1O9.99", "$l49"
_DIGITISH = re.compile(r"(?<![A-Za-z0-9])[0-9OolI|]{1,12}(?:[.,][0-9OolI|]{1,3}){0,3}(?![A-Za-z0-9])")
_TO_DIGIT = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"})
_SCREEN_PRICE = re.compile(
    r"(?<![A-Za-z0-9.,])(?:(?P<cur>usd|us\$|[$€£])\s?|(?P<s>[s§]))?(?P<num>[0-9]{1,9}(?:[.,][0-9]{1,3}){0,3})"
    r"(?![0-9])(?P<cur2>\s?(?:[$€£]|usd\b))?",
    re.I,
)
_SCREEN_KIND: dict[str, PriceKind] = {
    "was": "old",
    "reg": "old",
    "regular": "old",
    "orig": "old",
    "original": "old",
    "msrp": "old",
    "list": "old",
    "before": "old",
    "compare": "old",
    "retail": "old",
    "value": "old",
    "rrp": "old",
    "under": "upper",
    "below": "upper",
    "max": "upper",
    "from": "lower",
    "starting": "lower",
    "over": "lower",
}
_STRIKE = "-–—~=_"


def is_chat_line(text: str) -> bool:
    """A viewer's chat line ("name: message") rather than the shop's own overlay."""
    m = _CHAT.match(text)
    return m is not None and m.group(1).lower() not in _NOT_USERS and m.group(1)[:1] not in "$€£"


def _screen_text(line: str) -> str:
    line = _CUR_SPACE.sub(r"\1", _SPACED.sub(r"\1", line))

    def fix(m: re.Match) -> str:
        s = m.group(0)
        return s.translate(_TO_DIGIT) if any(c.isdigit() for c in s) else s

    return _DIGITISH.sub(fix, line)


Box = tuple[float, float, float, float]


def _line_text(line: object) -> tuple[str, Box | None]:
    """(text, box or None) of an OCR line given as a string or as an object with ``.text`` and maybe
    ``.box`` (``ampere.ocr.TextLine``: x0, y0, x1, y1)."""
    if isinstance(line, str):
        return clean_text(line, MAX_LINE_CHARS), None
    text = clean_text(getattr(line, "text", None), MAX_LINE_CHARS)
    try:
        box = tuple(float(v) for v in getattr(line, "box", None)[:4])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return text, None
    ok = len(box) == 4 and all(math.isfinite(v) for v in box) and box[2] > box[0] and box[3] > box[1]
    return text, (box if ok else None)  # type: ignore[return-value]


class _Prices:
    """Catalogue prices for resolving OCR confusions: exact cents and whole dollars."""

    def __init__(self, values: Iterable[float]):
        vals = [v for v in (valid_price(x) for x in values) if v is not None]
        self.cents = {round(v * 100) for v in vals}
        self.dollars = {math.floor(v) for v in vals}

    def __bool__(self) -> bool:
        return bool(self.cents)

    def has(self, value: float, cents: bool) -> bool:
        return round(value * 100) in self.cents or (not cents and math.floor(value) in self.dollars)


def prices_on_screen(lines: Sequence[object], candidates: Iterable[float] | None = None) -> list[Price]:
    """Prices in OCR lines: "$149.99", "$ 149", "149.99$", "USD 149", "149,99", "WAS $199" (kind "old"),
    "UNDER $30" (kind "upper"); "O" read for "0" and "l" for "1" inside numbers are undone.

    OCR reads "$" as "5" or "S": "5149.99" may be "$149.99". Both readings are returned unless
    ``candidates`` (catalogue prices) settle it: a reading found among them is kept, one that is not is
    dropped. Lines that look like chat ("mike22: is it $49?") give prices with source "chat". Lines may be
    strings or ``ampere.ocr.TextLine``s; with boxes, the dearer of two prices stacked on one card, or a
    price smaller and dearer than the tallest one, is taken for the struck-through old price (kind "old").
    """
    known = _Prices(candidates or ())
    found: list[tuple[Price, Box | None]] = []
    for raw in list(lines or ())[:MAX_LINES]:
        text, box = _line_text(raw)
        if not text.strip():
            continue
        source: Source = "chat" if is_chat_line(text) else "screen"
        norm = _screen_text(text)
        low = norm.lower()
        only_number = len(_SCREEN_PRICE.findall(norm)) == 1 and not re.search(
            r"[A-Za-z]{2}", _SCREEN_PRICE.sub("", norm)
        )
        for m in _SCREEN_PRICE.finditer(norm):
            if len(found) >= MAX_HITS * 2:
                break
            num = _number(m.group("num"))
            rest, before = low[m.end() :].lstrip(), low[: m.start()]
            if num is None or rest.startswith(("%", "off", "percent")) or re.search(r"\bsave\s*$", before):
                continue
            value, cents = num
            words = re.findall(r"[a-z]+", before)[-3:]
            kind: PriceKind = next((_SCREEN_KIND[w] for w in reversed(words) if w in _SCREEN_KIND), "price")
            if (m.start() > 0 and norm[m.start() - 1] in _STRIKE) and (
                m.end() < len(norm) and norm[m.end()] in _STRIKE
            ):
                kind = "old"  # "-$199.99-": the strike-through read as dashes
            marked = bool(m.group("cur") or m.group("cur2"))
            snippet = m.group(0).strip()[:40]
            readings: list[Price] = []
            if m.group("s"):  # "S149.99": "$" read as S
                readings.append(Price(value, kind, 0.75, cents, source, snippet, misread=True))
            elif marked:
                readings.append(Price(value, kind, 0.95 if cents else 0.9, cents, source, snippet))
                digits = m.group("num")
                if not cents and digits.isdigit() and len(digits) >= 3 and known:  # "$14999": the point lost
                    readings.append(Price(round(value / 100, 2), kind, 0.6, True, source, snippet, misread=True))
            else:
                digits = m.group("num")
                whole = digits.split(".")[0].split(",")[0]
                # "5149.99": "$" read as 5 (or, less often, 8: only tried against catalogue prices); a whole
                # number only alone on its card, "Zorvik 540" is a model
                if (
                    (digits[0] == "5" or (digits[0] == "8" and known))
                    and len(whole) >= 2
                    and (cents or (len(whole) >= 3 and only_number))
                ):
                    alt = _number(digits[1:])
                    if alt is not None:
                        readings.append(Price(alt[0], kind, 0.45, alt[1], source, snippet, misread=True))
                if cents:
                    readings.append(Price(value, kind, 0.7 if not readings else 0.5, cents, source, snippet))
                elif only_number:
                    readings.append(Price(value, kind, 0.4, cents, source, snippet))  # a card with "149" alone
                elif not readings:
                    continue  # "Zorvik 40", "2 for 1": a number in words is not a price
            if known and any(p.misread for p in readings):
                readings = _resolve(readings, known)
            found += [(p, box) for p in readings]
    return _dedup(_old_prices(found))


def _resolve(readings: list[Price], known: _Prices) -> list[Price]:
    """Readings of one number, some undoing OCR confusions: the plain reading if the catalogue knows it,
    else the confusions it knows (then as sure as a clean "$" price); confusions it does not know go."""
    plain = [p for p in readings if not p.misread]
    if any(known.has(p.value, p.has_cents) for p in plain):
        return [p for p in plain if known.has(p.value, p.has_cents)]
    fixed = [p for p in readings if p.misread and known.has(p.value, p.has_cents)]
    if fixed:
        return [Price(p.value, p.kind, max(p.confidence, 0.85), p.has_cents, p.source, p.text, True) for p in fixed]
    return plain


def _old_prices(found: list[tuple[Price, Box | None]]) -> list[Price]:
    """With boxes, find the struck-through old price among screen prices: of two prices stacked on one
    card (overlapping columns, at most two line heights apart) the dearer one, as a deal shows the old
    price beside the new; else a price clearly smaller than the tallest and dearer than it."""
    boxed = [(k, p, b) for k, (p, b) in enumerate(found) if b and p.kind == "price" and p.source == "screen"]
    old: set[int] = set()
    for k, p, b in boxed:
        for k2, p2, b2 in boxed:
            h = max(b[3] - b[1], b2[3] - b2[1])
            # one above the other; lines of several keyframes may put two prices at one spot: not stacked
            gap = abs((b[1] + b[3]) - (b2[1] + b2[3])) / 2
            stacked = min(b[2], b2[2]) > max(b[0], b2[0]) and 0.5 * h <= gap <= 2 * h
            if k != k2 and stacked and p.value > p2.value:
                old.add(k)
    if len(boxed) >= 2:
        _, top, tb = max(boxed, key=lambda x: (x[2][3] - x[2][1], x[1].confidence))
        top_h = tb[3] - tb[1]
        old |= {k for k, p, b in boxed if b[3] - b[1] < 0.8 * top_h and p.value > top.value}
    return [
        Price(p.value, "old", p.confidence, p.has_cents, p.source, p.text, p.misread) if k in old else p
        for k, (p, _) in enumerate(found)
    ]


# --- price agreement -------------------------------------------------------------------------------


def price_matches(observed: Price | float, catalogue_price: object, tolerance: float = 0.02) -> float:
    """How well an observed price agrees with a catalogue price, 0..1: the same cents 1.0; the same
    dollars 0.8 when only dollars were stated ("149 dollars" for 149.99), 0.7 when the cents differ; the
    rounded dollar ("150" for 149.99) 0.6; within ``tolerance`` (relative) from 0.5 down to 0. Bounds
    ("under $30", kind upper/lower) agree 0.3 with any price on their side. Junk, NaN, inf, <= 0: 0."""
    cat = valid_price(catalogue_price)
    if isinstance(observed, Price):
        obs, cents, kind = valid_price(observed.value), observed.has_cents, observed.kind
    else:
        obs = valid_price(observed)
        cents, kind = (obs is not None and obs != math.floor(obs)), "price"
    tol = tolerance if isinstance(tolerance, (int, float)) and math.isfinite(tolerance) else 0.0
    tol = min(max(tol, 0.0), 0.5)
    if cat is None or obs is None:
        return 0.0
    if kind == "upper":
        return 0.3 if cat <= obs * (1 + tol) + 0.005 else 0.0
    if kind == "lower":
        return 0.3 if cat >= obs * (1 - tol) - 0.005 else 0.0
    d = abs(obs - cat)
    if d < 0.005:
        return 1.0
    if math.floor(obs) == math.floor(cat):
        return 0.8 if not cents else 0.7
    if not cents and d < 1.0 and obs == round(cat):
        return 0.6
    rel = d / cat
    if tol > 0 and rel <= tol:
        return round(0.5 * (1 - rel / tol), 4)
    return 0.0


# --- catalogue vocabulary ---------------------------------------------------------------------------

# words titles use for colours, materials and patterns, for rows without attributes; the catalogue's
# own attribute values are added to these when the matcher is built
COLOUR_WORDS = frozenset(
    """black white grey gray silver gold golden red green blue navy teal orange pink purple
brown beige yellow cream ivory tan khaki maroon burgundy olive mint lavender lilac turquoise cyan magenta
charcoal coral peach rose violet indigo aqua bronze copper""".split()
) | frozenset(
    {
        "sky blue",
        "navy blue",
        "light blue",
        "dark blue",
        "baby blue",
        "royal blue",
        "light grey",
        "dark grey",
        "light gray",
        "dark gray",
        "rose gold",
        "off white",
        "forest green",
        "lime green",
        "dark green",
        "light green",
        "hot pink",
        "light pink",
        "jet black",
    }
)
MATERIAL_WORDS = frozenset(
    """leather canvas nylon suede ceramic porcelain glass stone mesh steel titanium rubber
metal brass plastic aluminum aluminium oak pine velvet cotton wool denim straw clay fabric wood wooden bamboo
silk linen polyester cashmere marble copper iron walnut maple birch cork acrylic resin silicone concrete
fleece jute rattan wicker""".split()
) | frozenset({"stainless steel", "faux leather", "vegan leather"})
PATTERN_WORDS: dict[str, tuple[str, ...]] = {
    # catalogue value -> how titles and hosts say it
    "dots": ("polka dot", "polka dots", "dotted", "dots"),
    "polka dot": ("polka dot", "polka dots", "dotted"),
    "stripes": ("striped", "stripes", "stripy"),
    "striped": ("striped", "stripes", "stripy"),
    "checks": ("checked", "checkered", "checks", "plaid"),
    "checked": ("checked", "checkered", "checks", "plaid"),
    "zigzag": ("zigzag", "zig zag", "chevron"),
    "floral": ("floral", "flowers", "flowery"),
    "camo": ("camo", "camouflage"),
    "plaid": ("plaid", "tartan", "checked"),
}
_ALIASES = {"gray": "grey", "aluminium": "aluminum"}
# phrase keys that are everyday words far more often than attributes ("check out", "solid build")
_COMMON = frozenset({"check", "solid", "felt", "plain", "light", "dark", "classic", "natural", "clear"})
_PHRASE_ATTRS = ("material", "colour", "pattern", "category")
_WORD = re.compile(r"[a-z]+|[0-9]+")
_TITLE_PRICE = re.compile(
    r"(?<![0-9A-Za-z])\$\s?([0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?|[0-9]{1,7}(?:\.[0-9]{1,2})?)(?![0-9A-Za-z])"
)
_OLD_KEYS = ("old_price", "list_price", "was_price", "compare_at_price", "msrp")
FUZZY_MIN = 86  # rapidfuzz ratio (0-100) for ASR/OCR drift on words of 5+ letters ("leathers", "porcelin")
NAME_MIN = 85  # the same for names; their digits must match exactly


def _stem(w: str) -> str:
    w = _ALIASES.get(w, w)
    # plural drift, applied to both sides alike: "sneakers" ~ "sneaker", "canvases" ~ "canvas"; not "glass"
    if len(w) > 4 and w.endswith(("ses", "xes", "zes", "ches", "shes")):
        return w[:-2]
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "as")) else w


def _phrase_key(text: str) -> str:
    return " ".join(_stem(w) for w in _WORD.findall(text.lower()))


def _name_key(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _digits(key: str) -> tuple[str, ...]:
    return tuple(w for w in key.split() if w.isdigit())


def _split_name(run: str) -> tuple[str, str]:
    """(brand, model) of a title's name run without attributes: a run ending in a number ends with its
    model ("Open Lane Jaguar 50" -> "Open Lane", "Jaguar 50"); otherwise the first word is the brand."""
    words = run.split()
    if len(words) >= 3 and words[-1].isdigit():
        return " ".join(words[:-2]), " ".join(words[-2:])
    if len(words) >= 2 and not words[-1].isdigit():
        return words[0], " ".join(words[1:])
    return "", run


def _title_phrases(words: list[str], vocab: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Known colour/material/pattern phrases in a title's words, longest first without overlaps: a
    "sky blue" title is not also "blue"."""
    out: dict[str, set[str]] = {}
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            gram = " ".join(words[i : i + n])
            attrs = [a for a in ("colour", "material", "pattern") if i + n <= len(words) and gram in vocab[a]]
            if attrs:
                for a in attrs:
                    out.setdefault(a, set()).add(gram)
                i += n - 1
                break
        i += 1
    return out


@dataclass
class _Product:
    product_id: str
    price: float | None = None
    old_price: float | None = None
    brand: str = ""
    model: str = ""
    phrases: dict[str, set[str]] = field(default_factory=dict)  # attribute -> phrase keys


# --- evidence and scores ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What a window said and showed, kept apart by where it came from."""

    speech_text: str = ""  # the window's (name-corrected) transcript
    screen_lines: Sequence[object] = ()  # OCR lines of its keyframes: strings or ampere.ocr.TextLine


@dataclass(frozen=True)
class NameHit:
    text: str  # what was said or shown
    name: str  # the catalogue name (lower case)
    similarity: float  # 0..1
    source: Source


@dataclass(frozen=True)
class PhraseHit:
    attribute: str  # material, colour, pattern or category
    phrase: str  # the catalogue phrase key ("sky blue")
    similarity: float
    source: Source


@dataclass
class Observation:
    """Attribute evidence found in a window, before it is matched to products."""

    prices: list[Price] = field(default_factory=list)
    names: list[NameHit] = field(default_factory=list)
    phrases: list[PhraseHit] = field(default_factory=list)


@dataclass(frozen=True)
class MatchWeights:
    """How much each attribute and each source adds to ``AttributeScore.total``."""

    price: float = 1.0
    old_price: float = 0.3
    brand: float = 0.5
    model: float = 1.0
    material: float = 0.5
    colour: float = 0.3
    pattern: float = 0.2
    category: float = 0.2
    speech: float = 1.0
    screen: float = 1.0
    # a viewer's chat line names what they ask about, often not the product on air
    chat: float = 0.0


@dataclass
class AttributeScore:
    """Per source, attribute -> agreement 0..1 (evidence confidence x match); ``total`` is the weighted sum."""

    product_id: str
    speech: dict[str, float] = field(default_factory=dict)
    screen: dict[str, float] = field(default_factory=dict)
    chat: dict[str, float] = field(default_factory=dict)
    total: float = 0.0

    def source(self, name: Source) -> dict[str, float]:
        return getattr(self, name)


class AttributeMatcher:
    """Catalogue rows indexed once (by price, by phrase, by name) for scoring windows against them.

    Rows: ``{"product_id", "title", "attributes": {"brand", "model", "colour", "material", "pattern",
    "category", "price", ...}}``. Rows of one product (several pages) are merged. A row without
    attributes is read from its title: its price ("$49.99"), the colour, material and pattern words
    it uses (``COLOUR_WORDS`` etc. plus the catalogue's own attribute values), and its name run
    (capitalised words and numbers, as ``ampere.names``) split into brand and model.
    """

    def __init__(self, rows: Iterable[Mapping], weights: MatchWeights | None = None, tolerance: float = 0.02):
        self.weights = weights or MatchWeights()
        self.tolerance = tolerance
        rows = [r for r in rows if isinstance(r, Mapping) and str(r.get("product_id") or "").strip()]
        vocab: dict[str, set[str]] = {
            "colour": {_phrase_key(c) for c in COLOUR_WORDS},
            "material": {_phrase_key(m) for m in MATERIAL_WORDS},
            "pattern": {_phrase_key(p) for vs in PATTERN_WORDS.values() for p in vs},
            "category": set(),
        }
        for r in rows:  # the catalogue's own values are words its titles use
            raw = r.get("attributes")
            attrs: Mapping = raw if isinstance(raw, Mapping) else {}
            for a in _PHRASE_ATTRS:
                for p in self._phrases_of(a, attrs.get(a)):
                    vocab[a].add(p)
        self.products: dict[str, _Product] = {}
        for r in rows:
            self._add(r, vocab)
        self._build()

    @staticmethod
    def _phrases_of(attr: str, value: object) -> set[str]:
        if not isinstance(value, str) or not value.strip() or len(value) > 60:
            return set()
        key = _phrase_key(clean_text(value, 60))
        if not key or key in _COMMON:
            return set()
        if attr == "pattern":
            return {_phrase_key(p) for p in PATTERN_WORDS.get(value.strip().lower(), ())} | {key}
        return {key}

    def _add(self, row: Mapping, vocab: dict[str, set[str]]) -> None:
        pid = clean_text(str(row.get("product_id")), 200).strip()
        p = self.products.setdefault(pid, _Product(pid))
        raw = row.get("attributes")
        attrs: Mapping = raw if isinstance(raw, Mapping) else {}
        title = clean_text(row.get("title"), 400)
        if p.price is None:
            p.price = valid_price(attrs.get("price")) if attrs.get("price") is not None else None
            if p.price is None:
                m = _TITLE_PRICE.search(title)
                p.price = valid_price(m.group(0)) if m else None
        if p.old_price is None:
            p.old_price = next(
                (
                    v
                    for v in (valid_price(attrs.get(k)) for k in _OLD_KEYS if attrs.get(k) is not None)
                    if v is not None
                ),
                None,
            )
        brand = clean_text(attrs.get("brand"), 80).strip() if isinstance(attrs.get("brand"), str) else ""
        model = clean_text(attrs.get("model"), 80).strip() if isinstance(attrs.get("model"), str) else ""
        rest = title
        try:
            runs = sorted(names_of({"title": title}), key=len, reverse=True) if not (brand or model) else []
        except Exception:
            runs = []
        if runs:
            brand, model = _split_name(runs[0])
        for name in [brand, model] + runs:  # the name's words are not colours or materials ("Silver Oak")
            if name:
                rest = rest.replace(name, " ")
        p.brand = p.brand or _name_key(brand)
        p.model = p.model or _name_key(model)
        in_title = _title_phrases(_WORD.findall(_phrase_key(rest)), vocab)
        for a in _PHRASE_ATTRS:
            # an attribute the row states is the truth; the title fills in attributes it does not state
            found = self._phrases_of(a, attrs.get(a)) or in_title.get(a, set())
            p.phrases.setdefault(a, set()).update(found - _COMMON)

    def _build(self) -> None:
        # names: exact keys, and by (digits, word count) for fuzzy lookups of same-digit spans
        self._names: dict[str, list[tuple[str, str]]] = {}
        for p in self.products.values():
            full = f"{p.brand} {p.model}" if p.brand and p.model else ""
            for attr, key in (("brand", p.brand), ("model", p.model), ("name", full)):
                if key and (len(key.split()) >= 2 or len(key) >= 3) and not key.isdigit():
                    self._names.setdefault(key, []).append((p.product_id, attr))
        self._names_by: dict[tuple, list[str]] = {}
        for key in self._names:
            if len(key.split()) >= 2:  # one-word names only exactly: too easy to hit by chance
                self._names_by.setdefault((_digits(key), len(key.split())), []).append(key)
        self._max_name_words = max((len(k.split()) for k in self._names), default=0)
        # phrases: key -> [(pid, attribute, strength)]; a multi-word phrase's last word counts half
        self._phrases: dict[str, list[tuple[str, str, float]]] = {}
        for p in self.products.values():
            for a, keys in p.phrases.items():
                for key in keys:
                    self._phrases.setdefault(key, []).append((p.product_id, a, 1.0))
                    if " " in key and key.split()[-1] not in _COMMON:
                        self._phrases.setdefault(key.split()[-1], []).append((p.product_id, a, 0.5))
                        self._phrases.setdefault(key.replace(" ", ""), []).append((p.product_id, a, 1.0))
        self._phrase_vocab: dict[int, list[str]] = {}
        for key in self._phrases:
            if len(key) >= 5:
                self._phrase_vocab.setdefault(len(key.split()), []).append(key)
        # prices, sorted, for range lookups
        priced = sorted((p.price, p.product_id) for p in self.products.values() if p.price is not None)
        self._price_values = [v for v, _ in priced]
        self._price_pids = [pid for _, pid in priced]
        old = sorted((p.old_price, p.product_id) for p in self.products.values() if p.old_price is not None)
        self._old_values, self._old_pids = [v for v, _ in old], [pid for _, pid in old]

    def __len__(self) -> int:
        return len(self.products)

    # -- finding evidence --

    def _find_names(
        self, words: list[str], source: Source
    ) -> tuple[list[NameHit], list[tuple[str, str, float]], set[int]]:
        """Catalogue names in a word list: hits, (pid, attr, similarity) entries and the covered word indices.
        Exact names first, longest first, without overlaps; then near misses (same digits) among the words
        left, so "the stone creek sparrow 900" is the exact name after "the", not a near miss with it."""
        hits: list[NameHit] = []
        entries: list[tuple[str, str, float]] = []
        covered: set[int] = set()

        def take(i: int, n: int, key: str, sim: float) -> None:
            hits.append(NameHit(" ".join(words[i : i + n])[:80], key, round(sim, 3), source))
            parts = set()
            for pid, attr in self._names[key]:
                entries.append((pid, attr, sim))
                if attr == "name":  # the brand and the model were said too: they count for every product
                    parts |= {self.products[pid].brand, self.products[pid].model}  # sharing them
            for part in parts:
                entries.extend((pid, attr, sim) for pid, attr in self._names.get(part, ()) if attr != "name")
            covered.update(range(i, i + n))

        longest = self._max_name_words + 1
        i = 0
        while i < len(words) and len(hits) < MAX_HITS:
            for n in range(min(longest, len(words) - i), 0, -1):
                span = " ".join(words[i : i + n])
                if span in self._names:
                    take(i, n, span, 1.0)
                    i += n - 1
                    break
            i += 1
        i = 0
        while i < len(words) and len(hits) < MAX_HITS:
            best = None  # (similarity, span length, key)
            for n in range(min(longest, len(words) - i), 1, -1):
                if any(k in covered for k in range(i, i + n)):
                    continue
                span = " ".join(words[i : i + n])
                if len(span) < 6:
                    continue
                for m in (n - 1, n, n + 1):  # ASR splits and merges words
                    choices = self._names_by.get((_digits(span), m))
                    hit = (
                        process.extractOne(span, choices, scorer=fuzz.ratio, score_cutoff=NAME_MIN) if choices else None
                    )
                    if hit and (best is None or (hit[1], n) > best[:2]):
                        best = (hit[1], n, hit[0])
            if best is not None:
                take(i, best[1], best[2], best[0] / 100)
                i += best[1]
            else:
                i += 1
        return hits, entries, covered

    def _find_phrases(
        self, words: list[str], covered: set[int], source: Source
    ) -> tuple[list[PhraseHit], list[tuple[str, str, float]]]:
        hits: list[PhraseHit] = []
        entries: list[tuple[str, str, float]] = []
        stems = [_stem(w) for w in words]
        i = 0
        while i < len(stems) and len(hits) < MAX_HITS:
            for n in (3, 2, 1):
                if i + n > len(stems) or any(k in covered for k in range(i, i + n)):
                    continue
                span = " ".join(stems[i : i + n])
                key, sim = (span, 1.0) if span in self._phrases else (None, 0.0)
                if key is None and len(span) >= 5 and not any(w.isdigit() for w in stems[i : i + n]):
                    choices = self._phrase_vocab.get(n)
                    hit = (
                        process.extractOne(span, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN)
                        if choices
                        else None
                    )
                    if hit:
                        key, sim = hit[0], hit[1] / 100
                if key is None:
                    continue
                attrs = {a for _, a, _ in self._phrases[key]}
                for a in sorted(attrs):
                    hits.append(PhraseHit(a, key, round(sim, 3), source))
                entries += [(pid, a, sim * strength) for pid, a, strength in self._phrases[key]]
                i += n - 1
                break
            i += 1
        return hits, entries

    def _evidence(self, evidence: Evidence, prices_known: Iterable[float]):
        """(observation, [(source, pid, attr, strength)]) for a window."""
        obs = Observation()
        entries: list[tuple[Source, str, str, float]] = []
        speech = digits_for_words(clean_text(evidence.speech_text if isinstance(evidence, Evidence) else ""))
        lines = list(evidence.screen_lines or ())[:MAX_LINES] if isinstance(evidence, Evidence) else []
        sourced: list[tuple[Source, str]] = [("speech", speech)]
        for t in (_line_text(x)[0] for x in lines):
            sourced.append(("chat" if is_chat_line(t) else "screen", t))
        texts = [(src, t) for src, t in sourced if t.strip()]
        masked_speech = speech
        for src, text in texts:
            spans = list(_WORD.finditer(text.lower()))[:MAX_TOKENS]
            words = [m.group(0) for m in spans]
            names, name_entries, covered = self._find_names(words, src)
            obs.names += names
            entries += [(src, pid, attr, sim) for pid, attr, sim in name_entries]
            phrases, phrase_entries = self._find_phrases(words, covered, src)
            obs.phrases += phrases
            entries += [(src, pid, attr, s) for pid, attr, s in phrase_entries]
            if src == "speech" and covered:  # a model's digits are not a price: "Wolf 20 for 49 dollars"
                chars = list(text)
                for k in covered:  # a break, so no price reads across the name
                    a, b = spans[k].start(), spans[k].end()
                    chars[a:b] = [";"] + [" "] * (b - a - 1)
                masked_speech = "".join(chars)
        obs.prices = _speech_prices(masked_speech) if speech.strip() else []
        obs.prices += prices_on_screen(lines, candidates=prices_known)
        for price in obs.prices:
            for pid, attr, s in self._price_entries(price):
                entries.append((price.source, pid, attr, s))
        return obs, entries

    def _price_entries(self, price: Price) -> list[tuple[str, str, float]]:
        v, tol = price.value, max(0.0, min(self.tolerance, 0.5))
        if price.kind == "old":
            values, pids, attr = self._old_values, self._old_pids, "old_price"
        else:
            values, pids, attr = self._price_values, self._price_pids, "price"
        if price.kind == "upper":
            lo, hi = 0, bisect.bisect_right(values, v * (1 + tol) + 0.005)
        elif price.kind == "lower":
            lo, hi = bisect.bisect_left(values, v * (1 - tol) - 0.005), len(values)
        else:  # same dollars, the rounded dollar or within tolerance
            lo = bisect.bisect_left(values, min(v * (1 - tol), v - 1.0) - 0.005)
            hi = bisect.bisect_right(values, max(v * (1 + tol), v + 1.0) + 0.005)
        out = []
        for k in range(lo, hi):
            m = price_matches(price, values[k], tol)
            if m > 0:
                out.append((pids[k], attr, price.confidence * m))
        return out

    def observe(self, evidence: Evidence) -> Observation:
        """The prices, names and attribute phrases found in a window (for the summarizer, and to debug)."""
        return self._evidence(evidence, self._price_values)[0]

    def score(self, evidence: Evidence, candidates: Iterable[str] | None = None) -> dict[str, AttributeScore]:
        """Products with any agreeing evidence (only ``candidates`` when given), with per-source,
        per-attribute agreement (the best piece of evidence for each) and the weighted total."""
        keep = None if candidates is None else {str(c) for c in candidates}
        known: list[float] = (
            self._price_values
            if keep is None
            else [p for c in keep if c in self.products and (p := self.products[c].price) is not None]
        )
        _, entries = self._evidence(evidence, known)
        out: dict[str, AttributeScore] = {}
        for src, pid, attr, s in entries:
            if keep is not None and pid not in keep:
                continue
            sc = out.setdefault(pid, AttributeScore(pid))
            bucket = sc.source(src)
            if attr == "name":  # brand and model said together
                for a in ("brand", "model"):
                    bucket[a] = max(bucket.get(a, 0.0), round(s, 4))
                continue
            bucket[attr] = max(bucket.get(attr, 0.0), round(s, 4))
        w = self.weights
        for sc in out.values():
            sc.total = round(
                sum(
                    getattr(w, src) * sum(getattr(w, a, 0.0) * v for a, v in sc.source(src).items()) for src in SOURCES
                ),
                4,
            )
        return out
