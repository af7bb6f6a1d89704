"""Live tagging strategies compared offline on a dataset's live windows (no Kafka, no Redis).

    .venv/bin/python bench/tagging.py [--dataset .ampere/data/demo-s0]

Each window goes through the same ASR, summarizer and ONNX embedder as the live path
(cached in DATASET/texts/tagging-cache.pkl), then is matched against every product page
with: the fused embedding alone, the text branch alone, and fused + w x title-word
overlap with the transcript (the shipped hybrid tagger), each with and without the
smoothing over consecutive windows. Writes bench/results/tagging.json.
(The live tagger takes its candidates from Redis: KNN top-k plus BM25 top-k on titles;
here every page is a candidate, which can only be equal or better.)
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from ampere import lexical, media  # noqa: E402
from ampere.catalog import load_image  # noqa: E402
from ampere.pipeline import Models, smooth, summary_for_embedding  # noqa: E402
from ampere.settings import REPO_ROOT, get_settings  # noqa: E402
from ampere.truth import load_jsonl  # noqa: E402
from encoders.frames import segment_centres  # noqa: E402


def window_inputs(dataset: Path, models: Models, settings) -> dict:
    cache = dataset / "texts" / "tagging-cache.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    live = {s["stream_id"]: s for s in load_jsonl(dataset / "live.jsonl")}
    out = {}
    for w in load_jsonl(dataset / "windows.jsonl"):
        path = str(dataset / live[w["stream_id"]]["path"])
        k = settings.frames_per_window
        frames = media.read_frames(path, segment_centres(w["start"], w["end"], k), settings.frame_size)
        text = models.transcriber.transcribe(media.read_audio(path, w["start"], w["end"], settings.sample_rate)).text
        out[w["id"]] = (frames, text, models.summarizer.summarize(text).text if text.strip() else "empty")
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(REPO_ROOT / ".ampere" / "data" / "demo-s0"))
    args = ap.parse_args()
    dataset = Path(args.dataset)
    settings = get_settings()
    models = Models(settings)
    pages = load_jsonl(dataset / "catalog.jsonl")
    pids = [p["product_id"] for p in pages]
    pemb = models.embedder.embed_batch(["page"] * len(pages), [[load_image(p["image"], dataset)] for p in pages],
                                       [p["title"] for p in pages])
    page_fused = np.stack([e.fused for e in pemb])
    page_text = np.stack([e.text for e in pemb])
    title_tokens = [lexical.tokens(p["title"]) for p in pages]
    windows = load_jsonl(dataset / "windows.jsonl")
    inputs = window_inputs(dataset, models, settings)
    embs = {w["id"]: models.embedder.embed("live", inputs[w["id"]][0], summary_for_embedding(inputs[w["id"]][2]))
            for w in windows}

    def ranked(scores):
        best: dict[str, float] = {}
        for pid, x in zip(pids, scores):
            best[pid] = max(best.get(pid, float("-inf")), float(x))
        return sorted(best.items(), key=lambda kv: -kv[1])

    def run(score_fn, alpha, alpha_empty):
        hits, prev = 0, {}
        for w in windows:
            _, text, summary = inputs[w["id"]]
            a = alpha_empty if summary_for_embedding(summary) == "" else alpha
            r = smooth(ranked(score_fn(w, text))[:10], prev.get(w["stream_id"], []), a)[:10]
            prev[w["stream_id"]] = r
            hits += r[0][0] == w["product_id"]
        return round(hits / len(windows), 4)

    strategies = {
        "fused": lambda w, t: page_fused @ embs[w["id"]].fused,
        "text_branch": lambda w, t: page_text @ embs[w["id"]].text,
        **{f"fused+lexical_w{lw:g}": (lambda lw: lambda w, t: page_fused @ embs[w["id"]].fused + lw * np.array(
            [lexical.overlap(tt, lexical.tokens(t)) for tt in title_tokens]))(lw) for lw in (1.0, 3.0)},
    }
    table = {}
    for name, fn in strategies.items():
        for a, ae in ((0.0, 0.0), (settings.tag_smoothing, settings.tag_smoothing_empty)):
            table[f"{name} smoothing={a:g}/{ae:g}"] = run(fn, a, ae)
            print(f"{name:24} smoothing {a:g}/{ae:g}: top-1 {table[f'{name} smoothing={a:g}/{ae:g}']:.3f}")
    out = {"command": "python bench/tagging.py --dataset " + str(dataset.relative_to(REPO_ROOT)
                                                               if dataset.is_relative_to(REPO_ROOT) else dataset),
           "date": time.strftime("%Y-%m-%d"), "windows": len(windows), "products": len(set(pids)),
           "live_tag_top1": table}
    path = REPO_ROOT / "bench" / "results" / "tagging.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
