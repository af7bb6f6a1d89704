"""A small shop in Redis for the API and Redis-docs tests: the tiny dataset's product pages (real embeddings),
one short video per product (its page's vectors: `videos add` would run ASR and the LLM, which is not what these
tests are about) and two live streams whose windows were tagged, one still live and one ended."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

LIVE_PRODUCT, ENDED_PRODUCT = "p0001", "p0004"


@dataclass
class Shop:
    store: object
    settings: object
    dataset: Path
    models: object
    live_stream: str
    ended_stream: str
    redis_url: str
    live_product: str = LIVE_PRODUCT  # what the live stream shows now
    ended_product: str = ENDED_PRODUCT  # what the ended stream showed last


@pytest.fixture(scope="session")
def tiny_dataset():
    from ampere.settings import Settings
    from ampere_dev.derive import ensure_dataset, ensure_onnx

    base = Settings()
    data = ensure_dataset(base, "tiny", 0, progress=print)
    ensure_onnx(base, progress=print)
    return data


@pytest.fixture
def shop(services, settings_for, tiny_dataset) -> Shop:
    from ampere.catalog import add_pages
    from ampere.models import Models
    from ampere.store import Store

    settings = settings_for()
    store = Store.connect(services.redis_url, settings.redis)
    store.index.create()
    models = Models(settings)
    assert add_pages(store, tiny_dataset / "catalog.jsonl", models, progress=False).added == 9
    pages = store.index.find(tags={"domain": "page"}, sort_by=None, limit=100)
    fields = ("embedding", "text_embedding", "visual_embedding")
    for h in pages:
        vec, text, visual = (store.index.vectors([h.key], f)[0] for f in fields)
        store.index.upsert(
            "video",
            f"{h.product_id}-video0",
            vec,
            text_embedding=text,
            visual_embedding=visual,
            product_id=h.product_id,
            title=f"{h.fields['title']} (video)",
            ts=0,
            category=h.fields.get("category"),
            price=float(h.fields["price"]),
        )
    rng = np.random.default_rng(0)
    by_product = {h.product_id: h for h in pages}

    def windows(stream_id: str, product_id: str, n: int) -> None:
        base = {f: store.index.vectors([by_product[product_id].key], f)[0] for f in fields}
        for i in range(n):
            noisy = {f: v + 0.05 * rng.normal(size=v.shape).astype(np.float32) for f, v in base.items()}
            noisy = {f: (v / np.linalg.norm(v)).astype(np.float32) for f, v in noisy.items()}
            start = 4.0 * i
            store.index.upsert_live(
                stream_id,
                start,
                start + 8,
                noisy["embedding"],
                text_embedding=noisy["text_embedding"],
                visual_embedding=noisy["visual_embedding"],
                summary=f"brand: {by_product[product_id].fields['title'].split(',')[0]}",
                ts=1.0,
            )
            store.streams.record_tag(
                stream_id, start, start + 8, product_id, 2.0 + i / 10, [(product_id, 2.0 + i / 10), ("p0008", 0.5)]
            )

    live, ended = f"shop-live-{settings.redis.prefix}", f"shop-ended-{settings.redis.prefix}"
    windows(live, LIVE_PRODUCT, 3)
    windows(ended, ENDED_PRODUCT, 2)
    store.streams.end(ended, 12.0)
    yield Shop(
        store=store,
        settings=settings,
        dataset=tiny_dataset,
        models=models,
        live_stream=live,
        ended_stream=ended,
        redis_url=services.redis_url,
    )
    store.index.drop(with_documents=True)
