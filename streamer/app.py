"""The Faust application: ``faust -A streamer.app worker -l info``.

Values are raw bytes on every topic: records are decoded and checked by
``ampere.records`` inside the agents, so a malformed message becomes a
dead-letter record with its reason instead of a crash in Faust's codec layer.
"""
from __future__ import annotations

import faust

from ampere.services import ServiceURLs, bootstrap_servers, running_services
from ampere.settings import Settings, get_settings
from streamer.topics import topic_names


def discover_urls(settings: Settings) -> ServiceURLs:
    """KAFKA_URL/REDIS_URL, else those of a running `ampere services up`. A worker never starts its own
    services: several workers must share one broker and one Redis."""
    shared = None if (settings.kafka_url and settings.redis_url) else running_services(settings)
    kafka_url = settings.kafka_url or (shared and shared.kafka_url)
    redis_url = settings.redis_url or (shared and shared.redis_url)
    if not (kafka_url and redis_url):
        raise SystemExit("ampere worker: set KAFKA_URL and REDIS_URL, or start the embedded services first "
                         "with `ampere services up` (it prints both URLs)")
    return ServiceURLs(kafka_url=kafka_url, redis_url=redis_url)


settings = get_settings()
urls = discover_urls(settings)

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
