"""The one search index over product pages, short videos and live windows (RedisVL over RediSearch).

Keys are deterministic (``ampere.store.keys``), so a replay overwrites instead of duplicating: exactly-once
*effects* from at-least-once delivery. Queries are RedisVL query objects with RedisVL filter expressions, so
ids and user text are escaped by RedisVL and cannot inject RediSearch syntax.

Expects a ``redis.Redis`` with ``decode_responses=False`` (blobs are bytes); :func:`connect` makes one.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import redis
import yaml

from ampere.errors import QueryError
from ampere.grid import window_id
from ampere.store.keys import DOMAINS, Keys

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent / "index.yaml"
DIST_FIELD = "vector_distance"


@lru_cache(maxsize=1)
def _base_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _fields_of(kind: str) -> tuple[str, ...]:
    return tuple(f["name"] for f in _base_schema()["fields"] if f["type"] == kind)


TAG_FIELDS = _fields_of("tag")
NUMERIC_FIELDS = _fields_of("numeric")
TEXT_FIELDS = _fields_of("text")
VECTOR_FIELD = _fields_of("vector")[0]
BRANCH_VECTOR_FIELDS = _fields_of("vector")[1:]  # text-only and visual-only embeddings, for branch queries
VECTOR_DIMS = int(next(f for f in _base_schema()["fields"] if f["type"] == "vector")["attrs"]["dims"])
# hash fields returned with every hit but not indexed: a page's structured attributes (JSON) and its product
# name, which the tagger scores evidence against, its image (path or URL, written by `catalog add`) and a short
# video's file
STORED_FIELDS = ("attributes", "name", "image", "video")
RETURN_FIELDS = list(TAG_FIELDS + TEXT_FIELDS + NUMERIC_FIELDS + STORED_FIELDS)


def load_schema(prefix: str = "ampere", ef_runtime: int = 64) -> dict:
    """The RedisVL schema dict, named and prefixed for this deployment (``settings.redis``)."""
    schema = copy.deepcopy(_base_schema())
    schema["index"]["name"] = prefix
    schema["index"]["prefix"] = Keys(prefix).item_prefix
    for f in schema["fields"]:
        if f["type"] == "vector":
            f["attrs"]["ef_runtime"] = int(ef_runtime)
    return schema


def client_options(retry=None) -> dict:
    """Keyword arguments for ``redis.Redis``: how a command is retried through a short outage (exponential
    backoff with jitter on ConnectionError, TimeoutError and BusyLoadingError, i.e. LOADING while an AOF
    replays) and how long a stalled server may keep a call waiting. ``retry``: ``settings.retry``. Longer
    outages surface as those errors; the worker's stages retry them again (``streamer.agents``)."""
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError
    from redis.retry import Retry

    if retry is None:
        from ampere.settings import RetryOptions

        retry = RetryOptions()
    return dict(
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=min(2.0, retry.max_s)),
            retry.redis_retries,
            supported_errors=(ConnectionError, TimeoutError, BusyLoadingError),
        ),
        retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError],
        socket_timeout=retry.redis_socket_timeout_s,
        socket_connect_timeout=min(5.0, retry.redis_socket_timeout_s),
        socket_keepalive=True,
        health_check_interval=30,
    )


def connect(redis_url: str, retry=None) -> redis.Redis:
    """A client of ``redis_url`` (``redis://[[user]:password@]host:port/db``, ``rediss://`` for TLS, with
    ``?ssl_ca_certs=...`` etc.), with the retry policy of :func:`client_options`."""
    return resp2(redis.Redis.from_url(redis_url, decode_responses=False, **client_options(retry)))


def resp2(r: redis.Redis) -> redis.Redis:
    """The same server over RESP2: RedisVL parses search replies in RESP2 only, and a URL may ask for RESP3."""
    kw = dict(r.connection_pool.connection_kwargs)
    if str(kw.get("protocol") or 2) != "3":
        return r
    kw["protocol"] = 2
    for k in [k for k in kw if k.startswith(("maint_notifications", "orig_")) or k == "himport_registry"]:
        del kw[k]  # RESP3-only connection extras
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=r.connection_pool.connection_class, **kw))


def vec_bytes(vector) -> bytes:
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


def _s(b) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


@dataclass
class Hit:
    key: str
    id: str
    domain: str
    product_id: str
    stream_id: str
    score: float  # cosine similarity = 1 - cosine distance
    fields: dict[str, str] = field(default_factory=dict)


def _tag_filter(name: str, values: str | Iterable[str], negate: bool = False):
    from redisvl.query.filter import Tag

    if name not in TAG_FIELDS:
        raise QueryError(f"{name!r} is not a TAG field; TAG fields: {TAG_FIELDS}")
    vals = [values] if isinstance(values, str) else [str(v) for v in values]
    if not vals or any(not v for v in vals):
        raise QueryError(f"empty value for tag filter on {name!r}")
    if any(ord(c) < 32 for v in vals for c in v):
        raise QueryError(f"control characters are not allowed in tag values: {vals!r}")
    value = vals[0] if len(vals) == 1 else vals
    return Tag(name) != value if negate else Tag(name) == value


def _num_filter(name: str, lo: float | None, hi: float | None):
    from redisvl.query.filter import Num

    if name not in NUMERIC_FIELDS:
        raise QueryError(f"{name!r} is not a NUMERIC field; NUMERIC fields: {NUMERIC_FIELDS}")
    bounds = []
    for x in (lo, hi):
        if x is not None:
            x = float(x)  # rejects strings that could smuggle syntax
            if x != x:
                raise QueryError("NaN bound in numeric filter")
        bounds.append(x)
    lo, hi = bounds
    if lo is not None and hi is not None:
        return Num(name).between(lo, hi)
    if lo is not None:
        return Num(name) >= lo
    if hi is not None:
        return Num(name) <= hi
    return None


def build_filter(
    domains: Sequence[str] | str | None = None,
    *,
    exclude_stream: str | None = None,
    tags: Mapping[str, str | Sequence[str]] | None = None,
    numeric: Mapping[str, tuple[float | None, float | None]] | None = None,
    any_of: Sequence[Mapping[str, str | Sequence[str]]] | None = None,
):
    """A RedisVL filter expression (AND of everything given), or None for no filter.

    ``domains``: only these domains; ``exclude_stream``: drop windows of this stream (a live window must not
    match itself); ``tags``: ``{field: value or values}`` (OR within a field); ``numeric``: ``{field: (lo, hi)}``;
    ``any_of``: a list of ``tags``-like groups, at least one of which must match (each group an AND); an empty
    list matches nothing (QueryError: the caller should not query at all).
    """
    parts = []
    if any_of is not None:
        groups = []
        for group in any_of:
            g = None
            for name, vals in group.items():
                f = _tag_filter(name, vals)
                g = f if g is None else g & f
            if g is not None:
                groups.append(g)
        if not groups:
            raise QueryError("empty any_of filter: nothing can match")
        alt = groups[0]
        for g in groups[1:]:
            alt = alt | g
        parts.append(alt)
    if domains is not None:
        ds = [domains] if isinstance(domains, str) else list(domains)
        bad = [d for d in ds if d not in DOMAINS]
        if bad or not ds:
            raise QueryError(f"unknown domains {bad or ds}; expected a subset of {DOMAINS}")
        parts.append(_tag_filter("domain", ds))
    for name, vals in (tags or {}).items():
        parts.append(_tag_filter(name, vals))
    for name, (lo, hi) in (numeric or {}).items():
        f = _num_filter(name, lo, hi)
        if f is not None:
            parts.append(f)
    if exclude_stream:
        parts.append(_tag_filter("stream_id", exclude_stream, negate=True))
    expr = None
    for p in parts:
        expr = p if expr is None else expr & p
    return expr


class ItemIndex:
    """Items (pages, videos, live windows) of one deployment's index: writes and queries."""

    def __init__(self, r: redis.Redis, prefix: str = "ampere", ef_runtime: int = 64):
        self.r = resp2(r)
        self.keys = Keys(prefix)
        self.name = prefix
        self.ef_runtime = int(ef_runtime)
        self.schema = load_schema(prefix, ef_runtime)

    @cached_property
    def _index(self):
        from redisvl.index import SearchIndex

        return SearchIndex.from_dict(self.schema, redis_client=self.r)

    def create(self, overwrite: bool = False) -> None:
        """Create the search index (idempotent). ``overwrite`` drops and recreates the index definition only;
        the item hashes stay and are re-indexed."""
        if self._index.exists() and not overwrite:
            missing = self.missing_fields()
            if not missing:
                return
            # an index made by an older schema (e.g. before category/price): redefine it, keeping the hashes
            log.warning(
                "index %s lacks fields %s of the current schema: recreating it (items are re-indexed)",
                self.name,
                missing,
            )
            overwrite = True
        self._index.create(overwrite=overwrite, drop=False)

    def missing_fields(self) -> list[str]:
        """Fields of the current schema that the index in Redis does not have (empty when none or no index)."""
        try:
            info = self.r.execute_command("FT.INFO", self.name)
        except redis.ResponseError:
            return []
        if isinstance(info, list):
            info = dict(zip(info[::2], info[1::2]))
        have = set()
        for attr in info.get(b"attributes", info.get("attributes", [])) or []:
            if isinstance(attr, list):
                attr = dict(zip(attr[::2], attr[1::2]))
            name = attr.get(b"identifier", attr.get("identifier"))
            if name is not None:
                have.add(_s(name))
        return [f["name"] for f in self.schema["fields"] if f["name"] not in have]

    def drop(self, with_documents: bool = False) -> None:
        self._index.delete(drop=with_documents)

    # ---------------------------------------------------------------- writes

    def _item_ops(
        self, pipe, domain: str, item_id: str, vector, fields: Mapping[str, Any], key: str | None = None
    ) -> str:
        if VECTOR_FIELD in fields or "domain" in fields:
            raise ValueError("pass the embedding as `vector` and the domain as `domain`, not as fields")
        key = key or self.keys.item(domain, item_id)
        mapping: dict[str, Any] = {"item_id": str(item_id), "domain": domain, VECTOR_FIELD: vec_bytes(vector)}
        drop = []
        for k, v in fields.items():
            if k in ("id", "item_id"):
                continue
            if v is None:
                drop.append(k)  # explicit None removes a stale field on overwrite
            elif k in BRANCH_VECTOR_FIELDS:
                mapping[k] = vec_bytes(v)
            else:
                mapping[k] = _encode(v)
        # HSET, not DEL+HSET: fields written by others (tag_product from the tagger) survive a re-embed
        pipe.hset(key, mapping=mapping)
        if drop:
            pipe.hdel(key, *drop)
        return key

    def upsert(self, domain: str, item_id: str, vector, **fields) -> str:
        """Write one item hash; returns its key. Same (domain, id) -> same key -> overwrite."""
        pipe = self.r.pipeline(transaction=True)
        key = self._item_ops(pipe, domain, item_id, vector, fields)
        pipe.execute()
        return key

    def upsert_live(self, stream_id: str, start: float, end: float, vector, **fields) -> str:
        """A live window item at its deterministic key (``Keys.live``); its id is ``<stream>:<start ms>``."""
        pipe = self.r.pipeline(transaction=True)
        key = self._item_ops(
            pipe,
            "live",
            window_id(stream_id, start),
            vector,
            {"stream_id": stream_id, "start": float(start), "end": float(end), **fields},
            key=self.keys.live(stream_id, start),
        )
        pipe.execute()
        return key

    def upsert_many(self, items: Iterable[Mapping[str, Any]], chunk: int = 500) -> int:
        """Pipelined upsert of dicts ``{"domain", "id", "vector", **fields}``; returns the count written."""
        n = pending = 0
        pipe = self.r.pipeline(transaction=False)
        for it in items:
            it = dict(it)
            try:
                domain, item_id, vector = it.pop("domain"), it.pop("id"), it.pop("vector")
            except KeyError as e:
                raise ValueError(f"item needs 'domain', 'id' and 'vector' keys; missing {e}") from None
            self._item_ops(pipe, domain, item_id, vector, it)
            pending += 1
            if pending >= chunk:
                pipe.execute()
                n, pending = n + pending, 0
        if pending:
            pipe.execute()
            n += pending
        return n

    def add_names(self, names: Iterable[str]) -> int:
        """Product names of the catalogue: what transcripts are corrected towards (ampere/names.py).
        Returns how many were new."""
        names = sorted(set(names))
        return int(self.r.sadd(self.keys.names, *names)) if names else 0

    def names(self) -> list[str]:
        return sorted(_s(v) for v in self.r.smembers(self.keys.names))

    def mark_tag(self, pipe, stream_id: str, start: float, product_id: str, score: float) -> None:
        """The tagger's product on a live window's item (if it is indexed), in the caller's pipeline."""
        key = self.keys.live(stream_id, start)
        pipe.hset(key, mapping={"tag_product": product_id, "score": float(score)})

    # ---------------------------------------------------------------- queries

    def _hit(self, row: Mapping[str, Any]) -> Hit:
        f = {k: _s(v) for k, v in row.items() if k not in ("id", DIST_FIELD, "payload")}
        dist = float(_s(row.get(DIST_FIELD, "nan")))
        return Hit(
            key=_s(row.get("id", "")),
            id=f.get("item_id", ""),
            domain=f.get("domain", ""),
            product_id=f.get("product_id", ""),
            stream_id=f.get("stream_id", ""),
            score=1.0 - dist,
            fields=f,
        )

    def knn(
        self,
        vector,
        k: int,
        domains: Sequence[str] | str | None = None,
        *,
        exclude_stream: str | None = None,
        tags: Mapping[str, str | Sequence[str]] | None = None,
        numeric: Mapping[str, tuple[float | None, float | None]] | None = None,
        ef_runtime: int | None = None,
        vector_field: str | None = None,
        offset: int = 0,
        any_of: Sequence[Mapping[str, str | Sequence[str]]] | None = None,
    ) -> list[Hit]:
        """The k nearest items by cosine, best first, optionally filtered (see :func:`build_filter`). ``offset``
        skips that many of the nearest first (paging: the query asks for ``offset + k`` neighbours)."""
        from redisvl.query import VectorQuery

        if not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a positive int, got {k!r}")
        if not isinstance(offset, int) or offset < 0:
            raise QueryError(f"offset must be a non-negative int, got {offset!r}")
        fld = vector_field or VECTOR_FIELD
        if fld not in (VECTOR_FIELD, *BRANCH_VECTOR_FIELDS):
            raise QueryError(f"unknown vector field {fld!r}")
        n = offset + k
        ef = max(int(ef_runtime if ef_runtime is not None else self.ef_runtime), n)  # HNSW returns <= EF
        q = VectorQuery(
            vec_bytes(vector),
            fld,
            return_fields=RETURN_FIELDS,
            filter_expression=build_filter(
                domains, exclude_stream=exclude_stream, tags=tags, numeric=numeric, any_of=any_of
            ),
            num_results=n,
            ef_runtime=ef,
        )
        return [self._hit(row) for row in self._index.query(q)][offset:]

    def text_candidates(
        self, words: Iterable[str], k: int, domains: Sequence[str] | str = ("page",), field_name: str = "title"
    ) -> list[Hit]:
        """Items whose ``field_name`` contains any of ``words``, best BM25 first (score = BM25)."""
        from redisvl.query import TextQuery

        if field_name not in TEXT_FIELDS:
            raise QueryError(f"{field_name!r} is not a TEXT field; TEXT fields: {TEXT_FIELDS}")
        words = sorted({w for w in words if w and w.isalnum()})
        if not words:
            return []
        q = TextQuery(
            " ".join(words),
            field_name,
            text_scorer="BM25",
            filter_expression=build_filter(domains),
            return_fields=RETURN_FIELDS,
            num_results=int(k),
            stopwords=None,
        )
        out = []
        for row in self._index.query(q):
            h = self._hit({**row, DIST_FIELD: 1.0})
            h.score = float(_s(row.get("score", 0.0)))
            out.append(h)
        return out

    def vectors(self, keys: Sequence[str], vector_field: str | None = None) -> list[np.ndarray | None]:
        """The stored vectors of these items (None where missing)."""
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, vector_field or VECTOR_FIELD)
        return [None if b is None else np.frombuffer(b, dtype=np.float32) for b in pipe.execute()]

    def find(
        self,
        tags: Mapping[str, str | Sequence[str]] | None = None,
        numeric: Mapping[str, tuple[float | None, float | None]] | None = None,
        sort_by: str | None = "start",
        limit: int = 1000,
        offset: int = 0,
        any_of: Sequence[Mapping[str, str | Sequence[str]]] | None = None,
        asc: bool = True,
        return_fields: Sequence[str] | None = None,
    ) -> list[Hit]:
        """Items matching all filters (no vector), sorted by a sortable field (``asc=False``: descending);
        ``return_fields``: only these fields in ``Hit.fields`` (default: all; ids and domain always)."""
        q = self._filter_query(
            tags=tags,
            numeric=numeric,
            sort_by=sort_by,
            limit=limit,
            offset=offset,
            any_of=any_of,
            asc=asc,
            return_fields=return_fields,
        )
        return [self._hit({**row, DIST_FIELD: 1.0}) for row in self._index.query(q)]

    def find_many(self, queries: Sequence[Mapping[str, Any]]) -> list[list[Hit]]:
        """Several :meth:`find` queries (their keyword arguments) in one round trip; results in order."""
        qs = [self._filter_query(**{"sort_by": "start", **q}) for q in queries]
        batch = getattr(self._index, "batch_query", None)
        rows = batch(qs, batch_size=max(1, len(qs))) if batch is not None and qs else [self._index.query(q) for q in qs]
        return [[self._hit({**row, DIST_FIELD: 1.0}) for row in r] for r in rows]

    def _filter_query(
        self,
        tags=None,
        numeric=None,
        sort_by: str | None = "start",
        limit: int = 1000,
        offset: int = 0,
        any_of=None,
        asc: bool = True,
        return_fields: Sequence[str] | None = None,
    ):
        from redisvl.query import FilterQuery

        expr = build_filter(tags=tags, numeric=numeric, any_of=any_of)
        fields = (
            RETURN_FIELDS
            if return_fields is None
            else list(dict.fromkeys(["item_id", "domain", "product_id", "stream_id", *return_fields]))
        )
        q = FilterQuery(
            filter_expression=expr if expr is not None else "*",
            return_fields=fields,
            num_results=int(limit),
            sort_by=sort_by if asc else None,
        )
        if sort_by is not None and not asc:
            q.sort_by(sort_by, asc=False)
        if offset:
            q.paging(int(offset), int(limit))
        return q

    def count(self) -> int:
        return int(self._index.info().get("num_docs", 0))
