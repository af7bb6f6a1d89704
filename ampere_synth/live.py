"""Live streams: a host greets, shows several products in turn and says goodbye, talking over noise or music.

Segment boundaries are where the product changes; a stream starts with an intro and ends with an
outro that show no product (``product_id`` null), and now and then has a chatter break between two
products. A segment's script is everything said in it (greetings, filler, other products' names
included), so the truth is what was actually spoken; its ``sentences`` say which template family,
phrasing and voice said each sentence when, and its ``screen`` what the overlays showed when.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .clips import frame_aligned
from .mediafile import write_mp4
from .presets import Preset
from .products import Product, old_price, price_label
from .render import LiveStudio, OnAir, badge_image, name_card_image, plan_on_air, price_card_image
from .scripts import CHAT_USERS, Phrasebook, live_script, null_script
from .seeding import np_rng_for, rng_for
from .speech import SR, Voice, fit, mix_at_snr, music_bed, noise_bed, pick_voice, speak_sentences

PRICE_CARD_SHARE = 0.82  # product segments with a price card
OLD_PRICE_SHARE = 0.3  # of those, with a struck-through old price
NAME_CARD_SHARE = 0.25  # product segments with a brand + model card
CHAT_OTHER_SHARE = 0.17  # chat messages naming another catalogue product
CHAT_ON_AIR_SHARE = 0.12  # chat messages naming the product on air
BOX_STEP_S = 0.5  # product boxes are sampled this often

CHAT_GENERIC = (
    "so cute!",
    "love it \u2665",
    "price?",
    "how much is shipping",
    "hi from Texas!",
    "first time here",
    "is this on sale?",
    "do you ship to Canada?",
    "what size is it",
    "want!!",
    "lol",
    "you are so funny",
    "waiting for the giveaway",
    "yes!",
    "hello everyone",
    "I just ordered",
    "omg",
    "nice colour",
    "can you show it closer",
    "restock please",
    "thanks for the deals",
    "wow \u2605\u2605\u2605",
    "is it waterproof?",
    "how big is it?",
    "hi hi hi",
    "\u2665\u2665\u2665",
    "good evening",
    "my order came today!",
    "can't wait",
    "this is my favourite show",
)
CHAT_ON_AIR = (
    "the {name} looks great",
    "I need the {model}",
    "ordered the {name}!",
    "is the {model} on sale?",
    "{brand} is my fav brand",
    "does the {model} come in black?",
    "just bought the {model} \u2665",
)
CHAT_OTHER = (
    "when is the {name} back?",
    "I got the {name} last week, love it",
    "show the {model} again pls",
    "is the {name} still available?",
    "missed the {model} :(",
    "can you show the {name}?",
    "{brand} {model} please!!",
    "my sister has the {model}",
)
BADGES = (
    "LIVE DEAL",
    "HOT",
    "NEW",
    "FLASH SALE",
    "FREE SHIPPING",
    "LIMITED STOCK",
    "BEST SELLER",
    "TODAY ONLY",
    "ONLY {n} LEFT",
    "2 FOR 1",
    "TOP PICK",
)
NULL_BANNERS = {
    "intro": ("STARTING SOON", "WELCOME", "LIVE NOW", "NEW ARRIVALS TODAY", "DEALS ALL NIGHT"),
    "break": ("BE RIGHT BACK", "MORE DEALS COMING", "STAY TUNED"),
    "outro": ("THANKS FOR WATCHING", "FOLLOW FOR MORE", "SEE YOU TOMORROW", "BYE BYE"),
}


def _group_order(products: list[Product]) -> dict[str, list[Product]]:
    by_group: dict[str, list[Product]] = {}
    for p in products:
        by_group.setdefault(p.group, []).append(p)
    return by_group


def plan_streams(products: list[Product], preset: Preset, seed: int) -> list[list[Product]]:
    """Which products each regular stream shows, in order. Splits take turns (test and val products go
    on air even in small presets) and a group's members follow each other, so look-alikes share a stream."""
    rng = rng_for(seed, "live-plan")
    by_group = _group_order(products)
    queues = {s: [g for g in by_group if by_group[g][0].split == s] for s in ("test", "val", "train")}
    for q in queues.values():
        rng.shuffle(q)
    order: list[Product] = []
    while any(queues.values()):
        for s in ("test", "val", "train"):
            if queues[s]:
                order += by_group[queues[s].pop(0)]
    n_streams = preset.live_streams or math.ceil(len(order) / preset.products_per_stream)
    slots = [order[i % len(order)] for i in range(n_streams * preset.products_per_stream)]
    return [slots[i * preset.products_per_stream : (i + 1) * preset.products_per_stream] for i in range(n_streams)]


def plan_heldout_streams(products: list[Product], preset: Preset, seed: int) -> list[list[Product]]:
    """The held-out streams: test-split products again, groups kept together, as evenly as they go."""
    test = [p for p in products if p.split == "test"]
    if not preset.heldout_streams or not test:
        return []
    rng = rng_for(seed, "heldout-plan")
    by_group = _group_order(test)
    groups = sorted(by_group)
    rng.shuffle(groups)
    order = [p for g in groups for p in by_group[g]]
    k = preset.heldout_products_per_stream
    slots = [order[i % len(order)] for i in range(preset.heldout_streams * k)]
    return [slots[i * k : (i + 1) * k] for i in range(preset.heldout_streams)]


def _others(p: Product, catalog: list[Product], rng) -> list[Product]:
    # look-alikes first: hearing a sibling's name while this product is on air is the hard case
    sibs = [o for o in catalog if o.group == p.group and o.product_id != p.product_id]
    rest = [o for o in catalog if o.group != p.group]
    return sibs + rng.sample(rest, min(3, len(rest)))


def _kinds(n_products: int, preset: Preset, rng) -> list[str]:
    kinds = ["intro"] + ["product"] * n_products + ["outro"]
    if n_products >= 2 and rng.random() < preset.break_share:
        kinds.insert(1 + rng.randint(1, n_products - 1), "break")
    return kinds


def _r(x: float) -> float:
    return round(float(x), 3)


def _plan_screen(
    studio: LiveStudio,
    kind: str,
    p: Product | None,
    start: float,
    end: float,
    rng,
    card: bool = False,
    old: float | None = None,
    name: bool | None = None,
) -> dict:
    """What overlays show in one segment (drawn by the studio), as the truth records it; card: a price
    card shows, old: the struck-through old price on it (or None); name: a name card shows (None: by chance)."""
    w, h = studio.w, studio.h
    screen: dict = {"price_card": None, "name_card": None, "badges": [], "chat": []}
    m = int(w * 0.03)
    badge_texts: list[str] = []
    if kind == "product":
        assert p is not None, "a product segment shows a product"
        if card:
            t0 = start + rng.uniform(0.3, 3.0)
            t1 = end if rng.random() < 0.7 else max(min(end, t0 + 4.0), end - rng.uniform(1.0, 4.0))
            label = rng.choice((None, None, "NOW", "ONLY", "LIVE PRICE", "DEAL"))
            im = price_card_image(
                p.price_label, price_label(old) if old is not None else None, rng.randint(28, 46), studio.style, label
            )
            x, y = studio.card_anchor(rng, im, rng.uniform(0.72, 0.86))
            it = studio.add(im, x, y, t0, t1)
            screen["price_card"] = {
                "price": p.price,
                "old_price": old,
                "text": p.price_label,
                "old_text": price_label(old) if old is not None else None,
                "label": label,
                "t0": _r(t0),
                "t1": _r(t1),
                "box": it.box(w, h),
            }
            if old is not None and rng.random() < 0.8:
                badge_texts.append(f"-{int(round(100 * (old - p.price) / old))}%")
        if (rng.random() < NAME_CARD_SHARE) if name is None else name:
            t0 = start + rng.uniform(0.5, 4.0)
            t1 = min(end, t0 + rng.uniform(4.0, 10.0))
            im = name_card_image(p.brand, p.model, rng.randint(16, 22), studio.style)
            x, y = studio.card_anchor(rng, im, rng.uniform(0.55, 0.65))
            it = studio.add(im, x, y, t0, t1)
            screen["name_card"] = {
                "brand": p.brand,
                "model": p.model,
                "text": p.name,
                "t0": _r(t0),
                "t1": _r(t1),
                "box": it.box(w, h),
            }
        for _ in range(rng.choice((0, 1, 1, 2))):
            badge_texts.append(rng.choice(BADGES).format(n=rng.randint(2, 9)))
    elif rng.random() < 0.7:
        badge_texts.append(rng.choice(NULL_BANNERS[kind]))
    y = m + 28
    for text in dict.fromkeys(badge_texts):
        t0 = start + rng.uniform(0.0, 2.0)
        t1 = end if rng.random() < 0.6 else min(end, t0 + rng.uniform(3.0, 8.0))
        im = badge_image(
            text,
            rng.randint(12, 16),
            studio.badge_colour
            if rng.random() < 0.7
            else rng.choice(((230, 30, 50, 255), (255, 140, 0, 255), (30, 160, 80, 255))),
        )
        it = studio.add(im, w - im.width - m - int(w * 0.06), y, t0, t1)
        y += im.height + 4
        screen["badges"].append({"text": text, "t0": _r(t0), "t1": _r(t1), "box": it.box(w, h)})
    return screen


def _plan_chat(
    studio: LiveStudio, segments: list[dict], on_air: dict[int, Product], catalog: list[Product], duration: float, rng
) -> None:
    """A message every 1.2-3.5 s; the panel shows the last few, so a message shows until it is pushed out.
    Each message goes into the truth of the segment where it appears, with the product it names (or null)."""
    times, t = [], rng.uniform(0.5, 2.0)
    while t < duration - 0.5:
        times.append(t)
        t += rng.uniform(1.2, 3.5)
    n = studio.chat_lines
    for i, t0 in enumerate(times):
        t1 = times[i + n] if i + n < len(times) else duration
        j = next(k for k, s in enumerate(segments) if s["start"] <= t0 < s["end"])
        p = on_air.get(j)
        user, u = rng.choice(CHAT_USERS), rng.random()
        named = None
        if u < CHAT_OTHER_SHARE:
            pool = [o for o in catalog if p is None or o.product_id != p.product_id]
            sibs = [o for o in pool if p is not None and o.group == p.group]
            named = rng.choice(sibs) if sibs and rng.random() < 0.4 else rng.choice(pool)
            text = rng.choice(CHAT_OTHER)
        elif p is not None and u < CHAT_OTHER_SHARE + CHAT_ON_AIR_SHARE:
            named, text = p, rng.choice(CHAT_ON_AIR)
        else:
            text = rng.choice(CHAT_GENERIC)
        if named is not None:
            text = text.format(name=named.name, brand=named.brand, model=named.model)
        studio.add_chat(t0, t1, user, text)
        segments[j]["screen"]["chat"].append(
            {"t0": _r(t0), "t1": _r(t1), "user": user, "text": text, "product_id": named.product_id if named else None}
        )


def write_stream(
    index: int,
    shown: list[Product],
    catalog: list[Product],
    preset: Preset,
    seed: int,
    root: Path,
    heldout: bool = False,
) -> dict:
    sid = f"live{index:03d}"
    rng = rng_for(seed, "live", sid)
    nrng = np_rng_for(seed, "live-noise", sid)
    book = Phrasebook(heldout)
    host = pick_voice(rng, heldout=heldout)
    studio = LiveStudio(rng, preset.live_size)
    srng = rng_for(seed, "live-screen", sid)  # overlays draw from their own stream: speech stays as planned
    segments: list[dict] = []
    audio_parts: list = []
    airs: list[OnAir | None] = []
    on_air: dict = {}
    kinds = _kinds(len(shown), preset, rng)
    queue = list(shown)
    earlier: list[Product] = []
    # name cards on about a quarter of the product segments, never more than a third of a stream's
    k = min(max(1, len(shown) // 3), int(NAME_CARD_SHARE * len(shown) + srng.random()))
    name_slots = set(srng.sample(range(len(shown)), k))
    t = 0.0
    for i, kind in enumerate(kinds):
        voice = host if rng.random() < 0.7 else pick_voice(rng, heldout=heldout)  # now and then a co-host speaks
        voice = Voice(voice.name, min(190, max(140, voice.speed + rng.randint(-10, 10))), voice.pitch, voice.engine)
        lead = rng.uniform(0.2, 0.6)
        p = queue.pop(0) if kind == "product" else None
        if p is not None:
            target = rng.uniform(*preset.segment_s)
            # the price card is decided first: the host may read out the old price the card shows
            card = srng.random() < PRICE_CARD_SHARE
            old = old_price(p.price, srng) if card and srng.random() < OLD_PRICE_SHARE else None
            core, extra = live_script(p, _others(p, catalog, rng), rng, book, old_price=old, earlier=earlier)
        else:
            target = rng.uniform(*(preset.break_s if kind == "break" else preset.intro_s))
            card, old = False, None
            core, extra = null_script(kind, rng, book)
        speech, spoken = speak_sentences(core + extra, voice, rng, max_s=target - lead - 0.3, min_count=len(core))
        length = frame_aligned(max(target, lead + len(speech) / SR + 0.3), preset.fps)
        seg_audio = fit(speech, int(round(length * SR)), int(lead * SR))
        audio_parts.append((seg_audio, rng.uniform(5, 20)))
        screen = _plan_screen(studio, kind, p, t, t + length, srng, card, old, len(earlier) in name_slots)
        segments.append(
            {
                "kind": kind,
                "start": _r(t),
                "end": _r(t + length),
                "product_id": p.product_id if p else None,
                "script": " ".join(s.text.rstrip(".") + "." for s, _, _ in spoken),
                "sentences": [
                    {
                        "text": s.text,
                        "family": s.family,
                        "variant": s.variant,
                        "voice": voice.name,
                        "engine": voice.engine,
                        "t0": _r(t + lead + a),
                        "t1": _r(t + lead + b),
                    }
                    for s, a, b in spoken
                ],
                "screen": screen,
            }
        )
        if p is not None:
            on_air[i] = p
            airs.append(plan_on_air(p, t, t + length, rng, studio))
            earlier.append(p)
        else:
            airs.append(None)
        t += length
    duration = round(t, 3)
    _plan_chat(studio, segments, on_air, catalog, duration, rng_for(seed, "live-chat", sid))
    n = int(round(duration * SR))
    bed_mix = rng.uniform(0.0, 1.0)  # share of music vs crowd noise in the background
    bed = bed_mix * music_bed(n, nrng) + (1 - bed_mix) * noise_bed(n, nrng)
    audio, pos = np.zeros(n, np.float32), 0
    for seg_audio, snr in audio_parts:
        m = len(seg_audio)
        audio[pos : pos + m] = mix_at_snr(seg_audio, bed[pos : pos + m], snr)[: n - pos]
        pos += m
    rel = f"live/{sid}.mp4"
    boxes: list[list] = []
    write_mp4(
        root / rel,
        _frames(studio, segments, airs, preset.fps, int(round(duration * preset.fps)), boxes),
        audio,
        preset.fps,
        SR,
        preset.live_size,
    )
    return {
        "stream_id": sid,
        "path": rel,
        "duration": duration,
        "heldout": heldout,
        "size": list(preset.live_size),
        "segments": segments,
        "boxes": boxes,
    }


def _frames(
    studio: LiveStudio, segments: list[dict], airs: list[OnAir | None], fps: int, n: int, boxes: list[list]
) -> Iterator[np.ndarray]:
    """Frames in order; every BOX_STEP_S the product's box, normalised, goes into boxes (nulls when none shows)."""
    j = 0
    step = max(1, int(round(BOX_STEP_S * fps)))
    for i in range(n):
        t = i / fps
        while j + 1 < len(segments) and t >= segments[j]["end"] - 1e-6:
            j += 1
        frame, box = studio.frame(t, airs[j])
        if i % step == 0:
            boxes.append(
                [_r(t)]
                + (
                    [
                        round(box[0] / studio.w, 4),
                        round(box[1] / studio.h, 4),
                        round(box[2] / studio.w, 4),
                        round(box[3] / studio.h, 4),
                    ]
                    if box
                    else [None, None, None, None]
                )
            )
        yield frame
