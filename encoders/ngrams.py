"""Hashed character n-gram features of a text: the text branch's second input, beside MiniLM.

A frozen sentence encoder places "Red Mountain Legend 80 suede handbag" and "Red Mountain Legend 200
cotton handbag" almost on top of each other; look-alike products differ in exactly those words. A bag of
character n-grams (fastText-style, hashed into a fixed number of buckets) keeps every brand, model number
and material apart, tolerates ASR spelling drift ("openlane" shares most n-grams with "open lane"), and
needs no vocabulary, so unseen product names work. The head projects it with learned weights, so the
branch still learns which words matter. Plain numpy: the same code runs in training, ONNX serving and
tests, and the ONNX graph only sees a dense [B, dim] input.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"[a-z]+|\d+")
NGRAM_SIZES = (3, 4)


def _features(text: str) -> list[str]:
    words = _WORD.findall((text or "").lower())
    feats = []
    for w in words:
        feats.append("w:" + w)  # whole words: numbers ("50" vs "500") only exist as whole tokens
        if w.isdigit():
            continue
        padded = f"<{w}>"
        for n in NGRAM_SIZES:
            feats.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    feats.extend(f"b:{a}_{b}" for a, b in zip(words, words[1:]))  # word pairs: "open lane", "legend 50"
    return feats


def ngram_features(texts: list[str], dim: int) -> np.ndarray:
    """float32 [len(texts), dim]: log(1 + count) per hashed bucket, L2-normalised (zeros for empty text)."""
    out = np.zeros((len(texts), dim), np.float32)
    if dim <= 0:
        return out
    for i, t in enumerate(texts):
        for f in _features(t if isinstance(t, str) else ""):
            out[i, zlib.crc32(f.encode()) % dim] += 1.0
    np.log1p(out, out=out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out
