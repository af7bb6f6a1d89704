"""Brand and model names: English-word compounds and invented words, with a vocabulary split by product split.

The word inventory is fixed (module constants, the same for every seed): English word lists and
pronounceable invented words from a small syllable grammar ("Zorvik", "Mellora", "Tey"), plus short
codes ("K7", "RX9"). A dataset draws from it by seed, and gives each product split (train/val/test) its
own part of every list, so no name word of a train-split product appears in a val- or test-split name.
Plain numbers ("Falcon 40") are shared, as shops reuse them; they are not name words.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

BRAND_FIRST = (
    "Silver",
    "Red",
    "North",
    "Blue",
    "Stone",
    "Golden",
    "Maple",
    "Iron",
    "Green",
    "Bright",
    "Lake",
    "Open",
    "Sun",
    "White",
    "Storm",
    "High",
    "Old",
    "Wild",
    "Little",
    "Great",
    "Summer",
    "Winter",
    "Morning",
    "Ocean",
    "Royal",
    "Lucky",
    "Happy",
    "Quiet",
    "Swift",
    "Cedar",
    "East",
    "West",
    "South",
    "Copper",
    "Crystal",
    "Velvet",
    "Amber",
    "Misty",
    "Sunny",
    "Bold",
    "Clever",
    "Gentle",
    "Noble",
    "Rapid",
    "Urban",
    "Silent",
    "Frosty",
    "Honey",
    "Lunar",
    "Solar",
)
BRAND_SECOND = (
    "Oak",
    "Harbor",
    "Peak",
    "River",
    "Bridge",
    "Field",
    "Street",
    "Hill",
    "Valley",
    "Star",
    "Shore",
    "Road",
    "Coast",
    "Pine",
    "Cloud",
    "Ridge",
    "Lane",
    "Garden",
    "Forest",
    "Bay",
    "Mountain",
    "Creek",
    "Point",
    "Gate",
    "Park",
    "House",
    "Works",
    "Trail",
    "Rock",
    "Island",
    "Meadows",
    "Harvest",
    "Lodge",
    "Market",
    "Studio",
    "Supply",
    "Canyon",
    "Grove",
    "Haven",
    "Wharf",
    "Tower",
    "Square",
    "Corner",
    "Mill",
    "Yard",
    "Dock",
    "Port",
    "Farm",
    "Row",
    "Woods",
)
MODEL_NOUNS = (
    "Falcon",
    "Eagle",
    "Tiger",
    "Wolf",
    "Fox",
    "Bear",
    "Hawk",
    "Rocket",
    "Comet",
    "Arrow",
    "Pilot",
    "Ranger",
    "Scout",
    "Voyager",
    "Explorer",
    "Summit",
    "Thunder",
    "Lion",
    "Dolphin",
    "Panther",
    "Atlas",
    "Titan",
    "Breeze",
    "Spark",
    "Blaze",
    "Echo",
    "Legend",
    "Hunter",
    "Rider",
    "Runner",
    "Cruiser",
    "Jaguar",
    "Mustang",
    "Raven",
    "Robin",
    "Sparrow",
    "Panda",
    "Buffalo",
    "Horizon",
    "Meadow",
    "Otter",
    "Badger",
    "Condor",
    "Cobra",
    "Viking",
    "Nomad",
    "Glider",
    "Orbit",
    "Pioneer",
    "Sprinter",
    "Rebel",
    "Wizard",
    "Phoenix",
    "Harrier",
    "Mariner",
    "Bison",
    "Coyote",
    "Puma",
    "Lynx",
    "Marlin",
)
MODEL_NUMBERS = (2, 3, 5, 7, 9, 10, 12, 20, 24, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 600, 700, 800, 900)

# syllable grammar of the invented words: clusters only at the start, codas mostly at the end
_FIRST_ONSETS = (
    "b",
    "d",
    "f",
    "g",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "dr",
    "kr",
    "pr",
    "tr",
    "st",
    "sk",
    "qu",
    "sh",
    "gl",
    "pl",
    "fl",
    "j",
    "",
    "",
)
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "x", "ll", "rr")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "a", "i", "o", "ea", "ou", "ai")
_MID_CODAS = ("", "", "", "", "n", "r", "l")
_END_CODAS = ("", "", "", "n", "r", "l", "s", "x", "k", "m", "sh", "nt")
_CODE_LETTERS = "BCDFGHJKLMNPRSTVXZ"


def _word(rng: random.Random, k: int) -> str:
    w = ""
    for i in range(k):
        onset = rng.choice(_FIRST_ONSETS if i == 0 else _ONSETS)
        coda = rng.choice(_END_CODAS if i == k - 1 else _MID_CODAS)
        w += onset + rng.choice(_VOWELS) + coda
    return w


def _invented_words(
    n: int, syllables: tuple[int, ...], weights: tuple[float, ...], salt: str, taken: set[str]
) -> tuple[str, ...]:
    rng = random.Random(f"ampere-invented-{salt}")  # fixed: the inventory is the same for every seed
    out: list[str] = []
    while len(out) < n:
        k = rng.choices(syllables, weights)[0]
        w = _word(rng, k)
        if (
            not 3 <= len(w) <= 9
            or re.search(r"[^aeiou]{3}", w)
            or re.search(r"[aeiou]{3}", w)
            or "quu" in w
            or re.search(r"(.)\1\1", w)
            or w in taken
        ):
            continue
        taken.add(w)
        out.append(w.capitalize())
    return tuple(out)


_ENGLISH = {w.lower() for w in BRAND_FIRST + BRAND_SECOND + MODEL_NOUNS}
# words a shop would never put in a name, or that the scoring reads as other facts
_RESERVED = {
    "red",
    "tan",
    "pink",
    "grey",
    "navy",
    "teal",
    "blue",
    "oak",
    "pine",
    "wool",
    "clay",
    "glass",
    "steel",
    "mesh",
    "suede",
    "silk",
    "sale",
    "deal",
    "live",
    "hot",
    "new",
    "free",
    "the",
    "and",
    "for",
    "this",
    "that",
    "one",
    "two",
    "six",
    "ten",
    "far",
    "sold",
    "mug",
    "hat",
    "lamp",
    "vase",
    "chair",
    "bag",
}
_taken = set(_ENGLISH) | _RESERVED
INVENTED_BRANDS = _invented_words(900, (2, 3), (0.7, 0.3), "brand", _taken)
INVENTED_BRAND_TAILS = _invented_words(300, (1,), (1.0,), "tail", _taken)  # "Mellora Tey"
INVENTED_MODELS = _invented_words(900, (2, 3), (0.75, 0.25), "model", _taken)
CODES = tuple(
    sorted({f"{a}{b}{d}" for a in _CODE_LETTERS for b in ("", "X", "R", "Z") for d in range(2, 10) if a != b})
)

# shares of the name forms; about 40 % of products get a one-word brand or a one-word model
BRAND_FORMS = (("english", 0.66), ("invented", 0.22), ("invented_pair", 0.12))
MODEL_FORMS = (
    ("english_number", 0.45),
    ("invented_number", 0.30),
    ("invented", 0.10),
    ("code", 0.08),
    ("english", 0.07),
)


def name_words(name: str) -> set[str]:
    """The words of a brand or model that count for the split rule: every token but plain numbers."""
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]+", name) if not w.isdigit()}


@dataclass
class SplitVocab:
    """One product split's share of every word list."""

    first: list[str]
    second: list[str]
    nouns: list[str]
    invented_brands: list[str]
    tails: list[str]
    invented_models: list[str]
    codes: list[str]


def split_vocabularies(seed: int, shares: dict[str, float]) -> dict[str, SplitVocab]:
    """Every word list shuffled by seed and cut into disjoint parts, one per split, in proportion to
    ``shares`` (each split gets at least a few words of every list)."""
    rng = random.Random(f"{seed}:name-vocab")
    splits = sorted(shares)
    lists = {
        "first": BRAND_FIRST,
        "second": BRAND_SECOND,
        "nouns": MODEL_NOUNS,
        "invented_brands": INVENTED_BRANDS,
        "tails": INVENTED_BRAND_TAILS,
        "invented_models": INVENTED_MODELS,
        "codes": CODES,
    }
    parts: dict[str, dict[str, list[str]]] = {s: {} for s in splits}
    total = sum(shares.values())
    for key, words in lists.items():
        order = list(words)
        rng.shuffle(order)
        n = len(order)
        counts = {s: max(3, int(n * shares[s] / total)) for s in splits}
        pos = 0
        for s in splits:
            parts[s][key] = order[pos : pos + counts[s]]
            pos += counts[s]
    # a code must not repeat an English or invented word of another split; codes are letters+digits, so
    # they never do, and the digits alone are not name words
    return {s: SplitVocab(**parts[s]) for s in splits}


def _pick(rng: random.Random, forms) -> str:
    return rng.choices([f for f, _ in forms], weights=[w for _, w in forms])[0]


def make_brand(rng: random.Random, v: SplitVocab) -> str:
    form = _pick(rng, BRAND_FORMS)
    if form == "english":
        return f"{rng.choice(v.first)} {rng.choice(v.second)}"
    if form == "invented":
        return rng.choice(v.invented_brands)
    return f"{rng.choice(v.invented_brands)} {rng.choice(v.tails)}"


def make_model_family(rng: random.Random, v: SplitVocab) -> tuple[str, str]:
    """(form, family word): look-alikes may share the family and differ in the number."""
    form = _pick(rng, MODEL_FORMS)
    if form in ("english_number", "english"):
        return form, rng.choice(v.nouns)
    if form in ("invented_number", "invented"):
        return form, rng.choice(v.invented_models)
    return form, rng.choice(v.codes)


def make_model(rng: random.Random, form: str, family: str) -> str:
    if form in ("english_number", "invented_number"):
        return f"{family} {rng.choice(MODEL_NUMBERS)}"
    return family
