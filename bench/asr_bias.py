"""Biased recognition: does giving Whisper the names of the stream's likely products make it hear them?

    .venv/bin/python bench/asr_bias.py [--windows 200]

On-air windows of the val split's regular streams (never the test split or the held-out streams), each decoded
alone (8 s) with the shipped recognizer and a prompt of names (``ampere.asr.names_prompt``, at most
``asr.bias_max_words`` words, with the skipped-speech fallback):
- ``unbiased``: no prompt;
- ``catalogue_biased``: as many of the catalogue's names as the prompt holds (a large catalogue does not fit);
- ``candidate_biased``: the previous window's top candidates from the tagger (``texts/candidates.jsonl``, written
  by bench/tagging.py), as the live path does without a product list;
- ``product_list_biased``: the stream's product list (what a platform knows).
Transcripts are name-corrected as the pipeline does. Reported: the share of windows whose transcript holds the
on-air product's brand / model, the share of segments in which both were heard, word error rate against the
spoken script, the share of windows that lost most of their speech, and the cost against the unbiased pass.
Writes the ``asr_bias`` section of bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ampere import media
from ampere.asr import Transcriber, names_prompt
from ampere.names import NameSnapper, names_of
from ampere.settings import REPO_ROOT, get_settings
from ampere.textnorm import words
from ampere_synth.truth import load_jsonl
from bench.quality import update


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """(edit distance, reference length) over words."""
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
            prev, d[j] = d[j], cur
    return d[len(hyp)], len(ref)


def contains(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, default=REPO_ROOT / ".ampere" / "data" / "bench-s0", help="benchmark")
    ap.add_argument("--windows", type=int, default=200, help="on-air windows to decode (default: 200)")
    args = ap.parse_args(argv)
    ds, settings = args.dataset, get_settings()
    a = settings.asr
    products = {p["product_id"]: p for p in load_jsonl(ds / "products.jsonl")}
    pages = load_jsonl(ds / "catalog.jsonl")
    names_by_product: dict[str, list[str]] = {}
    for row in pages:
        names_by_product.setdefault(row["product_id"], sorted(names_of(row), key=lambda n: -len(n.split())))
    all_names = sorted({n for ns in names_by_product.values() for n in ns})
    full_names = [ns[0] for ns in names_by_product.values()]
    random.Random(0).shuffle(full_names)
    snapper = NameSnapper(all_names, settings.names.min_score)
    live = {s["stream_id"]: s for s in load_jsonl(ds / "live.jsonl") if not s.get("heldout")}
    stream_products = {
        sid: [seg["product_id"] for seg in s["segments"] if seg.get("product_id")] for sid, s in live.items()
    }
    cand_path = ds / "texts" / "candidates.jsonl"
    candidates = {r["id"]: r["products"] for r in load_jsonl(cand_path)} if cand_path.is_file() else {}
    hop = settings.windows.hop_s
    chosen = [
        w
        for w in load_jsonl(ds / "windows.jsonl")
        if w["product_id"] and w["stream_id"] in live and products[w["product_id"]]["split"] == "val"
    ]
    random.Random(1).shuffle(chosen)
    chosen = sorted(chosen[: args.windows], key=lambda w: (w["stream_id"], w["start"]))

    def prompt_for(variant: str, w: dict) -> str:
        if variant == "unbiased":
            return ""
        if variant == "catalogue_biased":
            return names_prompt(full_names, a.bias_max_words)
        if variant == "product_list_biased":
            return names_prompt([names_by_product[p][0] for p in stream_products[w["stream_id"]]], a.bias_max_words)
        prev = f"{w['stream_id']}:{int(round((w['start'] - hop) * 1000))}"
        ids = candidates.get(prev, [])[: a.bias_candidates]
        return names_prompt([names_by_product[p][0] for p in ids if p in names_by_product], a.bias_max_words)

    variants = ["unbiased", "catalogue_biased", "product_list_biased"] + (["candidate_biased"] if candidates else [])
    transcriber = Transcriber(a)
    transcriber.model  # noqa: B018 - load before timing
    results = {}
    for variant in variants:
        brand = model = skipped = fell_back = errs = ref_n = 0
        heard_both: dict[tuple, list[bool]] = {}
        secs = 0.0
        for w in chosen:
            st = live[w["stream_id"]]
            pcm = media.read_audio(str(ds / st["path"]), w["start"], w["end"], 16000)
            prompt = prompt_for(variant, w)
            t = time.perf_counter()
            tr = transcriber.transcribe(pcm, prompt=prompt or None)
            secs += time.perf_counter() - t
            fell_back += tr.fell_back
            text = snapper.correct(tr.text)
            if prompt:  # one-word names towards the prompt's products, as the pipeline does
                text = NameSnapper(
                    [n for n in all_names if n in prompt], settings.names.min_score, single_words=True
                ).correct(text)
            hyp = words(text)
            p = products[w["product_id"]]
            b, m = contains(hyp, words(p["brand"])), contains(hyp, words(p["model"]))
            brand += b
            model += m
            seg = next(
                s
                for s in st["segments"]
                if s.get("product_id") == w["product_id"] and s["start"] < w["end"] and s["end"] > w["start"]
            )
            heard_both.setdefault((w["stream_id"], seg["start"]), []).append((b, m))
            ref = [
                x
                for s in st["segments"]
                for sent in s.get("sentences", [])
                if sent["t0"] >= w["start"] and sent["t1"] <= w["end"]
                for x in words(sent["text"])
            ]
            e, n = wer(ref, hyp)
            errs, ref_n = errs + e, ref_n + n
            skipped += n >= 5 and len(hyp) < 0.3 * n
        both = sum(any(b for b, _ in v) and any(m for _, m in v) for v in heard_both.values())
        results[variant] = {
            "brand_hit": round(brand / len(chosen), 4),
            "model_hit": round(model / len(chosen), 4),
            "segments_both_heard": round(both / len(heard_both), 4),
            "segments": len(heard_both),
            "wer": round(errs / max(1, ref_n), 4),
            "skipped_share": round(skipped / len(chosen), 4),
            "fell_back_share": round(fell_back / len(chosen), 4),
            "asr_s": round(secs, 1),
        }
        print(variant, json.dumps(results[variant]), flush=True)
    base = results["unbiased"]["asr_s"] or 1.0
    for r in results.values():
        r["cost_ratio"] = round(r["asr_s"] / base, 3)
    section = {
        "asr_bias": {
            **results,
            "windows": len(chosen),
            "split": "val",
            "prompt_max_words": a.bias_max_words,
            "candidates": a.bias_candidates,
        }
    }
    update(section, "python bench/asr_bias.py" + (f" --windows {args.windows}" if args.windows != 200 else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
