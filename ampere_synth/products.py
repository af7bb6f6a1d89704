"""Products, look-alike groups, titles and splits.

A look-alike group shares category, shape, colour and pattern exactly (the renders are the same),
and its members differ only in words: brand, model, material, price. Brand and model names come
from ``names``: English-word compounds and invented words, with a vocabulary of their own per split.
Prices are whole dollars or, on a share of products, dollars and cents (49.99).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .names import (  # noqa: F401
    BRAND_FIRST,
    BRAND_SECOND,
    MODEL_NOUNS,
    MODEL_NUMBERS,
    SplitVocab,
    make_brand,
    make_model,
    make_model_family,
    split_vocabularies,
)
from .presets import Preset
from .seeding import rng_for

# category -> (noun used in titles and speech, shapes, materials, price range in dollars)
CATEGORIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[int, int]]] = {
    "backpack": ("backpack", ("rounded", "boxy"), ("leather", "canvas", "nylon", "suede"), (29, 129)),
    "mug": ("mug", ("straight", "tapered"), ("ceramic", "porcelain", "glass", "stone"), (9, 39)),
    "sneaker": ("sneakers", ("low", "high"), ("leather", "canvas", "mesh", "suede"), (39, 149)),
    "watch": ("watch", ("round", "square"), ("steel", "titanium", "leather", "rubber"), (49, 299)),
    "lamp": ("lamp", ("dome", "cone"), ("metal", "glass", "ceramic", "brass"), (25, 149)),
    "bottle": ("water bottle", ("slim", "wide"), ("steel", "glass", "plastic", "aluminum"), (12, 45)),
    "headphones": ("headphones", ("over-ear", "on-ear"), ("plastic", "aluminum", "leather"), (29, 249)),
    "chair": ("chair", ("armchair", "stool"), ("oak", "pine", "velvet", "leather"), (49, 399)),
    "hat": ("hat", ("cap", "bucket"), ("cotton", "wool", "denim", "straw"), (15, 59)),
    "handbag": ("handbag", ("tote", "clutch"), ("leather", "canvas", "suede", "cotton"), (35, 199)),
    "vase": ("vase", ("round", "tall"), ("ceramic", "glass", "clay", "porcelain"), (15, 89)),
    "speaker": ("speaker", ("cylinder", "box"), ("plastic", "aluminum", "fabric", "wood"), (29, 199)),
}

COLOURS: dict[str, tuple[int, int, int]] = {
    "navy": (28, 42, 96),
    "red": (196, 36, 40),
    "green": (34, 128, 60),
    "yellow": (232, 190, 30),
    "black": (30, 30, 32),
    "white": (236, 236, 230),
    "grey": (128, 130, 134),
    "teal": (20, 140, 140),
    "orange": (236, 120, 24),
    "pink": (236, 130, 170),
    "purple": (110, 50, 150),
    "brown": (112, 70, 36),
    "beige": (214, 196, 160),
    "sky blue": (110, 180, 230),
}
PATTERNS = ("solid", "stripes", "dots", "checks", "zigzag")
PATTERN_WORDS = {"solid": "", "stripes": "striped", "dots": "polka dot", "checks": "checked", "zigzag": "zigzag"}


@dataclass(frozen=True)
class Product:
    product_id: str
    group: str
    category: str
    brand: str
    model: str
    colour: str
    material: str
    price: float  # dollars: an int when whole (49), else two decimals (49.99)
    shape: str
    pattern: str
    split: str

    @property
    def noun(self) -> str:
        return CATEGORIES[self.category][0]

    @property
    def name(self) -> str:
        return f"{self.brand} {self.model}"

    @property
    def price_label(self) -> str:
        """The price as the title, the price card and the tag show it: "$49.99", "$49"."""
        return price_label(self.price)

    def title(self) -> str:
        look = " ".join(w for w in (self.colour, PATTERN_WORDS[self.pattern]) if w)
        return f"{self.brand} {self.model} {self.material} {self.noun}, {look}, {self.price_label}"

    def row(self) -> dict:
        return asdict(self)


def price_label(price: float) -> str:
    return f"${price:.2f}" if has_cents(price) else f"${int(round(price))}"


def has_cents(price: float) -> bool:
    return abs(price - round(price)) > 1e-6


def _nice_prices(lo: int, hi: int) -> list[int]:
    # shop prices end in 9, 5 or 0
    return [p for p in range(lo, hi + 1) if p % 10 in (0, 5, 9)]


CENTS_SHARE = 0.35  # share of products priced in dollars and cents


def _with_cents(whole: int, rng) -> float | int:
    """49 -> 49.99 or 49.95 now and then, 50 -> 49.99; whole dollars otherwise."""
    if rng.random() >= CENTS_SHARE:
        return whole
    if whole % 10 == 9:
        return round(whole + rng.choice((0.99, 0.95, 0.49)), 2)
    return round(whole - 1 + rng.choice((0.99, 0.99, 0.95)), 2)


def old_price(price: float, rng) -> float | int:
    """A higher "was" price for a struck-through tag: 20-60 % more, a shop-like figure, same cents."""
    whole = int(price * rng.uniform(1.2, 1.6))
    whole = next(w for w in range(whole, whole + 11) if w % 10 in (0, 5, 9) and w > price)
    return round(whole + (price - int(price)), 2) if has_cents(price) else whole


def split_groups(group_ids: list[str], seed: int) -> dict[str, str]:
    """~70/15/15 by group; val and test get at least one group whenever there are >= 3 groups."""
    order = list(group_ids)
    rng_for(seed, "splits").shuffle(order)
    n = len(order)
    n_eval = max(1, round(0.15 * n)) if n >= 3 else 0
    out = {}
    for i, g in enumerate(order):
        out[g] = "test" if i < n_eval else "val" if i < 2 * n_eval else "train"
    return out


def make_products(preset: Preset, seed: int) -> list[Product]:
    if preset.categories > len(CATEGORIES):
        raise ValueError(f"preset {preset.name!r} wants {preset.categories} categories, only {len(CATEGORIES)} exist")
    rng = rng_for(seed, "catalog")
    cats = sorted(CATEGORIES)
    rng.shuffle(cats)
    cats = cats[: preset.categories]
    group_ids = [f"g{g:03d}" for g in range(preset.groups)]
    splits = split_groups(group_ids, seed)
    # each split names its products from words of its own (names.split_vocabularies)
    vocab = split_vocabularies(seed, {"train": 0.6, "val": 0.2, "test": 0.2})
    n_split = {s: sum(v == s for v in splits.values()) * preset.group_size[1] for s in ("train", "val", "test")}
    brand_pools: dict[str, list[str]] = {}
    for s in ("train", "val", "test"):
        # brands recur across products, as real brands do; the pool is smaller than the product count
        prng = rng_for(seed, "brands", s)
        pool: list[str] = []
        while len(pool) < max(4, n_split[s] * 2 // 3):
            b = make_brand(prng, vocab[s])
            if b not in pool:
                pool.append(b)
        brand_pools[s] = pool

    looks_used: set[tuple] = set()
    names_used: set[tuple[str, str]] = set()
    products: list[Product] = []
    for g, gid in enumerate(group_ids):
        grng = rng_for(seed, "group", gid)
        cat = cats[g % len(cats)]  # round-robin so every category is used
        _, shapes, materials, (lo, hi) = CATEGORIES[cat]
        while True:  # each group has its own look, so "looks the same" means "same group"
            look = (cat, grng.choice(shapes), grng.choice(sorted(COLOURS)), grng.choice(PATTERNS))
            if look not in looks_used:
                looks_used.add(look)
                break
        size = grng.randint(*preset.group_size)
        split = splits[gid]
        v: SplitVocab = vocab[split]
        prices: list[float] = []
        for w in grng.sample(_nice_prices(lo, hi), size):  # distinct inside a group, cents included
            p = _with_cents(w, grng)
            prices.append(w if p in prices else p)
        prev_brand = prev_family = None
        for _ in range(size):
            for _attempt in range(1000):
                # some members share the brand or the model family: then one word decides
                brand = prev_brand if prev_brand and grng.random() < 0.35 else grng.choice(brand_pools[split])
                form, family = prev_family if prev_family and grng.random() < 0.3 else make_model_family(grng, v)
                model = make_model(grng, form, family)
                if (brand, model) not in names_used:
                    names_used.add((brand, model))
                    break
            else:
                raise RuntimeError(f"no unused name left for group {gid}")
            prev_brand, prev_family = brand, (form, family)
            products.append(
                Product(
                    product_id=f"p{len(products):04d}",
                    group=gid,
                    category=cat,
                    brand=brand,
                    model=model,
                    colour=look[2],
                    material=grng.choice(materials),
                    price=prices.pop(),
                    shape=look[1],
                    pattern=look[3],
                    split=split,
                )
            )
    return products
