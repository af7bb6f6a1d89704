"""Fault scenarios on the embedded services with real workers: what tests/integration/test_faults.py asserts and
bench/faults.py measures.

A :class:`Lab` owns a set of embedded services (so that it may stop, stall and restart them), indexes the tiny
dataset's catalogue, runs real ``faust -A streamer.app worker`` processes and replays the dataset's live streams
at (a multiple of) real-time pace. :meth:`Lab.run` injects one fault while the streams play and then counts,
from Redis and the worker logs, what became of every window on the streams' grid:

    expected       windows the streams have (ampere.grid)
    indexed        of those, live items in the index (deterministic keys: at most once each)
    lost           expected - indexed
    lost_silently  lost windows that no replay reported undelivered and no dead letter names
    duplicated     windows tagged more than once (at-least-once re-processing; effects overwrite)
    dead_letters   by reason category
    recovery_s     from the end of the fault to the first tag of a new window, slowest stream

Everything listens on 127.0.0.1; every wait is bounded.
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ampere.broker import consume, ensure_topics, topic_names
from ampere.errors import category_of
from ampere.grid import grid
from ampere.records import DeadLetter
from ampere.replay import ReplayError, ReplayStats, replay
from ampere.settings import Settings
from ampere.store import Store
from ampere.urls import ServiceURLs
from ampere_dev.services import EmbeddedServices
from ampere_dev.worker import FaustWorker
from ampere_synth.truth import load_jsonl

_TAG_LINE = re.compile(r"\btag (\S+) \[(\d+)-(\d+)s\] -> ")


@dataclass
class FaultResult:
    name: str
    expected: int
    indexed: int
    lost: int
    lost_silently: int
    duplicated: int
    dead_letters: dict[str, int]
    recovery_s: float | None
    replays: list[dict] = field(default_factory=list)  # per stream: delivered, resent, error
    worker_restarts: int = 0
    index_extra: int = 0  # live items off the streams' grid (must be 0: keys are deterministic)
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class Lab:
    """Services, catalogue and workers for fault runs. ``services``: URLs of services to share (faults that
    stop or stall a service need the lab's own: leave it None)."""

    def __init__(self, home: Path, dataset: Path, settings: Settings | None = None,
                 services: ServiceURLs | None = None, log=print):
        run = uuid.uuid4().hex[:8]
        base = settings or Settings(summarizer="keyword")
        self.settings = base.model_copy(update={"home": Path(home)}).with_options(
            redis={"prefix": f"fault-{run}"}, broker={"topic_prefix": f"fault{run}"})
        self.dataset = Path(dataset)
        self.shared = services
        self.svc: EmbeddedServices | None = None
        self.urls: ServiceURLs | None = services
        self.workers: list[FaustWorker] = []
        self.store: Store | None = None
        self.log = log
        self.streams = load_jsonl(self.dataset / "live.jsonl")

    # ---------------------------------------------------------------- lifetime

    def __enter__(self) -> "Lab":
        if self.urls is None:
            self.svc = EmbeddedServices(self.settings, home=self.settings.home)
            self.urls = self.svc.start()
        ensure_topics(self.urls.kafka_url, list(topic_names(self.settings).values()), self.settings.broker.partitions)
        self.store = Store.connect(self.urls.redis_url, self.settings.redis)
        self.store.index.create()
        return self

    def __exit__(self, *exc) -> None:
        for w in self.workers:
            w.stop()
        if self.store is not None:
            self.store.r.close()
        if self.svc is not None:
            self.svc.stop()

    def index_catalog(self, models=None) -> int:
        from ampere.catalog import add_pages
        from ampere.models import Models

        return add_pages(self.store, self.dataset / "catalog.jsonl", models or Models(self.settings)).added

    def start_workers(self, n: int = 1, restart: bool = False, timeout: float = 240) -> list[FaustWorker]:
        for _ in range(n):
            i = len(self.workers)
            w = FaustWorker(self.urls, self.settings, self.settings.home / f"worker{i}.log", restart=restart)
            self.workers.append(w.start())
        for w in self.workers[-n:]:
            w.wait_ready(timeout)
        return self.workers[-n:]

    # ---------------------------------------------------------------- one run

    def run(self, name: str, fault: Callable[["Lab"], float] | None = None, at_s: float = 0.0,
            speed: float = 1.0, streams: list[dict] | None = None, drain_timeout: float = 300.0,
            idle_timeout: float = 90.0) -> FaultResult:
        """Replay ``streams`` (default: all of the dataset's) in parallel; ``at_s`` wall seconds in, call
        ``fault(lab)``, which returns the wall time the fault ended; wait for the windows; count."""
        streams = streams if streams is not None else self.streams
        t0 = time.time()
        outcome: dict[str, ReplayStats | ReplayError] = {}

        def play(s: dict) -> None:
            try:
                outcome[s["stream_id"]] = replay(str(self.dataset / s["path"]), s["stream_id"], self.urls.kafka_url,
                                                 self.settings, realtime=True, speed=speed)
            except ReplayError as exc:
                outcome[s["stream_id"]] = exc
            except Exception as exc:  # the source or the broker before the first record: reported as a loss
                outcome[s["stream_id"]] = ReplayError(str(exc), ReplayStats(s["stream_id"], first_undelivered=0.0))

        threads = [threading.Thread(target=play, args=(s,), daemon=True) for s in streams]
        for th in threads:
            th.start()
        fault_end = t0
        tagged_at_fault: dict[str, set] = {}
        if fault is not None:
            time.sleep(max(0.0, t0 + at_s - time.time()))
            tagged_at_fault = {s["stream_id"]: self._tagged(s["stream_id"]) for s in streams}
            self.log(f"[{name}] fault at {time.time() - t0:.1f} s")
            fault_end = fault(self)
            self.log(f"[{name}] fault over at {fault_end - t0:.1f} s")
        for th in threads:
            th.join(timeout=3600)
        self.wait_indexed(streams, outcome, drain_timeout, idle_timeout)
        return self.count(name, streams, outcome, fault_end, tagged_at_fault, time.time() - t0)

    def expected(self, stream: dict) -> list[float]:
        w = self.settings.windows
        return [start for start, _ in grid(stream["duration"], w.window_s, w.hop_s)]

    def _indexed(self, stream: dict) -> list[float]:
        pipe = self.store.r.pipeline(transaction=False)
        starts = self.expected(stream)
        for start in starts:
            pipe.exists(self.store.keys.live(stream["stream_id"], start))
        return [s for s, ok in zip(starts, pipe.execute()) if ok]

    def _tagged(self, stream_id: str) -> set:
        return {round(e["start"], 3) for e in self.store.streams.history(stream_id)}

    def wait_indexed(self, streams, outcome, timeout: float, idle: float) -> None:
        want = sum(len(self.expected(s)) for s in streams)
        deadline, last, last_change = time.time() + timeout, -1, time.time()
        while time.time() < deadline:
            try:
                n = sum(len(self._indexed(s)) for s in streams)
            except Exception:  # Redis still coming back
                n = last
            if n >= want:
                return
            if n != last:
                last, last_change = n, time.time()
            elif time.time() - last_change > idle:
                return
            time.sleep(1.0)

    def dead_letters(self) -> list[DeadLetter]:
        try:
            return [DeadLetter.decode(m.value) for m in consume(self.urls.kafka_url, self.settings.topic("dead-letter"),
                                                                 timeout_s=3, settings=self.settings)]
        except ValueError:  # no dead-letter topic (a broker that restarted before any was written)
            return []

    def tag_counts(self) -> Counter:
        """(stream, window start) -> how many times a worker tagged it (its log lines)."""
        c: Counter = Counter()
        for w in self.workers:
            for m in _TAG_LINE.finditer(w.log_text()):
                c[(m.group(1), int(m.group(2)))] += 1
        return c

    def count(self, name, streams, outcome, fault_end, tagged_at_fault, wall_s) -> FaultResult:
        letters = self.dead_letters()
        letter_text = "\n".join(d.reason for d in letters)
        expected = indexed = lost_silently = 0
        replays = []
        for s in streams:
            sid = s["stream_id"]
            starts = self.expected(s)
            got = set(self._indexed(s))
            expected += len(starts)
            indexed += len(got)
            res = outcome.get(sid)
            undelivered_from = None
            if isinstance(res, ReplayError):
                undelivered_from = res.stats.first_undelivered if res.stats.first_undelivered is not None else 0.0
            w = self.settings.windows
            for start in starts:
                if start in got:
                    continue
                reported = (undelivered_from is not None and start + w.window_s > undelivered_from) or \
                    f"window {sid}:{int(round(start * 1000))}" in letter_text
                lost_silently += not reported
            st = res.stats if isinstance(res, ReplayError) else res
            replays.append({"stream_id": sid, "delivered": getattr(st, "delivered", 0),
                            "resent": getattr(st, "resent", 0), "broker_changes": getattr(st, "broker_changes", 0),
                            "error": str(res) if isinstance(res, ReplayError) else None})
        # at most once per key by construction; anything off the grid would be a second copy
        on_grid = {self.store.keys.live(s["stream_id"], start) for s in streams for start in self.expected(s)}
        extra = sum(1 for s in streams for k in self.store.r.scan_iter(
            match=f"{self.store.keys.item_prefix}live:{{{s['stream_id']}}}:*", count=500)
            if (k.decode() if isinstance(k, bytes) else k) not in on_grid)
        dup = sum(1 for (sid, _), n in self.tag_counts().items() if n > 1 and sid in {s["stream_id"] for s in streams})
        return FaultResult(
            name=name, expected=expected, indexed=indexed, lost=expected - indexed, lost_silently=lost_silently,
            duplicated=dup, dead_letters=dict(Counter(category_of(d.reason) for d in letters)),
            recovery_s=self.recovery_s(streams, fault_end, tagged_at_fault), replays=replays,
            worker_restarts=sum(w.restarts for w in self.workers), index_extra=extra, wall_s=round(wall_s, 1))

    def recovery_s(self, streams, fault_end: float, tagged_at_fault: dict) -> float | None:
        """Slowest stream's wait, from the end of the fault, for the tag of a window it had not tagged yet."""
        if not tagged_at_fault:
            return None
        worst = 0.0
        for s in streams:
            sid = s["stream_id"]
            before = tagged_at_fault.get(sid, set())
            if len(before) >= len(self.expected(s)):
                continue  # the stream was done before the fault
            after = [e["ts"] for e in self.store.streams.history(sid) if round(e["start"], 3) not in before]
            if not after:
                return None
            worst = max(worst, min(after) - fault_end)
        return round(max(0.0, worst), 1)


# ---------------------------------------------------------------- the faults

def kill9_worker(lab: Lab) -> float:
    lab.workers[0].kill()
    return time.time()


def worker_restart(lab: Lab) -> float:
    w = lab.workers[0]
    w.stop()
    t = time.time()
    w.start()
    return t


def redis_down(seconds: float) -> Callable[[Lab], float]:
    def fault(lab: Lab) -> float:
        lab.svc.stop_service("redis")  # SIGTERM: the AOF is flushed, as on a clean shutdown
        time.sleep(seconds)
        lab.svc.start_service("redis")  # same port, data and password; the AOF replays
        return time.time()
    return fault


def redis_stall(seconds: float) -> Callable[[Lab], float]:
    def fault(lab: Lab) -> float:
        lab.svc.pause_service("redis")  # SIGSTOP: connections stay open, nothing answers
        time.sleep(seconds)
        lab.svc.resume_service("redis")
        return time.time()
    return fault


def broker_restart(down_s: float = 2.0) -> Callable[[Lab], float]:
    def fault(lab: Lab) -> float:
        lab.svc.stop_service("kafka")  # Tansu keeps everything in memory: it comes back empty
        time.sleep(down_s)
        lab.svc.start_service("kafka")
        return time.time()
    return fault
