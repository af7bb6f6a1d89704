"""Products, look-alike groups, titles and splits.

A look-alike group shares category, shape, colour and pattern exactly (the renders are the same),
and its members differ only in words: brand, model, material, price. Brand and model names are
built from common English words so that Whisper tiny.en can spell them back.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

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
    "navy": (28, 42, 96), "red": (196, 36, 40), "green": (34, 128, 60), "yellow": (232, 190, 30),
    "black": (30, 30, 32), "white": (236, 236, 230), "grey": (128, 130, 134), "teal": (20, 140, 140),
    "orange": (236, 120, 24), "pink": (236, 130, 170), "purple": (110, 50, 150), "brown": (112, 70, 36),
    "beige": (214, 196, 160), "sky blue": (110, 180, 230),
}
PATTERNS = ("solid", "stripes", "dots", "checks", "zigzag")
PATTERN_WORDS = {"solid": "", "stripes": "striped", "dots": "polka dot", "checks": "checked", "zigzag": "zigzag"}

BRAND_FIRST = ("Silver", "Red", "North", "Blue", "Stone", "Golden", "Maple", "Iron", "Green", "Bright",
               "Lake", "Open", "Sun", "White", "Storm", "High", "Old", "Wild", "Little", "Great",
               "Summer", "Winter", "Morning", "Ocean", "Royal", "Lucky", "Happy", "Quiet", "Swift", "Cedar")
BRAND_SECOND = ("Oak", "Harbor", "Peak", "River", "Bridge", "Field", "Street", "Hill", "Valley", "Star",
                "Shore", "Road", "Coast", "Pine", "Cloud", "Ridge", "Lane", "Garden", "Forest", "Bay",
                "Mountain", "Creek", "Point", "Gate", "Park", "House", "Works", "Trail", "Rock", "Island")
MODEL_NOUNS = ("Falcon", "Eagle", "Tiger", "Wolf", "Fox", "Bear", "Hawk", "Rocket", "Comet", "Arrow",
               "Pilot", "Ranger", "Scout", "Voyager", "Explorer", "Summit", "Thunder", "Lion", "Dolphin",
               "Panther", "Atlas", "Titan", "Breeze", "Spark", "Blaze", "Echo", "Legend", "Hunter", "Rider",
               "Runner", "Cruiser", "Jaguar", "Mustang", "Raven", "Robin", "Sparrow", "Panda", "Buffalo",
               "Horizon", "Meadow")
MODEL_NUMBERS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 600, 700, 800, 900)


@dataclass(frozen=True)
class Product:
    product_id: str
    group: str
    category: str
    brand: str
    model: str
    colour: str
    material: str
    price: int  # whole dollars
    shape: str
    pattern: str
    split: str

    @property
    def noun(self) -> str:
        return CATEGORIES[self.category][0]

    @property
    def name(self) -> str:
        return f"{self.brand} {self.model}"

    def title(self) -> str:
        look = " ".join(w for w in (self.colour, PATTERN_WORDS[self.pattern]) if w)
        return f"{self.brand} {self.model} {self.material} {self.noun}, {look}, ${self.price}"

    def row(self) -> dict:
        return asdict(self)


def _nice_prices(lo: int, hi: int) -> list[int]:
    # shop prices end in 9, 5 or 0; whole dollars so they are spoken as plain words
    return [p for p in range(lo, hi + 1) if p % 10 in (0, 5, 9)]


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
    n_products_max = preset.groups * preset.group_size[1]
    brand_pool = [f"{a} {b}" for a in BRAND_FIRST for b in BRAND_SECOND]
    rng.shuffle(brand_pool)
    # brands recur across products, as real brands do; the pool is smaller than the product count
    brand_pool = brand_pool[: max(6, n_products_max * 2 // 3)]

    looks_used: set[tuple] = set()
    names_used: set[tuple[str, str]] = set()
    group_ids = [f"g{g:03d}" for g in range(preset.groups)]
    splits = split_groups(group_ids, seed)
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
        prices = grng.sample(_nice_prices(lo, hi), size)  # distinct prices inside a group
        prev_brand = prev_noun = None
        for _ in range(size):
            while True:
                # some members share the brand or the model family: then one word decides
                brand = prev_brand if prev_brand and grng.random() < 0.35 else grng.choice(brand_pool)
                noun = prev_noun if prev_noun and grng.random() < 0.3 else grng.choice(MODEL_NOUNS)
                model = f"{noun} {grng.choice(MODEL_NUMBERS)}"
                if (brand, model) not in names_used:
                    names_used.add((brand, model))
                    break
            prev_brand, prev_noun = brand, noun
            products.append(Product(
                product_id=f"p{len(products):04d}", group=gid, category=cat, brand=brand, model=model,
                colour=look[2], material=grng.choice(materials), price=prices.pop(), shape=look[1],
                pattern=look[3], split=splits[gid]))
    return products
