"""The live pipeline's stages, one method each, for one deployment (its store) and one process (its models).

Each stage takes the previous stage's record and returns the next one. The Faust agents in ``streamer.agents``
only move records between topics and call these off the event loop, so the engine could be swapped without
touching this code, and benchmarks drive the same methods without Kafka.

    WindowMedia --store_window--> WindowReady --transcribe--> Transcribed --summarize--> Summarized
                --embed_and_index--> Embedded --tag--> Tag
"""
from __future__ import annotations

import time

import numpy as np

from ampere import media
from ampere.models import Models
from ampere.names import CatalogNames
from ampere.records import Embedded, Summarized, Tag, Transcribed, WindowReady
from ampere.settings import Settings
from ampere.store import Store
from ampere.summarize import summary_for_embedding
from ampere.tagger import Tagger
from ampere.windows import WindowMedia

_I16 = 32767.0  # window audio is kept as int16 in the claim-check store


def now() -> float:
    return time.time()


def fields_of(rec) -> dict:
    d = rec.to_dict()
    d.pop("v"), d.pop("type")
    return d


class Pipeline:
    def __init__(self, settings: Settings, store: Store, models: Models | None = None):
        self.settings = settings
        self.store = store
        self.models = models or Models(settings)
        self.names = CatalogNames(store.index, settings.names)
        self.tagger = Tagger(store.index, settings.tagger)

    # --- claim-check: window media lives in Redis, records carry the key

    def store_window(self, win: WindowMedia) -> WindowReady:
        key = self.store.keys.blob(win.stream_id, win.start)
        audio = np.clip(win.audio, -1.0, 1.0)
        rec = WindowReady(stream_id=win.stream_id, start=win.start, end=win.end, blob_key=key,
                          n_frames=len(win.frames), closed_at=now(), final=int(win.final),
                          rms=float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0)
        # the record goes with the media: a window whose record a broker lost can be re-published from Redis
        mapping = {"audio": (audio * _I16).astype("<i2").tobytes(), "meta": rec.encode()}
        for i, (_, jpeg) in enumerate(win.frames):
            mapping[f"frame{i}"] = jpeg
        self.store.blobs.put(key, mapping)
        return rec

    def load_audio(self, rec: WindowReady) -> np.ndarray:
        blob = self.store.blobs.require(rec.blob_key, ["audio"])
        return np.frombuffer(blob["audio"], dtype="<i2").astype(np.float32) / _I16

    def load_frames(self, rec: WindowReady) -> list[np.ndarray]:
        names = [f"frame{i}" for i in range(rec.n_frames)]
        blob = self.store.blobs.require(rec.blob_key, names) if names else {}
        return [media.decode_jpeg(blob[n]) for n in names if n in blob]

    # --- stages

    def transcribe(self, rec: WindowReady) -> Transcribed:
        tr = self.models.transcriber.transcribe(self.load_audio(rec), self.settings.ingest.sample_rate)
        return Transcribed(**fields_of(rec), text=self.names.correct(tr.text), raw_text=tr.text,
                           no_speech_prob=float(tr.no_speech_prob), asr_ms=float(tr.asr_ms))

    def summarize(self, rec: Transcribed) -> Summarized:
        """Summarize a window, reading the facts the stream's previous window left (windows of one stream come
        in order: the stream id is the partition key) and leaving this window's for the next one."""
        hop = self.settings.windows.hop_s
        streams = self.store.streams
        before = streams.facts(rec.stream_id, rec.start - hop) if rec.start >= hop else None
        s = self.models.summarizer.summarize(rec.text, before=before)
        if s.facts:
            streams.put_facts(rec.stream_id, rec.start, s.facts)
        return Summarized(**fields_of(rec), summary=s.text, summary_ms=float(s.ms))

    def embed_and_index(self, rec: Summarized) -> Embedded:
        t = time.perf_counter()
        # an audio-only stream (or a window without keyframes) still gets indexed: a blank frame stands in
        frames = self.load_frames(rec) or [np.full((64, 64, 3), 127, np.uint8)]
        emb = self.models.embedder.embed("live", frames, summary_for_embedding(rec.summary))
        embed_ms = (time.perf_counter() - t) * 1000
        vec = np.asarray(emb.fused, dtype=np.float32)
        self.store.index.upsert_live(rec.stream_id, rec.start, rec.end, vec, text_embedding=emb.text,
                                     visual_embedding=emb.visual, summary=rec.summary, ts=now())
        return Embedded(**fields_of(rec), vector=vec.tobytes(), embed_ms=embed_ms, indexed_at=now())

    def previous_candidates(self, rec: Embedded) -> list[tuple[str, float]]:
        prev_start = rec.start - self.settings.windows.hop_s
        entries = self.store.streams.history(rec.stream_id, start=prev_start - 1e-3, end=prev_start + 1e-3)
        if not entries:
            return []
        return [(c["product_id"], float(c["score"])) for c in entries[-1].get("candidates", [])]

    def mentions(self, text: str) -> list:
        """Catalogue names said in ``text``, each with its probability of naming the product on air."""
        model = self.models.onair
        if model is None or not text.strip():
            return []
        return model.mentions(text, self.names.refresh().mentions)

    def tag(self, rec: Embedded) -> Tag | None:
        try:
            if self._silent(rec):
                return self._no_product(rec)
            return self._tag(rec)
        finally:
            if rec.final:  # whatever this window scored, the stream is over: its products leave "live now"
                self.end_stream(rec.stream_id, rec.end)

    # --- silent windows (issue 13): apart from the tagger, which only sees windows with something in them

    def _silent(self, rec: Embedded) -> bool:
        """Digital silence (or all but) and no words: nothing is on air, whatever the frames look like."""
        return 0.0 <= rec.rms < self.settings.limits.silence_rms and not (rec.text or "").strip()

    def _no_product(self, rec: Embedded) -> Tag:
        """The "none" decision: the stream shows no product in this window (it leaves "live now")."""
        self.store.streams.record_tag(rec.stream_id, rec.start, rec.end, "", 0.0, [])
        return Tag(stream_id=rec.stream_id, start=rec.start, end=rec.end, product_id="", score=0.0,
                   candidates=[], summary=rec.summary, e2e_ms=(now() - rec.closed_at) * 1000)

    def _tag(self, rec: Embedded) -> Tag | None:
        o = self.settings.tagger
        vec = np.frombuffer(rec.vector, dtype=np.float32)
        ranked = self.tagger.rank(vec, rec.text, self.mentions(rec.text), self.previous_candidates(rec),
                                  said_nothing=summary_for_embedding(rec.summary) == "")
        if not ranked or ranked[0][1] < o.min_score:
            return None
        product_id, score = ranked[0]
        # also marks the window's index entry with tag_product, so "where is product X shown" is one query
        self.store.streams.record_tag(rec.stream_id, rec.start, rec.end, product_id, score, ranked)
        return Tag(stream_id=rec.stream_id, start=rec.start, end=rec.end, product_id=product_id, score=float(score),
                   candidates=[[p, float(s)] for p, s in ranked[: o.k]], summary=rec.summary,
                   e2e_ms=(now() - rec.closed_at) * 1000)

    def end_stream(self, stream_id: str, media_t: float | None = None) -> None:
        self.store.streams.end(stream_id, media_t)
