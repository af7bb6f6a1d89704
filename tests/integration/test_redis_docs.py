"""docs/REDIS.md's examples, run as written (every ```python block, in order, in one namespace) against a
populated index: what a frontend that queries Redis directly would run."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.models]

DOC = Path(__file__).resolve().parents[2] / "docs" / "REDIS.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_docs_examples_run_against_a_populated_index(shop, monkeypatch):
    monkeypatch.setenv("REDIS_URL", shop.redis_url)
    monkeypatch.setenv("AMPERE_REDIS__PREFIX", shop.settings.redis.prefix)
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 7, "the doc's examples were not found"

    # a stream keeps being tagged while the pub/sub example listens
    stop = threading.Event()

    def tag_now_and_then():
        start = 100.0
        while not stop.wait(0.2):
            shop.store.streams.record_tag(shop.live_stream, start, start + 8, shop.live_product, 2.5)
            start += 4

    th = threading.Thread(target=tag_now_and_then, daemon=True)
    th.start()
    ns: dict = {}
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"{DOC.name}, python block {i + 1}", "exec"), ns)
    finally:
        stop.set()
        th.join(5)

    # the product's live windows, in stream order, and "live now" of that product
    shown = shop.store.index.find(tags={"domain": "live", "tag_product": ns["product_id"]}, limit=100)
    assert len(ns["shown_before"]) == len(shown)
    assert ns["on_air_now"] == ([shop.live_stream] if ns["product_id"] == shop.live_product else [])
    # KNN with filters: the page itself first, all of its category and in the price range
    assert ns["hits"] and ns["hits"][0][0] == ns["page_key"] and ns["hits"][0][3] > 0.99
    cheapest = float(ns["page"][b"price"])
    assert all(lo <= price <= hi for _, _, price, _ in ns["hits"] for lo, hi in [(ns["lo"], ns["hi"])])
    pages = shop.store.index.find(tags={"domain": "page", "category": ns["category"]}, sort_by=None, limit=100)
    assert len(ns["hits"]) == min(5, len(pages)) and cheapest == min(
        float(h.fields["price"]) for h in shop.store.index.find(tags={"domain": "page"}, sort_by=None, limit=100)
    )
    # RedisVL finds the same items as the raw query
    assert [h["id"] for h in ns["rvl_hits"]] == [h[0] for h in ns["hits"]]
    # live now: the live stream with its product; the ended one is not there
    assert {s["stream_id"] for s in ns["live"]} == {shop.live_stream}
    assert ns["live"][0]["product_id"] == shop.live_product and ns["recent_tags"][-1]["product_id"] == shop.live_product
    # tag changes arrive on the channel
    assert ns["changes"] and ns["changes"][0]["type"] == "tag" and ns["changes"][0]["stream_id"] == shop.live_stream
    # the near-live windows belong to the live stream; the product's video is found without a vector
    assert ns["near_live"] and all(h["stream_id"] == shop.live_stream for h in ns["near_live"])
    assert [v["item_id"] for v in ns["videos"]] == [f"{ns['product_id']}-video0"]
    # a text query through the shipped model finds the page it quotes
    assert ns["text_hits"] and any(h["item_id"] == ns["page"][b"item_id"].decode() for h in ns["text_hits"][:3])
