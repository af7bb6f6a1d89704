"""Publish a recording or live URL to the media topic as small, versioned records.

Audio goes as 1 s FLAC chunks and keyframes as small JPEGs, keyed by stream id
so one partition (and one worker) sees a stream in order.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ampere import media
from ampere.broker import make_producer
from ampere.records import AudioChunk, Keyframe, StreamEnd, StreamInfo
from ampere.settings import Settings


@dataclass
class ReplayStats:
    stream_id: str
    audio_chunks: int = 0
    keyframes: int = 0
    bytes_sent: int = 0
    media_s: float = 0.0
    wall_s: float = 0.0


def media_records(source: str, stream_id: str, settings: Settings, realtime: bool):
    """Records for one source, in media-time order (a generator: nothing is buffered)."""
    seq = 0
    for piece in media.iter_media(source, sample_rate=settings.ingest.sample_rate, chunk_s=settings.ingest.audio_chunk_s,
                                  keyframe_fps=settings.ingest.keyframe_fps, frame_size=settings.ingest.frame_size,
                                  full_every_s=settings.ingest.full_every_s, full_size=settings.ingest.full_size,
                                  realtime=realtime):
        if isinstance(piece, media.AudioPiece):
            yield AudioChunk(stream_id=stream_id, seq=seq, t0=float(piece.t0), sample_rate=settings.ingest.sample_rate,
                             codec="flac", data=media.encode_audio(piece.pcm, settings.ingest.sample_rate))
        elif isinstance(piece, media.FramePiece):
            yield Keyframe(stream_id=stream_id, seq=seq, t=float(piece.t), codec="jpeg",
                           data=media.encode_jpeg(piece.rgb),
                           full=media.encode_jpeg(piece.full) if piece.full is not None else b"")
        else:
            yield StreamEnd(stream_id=stream_id, t=float(piece.t))
        seq += 1


def replay(source: str, stream_id: str, kafka_url: str, settings: Settings, realtime: bool = True,
           producer=None, on_record=None, stop=None, products: list[str] | None = None) -> ReplayStats:
    """Publish ``source`` as ``stream_id``; ``stop`` (a threading.Event) ends it early, cleanly. ``products``: the
    stream's product list (its shopping bag), sent first as a ``StreamInfo`` record."""
    own = producer is None
    producer = producer or make_producer(kafka_url)
    topic = settings.topic("media")
    stats = ReplayStats(stream_id)
    t0 = time.perf_counter()
    try:
        if products:
            info = StreamInfo(stream_id=stream_id, products=list(products))
            producer.send(topic, key=stream_id.encode(), value=info.encode())
        for rec in media_records(source, stream_id, settings, realtime):
            if stop is not None and stop.is_set():
                break
            value = rec.encode()
            producer.send(topic, key=stream_id.encode(), value=value)
            stats.bytes_sent += len(value)
            if isinstance(rec, AudioChunk):
                stats.audio_chunks += 1
                stats.media_s = max(stats.media_s, rec.t0 + settings.ingest.audio_chunk_s)
            elif isinstance(rec, Keyframe):
                stats.keyframes += 1
            if on_record is not None:
                on_record(rec)
        producer.flush()
    finally:
        if own:
            producer.close()
    stats.wall_s = time.perf_counter() - t0
    return stats
