"""A tiny dataset in the generated-data layout (docs/DESIGN.md), for tests of the encoders only.

Each product is a coloured shape on a background; pages, videos and live segments show it with
jitter, so a visual tower can learn something in a few steps. No audio (the encoders do not read it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def _product_image(rng: np.random.Generator, colour, shape: str, size: int = 64) -> np.ndarray:
    bg = tuple(int(c) for c in rng.integers(150, 256, 3))
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    s = size * rng.uniform(0.5, 0.7)
    x0, y0 = rng.uniform(0, size - s, 2)
    box = [x0, y0, x0 + s, y0 + s]
    if shape == "circle":
        d.ellipse(box, fill=colour)
    elif shape == "square":
        d.rectangle(box, fill=colour)
    else:
        d.polygon([(x0, y0 + s), (x0 + s, y0 + s), (x0 + s / 2, y0)], fill=colour)
    return np.asarray(im)


def _write_mp4(path: Path, frames: list[np.ndarray], fps: int) -> None:
    import av

    with av.open(str(path), "w") as out:
        st = out.add_stream("mpeg4", rate=fps)
        st.width, st.height = frames[0].shape[1], frames[0].shape[0]
        st.pix_fmt = "yuv420p"
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)


def make_fake_dataset(
    root: str | Path, n_products: int = 6, seed: int = 0, fps: int = 4, video_s: float = 2.0, segment_s: float = 4.0
) -> Path:
    root = Path(root)
    for sub in ("pages", "videos", "live"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    products, catalog, videos, segments, windows, live_frames = [], [], [], [], [], []
    for i in range(n_products):
        pid = f"p{i:03d}"
        colour = tuple(int(c) for c in rng.integers(0, 150, 3))
        shape = SHAPES[i % len(SHAPES)]
        split = "train" if i < n_products - 2 else "val"
        name = f"{shape} thing {i}"
        products.append(
            {
                "product_id": pid,
                "group": f"g{i}",
                "category": "toy",
                "brand": f"brand{i}",
                "model": f"m{i}",
                "colour": str(colour),
                "material": "plastic",
                "price": 10 + i,
                "shape": shape,
                "pattern": "plain",
                "split": split,
            }
        )
        for j in range(2):
            img = f"pages/{pid}_{j}.jpg"
            Image.fromarray(_product_image(rng, colour, shape)).save(root / img, quality=90)
            catalog.append(
                {
                    "id": f"{pid}-page{j}",
                    "product_id": pid,
                    "title": f"{name} by brand{i}",
                    "image": img,
                    "attributes": {"shape": shape},
                }
            )
        vpath = f"videos/{pid}.mp4"
        _write_mp4(root / vpath, [_product_image(rng, colour, shape) for _ in range(int(video_s * fps))], fps)
        videos.append(
            {
                "id": f"{pid}-vid0",
                "product_id": pid,
                "path": vpath,
                "duration": video_s,
                "script": f"look at this {name}, only {10 + i} dollars",
            }
        )
        t0 = i * segment_s
        segments.append({"start": t0, "end": t0 + segment_s, "product_id": pid, "script": f"live now: the {name}"})
        live_frames += [_product_image(rng, colour, shape) for _ in range(int(segment_s * fps))]
        for w in range(2):
            s = t0 + w * segment_s / 2
            windows.append(
                {
                    "id": f"s0:{int(s * 1000)}",
                    "stream_id": "s0",
                    "product_id": pid,
                    "start": s,
                    "end": s + segment_s / 2,
                }
            )
    _write_mp4(root / "live" / "s0.mp4", live_frames, fps)
    live = [{"stream_id": "s0", "path": "live/s0.mp4", "duration": n_products * segment_s, "segments": segments}]
    for name, rows in (
        ("products", products),
        ("catalog", catalog),
        ("videos", videos),
        ("live", live),
        ("windows", windows),
    ):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
