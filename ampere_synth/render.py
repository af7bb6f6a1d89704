"""Scenes: clean product-page renders, short-video scenes and busy live-studio frames.

Page, video and live differ on purpose (background, scale, position, rotation, clutter, occlusion),
since crossing those domain gaps is what the model has to learn.
"""
from __future__ import annotations

import colorsys
import math
import random
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw

from .products import Product
from .shapes import sprite

SPRITE = 96


def _sprite(p: Product) -> Image.Image:
    return sprite(p.category, p.shape, p.colour, p.pattern, SPRITE)


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    return tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _place(canvas: Image.Image, spr: Image.Image, cx: float, cy: float, scale: float, angle: float,
           flip: bool = False) -> None:
    """Paste spr centred at (cx, cy) (pixels), side scale*canvas side, rotated by angle degrees."""
    side = max(4, int(scale * canvas.width))
    im = spr.transpose(Image.FLIP_LEFT_RIGHT) if flip else spr
    im = im.resize((side, side), Image.BILINEAR).rotate(angle, resample=Image.BILINEAR, expand=True)
    _paste_clipped(canvas, im, int(cx - im.width / 2), int(cy - im.height / 2))


def _paste_clipped(canvas: Image.Image, im: Image.Image, x: int, y: int) -> None:
    # alpha_composite refuses negative offsets; crop the sprite to the visible part instead
    l, t = max(0, -x), max(0, -y)
    r, b = min(im.width, canvas.width - x), min(im.height, canvas.height - y)
    if r > l and b > t:
        canvas.alpha_composite(im.crop((l, t, r, b)), (x + l, y + t))


# --- product page ---------------------------------------------------------------------------------

def page_image(p: Product, rng: random.Random, size: int) -> Image.Image:
    """Clean render on a plain light background, with a pose and scale of its own."""
    tone = rng.randint(232, 250)
    tint = rng.choice([(0, 0, 0), (4, 2, -2), (-2, 0, 4)])
    bg = Image.new("RGBA", (size, size), tuple(min(255, tone + t) for t in tint) + (255,))
    scale = rng.uniform(0.62, 0.86)
    cx, cy = size * rng.uniform(0.46, 0.54), size * rng.uniform(0.46, 0.54)
    d = ImageDraw.Draw(bg)  # soft floor shadow
    d.ellipse([cx - scale * size * 0.35, cy + scale * size * 0.36, cx + scale * size * 0.35,
               cy + scale * size * 0.46], fill=(tone - 28, tone - 28, tone - 28, 255))
    _place(bg, _sprite(p), cx, cy, scale, rng.uniform(-12, 12), flip=rng.random() < 0.3)
    return bg.convert("RGB")


# --- short video ----------------------------------------------------------------------------------

def _room(rng: random.Random, size: int) -> Image.Image:
    h = rng.random()
    wall = _hsv(h, rng.uniform(0.1, 0.45), rng.uniform(0.45, 0.85))
    img = Image.new("RGBA", (size, size), wall + (255,))
    d = ImageDraw.Draw(img)
    floor_y = int(size * rng.uniform(0.6, 0.75))
    d.rectangle([0, floor_y, size, size], fill=_hsv(h + rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.5),
                                                    rng.uniform(0.3, 0.6)))
    for _ in range(rng.randint(2, 5)):  # shelves, frames, windows
        x, y = rng.randint(0, size), rng.randint(0, floor_y - 10)
        w, hh = rng.randint(10, 40), rng.randint(6, 30)
        d.rectangle([x, y, x + w, y + hh], fill=_hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.3, 0.95)))
    if rng.random() < 0.5:  # a plant
        x = rng.choice([rng.randint(0, size // 5), rng.randint(size * 4 // 5, size)])
        d.ellipse([x - 12, floor_y - 40, x + 12, floor_y - 10], fill=_hsv(0.3, 0.6, 0.45))
        d.rectangle([x - 6, floor_y - 12, x + 6, floor_y + 4], fill=(120, 70, 40))
    return img


def video_frames(p: Product, rng: random.Random, size: int, n: int) -> Iterator[np.ndarray]:
    """The product in a room, drifting, turning and zooming a little over the clip."""
    room = _room(rng, size)
    spr = _sprite(p)
    s0, s1 = rng.uniform(0.38, 0.6), rng.uniform(0.38, 0.6)
    x0, x1 = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
    y0, y1 = rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.6)
    a0, a1 = rng.uniform(-25, 25), rng.uniform(-25, 25)
    flip = rng.random() < 0.5
    wob, ph = rng.uniform(0.5, 2.0), rng.uniform(0, 6.3)
    for i in range(n):
        u = i / max(1, n - 1)
        f = room.copy()
        _place(f, spr, size * (x0 + (x1 - x0) * u), size * (y0 + (y1 - y0) * u + 0.02 * math.sin(wob * u * 6.3 + ph)),
               s0 + (s1 - s0) * u, a0 + (a1 - a0) * u + 4 * math.sin(wob * u * 6.3), flip)
        yield np.asarray(f.convert("RGB"))


# --- live studio ----------------------------------------------------------------------------------

@dataclass
class OnAir:
    product: Product
    start: float
    end: float
    scale: float
    side: float  # where the product is held, as a fraction of the width
    y: float
    angle: float
    edge_cut: bool  # held half out of frame


def plan_on_air(p: Product, start: float, end: float, rng: random.Random, host_left: bool) -> OnAir:
    side = rng.uniform(0.55, 0.8) if host_left else rng.uniform(0.2, 0.45)
    cut = rng.random() < 0.25
    if cut:
        side = 0.97 if host_left else 0.03
    return OnAir(p, start, end, rng.uniform(0.22, 0.38), side, rng.uniform(0.45, 0.65), rng.uniform(-20, 20), cut)


def _studio(rng: random.Random, size: int) -> Image.Image:
    img = Image.new("RGBA", (size, size), _hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.2, 0.6)) + (255,))
    d = ImageDraw.Draw(img)
    for row in range(rng.randint(2, 4)):  # shelves full of boxes: the busy background of a live room
        y = int(size * (0.12 + 0.2 * row))
        d.rectangle([0, y + 14, size, y + 17], fill=(90, 70, 50))
        x = rng.randint(-5, 5)
        while x < size:
            w, h = rng.randint(5, 14), rng.randint(6, 14)
            d.rectangle([x, y + 14 - h, x + w, y + 14], fill=_hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.4, 1)))
            x += w + rng.randint(1, 6)
    r = rng.randint(10, 18)  # ring light
    cx, cy = rng.randint(r, size - r), rng.randint(r, size // 2)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 255, 240), width=3)
    return img


def _host(rng: random.Random, size: int) -> Image.Image:
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    skin = rng.choice([(238, 200, 170), (200, 150, 110), (150, 100, 70), (100, 65, 45)])
    shirt = _hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
    d.rounded_rectangle([size * 0.1, size * 0.55, size * 0.9, size * 1.2], radius=size * 0.2, fill=shirt + (255,))
    d.ellipse([size * 0.3, size * 0.18, size * 0.7, size * 0.62], fill=skin + (255,))
    d.chord([size * 0.28, size * 0.12, size * 0.72, size * 0.5], 180, 360,
            fill=_hsv(rng.random(), 0.4, rng.uniform(0.1, 0.5)) + (255,))
    return im


class LiveStudio:
    """One stream's look: studio, host and overlays are fixed per stream; the product changes per segment."""

    def __init__(self, rng: random.Random, size: int):
        self.size = size
        self.rng = rng
        self.bg = _studio(rng, size)
        self.host_left = rng.random() < 0.5
        self.host = _host(rng, int(size * rng.uniform(0.6, 0.75)))
        self.viewers = rng.randint(80, 4000)
        self.hearts = [(rng.uniform(0, 1), rng.uniform(0.5, 1.5), _hsv(rng.random(), 0.8, 1)) for _ in range(5)]
        self.comments = [rng.randint(20, 70) for _ in range(12)]

    def frame(self, t: float, air: OnAir | None) -> np.ndarray:
        s = self.size
        f = self.bg.copy()
        sway = math.sin(t * 1.3) * s * 0.02
        hx = (s * 0.02 if self.host_left else s - self.host.width - s * 0.02) + sway
        f.alpha_composite(self.host, (int(hx), s - self.host.height))
        if air is not None:
            k = min(1.0, (t - air.start) / 0.6)  # slides in at the start of its segment
            dx = (1 - k) * (0.4 if self.host_left else -0.4)
            _place(f, _sprite(air.product), s * (air.side + dx + 0.02 * math.sin(t * 0.9)),
                   s * (air.y + 0.015 * math.sin(t * 1.7)), air.scale, air.angle + 6 * math.sin(t * 0.7))
        self._overlays(f, t)
        return np.asarray(f.convert("RGB"))

    def _overlays(self, f: Image.Image, t: float) -> None:
        s = self.size
        d = ImageDraw.Draw(f, "RGBA")
        d.rectangle([3, 3, 27, 13], fill=(220, 30, 40, 255))
        d.text((5, 3), "LIVE", fill=(255, 255, 255, 255))
        d.rectangle([30, 3, 58, 13], fill=(0, 0, 0, 120))
        d.text((32, 3), str(self.viewers + int(t * 3)), fill=(255, 255, 255, 255))
        top = int(s * 0.74)  # scrolling comments over a translucent band
        d.rectangle([0, top, int(s * 0.62), s], fill=(0, 0, 0, 110))
        shift = int(t * 2)
        for i in range(4):
            w = self.comments[(i + shift) % len(self.comments)]
            y = top + 4 + i * 8
            d.rectangle([4, y, 4 + int(w * s / 128), y + 4], fill=(235, 235, 235, 200))
        for x0, speed, col in self.hearts:  # floating hearts on the right edge
            y = s - ((t * speed * 30 + x0 * s) % s)
            x = s * 0.88 + x0 * s * 0.08
            d.ellipse([x, y, x + 6, y + 6], fill=col + (220,))
