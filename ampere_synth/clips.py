"""Product pages and short videos, one product at a time."""

from __future__ import annotations

import math
from pathlib import Path

from .mediafile import write_mp4
from .presets import Preset
from .products import Product
from .render import page_image, plan_video_screen, video_frames
from .scripts import video_script
from .seeding import np_rng_for, rng_for
from .speech import SR, fit, mix_at_snr, noise_bed, pick_voice, speak_sentences


def frame_aligned(seconds: float, fps: int) -> float:
    """Round a duration up to a whole number of frames, so audio and video end together."""
    return math.ceil(seconds * fps - 1e-6) / fps


def write_pages(p: Product, preset: Preset, seed: int, root: Path) -> list[dict]:
    rows = []
    for k in range(preset.page_images):
        rel = f"pages/{p.product_id}-{k}.jpg"
        page_image(p, rng_for(seed, "page", p.product_id, k), preset.page_size).save(root / rel, quality=90)
        attrs = {
            f: getattr(p, f) for f in ("category", "brand", "model", "colour", "material", "price", "shape", "pattern")
        }
        rows.append(
            {
                "id": f"{p.product_id}-page{k}",
                "product_id": p.product_id,
                "title": p.title(),
                "image": rel,
                "attributes": attrs,
            }
        )
    return rows


def write_video(p: Product, k: int, preset: Preset, seed: int, root: Path) -> dict:
    vid = f"{p.product_id}-video{k}"
    rng = rng_for(seed, "video", vid)
    core, extra = video_script(p, rng)
    lead = int(rng.uniform(0.2, 0.6) * SR)
    target = rng.uniform(*preset.video_s)
    voice = pick_voice(rng, speed=(165, 190))
    speech, spoken = speak_sentences(core + extra, voice, rng, max_s=target - lead / SR - 0.3, min_count=len(core))
    duration = frame_aligned(max(target, (lead + len(speech)) / SR + 0.3), preset.fps)
    audio = fit(speech, int(round(duration * SR)), lead)
    if rng.random() < 0.6:  # light room noise on most videos
        audio = mix_at_snr(audio, noise_bed(len(audio), np_rng_for(seed, "video-noise", vid)), rng.uniform(20, 30))
    rel = f"videos/{vid}.mp4"
    n = int(round(duration * preset.fps))
    screen = plan_video_screen(p, rng_for(seed, "video-screen", vid), duration)
    write_mp4(
        root / rel,
        video_frames(p, rng, preset.video_size, n, preset.fps, screen),
        audio,
        preset.fps,
        SR,
        preset.video_size,
    )
    return {
        "id": vid,
        "product_id": p.product_id,
        "path": rel,
        "duration": duration,
        "script": " ".join(s.text.rstrip(".") + "." for s, _, _ in spoken),
        "sentences": [
            {
                "text": s.text,
                "family": s.family,
                "variant": s.variant,
                "voice": voice.name,
                "engine": voice.engine,
                "t0": round(lead / SR + a, 3),
                "t1": round(lead / SR + b, 3),
            }
            for s, a, b in spoken
        ],
        "screen": {"price_tag": screen.price_tag, "name_tag": screen.name_tag},
    }
