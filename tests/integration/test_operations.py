"""Operating the system: the embedded Redis's password, services restarted in place, `ampere dead-letters`
(list by category, re-drive the transient ones once), `ampere replay` failing loudly and resuming."""

import io
import json
import os
import stat
import threading
import time
import uuid

import pytest
import redis

from ampere.broker import consume, ensure_topics, make_producer, topic_names
from ampere.records import DeadLetter, WindowReady, decode
from ampere.settings import Settings
from ampere_dev import services as sv

pytestmark = pytest.mark.integration


def test_embedded_redis_requires_its_generated_password_and_restarts_in_place(tmp_path):
    s = Settings(home=tmp_path)
    with sv.EmbeddedServices(s, kafka=False) as svc:
        url = svc.redis_url
        assert url.startswith("redis://:") and "@127.0.0.1:" in url
        anonymous = redis.Redis(host="127.0.0.1", port=int(url.rsplit(":", 1)[1].split("/")[0]))
        with pytest.raises(redis.AuthenticationError):
            anonymous.set("k", "v")
        r = redis.Redis.from_url(url)
        r.set("k", "v")
        password = url.split(":")[2].split("@")[0]
        assert password not in " ".join(open(f"/proc/{svc.pids['redis']}/cmdline").read().split("\0"))
        assert stat.S_IMODE(os.stat(tmp_path / "services" / "redis-auth.conf").st_mode) == 0o600
        svc.stop_service("redis")
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        svc.start_service("redis")  # same port, same password, its AOF replayed
        assert redis.Redis.from_url(url).get("k") == b"v" and svc.redis_url == url
        svc.pause_service("redis")
        with pytest.raises(redis.TimeoutError):
            redis.Redis.from_url(url, socket_timeout=0.5).ping()
        svc.resume_service("redis")
        assert redis.Redis.from_url(url).ping()


def test_services_up_prints_the_password_once_and_keeps_it_in_a_private_file(tmp_path):
    s = Settings(home=tmp_path)
    out, stop = io.StringIO(), threading.Event()
    t = threading.Thread(target=sv.services_up, args=(s,), kwargs={"out": out, "stop_event": stop})
    t.start()
    try:
        deadline = time.monotonic() + 20
        while sv.running_services(s) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        shared = sv.running_services(s)
        password = shared.redis_url.split(":")[2].split("@")[0]
        assert out.getvalue().count(password) == 1
        assert stat.S_IMODE(os.stat(sv.state_path(s)).st_mode) == 0o600
        with pytest.raises(sv.ServiceError) as exc:
            sv.services_up(s, out=io.StringIO())
        assert password not in str(exc.value) and ":***@" in str(exc.value)
    finally:
        stop.set()
        t.join(20)


@pytest.fixture
def cli(services, tmp_path, monkeypatch):
    """Run `ampere ...` in-process against the test services, on topics of its own."""
    from ampere_cli import main as cli_main

    run = uuid.uuid4().hex[:8]
    settings = Settings(
        home=tmp_path,
        kafka_url=services.kafka_url,
        redis_url=services.redis_url,
        broker={"topic_prefix": f"ops{run}"},
        redis={"prefix": f"ops-{run}"},
    )
    monkeypatch.setattr(cli_main, "_settings", lambda: settings)
    ensure_topics(services.kafka_url, list(topic_names(settings).values()), settings.broker.partitions)

    def run_cli(*argv):
        return cli_main.main(list(argv))

    return settings, run_cli


def test_dead_letters_list_and_replay_of_the_transient_ones(cli, services, capsys):
    settings, run = cli
    window = WindowReady(stream_id="s1", start=8.0, end=16.0, blob_key="k", n_frames=0, closed_at=0.0)
    letters = [
        DeadLetter(
            settings.topic("windows"),
            0,
            3,
            "transient: window s1:8000: still failing after 60 s: ConnectionError: Connection refused",
            window.encode(),
            b"s1",
        ),
        DeadLetter(
            settings.topic("media"),
            1,
            9,
            "bad-media: audio s1#9 at 9.000 s (window s1:8000): stereo",
            b"\x81\xa1v\x01",
            b"s1",
        ),
        DeadLetter(settings.topic("media"), 1, 10, "bad-record: record m[1]@10: not a msgpack record", b"x", b"s1"),
    ]
    p = make_producer(services.kafka_url, settings)
    for d in letters:
        p.send(settings.topic("dead-letter"), key=d.key, value=d.encode()).get(10)
    p.close()

    assert run("dead-letters", "list", "--timeout", "2") == 0
    out = capsys.readouterr().out
    assert "3 dead letters" in out
    for cat in ("transient", "bad-media", "bad-record"):
        assert f"1  {cat}" in out

    assert run("dead-letters", "replay", "--timeout", "2") == 0
    assert "re-drove 1 dead letters matching transient:" in capsys.readouterr().out
    redriven = [decode(m.value) for m in consume(services.kafka_url, settings.topic("windows"), timeout_s=2)]
    assert [r.window_id for r in redriven] == ["s1:8000"]
    # a second run resumes after what the first one re-drove
    assert run("dead-letters", "replay", "--timeout", "2") == 0
    assert "re-drove 0 dead letters" in capsys.readouterr().out
    assert (
        run("dead-letters", "replay", "--reason-prefix", "bad-media:", "--since", "1h", "--dry-run", "--timeout", "2")
        == 0
    )
    assert "would re-drive 1 dead letters matching bad-media:" in capsys.readouterr().out


def test_replay_fails_loudly_when_nothing_is_delivered_and_resumes_where_it_stopped(
    cli, services, capsys, monkeypatch, tmp_path
):
    from ampere.replay import progress_path
    from ampere_dev.derive import ensure_dataset

    settings, run = cli
    data = ensure_dataset(Settings(), "tiny", 0, progress=print)
    src = str(data / "live" / "live001.mp4")
    dead = settings.model_copy(
        update={
            "kafka_url": f"kafka://u:hunter2@127.0.0.1:{sv.free_port()}",
            "broker": settings.broker.model_copy(update={"security_protocol": "PLAINTEXT"}),
        }
    )
    from ampere_cli import main as cli_main

    monkeypatch.setattr(cli_main, "_settings", lambda: dead)
    assert run("replay", src, "--stream", "s-dead", "--fast") == 2
    err = capsys.readouterr().err
    assert "error: s-dead: nothing replayed" in err and "hunter2" not in err

    monkeypatch.setattr(cli_main, "_settings", lambda: settings)
    path = progress_path(settings, "s-res")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"complete": False, "resume_from": 50}))  # what a failed replay leaves
    assert run("replay", src, "--stream", "s-res", "--fast", "--resume") == 0
    times = sorted(
        getattr(r, "t0", getattr(r, "t", None))
        for r in (decode(m.value) for m in consume(services.kafka_url, settings.topic("media"), timeout_s=2))
    )
    assert times[0] >= 50 and times[-1] > 62  # from media second 50 to the end
    assert json.loads(path.read_text())["complete"] is True
    capsys.readouterr()
    assert run("replay", src, "--stream", "s-res", "--fast", "--resume") == 0
    assert "nothing to resume" in capsys.readouterr().err


def test_a_stream_that_stops_being_tagged_leaves_live_now_by_itself(services, settings_for):
    """A stream whose end never arrives (its replay failed, the broker lost it) must not stay live forever."""
    from ampere.store import Store

    settings = settings_for(redis={"live_stale_s": 60, "now_ttl_s": 600})
    st = Store.connect(services.redis_url, settings.redis)
    now = time.time()
    st.streams.record_tag("lost", 0.0, 8.0, "p1", 0.9, ts=now - 300)  # last tagged five minutes ago
    st.streams.record_tag("alive", 0.0, 8.0, "p1", 0.8, ts=now)
    assert [s["stream_id"] for s in st.streams.live_now("p1")] == ["alive"]
    assert st.streams.now("lost")["stale"] and not st.streams.now("alive")["stale"]
    assert 0 < st.r.ttl(st.keys.now("lost")) <= 600


def test_redis_acl_users_and_tls_urls_reach_the_store(services, settings_for):
    """AUTH with an ACL user works through the store (RedisVL included); a rediss:// URL keeps TLS and the retry
    policy through the RESP2 pool the store builds (this redis-server has no TLS to test a handshake against)."""
    from ampere.store import Store
    from ampere.store.index import connect

    settings = settings_for()
    admin = redis.Redis.from_url(services.redis_url)
    user, pw = f"ampere-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    admin.acl_setuser(user, enabled=True, passwords=[f"+{pw}"], keys=["*"], channels=["*"], commands=["+@all"])
    try:
        host_port = services.redis_url.rsplit("@", 1)[-1]
        st = Store.connect(f"redis://{user}:{pw}@{host_port}", settings.redis)
        st.index.create()
        st.index.add_names(["Open Shore Wolf 20"])
        assert st.index.names() == ["Open Shore Wolf 20"]
        st.index.drop(with_documents=True)
        with pytest.raises(redis.AuthenticationError):
            Store.connect(f"redis://{user}:wrong@{host_port}", settings.redis).r.ping()
    finally:
        admin.acl_deluser(user)
    r = connect("rediss://u:p@127.0.0.1:1/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem&protocol=3")
    kw = r.connection_pool.connection_kwargs
    assert r.connection_pool.connection_class.__name__ == "SSLConnection"
    assert (kw["username"], kw["password"], kw["ssl_ca_certs"], kw["protocol"]) == ("u", "p", "/etc/ca.pem", 2)
    assert kw["retry"].get_retries() == settings.retry.redis_retries
