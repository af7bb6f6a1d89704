"""Embedded broker + Redis: Kafka round trips, lifecycle, no orphans."""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from ampere import broker as ka
from ampere.settings import Settings
from ampere_dev import services as sv

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Running (zombies count as dead: an orphan reaped late by a lazy init is still gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def test_topics_produce_consume_roundtrip(services):
    topic = f"ampere.test-{uuid.uuid4().hex[:6]}"
    assert ka.ensure_topics(services.kafka_url, [topic], partitions=3) == [topic]
    assert ka.ensure_topics(services.kafka_url, [topic], partitions=5) == []  # exists: fine, unchanged
    assert topic in ka.list_topics(services.kafka_url)

    prod = ka.make_producer(services.kafka_url, Settings(max_record_bytes=2_000_000))
    assert prod.config["compression_type"] == "gzip"
    big = os.urandom(600_000)  # near the size limit: max_request_size comes from settings
    sent = {f"k{i}".encode(): f"v{i}".encode() for i in range(30)}
    for k, v in sent.items():
        prod.send(topic, key=k, value=v)
    prod.send(topic, key=b"big", value=big)
    prod.flush()
    prod.close()

    got = list(ka.consume(services.kafka_url, topic, timeout_s=2, max_records=31))
    assert len(got) == 31
    assert {r.key: r.value for r in got} == {**sent, b"big": big}
    # per key, one partition: offsets within a partition are increasing
    for p in {r.partition for r in got}:
        offs = [r.offset for r in got if r.partition == p]
        assert offs == sorted(offs)


def test_consume_with_group_resumes(services):
    topic = f"ampere.test-{uuid.uuid4().hex[:6]}"
    ka.ensure_topics(services.kafka_url, [topic], partitions=1)
    prod = ka.make_producer(services.kafka_url)
    for i in range(5):
        prod.send(topic, value=b"%d" % i)
    prod.flush()
    first = list(ka.consume(services.kafka_url, topic, group="g", timeout_s=1, max_records=3))
    assert [r.value for r in first] == [b"0", b"1", b"2"]
    prod.send(topic, value=b"5")
    prod.flush()
    prod.close()
    rest = list(ka.consume(services.kafka_url, topic, group="g", timeout_s=1))
    assert [r.value for r in rest] == [b"3", b"4", b"5"]


def test_consume_missing_topic_and_bad_compression(services):
    with pytest.raises(ValueError, match="does not exist"):
        list(ka.consume(services.kafka_url, "ampere.no-such-topic", timeout_s=0.5))
    with pytest.raises(ValueError, match="unknown compression"):
        ka.make_producer(services.kafka_url, compression_type="brotli")


def test_wait_for_broker_times_out_with_clear_error():
    port = sv.free_port()
    with pytest.raises(TimeoutError, match=f"127.0.0.1:{port}"):
        ka.wait_for_broker(f"kafka://127.0.0.1:{port}", timeout=1.0)


def test_lifecycle_start_stop_leaves_no_children(tmp_path, capsys):
    svc = sv.EmbeddedServices(Settings(home=tmp_path))
    with svc:
        pids = list(svc.pids.values())
        assert len(pids) == 2 and all(alive(p) for p in pids)
        ka.wait_for_broker(svc.kafka_url, timeout=5)
        assert sv.redis_ready(svc.redis_url)
        assert (tmp_path / "services" / "kafka.log").exists()
        assert (tmp_path / "services" / "redis.log").exists()
        with capsys.disabled():
            print(f"\nstart-up: kafka {svc.startup_s['kafka']:.2f} s, redis {svc.startup_s['redis']:.2f} s")
    assert wait_dead(pids, timeout=0.5) == []
    svc.stop()  # second stop is harmless


def test_redis_data_survives_restart(tmp_path):
    import redis

    s = Settings(home=tmp_path)
    with sv.EmbeddedServices(s, kafka=False) as svc:
        redis.Redis.from_url(svc.redis_url).set("k", "v")
    with sv.EmbeddedServices(s, kafka=False) as svc:
        assert redis.Redis.from_url(svc.redis_url).get("k") == b"v"


def test_services_up_state_and_resolve(tmp_path):
    s = Settings(home=tmp_path)
    out, stop = io.StringIO(), threading.Event()
    t = threading.Thread(target=sv.services_up, args=(s,), kwargs={"out": out, "stop_event": stop})
    t.start()
    try:
        deadline = time.monotonic() + 20
        while sv.running_services(s) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        shared = sv.running_services(s)
        assert shared is not None
        lines = out.getvalue().splitlines()
        assert f"KAFKA_URL={shared.kafka_url}" in lines and f"REDIS_URL={shared.redis_url}" in lines
        state = json.loads(sv.state_path(s).read_text())
        # resolve_services reuses the running ones instead of starting new ones
        with sv.resolve_services(s) as urls:
            assert urls == shared
        with pytest.raises(sv.ServiceError, match="already running"):
            sv.services_up(s, out=io.StringIO())
    finally:
        stop.set()
        t.join(20)
    assert not t.is_alive()
    assert not sv.state_path(s).exists()
    assert wait_dead(list(state["children"].values()), timeout=1) == []


def test_resolve_services_prefers_urls_and_starts_missing(tmp_path):
    s = Settings(home=tmp_path, kafka_url="kafka://kafka.example:9092", redis_url="redis://r.example:6379")
    with sv.resolve_services(s) as urls:
        assert urls == sv.ServiceURLs("kafka://kafka.example:9092", "redis://r.example:6379")
    s = Settings(home=tmp_path, kafka_url="kafka://kafka.example:9092", redis_url=None)
    with sv.resolve_services(s) as urls:
        assert urls.kafka_url == "kafka://kafka.example:9092"
        assert sv.redis_ready(urls.redis_url)
        port = int(urls.redis_url.rsplit(":", 1)[1].split("/")[0])
    assert not sv.port_open("127.0.0.1", port)


def test_killed_parent_leaves_no_orphans(tmp_path):
    code = textwrap.dedent(f"""
        import json, sys, time
        from pathlib import Path
        from ampere_dev.services import EmbeddedServices
        from ampere.settings import Settings
        svc = EmbeddedServices(Settings(home=Path({str(tmp_path)!r}))).__enter__()
        print(json.dumps(svc.pids), flush=True)
        time.sleep(120)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        pids = list(json.loads(line).values())
        assert len(pids) == 2 and all(alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert wait_dead(pids, timeout=10) == [], "children outlived a SIGKILLed parent"


def test_second_instance_on_same_home_does_not_share_the_aof(tmp_path):
    import redis

    s = Settings(home=tmp_path)
    with sv.EmbeddedServices(s, kafka=False) as a, sv.EmbeddedServices(s, kafka=False) as b:
        ra, rb = redis.Redis.from_url(a.redis_url), redis.Redis.from_url(b.redis_url)
        assert ra.config_get("dir")["dir"] != rb.config_get("dir")["dir"]
        ra.set("only-a", 1)
        assert rb.get("only-a") is None
