"""The streaming path in one process, window by window, with what each stage made of every window.

    .venv/bin/python bench/trace.py --streams 6 --out /tmp/trace.jsonl      # the first 6 test streams
    AMPERE_ASR__CHUNKED=false .venv/bin/python bench/trace.py ...            # any setting, as the worker reads it

The worker's own code (``streamer.agents.Stages`` over ``ampere.pipeline``) runs each stream's media records
(``ampere.replay.media_records``) in order, with the stage topics replaced by direct calls: a window goes
through transcribe, summarize, embed and tag before the next one is read. Only Kafka is left out (Redis Stack
is real: embedded unless REDIS_URL is set, and emptied), so a figure that differs from ``bench/quality.py live``
points at the pipelining between stages, not at the stages. Each window's line holds its transcript (raw and
name-corrected), screen lines, summary and tags; the scores are printed (top-1 on test-split windows, as
``bench/quality.py live`` counts them). A diagnosis tool: nothing here is written to bench/results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ampere.settings import REPO_ROOT, get_settings
from ampere_synth.truth import load_jsonl

DATASET = REPO_ROOT / ".ampere" / "data" / "bench-s0"


def trace(ds: Path, streams: list[dict], with_products: bool, lag: int = 0) -> list[dict]:
    from ampere.catalog import add_pages
    from ampere.ingest import Ingestor
    from ampere.models import Models
    from ampere.pipeline import Pipeline
    from ampere.records import StreamInfo, Tag, Transcribed, decode, decode_tag_json
    from ampere.replay import media_records
    from ampere.store import Store
    from ampere_dev.services import resolve_services
    from streamer.agents import Deps, Event, Stages

    settings = get_settings()
    settings = settings.model_copy(update={"home": settings.home / "trace"})
    rows: dict[tuple[str, float], dict] = {}
    with resolve_services(settings) as urls:
        store = Store.connect(urls.redis_url, settings.redis)
        store.r.flushdb()
        store.index.create(overwrite=True)
        models = Models(settings)
        add_pages(store, ds / "catalog.jsonl", models, progress=False)
        pipeline = Pipeline(settings, store, models)
        if lag:  # the worker's stages overlap: a window is heard while the ones before it are still being tagged
            hop, likely = settings.windows.hop_s, pipeline.likely_products
            pipeline.likely_products = lambda sid, before_s: likely(sid, before_s - lag * hop)  # type: ignore[method-assign]
        deps = Deps(
            settings=settings,
            pipeline=pipeline,
            ingestor=Ingestor(store.streams, settings.windows, settings.ingest, limits=settings.limits),
        )
        nxt = {"windows": "transcribe", "transcripts": "summarize", "summaries": "embed", "embeddings": "tag"}

        async def send(stage: str, key: bytes | None, value: bytes) -> None:
            if stage == "tags":
                t = decode_tag_json(value)
                row = rows.setdefault((t.stream_id, round(t.start, 3)), {})
                row.setdefault("tags", []).append([t.product_id, round(t.score, 3), int(t.correction)])
                return
            if stage == "dead-letter":
                print("dead letter:", decode(value), flush=True)
                return
            rec = decode(value)
            if isinstance(rec, Transcribed):
                rows.setdefault((rec.stream_id, round(rec.start, 3)), {}).update(
                    stream_id=rec.stream_id,
                    start=rec.start,
                    end=rec.end,
                    raw=rec.raw_text,
                    text=rec.text,
                    prompted=rec.prompted,
                    screen=sorted({ln[0] for ln in rec.screen}),
                )
            elif hasattr(rec, "summary") and not isinstance(rec, Tag):
                rows.setdefault((rec.stream_id, round(rec.start, 3)), {})["summary"] = rec.summary
            await getattr(stages, nxt[stage])(Event(stage, 0, 0, key, value))

        stages = Stages(lambda: deps, send)

        async def play() -> None:
            t0 = time.time()
            for i, s in enumerate(streams):
                key = s["stream_id"].encode()
                if with_products:
                    bag = [seg["product_id"] for seg in s["segments"] if seg.get("product_id")]
                    await stages.ingest(
                        Event("media", 0, 0, key, StreamInfo(stream_id=s["stream_id"], products=bag).encode())
                    )
                for rec in media_records(str(ds / s["path"]), s["stream_id"], settings, realtime=False):
                    await stages.ingest(Event("media", 0, 0, key, rec.encode()))
                print(f"  {i + 1}/{len(streams)} streams, {len(rows)} windows, {time.time() - t0:.0f} s", flush=True)

        asyncio.run(play())
    return [rows[k] for k in sorted(rows)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=DATASET, help="benchmark dataset (ampere dataset bench)")
    ap.add_argument("--streams", type=int, default=0, help="how many of the test streams (0: all)")
    ap.add_argument("--heldout", action="store_true", help="the held-out streams instead of the test streams")
    ap.add_argument("--products", action="store_true", help="give each stream its product list first")
    ap.add_argument(
        "--lag", type=int, default=0, help="windows a window's recognition sees the stream's tags late by (0: none)"
    )
    ap.add_argument("--out", type=Path, required=True, help="JSONL file: one line per window")
    args = ap.parse_args()

    from bench.quality import _score, test_streams

    live = {s["stream_id"]: s for s in load_jsonl(args.dataset / "live.jsonl")}
    products = {p["product_id"]: p for p in load_jsonl(args.dataset / "products.jsonl")}
    ids = [k for k, s in live.items() if s.get("heldout")] if args.heldout else test_streams(args.dataset)
    chosen = [live[k] for k in ids[: args.streams or None]]
    rows = trace(args.dataset, chosen, args.products, args.lag)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tags = [
        {"stream_id": r["stream_id"], "start": r["start"], "end": r["end"], "product_id": t[0], "correction": t[2]}
        for r in rows
        if "stream_id" in r
        for t in r.get("tags", [])
    ]
    print(json.dumps(_score(tags, chosen, products, "test")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
