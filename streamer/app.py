"""The Faust application: ``faust -A streamer.app worker -l info``.

Values are raw bytes on every topic: records are decoded and checked by
``ampere.records`` inside the agents, so a malformed message becomes a
dead-letter record with its reason instead of a crash in Faust's codec layer.
"""
from __future__ import annotations

import faust

from ampere.urls import ServicesNotFound, bootstrap_servers, discover_urls
from ampere.settings import get_settings
from streamer.topics import topic_names

settings = get_settings()
try:
    urls = discover_urls(settings)
except ServicesNotFound as exc:  # a clear line for the faust CLI, not a traceback
    raise SystemExit(str(exc)) from None

app = faust.App(
    "ampere-live",
    broker=[f"kafka://{hp}" for hp in bootstrap_servers(urls.kafka_url).split(",")],
    store="memory://",  # no tables: state is rebuildable and kept out of Faust recovery (see field-notes)
    key_serializer="raw",
    value_serializer="raw",
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=1,
    processing_guarantee="at_least_once",  # exactly-once effects come from deterministic Redis keys
    broker_session_timeout=settings.broker_session_timeout,
    broker_heartbeat_interval=max(1.0, settings.broker_session_timeout / 3),
    broker_max_poll_records=settings.broker_max_poll_records,
    producer_max_request_size=settings.max_record_bytes,
    consumer_max_fetch_size=max(settings.max_record_bytes * 2, 1 << 20),
    web_enabled=settings.worker_web_port > 0,
    web_port=max(settings.worker_web_port, 1),
    autodiscover=False,
)

TOPICS = {
    stage: app.topic(name, partitions=settings.topic_partitions, key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")
    for stage, name in topic_names(settings).items()
}

# agents register themselves on import
from streamer import agents  # noqa: E402,F401
