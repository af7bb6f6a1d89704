"""Orchestration: products -> pages, short videos and live streams (in worker processes) -> JSONL
truth, windows and a manifest. The dataset appears under its final name only when complete."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from ampere.grid import grid, window_id
from ampere_synth.truth import on_air

from .clips import write_pages, write_video
from .live import plan_heldout_streams, plan_streams, write_stream
from .mediafile import video_codec
from .presets import Preset, get_preset
from .products import Product, make_products
from .speech import check_tools

# bump when the output for a given (preset, seed) changes, so cached datasets are rebuilt
GENERATOR_VERSION = "2"


def live_windows(streams: list[dict], window_s: float, hop_s: float) -> list[dict]:
    """Every window on the [k*hop, k*hop + window) grid, as the live pipeline cuts them (a trailing
    window of at least half a window included), labelled with the product on air for the majority
    of the window, or ``product_id`` null where no product holds a majority (intro, outro, breaks, ties)."""
    rows = []
    for st in streams:
        for start, end in grid(float(st["duration"]), window_s, hop_s):
            rows.append(
                {
                    "id": window_id(st["stream_id"], start),
                    "stream_id": st["stream_id"],
                    "product_id": on_air(st["segments"], start, end),
                    "start": start,
                    "end": end,
                }
            )
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def _read_manifest(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _pages_task(chunk: list[Product], preset: Preset, seed: int, root: Path) -> list[dict]:
    return [row for p in chunk for row in write_pages(p, preset, seed, root)]


def build_dataset(
    out_dir: Path,
    preset: str = "demo",
    seed: int = 0,
    workers: int = 2,
    progress: Callable[[str], None] | None = print,
    window_s: float = 8.0,
    hop_s: float = 4.0,
) -> Path:
    """Build (or reuse) the dataset for (preset, seed) in out_dir and return out_dir."""
    out_dir = Path(out_dir)
    cfg = get_preset(preset)
    say = progress or (lambda msg: None)
    key = {"preset": cfg.name, "seed": int(seed), "version": GENERATOR_VERSION}
    m = _read_manifest(out_dir)
    if m is not None and all(m.get(k) == v for k, v in key.items()):
        if m.get("window_grid", {}) != {"window_s": window_s, "hop_s": hop_s}:
            _refresh_windows(out_dir, m, window_s, hop_s)  # only the window grid changed: cheap
        return out_dir

    if out_dir.exists() and m is None and any(out_dir.iterdir()):
        # never delete a folder we did not make
        raise FileExistsError(f"{out_dir} exists, is not empty and holds no dataset manifest; choose another --out")
    check_tools(heldout=cfg.heldout_streams > 0)
    t0 = time.time()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("pages", "videos", "live"):
        (tmp / sub).mkdir(parents=True)
    try:
        manifest = _build_into(tmp, cfg, int(seed), max(1, workers), say, window_s, hop_s)
        manifest.update(key)
        manifest["build_s"] = round(time.time() - t0, 1)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out_dir.exists():  # a stale or other-version dataset: replace it whole
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"dataset {cfg.name} seed {seed}: {manifest['counts']} in {manifest['build_s']} s -> {out_dir}")
    return out_dir


def _build_into(root: Path, cfg: Preset, seed: int, workers: int, say, window_s: float, hop_s: float) -> dict:
    products = make_products(cfg, seed)
    _write_jsonl(root / "products.jsonl", [p.row() for p in products])
    regular = plan_streams(products, cfg, seed)
    held = plan_heldout_streams(products, cfg, seed)
    plans = [(shown, False) for shown in regular] + [(shown, True) for shown in held]
    say(
        f"generating {cfg.name} (seed {seed}): {len(products)} products, "
        f"{len(products) * cfg.videos_per_product} videos, {len(plans)} live streams "
        f"({len(plans) - len(regular)} held-out), {workers} workers"
    )
    pages: list[dict] = []
    videos: list[dict] = []
    streams: list[dict] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # long jobs first so the pool does not end on one straggler stream
        futs: dict = {
            pool.submit(write_stream, i, shown, products, cfg, seed, root, heldout): "live"
            for i, (shown, heldout) in enumerate(plans)
        }
        chunk = 16
        futs.update(
            {
                pool.submit(_pages_task, products[i : i + chunk], cfg, seed, root): "pages"
                for i in range(0, len(products), chunk)
            }
        )
        futs.update(
            {
                pool.submit(write_video, p, k, cfg, seed, root): "video"
                for p in products
                for k in range(cfg.videos_per_product)
            }
        )
        done, total, last = 0, len(futs), time.time()
        for f in as_completed(futs):
            kind, res = futs[f], f.result()
            (pages.extend(res) if kind == "pages" else videos.append(res) if kind == "video" else streams.append(res))
            done += 1
            if time.time() - last > 10 or done == total:
                say(f"  {done}/{total} jobs done")
                last = time.time()
    pages.sort(key=lambda r: r["id"])
    videos.sort(key=lambda r: r["id"])
    streams.sort(key=lambda r: r["stream_id"])
    windows = live_windows(streams, window_s, hop_s)
    _write_jsonl(root / "catalog.jsonl", pages)
    _write_jsonl(root / "videos.jsonl", videos)
    _write_jsonl(root / "live.jsonl", streams)
    _write_jsonl(root / "windows.jsonl", windows)
    return {
        "counts": {
            "products": len(products),
            "groups": len({p.group for p in products}),
            "categories": len({p.category for p in products}),
            "pages": len(pages),
            "videos": len(videos),
            "live_streams": len(streams),
            "heldout_streams": sum(s["heldout"] for s in streams),
            "windows": len(windows),
            "product_windows": sum(w["product_id"] is not None for w in windows),
            "video_seconds": round(sum(v["duration"] for v in videos), 1),
            "live_seconds": round(sum(s["duration"] for s in streams), 1),
        },
        "splits": {sp: sum(p.split == sp for p in products) for sp in ("train", "val", "test")},
        "preset_config": asdict(cfg),
        "video_codec": video_codec(),
        "window_grid": {"window_s": window_s, "hop_s": hop_s},
    }


def _refresh_windows(out_dir: Path, manifest: dict, window_s: float, hop_s: float) -> None:
    streams = [json.loads(line) for line in (out_dir / "live.jsonl").read_text().splitlines() if line.strip()]
    windows = live_windows(streams, window_s, hop_s)
    tmp = out_dir / "windows.jsonl.tmp"
    _write_jsonl(tmp, windows)
    tmp.replace(out_dir / "windows.jsonl")
    manifest["window_grid"] = {"window_s": window_s, "hop_s": hop_s}
    manifest["counts"]["windows"] = len(windows)
    manifest["counts"]["product_windows"] = sum(w["product_id"] is not None for w in windows)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
