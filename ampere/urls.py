"""Where the services are: Kafka/Redis URLs from the settings, or those of a running `ampere services up`.

A worker never starts services of its own (several workers must share one broker and one Redis), so it
needs either explicit URLs or the state file that ``ampere services up`` writes; this module reads both
and knows nothing about how the embedded services are started (``ampere_dev.services``).
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path


class ServicesNotFound(RuntimeError):
    """Neither KAFKA_URL/REDIS_URL nor a running `ampere services up`."""


@dataclass
class ServiceURLs:
    kafka_url: str
    redis_url: str


def bootstrap_servers(kafka_url: str) -> str:
    """``kafka://h1:p1,h2:p2`` (or a bare ``h:p,...``) -> ``"h1:p1,h2:p2"`` for kafka-python."""
    if not kafka_url or not kafka_url.strip():
        raise ValueError("empty Kafka URL; expected kafka://host:port[,host:port]")
    rest = kafka_url.strip()
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme not in ("kafka", "tcp", "plaintext"):
            raise ValueError(f"unsupported Kafka URL scheme {scheme!r} in {kafka_url!r}; expected kafka://host:port")
    rest = rest.rstrip("/")
    hosts = [h.strip() for h in rest.split(",") if h.strip()]
    if not hosts:
        raise ValueError(f"no brokers in Kafka URL {kafka_url!r}")
    for h in hosts:
        host, sep, port = h.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"bad broker address {h!r} in {kafka_url!r}; expected host:port")
    return ",".join(hosts)


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
        raise ServicesNotFound("ampere worker: set KAFKA_URL and REDIS_URL, or start the embedded services first "
                         "with `ampere services up` (it prints both URLs)")
    return ServiceURLs(kafka_url=kafka_url, redis_url=redis_url)


def redact(url: str) -> str:
    """A URL with its password (and user) replaced, fit for logs and output: ``redis://:***@host:6379``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = "***" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))
