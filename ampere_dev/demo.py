"""The main job on the embedded default: catalog in, live streams through a real Faust worker, tags out.

Everything runs as a user would run it: services on loopback (or KAFKA_URL/REDIS_URL),
``ampere catalog add``-equivalent indexing, a ``faust -A streamer.app worker``
child process, replays of generated streams into Kafka, and a consumer of the
tags topic. Whatever it started is stopped on exit, Ctrl-C included.
"""

from __future__ import annotations

import signal
import threading
import time

from ampere.broker import consume, ensure_topics, topic_names
from ampere.catalog import add_pages, add_videos
from ampere.models import Models
from ampere.records import BadRecord, decode_tag_json
from ampere.replay import ReplayError, replay
from ampere.search import Search
from ampere.settings import Settings
from ampere.store import Store
from ampere.urls import redact, running_services
from ampere_dev.derive import ensure_ready
from ampere_dev.services import free_port, resolve_services
from ampere_dev.worker import FaustWorker
from ampere_synth.truth import expected_windows, load_jsonl, score_tags


class TagCollector(threading.Thread):
    """Reads the tags topic from the beginning and prints each tag as it arrives."""

    def __init__(self, kafka_url: str, topic: str, products: dict[str, dict], echo: bool = True):
        super().__init__(daemon=True)
        self.kafka_url, self.topic, self.products, self.echo = kafka_url, topic, products, echo
        self.tags: list[dict] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        for msg in consume(self.kafka_url, self.topic, timeout_s=None, max_records=None, stop=self.stop_event):
            try:
                t = decode_tag_json(msg.value)
            except BadRecord:  # e.g. a msgpack tag left by an older worker in a shared topic
                continue
            self.tags.append(
                {
                    "stream_id": t.stream_id,
                    "start": t.start,
                    "end": t.end,
                    "product_id": t.product_id,
                    "score": t.score,
                    "e2e_ms": t.e2e_ms,
                    "correction": int(t.correction),
                }
            )
            if self.echo:
                title = self.products.get(t.product_id, {}).get("title", "") if t.product_id else "(no product on air)"
                print(
                    f"  [{'fix' if t.correction else 'tag'}] {t.stream_id} {t.start:6.1f}-{t.end:6.1f}s  "
                    f"{t.product_id or '-':8} score={t.score:.3f} conf={t.confidence:.2f}  "
                    f"e2e={t.e2e_ms:5.0f} ms  {title[:48]}",
                    flush=True,
                )

    def stop(self) -> None:
        self.stop_event.set()


def wait_for_tags(collector: TagCollector, expected: int, idle_timeout: float, hard_timeout: float) -> None:
    last_n, last_change, t0 = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < hard_timeout:
        n = len({(t["stream_id"], t["start"]) for t in collector.tags})
        if n >= expected:
            return
        if n != last_n:
            last_n, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > idle_timeout:
            return
        time.sleep(0.5)


def _interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM both unwind through the context managers, which stop the worker and the services
    (also when we were started with SIGINT ignored, as background jobs of a non-interactive shell are)."""

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, raise_interrupt)
    signal.signal(signal.SIGTERM, raise_interrupt)


def _join(threads: list[threading.Thread]) -> None:
    for th in threads:
        while th.is_alive():
            th.join(timeout=0.5)  # a bounded join lets a signal through promptly


def _start_api(settings: Settings, redis_url: str, models: Models):
    """The web page and search API on a thread (settings.api.port when free, else any free port)."""
    from ampere.urls import port_open
    from ampere_dev.apiserver import ApiServer
    from ampere_dev.services import free_port

    port = settings.api.port if settings.api.port and not port_open("127.0.0.1", settings.api.port) else free_port()
    api = ApiServer(settings, redis_url, host="127.0.0.1", port=port, models=models).start()
    print(f"web page: {api.url}/  (live tags as they happen, search; API docs at {api.url}/docs)", flush=True)
    return api


def _serve_until_interrupted(api) -> None:
    print(f"\nthe web page stays up at {api.url}/ until Ctrl-C", flush=True)
    while True:
        time.sleep(1)


def run_demo(
    settings: Settings, preset: str = "demo", fast: bool = False, streams: int | None = None, keep_serving: bool = False
) -> int:
    _interrupt_on_signals()
    dataset = ensure_ready(settings, preset=preset, progress=print)
    live = load_jsonl(dataset / "live.jsonl")[:streams]
    pages = {row["product_id"]: row for row in load_jsonl(dataset / "catalog.jsonl")}

    # With no KAFKA_URL/REDIS_URL and no `ampere services up`, the demo runs its own services with a data dir
    # of its own, emptied first: results of earlier runs would otherwise show up in its searches.
    private = not (settings.kafka_url or settings.redis_url) and running_services(settings) is None
    svc_settings = settings.model_copy(update={"home": settings.home / "demo"}) if private else settings
    with resolve_services(svc_settings) as urls:
        print(f"KAFKA_URL={redact(urls.kafka_url)}\nREDIS_URL={redact(urls.redis_url)}")
        ensure_topics(urls.kafka_url, list(topic_names(settings).values()), settings.broker.partitions)
        store = Store.connect(urls.redis_url, settings.redis)
        if private:
            store.r.flushdb()
        store.index.create()

        models = Models(settings)
        t = time.perf_counter()
        rep = add_pages(store, dataset / "catalog.jsonl", models)
        print(f"catalog: {rep.added} product pages indexed in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        rep = add_videos(store, dataset / "videos.jsonl", models)
        print(f"videos: {rep.added} short videos indexed in {time.perf_counter() - t:.1f} s")

        api = _start_api(settings, urls.redis_url, models)
        # readiness from the worker's /readyz (models loaded, partitions assigned) on a port of its own
        with FaustWorker(
            urls, settings, log_path=settings.home / "logs" / "demo-worker.log", metrics_port=free_port()
        ) as worker:
            worker.wait_ready(timeout=180)
            print(
                f"faust worker ready (pid {worker.pid}); replaying {len(live)} live streams "
                f"{'as fast as possible' if fast else 'at real-time pace'}"
            )
            collector = TagCollector(urls.kafka_url, settings.topic("tags"), pages)
            collector.start()
            stop = threading.Event()

            def play(*args, **kw) -> None:
                try:
                    replay(*args, **kw)
                except ReplayError as exc:  # said, not hidden: those windows will be missing
                    print(f"  [replay] error: {exc}", flush=True)

            threads = [
                threading.Thread(
                    target=play,
                    daemon=True,
                    args=(str(dataset / s["path"]), s["stream_id"], urls.kafka_url, settings),
                    kwargs={"realtime": not fast, "stop": stop},
                )
                for s in live
            ]
            for th in threads:
                th.start()
            try:
                _join(threads)
            except BaseException:
                stop.set()  # on Ctrl-C: let the replays close their producers before the broker goes
                collector.stop()
                for th in threads:
                    th.join(timeout=10)
                raise
            expected = sum(
                expected_windows(s["duration"], settings.windows.window_s, settings.windows.hop_s) for s in live
            )
            wait_for_tags(collector, expected, idle_timeout=60, hard_timeout=600)
            collector.stop()

        score = score_tags(collector.tags, {s["stream_id"]: s["segments"] for s in live})
        lat = sorted(t["e2e_ms"] for t in collector.tags)
        print(
            f"\nlive tag accuracy (top-1 vs truth): {score.correct}/{score.windows} = {score.top1:.2%}"
            f" over {len({(t['stream_id'], t['start']) for t in collector.tags})} tagged windows"
            + (f"; e2e latency p50 {lat[len(lat) // 2]:.0f} ms" if lat else "")
        )

        search = Search(store, models)
        print("\nsearch examples")
        example = next(iter(pages.values()))
        query = " ".join(example["title"].split()[:3])
        print(f"  text {query!r}:")
        for h in search.by_text(query, k=3):
            print(
                f"    {h['domain']:5} {h['id']:28} product={h['product_id'] or h.get('tag_product', '')} "
                f"score={h['score']:.3f}"
            )
        on_air_first = [seg["product_id"] for seg in (live[0]["segments"] if live else []) if seg.get("product_id")]
        pid = on_air_first[0] if on_air_first else example["product_id"]
        seen = search.by_product(pid)
        spans = ", ".join(f"{w['stream_id']}@{w['start']:.0f}s" for w in seen["live_before"][:8])
        print(
            f"  product {pid} ({pages.get(pid, {}).get('title', '')}): live now in "
            f"{[w['stream_id'] for w in seen['live_now']] or 'no stream'}; tagged before in {spans or 'none'}"
            f"{' ...' if len(seen['live_before']) > 8 else ''}; short videos {[v['id'] for v in seen['videos']]}"
        )
        if live:
            now = search.by_stream(live[0]["stream_id"])["now"] or {}
            state = "ended; its last product was" if now.get("ended") else "sells now:"
            print(
                f"  stream {live[0]['stream_id']} {state} {now.get('product_id')} "
                f"({pages.get(now.get('product_id'), {}).get('title', '')}), window {now.get('start', 0):.0f}-"
                f"{now.get('end', 0):.0f}s, score {now.get('score', 0):.3f}"
            )
        try:
            if keep_serving:
                _serve_until_interrupted(api)
        finally:
            api.stop()
    return 0
