"""The API's routes. Handlers that touch Redis or the model are plain functions (FastAPI runs them in its thread
pool); the cached views (product, stream, live list) and the live feeds are async, and leave the loop only to
build a view that is not cached. Ids only ever reach Redis through ``ampere.store`` (keys) and RedisVL filter
expressions (escaped), so no query text or id can inject search syntax; files are served only from paths the
index holds (written by ``catalog add`` / ``videos add``), never from a path a request names."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Annotated, Any

import anyio
import numpy as np
from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import RootModel

from ampere.api.app import STATIC_DIR, ApiContext, item_url, product_url
from ampere.api.live import event_stream
from ampere.api.models import (
    MAX_DEPTH,
    Error,
    FilterParams,
    Health,
    Item,
    LiveStream,
    Moment,
    ProductView,
    Ready,
    SearchResults,
    SimilarSearch,
    StreamView,
    TagEntry,
    TextSearch,
)
from ampere.errors import NotFound, QueryError
from ampere.grid import STREAM_ID, window_id
from ampere.search import Filters, parse_item_id
from ampere.store import Hit
from ampere.store.index import RETURN_FIELDS

router = APIRouter()

IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".m4v": "video/mp4"}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "the query cannot be answered as asked"},
    404: {"model": Error, "description": "unknown id"},
    422: {"model": Error, "description": "invalid parameters"},
    503: {"model": Error, "description": "the index (Redis) is unreachable"},
}
ProductId = Annotated[str, PathParam(min_length=1, max_length=128, description="the catalogue's product id")]
StreamId = Annotated[str, PathParam(pattern=STREAM_ID.pattern, description="a live stream id")]
ItemId = Annotated[
    str, PathParam(min_length=1, max_length=256, description="page or video id, or a live window's <stream>:<start ms>")
]


def ctx_of(request: Request) -> ApiContext:
    return request.app.state.ctx


# ---------------------------------------------------------------- shaping


def _num(v) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def to_item(h: Hit, with_score: bool = True) -> Item:
    f, domain = h.fields, h.domain
    pid = (f.get("tag_product") if domain == "live" else h.product_id) or None
    url = item_url(domain, h.id)
    if domain == "page":
        image = f"{url}/image" if f.get("image") else None
    elif domain == "live":
        image = f"{url}/image"  # the window's keyframe while Redis keeps it, else its product's image
    else:
        image = f"{product_url(pid)}/image" if pid else None
    return Item(
        id=h.id,
        domain=domain,
        score=round(h.score, 4) if with_score else None,
        product_id=pid,
        stream_id=h.stream_id or None,
        title=f.get("title") or None,
        summary=f.get("summary") or None,
        category=f.get("category") or None,
        price=_num(f.get("price")),
        start=_num(f.get("start")),
        end=_num(f.get("end")),
        tag_score=_num(f.get("score")) if domain == "live" else None,
        image_url=image,
        media_url=f"{url}/media" if domain == "video" and f.get("video") else None,
        url=url,
    )


def _filters(p: FilterParams) -> Filters:
    return Filters.of(
        p.domain, categories=p.category, price_min=p.price_min, price_max=p.price_max, live_now=p.live_now
    )


def _results(kind: str, query: str | None, hits: list[Hit], p: FilterParams, t0: float) -> SearchResults:
    more = len(hits) >= p.limit and p.offset + 2 * p.limit <= MAX_DEPTH
    return SearchResults(
        kind=kind,
        query=query,
        results=[to_item(h) for h in hits],
        offset=p.offset,
        limit=p.limit,
        next_offset=p.offset + p.limit if more else None,
        took_ms=round((time.perf_counter() - t0) * 1000, 2),
    )


def live_stream(ctx: ApiContext, now: dict) -> LiveStream:
    start = _num(now.get("start"))
    start = start if start is not None and start == start else None  # NaN when missing
    return LiveStream(
        stream_id=now["stream_id"],
        product_id=now.get("product_id") or None,
        score=_finite(now.get("score")),
        start=start,
        end=_finite(now.get("end")),
        window_id=window_id(now["stream_id"], start) if start is not None else None,
        ts=_finite(now.get("ts")),
        ended=bool(now.get("ended")),
        product=ctx.cards.get(now.get("product_id")),
    )


def _finite(v) -> float | None:
    x = _num(v)
    return x if x is not None and x == x and abs(x) != float("inf") else None


# ---------------------------------------------------------------- the page, health, metrics


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/healthz", response_model=Health, tags=["health"], summary="The process answers")
async def healthz() -> Health:
    # on the event loop: a liveness probe must not queue behind searches busy in the thread pool
    return Health()


@router.get(
    "/readyz",
    response_model=Ready,
    tags=["health"],
    summary="Redis, the index, the query model and the live feed are up",
    responses={503: {"model": Ready, "description": "not ready (see checks)"}},
)
def readyz(request: Request):
    ctx = ctx_of(request)
    checks: dict[str, bool | str] = {}
    try:
        checks["redis"] = bool(ctx.store.r.ping())
        checks["index"] = bool(ctx.store.index._index.exists())
    except Exception as exc:
        checks.setdefault("redis", False)
        checks["index"] = False
        checks["error"] = f"{type(exc).__name__}: {exc}"
    checks["embedder"] = ctx.embedder_s is not None
    if "embedder" in ctx.errors:
        checks["embedder_error"] = ctx.errors["embedder"]
    checks["live_feed"] = ctx.hub is None or ctx.hub.connected
    ok = all(v for k, v in checks.items() if isinstance(v, bool))
    body = Ready(ready=ok, checks=checks)
    return body if ok else Response(body.model_dump_json(), status_code=503, media_type="application/json")


@router.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    ctx = ctx_of(request)
    ctx.metrics.sse_clients.set(len(ctx.hub.clients) if ctx.hub else 0)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


# ---------------------------------------------------------------- search


@router.get(
    "/api/search/text",
    response_model=SearchResults,
    tags=["search"],
    responses=ERRORS,
    summary="Pages, videos and live moments matching words (the text branch of the model)",
)
def search_text(request: Request, params: Annotated[TextSearch, Query()]) -> SearchResults:
    t0 = time.perf_counter()
    hits = ctx_of(request).search.text_hits(params.q, k=params.limit, offset=params.offset, filters=_filters(params))
    return _results("text", params.q, hits, params, t0)


@router.post(
    "/api/search/image",
    response_model=SearchResults,
    tags=["search"],
    summary="Pages, videos and live moments that look like an uploaded picture (the visual branch)",
    responses={
        **ERRORS,
        413: {"model": Error, "description": "image too large (bytes or pixels)"},
        422: {"model": Error, "description": "not a decodable image, or invalid parameters"},
    },
)
def search_image(
    request: Request,
    params: Annotated[FilterParams, Query()],
    file: UploadFile = File(..., description="a JPEG, PNG, WebP or GIF picture"),
) -> SearchResults:
    t0 = time.perf_counter()
    ctx = ctx_of(request)
    limit = ctx.settings.api.max_image_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"image over {limit} bytes")
    image = decode_image(data, ctx.settings.api.max_image_pixels)
    hits = ctx.search.image_hits(image, k=params.limit, offset=params.offset, filters=_filters(params))
    return _results("image", file.filename or None, hits, params, t0)


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """An uploaded picture as RGB, at most 512 px a side (what the model sees is smaller still)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise HTTPException(422, "empty file")
    try:
        im: Image.Image = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > max_pixels:
            raise HTTPException(413, f"image of {w}x{h} pixels; at most {max_pixels} pixels")
        im.draft("RGB", (512, 512))  # JPEG: decode at a reduced scale
        im = im.convert("RGB")
        im.thumbnail((512, 512))
        return np.asarray(im)
    except HTTPException:
        raise
    except Image.DecompressionBombError:  # Pillow's own bound (ampere.media sets it) came first
        raise HTTPException(
            413, f"image over {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels; at most {max_pixels} pixels"
        ) from None
    except UnidentifiedImageError as exc:
        raise HTTPException(422, f"not a decodable image ({type(exc).__name__})") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:  # truncated or corrupt
        raise HTTPException(422, f"cannot decode the image ({type(exc).__name__})") from None


@router.get(
    "/api/search/similar",
    response_model=SearchResults,
    tags=["search"],
    responses=ERRORS,
    summary="Cross-domain: items nearest to a stored page, video or live window (its fused vector)",
)
def search_similar(request: Request, params: Annotated[SimilarSearch, Query()]) -> SearchResults:
    t0 = time.perf_counter()
    hits = ctx_of(request).search.similar_hits(
        params.item_domain, params.id, k=params.limit, offset=params.offset, filters=_filters(params)
    )
    return _results("similar", f"{params.item_domain}:{params.id}", hits, params, t0)


# ---------------------------------------------------------------- products


@router.get(
    "/api/products/{product_id}",
    response_model=ProductView,
    tags=["products"],
    responses=ERRORS,
    summary="Where a product appears: its pages, the streams showing it now, the live windows that showed "
    "it before (stream time spans) and its short videos",
)
async def product_view(
    request: Request,
    product_id: ProductId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
):
    ctx = ctx_of(request)
    _check_id(product_id)
    return await _cached(
        ctx,
        ("product", product_id, limit, offset),
        lambda: _product_view(ctx, product_id, limit, offset),
        lambda v: [f"product:{product_id}", *(f"stream:{s.stream_id}" for s in v.live_now)],
    )


async def _cached(ctx: ApiContext, key: tuple, make, tags) -> Response:
    """A view as JSON, from the view cache when it holds it (ampere.api.app.ViewCache), on the event loop;
    else made in the thread pool (Redis calls block)."""
    views = ctx.cached()
    body = views.get(key) if views is not None else None
    if body is None:

        def build() -> bytes:
            view = make()
            out = view.model_dump_json().encode()
            if views is not None:
                views.put(key, out, tags(view))
            return out

        body = await anyio.to_thread.run_sync(build)
    return Response(body, media_type="application/json")


def _product_view(ctx: ApiContext, product_id: str, limit: int, offset: int) -> ProductView:
    seen = ctx.search.product_view(product_id, limit=limit, offset=offset)
    pages, videos = seen["pages"], seen["videos"]
    if not (pages or seen["live_before"] or videos or seen["live_now"] or offset):
        raise NotFound(f"no page, video or live window shows product {product_id!r}")
    card = ctx.cards.of_pages(product_id, pages)
    live_now = [
        LiveStream(
            stream_id=w["stream_id"],
            product_id=product_id,
            score=_finite(w.get("score")),
            start=_finite(w.get("start")),
            end=_finite(w.get("end")),
            window_id=window_id(w["stream_id"], w["start"]) if _finite(w.get("start")) is not None else None,
            product=card,
        )
        for w in seen["live_now"]
    ]
    before = []
    for h in seen["live_before"]:
        start, end = _finite(h.fields.get("start")), _finite(h.fields.get("end"))
        if start is None or end is None:
            continue
        before.append(
            Moment(
                window_id=h.id,
                stream_id=h.stream_id,
                start=start,
                end=end,
                score=_finite(h.fields.get("score")),
                image_url=f"{item_url('live', h.id)}/image",
                url=item_url("live", h.id),
            )
        )
    return ProductView(
        product_id=product_id,
        product=card,
        pages=[to_item(h, with_score=False) for h in pages],
        live_now=live_now,
        live_before=before,
        videos=[to_item(h, with_score=False) for h in videos],
        next_offset=offset + limit if len(seen["live_before"]) >= limit else None,
    )


@router.get(
    "/api/products/{product_id}/image",
    tags=["products"],
    summary="The image of the product's first page",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: ERRORS[404]},
)
def product_image(request: Request, product_id: ProductId) -> Response:
    _check_id(product_id)
    for h in ctx_of(request).search.pages_of(product_id, limit=5):
        if h.fields.get("image"):
            return serve_file(h.fields["image"], IMAGE_TYPES)
    raise NotFound(f"no image for product {product_id!r}")


def _check_id(value: str) -> None:
    if any(ord(c) < 32 for c in value):
        raise QueryError("control characters are not allowed in ids")


# ---------------------------------------------------------------- streams and the live feeds


@router.get(
    "/api/live",
    response_model=list[LiveStream],
    tags=["streams"],
    summary="Streams live now, with the product on air (most recently tagged first)",
)
async def live_now(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    ctx = ctx_of(request)
    return await _cached(
        ctx,
        ("live", limit),
        lambda: _LiveList([live_stream(ctx, n) for n in ctx.search.live(limit)]),
        lambda v: ["live"],
    )


class _LiveList(RootModel[list[LiveStream]]):
    pass


@router.get(
    "/api/streams/{stream_id}",
    response_model=StreamView,
    tags=["streams"],
    responses=ERRORS,
    summary="What a stream sells now and its recent tags",
)
async def stream_view(
    request: Request, stream_id: StreamId, limit: Annotated[int, Query(ge=1, le=1000, description="recent tags")] = 20
):
    ctx = ctx_of(request)
    return await _cached(
        ctx,
        ("stream", stream_id, limit),
        lambda: _stream_view(ctx, stream_id, limit),
        lambda v: [f"stream:{stream_id}"],
    )


def _stream_view(ctx: ApiContext, stream_id: str, limit: int = 20) -> StreamView:
    seen = ctx.search.by_stream(stream_id, last=limit)
    now, history = seen["now"], seen["history"]
    if now is None and not history:
        raise NotFound(f"no tags for stream {stream_id!r}")
    recent = []
    for e in reversed(history):
        pid = e.get("product_id") or None
        card = ctx.cards.get(pid)
        recent.append(
            TagEntry(
                window_id=window_id(stream_id, float(e["start"])),
                start=float(e["start"]),
                end=float(e["end"]),
                product_id=pid,
                score=_finite(e.get("score")),
                ts=_finite(e.get("ts")),
                title=card.get("title") if card else None,
            )
        )
    ls = live_stream(ctx, now) if now else None
    return StreamView(stream_id=stream_id, live=bool(ls and not ls.ended and ls.product_id), now=ls, recent=recent)


def _sse(ctx: ApiContext, stream_id: str | None, snapshot) -> StreamingResponse:
    if ctx.hub is None:
        raise HTTPException(503, "the live feed is off in this process")
    try:
        client = ctx.hub.add(stream_id)
    except OverflowError as exc:
        raise HTTPException(503, str(exc)) from None
    body = event_stream(ctx.hub, client, snapshot, keepalive_s=ctx.settings.api.sse_keepalive_s)
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "events: snapshot (the state now), then tag (a window was tagged; moved: it is the stream's "
        "current window) and end (the stream ended); overflow when the client fell behind (reconnect)",
    }
}


@router.get(
    "/api/live/events",
    tags=["streams"],
    response_class=StreamingResponse,
    responses=SSE_DOC,
    summary="Server-sent events: tag changes of every stream, as they happen",
)
async def live_events(request: Request) -> StreamingResponse:
    ctx = ctx_of(request)

    async def snapshot():
        rows = await anyio.to_thread.run_sync(lambda: [live_stream(ctx, n).model_dump() for n in ctx.search.live()])
        return {"streams": rows}

    return _sse(ctx, None, snapshot)


@router.get(
    "/api/streams/{stream_id}/events",
    tags=["streams"],
    response_class=StreamingResponse,
    responses=SSE_DOC,
    summary="Server-sent events: tag changes of one stream, as they happen",
)
async def stream_events(request: Request, stream_id: StreamId) -> StreamingResponse:
    ctx = ctx_of(request)

    async def snapshot():
        def view():
            try:
                return _stream_view(ctx, stream_id).model_dump()
            except NotFound:  # not tagged yet: its events will come
                return {"stream_id": stream_id, "live": False, "now": None, "recent": []}

        return await anyio.to_thread.run_sync(view)

    return _sse(ctx, stream_id, snapshot)


# ---------------------------------------------------------------- items and their files


def _item_hit(ctx: ApiContext, domain: str, item_id: str) -> Hit:
    key = ctx.search.item_key(domain, item_id)
    values = ctx.store.r.hmget(key, RETURN_FIELDS)
    f = {
        k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
        for k, v in zip(RETURN_FIELDS, values)
        if v is not None
    }
    if f.get("domain") != domain:
        raise NotFound(f"no {domain} item {item_id!r}")
    return Hit(
        key=key,
        id=f.get("item_id", item_id),
        domain=domain,
        product_id=f.get("product_id", ""),
        stream_id=f.get("stream_id", ""),
        score=0.0,
        fields=f,
    )


@router.get(
    "/api/items/{domain}/{item_id}",
    response_model=Item,
    tags=["items"],
    responses=ERRORS,
    summary="One page, video or live window (moment)",
)
def item_view(request: Request, domain: str, item_id: ItemId) -> Item:
    return to_item(_item_hit(ctx_of(request), _domain(domain), item_id), with_score=False)


def _domain(domain: str) -> str:
    if domain not in ("page", "video", "live"):
        raise NotFound(f"unknown domain {domain[:20]!r}: page, video or live")
    return domain


@router.get(
    "/api/items/{domain}/{item_id}/image",
    tags=["items"],
    response_class=Response,
    summary="A page's image; a live window's keyframe (while Redis keeps the window's media, else its product's image)",
    responses={200: {"content": {"image/jpeg": {}}}, 404: ERRORS[404]},
)
def item_image(request: Request, domain: str, item_id: ItemId) -> Response:
    ctx = ctx_of(request)
    hit = _item_hit(ctx, _domain(domain), item_id)
    if domain == "page" and hit.fields.get("image"):
        return serve_file(hit.fields["image"], IMAGE_TYPES)
    if domain == "live":
        stream_id, start = parse_item_id("live", item_id)
        frames = ctx.store.r.hmget(ctx.store.keys.blob(stream_id, start or 0.0), ["frame1", "frame0"])
        jpeg = next((f for f in frames if f), None)
        if jpeg:
            return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=3600"})
    pid = hit.fields.get("tag_product") if domain == "live" else hit.product_id
    if pid:
        return RedirectResponse(f"{product_url(pid)}/image", status_code=302)
    raise NotFound(f"no image for {domain} item {item_id!r}")


@router.get(
    "/api/items/video/{item_id}/media",
    tags=["items"],
    response_class=Response,
    summary="A short video's file",
    responses={200: {"content": {"video/mp4": {}}}, 404: ERRORS[404]},
)
def video_media(request: Request, item_id: ItemId) -> Response:
    hit = _item_hit(ctx_of(request), "video", item_id)
    if not hit.fields.get("video"):
        raise NotFound(f"no file for video {item_id!r}")
    return serve_file(hit.fields["video"], VIDEO_TYPES)


def serve_file(ref: str, types: dict[str, str]) -> Response:
    """A file whose path the index holds (an absolute path written at indexing time), or a redirect to its URL.
    Only regular files of the expected types: a value that is anything else is not served."""
    if ref.startswith(("http://", "https://")):
        return RedirectResponse(ref, status_code=302)
    path = Path(ref)
    media_type = types.get(path.suffix.lower())
    if not path.is_absolute() or media_type is None or not path.is_file():
        raise NotFound("the indexed file is missing")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})
