"""Media records -> closed windows, with the media of still-open windows journaled in Redis.

The window assembler keeps a stream's open windows in memory. When a worker dies or Kafka moves the stream's
partition to another worker, the new owner resumes after the last committed offset: the records of the open
windows were consumed already and would be lost with the old worker's memory. So every accepted media record
is also added to the stream's journal (a Redis sorted set by media time, TTL ``redis.blob_ttl_s``); a worker
that meets a stream it holds no state for first replays that journal, and entries are trimmed once the windows
they fed are closed *and stored*. Windows a replay closes again get the same ids, and every later effect is
keyed by window, so a duplicate overwrites.

One record goes through three steps, so that an outage (Redis down) can be retried at any of them without
losing or doubling anything (``streamer.agents`` retries them; :meth:`Ingestor.handle` runs them in a row):

    prepare(rec)  decode and check the media: raises a PoisonRecord, touches nothing
    accept(p)     restore the stream from its journal if needed, check the record against the stream (late,
                  jump, rate), journal it, add it to the windows: returns the windows it closes. Redis calls
                  come before any change in memory, so a TransientError leaves nothing half done
    commit(p)     once those windows are stored: trim the journal (or delete it when the stream ended)

Bounds (``settings.limits``) are checked here: decoded audio length, channels and rate, frame pixels read from
the JPEG header, media time, open streams per worker; streams idle for ``stream_idle_s`` are dropped from
memory (their journal can rebuild them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ampere import media
from ampere.errors import PoisonRecord
from ampere.records import AudioChunk, BadRecord, Keyframe, Record, StreamEnd, decode
from ampere.settings import IngestOptions, LimitOptions, WindowOptions
from ampere.windows import WindowAssembler, WindowMedia


@dataclass
class Prepared:
    """A media record that passed the checks that need no stream state."""

    rec: Record
    span: float  # media time up to which the record carries data (the journal's score)
    pcm: object = None  # decoded audio of an AudioChunk

    @property
    def stream_id(self) -> str:
        return self.rec.stream_id  # type: ignore[attr-defined]


class Ingestor:
    """``streams``: ``ampere.store.StreamState`` (the journal), or None to keep nothing outside this process."""

    def __init__(
        self,
        streams,
        windows: WindowOptions,
        ingest: IngestOptions,
        assembler: WindowAssembler | None = None,
        limits: LimitOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.streams = streams
        self.sample_rate = ingest.sample_rate
        self.limits = limits or LimitOptions()
        lim = self.limits
        self.assembler = assembler or WindowAssembler(
            windows.window_s,
            windows.hop_s,
            ingest.sample_rate,
            windows.frames_per_window,
            max_jump_s=lim.max_jump_s,
            reorder_s=lim.reorder_s,
            max_frames_per_s=lim.max_frames_per_s,
        )
        self._restored: set[str] = set()  # streams whose journal has been replayed into the assembler
        self._carry: dict[str, list[WindowMedia]] = {}  # windows closed by a restore, not handed out yet
        self._seen: dict[str, float] = {}  # last record per stream (clock), for idle eviction
        self._clock = clock
        self._next_sweep = 0.0

    # ---------------------------------------------------------------- the three steps

    def prepare(self, rec: Record) -> Prepared:
        """Validate and decode before anything is journaled (a bad record must never be replayed)."""
        lim = self.limits
        if isinstance(rec, StreamEnd):
            if rec.t < 0 or rec.t > lim.max_media_t:
                raise BadRecord(f"end: t {rec.t:.1f} s outside 0..{lim.max_media_t:g} s")
            return Prepared(rec, rec.t)
        if isinstance(rec, AudioChunk):
            if rec.t0 > lim.max_media_t:
                raise media.MediaLimit(f"audio at {rec.t0:.1f} s is past the longest stream ({lim.max_media_t:g} s)")
            if rec.sample_rate != self.sample_rate:
                # decode at the declared rate first: a chunk that lies about its rate says so
                media.decode_audio(rec.data, rec.sample_rate, max_s=lim.max_chunk_s)
                raise BadRecord(f"audio: sample rate {rec.sample_rate} Hz, pipeline expects {self.sample_rate} Hz")
            pcm = media.decode_audio(rec.data, self.sample_rate, max_s=lim.max_chunk_s)
            if len(pcm) == 0:
                raise media.MediaError("audio chunk decodes to no samples")
            return Prepared(rec, rec.t0 + len(pcm) / self.sample_rate, pcm)
        if isinstance(rec, Keyframe):
            if rec.t > lim.max_media_t:
                raise media.MediaLimit(f"keyframe at {rec.t:.1f} s is past the longest stream ({lim.max_media_t:g} s)")
            # the header is checked before a pixel is decoded; then the whole image, so that a truncated or
            # corrupt one is refused here, not three stages later
            media.decode_jpeg(rec.data, max_pixels=lim.max_frame_pixels)
            if rec.full:  # the readable frame too (OCR reads it two stages later)
                media.decode_jpeg(rec.full, max_pixels=lim.max_frame_pixels)
            # a keyframe covers its instant: one exactly at the next window's start is still needed there
            return Prepared(rec, rec.t + 1e-3)
        raise BadRecord(f"unexpected record type {rec.TYPE!r} on the media topic")

    def accept(self, p: Prepared) -> list[WindowMedia]:
        """Restore, check against the stream, journal, assemble. Safe to call again after a TransientError."""
        sid = p.stream_id
        self._evict_idle()
        if sid not in self._restored and sid not in self.assembler.streams() and not isinstance(p.rec, StreamEnd):
            if len(self.assembler.streams()) >= self.limits.max_streams:
                raise media.MediaLimit(f"more than {self.limits.max_streams} open streams on this worker")
        self._restore(sid)  # Redis read; marks the stream restored only once it succeeded
        self._seen[sid] = self._clock()
        rec = p.rec
        if isinstance(rec, StreamEnd):
            out = self._carry.pop(sid, []) + self.assembler.end(sid)
            return out
        if isinstance(rec, AudioChunk):
            self.assembler.check_audio(sid, rec.t0, len(p.pcm))  # type: ignore[arg-type]
        else:
            self.assembler.check_frame(sid, rec.t)  # type: ignore[attr-defined]
        restart = isinstance(rec, AudioChunk) and self.assembler.would_restart(sid, rec.t0)
        if restart and self.streams is not None:
            self.streams.journal_delete(sid)  # the assembler starts the stream afresh; so does the journal
        if self.streams is not None:
            self.streams.journal_append(sid, rec.encode(), p.span)
        # from here on nothing can fail: the record is in the journal and goes into memory once
        out = self._carry.pop(sid, [])
        if isinstance(rec, AudioChunk):
            out += self.assembler.add_audio(sid, rec.t0, p.pcm)  # type: ignore[arg-type]
        else:
            out += self.assembler.add_frame(sid, rec.t, rec.data, rec.full)  # type: ignore[attr-defined]
        return out

    def commit(self, p: Prepared) -> None:
        """After the windows ``accept`` returned are stored: drop the journal entries that only fed closed
        windows (all of them once the stream has ended)."""
        sid = p.stream_id
        if isinstance(p.rec, StreamEnd):
            self._forget(sid)
            return
        keep_from = self.assembler.open_from(sid)
        if self.streams is not None and keep_from is not None:
            self.streams.journal_trim(sid, keep_from)

    def handle(self, rec: Record) -> list[WindowMedia]:
        """All three steps at once (tests, benchmarks): the windows ``rec`` closes. Raises PoisonRecord."""
        p = self.prepare(rec)
        windows = self.accept(p)
        self.commit(p)
        return windows

    # ---------------------------------------------------------------- stream state

    def _forget(self, stream_id: str) -> None:
        self._restored.discard(stream_id)
        self._seen.pop(stream_id, None)
        self.assembler.drop(stream_id)
        if self.streams is not None:
            self.streams.journal_delete(stream_id)

    def _restore(self, stream_id: str) -> None:
        if self.streams is None or stream_id in self._restored:
            return
        entries = self.streams.journal(stream_id)  # may raise a TransientError: nothing has changed yet
        self._restored.add(stream_id)
        out: list[WindowMedia] = []
        for raw in entries:
            try:
                p = self.prepare(decode(raw, expect=(AudioChunk, Keyframe)))
                rec = p.rec
                if isinstance(rec, AudioChunk):
                    self.assembler.check_audio(stream_id, rec.t0, len(p.pcm))  # type: ignore[arg-type]
                    out += self.assembler.add_audio(stream_id, rec.t0, p.pcm)  # type: ignore[arg-type]
                else:
                    self.assembler.check_frame(stream_id, rec.t)  # type: ignore[attr-defined]
                    out += self.assembler.add_frame(stream_id, rec.t, rec.data, rec.full)  # type: ignore[attr-defined]
            except PoisonRecord:
                continue  # cannot happen for entries this class wrote; never stop a stream for it
        if out:
            self._carry.setdefault(stream_id, []).extend(out)

    def _evict_idle(self) -> None:
        """Streams with no record for ``stream_idle_s`` leave memory (a source that died without an end);
        their journal stays in Redis (with its TTL), so a late record rebuilds them."""
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(60.0, self.limits.stream_idle_s / 4)
        for sid, seen in list(self._seen.items()):
            if now - seen > self.limits.stream_idle_s and sid not in self._carry:
                self._seen.pop(sid, None)
                self._restored.discard(sid)
                self.assembler.drop(sid)
