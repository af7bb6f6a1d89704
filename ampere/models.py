"""The models of one worker process, each loaded on first use and once (Whisper, the summarizer, the ONNX
embedder, OCR, the on-air mention model). Loading is lazy so that importing or constructing costs nothing; a worker
calls :meth:`Models.warm_up` at start so the first window is not a cold start and a missing file shows then."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ampere.settings import Settings


class Models:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.RLock()
        self._loaded: dict[str, object] = {}

    def _get(self, name: str, make):
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = make()
            return self._loaded[name]

    @property
    def transcriber(self):
        from ampere.asr import Transcriber

        return self._get("asr", lambda: Transcriber(self.settings.asr))

    @property
    def summarizer(self):
        from ampere.summarize import make_summarizer

        return self._get("summarizer", lambda: make_summarizer(self.settings.summarizer))

    @property
    def embedder(self):
        from encoders.runtime import Embedder

        e = self.settings.embed
        return self._get(
            "embedder", lambda: Embedder.load(e.model_dir, variant=e.variant, providers=e.providers, threads=e.threads)
        )

    @property
    def onair(self):
        """The on-air mention model, or None when the tagger does not use it (``tagger.onair_weight`` 0)."""
        from ampere.onair import OnAirModel

        t = self.settings.tagger
        return self._get("onair", lambda: OnAirModel.load(Path(t.onair_model)) if t.onair_weight > 0 else None)

    @property
    def ocr(self):
        from ampere.ocr import Reader

        return self._get("ocr", lambda: Reader(self.settings.ocr))

    def _first_window(self) -> None:
        import numpy as np

        side = self.settings.ingest.frame_size
        frame = np.full((side * 9 // 16, side, 3), 127, np.uint8)
        self.embedder.embed("live", [frame] * self.settings.windows.frames_per_window, "")
        if self.settings.ocr.enabled:
            self.ocr.read(frame)

    def warm_up(self) -> dict[str, float]:
        """Load every model now; returns the seconds each took (0 for one already loaded)."""
        steps = {
            "asr": lambda: self.transcriber.model,  # loads faster-whisper's model
            "summarizer": lambda: getattr(self.summarizer, "llm", None),  # llama.cpp's model where there is one
            "embedder": lambda: self.embedder,
            "onair": lambda: self.onair,
        }
        if self.settings.ocr.enabled:
            steps["ocr"] = lambda: self.ocr.load()
        seconds = {}
        # one live window through the embedder (and OCR) too: ONNX Runtime sizes its memory arenas on the first
        # run, so the worker's memory and first-window latency are paid at start, not by the first stream
        steps["first_window"] = self._first_window
        for name, load in steps.items():
            t = time.perf_counter()
            load()
            seconds[name] = time.perf_counter() - t
        return seconds
