"""ampere.index against a real Redis with RediSearch (the session `services` fixture)."""
import time

import numpy as np
import pytest

from ampere import index as ix

pytestmark = pytest.mark.integration

HOSTILE = ["a|b", "x}", "@domain:{page}", "with space", "café 商品", "-neg", "q\"uo'te", "back\\slash", "(p)*"]


@pytest.fixture(scope="module")
def r(services):
    # the index prefix is shared by every index in this Redis: start and leave it empty
    client = ix.connect(services.redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(settings_for, r):
    s = settings_for(ef_runtime=50)
    ix.create_index(r, s)
    yield s
    r.execute_command("FT.DROPINDEX", s.index_name, "DD")  # drop docs too: next test starts clean


def unit_vectors(n, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_create_index_is_idempotent_and_sets_ef_runtime(r, settings):
    ix.create_index(r, settings)  # second call: no error
    ix.create_index(r, settings, overwrite=True)
    info = r.execute_command("FT.INFO", settings.index_name)  # RESP3 dict
    assert info[b"index_definition"][b"prefixes"] == [b"item:"]
    vec = next(a for a in info[b"attributes"] if a[b"identifier"] == b"embedding")
    assert (vec[b"algorithm"], vec[b"distance_metric"], vec[b"dim"], vec[b"data_type"]) == (b"HNSW", b"COSINE", 128, b"FLOAT32")


def test_knn_returns_nearest_and_filters(r, settings):
    vs = unit_vectors(60)
    items = []
    for i in range(60):
        dom = ("page", "video", "live")[i % 3]
        extra = {"stream_id": f"s{i % 2}", "start": float(i), "end": float(i + 8)} if dom == "live" else {}
        items.append(dict(domain=dom, id=f"x{i}", vector=vs[i], product_id=f"prod{i // 3}", title=f"item {i}", **extra))
    assert ix.upsert_many(r, items, chunk=16) == 60

    q = vs[7] + 0.05 * unit_vectors(1, seed=9)[0]
    hits = ix.knn(r, q, 5, settings=settings)
    assert hits[0].key == "item:video:x7" and hits[0].id == "x7" and hits[0].product_id == "prod2"
    assert 0.9 < hits[0].score <= 1.0001
    assert [h.score for h in hits] == sorted([h.score for h in hits], reverse=True)
    # exhaustive check of the top hit against numpy
    assert int(np.argmax(vs @ q)) == 7

    pages = ix.knn(r, q, 5, domains=["page"], settings=settings)
    assert pages and all(h.domain == "page" for h in pages)
    live = ix.knn(r, vs[2], 20, domains="live", exclude_stream="s0", settings=settings)
    assert live and all(h.stream_id == "s1" for h in live)
    assert ix.knn(r, vs[2], 3, tags={"product_id": "prod0"}, settings=settings)[0].key == "item:live:x2"
    ranged = ix.knn(r, q, 60, numeric={"start": (10, 20)}, settings=settings)
    assert ranged and all(10 <= float(h.fields["start"]) <= 20 for h in ranged)


@pytest.mark.parametrize("protocol", [2, 3])
def test_hostile_tag_values_match_exactly(services, settings, protocol):
    import redis

    client = redis.Redis.from_url(services.redis_url, protocol=protocol)
    vs = unit_vectors(len(HOSTILE), seed=3)
    for i, h in enumerate(HOSTILE):
        ix.upsert_item(client, "page", f"h{i}", vs[i], product_id=h)
    for i, h in enumerate(HOSTILE):
        hits = ix.knn(client, vs[0], 20, tags={"product_id": h}, settings=settings)
        assert [x.product_id for x in hits] == [h], h
    # a value crafted to widen the filter must match nothing
    assert ix.knn(client, vs[0], 20, tags={"product_id": "a|x}|*"}, settings=settings) == []
    client.close()


def test_deterministic_keys_overwrite(r, settings):
    vs = unit_vectors(2, seed=5)
    k1 = ix.upsert_live(r, "st", 4.0, 12.0, vs[0], summary="first")
    k2 = ix.upsert_live(r, "st", 4.0000001, 12.0, vs[1], summary="second")
    assert k1 == k2 == "item:live:st:4000"
    hits = ix.knn(r, vs[1], 10, settings=settings)
    assert len(hits) == 1 and hits[0].fields["summary"] == "second" and hits[0].score > 0.999
    # an explicit None drops a stale field
    ix.upsert_live(r, "st", 4.0, 12.0, vs[1], summary=None)
    assert r.hget(k1, "summary") is None


def test_blob_roundtrip_and_ttl(r):
    ix.put_blob(r, "blob:w1", {"audio": b"\x00\x01" * 1000, "frame0": b"\xff\xd8jpeg"}, ttl_s=1)
    got = ix.get_blob(r, "blob:w1")
    assert got == {"audio": b"\x00\x01" * 1000, "frame0": b"\xff\xd8jpeg"}
    assert 0 < r.pttl("blob:w1") <= 1000
    ix.put_blob(r, "blob:w1", {"audio": b"new"}, ttl_s=1)  # replaces, not merges
    assert ix.get_blob(r, "blob:w1") == {"audio": b"new"}
    time.sleep(1.2)
    assert ix.get_blob(r, "blob:w1") is None
    assert ix.get_blob(r, "blob:never") is None


def test_tag_state_history_now_and_appearances(r, settings):
    vs = unit_vectors(4, seed=7)
    for i, start in enumerate((0.0, 4.0, 8.0)):
        ix.upsert_live(r, "live 1", start, start + 8, vs[i])
    ix.upsert_item(r, "video", "v1", vs[3], product_id="P|1", title="demo video")
    cands = [("P|1", 0.9), ("P2", 0.5)]
    ix.record_tag(r, "live 1", 0.0, 8.0, "P2", 0.6, cands)
    ix.record_tag(r, "live 1", 8.0, 16.0, "P|1", 0.9, cands)
    ix.record_tag(r, "live 1", 4.0, 12.0, "P|1", 0.8, cands)  # late window: must not move "now" back
    ix.record_tag(r, "live 1", 4.0, 12.0, "P|1", 0.85, cands)  # replay: replaces, no duplicate

    now = ix.stream_now(r, "live 1")
    assert (now["product_id"], now["start"], now["score"], now["ended"]) == ("P|1", 8.0, 0.9, False)
    assert now["candidates"][0] == {"product_id": "P|1", "score": 0.9}
    hist = ix.stream_history(r, "live 1")
    assert [(h["start"], h["product_id"]) for h in hist] == [(0.0, "P2"), (4.0, "P|1"), (8.0, "P|1")]
    assert hist[1]["score"] == 0.85
    assert ix.stream_now(r, "nope") is None

    app = ix.product_appearances(r, "P|1", settings=settings)
    assert app["live_now"] == [{"stream_id": "live 1", "start": 8.0, "end": 16.0, "score": 0.9}]
    assert [(w["stream_id"], w["start"]) for w in app["live_before"]] == [("live 1", 4.0), ("live 1", 8.0)]
    assert [v["id"] for v in app["videos"]] == ["v1"]
    assert ix.product_appearances(r, "P2", settings=settings)["live_now"] == []

    # "live now" is read from a per-product set that follows each stream's current tag
    assert r.smembers(ix.on_air_key("P|1")) == {b"live 1"} and r.smembers(ix.on_air_key("P2")) == set()
    r.sadd(ix.on_air_key("P2"), "live 1")  # a stale member (say, a crash between the two writes)
    assert ix.product_appearances(r, "P2", settings=settings)["live_now"] == []
    assert r.smembers(ix.on_air_key("P2")) == set()  # dropped on read

    ix.end_stream(r, "live 1")
    assert ix.stream_now(r, "live 1")["ended"] is True
    assert ix.product_appearances(r, "P|1", settings=settings)["live_now"] == []
    assert r.smembers(ix.on_air_key("P|1")) == set()


def test_summarize_stage_hands_facts_from_window_to_window(r, settings):
    """The live path's summarize stage reads the facts the stream's previous window left in Redis and
    leaves its own; a replayed window finds the same context again (keys are per window start)."""
    from ampere.pipeline import Models, summarize
    from ampere.records import Transcribed
    from ampere.summarize import Summary

    seen = []

    class Recorder:  # stands in for the LLM: echoes what it was given, so the hand-over is visible
        def summarize(self, text, before=None):
            seen.append(before)
            return Summary(text, 1.0, "rec", facts=f"brand: {text}")

    models = Models(settings)
    models._summarizer = Recorder()
    hop = settings.hop_s

    def rec(start, text):
        return Transcribed(stream_id="s-facts", start=start, end=start + settings.window_s, blob_key="",
                           n_frames=0, closed_at=time.time(), text=text)

    summarize(r, rec(0.0, "One"), models)
    summarize(r, rec(hop, "Two"), models)
    summarize(r, rec(2 * hop, "Three"), models)
    summarize(r, rec(hop, "Two"), models)  # replayed
    assert seen == [None, "brand: One", "brand: Two", "brand: One"]
    assert ix.get_facts(r, "s-facts", 2 * hop) == "brand: Three"
    assert r.ttl(ix.facts_key("s-facts", 0.0)) > 0


def test_transcripts_are_corrected_towards_the_catalogues_names_in_redis(r, settings):
    from ampere.pipeline import Models, transcribe
    from ampere.records import WindowReady

    class Heard:  # stands in for Whisper: what tiny.en made of "Open Shore Wolf 20"
        def transcribe(self, pcm):
            return type("T", (), {"text": "check out the open short world twenty chair", "no_speech_prob": 0.0,
                                  "asr_ms": 1.0})()

    r.delete(ix.names_key(settings))
    models = Models(settings.model_copy(update={"names_refresh_s": 0.0}))
    models._transcriber = Heard()
    win = WindowReady(stream_id="s-names", start=0.0, end=8.0, blob_key="blob:s-names:0", n_frames=0,
                      closed_at=time.time())
    ix.put_blob(r, win.blob_key, {"audio": np.zeros(160, "<i2").tobytes()}, 60)
    before = transcribe(r, win, models)
    assert before.text == "check out the open short world 20 chair"  # no catalogue yet: numbers only
    assert ix.add_names(r, ["Open Shore", "Wolf 20", "Open Shore Wolf 20"], settings) == 3
    after = transcribe(r, win, models)  # refresh 0 s: the names added meanwhile are read
    assert after.text == "check out the Open Shore Wolf 20 chair"
    assert after.raw_text == "check out the open short world twenty chair"
    models.settings.name_correction = False
    assert transcribe(r, win, models).text == after.raw_text
