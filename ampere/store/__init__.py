"""Redis access: the search index (``index``), per-stream state (``streams``), window media (``blobs``), and
every key name (``keys``). ``Store`` bundles them for one deployment (``settings.redis``)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from ampere.store.blobs import Blobs, MissingBlob
from ampere.store.index import Hit, ItemIndex, connect
from ampere.store.keys import Keys
from ampere.store.streams import StreamState

__all__ = ["Blobs", "Hit", "ItemIndex", "Keys", "MissingBlob", "Store", "StreamState", "connect"]


@dataclass
class Store:
    r: redis.Redis
    keys: Keys
    index: ItemIndex
    streams: StreamState
    blobs: Blobs

    @classmethod
    def of(cls, r: redis.Redis, opts) -> Store:
        """The store of one deployment; ``opts``: ``settings.redis`` (``ampere.settings.RedisOptions``)."""
        keys = Keys(opts.prefix)
        return cls(
            r=r,
            keys=keys,
            index=ItemIndex(r, opts.prefix, opts.ef_runtime),
            streams=StreamState(r, keys, opts.blob_ttl_s, now_ttl_s=opts.now_ttl_s, stale_s=opts.live_stale_s),
            blobs=Blobs(r, keys.item_prefix, opts.blob_ttl_s, blob_prefix=keys.blob_prefix),
        )

    @classmethod
    def connect(cls, redis_url: str, opts, retry=None) -> Store:
        """``retry``: ``settings.retry`` (``ampere.settings.RetryOptions``): how the client retries a command."""
        return cls.of(connect(redis_url, retry), opts)
