"""Embed pages, videos and live windows at run time.

``Embedder`` runs the exported ONNX graph with onnxruntime and needs no torch; ``TorchEmbedder`` runs a
training checkpoint (for comparisons and tests). Both take frames as lists of HxWx3 uint8 RGB arrays
of any length and size: frames are picked/repeated evenly to K (a count that divides K, one picture above all,
runs as itself: repeating it would only cost more) and made square with Pillow the way the model was trained
(``image_fit``: squash, centre crop or pad; encoders/frames.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .frames import fit_square, pick_evenly
from .ngrams import ngram_features
from .text import load_tokenizer, tokenize

log = logging.getLogger(__name__)


@dataclass
class Embedding:
    fused: np.ndarray  # float32 (embed_dim,), L2-normalised
    visual: np.ndarray
    text: np.ndarray
    # the visual tower's product-in-frame score (higher: a product is in frame); None when the model has none
    # (no zoom tower, or an export made before it had this output)
    presence: float | None = None


class _Base:
    domains: list[str]
    k: int
    image_size: int
    image_fit: str = "squash"
    max_tokens: int
    ngram_dim: int
    tokenizer_path: str

    def _domain_id(self, domain: str) -> int:
        try:
            return self.domains.index(domain)
        except ValueError:
            raise ValueError(f"unknown domain {domain!r}; expected one of {self.domains}") from None

    def frames_needed(self, n: int) -> int:
        """How many frames an item given ``n`` needs: K, or ``n`` when picking K would only repeat each of them
        equally often. The tower averages its K frames (and presence is their max), so a page repeated K
        times embeds as the page once, at 1/K of the cost (an image query, a catalogue page)."""
        return n if 0 < n < self.k and self.k % n == 0 else self.k

    def prepare_frames(self, frames: Sequence[np.ndarray], k: int | None = None) -> np.ndarray:
        """``k`` (default K) evenly picked frames as uint8 [k, S, S, 3]."""
        frames = list(frames) if frames is not None else []
        if not frames:
            raise ValueError("need at least one frame (HxWx3 uint8 RGB) per item")
        return np.stack(
            [
                fit_square(np.asarray(frames[i]), self.image_size, self.image_fit)
                for i in pick_evenly(len(frames), self.k if k is None else k)
            ]
        )

    def embed_batch(
        self, domains: Sequence[str], frames_list: Sequence[Sequence[np.ndarray]], texts: Sequence[str | None]
    ) -> list[Embedding]:
        if not (len(domains) == len(frames_list) == len(texts)):
            raise ValueError(
                f"domains, frames_list and texts differ in length ({len(domains)}, {len(frames_list)}, {len(texts)})"
            )
        if not domains:
            return []
        dom = np.array([self._domain_id(d) for d in domains], np.int64)
        strs = [t or "" for t in texts]
        enc = tokenize(load_tokenizer(self.tokenizer_path), strs, self.max_tokens)
        ngrams = ngram_features(strs, self.ngram_dim) if self.ngram_dim else None
        needs = [self.frames_needed(len(f) if f is not None else 0) for f in frames_list]
        out: list[Embedding | None] = [None] * len(domains)
        # one run per frame count (the graph's frame axis is dynamic, but a batch shares it)
        for k in sorted(set(needs)):
            rows = [i for i, n in enumerate(needs) if n == k]
            frames = np.stack([self.prepare_frames(frames_list[i], k) for i in rows])
            fused, text, visual, presence = self._run(
                enc["input_ids"][rows],
                enc["attention_mask"][rows],
                frames,
                dom[rows],
                None if ngrams is None else ngrams[rows],
            )
            for j, i in enumerate(rows):
                out[i] = Embedding(
                    fused[j].astype(np.float32),
                    visual[j].astype(np.float32),
                    text[j].astype(np.float32),
                    None if presence is None else float(presence[j]),
                )
        return [e for e in out if e is not None]

    def embed(self, domain: str, frames: Sequence[np.ndarray], text: str | None) -> Embedding:
        return self.embed_batch([domain], [frames], [text])[0]

    def embed_text(self, text: str, domain: str = "page") -> np.ndarray:
        """The text branch alone (a search box query). The visual input does not reach this output, so a
        blank frame stands in for the picture the query does not have."""
        blank = np.full((self.image_size, self.image_size, 3), 127, np.uint8)
        return self.embed(domain, [blank], text).text

    def _run(self, input_ids, attention_mask, frames, domain, ngrams=None):  # pragma: no cover - abstract
        """-> (fused, text, visual, presence or None)."""
        raise NotImplementedError


def resolve_providers(providers: str | Sequence[str] = "auto") -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if providers == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]
    wanted = [p.strip() for p in providers.split(",")] if isinstance(providers, str) else list(providers)
    missing = [p for p in wanted if p not in available]
    if missing:
        raise ValueError(f"onnxruntime providers not available: {missing} (available: {available})")
    return wanted


class Embedder(_Base):
    """ONNX runtime embedder; load with ``Embedder.load(model_dir, variant="fp32"|"int8")``."""

    def __init__(self, session, manifest: dict, tokenizer_path: str):
        self.session = session
        self.manifest = manifest
        self.domains = list(manifest["domains"])
        self.k = int(manifest["frames"])
        self.image_size = int(manifest["image_size"])
        self.max_tokens = int(manifest["max_tokens"])
        self.ngram_dim = int(manifest.get("config", {}).get("text_ngram_dim", 0) or 0)
        self.image_fit = manifest.get("config", {}).get("image_fit", "squash")
        self.tokenizer_path = tokenizer_path
        self.providers = session.get_providers()
        outs = {o.get("name"): o for o in manifest.get("outputs", [])}
        self.presence = "presence" in outs and bool(outs["presence"].get("available", True))

    @classmethod
    def load(
        cls, model_dir: str | Path, variant: str = "fp32", providers: str | Sequence[str] = "auto", threads: int = 1
    ) -> Embedder:
        import onnxruntime as ort

        model_dir = Path(model_dir)
        mpath = model_dir / "manifest.json"
        if not mpath.is_file():
            raise FileNotFoundError(f"{mpath} not found: export a model first (ampere_train.export.export_onnx)")
        manifest = json.loads(mpath.read_text())
        files = manifest.get("files", {})
        if variant not in files:
            raise ValueError(f"variant {variant!r} not in {mpath} (has {sorted(files)})")
        onnx_path = model_dir / files[variant]["file"]
        if not onnx_path.is_file():
            raise FileNotFoundError(f"{onnx_path} missing: re-run the export (ONNX files are derived, not in git)")
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(threads))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        session = ort.InferenceSession(str(onnx_path), so, providers=resolve_providers(providers))
        log.info("ampere embedder %s on %s", onnx_path.name, session.get_providers())
        return cls(session, manifest, _tokenizer_path(manifest))

    def _run(self, input_ids, attention_mask, frames, domain, ngrams=None):
        feed = {"input_ids": input_ids, "attention_mask": attention_mask, "frames": frames, "domain": domain}
        if self.ngram_dim:
            feed["text_ngrams"] = ngrams
        if self.presence:
            fused, text, visual, presence = self.session.run(["fused", "text", "visual", "presence"], feed)
            return fused, text, visual, presence
        fused, text, visual = self.session.run(["fused", "text", "visual"], feed)
        return fused, text, visual, None


def _tokenizer_path(manifest: dict) -> str:
    from .config import resolve_text_encoder

    spec = manifest.get("tokenizer", {}).get("text_encoder", "minilm")
    try:
        return str(resolve_text_encoder(spec))
    except (RuntimeError, FileNotFoundError):
        hint = manifest.get("tokenizer", {}).get("path_hint")
        if hint and Path(hint).is_dir():
            return hint
        raise


class TorchEmbedder(_Base):
    """Same API over a training checkpoint (torch, CPU)."""

    def __init__(self, model):
        from .config import resolve_text_encoder

        self.model = model.eval()
        cfg = model.cfg
        self.domains, self.k, self.image_size, self.max_tokens = (
            list(cfg.domains),
            cfg.frames,
            cfg.image_size,
            cfg.max_tokens,
        )
        self.ngram_dim = cfg.text_ngram_dim
        self.image_fit = cfg.image_fit
        self.tokenizer_path = str(resolve_text_encoder(cfg.text_encoder))

    @classmethod
    def load(cls, checkpoint: str | Path) -> TorchEmbedder:
        from .model import load_checkpoint

        return cls(load_checkpoint(checkpoint))

    def _run(self, input_ids, attention_mask, frames, domain, ngrams=None):
        import torch

        with torch.no_grad():
            x = torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float() / 255.0
            out = self.model(
                torch.from_numpy(input_ids),
                torch.from_numpy(attention_mask),
                x,
                torch.from_numpy(domain),
                torch.from_numpy(ngrams) if ngrams is not None else None,
                with_presence=True,
            )
        fused, text, visual, presence = (o.numpy() for o in out)
        return fused, text, visual, (presence if self.model.cfg.visual_zoom else None)
