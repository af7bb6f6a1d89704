"""The AMPere multi-branch model: shared text tower, shared visual tower, one head per domain.

forward(input_ids, attention_mask, frames[B,K,3,H,W] float in [0,1], domain[B]) -> (fused, text, visual),
each [B, embed_dim] and L2-normalised.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import LITE0_BLOCKS, NORMALISATION, AttentionPool, EfficientNetLite, build_body, load_lite_state
from .config import ModelConfig, resolve_text_encoder
from .zoom import halve, locate, zoom_crop


class VisualTower(nn.Module):
    """Backbone feature map -> pooled per frame (mean or attention) -> mean over the K frames, so a page
    (1 image) and a clip (K) share it. ``frame_features = pool(upper(lower(x)))``; ``lower`` is the frozen
    part of a pretrained backbone (identity for the CNN), which training computes once and caches.

    With ``visual_zoom`` the tower takes frames at twice the backbone's side and zooms on the product of live
    rows first (``zoom_in``; encoders/zoom.py): a locator head finds it on the halved frame, and the square
    around it is what the backbone describes."""

    # buffers (register_buffer), typed for mypy
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, cfg: ModelConfig, pretrained: bool = True):
        super().__init__()
        self.backbone = cfg.visual_backbone
        self.body, self.out_dim = build_body(
            cfg.visual_backbone, cfg.visual_channels, cfg.visual_blocks, cfg.visual_stem
        )
        self.pool = AttentionPool(self.out_dim, cfg.visual_attn_hidden) if cfg.visual_pool == "attention" else None
        self.zoom = cfg.visual_zoom
        self.zoom_side = (cfg.visual_zoom * cfg.visual_zoom_aspect, cfg.visual_zoom)
        self.size = cfg.backbone_size
        self.live = cfg.domain_index("live")
        # where the product is on a live frame: a score per cell of the halved frame's map (taught with boxes)
        self.locator = AttentionPool(self.out_dim, cfg.visual_attn_hidden) if cfg.visual_zoom else None
        mean, std = NORMALISATION[cfg.visual_backbone]
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        # blocks run by lower(): 0 for the CNN (all of it trains); for efficientnet all but the top N
        self.split = 0
        if cfg.visual_backbone != "cnn":
            lite = cast(EfficientNetLite, self.body)  # build_body: every backbone but the CNN is Lite0
            if pretrained:
                load_lite_state(lite, cfg.visual_pretrained)
            n_top = cfg.visual_trainable_blocks
            self.split = 0 if n_top < 0 else LITE0_BLOCKS - n_top
            frozen: list[nn.Module] = [lite._conv_stem, lite._bn0, *lite._blocks[: self.split]]
            if n_top == 0:
                frozen += [lite._conv_head, lite._bn1]
            for m in frozen:
                for p in m.parameters():
                    p.requires_grad = False

    def train(self, mode: bool = True) -> VisualTower:
        super().train(mode)
        if self.backbone != "cnn":
            # pretrained batch-norm statistics stay as learned on ImageNet: a batch here is a few dozen
            # products' frames, and the cached lower features must not depend on the batch
            for m in self.body.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] in [0, 1] -> the input of the first trainable block (normalised pixels for the CNN)."""
        x = (x - self.mean) / self.std
        return cast(EfficientNetLite, self.body).lower(x, self.split) if self.backbone != "cnn" else x

    def upper(self, f: torch.Tensor) -> torch.Tensor:
        """lower() output -> feature map [N, C, h, w]."""
        return cast(EfficientNetLite, self.body).upper(f, self.split) if self.backbone != "cnn" else self.body(f)

    def pooled(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.pool(fmap) if self.pool is not None else fmap.mean(dim=(2, 3))

    def pooled_with_weights(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(pooled [N, C], the attention weights [N, h, w] or None for mean pooling), one score pass."""
        if self.pool is None:
            return fmap.mean(dim=(2, 3)), None
        w = self.pool.weights(fmap)
        return (fmap * w.unsqueeze(1)).sum(dim=(2, 3)), w

    @torch.no_grad()
    def map_size(self, image_size: int) -> tuple[int, int]:
        """(h, w) of the feature map for a square input of ``image_size``."""
        was = self.training
        self.eval()
        shape = self.feature_map(torch.zeros(1, 3, image_size, image_size)).shape[2:]
        self.train(was)
        return int(shape[0]), int(shape[1])

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] in [0, 1] -> [N, C, h, w]."""
        return self.upper(self.lower(x))

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] in [0, 1] -> [N, C]."""
        return self.pooled(self.feature_map(x))

    def from_lower(self, f: torch.Tensor) -> torch.Tensor:
        """lower() output of clips [B, K, C, h, w] -> [B, out_dim]: the trainable part alone."""
        b, k = f.shape[:2]
        # mean over the K frames; a page repeated K times pools to its single-image features
        return self.pooled(self.upper(f.reshape(b * k, *f.shape[2:]))).reshape(b, k, -1).mean(dim=1)

    def locate(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature maps of halved frames [N, C, h, w] -> the product's centre (cx, cy) [N], normalised."""
        assert self.locator is not None, "locate() needs a visual_zoom config"
        return locate(self.locator.weights(fmap))

    def zoom_in(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Zoom configs: frames [N, 3, S, S] (S = image_size) -> the backbone's input [N, 3, S/2, S/2]: every
        frame halved, and those of ``rows`` (bool [N]; None = all) replaced by the square around the product."""
        return self._zoom(x, rows)[0]

    def _zoom(self, x: torch.Tensor, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(``zoom_in``'s crops, the locator's peak cell score per frame [N])."""
        assert self.locator is not None, "zoom needs a visual_zoom config"
        small = halve(x)
        fmap = self.feature_map(small)
        logits = self.locator.logits(fmap)
        cx, cy = locate(self.locator.weights(fmap, logits))
        crops = zoom_crop(x, cx, cy, *self.zoom_side, small.shape[-1])
        return (crops if rows is None else torch.where(rows.view(-1, 1, 1, 1), crops, small)), logits.max(dim=1)[0]

    def forward(
        self, frames: torch.Tensor, domain: torch.Tensor | None = None, with_presence: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """frames [B, K, 3, H, W] in [0, 1] -> [B, out_dim]. ``domain`` [B] matters to zoom configs only: live
        rows are zoomed, the others described whole; without it every row is taken for a live window.

        ``with_presence``: also [B], the locator's peak cell score over the K frames (zoom configs; zeros
        otherwise). Trained only to find the product where there is one, it still scores frames without a
        product lower (bench/tagging.py's ``presence_separation``), which is what tells the tagger's segmenter
        that nothing is on air."""
        b, k, c, h, w = frames.shape
        x = frames.reshape(b * k, c, h, w)
        presence = torch.zeros(b, dtype=x.dtype, device=x.device)
        if self.zoom:
            rows = None if domain is None else (domain == self.live).view(b, 1).expand(b, k).reshape(b * k)
            x, peak = self._zoom(x, rows)
            presence = peak.reshape(b, k).max(dim=1)[0]
        f = self.lower(x)
        out = self.from_lower(f.reshape(b, k, *f.shape[1:]))
        return (out, presence) if with_presence else out


class DomainHeads(nn.Module):
    """One linear head per domain; all heads run and a one-hot picks per row (cheap, exports cleanly)."""

    def __init__(self, n_domains: int, d_in: int, d_out: int):
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(d_in, d_out) for _ in range(n_domains))

    @torch.no_grad()
    def init_shared(self, weight: torch.Tensor) -> None:
        """Start every domain's head from the same matrix: at step 0 the domains already share one
        space, so training only has to learn the domain shift (matters with few training products)."""
        for h in cast(Iterable[nn.Linear], self.heads):
            h.weight.copy_(weight)
            h.bias.zero_()

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        out = torch.stack([h(x) for h in self.heads], dim=1)  # [B, D, d_out]
        onehot = F.one_hot(domain, len(self.heads)).to(out.dtype)
        return (out * onehot.unsqueeze(-1)).sum(dim=1)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-6)


def load_text_backbone(cfg: ModelConfig) -> nn.Module:
    from transformers import AutoModel

    path = resolve_text_encoder(cfg.text_encoder)
    # eager attention: exports to ONNX without the sdpa mask tricks
    model = AutoModel.from_pretrained(str(path), attn_implementation="eager")
    model.eval()
    return model


class AmpereModel(nn.Module):
    def __init__(
        self,
        cfg: ModelConfig,
        text_backbone: nn.Module | None = None,
        load_text: bool = True,
        pretrained_visual: bool = True,
    ):
        """``pretrained_visual=False`` skips the backbone's pretrained weights (a checkpoint brings its own)."""
        super().__init__()
        self.cfg = cfg
        self.text_backbone = (
            text_backbone if text_backbone is not None else (load_text_backbone(cfg) if load_text else None)
        )
        self.visual = VisualTower(cfg, pretrained=pretrained_visual)
        if cfg.visual_pretrained and cfg.visual_backbone == "cnn" and pretrained_visual:
            self.load_visual_backbone(cfg.visual_pretrained)
        nd, e = len(cfg.domains), cfg.embed_dim
        self.text_head = DomainHeads(nd, cfg.text_dim + cfg.text_ngram_dim, e)
        self.visual_head = DomainHeads(nd, self.visual.out_dim, e)
        self.fusion_head = DomainHeads(nd, 2 * e, e)
        # text: an orthogonal projection keeps MiniLM's similarities (zero-shot text retrieval works
        # before any training); fusion: starts as the fixed 0.3 text + 0.7 visual sum
        w_text = nn.init.orthogonal_(torch.empty(e, cfg.text_dim))
        if cfg.text_ngram_dim:
            # a random projection keeps n-gram overlap as cosine (Johnson-Lindenstrauss) from step 0
            g = torch.Generator().manual_seed(0)
            w_ngram = torch.randn(e, cfg.text_ngram_dim, generator=g) / e**0.5
            w_text = torch.cat([w_text, w_ngram], dim=1)
        self.text_head.init_shared(w_text)
        self.visual_head.init_shared(cast(nn.Linear, self.visual_head.heads[0]).weight.detach().clone())
        w = cfg.fusion_text_weight
        self.fusion_head.init_shared(torch.cat([w * torch.eye(e), (1 - w) * torch.eye(e)], dim=1))
        t0 = torch.log(torch.tensor(1.0 / cfg.temperature))
        self.logit_scale = nn.Parameter(t0, requires_grad=cfg.learn_temperature)
        self.set_text_trainable()

    # --- parameters
    def set_text_trainable(self) -> None:
        if self.text_backbone is None:
            return
        for p in self.text_backbone.parameters():
            p.requires_grad = False
        if not self.cfg.freeze_text and self.cfg.text_trainable_layers > 0:
            # a transformers BERT-like model: encoder.layer is its ModuleList of transformer layers
            layers = cast(nn.ModuleList, cast(nn.Module, self.text_backbone.encoder).layer)
            for layer in layers[-self.cfg.text_trainable_layers :]:
                for p in layer.parameters():
                    p.requires_grad = True

    def load_visual_backbone(self, path: str | Path) -> None:
        state = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=True)
        state = state.get("visual", state)
        missing, unexpected = self.visual.load_state_dict(state, strict=False)
        if len(missing) == len(self.visual.state_dict()):
            raise ValueError(f"{path}: no visual tower weights matched (unexpected keys: {unexpected[:5]})")

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """What a checkpoint needs: everything but the frozen text backbone (which ships as a package)."""
        keep = {n for n, p in self.named_parameters() if p.requires_grad or not n.startswith("text_backbone.")}
        out = {}
        for n, t in self.state_dict().items():
            if not n.startswith("text_backbone.") or n in keep:
                out[n] = t
        return out

    # --- towers
    def sentence_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """MiniLM alone: pooled, L2-normalised [B, text_dim]."""
        if self.text_backbone is None:
            raise RuntimeError("model was built without a text backbone; pass text features instead")
        hidden = self.text_backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(mean_pool(hidden, attention_mask), dim=-1)

    def text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, ngrams: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pooled, L2-normalised sentence features (as sentence-transformers' all-MiniLM-L6-v2), followed by
        the hashed n-gram features when the config has them ([B, text_dim + text_ngram_dim])."""
        feat = self.sentence_features(input_ids, attention_mask)
        if self.cfg.text_ngram_dim:
            if ngrams is None:
                raise ValueError("this model's text branch needs the n-gram features (encoders.ngrams)")
            feat = torch.cat([feat, ngrams.to(feat.dtype)], dim=-1)
        return feat

    def embed_from_features(self, text_feat: torch.Tensor, vis_feat: torch.Tensor, domain: torch.Tensor):
        """Heads over pooled tower features: text [B, text_dim], visual [B, C]."""
        cfg = self.cfg
        t = self.text_head(text_feat, domain)
        v = self.visual_head(vis_feat, domain)
        t_n, v_n = F.normalize(t, dim=-1), F.normalize(v, dim=-1)
        if cfg.modality == "visual":
            fused = v_n
        elif cfg.modality == "text":
            fused = t_n
        elif cfg.fusion == "sum":
            w = cfg.fusion_text_weight
            fused = F.normalize(w * t_n + (1 - w) * v_n, dim=-1)
        else:
            fused = F.normalize(self.fusion_head(torch.cat([t_n, v_n], dim=-1), domain), dim=-1)
        return fused, t_n, v_n

    def forward(self, input_ids, attention_mask, frames, domain, ngrams=None, with_presence: bool = False):
        """(fused, text, visual), each [B, embed_dim] and L2-normalised; ``with_presence``: and the visual
        tower's product-in-frame score [B] (``VisualTower.forward``)."""
        text = self.text_features(input_ids, attention_mask, ngrams)
        if not with_presence:
            return self.embed_from_features(text, self.visual(frames, domain), domain)
        visual, presence = self.visual(frames, domain, with_presence=True)
        return (*self.embed_from_features(text, visual, domain), presence)


def save_checkpoint(model: AmpereModel, path: Path, extra: dict | None = None) -> Path:
    """Small checkpoint: config + trainable weights in fp16 (the frozen MiniLM is not stored)."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.trainable_state_dict().items()}
    payload = {"format": "ampere-ckpt/1", "config": model.cfg.to_dict(), "state": state, "extra": extra or {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path, load_text: bool = True, **config_overrides) -> AmpereModel:
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != "ampere-ckpt/1":
        raise ValueError(f"{path}: not an AMPere checkpoint (format={payload.get('format')!r})")
    cfg = ModelConfig.from_dict({**payload["config"], **config_overrides, "visual_pretrained": None})
    model = AmpereModel(cfg, load_text=load_text, pretrained_visual=False)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.startswith("text_backbone.")]
    if missing or unexpected:
        raise ValueError(
            f"{path}: checkpoint does not fit the model (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    model.eval()
    return model
