"""``ampere``: one command with a subcommand per user task.

Handlers import what they need lazily so ``ampere --help`` and light commands stay fast (torch, whisper and
llama.cpp are only loaded by the tasks that use them).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from ampere_train import TEXT_MODES  # a light package __init__: no numpy or torch

DOMAINS = ["page", "video", "live"]


def _settings():
    from ampere.settings import get_settings

    return get_settings()


def _store(urls, settings):
    from ampere.store import Store

    return Store.connect(urls.redis_url, settings.redis)


# --- services and configuration ----------------------------------------------------------------


def cmd_services_up(args) -> int:
    from ampere_dev.services import services_up

    return services_up(_settings(), fresh=args.fresh)


def cmd_settings(args) -> int:
    import yaml

    data = _settings().model_dump(mode="json")
    for key in ("kafka_url", "redis_url"):
        if data.get(key):
            from ampere.urls import redact

            data[key] = redact(data[key])
    print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0


# --- data and models ---------------------------------------------------------------------------


def cmd_generate(args) -> int:
    from ampere_synth import build_dataset

    settings = _settings()
    out = build_dataset(
        Path(args.out),
        args.preset,
        seed=args.seed,
        workers=args.workers,
        window_s=settings.windows.window_s,
        hop_s=settings.windows.hop_s,
    )
    print(out)
    return 0


def cmd_prepare_texts(args) -> int:
    from ampere_train.textprep import prepare_texts

    prepare_texts(Path(args.dataset), _settings(), modes=tuple(args.modes))
    return 0


def cmd_summarizer_train(args) -> int:
    from ampere.summarize import default_gguf
    from ampere_train.summarizer import LoraTrainConfig, build_pairs, train_lora
    from ampere_train.textprep import input_snapper

    settings = _settings()
    out = Path(args.out or settings.summarizer.lora)
    pairs = build_pairs(Path(args.dataset), snapper=input_snapper(Path(args.dataset), settings))
    cfg = LoraTrainConfig(
        rank=args.rank,
        top_layers=args.top_layers,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        max_pairs=args.max_pairs,
        init=args.init,
    )
    train_lora(pairs, Path(settings.summarizer.model or default_gguf()), out, cfg)
    return 0


def cmd_tagger_train(args) -> int:
    from ampere_train.tagger import train_from_dataset

    out = Path(args.out or _settings().tagger.onair_model)
    print(train_from_dataset(Path(args.dataset)).save(out))
    return 0


def cmd_train(args) -> int:
    from ampere_train.train import train
    from encoders.config import load_config

    ckpt = train(
        Path(args.dataset),
        load_config(args.config),
        Path(args.out),
        text_mode=args.text_mode,
        modality=args.modality,
        epochs=args.epochs,
        seed=args.seed,
    )
    print(ckpt)
    return 0


def cmd_export(args) -> int:
    from ampere_train.export import export_onnx

    manifest = export_onnx(
        Path(args.checkpoint), out_dir=Path(args.out or _settings().embed.model_dir), int8=not args.no_int8
    )
    print(json.dumps({k: manifest[k] for k in ("files",) if k in manifest} or manifest, indent=2, default=str))
    return 0


def cmd_eval(args) -> int:
    from ampere_train.evaluate import evaluate_dataset, format_table
    from encoders.runtime import Embedder, TorchEmbedder

    settings = _settings()
    embedder: Embedder | TorchEmbedder
    if args.backend == "torch":
        embedder = TorchEmbedder.load(args.checkpoint or settings.embed.checkpoint)
    else:
        embedder = Embedder.load(args.model_dir or settings.embed.model_dir, variant=args.variant)
    results = evaluate_dataset(
        Path(args.dataset), embedder, split=args.split, text_mode=args.text_mode, branch=args.branch
    )
    print(format_table(results, title=f"{args.dataset} [{args.split}] {args.backend} {args.variant} {args.branch}"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def cmd_setup(args) -> int:
    from ampere_dev.derive import ensure_ready

    ensure_ready(_settings(), preset=args.preset, progress=print)
    return 0


# --- indexing and streams ----------------------------------------------------------------------


def cmd_catalog_add(args) -> int:
    from ampere.catalog import add_pages, add_videos
    from ampere.models import Models
    from ampere_dev.services import resolve_services

    settings = _settings()
    with resolve_services(settings) as urls:
        store = _store(urls, settings)
        store.index.create()
        fn = add_pages if args.kind == "catalog" else add_videos
        rep = fn(store, Path(args.file), Models(settings))
    for e in rep.errors:
        print(f"error: {e}", file=sys.stderr)
    print(f"added {rep.added} {'pages' if args.kind == 'catalog' else 'videos'}, {len(rep.errors)} errors")
    return 0 if rep.added or not rep.errors else 1


def cmd_replay(args) -> int:
    import time

    from ampere.broker import ensure_topics, topic_names
    from ampere.replay import ReplayError, replay, resume_point
    from ampere.urls import redact
    from ampere_dev.services import resolve_services

    settings = _settings()
    start = args.start
    if args.resume:
        point = resume_point(settings, args.stream)
        if point is None:
            print(
                f"{args.stream}: nothing to resume (its last replay delivered everything, or there was none); "
                "nothing sent",
                file=sys.stderr,
            )
            return 0
        start = max(start, point)
        print(f"{args.stream}: resuming at media second {start:.0f}", file=sys.stderr)
    with resolve_services(settings) as urls:
        try:
            ensure_topics(
                urls.kafka_url, list(topic_names(settings).values()), settings.broker.partitions, settings=settings
            )
            products = [p.strip() for p in (args.products or "").split(",") if p.strip()]
            started = time.time()
            stats = replay(
                args.source,
                args.stream,
                urls.kafka_url,
                settings,
                realtime=not args.fast,
                start_s=start,
                speed=args.speed,
                products=products or None,
            )
        except ReplayError as exc:
            st = exc.stats
            print(
                f"error: {exc}\n{st.delivered} records were delivered (up to media second "
                f"{st.first_undelivered or 0:.1f}); resume with: ampere replay {args.source} --stream "
                f"{args.stream} --resume",
                file=sys.stderr,
            )
            return 2
        except Exception as exc:  # broker unreachable before the first record, bad source, ...
            from ampere.errors import describe

            print(
                f"error: {args.stream}: nothing replayed: {describe(exc)} (Kafka at {redact(urls.kafka_url)})",
                file=sys.stderr,
            )
            return 2
        print(
            f"{stats.stream_id}: {stats.media_s - stats.start_s:.1f} s of media in {stats.wall_s:.1f} s, "
            f"{stats.audio_chunks} audio chunks, {stats.keyframes} keyframes, {stats.bytes_sent / 1024:.0f} KiB, "
            "every record acknowledged by the broker"
            + (f" ({stats.resent} sent again after: {'; '.join(stats.errors)[:200]})" if stats.resent else ""),
            flush=True,
        )
        if args.wait:
            return _wait_tagged(_store(urls, settings), settings, args.source, args.stream, started, args.timeout)
    return 0


def _since(value: str | None) -> float | None:
    """``--since``: epoch seconds, an ISO date/time, or an age such as 30m, 2h, 1d (epoch seconds back)."""
    import time
    from datetime import datetime

    if not value:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(value[:-1]) * units[value[-1]]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"--since {value!r}: expected epoch seconds, an ISO time or an age like 30m, 2h") from None
    return (dt if dt.tzinfo else dt.astimezone()).timestamp()


def _dead_letters(urls, settings, since, prefix, group=None, timeout=5.0):
    from ampere.broker import consume
    from ampere.records import DeadLetter

    for msg in consume(
        urls.kafka_url, settings.topic("dead-letter"), group=group, timeout_s=timeout, settings=settings
    ):
        try:
            letter = DeadLetter.decode(msg.value or b"")
        except Exception:
            continue
        if since is not None and msg.timestamp / 1000 < since:
            continue
        if prefix and not (letter.reason or "").startswith(prefix):
            continue
        yield msg, letter


def cmd_dead_letters_list(args) -> int:
    from collections import Counter

    from ampere.errors import category_of
    from ampere_dev.services import resolve_services

    settings = _settings()
    by_cat: Counter = Counter()
    by_topic: Counter = Counter()
    examples: dict[str, str] = {}
    with resolve_services(settings) as urls:
        for _, letter in _dead_letters(urls, settings, _since(args.since), args.reason_prefix, timeout=args.timeout):
            cat = category_of(letter.reason)
            by_cat[cat] += 1
            by_topic[letter.source_topic] += 1
            examples.setdefault(cat, letter.reason)
            if args.verbose:
                print(f"{letter.source_topic}[{letter.partition}]@{letter.offset}  {letter.reason}")
    if not by_cat:
        print("no dead letters")
        return 0
    print(f"{sum(by_cat.values())} dead letters")
    for cat, n in by_cat.most_common():
        print(f"  {n:6d}  {cat:15s} e.g. {examples[cat][:110]}")
    for topic, n in by_topic.most_common():
        print(f"  {n:6d}  from {topic}")
    return 0


def cmd_dead_letters_replay(args) -> int:
    from ampere.broker import make_producer
    from ampere.errors import TRANSIENT_CATEGORIES
    from ampere_dev.services import resolve_services

    settings = _settings()
    prefixes = [args.reason_prefix] if args.reason_prefix else [f"{c}:" for c in TRANSIENT_CATEGORIES]
    sent = skipped = 0
    with resolve_services(settings) as urls:
        producer = None if args.dry_run else make_producer(urls.kafka_url, settings)
        group = None if args.dry_run else f"ampere-dead-letters-replay-{settings.broker.topic_prefix}"
        try:
            for msg, letter in _dead_letters(
                urls, settings, _since(args.since), None, group=group, timeout=args.timeout
            ):
                if not any((letter.reason or "").startswith(p) for p in prefixes):
                    skipped += 1
                    continue
                if not letter.source_topic or not letter.payload:
                    skipped += 1
                    continue
                print(
                    f"{'would re-drive' if args.dry_run else 're-drive'} {letter.source_topic}"
                    f"[{letter.partition}]@{letter.offset}: {letter.reason[:100]}"
                )
                if producer is not None:
                    producer.send(
                        letter.source_topic,
                        key=letter.key,
                        value=letter.payload,
                        headers=[("ampere-redriven-from", f"{msg.partition}@{msg.offset}".encode())],
                    ).get(timeout=30)  # checked, one by one: the group commits after each batch
                sent += 1
        finally:
            if producer is not None:
                producer.close()
    print(
        f"{'would re-drive' if args.dry_run else 're-drove'} {sent} dead letters matching "
        f"{' or '.join(prefixes)}; {skipped} others left alone"
    )
    return 0


def _wait_tagged(store, settings, source: str, stream_id: str, since: float, timeout: float) -> int:
    """Until every window of the stream is tagged (in the tag history in Redis, since ``since``), with a progress
    bar; 1 when the timeout comes first. The windows expected come from the source's duration on the window grid;
    for a source of unknown duration (a live URL), until the stream's end is recorded."""
    import time

    from tqdm import tqdm

    from ampere.errors import AmpereError
    from ampere.grid import grid, window_ms
    from ampere.media import probe_duration

    w = settings.windows
    try:
        want = {window_ms(start) for start, _ in grid(probe_duration(source), w.window_s, w.hop_s)}
    except (AmpereError, OSError, ValueError):
        want = None  # duration unknown: wait for the stream's end instead
    deadline = time.monotonic() + timeout
    bar = tqdm(
        total=len(want) if want is not None else None,
        desc=f"{stream_id} windows tagged",
        unit="window",
        file=sys.stderr,
    )
    try:
        while True:
            got = {
                window_ms(float(e["start"]))
                for e in store.streams.history(stream_id)
                if float(e.get("ts", 0)) >= since - 1.0
            }
            done = len(got & want) if want is not None else len(got)
            bar.update(done - bar.n)
            now = store.streams.now(stream_id) or {}
            if (want is not None and done >= len(want)) or (want is None and now.get("ended")):
                bar.close()
                print(f"{stream_id}: {done} windows tagged; the last: {now.get('product_id') or '-'}")
                return 0
            if time.monotonic() > deadline:
                bar.close()
                print(
                    f"{stream_id}: {done} of {len(want) if want is not None else '?'} windows tagged after "
                    f"{timeout:.0f} s (is a worker running? `ampere worker`)",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.5)
    finally:
        bar.close()


def cmd_search(args) -> int:
    from ampere.catalog import load_image
    from ampere.models import Models
    from ampere.search import Search
    from ampere_dev.services import resolve_services

    settings = _settings()
    with resolve_services(settings) as urls:
        search = Search(_store(urls, settings), Models(settings))
        out: object
        if args.by == "text":
            out = search.by_text(args.query, k=args.k, domains=args.domain)
        elif args.by == "image":
            out = search.by_image(load_image(args.query, Path(".")), k=args.k, domains=args.domain)
        elif args.by == "product":
            out = search.by_product(args.query)
        else:
            out = search.by_stream(args.query)
    print(json.dumps(out, indent=2, default=str))
    return 0


def cmd_tags(args) -> int:
    from ampere.broker import consume
    from ampere.records import BadRecord, decode_tag_json
    from ampere_dev.services import resolve_services

    settings = _settings()
    with resolve_services(settings) as urls:
        for msg in consume(urls.kafka_url, settings.topic("tags"), timeout_s=args.timeout, max_records=None):
            try:
                t = decode_tag_json(msg.value)  # JSON, ampere/schemas/tag.v1.json
            except BadRecord as exc:
                print(f"skipped offset {msg.partition}/{msg.offset}: {exc}", file=sys.stderr)
                continue
            print(
                f"{t.stream_id} [{t.start:7.1f}-{t.end:7.1f}s] {t.product_id or 'no product'} "
                f"score={t.score:.3f} confidence={t.confidence:.2f}{' (correction)' if t.correction else ''} "
                f"e2e={t.e2e_ms:.0f}ms  {t.summary[:60]!r}",
                flush=True,
            )
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from ampere.api.app import create_app, resolve_redis_url
    from ampere.errors import ConfigError
    from ampere.urls import redact

    settings = _settings()
    host = args.host or settings.api.host
    port = settings.api.port if args.port is None else args.port
    workers = args.workers or settings.api.workers
    try:
        redis_url = resolve_redis_url(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"AMPere Live API on http://{host}:{port}/ (docs: /docs), Redis {redact(redis_url)}, prefix "
        f"{settings.redis.prefix!r}, {workers} worker process{'es' if workers > 1 else ''}",
        flush=True,
    )
    # live feeds (SSE) never end by themselves: at shutdown, open connections get 5 s, then are closed
    kw = {
        "host": host,
        "port": port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "timeout_graceful_shutdown": 5,
    }
    if workers > 1:  # each process builds its own app from the environment
        os.environ["REDIS_URL"] = redis_url
        uvicorn.run("ampere.api.app:app_from_env", factory=True, workers=workers, **kw)
    else:
        uvicorn.run(create_app(settings, redis_url), **kw)
    return 0


def cmd_worker(args) -> int:
    faust = Path(sys.executable).with_name("faust")
    os.execv(str(faust), [str(faust), "-A", "streamer.app", "worker", "-l", args.loglevel])


def cmd_demo(args) -> int:
    from ampere_dev.demo import run_demo

    return run_demo(
        _settings(), preset=args.preset, fast=args.fast, streams=args.streams, keep_serving=args.keep_serving
    )


# --- the parser --------------------------------------------------------------------------------


def _version() -> str:
    from ampere import __version__

    return f"ampere {__version__}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ampere",
        description="AMPere Live: streaming indexer for live commerce. "
        "Settings come from AMPERE_* environment variables, KAFKA_URL/REDIS_URL and the "
        "YAML file named by AMPERE_CONFIG (`ampere settings` shows them).",
    )
    p.add_argument("--version", action="version", version=_version(), help="print the version and exit")
    p.add_argument(
        "-l",
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="how much the library logs to stderr (default: warning)",
    )
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    svc = sub.add_parser("services", help="embedded Kafka-protocol broker + Redis Stack on loopback")
    svc_sub = svc.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = svc_sub.add_parser(
        "up",
        help="start them, print KAFKA_URL/REDIS_URL, run until Ctrl-C (Redis keeps its "
        "data between runs, the broker does not)",
    )
    up.add_argument("--fresh", action="store_true", help="empty Redis first (index, tags, stream state)")
    up.set_defaults(fn=cmd_services_up)

    sub.add_parser("settings", help="print the effective settings (credentials redacted)").set_defaults(fn=cmd_settings)

    g = sub.add_parser("generate", help="build a deterministic synthetic tri-domain dataset")
    g.add_argument(
        "--preset", default="demo", choices=["tiny", "demo", "train", "bench"], help="dataset size (default: demo)"
    )
    g.add_argument("--out", required=True, help="dataset directory (created; reused when already built)")
    g.add_argument("--seed", type=int, default=0, help="random seed: same seed, same dataset (default: 0)")
    g.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    g.set_defaults(fn=cmd_generate)

    t = sub.add_parser("prepare-texts", help="ASR, on-screen text and summaries of a dataset's videos and windows")
    t.add_argument("dataset", help="dataset directory (from `ampere generate`)")
    t.add_argument(
        "--modes",
        nargs="+",
        default=["raw_asr", "screen", "summary"],
        choices=["raw_asr", "screen", "summary"],
        help="which texts to make: ASR, OCR of the live windows' readable frames, summaries "
        "(summary implies raw_asr; default: all three)",
    )
    t.set_defaults(fn=cmd_prepare_texts)

    sm = sub.add_parser("summarizer", help="the LLM summarizer: task adaptation")
    smsub = sm.add_subparsers(dest="summarizer_cmd", required=True, metavar="ACTION")
    st = smsub.add_parser("train", help="train the LoRA adapter on a dataset's train split (ASR + generator truth)")
    st.add_argument("dataset", help="dataset directory with texts/raw_asr.jsonl")
    st.add_argument("--out", help="adapter file (default: settings.summarizer.lora)")
    st.add_argument("--steps", type=int, default=300, help="optimiser steps (default: 300)")
    st.add_argument("--batch-size", type=int, default=8, help="pairs per step (default: 8)")
    st.add_argument("--rank", type=int, default=8, help="LoRA rank (default: 8)")
    st.add_argument("--top-layers", type=int, default=12, help="adapt the last N layers (default: 12)")
    st.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    st.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    st.add_argument("--max-pairs", type=int, help="use at most this many training pairs")
    st.add_argument("--init", help="continue from this adapter file (same rank and layers)")
    st.set_defaults(fn=cmd_summarizer_train)

    tg = sub.add_parser("tagger", help="the live tagger: its on-air mention model")
    tgsub = tg.add_subparsers(dest="tagger_cmd", required=True, metavar="ACTION")
    tt = tgsub.add_parser(
        "train",
        help="learn which said product names are on air, from a dataset's train split "
        "(needs texts/asr_names.jsonl from prepare-texts)",
    )
    tt.add_argument("dataset", help="dataset directory")
    tt.add_argument("--out", help="model file (default: settings.tagger.onair_model)")
    tt.set_defaults(fn=cmd_tagger_train)

    from encoders.config import DEFAULT_CONFIG  # light (yaml and the fit names); the CLI imports it only here

    tr = sub.add_parser("train", help="cross-domain contrastive training of the multi-branch model")
    tr.add_argument("dataset", help="dataset directory")
    tr.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"model config name or YAML path (default: {DEFAULT_CONFIG})"
    )
    tr.add_argument("--out", default="runs/model", help="output folder (default: runs/model)")
    tr.add_argument(
        "--text-mode",
        default="summary_screen",
        choices=TEXT_MODES,
        help="text of videos and live windows (default: summary_screen, the summary and a live window's on-screen "
        "overlays, as the live path embeds them with embed.screen_text)",
    )
    tr.add_argument(
        "--modality",
        default="both",
        choices=["both", "visual", "text"],
        help="branches used (ablations; default: both)",
    )
    tr.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    tr.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    tr.set_defaults(fn=cmd_train)

    ex = sub.add_parser("export", help="export a checkpoint to ONNX (fp32 + int8) with a manifest")
    ex.add_argument("checkpoint", help="model.pt from `ampere train`")
    ex.add_argument("--out", default=None, help="output folder (default: settings.embed.model_dir)")
    ex.add_argument("--no-int8", action="store_true", help="skip the int8 variant")
    ex.set_defaults(fn=cmd_export)

    ev = sub.add_parser("eval", help="six-direction retrieval R@1/5/10 on a dataset split")
    ev.add_argument("dataset", help="dataset directory")
    ev.add_argument("--split", default="test", help="train | val | test | all (default: test)")
    ev.add_argument("--backend", default="onnx", choices=["onnx", "torch"], help="runtime (default: onnx)")
    ev.add_argument("--checkpoint", default=None, help="torch checkpoint (default: settings.embed.checkpoint)")
    ev.add_argument("--model-dir", default=None, help="ONNX folder (default: settings.embed.model_dir)")
    ev.add_argument("--variant", default="fp32", choices=["fp32", "int8"], help="ONNX variant (default: fp32)")
    ev.add_argument(
        "--text-mode",
        default="summary_screen",
        choices=TEXT_MODES,
        help="texts to embed (default: summary_screen, what the shipped model is trained on)",
    )
    ev.add_argument(
        "--branch", default="fused", choices=["fused", "text", "visual"], help="embedding compared (default: fused)"
    )
    ev.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    ev.set_defaults(fn=cmd_eval)

    su = sub.add_parser("setup", help="derive what the demo needs: data, trained model, ONNX export")
    su.add_argument("--preset", default="demo", help="dataset preset to generate (default: demo)")
    su.set_defaults(fn=cmd_setup)

    for kind, what, fields in (
        ("catalog", "product pages", '{"id","title","image"} (+ product_id, attributes)'),
        ("videos", "short videos", '{"id","path"} (+ product_id, title)'),
    ):
        c = sub.add_parser(kind, help=f"index {what} from a JSONL file")
        c_sub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
        a = c_sub.add_parser("add", help=f"embed and index {what}")
        a.add_argument("file", help=f"JSONL, one {fields} per line; relative paths against the file's folder")
        a.set_defaults(fn=cmd_catalog_add, kind=kind)

    rp = sub.add_parser(
        "replay",
        help="publish a recording or stream URL (anything PyAV opens) to Kafka; exits 2 if records were not delivered",
    )
    rp.add_argument("source", help="file, HLS playlist, RTMP URL, ...")
    rp.add_argument("--stream", required=True, help="stream id (letters, digits, _.:@-)")
    rp.add_argument("--fast", action="store_true", help="as fast as possible instead of real-time pace")
    rp.add_argument(
        "--products",
        default=None,
        help="the stream's product list, comma-separated product ids: the tagger ranks among them "
        "(a platform can publish the same as a StreamInfo record, docs/DESIGN.md)",
    )
    rp.add_argument(
        "--speed", type=float, default=1.0, help="media seconds per wall-clock second at real-time pace (default: 1)"
    )
    rp.add_argument("--start", type=float, default=0.0, help="skip the media before this second (default: 0)")
    rp.add_argument(
        "--resume", action="store_true", help="start at the first media second the stream's last replay did not deliver"
    )
    rp.add_argument(
        "--wait",
        action="store_true",
        help="then wait until every window of the stream is tagged (progress bar; needs a running worker)",
    )
    rp.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="with --wait: give up after this many seconds, exit code 1 (default: 600)",
    )
    rp.set_defaults(fn=cmd_replay)

    dl = sub.add_parser("dead-letters", help="records the worker could not process, with their reasons")
    dl_sub = dl.add_subparsers(dest="action", required=True, metavar="ACTION")
    dls = dl_sub.add_parser("list", help="count the dead letters by reason category and source topic")
    dlr = dl_sub.add_parser(
        "replay",
        help="republish dead letters' original records to their source topic "
        "(default: those of an outage, reason prefix 'transient:'); a "
        "second run resumes after the last one re-driven",
    )
    for a in (dls, dlr):
        a.add_argument(
            "--reason-prefix",
            default=None,
            help="only letters whose reason starts with this (e.g. 'transient:', 'bad-media:')",
        )
        a.add_argument(
            "--since",
            default=None,
            help="only letters written since: epoch seconds, an ISO time, or an age (30m, 2h, 1d)",
        )
        a.add_argument(
            "--timeout",
            type=float,
            default=5.0,
            help="stop reading after this many seconds without a new letter (default: 5)",
        )
    dls.add_argument("-v", "--verbose", action="store_true", help="also print every letter's reason")
    dls.set_defaults(fn=cmd_dead_letters_list)
    dlr.add_argument("--dry-run", action="store_true", help="print what would be re-driven, send nothing")
    dlr.set_defaults(fn=cmd_dead_letters_replay)

    se = sub.add_parser("search", help="search the index")
    se.add_argument("by", choices=["text", "image", "product", "stream"], help="what the query is")
    se.add_argument("query", help="words, an image path, a product id or a stream id")
    se.add_argument("-k", type=int, default=5, help="results for text and image queries (default: 5)")
    se.add_argument(
        "--domain",
        action="append",
        choices=DOMAINS,
        default=None,
        help="restrict text/image results to a domain (repeatable)",
    )
    se.set_defaults(fn=cmd_search)

    tg = sub.add_parser("tags", help="print live product tags as they are published")
    tg.add_argument("--timeout", type=float, default=None, help="stop after this many idle seconds")
    tg.set_defaults(fn=cmd_tags)

    sv = sub.add_parser(
        "serve",
        help="the search API and web page (FastAPI; needs REDIS_URL or `ampere services "
        "up`; the server logs at -l's level)",
    )
    sv.add_argument(
        "--host",
        default=None,
        help="interface to listen on (default: settings.api.host, 127.0.0.1; 0.0.0.0 for every interface)",
    )
    sv.add_argument("--port", type=int, default=None, help="TCP port (default: settings.api.port, 8000)")
    sv.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes (default: settings.api.workers, 1; metrics are per process)",
    )
    sv.add_argument("--access-log", action="store_true", help="log every request (default: off)")
    sv.set_defaults(fn=cmd_serve)

    w = sub.add_parser("worker", help="run the Faust worker (same as: faust -A streamer.app worker)")
    w.add_argument("--loglevel", default="info", help="Faust's log level (default: info)")
    w.set_defaults(fn=cmd_worker)

    d = sub.add_parser("demo", help="the whole system on the embedded default, end to end")
    d.add_argument("--fast", action="store_true", help="replay as fast as possible, not at real-time pace")
    d.add_argument("--preset", default="demo", help="dataset preset (default: demo)")
    d.add_argument("--streams", type=int, default=None, help="replay only the first N live streams")
    d.add_argument(
        "--keep-serving",
        action="store_true",
        help="keep the web page up after the replays, until Ctrl-C (it is up during them anyway)",
    )
    d.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
