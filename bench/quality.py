"""AMPere quality on the benchmark dataset, written to bench/results/quality.json.

    .venv/bin/python bench/quality.py summarizer   # summarizer variants vs generator truth (test-split windows)
    .venv/bin/python bench/quality.py ablation     # 5 trainings, six-direction eval, ONNX fp32/int8 vs torch
    .venv/bin/python bench/quality.py oracle       # the same model with truth-derived summaries (the ceiling)
    .venv/bin/python bench/quality.py live         # live tag top-1 through the real streaming path
    .venv/bin/python bench/quality.py all          # (or: make quality) the three in turn

Each section updates its own keys of quality.json, so they can run separately. Needs the benchmark
dataset and its texts (`make bench-data`: ampere generate --preset bench, ampere prepare-texts) and the
summarizer adapter (in git; retrain with `ampere summarizer train`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ampere.facts import ATTRIBUTES, Facts
from ampere.settings import REPO_ROOT, get_settings
from ampere_synth.truth import load_jsonl
from ampere_train.factscore import score_text, truth_facts

OUT = REPO_ROOT / "bench" / "results" / "quality.json"
DEFAULT_DATASET = REPO_ROOT / ".ampere" / "data" / "bench-s0"
RUNS = REPO_ROOT / "runs" / "quality"


def machine() -> dict:
    from bench.pipeline import machine as m

    return m()


def update(section: dict, command: str) -> None:
    data = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for k, v in section.items():  # ablation rows run separately (--only) add up
        if k in ("ablation", "ablation_detail") and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    data.setdefault("commands", {})[next(iter(section))] = command
    data["machine"] = machine()
    data["date"] = time.strftime("%Y-%m-%d")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    print(f"updated {OUT}")


# --- summarizer ------------------------------------------------------------------------------------


def _fact_vocab(products: list[dict]) -> set[str]:
    from ampere.facts import _norm_words

    vocab: set[str] = set()
    for p in products:
        for v in truth_facts(p).items().values():
            vocab.update(_norm_words(v))
    return vocab


def summaries_of(ds: Path, kind: str) -> Path:
    """The benchmark's window and video summaries made by the ``kind`` summarizer: ``texts/summary.jsonl`` when
    the configured summarizer made it (what `prepare-texts` and `make model` use), else
    ``texts/summary-<kind>.jsonl``, made here in stream order as the live path makes them when missing."""
    from ampere_train.textprep import read_texts, run_summaries

    main = ds / "texts" / "summary.jsonl"
    rows = load_jsonl(main) if main.is_file() else []
    if rows and str(rows[0].get("model", "")).split("+")[0] == kind:
        return main
    path = ds / "texts" / f"summary-{kind}.jsonl"
    settings = get_settings()
    texts = read_texts(ds / "texts" / "asr_names.jsonl")
    run_summaries(ds, texts, settings.with_options(summarizer={"kind": kind}), progress=print, out=path)
    return path


def _warm(summarizer) -> None:
    """Load the model before the timed calls: a worker loads it once, not per window."""
    getattr(summarizer, "llm", None)


def summarizer_section(ds: Path, n_timed: int) -> dict:
    from ampere.facts import _norm_words
    from ampere.summarize import make_summarizer
    from ampere_train.textprep import input_snapper

    settings = get_settings()
    products = {p["product_id"]: p for p in load_jsonl(ds / "products.jsonl")}
    asr = {r["id"]: r["text"] for r in load_jsonl(ds / "texts" / "raw_asr.jsonl")}
    adapted = {r["id"]: r for r in load_jsonl(summaries_of(ds, "llm"))}
    windows = [
        w
        for w in load_jsonl(ds / "windows.jsonl")
        if w["product_id"] and products[w["product_id"]]["split"] == "test" and w["id"] in asr
    ]
    vocab = _fact_vocab(list(products.values()))
    # the adapted model's summaries come from prepare-texts, made in stream order with each window's
    # context as the live path makes them; the other variants see the window alone (they keep no state)
    prev_of: dict[str, str] = {}
    by_stream: dict[str, list[dict]] = {}
    for w in load_jsonl(ds / "windows.jsonl"):
        by_stream.setdefault(w["stream_id"], []).append(w)
    for ws in by_stream.values():
        ws.sort(key=lambda w: w["start"])
        for a, b in zip(ws, ws[1:]):
            prev_of[b["id"]] = a["id"]

    def table(kind: str, outputs: dict[str, str], ms: list[float]) -> dict:
        corr = stated = true = 0
        per_attr = {a: [0, 0] for a in ATTRIBUTES}
        filler_in = filler_out = 0
        for w in windows:
            truth = truth_facts(products[w["product_id"]])
            text = outputs[w["id"]]
            c, s, t = score_text(text, truth)
            corr, stated, true = corr + c, stated + s, true + t
            for a in ATTRIBUTES:
                hit = score_text(text, Facts(**{a: getattr(truth, a)}))[0]
                per_attr[a][0] += hit
                per_attr[a][1] += 1
            filler_in += sum(1 for x in _norm_words(asr[w["id"]]) if x not in vocab)
            filler_out += sum(1 for x in _norm_words(text) if x not in vocab and x != "empty")
        return {
            "kind": kind,
            "windows": len(windows),
            "attribute_recall": round(corr / true, 3) if true else None,
            "attribute_precision": round(corr / stated, 3) if stated else None,
            "recall_by_attribute": {a: round(h / n, 3) for a, (h, n) in per_attr.items()},
            "filler_dropped": round(1 - filler_out / filler_in, 3) if filler_in else None,
            "ms_per_window_p50": round(statistics.median(ms), 1) if ms else None,
            "ms_per_window_max": round(max(ms), 1) if ms else None,
        }

    # the summarizers read what the live path hands them: the transcript with catalogue names corrected
    # ("raw+names" is that text itself); "raw" is the recognizer's output as it came
    snapper = input_snapper(ds, settings)
    heard, snap_ms = {}, []
    for w in windows:
        t = time.perf_counter()
        heard[w["id"]] = snapper.correct(asr[w["id"]]) if snapper else asr[w["id"]]
        snap_ms.append((time.perf_counter() - t) * 1000)
    rows = [table("raw", {w["id"]: asr[w["id"]] for w in windows}, [])]
    print(json.dumps(rows[-1]), flush=True)
    for kind in ("raw", "keyword", "llm-stock"):
        summ = make_summarizer(settings.with_options(summarizer={"kind": kind}).summarizer)
        _warm(summ)
        outs, ms = {}, []
        for w in windows:
            s = summ.summarize(heard[w["id"]])
            outs[w["id"]] = s.text
            ms.append(s.ms)
        # the raw+names row's time is the name correction's
        rows.append(table("raw+names", outs, snap_ms) if kind == "raw" else table(kind, outs, ms))
        print(json.dumps(rows[-1]), flush=True)
    summ = make_summarizer(settings.with_options(summarizer={"kind": "llm"}).summarizer)
    _warm(summ)
    name = summ.name + ("+names" if snapper else "")
    missing = [w["id"] for w in windows if adapted.get(w["id"], {}).get("model") != name]
    if missing:
        raise SystemExit(f"{len(missing)} test windows have no summary by {name}: run ampere prepare-texts {ds}")
    # time the adapted model on a sample, with the context it had in the dataset run
    ms = []
    for w in windows[:n_timed]:
        before = adapted.get(prev_of.get(w["id"], ""), {}).get("facts")
        ms.append(summ.summarize(heard[w["id"]], before=before).ms)
    rows.append(table("llm", {w["id"]: adapted[w["id"]]["text"] for w in windows}, ms))
    rows[-1]["adapter"] = Path(settings.summarizer.lora).name
    print(json.dumps(rows[-1]), flush=True)
    return {"summarizer": {r["kind"]: r for r in rows}}


# --- ablation + onnx -------------------------------------------------------------------------------

ABLATIONS = {  # name: (modality, text_mode)
    "visual": ("visual", "none"),
    "visual+raw_asr": ("both", "raw_asr"),
    "visual+asr_names": ("both", "asr_names"),  # not a paper row: what name correction alone gives
    "visual+summary": ("both", "summary"),
    "visual+summary+screen": ("both", "summary_screen"),  # the shipped config: the live path's text
    "text_summary": ("text", "summary"),
}


def _throughput(embedder, split, n: int = 256) -> float:
    from ampere_train.evaluate import embedder_batch_fn

    fn = embedder_batch_fn(embedder)
    dd = split.domains["live"]
    n = min(n, len(dd.items))
    t = time.perf_counter()
    for i in range(n):  # batch 1, as in the live path
        fn("live", dd.frames[i : i + 1], dd.texts[i : i + 1])
    return round(n / (time.perf_counter() - t), 1)


def ablation_section(ds: Path, seed: int, only: list[str] | None) -> dict:
    from ampere_train.data import load_split
    from ampere_train.evaluate import embedder_batch_fn, evaluate_split
    from ampere_train.export import export_onnx
    from ampere_train.train import train
    from encoders.config import load_config
    from encoders.runtime import Embedder, TorchEmbedder

    cfg = load_config()  # the shipped config
    result: dict = {"ablation": {}, "ablation_detail": {}}
    default_ckpt = None
    for name, (modality, text_mode) in ABLATIONS.items():
        if only and name not in only:
            continue
        out = RUNS / name.replace("+", "_")
        t0 = time.time()
        ckpt = train(ds, cfg, out, text_mode=text_mode, modality=modality, seed=seed)
        train_s = time.time() - t0
        test = load_split(ds, "test", cfg.frames, cfg.image_size, text_mode, fit=cfg.image_fit)
        res = evaluate_split(test, embedder_batch_fn(TorchEmbedder.load(ckpt)))
        result["ablation"][name] = res["mean"]["R@1"]
        result["ablation_detail"][name] = {
            "mean": res["mean"],
            "train_s": round(train_s, 1),
            "checkpoint": str(Path(ckpt).relative_to(REPO_ROOT)),
        }
        print(name, json.dumps(res["mean"]), f"trained in {train_s:.0f} s", flush=True)
        if name == "visual+summary":
            default_ckpt, default_res, default_test = ckpt, res, test
    if default_ckpt is not None:
        result["directions"] = default_res["directions"]
        result["mean"] = default_res["mean"]
        onnx_dir = RUNS / "onnx"
        export_onnx(default_ckpt, onnx_dir)
        onnx = {
            "torch": {
                "mean_R@1": default_res["mean"]["R@1"],
                "items_per_s": _throughput(TorchEmbedder.load(default_ckpt), default_test),
            }
        }
        for variant in ("fp32", "int8"):
            emb = Embedder.load(onnx_dir, variant=variant)
            r = evaluate_split(default_test, embedder_batch_fn(emb))
            onnx[f"onnx_{variant}"] = {"mean_R@1": r["mean"]["R@1"], "items_per_s": _throughput(emb, default_test)}
        result["onnx"] = onnx
        print(json.dumps(onnx), flush=True)
    return result


# --- oracle bound: what a perfect de-noiser of this ASR would give ---------------------------------


def oracle_section(ds: Path) -> dict:
    """Evaluate the default (visual+summary) model with summaries replaced by the generator's truth, reduced
    to the facts the ASR carried so far (``summarizer_train.build_pairs`` targets): the ceiling that a
    perfect summarizer of these transcripts could reach with this model."""
    import shutil
    import tempfile

    from ampere.facts import parse
    from ampere_train.data import load_split
    from ampere_train.evaluate import embedder_batch_fn, evaluate_split
    from ampere_train.summarizer import build_pairs
    from ampere_train.textprep import input_snapper
    from encoders.runtime import TorchEmbedder

    ckpt = RUNS / "visual_summary" / "model.pt"
    products = {p["product_id"]: p for p in load_jsonl(ds / "products.jsonl")}
    if not ckpt.is_file():
        raise SystemExit(f"{ckpt} not found: run the ablation section first")
    view = Path(tempfile.mkdtemp(prefix="ampere-oracle-"))
    try:
        for f in ds.iterdir():  # the dataset, seen through links, with its own texts
            if f.name != "texts":
                (view / f.name).symlink_to(f.resolve())
        (view / "texts").mkdir()
        (view / "texts" / "raw_asr.jsonl").symlink_to((ds / "texts" / "raw_asr.jsonl").resolve())
        test_windows = {
            w["id"]
            for w in load_jsonl(ds / "windows.jsonl")
            if w["product_id"] and products[w["product_id"]]["split"] == "test"
        }
        known = {"windows": 0, "brand": 0, "model": 0, "brand_and_model": 0}
        with (view / "texts" / "summary.jsonl").open("w") as out:
            for p in build_pairs(ds, splits=("train", "val", "test"), snapper=input_snapper(ds, get_settings())):
                facts = parse(p.target)
                out.write(json.dumps({"id": p.item_id, "text": "empty" if facts.is_empty() else facts.text()}) + "\n")
                if p.item_id in test_windows:  # how much of the product the ASR let through, at best
                    known["windows"] += 1
                    known["brand"] += bool(facts.brand)
                    known["model"] += bool(facts.model)
                    known["brand_and_model"] += bool(facts.brand and facts.model)
        emb = embedder_batch_fn(TorchEmbedder.load(ckpt))
        res = {}
        for split in ("val", "test"):
            r = evaluate_split(load_split(view, split, 4, 96, "summary"), emb)
            res[split] = {"mean_R@1": r["mean"]["R@1"], "directions": {k: v["R@1"] for k, v in r["directions"].items()}}
            print("oracle", split, json.dumps(res[split]), flush=True)
    finally:
        shutil.rmtree(view, ignore_errors=True)
    n = max(1, known["windows"])
    res["test_windows_known"] = {
        "windows": known["windows"],
        **{k: round(v / n, 3) for k, v in known.items() if k != "windows"},
    }
    print("oracle test windows known", json.dumps(res["test_windows_known"]), flush=True)
    return {"oracle_summary": res}


# --- live tagging through the streaming path -------------------------------------------------------


def test_streams(ds: Path) -> list[str]:
    """Regular streams that show at least one test-split product (the others show training products only;
    the held-out streams are scored apart)."""
    split = {p["product_id"]: p["split"] for p in load_jsonl(ds / "products.jsonl")}
    held = {s["stream_id"] for s in load_jsonl(ds / "live.jsonl") if s.get("heldout")}
    return sorted(
        {
            w["stream_id"]
            for w in load_jsonl(ds / "windows.jsonl")
            if split.get(w["product_id"] or "") == "test" and w["stream_id"] not in held
        }
    )


def run_live(ds: Path, streams: list[dict], with_products: bool, log_name: str) -> tuple[list[dict], float]:
    """Replay ``streams`` through a real worker on services of its own (the whole benchmark catalogue as the
    gallery); with_products: each stream's product list is given first (StreamInfo). Returns (tags, wall s)."""
    from ampere.broker import ensure_topics, topic_names
    from ampere.catalog import add_pages
    from ampere.models import Models
    from ampere.replay import replay
    from ampere.store import Store
    from ampere.urls import running_services
    from ampere_dev.demo import TagCollector
    from ampere_dev.derive import ensure_onnx
    from ampere_dev.services import resolve_services
    from ampere_dev.worker import FaustWorker
    from ampere_synth.truth import expected_windows

    settings = get_settings()
    ensure_onnx(settings)  # the worker runs the shipped model's ONNX export
    if settings.kafka_url or settings.redis_url or running_services(settings) is not None:
        # the run empties its Redis and indexes the whole benchmark catalogue: never into a user's services
        raise SystemExit(
            "the live section runs on services of its own: unset KAFKA_URL/REDIS_URL and stop "
            "`ampere services up` first"
        )
    settings = settings.model_copy(update={"home": settings.home / "quality"})
    with resolve_services(settings) as urls:
        ensure_topics(urls.kafka_url, list(topic_names(settings).values()), settings.broker.partitions)
        store = Store.connect(urls.redis_url, settings.redis)
        store.r.flushdb()
        store.index.create(overwrite=True)
        models = Models(settings)
        add_pages(store, ds / "catalog.jsonl", models, progress=False)
        del models
        t0 = time.time()
        with FaustWorker(urls, settings, log_path=settings.home / "logs" / f"{log_name}.log") as worker:
            worker.wait_ready(timeout=240)
            tags = TagCollector(urls.kafka_url, settings.topic("tags"), {}, echo=False)
            tags.start()
            for s in streams:
                bag = [seg["product_id"] for seg in s["segments"] if seg.get("product_id")] if with_products else None
                replay(str(ds / s["path"]), s["stream_id"], urls.kafka_url, settings, realtime=False, products=bag)
            expected = sum(
                expected_windows(s["duration"], settings.windows.window_s, settings.windows.hop_s) for s in streams
            )
            deadline = time.time() + 5400
            while time.time() < deadline:
                got = {(t["stream_id"], round(t["start"], 3)) for t in tags.tags}
                if len(got) >= expected:
                    break
                print(f"  {len(got)}/{expected} windows tagged", flush=True)
                time.sleep(15)
            time.sleep(5)  # a last correction
            tags.stop()
        return tags.tags, time.time() - t0


def _score(tags: list[dict], streams: list[dict], products: dict, split: str | None) -> dict:
    """Top-1 on the windows whose on-air product is of ``split`` (None: all), and the no-product decisions."""
    from ampere_synth.truth import on_air, score_tags

    segs = {s["stream_id"]: s["segments"] for s in streams}
    keep = []
    for t in tags:
        pid = on_air(segs[t["stream_id"]], t["start"], t["end"]) if t["stream_id"] in segs else None
        if split is None or (pid and products[pid]["split"] == split) or pid is None:
            keep.append(t)
    sc = score_tags(keep, segs)
    r = lambda x: round(x, 4) if x is not None else None
    return {
        "top1": r(sc.top1),
        "windows": sc.windows,
        "no_product_windows": sc.null_windows,
        "no_product_recall": r(sc.no_product_recall),
        "no_product_precision": r(sc.no_product_precision),
        "corrections": sum(1 for t in tags if t.get("correction")),
    }


def live_section(ds: Path, streams: list[str] | None = None, products_too: bool = True) -> dict:
    """Live tagging through the streaming path: the regular streams that show test products, without and with
    their product lists, and the held-out streams (templates and voices never used for fitting or tuning)."""
    settings = get_settings()
    live = {s["stream_id"]: s for s in load_jsonl(ds / "live.jsonl")}
    products = {p["product_id"]: p for p in load_jsonl(ds / "products.jsonl")}
    regular = [live[s] for s in (streams or test_streams(ds))]
    heldout = [s for s in live.values() if s.get("heldout")]
    tags, wall = run_live(ds, regular + heldout, with_products=False, log_name="quality-live")
    reg = _score([t for t in tags if not live[t["stream_id"]].get("heldout")], regular, products, "test")
    held = _score([t for t in tags if live[t["stream_id"]].get("heldout")], heldout, products, "test")
    section = {
        "live_tag_top1": reg["top1"],
        "live_tag_top1_heldout": held["top1"],
        "segmenter": {
            "top1": reg["top1"],
            "no_product_precision": reg["no_product_precision"],
            "no_product_recall": reg["no_product_recall"],
            "max_delay_windows": 1,
            "corrections_published": reg["corrections"],
        },
        "live_tag": {
            "streams": [s["stream_id"] for s in regular],
            "heldout_streams": [s["stream_id"] for s in heldout],
            "gallery_products": len(products),
            "wall_s": round(wall, 1),
            "test": reg,
            "heldout": held,
            "summarizer": settings.summarizer.kind,
            "onnx_variant": settings.embed.variant,
            "asr_bias": settings.asr.bias,
            "ocr": settings.ocr.enabled,
        },
    }
    if products_too:
        tags_p, wall_p = run_live(ds, regular, with_products=True, log_name="quality-live-products")
        with_p = _score(tags_p, regular, products, "test")
        section["live_tag_top1_with_products"] = with_p["top1"]
        section["live_tag"]["with_products"] = {**with_p, "wall_s": round(wall_p, 1)}
    return section


def tables() -> str:
    """quality.json as the markdown tables of bench/README.md."""
    q = json.loads(OUT.read_text())
    f = lambda x: "–" if x is None else f"{x:.3f}"
    n = lambda x: "–" if x is None else f"{x}"
    out = []
    if "directions" in q:
        d = q["directions"]
        out += [
            "| default model (visual + summary), test split | " + " | ".join(d) + " | mean |",
            "|---|" + "---|" * (len(d) + 1),
        ]
        for m in ("R@1", "R@5", "R@10"):
            out.append(f"| {m} | " + " | ".join(f(v[m]) for v in d.values()) + f" | **{f(q['mean'][m])}** |")
        out.append("")
    if "ablation" in q:
        det = q.get("ablation_detail", {})
        out += ["| ablation (same model size and schedule) | mean R@1 | mean R@5 | train s |", "|---|---|---|---|"]
        for k in sorted(q["ablation"], key=lambda k: list(ABLATIONS).index(k) if k in ABLATIONS else len(ABLATIONS)):
            v, dd = q["ablation"][k], det.get(k, {})
            out.append(f"| {k} | {f(v)} | {f(dd.get('mean', {}).get('R@5'))} | {dd.get('train_s', '–')} |")
        out.append("")
    if "oracle_summary" in q:
        o = q["oracle_summary"]
        k = o.get("test_windows_known", {})
        out += [
            "| same model, truth-derived summaries of what the ASR carried | val mean R@1 | test mean R@1 | "
            "test windows with brand / model / both known |",
            "|---|---|---|---|",
            f"| oracle | {f(o['val']['mean_R@1'])} | {f(o['test']['mean_R@1'])} | "
            f"{f(k.get('brand'))} / {f(k.get('model'))} / {f(k.get('brand_and_model'))} |",
            "",
        ]
    if "summarizer" in q:
        out += [
            "| summarizer (test-split live windows) | attribute recall | attribute precision | brand recall | "
            "model recall | filler dropped | ms/window p50 (max) |",
            "|---|---|---|---|---|---|---|",
        ]
        for k, v in q["summarizer"].items():
            rb = v["recall_by_attribute"]
            label = {
                "llm": "llm + LoRA adapter (default)",
                "llm-stock": "llm, stock, prompted",
                "raw": "raw ASR",
                "raw+names": "ASR, catalogue names corrected",
            }.get(k, k)
            out.append(
                f"| {label} | {f(v['attribute_recall'])} | {f(v['attribute_precision'])} | {f(rb['brand'])} | "
                f"{f(rb['model'])} | {f(v['filler_dropped'])} | {n(v['ms_per_window_p50'])} "
                f"({n(v['ms_per_window_max'])}) |"
            )
        out.append("")
    if "onnx" in q:
        out += ["| backend | mean R@1 | items/s (batch 1) |", "|---|---|---|"]
        for k, v in q["onnx"].items():
            out.append(f"| {k} | {f(v['mean_R@1'])} | {v['items_per_s']} |")
        out.append("")
    if "live_tag" in q:
        lt = q["live_tag"]
        out += [
            "| live tagging through the streaming path | top-1 | windows |",
            "|---|---|---|",
            f"| windows of test-split products | **{f(lt['test_products_top1'])}** | {lt['test_windows']} |",
            f"| all windows of the streams | {f(lt['all_products_top1'])} | {lt['all_windows']} |",
            "",
        ]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("section", choices=["summarizer", "ablation", "oracle", "live", "all", "tables"])
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="ablation rows to run (default: all)")
    ap.add_argument("--timed", type=int, default=60, help="windows timed for the adapted summarizer")
    ap.add_argument(
        "--streams", nargs="*", help="live section: stream ids (default: every stream that shows a test-split product)"
    )
    args = ap.parse_args()
    cmd = "python bench/quality.py " + " ".join(sys.argv[1:])
    if args.section == "tables":
        print(tables())
        return 0
    if not (args.dataset / "texts" / "raw_asr.jsonl").is_file():
        raise SystemExit(f"{args.dataset} has no texts: make bench-data first (see bench/README.md)")
    if args.section in ("summarizer", "all"):
        update(summarizer_section(args.dataset, args.timed), cmd)
    if args.section in ("ablation", "all"):
        update(ablation_section(args.dataset, args.seed, args.only), cmd)
    if args.section in ("oracle", "all"):
        update(oracle_section(args.dataset), cmd)
    if args.section in ("live", "all"):
        update(live_section(args.dataset, args.streams or None), cmd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
