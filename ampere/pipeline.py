"""The live pipeline's stages as plain functions.

Each stage takes the previous stage's record and returns the next one. The Faust
agents in ``streamer.agents`` only move records between topics and call these
off the event loop, so the engine could be swapped without touching this code,
and benchmarks can drive the same functions without Kafka.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ampere import index, lexical, media, onair
from ampere.records import Embedded, Summarized, Tag, Transcribed, WindowReady
from ampere.settings import Settings
from ampere.windows import WindowMedia


def now() -> float:
    return time.time()


# --- claim-check: window media lives in Redis, records carry the key -------------------------

def store_window(r, win: WindowMedia, settings: Settings) -> WindowReady:
    key = f"blob:{win.window_id}"
    pcm16 = (np.clip(win.audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    mapping = {"audio": pcm16}
    for i, (_, jpeg) in enumerate(win.frames):
        mapping[f"frame{i}"] = jpeg
    index.put_blob(r, key, mapping, settings.blob_ttl_s)
    return WindowReady(stream_id=win.stream_id, start=win.start, end=win.end, blob_key=key,
                       n_frames=len(win.frames), closed_at=now(), final=int(win.final))


class MissingBlob(RuntimeError):
    pass


def load_audio(r, rec: WindowReady) -> np.ndarray:
    blob = index.get_blob(r, rec.blob_key, ["audio"])
    if blob is None or "audio" not in blob:
        raise MissingBlob(f"window media {rec.blob_key} expired or missing")
    return np.frombuffer(blob["audio"], dtype="<i2").astype(np.float32) / 32767.0


def load_frames(r, rec: WindowReady) -> list[np.ndarray]:
    names = [f"frame{i}" for i in range(rec.n_frames)]
    blob = index.get_blob(r, rec.blob_key, names) if names else {}
    if blob is None:
        raise MissingBlob(f"window media {rec.blob_key} expired or missing")
    return [media.decode_jpeg(blob[n]) for n in names if n in blob]


# --- models, loaded lazily once per worker process ------------------------------------------

@dataclass
class Models:
    settings: Settings
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _transcriber: object = None
    _summarizer: object = None
    _embedder: object = None
    _snapper: object = None
    _snapper_at: float = 0.0
    _name_index: object = None
    _onair: object = None

    @property
    def transcriber(self):
        with self._lock:
            if self._transcriber is None:
                from ampere.asr import Transcriber
                self._transcriber = Transcriber(self.settings)
            return self._transcriber

    @property
    def summarizer(self):
        with self._lock:
            if self._summarizer is None:
                from ampere.summarize import make_summarizer
                self._summarizer = make_summarizer(self.settings)
            return self._summarizer

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from encoders.runtime import Embedder
                s = self.settings
                self._embedder = Embedder.load(s.model_dir, variant=s.onnx_variant,
                                               providers=s.onnx_providers, threads=s.inference_threads)
            return self._embedder

    def snapper(self, r):
        """The catalogue's names as a NameSnapper, re-read from Redis every names_refresh_s (products
        added while the worker runs are picked up without a restart)."""
        from ampere.names import NameSnapper
        with self._lock:
            if self._snapper is None or time.monotonic() - self._snapper_at > self.settings.names_refresh_s:
                names = index.get_names(r, self.settings)
                self._snapper = NameSnapper(names, self.settings.name_min_score)
                self._name_index = onair.NameIndex.of(names)  # the same names, for the tagger's mentions
                self._snapper_at = time.monotonic()
            return self._snapper

    def correct_names(self, r, text: str) -> str:
        return self.snapper(r).correct(text) if self.settings.name_correction and text.strip() else text

    @property
    def onair(self):
        with self._lock:
            if self._onair is None:
                self._onair = onair.OnAirModel.load(self.settings.tag_onair_model)
            return self._onair

    def onair_mentions(self, r, text: str) -> list:
        """Catalogue names said in ``text``, each with its probability of naming the product on air."""
        if self.settings.tag_onair_weight <= 0 or not text.strip():
            return []
        self.snapper(r)  # refreshes the names
        return self.onair.mentions(text, self._name_index)


# --- stages -------------------------------------------------------------------------------

def _fields(rec) -> dict:
    d = rec.to_dict()
    d.pop("v"), d.pop("type")
    return d


def transcribe(r, rec: WindowReady, models: Models) -> Transcribed:
    tr = models.transcriber.transcribe(load_audio(r, rec))
    return Transcribed(**_fields(rec), text=models.correct_names(r, tr.text), raw_text=tr.text,
                       no_speech_prob=float(tr.no_speech_prob), asr_ms=float(tr.asr_ms))


def summarize(r, rec: Transcribed, models: Models) -> Summarized:
    """Summarize a window, reading the facts the stream's previous window left (windows of one stream
    come in order: the stream id is the partition key) and leaving this window's for the next one."""
    base = _fields(rec)
    hop = models.settings.hop_s
    before = index.get_facts(r, rec.stream_id, rec.start - hop) if rec.start >= hop else None
    s = models.summarizer.summarize(rec.text, before=before)
    if s.facts:
        index.put_facts(r, rec.stream_id, rec.start, s.facts, models.settings.blob_ttl_s)
    return Summarized(**base, summary=s.text, summary_ms=float(s.ms))


def summary_for_embedding(summary: str) -> str:
    # the summarizer's explicit "nothing about a product" marker must not pull windows together
    return "" if summary.strip().lower() in ("", "empty") else summary


def embed_and_index(r, rec: Summarized, models: Models) -> Embedded:
    t = time.perf_counter()
    # an audio-only stream (or a window without keyframes) still gets indexed: a blank frame stands in
    frames = load_frames(r, rec) or [np.full((64, 64, 3), 127, np.uint8)]
    emb = models.embedder.embed("live", frames, summary_for_embedding(rec.summary))
    embed_ms = (time.perf_counter() - t) * 1000
    vec = np.asarray(emb.fused, dtype=np.float32)
    index.upsert_live(r, rec.stream_id, rec.start, rec.end, vec, text_embedding=emb.text,
                      visual_embedding=emb.visual, summary=rec.summary, ts=now())
    return Embedded(**_fields(rec), vector=vec.tobytes(), embed_ms=embed_ms, indexed_at=now())


def rank_products(hits) -> list[tuple[str, float]]:
    """Best score per product over its catalog items, best first (hits: .product_id, .score)."""
    best: dict[str, float] = {}
    for h in hits:
        if h.product_id and h.score > best.get(h.product_id, float("-inf")):
            best[h.product_id] = h.score
    return sorted(best.items(), key=lambda kv: -kv[1])


@dataclass
class Candidate:
    key: str
    product_id: str
    title: str
    cosine: float
    score: float = 0.0


def catalog_candidates(r, vec: np.ndarray, transcript: str, settings: Settings,
                       mentions: Sequence = ()) -> list[Candidate]:
    """Product pages near the window's embedding, plus pages whose title shares words with what was said;
    scored by cosine + lexical_weight x (share of the title's words that were spoken)
    + onair_weight x (how surely the product's name was said on air, ``ampere.onair``)."""
    k = settings.tag_k * 4
    cands = {h.key: Candidate(h.key, h.product_id, h.fields.get("title", ""), h.score)
             for h in index.knn(r, vec, k=k, domains=["page"], settings=settings)}
    spoken = lexical.tokens(transcript)
    if spoken and settings.tag_lexical_weight > 0:
        extra = [(key, f) for key, f in index.text_candidates(r, spoken, k=k, settings=settings) if key not in cands]
        for (key, f), v in zip(extra, index.vectors(r, [key for key, _ in extra])):
            if v is not None:
                cands[key] = Candidate(key, f.get("product_id", ""), f.get("title", ""), float(v @ vec))
    for c in cands.values():
        c.score = (c.cosine + settings.tag_lexical_weight * lexical.overlap(lexical.tokens(c.title), spoken)
                   + settings.tag_onair_weight * onair.onair_score(c.title, mentions))
    return list(cands.values())


def smooth(current: list[tuple[str, float]], previous: list[tuple[str, float]], alpha: float) -> list[tuple[str, float]]:
    """Blend this window's product scores with the previous window's (already blended) ones.

    A product stays on air for tens of seconds and windows overlap, so one window of
    chatter or a passing mention of another product should not flip the tag. A product
    missing from one list counts with that list's lowest score.
    """
    if not previous or alpha <= 0:
        return current
    cur, prev = dict(current), dict(previous)
    cur_floor, prev_floor = min(cur.values(), default=0.0), min(prev.values(), default=0.0)
    blended = {p: (1 - alpha) * cur.get(p, cur_floor) + alpha * prev.get(p, prev_floor) for p in cur.keys() | prev.keys()}
    return sorted(blended.items(), key=lambda kv: -kv[1])


def previous_candidates(r, rec: Embedded, settings: Settings) -> list[tuple[str, float]]:
    prev_start = rec.start - settings.hop_s
    entries = index.stream_history(r, rec.stream_id, start=prev_start - 1e-3, end=prev_start + 1e-3)
    if not entries:
        return []
    return [(c["product_id"], float(c["score"])) for c in entries[-1].get("candidates", [])]


def tag(r, rec: Embedded, models: Models) -> Tag | None:
    settings = models.settings
    vec = np.frombuffer(rec.vector, dtype=np.float32)
    # title words are matched against what was said in this window, not the summary: the summary carries
    # the previous product's name into the next one's first windows when the adapter misses the change
    # (measured on the tests' tiny stream: 9/16 matching the summary, 13/16 matching the transcript)
    mentions = models.onair_mentions(r, rec.text)
    current = rank_products(catalog_candidates(r, vec, rec.text, settings, mentions))[: settings.tag_k * 2]
    # a window whose speech said nothing about a product is weak evidence: lean on the previous window
    empty = summary_for_embedding(rec.summary) == ""
    alpha = settings.tag_smoothing_empty if empty else settings.tag_smoothing
    ranked = smooth(current, previous_candidates(r, rec, settings), alpha)[: settings.tag_k * 2]
    if not ranked or ranked[0][1] < settings.tag_min_score:
        return None
    product_id, score = ranked[0]
    # also marks the window's index entry with tag_product, so "where is product X shown" is one query
    index.record_tag(r, rec.stream_id, rec.start, rec.end, product_id, score, ranked)
    if rec.final:
        index.end_stream(r, rec.stream_id)
    return Tag(stream_id=rec.stream_id, start=rec.start, end=rec.end, product_id=product_id, score=float(score),
               candidates=[[p, float(s)] for p, s in ranked[: settings.tag_k]], summary=rec.summary,
               e2e_ms=(now() - rec.closed_at) * 1000)
