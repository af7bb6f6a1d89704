"""The Faust application: ``faust -A streamer.app worker -l info``.

Values are raw bytes on every topic: records are decoded and checked by ``ampere.records`` inside the agents, so
a malformed message becomes a dead-letter record with its reason instead of a crash in Faust's codec layer.
Importing this module reads the settings and finds the services (``KAFKA_URL``/``REDIS_URL`` or a running
``ampere services up``); the Redis client, the models and the thread pools are built by the worker later.
TLS and SASL come from the URL and ``settings.broker`` (``ampere.broker.faust_broker``); on start the worker
creates its topics and watches the broker (``streamer.guard``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import faust

from ampere.broker import faust_broker
from ampere.settings import Settings, get_settings
from ampere.urls import ServicesNotFound, ServiceURLs, discover_urls, redact
from streamer import agents, guard, metrics, topics


class App(faust.App):
    guard: guard.Guard | None = None

    async def on_first_start(self) -> None:
        await super().on_first_start()
        if self.guard is not None:  # before the consumer subscribes: the topics must exist
            await self.guard.on_first_start()


def _datadir(settings: Settings) -> Path:
    # Faust creates a data folder on start even with in-memory tables; keep it out of the (read-only) checkout
    return (
        Path(settings.worker.datadir)
        if settings.worker.datadir
        else Path(tempfile.gettempdir()) / f"ampere-faust-{os.getuid()}"
    )


def make_app(settings: Settings, urls: ServiceURLs) -> App:
    b, w = settings.broker, settings.worker
    try:
        brokers, credentials = faust_broker(urls.kafka_url, settings)
    except ValueError as exc:  # a clear line, never the URL's credentials
        raise SystemExit(f"ampere worker: KAFKA_URL {redact(urls.kafka_url)}: {exc}") from None
    app = App(
        # one consumer group per topic prefix: two deployments on one cluster must not rebalance each other
        f"ampere-live-{b.topic_prefix}",
        broker=brokers,
        broker_credentials=credentials,
        store="memory://",  # no tables: state is rebuildable and kept out of Faust recovery (field-notes)
        datadir=str(_datadir(settings)),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=b.partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",  # exactly-once effects come from deterministic Redis keys
        broker_session_timeout=b.session_timeout_s,
        broker_heartbeat_interval=max(1.0, b.session_timeout_s / 3),
        broker_max_poll_records=b.max_poll_records,
        producer_max_request_size=b.max_record_bytes,
        consumer_max_fetch_size=max(b.max_record_bytes * 2, 1 << 20),
        web_enabled=w.web_port > 0,
        web_port=w.web_port or 6066,
        web_bind=w.web_host,
        web_host=w.web_host,
        autodiscover=False,
    )
    # `faust worker` turns the web server on unless told --without-web, on every interface; ours stays off
    # unless a port is configured, and then listens on worker.web_host (loopback by default)
    app.boot_strategy.enable_web = w.web_port > 0
    return app


settings = get_settings()
try:
    urls = discover_urls(settings)
except ServicesNotFound as exc:  # a clear line for the faust CLI, not a traceback
    raise SystemExit(str(exc)) from None
app = make_app(settings, urls)
TOPICS = topics.declare(app, settings)
stages = agents.register(
    app,
    TOPICS,
    lambda: agents.Deps.build(settings, urls.redis_url),
    concurrency={"transcribe": settings.worker.transcribe_concurrency},
)
app.guard = guard.Guard(settings, urls.kafka_url, stages)
guard.install(app, app.guard)
worker_metrics = metrics.setup(app, stages, settings.worker)  # /metrics, /healthz, /readyz when metrics_port is set
