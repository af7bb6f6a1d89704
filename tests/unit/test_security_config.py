"""Kafka TLS/SASL from URLs and settings, credentials never shown, the worker's web server and consumer group."""

import os

import pytest

from ampere.broker import client_config, faust_broker
from ampere.errors import describe, scrub
from ampere.settings import Settings
from ampere.urls import ServiceURLs, bootstrap_servers, parse_kafka_url, redact


@pytest.mark.parametrize(
    "url, protocol",
    [
        ("kafka://h:9092", "PLAINTEXT"),
        ("kafka+ssl://h:9093", "SSL"),
        ("SSL://h:9093", "SSL"),
        ("SASL_SSL://u:p@h:9093", "SASL_SSL"),
        ("sasl_plaintext://u:p@h:9092", "SASL_PLAINTEXT"),
        ("kafka://u:p@h:9092", "SASL_PLAINTEXT"),
        ("kafka+ssl://u:p@h:9093", "SASL_SSL"),
    ],
)
def test_kafka_url_schemes(url, protocol):
    assert parse_kafka_url(url).security_protocol == protocol
    assert bootstrap_servers(url) == url.rsplit("@", 1)[-1].split("://")[-1]


def test_credentials_in_urls_are_decoded_and_never_repeated_in_errors():
    ep = parse_kafka_url("kafka://app%40corp:s3cr%2Ft@k1:9092,k2:9092?mechanism=SCRAM-SHA-512")
    assert (ep.username, ep.password, ep.mechanism, ep.servers) == (
        "app@corp",
        "s3cr/t",
        "SCRAM-SHA-512",
        "k1:9092,k2:9092",
    )
    assert "s3cr" not in repr(ep)
    for bad in ("http://user:hunter2@h:1", "kafka://user:hunter2@h", "kafka://user:hunter2@h:1?mechanism=MD5"):
        with pytest.raises(ValueError) as exc:
            parse_kafka_url(bad)
        assert "hunter2" not in str(exc.value) and "***" in str(exc.value)


def test_redact():
    assert redact("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("rediss://user:pw@h:6380") == "rediss://***:***@h:6380"
    assert redact("sasl_ssl://u:pw@a:1,b:2") == "sasl_ssl://***:***@a:1,b:2"
    assert redact("redis://h:6379") == "redis://h:6379"
    assert "pw" not in scrub("Error connecting to redis://:pw@h:1 <socket.socket object at 0x7f0011223344>")
    assert "0x7f" not in describe(RuntimeError("<_io.BytesIO object at 0x7f0011223344> failed"))


def test_client_config_sasl_and_tls_from_settings_win_over_the_url(tmp_path):
    s = Settings(
        broker={
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_username": "svc",
            "sasl_password": "pw",
            "ssl_cafile": "/etc/ca.pem",
        }
    )
    cfg = client_config("kafka://h:9093", s)
    assert cfg == {
        "bootstrap_servers": "h:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "pw",
        "ssl_check_hostname": True,
        "ssl_cafile": "/etc/ca.pem",
    }
    assert client_config("kafka+ssl://u:p@h:1", Settings())["sasl_mechanism"] == "PLAIN"
    with pytest.raises(ValueError, match="needs a SASL user and password"):
        client_config("sasl_ssl://h:1", Settings())


def test_faust_credentials():
    import faust

    brokers, cred = faust_broker("sasl_ssl://u:pw@h1:9093,h2:9093?mechanism=SCRAM-SHA-512", Settings())
    assert brokers == ["kafka://h1:9093", "kafka://h2:9093"]
    assert isinstance(cred, faust.SASLCredentials) and cred.mechanism.value == "SCRAM-SHA-512"
    assert cred.protocol.value == "SASL_SSL" and cred.ssl_context is not None and "pw" not in repr(cred)
    _, cred = faust_broker("kafka+ssl://h:9093", Settings())
    assert isinstance(cred, faust.SSLCredentials)
    assert faust_broker("kafka://h:9092", Settings())[1] is None


def test_the_password_is_a_secret_in_settings_and_reaches_a_child_worker(capsys, monkeypatch):
    s = Settings(broker={"sasl_password": "hunter2", "sasl_username": "u"})
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump(mode="json"))
    assert s.as_env()["AMPERE_BROKER__SASL_PASSWORD"] == "hunter2"
    from ampere_cli import main as cli

    monkeypatch.setattr(
        cli,
        "_settings",
        lambda: Settings(
            redis_url="redis://:hunter2@r:6379",
            kafka_url="sasl_ssl://u:hunter2@k:9093",
            broker={"sasl_password": "hunter2"},
        ),
    )
    cli.cmd_settings(None)
    out = capsys.readouterr().out
    assert "hunter2" not in out and "sasl_ssl://***:***@k:9093" in out


@pytest.fixture
def app_module(monkeypatch):
    """streamer.app, imported as the faust CLI would (it reads the settings and finds the services at import)."""
    from ampere.settings import get_settings

    monkeypatch.setenv("KAFKA_URL", "kafka://127.0.0.1:1")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    get_settings.cache_clear()  # settings read by earlier tests must not hide these URLs
    try:
        from streamer import app

        yield app
    finally:
        get_settings.cache_clear()


def test_worker_web_server_is_off_by_default_and_on_loopback_when_asked(app_module):
    urls = ServiceURLs("kafka://127.0.0.1:1", "redis://127.0.0.1:1")
    app = app_module.make_app(Settings(), urls)
    assert app.conf.web_enabled is False and app.boot_strategy.enable_web is False
    app = app_module.make_app(Settings(worker={"web_port": 6070}), urls)
    assert app.boot_strategy.enable_web is True and app.conf.web_bind == "127.0.0.1" and app.conf.web_port == 6070
    # Faust's data folder stays out of the (possibly read-only) checkout
    assert not str(app.conf.datadir).startswith(str(app_module.Path(app_module.__file__).parents[1]))


def test_each_topic_prefix_has_its_own_consumer_group(app_module):
    urls = ServiceURLs("kafka://127.0.0.1:1", "redis://127.0.0.1:1")
    a = app_module.make_app(Settings(broker={"topic_prefix": "shop-a"}), urls)
    b = app_module.make_app(Settings(broker={"topic_prefix": "shop-b"}), urls)
    assert (a.conf.id, b.conf.id) == ("ampere-live-shop-a", "ampere-live-shop-b")


def test_worker_broker_credentials(app_module):
    app = app_module.make_app(Settings(), ServiceURLs("sasl_ssl://u:pw@127.0.0.1:1", "redis://127.0.0.1:1"))
    assert app.conf.broker_credentials is not None
    with pytest.raises(SystemExit) as exc:
        app_module.make_app(Settings(), ServiceURLs("sasl_ssl://127.0.0.1:1", "redis://127.0.0.1:1"))
    assert "SASL" in str(exc.value)
    assert os.environ["KAFKA_URL"] == "kafka://127.0.0.1:1"
