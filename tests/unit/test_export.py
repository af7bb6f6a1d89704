"""ONNX export of the full AMPere model: fp32 matches torch, int8 stays close, the runtime reads it."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from ampere_train.export import export_onnx
from encoders.config import ModelConfig
from encoders.model import AmpereModel, save_checkpoint
from encoders.runtime import Embedder, TorchEmbedder

pytestmark = pytest.mark.models  # loads a real model

CFG = ModelConfig(visual_channels=[16, 32, 64], visual_blocks=[1, 1, 1], image_size=48, frames=3)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    model = AmpereModel(CFG)  # random-init visual tower and heads, real MiniLM
    ckpt = save_checkpoint(model, tmp / "run" / "model.pt")
    manifest = export_onnx(ckpt, tmp / "onnx", int8=True)
    return tmp, ckpt, manifest


def _inputs(n=5, seed=0):
    rng = np.random.default_rng(seed)
    frames = [[rng.integers(0, 256, (40 + 7 * i, 60, 3), dtype=np.uint8) for _ in range(1 + i)] for i in range(n)]
    texts = [
        "red ceramic mug 350 ml",
        "",
        "hi everyone follow the shop, this sneaker is 59 dollars",
        "blue",
        "wireless earbuds with charging case",
    ][:n]
    domains = ["page", "video", "live", "live", "video"][:n]
    return domains, frames, texts


def test_manifest_describes_the_files(exported):
    tmp, ckpt, manifest = exported
    assert set(manifest["files"]) == {"fp32", "int8"}
    on_disk = json.loads((tmp / "onnx" / "manifest.json").read_text())
    assert on_disk == manifest
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "attention_mask", "frames", "domain"]
    assert [o["name"] for o in manifest["outputs"]] == ["fused", "text", "visual", "presence"]
    assert manifest["outputs"][-1]["available"] is False  # no zoom tower, no locator: nothing to say
    assert Embedder.load(tmp / "onnx").embed("live", _inputs(1)[1][0], "").presence is None
    assert manifest["frames"] == 3 and manifest["image_size"] == 48
    from ampere_train.export import sha256

    assert manifest["files"]["fp32"]["sha256"] == sha256(tmp / "onnx" / "ampere-fp32.onnx")
    assert manifest["checkpoint"]["sha256"] == sha256(ckpt)


def test_onnx_fp32_matches_torch_and_int8_is_close(exported):
    tmp, ckpt, _ = exported
    domains, frames, texts = _inputs()
    ref = TorchEmbedder.load(ckpt).embed_batch(domains, frames, texts)
    fp32 = Embedder.load(tmp / "onnx", "fp32", providers="CPUExecutionProvider").embed_batch(domains, frames, texts)
    int8 = Embedder.load(tmp / "onnx", "int8").embed_batch(domains, frames, texts)
    cos = {b: [] for b in ("fused", "text", "visual")}
    for r, a, q in zip(ref, fp32, int8):
        for branch in cos:
            x, y, z = getattr(r, branch), getattr(a, branch), getattr(q, branch)
            assert x.shape == (128,) and y.dtype == np.float32
            assert np.abs(x - y).max() < 1e-4, branch
            cos[branch].append(float(y @ z))
    # int8 (MatMul/Gemm, per channel): close on average; the empty text ([CLS][SEP] only) is the worst case
    for branch, c in cos.items():
        assert np.mean(c) > 0.98 and min(c) > 0.95, (branch, c)
    # batching does not change a row (padding is masked out of the text tower)
    single = Embedder.load(tmp / "onnx", "fp32").embed(domains[1], frames[1], texts[1])
    assert np.abs(single.fused - fp32[1].fused).max() < 1e-4


def test_embedder_errors(exported, tmp_path):
    tmp, _, _ = exported
    with pytest.raises(FileNotFoundError, match="manifest"):
        Embedder.load(tmp_path)
    with pytest.raises(ValueError, match="variant"):
        Embedder.load(tmp / "onnx", "fp16")
    with pytest.raises(ValueError, match="providers"):
        Embedder.load(tmp / "onnx", providers="NoSuchExecutionProvider")
    emb = Embedder.load(tmp / "onnx")
    assert "CPUExecutionProvider" in emb.providers
    with pytest.raises(ValueError, match="differ in length"):
        emb.embed_batch(["page"], [], [""])


def test_text_query_embedding_is_the_text_branch_whatever_the_picture(exported):
    tmp, _, _ = exported
    emb = Embedder.load(tmp / "onnx", "fp32")
    domains, frames, texts = _inputs()
    with_picture = emb.embed("page", frames[0], texts[0])
    q = emb.embed_text(texts[0])
    assert np.abs(q - with_picture.text).max() < 1e-5
    assert float(q @ emb.embed_text(texts[2])) < 0.999  # and it does depend on the words
