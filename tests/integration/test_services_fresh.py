"""`ampere services up` says what persists (Redis) and what does not (Kafka), and --fresh empties Redis."""

from __future__ import annotations

import io
import threading
import time

import pytest
import redis

from ampere.settings import Settings
from ampere_dev.services import services_up

pytestmark = pytest.mark.integration


def up(settings: Settings, fresh: bool) -> tuple[str, str]:
    """Run services_up until it printed its ready line; set a key; stop. Returns (output, redis url)."""
    out, stop = io.StringIO(), threading.Event()
    th = threading.Thread(
        target=services_up, args=(settings,), kwargs={"out": out, "stop_event": stop, "fresh": fresh}, daemon=True
    )
    th.start()
    deadline = time.monotonic() + 60
    while "# ready" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = out.getvalue()
    url = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("REDIS_URL="))
    r = redis.Redis.from_url(url)
    keys = r.dbsize()
    r.set("left-by-a-test", "1")
    r.close()
    stop.set()
    th.join(30)
    return text, str(keys)


def test_redis_keeps_its_data_between_runs_unless_fresh(tmp_path):
    settings = Settings(home=tmp_path)
    first, _ = up(settings, fresh=False)
    assert "Redis keeps its data between runs" in first and "Kafka does not" in first and "--fresh" in first
    second, keys = up(settings, fresh=False)
    assert keys == "1" and "1 keys now" in second  # the key of the first run is still there
    third, keys = up(settings, fresh=True)
    assert "Redis emptied (--fresh)" in third and keys == "0"
