"""Per-item random streams derived from (seed, names), so no item depends on global state or on
the order in which workers happen to build things."""

from __future__ import annotations

import hashlib
import random

import numpy as np


def _digest(seed: int, *names: object) -> bytes:
    return hashlib.sha256(":".join([str(seed), *map(str, names)]).encode()).digest()


def rng_for(seed: int, *names: object) -> random.Random:
    return random.Random(int.from_bytes(_digest(seed, *names)[:8], "big"))


def np_rng_for(seed: int, *names: object) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(_digest(seed, *names)[:8], "big"))
