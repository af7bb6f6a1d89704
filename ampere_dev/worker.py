"""Run ``faust -A streamer.app worker`` as a child process (demo, tests, benchmarks).

The child is the same command users deploy; this only wires its environment,
logs and lifetime (it dies with us, even if we are killed). ``restart=True`` plays
the supervisor a deployment has (systemd ``Restart=on-failure``): a worker that exits
non-zero (e.g. status 75 when the broker lost its data, ``streamer.guard``) is started again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ampere.settings import REPO_ROOT, Settings
from ampere_dev.services import die_with_parent

READY_MARK = "[^Worker]: Ready"
MODELS_MARK = "models loaded"


class FaustWorker:
    """``metrics_port``: where the worker serves /metrics, /healthz and /readyz (None: ``settings.worker``'s, 0:
    off); with one, :meth:`wait_ready` polls /readyz, else it reads the log for Faust's and our ready lines."""

    def __init__(
        self,
        urls,
        settings: Settings,
        log_path: Path,
        env: dict | None = None,
        loglevel: str = "info",
        restart: bool = False,
        restart_delay_s: float = 1.0,
        metrics_port: int | None = None,
    ):
        self.urls, self.settings, self.log_path = urls, settings, Path(log_path)
        self.extra_env = env or {}
        self.loglevel = loglevel
        self.metrics_port = settings.worker.metrics_port if metrics_port is None else int(metrics_port)
        self.proc: subprocess.Popen | None = None
        self.restart = restart
        self.restart_delay_s = restart_delay_s
        self.restarts = 0  # times the supervisor started it again
        self.exits: list[int] = []  # exit codes of the runs that ended
        self._stopping = False
        self._log_offset = 0  # where the current run's log starts
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        self._peak_rss_kb = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _spawn(self) -> None:
        # the worker runs with exactly these settings, whatever the environment says
        env = {
            **os.environ,
            **self.settings.as_env(),
            "KAFKA_URL": self.urls.kafka_url,
            "REDIS_URL": self.urls.redis_url,
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "AMPERE_WORKER__METRICS_PORT": str(self.metrics_port),
            **self.extra_env,
        }
        faust = Path(sys.executable).with_name("faust")
        cmd = [str(faust), "-A", "streamer.app", "worker", "-l", self.loglevel, "--without-web"]
        self._log.flush()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )

    def start(self) -> FaustWorker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._stopping = False
        self._log = open(self.log_path, "a")
        with self._lock:
            self._spawn()
        if self.restart and self._supervisor is None:
            # started from a thread of its own, which lives as long as we do: PR_SET_PDEATHSIG follows the
            # thread that forked, so the children must be forked by one that does not end early
            self._supervisor = threading.Thread(target=self._supervise, daemon=True, name="faust-supervisor")
            self._supervisor.start()
        return self

    def _supervise(self) -> None:
        while not self._stopping:
            proc = self.proc
            if proc is not None and proc.poll() is not None:
                with self._lock:
                    if self._stopping or proc is not self.proc:
                        continue
                    self.exits.append(proc.returncode)
                    if proc.returncode == 0:
                        return
                    time.sleep(self.restart_delay_s)
                    if self._stopping:
                        return
                    self._log.write(f"\n--- supervisor: worker exited with {proc.returncode}; starting it again\n")
                    self._spawn()
                    self.restarts += 1
            self._sample_rss()
            time.sleep(0.2)

    def _sample_rss(self) -> None:
        kb = _status_kb(self.pid, "VmHWM")
        if kb:
            self._peak_rss_kb = max(self._peak_rss_kb, kb)

    def rss_mb(self) -> float:
        """The running worker's resident memory now."""
        return _status_kb(self.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the worker (its current run, or the largest run under the supervisor)."""
        self._sample_rss()
        return self._peak_rss_kb / 1024

    def log_text(self, current_run: bool = False) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                if current_run:
                    f.seek(self._log_offset)
                return f.read()
        except FileNotFoundError:
            return ""

    @property
    def metrics_url(self) -> str | None:
        """The worker's metrics and health endpoint (``…/metrics``, ``…/readyz``), None when off."""
        if not self.metrics_port:
            return None
        host = self.settings.worker.metrics_host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{host}:{self.metrics_port}"

    def readyz(self) -> tuple[int, dict]:
        """(HTTP status, body) of the worker's /readyz; (0, {"error": ...}) while nothing answers."""
        try:
            with urllib.request.urlopen(f"{self.metrics_url}/readyz", timeout=2) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError) as exc:
            return 0, {"error": str(exc)}

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until the models are loaded (so the first window is not a cold start) and the consumer has its
        partitions: /readyz answers 200 when a metrics port is set, else Faust's and our lines in the log."""
        if self.metrics_port:
            self._wait_readyz(timeout)
            return
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            text = self.log_text(current_run=True)
            if READY_MARK in text and MODELS_MARK in text:
                return
            proc = self.proc
            if proc is not None and proc.poll() is not None and not self.restart:
                raise RuntimeError(f"faust worker exited with {proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.3)
        raise TimeoutError(f"faust worker not ready after {timeout:.0f} s:\n{self.log_text()[-3000:]}")

    def _wait_readyz(self, timeout: float) -> None:
        t0 = time.monotonic()
        last: tuple[int, dict] = (0, {})
        while time.monotonic() - t0 < timeout:
            proc = self.proc
            if proc is not None and proc.poll() is not None and not self.restart:
                raise RuntimeError(f"faust worker exited with {proc.returncode}:\n{self.log_text()[-3000:]}")
            last = self.readyz()
            if last[0] == 200:
                return
            time.sleep(0.3)
        raise TimeoutError(
            f"faust worker not ready after {timeout:.0f} s (/readyz: {last}):\n{self.log_text()[-3000:]}"
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the running worker (kill -9 by default); with ``restart`` the supervisor starts it
        again when it exits non-zero."""
        if self.proc and self.proc.poll() is None:
            self._sample_rss()
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> None:
        self._stopping = True
        with self._lock:
            if self.proc and self.proc.poll() is None:
                self._sample_rss()
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
            self._supervisor = None
        if getattr(self, "_log", None) and not self._log.closed:
            self._log.close()

    def __enter__(self) -> FaustWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _status_kb(pid: int | None, field: str) -> int:
    if not pid:
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
