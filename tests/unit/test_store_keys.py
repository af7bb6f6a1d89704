"""Keys, filters and schema of ampere.store (no Redis needed)."""

import numpy as np
import pytest

from ampere.errors import QueryError
from ampere.settings import RedisOptions, Settings
from ampere.store import Blobs, Keys
from ampere.store.index import build_filter, load_schema, vec_bytes

HOSTILE = ["a|b", "x}", "@domain:{page}", "with space", "café 商品", "-neg", "q\"uo'te", "back\\slash", "(p)*", "a,b"]


def test_keys_are_deterministic_prefixed_and_share_a_hash_tag_per_stream():
    k = Keys("shop1")
    assert k.item("page", "p1") == "shop1:item:page:p1"
    assert k.live("s1", 12.0) == "shop1:item:live:{s1}:12000"
    # float jitter from a replay maps to the same key
    assert k.live("s1", 12.0000001) == k.live("s1", 12.0)
    assert k.live("s1", 12.5) != k.live("s1", 12.0)
    stream_keys = [k.live("s1", 4), k.blob("s1", 4), k.journal("s1"), k.facts("s1", 4), k.now("s1"), k.tags("s1")]
    # one Redis Cluster slot: the hash tag is the part between the first { and the next }
    assert {key[key.index("{") : key.index("}") + 1] for key in stream_keys} == {"{s1}"}
    assert all(key.startswith("shop1:") for key in stream_keys + [k.on_air("p1"), k.names])
    # two deployments never share a key
    assert not set(stream_keys) & {Keys("shop2").live("s1", 4), Keys("shop2").now("s1")}


@pytest.mark.parametrize("bad", [("shop", "x"), ("page", "")])
def test_item_key_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        Keys().item(*bad)


@pytest.mark.parametrize("start", [-1.0, float("nan"), float("inf")])
def test_live_key_rejects_bad_start(start):
    with pytest.raises(ValueError):
        Keys().live("s", start)


@pytest.mark.parametrize("stream", ["", "a}b", "{x}", "with space", "x" * 200, "a\nb"])
def test_stream_ids_that_could_break_a_key_or_its_hash_tag_are_refused(stream):
    with pytest.raises(ValueError, match="stream id"):
        Keys().now(stream)


def test_filters_are_redisvl_expressions_with_values_escaped():
    expr = str(
        build_filter(["page", "video"], exclude_stream="s 1", tags={"product_id": "a|b"}, numeric={"start": (1, None)})
    )
    assert "@domain:{page|video}" in expr
    assert "-@stream_id:{s\\ 1}" in expr
    assert "@product_id:{a\\|b}" in expr
    assert "@start:[1" in expr
    assert build_filter() is None


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_tag_values_leave_no_bare_syntax(value):
    expr = str(build_filter(tags={"product_id": value}))
    inner = expr[expr.index("{") + 1 : expr.rindex("}")]
    i, bare = 0, []
    while i < len(inner):  # every ASCII punctuation or space inside the braces is escaped
        if inner[i] == "\\":
            i += 2
            continue
        if inner[i].isascii() and not inner[i].isalnum() and inner[i] != "_":
            bare.append(inner[i])
        i += 1
    assert bare == []


def test_filter_validation():
    with pytest.raises(QueryError, match="not a TAG field"):
        build_filter(tags={"title": "x"})
    with pytest.raises(QueryError, match="not a NUMERIC"):
        build_filter(numeric={"domain": (0, 1)})
    with pytest.raises(QueryError):
        build_filter(domains=["shop"])
    with pytest.raises((QueryError, ValueError)):
        build_filter(numeric={"start": ("1] @domain:{x", None)})
    with pytest.raises(QueryError, match="control"):
        build_filter(tags={"product_id": "a\nb"})


def test_schema_takes_name_prefix_and_ef_runtime_from_settings():
    opts = RedisOptions(prefix="idx-x", ef_runtime=123)
    schema = load_schema(opts.prefix, opts.ef_runtime)
    assert schema["index"]["name"] == "idx-x"
    assert schema["index"]["prefix"] == "idx-x:item:"
    assert schema["index"]["storage_type"] == "hash"
    vec = next(f for f in schema["fields"] if f["name"] == "embedding")
    assert vec["attrs"]["ef_runtime"] == 123
    assert (vec["attrs"]["dims"], vec["attrs"]["distance_metric"], vec["attrs"]["algorithm"]) == (128, "cosine", "hnsw")
    names = {f["name"]: f["type"] for f in schema["fields"]}
    for t in ("item_id", "domain", "product_id", "stream_id", "tag_product"):
        assert names[t] == "tag"
    for t in ("start", "end", "ts", "score"):
        assert names[t] == "numeric"
    assert names["title"] == names["summary"] == "text"
    # the cached base schema is not mutated by overrides
    assert load_schema("other")["index"]["name"] == "other"


def test_schema_is_valid_for_redisvl():
    from redisvl.schema import IndexSchema

    s = IndexSchema.from_dict(load_schema(Settings().redis.prefix, Settings().redis.ef_runtime))
    assert s.fields["embedding"].attrs.ef_runtime == Settings().redis.ef_runtime


def test_vector_validation():
    assert len(vec_bytes(np.ones(128))) == 128 * 4
    with pytest.raises(ValueError, match="shape"):
        vec_bytes(np.ones(64))
    v = np.ones(128)
    v[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vec_bytes(v)


def test_blobs_validate_before_touching_redis():
    blobs = Blobs(None, Keys().item_prefix, 10)
    with pytest.raises(ValueError, match="prefix"):
        blobs.put("ampere:item:page:x", {"a": b"1"})
    with pytest.raises(TypeError):
        blobs.put("ampere:blob:x", {"a": "text"})
    with pytest.raises(ValueError, match="ttl"):
        Blobs(None, Keys().item_prefix, 0)
