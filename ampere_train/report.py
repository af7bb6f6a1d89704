"""A picture of retrieval: live-window queries and their top page hits (green = same product)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def retrieval_grid(
    split,
    embeddings: dict[str, np.ndarray],
    out: Path,
    query: str = "live",
    gallery: str = "page",
    rows: int = 6,
    top: int = 5,
    seed: int = 0,
) -> Path:
    """Save a PNG: each row is one query (its middle frame and its text) and its ``top`` gallery hits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q, g = split.domains[query], split.domains[gallery]
    if not len(q.items) or not len(g.items):
        raise ValueError(f"no {query} queries or no {gallery} gallery in this split")
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(q.items), size=min(rows, len(q.items)), replace=False))
    sims = embeddings[query][picks] @ embeddings[gallery].T
    fig, axes = plt.subplots(len(picks), top + 1, figsize=(2.1 * (top + 1), 2.4 * len(picks)), squeeze=False)
    for r, (qi, s) in enumerate(zip(picks, sims)):
        frames = q.frames[qi]
        ax = axes[r][0]
        ax.imshow(frames[len(frames) // 2])
        ax.set_title(f"{query}: {q.product_ids[qi]}", fontsize=7)
        ax.set_xlabel(_short(q.texts[qi]), fontsize=6, wrap=True)
        for c, gi in enumerate(np.argsort(-s)[:top], start=1):
            ax = axes[r][c]
            ax.imshow(g.frames[gi][0])
            hit = g.product_ids[gi] == q.product_ids[qi]
            for spine in ax.spines.values():
                spine.set_edgecolor("green" if hit else "red")
                spine.set_linewidth(3)
            ax.set_title(f"{c}. {g.product_ids[gi]} ({s[gi]:.2f})", fontsize=7, color="green" if hit else "red")
            ax.set_xlabel(_short(g.texts[gi]), fontsize=6)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{query} -> {gallery}: top {top} (green: same product)", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def _short(text: str, n: int = 38) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"
