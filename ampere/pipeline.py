"""The live pipeline's stages, one method each, for one deployment (its store) and one process (its models).

Each stage takes the previous stage's record and returns the next one. The Faust agents in ``streamer.agents``
only move records between topics and call these off the event loop, so the engine could be swapped without
touching this code, and benchmarks drive the same methods without Kafka.

    WindowMedia --store_window--> WindowReady --transcribe (hear + see)--> Transcribed --summarize-->
    Summarized --embed_and_index--> Embedded --tag--> Tag (+ a correction of the previous window's tag)
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ampere import media
from ampere.asr import ChunkState, Transcript, names_prompt, new_words, transcribe_window
from ampere.facts import parse
from ampere.models import Models
from ampere.names import CatalogNames, NameSnapper, names_of
from ampere.records import Embedded, Summarized, Tag, Transcribed, WindowReady
from ampere.segmenter import NONE, Segmenter, SegmenterState, none_score
from ampere.settings import Settings
from ampere.store import Store
from ampere.summarize import EMPTY, Summary, expire, has_product_signal, summary_for_embedding, window_text
from ampere.tagger import Tagger, screen_texts
from ampere.windows import WindowMedia

_I16 = 32767.0  # window audio is kept as int16 in the claim-check store
log = logging.getLogger(__name__)


@dataclass
class Heard:
    text: str  # what was said in the window (the recognizer's words)
    no_speech_prob: float
    asr_ms: float
    prompted: bool
    likely_names: list[str]  # names of the stream's likely products (the prompt's, all of their parts)
    new_text: str = ""  # the words of the window's last hop: what it adds to the window before


@dataclass
class Seen:
    lines: list  # [text, score, x0, y0, x1, y1, frame time]
    ocr_ms: float


def now() -> float:
    return time.time()


def read_facts(stored: str | None) -> tuple[str | None, dict[str, int]]:
    """(facts line, ages) as ``Pipeline.summarize`` stores them (a plain line from before ages existed)."""
    if not stored:
        return None, {}
    try:
        d = json.loads(stored)
        return d.get("facts"), {str(k): int(v) for k, v in (d.get("ages") or {}).items()}
    except (ValueError, AttributeError):
        return stored, {}


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
        self.segmenter = Segmenter.of(settings.tagger)
        # a readable frame is in two overlapping windows: read it once ((stream, frame time) -> lines)
        self._screen_cache: OrderedDict[tuple[str, float], list] = OrderedDict()

    # --- claim-check: window media lives in Redis, records carry the key

    def store_window(self, win: WindowMedia) -> WindowReady:
        key = self.store.keys.blob(win.stream_id, win.start)
        audio = np.clip(win.audio, -1.0, 1.0)
        rec = WindowReady(
            stream_id=win.stream_id,
            start=win.start,
            end=win.end,
            blob_key=key,
            n_frames=len(win.frames),
            closed_at=now(),
            final=int(win.final),
            n_full=len(win.full),
            full_times=[float(t) for t, _ in win.full],
            rms=float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0,
        )
        # the record goes with the media: a window whose record a broker lost can be re-published from Redis
        mapping = {"audio": (audio * _I16).astype("<i2").tobytes(), "meta": rec.encode()}
        for i, (_, jpeg) in enumerate(win.frames):
            mapping[f"frame{i}"] = jpeg
        for i, (_, jpeg) in enumerate(win.full):
            mapping[f"full{i}"] = jpeg
        self.store.blobs.put(key, mapping)
        return rec

    def load_audio(self, rec: WindowReady) -> np.ndarray:
        blob = self.store.blobs.require(rec.blob_key, ["audio"])
        return np.frombuffer(blob["audio"], dtype="<i2").astype(np.float32) / _I16

    def load_frames(self, rec: WindowReady, part: str = "frame") -> list[np.ndarray]:
        """The window's small frames (``part="frame"``) or its readable ones (``part="full"``)."""
        names = [f"{part}{i}" for i in range(rec.n_frames if part == "frame" else rec.n_full)]
        blob = self.store.blobs.require(rec.blob_key, names) if names else {}
        return [media.decode_jpeg(blob[n]) for n in names if n in blob]

    # --- stages

    def transcribe(self, rec: WindowReady) -> Transcribed:
        """Hear and see one window (the Faust agent runs the two in parallel pools)."""
        return self.transcribed(rec, self.hear(rec), self.see(rec))

    def hear(self, rec: WindowReady) -> Heard:
        """ASR of the window: chunked (only audio not recognised yet), biased to the stream's likely products."""
        a = self.settings.asr
        audio, sr = self.load_audio(rec), self.settings.ingest.sample_rate
        likely = self.likely_names(rec)
        prompt = names_prompt([n for n in likely if " " in n] or likely, a.bias_max_words) if a.bias != "off" else ""
        tr: Transcript | None
        if a.chunked:
            streams = self.store.streams
            state = ChunkState.of(streams.asr_state(rec.stream_id))
            text, tr = transcribe_window(
                self.models.transcriber, state, rec.start, rec.end, audio, sr, a.overlap_s, prompt or None
            )
            streams.put_asr_state(rec.stream_id, state.to_dict())
            fresh = new_words(state, max(rec.start, rec.end - self.settings.windows.hop_s), rec.end)
        else:
            tr = self.models.transcriber.transcribe(audio, sr, prompt=prompt or None)
            text = fresh = tr.text
        return Heard(
            text,
            float(tr.no_speech_prob) if tr else 0.0,
            float(tr.asr_ms) if tr else 0.0,
            bool(tr and tr.prompted and not tr.fell_back),
            likely,
            fresh,
        )

    def see(self, rec: WindowReady) -> Seen:
        """OCR of the window's readable frames; a frame read for the previous window is not read again, and an
        OCR failure costs the window its screen text, not the window."""
        if not self.settings.ocr.enabled or not rec.n_full:
            return Seen([], 0.0)
        t0 = time.perf_counter()
        lines: list = []
        frames = self.load_frames(rec, "full")
        for t, frame in zip(rec.full_times or [0.0] * len(frames), frames):
            key = (rec.stream_id, round(float(t), 3))
            if key not in self._screen_cache:
                try:
                    read = self.models.ocr.read(frame, stream=rec.stream_id)
                except Exception as exc:  # ampere.ocr.OcrError and friends
                    log.warning("OCR failed on %s at %.1f s: %s", rec.stream_id, t, exc)
                    read = []
                self._screen_cache[key] = [
                    [ln.text, round(ln.score, 3), *[round(v, 4) for v in ln.box], float(t)] for ln in read
                ]
                while len(self._screen_cache) > 4096:
                    self._screen_cache.popitem(last=False)
            lines += self._screen_cache[key]
        return Seen(lines, (time.perf_counter() - t0) * 1000)

    def transcribed(self, rec: WindowReady, heard: Heard, seen: Seen) -> Transcribed:
        def correct(raw: str) -> str:
            text = self.names.correct(raw)
            if heard.likely_names and self.settings.names.correction:
                # one-word names ("Zorvik", "K7") only towards the few products the stream is likely showing
                text = NameSnapper(heard.likely_names, self.settings.names.min_score, single_words=True).correct(text)
            return text

        text = correct(heard.text)
        return Transcribed(
            **fields_of(rec),
            text=text,
            raw_text=heard.text,
            new_text=correct(heard.new_text),
            no_speech_prob=heard.no_speech_prob,
            asr_ms=heard.asr_ms,
            screen=seen.lines,
            ocr_ms=seen.ocr_ms,
            prompted=int(heard.prompted),
        )

    def tagged(self, rec: WindowReady) -> bool:
        """Whether the window has a tag in its stream's history."""
        return bool(self.store.streams.history(rec.stream_id, start=rec.start - 1e-3, end=rec.start + 1e-3))

    def likely_products(self, stream_id: str, before_s: float) -> list[str]:
        """The stream's product list when the platform gave one; else the top candidates of its latest
        tagged window before ``before_s`` (what vision, the screen and the speech pointed at)."""
        listed = self.store.streams.products(stream_id)
        if listed:
            return listed
        hop = self.settings.windows.hop_s
        entries = self.store.streams.history(stream_id, start=before_s - 3 * hop, end=before_s - 1e-3)
        if not entries:
            return []
        return [c["product_id"] for c in entries[-1].get("candidates", []) if c.get("product_id")]

    def product_names(self, product_ids: list[str]) -> list[str]:
        """The products' names as the catalogue writes them: brand + model first, then each part alone."""
        if not product_ids:
            return []
        hits = self.store.index.find(
            tags={"domain": "page", "product_id": product_ids}, sort_by=None, limit=4 * len(product_ids)
        )
        by_product: dict[str, set[str]] = {}
        for h in hits:
            try:
                attrs = json.loads(h.fields.get("attributes") or "{}")
            except ValueError:
                attrs = {}
            by_product.setdefault(h.product_id, set()).update(
                names_of({"title": h.fields.get("title", ""), "attributes": attrs if isinstance(attrs, dict) else {}})
            )
        out: list[str] = []
        for p in product_ids:
            out += sorted(by_product.get(p, ()), key=lambda n: (-len(n.split()), n))
        return out

    def likely_names(self, rec: WindowReady) -> list[str]:
        likely = self.likely_products(rec.stream_id, rec.start)
        listed = bool(self.store.streams.products(rec.stream_id))
        return self.product_names(likely if listed else likely[: self.settings.asr.bias_candidates])

    def summarize(self, rec: Transcribed) -> Summarized:
        """Summarize a window, reading the facts the stream's previous window left (windows of one stream come
        in order: the stream id is the partition key) and leaving this window's for the next one."""
        hop = self.settings.windows.hop_s
        streams = self.store.streams
        stored = streams.facts(rec.stream_id, rec.start - hop) if rec.start >= hop else None
        before, ages = read_facts(stored)
        if before and self.settings.summarizer.skip_unchanged and not has_product_signal(rec.new_text):
            # the window's new hop says nothing about a product (chatter, silence): what was known carries over,
            # one window older, and the LLM is not asked (its answer would be the same facts)
            facts, ages = expire(parse(before), rec.new_text, ages, self.settings.summarizer.max_fact_age)
            s = Summary(EMPTY if facts.is_empty() else facts.text(), 0.0, "carried", facts=facts.line(), ages=ages)
        else:
            s = self.models.summarizer.summarize(rec.text, before=before, names=self.names.vocabulary(), ages=ages)
        if s.facts:
            streams.put_facts(rec.stream_id, rec.start, json.dumps({"facts": s.facts, "ages": s.ages}))
        return Summarized(**fields_of(rec), summary=s.text, summary_ms=float(s.ms))

    def embed_and_index(self, rec: Summarized) -> Embedded:
        t = time.perf_counter()
        # an audio-only stream (or a window without keyframes) still gets indexed: a blank frame stands in
        frames = self.load_frames(rec) or [np.full((64, 64, 3), 127, np.uint8)]
        if self.settings.embed.screen_text:
            vocab = self.names.vocabulary()
            text = window_text(rec.summary, rec.screen, vocab.words if vocab is not None else None)
        else:
            text = summary_for_embedding(rec.summary)
        emb = self.models.embedder.embed("live", frames, text)
        embed_ms = (time.perf_counter() - t) * 1000
        vec = np.asarray(emb.fused, dtype=np.float32)
        self.store.index.upsert_live(
            rec.stream_id,
            rec.start,
            rec.end,
            vec,
            text_embedding=emb.text,
            visual_embedding=emb.visual,
            summary=rec.summary,
            ts=now(),
            screen=" | ".join(dict.fromkeys(screen_texts(rec.screen))) or None,
        )
        return Embedded(
            **fields_of(rec),
            vector=vec.tobytes(),
            embed_ms=embed_ms,
            indexed_at=now(),
            presence=float(emb.presence or 0.0),
            presence_known=int(emb.presence is not None),
        )

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

    def tag(self, rec: Embedded) -> list[Tag]:
        """This window's tag, and a correction of the previous window's when the segmenter revised it."""
        try:
            if self._silent(rec):
                return [self._no_product(rec)]
            return self._tag(rec)
        finally:
            if rec.final:  # whatever this window scored, the stream is over: its products leave "live now"
                self.end_stream(rec.stream_id, rec.end)

    # --- silent windows (issue 13): apart from the tagger, which only sees windows with something in them

    def _silent(self, rec: Embedded) -> bool:
        """Digital silence (or all but) and no words: nothing is on air, whatever the frames look like."""
        return 0.0 <= rec.rms < self.settings.limits.silence_rms and not (rec.text or "").strip()

    def _no_product(self, rec: Embedded) -> Tag:
        """The "none" decision: the stream shows no product in this window (it leaves "live now"); the segmenter
        carries on from "no product"."""
        self.store.streams.record_tag(
            rec.stream_id,
            rec.start,
            rec.end,
            "",
            0.0,
            [],
            extra={"decision": "none", "confidence": 1.0, "correction": 0},
        )
        state = self._state_before(rec).after_none()
        self.store.streams.put_segmenter_state(rec.stream_id, rec.start, state.to_dict())
        return Tag(
            stream_id=rec.stream_id,
            start=rec.start,
            end=rec.end,
            product_id="",
            score=0.0,
            candidates=[],
            summary=rec.summary,
            e2e_ms=(now() - rec.closed_at) * 1000,
            decision="none",
            confidence=1.0,
        )

    def _state_before(self, rec: Embedded) -> SegmenterState:
        """The segmenter's state after the stream's previous window (the start state for its first)."""
        hop = self.settings.windows.hop_s
        if rec.start < hop:
            return self.segmenter.initial()
        return SegmenterState.of(self.store.streams.segmenter_state(rec.stream_id, rec.start - hop))

    def _tag(self, rec: Embedded) -> list[Tag]:
        o = self.settings.tagger
        vec = np.frombuffer(rec.vector, dtype=np.float32)
        listed = self.store.streams.products(rec.stream_id) or None
        mentions = self.mentions(rec.text)
        if not o.segmenter:
            ranked = self.tagger.rank(
                vec,
                rec.text,
                mentions,
                self.previous_candidates(rec),
                said_nothing=summary_for_embedding(rec.summary) == "",
                screen=rec.screen,
                restrict=listed,
                span=(rec.start, rec.end),
            )
            if not ranked or ranked[0][1] < o.min_score:
                return []
            return [self._publish(rec, rec.start, rec.end, ranked[0][0], ranked, 0.0, correction=False)]
        ranked = self.tagger.scores(vec, rec.text, mentions, rec.screen, restrict=listed, span=(rec.start, rec.end))
        streams, hop = self.store.streams, self.settings.windows.hop_s
        prev = self._state_before(rec)
        presence = rec.presence if rec.presence_known else None
        step = self.segmenter.step(prev, dict(ranked), none_score(o, presence), last=bool(rec.final))
        streams.put_segmenter_state(rec.stream_id, rec.start, step.state.to_dict())
        out = [self._publish(rec, rec.start, rec.end, step.decision, ranked, step.confidence, correction=False)]
        if step.previous is not None and prev.decision is not None and step.previous != prev.decision:
            start = rec.start - hop
            before = streams.history(rec.stream_id, start=start - 1e-3, end=start + 1e-3)
            kept = [(c["product_id"], c["score"]) for c in before[-1].get("candidates", [])] if before else []
            end = float(before[-1]["end"]) if before else start + self.settings.windows.window_s
            out.append(self._publish(rec, start, end, step.previous, kept, step.confidence, correction=True))
        return out

    def _publish(
        self, rec: Embedded, start: float, end: float, decision: str, ranked, confidence: float, correction: bool
    ) -> Tag:
        o = self.settings.tagger
        score = dict(ranked).get(decision, 0.0) if decision != NONE else o.none_score
        cands = [[p, float(s)] for p, s in ranked[: o.k]]
        # also marks the window's index entry with tag_product, so "where is product X shown" is one query
        self.store.streams.record_tag(
            rec.stream_id,
            start,
            end,
            decision,
            score,
            cands or None,
            extra={
                "decision": "product" if decision else "none",
                "confidence": confidence,
                "correction": int(correction),
            },
        )
        return Tag(
            stream_id=rec.stream_id,
            start=start,
            end=end,
            product_id=decision,
            score=float(score),
            candidates=cands,
            summary=rec.summary if not correction else "",
            e2e_ms=(now() - rec.closed_at) * 1000,
            decision="product" if decision else "none",
            confidence=float(confidence),
            correction=int(correction),
        )

    def set_products(self, stream_id: str, product_ids: list[str]) -> None:
        self.store.streams.set_products(stream_id, product_ids)

    def end_stream(self, stream_id: str, media_t: float | None = None) -> None:
        self.store.streams.end(stream_id, media_t)
