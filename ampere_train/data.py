"""Items of a generated dataset (docs/DESIGN.md, "Generated data layout") as arrays for training/eval.

Frames are decoded once per split and cached as .npy under ``DATASET/cache/encoders/`` (decoding is
the slow part); texts are cheap and re-read every time so a new raw_asr/summary file is picked up.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from encoders.frames import load_image, sample_video_frames, segment_centres

DOMAINS = ("page", "video", "live")
TEXT_MODES = ("script", "raw_asr", "asr_names", "summary", "none")  # asr_names: ASR, catalogue names corrected


@dataclass
class Item:
    id: str
    domain: str
    product_id: str
    text: str
    source: str  # image path / video path (relative to the dataset)
    start: float = 0.0
    end: float = 0.0


@dataclass
class DomainData:
    items: list[Item]
    frames: np.ndarray  # uint8 [N, k, H, W, 3]; k = 1 for pages, K otherwise

    @property
    def product_ids(self) -> list[str]:
        return [it.product_id for it in self.items]

    @property
    def texts(self) -> list[str]:
        return [it.text for it in self.items]


@dataclass
class SplitData:
    split: str
    text_mode: str
    domains: dict[str, DomainData]
    missing_texts: int = 0  # video/live items with no entry in the raw_asr/summary file (given "")
    notes: list[str] = field(default_factory=list)


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"missing dataset file: {path}")
    rows = []
    with path.open() as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: bad JSON ({e})") from None
    return rows


def product_splits(dataset_dir: Path) -> dict[str, str]:
    return {p["product_id"]: p.get("split", "train") for p in read_jsonl(dataset_dir / "products.jsonl")}


def live_windows(dataset_dir: Path, window_s: float | None = None, hop_s: float | None = None) -> list[dict]:
    """windows.jsonl if present, else windows cut inside each on-air segment (settings' window/hop)."""
    path = dataset_dir / "windows.jsonl"
    streams = {s["stream_id"]: s for s in read_jsonl(dataset_dir / "live.jsonl")}
    if path.is_file():
        wins = read_jsonl(path)
    else:
        if window_s is None or hop_s is None:
            from ampere.settings import get_settings

            s = get_settings()
            window_s, hop_s = s.windows.window_s, s.windows.hop_s
        wins = []
        for sid, st in streams.items():
            for seg in st["segments"]:
                if seg.get("product_id") is None:
                    continue  # intro, outro, breaks: no product on air
                t = float(seg["start"])
                while True:  # windows inside the segment; the last one is clipped to its end
                    wins.append({"id": f"{sid}:{int(round(t * 1000))}", "stream_id": sid,
                                 "product_id": seg["product_id"], "start": t,
                                 "end": min(t + window_s, seg["end"])})
                    if t + window_s >= seg["end"]:
                        break
                    t += hop_s
    for w in wins:
        st = streams.get(w["stream_id"])
        if st is None:
            raise ValueError(f"window {w['id']}: unknown stream {w['stream_id']!r}")
        w["path"] = st["path"]
        w["script"] = _segment_script(st, w)
    return wins


def _segment_script(stream: dict, win: dict) -> str:
    """Script of the on-air segment of the window's product that overlaps the window most."""
    best, best_overlap = "", 0.0
    for seg in stream["segments"]:
        if seg["product_id"] != win["product_id"]:
            continue
        overlap = min(seg["end"], win["end"]) - max(seg["start"], win["start"])
        if overlap > best_overlap:
            best, best_overlap = seg.get("script", ""), overlap
    return best


def _read_texts(dataset_dir: Path, text_mode: str) -> dict[str, str]:
    path = dataset_dir / "texts" / f"{text_mode}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"text_mode={text_mode!r} needs {path} (lines {{\"id\", \"text\"}} for video and window ids), "
            f"made by the ASR/summary stage; run it first or use text_mode='script'")
    # a summarizer's "nothing about a product" marker embeds as no text, as in the live path
    return {r["id"]: ("" if (r.get("text") or "").strip().lower() in ("empty", "none") else r["text"])
            for r in read_jsonl(path)}


def list_items(dataset_dir: Path, split: str, text_mode: str = "script") -> tuple[dict[str, list[Item]], int]:
    """Items of one split per domain (no pixels). Returns (items by domain, number of missing texts)."""
    if text_mode not in TEXT_MODES:
        raise ValueError(f"text_mode must be one of {TEXT_MODES}, got {text_mode!r}")
    dataset_dir = Path(dataset_dir)
    splits = product_splits(dataset_dir)
    if split not in set(splits.values()) and split != "all":
        raise ValueError(f"split {split!r} has no products in {dataset_dir} (splits: {sorted(set(splits.values()))})")
    keep = (lambda pid: True) if split == "all" else (lambda pid: splits.get(pid) == split)
    texts = _read_texts(dataset_dir, text_mode) if text_mode in ("raw_asr", "asr_names", "summary") else None
    missing = 0

    def speech(item_id: str, script: str) -> str:
        nonlocal missing
        if text_mode == "none":
            return ""
        if texts is None:
            return script or ""
        if item_id not in texts:
            missing += 1
        return texts.get(item_id, "")

    out: dict[str, list[Item]] = {d: [] for d in DOMAINS}
    for r in read_jsonl(dataset_dir / "catalog.jsonl"):
        if keep(r["product_id"]):
            title = "" if text_mode == "none" else r.get("title", "")
            out["page"].append(Item(r["id"], "page", r["product_id"], title, r["image"]))
    for r in read_jsonl(dataset_dir / "videos.jsonl"):
        if keep(r["product_id"]):
            out["video"].append(Item(r["id"], "video", r["product_id"], speech(r["id"], r.get("script", "")),
                                     r["path"], 0.0, float(r["duration"])))
    for w in live_windows(dataset_dir):
        if w.get("product_id") is not None and keep(w["product_id"]):  # windows with no product on air: skipped
            out["live"].append(Item(w["id"], "live", w["product_id"], speech(w["id"], w["script"]),
                                    w["path"], float(w["start"]), float(w["end"])))
    return out, missing


def decode_frames(dataset_dir: Path, items: list[Item], domain: str, k: int, size: int,
                  progress: Callable[[str], None] | None = None) -> np.ndarray:
    if domain == "page":
        arr = np.zeros((len(items), 1, size, size, 3), np.uint8)
        for i, it in enumerate(items):
            arr[i, 0] = load_image(dataset_dir / it.source, size)
        return arr
    arr = np.zeros((len(items), k, size, size, 3), np.uint8)
    by_file: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_file.setdefault(it.source, []).append(i)
    for n, (src, idx) in enumerate(by_file.items(), 1):
        times = [t for i in idx for t in segment_centres(items[i].start, items[i].end, k)]
        frames = sample_video_frames(dataset_dir / src, times, size)
        for j, i in enumerate(idx):
            arr[i] = frames[j * k:(j + 1) * k]
        if progress and n % 20 == 0:
            progress(f"  decoded {n}/{len(by_file)} {domain} files")
    return arr


def load_split(dataset_dir: str | Path, split: str, k: int, size: int, text_mode: str = "script",
               cache: bool = True, progress: Callable[[str], None] | None = None) -> SplitData:
    dataset_dir = Path(dataset_dir)
    items, missing = list_items(dataset_dir, split, text_mode)
    domains = {}
    for d in DOMAINS:
        its = items[d]
        key = hashlib.sha1(json.dumps([(i.id, i.source, i.start, i.end) for i in its]).encode()).hexdigest()[:12]
        path = dataset_dir / "cache" / "encoders" / f"{split}-{d}-k{k}-s{size}-{key}.npy"
        if cache and path.is_file():
            frames = np.load(path)
        else:
            if progress:
                progress(f"decoding {len(its)} {split} {d} items ...")
            frames = decode_frames(dataset_dir, its, d, k, size, progress)
            if cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, frames)
                tmp.replace(path)
        domains[d] = DomainData(its, frames)
    notes = []
    if missing:
        notes.append(f"{missing} video/live items have no {text_mode} text (empty text used)")
    return SplitData(split, text_mode, domains, missing, notes)


# --- torch-side augmentation (no torchvision here)

def random_resized_crop_flip(x, scale=(0.64, 1.0), ratio=(3 / 4, 4 / 3), generator=None, group: int = 1):
    """Random resized crop + horizontal flip for x [N, 3, H, W] float, via one affine grid_sample.
    Consecutive runs of ``group`` frames (the K frames of one clip) share a crop, so a clip stays coherent."""
    import math

    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    m = n // group
    area = torch.empty(m).uniform_(scale[0], scale[1], generator=generator)
    logr = torch.empty(m).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    r = torch.exp(logr)
    sw = torch.sqrt(area * r).clamp(max=1.0)
    sh = torch.sqrt(area / r).clamp(max=1.0)
    # centre offset in normalised coords keeps the crop inside the image
    cx = (torch.rand(m, generator=generator) * 2 - 1) * (1 - sw)
    cy = (torch.rand(m, generator=generator) * 2 - 1) * (1 - sh)
    flip = torch.where(torch.rand(m, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(m, 2, 3)
    theta[:, 0, 0] = sw * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = sh
    theta[:, 1, 2] = cy
    theta = theta.repeat_interleave(group, dim=0).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
