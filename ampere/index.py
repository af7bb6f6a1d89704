"""The Redis vector index, live tag state and claim-check blobs.

Keys are deterministic (``item:{domain}:{id}``, ``item:live:{stream}:{start_ms}``)
so a replay overwrites instead of duplicating: exactly-once *effects* from
at-least-once delivery. Queries are built here with every TAG value escaped,
so ids and user text cannot inject RediSearch syntax.

Expects a ``redis.Redis`` with ``decode_responses=False`` (blobs are bytes);
:func:`connect` makes one.
"""
from __future__ import annotations

import copy
import json
import math
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import redis
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "index.yaml"
DOMAINS = ("page", "video", "live")
DIST_FIELD = "__dist"


# ---------------------------------------------------------------- schema

@lru_cache(maxsize=1)
def _base_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def load_schema(settings=None) -> dict:
    """The RedisVL schema dict with the index name and EF_RUNTIME taken from settings."""
    settings = _settings(settings)
    schema = copy.deepcopy(_base_schema())
    schema["index"]["name"] = settings.index_name
    for f in schema["fields"]:
        if f["type"] == "vector":
            f["attrs"]["ef_runtime"] = int(settings.ef_runtime)
    return schema


def _fields_of(kind: str) -> tuple[str, ...]:
    return tuple(f["name"] for f in _base_schema()["fields"] if f["type"] == kind)


PREFIX: str = _base_schema()["index"]["prefix"]
TAG_FIELDS = _fields_of("tag")
NUMERIC_FIELDS = _fields_of("numeric")
TEXT_FIELDS = _fields_of("text")
VECTOR_FIELD = _fields_of("vector")[0]
BRANCH_VECTOR_FIELDS = _fields_of("vector")[1:]  # text-only and visual-only embeddings, kept for branch queries
VECTOR_DIMS = int(next(f for f in _base_schema()["fields"] if f["type"] == "vector")["attrs"]["dims"])


def _settings(settings):
    if settings is None:
        from ampere.settings import get_settings

        return get_settings()
    return settings


def connect(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=False)


def create_index(r: redis.Redis, settings=None, overwrite: bool = False):
    """Create the search index (idempotent). ``overwrite`` drops and recreates the
    index definition only; the item hashes stay and are re-indexed. Returns the RedisVL SearchIndex."""
    from redisvl.index import SearchIndex

    idx = SearchIndex.from_dict(load_schema(settings), redis_client=r)
    if idx.exists() and not overwrite:
        return idx
    idx.create(overwrite=overwrite, drop=False)
    return idx


# ---------------------------------------------------------------- keys and escaping

def item_key(domain: str, item_id: str) -> str:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    item_id = str(item_id)
    if not item_id:
        raise ValueError("empty item id")
    return f"{PREFIX}{domain}:{item_id}"


def live_item_id(stream_id: str, start_s: float) -> str:
    if not stream_id:
        raise ValueError("empty stream id")
    if not math.isfinite(start_s) or start_s < 0:
        raise ValueError(f"bad window start {start_s!r}")
    # milliseconds, rounded: float jitter in a replayed start must map to the same key
    return f"{stream_id}:{int(round(start_s * 1000))}"


def live_key(stream_id: str, start_s: float) -> str:
    return item_key("live", live_item_id(stream_id, start_s))


_ESCAPE_RE = re.compile(r"([^A-Za-z0-9_\u0080-\U0010FFFF])")


def escape_tag(value: Any) -> str:
    """Escape a TAG value for a RediSearch query: every ASCII character that is
    not a letter, digit or underscore gets a backslash (covers ``|{}@:-``, spaces, quotes)."""
    s = str(value)
    if s == "":
        raise ValueError("empty tag value cannot be queried")
    if any(ord(c) < 32 for c in s):
        raise ValueError(f"control characters are not allowed in tag values: {s!r}")
    return _ESCAPE_RE.sub(r"\\\1", s)


def tag_filter(field_name: str, values: str | Iterable[str], negate: bool = False) -> str:
    if field_name not in TAG_FIELDS:
        raise ValueError(f"{field_name!r} is not a TAG field; TAG fields: {TAG_FIELDS}")
    vals = [values] if isinstance(values, str) else list(values)
    if not vals:
        raise ValueError(f"empty value list for tag filter on {field_name!r}")
    expr = f"@{field_name}:{{{'|'.join(escape_tag(v) for v in vals)}}}"
    return f"-{expr}" if negate else expr


def numeric_filter(field_name: str, lo: float | None, hi: float | None) -> str:
    if field_name not in NUMERIC_FIELDS:
        raise ValueError(f"{field_name!r} is not a NUMERIC field; NUMERIC fields: {NUMERIC_FIELDS}")

    def fmt(x, inf):
        if x is None:
            return inf
        x = float(x)  # rejects strings that could smuggle syntax
        if math.isnan(x):
            raise ValueError("NaN bound in numeric filter")
        return repr(x) if math.isfinite(x) else ("+inf" if x > 0 else "-inf")

    return f"@{field_name}:[{fmt(lo, '-inf')} {fmt(hi, '+inf')}]"


# ---------------------------------------------------------------- writes

def _vec_bytes(vector) -> bytes:
    v = np.asarray(vector, dtype=np.float32)
    if v.shape != (VECTOR_DIMS,):
        raise ValueError(f"embedding must have shape ({VECTOR_DIMS},), got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("embedding contains NaN or inf")
    return v.tobytes()


def _encode(v: Any) -> bytes | str | int | float:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (bytes, str, int, float)):
        return v
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, separators=(",", ":"))
    raise TypeError(f"cannot store a {type(v).__name__} in a hash field")


def _item_ops(pipe, domain: str, item_id: str, vector, fields: Mapping[str, Any]) -> str:
    if VECTOR_FIELD in fields or "domain" in fields:
        raise ValueError("pass the embedding as `vector` and the domain as `domain`, not as fields")
    key = item_key(domain, item_id)
    mapping: dict[str, Any] = {"id": str(item_id), "domain": domain, VECTOR_FIELD: _vec_bytes(vector)}
    drop = []
    for k, v in fields.items():
        if k == "id":
            continue
        if v is None:
            drop.append(k)  # explicit None removes a stale field on overwrite
        elif k in BRANCH_VECTOR_FIELDS:
            mapping[k] = _vec_bytes(v)
        else:
            mapping[k] = _encode(v)
    # HSET, not DEL+HSET: fields written by others (tag_product from the tagger) survive a re-embed
    pipe.hset(key, mapping=mapping)
    if drop:
        pipe.hdel(key, *drop)
    return key


def upsert_item(r: redis.Redis, domain: str, item_id: str, vector, **fields) -> str:
    """Write one item hash; returns its key. Same (domain, id) -> same key -> overwrite."""
    pipe = r.pipeline(transaction=True)
    key = _item_ops(pipe, domain, item_id, vector, fields)
    pipe.execute()
    return key


def upsert_live(r: redis.Redis, stream_id: str, start: float, end: float, vector, **fields) -> str:
    """A live window item at its deterministic key ``item:live:{stream}:{start_ms}``."""
    return upsert_item(r, "live", live_item_id(stream_id, start), vector,
                       stream_id=stream_id, start=float(start), end=float(end), **fields)


def upsert_many(r: redis.Redis, items: Iterable[Mapping[str, Any]], chunk: int = 500) -> int:
    """Pipelined upsert of dicts ``{"domain", "id", "vector", **fields}``; returns the count written."""
    n = 0
    pipe = r.pipeline(transaction=False)
    pending = 0
    for it in items:
        it = dict(it)
        try:
            domain, item_id, vector = it.pop("domain"), it.pop("id"), it.pop("vector")
        except KeyError as e:
            raise ValueError(f"item needs 'domain', 'id' and 'vector' keys; missing {e}") from None
        _item_ops(pipe, domain, item_id, vector, it)
        pending += 1
        if pending >= chunk:
            pipe.execute()
            n += pending
            pending = 0
    if pending:
        pipe.execute()
        n += pending
    return n


# ---------------------------------------------------------------- search

@dataclass
class Hit:
    key: str
    id: str
    domain: str
    product_id: str
    stream_id: str
    score: float  # cosine similarity = 1 - cosine distance
    fields: dict[str, str] = field(default_factory=dict)


def _s(b) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def _search(r: redis.Redis, index_name: str, args: list) -> list[tuple[str, dict[str, str]]]:
    reply = r.execute_command("FT.SEARCH", index_name, *args)
    if isinstance(reply, dict):  # RESP3 (redis-py 8 speaks it by default)
        d = {_s(k): v for k, v in reply.items()}
        out = []
        for res in d.get("results", []):
            res = {_s(k): v for k, v in res.items()}
            attrs = res.get("extra_attributes") or {}
            out.append((_s(res.get("id", b"")), {_s(k): _s(v) for k, v in attrs.items()}))
        return out
    out = []
    for i in range(1, len(reply), 2):
        key = _s(reply[i])
        raw = reply[i + 1] if i + 1 < len(reply) else []
        out.append((key, {_s(raw[j]): _s(raw[j + 1]) for j in range(0, len(raw) - 1, 2)}))
    return out


_RETURN_FIELDS = [f for f in TAG_FIELDS + TEXT_FIELDS + NUMERIC_FIELDS]


def knn(r: redis.Redis, vector, k: int, domains: Sequence[str] | str | None = None,
        exclude_stream: str | None = None, *, tags: Mapping[str, str | Sequence[str]] | None = None,
        numeric: Mapping[str, tuple[float | None, float | None]] | None = None,
        ef_runtime: int | None = None, settings=None, vector_field: str | None = None) -> list[Hit]:
    """The k nearest items by cosine, best first, optionally filtered.

    ``domains``: restrict to these domains; ``exclude_stream``: drop windows of this
    stream (a live window must not match itself); ``tags``: ``{field: value or values}``
    (OR within a field, AND across fields); ``numeric``: ``{field: (lo, hi)}``, None = open.
    """
    settings = _settings(settings)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    ef = int(ef_runtime if ef_runtime is not None else settings.ef_runtime)
    ef = max(ef, k)  # HNSW returns at most EF_RUNTIME candidates
    parts = []
    if domains is not None:
        ds = [domains] if isinstance(domains, str) else list(domains)
        bad = [d for d in ds if d not in DOMAINS]
        if bad or not ds:
            raise ValueError(f"unknown domains {bad or ds}; expected a subset of {DOMAINS}")
        parts.append(tag_filter("domain", ds))
    for name, vals in (tags or {}).items():
        parts.append(tag_filter(name, vals))
    for name, (lo, hi) in (numeric or {}).items():
        parts.append(numeric_filter(name, lo, hi))
    if exclude_stream:
        parts.append(tag_filter("stream_id", exclude_stream, negate=True))
    base = f"({' '.join(parts)})" if parts else "*"
    field = vector_field or VECTOR_FIELD
    if field not in (VECTOR_FIELD, *BRANCH_VECTOR_FIELDS):
        raise ValueError(f"unknown vector field {field!r}")
    query = f"{base}=>[KNN $K @{field} $BLOB EF_RUNTIME $EF AS {DIST_FIELD}]"
    args = [query, "PARAMS", 6, "K", k, "BLOB", _vec_bytes(vector), "EF", ef,
            "SORTBY", DIST_FIELD, "ASC", "LIMIT", 0, k,
            "RETURN", len(_RETURN_FIELDS) + 1, *_RETURN_FIELDS, DIST_FIELD, "DIALECT", 2]
    hits = []
    for key, f in _search(r, settings.index_name, args):
        dist = float(f.pop(DIST_FIELD, "nan"))
        hits.append(Hit(key=key, id=f.get("id", ""), domain=f.get("domain", ""),
                        product_id=f.get("product_id", ""), stream_id=f.get("stream_id", ""),
                        score=1.0 - dist, fields=f))
    return hits


def text_candidates(r: redis.Redis, words: Iterable[str], k: int, domains: Sequence[str] | str = ("page",),
                    field: str = "title", settings=None) -> list[tuple[str, dict[str, str]]]:
    """Items whose ``field`` contains any of ``words`` (BM25, best first), as (key, fields).

    ``words`` must be plain lower-case letters/digits (``ampere.lexical.tokens``): they are
    checked here, so user text cannot inject query syntax.
    """
    settings = _settings(settings)
    if field not in TEXT_FIELDS:
        raise ValueError(f"{field!r} is not a TEXT field; TEXT fields: {TEXT_FIELDS}")
    words = sorted({w for w in words if w})
    bad = [w for w in words if not w.isalnum() or not w.isascii()]
    if bad:
        raise ValueError(f"words must be plain letters/digits, got {bad[:3]}")
    if not words:
        return []
    ds = [domains] if isinstance(domains, str) else list(domains)
    query = f"{tag_filter('domain', ds)} @{field}:({'|'.join(words)})"
    args = [query, "SCORER", "BM25", "RETURN", len(_RETURN_FIELDS), *_RETURN_FIELDS,
            "LIMIT", 0, int(k), "DIALECT", 2]
    return _search(r, settings.index_name, args)


def vectors(r: redis.Redis, keys: Sequence[str], field: str | None = None) -> list[np.ndarray | None]:
    """The stored vectors of these items (None where missing)."""
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.hget(key, field or VECTOR_FIELD)
    return [None if b is None else np.frombuffer(b, dtype=np.float32) for b in pipe.execute()]


def search_items(r: redis.Redis, *, tags: Mapping[str, str | Sequence[str]], sort_by: str | None = "start",
                 limit: int = 1000, settings=None) -> list[tuple[str, dict[str, str]]]:
    """Items matching all tag filters (no vector), as (key, fields)."""
    settings = _settings(settings)
    query = " ".join(tag_filter(n, v) for n, v in tags.items()) or "*"
    args = [query, "RETURN", len(_RETURN_FIELDS), *_RETURN_FIELDS]
    if sort_by:
        args += ["SORTBY", sort_by, "ASC"]
    args += ["LIMIT", 0, int(limit), "DIALECT", 2]
    return _search(r, settings.index_name, args)


# ---------------------------------------------------------------- live tag state

def names_key(settings=None) -> str:
    return f"{_settings(settings).index_name}:catalog:names"


def add_names(r: redis.Redis, names: Iterable[str], settings=None) -> int:
    """Product names of the catalogue (a set per index): what transcripts are corrected towards
    (ampere/names.py). Returns how many were new."""
    names = sorted(set(names))
    return int(r.sadd(names_key(settings), *names)) if names else 0


def get_names(r: redis.Redis, settings=None) -> list[str]:
    return sorted(_s(v) for v in r.smembers(names_key(settings)))


def facts_key(stream_id: str, start_s: float) -> str:
    return f"stream:{stream_id}:facts:{int(round(start_s * 1000))}"


def put_facts(r: redis.Redis, stream_id: str, start_s: float, facts: str, ttl_s: int) -> None:
    """The summarizer's facts after a window: the next window of the stream reads them as context.
    Keyed by window start, so a replayed window rewrites its own entry and never another's."""
    r.set(facts_key(stream_id, start_s), facts or "", ex=max(1, int(ttl_s)))


def get_facts(r: redis.Redis, stream_id: str, start_s: float) -> str | None:
    v = r.get(facts_key(stream_id, start_s))
    return _s(v) if v is not None else None


def now_key(stream_id: str) -> str:
    return f"stream:{stream_id}:now"


def tags_key(stream_id: str) -> str:
    return f"stream:{stream_id}:tags"


# One script so the history entry, the "now" hash and the window's tag_product move
# together; "now" only moves forward, so a late or replayed window cannot regress it.
_RECORD_TAG = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
local cur = redis.call('HGET', KEYS[1], 'start')
local moved, before = 0, redis.call('HGET', KEYS[1], 'product_id') or ''
if (not cur) or tonumber(cur) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'stream_id', ARGV[8], 'product_id', ARGV[3], 'score', ARGV[4],
             'start', ARGV[1], 'end', ARGV[2], 'candidates', ARGV[5], 'ts', ARGV[7], 'ended', '0')
  moved = 1
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'tag_product', ARGV[3], 'score', ARGV[4])
end
return {moved, before}
"""


def on_air_key(product_id: str) -> str:
    """Streams whose current tag is this product (a set): "live now" without scanning every stream."""
    return f"product:{product_id}:on_air"


def _norm_candidates(candidates) -> list[dict]:
    out = []
    for c in candidates or []:
        if isinstance(c, Hit):
            out.append({"product_id": c.product_id, "score": float(c.score)})
        elif isinstance(c, Mapping):
            d = dict(c)
            if "score" in d:
                d["score"] = float(d["score"])
            out.append(d)
        else:
            pid, score = c
            out.append({"product_id": str(pid), "score": float(score)})
    return out


def record_tag(r: redis.Redis, stream_id: str, start: float, end: float, product_id: str, score: float,
               candidates=(), ts: float | None = None) -> None:
    """Record the tag of one live window: history (``stream:{id}:tags``, one entry per
    window start), the current state (``stream:{id}:now``) and ``tag_product`` on the
    window's item, if indexed. Idempotent per (stream, start)."""
    start, end, score = float(start), float(end), float(score)
    ts = time.time() if ts is None else float(ts)
    cands = _norm_candidates(candidates)
    member = json.dumps({"start": start, "end": end, "product_id": product_id, "score": score,
                         "candidates": cands, "ts": ts}, separators=(",", ":"))
    moved, before = r.eval(_RECORD_TAG, 3, now_key(stream_id), tags_key(stream_id), live_key(stream_id, start),
                           repr(start), repr(end), product_id or "", repr(score),
                           json.dumps(cands, separators=(",", ":")), member, repr(ts), stream_id)
    if moved:
        # the reverse index follows "now"; product_appearances checks every member against "now", so a
        # crash between the script and these two calls leaves at most a stale member, dropped on read
        before = _s(before)
        pipe = r.pipeline(transaction=False)
        if before and before != product_id:
            pipe.srem(on_air_key(before), stream_id)
        if product_id:
            pipe.sadd(on_air_key(product_id), stream_id)
        pipe.execute()


def end_stream(r: redis.Redis, stream_id: str) -> None:
    """Mark a stream as ended: its products are no longer "live now"."""
    product_id = r.hget(now_key(stream_id), "product_id")
    if product_id is not None:
        r.hset(now_key(stream_id), mapping={"ended": "1", "ended_at": repr(time.time())})
        r.srem(on_air_key(_s(product_id)), stream_id)


def _now_from_hash(h: Mapping) -> dict:
    d = {_s(k): _s(v) for k, v in h.items()}
    return {
        "stream_id": d.get("stream_id", ""),
        "product_id": d.get("product_id", ""),
        "score": float(d.get("score", "nan")),
        "start": float(d.get("start", "nan")),
        "end": float(d.get("end", "nan")),
        "candidates": json.loads(d.get("candidates") or "[]"),
        "ts": float(d.get("ts", "nan")),
        "ended": d.get("ended") == "1",
    }


def stream_now(r: redis.Redis, stream_id: str) -> dict | None:
    h = r.hgetall(now_key(stream_id))
    return _now_from_hash(h) if h else None


def stream_history(r: redis.Redis, stream_id: str, start: float | None = None, end: float | None = None) -> list[dict]:
    """Tag entries ordered by window start, optionally with start in [start, end]."""
    lo = "-inf" if start is None else repr(float(start))
    hi = "+inf" if end is None else repr(float(end))
    return [json.loads(m) for m in r.zrangebyscore(tags_key(stream_id), lo, hi)]


def product_appearances(r: redis.Redis, product_id: str, settings=None, limit: int = 1000) -> dict[str, list[dict]]:
    """Where a product shows up: ``live_now`` (streams whose current tag is it),
    ``live_before`` (tagged live windows) and ``videos`` (videos of that product)."""
    settings = _settings(settings)
    live_now = []
    for stream_id in sorted(_s(m) for m in r.smembers(on_air_key(product_id))):
        now = stream_now(r, stream_id)
        if now is None or now["product_id"] != product_id or now["ended"]:
            r.srem(on_air_key(product_id), stream_id)  # stale: the stream moved on or ended meanwhile
            continue
        now["stream_id"] = now["stream_id"] or stream_id
        live_now.append({k: now[k] for k in ("stream_id", "start", "end", "score")})
    live_before = [
        {"key": k, "stream_id": f.get("stream_id", ""), "start": float(f.get("start", "nan")),
         "end": float(f.get("end", "nan")), "score": float(f.get("score", "nan"))}
        for k, f in search_items(r, tags={"domain": "live", "tag_product": product_id}, sort_by="start",
                                 limit=limit, settings=settings)
    ]
    videos = [
        {"key": k, "id": f.get("id", ""), "title": f.get("title", "")}
        for k, f in search_items(r, tags={"domain": "video", "product_id": product_id}, sort_by=None,
                                 limit=limit, settings=settings)
    ]
    return {"live_now": sorted(live_now, key=lambda d: d["stream_id"]), "live_before": live_before, "videos": videos}


# ---------------------------------------------------------------- claim-check blobs

def put_blob(r: redis.Redis, key: str, mapping: Mapping[str, bytes], ttl_s: int) -> None:
    """Store window media under ``key`` (a hash of named byte strings) for ``ttl_s`` seconds,
    replacing any earlier content."""
    if not key or key.startswith(PREFIX):
        raise ValueError(f"blob key {key!r} must be non-empty and outside the index prefix {PREFIX!r}")
    if not mapping:
        raise ValueError("empty blob mapping")
    if int(ttl_s) <= 0:
        raise ValueError(f"ttl_s must be positive, got {ttl_s!r}")
    for k, v in mapping.items():
        if not isinstance(v, (bytes, bytearray, memoryview)):
            raise TypeError(f"blob part {k!r} must be bytes, got {type(v).__name__}")
    pipe = r.pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping={k: bytes(v) for k, v in mapping.items()})
    pipe.expire(key, int(ttl_s))
    pipe.execute()


def get_blob(r: redis.Redis, key: str, parts: Sequence[str] | None = None) -> dict[str, bytes] | None:
    """The blob's parts (all, or only ``parts``; missing ones left out), or None when it expired or never existed."""
    if parts is None:
        h = r.hgetall(key)
    else:
        h = {p: v for p, v in zip(parts, r.hmget(key, list(parts))) if v is not None}
    if not h:
        return None
    out = {}
    for k, v in h.items():
        if not isinstance(v, bytes):
            raise TypeError("get_blob needs a Redis client with decode_responses=False (see ampere.index.connect)")
        out[_s(k)] = v
    return out
