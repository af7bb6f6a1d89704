"""Frame helpers shared by training data and the runtime (numpy + Pillow + PyAV only, no torch),
so that training and serving prepare pixels the same way."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
from PIL import Image

FITS = ("squash", "crop", "pad")  # ModelConfig.image_fit


def fit_square(img: Image.Image | np.ndarray, size: int, fit: str = "squash") -> np.ndarray:
    """RGB uint8 [size, size, 3] from a frame of any shape; ``fit`` (ModelConfig.image_fit) says how a
    non-square frame becomes square, and must be the same in training and serving:

    - squash: plain resize (the shipped small model; distorts 16:9 frames),
    - crop: centre square of the short side (what ampere.media.square_rgb does to keyframes today),
    - pad: the whole frame, letterboxed on mid-grey.
    An already square frame is only resized, whatever the fit."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 RGB frame, got shape {img.shape}")
        if img.shape[0] == size and img.shape[1] == size and img.dtype == np.uint8:
            return img
        img = Image.fromarray(np.ascontiguousarray(img.astype(np.uint8)))
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    if w != h and fit != "squash":
        side = min(w, h) if fit == "crop" else max(w, h)
        if fit == "crop":
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))
        else:
            canvas = Image.new("RGB", (side, side), (127, 127, 127))
            canvas.paste(img, ((side - w) // 2, (side - h) // 2))
            img = canvas
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def fit_box(
    box: Sequence[float | None] | None, width: int, height: int, fit: str = "squash"
) -> tuple[float, float, float, float] | None:
    """A box (x0, y0, x1, y1), normalised to a ``width`` x ``height`` frame, in the normalised coordinates of
    that frame's square made by ``fit_square(..., fit)``; clipped to the square, None when no box is given
    (None or NaN entries) or none of it is left (a centre crop cuts off a product held at the frame's edge)."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if box is None or len(box) != 4 or any(v is None or v != v for v in box):
        return None
    x0, y0, x1, y1 = (float(v) for v in cast(Sequence[float], box))  # no None left (checked above)
    w, h = float(width), float(height)
    if w != h and fit != "squash":
        side = min(w, h) if fit == "crop" else max(w, h)
        # frame pixels -> square pixels: crop cuts a margin of (w - side) / 2, pad adds a border of (side - w) / 2
        ox, oy = (w - side) / 2, (h - side) / 2
        x0, x1 = (x0 * w - ox) / side, (x1 * w - ox) / side
        y0, y1 = (y0 * h - oy) / side, (y1 * h - oy) / side
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def to_square(img: Image.Image | np.ndarray, size: int) -> np.ndarray:
    """``fit_square(img, size, "squash")``: a plain resize, the shipped model's preprocessing."""
    return fit_square(img, size, "squash")


def pick_evenly(n: int, k: int) -> list[int]:
    """k indices spread evenly over n items (centre of k equal segments); repeats when n < k."""
    if n <= 0:
        raise ValueError("need at least one frame")
    return [min(n - 1, int((i + 0.5) * n / k)) for i in range(k)]


def segment_centres(start: float, end: float, k: int) -> list[float]:
    """Centre times of k equal segments of [start, end] (the AMPere frame sampling)."""
    span = max(end - start, 0.0)
    return [start + (i + 0.5) * span / k for i in range(k)]


def load_image(path: Path, size: int, fit: str = "squash") -> np.ndarray:
    with Image.open(path) as im:
        return fit_square(im, size, fit)


def sample_video_frames(path: Path, times: Sequence[float], size: int, fit: str = "squash") -> np.ndarray:
    """Frames nearest to each time (seconds), [len(times), size, size, 3] uint8.

    One sequential decode per file serves many times (all windows of a stream at once), which is
    much cheaper than seeking per frame for the small GOP-less files we deal with.
    """
    import av

    if not times:
        return np.zeros((0, size, size, 3), np.uint8)
    order = sorted(range(len(times)), key=lambda i: times[i])
    out = np.zeros((len(times), size, size, 3), np.uint8)
    filled = [False] * len(times)
    j = 0
    prev = None  # (time, frame)
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            while j < len(order) and times[order[j]] <= t:
                target = times[order[j]]
                best = frame if prev is None or abs(t - target) <= abs(prev[0] - target) else prev[1]
                out[order[j]] = fit_square(best.to_image(), size, fit)
                filled[order[j]] = True
                j += 1
            if j >= len(order):
                break
            prev = (t, frame)
    # times past the last frame get the last frame
    if not all(filled):
        if prev is None:
            raise ValueError(f"{path}: no decodable video frames")
        last = fit_square(prev[1].to_image(), size, fit)
        for i, f in enumerate(filled):
            if not f:
                out[i] = last
    return out
