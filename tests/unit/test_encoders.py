"""Unit tests for the AMPere encoders: config, model, loss, metrics, data, training, runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ampere_train.data import list_items, load_split, random_resized_crop_flip
from ampere_train.evaluate import evaluate, first_hit_ranks, format_table
from ampere_train.fake_data import make_fake_dataset
from encoders.config import ModelConfig, load_config
from encoders.frames import pick_evenly, segment_centres
from encoders.loss import AmpereLoss, symmetric_infonce
from encoders.model import AmpereModel

SMALL = dict(visual_channels=[8, 16], visual_blocks=[1, 1], image_size=32, frames=2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_fake_dataset(tmp_path_factory.mktemp("fake"), n_products=6)


@pytest.fixture(scope="module")
def text_backbone():
    from encoders.model import load_text_backbone

    return load_text_backbone(ModelConfig())


# --- config


def test_config_loads_and_validates():
    cfg = load_config("ampere-small")
    assert (cfg.embed_dim, cfg.frames, cfg.image_size, cfg.max_tokens) == (128, 4, 96, 48)
    assert (
        cfg.domains == ["page", "video", "live"]
        and cfg.freeze_text
        and cfg.fusion == "sum"
        and cfg.fusion_text_weight == 0.85
    )
    assert load_config("ampere-small", fusion="sum").fusion == "sum"
    with pytest.raises(ValueError, match="modality"):
        load_config("ampere-small", modality="audio")
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"embedding": 3})
    with pytest.raises(FileNotFoundError, match="available"):
        load_config("no-such-config")


# --- model


@pytest.mark.models
def test_model_shapes_norms_and_modalities(text_backbone):
    cfg = ModelConfig(**SMALL)
    model = AmpereModel(cfg, text_backbone=text_backbone).eval()
    from encoders.config import resolve_text_encoder
    from encoders.text import load_tokenizer, tokenize

    enc = tokenize(
        load_tokenizer(str(resolve_text_encoder("minilm"))), ["red mug", "", "blue running shoe"], cfg.max_tokens
    )
    ids, mask = torch.from_numpy(enc["input_ids"]), torch.from_numpy(enc["attention_mask"])
    frames = torch.rand(3, cfg.frames, 3, 32, 32)
    dom = torch.tensor([0, 1, 2])
    with torch.no_grad():
        fused, text, visual = model(ids, mask, frames, dom)
    for x in (fused, text, visual):
        assert x.shape == (3, 128)
        assert torch.allclose(x.norm(dim=-1), torch.ones(3), atol=1e-5)
    # the domain picks the head: same inputs, other domain -> other embedding (heads start equal)
    with torch.no_grad():
        model.text_head.heads[1].weight.add_(0.1 * torch.randn_like(model.text_head.heads[1].weight))
        _, text2, _ = model(ids, mask, frames, torch.tensor([1, 1, 2]))
    assert not torch.allclose(text[0], text2[0]) and torch.allclose(text[2], text2[2])
    # a page repeated K times pools to its single-image features
    with torch.no_grad():
        one = model.visual(frames[:1, :1])
        rep = model.visual(frames[:1, :1].expand(1, cfg.frames, 3, 32, 32))
    assert torch.allclose(one, rep, atol=1e-5)
    # modality switch: visual-only fused == visual; text-only fused == text
    model.cfg = cfg.replace(modality="visual")
    with torch.no_grad():
        f, t, v = model(ids, mask, frames, dom)
    assert torch.allclose(f, v)
    model.cfg = cfg.replace(modality="text")
    with torch.no_grad():
        f, t, v = model(ids, mask, frames, dom)
    assert torch.allclose(f, t)


# --- loss


def test_infonce_lower_for_matched_pairs():
    g = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(16, 32, generator=g), dim=-1)
    b = torch.nn.functional.normalize(a + 0.1 * torch.randn(16, 32, generator=g), dim=-1)
    scale = torch.tensor(20.0)
    matched = symmetric_infonce(a, b, scale)
    shuffled = symmetric_infonce(a, b[torch.randperm(16, generator=g)], scale)
    assert matched < 0.5 * shuffled
    # label smoothing keeps a floor above zero even for perfect pairs
    assert symmetric_infonce(a, a, torch.tensor(100.0), 0.1) > 0.1


def test_loss_decreases_on_tiny_batch():
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL)
    model = AmpereModel(cfg, load_text=False)
    loss_fn = AmpereLoss(cfg.label_smoothing, "both")
    b = 8
    tf = torch.nn.functional.normalize(torch.randn(b, cfg.text_dim), dim=-1)
    frames = {d: torch.rand(b, cfg.frames, 3, 32, 32) for d in ("page", "video", "live")}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    losses, terms = [], {}
    for _ in range(25):
        out = {
            d: model.embed_from_features(tf, model.visual(frames[d]), torch.full((b,), i, dtype=torch.long))
            for i, d in enumerate(("page", "video", "live"))
        }
        loss, terms = loss_fn(out, model.logit_scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert len(terms) == 12  # 3 within-domain text<->visual + 3 pairs x (fused, text, visual)
    assert losses[-1] < 0.6 * losses[0]
    assert set(AmpereLoss(0.1, "visual")(out, model.logit_scale)[1]) == {"v_pv", "v_pl", "v_vl"}


def test_loss_pairs_rows_by_product_when_a_domain_is_missing():
    g = torch.Generator().manual_seed(0)
    base = torch.nn.functional.normalize(torch.randn(6, 16, generator=g), dim=-1)
    trip = lambda x: (x, x, x)
    # live exists for products 1, 3, 4 only; its rows come in that order
    out = {"page": trip(base), "video": trip(base), "live": trip(base[[1, 3, 4]])}
    rows = {"page": list(range(6)), "video": list(range(6)), "live": [1, 3, 4]}
    fn = AmpereLoss(0.0, "visual")
    scale = torch.tensor(3.0)  # exp -> ~20
    aligned, terms = fn(out, scale, rows)
    assert set(terms) == {"v_pv", "v_pl", "v_vl"}
    # the same live rows declared as other products must cost more
    wrong, _ = fn(out, scale, {**rows, "live": [4, 1, 3]})
    assert aligned < wrong
    with pytest.raises(ValueError, match="rows"):
        fn(out, scale)


# --- metrics


def test_first_hit_ranks_and_recall_on_toy_case():
    # 3 queries, 4 gallery items; query i is closest to gallery item i
    q = np.eye(4, dtype=np.float32)[:3]
    g = np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]], np.float32)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    q_ids = ["a", "b", "c"]
    g_ids = ["a", "x", "c", "b"]  # every query's own item is its nearest neighbour
    ranks = first_hit_ranks(q, g, q_ids, g_ids)
    assert ranks.tolist() == [1, 1, 1]
    g_ids2 = ["x", "a", "y", "b"]  # a's item is the look-alike (0.99) behind x (1.0): rank 2
    ranks2 = first_hit_ranks(q, g, q_ids, g_ids2)
    assert ranks2.tolist() == [2, 1]  # query c has no positive in the gallery: skipped
    embs = {"page": q, "video": g, "live": g}
    ids = {"page": q_ids, "video": g_ids2, "live": g_ids2}
    res = evaluate(embs, ids)
    pv = res["directions"]["P->V"]
    assert pv["R@1"] == pytest.approx(0.5) and pv["R@5"] == 1.0 and pv["median_rank"] == 1.5 and pv["queries"] == 2
    assert set(res["directions"]) == {"P->V", "V->P", "P->L", "L->P", "V->L", "L->V"}
    assert res["directions"]["V->L"]["R@1"] == 1.0  # same embeddings on both sides
    table = format_table(res)
    assert "P->V" in table and "mean" in table and "50.0%" in table


# --- data


def test_frame_sampling_helpers():
    assert segment_centres(0, 8, 4) == [1, 3, 5, 7]
    assert pick_evenly(1, 4) == [0, 0, 0, 0]
    assert pick_evenly(8, 4) == [1, 3, 5, 7]
    with pytest.raises(ValueError):
        pick_evenly(0, 4)


def test_sample_video_frames_picks_nearest_frame(tmp_path):
    from ampere_train.fake_data import _write_mp4
    from encoders.frames import sample_video_frames

    # frame i is uniformly grey level 20*i, 4 fps -> frame times 0, 0.25, ..., 1.75
    _write_mp4(tmp_path / "v.mp4", [np.full((32, 32, 3), 20 * i, np.uint8) for i in range(8)], fps=4)
    out = sample_video_frames(tmp_path / "v.mp4", [1.9, 0.1, 0.6, 5.0], 16)
    assert out.shape == (4, 16, 16, 3)
    levels = out.reshape(4, -1).mean(1) / 20
    assert np.round(levels).tolist() == [7, 0, 2, 7]


def test_load_split_shapes_cache_and_text_modes(dataset):
    split = load_split(dataset, "train", k=2, size=32, text_mode="script")
    assert len(split.domains["page"].items) == 8 and len(split.domains["live"].items) == 8
    assert split.domains["page"].frames.shape == (8, 1, 32, 32, 3)
    assert split.domains["video"].frames.shape == (4, 2, 32, 32, 3)
    assert split.domains["video"].frames.dtype == np.uint8
    assert split.domains["live"].items[0].text.startswith("live now")
    assert list((dataset / "cache" / "encoders").glob("train-video-k2-s32-*.npy"))
    again = load_split(dataset, "train", k=2, size=32, text_mode="script")
    assert np.array_equal(again.domains["live"].frames, split.domains["live"].frames)
    with pytest.raises(FileNotFoundError, match="raw_asr"):
        list_items(dataset, "train", "raw_asr")
    (dataset / "texts").mkdir(exist_ok=True)
    (dataset / "texts" / "summary.jsonl").write_text(json.dumps({"id": "p000-vid0", "text": "circle thing"}) + "\n")
    items, missing = list_items(dataset, "train", "summary")
    assert items["video"][0].text == "circle thing" and missing == 3 + 8
    assert items["page"][0].text.endswith("by brand0")  # pages keep their titles
    none_items, _ = list_items(dataset, "train", "none")
    assert all(it.text == "" for d in none_items.values() for it in d)
    with pytest.raises(ValueError, match="text_mode"):
        list_items(dataset, "train", "ocr")
    with pytest.raises(FileNotFoundError, match="screen.jsonl"):
        list_items(dataset, "train", "summary_screen")
    win = items["live"][0].id
    lines = [
        ["$19.99", 0.9, 0.1, 0.1, 0.4, 0.2, 0.0],
        ["LIVE", 0.9, 0.8, 0.0, 0.9, 0.05, 0.0],  # on every window of every stream: not embedded
        ["kim: is it waterproof?", 0.9, 0.0, 0.8, 0.3, 0.85, 0.0],  # viewers' chat: not the shop's
    ]
    rows = [{"id": win, "lines": lines}]
    (dataset / "texts" / "screen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with_screen, _ = list_items(dataset, "train", "summary_screen")
    live = {it.id: it.text for it in with_screen["live"]}
    assert live[win] == "$19.99"  # no summary for it; only the price line is kept
    assert with_screen["video"][0].text == "circle thing"  # videos show no overlays: their summary alone


def test_augmentation_keeps_shape_and_identity_crop():
    x = torch.rand(6, 3, 16, 16)
    y = random_resized_crop_flip(
        x, scale=(1.0, 1.0), ratio=(1.0, 1.0), generator=torch.Generator().manual_seed(0), group=2
    )
    assert y.shape == x.shape
    for i in range(6):  # full-size crop: identity or a horizontal flip, same for both frames of a clip
        same, flipped = torch.allclose(y[i], x[i], atol=1e-4), torch.allclose(y[i], x[i].flip(-1), atol=1e-4)
        assert same or flipped
    z = random_resized_crop_flip(x, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(z, x)


# --- training + runtime (end to end on the fake dataset)


@pytest.mark.models
def test_train_saves_small_checkpoint_and_torch_embedder_works(dataset, tmp_path):
    from ampere_train.train import train
    from encoders.runtime import TorchEmbedder

    cfg = ModelConfig(**{**SMALL, "epochs": 3, "batch_size": 4})
    logs = []
    ckpt = train(dataset, cfg, tmp_path / "run", text_mode="script", seed=0, progress=logs.append)
    assert ckpt.is_file() and ckpt.stat().st_size < 5e6
    for f in ("config.yaml", "metrics.json", "curve.png"):
        assert (tmp_path / "run" / f).is_file()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 3 and "mean" in metrics["val"]
    emb = TorchEmbedder.load(ckpt)
    rgb = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    e = emb.embed("live", [rgb] * 5, "a red mug")
    assert e.fused.shape == (128,) and e.fused.dtype == np.float32
    assert abs(np.linalg.norm(e.visual) - 1) < 1e-4
    e_empty = emb.embed("page", [rgb], "")
    assert np.isfinite(e_empty.text).all()
    with pytest.raises(ValueError, match="domain"):
        emb.embed("tv", [rgb], "x")
    with pytest.raises(ValueError, match="frame"):
        emb.embed("page", [], "x")
    # same seed -> same weights
    ckpt2 = train(dataset, cfg, tmp_path / "run2", text_mode="script", seed=0, progress=lambda s: None)
    a, b = torch.load(ckpt, weights_only=True)["state"], torch.load(ckpt2, weights_only=True)["state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fast_tokenizer_matches_transformers():
    from encoders.config import resolve_text_encoder
    from encoders.text import load_tokenizer, tokenize

    path = str(resolve_text_encoder("minilm"))
    texts = ["", "Little Trail Jaguar 50 cotton handbag, grey striped, $155!", "so " * 80, "café ÜBER", None]
    for max_tokens in (48, 6):
        a = tokenize(load_tokenizer(path), texts, max_tokens)
        b = tokenize(load_tokenizer(path, fast=False), texts, max_tokens)
        assert a["input_ids"].shape[1] <= max_tokens
        assert all(np.array_equal(a[k], b[k]) for k in ("input_ids", "attention_mask"))
    assert a["input_ids"][2, -1] == 102  # truncation keeps [SEP]


# --- hashed n-gram features (the text branch's second input)


def test_ngram_features_keep_names_and_numbers_apart_and_tolerate_asr_drift():
    from encoders.ngrams import ngram_features

    f = ngram_features(
        [
            "Open Lane Jaguar 50 cotton handbag",
            "openlane jaguar 50 cotton handbag",
            "Open Lane Jaguar 500 cotton handbag",
            "Red Mountain Legend 80 suede handbag",
            "",
            None,
        ],
        4096,
    )
    assert f.shape == (6, 4096) and f.dtype == np.float32
    assert np.allclose(np.linalg.norm(f[:4], axis=1), 1.0) and not f[4].any() and not f[5].any()
    sim = f @ f.T
    assert sim[0, 1] > 0.7  # words merged by ASR still share most n-grams
    assert sim[0, 2] < 0.99 and sim[0, 3] < 0.3  # another model number; another product
    assert np.array_equal(
        f,
        ngram_features(
            [
                "Open Lane Jaguar 50 cotton handbag",
                "openlane jaguar 50 cotton handbag",
                "Open Lane Jaguar 500 cotton handbag",
                "Red Mountain Legend 80 suede handbag",
                "",
                None,
            ],
            4096,
        ),
    )  # stable hash


@pytest.mark.models
def test_model_with_ngrams_needs_them_and_uses_them(text_backbone):
    from encoders.ngrams import ngram_features

    cfg = ModelConfig(**{**SMALL, "text_ngram_dim": 256})
    model = AmpereModel(cfg, text_backbone=text_backbone).eval()
    ids, mask = torch.ones(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long)
    frames, dom = torch.rand(2, cfg.frames, 3, 32, 32), torch.tensor([0, 0])
    with pytest.raises(ValueError, match="n-gram"):
        model(ids, mask, frames, dom)
    ng = torch.from_numpy(ngram_features(["Legend 80", "Legend 200"], 256))
    with torch.no_grad():
        _, text, _ = model(ids, mask, frames, dom, ng)
    assert not torch.allclose(text[0], text[1])  # same tokens, other n-grams -> other text embedding
