"""One topic per stage, so each stage scales (partitions, workers) on its own."""
from __future__ import annotations

from ampere.settings import Settings

STAGES = ("media", "windows", "transcripts", "summaries", "embeddings", "tags", "dead-letter")


def topic_names(settings: Settings) -> dict[str, str]:
    return {stage: settings.topic(stage) for stage in STAGES}
