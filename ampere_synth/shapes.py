"""Product sprites: a flat drawing of the product (category + shape) filled with its colour and pattern.

Members of a look-alike group get pixel-identical sprites: the drawing depends only on category,
shape, colour and pattern, never on the product id.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter

from .products import COLOURS

S = 384  # drawing resolution; sprites are downscaled, which anti-aliases the edges
_K = S / 192  # the drawings were laid out at 192 px: line widths in pixels scale with this


def _w(px: int) -> int:
    return max(1, int(round(px * _K)))


DARK = (52, 52, 58, 255)
LIGHT = (240, 240, 236, 255)


def _secondary(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    r, g, b = rgb
    if lum > 140:
        return int(r * 0.55), int(g * 0.55), int(b * 0.55)
    return int(r + (255 - r) * 0.6), int(g + (255 - g) * 0.6), int(b + (255 - b) * 0.6)


def _pattern(colour: str, pattern: str) -> Image.Image:
    base = COLOURS[colour]
    img = Image.new("RGB", (S, S), base)
    d = ImageDraw.Draw(img)
    sec = _secondary(base)
    p = S // 8
    if pattern == "stripes":
        for x in range(-S, S, p):
            d.line([(x, S), (x + S, 0)], fill=sec, width=p // 3)
    elif pattern == "dots":
        for i, y in enumerate(range(p // 2, S, p)):
            for x in range(p // 2 + (p // 2 if i % 2 else 0), S, p):
                d.ellipse([x - p // 4, y - p // 4, x + p // 4, y + p // 4], fill=sec)
    elif pattern == "checks":
        for y in range(0, S, p):
            for x in range(0, S, p):
                if (x // p + y // p) % 2:
                    d.rectangle([x, y, x + p - 1, y + p - 1], fill=sec)
    elif pattern == "zigzag":
        for y in range(0, S + p, p):
            pts = [(x, y + (p // 3 if (x // (p // 2)) % 2 else -p // 3)) for x in range(0, S + p, p // 2)]
            d.line(pts, fill=sec, width=max(2, p // 5))
    return img


def _box(*fr: float) -> list[float]:
    return [v * S for v in fr]


def _draw(category: str, shape: str, body: ImageDraw.ImageDraw, det: ImageDraw.ImageDraw) -> None:
    """body: the mask filled with the product's pattern; det: fixed-colour details drawn on top."""
    W = 255
    if category == "backpack":
        r = 0.18 if shape == "rounded" else 0.03
        det.arc(_box(0.36, 0.08, 0.64, 0.32), 180, 360, fill=DARK, width=int(0.04 * S))
        body.rounded_rectangle(_box(0.18, 0.18, 0.82, 0.93), radius=r * S, fill=W)
        det.rounded_rectangle(_box(0.3, 0.55, 0.7, 0.86), radius=0.05 * S, outline=DARK, width=_w(4))
        det.line(_box(0.3, 0.62, 0.7, 0.62), fill=DARK, width=_w(3))
    elif category == "mug":
        body.ellipse(_box(0.58, 0.36, 0.88, 0.72), outline=W, width=int(0.06 * S))
        if shape == "straight":
            body.rectangle(_box(0.2, 0.22, 0.68, 0.86), fill=W)
        else:
            body.polygon(
                [tuple(_box(0.16, 0.22)), tuple(_box(0.72, 0.22)), tuple(_box(0.62, 0.86)), tuple(_box(0.26, 0.86))],
                fill=W,
            )
        det.ellipse(_box(0.2, 0.18, 0.68, 0.27) if shape == "straight" else _box(0.16, 0.18, 0.72, 0.27), fill=DARK)
    elif category == "sneaker":
        if shape == "low":
            pts = [(0.1, 0.72), (0.1, 0.5), (0.42, 0.45), (0.62, 0.55), (0.9, 0.62), (0.92, 0.72)]
        else:
            pts = [(0.1, 0.72), (0.13, 0.22), (0.4, 0.22), (0.45, 0.5), (0.7, 0.56), (0.92, 0.63), (0.92, 0.72)]
        body.polygon([tuple(_box(*p)) for p in pts], fill=W)
        det.rounded_rectangle(_box(0.07, 0.7, 0.94, 0.82), radius=0.04 * S, fill=LIGHT, outline=DARK, width=_w(2))
        for i in range(3):
            x = 0.42 + 0.08 * i
            det.line(_box(x, 0.48 + 0.02 * i, x + 0.05, 0.56 + 0.02 * i), fill=LIGHT, width=_w(4))
    elif category == "watch":
        body.rounded_rectangle(_box(0.38, 0.04, 0.62, 0.96), radius=0.05 * S, fill=W)
        if shape == "round":
            det.ellipse(_box(0.22, 0.28, 0.78, 0.72), fill=DARK)
            det.ellipse(_box(0.27, 0.33, 0.73, 0.67), fill=LIGHT)
        else:
            det.rounded_rectangle(_box(0.24, 0.28, 0.76, 0.72), radius=0.06 * S, fill=DARK)
            det.rounded_rectangle(_box(0.29, 0.33, 0.71, 0.67), radius=0.04 * S, fill=LIGHT)
        det.line(_box(0.5, 0.5, 0.5, 0.38), fill=DARK, width=_w(4))
        det.line(_box(0.5, 0.5, 0.62, 0.55), fill=DARK, width=_w(3))
    elif category == "lamp":
        if shape == "dome":
            body.chord(_box(0.16, 0.1, 0.84, 0.7), 180, 360, fill=W)
        else:
            body.polygon(
                [tuple(_box(0.36, 0.1)), tuple(_box(0.64, 0.1)), tuple(_box(0.82, 0.42)), tuple(_box(0.18, 0.42))],
                fill=W,
            )
        det.rectangle(_box(0.47, 0.4, 0.53, 0.86), fill=DARK)
        det.ellipse(_box(0.28, 0.82, 0.72, 0.94), fill=DARK)
    elif category == "bottle":
        body.rounded_rectangle(
            _box(0.37, 0.24, 0.63, 0.94) if shape == "slim" else _box(0.26, 0.3, 0.74, 0.94), radius=0.08 * S, fill=W
        )
        det.rounded_rectangle(
            _box(0.42, 0.08, 0.58, 0.26) if shape == "slim" else _box(0.38, 0.14, 0.62, 0.32),
            radius=0.03 * S,
            fill=DARK,
        )
    elif category == "headphones":
        body.arc(_box(0.18, 0.1, 0.82, 0.8), 180, 360, fill=W, width=int(0.08 * S))
        body.line(_box(0.22, 0.45, 0.22, 0.6), fill=W, width=int(0.07 * S))
        body.line(_box(0.78, 0.45, 0.78, 0.6), fill=W, width=int(0.07 * S))
        cups = (0.1, 0.48, 0.36, 0.9) if shape == "over-ear" else (0.14, 0.55, 0.32, 0.8)
        body.ellipse(_box(*cups), fill=W)
        body.ellipse(_box(1 - cups[2], cups[1], 1 - cups[0], cups[3]), fill=W)
        det.ellipse(_box(cups[0] + 0.05, cups[1] + 0.07, cups[2] - 0.05, cups[3] - 0.07), outline=DARK, width=_w(3))
    elif category == "chair":
        if shape == "armchair":
            body.rounded_rectangle(_box(0.22, 0.12, 0.78, 0.62), radius=0.06 * S, fill=W)
            body.rounded_rectangle(_box(0.14, 0.5, 0.86, 0.72), radius=0.05 * S, fill=W)
            body.rounded_rectangle(_box(0.1, 0.38, 0.24, 0.72), radius=0.05 * S, fill=W)
            body.rounded_rectangle(_box(0.76, 0.38, 0.9, 0.72), radius=0.05 * S, fill=W)
            for x in (0.16, 0.8):
                det.rectangle(_box(x, 0.72, x + 0.05, 0.9), fill=DARK)
        else:
            body.ellipse(_box(0.2, 0.2, 0.8, 0.38), fill=W)
            for x0, x1 in ((0.3, 0.2), (0.5, 0.5), (0.7, 0.8)):
                det.line(_box(x0, 0.34, x1, 0.92), fill=DARK, width=int(0.04 * S))
            det.line(_box(0.26, 0.7, 0.74, 0.7), fill=DARK, width=_w(4))
    elif category == "hat":
        if shape == "cap":
            body.chord(_box(0.14, 0.3, 0.74, 0.9), 180, 360, fill=W)
            body.polygon(
                [tuple(_box(0.6, 0.56)), tuple(_box(0.94, 0.6)), tuple(_box(0.9, 0.66)), tuple(_box(0.6, 0.64))], fill=W
            )
            det.ellipse(_box(0.41, 0.27, 0.47, 0.33), fill=DARK)
        else:
            body.ellipse(_box(0.06, 0.56, 0.94, 0.76), fill=W)
            body.polygon(
                [tuple(_box(0.28, 0.26)), tuple(_box(0.72, 0.26)), tuple(_box(0.8, 0.66)), tuple(_box(0.2, 0.66))],
                fill=W,
            )
            det.line(_box(0.24, 0.56, 0.76, 0.56), fill=DARK, width=_w(4))
    elif category == "handbag":
        if shape == "tote":
            det.arc(_box(0.3, 0.14, 0.7, 0.6), 180, 360, fill=DARK, width=int(0.035 * S))
            body.polygon(
                [tuple(_box(0.2, 0.38)), tuple(_box(0.8, 0.38)), tuple(_box(0.86, 0.9)), tuple(_box(0.14, 0.9))], fill=W
            )
        else:
            body.rounded_rectangle(_box(0.12, 0.4, 0.88, 0.76), radius=0.04 * S, fill=W)
            det.line([tuple(_box(0.12, 0.42)), tuple(_box(0.5, 0.6)), tuple(_box(0.88, 0.42))], fill=DARK, width=_w(4))
            det.ellipse(_box(0.47, 0.57, 0.53, 0.63), fill=LIGHT)
    elif category == "vase":
        if shape == "round":
            body.ellipse(_box(0.2, 0.32, 0.8, 0.94), fill=W)
            body.rectangle(_box(0.4, 0.12, 0.6, 0.4), fill=W)
        else:
            body.polygon(
                [
                    tuple(_box(0.36, 0.06)),
                    tuple(_box(0.64, 0.06)),
                    tuple(_box(0.58, 0.3)),
                    tuple(_box(0.68, 0.7)),
                    tuple(_box(0.6, 0.95)),
                    tuple(_box(0.4, 0.95)),
                    tuple(_box(0.32, 0.7)),
                    tuple(_box(0.42, 0.3)),
                ],
                fill=W,
            )
        det.line(
            _box(0.38, 0.12, 0.62, 0.12) if shape == "round" else _box(0.36, 0.07, 0.64, 0.07), fill=DARK, width=_w(5)
        )
    elif category == "speaker":
        if shape == "cylinder":
            body.rounded_rectangle(_box(0.3, 0.1, 0.7, 0.92), radius=0.14 * S, fill=W)
            for y in (0.3, 0.45, 0.6, 0.75):
                det.line(_box(0.36, y, 0.64, y), fill=DARK, width=_w(3))
        else:
            body.rectangle(_box(0.18, 0.16, 0.82, 0.9), fill=W)
            det.ellipse(_box(0.34, 0.22, 0.66, 0.46), fill=DARK)
            det.ellipse(_box(0.28, 0.5, 0.72, 0.86), fill=DARK)
            det.ellipse(_box(0.42, 0.6, 0.58, 0.76), fill=LIGHT)
    else:
        raise ValueError(f"no drawing for category {category!r}")


@lru_cache(maxsize=256)
def sprite(category: str, shape: str, colour: str, pattern: str, size: int = 256) -> Image.Image:
    """RGBA sprite of side `size` on a transparent background."""
    mask = Image.new("L", (S, S), 0)
    details = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    _draw(category, shape, ImageDraw.Draw(mask), ImageDraw.Draw(details))
    out = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    out.paste(_pattern(colour, pattern), (0, 0), mask)
    # a dark rim makes light colours (white, beige) visible on light backgrounds
    rim = mask.point(lambda v: 255 if v else 0).filter(ImageFilter.FIND_EDGES).filter(ImageFilter.MaxFilter(3))
    out.paste(DARK, (0, 0), rim)
    out.alpha_composite(details)
    return out.resize((size, size), Image.Resampling.LANCZOS)


# where a brand is printed on each drawing (centre, fractions of the sprite side)
LABEL_AT: dict[tuple[str, str], tuple[float, float]] = {
    ("backpack", "rounded"): (0.5, 0.42),
    ("backpack", "boxy"): (0.5, 0.42),
    ("mug", "straight"): (0.44, 0.56),
    ("mug", "tapered"): (0.44, 0.56),
    ("sneaker", "low"): (0.3, 0.62),
    ("sneaker", "high"): (0.26, 0.5),
    ("watch", "round"): (0.5, 0.6),
    ("watch", "square"): (0.5, 0.6),
    ("lamp", "dome"): (0.5, 0.32),
    ("lamp", "cone"): (0.5, 0.32),
    ("bottle", "slim"): (0.5, 0.6),
    ("bottle", "wide"): (0.5, 0.62),
    ("headphones", "over-ear"): (0.23, 0.69),
    ("headphones", "on-ear"): (0.23, 0.68),
    ("chair", "armchair"): (0.5, 0.32),
    ("chair", "stool"): (0.5, 0.29),
    ("hat", "cap"): (0.42, 0.52),
    ("hat", "bucket"): (0.5, 0.45),
    ("handbag", "tote"): (0.5, 0.66),
    ("handbag", "clutch"): (0.5, 0.7),
    ("vase", "round"): (0.5, 0.66),
    ("vase", "tall"): (0.5, 0.6),
    ("speaker", "cylinder"): (0.5, 0.2),
    ("speaker", "box"): (0.5, 0.89),
}


@lru_cache(maxsize=512)
def branded_sprite(category: str, shape: str, colour: str, pattern: str, brand: str, size: int = 256) -> Image.Image:
    """The sprite with the brand printed small on the body, as on a real product: about 1/22 of the
    sprite side, so 3-4 px high in a live frame (not readable there, a texture that differs by brand)."""
    from .fonts import font

    im = sprite(category, shape, colour, pattern, size).copy()
    d = ImageDraw.Draw(im)
    f = font(max(6, int(size / 22)), bold=True, condensed=True)
    cx, cy = LABEL_AT.get((category, shape), (0.5, 0.5))
    base = COLOURS[colour]
    lum = 0.299 * base[0] + 0.587 * base[1] + 0.114 * base[2]
    ink = (40, 40, 44, 255) if lum > 140 else (236, 236, 230, 255)
    d.text((cx * size, cy * size), brand.upper(), font=f, fill=ink, anchor="mm")
    return im
