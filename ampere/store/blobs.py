"""Claim-check storage of window media: the audio and keyframes of a closed window live in Redis for a while
and only the key travels between stages (records stay a few KB; Kafka clients slow down with big records)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import redis

from ampere.errors import PoisonRecord


class MissingBlob(PoisonRecord):
    """The window's media expired or was never stored: the window cannot be processed any more."""

    category = "missing-blob"


class Blobs:
    """Window media by key. A blob also keeps its window's record (``meta``), so that a window whose record was
    lost between two stages (a broker that lost its data) can be found and re-published (:meth:`orphans`)."""

    def __init__(self, r: redis.Redis, item_prefix: str, ttl_s: int, blob_prefix: str | None = None):
        self.r = r
        self._item_prefix = item_prefix
        self._blob_prefix = blob_prefix
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

    def mark_dead(self, key: str) -> None:
        """The window was dead-lettered: :meth:`orphans` leaves it alone (re-drive it from the dead letters)."""
        if self.r.exists(key):
            self.r.hset(key, "dead", b"1")

    def orphans(
        self, is_indexed: Callable[[list], list], closed_before: float, max_redrives: int, limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        """(blob key, window record) of windows closed before ``closed_before`` (epoch s) whose media is stored
        but that never reached the index (``is_indexed``: records -> bools), were not dead-lettered, and were
        re-driven fewer than ``max_redrives`` times. Pipelined: a few round trips per 500 blobs."""
        from ampere.records import BadRecord, WindowReady, decode

        if not self._blob_prefix:
            raise ValueError("Blobs needs blob_prefix to look for orphans")
        out: list[tuple[str, bytes]] = []
        batch: list = []

        def flush() -> None:
            pipe = self.r.pipeline(transaction=False)
            for key in batch:
                pipe.hmget(key, ["meta", "dead", "redrives"])
            found = []
            for key, (meta, dead, redrives) in zip(batch, pipe.execute()):
                if meta is None or dead or int(redrives or 0) >= max_redrives:
                    continue
                try:
                    rec = decode(meta, expect=(WindowReady,))
                except BadRecord:
                    continue
                if rec.closed_at <= closed_before:  # type: ignore[attr-defined]
                    found.append((key, meta, rec))
            if found:
                for (key, meta, _), indexed in zip(found, is_indexed([f[2] for f in found])):
                    if not indexed:
                        out.append((_s(key), meta))
            batch.clear()

        for key in self.r.scan_iter(match=self._blob_prefix + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                flush()
                if len(out) >= limit:
                    break
        if batch:
            flush()
        return out[:limit]

    def mark_redriven(self, key: str) -> None:
        self.r.hincrby(key, "redrives", 1)


def _s(b) -> str:
    return b.decode() if isinstance(b, bytes) else str(b)
