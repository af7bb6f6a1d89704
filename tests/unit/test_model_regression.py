"""The shipped model must keep producing what it produced when the reference was recorded.

A change that silently alters the model (weights, preprocessing, tokenizer, fusion, export)
fails here. After an intended change, regenerate: `.venv/bin/python tests/regression_reference.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from regression_reference import REFERENCE, fixed_inputs, tiny_metrics

pytestmark = pytest.mark.models  # loads a real model

REF = json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def torch_embedder():
    from ampere.settings import get_settings
    from encoders.runtime import TorchEmbedder

    return TorchEmbedder.load(get_settings().embed.checkpoint)


def _check(outputs, atol):
    for got, want in zip(outputs, REF["embeddings"]):
        for branch in ("fused", "text", "visual"):
            diff = np.abs(getattr(got, branch) - np.array(want[branch], np.float32)).max()
            assert diff < atol, (branch, diff)
        if "presence" in want:  # the product-in-frame score (a logit, not unit-scaled: a looser bound)
            assert got.presence is not None and abs(got.presence - want["presence"]) < 50 * atol, got.presence


def test_torch_embeddings_match_the_reference(torch_embedder):
    _check(torch_embedder.embed_batch(*fixed_inputs()), atol=1e-4)


def test_onnx_embeddings_match_the_reference():
    from ampere.settings import get_settings
    from ampere_dev.derive import ensure_onnx
    from encoders.runtime import Embedder

    settings = get_settings()
    ensure_onnx(settings, progress=lambda *_: None)
    _check(Embedder.load(settings.embed.model_dir, "fp32").embed_batch(*fixed_inputs()), atol=1e-3)


def test_retrieval_metrics_match_the_reference(torch_embedder):
    got = tiny_metrics(torch_embedder)
    for direction, r1 in REF["tiny_test_R@1"].items():
        assert got[direction] == pytest.approx(r1, abs=0.02), direction
