"""Faust agents: move records between stage topics and run ``ampere.pipeline`` off the event loop.

Every agent reads raw bytes, decodes them with ``ampere.records.decode`` and
sends anything it cannot process to the dead-letter topic with the reason; the
worker keeps going. Heavy inference runs in one single-thread pool per model
(ASR, LLM, ONNX), so the event loop keeps heartbeating and committing while a
window is being processed (see field-notes on stalled commits).
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import redis

from ampere import media, pipeline
from ampere.ingest import Ingestor
from ampere.records import (AudioChunk, BadRecord, DeadLetter, Embedded, Keyframe, StreamEnd, Summarized,
                            Transcribed, WindowReady, decode)
from streamer.app import TOPICS, app, settings, urls

log = logging.getLogger("ampere.agents")

REDIS = redis.Redis.from_url(urls.redis_url)
MODELS = pipeline.Models(settings)
POOLS = {name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ampere-{name}")
         for name in ("io", "asr", "llm", "embed")}
# open windows are journaled in Redis: a worker that takes a stream over rebuilds them (ampere/ingest.py)
INGESTOR = Ingestor(REDIS, settings)


async def run_in(pool: str, fn, *args):
    return await asyncio.get_running_loop().run_in_executor(POOLS[pool], fn, *args)


async def dead_letter(event, reason: str) -> None:
    msg = event.message
    log.warning("dead-letter %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, reason)
    await TOPICS["dead-letter"].send(
        key=event.key,
        value=DeadLetter(source_topic=msg.topic, partition=msg.partition, offset=msg.offset, reason=reason,
                         payload=bytes(event.value or b"")[: settings.max_record_bytes // 2], key=event.key).encode(),
    )


async def send(stage: str, rec) -> None:
    await TOPICS[stage].send(key=rec.stream_id.encode(), value=rec.encode())


def _ingest(rec) -> list:
    """Media record -> closed windows (runs in the io pool: FLAC/JPEG checks cost a few ms)."""
    windows = INGESTOR.handle(rec)
    if isinstance(rec, StreamEnd) and not windows:
        # no tail window to carry the news: the stream's products are no longer live now
        pipeline.index.end_stream(REDIS, rec.stream_id)
    return windows


@app.agent(TOPICS["media"])
async def ingest(stream):
    async for event in stream.events():
        try:
            rec = decode(event.value, expect=(AudioChunk, Keyframe, StreamEnd), max_bytes=settings.max_record_bytes)
            windows = await run_in("io", _ingest, rec)
        except (BadRecord, media.MediaError) as exc:
            await dead_letter(event, str(exc))
            continue
        except Exception as exc:  # never let one record stop the stream; the reason goes with it
            log.exception("ingest failed")
            await dead_letter(event, f"{type(exc).__name__}: {exc}")
            continue
        for win in windows:
            try:
                ready = await run_in("io", pipeline.store_window, REDIS, win, settings)
            except Exception as exc:  # e.g. Redis unreachable: this window is lost, the stream goes on
                log.exception("cannot store window %s", win.window_id)
                await dead_letter(event, f"window {win.window_id} not stored: {type(exc).__name__}: {exc}")
                continue
            await send("windows", ready)


async def _stage(event, expect, pool: str, fn):
    """Decode, run one stage function in its pool; on failure dead-letter and return None."""
    try:
        rec = decode(event.value, expect=expect, max_bytes=settings.max_record_bytes)
        return await run_in(pool, fn, rec)
    except BadRecord as exc:
        await dead_letter(event, str(exc))
    except Exception as exc:  # a bad window must not stop the stream; the reason goes with the record
        log.exception("stage %s failed", getattr(fn, "__name__", fn))
        await dead_letter(event, f"{type(exc).__name__}: {exc}")
    return None


def _transcribe(rec):
    return pipeline.transcribe(REDIS, rec, MODELS)


def _summarize(rec):
    return pipeline.summarize(REDIS, rec, MODELS)


def _embed(rec):
    return pipeline.embed_and_index(REDIS, rec, MODELS)


def _tag(rec):
    return pipeline.tag(REDIS, rec, MODELS)


@app.agent(TOPICS["windows"])
async def transcribe(stream):
    async for event in stream.events():
        out = await _stage(event, (WindowReady,), "asr", _transcribe)
        if out is not None:
            await send("transcripts", out)


@app.agent(TOPICS["transcripts"])
async def summarize(stream):
    async for event in stream.events():
        out = await _stage(event, (Transcribed,), "llm", _summarize)
        if out is not None:
            await send("summaries", out)


@app.agent(TOPICS["summaries"])
async def embed(stream):
    async for event in stream.events():
        out = await _stage(event, (Summarized,), "embed", _embed)
        if out is not None:
            await send("embeddings", out)


@app.agent(TOPICS["embeddings"])
async def tag(stream):
    async for event in stream.events():
        out = await _stage(event, (Embedded,), "io", _tag)
        if out is not None:
            log.info("tag %s [%.0f-%.0fs] -> %s (%.3f) e2e %.0f ms", out.stream_id, out.start, out.end,
                     out.product_id, out.score, out.e2e_ms)
            await send("tags", out)


@app.task
async def warm_up():
    """Load the models before the first window arrives, so its latency is not a cold start."""
    def load():
        MODELS.transcriber, MODELS.summarizer, MODELS.embedder  # noqa: B018 - properties load lazily
        if settings.tag_onair_weight > 0:
            MODELS.onair  # noqa: B018 - a missing model file shows here, at start, not on every window
    await asyncio.get_running_loop().run_in_executor(None, load)
    log.info("models loaded")
