"""Dataset sizes. One dataclass per preset so the build code reads sizes, never preset names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    groups: int  # look-alike groups
    group_size: tuple[int, int]  # products per group (min, max)
    categories: int
    page_images: int  # per product
    videos_per_product: int
    video_s: tuple[float, float]  # short video length range
    products_per_stream: int  # live segments per stream (one product each)
    live_streams: int | None  # None: as many streams as needed to put every product on air once
    segment_s: tuple[float, float]  # on-air segment length range
    heldout_streams: int = 0  # extra streams of test-split products, held-out phrasings and voices only
    heldout_products_per_stream: int = 5
    page_size: int = 224  # page image side
    video_size: int = 256  # short-video frame side
    live_size: tuple[int, int] = (640, 360)  # live frame (width, height)
    intro_s: tuple[float, float] = (6, 12)  # intro and outro (no product) length range
    break_share: float = 0.15  # streams with a short chatter break, no product on air
    break_s: tuple[float, float] = (5, 9)
    fps: int = 10


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        groups=3,
        group_size=(3, 3),
        categories=3,
        page_images=1,
        videos_per_product=1,
        video_s=(9, 12),
        products_per_stream=3,
        live_streams=1,
        segment_s=(20, 24),
        heldout_streams=1,
        heldout_products_per_stream=2,
    ),
    "demo": Preset(
        "demo",
        groups=8,
        group_size=(3, 3),
        categories=6,
        page_images=2,
        videos_per_product=1,
        video_s=(8, 15),
        products_per_stream=5,
        live_streams=3,
        segment_s=(20, 28),
    ),
    # what the shipped model is trained on (seed 1, so it never saw the demo's products): every product on air once
    "train": Preset(
        "train",
        groups=30,
        group_size=(3, 4),
        categories=12,
        page_images=2,
        videos_per_product=1,
        video_s=(8, 15),
        products_per_stream=10,
        live_streams=None,
        segment_s=(16, 24),
    ),
    # >= 16 s segments give every product >= 3 majority windows at window 8 / hop 4
    "bench": Preset(
        "bench",
        groups=100,
        group_size=(3, 4),
        categories=12,
        page_images=2,
        videos_per_product=2,
        video_s=(8, 15),
        products_per_stream=10,
        live_streams=None,
        segment_s=(16, 30),
        heldout_streams=6,
        heldout_products_per_stream=9,
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
