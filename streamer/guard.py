"""What keeps a worker honest about its broker: topics created on start, a watch on the broker's cluster id,
and the repair of windows whose record died in flight.

A memory-only broker (the embedded Tansu) that restarts comes back empty: no topics, no offsets, no records in
flight. Faust cannot recover from that by itself (its commits to topics that no longer exist fail forever),
so the worker notices the new cluster id, says so, and exits with status 75 for its supervisor to restart it
(systemd ``Restart=on-failure``; ``ampere_dev.worker.FaustWorker(restart=True)``). On start it recreates its
topics and, if the cluster id differs from the one it last ran against (kept in Redis), re-publishes every
window whose media is in Redis but which never reached the index: those records were in flight between two
stages when the broker lost them. A periodic sweep does the same for windows older than
``worker.repair_after_s``, whatever lost them. Re-published windows are processed again; every effect is keyed
by window, so a window that was only slow is overwritten, not doubled. A persistent broker (Apache Kafka)
keeps its cluster id and loses nothing: none of this fires.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from ampere.broker import cluster_id, ensure_topics, topic_names
from ampere.errors import describe
from ampere.records import WindowReady, decode

log = logging.getLogger("ampere.guard")

EXIT_BROKER_LOST = 75  # EX_TEMPFAIL: restart me


class Guard:
    def __init__(self, settings, kafka_url: str, stages):
        self.settings = settings
        self.kafka_url = kafka_url
        self.stages = stages  # streamer.agents.Stages: its store and its checked sends
        self.cluster: str | None = None
        self.started_at = time.time()

    @property
    def store(self):
        return self.stages.deps.pipeline.store

    async def _io(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    # ---------------------------------------------------------------- start

    def _ensure_topics(self) -> str | None:
        s = self.settings
        created = ensure_topics(self.kafka_url, list(topic_names(s).values()), s.broker.partitions, settings=s)
        if created:
            log.info("created topics %s", ", ".join(created))
        return cluster_id(self.kafka_url, s)

    async def on_first_start(self) -> None:
        """Before the consumer subscribes: the topics exist, and the broker we run against is remembered."""
        self.started_at = time.time()
        self.cluster = await self._io(self._ensure_topics)
        log.info("broker cluster %s", self.cluster)

    async def after_start(self) -> None:
        """Once the worker runs: if the broker is not the one we last ran against, re-drive what it lost."""
        try:
            before = await self._io(self.store.r.get, self.store.keys.broker_cluster)
            before = before.decode() if isinstance(before, bytes) else before
            if before and self.cluster and before != self.cluster:
                log.error(
                    "the broker's cluster id changed (%s -> %s): it lost every record it held (a memory-only "
                    "broker restarted); re-publishing the windows that were in flight",
                    before,
                    self.cluster,
                )
                # windows closed before this worker started were in flight in the old broker
                if not await self.repair(closed_before=self.started_at, why="broker lost its data"):
                    return  # another worker holds the repair lock; it records the new cluster
            if self.cluster:
                await self._io(self.store.r.set, self.store.keys.broker_cluster, self.cluster)
        except Exception as exc:  # Redis down at start: the periodic repair catches up later
            log.warning("start-up repair skipped: %s", describe(exc))

    # ---------------------------------------------------------------- watch

    async def watch(self) -> None:
        if self.cluster is None:
            return
        try:
            now = await self._io(cluster_id, self.kafka_url, self.settings)
        except Exception:  # broker unreachable: Faust waits for it; a restarted one is noticed when it answers
            return
        if now and now != self.cluster:
            log.error(
                "the broker's cluster id changed (%s -> %s): a memory-only broker restarted and lost every "
                "topic, offset and record in flight. Exiting with status %d so that the supervisor "
                "restarts this worker: it recreates the topics and re-drives the lost windows.",
                self.cluster,
                now,
                EXIT_BROKER_LOST,
            )
            logging.shutdown()
            os._exit(EXIT_BROKER_LOST)

    # ---------------------------------------------------------------- repair

    async def repair(self, closed_before: float | None = None, why: str = "not indexed in time") -> bool:
        """Re-publish windows whose media is stored but which never reached the index. Returns False when
        another worker holds the repair lock."""
        w = self.settings.worker
        store = self.store
        got = await self._io(
            lambda: store.r.set(
                store.keys.repair_lock, os.getpid(), nx=True, ex=max(10, int(w.repair_interval_s) or 60)
            )
        )
        if not got:
            return False
        try:
            cutoff = time.time() - w.repair_after_s if closed_before is None else closed_before

            def indexed(recs):
                pipe = store.r.pipeline(transaction=False)
                for rec in recs:
                    pipe.exists(store.keys.live(rec.stream_id, rec.start))
                return [bool(x) for x in pipe.execute()]

            orphans = await self._io(store.blobs.orphans, indexed, cutoff, max(1, w.repair_max))
            for key, meta in orphans:
                rec = decode(meta, expect=(WindowReady,))
                rec.redrive = 1  # type: ignore[attr-defined]
                await self.stages.forward("windows", rec)
                await self._io(store.blobs.mark_redriven, key)
            if orphans:
                log.warning(
                    "re-published %d windows (%s): %s",
                    len(orphans),
                    why,
                    ", ".join(decode(m).window_id for _, m in orphans[:10])  # type: ignore[attr-defined]
                    + (" ..." if len(orphans) > 10 else ""),
                )
            return True
        finally:
            await self._io(store.r.delete, store.keys.repair_lock)


def install(app, guard: Guard) -> None:
    """The guard's tasks on a Faust app (its ``on_first_start`` is called by ``streamer.app.App``)."""
    w = guard.settings.worker
    app.task(guard.after_start)
    if w.broker_watch_s > 0:
        app.timer(w.broker_watch_s)(guard.watch)
    if w.repair_interval_s > 0:

        async def repair() -> None:
            try:
                await guard.repair()
            except Exception as exc:  # Redis or the broker down: next time
                log.warning("repair skipped: %s", describe(exc))

        app.timer(w.repair_interval_s)(repair)
