"""Query embeddings in small batches: requests that arrive together share one ONNX run.

One run of the model costs about the same for 1 query as for 4 (the graph computes both branches whatever it is
given), so under concurrent load a batch of N costs far less than N runs. :class:`BatchingEmbedder` stands in for
``encoders.runtime.Embedder`` where the API embeds queries: a caller waits at most ``max_wait_ms`` for others to
join its batch (none when it is alone: a batch starts as soon as the worker is free), and batches hold at most
``max_batch`` queries. Results are the same as one at a time (each row of a batch is computed independently).

Text queries need only the text branch, but the exported graph computes the visual one too (on a blank frame).
When the ``onnx`` package is there (the ``train`` extra), the text branch is cut out of the graph once at start
(``onnx.utils.Extractor``: the same nodes, same weights, same output) and text queries run on that alone, about
1.6x faster; without it they run on the whole graph.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("ampere.api.batching")
TEXT_INPUTS = ("input_ids", "attention_mask", "domain", "text_ngrams")


def text_branch_session(model_path: Path, threads: int = 1, providers: Sequence[str] | None = None):
    """An ONNX Runtime session of the graph's text branch alone, or None when it cannot be made."""
    try:
        import onnxruntime as ort
        from onnx.utils import Extractor

        import onnx

        model = onnx.load(str(model_path))
        inputs = [i.name for i in model.graph.input if i.name in TEXT_INPUTS]
        sub = Extractor(model).extract_model(inputs, ["text"])
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = max(1, int(threads)), 1, 3
        return ort.InferenceSession(sub.SerializeToString(), so, providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:  # no onnx package, another graph layout: the whole graph does it
        log.info("text queries run on the whole graph (%s: %s)", type(exc).__name__, exc)
        return None


class BatchingEmbedder:
    def __init__(self, embedder, max_batch: int = 16, max_wait_ms: float = 2.0, workers: int = 2, text_session=None):
        self.embedder = embedder
        self.text_session = text_session
        self.max_batch, self.max_wait_s = int(max_batch), float(max_wait_ms) / 1000
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._blank = np.full((embedder.image_size, embedder.image_size, 3), 127, np.uint8)
        self.batches = 0
        self.items = 0
        self._count_lock = threading.Lock()
        # ONNX runs release the GIL: while one batch runs, the next one forms and runs beside it
        self._threads = [
            threading.Thread(target=self._run, name=f"ampere-embed-batcher-{i}", daemon=True)
            for i in range(max(1, int(workers)))
        ]
        for th in self._threads:
            th.start()

    def __getattr__(self, name: str) -> Any:  # everything else as the wrapped embedder has it
        return getattr(self.embedder, name)

    # -- what Search calls

    def embed(self, domain: str, frames: Sequence[np.ndarray], text: str | None):
        fut: Future = Future()
        self._q.put((domain, list(frames), text or "", fut))
        return fut.result()

    def embed_text(self, text: str, domain: str = "page") -> np.ndarray:
        if self.text_session is None:
            return self.embed(domain, [self._blank], text).text
        fut: Future = Future()
        self._q.put((domain, None, text or "", fut))  # no frames: the text branch alone
        return fut.result()

    # -- the worker

    def _run(self) -> None:
        while True:
            first = self._q.get()
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._q.get_nowait())
                    continue
                except queue.Empty:
                    pass
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._q.get(timeout=left))
                except queue.Empty:
                    break
            self._embed(batch)

    def _embed(self, batch: list) -> None:
        texts = [b for b in batch if b[1] is None]
        if texts:
            self._embed_texts(texts)
        batch = [b for b in batch if b[1] is not None]
        if not batch:
            return
        try:
            out = self.embedder.embed_batch([b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch])
        except Exception:
            # one bad input must not fail the others: run them one by one
            for domain, frames, text, fut in batch:
                try:
                    fut.set_result(self.embedder.embed(domain, frames, text))
                except Exception as exc:
                    fut.set_exception(exc)
            return
        with self._count_lock:
            self.batches += 1
            self.items += len(batch)
        for (_, _, _, fut), emb in zip(batch, out):
            fut.set_result(emb)

    def _embed_texts(self, batch: list) -> None:
        from encoders.ngrams import ngram_features
        from encoders.text import load_tokenizer, tokenize

        e = self.embedder
        try:
            texts = [b[2] for b in batch]
            enc = tokenize(load_tokenizer(e.tokenizer_path), texts, e.max_tokens)
            feed = {
                "input_ids": enc["input_ids"],
                "attention_mask": enc["attention_mask"],
                "domain": np.array([e._domain_id(b[0]) for b in batch], np.int64),
            }
            names = {i.name for i in self.text_session.get_inputs()}
            if "text_ngrams" in names:
                feed["text_ngrams"] = ngram_features(texts, e.ngram_dim)
            (vecs,) = self.text_session.run(["text"], {k: v for k, v in feed.items() if k in names})
        except Exception as exc:
            for *_, fut in batch:
                fut.set_exception(exc)
            return
        with self._count_lock:
            self.batches += 1
            self.items += len(batch)
        for (*_, fut), v in zip(batch, vecs):
            fut.set_result(np.asarray(v, np.float32))


class QueryModels:
    """What ``Search`` needs of ``ampere.models.Models`` in the API: the embedder, behind a batcher."""

    def __init__(self, models, max_batch: int = 16, max_wait_ms: float = 2.0, workers: int = 2):
        self.models, self.max_batch, self.max_wait_ms, self.workers = models, max_batch, max_wait_ms, workers
        self.settings = models.settings
        self._embedder: BatchingEmbedder | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> BatchingEmbedder:
        with self._lock:
            if self._embedder is None:
                raw = self.models.embedder
                self._embedder = BatchingEmbedder(
                    raw, self.max_batch, self.max_wait_ms, self.workers, text_session=self._text_session(raw)
                )
            return self._embedder

    def _text_session(self, raw):
        e = self.settings.embed
        files = getattr(raw, "manifest", {}).get("files", {})
        if getattr(raw, "session", None) is None or e.variant not in files:
            return None
        return text_branch_session(Path(e.model_dir) / files[e.variant]["file"], e.threads, raw.providers)
