"""Train the AMPere model on a generated dataset (CPU-friendly).

The frozen MiniLM text tower is run once per distinct text (cached), so a training step only runs
the visual tower and the heads: that is what makes CPU training take minutes. With a pretrained visual
backbone whose lower blocks are frozen (``visual_trainable_blocks`` N > 0), those blocks are run once per
image and augmented view and cached too (``lower_feature_cache``), so a step only runs the top N blocks,
the pooling and the heads.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import torch
import yaml

from encoders.backbone import EfficientNetLite
from encoders.config import DEFAULT_CONFIG, ModelConfig, load_config, resolve_text_encoder
from encoders.loss import AmpereLoss, box_attention_loss
from encoders.model import AmpereModel, save_checkpoint
from encoders.ngrams import ngram_features
from encoders.text import load_tokenizer, tokenize
from encoders.zoom import box_centres, halve, zoom_crop

from .data import DOMAINS, SplitData, augment_frames, box_cover, box_masks, load_split, product_groups
from .evaluate import evaluate, format_table

# --- text features


@torch.no_grad()
def text_feature_table(
    model: AmpereModel, texts: list[str], cache_dir: Path | None = None, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Pooled frozen-text features for each distinct text (cached on disk by content hash)."""
    uniq = sorted(set(texts))
    key = hashlib.sha1(("\x00".join(uniq) + model.cfg.text_encoder + str(model.cfg.max_tokens)).encode()).hexdigest()[
        :16
    ]
    path = cache_dir / f"textfeat-{key}.npy" if cache_dir else None
    if path is not None and path.is_file():
        feats = np.load(path)
    else:
        tok = load_tokenizer(str(resolve_text_encoder(model.cfg.text_encoder)))
        parts = []
        for i in range(0, len(uniq), batch_size):
            enc = tokenize(tok, uniq[i : i + batch_size], model.cfg.max_tokens)
            parts.append(
                model.sentence_features(
                    torch.from_numpy(enc["input_ids"]), torch.from_numpy(enc["attention_mask"])
                ).numpy()
            )
        feats = np.concatenate(parts) if parts else np.zeros((0, model.cfg.text_dim), np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, feats)
    if model.cfg.text_ngram_dim:
        feats = np.concatenate([feats, ngram_features(uniq, model.cfg.text_ngram_dim)], axis=1)
    return dict(zip(uniq, feats))


def _frames_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8 [B, k, H, W, 3] -> float [B, k, 3, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 1, 4, 2, 3).float().div_(255.0)


@torch.no_grad()
def embed_split_torch(
    model: AmpereModel,
    split: SplitData,
    tfeat: dict[str, np.ndarray],
    batch_size: int = 64,
    lower: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Embed a split with precomputed text features -> {"fused"|"text"|"visual": {domain: [N, D]}}.
    ``lower``: the split's cached frozen-backbone features (view 0), used instead of the pixels."""
    model.eval()
    out: dict[str, dict[str, np.ndarray]] = {"fused": {}, "text": {}, "visual": {}}
    for d, dd in split.domains.items():
        di = model.cfg.domain_index(d)
        parts = []
        for i in range(0, len(dd.items), batch_size):
            if lower is not None:
                vf = model.visual.from_lower(torch.from_numpy(np.array(lower[d][0, i : i + batch_size], np.float32)))
            else:
                vf = model.visual(_frames_tensor(dd.frames[i : i + batch_size]))
            tf = torch.from_numpy(np.stack([tfeat[t] for t in dd.texts[i : i + batch_size]]))
            dom = torch.full((vf.shape[0],), di, dtype=torch.long)
            parts.append([x.numpy() for x in model.embed_from_features(tf, vf, dom)])
        for j, kind in enumerate(("fused", "text", "visual")):
            out[kind][d] = (
                np.concatenate([p[j] for p in parts]) if parts else np.zeros((0, model.cfg.embed_dim), np.float32)
            )
    return out


# --- frozen lower backbone, computed once (partial fine-tuning)


def _frozen_digest(model: AmpereModel) -> str:
    """Hash of the weights lower() uses: a cache made with other weights is not reused."""
    h = hashlib.sha1()
    frozen = {id(p) for p in model.visual.parameters() if not p.requires_grad}
    for name, mod in model.visual.body.named_modules():
        own = list(mod.parameters(recurse=False))
        if own and all(id(p) in frozen for p in own):
            for k, t in mod.state_dict().items():
                h.update(f"{name}.{k}".encode())
                h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


# ONNX Runtime runs the frozen lower blocks several times faster than torch's CPU kernels do (Lite0's depthwise
# convolutions): blocks 0-13 at 224 px took 13-16 CPU-ms per image against 70-110 in torch on the shared 2-core
# machine. One intra-op thread: two were slower there (27 CPU-ms per image; the machine runs other jobs).
LOWER_ORT_THREADS = 1


class LowerRunner:
    """``VisualTower.lower`` over float32 numpy batches [N, 3, S, S] -> [N, C, h, w]: through ONNX Runtime when
    it is installed and agrees with torch on a probe batch (the graph is exported here, in memory), else torch."""

    def __init__(self, vis, image_size: int, use_onnx: bool = True):
        self.vis, self.session, self.backend = vis, None, "torch"
        if use_onnx:
            try:
                self.session = self._onnx_session(vis, image_size)
                self.backend = "onnxruntime"
            except Exception:
                self.session = None

    @staticmethod
    def _onnx_session(vis, image_size: int):
        import tempfile
        import warnings

        import onnxruntime as ort

        class Lower(torch.nn.Module):
            def __init__(self, v):
                super().__init__()
                self.v = v

            def forward(self, x):
                return self.v.lower(x)

        wrapper = Lower(vis).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "lower.onnx"
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapper,
                    (torch.zeros(2, 3, image_size, image_size),),
                    str(path),
                    input_names=["x"],
                    output_names=["f"],
                    dynamic_axes={"x": {0: "n"}, "f": {0: "n"}},
                    opset_version=17,
                    dynamo=False,
                    do_constant_folding=True,
                )
            so = ort.SessionOptions()
            so.intra_op_num_threads = LOWER_ORT_THREADS
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        probe = torch.rand(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ref = vis.lower(probe).numpy()
        got = sess.run(None, {"x": probe.numpy()})[0]
        if got.shape != ref.shape or np.abs(got - ref).max() > 1e-3 * max(1.0, float(np.abs(ref).max())):
            raise RuntimeError("ONNX lower blocks disagree with torch")
        return sess

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        if self.session is not None:
            return self.session.run(None, {"x": np.ascontiguousarray(x.numpy(), np.float32)})[0]
        with torch.no_grad():
            return self.vis.lower(x).numpy()


def _cache_key(
    model: AmpereModel, split: SplitData, d: str, augment: bool, n_views: int, seed: int, weights: str
) -> str:
    cfg, dd = model.cfg, split.domains[d]
    aug = {k: getattr(cfg, k) for k in ("augment_scale", "augment_small_product", "augment_blur", "augment_colour")}
    return hashlib.sha1(
        json.dumps(
            [
                [(i.id, i.source, i.start, i.end) for i in dd.items],
                d,
                cfg.image_size,
                cfg.image_fit,
                dd.frames.shape[1],
                cfg.visual_backbone,
                model.visual.split,
                weights,
                aug if augment else None,
                n_views,
                seed,
            ]
        ).encode()
    ).hexdigest()[:12]


def _view_batches(
    cfg: ModelConfig, dd, d: str, n_views: int, augment: bool, seed: int, batch_size: int, pixels: bool = True
):
    """The images of a domain as the cache sees them: yields (view, first item, items, x [b*k, 3, S, S],
    box masks [b*k, 1, S, S] or None). Each view's augmentation draws come from its own seeded generator and do
    not depend on pixel values, so ``pixels=False`` (zeros) replays the same geometry for the box masks alone."""
    from .data import box_masks

    n, k, size = dd.frames.shape[:3]
    for v in range(n_views):
        gen = torch.Generator().manual_seed(seed * 1000 + 10 * v + DOMAINS.index(d))
        for i in range(0, n, batch_size):
            b = min(batch_size, n - i)
            x = _frames_tensor(dd.frames[i : i + b]) if pixels else torch.zeros(b, k, 3, size, size)
            x = x.reshape(b * k, *x.shape[2:])
            if cfg.visual_zoom:
                x = halve(x)  # zoom configs: the whole frame at the backbone's side, as the tower halves it
            masks = box_masks(dd.boxes[i : i + b].reshape(-1, 4), x.shape[-1]) if dd.boxes is not None else None
            if augment:
                out = augment_frames(x, cfg, generator=gen, group=k, masks=masks)
                x, masks = out if masks is not None else (out, None)
            yield v, i, b, x, masks


def _open_cache(path: Path | None, shape: tuple, dtype=np.float16):
    if path is None:
        return np.zeros(shape, dtype), None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    return np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape), tmp


def _close_cache(arr, tmp: Path | None, path: Path | None):
    if path is None:
        return arr
    arr.flush()
    del arr
    assert tmp is not None  # _open_cache gives a temporary file whenever it is given a path
    tmp.replace(path)
    return np.load(path, mmap_mode="r")


@torch.no_grad()
def lower_feature_cache(
    model: AmpereModel,
    split: SplitData,
    cache_dir: Path | None,
    views: int,
    augment: bool,
    seed: int = 0,
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """The frozen lower backbone over every item of a split, per domain float16 [V, N, k, C, h, w]: V views
    with training augmentations (``augment``), or one plain view. Stored under ``cache_dir`` (memory-mapped
    when read back), keyed by the items, preprocessing, augmentation, seed and frozen weights. Domains with
    product boxes (live) get their box cover per view too, as ``box_cover_cache`` reads it.

    Why: a step of partial fine-tuning then costs only the top blocks. EfficientNet-Lite0 at 224 px spends
    most of its time below block 14, so this is what lets a bench-sized run fit the 60 minutes of `make model`.
    The price: augmentations are drawn from V fixed views per image instead of fresh every epoch."""
    from .data import box_cover

    cfg, vis = model.cfg, model.visual
    was_training = vis.training
    vis.eval()
    c, h, w = cast(EfficientNetLite, vis.body).lower_shape(vis.split, cfg.backbone_size)
    mh, mw = vis.map_size(cfg.backbone_size)
    weights = _frozen_digest(model)
    n_views = views if augment else 1
    out = {}
    runner = None
    for d, dd in split.domains.items():
        n, k = dd.frames.shape[:2]
        key = _cache_key(model, split, d, augment, n_views, seed, weights)
        path = cache_dir / f"lower-{split.split}-{d}-{key}.npy" if cache_dir else None
        if path is not None and path.is_file():
            out[d] = np.load(path, mmap_mode="r")
            continue
        t0 = time.time()
        runner = runner or LowerRunner(vis, cfg.backbone_size)
        arr, tmp = _open_cache(path, (n_views, n, k, c, h, w))
        cpath = cache_dir / f"cover-{split.split}-{d}-{key}.npy" if cache_dir and dd.boxes is not None else None
        cover, ctmp = _open_cache(cpath, (n_views, n, k, mh, mw)) if cpath is not None else (None, None)
        for v, i, b, x, masks in _view_batches(cfg, dd, d, n_views, augment, seed, batch_size):
            arr[v, i : i + b] = runner(x).reshape(b, k, c, h, w)
            if cover is not None:
                cover[v, i : i + b] = box_cover(masks, mh, mw).reshape(b, k, mh, mw).numpy()
        out[d] = _close_cache(arr, tmp, path)
        if cover is not None:
            _close_cache(cover, ctmp, cpath)
        if progress:
            progress(
                f"lower features {split.split} {d}: {n_views} x {n} x {k} images in {time.time() - t0:.0f}s "
                f"({runner.backend})"
            )
    vis.train(was_training)
    return out


@torch.no_grad()
def box_cover_cache(
    model: AmpereModel,
    split: SplitData,
    cache_dir: Path | None,
    views: int,
    augment: bool,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, np.ndarray]:
    """For the domains with product boxes (live): float16 [V, N, k, h, w], the share of each feature-map cell
    the product covers in view v of item n's frame, the views being those of ``lower_feature_cache`` with the
    same arguments (the same augmentation draws, replayed on the masks when the cache has no cover yet)."""
    from .data import box_cover

    cfg = model.cfg
    n_views = views if augment else 1
    mh, mw = model.visual.map_size(cfg.backbone_size)
    weights = _frozen_digest(model) if model.visual.split > 0 else ""
    out = {}
    for d, dd in split.domains.items():
        if dd.boxes is None:
            continue
        n, k = dd.frames.shape[:2]
        key = _cache_key(model, split, d, augment, n_views, seed, weights)
        path = cache_dir / f"cover-{split.split}-{d}-{key}.npy" if cache_dir else None
        if path is not None and path.is_file():
            out[d] = np.load(path, mmap_mode="r")
            continue
        arr, tmp = _open_cache(path, (n_views, n, k, mh, mw))
        for v, i, b, _, masks in _view_batches(cfg, dd, d, n_views, augment, seed, batch_size, pixels=False):
            arr[v, i : i + b] = box_cover(masks, mh, mw).reshape(b, k, mh, mw).numpy()
        out[d] = _close_cache(arr, tmp, path)
    return out


@torch.no_grad()
def zoom_feature_cache(
    model: AmpereModel,
    split: SplitData,
    cache_dir: Path | None,
    views: int,
    seed: int = 0,
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Zoom configs, training: the live frames' squares around the truth box (its centre jittered by up to
    ``visual_zoom_jitter`` of the square's side; the frame's centre where there is no box), cut by the tower's
    own ``zoom_crop`` and augmented like any image, through the frozen lower backbone: float16
    [V, N, k, C, h, w]. What the describing pass of a live frame learns from; serving cuts around the
    locator's find instead."""
    cfg, vis = model.cfg, model.visual
    dd = split.domains["live"]
    if dd.boxes is None:
        raise ValueError("visual_zoom needs live boxes in the dataset (live.jsonl 'boxes', generator v2)")
    was_training = vis.training
    vis.eval()
    n, k = dd.frames.shape[:2]
    size = cfg.backbone_size
    c, h, w = cast(EfficientNetLite, vis.body).lower_shape(vis.split, size)
    zoom = [cfg.visual_zoom, cfg.visual_zoom_aspect, cfg.visual_zoom_jitter]
    key = _cache_key(model, split, "live", True, views, seed, _frozen_digest(model) + json.dumps(zoom))
    path = cache_dir / f"zoom-{split.split}-live-{key}.npy" if cache_dir else None
    if path is not None and path.is_file():
        return np.load(path, mmap_mode="r")
    t0 = time.time()
    runner = LowerRunner(vis, size)
    arr, tmp = _open_cache(path, (views, n, k, c, h, w))
    sx, sy = vis.zoom_side
    for v in range(views):
        gen = torch.Generator().manual_seed(seed * 1000 + 10 * v + 7)
        for i in range(0, n, batch_size):
            b = min(batch_size, n - i)
            x = _frames_tensor(dd.frames[i : i + b]).reshape(b * k, 3, *dd.frames.shape[2:4])
            cen = box_centres(dd.boxes[i : i + b].reshape(-1, 4))
            jit = (torch.rand(b * k, 2, generator=gen) * 2 - 1) * cfg.visual_zoom_jitter
            x = zoom_crop(x, cen[:, 0] + jit[:, 0] * sx, cen[:, 1] + jit[:, 1] * sy, sx, sy, size)
            x = augment_frames(x, cfg, generator=gen, group=k)
            arr[v, i : i + b] = runner(x).reshape(b, k, c, h, w)
    arr = _close_cache(arr, tmp, path)
    if progress:
        progress(
            f"zoomed live squares {split.split}: {views} x {n} x {k} images in {time.time() - t0:.0f}s "
            f"({runner.backend})"
        )
    vis.train(was_training)
    return arr


@torch.no_grad()
def located_zoom_lower(
    model: AmpereModel, split: SplitData, lower_full: np.ndarray, runner=None, batch_size: int = 32
) -> np.ndarray:
    """Zoom configs, evaluation: the live frames' squares around what the locator finds (as the tower does at
    serving), from the halved frames' cached lower features ``lower_full`` [1, N, k, ...]: float16
    [1, N, k, C, h, w], the lower features of the squares."""
    cfg, vis = model.cfg, model.visual
    was_training = vis.training
    vis.eval()
    dd = split.domains["live"]
    n, k = dd.frames.shape[:2]
    size = cfg.backbone_size
    c, h, w = cast(EfficientNetLite, vis.body).lower_shape(vis.split, size)
    runner = runner or LowerRunner(vis, size)
    out = np.zeros((1, n, k, c, h, w), np.float16)
    for i in range(0, n, batch_size):
        b = min(batch_size, n - i)
        f = torch.from_numpy(np.array(lower_full[0, i : i + b], np.float32))
        cx, cy = vis.locate(vis.upper(f.reshape(b * k, *f.shape[2:])))
        x = _frames_tensor(dd.frames[i : i + b]).reshape(b * k, 3, *dd.frames.shape[2:4])
        out[0, i : i + b] = runner(zoom_crop(x, cx, cy, *vis.zoom_side, size)).reshape(b, k, c, h, w)
    vis.train(was_training)
    return out


def evaluate_torch(
    model: AmpereModel,
    split: SplitData,
    tfeat: dict[str, np.ndarray],
    branch: str = "fused",
    lower: dict[str, np.ndarray] | None = None,
    groups: dict[str, str] | None = None,
) -> dict:
    embs = embed_split_torch(model, split, tfeat, lower=lower)
    return evaluate(embs[branch], {d: dd.product_ids for d, dd in split.domains.items()}, groups)


# --- optimisation


def _param_groups(model: AmpereModel, cfg: ModelConfig) -> list[dict]:
    groups: dict[str, tuple[list[torch.nn.Parameter], list[torch.nn.Parameter], float]] = {
        "visual": ([], [], cfg.lr_visual),
        "heads": ([], [], cfg.lr_heads),
        "text": ([], [], cfg.lr_text),
    }
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # the attention pool and the locator start from scratch: they learn at the heads' rate, not the backbone's
        g = (
            "visual"
            if name.startswith("visual.") and not name.startswith(("visual.pool.", "visual.locator."))
            else "text"
            if name.startswith("text_backbone.")
            else "heads"
        )
        (groups[g][0] if p.ndim >= 2 else groups[g][1]).append(p)  # no weight decay on norms/biases
    out = []
    for decay, no_decay, lr in groups.values():
        if decay:
            out.append({"params": decay, "lr": lr, "weight_decay": cfg.weight_decay})
        if no_decay:
            out.append({"params": no_decay, "lr": lr, "weight_decay": 0.0})
    return out


def _schedule(total: int, warmup_frac: float) -> Callable[[int], float]:
    warm = max(1, int(round(total * warmup_frac)))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, total - warm)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _index_by_product(split: SplitData) -> tuple[list[str], dict[str, dict[str, list[int]]]]:
    by: dict[str, dict[str, list[int]]] = {d: {} for d in DOMAINS}
    for d in DOMAINS:
        for i, it in enumerate(split.domains[d].items):
            by[d].setdefault(it.product_id, []).append(i)
    # every product seen in >= 2 domains helps (demo presets put only some products on air)
    counts: dict[str, int] = {}
    for d in DOMAINS:
        for p in by[d]:
            counts[p] = counts.get(p, 0) + 1
    products = sorted(p for p, c in counts.items() if c >= 2)
    return products, by


def save_curve(path: Path, losses: list[float], evals: list[tuple[int, float]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(losses, lw=0.8, color="tab:blue", label="train loss")
    if len(losses) >= 10:
        w = max(5, len(losses) // 20)
        ax.plot(
            range(w - 1, len(losses)),
            np.convolve(losses, np.ones(w) / w, mode="valid"),
            color="navy",
            label=f"mean of {w}",
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if evals:
        ax2 = ax.twinx()
        ax2.plot([s for s, _ in evals], [r for _, r in evals], "o-", color="tab:red", label="val mean R@1")
        ax2.set_ylabel("val mean R@1")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="upper center")
    ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    dataset_dir: str | Path,
    config: str | Path | ModelConfig = DEFAULT_CONFIG,
    out_dir: str | Path = "runs/ampere",
    text_mode: str = "summary",
    modality: str = "both",
    epochs: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] = print,
    eval_split: str | None = "val",
    evals: int = 4,
) -> Path:
    """Train and save ``out_dir/model.pt`` (+ config.yaml, metrics.json, curve.png). Returns the checkpoint path."""
    t_start = time.time()
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    cfg = config if isinstance(config, ModelConfig) else load_config(config)
    cfg = cfg.replace(modality=modality, **({"epochs": epochs} if epochs is not None else {}))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)

    train_split = load_split(
        dataset_dir, "train", cfg.frames, cfg.image_size, text_mode, progress=progress, fit=cfg.image_fit
    )
    val_split = None
    if eval_split:
        try:
            val_split = load_split(
                dataset_dir, eval_split, cfg.frames, cfg.image_size, text_mode, progress=progress, fit=cfg.image_fit
            )
        except ValueError as e:
            progress(f"no evaluation during training: {e}")
    for note in train_split.notes:
        progress(f"note: {note}")

    model = AmpereModel(cfg)
    tune_text = not cfg.freeze_text and cfg.text_trainable_layers > 0
    cache_dir = dataset_dir / "cache" / "encoders"
    all_texts = [t for s in (train_split, val_split) if s for dd in s.domains.values() for t in dd.texts]
    t0 = time.time()
    tfeat = text_feature_table(model, all_texts, cache_dir)
    progress(f"text features for {len(tfeat)} distinct texts in {time.time() - t0:.1f}s")
    tok = load_tokenizer(str(resolve_text_encoder(cfg.text_encoder))) if tune_text else None
    lower_train = lower_val = zoom_train = None
    if model.visual.split > 0:
        t0 = time.time()
        lower_train = lower_feature_cache(
            model, train_split, cache_dir, cfg.visual_cache_views, True, seed, progress=progress
        )
        if cfg.visual_zoom:
            zoom_train = zoom_feature_cache(
                model, train_split, cache_dir, cfg.visual_cache_views, seed, progress=progress
            )
        if val_split is not None:
            lower_val = lower_feature_cache(model, val_split, cache_dir, 1, False, progress=progress)
        progress(
            f"frozen lower backbone ({model.visual.split} blocks) cached in {time.time() - t0:.0f}s; "
            f"steps run the top {cfg.visual_trainable_blocks}"
        )
    # product-region focus: the attention pool (or, zooming, the locator) is taught where the product is on
    # live frames (truth boxes)
    zoom = model.visual.locator is not None
    box_loss = cfg.visual_box_loss if cfg.visual_box_loss > 0 and (model.visual.pool is not None or zoom) else 0.0
    cover_train = None
    if box_loss:
        if train_split.domains["live"].boxes is None:
            progress("note: visual_box_loss is set but the dataset's live streams have no boxes: no box loss")
            box_loss = 0.0
        elif lower_train is not None:
            cover_train = box_cover_cache(model, train_split, cache_dir, cfg.visual_cache_views, True, seed)
    map_hw = model.visual.map_size(cfg.backbone_size) if box_loss else None
    if zoom and (cover_train is None or lower_val is None and val_split is not None):
        raise ValueError("visual_zoom needs the generator's live boxes and the frozen-feature cache")
    val_runner = LowerRunner(model.visual, cfg.backbone_size) if zoom and val_split is not None else None

    def eval_lower():
        """The val split's cached features; zooming, the live ones are the squares the locator finds now."""
        if not zoom or lower_val is None:
            return lower_val
        assert val_split is not None  # lower_val is made from it
        return {**lower_val, "live": located_zoom_lower(model, val_split, lower_val["live"], val_runner)}

    products, by = _index_by_product(train_split)
    if len(products) < 2:
        raise ValueError(
            f"{dataset_dir}: need >= 2 train products seen in at least two of page/video/live; found {len(products)}"
        )
    n_batches = cfg.steps_per_epoch or math.ceil(len(products) / cfg.batch_size)
    total = cfg.epochs * n_batches
    opt = torch.optim.AdamW(_param_groups(model, cfg))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(total, cfg.warmup_frac))
    loss_fn = AmpereLoss(cfg.label_smoothing, cfg.modality)
    progress(
        f"training {cfg.name} modality={cfg.modality} text={text_mode}: {len(products)} products, "
        f"{cfg.epochs} epochs x {n_batches} steps, batch {min(cfg.batch_size, len(products))}"
    )

    losses: list[float] = []
    box_terms: list[float] = []
    eval_points: list[tuple[int, float]] = []
    eval_every = max(1, total // max(1, evals))
    step = 0
    t_loop = time.time()
    for epoch in range(cfg.epochs):
        perm = rng.permutation(len(products))
        for chunk in np.array_split(perm, n_batches)[:n_batches]:
            if len(chunk) < 2:
                continue
            model.train()
            if not tune_text and model.text_backbone is not None:
                model.text_backbone.eval()
            pids = [products[i] for i in chunk]
            rows = {d: [j for j, p in enumerate(pids) if p in by[d]] for d in DOMAINS}
            picks = {d: [by[d][pids[j]][rng.integers(len(by[d][pids[j]]))] for j in rows[d]] for d in DOMAINS}
            # one visual pass over all frames of the batch (BatchNorm sees every domain, as at eval)
            chunks: list[torch.Tensor] = []
            groups: list[tuple[str, int, int]] = []
            cover, cover_at = None, 0  # live frames' box cover [b*k, h, w] and where they sit in the batch
            located = None  # zooming: the live frames whole, for the locator (after the described chunks)
            for d in DOMAINS:
                if not picks[d]:
                    continue
                boxed = bool(box_loss) and train_split.domains[d].boxes is not None
                if lower_train is not None:
                    # a random cached view per item: the augmentation was applied before the frozen blocks
                    view = rng.integers(lower_train[d].shape[0], size=len(picks[d]))
                    src = zoom_train if zoom and d == "live" else lower_train[d]
                    assert src is not None  # zooming, the zoom cache is made with the lower one
                    x = torch.from_numpy(np.asarray(src[view, picks[d]])).float()  # [B, k, C, h, w]
                    if boxed:
                        assert cover_train is not None  # made whenever the box loss runs on cached features
                        cover = torch.from_numpy(np.asarray(cover_train[d][view, picks[d]], np.float32))
                    if boxed and zoom:
                        located = torch.from_numpy(np.asarray(lower_train[d][view, picks[d]])).float()
                        located = located.reshape(-1, *located.shape[2:])
                else:
                    x = _frames_tensor(train_split.domains[d].frames[picks[d]])  # [B, k, 3, H, W]
                b, kd = x.shape[:2]
                x = x.reshape(b * kd, *x.shape[2:])
                if lower_train is None:
                    boxes = cast(np.ndarray, train_split.domains[d].boxes)  # read only when boxed: not None
                    masks = box_masks(boxes[picks[d]].reshape(-1, 4), x.shape[-1]) if boxed else None
                    x = augment_frames(x, cfg, generator=gen, group=kd, masks=masks)
                    if boxed:
                        assert map_hw is not None  # set whenever the box loss is on
                        x, masks = x
                        cover = box_cover(masks, *map_hw)
                if boxed:
                    assert cover is not None and map_hw is not None
                    cover, cover_at = cover.reshape(b * kd, *map_hw), sum(len(c) for c in chunks)
                chunks.append(x)
                groups.append((d, b, kd))
            n_desc = sum(len(c) for c in chunks)
            x = torch.cat(chunks + ([located] if located is not None else []))
            fmap = model.visual.upper(x) if lower_train is not None else model.visual.feature_map(x)
            feats, attn = model.visual.pooled_with_weights(fmap[:n_desc])
            if located is not None:  # the box loss teaches the locator, on the whole frames
                assert model.visual.locator is not None  # located frames exist only when zooming
                attn, cover_at = model.visual.locator.weights(fmap[n_desc:]), 0
            out, off = {}, 0
            for d, b, kd in groups:
                vf = feats[off : off + b * kd].reshape(b, kd, -1).mean(1)
                off += b * kd
                texts = [train_split.domains[d].items[i].text for i in picks[d]]
                if tune_text:
                    enc = tokenize(tok, texts, cfg.max_tokens)
                    tf = model.text_features(
                        torch.from_numpy(enc["input_ids"]),
                        torch.from_numpy(enc["attention_mask"]),
                        torch.from_numpy(ngram_features(texts, cfg.text_ngram_dim)),
                    )
                else:
                    tf = torch.from_numpy(np.stack([tfeat[t] for t in texts]))
                dom = torch.full((b,), cfg.domain_index(d), dtype=torch.long)
                out[d] = model.embed_from_features(tf, vf, dom)
            loss, terms = loss_fn(out, model.logit_scale, rows)
            if cover is not None:
                assert attn is not None  # the box loss is on only with an attention pool or a locator
                lb = box_attention_loss(attn[cover_at : cover_at + len(cover)], cover)
                if lb is not None:
                    loss = loss + box_loss * lb
                    box_terms.append(float(lb.detach()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.grad_clip)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % eval_every == 0 or step == total:
                el = time.time() - t_loop
                msg = (
                    f"step {step}/{total} epoch {epoch + 1} loss {np.mean(losses[-eval_every:]):.3f} "
                    + (f"(box {np.mean(box_terms[-eval_every:]):.3f}) " if box_terms else "")
                    + f"[{el:.0f}s, eta {el / step * (total - step):.0f}s]"
                )
                if val_split is not None:
                    r1 = (
                        evaluate_torch(model, val_split, tfeat, lower=eval_lower())
                        .get("mean", {})
                        .get("R@1", float("nan"))
                    )
                    eval_points.append((step, r1))
                    msg += f" val mean R@1 {r1:.3f}"
                progress(msg)

    out_dir.mkdir(parents=True, exist_ok=True)
    metrics: dict = {
        "train_seconds": round(time.time() - t_start, 1),
        "steps": step,
        "products": len(products),
        "text_mode": text_mode,
        "modality": cfg.modality,
        "seed": seed,
        "final_loss": losses[-1] if losses else None,
    }
    if val_split is not None:
        final_lower = eval_lower()  # zooming: the squares the trained locator finds, for the grid below too
        res = evaluate_torch(model, val_split, tfeat, lower=final_lower, groups=product_groups(dataset_dir))
        metrics[f"{eval_split}"] = res
        progress(format_table(res, f"{eval_split} ({cfg.modality}, text={text_mode})"))
    ckpt = save_checkpoint(
        model,
        out_dir / "model.pt",
        extra={"dataset": str(dataset_dir), "text_mode": text_mode, "seed": seed, "steps": step},
    )
    (out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    save_curve(out_dir / "curve.png", losses, eval_points, f"{cfg.name} {cfg.modality} text={text_mode}")
    if val_split is not None:
        if len(val_split.domains["live"].items) and len(val_split.domains["page"].items):
            from .report import retrieval_grid

            embs = embed_split_torch(model, val_split, tfeat, lower=final_lower)["fused"]
            retrieval_grid(val_split, embs, out_dir / "retrieval.png")
            progress(f"wrote {out_dir / 'curve.png'} and {out_dir / 'retrieval.png'}")
        else:  # e.g. a small preset whose val products are never on air: nothing to draw, not an error
            progress(
                f"note: no retrieval grid: the {eval_split} split has no live windows or no pages; "
                f"wrote {out_dir / 'curve.png'}"
            )
    progress(f"saved {ckpt} ({ckpt.stat().st_size / 1e6:.1f} MB) in {metrics['train_seconds']}s")
    return ckpt
