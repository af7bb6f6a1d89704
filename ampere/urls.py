"""Where the services are: Kafka/Redis URLs from the settings, or those of a running `ampere services up`.

A worker never starts services of its own (several workers must share one broker and one Redis), so it
needs either explicit URLs or the state file that ``ampere services up`` writes; this module reads both
and knows nothing about how the embedded services are started (``ampere_dev.services``).
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path


class ServicesNotFound(RuntimeError):
    """Neither KAFKA_URL/REDIS_URL nor a running `ampere services up`."""


@dataclass
class ServiceURLs:
    kafka_url: str
    redis_url: str


# scheme -> Kafka security protocol; credentials in the URL (user:password@) turn PLAINTEXT into SASL_PLAINTEXT
# and SSL into SASL_SSL
_KAFKA_SCHEMES = {
    "kafka": "PLAINTEXT",
    "tcp": "PLAINTEXT",
    "plaintext": "PLAINTEXT",
    "kafka+ssl": "SSL",
    "kafkas": "SSL",
    "ssl": "SSL",
    "kafka+sasl": "SASL_PLAINTEXT",
    "kafka+sasl_plaintext": "SASL_PLAINTEXT",
    "sasl_plaintext": "SASL_PLAINTEXT",
    "kafka+sasl_ssl": "SASL_SSL",
    "sasl_ssl": "SASL_SSL",
}
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaEndpoint:
    """What a Kafka URL says: the bootstrap servers, the security protocol, SASL credentials if it carries any."""

    servers: str  # "h1:p1,h2:p2"
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mechanism: str | None = None  # from ?mechanism=SCRAM-SHA-256 (or sasl_mechanism=)


def parse_kafka_url(kafka_url: str) -> KafkaEndpoint:
    """``kafka://h1:p1,h2:p2`` (or a bare ``h:p,...``), ``kafka+ssl://``, ``sasl_ssl://user:password@h:p``, ...

    Errors never repeat the URL's credentials."""
    from urllib.parse import parse_qs, unquote

    if not kafka_url or not kafka_url.strip():
        raise ValueError("empty Kafka URL; expected kafka://host:port[,host:port]")
    shown = redact(kafka_url.strip())
    rest = kafka_url.strip()
    protocol = "PLAINTEXT"
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        protocol = _KAFKA_SCHEMES.get(scheme.lower())  # type: ignore[assignment]
        if protocol is None:
            raise ValueError(
                f"unsupported Kafka URL scheme {scheme!r} in {shown!r}; expected one of "
                f"{sorted(_KAFKA_SCHEMES)} (e.g. kafka://host:9092, kafka+ssl://host:9093, "
                "sasl_ssl://user:password@host:9093)"
            )
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
    username = password = None
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        user, sep, pw = userinfo.partition(":")
        username, password = unquote(user) or None, (unquote(pw) if sep else None)
        if protocol == "PLAINTEXT":
            protocol = "SASL_PLAINTEXT"
        elif protocol == "SSL":
            protocol = "SASL_SSL"
    rest = rest.rstrip("/")
    hosts = [h.strip() for h in rest.split(",") if h.strip()]
    if not hosts:
        raise ValueError(f"no brokers in Kafka URL {shown!r}")
    for h in hosts:
        host, sep, port = h.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"bad broker address {h!r} in {shown!r}; expected host:port")
    mechanism = None
    if query:
        q = {k.lower(): v[-1] for k, v in parse_qs(query).items()}
        mechanism = (q.get("mechanism") or q.get("sasl_mechanism") or "").upper() or None
        if mechanism is not None and mechanism not in SASL_MECHANISMS:
            raise ValueError(
                f"unsupported SASL mechanism {mechanism!r} in {shown!r}; expected one of {list(SASL_MECHANISMS)}"
            )
    return KafkaEndpoint(
        servers=",".join(hosts), security_protocol=protocol, username=username, password=password, mechanism=mechanism
    )


def bootstrap_servers(kafka_url: str) -> str:
    """``kafka://h1:p1,h2:p2`` (or a bare ``h:p,...``) -> ``"h1:p1,h2:p2"`` for kafka-python."""
    return parse_kafka_url(kafka_url).servers


def host_ports(kafka_url: str) -> list[tuple[str, int]]:
    out = []
    for h in bootstrap_servers(kafka_url).split(","):
        host, _, port = h.rpartition(":")
        out.append((host.strip("[]"), int(port)))
    return out


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_ready(url: str) -> bool:
    import redis

    try:
        r = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            if not r.ping():
                return False
            mods = r.execute_command("MODULE", "LIST")
        finally:
            r.close()
    except Exception:
        return False
    names = set()
    for m in mods:
        d = m if isinstance(m, dict) else dict(zip(m[::2], m[1::2]))
        n = d.get(b"name", d.get("name", b""))
        names.add((n.decode() if isinstance(n, bytes) else str(n)).lower())
    return "search" in names


def state_path(settings) -> Path:
    return Path(settings.home) / "services" / "state.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_services(settings) -> ServiceURLs | None:
    """URLs of a live `ampere services up`, or None (stale state files are ignored)."""
    path = state_path(settings)
    try:
        state = json.loads(path.read_text())
        pid = int(state["pid"])
        urls = ServiceURLs(kafka_url=state["kafka_url"], redis_url=state["redis_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid):
        return None
    if not all(port_open(h, p) for h, p in host_ports(urls.kafka_url)):
        return None
    if not redis_ready(urls.redis_url):
        return None
    return urls


def discover_urls(settings) -> ServiceURLs:
    """KAFKA_URL/REDIS_URL, else those of a running `ampere services up`. A worker never starts its own
    services: several workers must share one broker and one Redis."""
    shared = None if (settings.kafka_url and settings.redis_url) else running_services(settings)
    kafka_url = settings.kafka_url or (shared and shared.kafka_url)
    redis_url = settings.redis_url or (shared and shared.redis_url)
    if not (kafka_url and redis_url):
        raise ServicesNotFound(
            "ampere worker: set KAFKA_URL and REDIS_URL, or start the embedded services first "
            "with `ampere services up` (it prints both URLs)"
        )
    return ServiceURLs(kafka_url=kafka_url, redis_url=redis_url)


_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9_+.\-]*://)(?P<userinfo>[^@/\s?#]*)@")


def redact(url: str) -> str:
    """A URL with its password (and user) replaced, fit for logs and output: ``redis://:***@host:6379``.
    Works for Kafka URLs with several hosts too (``sasl_ssl://***:***@h1:9093,h2:9093``)."""
    if not isinstance(url, str):
        return "<not a url>"

    def sub(m: re.Match) -> str:
        user = m.group("userinfo").partition(":")[0]
        return f"{m.group('scheme')}{'***' if user else ''}:***@"

    return _USERINFO.sub(sub, url)


def redact_text(text: str) -> str:
    """Every URL in ``text`` redacted (error messages of client libraries may quote them)."""
    return redact(text)
