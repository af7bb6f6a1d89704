"""Follow AMPere Live's product tags with confluent-kafka (librdkafka): one JSON object per tagged window.

    pip install confluent-kafka
    python tags_confluent_kafka.py 127.0.0.1:9092 ampere.tags

Messages are UTF-8 JSON, schema ampere/schemas/tag.v1.json (the dead-letter topic works the same way with
dead-letter.v1.json). Read "v" first and skip versions you do not know; ignore fields you do not know.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException


def follow(
    bootstrap: str,
    topic: str = "ampere.tags",
    group: str = "my-shop-frontend",
    on_message: Callable[[dict], None] = print,
    idle_s: float | None = None,
    config: dict | None = None,
) -> int:
    """Call ``on_message`` with every JSON message of ``topic`` (from the group's committed offset, else the
    beginning); stop after ``idle_s`` seconds without one (None: never). Returns how many were read."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            **(config or {}),
        }
    )
    consumer.subscribe([topic])
    n, last = 0, time.monotonic()
    try:
        while idle_s is None or time.monotonic() - last < idle_s:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            last = time.monotonic()
            record = json.loads(msg.value().decode("utf-8"))
            if record.get("v") != 1:  # a newer schema version: not for this reader
                continue
            on_message(record)
            n += 1
    finally:
        consumer.close()  # commits and leaves the group
    return n


def show(tag: dict) -> None:
    print(
        f"{tag['stream_id']} [{tag['start']:.0f}-{tag['end']:.0f} s] {tag['product_id'] or 'no product'} "
        f"score {tag['score']:.2f} ({tag['e2e_ms']:.0f} ms after the window closed)"
    )


if __name__ == "__main__":
    follow(
        sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092",
        sys.argv[2] if len(sys.argv) > 2 else "ampere.tags",
        on_message=show,
    )
