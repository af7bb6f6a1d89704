"""Latency of the search API under load, written to bench/results/api.json.

    .venv/bin/python bench/api.py                       # 10k and 100k items, 10 and 100 clients, 4 query kinds
    .venv/bin/python bench/api.py --sizes 10000 --duration 10 --no-first-tag

For each index size, synthetic items (clustered random vectors, titles, categories, prices, tagged live windows,
live streams with a tag history) are written straight into an embedded Redis with ``ItemIndex.upsert_many``;
``ampere serve`` runs as a process of its own; a load client in another process (asyncio + aiohttp, closed loop:
each client sends its next request when the previous answer arrived) keeps N requests in flight for a while and
reports the latency of each. Loopback only. Query kinds:

    text      GET /api/search/text?q=...      distinct query strings, embedded by the real ONNX model (no cache)
    image     POST /api/search/image          a real product page JPEG, decoded and embedded per request
    product   GET /api/products/{id}          random products: pages, live now, live windows before, videos
    stream    GET /api/streams/{id}           random streams: now and the last 20 tags
    floor     GET /healthz                    no Redis, no model: what the HTTP stack and the client cost alone

Then the page's time to first tag: a real worker, the API, a stream replayed at real-time pace, and a
server-sent-events client of /api/live/events (what the page listens to): replay start -> first tag event.

Server, load client and Redis share the machine's cores: on a 2-core machine the client's CPU is taken from the
server. The figures say what this machine did, not what a server would do alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from ampere.settings import REPO_ROOT, Settings

OUT = REPO_ROOT / "bench" / "results" / "api.json"
WORDS = (
    "Amber Birch Cedar Delta Ember Falcon Granite Harbor Iris Juniper Kestrel Lumen Maple Nova Onyx Pioneer "
    "Quartz Raven Sierra Tundra Umber Vale Willow Xenon Yarrow Zephyr Mozant Ranger Pilot Viking Wizard Jinlain "
    "Orbit Summit Canyon Lagoon Meadow Prairie Ridge"
).split()
CATEGORIES = ("handbag lamp speaker chair mug backpack kettle headphones sneaker jacket watch vase").split()
MATERIALS = ("leather canvas brass oak plastic aluminum fabric steel glass wool").split()


def machine() -> dict:
    from bench.pipeline import machine as base

    return {**base(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


# ---------------------------------------------------------------- a synthetic shop


def title_of(rng: random.Random, pid: int) -> tuple[str, str, float]:
    r = random.Random(pid)
    cat = CATEGORIES[pid % len(CATEGORIES)]
    title = f"{r.choice(WORDS)} {r.choice(WORDS)} {r.choice(WORDS)} {r.randint(2, 900)} {r.choice(MATERIALS)} {cat}"
    return title, cat, round(r.uniform(5, 500), 2)


def populate(store, n_items: int, seed: int = 0) -> dict:
    """Pages 60 %, videos 20 %, live windows 20 % (in streams of up to 120 windows, each tagged with a product);
    200 streams get a tag history, the first half of them are live now."""
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    n_products = max(50, n_items // 10)
    centroids = rng.normal(size=(n_products, 3, 128)).astype(np.float32)
    n_pages, n_videos = int(n_items * 0.6), int(n_items * 0.2)
    n_live = n_items - n_pages - n_videos
    n_streams = max(10, n_live // 120)

    def vecs(pid: int):
        v = centroids[pid] + 0.35 * rng.normal(size=(3, 128)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def items():
        for i in range(n_pages):
            pid = i % n_products
            title, cat, price = title_of(prng, pid)
            v = vecs(pid)
            yield {
                "domain": "page",
                "id": f"b{pid:06d}-page{i // n_products}",
                "vector": v[0],
                "text_embedding": v[1],
                "visual_embedding": v[2],
                "product_id": f"b{pid:06d}",
                "title": title,
                "category": cat,
                "price": price,
                "ts": 0,
            }
        for i in range(n_videos):
            pid = (i * 7) % n_products
            title, cat, price = title_of(prng, pid)
            v = vecs(pid)
            yield {
                "domain": "video",
                "id": f"b{pid:06d}-video{i // n_products}",
                "vector": v[0],
                "text_embedding": v[1],
                "visual_embedding": v[2],
                "product_id": f"b{pid:06d}",
                "title": f"{title} (video)",
                "category": cat,
                "price": price,
                "summary": title,
                "ts": 0,
            }

    t0 = time.perf_counter()
    n = store.index.upsert_many(items(), chunk=500)
    live_windows = []
    for i in range(n_live):
        stream, k = f"bs{i % n_streams:04d}", i // n_streams
        live_windows.append((stream, 4.0 * k, prng.randrange(n_products)))
    _upsert_live_many(store, [(s, start, pid, vecs(pid)) for s, start, pid in live_windows], prng)
    n += len(live_windows)
    # tag histories: the last 10 windows of 200 streams; half of the streams end
    by_stream: dict[str, list] = {}
    for stream, start, pid in live_windows:
        by_stream.setdefault(stream, []).append((start, pid))
    streams = sorted(by_stream)[:200]
    for j, s in enumerate(streams):
        for start, pid in sorted(by_stream[s])[-10:]:
            store.streams.record_tag(s, start, start + 8, f"b{pid:06d}", 2.0, [(f"b{pid:06d}", 2.0)])
        if j >= len(streams) // 2:
            store.streams.end(s, sorted(by_stream[s])[-1][0] + 8)
    return {
        "items": n,
        "products": n_products,
        "streams": n_streams,
        "tagged_streams": len(streams),
        "build_s": round(time.perf_counter() - t0, 1),
    }


def _upsert_live_many(store, rows, prng, chunk: int = 500) -> None:
    pipe = store.r.pipeline(transaction=False)
    for i, (stream, start, pid, v) in enumerate(rows, 1):
        store.index._item_ops(
            pipe,
            "live",
            f"{stream}:{int(start * 1000)}",
            v[0],
            {
                "stream_id": stream,
                "start": start,
                "end": start + 8,
                "text_embedding": v[1],
                "visual_embedding": v[2],
                "summary": title_of(prng, pid)[0],
                "ts": time.time(),
                "tag_product": f"b{pid:06d}",
                "score": 2.0,
            },
            key=store.keys.live(stream, start),
        )
        if i % chunk == 0:
            pipe.execute()
    pipe.execute()


def wait_indexed(store, n: int, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = store.index._index.info()
        if int(d.get("num_docs", 0)) >= n and float(d.get("percent_indexed", 1)) >= 1:
            return
        time.sleep(1)
    raise TimeoutError("index did not catch up")


# ---------------------------------------------------------------- the load client (its own process)


def client_main(spec_path: str) -> None:
    import aiohttp

    spec = json.loads(Path(spec_path).read_text())
    kind, clients, base = spec["kind"], spec["clients"], spec["url"]
    rng = random.Random(spec.get("seed", 1))
    image = Path(spec["image"]).read_bytes() if spec.get("image") else b""
    texts, products, streams = spec["texts"], spec["products"], spec["streams"]
    lat: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(10**9))

    async def one(session) -> None:
        if kind == "text":
            q = f"{texts[next(counter) % len(texts)]} {next(counter)}"  # distinct every time: no cache helps
            async with session.get(f"{base}/api/search/text", params={"q": q, "limit": 12}) as r:
                await r.read()
                status = r.status
        elif kind == "image":
            form = aiohttp.FormData()
            form.add_field("file", image, filename="q.jpg", content_type="image/jpeg")
            async with session.post(f"{base}/api/search/image", data=form, params={"limit": 12}) as r:
                await r.read()
                status = r.status
        elif kind == "product":
            async with session.get(f"{base}/api/products/{rng.choice(products)}") as r:
                await r.read()
                status = r.status
        elif kind == "floor":
            async with session.get(f"{base}/healthz") as r:
                await r.read()
                status = r.status
        else:
            async with session.get(f"{base}/api/streams/{rng.choice(streams)}") as r:
                await r.read()
                status = r.status
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1

    async def main() -> None:
        conn = aiohttp.TCPConnector(limit=clients, force_close=False)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as session:
            t_start = time.perf_counter()
            warm_end, end = t_start + spec["warmup_s"], t_start + spec["warmup_s"] + spec["duration_s"]

            async def worker():
                while True:
                    t = time.perf_counter()
                    if t >= end:
                        return
                    try:
                        await one(session)
                    except Exception as exc:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    done = time.perf_counter()
                    if t >= warm_end and done <= end:
                        lat.append(done - t)

            await asyncio.gather(*(worker() for _ in range(clients)))

    asyncio.run(main())
    print(json.dumps({"latencies_s": lat, "errors": errors, "duration_s": spec["duration_s"]}))


def run_load(spec: dict, tmp: Path) -> dict:
    path = tmp / f"spec-{spec['kind']}-{spec['clients']}.json"
    path.write_text(json.dumps(spec))
    out = subprocess.run(
        [sys.executable, __file__, "--client", str(path)],
        capture_output=True,
        text=True,
        timeout=spec["duration_s"] + spec["warmup_s"] + 120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load client failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    lat = np.array(res["latencies_s"]) * 1000
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None,
        "qps": round(len(lat) / res["duration_s"], 1),
        "requests": int(len(lat)),
        "errors": res["errors"],
    }


# ---------------------------------------------------------------- the server (its own process)


def start_server(redis_url: str, prefix: str, home: Path, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    from ampere_dev.services import die_with_parent, free_port

    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "AMPERE_REDIS__PREFIX": prefix,
        "AMPERE_HOME": str(home),
        "PYTHONPATH": str(REPO_ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ampere_cli", "-l", "warning", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=REPO_ROOT,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ampere serve exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"ampere serve not ready:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- time to first tag


def first_tag(home: Path) -> dict:
    """A real worker and API, a stream at real-time pace, an SSE client of /api/live/events: replay start -> the
    first tag event (what the page shows). The window is 8 s, so 8 s of it is the stream itself."""
    import httpx

    from ampere.broker import ensure_topics, topic_names
    from ampere.catalog import add_pages
    from ampere.models import Models
    from ampere.replay import replay
    from ampere.store import Store
    from ampere_dev.derive import ensure_dataset, ensure_onnx
    from ampere_dev.services import EmbeddedServices, free_port
    from ampere_dev.worker import FaustWorker
    from ampere_synth.truth import load_jsonl

    data = ensure_dataset(Settings(), "tiny", 0)
    ensure_onnx(Settings())
    settings = Settings(home=home / "first-tag", redis={"prefix": "benchft"}, broker={"topic_prefix": "benchft"})
    with EmbeddedServices(settings) as svc:
        urls = svc.urls
        ensure_topics(urls.kafka_url, list(topic_names(settings).values()), settings.broker.partitions)
        store = Store.connect(urls.redis_url, settings.redis)
        store.r.flushdb()
        store.index.create()
        add_pages(store, data / "catalog.jsonl", Models(settings), progress=False)
        proc, url = start_server(urls.redis_url, "benchft", settings.home, 1, home / "api-first-tag.log")
        stream = load_jsonl(data / "live.jsonl")[1]
        try:
            with FaustWorker(urls, settings, log_path=home / "worker-first-tag.log", metrics_port=free_port()) as w:
                w.wait_ready(240)
                got: dict = {}
                connected = threading.Event()

                def listen():
                    with httpx.stream("GET", f"{url}/api/live/events", timeout=120) as r:
                        kind = None
                        for line in r.iter_lines():
                            if line.startswith("event: "):
                                kind = line[7:]
                                connected.set()
                            elif line.startswith("data: ") and kind == "tag":
                                got["t"] = time.monotonic()
                                got["event"] = json.loads(line[6:])
                                return

                th = threading.Thread(target=listen, daemon=True)
                th.start()
                connected.wait(30)
                stop_replay = threading.Event()
                t0 = time.monotonic()
                player = threading.Thread(
                    target=replay,
                    args=(str(data / stream["path"]), "ft-stream", urls.kafka_url, settings),
                    kwargs={"realtime": True, "stop": stop_replay},
                    daemon=True,
                )
                player.start()
                th.join(120)
                stop_replay.set()
                player.join(30)
        finally:
            stop(proc)
    if "t" not in got:
        return {"error": "no tag event within 120 s"}
    return {
        "seconds": round(got["t"] - t0, 2),
        "window_s": settings.windows.window_s,
        "first_window_closes_at_s": settings.windows.window_s,
        "method": "replay (real-time pace) start -> first `tag` event on /api/live/events (SSE), no browser; "
        "tests/integration/test_web_browser.py measures the same to the card in Chromium",
    }


# ---------------------------------------------------------------- the README's table


def table(result: dict) -> str:
    """Markdown: one row per index size and query kind, p50 / p99 / qps at each client count."""
    runs = result["runs"]
    clients = sorted({r["clients"] for r in runs})
    head = "| index items | query | " + " | ".join(f"{c} clients p50 / p99 ms (qps)" for c in clients) + " |"
    lines = [head, "|" + "---|" * (2 + len(clients))]
    for size in sorted({r["index_items"] for r in runs}):
        for kind in ("text", "image", "product", "stream", "floor"):
            cells = []
            for c in clients:
                r = next(
                    (x for x in runs if x["index_items"] == size and x["query"] == kind and x["clients"] == c), None
                )
                cells.append(
                    f"{r['p50_ms']:g} / {r['p99_ms']:g} ({r['qps']:g})" if r and r["p50_ms"] is not None else "–"
                )
            if any(cell != "–" for cell in cells):
                lines.append(f"| {size:,} | {kind} | " + " | ".join(cells) + " |")
    ft = result.get("first_tag") or {}
    if "seconds" in ft:
        lines.append("")
        lines.append(
            f"Time to first tag: {ft['seconds']:g} s from the start of a stream replayed at real-time pace "
            f"to the first tag event on `/api/live/events` (the first {ft['window_s']:g} s window closes at "
            f"{ft['window_s']:g} s of media)."
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="10000,100000", help="index sizes (default: 10000,100000)")
    ap.add_argument("--clients", default="10,100", help="concurrent clients (default: 10,100)")
    ap.add_argument("--queries", default="text,image,product,stream,floor", help="query kinds (default: all five)")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds measured per run (default: 15)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default: 3)")
    ap.add_argument("--server-workers", type=int, default=1, help="`ampere serve --workers` (default: 1)")
    ap.add_argument("--no-first-tag", action="store_true", help="skip the time-to-first-tag measurement")
    ap.add_argument("--out", default=str(OUT), help=f"results file (default: {OUT.relative_to(REPO_ROOT)})")
    ap.add_argument("--table", action="store_true", help="print the results file as the README's table and exit")
    args = ap.parse_args()
    if args.client:
        client_main(args.client)
        return 0
    if args.table:
        print(table(json.loads(Path(args.out).read_text())))
        return 0

    from ampere.store import Store
    from ampere_dev.derive import ensure_dataset, ensure_onnx
    from ampere_dev.services import EmbeddedServices

    data = ensure_dataset(Settings(), "tiny", 0)
    ensure_onnx(Settings())
    image = str(data / "pages" / "p0002-0.jpg")
    result = {
        "runs": [],
        "machine": machine(),
        "command": " ".join(["bench/api.py", *sys.argv[1:]]),
        "server_workers": args.server_workers,
        "load_client": "aiohttp, closed loop, separate process",
        "date": time.strftime("%Y-%m-%d"),
        "indexes": [],
    }
    with tempfile.TemporaryDirectory(prefix="ampere-bench-api-") as tmpd:
        tmp = Path(tmpd)
        home = tmp / "home"
        with EmbeddedServices(Settings(home=home), kafka=False) as svc:
            for size in [int(s) for s in args.sizes.split(",")]:
                prefix = f"benchapi{size}"
                settings = Settings(home=home, redis={"prefix": prefix})
                store = Store.connect(svc.redis_url, settings.redis)
                store.index.create(overwrite=True)
                print(f"building a {size}-item index ...", flush=True)
                info = populate(store, size)
                wait_indexed(store, info["items"])
                mem = store.r.info("memory")["used_memory"] / 2**20
                info.update(index_items=size, redis_used_mb=round(mem, 1))
                result["indexes"].append(info)
                print(f"  {info}", flush=True)
                products = [f"b{i:06d}" for i in range(info["products"])]
                streams = [f"bs{i:04d}" for i in range(min(200, info["streams"]))]
                prng = random.Random(1)
                texts = [" ".join(title_of(prng, prng.randrange(info["products"]))[0].split()[:3]) for _ in range(500)]
                proc, url = start_server(svc.redis_url, prefix, home, args.server_workers, tmp / f"api-{size}.log")
                try:
                    for kind in args.queries.split(","):
                        for clients in [int(c) for c in args.clients.split(",")]:
                            spec = {
                                "kind": kind,
                                "clients": clients,
                                "url": url,
                                "duration_s": args.duration,
                                "warmup_s": args.warmup,
                                "texts": texts,
                                "products": products,
                                "streams": streams,
                                "image": image,
                            }
                            row = {"index_items": size, "clients": clients, "query": kind, **run_load(spec, tmp)}
                            result["runs"].append(row)
                            print(f"  {row}", flush=True)
                finally:
                    stop(proc)
                store.index.drop(with_documents=True)
                store.r.flushdb()
        if not args.no_first_tag:
            print("time to first tag ...", flush=True)
            result["first_tag"] = first_tag(tmp)
            print(f"  {result['first_tag']}", flush=True)
    result["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
