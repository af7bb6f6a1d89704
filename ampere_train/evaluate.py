"""Cross-domain retrieval metrics (the AMPere protocol) and split-level evaluation.

Query one domain, gallery = all items of another domain in the split, a hit = an item of the
query's product. Six directions P->V, V->P, P->L, L->P, V->L, L->V; R@1/5/10, median and mean rank
of the first hit; and the mean over directions. With the products' look-alike groups, also group R@1: the
top gallery item is of the query's group (the right kind of product, maybe not the right one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

DIRECTIONS = (
    ("page", "video"),
    ("video", "page"),
    ("page", "live"),
    ("live", "page"),
    ("video", "live"),
    ("live", "video"),
)
KS = (1, 5, 10)
_ABBR = {"page": "P", "video": "V", "live": "L"}


def first_hit_ranks(query: np.ndarray, gallery: np.ndarray, q_ids: Sequence[str], g_ids: Sequence[str]) -> np.ndarray:
    """1-based rank of the first same-product gallery item for each query (queries with no positive skipped)."""
    q_arr, g_arr = np.asarray(q_ids), np.asarray(g_ids)
    sims = query.astype(np.float32) @ gallery.astype(np.float32).T
    pos = q_arr[:, None] == g_arr[None, :]
    has = pos.any(axis=1)
    sims, pos = sims[has], pos[has]
    best_pos = np.where(pos, sims, -np.inf).max(axis=1)
    # rank = 1 + number of negatives scoring strictly higher than the best positive
    return 1 + ((sims > best_pos[:, None]) & ~pos).sum(axis=1)


def group_top1(
    query: np.ndarray, gallery: np.ndarray, q_ids: Sequence[str], g_ids: Sequence[str], groups: Mapping[str, str]
) -> np.ndarray:
    """Per query (those with a positive in the gallery, as ``first_hit_ranks``): is the top gallery item of
    the query's group? ``groups``: product id -> group id (a product missing from it is its own group)."""
    q_arr, g_arr = np.asarray(q_ids), np.asarray(g_ids)
    has = (q_arr[:, None] == g_arr[None, :]).any(axis=1)
    top = (query[has].astype(np.float32) @ gallery.astype(np.float32).T).argmax(axis=1)
    return np.array([groups.get(q, q) == groups.get(g, g) for q, g in zip(q_arr[has], g_arr[top])], bool)


def evaluate(
    embeddings: Mapping[str, np.ndarray],
    product_ids: Mapping[str, Sequence[str]],
    groups: Mapping[str, str] | None = None,
) -> dict:
    """embeddings[domain] = [N, D] (L2-normalised), product_ids[domain] = N ids -> metrics dict.
    ``groups`` (product id -> look-alike group): adds ``group_R@1`` to each direction and to the mean."""
    results: dict = {"directions": {}}
    for q, g in DIRECTIONS:
        if q not in embeddings or g not in embeddings or len(embeddings[q]) == 0 or len(embeddings[g]) == 0:
            continue
        if len(embeddings[q]) != len(product_ids[q]) or len(embeddings[g]) != len(product_ids[g]):
            raise ValueError(f"{q}/{g}: embeddings and product ids differ in length")
        ranks = first_hit_ranks(embeddings[q], embeddings[g], product_ids[q], product_ids[g])
        if len(ranks) == 0:
            continue
        name = f"{_ABBR[q]}->{_ABBR[g]}"
        r = {f"R@{k}": float((ranks <= k).mean()) for k in KS}
        r.update(
            median_rank=float(np.median(ranks)),
            mean_rank=float(ranks.mean()),
            queries=int(len(ranks)),
            gallery=int(len(embeddings[g])),
        )
        if groups is not None:
            r["group_R@1"] = float(
                group_top1(embeddings[q], embeddings[g], product_ids[q], product_ids[g], groups).mean()
            )
        results["directions"][name] = r
    dirs = results["directions"]
    if dirs:
        results["mean"] = {
            m: float(np.mean([d[m] for d in dirs.values()]))
            for m in [f"R@{k}" for k in KS]
            + ["median_rank", "mean_rank"]
            + (["group_R@1"] if groups is not None else [])
        }
    return results


def format_table(results: dict, title: str | None = None) -> str:
    cols = ["R@1", "R@5", "R@10", "median_rank"]
    if "group_R@1" in results.get("mean", {}):
        cols.append("group_R@1")
    lines = [title] if title else []
    lines.append(f"{'direction':<10}" + "".join(f"{c:>12}" for c in cols) + f"{'queries':>9}")
    rows = list(results.get("directions", {}).items())
    if "mean" in results:
        rows.append(("mean", results["mean"]))
    for name, r in rows:
        cells = "".join(f"{r[c]:>12.1f}" if c == "median_rank" else f"{100 * r[c]:>11.1f}%" for c in cols)
        lines.append(f"{name:<10}{cells}{r.get('queries', ''):>9}")
    return "\n".join(lines)


# --- embedding a whole split

BatchEmbed = Callable[[str, np.ndarray, list[str]], tuple[np.ndarray, np.ndarray, np.ndarray]]


def embed_split(split, embed_batch: BatchEmbed, batch_size: int = 64) -> dict[str, dict[str, np.ndarray]]:
    """Embed every item of a SplitData. ``embed_batch(domain, frames uint8 [B,k,H,W,3], texts)`` returns
    (fused, text, visual) arrays; returns {"fused"|"text"|"visual": {domain: [N, D]}}."""
    out: dict[str, dict[str, np.ndarray]] = {"fused": {}, "text": {}, "visual": {}}
    for d, dd in split.domains.items():
        parts: list[tuple] = []
        texts = dd.texts
        for i in range(0, len(texts), batch_size):
            parts.append(embed_batch(d, dd.frames[i : i + batch_size], texts[i : i + batch_size]))
        for j, kind in enumerate(("fused", "text", "visual")):
            out[kind][d] = np.concatenate([p[j] for p in parts]) if parts else np.zeros((0, 0), np.float32)
    return out


def evaluate_split(
    split, embed_batch: BatchEmbed, branch: str = "fused", batch_size: int = 64, groups: Mapping[str, str] | None = None
) -> dict:
    """Embed a split with any embedder (torch or ONNX, via ``embed_batch``) and evaluate one branch."""
    embs = embed_split(split, embed_batch, batch_size)
    ids = {d: dd.product_ids for d, dd in split.domains.items()}
    return evaluate(embs[branch], ids, groups)


def embedder_batch_fn(embedder) -> BatchEmbed:
    """Adapt a runtime Embedder/TorchEmbedder (list-of-frames API) to ``embed_batch``."""

    def fn(domain: str, frames: np.ndarray, texts: list[str]):
        outs = embedder.embed_batch([domain] * len(texts), [list(f) for f in frames], texts)
        return (np.stack([o.fused for o in outs]), np.stack([o.text for o in outs]), np.stack([o.visual for o in outs]))

    return fn


def evaluate_dataset(
    dataset_dir, embedder, split: str = "test", text_mode: str = "summary", branch: str = "fused", batch_size: int = 32
) -> dict:
    """Load a split (frames cached) and evaluate any runtime embedder (``Embedder`` or ``TorchEmbedder``) on it;
    with the dataset's look-alike groups, each direction has its group R@1 too."""
    from .data import load_split, product_groups

    data = load_split(
        dataset_dir, split, embedder.k, embedder.image_size, text_mode, fit=getattr(embedder, "image_fit", "squash")
    )
    res = evaluate_split(data, embedder_batch_fn(embedder), branch, batch_size, groups=product_groups(dataset_dir))
    res["notes"] = data.notes
    return res
