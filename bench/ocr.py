"""OCR of the benchmark's live frames: is the on-screen price read exactly, is the name card read, at what cost.

    .venv/bin/python bench/ocr.py [--frames 150]
    .venv/bin/python bench/ocr.py --line-reuse --dataset .ampere/data/demo-s0
    .venv/bin/python bench/ocr.py --rec-batch --dataset .ampere/data/demo-s0

Frames are taken from the test split's streams at times the truth says a price card (or a name card) is on
screen, decoded as ``ampere replay`` carries them: the readable frame (``ingest.full_size``, 640 px) that the
OCR stage reads, and for comparison the small frame the visual tower gets (``ingest.frame_size``). Writes the
``ocr`` section of bench/results/quality.json (price_exact, name_card_read, ms_per_frame, and the same at the
small resolution).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ampere import media
from ampere.attributes import prices_on_screen
from ampere.ocr import Reader
from ampere.settings import REPO_ROOT, get_settings
from ampere_synth.truth import load_jsonl
from bench.quality import update


def samples(ds: Path, n: int, seed: int = 0, per_card: int = 3) -> list[dict]:
    """(stream path, time, price shown, name shown) at random moments inside price-card or name-card spans."""
    products = {p["product_id"]: p for p in load_jsonl(ds / "products.jsonl")}
    rng = random.Random(seed)
    out = []
    for st in load_jsonl(ds / "live.jsonl"):
        for seg in st["segments"]:
            pid = seg.get("product_id")
            if not pid or products[pid]["split"] != "test" or st.get("heldout"):
                continue
            screen = seg.get("screen") or {}
            for card in ("price_card", "name_card"):
                c = screen.get(card)
                if c and c["t1"] - c["t0"] > 1.0:
                    for _ in range(per_card):  # a few moments of each card: the host and the chat move
                        out.append(
                            {
                                "path": str(ds / st["path"]),
                                "t": round(rng.uniform(c["t0"] + 0.5, c["t1"] - 0.5), 2),
                                "kind": card,
                                "price": c.get("price"),
                                "text": c.get("text", ""),
                                "name": f"{c.get('brand', '')} {c.get('model', '')}".strip(),
                            }
                        )
    rng.shuffle(out)
    return out[:n]


def _norm(s: str) -> str:
    return " ".join("".join(ch for ch in s.lower() if ch.isalnum() or ch.isspace()).split())


def run(frames: list[dict], size: int, reader: Reader) -> dict:
    price_hits = name_hits = n_price = n_name = 0
    ms = []
    for f in frames:
        (rgb,) = media.read_frames(f["path"], [f["t"]], size)
        t = time.perf_counter()
        lines = reader.read(rgb)
        ms.append((time.perf_counter() - t) * 1000)
        texts = [ln.text for ln in lines]
        if f["kind"] == "price_card":
            n_price += 1
            read = {round(p.value, 2) for p in prices_on_screen(texts) if p.kind == "price"}
            price_hits += round(float(f["price"]), 2) in read
        else:
            n_name += 1
            name_hits += _norm(f["name"]) in _norm(" ".join(texts))
    return {
        "price_exact": round(price_hits / n_price, 4) if n_price else None,
        "price_frames": n_price,
        "name_card_read": round(name_hits / n_name, 4) if n_name else None,
        "name_frames": n_name,
        "ms_per_frame_p50": round(statistics.median(ms), 1),
        "ms_per_frame_mean": round(statistics.mean(ms), 1),
        "frame_long_side": size,
    }


def line_reuse(ds: Path, settings, max_streams: int = 6) -> dict:
    """``ocr.reuse_lines`` against recognising every line, on each stream's readable frames in order (one per
    ``ingest.full_every_s``, as the worker reads them): time per frame, lines reused, frames read the same."""
    plain = Reader(settings.ocr.model_copy(update={"skip_unchanged": 0.0, "reuse_lines": 0.0}))
    reusing = Reader(settings.ocr.model_copy(update={"skip_unchanged": 0.0}))
    plain.load(), reusing.load()
    t_plain = t_reuse = 0.0
    frames = same = 0
    differ: list[list[list[str]]] = []
    for stream_id, rgb in stream_frames(ds, settings, max_streams):
        t = time.perf_counter()
        a = [ln.text for ln in plain.read(rgb, stream=stream_id)]
        t_plain += time.perf_counter() - t
        t = time.perf_counter()
        b = [ln.text for ln in reusing.read(rgb, stream=stream_id)]
        t_reuse += time.perf_counter() - t
        frames += 1
        same += a == b
        if a != b:
            differ.append([sorted(set(a) - set(b)), sorted(set(b) - set(a))])
    lines = reusing.stats.lines_recognised + reusing.stats.lines_reused
    return {
        "dataset": ds.name,
        "frames": frames,
        "reuse_lines": settings.ocr.reuse_lines,
        "ms_per_frame_all_lines": round(t_plain / max(1, frames) * 1000, 1),
        "ms_per_frame_reusing": round(t_reuse / max(1, frames) * 1000, 1),
        "lines_reused_share": round(reusing.stats.lines_reused / max(1, lines), 3),
        "frames_read_the_same": round(same / max(1, frames), 3),
        "differences": differ[:8],  # (only without reuse, only with it)
    }


def stream_frames(ds: Path, settings, max_streams: int = 6):
    """(stream id, RGB frame) of each stream's readable frames in order, one per ``ingest.full_every_s``."""
    step = settings.ingest.full_every_s or 4.0
    for st in load_jsonl(ds / "live.jsonl")[:max_streams]:
        times = [step * k + step / 2 for k in range(int(st["duration"] // step))]
        for rgb in media.read_frames(str(ds / st["path"]), times, settings.ingest.full_size):
            yield st["stream_id"], rgb


def rec_batch(ds: Path, settings, sizes: tuple[int, ...] = (1, 6)) -> dict:
    """Text lines per recognizer run (``ocr.rec_batch``; rapidocr's own default is 6): time per frame and
    the lines read, against the last size's."""
    frames = list(stream_frames(ds, settings))
    rows: dict[str, dict] = {}
    texts: dict[int, list[list[str]]] = {}
    for n in sizes:
        reader = Reader(settings.ocr.model_copy(update={"skip_unchanged": 0.0, "reuse_lines": 0.0, "rec_batch": n}))
        reader.load()
        t = time.perf_counter()
        texts[n] = [[ln.text for ln in reader.read(rgb)] for _, rgb in frames]
        rows[str(n)] = {"ms_per_frame": round((time.perf_counter() - t) / max(1, len(frames)) * 1000, 1)}
    ref = sizes[-1]
    for n in sizes:
        pairs = list(zip(texts[n], texts[ref]))
        differ = [[sorted(set(b) - set(a)), sorted(set(a) - set(b))] for a, b in pairs if a != b]
        rows[str(n)][f"frames_read_as_batch_{ref}"] = round(sum(a == b for a, b in pairs) / len(pairs), 3)
        rows[str(n)]["differences"] = differ[:8]  # (only with the last size, only with this one)
    return {"dataset": ds.name, "frames": len(frames), "by_batch": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, default=REPO_ROOT / ".ampere" / "data" / "bench-s0", help="benchmark")
    ap.add_argument("--frames", type=int, default=150, help="frames to read (default: 150)")
    ap.add_argument(
        "--line-reuse",
        action="store_true",
        help="only compare ocr.reuse_lines with recognising every line, on the dataset's streams in order "
        "(writes ocr_line_reuse)",
    )
    ap.add_argument(
        "--rec-batch",
        action="store_true",
        help="only compare text lines per recognizer run, 1 and 6, on the dataset's streams (writes ocr_rec_batch)",
    )
    args = ap.parse_args(argv)
    settings = get_settings()
    if args.rec_batch:
        section = {"ocr_rec_batch": rec_batch(args.dataset, settings)}
        print(json.dumps(section, indent=2))
        update(section, f"python bench/ocr.py --rec-batch --dataset {args.dataset}")
        return 0
    if args.line_reuse:
        section = {"ocr_line_reuse": line_reuse(args.dataset, settings)}
        print(json.dumps(section, indent=2))
        update(section, f"python bench/ocr.py --line-reuse --dataset {args.dataset}")
        return 0
    frames = samples(args.dataset, args.frames)
    reader = Reader(settings.ocr.model_copy(update={"skip_unchanged": 0.0}))  # time every frame
    reader.load()
    full = run(frames, settings.ingest.full_size, reader)
    small = run(frames, settings.ingest.frame_size, reader)
    section = {
        "ocr": {
            **{k: full[k] for k in ("price_exact", "name_card_read")},
            "ms_per_frame": full["ms_per_frame_p50"],
            "threads": settings.ocr.threads,
            "det_limit_side_len": settings.ocr.det_limit_side_len,
            "full": full,
            "at_visual_frame_size": small,
        }
    }
    print(json.dumps(section, indent=2))
    update(section, "python bench/ocr.py" + (f" --frames {args.frames}" if args.frames != 150 else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
