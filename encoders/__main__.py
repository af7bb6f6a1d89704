"""Hand-run entry point until the ``ampere`` CLI wires these in:

python -m encoders train  DATASET OUT [--config ampere-small] [--text-mode summary] [--modality both] [--epochs N] [--seed 0]
python -m encoders eval   DATASET (CHECKPOINT | ONNX_DIR) [--split test] [--text-mode summary] [--variant fp32] [--branch fused]
python -m encoders export CHECKPOINT [--out onnx] [--no-int8]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m encoders")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("dataset")
    t.add_argument("out")
    t.add_argument("--config", default="ampere-small")
    t.add_argument("--text-mode", default="summary")
    t.add_argument("--modality", default="both")
    t.add_argument("--epochs", type=int)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval")
    e.add_argument("dataset")
    e.add_argument("model", help="a checkpoint (model.pt or its folder) or an exported ONNX folder")
    e.add_argument("--split", default="test")
    e.add_argument("--text-mode", default="summary")
    e.add_argument("--variant", default="fp32")
    e.add_argument("--branch", default="fused", choices=["fused", "text", "visual"])
    e.add_argument("--json", help="also write the results here")
    x = sub.add_parser("export")
    x.add_argument("checkpoint")
    x.add_argument("--out", default="onnx")
    x.add_argument("--no-int8", action="store_true")
    a = p.parse_args(argv)

    if a.cmd == "train":
        from .train import train

        train(a.dataset, a.config, a.out, text_mode=a.text_mode, modality=a.modality, epochs=a.epochs, seed=a.seed)
    elif a.cmd == "eval":
        from .evaluate import evaluate_dataset, format_table
        from .runtime import Embedder, TorchEmbedder

        m = Path(a.model)
        emb = Embedder.load(m, a.variant) if (m / "manifest.json").is_file() else TorchEmbedder.load(m)
        res = evaluate_dataset(a.dataset, emb, a.split, a.text_mode, a.branch)
        print(format_table(res, f"{a.split} {a.branch} text={a.text_mode} ({m})"))
        for note in res.get("notes", []):
            print("note:", note)
        if a.json:
            Path(a.json).write_text(json.dumps(res, indent=2))
    else:
        from .export import export_onnx

        man = export_onnx(a.checkpoint, a.out, int8=not a.no_int8)
        print(json.dumps(man["files"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
