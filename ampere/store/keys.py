"""Every Redis key the system writes, in one place.

All keys start with ``<prefix>:`` (``settings.redis.prefix``), so two deployments can share one Redis. The
keys of one stream carry the stream id as a hash tag (``{live007}``): on a Redis Cluster they land in one
slot, so the tagger's script, which updates a stream's state and its window's item together, stays legal.

    <p>:item:page:<id>                     product page        (hash, in the search index)
    <p>:item:video:<id>                    short video         (hash, in the search index)
    <p>:item:live:{<stream>}:<start ms>    live window         (hash, in the search index)
    <p>:blob:{<stream>}:<start ms>         window media        (hash of byte strings, TTL)
    <p>:stream:{<stream>}:journal          open windows' media records (list, TTL)
    <p>:stream:{<stream>}:facts:<start ms> the summarizer's facts after a window (string, TTL)
    <p>:stream:{<stream>}:asr              chunked ASR: words recognised so far, and up to when (JSON, TTL)
    <p>:stream:{<stream>}:seg:<start ms>   the segmenter's state after a window (JSON, TTL)
    <p>:stream:{<stream>}:products         the stream's product list, when the platform gives one (set, TTL)
    <p>:stream:{<stream>}:now              the stream's current tag (hash)
    <p>:stream:{<stream>}:tags             tag history by window start (sorted set)
    <p>:product:<id>:on_air                streams whose current tag is this product (set)
    <p>:live:streams                       streams with a current tag, by the time of their last tag (sorted set)
    <p>:catalog:names                      the catalogue's product names (set)
    <p>:broker:cluster_id                  the broker cluster the worker last ran against (string)
    <p>:repair:lock                        one worker at a time re-drives lost windows (string, TTL)
    <p>:tags                               pub/sub channel: one JSON message per recorded tag and stream end
"""

from __future__ import annotations

from dataclasses import dataclass

from ampere.grid import valid_stream_id, window_ms

DOMAINS = ("page", "video", "live")


@dataclass(frozen=True)
class Keys:
    prefix: str = "ampere"

    @property
    def item_prefix(self) -> str:
        """What the search index covers (FT.CREATE ... PREFIX)."""
        return f"{self.prefix}:item:"

    def _stream(self, stream_id: str) -> str:
        if not valid_stream_id(stream_id):
            raise ValueError(f"bad stream id {stream_id!r}: letters, digits and _.:@- only, at most 128")
        return f"{{{stream_id}}}"

    def item(self, domain: str, item_id: str) -> str:
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
        item_id = str(item_id)
        if not item_id:
            raise ValueError("empty item id")
        return f"{self.item_prefix}{domain}:{item_id}"

    def live_item_id(self, stream_id: str, start_s: float) -> str:
        return f"{self._stream(stream_id)}:{window_ms(start_s)}"

    def live(self, stream_id: str, start_s: float) -> str:
        return self.item("live", self.live_item_id(stream_id, start_s))

    def blob(self, stream_id: str, start_s: float) -> str:
        return f"{self.blob_prefix}{self._stream(stream_id)}:{window_ms(start_s)}"

    def journal(self, stream_id: str) -> str:
        return f"{self.prefix}:stream:{self._stream(stream_id)}:journal"

    def facts(self, stream_id: str, start_s: float) -> str:
        return f"{self.prefix}:stream:{self._stream(stream_id)}:facts:{window_ms(start_s)}"

    def asr(self, stream_id: str) -> str:
        return f"{self.prefix}:stream:{self._stream(stream_id)}:asr"

    def segmenter(self, stream_id: str, start_s: float) -> str:
        return f"{self.prefix}:stream:{self._stream(stream_id)}:seg:{window_ms(start_s)}"

    def products(self, stream_id: str) -> str:
        return f"{self.prefix}:stream:{self._stream(stream_id)}:products"

    def now(self, stream_id: str) -> str:
        return f"{self.prefix}:stream:{self._stream(stream_id)}:now"

    def tags(self, stream_id: str) -> str:
        return f"{self.prefix}:stream:{self._stream(stream_id)}:tags"

    def on_air(self, product_id: str) -> str:
        if not product_id:
            raise ValueError("empty product id")
        return f"{self.prefix}:product:{product_id}:on_air"

    @property
    def names(self) -> str:
        return f"{self.prefix}:catalog:names"

    @property
    def blob_prefix(self) -> str:
        return f"{self.prefix}:blob:"

    @property
    def broker_cluster(self) -> str:
        return f"{self.prefix}:broker:cluster_id"

    @property
    def repair_lock(self) -> str:
        return f"{self.prefix}:repair:lock"

    @property
    def live_streams(self) -> str:
        """Streams with a current tag (sorted set: stream id -> epoch s of its last tag); ended streams leave it."""
        return f"{self.prefix}:live:streams"

    @property
    def tags_channel(self) -> str:
        """Pub/sub channel of live tag changes (``StreamState.record_tag`` and ``end`` publish JSON on it)."""
        return f"{self.prefix}:tags"
