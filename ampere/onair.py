"""Is a product named in a window the one on air, or only mentioned in passing?

Hosts name other products all the time: "some of you asked about the Open Shore Wolf 20", "this is not
the Lake Island Wolf 10, that one is different", "the Storm Cloud Mustang 700 is back tomorrow". Matching
the title words that were said (``ampere.lexical``) counts those as much as "check out the Sun Lane
Pilot 40". This module finds the catalogue names said in a (name-corrected) transcript and scores each
mention with a logistic regression over the words around it, learned from a generated dataset's train
split (label: the name belongs to the product on air). The tagger adds, per candidate product, the best
mention score times the share of the product's name the mention covers.

The model is a dict of feature weights, so scoring needs no ML library at run time; training uses
scikit-learn. Written by ``ampere tagger train DATASET``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ampere.textnorm import longest_name_run, words

CONTEXT = 4  # words each side of a mention that the classifier sees
MIN_SINGLE_CHARS = 4
MAX_NAME_WORDS = 6


@dataclass(frozen=True)
class Mention:
    name: tuple[str, ...]  # the catalogue name's words, lower case
    start: int  # word span in the transcript
    end: int


@dataclass(frozen=True)
class NameIndex:
    """Catalogue names by word count, to find them said verbatim; built once per set of names."""

    by_len: dict[int, frozenset[tuple[str, ...]]]

    @classmethod
    def of(cls, names: Iterable[str]) -> NameIndex:
        by_len: dict[int, set[tuple[str, ...]]] = {}
        for n in names:
            w = tuple(words(n))
            # a one-word name counts when it is long enough not to be an ordinary word by chance ("Zorvik")
            if (len(w) > 1 or (w and len(w[0]) >= MIN_SINGLE_CHARS)) and len(w) <= MAX_NAME_WORDS:
                by_len.setdefault(len(w), set()).add(w)
        return cls({n: frozenset(v) for n, v in sorted(by_len.items(), reverse=True)})

    def find(self, text_words: Sequence[str]) -> list[Mention]:
        """Names said (after name correction), longest first, left to right, no overlaps. A name that is
        also the start of a longer name said ("North River" in "North River Blaze 300") counts once, as
        the longer one."""
        out, i = [], 0
        while i < len(text_words):
            for n, names in self.by_len.items():
                span = tuple(text_words[i : i + n])
                if span in names:
                    out.append(Mention(span, i, i + n))
                    i += n
                    break
            else:
                i += 1
        return out


def features(text_words: Sequence[str], m: Mention) -> list[str]:
    """Bag of context features: the words before and after, the nearest ones and pair, where in the window
    the mention falls, and the name's shape (length, has a number)."""
    left, right = text_words[max(0, m.start - CONTEXT) : m.start], text_words[m.end : m.end + CONTEXT]
    f = [f"L:{w}" for w in left] + [f"R:{w}" for w in right]
    if left:
        f.append(f"L1:{left[-1]}")
    if len(left) > 1:
        f.append(f"L2:{left[-2]}_{left[-1]}")
    if right:
        f.append(f"R1:{right[0]}")
    f.append(f"pos:{min(3, 4 * m.start // max(1, len(text_words)))}")
    f.append(f"len:{len(m.name)}")
    f.append(f"num:{any(w.isdigit() for w in m.name)}")
    return f


@dataclass
class OnAirModel:
    weights: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    meta: dict = field(default_factory=dict)

    def prob(self, feats: Iterable[str]) -> float:
        z = self.bias + sum(self.weights.get(f, 0.0) for f in set(feats))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def mentions(self, text: str, names: NameIndex) -> list[tuple[Mention, float]]:
        """Each catalogue name said in ``text`` with its probability of naming the product on air."""
        tw = words(text)
        return [(m, self.prob(features(tw, m))) for m in names.find(tw)]

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"bias": self.bias, "meta": self.meta, "weights": dict(sorted(self.weights.items()))}, indent=0)
            + "\n"
        )
        return path

    @classmethod
    def load(cls, path: Path) -> OnAirModel:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"on-air model not found: {path}. Train it with `ampere tagger train DATASET`, "
                "or set AMPERE_TAG_ONAIR_WEIGHT=0 to tag without it"
            )
        d = json.loads(path.read_text())
        return cls({k: float(v) for k, v in d["weights"].items()}, float(d["bias"]), d.get("meta", {}))


def title_name(title: str) -> list[str]:
    """The product's name in its title: the longest run of capitalised words and numbers
    ("Open Lane Jaguar 50" in "Open Lane Jaguar 50 cotton handbag, grey")."""
    return longest_name_run(title)


def onair_score(title: str, scored: Sequence[tuple[Mention, float]]) -> float:
    """How much of the product's name was said on air: each word of the name counts with the best on-air
    probability of a mention that covers it, over the name's words (the brand alone names half of "North
    River Blaze 300"; "the K7 by Zorvik" names all of "Zorvik K7", in either order)."""
    name = title_name(title)
    if not name:
        return 0.0
    covered = [0.0] * len(name)
    for m, p in scored:
        n = len(m.name)
        for i in range(len(name) - n + 1):
            if tuple(name[i : i + n]) == tuple(m.name):
                for j in range(i, i + n):
                    covered[j] = max(covered[j], p)
    return sum(covered) / len(name)
