"""Claim-check storage of window media: the audio and keyframes of a closed window live in Redis for a while
and only the key travels between stages (records stay a few KB; Kafka clients slow down with big records)."""
from __future__ import annotations

from typing import Mapping, Sequence

import redis

from ampere.errors import PoisonRecord


class MissingBlob(PoisonRecord):
    """The window's media expired or was never stored: the window cannot be processed any more."""


class Blobs:
    def __init__(self, r: redis.Redis, item_prefix: str, ttl_s: int):
        self.r = r
        self._item_prefix = item_prefix
        if int(ttl_s) <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s!r}")
        self.ttl_s = int(ttl_s)

    def put(self, key: str, mapping: Mapping[str, bytes]) -> None:
        """Store window media under ``key`` (a hash of named byte strings), replacing any earlier content."""
        if not key or key.startswith(self._item_prefix):
            raise ValueError(f"blob key {key!r} must be non-empty and outside the index prefix {self._item_prefix!r}")
        if not mapping:
            raise ValueError("empty blob mapping")
        for k, v in mapping.items():
            if not isinstance(v, (bytes, bytearray, memoryview)):
                raise TypeError(f"blob part {k!r} must be bytes, got {type(v).__name__}")
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping={k: bytes(v) for k, v in mapping.items()})
        pipe.expire(key, self.ttl_s)
        pipe.execute()

    def get(self, key: str, parts: Sequence[str] | None = None) -> dict[str, bytes] | None:
        """The blob's parts (all, or only ``parts``; missing ones left out), or None when it expired or never
        existed."""
        if parts is None:
            h = self.r.hgetall(key)
        else:
            h = {p: v for p, v in zip(parts, self.r.hmget(key, list(parts))) if v is not None}
        if not h:
            return None
        out = {}
        for k, v in h.items():
            if not isinstance(v, bytes):
                raise TypeError("Blobs needs a Redis client with decode_responses=False (ampere.store.connect)")
            out[k.decode() if isinstance(k, bytes) else str(k)] = v
        return out

    def require(self, key: str, parts: Sequence[str] | None = None) -> dict[str, bytes]:
        blob = self.get(key, parts)
        if blob is None:
            raise MissingBlob(f"window media {key} expired or missing")
        return blob
