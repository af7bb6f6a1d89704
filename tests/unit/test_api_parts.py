"""Parts of the API and of the worker's metrics that need no services: the live feed's fan-out and its bounds,
server-sent event framing, upload decoding, request validation, worker metrics and health, the new CLI options."""

import asyncio
import io
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from fastapi import HTTPException
from PIL import Image
from pydantic import ValidationError

from ampere.api.live import OVERFLOW, TagHub, event_stream, sse
from ampere.api.models import FilterParams, TextSearch
from ampere.api.routes import decode_image
from ampere.errors import QueryError
from ampere.search import Filters, parse_item_id


def run(coro):
    return asyncio.run(coro)


def no_feed():
    async def subscribe(channel):
        yield None
        await asyncio.Event().wait()

    return subscribe


def test_the_hub_fans_out_per_stream_and_drops_a_client_that_falls_behind():
    async def main():
        drops = []
        hub = TagHub(no_feed(), "p:tags", queue_size=3, on_drop=lambda: drops.append(1))
        every, one, slow = hub.add(), hub.add("s1"), hub.add()
        for i in range(3):
            await hub.publish_raw(json.dumps({"type": "tag", "stream_id": "s1" if i % 2 == 0 else "s2", "n": i}))
        # the fast clients read as they go; `slow` never does
        got_every = [every.queue.get_nowait()["n"] for _ in range(3)]
        got_one = [one.queue.get_nowait()["n"] for _ in range(2)]
        await hub.publish({"type": "tag", "stream_id": "s1", "n": 3})
        assert got_every == [0, 1, 2] and got_one == [0, 2]
        assert slow.dropped and slow not in hub.clients and drops == [1]
        assert slow.queue.qsize() == 1 and slow.queue.get_nowait() is OVERFLOW  # its buffer was let go
        assert every.queue.get_nowait()["n"] == 3 and every in hub.clients
        await hub.publish_raw(b"not json")  # ignored
        await hub.publish_raw(b'{"no": "stream"}')
        assert every.queue.empty()
        await hub.stop()
        assert every.dropped and not hub.clients

    run(main())


def test_the_hub_refuses_clients_beyond_its_limit_and_enriches_once_per_event():
    async def main():
        calls = []

        async def enrich(ev):
            calls.append(ev["stream_id"])
            return {**ev, "product": {"title": "T"}}

        hub = TagHub(no_feed(), "c", enrich=enrich, max_clients=2)
        a, b = hub.add(), hub.add()
        with pytest.raises(OverflowError):
            hub.add()
        await hub.publish({"type": "tag", "stream_id": "s"})
        assert calls == ["s"] and a.queue.get_nowait()["product"] == {"title": "T"} == b.queue.get_nowait()["product"]

    run(main())


def test_the_hub_resubscribes_after_the_feed_breaks():
    async def main():
        attempts = []

        async def flaky(channel):
            attempts.append(1)
            if len(attempts) == 1:
                raise ConnectionError("redis went away")
            yield None
            yield b'{"type": "tag", "stream_id": "s"}'
            await asyncio.Event().wait()

        hub = TagHub(flaky, "c")
        c = hub.add()
        hub.start()
        ev = await asyncio.wait_for(c.queue.get(), timeout=5)
        assert ev["stream_id"] == "s" and hub.connected and len(attempts) == 2
        await hub.stop()

    run(main())


def test_an_event_stream_starts_with_a_snapshot_keeps_alive_and_ends_on_overflow():
    async def main():
        hub = TagHub(no_feed(), "c", queue_size=10)
        c = hub.add("s1")

        async def snapshot():
            return {"streams": []}

        gen = event_stream(hub, c, snapshot, keepalive_s=0.05)
        assert await gen.__anext__() == "retry: 2000\n\n"
        assert await gen.__anext__() == 'event: snapshot\ndata: {"streams":[]}\n\n'
        assert (await gen.__anext__()).startswith(": keep-alive")
        await hub.publish({"type": "end", "stream_id": "s1", "ts": 5})
        assert (await gen.__anext__()).startswith("event: end\nid: s1:5\n")
        hub._drop(c)
        assert (await gen.__anext__()).startswith("event: overflow")
        with pytest.raises(StopAsyncIteration):
            await gen.__anext__()
        assert c not in hub.clients

    run(main())


def test_sse_framing_keeps_data_on_data_lines():
    assert sse("tag", {"a": "x\ny"}) == 'event: tag\ndata: {"a":"x\\ny"}\n\n'


def test_uploads_are_decoded_bounded_or_refused():
    buf = io.BytesIO()
    Image.new("RGB", (2000, 1000), (10, 200, 30)).save(buf, "JPEG")
    arr = decode_image(buf.getvalue(), max_pixels=40_000_000)
    assert arr.dtype == np.uint8 and arr.shape[2] == 3 and max(arr.shape[:2]) <= 512
    with pytest.raises(HTTPException) as e:
        decode_image(buf.getvalue(), max_pixels=1_000_000)
    assert e.value.status_code == 413
    for bad in (b"", b"GIF89a nonsense", buf.getvalue()[:200]):
        with pytest.raises(HTTPException) as e:
            decode_image(bad, max_pixels=40_000_000)
        assert e.value.status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "x" * 501},
        {"q": "x", "limit": 0},
        {"q": "x", "offset": 999, "limit": 12},
        {"q": "x", "price_min": 9, "price_max": 1},
        {"q": "x", "price_min": -1},
        {"q": "x", "domain": ["shop"]},
        {"q": "x", "category": ["\x00"]},
        {"q": "x", "unknown": 1},
    ],
)
def test_bad_search_parameters_are_refused(params):
    with pytest.raises(ValidationError):
        TextSearch(**params)


def test_filters_and_live_ids():
    p = FilterParams(domain=["page", "live"], category=["lamp"], price_min=1, live_now=True)
    assert Filters.of(p.domain, categories=p.category, price_min=p.price_min, live_now=p.live_now) == Filters(
        domains=("page", "live"), categories=("lamp",), price_min=1.0, live_now=True
    )
    assert parse_item_id("live", "live-7:a:12000") == ("live-7:a", 12.0)
    assert parse_item_id("page", "p1") == ("p1", None)
    for domain, bad in (("live", "nostart"), ("live", "x:12.5"), ("live", "a}{b:100"), ("page", "a\nb"), ("shop", "x")):
        with pytest.raises(QueryError):
            parse_item_id(domain, bad)


# ---------------------------------------------------------------- the worker's metrics and health


class FakeStages:
    def __init__(self):
        self.sent = []
        self.model_load_s = None

    async def run_in(self, pool, fn, *args):
        return fn(*args)

    async def send(self, stage, key, value):
        self.sent.append(stage)


def test_worker_metrics_time_stages_count_records_and_label_dead_letters_by_category():
    from ampere.records import DeadLetter, Tag, encode_tag_json
    from streamer.metrics import WorkerMetrics, instrument

    st = FakeStages()
    m = instrument(st, WorkerMetrics())

    def transcribe(x):
        return x + 1

    async def main():
        assert await st.run_in("asr", transcribe, 1) == 2
        await st.send("windows", b"s", b"x")
        await st.send(
            "tags", b"s", encode_tag_json(Tag(stream_id="s", start=0, end=8, product_id="p", score=1, e2e_ms=1500))
        )
        await st.send(
            "dead-letter",
            b"s",
            DeadLetter("t", 0, 1, "bad-record: audio s#3: oversized record: 9 bytes > limit 1", b"").encode(),
        )
        await st.send("dead-letter", b"s", DeadLetter("t", 0, 2, "a user's free text " * 5, b"").encode())

    run(main())
    text = m.render().decode()
    assert 'ampere_stage_seconds_count{stage="transcribe"} 1.0' in text
    assert "ampere_windows_in_total 1.0" in text and "ampere_windows_out_total 1.0" in text
    assert 'ampere_dead_letters_total{category="bad-record"} 1.0' in text
    assert 'ampere_dead_letters_total{category="other"} 1.0' in text and "free text" not in text
    assert "ampere_e2e_seconds_sum 1.5" in text and st.sent == ["windows", "tags", "dead-letter", "dead-letter"]


def test_the_worker_health_server_says_ready_once_models_are_loaded_and_partitions_assigned():
    from streamer.metrics import HealthServer, WorkerMetrics, instrument

    st = FakeStages()
    m = instrument(st, WorkerMetrics())
    server = HealthServer(m, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.port}"

    def get(path):
        try:
            with urllib.request.urlopen(base + path, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    try:
        assert get("/healthz") == (200, b'{"status":"ok"}')
        code, body = get("/readyz")
        assert code == 503 and json.loads(body) == {
            "ready": False,
            "models_loaded": False,
            "consumer_assigned": False,
            "assigned_partitions": 0,
        }
        st.model_load_s = {"asr": 0.5, "embedder": 0.2}
        m.on_assigned({("ampere.media", 0), ("ampere.media", 1)})
        code, body = get("/readyz")
        assert code == 200 and json.loads(body)["assigned_partitions"] == 2
        metrics = get("/metrics")[1].decode()
        assert 'ampere_model_load_seconds{model="asr"} 0.5' in metrics and "ampere_models_loaded 1.0" in metrics
        assert "process_cpu_seconds_total" in metrics
        assert get("/nope")[0] == 404
    finally:
        server.stop()


def test_the_worker_metrics_are_off_unless_a_port_is_set():
    from ampere.settings import Settings
    from streamer.metrics import setup

    assert setup(app=None, stages=FakeStages(), opts=Settings().worker) is None
    assert Settings().worker.metrics_port == 0 and Settings().worker.metrics_host == "127.0.0.1"


# ---------------------------------------------------------------- the command line


def test_the_new_commands_and_options_have_help():
    from ampere_cli.main import build_parser

    p = build_parser()
    args = p.parse_args(["serve"])
    assert (args.host, args.port, args.workers, args.access_log) == (None, None, None, False)
    assert p.parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "2"]).port == 9000
    r = p.parse_args(["replay", "x.mp4", "--stream", "s", "--wait", "--timeout", "30"])
    assert r.wait and r.timeout == 30.0
    assert p.parse_args(["services", "up", "--fresh"]).fresh
    assert p.parse_args(["demo", "--keep-serving"]).keep_serving
    sub = next(a for a in p._actions if a.dest == "cmd")
    up = next(a for a in sub.choices["services"]._actions if a.dest == "action").choices["up"]
    for parser in (sub.choices["serve"], sub.choices["replay"], sub.choices["demo"], up):
        for action in parser._actions:
            assert action.help, (parser.prog, action.dest)


def test_the_view_cache_drops_views_by_tag_and_by_age():
    import time as _time

    from ampere.api.app import ViewCache

    c = ViewCache(ttl_s=0.2)
    c.put(("stream", "s1"), b"a", ["stream:s1"])
    c.put(("product", "p1"), b"b", ["product:p1", "stream:s1"])
    c.put(("product", "p2"), b"c", ["product:p2"])
    assert c.get(("product", "p1")) == b"b"
    c.invalidate("stream:s1")
    assert c.get(("stream", "s1")) is None and c.get(("product", "p1")) is None and c.get(("product", "p2")) == b"c"
    _time.sleep(0.25)
    assert c.get(("product", "p2")) is None
    small = ViewCache(ttl_s=10, size=2)
    for i in range(3):
        small.put(("k", i), b"x", [f"t{i}"])
    assert small.get(("k", 0)) is None and small.get(("k", 2)) == b"x" and "t0" not in small._by_tag


@pytest.mark.models
def test_batched_query_embeddings_equal_one_at_a_time():
    from concurrent.futures import ThreadPoolExecutor

    from ampere.api.batching import BatchingEmbedder, text_branch_session
    from ampere.models import Models
    from ampere.settings import Settings

    raw = Models(Settings()).embedder
    files = raw.manifest["files"]
    batched = BatchingEmbedder(
        raw,
        max_batch=8,
        max_wait_ms=20,
        text_session=text_branch_session(Settings().embed.model_dir / files["fp32"]["file"]),
    )
    assert batched.text_session is not None
    texts = [f"red oak lamp {i}" for i in range(12)]
    image = np.random.default_rng(0).integers(0, 255, (120, 90, 3), dtype=np.uint8)
    with ThreadPoolExecutor(12) as pool:
        got = list(pool.map(batched.embed_text, texts))
        img = pool.submit(batched.embed, "page", [image], "").result()
    for t, v in zip(texts, got):
        np.testing.assert_allclose(v, raw.embed_text(t), atol=1e-5)
    np.testing.assert_allclose(img.visual, raw.embed("page", [image], "").visual, atol=1e-5)
    assert batched.batches < batched.items  # some queries shared a run
    assert batched.image_size == raw.image_size  # the rest is the wrapped embedder's


def test_replay_wait_counts_this_replays_windows_on_the_grid_and_gives_up_at_its_timeout(monkeypatch, capsys):
    from types import SimpleNamespace

    from ampere.settings import Settings
    from ampere_cli import main as cli

    monkeypatch.setattr("ampere.media.probe_duration", lambda source: 20.0)  # grid: 0, 4, 8, 12 (and 16-20 tail)
    history = [{"start": 0.0, "ts": 50.0}]  # a window tagged by an earlier replay of the same stream id

    class Streams:
        def history(self, stream_id):
            return list(history)

        def now(self, stream_id):
            return {"product_id": "p1"}

    store = SimpleNamespace(streams=Streams())
    calls = {"n": 0}

    def tick(_s):
        calls["n"] += 1
        if calls["n"] <= 5:
            history.append({"start": 4.0 * (calls["n"] - 1), "ts": 1000.0})

    monkeypatch.setattr("time.sleep", tick)
    assert cli._wait_tagged(store, Settings(), "x.mp4", "s1", since=999.0, timeout=30) == 0
    assert "5 windows tagged" in capsys.readouterr().out

    history[:] = [{"start": 0.0, "ts": 1000.0}]
    calls["n"] = 99  # nothing more comes
    assert cli._wait_tagged(store, Settings(), "x.mp4", "s1", since=999.0, timeout=0.01) == 1
    assert "1 of 5 windows tagged" in capsys.readouterr().err


def test_the_new_keys_are_the_deployments_own():
    from ampere.store import Keys

    k = Keys("shop1")
    assert (k.live_streams, k.tags_channel) == ("shop1:live:streams", "shop1:tags")
    assert k.tags_channel != k.tags("s1") and not k.live_streams.startswith(k.item_prefix)
