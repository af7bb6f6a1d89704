"""Prometheus metrics and health of a worker, on ``settings.worker.metrics_port`` (0: off; loopback by default).

    GET /metrics   Prometheus text format
    GET /healthz   200 while the process runs
    GET /readyz    200 once the models are loaded and the consumer has its partitions, else 503 (JSON either way)

Metrics (all prefixed ``ampere_``): ``stage_seconds{stage}`` (histogram: a stage's call as the agent waits for it,
pool queueing included), ``records_sent_total{topic}`` (by stage topic), ``windows_in_total`` (live windows
closed at ingest), ``windows_out_total`` (windows tagged), ``dead_letters_total{category}`` (the reason as one of
``ampere.records.REASON_CATEGORIES``; never the free text), ``e2e_seconds`` (window closed -> tag published),
``model_load_seconds{model}``, ``models_loaded``, ``assigned_partitions``; plus the process collectors.

Consumer lag is not exported: the embedded broker (Tansu) answers end-offset requests wrongly (the start of the
last batch + 1, ../shared/research/offline-stack.md), so lag computed from it would be wrong; against Apache
Kafka, use the broker-side exporters (consumer group ``ampere-live-<topic_prefix>``).

The agents are instrumented from outside (:func:`instrument` wraps ``Stages.run_in``, ``Stages.send``), so
``streamer.agents`` stays as it is.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ampere.broker import STAGES
from ampere.records import REASON_CATEGORIES, reason_category

log = logging.getLogger("ampere.metrics")

# Stages' pipeline calls by function name -> a bounded label
STAGE_LABELS = {
    "_ingest": "ingest",
    "store_window": "store_window",
    "transcribe": "transcribe",
    "summarize": "summarize",
    "embed_and_index": "embed",
    "tag": "tag",
}
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class WorkerMetrics:
    """The worker's metrics in a registry of their own (several in one test process do not collide)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = r = registry or CollectorRegistry()
        for c in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            try:
                r.register(c)
            except ValueError:  # already there
                pass
        self.stage_seconds = Histogram(
            "ampere_stage_seconds",
            "Time of one pipeline stage call, as the agent waits for it (pool queueing included)",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.records_sent = Counter("ampere_records_sent_total", "Records sent, by stage topic", ["topic"], registry=r)
        self.windows_in = Counter("ampere_windows_in_total", "Live windows closed at ingest", registry=r)
        self.windows_out = Counter("ampere_windows_out_total", "Live windows tagged (tags published)", registry=r)
        self.dead_letters = Counter(
            "ampere_dead_letters_total",
            "Records sent to the dead-letter topic, by reason category",
            ["category"],
            registry=r,
        )
        self.e2e_seconds = Histogram(
            "ampere_e2e_seconds", "Window closed -> tag published", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.model_load_seconds = Gauge(
            "ampere_model_load_seconds", "Seconds each model took to load", ["model"], registry=r
        )
        self.models_loaded = Gauge("ampere_models_loaded", "1 once every model is loaded", registry=r)
        self.assigned_partitions = Gauge("ampere_assigned_partitions", "Partitions assigned to this worker", registry=r)
        for category in REASON_CATEGORIES:
            self.dead_letters.labels(category)  # every category shows, at 0, before the first dead letter
        self.assigned = False  # a rebalance has given this worker its partitions (possibly none)
        self.n_assigned = 0
        self.stages: Any = None

    # -- readiness

    def ready(self) -> tuple[bool, dict]:
        load = getattr(self.stages, "model_load_s", None)
        state = {
            "models_loaded": load is not None,
            "consumer_assigned": self.assigned,
            "assigned_partitions": self.n_assigned,
        }
        if load is not None:
            self.models_loaded.set(1)
            for name, s in load.items():
                self.model_load_seconds.labels(name).set(s)
        return bool(load is not None and self.assigned), state

    def on_assigned(self, assigned) -> None:
        self.assigned = True
        self.n_assigned = len(assigned or ())
        self.assigned_partitions.set(self.n_assigned)

    # -- what the agents do

    def sent(self, stage: str, value: bytes | None) -> None:
        self.records_sent.labels(stage if stage in STAGES else "other").inc()
        if stage == "windows":
            self.windows_in.inc()
        elif stage == "tags":
            self.windows_out.inc()
            try:
                self.e2e_seconds.observe(max(0.0, float(json.loads(value or b"{}")["e2e_ms"]) / 1000))
            except (ValueError, KeyError, TypeError):
                pass
        elif stage == "dead-letter":
            try:
                category = json.loads(value or b"{}").get("category") or "other"
            except ValueError:
                category = "other"
            self.dead_letters.labels(category if category in REASON_CATEGORIES else reason_category(category)).inc()

    def render(self) -> bytes:
        self.ready()  # refreshes the model gauges
        return generate_latest(self.registry)


def instrument(stages, metrics: WorkerMetrics) -> WorkerMetrics:
    """Time every stage call and count what is sent, by wrapping the ``Stages`` instance's methods."""
    metrics.stages = stages
    run_in, send = stages.run_in, stages.send

    async def timed_run_in(pool: str, fn, *args):
        t = time.perf_counter()
        try:
            return await run_in(pool, fn, *args)
        finally:
            label = STAGE_LABELS.get(getattr(fn, "__name__", ""), "other")
            metrics.stage_seconds.labels(label).observe(time.perf_counter() - t)

    async def counted_send(stage: str, key: bytes | None, value: bytes):
        out = await send(stage, key, value)
        metrics.sent(stage, value)
        return out

    stages.run_in = timed_run_in
    stages.send = counted_send
    return metrics


class _Handler(BaseHTTPRequestHandler):
    metrics: WorkerMetrics

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(200, self.metrics.render(), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._reply(200, b'{"status":"ok"}', "application/json")
        elif path == "/readyz":
            ok, state = self.metrics.ready()
            self._reply(200 if ok else 503, json.dumps({"ready": ok, **state}).encode(), "application/json")
        else:
            self._reply(404, b'{"detail":"not found"}', "application/json")

    def _reply(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # scrapes every few seconds: keep them out of the worker log
        pass


class HealthServer:
    """/metrics, /healthz and /readyz on a daemon thread (the event loop is never blocked by a scrape)."""

    def __init__(self, metrics: WorkerMetrics, host: str, port: int):
        self.metrics, self.host, self.port = metrics, host, port
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> HealthServer:
        handler = type("Handler", (_Handler,), {"metrics": self.metrics})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="ampere-metrics", daemon=True).start()
        log.info("metrics and health on http://%s:%d/metrics (/healthz, /readyz)", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def setup(app, stages, opts) -> WorkerMetrics | None:
    """Instrument the agents and serve the metrics once the worker starts, when ``opts.metrics_port`` is set
    (``settings.worker``); returns the metrics, or None when off."""
    if not opts.metrics_port:
        return None
    metrics = instrument(stages, WorkerMetrics())

    @app.on_partitions_assigned.connect
    async def _assigned(sender, assigned, **kwargs) -> None:  # Faust's signal
        metrics.on_assigned(assigned)

    @app.task
    async def _serve_metrics() -> None:
        try:
            HealthServer(metrics, opts.metrics_host, opts.metrics_port).start()
        except OSError as exc:  # the pipeline works without: say so loudly, do not stop the worker
            log.error("cannot serve metrics on %s:%d: %s", opts.metrics_host, opts.metrics_port, exc)

    return metrics
