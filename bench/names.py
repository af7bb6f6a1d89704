"""Name correction by spelling alone (what the worker runs) against spelling + sound (a metaphone distance).

    .venv/bin/python bench/names.py

Whisper tiny.en turns invented names into English words that sound like them ("Treaki Raven" -> "tree key
raven"), which a spelling ratio sees as far apart and their metaphone codes (TRKRFN both) do not. Each
variant re-corrects the benchmark's raw transcripts (``texts/raw_asr.jsonl``) with the catalogue's names and
runs the serving tagger over them (bench/tagging.py's harness, its chosen weights, the embeddings made once):

- name hits on the train and val splits' on-air windows: the share whose corrected transcript holds the
  product's brand / model, and how many multi-word names of *other* products it states (wrong names);
- tag top-1 and the share of all windows tagged right on val (where a variant is chosen), test and the
  held-out templates and voices.

Writes the ``name_matching`` section of bench/results/quality.json. The serving default changes only if the
variant chosen on val also measures better on test and held-out.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz import fuzz

from ampere.names import NameSnapper, _digits, _norm, names_of
from ampere.settings import REPO_ROOT, get_settings
from ampere.textnorm import WORD, words
from ampere_synth.truth import load_jsonl
from bench import tagging as T


def sound_code(text: str) -> str:
    """The metaphone code of a span's letters, spaces dropped: the recognizer splits and merges words."""
    import jellyfish

    return jellyfish.metaphone("".join(w for w in WORD.findall(text) if not w.isdigit()))


class SoundSnapper(NameSnapper):
    """A span matches a name by ``(1 - weight) * spelling ratio + weight * metaphone-code ratio``, with the
    same digit and word-count keys and the same longest-close-name preference as ``NameSnapper``."""

    def __init__(self, names, min_score: float, weight: float):
        super().__init__(names, min_score)
        self.weight = weight
        self._code = {norm: sound_code(norm) for choices in self._by_key.values() for norm in choices}

    def _best(self, ws: list[str], i: int):
        best = None
        for n in (5, 4, 3, 2, 1):
            if i + n > len(ws):
                continue
            span = ws[i : i + n]
            key_digits, text = _digits(span), _norm(span)
            code = sound_code(text)
            for m in (n - 1, n, n + 1):
                for norm, name in (self._by_key.get((key_digits, m)) or {}).items():
                    spelled = fuzz.ratio(text, norm)
                    if spelled < 60:  # sound alone matches far too much (short codes collide)
                        continue
                    other = self._code[norm]
                    sounded = fuzz.ratio(code, other) if len(other) >= 3 else spelled
                    score = (1 - self.weight) * spelled + self.weight * sounded
                    if score >= self.min_score:
                        cand = (score * len(norm), n, name)
                        if best is None or cand[:2] > best[:2]:
                            best = cand
        return best


def name_hits(ds: Path, corrected: dict[str, str]) -> dict:
    products = {p["product_id"]: p for p in load_jsonl(ds / "products.jsonl")}
    live = {s["stream_id"]: s for s in load_jsonl(ds / "live.jsonl")}
    owners: dict[str, set[str]] = collections.defaultdict(set)
    for p in products.values():
        for name in (p["brand"], p["model"], f"{p['brand']} {p['model']}"):
            owners[" ".join(words(name))].add(p["product_id"])
    multi = [n for n in owners if len(n.split()) >= 2]
    n = brand = model = stated = wrong = 0
    for w in load_jsonl(ds / "windows.jsonl"):
        pid = w["product_id"]
        if not pid or live[w["stream_id"]].get("heldout") or products[pid]["split"] not in ("train", "val"):
            continue
        hyp = f" {' '.join(words(corrected.get(w['id'], '')))} "
        p = products[pid]
        n += 1
        brand += f" {' '.join(words(p['brand']))} " in hyp
        model += f" {' '.join(words(p['model']))} " in hyp
        for name in multi:
            if f" {name} " in hyp:
                stated += 1
                wrong += pid not in owners[name]
    return {
        "windows": n,
        "brand_hit": round(brand / n, 4),
        "model_hit": round(model / n, 4),
        "names_stated": stated,
        "wrong_names": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, default=REPO_ROOT / ".ampere" / "data" / "bench-s0", help="benchmark")
    args = ap.parse_args(argv)
    ds, t0 = args.dataset, time.time()
    names = sorted({n for row in load_jsonl(ds / "catalog.jsonl") for n in names_of(row)})
    raw = {r["id"]: r["text"] for r in load_jsonl(ds / "texts" / "raw_asr.jsonl")}
    default = get_settings().names.min_score
    variants = {f"spelling_{s:.0f}": NameSnapper(names, s) for s in (default, 75.0)}
    for score in (75.0, 80.0):
        for weight in (0.3, 0.5):
            variants[f"sound_{score:.0f}_w{weight}"] = SoundSnapper(names, score, weight)
    best_cfg = T.Config(**json.loads(T.OUT.read_text())["chosen"])
    vecs = T.embed(ds)
    rows = {}
    for name, snapper in variants.items():
        corrected = {i: snapper.correct(t) for i, t in raw.items()}
        windows, _ = T.prepare(ds, vecs=vecs, heard=corrected)
        row = {"hits_train_val": name_hits(ds, corrected)}
        for split, keep in (("val", T.regular("val")), ("test", T.regular("test")), ("heldout", lambda w: w.heldout)):
            r = T.evaluate(windows, best_cfg, keep)
            row[split] = {"top1": r["top1"], "all_windows": round(T.all_windows(r), 4)}
        rows[name] = row
        print(name, json.dumps(row), flush=True)
    chosen = max(rows, key=lambda k: (rows[k]["val"]["all_windows"], rows[k]["val"]["top1"]))
    base = f"spelling_{default:.0f}"
    better = all(rows[chosen][s]["all_windows"] > rows[base][s]["all_windows"] for s in ("test", "heldout"))
    section = {
        "name_matching": {
            "variants": rows,
            "serving": base,
            "chosen_on_val": chosen,
            "kept": chosen != base and better,
            "tagger": "bench/tagging.py's chosen weights",
            "seconds": round(time.time() - t0, 1),
        }
    }
    print(json.dumps(section["name_matching"], indent=2))
    from bench.quality import update

    update(section, "python bench/names.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
