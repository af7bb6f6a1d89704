"""The Faust topics of the pipeline: one per stage, so each stage scales (partitions, workers) on its own.
Values are raw bytes on every topic: records are decoded and checked by ``ampere.records`` inside the agents."""

from __future__ import annotations

from ampere.broker import STAGES, topic_names
from ampere.settings import Settings

__all__ = ["STAGES", "declare", "topic_names"]


def declare(app, settings: Settings) -> dict:
    return {
        stage: app.topic(
            name,
            partitions=settings.broker.partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        for stage, name in topic_names(settings).items()
    }
