"""The visual tower on the benchmark: which backbone, fit and pooling, chosen on val; the chosen one on test,
in ONNX fp32/int8 (parity, latency on 1 thread, size). Writes the visual keys of bench/results/quality.json.

    .venv/bin/python bench/visual.py compare           # train the variants (visual only), val table
    .venv/bin/python bench/visual.py final             # the chosen variant: test split, ONNX, ms/window, MB
    .venv/bin/python bench/visual.py all               # both (~2 h on the shared 2-core machine)

Visual only (text_mode none, modality visual): no texts are read, so it runs while prepare-texts writes them.
Each variant's row is kept in runs/visual/<name>/row.json and reused (delete it, or --force, to retrain).
The comparison runs are shortened (epochs, augmented views: in the table); the final run trains the chosen
variant with its config as `make model` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.quality import DEFAULT_DATASET, REPO_ROOT, update

RUNS = REPO_ROOT / "runs" / "visual"
LITE = "ampere-lite0"
FITS = ("squash", "crop", "pad")
# what every comparison run shares: shorter than the shipped schedule, on a 2-core machine shared with other jobs
COMPARE = dict(visual_cache_views=2)
FROZEN_EPOCHS, TOP2_EPOCHS = 20, 10
ZOOMS = (0.35, 0.45, 0.6)  # zoom squares compared (frozen backbone: cheap)
ZOOM_TOP2 = 0.45


def variants(fit: str) -> dict[str, tuple[str, dict, str]]:
    """name -> (config, overrides, what it is). ``fit``: the frozen comparison's best, for the top-2 rows."""
    out: dict[str, tuple[str, dict, str]] = {
        "small-cnn": ("ampere-small", {}, "the old from-scratch CNN (96 px, squash), trained end to end"),
    }
    for f in FITS:
        out[f"lite0-frozen-mean-{f}"] = (
            LITE,
            dict(COMPARE, visual_trainable_blocks=0, visual_pool="mean", image_fit=f, epochs=FROZEN_EPOCHS),
            f"Lite0 frozen, mean pooling, fit {f}: only the heads train",
        )
    for f in FITS:
        out[f"lite0-frozen-attnbox-{f}"] = (
            LITE,
            dict(
                COMPARE,
                visual_trainable_blocks=0,
                visual_pool="attention",
                visual_box_loss=1.0,
                image_fit=f,
                epochs=FROZEN_EPOCHS,
            ),
            f"Lite0 frozen, attention pooling taught by the truth boxes, fit {f}",
        )
    top2 = dict(COMPARE, visual_trainable_blocks=2, image_fit=fit, epochs=TOP2_EPOCHS)
    out["lite0-top2-mean"] = (
        LITE,
        dict(top2, visual_pool="mean"),
        f"Lite0 top 2 blocks fine-tuned, mean pooling, {fit}",
    )
    out["lite0-top2-attn"] = (
        LITE,
        dict(top2, visual_pool="attention"),
        f"Lite0 top 2 blocks fine-tuned, attention pooling (learned from retrieval alone), {fit}",
    )
    out["lite0-top2-attnbox"] = (
        LITE,
        dict(top2, visual_pool="attention", visual_box_loss=1.0),
        f"Lite0 top 2 blocks fine-tuned, attention pooling taught by the truth boxes, {fit}",
    )
    # zoom: a locator taught by the boxes finds the product on the whole (squashed) frame, the backbone then
    # describes the square around it (encoders/zoom.py); z = the square's side / the frame's height
    zoom = dict(
        COMPARE,
        image_size=448,
        image_fit="squash",
        visual_box_loss=1.0,
        visual_trainable_blocks=0,
        visual_pool="mean",
        epochs=FROZEN_EPOCHS,
    )
    for z in ZOOMS:
        out[f"lite0-frozen-zoom{z}"] = (
            LITE,
            dict(zoom, visual_zoom=z),
            f"Lite0 frozen, zoom: box-taught locator on the whole frame, then the square of "
            f"side {z} x frame height around it, mean pooling",
        )
    out["lite0-top2-zoom-attn"] = (
        LITE,
        dict(zoom, visual_zoom=ZOOM_TOP2, visual_trainable_blocks=2, visual_pool="attention", epochs=TOP2_EPOCHS),
        f"Lite0 top 2 blocks fine-tuned, zoom {ZOOM_TOP2}, attention pooling on the square",
    )
    return out


def _cfg(config: str, overrides: dict):
    from encoders.config import load_config

    return load_config(config, **overrides)


def _same_config(saved: dict | None, cfg) -> bool:
    """A row's config is this one (keys added to ModelConfig since then take their defaults)."""
    from encoders.config import ModelConfig

    try:
        return saved is not None and ModelConfig.from_dict(saved).to_dict() == cfg.to_dict()
    except (TypeError, ValueError):
        return False


def _r(x: float | None, n: int = 4) -> float | None:
    return None if x is None else round(float(x), n)


def _row(name: str, cfg, res: dict, train_s: float, note: str, extra: dict | None = None) -> dict:
    d, m = res["directions"], res["mean"]
    return {
        "variant": name,
        "what": note,
        "backbone": cfg.visual_backbone,
        "trainable_blocks": cfg.visual_trainable_blocks if cfg.visual_backbone != "cnn" else "all",
        "pool": cfg.visual_pool,
        "fit": cfg.image_fit,
        "image_size": cfg.image_size,
        "box_loss": cfg.visual_box_loss,
        "epochs": cfg.epochs,
        "views": cfg.visual_cache_views if cfg.visual_backbone != "cnn" else "fresh",
        "val_L->P_R@1": _r(d["L->P"]["R@1"]),
        "val_P->L_R@1": _r(d["P->L"]["R@1"]),
        "val_visual_group_r1": _r(d["L->P"].get("group_R@1")),
        "val_mean_R@1": _r(m["R@1"]),
        "val_mean_R@5": _r(m["R@5"]),
        "train_s": round(train_s, 1),
        **(extra or {}),
    }


# --- what the attention looks at (live frames with a truth box)


def attention_diagnostics(ckpt: Path, ds: Path, split: str = "val") -> dict:
    """For an attention-pooled checkpoint on ``split``: the share of the pool's weight that lands on the
    product's box (live frames with a box; uniform weights would put the box's area share there), and the
    retrieval one would get with the truth box as the pooling weights on live frames (the ceiling of
    localisation at this feature-map resolution; not a serving variant: serving has no boxes)."""
    import numpy as np
    import torch

    from ampere_train.data import load_split, product_groups
    from ampere_train.evaluate import evaluate
    from ampere_train.train import box_cover_cache, lower_feature_cache
    from encoders.model import load_checkpoint

    model = load_checkpoint(ckpt, load_text=False)
    cfg, vis = model.cfg, model.visual
    data = load_split(ds, split, cfg.frames, cfg.image_size, "none", fit=cfg.image_fit)
    cache = ds / "cache" / "encoders"
    lower = lower_feature_cache(model, data, cache, 1, False) if vis.split > 0 else None
    cover = box_cover_cache(model, data, cache, 1, False)["live"][0]  # [N, k, h, w]
    groups = product_groups(ds)
    embs: dict[str, dict[str, np.ndarray]] = {"model": {}, "oracle": {}}
    mass, area = [], []
    with torch.no_grad():
        for d, dd in data.domains.items():
            di = cfg.domain_index(d)
            parts: dict[str, list[np.ndarray]] = {"model": [], "oracle": []}
            for i in range(0, len(dd.items), 32):
                if lower is not None:
                    f = torch.from_numpy(np.array(lower[d][0, i : i + 32], np.float32))
                    b, k = f.shape[:2]
                    fmap = vis.upper(f.reshape(b * k, *f.shape[2:]))
                else:
                    x = (
                        torch.from_numpy(np.ascontiguousarray(dd.frames[i : i + 32])).permute(0, 1, 4, 2, 3).float()
                        / 255
                    )
                    b, k = x.shape[:2]
                    fmap = vis.feature_map(x.reshape(b * k, *x.shape[2:]))
                pooled, w = vis.pooled_with_weights(fmap)
                oracle = pooled
                if d == "live":
                    c = torch.from_numpy(np.asarray(cover[i : i + b], np.float32)).reshape(b * k, *fmap.shape[2:])
                    has = c.sum(dim=(1, 2)) > 1e-3
                    if w is not None and bool(has.any()):
                        mass.append((w[has] * (c[has] > 0)).sum(dim=(1, 2)).numpy())
                        area.append(((c[has] > 0).float().mean(dim=(1, 2))).numpy())
                    t = torch.where(
                        has.view(-1, 1, 1),
                        c / c.sum(dim=(1, 2), keepdim=True).clamp(min=1e-6),
                        w if w is not None else torch.full_like(c, 1 / c[0].numel()),
                    )
                    oracle = (fmap * t.unsqueeze(1)).sum(dim=(2, 3))
                dom = torch.full((b,), di, dtype=torch.long)
                for kind, feat in (("model", pooled), ("oracle", oracle)):
                    v = torch.nn.functional.normalize(model.visual_head(feat.reshape(b, k, -1).mean(1), dom), dim=-1)
                    parts[kind].append(v.numpy())
            for kind in parts:
                embs[kind][d] = np.concatenate(parts[kind])
    ids = {d: dd.product_ids for d, dd in data.domains.items()}
    res = {kind: evaluate(e, ids, groups) for kind, e in embs.items()}
    out = {
        f"{split}_truth_box_pooling_mean_R@1": _r(res["oracle"]["mean"]["R@1"]),
        f"{split}_truth_box_pooling_L->P_R@1": _r(res["oracle"]["directions"]["L->P"]["R@1"]),
        f"{split}_truth_box_pooling_group_r1": _r(res["oracle"]["directions"]["L->P"]["group_R@1"]),
    }
    if mass:
        out[f"{split}_attention_on_box"] = _r(np.concatenate(mass).mean(), 3)
        out[f"{split}_box_area_share"] = _r(np.concatenate(area).mean(), 3)
    return out


def zoom_diagnostics(ckpt: Path, ds: Path, split: str = "val") -> dict:
    """For a zoom checkpoint on ``split``: how often the locator's point falls inside the product's box (live
    frames with a box), and the retrieval with the squares cut around the truth box instead (the ceiling of
    the locator; not a serving variant)."""
    import numpy as np
    import torch

    from ampere_train.data import load_split, product_groups
    from ampere_train.evaluate import evaluate
    from ampere_train.train import (
        LowerRunner,
        _frames_tensor,
        embed_split_torch,
        located_zoom_lower,
        lower_feature_cache,
    )
    from encoders.model import load_checkpoint
    from encoders.zoom import box_centres, zoom_crop

    model = load_checkpoint(ckpt, load_text=False)
    cfg, vis = model.cfg, model.visual
    data = load_split(ds, split, cfg.frames, cfg.image_size, "none", fit=cfg.image_fit)
    lower = lower_feature_cache(model, data, ds / "cache" / "encoders", 1, False)
    dd = data.domains["live"]
    n, k = dd.frames.shape[:2]
    size = cfg.backbone_size
    runner = LowerRunner(vis, size)
    c, h, w = vis.body.lower_shape(vis.split, size)
    truth = np.zeros((1, n, k, c, h, w), np.float16)
    hits, dists = [], []
    with torch.no_grad():
        for i in range(0, n, 32):
            b = min(32, n - i)
            f = torch.from_numpy(np.array(lower["live"][0, i : i + b], np.float32))
            cx, cy = vis.locate(vis.upper(f.reshape(b * k, *f.shape[2:])))
            boxes = torch.from_numpy(np.asarray(dd.boxes[i : i + b], np.float32).reshape(-1, 4))
            has = ~torch.isnan(boxes).any(dim=1)
            inside = (cx >= boxes[:, 0]) & (cx <= boxes[:, 2]) & (cy >= boxes[:, 1]) & (cy <= boxes[:, 3])
            cen = box_centres(boxes)
            hits.append(inside[has].numpy())
            # distance to the box centre in units of the square's side
            dists.append(
                torch.maximum((cx - cen[:, 0]).abs() / vis.zoom_side[0], (cy - cen[:, 1]).abs() / vis.zoom_side[1])[
                    has
                ].numpy()
            )
            x = _frames_tensor(dd.frames[i : i + b]).reshape(b * k, 3, *dd.frames.shape[2:4])
            truth[0, i : i + b] = runner(zoom_crop(x, cen[:, 0], cen[:, 1], *vis.zoom_side, size)).reshape(
                b, k, c, h, w
            )
    groups = product_groups(ds)
    ids = {d: dd.product_ids for d, dd in data.domains.items()}
    tfeat = {"": np.zeros(cfg.text_dim + cfg.text_ngram_dim, np.float32)}
    res = {}
    for kind, live in (("located", located_zoom_lower(model, data, lower["live"], runner)), ("truth", truth)):
        embs = embed_split_torch(model, data, tfeat, lower={**lower, "live": live})["visual"]
        res[kind] = evaluate(embs, ids, groups)
    d = np.concatenate(dists)
    return {
        f"{split}_locator_in_box": _r(np.concatenate(hits).mean(), 3),
        f"{split}_locator_within_quarter_side": _r((d <= 0.25).mean(), 3),
        f"{split}_located_mean_R@1": _r(res["located"]["mean"]["R@1"]),
        f"{split}_truth_box_zoom_mean_R@1": _r(res["truth"]["mean"]["R@1"]),
        f"{split}_truth_box_zoom_L->P_R@1": _r(res["truth"]["directions"]["L->P"]["R@1"]),
        f"{split}_truth_box_zoom_group_r1": _r(res["truth"]["directions"]["L->P"]["group_R@1"]),
    }


# --- compare


def run_variant(
    name: str, config: str, overrides: dict, note: str, ds: Path, seed: int, force: bool, diagnose: bool = True
) -> dict:
    from ampere_train.train import train

    out = RUNS / name
    row_path = out / "row.json"
    cfg = _cfg(config, overrides)
    if row_path.is_file() and not force:
        row = json.loads(row_path.read_text())
        if _same_config(row.get("config"), cfg):
            print(f"{name}: kept {row_path}", flush=True)
            return row
    print(f"=== {name}: {note}", flush=True)
    t0 = time.time()
    ckpt = train(
        ds,
        cfg,
        out,
        text_mode="none",
        modality="visual",
        seed=seed,
        progress=lambda m: print(f"  [{name}] {m}", flush=True),
    )
    train_s = time.time() - t0
    metrics = json.loads((out / "metrics.json").read_text())
    extra = {}
    if diagnose and cfg.visual_zoom:
        extra = zoom_diagnostics(ckpt, ds, "val")
    elif diagnose and cfg.visual_pool == "attention":
        extra = attention_diagnostics(ckpt, ds, "val")
    row = _row(name, cfg, metrics["val"], train_s, note, extra)
    row["config"] = cfg.to_dict()
    row_path.write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
    return row


def best_fit(rows: dict[str, dict]) -> str:
    """The fit of the best frozen mean-pooled row on val mean R@1 (the cheap comparison)."""
    cands = [(rows[f"lite0-frozen-mean-{f}"]["val_mean_R@1"], f) for f in FITS if f"lite0-frozen-mean-{f}" in rows]
    return max(cands)[1] if cands else "crop"


def table(rows: dict[str, dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "config"} for r in rows.values()]


def compare(ds: Path, seed: int, only: list[str] | None, force: bool, fit: str | None, cmd: str) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    first = variants("crop")
    names = [n for n in first if not n.startswith("lite0-top2")]
    for name in names:
        if only and name not in only:
            continue
        config, overrides, note = first[name]
        rows[name] = run_variant(name, config, overrides, note, ds, seed, force)
        update({"visual_comparison": table(rows)}, cmd)
    # the fine-tuned rows use the frozen comparison's best fit (or --fit)
    kept = {n: json.loads((RUNS / n / "row.json").read_text()) for n in names if (RUNS / n / "row.json").is_file()}
    chosen_fit = fit or best_fit({**kept, **rows})
    print(f"fit for the fine-tuned rows: {chosen_fit}", flush=True)
    for name, (config, overrides, note) in variants(chosen_fit).items():
        if not name.startswith("lite0-top2") or (only and name not in only):
            continue
        rows[name] = run_variant(name, config, overrides, note, ds, seed, force)
        update({"visual_comparison": table(rows)}, cmd)
    # the table lists every row trained so far, in order
    allrows = {}
    for name in list(first) + [n for n in variants(chosen_fit) if n not in first]:
        p = RUNS / name / "row.json"
        if name in rows:
            allrows[name] = rows[name]
        elif p.is_file():
            allrows[name] = json.loads(p.read_text())
    update({"visual_comparison": table(allrows)}, cmd)
    return allrows


# --- final: the chosen variant, test split, ONNX


def _embed_onnx(path: Path, data, threads: int = 1, batch: int = 8):
    """Visual-branch ONNX over a split's frames -> {domain: [N, D]}."""
    import numpy as np

    from ampere_train.export import onnx_session

    sess = onnx_session(path, threads)
    out = {}
    for d, dd in data.domains.items():
        dom_id = ("page", "video", "live").index(d)
        parts = []
        for i in range(0, len(dd.items), batch):
            fr = np.ascontiguousarray(dd.frames[i : i + batch])
            parts.append(sess.run(None, {"frames": fr, "domain": np.full(len(fr), dom_id, np.int64)})[0])
        out[d] = np.concatenate(parts)
    return out


def _embed_torch(model, data, ds: Path):
    """The visual embeddings of a split through the torch model, its frozen blocks from the cache (zoom: the
    live squares where the locator points), as training evaluates."""
    import numpy as np

    from ampere_train.train import embed_split_torch, located_zoom_lower, lower_feature_cache

    cfg = model.cfg
    lower = lower_feature_cache(model, data, ds / "cache" / "encoders", 1, False) if model.visual.split > 0 else None
    if cfg.visual_zoom:
        lower = {**lower, "live": located_zoom_lower(model, data, lower["live"])}
    tfeat = {
        t: np.zeros(cfg.text_dim + cfg.text_ngram_dim, np.float32) for dd in data.domains.values() for t in dd.texts
    }
    return embed_split_torch(model, data, tfeat, lower=lower)["visual"]


def export_visual_domains(model, path: Path) -> Path:
    """The visual graph with the domain reaching the tower (a zoom tower zooms live rows only)."""
    from ampere_train.export import export_visual

    return export_visual(model, path, domain_to_tower=True)


def parity(model, path: Path, data, n: int = 12) -> dict:
    """ONNX vs torch on the pixels (no cache): the first ``n`` items of each domain."""
    import numpy as np
    import torch

    from ampere_train.export import onnx_session

    sess = onnx_session(path, 1)
    diffs, cosines = [], []
    with torch.no_grad():
        for d, dd in data.domains.items():
            fr = np.ascontiguousarray(dd.frames[:n])
            dom = np.full(len(fr), model.cfg.domain_index(d), np.int64)
            x = torch.from_numpy(fr).permute(0, 1, 4, 2, 3).float() / 255
            ref = torch.nn.functional.normalize(
                model.visual_head(model.visual(x, torch.from_numpy(dom)), torch.from_numpy(dom)), dim=-1
            ).numpy()
            got = sess.run(None, {"frames": fr, "domain": dom})[0]
            diffs.append(float(np.abs(got - ref).max()))
            cosines.append(float((got * ref).sum(1).min()))
    return {"max_abs_diff": max(diffs), "min_cosine": round(min(cosines), 6), "items_per_domain": n}


def final(ds: Path, name: str, seed: int, cmd: str, full: bool, int8_conv: bool) -> dict:

    from ampere_train.data import load_split, product_groups
    from ampere_train.evaluate import evaluate
    from ampere_train.export import export_visual, quantize_int8, visual_latency
    from encoders.model import load_checkpoint

    rows = {p.parent.name: json.loads(p.read_text()) for p in RUNS.glob("*/row.json")}
    if name not in rows:
        raise SystemExit(f"variant {name!r} has no comparison row in {RUNS}: run `compare` first")
    row = rows[name]
    if full:
        # the chosen variant as `make model` trains it: the shipped config (encoders/configs/ampere-lite0.yaml)
        from encoders.config import load_config

        cfg = load_config(LITE)
        run = RUNS / "final"
        row_path = run / "row.json"
        if not (row_path.is_file() and _same_config(json.loads(row_path.read_text()).get("config"), cfg)):
            from ampere_train.train import train

            t0 = time.time()
            train(
                ds,
                cfg,
                run,
                text_mode="none",
                modality="visual",
                seed=seed,
                progress=lambda m: print(f"  [final] {m}", flush=True),
            )
            metrics = json.loads((run / "metrics.json").read_text())
            extra = attention_diagnostics(run / "model.pt", ds, "val") if cfg.visual_pool == "attention" else {}
            fr = _row(
                "final (" + LITE + ".yaml)",
                cfg,
                metrics["val"],
                time.time() - t0,
                f"{name} with the shipped schedule",
                extra,
            )
            fr["config"] = cfg.to_dict()
            row_path.write_text(json.dumps(fr, indent=2) + "\n")
        row = json.loads(row_path.read_text())
        ckpt = run / "model.pt"
    else:
        ckpt = RUNS / name / "model.pt"
    model = load_checkpoint(ckpt, load_text=False)
    cfg = model.cfg
    groups = product_groups(ds)
    test = load_split(ds, "test", cfg.frames, cfg.image_size, "none", fit=cfg.image_fit)
    ids = {d: dd.product_ids for d, dd in test.domains.items()}
    torch_embs = _embed_torch(model, test, ds)
    res = evaluate(torch_embs, ids, groups)
    onnx_dir = RUNS / "onnx"
    # evaluation graphs (the domain reaches the tower) and the latency graph of a live window (export.py's)
    fp32 = export_visual_domains(model, onnx_dir / "visual-fp32.onnx")
    files = {"fp32": fp32, "int8": quantize_int8(fp32, onnx_dir / "visual-int8.onnx")}
    if int8_conv:
        files["int8_conv"] = quantize_int8(fp32, onnx_dir / "visual-int8-conv.onnx", ("MatMul", "Gemm", "Conv"))
    live_fp32 = export_visual(model, onnx_dir / "visual-live-fp32.onnx")
    live = {"fp32": live_fp32, "int8": quantize_int8(live_fp32, onnx_dir / "visual-live-int8.onnx")}
    if int8_conv:
        live["int8_conv"] = quantize_int8(
            live_fp32, onnx_dir / "visual-live-int8-conv.onnx", ("MatMul", "Gemm", "Conv")
        )
    onnx: dict = {}
    for variant, path in files.items():
        t0 = time.time()
        e = _embed_onnx(path, test)
        r = evaluate(e, ids, groups)
        lat = visual_latency(live[variant], cfg.frames, cfg.image_size, threads=1)
        onnx[variant] = {
            "mean_R@1": _r(r["mean"]["R@1"]),
            "visual_group_r1": _r(r["directions"]["L->P"]["group_R@1"]),
            "parity_vs_torch": parity(model, path, test),
            # against the torch embeddings of the test figures (their lower blocks cached in float16)
            "min_cosine_vs_torch_cached": _r(min(float((e[d] * torch_embs[d]).sum(1).min()) for d in e)),
            "ms_per_window": round(1000 * lat["window"], 1),
            "ms_per_frame": round(1000 * lat["frame"], 1),
            "mb": round(path.stat().st_size / 1e6, 1),
            "eval_s": round(time.time() - t0, 1),
        }
        print(variant, json.dumps(onnx[variant]), flush=True)
    ckpt_mb = Path(ckpt).stat().st_size / 1e6
    section = {
        "visual_variant": {
            "name": name,
            "checkpoint": str(Path(ckpt).relative_to(REPO_ROOT)),
            "val": {k: v for k, v in row.items() if k.startswith("val_") or k in ("epochs", "views", "train_s")},
        },
        "visual_mean_r1": _r(res["mean"]["R@1"]),
        "visual_group_r1": _r(res["directions"]["L->P"]["group_R@1"]),
        "visual_test": {
            "directions": {
                k: {m: _r(v[m]) for m in ("R@1", "R@5", "R@10", "group_R@1", "median_rank")}
                for k, v in res["directions"].items()
            },
            "mean": {m: _r(v) for m, v in res["mean"].items()},
        },
        "visual_ms_per_window": {v: o["ms_per_window"] for v, o in onnx.items()},
        "visual_model_mb": {**{f"onnx_{v}": o["mb"] for v, o in onnx.items()}, "checkpoint_fp16": round(ckpt_mb, 1)},
        "visual_onnx": onnx,
    }
    print(json.dumps({k: v for k, v in section.items() if k != "visual_onnx"}, indent=1), flush=True)
    update(section, cmd)
    return section


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("section", choices=["compare", "final", "all"])
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="compare: variants to run (default: all)")
    ap.add_argument("--force", action="store_true", help="retrain variants that have a row already")
    ap.add_argument("--fit", choices=FITS, help="fit of the fine-tuned rows (default: the frozen comparison's best)")
    ap.add_argument("--variant", default="lite0-top2-attnbox", help="final: the chosen variant")
    ap.add_argument(
        "--comparison-checkpoint",
        action="store_true",
        help="final: evaluate the comparison run's checkpoint instead of retraining with the shipped config",
    )
    ap.add_argument("--no-int8-conv", action="store_true", help="final: skip the int8 file with int8 convolutions")
    args = ap.parse_args()
    cmd = "python bench/visual.py " + " ".join(sys.argv[1:])
    if not (args.dataset / "live.jsonl").is_file():
        raise SystemExit(f"{args.dataset}: no benchmark dataset (make bench-data)")
    if args.section in ("compare", "all"):
        compare(args.dataset, args.seed, args.only, args.force, args.fit, cmd)
    if args.section in ("final", "all"):
        final(args.dataset, args.variant, args.seed, cmd, not args.comparison_checkpoint, not args.no_int8_conv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
