"""The search API and web page: one FastAPI app over ``ampere.search.Search`` (``ampere serve``).

    create_app(settings, redis_url)   the app (tests, the demo, `ampere serve`)
    app_from_env()                    the same from the environment (uvicorn --factory, several workers)

It needs only Redis (REDIS_URL, else a running ``ampere services up``) and the ONNX model (text and image queries
are embedded here). Live updates come from Redis pub/sub (``ampere.api.live``), not from Kafka.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import quote

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from ampere import __version__
from ampere.api.batching import QueryModels
from ampere.api.live import TagHub, redis_subscriber
from ampere.errors import ConfigError, NotFound, QueryError
from ampere.models import Models
from ampere.search import Search
from ampere.settings import Settings, get_settings
from ampere.store import Store

log = logging.getLogger("ampere.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
STREAMING_ROUTES = {"/api/live/events", "/api/streams/{stream_id}/events"}


def item_url(domain: str, item_id: str) -> str:
    return f"/api/items/{domain}/{quote(item_id, safe=':@-._~')}"


def product_url(product_id: str) -> str:
    return f"/api/products/{quote(product_id, safe=':@-._~')}"


class ApiMetrics:
    def __init__(self):
        self.registry = r = CollectorRegistry()
        for c in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            with contextlib.suppress(ValueError):
                r.register(c)
        self.request_seconds = Histogram(
            "ampere_api_request_seconds",
            "Request latency by route template",
            ["route", "method", "status"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.sse_clients = Gauge("ampere_api_sse_clients", "Live-feed (SSE) clients connected", registry=r)
        self.sse_dropped = Counter(
            "ampere_api_sse_dropped_total", "Live-feed clients dropped for falling behind", registry=r
        )
        self.tag_events = Counter("ampere_api_tag_events_total", "Tag events received from Redis pub/sub", registry=r)
        self.model_load_seconds = Gauge(
            "ampere_api_model_load_seconds", "Seconds the query embedder took to load", ["model"], registry=r
        )


class CardCache:
    """Product cards (title, price, image of the product's first page) for a while: the live feed shows the same
    products again and again."""

    def __init__(self, search: Search, ttl_s: float = 30.0, size: int = 10_000):
        self.search, self.ttl_s, self.size = search, ttl_s, size
        self._cards: OrderedDict[str, tuple[float, dict | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, product_id: str | None) -> dict | None:
        if not product_id:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cards.get(product_id)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._cards.move_to_end(product_id)
                return hit[1]
        return self.of_pages(product_id, self.search.pages_of(product_id, limit=1))

    def of_pages(self, product_id: str, pages) -> dict | None:
        """The card from pages already read (and kept for the next caller)."""
        card = None
        if pages:
            f = pages[0].fields
            card = {
                "product_id": product_id,
                "title": f.get("title") or None,
                "price": float(f["price"]) if f.get("price") else None,
                "category": f.get("category") or None,
                "page_id": pages[0].id,
                "image_url": f"{item_url('page', pages[0].id)}/image" if f.get("image") else None,
                "url": product_url(product_id),
            }
        with self._lock:
            self._cards[product_id] = (time.monotonic(), card)
            self._cards.move_to_end(product_id)
            while len(self._cards) > self.size:
                self._cards.popitem(last=False)
        return card


class ViewCache:
    """Serialized views (product, stream, live list) for ``ttl_s``, each under tags (``stream:<id>``,
    ``product:<id>``, ``live``) that a tag event drops at once: a view is never older than the last change the
    live feed announced, and never older than ``ttl_s`` for what it does not announce (pages added meanwhile)."""

    def __init__(self, ttl_s: float, size: int = 20_000):
        self.ttl_s, self.size = float(ttl_s), size
        self._views: OrderedDict[tuple, tuple[float, bytes, tuple[str, ...]]] = OrderedDict()
        self._by_tag: dict[str, set[tuple]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            hit = self._views.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl_s:
                self.misses += 1
                return None
            self.hits += 1
            return hit[1]

    def put(self, key: tuple, body: bytes, tags) -> None:
        tags = tuple(tags)
        with self._lock:
            self._drop(key)
            self._views[key] = (time.monotonic(), body, tags)
            for t in tags:
                self._by_tag.setdefault(t, set()).add(key)
            while len(self._views) > self.size:
                self._drop(next(iter(self._views)))

    def _drop(self, key: tuple) -> None:
        old = self._views.pop(key, None)
        if old is not None:
            for t in old[2]:
                keys = self._by_tag.get(t)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._by_tag[t]

    def invalidate(self, *tags: str) -> None:
        with self._lock:
            for t in tags:
                for key in list(self._by_tag.get(t, ())):
                    self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._views.clear()
            self._by_tag.clear()


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    models: Models
    search: Search
    metrics: ApiMetrics
    cards: CardCache
    hub: TagHub | None = None
    views: ViewCache | None = None
    embedder_s: float | None = None  # load time, once loaded
    errors: dict[str, str] = field(default_factory=dict)
    _on_air: OrderedDict = field(default_factory=OrderedDict)  # stream -> its product, as the feed last said

    def cached(self) -> ViewCache | None:
        """The view cache, when it can be trusted: on, and the live feed (its invalidations) connected."""
        if self.views is None or self.hub is None or not self.hub.connected:
            return None
        return self.views

    def on_event(self, event: dict) -> None:
        """Every tag event: drop the views it changes (the stream's, its product's now and before, the list)."""
        if event.get("type") != "lost":
            self.metrics.tag_events.inc()
        if self.views is None:
            return
        if event.get("type") == "lost":
            self.views.clear()
            return
        stream, product = str(event.get("stream_id")), event.get("product_id") or ""
        before = self._on_air.get(stream, "")
        self.views.invalidate(f"stream:{stream}", f"product:{product}", f"product:{before}", "live")
        if event.get("type") == "end":
            self._on_air.pop(stream, None)
        elif event.get("moved"):
            self._on_air[stream] = product
            self._on_air.move_to_end(stream)
            while len(self._on_air) > 100_000:
                self._on_air.popitem(last=False)

    def warm(self) -> None:
        t = time.perf_counter()
        try:
            self.search.models.embedder  # noqa: B018 - loads the ONNX model (and starts the query batcher)
        except Exception as exc:  # /readyz says what is wrong; the page and /healthz still answer
            log.exception("cannot load the query embedder")
            self.errors["embedder"] = f"{type(exc).__name__}: {exc}"
            return
        self.embedder_s = time.perf_counter() - t
        self.metrics.model_load_seconds.labels("embedder").set(self.embedder_s)

    async def enrich(self, event: dict) -> dict:
        """A tag event as the page shows it: with the window id and the product's card."""
        out = dict(event)
        if event.get("type") == "tag" and event.get("start") is not None:
            out["window_id"] = f"{event['stream_id']}:{int(round(float(event['start']) * 1000))}"
        out["product"] = await anyio.to_thread.run_sync(self.cards.get, event.get("product_id"))
        return out


def resolve_redis_url(settings: Settings, redis_url: str | None = None) -> str:
    """REDIS_URL, else the Redis of a running ``ampere services up``; the API never starts one of its own (an
    empty private Redis would answer nothing)."""
    if redis_url or settings.redis_url:
        return redis_url or settings.redis_url  # type: ignore[return-value]
    from ampere.urls import running_services

    shared = running_services(settings)
    if shared is None:
        raise ConfigError(
            "ampere serve: set REDIS_URL, or start the embedded services first with "
            "`ampere services up` (it prints the URLs)"
        )
    return shared.redis_url


class _LimitBody:
    """413 for request bodies over ``max_bytes`` on some paths, before they are parsed (Content-Length) or while
    they stream in (chunked uploads)."""

    def __init__(self, app, max_bytes: int, paths: set[str]):
        self.app, self.max_bytes, self.paths = app, max_bytes, paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers") or []:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                response = JSONResponse({"detail": f"request body over {self.max_bytes} bytes"}, status_code=413)
                return await response(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        return await self.app(scope, limited, send)


class _Timing:
    """Request latency by route template (a bounded label), for /metrics."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t, status = time.perf_counter(), 500

        async def timed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if route not in STREAMING_ROUTES:  # a live feed's duration is the connection's, not a latency
                self.metrics.request_seconds.labels(route, scope.get("method", ""), f"{status // 100}xx").observe(
                    time.perf_counter() - t
                )


def create_app(
    settings: Settings | None = None, redis_url: str | None = None, *, models: Models | None = None, live: bool = True
) -> FastAPI:
    """The API over one deployment's Redis (``settings.redis``; ``redis_url``, else REDIS_URL, else a running
    ``ampere services up``) and models. ``live``: subscribe to tag changes (the SSE endpoints need it)."""
    settings = settings or get_settings()
    redis_url = resolve_redis_url(settings, redis_url)
    store = Store.connect(redis_url, settings.redis)
    models = models or Models(settings)
    queries = QueryModels(models, settings.api.embed_batch, settings.api.embed_wait_ms, settings.api.embed_workers)
    search = Search(store, cast(Models, queries))  # Search needs only .embedder of the models
    metrics = ApiMetrics()
    ctx = ApiContext(
        settings=settings,
        store=store,
        models=models,
        search=search,
        metrics=metrics,
        cards=CardCache(search),
        views=ViewCache(settings.api.view_cache_s) if settings.api.view_cache_s > 0 else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        with contextlib.suppress(Exception):  # Redis down at start: /readyz says so, routes answer 503
            await anyio.to_thread.run_sync(store.index.create)
        warm = threading.Thread(target=ctx.warm, name="ampere-api-warm", daemon=True)
        warm.start()
        if live:
            ctx.hub = TagHub(
                redis_subscriber(redis_url),
                store.keys.tags_channel,
                enrich=ctx.enrich,
                queue_size=settings.api.sse_queue,
                max_clients=settings.api.sse_max_clients,
                on_drop=metrics.sse_dropped.inc,
                on_event=ctx.on_event,
            )
            ctx.hub.start()
        try:
            yield
        finally:
            if ctx.hub is not None:
                await ctx.hub.stop()

    app = FastAPI(
        title="AMPere Live search API",
        version=__version__,
        lifespan=lifespan,
        description="Search product pages, short videos and live-stream windows by text, image, product, "
        "stream or another item; follow live product tags (server-sent events). The page at / "
        "uses nothing else. Tag and dead-letter feeds on Kafka: docs/FEEDS.md; querying Redis "
        "directly: docs/REDIS.md.",
    )
    app.state.ctx = ctx

    from ampere.api.routes import router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    import redis as _redis

    @app.exception_handler(_redis.ConnectionError)
    async def _redis_down(request: Request, exc: Exception):
        return JSONResponse(
            {"detail": "the index (Redis) is unreachable; retry later"}, status_code=503, headers={"Retry-After": "5"}
        )

    app.add_middleware(_LimitBody, max_bytes=settings.api.max_image_bytes + 64 * 1024, paths={"/api/search/image"})
    app.add_middleware(_Timing, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory ampere.api.app:app_from_env`` (what ``ampere serve --workers N`` runs)."""
    return create_app(get_settings())
