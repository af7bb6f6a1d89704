"""What the shop frontend asks: search by text, by image, by product and by stream.

Text queries are matched against the text branch's embeddings and image queries against the visual branch's,
each stored beside the fused vector: a query that has only words (or only a picture) is compared in the space
it was trained for, not forced into the fused space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ampere.errors import NotFound, QueryError
from ampere.grid import valid_stream_id
from ampere.models import Models
from ampere.store import Hit, Store
from ampere.store.keys import DOMAINS

MAX_QUERY_CHARS = 500
SHOWN_FIELDS = ("title", "summary", "screen", "start", "end", "tag_product", "category", "price")


@dataclass(frozen=True)
class Filters:
    """What a text, image or similar-item search keeps: ``domains`` (None: all), ``categories`` (any of; pages
    and the videos of their product carry one), a price range (inclusive; same items), ``live_now`` (pages and
    videos of products on air now, and windows of streams live now)."""

    domains: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    price_min: float | None = None
    price_max: float | None = None
    live_now: bool = False

    @classmethod
    def of(cls, domains: Sequence[str] | str | None = None, **kw) -> Filters:
        ds = None if domains is None else tuple([domains] if isinstance(domains, str) else domains) or None
        cats = kw.pop("categories", None)
        cats = None if not cats else tuple([cats] if isinstance(cats, str) else cats)
        return cls(domains=ds, categories=cats, **kw)


def parse_item_id(domain: str, item_id: str) -> tuple[str, float | None]:
    """A live window's id ``<stream>:<start ms>`` as (stream, start s); (item_id, None) for pages and videos."""
    if domain not in DOMAINS:
        raise QueryError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    if not item_id or len(item_id) > 256 or any(ord(c) < 32 for c in item_id):
        raise QueryError("bad item id")
    if domain != "live":
        return item_id, None
    stream_id, _, ms = item_id.rpartition(":")
    if not valid_stream_id(stream_id) or not ms.isdigit():
        raise QueryError(f"bad live window id {item_id[:80]!r}: expected <stream>:<start ms>")
    return stream_id, int(ms) / 1000.0


def hit_dict(h: Hit) -> dict:
    return {
        "id": h.id,
        "domain": h.domain,
        "product_id": h.product_id,
        "stream_id": h.stream_id,
        "score": round(float(h.score), 4),
        **{k: v for k, v in h.fields.items() if k in SHOWN_FIELDS},
    }


class Search:
    def __init__(self, store: Store, models: Models):
        self.store = store
        self.models = models

    def by_text(
        self,
        query: str,
        k: int = 5,
        domains: Sequence[str] | None = None,
        *,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> list[dict]:
        return [hit_dict(h) for h in self.text_hits(query, k, domains, offset=offset, filters=filters)]

    def by_image(
        self,
        image: np.ndarray,
        k: int = 5,
        domains: Sequence[str] | None = None,
        *,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> list[dict]:
        return [hit_dict(h) for h in self.image_hits(image, k, domains, offset=offset, filters=filters)]

    # -- the same as Hits, with filters and paging (the HTTP API shapes them itself)

    @staticmethod
    def check_text(query: str) -> str:
        query = (query or "").strip()
        if not query:
            raise QueryError("empty text query")
        if len(query) > MAX_QUERY_CHARS:
            raise QueryError(f"text query longer than {MAX_QUERY_CHARS} characters")
        return query

    def text_hits(
        self,
        query: str,
        k: int = 5,
        domains: Sequence[str] | None = None,
        *,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> list[Hit]:
        vec = self.models.embedder.embed_text(self.check_text(query))
        return self.knn(vec, k, offset=offset, filters=_with_domains(filters, domains), vector_field="text_embedding")

    def image_hits(
        self,
        image: np.ndarray,
        k: int = 5,
        domains: Sequence[str] | None = None,
        *,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> list[Hit]:
        emb = self.models.embedder.embed("page", [image], "")
        return self.knn(
            emb.visual, k, offset=offset, filters=_with_domains(filters, domains), vector_field="visual_embedding"
        )

    def similar_hits(
        self, domain: str, item_id: str, k: int = 5, *, offset: int = 0, filters: Filters | None = None
    ) -> list[Hit]:
        """Cross-domain: the items nearest to a stored page, video or live window (its fused vector), itself
        left out (and, for a live window, the rest of its stream)."""
        key = self.item_key(domain, item_id)
        vec = self.store.index.vectors([key])[0]
        if vec is None:
            raise NotFound(f"no {domain} item {item_id!r}")
        stream = parse_item_id(domain, item_id)[0] if domain == "live" else None
        hits = self.knn(vec, k + 1, offset=offset, filters=filters, exclude_stream=stream)
        return [h for h in hits if h.key != key][:k]

    def item_key(self, domain: str, item_id: str) -> str:
        ident, start = parse_item_id(domain, item_id)
        return self.store.keys.live(ident, start) if start is not None else self.store.keys.item(domain, ident)

    def knn(
        self,
        vector,
        k: int,
        *,
        offset: int = 0,
        filters: Filters | None = None,
        vector_field: str | None = None,
        exclude_stream: str | None = None,
    ) -> list[Hit]:
        f = filters or Filters()
        kw: dict = {
            "domains": list(f.domains) if f.domains else None,
            "exclude_stream": exclude_stream,
            "vector_field": vector_field,
            "offset": offset,
        }
        if f.categories:
            kw["tags"] = {"category": list(f.categories)}
        if f.price_min is not None or f.price_max is not None:
            kw["numeric"] = {"price": (f.price_min, f.price_max)}
        if f.live_now:
            groups = self.live_now_groups(f.domains)
            if not groups:
                return []  # nothing is live: nothing can match
            kw["any_of"] = groups
        return self.store.index.knn(vector, k=k, **kw)

    def live_now_groups(self, domains: Sequence[str] | None = None) -> list[dict]:
        """Filter groups for "live now": pages and videos of products on air, windows of live streams."""
        now = self.store.streams.live_streams()
        products = sorted({n["product_id"] for n in now if n["product_id"]})
        streams = sorted({n["stream_id"] for n in now})
        ds = set(domains or DOMAINS)
        groups: list[dict] = []
        offline = sorted(ds & {"page", "video"})
        if offline and products:
            groups.append({"domain": offline, "product_id": products})
        if "live" in ds and streams:
            groups.append({"domain": "live", "stream_id": streams})
        return groups

    def by_product(self, product_id: str, limit: int = 1000, offset: int = 0) -> dict:
        """Where a product shows up: ``live_now`` (streams whose current tag is it), ``live_before`` (tagged
        live windows, with their stream time spans; ``limit``/``offset`` page them) and ``videos`` (its short
        videos)."""
        if not product_id:
            raise QueryError("empty product id")
        index = self.store.index
        live_before = [
            {
                "key": h.key,
                "id": h.id,
                "stream_id": h.stream_id,
                "start": float(h.fields.get("start", "nan")),
                "end": float(h.fields.get("end", "nan")),
                "score": float(h.fields.get("score", "nan")),
            }
            for h in index.find(
                tags={"domain": "live", "tag_product": product_id},
                sort_by="start",
                limit=limit,
                offset=offset,
                return_fields=("start", "end", "score"),
            )
        ]
        videos = [
            {"key": h.key, "id": h.id, "title": h.fields.get("title", "")}
            for h in index.find(
                tags={"domain": "video", "product_id": product_id}, sort_by=None, limit=limit, return_fields=("title",)
            )
        ]
        return {"live_now": self.store.streams.live_now(product_id), "live_before": live_before, "videos": videos}

    def product_view(self, product_id: str, limit: int = 50, offset: int = 0, pages: int = 20) -> dict:
        """What a product page of a shop shows, in two round trips: ``pages`` and ``videos`` (Hits),
        ``live_before`` (its tagged live windows, by stream time; ``limit``/``offset`` page them) and
        ``live_now`` (as :meth:`by_product`)."""
        if not product_id:
            raise QueryError("empty product id")
        own, live = self.store.index.find_many(
            [
                {
                    "tags": {"domain": ["page", "video"], "product_id": product_id},
                    "sort_by": None,
                    "limit": pages + limit,
                    "return_fields": ("title", "price", "category", "image", "video"),
                },
                {
                    "tags": {"domain": "live", "tag_product": product_id},
                    "limit": limit,
                    "offset": offset,
                    "return_fields": ("start", "end", "score"),
                },
            ]
        )
        return {
            "pages": [h for h in own if h.domain == "page"][:pages],
            "videos": [h for h in own if h.domain == "video"][:limit],
            "live_before": live,
            "live_now": self.store.streams.live_now(product_id),
        }

    def by_stream(self, stream_id: str, last: int | None = None) -> dict:
        """What a stream sells now (``now``, None when it never was tagged) and its tag ``history`` (the ``last``
        entries only, when given)."""
        if not stream_id:
            raise QueryError("empty stream id")
        if not valid_stream_id(stream_id):
            raise QueryError(f"bad stream id {stream_id[:80]!r}")
        streams = self.store.streams
        return {"now": streams.now(stream_id), "history": streams.history(stream_id, last=last)}

    def live(self, limit: int | None = None) -> list[dict]:
        """Streams live now, with their current tag, most recently tagged first."""
        return self.store.streams.live_streams(limit)

    def pages_of(self, product_id: str, limit: int = 20) -> list[Hit]:
        """The product pages of a product."""
        if not product_id:
            raise QueryError("empty product id")
        return self.store.index.find(
            tags={"domain": "page", "product_id": product_id},
            sort_by=None,
            limit=limit,
            return_fields=("title", "price", "category", "image"),
        )


def _with_domains(filters: Filters | None, domains: Sequence[str] | str | None) -> Filters:
    f = filters or Filters()
    if domains is None:
        return f
    ds = tuple([domains] if isinstance(domains, str) else domains)
    return Filters(
        domains=ds or None, categories=f.categories, price_min=f.price_min, price_max=f.price_max, live_now=f.live_now
    )
