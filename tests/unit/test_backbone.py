"""The pretrained visual tower: EfficientNet-Lite0 code and weights, attention pooling, frame fits,
augmentations, the frozen-feature cache of partial fine-tuning, ONNX export.

Tests that load the 18 MB ImageNet weights or export ONNX are marked ``models``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ampere_train.data import augment_frames, blur, colour_shift, small_product
from encoders.backbone import LITE0_BLOCKS, AttentionPool, EfficientNetLite, load_lite_state
from encoders.config import ModelConfig, load_config
from encoders.frames import fit_square
from encoders.model import AmpereModel

# a Lite0 tower small enough for CPU tests: 64 px maps to 2x2, two frames per clip
LITE = dict(
    visual_backbone="efficientnet_lite0",
    visual_pool="attention",
    visual_trainable_blocks=2,
    image_size=64,
    frames=2,
    visual_cache_views=2,
)


def _photo() -> Path | None:
    """Grace Hopper in uniform, shipped with matplotlib (ImageNet class 652, military uniform)."""
    try:
        import matplotlib
    except ImportError:
        return None
    p = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return p if p.is_file() else None


@pytest.fixture(scope="module")
def random_lite_weights(tmp_path_factory):
    """A Lite0 state dict of random weights, as a user's local backbone file (no 18 MB download needed)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lite") / "my-lite0.pth"
    torch.save(EfficientNetLite().state_dict(), path)
    return path


# --- config


def test_configs_validate_backbone_keys():
    cfg = load_config("ampere-lite0")
    assert (cfg.visual_backbone, cfg.visual_pool, cfg.image_fit, cfg.image_size, cfg.visual_zoom) == (
        "efficientnet_lite0",
        "mean",
        "squash",
        448,
        0.45,
    )
    assert cfg.backbone_size == 224  # the backbone sees the halved frame or the zoom square
    assert load_config("ampere-small").visual_backbone == "cnn"  # the shipped model keeps its defaults
    with pytest.raises(ValueError, match="divisible by 32"):
        ModelConfig(visual_backbone="efficientnet_lite0", image_size=100)
    with pytest.raises(ValueError, match="visual_backbone"):
        ModelConfig(visual_backbone="resnet")
    with pytest.raises(ValueError, match="visual_pool"):
        ModelConfig(visual_pool="max")
    with pytest.raises(ValueError, match="visual_trainable_blocks"):
        ModelConfig(visual_backbone="efficientnet_lite0", visual_trainable_blocks=17)


# --- backbone


@pytest.mark.models
def test_imagenet_weights_load_strictly_and_classify_a_photo():
    from PIL import Image

    from encoders.backbone import NORMALISATION, lite0_weights_path

    model = EfficientNetLite()
    load_lite_state(model)  # strict=True inside: every key of the file but the classifier fits
    model.eval()
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        fmap = model(x)
        assert fmap.shape == (2, 1280, 7, 7)
        assert model(torch.rand(1, 3, 160, 160)).shape == (1, 1280, 5, 5)
        for n in (0, 11, 14, LITE0_BLOCKS):
            low = model.lower(x, n)
            assert low.shape[1:] == model.lower_shape(n, 224)
            assert torch.allclose(model.upper(low, n), fmap, atol=1e-5)
    photo = _photo()
    if photo is None:
        pytest.skip("matplotlib's sample photo is not installed")
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALISATION["efficientnet_lite0"])
    img = torch.from_numpy(fit_square(np.asarray(Image.open(photo).convert("RGB")), 224, "crop").copy())
    img = img.permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        logits = torch.nn.functional.linear(
            model((img - mean) / std).mean(dim=(2, 3)), state["_fc.weight"], state["_fc.bias"]
        )
    assert int(logits.argmax()) == 652  # military uniform: weights, padding and normalisation all right


@pytest.mark.models
def test_our_lite0_code_matches_the_pypi_package():
    ref_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    from encoders.backbone import lite0_weights_path

    ref = ref_pkg.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite0_weights_path())).eval()
    ours = EfficientNetLite()
    load_lite_state(ours)
    ours.eval()
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(ref.extract_features(x), ours(x), atol=1e-5)


def test_local_backbone_file_loads_and_bad_one_is_refused(random_lite_weights, tmp_path):
    cfg = ModelConfig(**{**LITE, "visual_pretrained": str(random_lite_weights)})
    model = AmpereModel(cfg, load_text=False)
    want = torch.load(random_lite_weights, weights_only=True)
    assert torch.equal(model.visual.body._conv_head.weight, want["_conv_head.weight"])
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="EfficientNet-Lite0"):
        AmpereModel(cfg.replace(visual_pretrained=str(tmp_path / "bad.pth")), load_text=False)


def test_partial_fine_tuning_freezes_the_lower_blocks_and_their_batch_norm(random_lite_weights):
    model = AmpereModel(ModelConfig(**{**LITE, "visual_pretrained": str(random_lite_weights)}), load_text=False)
    vis = model.visual
    assert vis.split == LITE0_BLOCKS - 2
    trainable = {".".join(n.split(".")[:2]) for n, p in vis.body.named_parameters() if p.requires_grad}
    assert trainable == {"_blocks.14", "_blocks.15", "_conv_head.weight", "_bn1.weight", "_bn1.bias"}
    assert all(p.requires_grad for p in vis.pool.parameters())
    model.train()
    assert not any(m.training for m in vis.body.modules() if isinstance(m, torch.nn.BatchNorm2d))
    x = torch.rand(3, 2, 3, 64, 64)
    with torch.no_grad():
        low = vis.lower(x.reshape(6, 3, 64, 64))
        assert torch.allclose(vis.from_lower(low.reshape(3, 2, *low.shape[1:])), vis(x), atol=1e-5)


# --- attention pooling


def test_attention_pool_starts_as_mean_and_weights_sum_to_one():
    pool = AttentionPool(16, hidden=8)
    fmap = torch.randn(5, 16, 3, 4)
    w = pool.weights(fmap)
    assert w.shape == (5, 3, 4) and torch.allclose(w.sum(dim=(1, 2)), torch.ones(5))
    assert torch.allclose(pool(fmap), fmap.mean(dim=(2, 3)), atol=1e-6)  # zero-initialised score
    torch.nn.init.normal_(pool.score[-1].weight)
    w = pool.weights(fmap)
    assert torch.allclose(w.sum(dim=(1, 2)), torch.ones(5), atol=1e-6) and not torch.allclose(
        w, torch.full_like(w, 1 / 12)
    )


def test_attention_pool_moves_to_a_planted_salient_patch():
    """Toy maps: one random position holds the class's pattern, the others clutter. Trained to classify,
    the pool must put its weight where the pattern is (uniform weight would be 1/36 there)."""
    g = torch.Generator().manual_seed(0)
    c, side, n_cls = 16, 6, 4
    protos = torch.nn.functional.normalize(torch.randn(n_cls, c, generator=g), dim=1) * 3

    def batch(n):
        y = torch.randint(n_cls, (n,), generator=g)
        fmap = torch.randn(n, c, side * side, generator=g)
        pos = torch.randint(side * side, (n,), generator=g)
        fmap[torch.arange(n), :, pos] = protos[y] + 0.3 * torch.randn(n, c, generator=g)
        return fmap.reshape(n, c, side, side), y, pos

    torch.manual_seed(0)
    pool, clf = AttentionPool(c, hidden=16), torch.nn.Linear(c, n_cls)
    opt = torch.optim.Adam([*pool.parameters(), *clf.parameters()], lr=1e-2)
    for _ in range(150):
        fmap, y, _ = batch(64)
        loss = torch.nn.functional.cross_entropy(clf(pool(fmap)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    fmap, y, pos = batch(256)
    with torch.no_grad():
        w = pool.weights(fmap).reshape(256, -1)
    on_patch = w[torch.arange(256), pos]
    assert on_patch.mean() > 0.5, float(on_patch.mean())
    assert (w.argmax(dim=1) == pos).float().mean() > 0.9


# --- frame fits (training and serving square frames the same way)


def test_fit_square_modes_on_a_wide_frame():
    frame = np.zeros((36, 64, 3), np.uint8)
    frame[:, 14:50] = 200  # the centre square is bright, the sides dark
    crop = fit_square(frame, 18, "crop")
    assert crop.shape == (18, 18, 3) and crop.min() >= 190
    pad = fit_square(frame, 32, "pad")
    assert (pad[:4] == 127).all() and (pad[-4:] == 127).all() and pad[16, 0].max() == 0
    squash = fit_square(frame, 32, "squash")
    assert squash[16, 0].max() == 0 and squash[16, 16].min() >= 190
    square = np.full((20, 20, 3), 9, np.uint8)
    assert all((fit_square(square, 10, f) == 9).all() for f in ("squash", "crop", "pad"))
    with pytest.raises(ValueError, match="fit"):
        fit_square(frame, 16, "stretch")


# --- augmentations


def _cfg(**kw):
    return ModelConfig(**{**LITE, **kw})


def test_augmentations_keep_shape_range_and_clip_coherence():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32)
    x = x.repeat_interleave(2, dim=0)  # 4 clips of 2 identical frames
    for fn in (small_product, colour_shift, blur):
        y = fn(x, 1.0, generator=g, group=2)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1 + 1e-6
        assert not torch.allclose(y, x)
        assert torch.allclose(y[0::2], y[1::2])  # one draw per clip
    y = augment_frames(x, _cfg(augment_small_product=0.5, augment_blur=0.5, augment_colour=0.5), g, group=2)
    assert y.shape == x.shape and torch.allclose(y[0::2], y[1::2], atol=1e-6)


def test_small_product_pastes_the_whole_picture_smaller():
    x = torch.zeros(2, 3, 32, 32)
    x[0] = 1.0  # a white picture pasted on clutter made of the black one
    y = small_product(x, 1.0, scale=(0.5, 0.5), generator=torch.Generator().manual_seed(0), group=1)
    assert abs(float(y[0].mean()) - 0.25) < 0.05  # a box of half the side: a quarter of the area


def test_augmentations_off_draw_nothing():
    """Configs without the new augmentations (the shipped model) keep their random stream."""
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 16, 16)
    from ampere_train.data import random_resized_crop_flip

    a = augment_frames(x, ModelConfig(), g1, group=2)
    b = random_resized_crop_flip(x, (0.64, 1.0), generator=g2, group=2)
    assert torch.equal(a, b) and torch.equal(g1.get_state(), g2.get_state())


# --- training: frozen-feature cache, then only the top blocks run


def test_train_with_lower_feature_cache(random_lite_weights, tmp_path):
    from ampere_train.fake_data import make_fake_dataset
    from ampere_train.train import train
    from encoders.model import load_checkpoint
    from encoders.runtime import TorchEmbedder

    ds = make_fake_dataset(tmp_path / "fake", n_products=6)
    cfg = ModelConfig(
        **{
            **LITE,
            "visual_pretrained": str(random_lite_weights),
            "epochs": 2,
            "batch_size": 4,
            "augment_small_product": 0.3,
            "augment_blur": 0.3,
            "augment_colour": 0.5,
        }
    )
    logs: list[str] = []
    ckpt = train(ds, cfg, tmp_path / "run", text_mode="script", seed=0, progress=logs.append)
    caches = sorted(p.name for p in (ds / "cache" / "encoders").glob("lower-*.npy"))
    assert {c.split("-")[1] for c in caches} == {"train", "val"} and len(caches) == 6
    train_page = next((ds / "cache" / "encoders").glob("lower-train-page-*.npy"))
    arr = np.load(train_page, mmap_mode="r")
    assert arr.dtype == np.float16 and arr.shape[0] == 2 and arr.shape[2:] == (1, 192, 2, 2)
    assert not np.array_equal(arr[0], arr[1])  # two different augmented views
    assert any("cached" in m for m in logs)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 2 and "mean" in metrics["val"]
    # the checkpoint brings the backbone: loading needs no weights file and matches the trained model
    model = load_checkpoint(ckpt, load_text=False)
    assert model.cfg.visual_backbone == "efficientnet_lite0" and model.visual.pool is not None
    emb = TorchEmbedder(load_checkpoint(ckpt))
    wide = np.random.default_rng(0).integers(0, 255, (36, 64, 3), dtype=np.uint8)
    assert abs(np.linalg.norm(emb.embed("live", [wide] * 3, "a mug").visual) - 1) < 1e-4
    # a second run reuses the cache (same files, nothing recomputed)
    logs2: list[str] = []
    train(ds, cfg, tmp_path / "run2", text_mode="script", seed=0, progress=logs2.append)
    assert not any(m.startswith("lower features") for m in logs2)
    assert sorted(p.name for p in (ds / "cache" / "encoders").glob("lower-*.npy")) == caches


# --- ONNX


@pytest.mark.models
def test_onnx_export_with_the_backbone_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    from ampere_train.export import export_onnx
    from encoders.model import save_checkpoint
    from encoders.runtime import Embedder, TorchEmbedder

    torch.manual_seed(0)
    model = AmpereModel(ModelConfig(**LITE))  # ImageNet backbone, real MiniLM
    torch.nn.init.normal_(model.visual.pool.score[-1].weight, std=0.5)  # a pool that is not uniform
    ckpt = save_checkpoint(model, tmp_path / "run" / "model.pt")
    manifest = export_onnx(ckpt, tmp_path / "onnx", int8=True)
    assert manifest["inputs"][2]["fit"] == "squash"
    rng = np.random.default_rng(0)
    frames = [[rng.integers(0, 256, (48 + 8 * i, 80, 3), dtype=np.uint8) for _ in range(1 + i)] for i in range(3)]
    args = (["page", "video", "live"], frames, ["red mug", "", "blue sneaker 42"])
    ref = TorchEmbedder.load(ckpt).embed_batch(*args)
    fp32 = Embedder.load(tmp_path / "onnx", "fp32").embed_batch(*args)
    int8 = Embedder.load(tmp_path / "onnx", "int8").embed_batch(*args)
    for r, a, q in zip(ref, fp32, int8):
        assert np.abs(r.visual - a.visual).max() < 1e-4 and np.abs(r.fused - a.fused).max() < 1e-4
        assert float(a.visual @ q.visual) > 0.999  # int8 leaves the convolutions in fp32
