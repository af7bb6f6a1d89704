"""Deterministic tri-domain data generator: product pages, short videos and live streams with
speech, built from a seed (layout: docs/DESIGN.md, "Generated data layout")."""

from .build import GENERATOR_VERSION, build_dataset, live_windows
from .presets import PRESETS, Preset, get_preset
from .products import Product, make_products

__all__ = [
    "GENERATOR_VERSION",
    "PRESETS",
    "Preset",
    "Product",
    "build_dataset",
    "get_preset",
    "live_windows",
    "make_products",
]
