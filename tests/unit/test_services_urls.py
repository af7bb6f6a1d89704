"""URL parsing and binary discovery of ampere_dev.services (no services started)."""

import os

import pytest

from ampere_dev import services


def test_bootstrap_servers_forms():
    assert services.bootstrap_servers("kafka://127.0.0.1:9092") == "127.0.0.1:9092"
    assert services.bootstrap_servers("kafka://a:1,b:2/") == "a:1,b:2"
    assert services.bootstrap_servers("a:1, b:2") == "a:1,b:2"


@pytest.mark.parametrize("bad", ["", "kafka://", "http://a:1", "kafka://a", "kafka://a:x", "kafka://:9092"])
def test_bootstrap_servers_rejects_bad_urls(bad):
    with pytest.raises(ValueError):
        services.bootstrap_servers(bad)


def test_bundled_binaries_are_found_and_executable():
    for p in (services.find_tansu(), services.find_redis_server()):
        assert p.is_file() and os.access(p, os.X_OK)
    assert sorted(m.name for m in services.find_redis_modules()) == ["redisearch.so", "rejson.so"]


def test_missing_package_gives_clear_error():
    with pytest.raises(services.ServiceError, match="pip install no-such-pkg"):
        services._package_dir("no_such_pkg_ampere", "no-such-pkg")


def test_free_port_is_bindable():
    import socket

    p = services.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", p))


def test_running_services_ignores_stale_state(tmp_path):
    from ampere.settings import Settings

    s = Settings(home=tmp_path)
    assert services.running_services(s) is None
    path = services.state_path(s)
    path.parent.mkdir(parents=True)
    # a pid that cannot exist, ports nobody listens on
    path.write_text('{"pid": 999999999, "kafka_url": "kafka://127.0.0.1:1", "redis_url": "redis://127.0.0.1:1"}')
    assert services.running_services(s) is None
    path.write_text("not json")
    assert services.running_services(s) is None


def test_worker_refuses_to_start_without_services(tmp_path, monkeypatch):
    """A worker never starts services of its own: several workers must share one broker and one Redis."""
    import pytest

    from ampere.settings import Settings
    from ampere.urls import ServicesNotFound, discover_urls

    monkeypatch.delenv("KAFKA_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ServicesNotFound, match="ampere services up"):
        discover_urls(Settings(home=tmp_path))
    urls = discover_urls(Settings(home=tmp_path, kafka_url="kafka://k:9092", redis_url="redis://r:6379"))
    assert (urls.kafka_url, urls.redis_url) == ("kafka://k:9092", "redis://r:6379")
