"""Request and response models of the search API (pydantic; they make /openapi.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ampere.search import MAX_QUERY_CHARS

Domain = Literal["page", "video", "live"]
MAX_DEPTH = 1000  # offset + limit of a vector query at most: deeper pages cost more than they are worth


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- requests


class FilterParams(_Model):
    """Filters and paging shared by text, image and similar-item searches."""

    domain: list[Domain] | None = Field(None, description="only these domains (repeat the parameter); default all")
    category: list[str] | None = Field(
        None,
        description="only items of these categories (pages, and the videos of their product); repeat the parameter",
        max_length=20,
    )
    price_min: float | None = Field(None, ge=0, description="lowest price, inclusive (pages and videos)")
    price_max: float | None = Field(None, ge=0, description="highest price, inclusive (pages and videos)")
    live_now: bool = Field(
        False, description="only what is live now: pages and videos of products on air, windows of streams live now"
    )
    limit: int = Field(12, ge=1, le=100, description="results per page")
    offset: int = Field(0, ge=0, le=MAX_DEPTH, description="results to skip (paging)")

    @model_validator(mode="after")
    def _check(self) -> FilterParams:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min is above price_max")
        if self.offset + self.limit > MAX_DEPTH:
            raise ValueError(f"offset + limit must be at most {MAX_DEPTH}")
        for c in self.category or []:
            if not c.strip() or len(c) > 100 or any(ord(ch) < 32 for ch in c):
                raise ValueError("a category must be 1-100 printable characters")
        return self


class TextSearch(FilterParams):
    q: str = Field(..., min_length=1, max_length=MAX_QUERY_CHARS, description="the words to search for")


class SimilarSearch(FilterParams):
    item_domain: Domain = Field(..., description="the domain of the item used as the query")
    id: str = Field(
        ...,
        min_length=1,
        max_length=256,
        description="its id: a page or video id, or a live window's <stream>:<start ms>",
    )


# ---------------------------------------------------------------- responses


class ProductCard(_Model):
    """What a shop shows of a product: from its first product page."""

    product_id: str
    title: str | None = None
    price: float | None = None
    category: str | None = None
    page_id: str | None = None
    image_url: str | None = None
    url: str = Field(..., description="this API's product view")


class Item(_Model):
    """One search result: a product page, a short video or a live window ("moment")."""

    id: str = Field(..., description="page or video id; for a live window <stream>:<start ms>")
    domain: Domain
    score: float | None = Field(None, description="cosine similarity to the query (1 = same direction)")
    product_id: str | None = Field(
        None, description="the product: a page's or video's own; for a live window the product the tagger put on it"
    )
    stream_id: str | None = None
    title: str | None = None
    summary: str | None = None
    category: str | None = None
    price: float | None = None
    start: float | None = Field(None, description="live window start, seconds of stream time")
    end: float | None = None
    tag_score: float | None = Field(None, description="live window: the tagger's score for product_id")
    image_url: str | None = None
    media_url: str | None = Field(None, description="short video: the video file")
    url: str = Field(..., description="this API's item view")


class SearchResults(_Model):
    kind: Literal["text", "image", "similar"]
    query: str | None = Field(None, description="the text, or the id of the item used as the query")
    results: list[Item]
    offset: int
    limit: int
    next_offset: int | None = Field(None, description="offset of the next page; null when this page was the last")
    took_ms: float


class LiveStream(_Model):
    """A stream and the product it shows now."""

    stream_id: str
    product_id: str | None
    score: float | None = Field(None, description="the tagger's score (higher is surer; not a probability)")
    start: float | None = Field(None, description="window of the current tag, seconds of stream time")
    end: float | None = None
    window_id: str | None = None
    ts: float | None = Field(None, description="when the tag was recorded, Unix epoch seconds")
    ended: bool = False
    product: ProductCard | None = None


class TagEntry(_Model):
    window_id: str
    start: float
    end: float
    product_id: str | None
    score: float | None
    ts: float | None = None
    title: str | None = None


class StreamView(_Model):
    stream_id: str
    live: bool = Field(..., description="tagged and not ended")
    now: LiveStream | None
    recent: list[TagEntry] = Field(..., description="the latest tags, newest first")


class Moment(_Model):
    """A live window where a product was on air."""

    window_id: str
    stream_id: str
    start: float
    end: float
    score: float | None = None
    image_url: str
    url: str


class ProductView(_Model):
    product_id: str
    product: ProductCard | None
    pages: list[Item]
    live_now: list[LiveStream] = Field(..., description="streams showing it now")
    live_before: list[Moment] = Field(..., description="live windows tagged with it, by stream time")
    videos: list[Item]
    next_offset: int | None = Field(None, description="offset of the next page of live_before")


class Health(_Model):
    status: Literal["ok"] = "ok"


class Ready(_Model):
    ready: bool
    checks: dict[str, bool | str]


class Error(_Model):
    detail: str | list
