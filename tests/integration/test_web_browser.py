"""The web page in a real browser (headless Debian Chromium, driven by selenium) against the embedded services,
a real `faust -A streamer.app worker` and a stream replayed at real-time pace: a live tag appears on the page as
the stream plays, then a text search and an image search fill the result grids, and the product view opens.

It also measures the page's time to first tag: replay start -> the live card in the page (printed, and written
to the test's tmp dir as first_tag.json). A screenshot is saved in the tmp dir; with AMPERE_UPDATE_SCREENSHOT=1 it
is copied to docs/screenshot.png (the README's).

Chromium comes from Debian's `chromium` and `chromium-driver` (`make test` installs them); selenium is pointed at
both, so it never downloads a browser or a driver. Without them this test fails, it does not skip.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest

from ampere.broker import ensure_topics, topic_names
from ampere.catalog import add_pages, add_videos
from ampere.models import Models
from ampere.replay import replay
from ampere.settings import Settings
from ampere.store import Store
from ampere_dev.apiserver import ApiServer
from ampere_dev.services import free_port
from ampere_dev.worker import FaustWorker
from ampere_synth.truth import load_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.models]

CHROMIUM = os.environ.get("AMPERE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AMPERE_CHROMEDRIVER", "/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]
STREAM = "live001"  # 62.5 s: intro, two products, outro


def chrome(tmp_path: Path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() or shutil.which(p))]
    if missing:
        pytest.fail(
            f"headless Chromium is needed for the web page test and {missing} is missing: run `make test` "
            "(as root it installs the Debian packages chromium and chromium-driver), or `sudo apt-get "
            "install chromium chromium-driver`"
        )
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for downloads
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1100",
        f"--user-data-dir={tmp_path / 'chrome'}",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "driver.log")), options=opts
    )


def wait_for(fn, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as exc:  # a stale element while the page re-renders
            last = exc
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def test_the_page_shows_live_tags_and_searches_in_a_real_browser(services, tiny_dataset, tmp_path):
    run = uuid.uuid4().hex[:8]
    settings = Settings(redis={"prefix": f"web-{run}"}, broker={"topic_prefix": f"web{run}"}, home=tmp_path)
    ensure_topics(services.kafka_url, list(topic_names(settings).values()), settings.broker.partitions)
    store = Store.connect(services.redis_url, settings.redis)
    store.index.create(overwrite=True)
    models = Models(settings)
    catalog = {row["product_id"]: row for row in load_jsonl(tiny_dataset / "catalog.jsonl")}
    assert add_pages(store, tiny_dataset / "catalog.jsonl", models, progress=False).added == len(catalog)
    assert add_videos(store, tiny_dataset / "videos.jsonl", models, progress=False).added > 0
    stream = next(s for s in load_jsonl(tiny_dataset / "live.jsonl") if s["stream_id"] == STREAM)
    stream_id = f"{STREAM}-{run}"

    driver = chrome(tmp_path)
    stop = threading.Event()
    logs: list[dict] = []
    try:
        with (
            ApiServer(settings, services.redis_url, models=models) as api,
            FaustWorker(services, settings, log_path=tmp_path / "worker.log", metrics_port=free_port()) as worker,
        ):
            worker.wait_ready(timeout=240)  # through the worker's /readyz
            driver.get(f"{api.url}/")
            wait_for(
                lambda: "on" in driver.find_element("id", "feed-status").get_attribute("class"),
                30,
                "the live feed to connect",
            )
            assert driver.find_elements("id", "live-empty")  # nothing is live yet

            t0 = time.monotonic()
            player = threading.Thread(
                target=replay,
                args=(str(tiny_dataset / stream["path"]), stream_id, services.kafka_url, settings),
                kwargs={"realtime": True, "stop": stop},
                daemon=True,
            )
            player.start()
            card = wait_for(
                lambda: driver.find_elements("css selector", f'.live-card[data-stream-id="{stream_id}"]'),
                120,
                "a live tag on the page",
            )[0]
            first_tag_s = time.monotonic() - t0
            if not card.get_attribute("data-product-id"):  # the intro: the tagger said "none", and the card says so
                assert "no product on air" in card.text, card.text
                card = wait_for(
                    lambda: [
                        c
                        for c in driver.find_elements("css selector", f'.live-card[data-stream-id="{stream_id}"]')
                        if c.get_attribute("data-product-id")
                    ],
                    90,
                    "a live tag with a product on the page",
                )[0]
            product_id = card.get_attribute("data-product-id")
            assert product_id in catalog, product_id
            assert catalog[product_id]["title"] in card.text and "LIVE" in card.text and "confidence" in card.text
            (tmp_path / "first_tag.json").write_text(
                json.dumps(
                    {
                        "stream": STREAM,
                        "realtime": True,
                        "window_s": settings.windows.window_s,
                        "first_tag_s": round(first_tag_s, 2),
                    }
                )
            )
            print(
                f"time to first tag on the page: {first_tag_s:.1f} s after the stream started "
                f"(first window closes at {settings.windows.window_s:.0f} s of media)"
            )

            # the card follows the stream: the next tags arrive while it plays
            wait_for(lambda: len(store.streams.history(stream_id)) >= 3, 90, "more windows tagged")
            now = store.streams.now(stream_id)
            wait_for(
                lambda: (
                    driver.find_element("css selector", f'.live-card[data-stream-id="{stream_id}"]').get_attribute(
                        "data-product-id"
                    )
                    == now["product_id"]
                    or store.streams.now(stream_id)["start"] != now["start"]
                ),
                20,
                "the card to follow the stream",
            )

            # a text search: the quoted product's page comes first; videos and live moments are found too
            want = catalog["p0007"]
            words = " ".join(want["title"].split(",")[0].split())
            box = driver.find_element("id", "q")
            box.clear()
            box.send_keys(words)
            driver.find_element("id", "search-button").click()
            first = wait_for(lambda: driver.find_elements("css selector", "#results-page .card"), 30, "text results")[0]
            assert first.get_attribute("data-product-id") == "p0007", first.text
            wait_for(lambda: driver.find_elements("css selector", "#results-video .card"), 15, "video results")
            wait_for(lambda: driver.find_elements("css selector", "#results-live .card"), 15, "live-moment results")

            # an image search with a product page's picture
            picture = tiny_dataset / catalog["p0002"]["image"]
            driver.find_element("id", "image-input").send_keys(str(picture))
            wait_for(lambda: "picture" in driver.find_element("id", "results-title").text, 30, "image results")
            first = wait_for(
                lambda: [
                    c for c in driver.find_elements("css selector", "#results-page .card") if c.get_attribute("data-id")
                ],
                30,
                "image results",
            )[0]
            assert first.get_attribute("data-id") == "p0002-page0", first.text
            assert driver.find_elements("css selector", f'.live-card[data-stream-id="{stream_id}"]')

            shot = tmp_path / "page.png"
            driver.set_window_size(1280, 1600)  # the live card and all three result grids
            time.sleep(0.5)
            driver.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            if os.environ.get("AMPERE_UPDATE_SCREENSHOT") == "1":
                shutil.copyfile(shot, REPO / "docs" / "screenshot.png")

            # the product view: where it appears, with its stream moments
            first.click()
            view = wait_for(lambda: driver.find_elements("id", "product-view"), 20, "the product view")[0]
            assert catalog["p0002"]["title"] in view.text
            driver.get(f"{api.url}/#/product/{product_id}")
            moments = wait_for(
                lambda: driver.find_elements("css selector", "#product-moments a"), 20, "the product's stream moments"
            )
            moments[0].click()
            wait_for(lambda: driver.find_elements("id", "moment-view"), 20, "the stream moment view")
            assert stream_id in driver.find_element("id", "moment-view").text
            stop.set()
            player.join(30)
            assert worker.proc.poll() is None, worker.log_text()[-3000:]
            # read before the server stops: the page's live feed is cut then, which the browser logs as an error
            logs = driver.get_log("browser")
            driver.get("about:blank")
    finally:
        stop.set()
        driver.quit()
    errors = [entry for entry in logs if entry.get("level") == "SEVERE" and "favicon" not in entry.get("message", "")]
    assert not errors, errors
