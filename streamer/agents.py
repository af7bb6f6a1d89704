"""Faust agents: move records between stage topics and run ``ampere.pipeline`` off the event loop.

Every agent reads raw bytes, decodes them with ``ampere.records.decode`` and sends anything it cannot process
to the dead-letter topic with the reason; the worker keeps going. Heavy inference runs in one single-thread
pool per model (ASR, LLM, ONNX), so the event loop keeps heartbeating and committing while a window is being
processed (field-notes: stalled commits).

What each agent does with one event lives in :class:`Stages`, apart from Faust, and gets its dependencies
(:class:`Deps`) from outside: tests drive it with fakes, and nothing is built at import — the worker builds its
Redis client, models and pools when the first event arrives (or at warm-up).
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ampere.errors import PoisonRecord
from ampere.ingest import Ingestor
from ampere.pipeline import Pipeline
from ampere.records import AudioChunk, DeadLetter, Embedded, Keyframe, StreamEnd, Summarized, Transcribed, \
    WindowReady, decode, encode_tag_json
from ampere.settings import Settings

log = logging.getLogger("ampere.agents")

POOLS = ("io", "asr", "llm", "embed")


@dataclass
class Deps:
    settings: Settings
    pipeline: Pipeline
    ingestor: Ingestor
    pools: dict[str, Executor] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, redis_url: str) -> "Deps":
        from ampere.store import Store
        store = Store.connect(redis_url, settings.redis)
        return cls(settings=settings, pipeline=Pipeline(settings, store),
                   ingestor=Ingestor(store.streams, settings.windows, settings.ingest),
                   pools={name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ampere-{name}")
                          for name in POOLS})


Send = Callable[[str, bytes | None, bytes], Awaitable[Any]]  # (stage, key, value)


@dataclass
class Event:
    """What a stage needs of one Kafka message (Faust's event, or a test's)."""
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @classmethod
    def of(cls, event) -> "Event":
        msg = event.message
        return cls(msg.topic, msg.partition, msg.offset, event.key, event.value)


class Stages:
    """One method per agent: decode, run the stage in its pool, send the result on, dead-letter what fails."""

    def __init__(self, deps: Callable[[], Deps], send: Send):
        self._deps_factory = deps
        self._deps: Deps | None = None
        self.send = send
        self.model_load_s: dict[str, float] | None = None  # seconds per model, once warm_up is done

    @property
    def deps(self) -> Deps:
        if self._deps is None:
            self._deps = self._deps_factory()
        return self._deps

    async def run_in(self, pool: str, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.deps.pools.get(pool), fn, *args)

    async def dead_letter(self, ev: Event, reason: str) -> None:
        log.warning("dead-letter %s[%s]@%s: %s", ev.topic, ev.partition, ev.offset, reason)
        limit = self.deps.settings.broker.max_record_bytes // 2
        await self.send("dead-letter", ev.key, DeadLetter(
            source_topic=ev.topic, partition=ev.partition, offset=ev.offset, reason=reason,
            payload=bytes(ev.value or b"")[:limit], key=ev.key).encode())

    async def forward(self, stage: str, rec) -> None:
        await self.send(stage, rec.stream_id.encode(), rec.encode())

    def _decode(self, ev: Event, expect: tuple):
        return decode(ev.value, expect=expect, max_bytes=self.deps.settings.broker.max_record_bytes)

    def _ingest(self, rec) -> list:
        """Media record -> closed windows (in the io pool: FLAC/JPEG checks cost a few ms)."""
        windows = self.deps.ingestor.handle(rec)
        if isinstance(rec, StreamEnd):
            # recorded here, not only when the last window is tagged: that window may fail in a stage, and
            # the stream must still leave "live now" (late tags of earlier windows keep it ended)
            self.deps.pipeline.end_stream(rec.stream_id, rec.t)
        return windows

    async def ingest(self, ev: Event) -> None:
        try:
            rec = self._decode(ev, (AudioChunk, Keyframe, StreamEnd))
            windows = await self.run_in("io", self._ingest, rec)
        except PoisonRecord as exc:
            await self.dead_letter(ev, str(exc))
            return
        except Exception as exc:  # never let one record stop the stream; the reason goes with it
            log.exception("ingest failed")
            await self.dead_letter(ev, f"{type(exc).__name__}: {exc}")
            return
        for win in windows:
            try:
                ready = await self.run_in("io", self.deps.pipeline.store_window, win)
            except Exception as exc:  # e.g. Redis unreachable: this window is lost, the stream goes on
                log.exception("cannot store window %s", win.window_id)
                await self.dead_letter(ev, f"window {win.window_id} not stored: {type(exc).__name__}: {exc}")
                continue
            await self.forward("windows", ready)

    async def stage(self, ev: Event, expect: tuple, pool: str, method: str, out: str | None) -> Any:
        """Decode, run one pipeline stage in its pool and send its result to ``out``; on failure dead-letter."""
        try:
            rec = self._decode(ev, expect)
            result = await self.run_in(pool, getattr(self.deps.pipeline, method), rec)
        except PoisonRecord as exc:
            await self.dead_letter(ev, str(exc))
            return None
        except Exception as exc:  # a bad window must not stop the stream; the reason goes with the record
            log.exception("stage %s failed", method)
            await self.dead_letter(ev, f"{type(exc).__name__}: {exc}")
            return None
        if result is not None and out is not None:
            await self.forward(out, result)
        return result

    async def transcribe(self, ev: Event):
        return await self.stage(ev, (WindowReady,), "asr", "transcribe", "transcripts")

    async def summarize(self, ev: Event):
        return await self.stage(ev, (Transcribed,), "llm", "summarize", "summaries")

    async def embed(self, ev: Event):
        return await self.stage(ev, (Summarized,), "embed", "embed_and_index", "embeddings")

    async def tag(self, ev: Event):
        out = await self.stage(ev, (Embedded,), "io", "tag", None)
        if out is not None:
            # the tags topic is read outside this repository: JSON with a published schema (ampere/schemas)
            try:
                value = encode_tag_json(out)
            except PoisonRecord as exc:  # a score JSON cannot carry (NaN)
                await self.dead_letter(ev, str(exc))
                return None
            await self.send("tags", out.stream_id.encode(), value)
            log.info("tag %s [%.0f-%.0fs] -> %s (%.3f) e2e %.0f ms", out.stream_id, out.start, out.end,
                     out.product_id, out.score, out.e2e_ms)
        return out

    async def warm_up(self) -> None:
        """Load the models before the first window arrives, so its latency is not a cold start (and a missing
        model file shows at start, not on every window)."""
        self.model_load_s = await asyncio.get_running_loop().run_in_executor(None, self.deps.pipeline.models.warm_up)
        log.info("models loaded")


# stage -> (input topic, Stages method)
AGENTS = {"ingest": "media", "transcribe": "windows", "summarize": "transcripts", "embed": "summaries",
          "tag": "embeddings"}


def register(app, topics: dict, deps: Callable[[], Deps]) -> Stages:
    """Declare the agents (and the warm-up task) on a Faust app; returns the Stages they run."""
    async def send(stage: str, key: bytes | None, value: bytes):
        return await topics[stage].send(key=key, value=value)

    stages = Stages(deps, send)

    def make(name: str):
        method = getattr(stages, name)

        async def agent(stream):
            async for event in stream.events():
                await method(Event.of(event))
        agent.__name__ = agent.__qualname__ = name
        return agent

    for name, source in AGENTS.items():
        app.agent(topics[source], name=f"ampere.{name}")(make(name))
    app.task(stages.warm_up)
    return stages
