"""ampere.ocr: frame checks, the unchanged-frame check, and (marker ``models``) reading a rendered price card.

The ``models`` tests load the PP-OCR models shipped in the ``rapidocr`` wheel (about 1 s, ~270 MB RSS)
and are skipped where it is not installed.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ampere.ocr import BadFrame, OcrOptions, Reader, TextLine, changed, check_frame, reading_order, region_of, thumbnail

FONTS = "/usr/share/fonts/truetype/dejavu/"


def _font(name: str, size: int):
    try:
        return ImageFont.truetype(FONTS + name, size)
    except OSError:
        pytest.skip("DejaVu fonts not installed")


def render_frame(
    price: str = "$149.99", old: str = "$199.99", seed: int = 0, size=(640, 360), quality: int = 75
) -> np.ndarray:
    """A live-commerce frame: busy background, a price card with a struck-through old price, a badge and a
    chat line naming another product; JPEG-compressed like a keyframe."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = (rng.random((h // 12, w // 12, 3)) * 255).astype(np.uint8)
    img = Image.fromarray(base).resize((w, h), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    d = ImageDraw.Draw(img)
    for _ in range(8):  # the product and the host, roughly
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(20, 90))
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    s = w / 640
    d.rounded_rectangle([440 * s, 248 * s, 632 * s, 332 * s], int(12 * s), fill=(250, 250, 244))
    d.text((452 * s, 258 * s), price, font=_font("DejaVuSans-Bold.ttf", int(36 * s)), fill=(200, 20, 30))
    small = _font("DejaVuSans.ttf", int(16 * s))
    d.text((454 * s, 304 * s), old, font=small, fill=(90, 90, 90))
    d.line([454 * s, 315 * s, 524 * s, 315 * s], fill=(90, 90, 90), width=max(1, int(2 * s)))
    d.rectangle([10 * s, 10 * s, 124 * s, 38 * s], fill=(220, 0, 0))
    d.text((18 * s, 14 * s), "LIVE DEAL", font=_font("DejaVuSans-Bold.ttf", int(16 * s)), fill="white")
    d.rectangle([10 * s, 298 * s, 330 * s, 330 * s], fill=(0, 0, 0))
    d.text((16 * s, 305 * s), "mike22: is the Zorvik 40 back?", font=small, fill="white")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


# --- without the models --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, why",
    [
        ([[1, 2, 3]], "numpy array"),
        (np.zeros((36, 64), np.uint8), "HxWx3"),
        (np.zeros((36, 64, 4), np.uint8), "HxWx3"),
        (np.zeros((36, 64, 3), np.float32), "uint8"),
        (np.zeros((0, 64, 3), np.uint8), "empty"),
    ],
)
def test_bad_frames_raise_a_typed_error_with_a_reason(bad, why):
    with pytest.raises(BadFrame) as err:
        check_frame(bad)
    assert isinstance(err.value, ValueError) and why in err.value.reason
    with pytest.raises(BadFrame):
        Reader().read(bad)


def test_construction_loads_nothing_and_a_disabled_reader_reads_nothing():
    reader = Reader(OcrOptions(enabled=False))
    assert not reader.loaded
    assert reader.read(render_frame()) == [] and not reader.loaded


def test_oversized_and_thin_frames_are_bounded():
    with pytest.raises(BadFrame, match="pixel limit"):
        Reader(OcrOptions(max_pixels=320 * 180, oversize="reject")).read(np.zeros((360, 640, 3), np.uint8))
    with pytest.raises(BadFrame, match="aspect"):
        Reader().read(np.zeros((4, 4000, 3), np.uint8))


@pytest.mark.parametrize(
    "kw",
    [
        dict(threads=0),
        dict(min_score=1.5),
        dict(det_limit_type="both"),
        dict(oversize="crop"),
        dict(skip_unchanged=-1),
        dict(thumb_size=(1, 1)),
    ],
)
def test_options_are_checked(kw):
    with pytest.raises(ValueError):
        OcrOptions(**kw)


def test_engine_parameters_follow_the_options():
    params = Reader(OcrOptions(rec_batch=3, det_limit_side_len=480, threads=2))._params()
    assert params["Rec.rec_batch_num"] == 3 and params["Det.limit_side_len"] == 480
    assert params["EngineConfig.onnxruntime.intra_op_num_threads"] == 2
    assert Reader()._params()["Rec.rec_batch_num"] == 1  # one line per run: no padding to the widest line


def test_the_unchanged_check_skips_the_same_frame_and_not_a_new_price():
    frame = render_frame("$149.99")
    moved, thumb = changed(None, frame)
    assert moved and thumb.shape == (36, 64)
    moved, again = changed(thumb, frame.copy())
    assert not moved and np.array_equal(again, thumb)
    # the same picture compressed again is the same frame
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "JPEG", quality=60)
    assert not changed(thumb, np.asarray(Image.open(buf).convert("RGB")))[0]
    # a new price on the card is a change, though it is a small part of the frame
    assert changed(thumb, render_frame("$129.99"))[0]
    # another size of frame has another thumbnail grid only when it is smaller than the grid
    assert thumbnail(np.zeros((10, 20, 3), np.uint8)).shape == (10, 20)


def test_regions_and_reading_order():
    assert region_of((0.7, 0.7, 0.95, 0.85)) == "bottom-right"
    assert region_of((0.4, 0.4, 0.6, 0.6)) == "centre"
    a = TextLine("$149.99", 1.0, (0.70, 0.72, 0.96, 0.84), "bottom-right")
    b = TextLine("$199.99", 1.0, (0.70, 0.83, 0.82, 0.90), "bottom-right")
    c = TextLine("mike22: hi", 1.0, (0.02, 0.85, 0.41, 0.90), "bottom-left")
    assert [ln.text for ln in reading_order([b, a, c])] == ["$149.99", "mike22: hi", "$199.99"]


# --- with the models ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reader():
    pytest.importorskip("rapidocr")
    r = Reader(OcrOptions(threads=1))
    r.load()
    return r


@pytest.mark.models
def test_reads_a_rendered_price_card_exactly(reader):
    lines = reader.read(render_frame("$149.99"))
    texts = [ln.text for ln in lines]
    assert "$149.99" in texts, texts
    price = next(ln for ln in lines if ln.text == "$149.99")
    assert price.region == "bottom-right" and price.score > 0.9
    assert all(0.0 <= v <= 1.0 for v in price.box) and price.box[0] < price.box[2]
    assert any("Zorvik 40" in t for t in texts), texts  # the chat line is read too


@pytest.mark.models
def test_an_unchanged_frame_is_not_read_again(reader):
    frame = render_frame("$89.99", seed=3)
    before = reader.stats.read, reader.stats.skipped
    first = reader.read(frame, stream="s1")
    again = reader.read(frame.copy(), stream="s1")
    assert again == first and (reader.stats.read, reader.stats.skipped) == (before[0] + 1, before[1] + 1)
    other = reader.read(render_frame("$79.99", seed=3), stream="s1")
    assert reader.stats.read == before[0] + 2
    assert "$79.99" in [ln.text for ln in other]
    reader.forget("s1")


@pytest.mark.models
def test_lines_that_did_not_change_are_not_recognised_again_and_a_new_digit_is(reader):
    stats = reader.stats
    first = reader.read(render_frame("$89.99", seed=3), stream="s2")
    assert "$89.99" in [ln.text for ln in first]
    # the host moved (another background): the frame is read, but lines on opaque cards are not recognised again
    reused = stats.lines_reused
    moved = reader.read(render_frame("$89.99", seed=4), stream="s2")
    assert stats.lines_reused - reused >= 2, (stats, [ln.text for ln in moved])  # at least the card and badge
    assert {"$89.99", "LIVE DEAL"} <= {ln.text for ln in moved}
    # one digit of the price changed: that line is recognised, not taken from the previous frame
    recognised = stats.lines_recognised
    new_price = reader.read(render_frame("$88.99", seed=4), stream="s2")
    texts = [ln.text for ln in new_price]
    assert "$88.99" in texts and "$89.99" not in texts, texts
    assert stats.lines_recognised > recognised
    # without reuse the same frame reads the same lines
    plain = Reader(OcrOptions(threads=1, reuse_lines=0))
    assert [ln.text for ln in plain.read(render_frame("$88.99", seed=4), stream="s2")] == texts
    assert plain.stats.lines_reused == 0
    reader.forget("s2")


@pytest.mark.models
def test_a_large_frame_is_downscaled_before_reading():
    pytest.importorskip("rapidocr")
    r = Reader(OcrOptions(max_pixels=640 * 360))
    lines = r.read(render_frame("$149.99", size=(1280, 720)))
    assert r.stats.downscaled == 1 and "$149.99" in [ln.text for ln in lines]


if __name__ == "__main__":  # pragma: no cover - a look at the test frame
    Image.fromarray(render_frame()).save(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ocr_test_frame.png")
