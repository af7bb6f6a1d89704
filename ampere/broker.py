"""Kafka admin helpers over kafka-python: topics, broker readiness, producers, a simple reader.

Written against the Kafka protocol, not Tansu: the embedded broker lacks
CreatePartitions and has a wrong end-offset answer, so nothing here relies
on either (topics that exist are left as they are; `consume` stops on an
idle timeout, not on end offsets).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import errors as kerrors

from ampere.urls import bootstrap_servers, host_ports, parse_kafka_url, port_open, redact

log = logging.getLogger(__name__)

# one topic per stage of the pipeline (prefixed by settings.broker.topic_prefix)
STAGES = ("media", "windows", "transcripts", "summaries", "embeddings", "tags", "dead-letter")


def topic_names(settings) -> dict[str, str]:
    return {stage: settings.topic(stage) for stage in STAGES}


_KAFKA_MAJOR = int(kafka.__version__.split(".")[0])


@dataclass
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: list[tuple[str, bytes]]


def _settings_or_default(settings):
    if settings is None:
        from ampere.settings import get_settings

        settings = get_settings()
    return settings


def client_config(kafka_url: str, settings=None) -> dict:
    """kafka-python connection parameters: the bootstrap servers, TLS and SASL, from the URL and
    ``settings.broker`` (which wins). Contains the password: never log it."""
    b = _settings_or_default(settings).broker
    ep = parse_kafka_url(kafka_url)
    protocol = b.security_protocol or ep.security_protocol
    cfg: dict = {"bootstrap_servers": ep.servers, "security_protocol": protocol}
    if protocol.startswith("SASL"):
        user = b.sasl_username or ep.username
        password = b.sasl_password.get_secret_value() if b.sasl_password is not None else ep.password
        if not user or password is None:
            raise ValueError(
                f"{protocol} needs a SASL user and password: AMPERE_BROKER__SASL_USERNAME and "
                f"AMPERE_BROKER__SASL_PASSWORD, or user:password@ in the URL ({redact(kafka_url)})"
            )
        cfg.update(
            sasl_mechanism=b.sasl_mechanism or ep.mechanism or "PLAIN",
            sasl_plain_username=user,
            sasl_plain_password=password,
        )
    if protocol in ("SSL", "SASL_SSL"):
        cfg.update(ssl_check_hostname=b.ssl_check_hostname)
        for k in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(b, k):
                cfg[k] = getattr(b, k)
    return cfg


def _admin(kafka_url: str, timeout_s: float = 10.0, settings=None) -> KafkaAdminClient:
    ms = max(int(timeout_s * 1000), 500)
    # bound the bootstrap too: by default the constructor alone can block for 30 s
    boot = {"bootstrap_timeout_ms": ms} if _KAFKA_MAJOR >= 3 else {"api_version_auto_timeout_ms": ms}
    return KafkaAdminClient(
        **client_config(kafka_url, settings), client_id="ampere-admin", request_timeout_ms=max(ms, 1000), **boot
    )


def cluster_id(kafka_url: str, settings=None, timeout_s: float = 5.0) -> str | None:
    """The cluster id the broker reports (it changes when a memory-only broker restarts empty)."""
    admin = _admin(kafka_url, timeout_s, settings)
    try:
        try:
            return admin.describe_cluster().get("cluster_id")
        except Exception:  # an older broker without DescribeCluster: the metadata answer carries it too
            admin.list_topics()
            return getattr(admin._client.cluster, "cluster_id", None)
    finally:
        admin.close()


def broker_answers(kafka_url: str, timeout_s: float = 2.0, settings=None) -> bool:
    """True when a metadata request succeeds (the readiness check)."""
    try:
        admin = _admin(kafka_url, timeout_s, settings)
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def wait_for_broker(kafka_url: str, timeout: float = 30.0, settings=None) -> None:
    """Block until the broker answers a metadata request; TimeoutError with the last error otherwise."""
    servers = bootstrap_servers(kafka_url)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not any(port_open(h, p) for h, p in host_ports(kafka_url)):
            last = ConnectionRefusedError(f"nothing listens on {servers}")
            time.sleep(0.1)
            continue
        try:
            admin = _admin(kafka_url, min(5.0, max(0.5, deadline - time.monotonic())), settings)
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except Exception as e:  # NoBrokersAvailable, timeouts, connection refused
            last = e
            time.sleep(0.2)
    from ampere.errors import describe

    raise TimeoutError(
        f"Kafka at {servers} did not answer within {timeout:.0f} s (last error: {describe(last) if last else 'none'})"
    )


def list_topics(kafka_url: str, settings=None) -> set[str]:
    admin = _admin(kafka_url, settings=settings)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def ensure_topics(
    kafka_url: str, names: Iterable[str], partitions: int, replication: int = 1, timeout_s: float = 15.0, settings=None
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created.

    Idempotent: an existing topic is accepted as is, even with another partition
    count (Tansu cannot add partitions, and shrinking is impossible in Kafka).
    """
    names = list(dict.fromkeys(names))
    if partitions < 1 or replication < 1:
        raise ValueError(f"partitions and replication must be >= 1 (got {partitions}, {replication})")
    for n in names:
        if not n or len(n) > 249 or not all(c.isalnum() or c in "._-" for c in n):
            raise ValueError(f"invalid topic name {n!r}: use letters, digits, '.', '_' and '-' (max 249)")
    admin = _admin(kafka_url, timeout_s, settings)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                if _KAFKA_MAJOR >= 3:
                    resp = admin.create_topics(
                        {n: {"num_partitions": partitions, "replication_factor": replication} for n in missing},
                        timeout_ms=int(timeout_s * 1000),
                        raise_errors=False,
                    )
                    for t in resp.get("topics", []):
                        err = kerrors.for_code(t.get("error_code", 0))
                        if err is not kerrors.NoError and err is not kerrors.TopicAlreadyExistsError:
                            raise RuntimeError(
                                f"creating topic {t.get('name')!r} failed: {err.__name__} "
                                f"{t.get('error_message') or ''}".strip()
                            )
                else:  # kafka-python 2.x
                    from kafka.admin import NewTopic

                    admin.create_topics(
                        [NewTopic(n, partitions, replication) for n in missing], timeout_ms=int(timeout_s * 1000)
                    )
            except kerrors.TopicAlreadyExistsError:
                pass  # created concurrently by another process: fine
        _wait_visible(admin, names, timeout_s)
        return missing
    finally:
        admin.close()


def _wait_visible(admin: KafkaAdminClient, names: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        have = set(admin.list_topics())
        gone = [n for n in names if n not in have]
        if not gone:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {gone} not visible in metadata after {timeout_s:.0f} s")
        time.sleep(0.1)


def make_producer(kafka_url: str, settings=None, **kw) -> KafkaProducer:
    """A KafkaProducer with record size and compression from settings; ``kw`` overrides.

    gzip is the default because it works on Tansu and every Kafka; lz4/zstd need
    their Python packages, checked here so the error says what to install.
    """
    settings = _settings_or_default(settings)
    cfg = dict(
        **client_config(kafka_url, settings),
        client_id="ampere",
        acks="all",
        linger_ms=5,
        max_request_size=settings.broker.max_record_bytes,
        compression_type=(settings.broker.compression or None),
        retries=5,
    )
    cfg.update(kw)
    ct = cfg.get("compression_type")
    if ct in ("none", ""):
        cfg["compression_type"] = ct = None
    if ct == "lz4":
        _need_module("lz4", "lz4")
    elif ct == "zstd":
        _need_module("zstandard", "zstandard")
    elif ct == "snappy":
        _need_module("snappy", "python-snappy")
    elif ct not in (None, "gzip"):
        raise ValueError(f"unknown compression {ct!r}; use gzip, lz4, zstd, snappy or none")
    return KafkaProducer(**cfg)


def _need_module(mod: str, pip_name: str) -> None:
    import importlib.util

    if importlib.util.find_spec(mod) is None:
        raise ValueError(f"compression needs the {pip_name!r} package (pip install {pip_name}) or use gzip")


def consume(
    kafka_url: str,
    topic: str,
    group: str | None = None,
    timeout_s: float | None = 10.0,
    max_records: int | None = None,
    settings=None,
    stop=None,
) -> Iterator[ConsumedRecord]:
    """Read ``topic`` from the beginning; stop after ``max_records``, when nothing arrives for ``timeout_s``
    (None: never) or when the ``stop`` event is set. With a ``group``, offsets are committed, so a second call
    with the same group resumes where the first one stopped."""
    settings = _settings_or_default(settings)
    consumer = KafkaConsumer(
        **client_config(kafka_url, settings),
        group_id=group,
        client_id=f"ampere-reader-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=max(settings.broker.max_record_bytes * 2, 52_428_800),
        max_partition_fetch_bytes=max(settings.broker.max_record_bytes * 2, 1_048_576),
        session_timeout_ms=int(settings.broker.session_timeout_s * 1000),
        heartbeat_interval_ms=max(100, int(settings.broker.session_timeout_s * 1000) // 3),
    )
    n = 0
    if timeout_s is None:
        timeout_s = float("inf")
    try:
        if group is None:
            # no group: assign every partition by hand and seek to the start
            deadline = time.monotonic() + min(timeout_s, 30.0)
            parts = consumer.partitions_for_topic(topic)
            while not parts and time.monotonic() < deadline:
                time.sleep(0.1)
                parts = consumer.partitions_for_topic(topic)
            if not parts:
                raise ValueError(f"topic {topic!r} does not exist at {bootstrap_servers(kafka_url)}")
            from kafka import TopicPartition

            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
        else:
            consumer.subscribe([topic])
        idle_until = time.monotonic() + timeout_s
        # a group join takes a while (about half the session timeout on Tansu): the idle clock starts after it
        join_deadline = time.monotonic() + timeout_s + 2 * settings.broker.session_timeout_s
        while (max_records is None or n < max_records) and not (stop is not None and stop.is_set()):
            if group is not None and not consumer.assignment() and time.monotonic() < join_deadline:
                idle_until = time.monotonic() + timeout_s
            batch = consumer.poll(timeout_ms=200, max_records=(None if max_records is None else max_records - n) or 500)
            got = False
            for recs in batch.values():
                for rec in recs:
                    got = True
                    n += 1
                    yield ConsumedRecord(
                        rec.topic, rec.partition, rec.offset, rec.key, rec.value, rec.timestamp, list(rec.headers or [])
                    )
            if got:
                if group is not None:
                    consumer.commit()
                idle_until = time.monotonic() + timeout_s
            elif time.monotonic() > idle_until:
                break
    finally:
        consumer.close()


def ssl_context(kafka_url: str, settings=None):
    """The TLS context of ``client_config`` for clients that take one (aiokafka, Faust), or None."""
    import ssl

    cfg = client_config(kafka_url, settings)
    if cfg["security_protocol"] not in ("SSL", "SASL_SSL"):
        return None
    ctx = ssl.create_default_context(cafile=cfg.get("ssl_cafile"))
    ctx.check_hostname = bool(cfg.get("ssl_check_hostname", True))
    if cfg.get("ssl_certfile"):
        ctx.load_cert_chain(cfg["ssl_certfile"], cfg.get("ssl_keyfile"))
    return ctx


def faust_broker(kafka_url: str, settings=None) -> tuple[list[str], object | None]:
    """(broker URLs, ``broker_credentials``) for a Faust app: TLS as ``faust.SSLCredentials``, SASL (PLAIN,
    SCRAM-SHA-256/512, over TLS or not) as ``faust.SASLCredentials``."""
    import faust

    cfg = client_config(kafka_url, settings)
    brokers = [f"kafka://{hp}" for hp in cfg["bootstrap_servers"].split(",")]
    protocol = cfg["security_protocol"]
    ctx = ssl_context(kafka_url, settings)
    if protocol == "SSL":
        return brokers, faust.SSLCredentials(ctx)
    if protocol.startswith("SASL"):
        return brokers, faust.SASLCredentials(
            username=cfg["sasl_plain_username"],
            password=cfg["sasl_plain_password"],
            ssl_context=ctx,
            mechanism=cfg["sasl_mechanism"],
        )
    return brokers, None
