"""Tokenizer helpers shared by training, export and the runtime (no torch needed)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=4)
def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    if not Path(path).is_dir():
        raise FileNotFoundError(f"tokenizer folder not found: {path}")
    return AutoTokenizer.from_pretrained(path)


def tokenize(tokenizer, texts: list[str], max_tokens: int) -> dict[str, np.ndarray]:
    """int64 input_ids / attention_mask [B, T], padded to the longest text (T <= max_tokens).
    Empty or None text is fine: it becomes [CLS] [SEP]."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="np")
    return {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}
