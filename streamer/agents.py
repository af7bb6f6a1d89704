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
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ampere.errors import PoisonRecord, describe, is_transient, scrub
from ampere.ingest import Ingestor
from ampere.pipeline import Pipeline
from ampere.records import (
    AudioChunk,
    DeadLetter,
    Embedded,
    Keyframe,
    StreamEnd,
    StreamInfo,
    Summarized,
    Tag,
    Transcribed,
    WindowReady,
    decode,
    encode_tag_json,
)
from ampere.records import describe as describe_record
from ampere.settings import Settings

log = logging.getLogger("ampere.agents")

POOLS = ("io", "asr", "ocr", "llm", "embed")


@dataclass
class Deps:
    settings: Settings
    pipeline: Pipeline
    ingestor: Ingestor
    pools: dict[str, Executor] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, redis_url: str) -> Deps:
        from ampere.store import Store

        store = Store.connect(redis_url, settings.redis, settings.retry)
        return cls(
            settings=settings,
            pipeline=Pipeline(settings, store),
            ingestor=Ingestor(store.streams, settings.windows, settings.ingest, limits=settings.limits),
            pools={name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ampere-{name}") for name in POOLS},
        )


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
    def of(cls, event) -> Event:
        msg = event.message
        return cls(msg.topic, msg.partition, msg.offset, event.key, event.value)


class Stages:
    """One method per agent: decode, run the stage in its pool, send the result on, dead-letter what fails."""

    def __init__(self, deps: Callable[[], Deps], send: Send):
        self._deps_factory = deps
        self._deps: Deps | None = None
        self.send = send
        self.model_load_s: dict[str, float] | None = None  # seconds per model, once warm_up is done
        # stream -> (its turn in the transcribe stage, windows holding or waiting for it)
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    @property
    def deps(self) -> Deps:
        if self._deps is None:
            self._deps = self._deps_factory()
        return self._deps

    async def run_in(self, pool: str, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.deps.pools.get(pool), fn, *args)

    async def dead_letter(self, ev: Event, reason: str, rec=None) -> None:
        """Send the record to the dead-letter topic with its reason (delivery checked and retried: a dead letter
        is never dropped either). A window record's media is marked so that repair does not re-drive it."""
        log.warning("dead-letter %s[%s]@%s: %s", ev.topic, ev.partition, ev.offset, reason)
        limit = self.deps.settings.broker.max_record_bytes // 2
        await self._deliver(
            "dead-letter",
            ev.key,
            DeadLetter(
                source_topic=ev.topic,
                partition=ev.partition,
                offset=ev.offset,
                reason=reason,
                payload=bytes(ev.value or b"")[:limit],
                key=ev.key,
            ).encode(),
        )
        blob_key = getattr(rec, "blob_key", None)
        if blob_key:
            try:
                await self.run_in("io", self.deps.pipeline.store.blobs.mark_dead, blob_key)
            except Exception:  # best effort: at worst repair re-drives it once more
                log.debug("cannot mark %s dead-lettered", blob_key, exc_info=True)

    def reason(self, exc: BaseException, ev: Event, rec=None) -> str:
        """``<category>: <record and window>: <detail>``, stable wording (ampere.errors)."""
        what = (
            describe_record(rec, self.deps.settings.windows.hop_s)
            if rec is not None
            else f"record {ev.topic}[{ev.partition}]@{ev.offset}"
        )
        if isinstance(exc, PoisonRecord):
            return f"{exc.category}: {what}: {scrub(str(exc))}"
        if is_transient(exc):
            return f"transient: {what}: still failing after {self.deps.settings.retry.give_up_s:g} s: {describe(exc)}"
        return f"internal-error: {what}: {describe(exc)}"

    async def retrying(self, what: str, fn, *args, pool: str = "io", give_up: bool = True):
        """Run ``fn`` in ``pool``; on an outage (ampere.errors.is_transient) wait with exponential backoff and
        jitter and run it again, for as long as it lasts (``retry.give_up_s`` > 0 and ``give_up``: that long).
        The agent awaits this, so its partitions wait too; the event loop keeps heartbeating."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, stop_never, wait_exponential_jitter

        r = self.deps.settings.retry

        def before_sleep(state) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s: %s; retry %d in %.1f s",
                what,
                describe(exc) if exc else "failed",
                state.attempt_number,
                state.next_action.sleep if state.next_action else 0.0,
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            reraise=True,
            before_sleep=before_sleep,
            wait=wait_exponential_jitter(multiplier=r.initial_s, max=r.max_s, jitter=r.jitter_s),
            stop=stop_after_delay(r.give_up_s) if give_up and r.give_up_s > 0 else stop_never,
        ):
            with attempt:
                return await self.run_in(pool, fn, *args)

    async def _deliver(self, stage: str, key: bytes | None, value: bytes) -> None:
        """Send and wait until the broker has the record (a Faust send only queues it); retry what it refused."""

        async def once() -> None:
            res = await self.send(stage, key, value)
            if inspect.isawaitable(res):
                await res  # FutureMessage: resolves with the broker's ack, or raises its error

        from tenacity import AsyncRetrying, retry_if_exception, stop_never, wait_exponential_jitter

        r = self.deps.settings.retry
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            reraise=True,
            stop=stop_never,
            wait=wait_exponential_jitter(multiplier=r.initial_s, max=r.max_s, jitter=r.jitter_s),
        ):
            with attempt:
                await once()

    async def forward(self, stage: str, rec) -> None:
        # the tags topic is read outside this repository: JSON with a published schema (ampere/schemas); a score
        # JSON cannot carry (NaN) raises PoisonRecord, and the window is dead-lettered
        value = encode_tag_json(rec) if isinstance(rec, Tag) else rec.encode()
        await self._deliver(stage, rec.stream_id.encode(), value)

    def _decode(self, ev: Event, expect: tuple):
        return decode(ev.value, expect=expect, max_bytes=self.deps.settings.broker.max_record_bytes)

    async def ingest(self, ev: Event) -> None:
        """Media record -> closed windows, stored and forwarded. A bad record is dead-lettered; an outage (Redis,
        broker) is waited out at whichever step it hits, and nothing is half done (ampere.ingest)."""
        rec = None
        ing = self.deps.ingestor
        try:
            rec = self._decode(ev, (AudioChunk, Keyframe, StreamEnd, StreamInfo))
            if isinstance(rec, StreamInfo):  # the platform's product list for the stream: no media, no window
                await self.retrying(
                    f"products of {rec.stream_id}",
                    self.deps.pipeline.set_products,
                    rec.stream_id,
                    list(rec.products),
                    give_up=False,
                )
                return
            prepared = await self.run_in("io", ing.prepare, rec)  # FLAC/JPEG checks cost a few ms
            windows = await self.retrying(f"ingest {describe_record(rec)}", ing.accept, prepared)
        except Exception as exc:  # poison, a transient that outlasted give_up_s, or a bug: never stop the stream
            if not isinstance(exc, PoisonRecord) and not is_transient(exc):
                log.exception("ingest failed")
            await self.dead_letter(ev, self.reason(exc, ev, rec))
            return
        for win in windows:
            ready = None
            try:
                # a window whose media cannot be stored waits and retries: never dead-lettered for an outage
                ready = await self.retrying(
                    f"store window {win.window_id}", self.deps.pipeline.store_window, win, give_up=False
                )
                await self.forward("windows", ready)
            except Exception as exc:  # a bug, or the broker refused it for good: reported, never lost in silence
                log.exception("window %s not stored or forwarded", win.window_id)
                await self.dead_letter(
                    ev,
                    self.reason(exc, ev, ready)
                    if ready is not None
                    else f"internal-error: window {win.window_id}: {describe(exc)}",
                    ready,
                )
        try:
            await self.retrying(f"journal {describe_record(rec)}", ing.commit, prepared, give_up=False)
            if isinstance(rec, StreamEnd):
                # recorded here, not only when the last window is tagged: that window may fail in a stage, and
                # the stream must still leave "live now" (late tags of earlier windows keep it ended)
                await self.retrying(
                    f"end {rec.stream_id}", self.deps.pipeline.end_stream, rec.stream_id, rec.t, give_up=False
                )
        except Exception:  # a bug: the journal keeps a little more than it needs; the stream goes on
            log.exception("after %s", describe_record(rec))

    @contextlib.asynccontextmanager
    async def _turn_of(self, stream_id: str):
        """One window of a stream at a time, in the order they came (asyncio.Lock wakes waiters first come,
        first served): chunked ASR carries each stream's state from one window to the next. Windows of other
        streams do not wait (``worker.transcribe_concurrency`` agents share the topic)."""
        lock, users = self._turns.get(stream_id) or (asyncio.Lock(), 0)
        self._turns[stream_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[stream_id]
            if users <= 1:
                del self._turns[stream_id]
            else:
                self._turns[stream_id] = (lock, users - 1)

    async def _hear_and_see(self, rec):
        async with self._turn_of(rec.stream_id):
            return await self._hear_and_see_now(rec)

    async def _hear_and_see_now(self, rec):
        """ASR and OCR of one window side by side, each in its own pool (two cores, two models), each retried
        through an outage on its own."""
        pipe = self.deps.pipeline
        what = describe_record(rec)
        if rec.redrive and await self.run_in("io", pipe.tagged, rec):
            # the sweep re-published a window that was only queued behind others, and it has been tagged since:
            # running it again would redo its work and overwrite its stream's later state
            log.info("%s was tagged since it was re-published: skipped", what)
            return None
        heard, seen = await asyncio.gather(
            self.retrying(f"hear {what}", pipe.hear, rec, pool="asr"),
            self.retrying(f"see {what}", pipe.see, rec, pool="ocr"),
        )
        return pipe.transcribed(rec, heard, seen)

    async def stage(self, ev: Event, expect: tuple, pool: str, method: str, out: str | None) -> Any:
        """Decode, run one pipeline stage in its pool and send its result to ``out``. A bad record is
        dead-lettered; an outage is retried (the stages are idempotent: keyed writes)."""
        rec = None
        try:
            rec = self._decode(ev, expect)
            if method == "transcribe":
                result = await self._hear_and_see(rec)
            else:
                result = await self.retrying(
                    f"{method} {describe_record(rec)}", getattr(self.deps.pipeline, method), rec, pool=pool
                )
        except Exception as exc:  # a bad window must not stop the stream; the reason goes with the record
            if not isinstance(exc, PoisonRecord) and not is_transient(exc):
                log.exception("stage %s failed", method)
            await self.dead_letter(ev, self.reason(exc, ev, rec), rec)
            return None
        if out is not None:
            for r in result if isinstance(result, list) else [result] if result is not None else []:
                try:
                    await self.forward(out, r)
                except Exception as exc:  # the broker refused it for good: reported, never lost in silence
                    log.exception("cannot forward %s", describe_record(r))
                    await self.dead_letter(ev, self.reason(exc, ev, rec), rec)
                    return None
        return result

    async def transcribe(self, ev: Event):
        return await self.stage(ev, (WindowReady,), "asr", "transcribe", "transcripts")

    async def summarize(self, ev: Event):
        return await self.stage(ev, (Transcribed,), "llm", "summarize", "summaries")

    async def embed(self, ev: Event):
        return await self.stage(ev, (Summarized,), "embed", "embed_and_index", "embeddings")

    async def tag(self, ev: Event):
        tags = await self.stage(ev, (Embedded,), "io", "tag", "tags")
        for t in tags or []:
            log.info(
                "tag %s [%.0f-%.0fs] -> %s (%s %.3f)%s e2e %.0f ms",
                t.stream_id,
                t.start,
                t.end,
                t.product_id or "-",
                t.decision,
                t.score,
                " correction" if t.correction else "",
                t.e2e_ms,
            )
        return tags

    async def warm_up(self) -> None:
        """Load the models before the first window arrives, so its latency is not a cold start (and a missing
        model file shows at start, not on every window)."""
        self.model_load_s = await asyncio.get_running_loop().run_in_executor(None, self.deps.pipeline.models.warm_up)
        log.info("models loaded")


# stage -> (input topic, Stages method)
AGENTS = {
    "ingest": "media",
    "transcribe": "windows",
    "summarize": "transcripts",
    "embed": "summaries",
    "tag": "embeddings",
}


def register(app, topics: dict, deps: Callable[[], Deps], concurrency: dict[str, int] | None = None) -> Stages:
    """Declare the agents (and the warm-up task) on a Faust app; returns the Stages they run. ``concurrency``:
    agents per stage (default 1); Faust still commits a partition's offsets only up to its oldest unfinished
    event, so a crash loses nothing in flight."""

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
        n = (concurrency or {}).get(name, 1)
        app.agent(topics[source], name=f"ampere.{name}", concurrency=n)(make(name))
    app.task(stages.warm_up)
    return stages
