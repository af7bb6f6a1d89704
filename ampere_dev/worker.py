"""Run ``faust -A streamer.app worker`` as a child process (demo, tests, benchmarks).

The child is the same command users deploy; this only wires its environment,
logs and lifetime (it dies with us, even if we are killed).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ampere_dev.services import die_with_parent
from ampere.settings import REPO_ROOT, Settings

READY_MARK = "[^Worker]: Ready"
MODELS_MARK = "models loaded"


class FaustWorker:
    """``metrics_port``: where the worker serves /metrics, /healthz and /readyz (None: ``settings.worker``'s, 0:
    off); with one, :meth:`wait_ready` polls /readyz, else it reads the log for Faust's and our ready lines."""

    def __init__(self, urls, settings: Settings, log_path: Path, env: dict | None = None, loglevel: str = "info",
                 metrics_port: int | None = None):
        self.urls, self.settings, self.log_path = urls, settings, Path(log_path)
        self.extra_env = env or {}
        self.loglevel = loglevel
        self.metrics_port = settings.worker.metrics_port if metrics_port is None else int(metrics_port)
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> "FaustWorker":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # the worker runs with exactly these settings, whatever the environment says
        env = {**os.environ, **self.settings.as_env(), "KAFKA_URL": self.urls.kafka_url,
               "REDIS_URL": self.urls.redis_url, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               "AMPERE_WORKER__METRICS_PORT": str(self.metrics_port), **self.extra_env}
        faust = Path(sys.executable).with_name("faust")
        cmd = [str(faust), "-A", "streamer.app", "worker", "-l", self.loglevel, "--without-web"]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
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
            text = self.log_text()
            if READY_MARK in text and MODELS_MARK in text:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"faust worker exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.3)
        raise TimeoutError(f"faust worker not ready after {timeout:.0f} s:\n{self.log_text()[-3000:]}")

    def _wait_readyz(self, timeout: float) -> None:
        t0, last = time.monotonic(), (0, {})
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"faust worker exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            last = self.readyz()
            if last[0] == 200:
                return
            time.sleep(0.3)
        raise TimeoutError(f"faust worker not ready after {timeout:.0f} s (/readyz: {last}):\n"
                           f"{self.log_text()[-3000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> "FaustWorker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
