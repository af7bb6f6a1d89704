"""Scenes: clean product-page renders, short-video scenes and busy live-studio frames with overlays.

Page, video and live differ on purpose (background, scale, position, rotation, clutter, occlusion),
since crossing those domain gaps is what the model has to learn. Live frames are 16:9 and carry what
live-commerce streams show: a price card (sometimes with a struck-through old price), badges and
banners, a chat, now and then a product-name card; the product is small, held beside the host, at
times half out of frame. The product's brand is printed on it, too small to read.
"""

from __future__ import annotations

import colorsys
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from .fonts import font
from .products import CATEGORIES, COLOURS, PATTERNS, Product
from .shapes import branded_sprite, sprite

SPRITE = 256  # sprite side: sharp at the sizes pages, videos and live frames show it


def _sprite(p: Product) -> Image.Image:
    return branded_sprite(p.category, p.shape, p.colour, p.pattern, p.brand, SPRITE)


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def _place(
    canvas: Image.Image, spr: Image.Image, cx: float, cy: float, side: float, angle: float, flip: bool = False
) -> tuple[int, int, int, int] | None:
    """Paste spr centred at (cx, cy) (pixels), side pixels wide, rotated by angle degrees. Returns the
    box of the product's visible pixels on the canvas (x0, y0, x1, y1), or None if none is visible."""
    side = max(4, int(side))
    im = spr.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else spr
    if im.width != side:
        im = im.resize((side, side), Image.Resampling.BILINEAR)
    return _paste_rotated(canvas, im, cx, cy, angle)


def _paste_rotated(canvas: Image.Image, im: Image.Image, cx: float, cy: float, angle: float):
    im = im.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    x, y = int(cx - im.width / 2), int(cy - im.height / 2)
    _paste_clipped(canvas, im, x, y)
    bb = im.getchannel("A").getbbox()
    if bb is None:
        return None
    x0, y0 = max(0, x + bb[0]), max(0, y + bb[1])
    x1, y1 = min(canvas.width, x + bb[2]), min(canvas.height, y + bb[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _paste_clipped(canvas: Image.Image, im: Image.Image, x: int, y: int) -> None:
    # alpha_composite refuses negative offsets; crop the sprite to the visible part instead
    l, t = max(0, -x), max(0, -y)
    r, b = min(im.width, canvas.width - x), min(im.height, canvas.height - y)
    if r > l and b > t:
        canvas.alpha_composite(im.crop((l, t, r, b)), (x + l, y + t))


def _text_size(text: str, f) -> tuple[int, int]:
    l, t, r, b = f.getbbox(text)
    return r - l, b - t


# --- product page ---------------------------------------------------------------------------------


def page_image(p: Product, rng: random.Random, size: int) -> Image.Image:
    """Clean render on a plain light background, with a pose and scale of its own."""
    tone = rng.randint(232, 250)
    tint = rng.choice([(0, 0, 0), (4, 2, -2), (-2, 0, 4)])
    bg = Image.new("RGBA", (size, size), tuple(min(255, tone + t) for t in tint) + (255,))
    scale = rng.uniform(0.62, 0.86)
    cx, cy = size * rng.uniform(0.46, 0.54), size * rng.uniform(0.46, 0.54)
    d = ImageDraw.Draw(bg)  # soft floor shadow
    d.ellipse(
        [cx - scale * size * 0.35, cy + scale * size * 0.36, cx + scale * size * 0.35, cy + scale * size * 0.46],
        fill=(tone - 28, tone - 28, tone - 28, 255),
    )
    _place(bg, _sprite(p), cx, cy, scale * size, rng.uniform(-12, 12), flip=rng.random() < 0.3)
    return bg.convert("RGB")


# --- short video ----------------------------------------------------------------------------------


def _room(rng: random.Random, size: int) -> Image.Image:
    u = size / 128  # the room was laid out at 128 px
    h = rng.random()
    wall = _hsv(h, rng.uniform(0.1, 0.45), rng.uniform(0.45, 0.85))
    img = Image.new("RGBA", (size, size), wall + (255,))
    d = ImageDraw.Draw(img)
    floor_y = int(size * rng.uniform(0.6, 0.75))
    d.rectangle(
        [0, floor_y, size, size], fill=_hsv(h + rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.5), rng.uniform(0.3, 0.6))
    )
    for _ in range(rng.randint(2, 6)):  # shelves, frames, windows
        x, y = rng.randint(0, size), rng.randint(0, floor_y - int(10 * u))
        w, hh = int(rng.randint(10, 40) * u), int(rng.randint(6, 30) * u)
        d.rectangle([x, y, x + w, y + hh], fill=_hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.3, 0.95)))
    if rng.random() < 0.5:  # a plant
        x = rng.choice([rng.randint(0, size // 5), rng.randint(size * 4 // 5, size)])
        d.ellipse([x - 12 * u, floor_y - 40 * u, x + 12 * u, floor_y - 10 * u], fill=_hsv(0.3, 0.6, 0.45))
        d.rectangle([x - 6 * u, floor_y - 12 * u, x + 6 * u, floor_y + 4 * u], fill=(120, 70, 40))
    return img


@dataclass
class VideoScreen:
    """What a short video shows on top of the product: a price tag and, rarely, the name."""

    price_tag: dict | None = None  # {"price", "text", "t0", "t1"}
    name_tag: dict | None = None  # {"brand", "model", "text", "t0", "t1"}


def plan_video_screen(p: Product, rng: random.Random, duration: float) -> VideoScreen:
    sc = VideoScreen()
    if rng.random() < 0.5:
        t0 = round(rng.uniform(0.0, min(3.0, duration / 3)), 1)
        sc.price_tag = {
            "price": p.price,
            "text": p.price_label,
            "t0": t0,
            "t1": round(duration if rng.random() < 0.7 else rng.uniform(t0 + 3, duration), 1),
        }
    if rng.random() < 0.1:
        t0 = round(rng.uniform(0.0, duration / 2), 1)
        sc.name_tag = {
            "brand": p.brand,
            "model": p.model,
            "text": p.name,
            "t0": t0,
            "t1": round(min(duration, t0 + rng.uniform(3, 6)), 1),
        }
    return sc


def _tag_image(text: str, size: int, bg: tuple, ink: tuple, bold: bool = True, pad: float = 0.3) -> Image.Image:
    f = font(size, bold=bold)
    w, h = _text_size(text, f)
    px, py = int(size * pad * 1.3), int(size * pad)
    im = Image.new("RGBA", (w + 2 * px, h + 2 * py), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([0, 0, im.width - 1, im.height - 1], radius=max(2, size // 4), fill=bg)
    l, t, _, _ = f.getbbox(text)
    d.text((px - l, py - t), text, font=f, fill=ink)
    return im


def video_frames(
    p: Product, rng: random.Random, size: int, n: int, fps: int = 10, screen: VideoScreen | None = None
) -> Iterator[np.ndarray]:
    """The product in a room, drifting, turning and zooming a little over the clip."""
    room = _room(rng, size)
    spr = _sprite(p)
    s0, s1 = rng.uniform(0.38, 0.6), rng.uniform(0.38, 0.6)
    x0, x1 = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
    y0, y1 = rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.6)
    a0, a1 = rng.uniform(-25, 25), rng.uniform(-25, 25)
    flip = rng.random() < 0.5
    wob, ph = rng.uniform(0.5, 2.0), rng.uniform(0, 6.3)
    tag = name = None
    if screen and screen.price_tag:
        pal = rng.choice(
            [
                ((255, 214, 0, 255), (20, 20, 20, 255)),
                ((230, 30, 50, 255), (255, 255, 255, 255)),
                ((255, 255, 255, 235), (200, 20, 30, 255)),
            ]
        )
        tag = (_tag_image(screen.price_tag["text"], rng.randint(18, 24), *pal), rng.choice(["tl", "tr", "br"]))
    if screen and screen.name_tag:
        name = _tag_image(
            screen.name_tag["text"], rng.randint(12, 15), (0, 0, 0, 150), (255, 255, 255, 255), bold=False
        )
    for i in range(n):
        t = i / fps
        u = i / max(1, n - 1)
        f = room.copy()
        _place(
            f,
            spr,
            size * (x0 + (x1 - x0) * u),
            size * (y0 + (y1 - y0) * u + 0.02 * math.sin(wob * u * 6.3 + ph)),
            size * (s0 + (s1 - s0) * u),
            a0 + (a1 - a0) * u + 4 * math.sin(wob * u * 6.3),
            flip,
        )
        if tag and screen and screen.price_tag and screen.price_tag["t0"] <= t < screen.price_tag["t1"]:
            im, corner = tag
            m = int(size * 0.04)
            x = m if corner == "tl" else size - im.width - m
            y = m if corner != "br" else size - im.height - m
            f.alpha_composite(im, (x, y))
        if name and screen and screen.name_tag and screen.name_tag["t0"] <= t < screen.name_tag["t1"]:
            f.alpha_composite(name, ((size - name.width) // 2, int(size * 0.82)))
        yield np.asarray(f.convert("RGB"))


# --- live studio ----------------------------------------------------------------------------------


@dataclass
class OnAir:
    product: Product
    start: float
    end: float
    scale: float  # sprite side as a fraction of the frame height
    x: float  # where the product is held, as a fraction of the width
    y: float
    angle: float
    edge_cut: bool  # held half out of frame
    _spr: Image.Image | None = field(default=None, repr=False)


def plan_on_air(p: Product, start: float, end: float, rng: random.Random, studio: LiveStudio) -> OnAir:
    """Beside the host, on the side towards the middle; one in four held out at the frame edge instead."""
    hx = studio.host_cx
    cut = rng.random() < 0.25
    if cut:
        x = rng.uniform(0.02, 0.06) if studio.host_left else rng.uniform(0.94, 0.98)
    else:
        off = rng.uniform(0.15, 0.3)
        x = hx + off if studio.host_left else hx - off
    return OnAir(p, start, end, rng.uniform(0.2, 0.35), x, rng.uniform(0.45, 0.68), rng.uniform(-20, 20), cut)


def _distractor(rng: random.Random, side: int) -> Image.Image:
    cat = rng.choice(sorted(CATEGORIES))
    return sprite(cat, rng.choice(CATEGORIES[cat][1]), rng.choice(sorted(COLOURS)), rng.choice(PATTERNS), side)


def _studio(rng: random.Random, w: int, h: int) -> Image.Image:
    hue = rng.random()
    img = Image.new("RGBA", (w, h), _hsv(hue, rng.uniform(0.2, 0.7), rng.uniform(0.25, 0.6)) + (255,))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):  # wall panels and posters
        x, y = rng.randint(0, w), rng.randint(0, h // 2)
        pw, ph = rng.randint(w // 12, w // 5), rng.randint(h // 8, h // 3)
        d.rectangle([x, y, x + pw, y + ph], fill=_hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.4, 0.95)))
        if rng.random() < 0.6:
            word = rng.choice(("SALE", "NEW IN", "SHOP", "DEALS", "OPEN", "HOME", "STYLE", "GIFTS"))
            d.text(
                (x + 4, y + 4),
                word,
                font=font(rng.randint(10, 18), bold=True),
                fill=_hsv(rng.random(), 0.7, rng.uniform(0.1, 1.0)),
            )
    u = h / 128  # shelf rows were laid out at 128 px
    for row in range(rng.randint(2, 4)):  # shelves full of boxes: the busy background of a live room
        y = int(h * (0.1 + 0.17 * row))
        d.rectangle([0, y + int(14 * u), w, y + int(17 * u)], fill=(90, 70, 50))
        x = rng.randint(-5, 5)
        while x < w:
            bw, bh = int(rng.randint(5, 14) * u), int(rng.randint(6, 14) * u)
            d.rectangle(
                [x, y + int(14 * u) - bh, x + bw, y + int(14 * u)],
                fill=_hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.4, 1)),
            )
            if bw > 14 and rng.random() < 0.3:  # labels on the boxes
                d.rectangle(
                    [x + 2, y + int(14 * u) - bh // 2, x + bw - 2, y + int(14 * u) - bh // 2 + 3], fill=(240, 240, 240)
                )
            x += bw + int(rng.randint(1, 6) * u)
        for _ in range(rng.choice((0, 0, 1, 2))):  # other goods on the shelf: clutter that looks like products
            side = int(h * rng.uniform(0.08, 0.15))
            _paste_rotated(
                img, _distractor(rng, side), rng.randint(0, w), y + int(14 * u) - side // 2, rng.uniform(-8, 8)
            )
    if rng.random() < 0.5:  # a clothes rack
        x0 = rng.randint(0, w - w // 4)
        d.line([x0, int(h * 0.3), x0 + w // 4, int(h * 0.3)], fill=(160, 160, 170), width=3)
        for k in range(rng.randint(4, 9)):
            cx = x0 + 8 + k * (w // 4 - 16) // 9
            d.rectangle(
                [cx, int(h * 0.31), cx + 12, int(h * 0.31) + rng.randint(30, 60)],
                fill=_hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.9)),
            )
    r = int(h * rng.uniform(0.06, 0.1))  # ring light
    cx, cy = rng.randint(r, w - r), rng.randint(r, h // 2)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 255, 240), width=max(3, r // 6))
    ty = int(h * rng.uniform(0.8, 0.88))  # a table at the bottom
    d.rectangle([0, ty, w, h], fill=_hsv(hue + 0.5, rng.uniform(0.1, 0.4), rng.uniform(0.25, 0.55)))
    return img


def _host(rng: random.Random, side: int) -> tuple[Image.Image, tuple, tuple]:
    im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    skin = rng.choice([(238, 200, 170), (200, 150, 110), (150, 100, 70), (100, 65, 45)])
    shirt = _hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
    d.rounded_rectangle([side * 0.1, side * 0.55, side * 0.9, side * 1.2], radius=side * 0.2, fill=shirt + (255,))
    d.ellipse([side * 0.3, side * 0.18, side * 0.7, side * 0.62], fill=skin + (255,))
    d.chord(
        [side * 0.28, side * 0.12, side * 0.72, side * 0.5],
        180,
        360,
        fill=_hsv(rng.random(), 0.4, rng.uniform(0.1, 0.5)) + (255,),
    )
    eye = (40, 30, 30, 255)
    for ex in (0.42, 0.58):
        d.ellipse([side * (ex - 0.02), side * 0.38, side * (ex + 0.02), side * 0.42], fill=eye)
    d.arc([side * 0.43, side * 0.44, side * 0.57, side * 0.54], 20, 160, fill=eye, width=max(1, side // 80))
    return im, skin, shirt


# overlay palettes: (card fill, main ink, secondary ink)
CARD_STYLES = (
    ((255, 214, 0, 245), (20, 20, 20, 255), (90, 70, 0, 255)),
    ((230, 30, 50, 240), (255, 255, 255, 255), (255, 210, 210, 255)),
    ((20, 20, 24, 215), (255, 220, 40, 255), (200, 200, 200, 255)),
    ((255, 255, 255, 240), (210, 20, 40, 255), (110, 110, 110, 255)),
    ((255, 90, 160, 240), (255, 255, 255, 255), (255, 225, 240, 255)),
)
BADGE_COLOURS = (
    (230, 30, 50, 255),
    (255, 140, 0, 255),
    (30, 160, 80, 255),
    (40, 90, 220, 255),
    (150, 40, 200, 255),
    (20, 20, 20, 230),
)


def price_card_image(text: str, old_text: str | None, size: int, style: tuple, label: str | None) -> Image.Image:
    """The price in large bold type (text height about 0.72 x size px), an old price struck through beside it."""
    fill, ink, ink2 = style
    f = font(size, bold=True)
    w, h = _text_size(text, f)
    fo = font(int(size * 0.55))
    wo, ho = _text_size(old_text, fo) if old_text else (0, 0)
    fl = font(max(10, int(size * 0.38)), bold=True)
    wl, hl = _text_size(label, fl) if label else (0, 0)
    pad = int(size * 0.3)
    gap = int(size * 0.3) if old_text else 0
    top = hl + pad // 2 if label else 0
    W = pad * 2 + max(w + gap + wo, wl)
    H = pad * 2 + h + top
    im = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([0, 0, W - 1, H - 1], radius=max(3, size // 4), fill=fill)
    if label:
        l, t, _, _ = fl.getbbox(label)
        d.text((pad - l, pad // 2 + 1 - t), label, font=fl, fill=ink2)
    l, t, _, _ = f.getbbox(text)
    d.text((pad - l, pad + top - t), text, font=f, fill=ink)
    if old_text:
        l, t, _, _ = fo.getbbox(old_text)
        ox, oy = pad + w + gap, pad + top + h - ho
        d.text((ox - l, oy - t), old_text, font=fo, fill=ink2)
        d.line([ox - 1, oy + ho // 2, ox + wo + 1, oy + ho // 2], fill=ink2, width=max(2, size // 14))
    return im


def name_card_image(brand: str, model: str, size: int, style: tuple) -> Image.Image:
    fill, ink, ink2 = style
    fb, fm = font(int(size * 0.7)), font(size, bold=True)
    wb, hb = _text_size(brand, fb)
    wm, hm = _text_size(model, fm)
    pad = int(size * 0.35)
    W, H = pad * 2 + max(wb, wm), pad * 2 + hb + hm + pad // 2
    im = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([0, 0, W - 1, H - 1], radius=max(3, size // 5), fill=fill)
    l, t, _, _ = fb.getbbox(brand)
    d.text((pad - l, pad - t), brand, font=fb, fill=ink2)
    l, t, _, _ = fm.getbbox(model)
    d.text((pad - l, pad + hb + pad // 2 - t), model, font=fm, fill=ink)
    return im


def badge_image(text: str, size: int, colour: tuple) -> Image.Image:
    return _tag_image(text, size, colour, (255, 255, 255, 255), pad=0.28)


def chat_line_image(user: str, text: str, size: int, width: int, user_ink: tuple) -> Image.Image:
    """ "user  message", wrapped to the panel width (two lines at most)."""
    fu, fm = font(size, bold=True), font(size)
    uw = int(fu.getlength(user + "  "))
    words, cur = text.split(), ""
    lines: list[str] = []
    for w in words:
        nxt = f"{cur} {w}".strip()
        if fm.getlength(nxt) > width - (uw if not lines else 0) - 4 and cur:
            lines.append(cur)
            cur = w
        else:
            cur = nxt
    lines.append(cur)
    lines = lines[:2]
    lh = int(size * 1.25)
    im = Image.new("RGBA", (width, lh * len(lines) + 2), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.text((0, 0), user, font=fu, fill=user_ink)
    for i, line in enumerate(lines):
        d.text((uw if i == 0 else 0, i * lh), line, font=fm, fill=(255, 255, 255, 255))
    return im


@dataclass
class ScreenItem:
    """One overlay: its image, where it goes (pixels) and when it shows."""

    image: Image.Image
    x: int
    y: int
    t0: float
    t1: float

    def box(self, w: int, h: int) -> list[float]:
        return [
            round(max(0, self.x) / w, 4),
            round(max(0, self.y) / h, 4),
            round(min(w, self.x + self.image.width) / w, 4),
            round(min(h, self.y + self.image.height) / h, 4),
        ]


class LiveStudio:
    """One stream's look: studio, host and overlay style are fixed per stream; the product and the
    cards change per segment; the chat scrolls throughout."""

    def __init__(self, rng: random.Random, size: tuple[int, int]):
        self.w, self.h = size
        self.rng = rng
        self.bg = _studio(rng, self.w, self.h)
        self.host_left = rng.random() < 0.5
        self.host, self.skin, self.shirt = _host(rng, int(self.h * rng.uniform(0.62, 0.82)))
        self.host_cx = rng.uniform(0.16, 0.3) if self.host_left else rng.uniform(0.7, 0.84)
        self.viewers = rng.randint(80, 4000)
        self.viewer_rate = rng.uniform(-1.0, 4.0)
        self.hearts = [(rng.uniform(0, 1), rng.uniform(0.5, 1.5), _hsv(rng.random(), 0.8, 1)) for _ in range(6)]
        self.style = rng.choice(CARD_STYLES)
        self.badge_colour = rng.choice(BADGE_COLOURS)
        self.chat_left = rng.random() < 0.6
        self.chat_size = rng.randint(12, 14)
        self.chat_lines = rng.randint(3, 5)
        self.chat_w = int(self.w * rng.uniform(0.36, 0.44))
        self.items: list[ScreenItem] = []  # price/name cards and badges of every segment
        self.chat: list[tuple[float, float, Image.Image]] = []
        self.user_inks = [_hsv(rng.random(), 0.6, 1.0) + (255,) for _ in range(6)]

    # --- planning what is on screen (called per segment, in order) -----------------------------

    def card_anchor(self, rng: random.Random, im: Image.Image, band: float) -> tuple[int, int]:
        """A spot in the lower part of the frame on the side away from the chat."""
        m = int(self.w * 0.03)
        if self.chat_left:
            x = rng.randint(max(m, self.chat_w + m), max(self.chat_w + m, self.w - im.width - m))
        else:
            x = rng.randint(m, max(m, self.w - self.chat_w - im.width - m))
        y = int(self.h * band) - im.height // 2
        return x, max(m, min(self.h - im.height - m, y))

    def add(self, im: Image.Image, x: int, y: int, t0: float, t1: float) -> ScreenItem:
        it = ScreenItem(im, x, y, t0, t1)
        self.items.append(it)
        return it

    def add_chat(self, t0: float, t1: float, user: str, text: str) -> None:
        ink = self.user_inks[sum(map(ord, user)) % len(self.user_inks)]  # a user keeps a colour
        self.chat.append((t0, t1, chat_line_image(user, text, self.chat_size, self.chat_w - 12, ink)))

    # --- drawing --------------------------------------------------------------------------------

    def frame(self, t: float, air: OnAir | None) -> tuple[np.ndarray, tuple | None]:
        """The frame at time t, and the box of the product's visible pixels (None if none shows)."""
        w, h = self.w, self.h
        f = self.bg.copy()
        sway = math.sin(t * 1.3) * h * 0.015
        hx = self.host_cx * w - self.host.width / 2 + sway
        hy = h - self.host.height
        f.alpha_composite(self.host, (int(hx), int(hy)))
        box = None
        if air is not None:
            k = min(1.0, (t - air.start) / 0.6)  # slides in at the start of its segment
            dx = (1 - k) * (-0.3 if self.host_left else 0.3)
            px = w * (air.x + dx + 0.01 * math.sin(t * 0.9))
            py = h * (air.y + 0.015 * math.sin(t * 1.7))
            side = air.scale * h
            # the host's arm reaching out to the product, drawn under it
            sx = self.host_cx * w + sway + (0.2 if px > self.host_cx * w else -0.2) * self.host.width
            sy = hy + self.host.height * 0.66
            d = ImageDraw.Draw(f)
            d.line([sx, sy, px, py + side * 0.25], fill=self.shirt + (255,), width=max(6, int(h * 0.05)))
            r = h * 0.03
            d.ellipse([px - r, py + side * 0.25 - r, px + r, py + side * 0.25 + r], fill=self.skin + (255,))
            if air._spr is None:
                air._spr = _sprite(air.product).resize((max(4, int(side)),) * 2, Image.Resampling.BILINEAR)
            box = _paste_rotated(f, air._spr, px, py, air.angle + 6 * math.sin(t * 0.7))
        self._overlays(f, t)
        return np.asarray(f.convert("RGB")), box

    def _overlays(self, f: Image.Image, t: float) -> None:
        w, h = self.w, self.h
        d = ImageDraw.Draw(f, "RGBA")
        fb = font(13, bold=True)
        d.rounded_rectangle([8, 8, 52, 28], radius=4, fill=(220, 30, 40, 255))
        d.text((30, 18), "LIVE", font=fb, fill=(255, 255, 255, 255), anchor="mm")
        viewers = max(1, int(self.viewers + t * self.viewer_rate))
        vtext = f"{viewers / 1000:.1f}K watching" if viewers >= 1000 else f"{viewers} watching"
        tw = int(font(12).getlength(vtext))
        d.rounded_rectangle([56, 8, 66 + tw, 28], radius=4, fill=(0, 0, 0, 130))
        d.text((61, 18), vtext, font=font(12), fill=(255, 255, 255, 255), anchor="lm")
        for x0, speed, col in self.hearts:  # floating hearts on the right edge
            y = h - ((t * speed * 40 + x0 * h) % h)
            x = w * 0.92 + x0 * w * 0.05
            d.ellipse([x, y, x + 9, y + 9], fill=col + (220,))
        for it in self.items:
            if it.t0 <= t < it.t1:
                _paste_clipped(f, it.image, it.x, it.y)
        shown = [im for t0, t1, im in self.chat if t0 <= t < t1][-self.chat_lines :]
        if shown:
            ph = sum(im.height + 3 for im in shown) + 8
            x0 = 6 if self.chat_left else w - self.chat_w - 6
            y0 = int(h * 0.97) - ph
            d.rounded_rectangle([x0, y0, x0 + self.chat_w, y0 + ph], radius=6, fill=(0, 0, 0, 90))
            y = y0 + 5
            for im in shown:
                f.alpha_composite(im, (x0 + 6, y))
                y += im.height + 3
