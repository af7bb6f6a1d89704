"""TrueType fonts for overlays: DejaVu (Debian's fonts-dejavu-core) where installed, else Pillow's
bundled default font at the same size."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@lru_cache(maxsize=128)
def font(size: int, bold: bool = False, condensed: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans" + ("Condensed" if condensed else "") + ("-Bold" if bold else "") + ".ttf"
    try:
        return ImageFont.truetype(str(DEJAVU / name), size)
    except OSError:
        return ImageFont.load_default(size=size)  # type: ignore[return-value]  # FreeType-backed at a size
