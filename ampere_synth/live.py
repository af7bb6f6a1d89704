"""Live streams: a host shows several products in turn, talking over noise or music.

Segment boundaries are where the product changes; a segment's script is everything said in it
(greetings, filler, other products' names included), so the truth is what was actually spoken.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import numpy as np

from .clips import frame_aligned
from .mediafile import write_mp4
from .presets import Preset
from .products import Product
from .render import LiveStudio, OnAir, plan_on_air
from .scripts import live_script
from .seeding import np_rng_for, rng_for
from .speech import SR, Voice, fit, mix_at_snr, music_bed, noise_bed, pick_voice, speak_sentences


def plan_streams(products: list[Product], preset: Preset, seed: int) -> list[list[Product]]:
    """Which products each stream shows, in order. Splits take turns (test and val products go on air
    even in small presets) and a group's members follow each other, so look-alikes share a stream."""
    rng = rng_for(seed, "live-plan")
    by_group: dict[str, list[Product]] = {}
    for p in products:
        by_group.setdefault(p.group, []).append(p)
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
    return [slots[i * preset.products_per_stream:(i + 1) * preset.products_per_stream] for i in range(n_streams)]


def _others(p: Product, catalog: list[Product], rng) -> list[Product]:
    # look-alikes first: hearing a sibling's name while this product is on air is the hard case
    sibs = [o for o in catalog if o.group == p.group and o.product_id != p.product_id]
    rest = [o for o in catalog if o.group != p.group]
    return sibs + rng.sample(rest, min(3, len(rest)))


def write_stream(index: int, shown: list[Product], catalog: list[Product], preset: Preset, seed: int,
                 root: Path) -> dict:
    sid = f"live{index:03d}"
    rng = rng_for(seed, "live", sid)
    nrng = np_rng_for(seed, "live-noise", sid)
    host = pick_voice(rng)
    studio = LiveStudio(rng, preset.size)
    segments, audio_parts, airs = [], [], []
    t = 0.0
    for i, p in enumerate(shown):
        voice = host if rng.random() < 0.7 else pick_voice(rng)  # now and then a co-host speaks
        voice = Voice(voice.name, min(190, max(140, voice.speed + rng.randint(-10, 10))), voice.pitch)
        target = rng.uniform(*preset.segment_s)
        lead = rng.uniform(0.2, 0.6)
        core, extra = live_script(p, _others(p, catalog, rng), rng, first=(i == 0))
        speech, spoken = speak_sentences(core + extra, voice, rng, max_s=target - lead - 0.3, min_count=len(core))
        length = frame_aligned(max(target, lead + len(speech) / SR + 0.3), preset.fps)
        seg_audio = fit(speech, int(round(length * SR)), int(lead * SR))
        audio_parts.append((seg_audio, rng.uniform(10, 25)))
        segments.append({"start": round(t, 3), "end": round(t + length, 3), "product_id": p.product_id,
                         "script": " ".join(s.rstrip(".") + "." for s in spoken)})
        airs.append(plan_on_air(p, t, t + length, rng, studio.host_left))
        t += length
    duration = round(t, 3)
    n = int(round(duration * SR))
    bed_mix = rng.uniform(0.0, 1.0)  # share of music vs crowd noise in the background
    bed = bed_mix * music_bed(n, nrng) + (1 - bed_mix) * noise_bed(n, nrng)
    audio, pos = np.zeros(n, np.float32), 0
    for seg_audio, snr in audio_parts:
        m = len(seg_audio)
        audio[pos:pos + m] = mix_at_snr(seg_audio, bed[pos:pos + m], snr)[: n - pos]
        pos += m
    rel = f"live/{sid}.mp4"
    write_mp4(root / rel, _frames(studio, airs, preset.fps, int(round(duration * preset.fps))), audio,
              preset.fps, SR, preset.size)
    return {"stream_id": sid, "path": rel, "duration": duration, "segments": segments}


def _frames(studio: LiveStudio, airs: list[OnAir], fps: int, n: int) -> Iterator[np.ndarray]:
    j = 0
    for i in range(n):
        t = i / fps
        while j + 1 < len(airs) and t >= airs[j].end - 1e-6:
            j += 1
        yield studio.frame(t, airs[j])
