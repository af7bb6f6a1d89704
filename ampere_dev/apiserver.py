"""The search API on a thread of this process (demo, tests): uvicorn serving ``ampere.api.create_app``.

``ampere serve`` is what deployments run; this only saves a process where one is enough.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ampere.settings import Settings


class ApiServer:
    """``port=0``: any free port (read :attr:`url` after :meth:`start`)."""

    def __init__(self, settings: Settings, redis_url: str, host: str = "127.0.0.1", port: int = 0, models=None):
        self.settings, self.redis_url, self.host, self.port, self.models = settings, redis_url, host, port, models
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> ApiServer:
        import uvicorn

        from ampere.api import create_app

        app = create_app(self.settings, self.redis_url, models=self.models)
        # live feeds never end by themselves: give open connections a moment at shutdown, then close them
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="ampere-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the API server did not start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API server did not start within {timeout:.0f} s")
            time.sleep(0.05)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
