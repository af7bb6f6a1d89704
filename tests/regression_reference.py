"""Regenerate tests/data/model_reference.json after an intended model change:

    .venv/bin/python tests/regression_reference.py

It records the shipped model's embeddings of fixed inputs and its six-direction
metrics on the tiny dataset's test split (script text), which tests/unit/test_model_regression.py
then holds the model to.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REFERENCE = ROOT / "tests" / "data" / "model_reference.json"
TEXTS = [
    "Red Oak Lion 30 metal lamp, orange polka dot, $125",
    "green shore fox 40 brass",
    "",
    "empty",
    "hey everyone welcome back don't forget to follow",
]
DOMAINS = ["page", "video", "live", "live", "video"]


def fixed_inputs():
    rng = np.random.default_rng(1234)
    frames = [[rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(1 + i % 4)] for i in range(len(TEXTS))]
    return DOMAINS, frames, TEXTS


def tiny_metrics(embedder) -> dict:
    from ampere.settings import Settings
    from ampere_dev.derive import ensure_dataset
    from ampere_train.evaluate import evaluate_dataset

    data = ensure_dataset(Settings(), "tiny", 0, progress=lambda *_: None)
    res = evaluate_dataset(data, embedder, split="test", text_mode="script")
    return {d: round(v["R@1"], 4) for d, v in res["directions"].items()} | {"mean": round(res["mean"]["R@1"], 4)}


def main() -> None:
    from ampere.settings import get_settings
    from encoders.runtime import TorchEmbedder

    ckpt = get_settings().embed.checkpoint
    emb = TorchEmbedder.load(ckpt)
    out = emb.embed_batch(*fixed_inputs())
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(
        json.dumps(
            {
                "checkpoint": str(ckpt.relative_to(ROOT)),
                "embeddings": [
                    {b: [round(float(x), 6) for x in getattr(e, b)] for b in ("fused", "text", "visual")}
                    | ({"presence": round(float(e.presence), 5)} if e.presence is not None else {})
                    for e in out
                ],
                "tiny_test_R@1": tiny_metrics(emb),
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
