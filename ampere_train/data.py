"""Items of a generated dataset (docs/DESIGN.md, "Generated data layout") as arrays for training/eval.

Frames are decoded once per split and cached as .npy under ``DATASET/cache/encoders/`` (decoding is
the slow part); texts are cheap and re-read every time so a new raw_asr/summary file is picked up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ampere.names import names_of
from ampere.summarize import name_words, window_text
from ampere_train import TEXT_MODES
from encoders.frames import fit_box, load_image, sample_video_frames, segment_centres

if TYPE_CHECKING:
    import torch

DOMAINS = ("page", "video", "live")


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
    # float32 [N, k, 4]: the product's box (x0, y0, x1, y1) in each square frame, normalised; NaN where the
    # generator's truth has none (out of view, cut off by the fit) or for domains without boxes (None)
    boxes: np.ndarray | None = None

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


def product_groups(dataset_dir: Path) -> dict[str, str]:
    """product id -> its look-alike group (the product itself where the dataset has no groups)."""
    return {
        p["product_id"]: p.get("group") or p["product_id"] for p in read_jsonl(Path(dataset_dir) / "products.jsonl")
    }


def live_boxes(dataset_dir: Path, items: list[Item], k: int, fit: str = "squash") -> np.ndarray | None:
    """The generator's product box at each of the k frame times of each live item (the truth entry nearest in
    time, as ``decode_frames`` takes the nearest frame), in the square frame's coordinates (``fit``):
    float32 [N, k, 4], NaN where there is none. None when live.jsonl has no boxes (older datasets).
    Truth for training only: the serving path never sees boxes."""
    streams = {s["stream_id"]: s for s in read_jsonl(Path(dataset_dir) / "live.jsonl")}
    if not any(s.get("boxes") for s in streams.values()):
        return None
    out = np.full((len(items), k, 4), np.nan, np.float32)
    by_path = {s["path"]: s for s in streams.values()}
    tables: dict[str, tuple[np.ndarray, list]] = {}
    for i, it in enumerate(items):
        st = by_path.get(it.source)
        if st is None or not st.get("boxes"):
            continue
        if it.source not in tables:
            tables[it.source] = (np.array([b[0] for b in st["boxes"]], np.float64), st["boxes"])
        times, rows = tables[it.source]
        w, h = st.get("size") or (1, 1)
        for j, t in enumerate(segment_centres(it.start, it.end, k)):
            box = fit_box(rows[int(np.abs(times - t).argmin())][1:5], w, h, fit)
            if box is not None:
                out[i, j] = box
    return out


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
                    wins.append(
                        {
                            "id": f"{sid}:{int(round(t * 1000))}",
                            "stream_id": sid,
                            "product_id": seg["product_id"],
                            "start": t,
                            "end": min(t + window_s, seg["end"]),
                        }
                    )
                    if t + window_s >= seg["end"]:
                        break
                    t += hop_s
    for w in wins:
        stream = streams.get(w["stream_id"])
        if stream is None:
            raise ValueError(f"window {w['id']}: unknown stream {w['stream_id']!r}")
        w["path"] = stream["path"]
        w["script"] = _segment_script(stream, w)
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
            f'text_mode={text_mode!r} needs {path} (lines {{"id", "text"}} for video and window ids), '
            f"made by the ASR/summary stage; run it first or use text_mode='script'"
        )
    # a summarizer's "nothing about a product" marker embeds as no text, as in the live path
    return {
        r["id"]: ("" if (r.get("text") or "").strip().lower() in ("empty", "none") else r["text"])
        for r in read_jsonl(path)
    }


def read_screen(dataset_dir: Path) -> dict[str, list]:
    """Window id -> the OCR rows of its frames (``texts/screen.jsonl``)."""
    path = Path(dataset_dir) / "texts" / "screen.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"text_mode='summary_screen' needs {path}, made by `ampere prepare-texts`")
    return {r["id"]: r.get("lines") or [] for r in read_jsonl(path)}


def catalogue_name_words(dataset_dir: Path) -> frozenset[str]:
    """``name_words`` of the catalogue's names, taken from its pages as the live path takes them (``names_of``)."""
    return name_words(n for row in read_jsonl(Path(dataset_dir) / "catalog.jsonl") for n in names_of(row))


def list_items(dataset_dir: Path, split: str, text_mode: str = "script") -> tuple[dict[str, list[Item]], int]:
    """Items of one split per domain (no pixels). Returns (items by domain, number of missing texts)."""
    if text_mode not in TEXT_MODES:
        raise ValueError(f"text_mode must be one of {TEXT_MODES}, got {text_mode!r}")
    dataset_dir = Path(dataset_dir)
    splits = product_splits(dataset_dir)
    if split not in set(splits.values()) and split != "all":
        raise ValueError(f"split {split!r} has no products in {dataset_dir} (splits: {sorted(set(splits.values()))})")
    keep = (lambda pid: True) if split == "all" else (lambda pid: splits.get(pid) == split)
    speech_mode = "summary" if text_mode == "summary_screen" else text_mode
    texts = _read_texts(dataset_dir, speech_mode) if speech_mode in ("raw_asr", "asr_names", "summary") else None
    screen = read_screen(dataset_dir) if text_mode == "summary_screen" else None
    words = catalogue_name_words(dataset_dir) if screen is not None else None
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
            out["video"].append(
                Item(
                    r["id"],
                    "video",
                    r["product_id"],
                    speech(r["id"], r.get("script", "")),
                    r["path"],
                    0.0,
                    float(r["duration"]),
                )
            )
    for w in live_windows(dataset_dir):
        if w.get("product_id") is not None and keep(w["product_id"]):  # windows with no product on air: skipped
            out["live"].append(
                Item(
                    w["id"],
                    "live",
                    w["product_id"],
                    speech(w["id"], w["script"])
                    if screen is None
                    else window_text(speech(w["id"], w["script"]), screen.get(w["id"], ()), words),
                    w["path"],
                    float(w["start"]),
                    float(w["end"]),
                )
            )
    return out, missing


def decode_frames(
    dataset_dir: Path,
    items: list[Item],
    domain: str,
    k: int,
    size: int,
    progress: Callable[[str], None] | None = None,
    fit: str = "squash",
) -> np.ndarray:
    """uint8 [N, k, size, size, 3]; ``fit`` (ModelConfig.image_fit) squares frames as the runtime does."""
    if domain == "page":
        arr = np.zeros((len(items), 1, size, size, 3), np.uint8)
        for i, it in enumerate(items):
            arr[i, 0] = load_image(dataset_dir / it.source, size, fit)
        return arr
    arr = np.zeros((len(items), k, size, size, 3), np.uint8)
    by_file: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_file.setdefault(it.source, []).append(i)
    for n, (src, idx) in enumerate(by_file.items(), 1):
        times = [t for i in idx for t in segment_centres(items[i].start, items[i].end, k)]
        frames = sample_video_frames(dataset_dir / src, times, size, fit)
        for j, i in enumerate(idx):
            arr[i] = frames[j * k : (j + 1) * k]
        if progress and n % 20 == 0:
            progress(f"  decoded {n}/{len(by_file)} {domain} files")
    return arr


def load_split(
    dataset_dir: str | Path,
    split: str,
    k: int,
    size: int,
    text_mode: str = "script",
    cache: bool = True,
    progress: Callable[[str], None] | None = None,
    fit: str = "squash",
) -> SplitData:
    dataset_dir = Path(dataset_dir)
    items, missing = list_items(dataset_dir, split, text_mode)
    domains = {}
    for d in DOMAINS:
        its = items[d]
        key = hashlib.sha1(json.dumps([(i.id, i.source, i.start, i.end) for i in its]).encode()).hexdigest()[:12]
        tag = "" if fit == "squash" else f"-{fit}"  # squash keeps the cache names of before fits existed
        path = dataset_dir / "cache" / "encoders" / f"{split}-{d}-k{k}-s{size}{tag}-{key}.npy"
        if cache and path.is_file():
            frames = np.load(path)
        else:
            if progress:
                progress(f"decoding {len(its)} {split} {d} items ...")
            frames = decode_frames(dataset_dir, its, d, k, size, progress, fit)
            if cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, frames)
                tmp.replace(path)
        domains[d] = DomainData(its, frames, live_boxes(dataset_dir, its, k, fit) if d == "live" else None)
    notes = []
    if missing:
        notes.append(f"{missing} video/live items have no {text_mode} text (empty text used)")
    return SplitData(split, text_mode, domains, missing, notes)


# --- torch-side augmentation (no torchvision here)


def random_resized_crop_flip(x, scale=(0.64, 1.0), ratio=(3 / 4, 4 / 3), generator=None, group: int = 1, masks=None):
    """Random resized crop + horizontal flip for x [N, 3, H, W] float, via one affine grid_sample.
    Consecutive runs of ``group`` frames (the K frames of one clip) share a crop, so a clip stays coherent.
    ``masks`` [N, 1, H, W] (the product's box, ``box_masks``) go through the same geometry: (x, masks)."""
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
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if masks is None:
        return y
    return y, F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _per_clip(m: int, p: float, generator) -> torch.Tensor:
    import torch

    return torch.rand(m, generator=generator) < p


def small_product(x, p: float, scale=(0.35, 0.75), generator=None, group: int = 1, masks=None):
    """With probability p per clip, shrink the picture to ``scale`` of its side and paste it at a random
    place on clutter: live frames show the product small, beside a host, in a busy studio, while pages fill
    the frame with it. The clutter is another clip's picture cut into 4x4 tiles and shuffled, so it brings
    colour and texture but no second whole product (that one is a negative of the same batch). ``masks``
    [N, 1, H, W] shrink with their picture, the clutter has none: returns (x, masks)."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    m = n // group
    pick = _per_clip(m, p, generator)
    s = torch.empty(m).uniform_(scale[0], scale[1], generator=generator)
    cx = (torch.rand(m, generator=generator) * 2 - 1) * (1 - s)
    cy = (torch.rand(m, generator=generator) * 2 - 1) * (1 - s)
    if not pick.any():
        return x if masks is None else (x, masks)
    bg = x.roll(group, dims=0)
    if h % 4 == 0 and w % 4 == 0:
        tiles = bg.reshape(n, 3, 4, h // 4, 4, w // 4).permute(0, 1, 2, 4, 3, 5).reshape(n, 3, 16, h // 4, w // 4)
        tiles = tiles[:, :, torch.randperm(16, generator=generator)]
        bg = tiles.reshape(n, 3, 4, 4, h // 4, w // 4).permute(0, 1, 2, 4, 3, 5).reshape(n, 3, h, w)
    # output (u, v) samples input ((u - c) / s): the whole picture lands in a box of side s at c
    theta = torch.zeros(m, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s
    theta[:, 0, 2], theta[:, 1, 2] = -cx / s, -cy / s
    theta = theta.repeat_interleave(group, dim=0).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    fg = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    inside = F.grid_sample(torch.ones_like(x[:, :1]), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    pasted = fg + (1 - inside) * bg
    sel = pick.repeat_interleave(group).view(n, 1, 1, 1)
    y = torch.where(sel, pasted, x)
    if masks is None:
        return y
    m_fg = F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return y, torch.where(sel, m_fg, masks)


def colour_shift(x, p: float, generator=None, group: int = 1):
    """With probability p per clip: brightness, contrast and saturation within +-20 %, a hue rotation within
    +-10 degrees and a white-balance gain within +-5 % per channel (studio lights vs a catalogue shot).
    Kept small: colour is what tells many look-alike products apart."""
    import math

    import torch

    n = x.shape[0]
    m = n // group
    pick = _per_clip(m, p, generator)
    u = lambda lo, hi: torch.empty(m).uniform_(lo, hi, generator=generator)
    bright, contrast, sat, hue = u(0.8, 1.2), u(0.8, 1.2), u(0.8, 1.2), u(-math.pi / 18, math.pi / 18)
    gain = torch.empty(m, 3).uniform_(0.95, 1.05, generator=generator)
    if not pick.any():
        return x
    # rotation about the grey axis (1, 1, 1): Rodrigues' formula
    k = torch.full((3,), 1 / math.sqrt(3))
    kx = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    cos, sin = hue.cos().view(m, 1, 1), hue.sin().view(m, 1, 1)
    rot = cos * torch.eye(3) + (1 - cos) * torch.outer(k, k) + sin * kx  # [m, 3, 3]
    rot = rot * gain.unsqueeze(1)  # gain per output channel
    rep = lambda t: t.repeat_interleave(group, dim=0).to(x.dtype)
    y = torch.einsum("nij,njhw->nihw", rep(rot), x) * rep(bright).view(n, 1, 1, 1)
    grey = y.mean(dim=1, keepdim=True)
    y = grey + (y - grey) * rep(sat).view(n, 1, 1, 1)
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    y = (mean + (y - mean) * rep(contrast).view(n, 1, 1, 1)).clamp(0, 1)
    return torch.where(pick.repeat_interleave(group).view(n, 1, 1, 1), y, x)


def blur(x, p: float, sigma=(0.4, 1.6), generator=None, group: int = 1):
    """With probability p per clip, a Gaussian blur of random sigma (pixels): motion, focus and the
    stream encoder's softness. Separable, one grouped convolution per axis."""
    import math

    import torch
    import torch.nn.functional as F

    n, c, h, w = x.shape
    m = n // group
    pick = _per_clip(m, p, generator)
    sig = torch.empty(m).uniform_(sigma[0], sigma[1], generator=generator)
    if not pick.any():
        return x
    r = int(math.ceil(2 * sigma[1]))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    kern = torch.exp(-0.5 * (t.view(1, -1) / sig.view(-1, 1).to(x.dtype)) ** 2)
    kern = (kern / kern.sum(dim=1, keepdim=True)).repeat_interleave(group * c, dim=0)  # [n*c, 2r+1]
    y = F.pad(x.reshape(1, n * c, h, w), (r, r, r, r), mode="reflect")
    y = F.conv2d(y, kern.view(n * c, 1, 1, -1), groups=n * c)
    y = F.conv2d(y, kern.view(n * c, 1, -1, 1), groups=n * c).reshape(n, c, h, w)
    return torch.where(pick.repeat_interleave(group).view(n, 1, 1, 1), y, x)


def augment_frames(x, cfg, generator=None, group: int = 1, masks=None):
    """Training augmentation of x [N, 3, H, W] in [0, 1] for a ModelConfig: small product on clutter, random
    resized crop + flip, colour shift, blur; every clip (``group`` consecutive frames) gets one draw.
    An augmentation with probability 0 draws no random numbers, so configs without them (the shipped
    small model) see the same random stream as before these existed.

    ``masks`` [N, 1, H, W] (``box_masks`` of the product boxes) follow the geometric steps and are returned
    too, (x, masks); they draw no random numbers, so the pixels come out the same with or without them."""
    if cfg.augment_small_product > 0:
        out = small_product(x, cfg.augment_small_product, generator=generator, group=group, masks=masks)
        x, masks = out if masks is not None else (out, None)
    out = random_resized_crop_flip(x, tuple(cfg.augment_scale), generator=generator, group=group, masks=masks)
    x, masks = out if masks is not None else (out, None)
    if cfg.augment_colour > 0:
        x = colour_shift(x, cfg.augment_colour, generator=generator, group=group)
    if cfg.augment_blur > 0:
        x = blur(x, cfg.augment_blur, generator=generator, group=group)
    return x if masks is None else (x, masks)


def box_masks(boxes, size: int):
    """float [N, 4] boxes (x0, y0, x1, y1, normalised; NaN rows = no box) -> float32 [N, 1, size, size] masks,
    1 inside the box (pixel centres), 0 elsewhere and for NaN rows."""
    import torch

    b = torch.as_tensor(np.asarray(boxes, np.float32)).reshape(-1, 4)
    valid = ~torch.isnan(b).any(dim=1)
    b = torch.nan_to_num(b, nan=0.0)
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    inx = (c.view(1, -1) >= b[:, 0:1]) & (c.view(1, -1) < b[:, 2:3])  # [N, size] over x
    iny = (c.view(1, -1) >= b[:, 1:2]) & (c.view(1, -1) < b[:, 3:4])
    m = (iny.unsqueeze(2) & inx.unsqueeze(1) & valid.view(-1, 1, 1)).float()
    return m.unsqueeze(1)


def box_cover(masks, h: int, w: int):
    """[N, 1, H, W] masks -> [N, h, w]: the share of each feature-map cell the product covers."""
    import torch.nn.functional as F

    return F.adaptive_avg_pool2d(masks, (h, w)).squeeze(1)
