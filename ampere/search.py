"""What the shop frontend asks: search by text, by image, by product and by stream.

Text queries are matched against the text branch's embeddings and image queries against the visual branch's,
each stored beside the fused vector: a query that has only words (or only a picture) is compared in the space
it was trained for, not forced into the fused space.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ampere.errors import QueryError
from ampere.models import Models
from ampere.store import Hit, Store

MAX_QUERY_CHARS = 500
SHOWN_FIELDS = ("title", "summary", "screen", "start", "end", "tag_product", "price", "category")


def hit_dict(h: Hit) -> dict:
    return {"id": h.id, "domain": h.domain, "product_id": h.product_id, "stream_id": h.stream_id,
            "score": round(float(h.score), 4), **{k: v for k, v in h.fields.items() if k in SHOWN_FIELDS}}


class Search:
    def __init__(self, store: Store, models: Models):
        self.store = store
        self.models = models

    def by_text(self, query: str, k: int = 5, domains: Sequence[str] | None = None) -> list[dict]:
        query = (query or "").strip()
        if not query:
            raise QueryError("empty text query")
        if len(query) > MAX_QUERY_CHARS:
            raise QueryError(f"text query longer than {MAX_QUERY_CHARS} characters")
        vec = self.models.embedder.embed_text(query)
        return [hit_dict(h) for h in self.store.index.knn(vec, k=k, domains=domains, vector_field="text_embedding")]

    def by_image(self, image: np.ndarray, k: int = 5, domains: Sequence[str] | None = None) -> list[dict]:
        emb = self.models.embedder.embed("page", [image], "")
        return [hit_dict(h) for h in self.store.index.knn(emb.visual, k=k, domains=domains,
                                                          vector_field="visual_embedding")]

    def by_product(self, product_id: str, limit: int = 1000) -> dict:
        """Where a product shows up: ``live_now`` (streams whose current tag is it), ``live_before`` (tagged
        live windows, with their stream time spans) and ``videos`` (its short videos)."""
        if not product_id:
            raise QueryError("empty product id")
        index = self.store.index
        live_before = [{"key": h.key, "stream_id": h.stream_id, "start": float(h.fields.get("start", "nan")),
                        "end": float(h.fields.get("end", "nan")), "score": float(h.fields.get("score", "nan"))}
                       for h in index.find(tags={"domain": "live", "tag_product": product_id}, sort_by="start",
                                           limit=limit)]
        videos = [{"key": h.key, "id": h.id, "title": h.fields.get("title", "")}
                  for h in index.find(tags={"domain": "video", "product_id": product_id}, sort_by=None, limit=limit)]
        return {"live_now": self.store.streams.live_now(product_id), "live_before": live_before, "videos": videos}

    def by_stream(self, stream_id: str) -> dict:
        if not stream_id:
            raise QueryError("empty stream id")
        streams = self.store.streams
        return {"now": streams.now(stream_id), "history": streams.history(stream_id)}
