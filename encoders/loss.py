"""AMPere loss: a sum of symmetric InfoNCE terms over a batch of products.

Row i of every tensor is product i (one page, one video, one live window drawn for it), so the
positives are the diagonal and every other product in the batch is a negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

DOMAINS = ("page", "video", "live")
CROSS_PAIRS = (("page", "video"), ("page", "live"), ("video", "live"))


def symmetric_infonce(
    a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor, label_smoothing: float = 0.1
) -> torch.Tensor:
    """Mean of a->b and b->a cross-entropy over cosine logits; a, b are L2-normalised [B, D]."""
    logits = logit_scale * a @ b.t()
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (
        F.cross_entropy(logits, target, label_smoothing=label_smoothing)
        + F.cross_entropy(logits.t(), target, label_smoothing=label_smoothing)
    )


@dataclass
class AmpereLoss:
    label_smoothing: float = 0.1
    modality: str = "both"  # both | visual | text: which branches carry signal

    def __call__(
        self,
        out: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        logit_scale: torch.Tensor,
        rows: dict[str, list[int]] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """out[domain] = (fused, text, visual). ``rows[domain]`` = the batch products those rows belong to,
        for batches where not every product has every domain (default: all rows, same order).
        Cross-domain terms use the products both domains have. Returns (total, per-term values for logging)."""
        terms: dict[str, torch.Tensor] = {}
        ls, scale = self.label_smoothing, logit_scale.exp()
        if self.modality == "both":
            for d in DOMAINS:
                if d in out and out[d][0].shape[0] >= 2:
                    terms[f"tv_{d[0]}"] = symmetric_infonce(out[d][1], out[d][2], scale, ls)
        # which of (fused, text, visual) are distinct signals under this modality
        branches = {"both": ((0, "f"), (1, "t"), (2, "v")), "visual": ((2, "v"),), "text": ((1, "t"),)}[self.modality]
        for a, b in CROSS_PAIRS:
            if a not in out or b not in out:
                continue
            ia, ib = _common_rows(rows, a, b, out[a][0].shape[0], out[b][0].shape[0])
            if len(ia) < 2:
                continue
            for idx, tag in branches:
                terms[f"{tag}_{a[0]}{b[0]}"] = symmetric_infonce(out[a][idx][ia], out[b][idx][ib], scale, ls)
        if not terms:
            raise ValueError("no loss term: need >= 2 products sharing a domain pair in the batch")
        total = torch.stack(list(terms.values())).sum()
        return total, {k: float(v.detach()) for k, v in terms.items()}


def _common_rows(rows, a: str, b: str, na: int, nb: int) -> tuple[list[int], list[int]]:
    if rows is None:
        if na != nb:
            raise ValueError(f"{a} has {na} rows and {b} {nb}: pass rows= to say which products they are")
        return list(range(na)), list(range(nb))
    pa, pb = {p: i for i, p in enumerate(rows[a])}, {p: i for i, p in enumerate(rows[b])}
    common = [p for p in rows[a] if p in pb]
    return [pa[p] for p in common], [pb[p] for p in common]


def box_attention_loss(weights: torch.Tensor, cover: torch.Tensor, min_cover: float = 1e-3) -> torch.Tensor | None:
    """Cross-entropy from the product's box to the attention pool's weights: ``weights`` [M, h, w] (each map
    sums to 1), ``cover`` [M, h, w] the share of each cell the product's box covers (ampere_train/data.py
    box_cover). The target is the cover normalised to sum 1; frames whose box covers less than ``min_cover``
    of a cell in all (no product in view, cropped away) are left out. None when no frame has a box."""
    total = cover.sum(dim=(1, 2))
    keep = total > min_cover
    if not bool(keep.any()):
        return None
    target = cover[keep] / total[keep].view(-1, 1, 1)
    return -(target * torch.log(weights[keep].clamp(min=1e-8))).sum(dim=(1, 2)).mean()
