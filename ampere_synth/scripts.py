"""What the voices say: product pitches for short videos and host talk for live segments.

Each script is a list of sentences; the speech module speaks them one by one so a live segment can
stop adding sentences once it is full. Prices are written as words because that is what is spoken.
"""
from __future__ import annotations

import random

from .products import PATTERN_WORDS, Product

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    if not 0 <= n < 10000:
        raise ValueError(f"number out of range: {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    rest = n % 1000
    return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def price_words(price: int) -> str:
    return f"{number_words(price)} dollars"


def _look(p: Product) -> str:
    return " ".join(w for w in (p.colour, PATTERN_WORDS[p.pattern]) if w)


GREETINGS = ("hey everyone, welcome back to the stream", "hi guys, thanks for joining us today",
             "hello hello, good to see you all here", "welcome in everybody, we have a lot to show you today")
CHATTER = ("don't forget to follow and like", "drop a heart in the chat if you are enjoying this",
           "I see a lot of new names in the chat, welcome", "share the stream with a friend",
           "remember, the deals only last while we are live", "let me know in the comments what you think",
           "thanks for all the likes, keep them coming", "we will do a giveaway at the end, so stay tuned")
FILLER = ("um, so, you know", "okay so, let me see", "right, so anyway", "uh, where was I",
          "honestly, like, I love this one", "alright, alright", "so yeah", "hmm, let me grab that")
TRANSITIONS = ("okay, next up", "moving on to the next one", "now let me show you this",
               "alright, here is something new", "next item, check this out")


def _fact_sentences(p: Product, rng: random.Random, full: bool) -> list[str]:
    """The product's facts, as a host would say them; when not full, some facts are left out."""
    keep = (lambda prob: True) if full else (lambda prob: rng.random() < prob)
    name = p.name if keep(0.8) else rng.choice((p.brand, p.model))
    look = _look(p)
    out = [rng.choice((f"this is the {name} {p.noun}", f"here we have the {name}",
                       f"check out the {name} {p.noun}", f"so this one is the {name}"))]
    details = []
    if keep(0.7):
        details.append(rng.choice((f"it is made of {p.material}", f"real {p.material}, feel that",
                                   f"the material is {p.material}")))
    if keep(0.7):
        details.append(rng.choice((f"it comes in {look}", f"this one is {look}", f"look at this {look} colour")))
    rng.shuffle(details)
    out += details
    if keep(0.75):
        out.append(rng.choice((f"and it is only {price_words(p.price)}", f"the price is {price_words(p.price)}",
                               f"you can get it today for {price_words(p.price)}")))
    return out


def _repeat(p: Product, rng: random.Random) -> str:
    return rng.choice((f"again, that is the {p.name}", f"the {p.name}, guys, the {p.name}",
                       f"one more time, {p.brand} {p.model}"))


def video_script(p: Product, rng: random.Random) -> tuple[list[str], list[str]]:
    """(core, extra) of a short pitch: core is the facts in full, extra (filler, a repeat, a call to
    action) is spoken only while the clip has room."""
    core = _fact_sentences(p, rng, full=True)
    extra = [_repeat(p, rng)] if rng.random() < 0.5 else []
    if rng.random() < 0.6:
        extra.insert(0, rng.choice(FILLER))
    if rng.random() < 0.5:
        extra.append(rng.choice(("link is below", "grab yours now", "you will love it")))
    return core, extra


def other_mention(other: Product, rng: random.Random) -> str:
    return rng.choice((f"yesterday the {other.name} sold out", f"some of you asked about the {other.name}",
                       f"if you missed it, the {other.name} is back tomorrow",
                       f"this is not the {other.name}, that one is different"))


def live_script(p: Product, others: list[Product], rng: random.Random, first: bool) -> tuple[list[str], list[str]]:
    """(core, extra) sentences for one on-air segment: core is always spoken, extra until the segment is full."""
    core = [rng.choice(GREETINGS)] if first else [rng.choice(TRANSITIONS)]
    core += _fact_sentences(p, rng, full=False)
    if rng.random() < 0.5:
        core.append(_repeat(p, rng))
    extra: list[str] = []
    pool = [("chatter", 3), ("filler", 3), ("other", 2), ("facts", 1)]
    for _ in range(12):
        kind = rng.choices([k for k, _ in pool], weights=[w for _, w in pool])[0]
        if kind == "chatter":
            extra.append(rng.choice(CHATTER))
        elif kind == "filler":
            extra.append(rng.choice(FILLER))
        elif kind == "other" and others:
            extra.append(other_mention(rng.choice(others), rng))
        else:
            extra.append(rng.choice(_fact_sentences(p, rng, full=False)))
    if others and rng.random() < 0.5:
        extra.insert(0, other_mention(rng.choice(others), rng))
    # filler and chatter also come before the facts now and then
    if rng.random() < 0.4:
        core.insert(1, rng.choice(FILLER + CHATTER))
    return core, extra
