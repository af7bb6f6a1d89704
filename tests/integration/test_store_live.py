"""What the store adds for the API and frontends: the tag channel, the set of live streams, paging and OR-groups in
KNN, descending finds, and an index made by an older schema being redefined."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import redis

from ampere.errors import QueryError
from ampere.store import Store
from ampere.store.index import load_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def store(services, settings_for):
    st = Store.connect(services.redis_url, settings_for().redis)
    st.index.create()
    yield st
    st.index.drop(with_documents=True)


def unit(n, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_tags_and_ends_are_published_and_live_streams_follow_now(store):
    ps = store.r.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(store.keys.tags_channel)
    time.sleep(0.1)
    streams = store.streams
    assert streams.record_tag("s1", 4.0, 12.0, "p1", 1.5, [("p1", 1.5)])
    assert streams.record_tag("s2", 0.0, 8.0, "p2", 1.0)
    assert not streams.record_tag("s1", 0.0, 8.0, "p1", 1.5)  # a late window: "now" does not move back
    streams.end("s2", 8.0)
    msgs = []
    deadline = time.monotonic() + 5
    while len(msgs) < 4 and time.monotonic() < deadline:
        m = ps.get_message(timeout=0.2)
        if m:
            msgs.append(json.loads(m["data"]))
    ps.close()
    assert [(m["type"], m["stream_id"], m["moved"], m["ended"]) for m in msgs] == [
        ("tag", "s1", True, False),
        ("tag", "s2", True, False),
        ("tag", "s1", False, False),
        ("end", "s2", False, True),
    ]
    assert msgs[0]["product_id"] == "p1" and msgs[0]["start"] == 4.0 and msgs[3]["t"] == 8.0
    live = streams.live_streams()
    assert [n["stream_id"] for n in live] == ["s1"] and live[0]["product_id"] == "p1"
    # a late window of the ended stream does not bring it back
    streams.record_tag("s2", 0.0, 8.0, "p2", 1.0)
    assert [n["stream_id"] for n in streams.live_streams()] == ["s1"]
    # a stale member (its now expired) is dropped on read
    store.r.delete(store.keys.now("s1"))
    assert streams.live_streams() == [] and store.r.zcard(store.keys.live_streams) == 0
    assert [e["start"] for e in streams.history("s2", last=1)] == [0.0] and streams.history("s2", last=0) == []


def test_knn_pages_and_any_of_groups(store):
    vs = unit(40)
    items = [
        {
            "domain": "page" if i % 2 else "live",
            "id": f"x{i}",
            "vector": vs[i],
            "product_id": f"p{i % 4}",
            "stream_id": f"s{i % 3}",
            "title": f"item {i}",
        }
        for i in range(40)
    ]
    store.index.upsert_many(items)
    q = vs[5]
    whole = store.index.knn(q, 12)
    assert store.index.knn(q, 6) + store.index.knn(q, 6, offset=6) == whole
    assert [h.key for h in store.index.knn(q, 4, offset=8)] == [h.key for h in whole[8:12]]
    groups = [{"domain": "page", "product_id": ["p1"]}, {"domain": "live", "stream_id": "s2"}]
    hits = store.index.knn(q, 40, any_of=groups)
    want = {
        it["id"]
        for it in items
        if (it["domain"] == "page" and it["product_id"] == "p1") or (it["domain"] == "live" and it["stream_id"] == "s2")
    }
    assert {h.id for h in hits} == want
    with pytest.raises(QueryError):
        store.index.knn(q, 3, any_of=[])
    with pytest.raises(QueryError):
        store.index.knn(q, 3, offset=-1)
    # hostile values in a group match exactly, never as syntax
    assert store.index.knn(q, 5, any_of=[{"product_id": "p1) | (@domain:{live}"}]) == []


def test_find_descending_and_price_category_filters(store):
    vs = unit(6, seed=2)
    for i in range(6):
        store.index.upsert(
            "page",
            f"g{i}",
            vs[i],
            product_id=f"g{i}",
            title=f"thing {i}",
            price=10.0 * i,
            category="lamp" if i % 2 else "Chair",
        )
    asc = [h.id for h in store.index.find(tags={"domain": "page"}, sort_by="price", limit=10)]
    desc = [h.id for h in store.index.find(tags={"domain": "page"}, sort_by="price", limit=10, asc=False)]
    assert asc == [f"g{i}" for i in range(6)] and desc == asc[::-1]
    chairs = store.index.knn(vs[0], 10, tags={"category": "chair"}, numeric={"price": (15, None)})  # case-insensitive
    assert sorted(h.id for h in chairs) == ["g2", "g4"]


def test_an_index_from_an_older_schema_is_redefined_keeping_its_items(services, settings_for):
    settings = settings_for()
    st = Store.connect(services.redis_url, settings.redis)
    old = load_schema(settings.redis.prefix, settings.redis.ef_runtime)
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("category", "price")]
    from redisvl.index import SearchIndex

    SearchIndex.from_dict(old, redis_client=st.r).create()
    st.index.upsert("page", "a", unit(1)[0], product_id="a", category="lamp", price=5.0)
    assert sorted(st.index.missing_fields()) == ["category", "price"]
    st.index.create()  # what `catalog add` and the API do at start
    assert st.index.missing_fields() == []
    deadline = time.monotonic() + 10
    while not st.index.find(tags={"category": "lamp"}, sort_by=None) and time.monotonic() < deadline:
        time.sleep(0.1)  # re-indexing runs in the background
    assert [h.id for h in st.index.find(tags={"category": "lamp"}, numeric={"price": (1, 9)}, sort_by=None)] == ["a"]
    st.index.drop(with_documents=True)
    with pytest.raises(redis.ResponseError):
        st.r.execute_command("FT.INFO", st.index.name)
