"""Fitting the tagger's on-air mention model (``ampere.onair``) on a generated dataset's train split."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from ampere.onair import NameIndex, OnAirModel, features, words


def labelled_mentions(
    windows: Iterable[Mapping], texts: Mapping[str, str], names_by_product: Mapping[str, set], all_names: Iterable[str]
) -> tuple[list[list[str]], list[int]]:
    """(features, label) for every catalogue name said in the windows' transcripts; label 1 when the name
    is one of the on-air product's names."""
    names = NameIndex.of(all_names)
    X, y = [], []
    for w in windows:
        tw = words(texts.get(w["id"], ""))
        own = {tuple(words(n)) for n in names_by_product.get(w["product_id"], ())}
        for m in names.find(tw):
            X.append(features(tw, m))
            y.append(int(m.name in own))
    return X, y


def fit(X: list[list[str]], y: list[int], c: float = 1.0) -> OnAirModel:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(set(y)) < 2:
        raise ValueError("on-air training needs mentions of both kinds (on air and in passing)")
    vec = DictVectorizer()
    Xv = vec.fit_transform([{f: 1.0 for f in fs} for fs in X])
    clf = LogisticRegression(C=c, max_iter=5000).fit(Xv, y)
    weights = {f: float(w) for f, w in zip(vec.get_feature_names_out(), clf.coef_[0]) if abs(w) > 1e-6}
    return OnAirModel(weights, float(clf.intercept_[0]))


def accuracy(model: OnAirModel, X: list[list[str]], y: list[int]) -> float:
    return sum((model.prob(f) > 0.5) == bool(t) for f, t in zip(X, y)) / max(1, len(y))


REGULARISATION = (0.03, 0.1, 0.3, 1.0)


def train_from_dataset(dataset_dir: Path, progress=print) -> OnAirModel:
    """Fit on the train split's live windows (name-corrected transcripts, ``texts/asr_names.jsonl`` from
    ``ampere prepare-texts``); report accuracy on val."""
    from ampere.names import names_of
    from ampere_synth.truth import load_jsonl

    ds = Path(dataset_dir)
    path = ds / "texts" / "asr_names.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `ampere prepare-texts {ds}` first")
    texts = {r["id"]: r["text"] for r in load_jsonl(path)}
    split = {p["product_id"]: p["split"] for p in load_jsonl(ds / "products.jsonl")}
    names_by_product: dict[str, set] = {}
    for row in load_jsonl(ds / "catalog.jsonl"):
        names_by_product.setdefault(row["product_id"], set()).update(names_of(row))
    all_names = set().union(*names_by_product.values())
    windows = load_jsonl(ds / "windows.jsonl")
    data = {
        s: labelled_mentions(
            [w for w in windows if split.get(w["product_id"]) == s], texts, names_by_product, all_names
        )
        for s in ("train", "val")
    }
    # regularisation chosen on val: few names come out of the recognizer, so the fit is small and overfits easily
    grid = {c: fit(*data["train"], c=c) for c in REGULARISATION}
    val_acc = {c: accuracy(m, *data["val"]) for c, m in grid.items()} if data["val"][1] else {1.0: 0.0}
    chosen = max(val_acc, key=lambda c: (val_acc[c], -c))
    model = grid[chosen]
    model.meta = {
        "dataset": ds.name,
        "mentions": {s: len(d[1]) for s, d in data.items()},
        "c": chosen,
        "val_accuracy_by_c": {str(c): round(a, 3) for c, a in val_acc.items()},
        "on_air_share": {s: round(sum(d[1]) / max(1, len(d[1])), 3) for s, d in data.items()},
        "accuracy": {s: round(accuracy(model, *d), 3) for s, d in data.items() if d[1]},
    }
    progress(f"on-air mentions: {json.dumps(model.meta)}")
    return model
