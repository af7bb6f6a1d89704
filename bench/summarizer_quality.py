"""How well do the summarizers pull product facts out of live-stream talk? Measured against generator truth.

The truth is used here only to score; no summarizer sees it. Two sources of windows:
- default: synthetic ~8 s windows of host talk built with ``ampere.synth.scripts`` (clean text, as if ASR were
  perfect), plus chatter-only windows;
- ``--dataset DIR``: real ASR of a generated dataset's live windows (``texts/raw_asr.jsonl`` from
  ``ampere.textprep``), scored against the product on air.

Usage: .venv/bin/python bench/summarizer_quality.py [--n 40] [--dataset DIR] [--kinds llm,keyword,raw]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ampere.settings import Settings  # noqa: E402
from ampere.summarize import EMPTY, STOPWORDS, _norm, make_summarizer, tokens  # noqa: E402
from ampere.synth.products import Product, make_products  # noqa: E402
from ampere.synth.presets import get_preset  # noqa: E402
from ampere.synth.scripts import CHATTER, FILLER, live_script, price_words  # noqa: E402


def fact_words(p: Product) -> set[str]:
    text = f"{p.brand} {p.model} {p.colour} {p.material} {p.noun} {price_words(p.price)} {p.price}"
    return {_norm(t) for t in tokens(text)} - STOPWORDS


def name_words(p: Product) -> set[str]:
    return {_norm(t) for t in tokens(f"{p.brand} {p.model}")}


def _sentence_case(sents: list[str]) -> str:
    return " ".join(s[:1].upper() + s[1:] + "." for s in sents)


def synthetic_windows(n: int, seed: int = 7) -> list[tuple[str, Product | None, list[Product]]]:
    products = make_products(get_preset("demo"), seed)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 5 == 4:  # one window in five: host chatter only
            sents = rng.sample(CHATTER + FILLER, 3)
            out.append((_sentence_case(sents), None, []))
            continue
        p = rng.choice(products)
        others = rng.sample([q for q in products if q is not p], 3)
        core, extra = live_script(p, others, rng, first=rng.random() < 0.2)
        sents = core + extra
        k = rng.randint(0, max(0, len(sents) - 4))
        window = sents[k:k + rng.randint(3, 5)]  # ~8 s of speech
        out.append((_sentence_case(window), p, others))
    return out


def dataset_windows(ds: Path) -> list[tuple[str, Product | None, list[Product]]]:
    prods = {}
    for line in (ds / "products.jsonl").read_text().splitlines():
        r = json.loads(line)
        prods[r["product_id"]] = Product(**{k: r[k] for k in Product.__dataclass_fields__})
    texts = {}
    for line in (ds / "texts" / "raw_asr.jsonl").read_text().splitlines():
        r = json.loads(line)
        texts[r["id"]] = r["text"]
    out = []
    for line in (ds / "windows.jsonl").read_text().splitlines():
        w = json.loads(line)
        if w["id"] in texts:
            out.append((texts[w["id"]], prods.get(w.get("product_id")), []))
    return out


def score(kind: str, windows, settings: Settings) -> dict:
    summ = make_summarizer(settings.model_copy(update={"summarizer": kind}))
    rec, prec, distract, ms, empty_ok, empty_wrong, examples = [], [], [], [], [], [], []
    for text, p, others in windows:
        s = summ.summarize(text)
        ms.append(s.ms)
        words = {_norm(t) for t in tokens(s.text)} - STOPWORDS
        if p is None:
            empty_ok.append(s.text == EMPTY)
            continue
        if s.text == EMPTY:
            empty_wrong.append(1)
        truth = fact_words(p)
        said = truth & {_norm(t) for t in tokens(text)}  # facts that were actually in the window
        if said:
            rec.append(len(words & said) / len(said))
        if words and s.text != EMPTY:
            prec.append(len(words & truth) / len(words))
        other_names = set().union(*(name_words(o) for o in others)) - truth if others else set()
        distract.append(bool(words & other_names))
        if len(examples) < 4:
            examples.append((text[:160], s.text))
    return {
        "kind": kind, "windows": len(windows),
        "fact_recall": round(statistics.mean(rec), 3) if rec else None,
        "precision": round(statistics.mean(prec), 3) if prec else None,
        "distractor_rate": round(statistics.mean(distract), 3) if distract else None,
        "empty_on_chatter": round(statistics.mean(empty_ok), 3) if empty_ok else None,
        "empty_on_product": len(empty_wrong),
        "ms_p50": round(statistics.median(ms), 1), "ms_max": round(max(ms), 1),
        "examples": examples,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--dataset", type=Path)
    ap.add_argument("--kinds", default="llm,keyword,raw")
    args = ap.parse_args()
    windows = dataset_windows(args.dataset) if args.dataset else synthetic_windows(args.n)
    settings = Settings()
    for kind in args.kinds.split(","):
        r = score(kind, windows, settings)
        ex = r.pop("examples")
        print(json.dumps(r))
        for t, s in ex[:3]:
            print(f"   {t!r}\n   -> {s!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
