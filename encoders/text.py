"""Tokenizer helpers shared by training, export and the runtime (no torch needed).

The fast ``tokenizers`` library reads the model's tokenizer.json directly: importing transformers
would pull in torch (seconds of start-up and hundreds of MB in the worker). transformers'
AutoTokenizer is the fallback for folders without a tokenizer.json. Both give the same ids
(checked in tests/unit/test_encoders.py).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np


class FastTokenizer:
    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        cfg_path = folder / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
        self.pad_token = cfg.get("pad_token", "[PAD]")
        self.pad_id = self.tok.token_to_id(self.pad_token)
        if self.pad_id is None:
            raise ValueError(f"{folder}: pad token {self.pad_token!r} not in the vocabulary")
        self.tok.no_padding()

    def __call__(self, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
        # the tokenizer's own truncation keeps the special tokens ([CLS] ... [SEP]); Encoding.truncate would not
        if (self.tok.truncation or {}).get("max_length") != max_length:
            self.tok.enable_truncation(max_length)
        encs = self.tok.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), width), self.pad_id, np.int64)
        mask = np.zeros((len(encs), width), np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return {"input_ids": ids, "attention_mask": mask}


class _HFTokenizer:
    def __init__(self, folder: Path):
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(folder))

    def __call__(self, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
        enc = self.tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
        return {
            "input_ids": enc["input_ids"].astype(np.int64),
            "attention_mask": enc["attention_mask"].astype(np.int64),
        }


@lru_cache(maxsize=4)
def load_tokenizer(path: str, fast: bool = True):
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"tokenizer folder not found: {path}")
    if fast and (folder / "tokenizer.json").is_file():
        return FastTokenizer(folder)
    return _HFTokenizer(folder)


def tokenize(tokenizer, texts: list[str], max_tokens: int) -> dict[str, np.ndarray]:
    """int64 input_ids / attention_mask [B, T], padded to the longest text (T <= max_tokens).
    Empty or None text is fine: it becomes [CLS] [SEP]."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    if not texts:
        raise ValueError("no texts to tokenize")
    return tokenizer(texts, max_tokens)
