"""What the shop frontend asks: search by text, by image, by product and by stream.

Text queries are matched against the text branch's embeddings and image
queries against the visual branch's, each stored beside the fused vector:
a query that has only words (or only a picture) is compared in the space it
was trained for, not forced into the fused space.
"""
from __future__ import annotations

from pathlib import Path

from ampere import index
from ampere.catalog import load_image
from ampere.pipeline import Models
from ampere.settings import Settings

_MODELS: dict[int, Models] = {}


def _models(settings: Settings) -> Models:
    return _MODELS.setdefault(id(settings), Models(settings))


def _hits(hits) -> list[dict]:
    return [{"id": h.id, "domain": h.domain, "product_id": h.product_id, "stream_id": h.stream_id,
             "score": round(float(h.score), 4), **{k: v for k, v in h.fields.items() if k in ("title", "summary", "start", "end", "tag_product")}}
            for h in hits]


def by_text(r, query: str, settings: Settings, k: int = 5, domains=None) -> list[dict]:
    if not query.strip():
        raise ValueError("empty text query")
    vec = _models(settings).embedder.embed_text(query)
    return _hits(index.knn(r, vec, k=k, domains=domains, vector_field="text_embedding", settings=settings))


def by_image(r, path: Path, settings: Settings, k: int = 5, domains=None) -> list[dict]:
    img = load_image(str(path), Path("."))
    emb = _models(settings).embedder.embed("page", [img], "")
    return _hits(index.knn(r, emb.visual, k=k, domains=domains, vector_field="visual_embedding", settings=settings))


def by_product(r, product_id: str) -> dict:
    return index.product_appearances(r, product_id)


def by_stream(r, stream_id: str) -> dict:
    return {"now": index.stream_now(r, stream_id), "history": index.stream_history(r, stream_id)}
