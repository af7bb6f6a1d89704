"""Follow AMPere Live's product tags with kafka-python: one JSON object per tagged window.

    pip install kafka-python
    python tags_kafka_python.py 127.0.0.1:9092 ampere.tags

Messages are UTF-8 JSON, schema ampere/schemas/tag.v1.json. Read "v" first and skip versions you do not know;
ignore fields you do not know.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from kafka import KafkaConsumer


def follow(
    bootstrap: str,
    topic: str = "ampere.tags",
    group: str = "my-shop-frontend",
    on_message: Callable[[dict], None] = print,
    idle_s: float | None = None,
    **config,
) -> int:
    """Call ``on_message`` with every JSON message of ``topic`` (from the group's committed offset, else the
    beginning); stop after ``idle_s`` seconds without one (None: never). Returns how many were read."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        consumer_timeout_ms=int(idle_s * 1000) if idle_s is not None else float("inf"),
        **config,
    )
    n = 0
    try:
        for msg in consumer:  # ends after idle_s without a message
            record = json.loads(msg.value.decode("utf-8"))
            if record.get("v") != 1:  # a newer schema version: not for this reader
                continue
            on_message(record)
            n += 1
    finally:
        consumer.close()
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
