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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
    missing: list[str] = field(default_factory=list)  # ids of the windows never indexed

    def as_dict(self) -> dict:
        return asdict(self)


class Lab:
    """Services, catalogue and workers for fault runs. ``services``: URLs of services to share (faults that
    stop or stall a service need the lab's own: leave it None)."""

    def __init__(
        self,
        home: Path,
        dataset: Path,
        settings: Settings | None = None,
        services: ServiceURLs | None = None,
        log=print,
    ):
        run = uuid.uuid4().hex[:8]
        base = settings or Settings(summarizer="keyword")
        # the repair sweep (windows stored but never indexed, whatever lost them) runs sooner than production's
        # 120 s, so that what it catches is caught within one run's wait
        self.settings = base.model_copy(update={"home": Path(home)}).with_options(
            redis={"prefix": f"fault-{run}"},
            broker={"topic_prefix": f"fault{run}"},
            worker={"repair_after_s": 60.0, "repair_interval_s": 10.0},
        )
        self.dataset = Path(dataset)
        self.shared = services
        self._svc: EmbeddedServices | None = None
        self._urls: ServiceURLs | None = services
        self.workers: list[FaustWorker] = []
        self._store: Store | None = None
        self.log = log
        self.streams = load_jsonl(self.dataset / "live.jsonl")

    @property
    def svc(self) -> EmbeddedServices:
        if self._svc is None:
            raise RuntimeError("this fault needs services of the lab's own (Lab(services=None))")
        return self._svc

    @property
    def urls(self) -> ServiceURLs:
        assert self._urls is not None, "use the lab as a context manager"
        return self._urls

    @property
    def store(self) -> Store:
        assert self._store is not None, "use the lab as a context manager"
        return self._store

    # ---------------------------------------------------------------- lifetime

    def __enter__(self) -> Lab:
        if self._urls is None:
            self._svc = EmbeddedServices(self.settings, home=self.settings.home)
            self._urls = self._svc.start()
        ensure_topics(self.urls.kafka_url, list(topic_names(self.settings).values()), self.settings.broker.partitions)
        self._store = Store.connect(self.urls.redis_url, self.settings.redis)
        self.store.index.create()
        return self

    def __exit__(self, *exc) -> None:
        for w in self.workers:
            w.stop()
        if self._store is not None:
            self._store.r.close()
        if self._svc is not None:
            self._svc.stop()

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

    def run(
        self,
        name: str,
        fault: Callable[[Lab], float] | None = None,
        at_s: float = 0.0,
        speed: float = 1.0,
        streams: list[dict] | None = None,
        drain_timeout: float = 300.0,
        idle_timeout: float = 90.0,
    ) -> FaultResult:
        """Replay ``streams`` (default: all of the dataset's) in parallel; ``at_s`` wall seconds in, call
        ``fault(lab)``, which returns the wall time the fault ended; wait for the windows; count."""
        streams = streams if streams is not None else self.streams
        t0 = time.time()
        outcome: dict[str, ReplayStats | ReplayError] = {}

        def play(s: dict) -> None:
            try:
                outcome[s["stream_id"]] = replay(
                    str(self.dataset / s["path"]),
                    s["stream_id"],
                    self.urls.kafka_url,
                    self.settings,
                    realtime=True,
                    speed=speed,
                )
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
        w = self.settings.worker  # a window only the repair sweep can bring back takes up to this long
        self.wait_indexed(
            streams, outcome, drain_timeout, max(idle_timeout, w.repair_after_s + 2 * w.repair_interval_s)
        )
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
            return [
                DeadLetter.decode(m.value or b"")
                for m in consume(
                    self.urls.kafka_url, self.settings.topic("dead-letter"), timeout_s=3, settings=self.settings
                )
            ]
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
        replays, missing = [], []
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
                missing.append(f"{sid}:{int(round(start * 1000))}")
                reported = (
                    undelivered_from is not None and start + w.window_s > undelivered_from
                ) or f"window {sid}:{int(round(start * 1000))}" in letter_text
                lost_silently += not reported
            st = res.stats if isinstance(res, ReplayError) else res
            replays.append(
                {
                    "stream_id": sid,
                    "delivered": getattr(st, "delivered", 0),
                    "resent": getattr(st, "resent", 0),
                    "broker_changes": getattr(st, "broker_changes", 0),
                    "error": str(res) if isinstance(res, ReplayError) else None,
                }
            )
        # at most once per key by construction; anything off the grid would be a second copy
        on_grid = {self.store.keys.live(s["stream_id"], start) for s in streams for start in self.expected(s)}
        extra = sum(
            1
            for s in streams
            for k in self.store.r.scan_iter(
                match=f"{self.store.keys.item_prefix}live:{{{s['stream_id']}}}:*", count=500
            )
            if (k.decode() if isinstance(k, bytes) else k) not in on_grid
        )
        dup = sum(1 for (sid, _), n in self.tag_counts().items() if n > 1 and sid in {s["stream_id"] for s in streams})
        return FaultResult(
            name=name,
            expected=expected,
            indexed=indexed,
            lost=expected - indexed,
            lost_silently=lost_silently,
            duplicated=dup,
            dead_letters=dict(Counter(category_of(d.reason) for d in letters)),
            recovery_s=self.recovery_s(streams, fault_end, tagged_at_fault),
            replays=replays,
            worker_restarts=sum(w.restarts for w in self.workers),
            index_extra=extra,
            wall_s=round(wall_s, 1),
            missing=missing,
        )

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


# ---------------------------------------------------------------- malformed and hostile input


@dataclass
class Hostile:
    kind: str
    category: str  # the dead letter's reason must start with "<category>: "
    fragment: str  # ... and contain this
    records: list[tuple[bytes, bytes | None]]  # (key, value); the last one is the bad one, the others good
    copies: int = 1  # how many times the bad record is sent (hostile frames: to see the memory they cost)


def _jpeg(w: int, h: int, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, (w, h), 128 if mode == "L" else (90, 120, 200)).save(buf, format=fmt, quality=10)
    return buf.getvalue()


def _jpeg_claiming(w: int, h: int) -> bytes:
    """A small JPEG whose header claims w x h (a decompression bomb: a few hundred bytes, gigabytes decoded)."""
    small = bytearray(_jpeg(16, 16))
    i = small.index(b"\xff\xc0")  # SOF0: marker(2) length(2) precision(1) height(2) width(2)
    small[i + 5 : i + 7] = h.to_bytes(2, "big")
    small[i + 7 : i + 9] = w.to_bytes(2, "big")
    return bytes(small)


def _flac(seconds: float, rate: int, channels: int = 1, value: float = 0.1) -> bytes:
    import io
    from fractions import Fraction

    import av
    import numpy as np

    from ampere import media

    if channels == 1:
        return media.encode_audio(np.full(int(seconds * rate), value, np.float32), rate)
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        st = out.add_stream("flac", rate=rate)
        st.layout, st.format = "stereo", "s16"
        n = int(seconds * rate)
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 2 * n), np.int16), format="s16", layout="stereo")
        fr.sample_rate, fr.pts, fr.time_base = rate, 0, Fraction(1, rate)
        for pkt in st.encode(fr):
            out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def hostile_corpus(settings: Settings, suffix: str = "") -> list[Hostile]:
    """At least 30 kinds of malformed or hostile media-topic input, each with the reason it must be
    dead-lettered with. Stateful kinds (time jumps, late chunks, frame floods) first send good records of a
    stream of their own; those must not be dead-lettered."""
    import msgpack
    import numpy as np

    from ampere import media
    from ampere.records import SCHEMA_VERSION, AudioChunk, Keyframe, StreamEnd, WindowReady

    sr = settings.ingest.sample_rate
    good_pcm = (0.2 * np.sin(np.arange(sr) / sr * 2 * np.pi * 330)).astype(np.float32)
    good_flac = media.encode_audio(good_pcm, sr)
    good_jpeg = media.encode_jpeg(np.full((96, 96, 3), 100, np.uint8))

    def raw(**fields) -> bytes:
        return msgpack.packb({"v": SCHEMA_VERSION, **fields}, use_bin_type=True)

    def audio(sid: str, t0: float, data: bytes = good_flac, rate: int = sr, seq: int = 0, codec: str = "flac"):
        return AudioChunk(stream_id=sid, seq=seq, t0=t0, sample_rate=rate, codec=codec, data=data).encode()

    def frame(sid: str, t: float, data: bytes = good_jpeg, seq: int = 0):
        return Keyframe(stream_id=sid, seq=seq, t=t, codec="jpeg", data=data).encode()

    def one(kind, category, fragment, value, copies=1, key=b"hostile"):
        return Hostile(kind, category, fragment, [(key, value)], copies)

    def run_of(sid: str, seconds: int) -> list[tuple[bytes, bytes]]:
        return [(sid.encode(), audio(sid, float(t), seq=t)) for t in range(seconds)]

    j, lt, fj, fl = (f"h-{n}{suffix}" for n in ("jump", "late", "fjump", "flood"))

    limit = settings.broker.max_record_bytes
    out = [
        one("not-msgpack", "bad-record", "not a msgpack record", b"\x00\xffnot msgpack at all"),
        one("no-value", "bad-record", "empty message", None),
        one("msgpack-list", "bad-record", "record is a list", msgpack.packb([1, 2, 3])),
        one("msgpack-int", "bad-record", "record is a int", msgpack.packb(42)),
        one("msgpack-nesting-bomb", "bad-record", "not a msgpack record", b"\x91" * 200_000 + b"\x00"),
        one("msgpack-truncated", "bad-record", "not a msgpack record", b"\xdb\xff\xff\xff\xf0abc"),
        one(
            "unknown-version",
            "bad-record",
            "unknown schema version 7",
            msgpack.packb({"v": 7, "type": "audio", "stream_id": "h"}),
        ),
        one("no-version", "bad-record", "unknown schema version None", msgpack.packb({"type": "audio"})),
        one("unknown-type", "bad-record", "unknown record type 'video'", raw(type="video", stream_id="h")),
        one(
            "stage-record-on-media",
            "bad-record",
            "unexpected record type 'window'",
            WindowReady(stream_id="h", start=0.0, end=8.0, blob_key="k", n_frames=0, closed_at=0.0).encode(),
        ),
        one(
            "missing-field",
            "bad-record",
            "missing field 'sample_rate'",
            raw(type="audio", stream_id="h", seq=0, t0=0.0, codec="flac", data=good_flac),
        ),
        one(
            "mistyped-field",
            "bad-record",
            "field 't0': expected number",
            raw(type="audio", stream_id="h", seq=0, t0="0", sample_rate=sr, codec="flac", data=good_flac),
        ),
        one(
            "bool-as-number",
            "bad-record",
            "got bool",
            raw(type="frame", stream_id="h", seq=True, t=0.0, codec="jpeg", data=good_jpeg),
        ),
        one(
            "nan-time",
            "bad-record",
            "not a finite number",
            raw(type="audio", stream_id="h", seq=0, t0=float("nan"), sample_rate=sr, codec="flac", data=good_flac),
        ),
        one(
            "inf-time",
            "bad-record",
            "not a finite number",
            raw(type="frame", stream_id="h", seq=0, t=float("inf"), codec="jpeg", data=good_jpeg),
        ),
        one("negative-time", "bad-record", "negative t0", audio("h-neg", -5.0)),
        one("negative-frame-time", "bad-record", "negative t", frame("h-neg", -1.0)),
        one("negative-end", "bad-record", "end: t", StreamEnd(stream_id="h-neg", t=-3.0).encode()),
        one(
            "bad-stream-id",
            "bad-record",
            "bad stream_id",
            raw(type="frame", stream_id="a b{c}", seq=0, t=0.0, codec="jpeg", data=good_jpeg),
        ),
        one(
            "long-stream-id",
            "bad-record",
            "bad stream_id",
            raw(type="frame", stream_id="x" * 300, seq=0, t=0.0, codec="jpeg", data=good_jpeg),
        ),
        one("unsupported-codec", "bad-record", "unsupported codec 'opus'", audio("h-codec", 0.0, codec="opus")),
        one("oversized-record", "bad-record", "oversized record", frame("h-big", 0.0, b"\0" * (limit + 10))),
        one("garbage-flac", "bad-media", "cannot decode audio chunk", audio("h-flac", 0.0, b"fLaC" + b"\x07" * 200)),
        one("empty-audio", "bad-media", "audio chunk is empty", audio("h-flac", 0.0, b"")),
        one(
            "no-samples",
            "bad-media",
            "decodes to no samples",
            audio("h-flac", 0.0, media.encode_audio(np.zeros(0, np.float32), sr)),
        ),
        one("declared-other-rate", "bad-record", "sample rate 8000 Hz", audio("h-rate", 0.0, _flac(1, 8000), 8000)),
        one("lying-rate", "bad-media", "is 8000 Hz, expected 16000 Hz", audio("h-rate", 0.0, _flac(1, 8000))),
        one("stereo", "bad-media", "2 channels, expected mono", audio("h-stereo", 0.0, _flac(1, sr, channels=2))),
        one("silence-bomb", "media-limit", "decodes to more than", audio("h-bomb", 0.0, _flac(120, sr, value=0.0))),
        one("far-future-time", "media-limit", "past the longest stream", audio("h-future", 1e9)),
        one("garbage-jpeg", "bad-media", "cannot read the image header", frame("h-img", 0.0, b"\xff\xd8broken jpeg")),
        one("png-as-jpeg", "bad-media", "not a JPEG", frame("h-img", 0.5, _jpeg(64, 64, "PNG"))),
        one("gif-as-jpeg", "bad-media", "not a JPEG", frame("h-img", 1.0, _jpeg(64, 64, "GIF", "L"))),
        one("truncated-jpeg", "bad-media", "image", frame("h-img", 1.5, _jpeg(300, 300)[:400])),
        one("huge-frame", "media-limit", "pixels", frame("h-huge", 0.0, _jpeg(7000, 7000)), copies=3),
        one("big-frame", "media-limit", "over the limit", frame("h-huge", 0.5, _jpeg(2200, 2000)), copies=2),
        one("bomb-header-frame", "media-limit", "pixels", frame("h-huge", 1.0, _jpeg_claiming(30000, 30000)), copies=3),
    ]
    # stateful: a stream plays, then misbehaves
    out.append(
        Hostile("timestamp-jump", "media-limit", "jumps", run_of(j, 10) + [(j.encode(), audio(j, 400.0, seq=99))])
    )
    late = run_of(lt, 3) + [(lt.encode(), audio(lt, float(t), seq=t)) for t in (4, 5, 6, 7)]
    out.append(Hostile("late-chunk", "late-media", "padded with silence", late + [(lt.encode(), audio(lt, 3.0))]))
    out.append(
        Hostile(
            "frame-far-ahead",
            "media-limit",
            "ahead of the stream's audio",
            run_of(fj, 4) + [(fj.encode(), frame(fj, 900.0))],
        )
    )
    flood = run_of(fl, 2) + [
        (fl.encode(), frame(fl, 1.0 + i / 100)) for i in range(int(settings.limits.max_frames_per_s))
    ]
    out.append(
        Hostile(
            "frame-flood", "media-limit", "keyframes in media second", flood + [(fl.encode(), frame(fl, 1.5 + 0.001))]
        )
    )
    return out


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}|object at|\\x[0-9a-f]{2}")


def stable_reason(reason: str, category: str) -> bool:
    """A reason that can be grouped: its category first, one bounded line, no reprs, addresses or byte dumps."""
    from ampere.errors import scrub

    return (
        reason.startswith(category + ": ")
        and reason == scrub(reason, limit=10_000)
        and len(reason) < 400
        and not _ADDRESS.search(reason)
    )


def run_malformed(lab: Lab, speed: float = 4.0, log=print, settle_s: float = 60.0) -> dict:
    """Send the hostile corpus to an idle worker (its memory before and after is what hostile input costs),
    then replay the good streams while a second copy of the corpus is sent in between. Every kind must be
    dead-lettered with its reason, both times; no good record lost (the streams' windows, the stateful kinds'
    good records)."""
    from ampere.broker import make_producer

    worker = lab.workers[0]
    producer = make_producer(
        lab.urls.kafka_url, lab.settings, max_request_size=4 * lab.settings.broker.max_record_bytes
    )
    sent: dict[tuple[int, int], tuple[str, bool]] = {}  # (partition, offset) -> (kind, bad?)
    corpora = [hostile_corpus(lab.settings), hostile_corpus(lab.settings, suffix="-2")]

    def send(corpus: list[Hostile]) -> int:
        n = 0
        for h in corpus:
            for i, (key, value) in enumerate(h.records):
                bad = i == len(h.records) - 1
                for _ in range(h.copies if bad else 1):
                    md = producer.send(lab.settings.topic("media"), key=key, value=value).get(timeout=30)
                    sent[(md.partition, md.offset)] = (h.kind, bad)
                    n += bad
        return n

    def wait_letters(n: int) -> None:
        deadline = time.time() + settle_s
        while time.time() < deadline and len(lab.dead_letters()) < n:
            time.sleep(1)

    rss_before, hwm_before = worker.rss_mb(), worker.peak_rss_mb()
    n1 = send(corpora[0])
    wait_letters(n1)
    hwm_hostile = worker.peak_rss_mb()
    log(f"[malformed] idle worker: peak RSS {hwm_before:.0f} MB before the corpus, {hwm_hostile:.0f} MB after")

    def second() -> None:
        time.sleep(3)
        send(corpora[1])

    th = threading.Thread(target=second, daemon=True)
    th.start()
    result = lab.run("malformed", speed=speed)
    th.join(timeout=120)
    producer.close()
    wait_letters(2 * n1)
    letters = lab.dead_letters()
    by_kind: dict[str, list[str]] = {}
    good_dead = 0
    for d in letters:
        kind, bad = sent.get((d.partition, d.offset), ("?", False))
        if not bad:
            good_dead += 1
        by_kind.setdefault(kind, []).append(d.reason)
    kinds = {}
    for h in corpora[0]:
        reasons = by_kind.get(h.kind, [])
        ok = len(reasons) == 2 * h.copies and all(stable_reason(r, h.category) and h.fragment in r for r in reasons)
        kinds[h.kind] = {
            "dead_lettered": len(reasons),
            "sent": 2 * h.copies,
            "ok": ok,
            "reason": reasons[0] if reasons else None,
        }
    return {
        "kinds": len(corpora[0]),
        "dead_lettered": sum(1 for k in kinds.values() if k["ok"]),
        "good_lost": result.lost + good_dead,
        "good_windows": {"expected": result.expected, "indexed": result.indexed},
        "good_records_dead_lettered": good_dead,
        "unexplained_dead_letters": len(by_kind.get("?", [])),
        "peak_rss_mb": round(worker.peak_rss_mb(), 1),
        "idle_rss_mb": round(rss_before, 1),
        "peak_rss_before_corpus_mb": round(hwm_before, 1),
        "peak_rss_after_corpus_mb": round(hwm_hostile, 1),
        "by_kind": kinds,
    }
