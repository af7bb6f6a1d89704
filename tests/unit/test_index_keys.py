"""Keys, escaping and schema of ampere.index (no Redis needed)."""
import re

import numpy as np
import pytest

from ampere import index as ix
from ampere.settings import Settings

HOSTILE = ["a|b", "x}", "@domain:{page}", "with space", "café 商品", "-neg", "q\"uo'te", "back\\slash", "(p)*", "a,b"]


def test_item_and_live_keys_are_deterministic():
    assert ix.item_key("page", "p1") == "item:page:p1"
    assert ix.live_key("s1", 12.0) == "item:live:s1:12000"
    # float jitter from a replay maps to the same key
    assert ix.live_key("s1", 12.0000001) == ix.live_key("s1", 12.0)
    assert ix.live_key("s1", 12.0) == ix.item_key("live", ix.live_item_id("s1", 12.0))
    assert ix.live_key("s1", 12.5) != ix.live_key("s1", 12.0)


@pytest.mark.parametrize("bad", [("shop", "x"), ("page", "")])
def test_item_key_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        ix.item_key(*bad)


@pytest.mark.parametrize("start", [-1.0, float("nan"), float("inf")])
def test_live_key_rejects_bad_start(start):
    with pytest.raises(ValueError):
        ix.live_key("s", start)


@pytest.mark.parametrize("value", HOSTILE)
def test_escape_tag_leaves_no_bare_syntax(value):
    esc = ix.escape_tag(value)
    # every ASCII punctuation or space is preceded by a backslash
    unescaped = re.sub(r"\\.", "", esc)
    assert re.search(r"[^A-Za-z0-9_\u0080-\U0010FFFF]", unescaped) is None
    # removing the escapes gives the original back
    assert re.sub(r"\\(.)", r"\1", esc) == value


def test_escape_tag_examples():
    assert ix.escape_tag("a|b") == "a\\|b"
    assert ix.escape_tag("x}") == "x\\}"
    assert ix.escape_tag("café 商品") == "café\\ 商品"
    assert ix.escape_tag("plain_id42") == "plain_id42"
    with pytest.raises(ValueError):
        ix.escape_tag("")
    with pytest.raises(ValueError):
        ix.escape_tag("a\nb")


def test_tag_filter_shapes_and_validation():
    assert ix.tag_filter("domain", ["page", "video"]) == "@domain:{page|video}"
    assert ix.tag_filter("stream_id", "s 1", negate=True) == "-@stream_id:{s\\ 1}"
    with pytest.raises(ValueError, match="not a TAG field"):
        ix.tag_filter("title", "x")
    with pytest.raises(ValueError):
        ix.tag_filter("domain", [])


def test_numeric_filter():
    assert ix.numeric_filter("start", 1, None) == "@start:[1.0 +inf]"
    assert ix.numeric_filter("score", None, 0.5) == "@score:[-inf 0.5]"
    with pytest.raises(ValueError):
        ix.numeric_filter("start", "1] @domain:{x", None)
    with pytest.raises(ValueError, match="not a NUMERIC"):
        ix.numeric_filter("domain", 0, 1)


def test_schema_takes_name_and_ef_runtime_from_settings():
    schema = ix.load_schema(Settings(index_name="idx-x", ef_runtime=123))
    assert schema["index"]["name"] == "idx-x"
    assert schema["index"]["prefix"] == "item:"
    assert schema["index"]["storage_type"] == "hash"
    vec = next(f for f in schema["fields"] if f["name"] == "embedding")
    assert vec["attrs"]["ef_runtime"] == 123
    assert (vec["attrs"]["dims"], vec["attrs"]["distance_metric"], vec["attrs"]["algorithm"]) == (128, "cosine", "hnsw")
    names = {f["name"]: f["type"] for f in schema["fields"]}
    for t in ("id", "domain", "product_id", "stream_id", "tag_product"):
        assert names[t] == "tag"
    for t in ("start", "end", "ts", "score"):
        assert names[t] == "numeric"
    assert names["title"] == names["summary"] == "text"
    # the cached base schema is not mutated by overrides
    assert ix.load_schema(Settings(index_name="other"))["index"]["name"] == "other"


def test_schema_is_valid_for_redisvl():
    from redisvl.schema import IndexSchema

    s = IndexSchema.from_dict(ix.load_schema(Settings()))
    assert s.fields["embedding"].attrs.ef_runtime == Settings().ef_runtime


def test_vector_validation():
    assert len(ix._vec_bytes(np.ones(128))) == 128 * 4
    with pytest.raises(ValueError, match="shape"):
        ix._vec_bytes(np.ones(64))
    v = np.ones(128)
    v[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ix._vec_bytes(v)


def test_put_blob_validates_before_touching_redis():
    with pytest.raises(ValueError, match="prefix"):
        ix.put_blob(None, "item:page:x", {"a": b"1"}, 10)
    with pytest.raises(ValueError, match="ttl"):
        ix.put_blob(None, "blob:x", {"a": b"1"}, 0)
    with pytest.raises(TypeError):
        ix.put_blob(None, "blob:x", {"a": "text"}, 10)
