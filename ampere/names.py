"""Catalogue names in the transcript: snap what the recognizer made of a product name back to the name.

Whisper tiny.en knows English, not our catalogue: "Open Shore Wolf 20" comes out as "open short world 20",
"High Oak Panther 900" as "high oak pan's 900". The shop knows every name it sells, so word spans that
are close to a catalogue name (character similarity, same digits) are replaced by that name before the
summarizer and the tagger read the transcript. This is text-side contextual biasing: faster-whisper's own
``hotwords`` made the decoder skip speech on noisy audio (offline-stack.md), so the bias is applied after.

Numbers are written as digits first ("eagle thirty" -> "eagle 30"), because model names carry digits and
a number must match exactly: "Legend 50" is not "Legend 500".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from ampere.textnorm import WORD, name_runs, numbers_as_digits, word_spans

# names shorter than this (in characters, spaces included) are too easy to hit by chance
MIN_CHARS = 6
MIN_SINGLE_CHARS = 4  # a one-word name ("Zorvik"), snapped only towards the stream's likely products


def _norm(words: Iterable[str]) -> str:
    return " ".join(w.lower() for w in words)


def _digits(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(w for w in words if w.isdigit())


def names_of(row: Mapping) -> set[str]:
    """The names a catalogue row gives: brand, model and brand + model from its attributes when it has
    them (of any length: "Zorvik", "K7"), else the runs of two or more capitalised words and numbers in its
    title ("Open Lane Jaguar 50"; a title's first word is capitalised anyway, so one word says nothing)."""
    attrs = row.get("attributes") or {}
    brand, model = str(attrs.get("brand") or "").strip(), str(attrs.get("model") or "").strip()
    out = {n for n in (brand, model, f"{brand} {model}".strip()) if WORD.findall(n)}
    if not out:
        out = {" ".join(run) for run in name_runs(str(row.get("title") or "")) if len(run) >= 2}
    return out


@dataclass
class NameSnapper:
    """Fuzzy replacement of word spans by catalogue names (``names``: canonical spellings).

    Names of one word are left out unless ``single_words``: across a whole catalogue a lone word is too easy
    to hit by chance ("Summit" in "at the summit"); the pipeline snaps them only towards the few products the
    stream is likely showing (``Pipeline.hear``)."""

    names: Iterable[str]
    min_score: float = 80.0  # rapidfuzz ratio, 0-100
    single_words: bool = False
    _by_key: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # names are compared only with spans that carry the same digits, and of about the same word count
        self._by_key = {}
        canon: dict[str, str] = {}
        for name in self.names:
            words = WORD.findall(name)
            norm = _norm(words)
            short = len(norm) < (MIN_SINGLE_CHARS if len(words) == 1 else MIN_CHARS)
            if (len(words) < 2 and not self.single_words) or short or norm in canon:
                continue
            canon[norm] = name
            self._by_key.setdefault((_digits(words), len(words)), {})[norm] = name
        self.size = len(canon)

    def __len__(self) -> int:
        return self.size

    def _best(self, words: list[str], i: int) -> tuple[float, int, str] | None:
        """(weight, span length, name) of the best name for a span starting at word i. The weight is
        similarity x name length, so "high oak pan's 900" becomes "High Oak Panther 900" (close, long)
        rather than "High Oak" (exact, short)."""
        best = None
        for n in (5, 4, 3, 2, 1):  # span length in words
            if i + n > len(words):
                continue
            span = words[i : i + n]
            key_digits, text = _digits(span), _norm(span)
            for m in (n - 1, n, n + 1):  # ASR splits and merges words ("openlane", "open lane")
                choices = self._by_key.get((key_digits, m))
                if not choices:
                    continue
                hit = process.extractOne(text, choices.keys(), scorer=fuzz.ratio, score_cutoff=self.min_score)
                if hit:
                    cand = (hit[1] * len(hit[0]), n, choices[hit[0]])
                    if best is None or cand[:2] > best[:2]:
                        best = cand
        return best

    def correct(self, text: str) -> str:
        """The transcript with numbers as digits and near-misses of catalogue names replaced by the names."""
        text = numbers_as_digits(text)
        if not self._by_key:
            return text
        matches = word_spans(text)
        words = [m.group(0) for m in matches]
        out, pos, i = [], 0, 0
        while i < len(words):
            best = self._best(words, i)
            after = self._best(words, i + 1) if best is not None else None
            # "the little mountain eagle 30": the name starts one word later
            if best is None or (after is not None and after[0] > best[0]):
                i += 1
                continue
            _, n, name = best
            out.append(text[pos : matches[i].start()])
            out.append(name)
            pos = matches[i + n - 1].end()
            i += n
        out.append(text[pos:])
        return "".join(out)


def snapper_from_rows(rows: Iterable[Mapping], min_score: float = 80.0) -> NameSnapper:
    names: set[str] = set()
    for row in rows:
        names |= names_of(row)
    return NameSnapper(sorted(names), min_score)


class CatalogNames:
    """The catalogue's names as a worker sees them: re-read from the index every ``refresh_s`` (products added
    while the worker runs are picked up without a restart), with the corrector and the mention finder built
    once per refresh."""

    def __init__(self, index, options):
        from ampere.onair import NameIndex

        self._index, self.options = index, options
        self._name_index_cls = NameIndex
        self._lock = threading.Lock()
        self._at = float("-inf")
        self.snapper = NameSnapper([], options.min_score)
        self.mentions = NameIndex.of([])
        self._names: list[str] = []
        self._vocab = None

    def refresh(self) -> CatalogNames:
        with self._lock:
            if time.monotonic() - self._at > self.options.refresh_s:
                names = self._index.names()
                self._names, self._vocab = names, None
                self.snapper = NameSnapper(names, self.options.min_score)
                self.mentions = self._name_index_cls.of(names)
                self._at = time.monotonic()
        return self

    def vocabulary(self):
        """The names for the summarizer's guard (``ampere.summarize.NameVocabulary``), None without a catalogue."""
        from ampere.summarize import NameVocabulary

        self.refresh()
        with self._lock:
            if self._vocab is None and self._names:
                self._vocab = NameVocabulary(self._names)
            return self._vocab

    def correct(self, text: str) -> str:
        """``text`` with catalogue names snapped in (or as it is when correction is off)."""
        if not self.options.correction or not (text or "").strip():
            return text
        return self.refresh().snapper.correct(text)
