"""Shared fixtures. ``services`` starts the embedded broker and Redis once per
test session (or uses KAFKA_URL / REDIS_URL when both are set)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    from ampere_dev.services import EmbeddedServices, ServiceURLs

    kafka_url, redis_url = os.environ.get("KAFKA_URL"), os.environ.get("REDIS_URL")
    if kafka_url and redis_url:
        yield ServiceURLs(kafka_url=kafka_url, redis_url=redis_url)
        return
    from ampere.settings import Settings

    home = tmp_path_factory.mktemp("ampere-home")
    svc = EmbeddedServices(Settings(home=home), kafka=not kafka_url, redis=not redis_url)
    svc.start()
    try:
        yield ServiceURLs(kafka_url=kafka_url or svc.kafka_url, redis_url=redis_url or svc.redis_url)
    finally:
        svc.stop()


@pytest.fixture
def settings_for(tmp_path):
    """Settings with an isolated home and a unique key prefix (and index), so tests sharing one Redis do not
    collide; ``redis`` options given are merged with that prefix."""
    import uuid

    from ampere.settings import Settings

    def make(**kw):
        kw.setdefault("home", tmp_path)
        kw["redis"] = {"prefix": f"test-{uuid.uuid4().hex[:8]}", **kw.get("redis", {})}
        return Settings(**kw)

    return make
