"""Live tagging strategies compared offline on a dataset's live windows (no Kafka, no Redis).

    .venv/bin/python bench/tagging.py [--dataset .ampere/data/bench-s0] [--split val]

Inputs are what the live path hands the tagger, prepared once by `ampere prepare-texts DATASET`: the
transcript with catalogue names corrected (texts/asr_names.jsonl) and the names in it said on air (ampere/onair.py), the adapted summary made in stream order
(texts/summary.jsonl), and the window's frames embedded with the shipped ONNX model. Every window of every
stream is tagged in stream order (smoothing needs the previous window); the top-1 rate is reported on the
windows of products in ``--split``, against every product page of the catalogue. Choose on val, confirm on
test. Writes bench/results/tagging.json. (The live tagger takes its candidates from Redis: KNN top-k plus BM25
top-k on titles; here every page is a candidate, which can only be equal or better.)
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

import numpy as np  # noqa: E402

from ampere import textnorm  # noqa: E402
from ampere.names import names_of  # noqa: E402
from ampere.onair import NameIndex, OnAirModel, onair_score  # noqa: E402
from ampere.summarize import summary_for_embedding  # noqa: E402
from ampere.tagger import smooth  # noqa: E402
from ampere.settings import REPO_ROOT, get_settings  # noqa: E402
from ampere_synth.truth import load_jsonl  # noqa: E402


def _texts(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise SystemExit(f"{path} not found: run `ampere prepare-texts {path.parent.parent}` first")
    return {r["id"]: r["text"] for r in load_jsonl(path)}


def main() -> int:
    from ampere_train.data import load_split
    from encoders.runtime import Embedder

    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, default=REPO_ROOT / ".ampere" / "data" / "bench-s0")
    ap.add_argument("--split", default="val", help="score windows of this split's products (val|test|all)")
    args = ap.parse_args()
    ds, settings = args.dataset, get_settings()
    heard = _texts(ds / "texts" / "asr_names.jsonl")
    emb = Embedder.load(settings.embed.model_dir, variant=settings.embed.variant)
    pages = load_split(ds, "all", emb.k, emb.image_size, "summary")
    live = pages.domains["live"]
    pdd = pages.domains["page"]
    pids = np.array(pdd.product_ids)
    title_tokens = [textnorm.content_tokens(t) for t in pdd.texts]

    def embed(domain, dd):
        out = []
        for i in range(0, len(dd.items), 64):
            out += emb.embed_batch([domain] * len(dd.items[i:i + 64]), [list(f) for f in dd.frames[i:i + 64]],
                                   [summary_for_embedding(t) for t in dd.texts[i:i + 64]])
        return np.stack([o.fused for o in out])

    t0 = time.time()
    page_fused, live_fused = embed("page", pdd), embed("live", live)
    print(f"embedded {len(pdd.items)} pages and {len(live.items)} windows in {time.time() - t0:.0f} s")
    split_of = {p["product_id"]: p["split"] for p in load_jsonl(ds / "products.jsonl")}
    order = sorted(range(len(live.items)), key=lambda i: (live.items[i].id.split(":")[0], live.items[i].start))
    scored = [i for i in order if args.split == "all" or split_of[live.items[i].product_id] == args.split]

    # word weights: inverse document frequency over the catalogue's products (a word in every handbag's
    # title says little about which handbag)
    df: dict[str, int] = {}
    for toks in {pid: tt for pid, tt in zip(pids, title_tokens)}.values():
        for w in toks:
            df[w] = df.get(w, 0) + 1
    n_products = len(set(pids))
    idf = {w: float(np.log(1 + n_products / c)) for w, c in df.items()}

    def weighted_overlap(title: set[str], spoken: set[str]) -> float:
        total = sum(idf[w] for w in title)
        return sum(idf[w] for w in title & spoken) / total if total else 0.0

    def overlaps(text: str, weighted: bool = False) -> np.ndarray:
        spoken = textnorm.content_tokens(text)
        return np.array([weighted_overlap(tt, spoken) if weighted else textnorm.overlap(tt, spoken)
                         for tt in title_tokens])

    lex_idf = {i: overlaps(heard.get(live.items[i].id, ""), weighted=True) for i in order}
    lex_heard = {i: overlaps(heard.get(live.items[i].id, "")) for i in order}
    lex_summary = {i: overlaps(summary_for_embedding(live.items[i].text)) for i in order}

    # names said on air rather than in passing (ampere/onair.py, the shipped model, trained on the train split)
    names = NameIndex.of(set().union(*(names_of(r) for r in load_jsonl(ds / "catalog.jsonl"))))
    onair_model = OnAirModel.load(Path(settings.tagger.onair_model))
    air = {}
    for i in order:
        said = onair_model.mentions(heard.get(live.items[i].id, ""), names)
        air[i] = np.array([onair_score(t, said) for t in pdd.texts]) if said else np.zeros(len(pids))

    def ranked(scores: np.ndarray) -> list[tuple[str, float]]:
        best: dict[str, float] = {}
        for pid, x in zip(pids, scores):
            best[pid] = max(best.get(pid, float("-inf")), float(x))
        return sorted(best.items(), key=lambda kv: -kv[1])

    def run(w_heard: float, w_summary: float, alpha: float, alpha_empty: float, lex=None, w_air: float = 0.0) -> float:
        lex = lex or lex_heard
        prev: dict[str, list] = {}
        top1: dict[int, str] = {}
        for i in order:
            it = live.items[i]
            sid = it.id.split(":")[0]
            scores = page_fused @ live_fused[i] + w_heard * lex[i] + w_summary * lex_summary[i] + w_air * air[i]
            a = alpha_empty if summary_for_embedding(it.text) == "" else alpha
            r = smooth(ranked(scores)[:10], prev.get(sid, []), a)[:10]
            prev[sid] = r
            top1[i] = r[0][0]
        return round(float(np.mean([top1[i] == live.items[i].product_id for i in scored])), 4)

    table = {}
    for w_heard, w_summary in ((0, 0), (1, 0), (3, 0), (0, 1), (0, 3), (3, 1), (3, 3), (1, 3)):
        for a, ae in ((0.0, 0.0), (0.5, 0.8), (0.7, 0.9)):
            name = f"fused + {w_heard:g} x heard + {w_summary:g} x summary, smoothing {a:g}/{ae:g}"
            table[name] = run(w_heard, w_summary, a, ae)
            print(f"{name:60} top-1 {table[name]:.3f}", flush=True)
    for w_heard in (1, 3, 5):
        for a, ae in ((0.0, 0.0), (0.5, 0.8), (0.7, 0.9)):
            name = f"fused + {w_heard:g} x idf-weighted heard, smoothing {a:g}/{ae:g}"
            table[name] = run(w_heard, 0, a, ae, lex_idf)
            print(f"{name:60} top-1 {table[name]:.3f}", flush=True)
    for w_heard, w_air in ((0, 3), (1, 3), (3, 1), (3, 3), (3, 6)):
        for a, ae in ((0.0, 0.0), (0.5, 0.8), (0.7, 0.9)):
            name = f"fused + {w_heard:g} x heard + {w_air:g} x on-air, smoothing {a:g}/{ae:g}"
            table[name] = run(w_heard, 0, a, ae, w_air=w_air)
            print(f"{name:60} top-1 {table[name]:.3f}", flush=True)
    out = {"command": f"python bench/tagging.py --dataset {ds} --split {args.split}", "date": time.strftime("%Y-%m-%d"),
           "split": args.split, "windows_scored": len(scored), "products": int(len(set(pids))),
           "live_tag_top1": table}
    path = REPO_ROOT / "bench" / "results" / f"tagging-{args.split}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
