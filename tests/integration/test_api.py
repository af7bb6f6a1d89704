"""The search API over a real Redis with a small shop in it (tests/integration/conftest.py): every endpoint, the
filters and paging, the errors a client can cause (never a 500), the files it serves and the live feed."""

from __future__ import annotations

import io
import json
import threading
import time
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ampere.api import create_app
from ampere_dev.apiserver import ApiServer

pytestmark = [pytest.mark.integration, pytest.mark.models]

HOSTILE = [
    "@domain:{page}",
    "a|b)*",
    "'; DROP TABLE items; --",
    "\x00\x01\x02",
    "{{}}\\",
    "*",
    "-(x)",
    "~~~",
    "%00%2e%2e/",
    "<script>alert(1)</script>",
    "\u202eevil",
    "商品 café",
    "=>[KNN 100 @embedding $vec]",
    "x" * 500,
    " \t\n ",
]


@pytest.fixture
def client(shop):
    with TestClient(create_app(shop.settings, shop.redis_url, models=shop.models)) as c:
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield c


def jpeg_of(path) -> bytes:
    return path.read_bytes()


def test_health_ready_openapi_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"], ready.text
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/search/text",
        "/api/search/image",
        "/api/search/similar",
        "/api/products/{product_id}",
        "/api/streams/{stream_id}",
        "/api/live",
        "/api/live/events",
        "/api/streams/{stream_id}/events",
        "/api/items/{domain}/{item_id}",
    ):
        assert path in spec["paths"], path
    assert "SearchResults" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
    client.get("/api/search/text", params={"q": "handbag"})
    metrics = client.get("/metrics").text
    assert 'ampere_api_request_seconds_count{method="GET",route="/api/search/text",status="2xx"}' in metrics
    assert "ampere_api_model_load_seconds" in metrics
    page = client.get("/")
    assert page.status_code == 200 and "live-grid" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_text_search_with_filters_and_paging(client, shop):
    title = "Farra Mozant leather handbag"
    r = client.get("/api/search/text", params={"q": title, "domain": "page", "limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "text" and [x["domain"] for x in body["results"]] == ["page"] * 3
    top = body["results"][0]
    assert top["product_id"] == "p0001" and top["price"] == 150 and top["category"] == "handbag"
    assert top["image_url"] == "/api/items/page/p0001-page0/image" and body["next_offset"] == 3
    # paging: the next page continues where this one stopped
    both = client.get("/api/search/text", params={"q": title, "domain": "page", "limit": 6}).json()["results"]
    second = client.get("/api/search/text", params={"q": title, "domain": "page", "limit": 3, "offset": 3})
    assert [x["id"] for x in body["results"] + second.json()["results"]] == [x["id"] for x in both]
    # price range and category
    cheap = client.get("/api/search/text", params={"q": "handbag", "price_max": 60, "limit": 20}).json()["results"]
    assert cheap and all(x["price"] is not None and x["price"] <= 60 for x in cheap)
    assert {x["domain"] for x in cheap} <= {"page", "video"}
    none = client.get("/api/search/text", params={"q": "handbag", "category": "no-such-category"}).json()
    assert none["results"] == [] and none["next_offset"] is None
    # live now: pages and videos of the product on air, windows of the live stream only
    live = client.get("/api/search/text", params={"q": "handbag", "live_now": True, "limit": 50}).json()["results"]
    assert live and {x["product_id"] for x in live} == {shop.live_product}
    assert {x["stream_id"] for x in live if x["domain"] == "live"} <= {shop.live_stream}
    windows = [x for x in live if x["domain"] == "live"]
    assert windows and windows[0]["url"].startswith("/api/items/live/") and windows[0]["start"] is not None


def test_image_search_and_what_a_bad_upload_gets(client, shop):
    img = jpeg_of(shop.dataset / "pages" / "p0002-0.jpg")
    r = client.post(
        "/api/search/image", files={"file": ("q.jpg", img, "image/jpeg")}, params={"domain": "page", "limit": 3}
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["id"] == "p0002-page0" and r.json()["query"] == "q.jpg"
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(png, "PNG")
    assert client.post("/api/search/image", files={"file": ("r.png", png.getvalue(), "image/png")}).status_code == 200
    cases = {
        "garbage": (b"this is not an image", 422),
        "empty": (b"", 422),
        "truncated jpeg": (img[: len(img) // 3], 422),
    }
    for name, (data, code) in cases.items():
        resp = client.post("/api/search/image", files={"file": ("x.jpg", data, "image/jpeg")})
        assert resp.status_code == code, (name, resp.status_code, resp.text)
    big = client.post("/api/search/image", files={"file": ("big.jpg", b"\xff" * (9 * 1024 * 1024), "image/jpeg")})
    assert big.status_code == 413
    bomb = io.BytesIO()
    Image.new("1", (8000, 8000)).save(bomb, "PNG")  # 64 Mpx in a few kB
    assert len(bomb.getvalue()) < 100_000
    r = client.post("/api/search/image", files={"file": ("bomb.png", bomb.getvalue(), "image/png")})
    assert r.status_code == 413, r.text
    assert client.post("/api/search/image").status_code == 422  # no file


def test_similar_items_across_domains(client, shop):
    r = client.get("/api/search/similar", params={"item_domain": "page", "id": "p0001-page0", "domain": "live"})
    assert r.status_code == 200, r.text
    hits = r.json()["results"]
    assert hits and hits[0]["stream_id"] == shop.live_stream and hits[0]["product_id"] == shop.live_product
    own = client.get("/api/search/similar", params={"item_domain": "page", "id": "p0001-page0"}).json()["results"]
    assert "p0001-page0" not in [x["id"] for x in own]
    window = f"{shop.live_stream}:4000"
    from_live = client.get("/api/search/similar", params={"item_domain": "live", "id": window}).json()["results"]
    assert from_live and all(x["stream_id"] != shop.live_stream for x in from_live)
    assert from_live[0]["product_id"] == shop.live_product  # its page or video
    assert client.get("/api/search/similar", params={"item_domain": "page", "id": "nope"}).status_code == 404
    assert client.get("/api/search/similar", params={"item_domain": "live", "id": "no-ms"}).status_code == 400
    assert client.get("/api/search/similar", params={"item_domain": "shop", "id": "x"}).status_code == 422


def test_product_stream_and_item_views(client, shop):
    v = client.get(f"/api/products/{shop.live_product}").json()
    assert v["product"]["title"].startswith("Farra Mozant") and v["pages"][0]["id"] == "p0001-page0"
    assert [s["stream_id"] for s in v["live_now"]] == [shop.live_stream]
    assert [(m["stream_id"], m["start"], m["end"]) for m in v["live_before"]] == [
        (shop.live_stream, 0.0, 8.0),
        (shop.live_stream, 4.0, 12.0),
        (shop.live_stream, 8.0, 16.0),
    ]
    assert [x["id"] for x in v["videos"]] == ["p0001-video0"]
    ended = client.get(f"/api/products/{shop.ended_product}").json()
    assert ended["live_now"] == [] and len(ended["live_before"]) == 2
    assert client.get("/api/products/p9999").status_code == 404

    s = client.get(f"/api/streams/{shop.live_stream}", params={"limit": 2}).json()
    assert s["live"] and s["now"]["product_id"] == shop.live_product and s["now"]["window_id"].endswith(":8000")
    assert [t["start"] for t in s["recent"]] == [8.0, 4.0] and s["recent"][0]["title"].startswith("Farra")
    e = client.get(f"/api/streams/{shop.ended_stream}").json()
    assert not e["live"] and e["now"]["ended"]
    assert client.get("/api/streams/never-seen").status_code == 404
    assert client.get("/api/streams/bad%20id").status_code == 422
    live = client.get("/api/live").json()
    assert [x["stream_id"] for x in live] == [shop.live_stream] and live[0]["product"]["price"] == 150

    item = client.get(f"/api/items/live/{shop.live_stream}:4000").json()
    assert item["domain"] == "live" and item["product_id"] == shop.live_product and item["summary"]
    assert client.get("/api/items/page/p0001-page0").json()["title"].startswith("Farra")
    assert client.get("/api/items/video/nope").status_code == 404
    assert client.get("/api/items/shop/x").status_code == 404


def test_files_are_served_only_from_what_the_index_holds(client, shop):
    r = client.get("/api/items/page/p0001-page0/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == (shop.dataset / "pages" / "p0001-0.jpg").read_bytes()
    assert client.get("/api/products/p0001/image").content == r.content
    # a live window whose media has expired shows its product's image
    moment = client.get(f"/api/items/live/{shop.live_stream}:0/image", follow_redirects=False)
    assert moment.status_code == 302 and moment.headers["location"] == "/api/products/p0001/image"
    # ids are never paths
    for path in (
        "/api/items/page/..%2F..%2F..%2Fetc%2Fpasswd/image",
        "/api/items/page/%2Fetc%2Fpasswd/image",
        "/api/items/page/../../etc/passwd/image",
        "/api/products/..%2Fsecret/image",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/api/items/video/p0001-video0/media",
    ):
        resp = client.get(path, follow_redirects=False)
        assert resp.status_code == 404 and b"root:" not in resp.content, (path, resp.status_code)
    # a value in the index that is not an image file is not served, whatever it names
    shop.store.r.hset(shop.store.keys.item("page", "p0002-page0"), "image", "/etc/passwd")
    assert client.get("/api/items/page/p0002-page0/image").status_code == 404


def test_hostile_input_is_answered_never_with_a_500(client, shop):
    for q in HOSTILE:
        r = client.get("/api/search/text", params={"q": q})
        assert r.status_code in (200, 400, 422), (q, r.status_code, r.text)
    for pid in HOSTILE[:-2]:
        r = client.get("/api/products/" + quote(pid, safe=""))
        assert r.status_code in (400, 404, 422), (pid, r.status_code, r.text)
    for params in (
        {"category": "a}|{b"},
        {"category": "\x00"},
        {"price_min": "NaN"},
        {"price_min": "1e999"},
        {"price_min": 5, "price_max": 1},
        {"limit": 0},
        {"limit": 10_000},
        {"offset": -1},
        {"offset": 995, "limit": 10},
        {"domain": "page) | (*"},
        {"live_now": "maybe"},
        {"unknown": 1},
    ):
        r = client.get("/api/search/text", params={"q": "handbag", **params})
        assert r.status_code in (200, 400, 422), (params, r.status_code, r.text)
    # the index is untouched
    assert client.get("/api/search/text", params={"q": "handbag", "domain": "page"}).json()["results"]


def test_the_live_feed_pushes_tag_changes(shop):
    with ApiServer(shop.settings, shop.redis_url, models=shop.models) as api:
        events: list[tuple[str, dict]] = []
        one: list[tuple[str, dict]] = []

        def read(url, into, stop_after):
            try:
                with httpx.stream("GET", url, timeout=20) as resp:
                    assert resp.headers["content-type"].startswith("text/event-stream")
                    kind = None
                    for line in resp.iter_lines():
                        if line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: "):
                            into.append((kind, json.loads(line[6:])))
                            if len(into) >= stop_after:
                                return
            except httpx.HTTPError:  # the server closed a feed still open at its shutdown
                pass

        readers = [
            threading.Thread(target=read, args=(f"{api.url}/api/live/events", events, 3), daemon=True),
            threading.Thread(
                target=read, args=(f"{api.url}/api/streams/{shop.ended_stream}/events", one, 2), daemon=True
            ),
        ]
        for th in readers:
            th.start()
        deadline = time.monotonic() + 10
        while (len(events) < 1 or len(one) < 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert events and events[0][0] == "snapshot"
        assert [s["stream_id"] for s in events[0][1]["streams"]] == [shop.live_stream]
        time.sleep(0.3)  # the hub is subscribed
        # views read now are cached; the tag events below must drop them
        assert httpx.get(f"{api.url}/api/streams/{shop.live_stream}").json()["now"]["product_id"] == shop.live_product
        assert [s["stream_id"] for s in httpx.get(f"{api.url}/api/products/{shop.live_product}").json()["live_now"]]
        shop.store.streams.record_tag(shop.live_stream, 12.0, 20.0, "p0002", 2.2, [("p0002", 2.2)])
        shop.store.streams.end(shop.live_stream, 20.0)
        for th in readers:
            th.join(10)
        kinds = [k for k, _ in events]
        assert kinds == ["snapshot", "tag", "end"], events
        tag = events[1][1]
        assert tag["stream_id"] == shop.live_stream and tag["moved"] and tag["window_id"] == f"{shop.live_stream}:12000"
        assert tag["product"]["title"].startswith("Honey Creek") and tag["product"]["price"] == 40
        # the other stream's feed saw none of it: only its snapshot; a second event is still to come
        assert len(one) == 1 and one[0][0] == "snapshot" and one[0][1]["now"]["ended"]
        metrics = httpx.get(f"{api.url}/metrics").text
        assert "ampere_api_tag_events_total 2.0" in metrics
        view = httpx.get(f"{api.url}/api/streams/{shop.live_stream}").json()
        assert view["now"]["product_id"] == "p0002" and not view["live"] and view["recent"][0]["start"] == 12.0
        assert httpx.get(f"{api.url}/api/products/{shop.live_product}").json()["live_now"] == []
        assert httpx.get(f"{api.url}/api/live").json() == []
