"""How well and how fast ampere.ocr reads live-commerce overlays, on rendered 640x360 frames.

    .venv/bin/python bench/ocr_probe.py [--n 30] [--seed 0] [--sizes 360,480,640] [--truth FILE.jsonl]

Each frame has a busy background, a price card ("$149.99", sometimes a struck-through old price), a badge
("LIVE DEAL", "-20%"), a viewer's chat line naming another product and, on a minority of frames, a name
card. Reported: the share of frames whose price is read exactly (as an OCR line, and as the price
``ampere.attributes.prices_on_screen`` parses, with and without catalogue prices to resolve "$" read as
"5"), the name-card read rate where there is one, ms per frame on 1 thread at several detector sizes and on
the pipeline's former 96 px square keyframes (centre crop, so corner cards are cut: ``old_square_keyframe``)
and on the whole frame at 96 px high, and the RSS the OCR adds. Printed as JSON and written to
/tmp/ocr_probe.json.

``--truth`` reads real frames instead: JSON lines ``{"image": path, "price": "$149.99", "name": "..."}``
(name optional), paths relative to the file.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ampere.attributes import prices_on_screen
from ampere.ocr import OcrOptions, Reader, changed

FONTS = Path("/usr/share/fonts/truetype/dejavu")
CARD_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSansCondensed-Bold.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono-Bold.ttf")
BADGES = ("LIVE DEAL", "FLASH SALE", "-20%", "ONLY TODAY", "NEW", "LIVE", "HOT")
USERS = ("mike22", "anna_b", "shopfan", "lucy.k", "tom_88", "jay")
ASKS = ("is the {} back?", "do you have the {} in red?", "price of the {}?", "{} please!!")
BRANDS = ("Zorvik", "Lumara", "Kestrel", "Ondra", "Vexo", "Brisa", "Talvik", "Norra", "Quill", "Sorel")
NOUNS = ("Trail Backpack", "Desk Lamp", "Travel Mug", "Runner Sneakers", "Canvas Tote", "Smart Watch")


@dataclass
class Frame:
    rgb: np.ndarray
    price: str  # as printed, e.g. "$149.99"
    value: float
    name: str | None  # the name card's text, when there is one
    old: float | None = None  # the struck-through old price, when there is one


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / name), size)


def render(rng: np.random.Generator, w: int = 640, h: int = 360) -> Frame:
    # background: a soft gradient, blobs for host and product, then pixel noise (camera grain)
    gx = np.linspace(0, 1, w)[None, :, None]
    gy = np.linspace(0, 1, h)[:, None, None]
    c0, c1 = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
    bg = (c0 * (1 - gx) * (1 - gy) + c1 * gx * gy + 60 * rng.random((1, 1, 3))).clip(0, 255)
    img = Image.fromarray(bg.astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(5, 12))):
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(15, 110))
        fill = tuple(int(v) for v in rng.integers(0, 255, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x - r, y - r, x + r, y + int(r * 1.3)], fill=fill)
    texture = (rng.random((h // 6, w // 6, 3)) * 255).astype(np.uint8)
    tex = Image.fromarray(texture).resize((w, h), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1.5))
    img = Image.blend(img, tex, float(rng.uniform(0.1, 0.35)))
    d = ImageDraw.Draw(img)

    dollars = int(
        rng.choice(
            [int(rng.integers(9, 99)), int(rng.integers(100, 400)), int(rng.integers(1000, 2000))], p=[0.45, 0.45, 0.10]
        )
    )
    cents = int(rng.choice([99, 95, 0, 49]))
    value = dollars + cents / 100
    price = f"${dollars:,}" + (f".{cents:02d}" if cents or rng.random() < 0.3 else "")
    size = int(rng.integers(16, 42))  # from a small corner tag to a big card
    font = _font(str(rng.choice(CARD_FONTS)), size)
    tw = int(d.textlength(price, font=font))
    has_old = rng.random() < 0.6
    card_w, card_h = tw + 28, size + (34 if has_old else 18)
    corner = str(rng.choice(["br", "bl", "tr"]))
    x0 = w - card_w - 10 if corner in ("br", "tr") else 10
    y0 = h - card_h - 10 if corner in ("br", "bl") else 10
    card = tuple(int(v) for v in rng.choice([[250, 250, 244], [255, 221, 0], [20, 20, 24], [200, 16, 40]]))
    ink = (
        (255, 255, 255)
        if sum(card) < 400
        else tuple(int(v) for v in rng.choice([[200, 20, 30], [10, 10, 10], [150, 150, 150]]))
    )
    d.rounded_rectangle([x0, y0, x0 + card_w, y0 + card_h], 10, fill=card)
    d.text((x0 + 14, y0 + 6), price, font=font, fill=ink)
    old_value = None
    if has_old:
        old_value = int(dollars * rng.uniform(1.2, 1.6)) + 0.99
        old = f"${int(old_value):,}.99"
        small = _font("DejaVuSans.ttf", 15)
        ox, oy = x0 + 14, y0 + size + 12
        d.text((ox, oy), old, font=small, fill=(120, 120, 120) if sum(card) > 400 else (200, 200, 200))
        d.line([ox, oy + 9, ox + d.textlength(old, font=small), oy + 9], fill=(120, 120, 120), width=2)

    # badge, opposite side from the card on top
    bfont = _font("DejaVuSans-Bold.ttf", int(rng.integers(14, 20)))
    badge = str(rng.choice(BADGES))
    bx = 10 if corner != "tr" else w // 2 - 60
    d.rectangle([bx, 10, bx + d.textlength(badge, font=bfont) + 16, 10 + bfont.size + 12], fill=(220, 0, 0))
    d.text((bx + 8, 15), badge, font=bfont, fill="white")

    # a chat line naming another product
    other = f"{rng.choice(BRANDS)} {int(rng.choice([10, 20, 40, 300, 900]))}"
    chat = f"{rng.choice(USERS)}: " + str(rng.choice(ASKS)).format(other)
    cfont = _font("DejaVuSans.ttf", 15)
    cy = h - 40 if corner != "bl" else h // 2
    cx = 10 if corner != "bl" else w - int(d.textlength(chat, font=cfont)) - 24
    d.rectangle([cx, cy, cx + d.textlength(chat, font=cfont) + 12, cy + 26], fill=(0, 0, 0))
    d.text((cx + 6, cy + 4), chat, font=cfont, fill=(255, 255, 255))

    name = None
    if rng.random() < 0.3:  # a name card on a minority of frames
        name = f"{rng.choice(BRANDS)} {int(rng.choice([10, 20, 40, 50, 300, 900]))} {rng.choice(NOUNS)}"
        nfont = _font(str(rng.choice(CARD_FONTS[:2])), int(rng.integers(18, 26)))
        nx, ny = (w - int(d.textlength(name, font=nfont)) - 30, 56) if corner != "tr" else (10, 56)
        d.rectangle([nx, ny, nx + d.textlength(name, font=nfont) + 20, ny + nfont.size + 14], fill=(255, 255, 255))
        d.text((nx + 10, ny + 6), name, font=nfont, fill=(20, 20, 20))

    if rng.random() < 0.25:
        img = img.filter(ImageFilter.GaussianBlur(0.6))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(35, 86)))
    return Frame(np.asarray(Image.open(buf).convert("RGB")), price, round(value, 2), name, old_value)


def load_truth(path: Path) -> list[Frame]:
    from ampere.attributes import valid_price

    frames = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rgb = np.asarray(Image.open(path.parent / row["image"]).convert("RGB"))
            frames.append(Frame(rgb, row["price"], valid_price(row["price"]) or 0.0, row.get("name")))
    return frames


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


@dataclass
class Config:
    name: str
    reader: Reader
    prep: object = None  # frame -> the image this configuration reads

    def __post_init__(self) -> None:
        self.ms: list[float] = []
        self.exact = self.parsed = self.resolved = self.names = self.with_name = self.dollar_as_5 = 0
        self.old_seen = self.old_as_price = 0
        self.misses: list[dict] = []

    def run(self, fr: Frame, catalogue: list[float]) -> None:
        img = self.prep(fr.rgb) if self.prep else fr.rgb
        t = time.perf_counter()
        lines = self.reader.read(img)
        self.ms.append((time.perf_counter() - t) * 1000)
        texts = [ln.text for ln in lines]
        ok = fr.price in texts or fr.price in [t.replace(" ", "") for t in texts]
        self.exact += ok
        seen = prices_on_screen(lines)
        self.parsed += fr.value in {p.value for p in seen if p.kind == "price" and p.source == "screen"}
        resolved = prices_on_screen(lines, catalogue)
        self.resolved += fr.value in {p.value for p in resolved if p.kind == "price" and p.source == "screen"}
        if fr.old is not None and fr.old in {p.value for p in seen}:
            self.old_seen += 1
            self.old_as_price += fr.old in {p.value for p in seen if p.kind == "price"}
        self.dollar_as_5 += any(
            t.startswith("5") and t[1:].replace(",", "") == fr.price[1:].replace(",", "") for t in texts
        )
        if fr.name:
            self.with_name += 1
            self.names += any(_norm(fr.name) == _norm(t) for t in texts)
        if not ok and len(self.misses) < 4:
            self.misses.append({"price": fr.price, "read": texts[:8]})

    def summary(self) -> dict:
        n = len(self.ms)
        return {
            "frames": n,
            "price_line_exact": round(self.exact / n, 3),
            "price_parsed": round(self.parsed / n, 3),
            "price_parsed_with_catalogue": round(self.resolved / n, 3),
            "dollar_read_as_5": self.dollar_as_5,
            "old_price_read": self.old_seen,
            "old_price_taken_for_price": self.old_as_price,
            "name_card_read": round(self.names / self.with_name, 3) if self.with_name else None,
            "name_cards": self.with_name,
            "ms_median": round(statistics.median(self.ms), 1),
            "ms_mean": round(statistics.fmean(self.ms), 1),
            "misses": self.misses,
        }


def old_square_keyframe(rgb: np.ndarray, size: int) -> np.ndarray:
    """What the pipeline carried before full frames: a centre-cropped square at ``size`` px."""
    img = Image.fromarray(rgb)
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return np.asarray(img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30, help="rendered frames (default 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", default="360,480,640", help="detector side lengths to time")
    ap.add_argument("--truth", type=Path, help="real frames with their prices (JSON lines) instead of rendered ones")
    ap.add_argument("--out", type=Path, default=Path("/tmp/ocr_probe.json"))
    args = ap.parse_args(argv)

    frames = (
        load_truth(args.truth) if args.truth else [render(np.random.default_rng([args.seed, i])) for i in range(args.n)]
    )
    # the catalogue the "$ read as 5" resolution may use: the shown prices among as many others
    rng = np.random.default_rng(args.seed + 1)
    catalogue = sorted(
        {f.value for f in frames} | {round(float(v), 2) for v in rng.integers(900, 40000, len(frames)) / 100}
    )

    out: dict = {
        "machine": f"{os.cpu_count()} CPUs, shared and loaded: compare ratios, not absolute ms",
        "source": str(args.truth) if args.truth else f"rendered 640x360, seed {args.seed}",
        "configs": {},
    }
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    def reader(**kw) -> Reader:
        r = Reader(OcrOptions(threads=1, skip_unchanged=0, **kw))
        r.load()
        return r

    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    first = reader(det_limit_side_len=sizes[0])
    out["load_s"] = round(time.perf_counter() - t, 2)
    out["rss_added_mb_after_load"] = round(rss_mb() - before, 1)
    for fr in frames[:10]:
        first.read(fr.rgb)
    out["rss_added_mb_after_reading"] = round(rss_mb() - before, 1)

    configs = [
        Config(f"full_640x360_det{sizes[0]}", first),
        Config("square_96px_keyframe", first, lambda rgb: old_square_keyframe(rgb, 96)),
        Config(
            "whole_frame_171x96",
            first,
            lambda rgb: np.asarray(Image.fromarray(rgb).resize((171, 96), Image.Resampling.BILINEAR)),
        ),
    ]
    configs += [Config(f"full_640x360_det{side}", reader(det_limit_side_len=side)) for side in sizes[1:]]
    configs.append(
        Config(
            f"full_640x360_det{sizes[0]}_angle_classifier",
            reader(det_limit_side_len=sizes[0], use_angle_classifier=True),
        )
    )
    # frame by frame through every configuration, so a shared machine's load swings hit them alike
    for fr in frames:
        for c in configs:
            c.run(fr, catalogue)
    base = statistics.median(configs[0].ms)
    for c in configs:
        out["configs"][c.name] = c.summary() | {f"ms_vs_det{sizes[0]}": round(statistics.median(c.ms) / base, 2)}

    # the unchanged-frame check itself
    t = time.perf_counter()
    thumb = None
    for fr in frames:
        _, thumb = changed(thumb, fr.rgb)
    out["changed_check_ms_per_frame"] = round((time.perf_counter() - t) * 1000 / len(frames), 3)

    print(json.dumps(out, indent=2))
    args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
