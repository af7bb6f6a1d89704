"""ampere.store against a real Redis with RediSearch (the session `services` fixture)."""

import time

import numpy as np
import pytest
import redis

from ampere.store import Store

pytestmark = pytest.mark.integration

HOSTILE = ["a|b", "x}", "@domain:{page}", "with space", "café 商品", "-neg", "q\"uo'te", "back\\slash", "(p)*"]


@pytest.fixture
def settings(settings_for):
    return settings_for(redis={"ef_runtime": 50})


@pytest.fixture
def store(services, settings):
    st = Store.connect(services.redis_url, settings.redis)
    st.index.create()
    yield st
    st.index.drop(with_documents=True)  # next test starts clean
    st.r.close()


def unit_vectors(n, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_create_index_is_idempotent_and_sets_ef_runtime(store, settings):
    store.index.create()  # second call: no error
    store.index.create(overwrite=True)
    info = store.r.execute_command("FT.INFO", store.index.name)
    definition = info[b"index_definition"]
    definition = dict(zip(definition[::2], definition[1::2])) if isinstance(definition, list) else definition
    assert definition[b"prefixes"] == [f"{settings.redis.prefix}:item:".encode()]
    vec = next(a for a in info[b"attributes"] if a[b"identifier"] == b"embedding")
    assert (vec[b"algorithm"], vec[b"distance_metric"], vec[b"dim"]) == (b"HNSW", b"COSINE", 128)


def test_knn_returns_nearest_and_filters(store):
    ix = store.index
    vs = unit_vectors(60)
    items = []
    for i in range(60):
        dom = ("page", "video", "live")[i % 3]
        extra = {"stream_id": f"s{i % 2}", "start": float(i), "end": float(i + 8)} if dom == "live" else {}
        items.append(dict(domain=dom, id=f"x{i}", vector=vs[i], product_id=f"prod{i // 3}", title=f"item {i}", **extra))
    assert ix.upsert_many(items, chunk=16) == 60

    q = vs[7] + 0.05 * unit_vectors(1, seed=9)[0]
    hits = ix.knn(q, 5)
    assert hits[0].key == store.keys.item("video", "x7") and hits[0].id == "x7" and hits[0].product_id == "prod2"
    assert 0.9 < hits[0].score <= 1.0001
    assert [h.score for h in hits] == sorted([h.score for h in hits], reverse=True)
    assert int(np.argmax(vs @ q)) == 7  # exhaustive check of the top hit against numpy

    pages = ix.knn(q, 5, domains=["page"])
    assert pages and all(h.domain == "page" for h in pages)
    live = ix.knn(vs[2], 20, domains="live", exclude_stream="s0")
    assert live and all(h.stream_id == "s1" for h in live)
    assert ix.knn(vs[2], 3, tags={"product_id": "prod0"})[0].key == store.keys.item("live", "x2")
    ranged = ix.knn(q, 60, numeric={"start": (10, 20)})
    assert ranged and all(10 <= float(h.fields["start"]) <= 20 for h in ranged)


@pytest.mark.parametrize("protocol", [2, 3])
def test_hostile_tag_values_match_exactly(services, store, settings, protocol):
    client = redis.Redis.from_url(services.redis_url, protocol=protocol)
    st = Store.of(client, settings.redis)  # a RESP3 client works too: the index reads over RESP2
    vs = unit_vectors(len(HOSTILE), seed=3)
    for i, h in enumerate(HOSTILE):
        st.index.upsert("page", f"h{i}", vs[i], product_id=h)
    for h in HOSTILE:
        hits = st.index.knn(vs[0], 20, tags={"product_id": h})
        assert [x.product_id for x in hits] == [h], h
    # a value crafted to widen the filter must match nothing
    assert st.index.knn(vs[0], 20, tags={"product_id": "a|x}|*"}) == []
    client.close()


def test_text_candidates_find_titles_by_words_and_ignore_query_syntax(store):
    vs = unit_vectors(3, seed=4)
    store.index.upsert("page", "a", vs[0], product_id="A", title="Zorvik 40 cotton handbag, grey, $49.99")
    store.index.upsert("page", "b", vs[1], product_id="B", title="Mellora Tey suede backpack, $120")
    store.index.upsert("video", "c", vs[2], product_id="A", title="Zorvik 40 cotton handbag")
    hits = store.index.text_candidates(["zorvik", "40", "@domain:{video}", "*"], k=5)
    assert [h.product_id for h in hits] == ["A"] and hits[0].domain == "page"
    assert store.index.text_candidates([], k=5) == []


def test_deterministic_keys_overwrite(store):
    ix = store.index
    vs = unit_vectors(2, seed=5)
    k1 = ix.upsert_live("st", 4.0, 12.0, vs[0], summary="first")
    k2 = ix.upsert_live("st", 4.0000001, 12.0, vs[1], summary="second")
    assert k1 == k2 == store.keys.live("st", 4.0)
    hits = ix.knn(vs[1], 10)
    assert len(hits) == 1 and hits[0].fields["summary"] == "second" and hits[0].score > 0.999
    assert hits[0].id == "st:4000"
    ix.upsert_live("st", 4.0, 12.0, vs[1], summary=None)  # an explicit None drops a stale field
    assert store.r.hget(k1, "summary") is None


def test_blob_roundtrip_and_ttl(services, settings_for):
    st = Store.connect(services.redis_url, settings_for(redis={"blob_ttl_s": 1}).redis)
    key = st.keys.blob("w1", 0.0)
    st.blobs.put(key, {"audio": b"\x00\x01" * 1000, "frame0": b"\xff\xd8jpeg"})
    assert st.blobs.get(key) == {"audio": b"\x00\x01" * 1000, "frame0": b"\xff\xd8jpeg"}
    assert 0 < st.r.pttl(key) <= 1000
    st.blobs.put(key, {"audio": b"new"})  # replaces, not merges
    assert st.blobs.get(key) == {"audio": b"new"}
    time.sleep(1.2)
    assert st.blobs.get(key) is None
    assert st.blobs.get(st.keys.blob("never", 0.0)) is None


def test_tag_state_history_now_and_appearances(store, settings):
    from ampere.models import Models
    from ampere.search import Search

    ix, streams, k = store.index, store.streams, store.keys
    vs = unit_vectors(4, seed=7)
    for i, start in enumerate((0.0, 4.0, 8.0)):
        ix.upsert_live("live-1", start, start + 8, vs[i])
    ix.upsert("video", "v1", vs[3], product_id="P|1", title="demo video")
    cands = [("P|1", 0.9), ("P2", 0.5)]
    streams.record_tag("live-1", 0.0, 8.0, "P2", 0.6, cands)
    streams.record_tag("live-1", 8.0, 16.0, "P|1", 0.9, cands)
    streams.record_tag("live-1", 4.0, 12.0, "P|1", 0.8, cands)  # late window: must not move "now" back
    streams.record_tag("live-1", 4.0, 12.0, "P|1", 0.85, cands)  # replay: replaces, no duplicate

    now = streams.now("live-1")
    assert (now["product_id"], now["start"], now["score"], now["ended"]) == ("P|1", 8.0, 0.9, False)
    assert now["candidates"][0] == {"product_id": "P|1", "score": 0.9}
    hist = streams.history("live-1")
    assert [(h["start"], h["product_id"]) for h in hist] == [(0.0, "P2"), (4.0, "P|1"), (8.0, "P|1")]
    assert hist[1]["score"] == 0.85
    assert streams.now("nope") is None
    assert 0 < store.r.ttl(k.now("live-1")) and 0 < store.r.ttl(k.tags("live-1"))  # a lost stream expires

    search = Search(store, Models(settings))
    app = search.by_product("P|1")
    assert app["live_now"] == [{"stream_id": "live-1", "start": 8.0, "end": 16.0, "score": 0.9}]
    assert [(w["stream_id"], w["start"]) for w in app["live_before"]] == [("live-1", 4.0), ("live-1", 8.0)]
    assert [v["id"] for v in app["videos"]] == ["v1"]
    assert search.by_product("P2")["live_now"] == []

    # "live now" is read from a per-product set that follows each stream's current tag
    assert store.r.smembers(k.on_air("P|1")) == {b"live-1"} and store.r.smembers(k.on_air("P2")) == set()
    store.r.sadd(k.on_air("P2"), "live-1")  # a stale member (say, a crash between the two writes)
    assert search.by_product("P2")["live_now"] == []
    assert store.r.smembers(k.on_air("P2")) == set()  # dropped on read

    streams.end("live-1", media_t=16.0)
    assert streams.now("live-1")["ended"] is True
    assert search.by_product("P|1")["live_now"] == []
    assert store.r.smembers(k.on_air("P|1")) == set()
    # a window of the ended stream tagged late does not bring it back to life
    streams.record_tag("live-1", 12.0, 16.0, "P|1", 0.9, cands)
    assert streams.now("live-1")["ended"] is True and search.by_product("P|1")["live_now"] == []


def test_summarize_stage_hands_facts_from_window_to_window(store, settings):
    """The live path's summarize stage reads the facts the stream's previous window left in Redis and
    leaves its own; a replayed window finds the same context again (keys are per window start)."""
    from ampere.models import Models
    from ampere.pipeline import Pipeline
    from ampere.records import Transcribed
    from ampere.summarize import Summary

    seen = []

    class Recorder:  # stands in for the LLM: echoes what it was given, so the hand-over is visible
        def summarize(self, text, before=None, names=None, ages=None):
            seen.append(before)
            return Summary(text, 1.0, "rec", facts=f"brand: {text}")

    settings = settings.with_options(summarizer={"skip_unchanged": False})
    models = Models(settings)
    models._loaded["summarizer"] = Recorder()
    pipe = Pipeline(settings, store, models)
    hop = settings.windows.hop_s

    def rec(start, text):
        return Transcribed(
            stream_id="s-facts",
            start=start,
            end=start + settings.windows.window_s,
            blob_key="",
            n_frames=0,
            closed_at=time.time(),
            text=text,
        )

    pipe.summarize(rec(0.0, "One"))
    pipe.summarize(rec(hop, "Two"))
    pipe.summarize(rec(2 * hop, "Three"))
    pipe.summarize(rec(hop, "Two"))  # replayed
    assert seen == [None, "brand: One", "brand: Two", "brand: One"]
    from ampere.pipeline import read_facts

    assert read_facts(store.streams.facts("s-facts", 2 * hop))[0] == "brand: Three"
    assert store.r.ttl(store.keys.facts("s-facts", 0.0)) > 0


def test_transcripts_are_corrected_towards_the_catalogues_names_in_redis(store, settings):
    from ampere.models import Models
    from ampere.pipeline import Pipeline
    from ampere.records import WindowReady

    class Heard:  # stands in for Whisper: what tiny.en made of "Open Shore Wolf 20"
        def transcribe(self, pcm, sample_rate=16000, prompt=None, words=False):
            from ampere.asr import Transcript

            return Transcript("check out the open short world twenty chair", [], 0.0, 1.0, 1.0)

    settings = settings.with_options(asr={"chunked": False, "bias": "off"})
    fresh = settings.with_options(names={"refresh_s": 1e-6})
    models = Models(fresh)
    models._loaded["asr"] = Heard()
    pipe = Pipeline(fresh, store, models)
    win = WindowReady(
        stream_id="s-names",
        start=0.0,
        end=8.0,
        blob_key=store.keys.blob("s-names", 0.0),
        n_frames=0,
        closed_at=time.time(),
    )
    store.blobs.put(win.blob_key, {"audio": np.zeros(160, "<i2").tobytes()})
    before = pipe.transcribe(win)
    assert before.text == "check out the open short world 20 chair"  # no catalogue yet: numbers only
    assert store.index.add_names(["Open Shore", "Wolf 20", "Open Shore Wolf 20"]) == 3
    after = pipe.transcribe(win)  # refresh ~0 s: the names added meanwhile are read
    assert after.text == "check out the Open Shore Wolf 20 chair"
    assert after.raw_text == "check out the open short world twenty chair"
    off = settings.with_options(names={"correction": False})
    models_off = Models(off)
    models_off._loaded["asr"] = Heard()
    assert Pipeline(off, store, models_off).transcribe(win).text == after.raw_text
