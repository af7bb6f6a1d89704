"""Per-stream state in Redis: tag history, the tag "now", which streams show a product now, the summarizer's
facts chain and the journal of open windows. Every key of one stream shares its hash tag (``ampere.store.keys``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import redis

from ampere.store.keys import Keys


def _s(b) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


# One script so the history entry, the "now" hash and the window's item move together. "now" only moves
# forward, so a late or replayed window cannot regress it; a window from before the stream's recorded end
# does not bring an ended stream back to life. KEYS: now, tags, live item; all in the stream's hash slot.
_RECORD_TAG = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
local cur = redis.call('HGET', KEYS[1], 'start')
local ended_t = redis.call('HGET', KEYS[1], 'ended_t')
local moved, before = 0, redis.call('HGET', KEYS[1], 'product_id') or ''
if (not cur) or tonumber(cur) <= tonumber(ARGV[1]) then
  local ended = '0'
  if ended_t and tonumber(ARGV[2]) <= tonumber(ended_t) + 0.001 then ended = '1' end
  redis.call('HSET', KEYS[1], 'stream_id', ARGV[8], 'product_id', ARGV[3], 'score', ARGV[4],
             'start', ARGV[1], 'end', ARGV[2], 'candidates', ARGV[5], 'ts', ARGV[7], 'ended', ended)
  moved = 1
end
redis.call('EXPIRE', KEYS[1], ARGV[9])
redis.call('EXPIRE', KEYS[2], ARGV[10])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'tag_product', ARGV[3], 'score', ARGV[4])
end
return {moved, before, redis.call('HGET', KEYS[1], 'ended') or '0'}
"""


def _norm_candidates(candidates) -> list[dict]:
    out = []
    for c in candidates or []:
        if isinstance(c, Mapping):
            d = dict(c)
            if "score" in d:
                d["score"] = float(d["score"])
            out.append(d)
        elif hasattr(c, "product_id") and hasattr(c, "score"):
            out.append({"product_id": c.product_id, "score": float(c.score)})
        else:
            pid, score = c
            out.append({"product_id": str(pid), "score": float(score)})
    return out


class StreamState:
    def __init__(
        self,
        r: redis.Redis,
        keys: Keys,
        ttl_s: int,
        now_ttl_s: int = 3600,
        history_ttl_s: int = 7 * 24 * 3600,
        stale_s: float = 120.0,
    ):
        self.r = r
        self.keys = keys
        self.ttl_s = max(1, int(ttl_s))
        # a stream whose end never arrives (its source died, or the broker lost it) leaves "live now" by itself:
        # at once for readers once its last tag is older than stale_s, and its "now" key expires after now_ttl_s
        self.now_ttl_s = max(1, int(now_ttl_s))
        self.history_ttl_s = max(1, int(history_ttl_s))
        self.stale_s = float(stale_s)

    # ---------------------------------------------------------------- tags

    def record_tag(
        self,
        stream_id: str,
        start: float,
        end: float,
        product_id: str,
        score: float,
        candidates=(),
        ts: float | None = None,
        extra: Mapping | None = None,
    ) -> bool:
        """Record the tag of one live window: history (one entry per window start), the current state ("now")
        and ``tag_product`` on the window's item, if indexed. Idempotent per (stream, start). Returns whether
        "now" moved to this window."""
        start, end, score = float(start), float(end), float(score)
        ts = time.time() if ts is None else float(ts)
        cands = _norm_candidates(candidates)
        entry = {
            "start": start,
            "end": end,
            "product_id": product_id,
            "score": score,
            "candidates": cands,
            "ts": ts,
            **(extra or {}),
        }
        member = json.dumps(entry, separators=(",", ":"))
        moved, before, ended = self.r.eval(
            _RECORD_TAG,
            3,
            self.keys.now(stream_id),
            self.keys.tags(stream_id),
            self.keys.live(stream_id, start),
            repr(start),
            repr(end),
            product_id or "",
            repr(score),
            json.dumps(cands, separators=(",", ":")),
            member,
            repr(ts),
            stream_id,
            self.now_ttl_s,
            self.history_ttl_s,
        )
        pipe = self.r.pipeline(transaction=False)
        if moved:
            # the reverse index follows "now"; live_now() checks every member against "now", so a crash between
            # the script and these calls leaves at most a stale member, dropped on read
            before = _s(before)
            if before and before != product_id:
                pipe.srem(self.keys.on_air(before), stream_id)
            if product_id:
                pipe.sadd(self.keys.on_air(product_id), stream_id)
        self._live_and_publish(
            pipe,
            stream_id,
            moved=bool(moved),
            ended=_s(ended) == "1",
            event={
                "type": "tag",
                "stream_id": stream_id,
                "start": start,
                "end": end,
                "product_id": product_id or "",
                "score": score,
                "ts": ts,
                **{k: v for k, v in (extra or {}).items() if k in ("decision", "confidence", "correction")},
            },
        )
        pipe.execute()
        return bool(moved)

    def end(self, stream_id: str, media_t: float | None = None) -> None:
        """Mark a stream as ended: its products are no longer "live now". ``media_t``: the media time the stream
        ended at; tags of windows before it that arrive later keep the stream ended."""
        key = self.keys.now(stream_id)
        product_id = self.r.hget(key, "product_id")
        mapping: dict = {"ended": "1", "ended_at": repr(time.time()), "stream_id": stream_id}
        if media_t is not None:
            mapping["ended_t"] = repr(float(media_t))
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, self.now_ttl_s)
        if product_id is not None and _s(product_id):
            pipe.srem(self.keys.on_air(_s(product_id)), stream_id)
        self._live_and_publish(
            pipe,
            stream_id,
            moved=False,
            ended=True,
            event={
                "type": "end",
                "stream_id": stream_id,
                "t": None if media_t is None else float(media_t),
                "ts": float(mapping["ended_at"]),
            },
        )
        pipe.execute()

    def now(self, stream_id: str) -> dict | None:
        return self._now_of(stream_id, self.r.hgetall(self.keys.now(stream_id)))

    def _now_of(self, stream_id: str, h) -> dict | None:
        if not h:
            return None
        d = {_s(k): _s(v) for k, v in h.items()}
        return {
            "stream_id": d.get("stream_id", stream_id),
            "product_id": d.get("product_id", ""),
            "score": float(d.get("score", "nan")),
            "start": float(d.get("start", "nan")),
            "end": float(d.get("end", "nan")),
            "candidates": json.loads(d.get("candidates") or "[]"),
            "ts": float(d.get("ts", "nan")),
            "ended": d.get("ended") == "1",
            # no tag for stale_s: the stream's source (or the broker) is gone; live_now() leaves it out
            "stale": not time.time() - float(d.get("ts", "nan")) <= self.stale_s,
        }

    def history(
        self, stream_id: str, start: float | None = None, end: float | None = None, last: int | None = None
    ) -> list[dict]:
        """Tag entries ordered by window start, optionally with start in [start, end]; ``last``: only the last
        that many (of the whole history)."""
        if last is not None:
            n = max(0, int(last))
            return [json.loads(m) for m in self.r.zrange(self.keys.tags(stream_id), -n, -1)] if n else []  # type: ignore[arg-type]
        lo = "-inf" if start is None else repr(float(start))
        hi = "+inf" if end is None else repr(float(end))
        return [json.loads(m) for m in self.r.zrangebyscore(self.keys.tags(stream_id), lo, hi)]  # type: ignore[arg-type]

    def live_now(self, product_id: str, now_ts: float | None = None) -> list[dict]:
        """Streams whose current tag is this product, that have not ended and were tagged within ``stale_s``."""
        out: list[dict] = []
        now_ts = time.time() if now_ts is None else now_ts
        members = sorted(_s(m) for m in self.r.smembers(self.keys.on_air(product_id)))
        if not members:
            return out
        pipe = self.r.pipeline(transaction=False)
        for stream_id in members:
            pipe.hgetall(self.keys.now(stream_id))
        for stream_id, h in zip(members, pipe.execute()):
            now = self._now_of(stream_id, h)
            if now is None or now["product_id"] != product_id or now["ended"]:
                self.r.srem(self.keys.on_air(product_id), stream_id)  # stale: moved on, ended or expired
                continue
            if not now_ts - now["ts"] <= self.stale_s:  # no tag for a while (NaN ts too): not live; kept, it
                continue  # comes back with the stream's next tag
            out.append({k: now[k] for k in ("stream_id", "start", "end", "score")})
        return out

    # ---------------------------------------------------------------- live streams and tag events (the API's feed)

    def _live_and_publish(self, pipe, stream_id: str, *, moved: bool, ended: bool, event: dict) -> None:
        """In the caller's pipeline: keep the set of live streams (``Keys.live_streams``) in step with "now", and
        publish the change on ``Keys.tags_channel`` (JSON; ``moved``: "now" moved to this window, ``ended``: the
        stream is over). Subscribers that miss a message lose nothing stored: "now" and the history stay."""
        if ended:
            pipe.zrem(self.keys.live_streams, stream_id)
        elif moved:
            pipe.zadd(self.keys.live_streams, {stream_id: time.time()})  # wall clock: expiry below uses it
        pipe.publish(
            self.keys.tags_channel, json.dumps({**event, "moved": moved, "ended": ended}, separators=(",", ":"))
        )

    def live_streams(self, limit: int | None = None) -> list[dict]:
        """The "now" of every stream that is live (tagged and not ended), most recently tagged first. Members
        that expired, ended or were left stale by a crash are dropped on read, as in :meth:`live_now`."""
        key = self.keys.live_streams
        # a stream whose source died without an end leaves by itself once its "now" expires
        self.r.zremrangebyscore(key, "-inf", repr(time.time() - self.now_ttl_s))
        members = [_s(m) for m in self.r.zrevrange(key, 0, -1 if limit is None else max(0, int(limit) - 1))]
        out: list[dict] = []
        stale: list[str] = []
        pipe = self.r.pipeline(transaction=False)
        for stream_id in members:
            pipe.hgetall(self.keys.now(stream_id))
        for stream_id, h in zip(members, pipe.execute()):
            now = self._now_of(stream_id, h)
            if now is None or now["ended"]:
                stale.append(stream_id)
            elif not now["stale"]:  # no tag for stale_s: kept, it comes back with the stream's next tag
                out.append(now)
        if stale:
            self.r.zrem(key, *stale)
        return out

    # ---------------------------------------------------------------- the summarizer's facts chain

    def put_facts(self, stream_id: str, start_s: float, facts: str) -> None:
        """The summarizer's facts after a window: the next window of the stream reads them as context. Keyed by
        window start, so a replayed window rewrites its own entry and never another's."""
        self.r.set(self.keys.facts(stream_id, start_s), facts or "", ex=self.ttl_s)

    def facts(self, stream_id: str, start_s: float) -> str | None:
        v = self.r.get(self.keys.facts(stream_id, start_s))
        return _s(v) if v is not None else None

    # ---------------------------------------------------------------- the segmenter's state, per window

    def segmenter_state(self, stream_id: str, start_s: float) -> dict | None:
        v = self.r.get(self.keys.segmenter(stream_id, start_s))
        return json.loads(v) if v else None

    def put_segmenter_state(self, stream_id: str, start_s: float, state: dict) -> None:
        self.r.set(self.keys.segmenter(stream_id, start_s), json.dumps(state, separators=(",", ":")), ex=self.ttl_s)

    # ---------------------------------------------------------------- the stream's product list

    def set_products(self, stream_id: str, product_ids: list[str]) -> None:
        key = self.keys.products(stream_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(key)
        if product_ids:
            pipe.sadd(key, *product_ids)
            pipe.expire(key, self.history_ttl_s)
        pipe.execute()

    def products(self, stream_id: str) -> list[str]:
        return sorted(_s(m) for m in self.r.smembers(self.keys.products(stream_id)))

    # ---------------------------------------------------------------- chunked ASR state (ampere.asr)

    def asr_state(self, stream_id: str) -> dict | None:
        v = self.r.get(self.keys.asr(stream_id))
        return json.loads(v) if v else None

    def put_asr_state(self, stream_id: str, state: dict) -> None:
        self.r.set(self.keys.asr(stream_id), json.dumps(state, separators=(",", ":")), ex=self.ttl_s)

    # ---------------------------------------------------------------- journal of open windows (ampere.ingest)
    # A sorted set scored by the media time each record covers up to: adding the same record twice (a retry
    # after a timeout whose first try did land) changes nothing, trimming is by media time (idempotent too),
    # and a replay reads the records in media order whatever order they arrived in.

    def journal_append(self, stream_id: str, raw: bytes, span_end: float) -> None:
        key = self.keys.journal(stream_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(key, {raw: float(span_end)})
        pipe.expire(key, self.ttl_s)
        try:
            pipe.execute()
        except redis.ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            self.r.delete(key)  # a list journal of an older version: its stream restarts from here
            self.journal_append(stream_id, raw, span_end)

    def journal(self, stream_id: str) -> list[bytes]:
        try:
            return [bytes(x) for x in self.r.zrange(self.keys.journal(stream_id), 0, -1)]  # type: ignore[arg-type]
        except redis.ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            return []

    def journal_trim(self, stream_id: str, keep_from: float) -> None:
        """Drop the entries that only fed windows before ``keep_from`` (media s)."""
        self.r.zremrangebyscore(self.keys.journal(stream_id), "-inf", repr(float(keep_from) + 1e-6))

    def journal_delete(self, stream_id: str) -> None:
        self.r.delete(self.keys.journal(stream_id))
