"""Derive what the demo and tests need, each step skipped when already done.

Data is generated (seeded), the ONNX model is exported from the small checkpoint
in git; only if that checkpoint is missing is a model trained here (minutes).
"""

from __future__ import annotations

import json
from pathlib import Path

from ampere.settings import Settings
from ampere_train.export import FORMAT, sha256


def dataset_dir(settings: Settings, preset: str, seed: int = 0) -> Path:
    return settings.home / "data" / f"{preset}-s{seed}"


def ensure_dataset(settings: Settings, preset: str, seed: int = 0, progress=print) -> Path:
    from ampere_synth import build_dataset

    return build_dataset(
        dataset_dir(settings, preset, seed),
        preset,
        seed=seed,
        progress=progress,
        window_s=settings.windows.window_s,
        hop_s=settings.windows.hop_s,
    )


def ensure_checkpoint(settings: Settings, progress=print) -> Path:
    if settings.embed.checkpoint.is_file():
        return settings.embed.checkpoint
    progress(
        f"no model at {settings.embed.checkpoint}: training one on generated data "
        "(the frozen-backbone feature cache first: up to half an hour on 2 cores)"
    )
    from ampere_train.textprep import prepare_texts
    from ampere_train.train import train
    from encoders.config import load_config

    data = ensure_dataset(settings, settings.setup.train_preset, settings.setup.train_seed, progress)
    prepare_texts(data, settings, modes=("summary",), progress=progress)
    return Path(
        train(
            data,
            load_config(),
            settings.embed.checkpoint.parent,
            text_mode="summary",
            seed=0,
            progress=progress,
        )
    )


def ensure_onnx(settings: Settings, progress=print) -> Path:
    ckpt = ensure_checkpoint(settings, progress)
    manifest = settings.embed.model_dir / "manifest.json"
    want = sha256(ckpt)
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        files = m.get("files", {}).values()
        files_ok = bool(files) and all((settings.embed.model_dir / f["file"]).is_file() for f in files)
        same = m.get("checkpoint", {}).get("sha256") == want and m.get("format") == FORMAT
        if same and files_ok:
            return settings.embed.model_dir
    progress(f"exporting {ckpt.name} to ONNX (fp32 + int8) in {settings.embed.model_dir}")
    from ampere_train.export import export_onnx

    export_onnx(ckpt, out_dir=settings.embed.model_dir, int8=True)
    return settings.embed.model_dir


def ensure_ready(settings: Settings, preset: str = "demo", progress=print) -> Path:
    data = ensure_dataset(settings, preset, 0, progress)
    ensure_onnx(settings, progress)
    return data
