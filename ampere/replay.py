"""Publish a recording or live URL to the media topic as small, versioned records.

Audio goes as 1 s FLAC chunks and keyframes as small JPEGs, keyed by stream id
so one partition (and one worker) sees a stream in order.

Every send is checked: a record counts as delivered only once the broker acknowledged it. What the broker
refuses or loses (a restart: ``UnknownProducerIdError``, then ``InitProducerId`` errors from the old producer)
is sent again in order by a new producer, after the topics are made sure of, up to ``retry.replay_attempts``
times with exponential backoff. When the broker's cluster id changes (a memory-only broker restarted empty)
the records it had acknowledged during the last ``retry.replay_rewind_s`` of media are sent again too: they
may not have been consumed before it lost them (the worker drops what it already had). If records still
cannot be delivered, :class:`ReplayError` says from which media second on, and that second is kept in
``<home>/replay/<stream>.json`` for ``ampere replay --resume``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ampere import media
from ampere.broker import ensure_topics, make_producer, topic_names
from ampere.errors import AmpereError, describe
from ampere.records import AudioChunk, Keyframe, StreamEnd, StreamInfo
from ampere.settings import Settings
from ampere.urls import redact

log = logging.getLogger(__name__)


@dataclass
class ReplayStats:
    stream_id: str
    audio_chunks: int = 0
    keyframes: int = 0
    bytes_sent: int = 0
    media_s: float = 0.0
    wall_s: float = 0.0
    start_s: float = 0.0  # media time the replay started at (a resumed one: after 0)
    delivered: int = 0  # records the broker acknowledged
    first_undelivered: float | None = None  # media time of the first record not acknowledged (None: all were)
    resent: int = 0  # records sent again after a refusal or a broker that lost its data
    producer_restarts: int = 0
    broker_changes: int = 0  # times the broker's cluster id changed under us
    last_sent: float = 0.0  # media time of the last record sent
    errors: list[str] = field(default_factory=list)


class ReplayError(AmpereError):
    """Records were not delivered; ``stats.first_undelivered`` is where ``--resume`` picks up."""

    def __init__(self, message: str, stats: ReplayStats):
        super().__init__(message)
        self.stats = stats


def media_records(
    source: str, stream_id: str, settings: Settings, realtime: bool, start_s: float = 0.0, speed: float = 1.0
):
    """Records for one source, in media-time order (a generator: nothing is buffered)."""
    seq = 0
    ing = settings.ingest
    for piece in media.iter_media(
        source,
        sample_rate=ing.sample_rate,
        chunk_s=ing.audio_chunk_s,
        keyframe_fps=ing.keyframe_fps,
        frame_size=ing.frame_size,
        realtime=realtime,
        full_every_s=ing.full_every_s,
        full_size=ing.full_size,
        start_s=start_s,
        speed=speed,
    ):
        if isinstance(piece, media.AudioPiece):
            yield AudioChunk(
                stream_id=stream_id,
                seq=seq,
                t0=float(piece.t0),
                sample_rate=ing.sample_rate,
                codec="flac",
                data=media.encode_audio(piece.pcm, ing.sample_rate),
            )
        elif isinstance(piece, media.FramePiece):
            yield Keyframe(
                stream_id=stream_id,
                seq=seq,
                t=float(piece.t),
                codec="jpeg",
                data=media.encode_jpeg(piece.rgb),
                full=media.encode_jpeg(piece.full) if piece.full is not None else b"",
            )
        else:
            yield StreamEnd(stream_id=stream_id, t=float(piece.t))
        seq += 1


def record_time(rec) -> float:
    return float(getattr(rec, "t0", getattr(rec, "t", 0.0)))


# --- checked sends ---------------------------------------------------------------------------------------


@dataclass
class _Entry:
    t: float
    value: bytes
    future: Any = None  # kafka-python's FutureRecordMetadata
    cluster: str | None = None  # the broker's cluster id when its ack was seen


class _Undelivered(Exception):
    def __init__(self, why: str, broker_changed: bool = False):
        super().__init__(why)
        self.broker_changed = broker_changed


def _cluster_of(producer) -> str | None:
    return getattr(getattr(producer, "_metadata", None), "cluster_id", None)


class CheckedSender:
    """Sends one stream's records and knows which ones the broker acknowledged; sends again what it did not."""

    def __init__(
        self,
        kafka_url: str,
        settings: Settings,
        topic: str,
        key: bytes,
        stats: ReplayStats,
        producer=None,
        producer_factory=None,
    ):
        self.kafka_url, self.settings, self.topic, self.key, self.stats = kafka_url, settings, topic, key, stats
        self._factory = producer_factory or (
            lambda: make_producer(
                kafka_url, settings, delivery_timeout_ms=30_000, request_timeout_ms=10_000, max_block_ms=10_000
            )
        )
        self.own = producer is None
        self.producer = producer if producer is not None else self._factory()
        self.inflight: deque[_Entry] = deque()
        self.acked: deque[_Entry] = deque()  # the last replay_rewind_s of acknowledged media
        self.cluster: str | None = _cluster_of(self.producer)
        self.last_t = 0.0

    # -- sending
    def send(self, t: float, value: bytes) -> None:
        e = _Entry(t, value)
        self.last_t = t
        self.inflight.append(e)
        try:
            e.future = self.producer.send(self.topic, key=self.key, value=value)
        except Exception as exc:  # buffer full or no metadata for max_block_ms: the broker is away
            self._recover(_Undelivered(describe(exc)))
            return
        self._check()

    def flush(self) -> None:
        try:
            self.producer.flush(timeout=35)
        except Exception as exc:
            self._recover(_Undelivered(describe(exc)))
        self._check(final=True)

    def close(self) -> None:
        if self.own:
            try:
                self.producer.close(timeout=5)
            except Exception:  # closing a producer of a broker that is gone
                pass

    # -- acknowledgements
    def _check(self, final: bool = False) -> None:
        try:
            self._poll(final)
        except _Undelivered as why:
            self._recover(why)

    def _poll(self, final: bool) -> None:
        cluster = _cluster_of(self.producer)
        if cluster and self.cluster and cluster != self.cluster:
            raise _Undelivered(
                f"the broker's cluster id changed ({self.cluster} -> {cluster}): it lost its data", broker_changed=True
            )
        self.cluster = self.cluster or cluster
        while self.inflight:
            e = self.inflight[0]
            fut = e.future
            if fut is None:
                raise _Undelivered("not sent")
            if not fut.is_done:
                if final:
                    raise _Undelivered("not acknowledged within the flush timeout")
                return
            if fut.failed():
                raise _Undelivered(describe(fut.exception))
            md = fut.value
            if getattr(md, "offset", 0) is not None and getattr(md, "offset", 0) < 0:
                raise _Undelivered("the broker acknowledged without an offset")
            self.inflight.popleft()
            e.cluster = self.cluster
            self.stats.delivered += 1
            self._keep_acked(e)

    def _keep_acked(self, e: _Entry) -> None:
        e.future = None
        self.acked.append(e)
        horizon = e.t - self.settings.retry.replay_rewind_s
        while self.acked and (self.acked[0].t < horizon or len(self.acked) > 20_000):
            self.acked.popleft()

    # -- recovery
    def _recover(self, why: _Undelivered) -> None:
        """Send again, in order, everything not acknowledged (and, after the broker lost its data, the last
        ``replay_rewind_s`` it had acknowledged), each time with a new producer; ReplayError when it cannot."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

        r = self.settings.retry
        pending = list(self.inflight)
        self.inflight.clear()
        self.stats.errors.append(str(why))
        log.warning("%s: %d records not delivered (%s); sending them again", self.stats.stream_id, len(pending), why)
        changed = why.broker_changed
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(_Undelivered),
                reraise=True,
                stop=stop_after_attempt(r.replay_attempts),
                wait=wait_exponential_jitter(multiplier=r.initial_s, max=r.max_s, jitter=r.jitter_s),
            ):
                with attempt:
                    pending, changed = self._resend(pending, changed)
        except _Undelivered as last:
            self.stats.first_undelivered = pending[0].t if pending else None
            self.stats.errors.append(str(last))
            self.inflight.extend(pending)
            raise ReplayError(
                f"{self.stats.stream_id}: {len(pending)} records from media second "
                f"{self.stats.first_undelivered:.1f} on were not delivered to {redact(self.kafka_url)} after "
                f"{r.replay_attempts} attempts (last error: {last}); rerun with --resume to pick up there",
                self.stats,
            ) from None

    def _resend(self, pending: list[_Entry], changed: bool) -> tuple[list[_Entry], bool]:
        self.close()
        self.producer = self._factory()
        self.own = True
        self.stats.producer_restarts += 1
        s = self.settings
        try:  # a broker that restarted empty has no topics: create ours with their partition count
            ensure_topics(self.kafka_url, list(topic_names(s).values()), s.broker.partitions, timeout_s=10, settings=s)
        except Exception as exc:
            raise _Undelivered(f"broker unreachable: {describe(exc)}") from None
        from ampere.broker import cluster_id

        try:
            now = cluster_id(self.kafka_url, s)
        except Exception:
            now = None
        if now and self.cluster and now != self.cluster:
            changed = True
        if changed:
            # what the lost broker had acknowledged may never have been consumed: send the last stretch again
            old = [e for e in self.acked if e.cluster != now]
            if old:
                horizon = (pending[0].t if pending else old[-1].t) - s.retry.replay_rewind_s
                again = [e for e in old if e.t >= horizon]
                pending[:0] = again  # in place: the caller keeps what is left if this attempt fails
                self.acked = deque(e for e in self.acked if e not in again)
            self.stats.broker_changes += 1
            self.cluster = now
            changed = False
        for e in pending:
            e.future = self.producer.send(self.topic, key=self.key, value=e.value)
            self.stats.resent += 1
        try:
            self.producer.flush(timeout=35)
        except Exception as exc:
            raise _Undelivered(describe(exc)) from None
        left = []
        for i, e in enumerate(pending):
            fut = e.future
            if fut is None or not fut.is_done or fut.failed():
                left = pending[i:]
                break
            e.cluster = self.cluster
            self.stats.delivered += 1
            self._keep_acked(e)
        if left:
            err = left[0].future.exception if left[0].future is not None and left[0].future.is_done else None
            pending[:] = left
            raise _Undelivered(describe(err) if err else "not acknowledged")
        pending.clear()
        return pending, changed


# --- the replay --------------------------------------------------------------------------------------------


def progress_path(settings: Settings, stream_id: str) -> Path:
    return Path(settings.home) / "replay" / f"{stream_id}.json"


def _write_progress(settings: Settings, source: str, stats: ReplayStats, complete: bool) -> None:
    path = progress_path(settings, stats.stream_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        resume = (
            None
            if complete
            else math.floor(stats.first_undelivered if stats.first_undelivered is not None else stats.last_sent)
        )
        tmp.write_text(
            json.dumps(
                {
                    "source": redact(source),
                    "complete": complete,
                    "ts": time.time(),
                    "resume_from": resume,
                    **{k: v for k, v in asdict(stats).items() if k != "errors"},
                },
                indent=2,
            )
        )
        os.replace(tmp, path)
    except OSError:  # a read-only home must not turn a delivered replay into a failure
        log.warning("cannot write %s", path)


def resume_point(settings: Settings, stream_id: str) -> float | None:
    """Where ``--resume`` starts: the first undelivered media second of the stream's last replay, or None when
    it delivered everything (or there is no record of one)."""
    try:
        d = json.loads(progress_path(settings, stream_id).read_text())
    except (OSError, ValueError):
        return None
    return None if d.get("complete") else float(d.get("resume_from") or 0.0)


def replay(
    source: str,
    stream_id: str,
    kafka_url: str,
    settings: Settings,
    realtime: bool = True,
    producer=None,
    on_record=None,
    stop=None,
    start_s: float = 0.0,
    speed: float = 1.0,
    products: list[str] | None = None,
) -> ReplayStats:
    """Publish ``source`` as ``stream_id`` from media second ``start_s``; ``stop`` (a threading.Event) ends it
    early, cleanly. Returns once the broker acknowledged every record; raises ReplayError otherwise.
    ``products``: the stream's product list (its shopping bag), sent first as a ``StreamInfo`` record."""
    topic = settings.topic("media")
    stats = ReplayStats(stream_id, start_s=start_s)
    sender = CheckedSender(kafka_url, settings, topic, stream_id.encode(), stats, producer=producer)
    t0 = time.perf_counter()
    complete = False
    try:
        if products:
            sender.send(start_s, StreamInfo(stream_id=stream_id, products=list(products)).encode())
        for rec in media_records(source, stream_id, settings, realtime, start_s=start_s, speed=speed):
            if stop is not None and stop.is_set():
                break
            value = rec.encode()
            stats.last_sent = record_time(rec)
            sender.send(stats.last_sent, value)
            stats.bytes_sent += len(value)
            if isinstance(rec, AudioChunk):
                stats.audio_chunks += 1
                stats.media_s = max(stats.media_s, rec.t0 + settings.ingest.audio_chunk_s)
            elif isinstance(rec, Keyframe):
                stats.keyframes += 1
            if on_record is not None:
                on_record(rec)
        else:
            complete = True
        sender.flush()
    except ReplayError:
        stats.wall_s = time.perf_counter() - t0
        _write_progress(settings, source, stats, complete=False)
        raise
    finally:
        sender.close()
    stats.wall_s = time.perf_counter() - t0
    _write_progress(settings, source, stats, complete=complete)
    return stats
