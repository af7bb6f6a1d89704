"""Product-region focus of the visual tower: the generator's boxes in square frames, box masks through the
training augmentations, the attention box loss, group R@1, the ONNX-computed lower-feature cache, and
training with the box loss (fake data with boxes). No real weights: random Lite0 weights stand in."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ampere_train.data import (
    augment_frames,
    box_cover,
    box_masks,
    live_boxes,
    load_split,
    product_groups,
    random_resized_crop_flip,
    small_product,
)
from ampere_train.evaluate import evaluate, group_top1
from encoders.backbone import EfficientNetLite
from encoders.config import ModelConfig
from encoders.frames import fit_box
from encoders.loss import box_attention_loss

LITE = dict(
    visual_backbone="efficientnet_lite0",
    visual_pool="attention",
    visual_trainable_blocks=2,
    image_size=64,
    frames=2,
    visual_cache_views=2,
)


@pytest.fixture(scope="module")
def random_lite_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lite") / "my-lite0.pth"
    torch.save(EfficientNetLite().state_dict(), path)
    return path


def _fake_with_boxes(root: Path, n_products: int = 6, val_live: bool = True) -> Path:
    """The fake dataset, its live stream given a box per 0.5 s (a square in the middle of the frame, none
    in the first second) and the frame size, as generator v2 writes them."""
    from ampere_train.fake_data import make_fake_dataset

    ds = make_fake_dataset(root, n_products=n_products)
    live = [json.loads(line) for line in (ds / "live.jsonl").read_text().splitlines()]
    for s in live:
        s["size"] = [64, 64]
        steps = int(s["duration"] * 2) + 1
        s["boxes"] = [
            [i / 2, None, None, None, None] if i < 2 else [i / 2, 0.25, 0.25, 0.75, 0.75] for i in range(steps)
        ]
    (ds / "live.jsonl").write_text("".join(json.dumps(s) + "\n" for s in live))
    if not val_live:
        splits = {
            json.loads(p)["product_id"]: json.loads(p)["split"]
            for p in (ds / "products.jsonl").read_text().splitlines()
        }
        wins = [json.loads(w) for w in (ds / "windows.jsonl").read_text().splitlines()]
        (ds / "windows.jsonl").write_text(
            "".join(json.dumps(w) + "\n" for w in wins if splits[w["product_id"]] != "val")
        )
    return ds


# --- boxes in square frames


def test_fit_box_follows_each_fit():
    wide = (640, 360)
    box = (0.42, 0.55, 0.56, 0.69)
    assert fit_box(box, *wide, "squash") == pytest.approx(box)
    # crop: the centre 360x360 of 640 starts at x = 140
    assert fit_box(box, *wide, "crop") == pytest.approx(
        ((0.42 * 640 - 140) / 360, 0.55, (0.56 * 640 - 140) / 360, 0.69)
    )
    # pad: the frame sits 140 px down in a 640x640 square
    assert fit_box(box, *wide, "pad") == pytest.approx((0.42, (0.55 * 360 + 140) / 640, 0.56, (0.69 * 360 + 140) / 640))
    assert fit_box((0.9, 0.4, 1.0, 0.5), *wide, "crop") is None  # held at the edge: cut off by the crop
    assert fit_box((0.7, 0.4, 0.9, 0.5), *wide, "crop") == pytest.approx((((0.7 * 640) - 140) / 360, 0.4, 1.0, 0.5))
    assert (
        fit_box([None] * 4, *wide) is None
        and fit_box((math.nan, 0, 1, 1), *wide) is None
        and fit_box(None, 9, 9) is None
    )
    with pytest.raises(ValueError, match="fit"):
        fit_box(box, *wide, "stretch")


def test_live_boxes_from_the_truth_and_split_carries_them(tmp_path):
    ds = _fake_with_boxes(tmp_path / "fake")
    split = load_split(ds, "train", 2, 32, "script", cache=False)
    boxes = split.domains["live"].boxes
    assert boxes.shape == (len(split.domains["live"].items), 2, 4) and boxes.dtype == np.float32
    assert split.domains["page"].boxes is None and split.domains["video"].boxes is None
    first = [i for i, it in enumerate(split.domains["live"].items) if it.start == 0.0][0]
    # the first window of the stream: its first frame (t = 0.5 s) has no box, the second (1.5 s) has one
    assert np.isnan(boxes[first, 0]).all() and boxes[first, 1] == pytest.approx([0.25, 0.25, 0.75, 0.75])
    items = split.domains["live"].items
    assert live_boxes(ds, items, 2, "crop").shape == boxes.shape
    assert product_groups(ds)["p000"] == "g0"


# --- masks through the augmentations


def test_box_masks_shape_and_content():
    m = box_masks([[0.25, 0.5, 0.75, 1.0], [math.nan] * 4], 8)
    assert m.shape == (2, 1, 8, 8) and m.dtype == torch.float32
    assert m[0, 0, 4:, 2:6].eq(1).all() and m[0].sum() == 16 and m[1].sum() == 0
    cover = box_cover(m, 2, 2)
    assert cover.shape == (2, 2, 2) and cover[0].tolist() == [[0.0, 0.0], [0.5, 0.5]]


def _boxed_clips(n: int = 3, k: int = 2, size: int = 32):
    """Clips whose pixels are white exactly where their box mask is: after a geometric augmentation the
    mask must still be where the white is."""
    g = np.random.default_rng(0)
    boxes = []
    for _ in range(n):
        x0, y0 = g.uniform(0, 0.5, 2)
        boxes += [[x0, y0, x0 + 0.4, y0 + 0.4]] * k
    masks = box_masks(boxes, size)
    return masks.repeat(1, 3, 1, 1).clone(), masks


def test_geometric_augmentations_move_masks_with_the_pixels():
    x, masks = _boxed_clips()
    for seed in range(3):
        y, m = random_resized_crop_flip(
            x, (0.5, 1.0), generator=torch.Generator().manual_seed(seed), group=2, masks=masks
        )
        assert m.shape == masks.shape and torch.allclose(y[:, :1], m, atol=1e-5)
        assert torch.allclose(m[0::2], m[1::2])  # one crop per clip
    y, m = small_product(x, 1.0, scale=(0.5, 0.5), generator=torch.Generator().manual_seed(0), group=2, masks=masks)
    # the mask shrinks to a quarter of its area with its picture; the clutter brings none
    assert torch.allclose(m.sum(dim=(1, 2, 3)), masks.sum(dim=(1, 2, 3)) / 4, rtol=0.1)
    inside = m > 0.99
    assert (y[:, :1][inside] > 0.99).all()


def test_augment_frames_with_masks_is_deterministic_and_leaves_pixels_alone():
    cfg = ModelConfig(**{**LITE, "augment_small_product": 0.5, "augment_blur": 0.5, "augment_colour": 0.5})
    x, masks = _boxed_clips(4)
    g1, g2, g3 = (torch.Generator().manual_seed(5) for _ in range(3))
    y1, m1 = augment_frames(x, cfg, g1, group=2, masks=masks)
    y2, m2 = augment_frames(x, cfg, g2, group=2, masks=masks)
    y3 = augment_frames(x, cfg, g3, group=2)
    assert torch.equal(y1, y2) and torch.equal(m1, m2)  # same seed, same views
    assert torch.equal(y1, y3) and torch.equal(g1.get_state(), g3.get_state())  # masks draw nothing
    assert m1.shape == masks.shape and float(m1.min()) >= 0 and float(m1.max()) <= 1 + 1e-6
    # the replay of the cache: zeros for pixels give the same masks
    _, m4 = augment_frames(torch.zeros_like(x), cfg, torch.Generator().manual_seed(5), group=2, masks=masks)
    assert torch.equal(m1, m4)


# --- the box loss and group R@1


def test_box_attention_loss_prefers_attention_on_the_box():
    cover = torch.zeros(3, 4, 4)
    cover[0, 1, 1] = 1.0
    cover[1, 2:, 2:] = 0.5  # frame 2 has no box: left out
    uniform = torch.full((3, 4, 4), 1 / 16)
    on_box = uniform.clone()
    on_box[0] = 0.01
    on_box[0, 1, 1] = 1 - 0.15
    on_box[1] = 0.0
    on_box[1, 2:, 2:] = 0.25
    lu, lb = box_attention_loss(uniform, cover), box_attention_loss(on_box, cover)
    assert float(lb) < float(lu) and float(lu) == pytest.approx(math.log(16), rel=1e-5)
    assert box_attention_loss(uniform, torch.zeros(2, 4, 4)) is None


def test_group_r1_counts_the_right_group():
    q = np.eye(3, dtype=np.float32)
    g = np.eye(3, dtype=np.float32)[[1, 0, 2]]  # query 0's top item is product b (same group), 1's is a
    groups = {"a": "g1", "b": "g1", "c": "g2"}
    assert group_top1(q, g, ["a", "b", "c"], ["a", "b", "c"], groups).tolist() == [True, True, True]
    g2 = np.eye(3, dtype=np.float32)[[2, 1, 0]]  # query 0's top item is c: another group
    assert group_top1(q, g2, ["a", "b", "c"], ["a", "b", "c"], groups).tolist() == [False, True, False]
    res = evaluate({"live": q, "page": g}, {"live": ["a", "b", "c"], "page": ["a", "b", "c"]}, groups)
    assert res["directions"]["L->P"]["R@1"] == pytest.approx(1 / 3)
    assert res["directions"]["L->P"]["group_R@1"] == 1.0 and "group_R@1" in res["mean"]
    assert "group_R@1" not in evaluate({"live": q, "page": g}, {"live": list("abc"), "page": list("abc")})["mean"]


# --- ONNX lower blocks and training with the box loss


def test_lower_runner_onnx_matches_torch(random_lite_weights):
    pytest.importorskip("onnxruntime")
    from ampere_train.train import LowerRunner
    from encoders.model import AmpereModel

    model = AmpereModel(ModelConfig(**{**LITE, "visual_pretrained": str(random_lite_weights)}), load_text=False).eval()
    runner = LowerRunner(model.visual, 64)
    assert runner.backend == "onnxruntime"
    x = torch.rand(5, 3, 64, 64)
    with torch.no_grad():
        ref = model.visual.lower(x).numpy()
    assert np.abs(runner(x) - ref).max() < 1e-3 * max(1.0, float(np.abs(ref).max()))
    assert LowerRunner(model.visual, 64, use_onnx=False).backend == "torch"


def test_train_with_box_loss_and_cover_cache(random_lite_weights, tmp_path):
    from ampere_train.train import box_cover_cache, train
    from encoders.model import AmpereModel

    ds = _fake_with_boxes(tmp_path / "fake")
    cfg = ModelConfig(
        **{
            **LITE,
            "visual_pretrained": str(random_lite_weights),
            "epochs": 2,
            "batch_size": 4,
            "visual_box_loss": 1.0,
            "augment_small_product": 0.3,
        }
    )
    logs: list[str] = []
    train(ds, cfg, tmp_path / "run", text_mode="script", seed=0, progress=logs.append)
    assert any("(box " in m for m in logs), logs
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "group_R@1" in metrics["val"]["mean"]
    covers = list((ds / "cache" / "encoders").glob("cover-train-live-*.npy"))
    assert len(covers) == 1
    made = np.load(covers[0])
    # the replay (no cover on disk yet) gives the cover the feature pass wrote
    model = AmpereModel(cfg, load_text=False)
    split = load_split(ds, "train", cfg.frames, cfg.image_size, "script", fit=cfg.image_fit)
    replay = box_cover_cache(model, split, None, cfg.visual_cache_views, True, 0)["live"]
    assert replay.shape == made.shape and np.allclose(replay, made, atol=1e-3)
    assert made.shape[-2:] == (2, 2) and made.max() > 0
    with pytest.raises(ValueError, match="visual_box_loss"):
        ModelConfig(visual_box_loss=1.0, visual_pool="mean")


def test_train_without_val_live_windows_skips_the_grid(tmp_path):
    """Small presets can leave the val products off air: training must still finish, with a note. (The small
    CNN with an attention pool and the box loss: the path without a feature cache, masks augmented per step.)"""
    ds = _fake_with_boxes(tmp_path / "fake", val_live=False)
    cfg = ModelConfig(
        image_size=32,
        frames=2,
        epochs=2,
        batch_size=4,
        visual_channels=[8, 16],
        visual_blocks=[1, 1],
        modality="visual",
        text_ngram_dim=0,
        visual_pool="attention",
        visual_box_loss=0.5,
    )
    from ampere_train.train import train

    logs: list[str] = []
    ckpt = train(ds, cfg, tmp_path / "run", text_mode="script", modality="visual", seed=0, progress=logs.append)
    assert ckpt.is_file() and not (tmp_path / "run" / "retrieval.png").exists()
    assert any("no retrieval grid" in m for m in logs)
    assert any("(box " in m for m in logs), logs


# --- zoom on the product (encoders/zoom.py)


def test_zoom_crop_halve_and_locate():
    from encoders.zoom import box_centres, halve, locate, zoom_crop

    x = torch.rand(3, 3, 16, 16)
    # the whole frame resampled to half its side is the 2x2 mean: the identity crop and halve agree
    full = zoom_crop(x, torch.full((3,), 0.5), torch.full((3,), 0.5), 1.0, 1.0, 8)
    assert torch.allclose(full, halve(x), atol=1e-6)
    # a quarter-side square at the top-left corner is those pixels, upsampled
    tl = zoom_crop(x, torch.zeros(3), torch.zeros(3), 0.25, 0.25, 4)  # centre clamped into the frame
    assert torch.allclose(tl, x[:, :, :4, :4], atol=1e-6)
    w = torch.zeros(2, 4, 8)
    w[0, 1, 6] = 1.0
    w[1, 3, 0] = 1.0
    cx, cy = locate(w)
    assert cx.tolist() == pytest.approx([6.5 / 8, 0.5 / 8]) and cy.tolist() == pytest.approx([1.5 / 4, 3.5 / 4])
    assert np.allclose(box_centres([[0.2, 0.4, 0.4, 0.8], [math.nan] * 4]).numpy(), [[0.3, 0.6], [0.5, 0.5]])


ZOOM = dict(LITE, image_size=128, image_fit="squash", visual_zoom=0.5, visual_box_loss=1.0, visual_pool="mean")


def test_zoom_config_checks():
    cfg = ModelConfig(**ZOOM)
    assert cfg.backbone_size == 64 and ModelConfig(**LITE).backbone_size == 64
    for bad in (
        dict(image_fit="crop"),
        dict(image_size=96),
        dict(visual_box_loss=0.0),
        dict(visual_zoom=1.5),
        dict(visual_trainable_blocks=-1),
        dict(visual_backbone="cnn"),
    ):
        with pytest.raises(ValueError, match="visual_zoom"):
            ModelConfig(**{**ZOOM, **bad})


def test_zoom_tower_zooms_live_rows_only_and_exports(random_lite_weights, tmp_path):
    pytest.importorskip("onnxruntime")
    from ampere_train.export import export_visual, onnx_session
    from encoders.model import AmpereModel
    from encoders.zoom import halve

    torch.manual_seed(0)
    model = AmpereModel(ModelConfig(**{**ZOOM, "visual_pretrained": str(random_lite_weights)}), load_text=False).eval()
    torch.nn.init.normal_(model.visual.locator.score[-1].weight, std=0.5)  # a locator that picks a cell
    vis = model.visual
    frames = torch.rand(3, 2, 3, 128, 128)
    dom = torch.tensor([0, 2, 1])  # page, live, video
    with torch.no_grad():
        out = vis(frames, dom)
        whole = vis.from_lower(vis.lower(halve(frames.reshape(6, 3, 128, 128))).reshape(3, 2, -1, 2, 2))
        zoomed = vis(frames[1:2], None)
    assert out.shape == (3, vis.out_dim)
    # random weights give tiny activations: compare directions
    out, whole, zoomed = (torch.nn.functional.normalize(t, dim=-1) for t in (out, whole, zoomed))
    assert torch.allclose(out[[0, 2]], whole[[0, 2]], atol=1e-4)  # page and video: described whole
    assert float(out[1] @ whole[1]) < 0.999 and torch.allclose(out[1], zoomed[0], atol=1e-4)
    # the product-in-frame score: the locator's peak cell logit, the best of the row's frames
    with torch.no_grad():
        same, presence = vis(frames, dom, with_presence=True)
        fmap = vis.feature_map(halve(frames.reshape(6, 3, 128, 128)))
        peak = vis.locator.score(fmap).reshape(6, -1).max(dim=1)[0].reshape(3, 2).max(dim=1)[0]
    assert presence.shape == (3,) and torch.allclose(presence, peak, atol=1e-5)
    assert torch.allclose(torch.nn.functional.normalize(same, dim=-1), out, atol=1e-6)
    # the visual-only graph (export.py) takes every row for a live window: ONNX == torch
    path = export_visual(model, tmp_path / "v.onnx")
    u8 = (torch.rand(2, 2, 128, 128, 3) * 255).to(torch.uint8)
    got = onnx_session(path).run(None, {"frames": u8.numpy(), "domain": np.array([2, 2])})[0]
    with torch.no_grad():
        x = u8.permute(0, 1, 4, 2, 3).float() / 255
        ref = torch.nn.functional.normalize(model.visual_head(vis(x), torch.tensor([2, 2])), dim=-1).numpy()
    assert np.abs(got - ref).max() < 1e-4


def test_train_with_zoom(random_lite_weights, tmp_path):
    from ampere_train.train import train
    from encoders.model import load_checkpoint
    from encoders.runtime import TorchEmbedder

    ds = _fake_with_boxes(tmp_path / "fake")
    cfg = ModelConfig(**{**ZOOM, "visual_pretrained": str(random_lite_weights), "epochs": 2, "batch_size": 4})
    logs: list[str] = []
    ckpt = train(ds, cfg, tmp_path / "run", text_mode="script", seed=0, progress=logs.append)
    assert any("zoomed live squares" in m for m in logs) and any("(box " in m for m in logs), logs
    zoom = list((ds / "cache" / "encoders").glob("zoom-train-live-*.npy"))
    assert len(zoom) == 1 and np.load(zoom[0], mmap_mode="r").shape[:3] == (2, 8, 2)  # 2 views, 4 products x 2 windows
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "L->P" in metrics["val"]["directions"]
    model = load_checkpoint(ckpt, load_text=False)
    assert model.visual.locator is not None and model.cfg.backbone_size == 64
    emb = TorchEmbedder(load_checkpoint(ckpt))
    wide = np.random.default_rng(0).integers(0, 255, (36, 64, 3), dtype=np.uint8)
    assert emb.image_size == 128
    ref = emb.embed("live", [wide] * 3, "a mug")
    assert abs(np.linalg.norm(ref.visual) - 1) < 1e-4
    # the export carries the product-in-frame score, equal to torch's
    from ampere_train.export import export_onnx
    from encoders.runtime import Embedder

    manifest = export_onnx(ckpt, tmp_path / "onnx", int8=False)
    assert {"name": "presence", "available": True}.items() <= manifest["outputs"][-1].items()
    got = Embedder.load(tmp_path / "onnx", "fp32").embed("live", [wide] * 3, "a mug")
    assert ref.presence is not None and got.presence is not None and abs(got.presence - ref.presence) < 1e-3
    # one picture runs as one frame, not as K copies of it (an image query, a catalogue page): same embedding
    onnx_emb = Embedder.load(tmp_path / "onnx", "fp32")
    assert onnx_emb.frames_needed(1) == 1 and onnx_emb.frames_needed(2) == onnx_emb.frames_needed(4) == onnx_emb.k
    for e in (emb, onnx_emb):
        for domain in ("page", "live"):
            one, k_copies = e.embed_batch([domain, domain], [[wide], [wide] * e.k], ["a mug", "a mug"])
            assert np.abs(one.visual - k_copies.visual).max() < 1e-4, (type(e).__name__, domain)
            assert np.abs(one.fused - k_copies.fused).max() < 1e-4
            assert one.presence is not None and abs(one.presence - (k_copies.presence or 0.0)) < 1e-4
