"""What the voices say: product pitches for short videos and host talk for live segments.

Every sentence comes from a named template family (greeting, name_intro, price, mention_sold_out, ...)
with several phrasings, and is kept with its family and phrasing id (``family.k``) so the truth says
which template was spoken. Phrasings are split into a *fit* part and a *held-out* part by a fixed rule
(``is_heldout``: every fourth phrasing, and a few whole families); regular streams and short videos say
only fit phrasings, the held-out streams only held-out ones, so tag quality can be measured on
templates nothing was fitted on. Prices are spoken as words, in several shapes ("forty nine ninety nine",
"forty nine dollars and ninety nine cents", "under fifty dollars"); the shapes are split the same way.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .products import PATTERN_WORDS, Product, has_cents

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
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


def _split_price(price: float) -> tuple[int, int]:
    cents = int(round(price * 100))
    return cents // 100, cents % 100


def price_words(price: float) -> str:
    """The plain shape: "forty nine dollars", "forty nine dollars ninety nine"."""
    return PRICE_SHAPES["dollars"](price)


def _under(price: float) -> str:
    step = 10 if price < 200 else 50
    return f"under {number_words(int(math.floor(price / step) + 1) * step)} dollars"


def _short(price: float) -> str:
    d, c = _split_price(price)
    if d >= 100 and d % 100:  # "one nineteen", "two forty nine"
        head = f"{_ONES[d // 100]} {number_words(d % 100) if d % 100 >= 10 else 'oh ' + _ONES[d % 100]}"
    else:
        head = number_words(d)
    if c:
        return f"{head}, {number_words(c)}"
    return f"{head} dollars" if d >= 100 else f"{head} flat"


# shape -> how a price is said; the held-out shapes are never said in regular streams or videos
PRICE_SHAPES = {
    "dollars": lambda p: (
        f"{number_words(_split_price(p)[0])} dollars" + (f" {number_words(_split_price(p)[1])}" if has_cents(p) else "")
    ),
    "bare": lambda p: (
        number_words(_split_price(p)[0]) + (f" {number_words(_split_price(p)[1])}" if has_cents(p) else "")
    ),
    "bucks": lambda p: (
        f"{number_words(_split_price(p)[0])} bucks"
        if not has_cents(p)
        else f"{number_words(_split_price(p)[0])} {number_words(_split_price(p)[1])}"
    ),
    "under": _under,
    "and_cents": lambda p: (
        f"{number_words(_split_price(p)[0])} dollars and {number_words(_split_price(p)[1])} cents"
        if has_cents(p)
        else f"exactly {number_words(int(p))} dollars"
    ),
    "usd": lambda p: (
        f"{number_words(_split_price(p)[0])} US dollars"
        + (f" {number_words(_split_price(p)[1])}" if has_cents(p) else "")
    ),
    "short": _short,
}
HELDOUT_PRICE_SHAPES = frozenset({"and_cents", "usd", "short"})
PRICE_SHAPE_WEIGHTS = {"dollars": 4, "bare": 2, "bucks": 2, "under": 1, "and_cents": 2, "usd": 1, "short": 2}

FAMILIES: dict[str, tuple[str, ...]] = {
    "greeting": (
        "hey everyone, welcome back to the stream",
        "hi guys, thanks for joining us today",
        "hello hello, good to see you all here",
        "welcome in everybody, we have a lot to show you today",
        "good evening friends, we are live",
        "hey hey, what's up everybody",
        "hi and welcome to today's live shopping show",
        "hello everyone, so happy to have you here",
        "welcome welcome, come on in",
        "hey fam, we are back",
        "hi everybody, thanks for tuning in",
        "hello and good morning to all of you",
    ),
    "intro_chatter": (
        "let's wait a minute for everyone to join",
        "we have some amazing deals for you today",
        "tell me in the chat where you are watching from",
        "I see people coming in, hi, hi",
        "grab a coffee, this is going to be a fun one",
        "today we have a lot of new stuff",
        "if you are new here, hit that follow button",
        "okay, let me check the sound, can you hear me okay",
        "the first twenty minutes have the best prices, so stay",
        "I have been waiting all week for this show",
        "oh wow, so many of you already",
        "give me a second, I'm just setting up",
    ),
    "transition": (
        "okay, next up",
        "moving on to the next one",
        "now let me show you this",
        "alright, here is something new",
        "next item, check this out",
        "okay, let's look at this one",
        "so, what do we have here",
        "and now, one of my favourites",
        "let me grab the next one",
        "okay guys, switching it up",
        "this next one is really popular",
        "right, let's keep going",
    ),
    "name_intro": (
        "this is the {name} {noun}",
        "here we have the {name}",
        "check out the {name} {noun}",
        "so this one is the {name}",
        "say hello to the {name}",
        "I'm holding the {name} right now",
        "this beauty is the {name} {noun}",
        "let me introduce the {name}",
        "what I have here is the {name} {noun}",
        "okay, the {name}, look at it",
        "you are looking at the {name}",
        "this is our {name} {noun}",
    ),
    "name_by": (
        "the {model} by {brand}",
        "this is the {model} from {brand}",
        "it's the {model}, made by {brand}",
        "{brand} made this one, it's the {model}",
        "here's the {model} {noun} from {brand}",
        "the {model}, by {brand}, gorgeous",
        "so the {model} from {brand}, right",
        "a {brand} {noun}, the {model}",
    ),
    "brand_only": (
        "this one is from {brand}",
        "{brand} makes this {noun}",
        "it's a {brand} {noun}",
        "from our friends at {brand}",
        "{brand}, you know the brand",
        "another one from {brand}",
        "yes, this is {brand}",
        "{brand} quality, guys",
    ),
    "model_only": (
        "it is the {model}",
        "they call it the {model}",
        "the {model}, look at that",
        "this is the {model} {noun}",
        "model name, {model}",
        "the {model}, one of the best",
        "this is called the {model}",
        "here is the {model}",
    ),
    "material": (
        "it is made of {material}",
        "real {material}, feel that",
        "the material is {material}",
        "it's all {material}",
        "{material}, really nice quality",
        "made from {material}, so it lasts",
        "good {material} on this one",
        "this is proper {material}",
        "the whole thing is {material}",
    ),
    "colour": (
        "it comes in {look}",
        "this one is {look}",
        "look at this {look} colour",
        "we have it in {look}",
        "the colour is {look}",
        "I love this {look}",
        "so pretty in {look}",
        "{look}, very stylish",
    ),
    "price": (
        "and it is only {price}",
        "the price is {price}",
        "you can get it today for {price}",
        "all yours for {price}",
        "today it's {price}",
        "we are doing {price} on this",
        "I'm letting it go for {price}",
        "{price}, that's the price",
        "only {price} guys",
        "it's just {price} right now",
        "price today, {price}",
        "grab it for {price}",
    ),
    "price_was": (
        "it was {old_price}, now only {price}",
        "normally {old_price}, today {price}",
        "not {old_price}, just {price}",
        "down from {old_price} to {price}",
        "regular price {old_price}, live price {price}",
        "was {old_price}, now {price}, crazy",
        "we took it from {old_price} to {price}",
        "save big, {price} instead of {old_price}",
    ),
    "repeat": (
        "again, that is the {name}",
        "the {name}, guys, the {name}",
        "one more time, {brand} {model}",
        "remember the name, {name}",
        "so again, {name}",
        "that's the {name}, write it down",
        "{name}, don't miss it",
        "in case you just joined, this is the {name}",
    ),
    "chat_read": (
        "{user} asks if the {model} comes in other colours",
        "{user} says she loves the {model}",
        "{user} wants to know the price of the {model}",
        "yes {user}, the {name} is in stock",
        "{user} is asking about shipping on the {model}",
        "thank you {user}, the {model} is a great pick",
        "good question {user}, the {name} is {material}",
        "{user} says the {model} looks amazing",
    ),
    "urgency": (
        "only a few {name} left, be quick",
        "the {model} is going fast",
        "last few pieces of the {name}",
        "hurry, the {model} won't last",
    ),
    "mention_sold_out": (
        "yesterday the {other} sold out",
        "the {other} sold out in ten minutes last time",
        "sorry, the {other} is sold out",
        "we have no more {other} left",
        "the {other} is gone, sold out",
        "if you wanted the {other}, it sold out",
        "no {other} today, we sold all of them",
        "the {other} sold out again",
    ),
    "mention_asked": (
        "some of you asked about the {other}",
        "someone in the chat is asking about the {other}",
        "I keep getting questions about the {other}",
        "a lot of you want the {other}",
        "yes, I saw the question about the {other}",
        "somebody asked for the {other} earlier",
        "people are asking me about the {other}",
        "you guys love the {other}, I know",
    ),
    "mention_back_tomorrow": (
        "if you missed it, the {other} is back tomorrow",
        "the {other} comes back next week",
        "we'll show the {other} again tomorrow",
        "the {other} will be restocked soon",
        "stay tuned, the {other} returns on friday",
        "the {other} is coming back later this week",
        "tomorrow I'll have the {other} again",
        "the {other} is back in stock soon",
    ),
    "mention_not_the": (
        "this is not the {other}, that one is different",
        "don't mix it up with the {other}",
        "it looks like the {other}, but it's not",
        "no, this isn't the {other}",
        "people confuse it with the {other}",
        "not to be confused with the {other}",
        "similar to the {other}, but better",
        "the {other} is a different one",
    ),
    "mention_from_earlier": (
        "the {other} from earlier is almost sold out",
        "remember the {other} from before, only a few left",
        "the {other} I showed you earlier is going fast",
        "still thinking about the {other} from earlier? go get it",
    ),
    "compare": (
        "it's lighter than the {other}",
        "compared to the {other}, this one is bigger",
        "if you liked the {other}, you'll love this",
        "this is cheaper than the {other}",
    ),
    "chatter": (
        "don't forget to follow and like",
        "drop a heart in the chat if you are enjoying this",
        "I see a lot of new names in the chat, welcome",
        "share the stream with a friend",
        "remember, the deals only last while we are live",
        "let me know in the comments what you think",
        "thanks for all the likes, keep them coming",
        "we will do a giveaway at the end, so stay tuned",
        "type yes in the chat if you want one",
        "shipping is free today, by the way",
        "welcome to everyone who just joined",
        "tap the cart to see everything",
        "wow, the chat is going crazy",
        "thank you for the gifts, you are the best",
        "tell your friends to come watch",
        "I read every comment, I promise",
    ),
    "filler": (
        "um, so, you know",
        "okay so, let me see",
        "right, so anyway",
        "uh, where was I",
        "honestly, like, I love this one",
        "alright, alright",
        "so yeah",
        "hmm, let me grab that",
        "oh, hold on a second",
        "okay okay okay",
        "let me just move this here",
        "yeah, so, um",
    ),
    "break": (
        "okay, quick break, let me drink some water",
        "give me one second, we are getting more stuff",
        "while we wait, tell me what you want to see next",
        "let's take a tiny break, don't go anywhere",
        "my producer is bringing the next items",
        "okay, let me read some comments",
        "stay with me, the best deals are coming",
        "so, how is everybody doing today",
    ),
    "outro": (
        "thanks so much for watching",
        "follow for more, see you next time",
        "that's it for today, bye everyone",
        "thank you all, you were amazing",
        "see you tomorrow, same time",
        "don't forget to follow, we go live every day",
        "love you guys, take care",
        "okay that's all, have a great night",
        "thanks for shopping with us",
        "bye bye, see you soon",
        "we are wrapping up, thank you",
        "remember to check your orders, bye",
    ),
    "video_open": (
        "okay, look at this",
        "new find alert",
        "you need this",
        "my new favourite thing",
        "let me show you something",
        "this just arrived",
        "okay, obsessed with this",
        "quick look at this one",
    ),
    "video_cta": (
        "link is below",
        "grab yours now",
        "you will love it",
        "tap the link to buy",
        "order yours today",
        "limited stock, so hurry",
        "comment if you want one",
        "follow for more finds",
    ),
}
HELDOUT_FAMILIES = frozenset({"urgency", "mention_from_earlier", "compare"})
MENTIONS = ("mention_sold_out", "mention_asked", "mention_back_tomorrow", "mention_not_the")
HELDOUT_MENTIONS = ("mention_from_earlier", "compare")

CHAT_USERS = (
    "maria_k",
    "jdawg",
    "lily.rose",
    "shopaholic22",
    "tomtom",
    "bea",
    "kev_88",
    "nina",
    "sam_t",
    "happyhome",
    "mike.r",
    "zoe",
    "dealhunter",
    "grandma_jo",
    "lucas",
    "ava_b",
    "chris",
    "priya",
    "yuki",
    "omar",
    "ella",
    "ben_s",
    "rita",
    "noah",
)


def is_heldout(family: str, k: int) -> bool:
    """The fixed fit/held-out rule: every fourth phrasing (k % 4 == 3), and whole held-out families."""
    return family in HELDOUT_FAMILIES or k % 4 == 3


@dataclass(frozen=True)
class Sentence:
    text: str
    family: str
    variant: str  # "family.k", plus "|shape" for a spoken price ("price.3|bare")


class Phrasebook:
    """The phrasings one speaker may use: the fit part or the held-out part."""

    def __init__(self, heldout: bool):
        self.heldout = heldout
        self.choices = {f: [k for k in range(len(ph)) if is_heldout(f, k) == heldout] for f, ph in FAMILIES.items()}
        self.shapes = [s for s in PRICE_SHAPES if (s in HELDOUT_PRICE_SHAPES) == heldout]

    def has(self, family: str) -> bool:
        return bool(self.choices.get(family))

    def say(self, family: str, rng: random.Random, **slots) -> Sentence:
        k = rng.choice(self.choices[family])
        tags = []
        if "{price}" in FAMILIES[family][k] or "{old_price}" in FAMILIES[family][k]:
            shape = rng.choices(self.shapes, weights=[PRICE_SHAPE_WEIGHTS[s] for s in self.shapes])[0]
            for key in ("price", "old_price"):
                if slots.get(key) is not None:
                    slots[key] = PRICE_SHAPES[shape](slots[key])
            tags.append(shape)
        text = FAMILIES[family][k].format(**slots)
        return Sentence(text, family, f"{family}.{k}" + "".join(f"|{t}" for t in tags))


def _look(p: Product) -> str:
    return " ".join(w for w in (p.colour, PATTERN_WORDS[p.pattern]) if w)


def _slots(p: Product, rng: random.Random, old_price: float | None = None) -> dict:
    return {
        "name": p.name,
        "brand": p.brand,
        "model": p.model,
        "noun": p.noun,
        "material": p.material,
        "look": _look(p),
        "price": p.price,
        "old_price": old_price,
        "user": rng.choice(CHAT_USERS),
    }


def _fact_sentences(
    p: Product, book: Phrasebook, rng: random.Random, full: bool, old_price: float | None = None
) -> list[Sentence]:
    """The product's facts, as a host would say them; when not full, some facts are left out."""
    keep = (lambda prob: True) if full else (lambda prob: rng.random() < prob)
    s = _slots(p, rng, old_price)
    if keep(0.8):
        fam = rng.choices(("name_intro", "name_by"), weights=(3, 1))[0]
    else:
        fam = rng.choice(("brand_only", "model_only"))
    out = [book.say(fam, rng, **s)]
    details = []
    if keep(0.7):
        details.append(book.say("material", rng, **s))
    if keep(0.7):
        details.append(book.say("colour", rng, **s))
    rng.shuffle(details)
    out += details
    if keep(0.75):
        fam = "price_was" if old_price is not None and rng.random() < 0.5 else "price"
        out.append(book.say(fam, rng, **s))
    return out


def _one_fact(p: Product, book: Phrasebook, rng: random.Random, old_price: float | None) -> Sentence:
    fam = rng.choice(("name_intro", "name_by", "brand_only", "model_only", "material", "colour", "price", "repeat"))
    return book.say(fam, rng, **_slots(p, rng, old_price))


def video_script(p: Product, rng: random.Random) -> tuple[list[Sentence], list[Sentence]]:
    """(core, extra) of a short pitch: core is the facts in full, extra (filler, a repeat, a call to
    action) is spoken only while the clip has room. Videos say fit phrasings only."""
    book = Phrasebook(heldout=False)
    core = _fact_sentences(p, book, rng, full=True)
    if rng.random() < 0.4:
        core.insert(0, book.say("video_open", rng))
    extra = [book.say("repeat", rng, **_slots(p, rng))] if rng.random() < 0.5 else []
    if rng.random() < 0.6:
        extra.insert(0, book.say("filler", rng))
    if rng.random() < 0.5:
        extra.append(book.say("video_cta", rng))
    return core, extra


def other_mention(other: Product, book: Phrasebook, rng: random.Random, family: str | None = None) -> Sentence:
    # "from earlier" is said only of a product shown before in the stream (live_script passes it)
    fams = [f for f in MENTIONS + HELDOUT_MENTIONS if book.has(f) and f != "mention_from_earlier"]
    return book.say(family or rng.choice(fams), rng, other=other.name)


def live_script(
    p: Product,
    others: list[Product],
    rng: random.Random,
    book: Phrasebook,
    old_price: float | None = None,
    earlier: list[Product] | None = None,
) -> tuple[list[Sentence], list[Sentence]]:
    """(core, extra) sentences for one on-air segment: core is always spoken, extra until the segment is full.
    ``earlier``: products shown before in the stream ("the ... from earlier is almost sold out")."""
    core = [book.say("transition", rng)]
    core += _fact_sentences(p, book, rng, full=False, old_price=old_price)
    if rng.random() < 0.5:
        core.append(book.say("repeat", rng, **_slots(p, rng)))
    extra: list[Sentence] = []
    pool = [("chatter", 3), ("filler", 3), ("other", 2), ("facts", 1), ("chat_read", 0.5)]
    if book.has("urgency"):
        pool.append(("urgency", 0.5))
    for _ in range(12):
        kind = rng.choices([k for k, _ in pool], weights=[w for _, w in pool])[0]
        if kind in ("chatter", "filler"):
            extra.append(book.say(kind, rng))
        elif kind == "other" and others:
            if earlier and book.has("mention_from_earlier") and rng.random() < 0.3:
                extra.append(other_mention(rng.choice(earlier), book, rng, "mention_from_earlier"))
            else:
                extra.append(other_mention(rng.choice(others), book, rng))
        elif kind in ("chat_read", "urgency"):
            extra.append(book.say(kind, rng, **_slots(p, rng)))
        else:
            extra.append(_one_fact(p, book, rng, old_price))
    if others and rng.random() < 0.5:
        extra.insert(0, other_mention(rng.choice(others), book, rng))
    # filler and chatter also come before the facts now and then
    if rng.random() < 0.4:
        core.insert(1, book.say(rng.choice(("filler", "chatter")), rng))
    return core, extra


def null_script(kind: str, rng: random.Random, book: Phrasebook) -> tuple[list[Sentence], list[Sentence]]:
    """(core, extra) for a segment with no product: the intro, a chatter break or the outro. No product is named."""
    lead = {"intro": "greeting", "break": "break", "outro": "outro"}[kind]
    core = [book.say(lead, rng)]
    more = {
        "intro": (("intro_chatter", 3), ("chatter", 2), ("filler", 1)),
        "break": (("break", 2), ("chatter", 3), ("filler", 2)),
        "outro": (("outro", 3), ("chatter", 1), ("filler", 1)),
    }[kind]
    extra = [book.say(rng.choices([f for f, _ in more], weights=[w for _, w in more])[0], rng) for _ in range(8)]
    return core, extra
