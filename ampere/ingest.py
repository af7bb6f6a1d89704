"""Media records -> closed windows, with the media of still-open windows journaled in Redis.

The window assembler keeps a stream's open windows in memory. When a worker dies or Kafka moves the stream's
partition to another worker, the new owner resumes after the last committed offset: the records of the open
windows were consumed already and would be lost with the old worker's memory. So every accepted media record
is also appended to the stream's journal (a Redis list, TTL ``redis.blob_ttl_s``); a worker that meets a stream
it holds no state for first replays that journal, and entries are trimmed once the windows they fed are
closed. Windows a replay closes again get the same ids, and every later effect is keyed by window, so a
duplicate overwrites.
"""
from __future__ import annotations

from collections import deque

from ampere import media
from ampere.records import AudioChunk, BadRecord, Keyframe, Record, StreamEnd, decode
from ampere.settings import IngestOptions, WindowOptions
from ampere.windows import WindowAssembler, WindowMedia


class Ingestor:
    """``streams``: ``ampere.store.StreamState`` (the journal), or None to keep nothing outside this process."""

    def __init__(self, streams, windows: WindowOptions, ingest: IngestOptions,
                 assembler: WindowAssembler | None = None):
        self.streams = streams
        self.sample_rate = ingest.sample_rate
        self.assembler = assembler or WindowAssembler(windows.window_s, windows.hop_s, ingest.sample_rate,
                                                      windows.frames_per_window)
        self._ends: dict[str, deque[float]] = {}  # per stream: media end time of each journal entry, in order

    def handle(self, rec: Record) -> list[WindowMedia]:
        """Check one media record and return the windows it closes (raises BadRecord / MediaError)."""
        if isinstance(rec, StreamEnd):
            restored = self._restore(rec.stream_id)
            windows = restored + self.assembler.end(rec.stream_id)
            self._forget(rec.stream_id)
            return windows
        span, apply = self._check(rec)
        restored = self._restore(rec.stream_id)
        if isinstance(rec, AudioChunk) and self.assembler.would_restart(rec.stream_id, rec.t0):
            self._forget(rec.stream_id)  # the assembler starts the stream afresh; so does the journal
        windows = restored + apply()
        self._journal(rec, span)
        self._trim(rec.stream_id)
        return windows

    def _check(self, rec: Record):
        """Validate and decode before anything is journaled (a bad record must never be replayed). Returns
        (media time up to which the record carries data, how to add it to the assembler)."""
        if isinstance(rec, AudioChunk):
            pcm = media.decode_audio(rec.data, rec.sample_rate)
            if rec.sample_rate != self.sample_rate:
                raise BadRecord(f"audio: sample rate {rec.sample_rate} Hz, pipeline expects {self.sample_rate} Hz")
            return rec.t0 + len(pcm) / rec.sample_rate, lambda: self.assembler.add_audio(rec.stream_id, rec.t0, pcm)
        if isinstance(rec, Keyframe):
            media.decode_jpeg(rec.data)  # reject undecodable images here, not three stages later
            if rec.full:
                media.decode_jpeg(rec.full)
            return rec.t, lambda: self.assembler.add_frame(rec.stream_id, rec.t, rec.data, rec.full)
        raise BadRecord(f"unexpected record type {rec.TYPE!r} on the media topic")

    def _forget(self, stream_id: str) -> None:
        self._ends.pop(stream_id, None)
        if self.streams is not None:
            self.streams.journal_delete(stream_id)

    def _restore(self, stream_id: str) -> list[WindowMedia]:
        if self.streams is None or stream_id in self._ends:
            return []
        self._ends[stream_id] = deque()
        out: list[WindowMedia] = []
        for raw in self.streams.journal(stream_id):
            try:
                rec = decode(raw, expect=(AudioChunk, Keyframe))
                span, apply = self._check(rec)
            except (BadRecord, media.MediaError):
                continue  # cannot happen for entries this class wrote; never stop a stream for it
            out += apply()
            self._ends[stream_id].append(span)
        return out

    def _journal(self, rec: Record, span: float) -> None:
        if self.streams is None:
            return
        self.streams.journal_append(rec.stream_id, rec.encode())
        self._ends.setdefault(rec.stream_id, deque()).append(span)

    def _trim(self, stream_id: str) -> None:
        """Drop journal entries that only fed windows already closed."""
        ends = self._ends.get(stream_id)
        keep_from = self.assembler.open_from(stream_id)
        if self.streams is None or not ends or keep_from is None:
            return
        n = 0
        while ends and ends[0] <= keep_from + 1e-6:
            ends.popleft()
            n += 1
        self.streams.journal_drop_first(stream_id, n)
