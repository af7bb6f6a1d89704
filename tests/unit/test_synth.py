"""The tiny preset, built once per module: layout, truth, media and determinism."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from ampere.settings import get_settings
from ampere_synth import PRESETS, build_dataset, live_windows, make_products
from ampere_synth.live import plan_heldout_streams, plan_streams
from ampere_synth.scripts import HELDOUT_PRICE_SHAPES, is_heldout, number_words, price_words
from ampere_synth.speech import FIT_VOICES, HELDOUT_VOICES
from ampere_synth.truth import expected_windows, on_air

VISUAL = ("category", "shape", "colour", "pattern")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    t = time.time()
    out = build_dataset(tmp_path_factory.mktemp("synth") / "tiny", "tiny", seed=0, workers=2, progress=None)
    assert time.time() - t < 60, "the tiny preset must build in under a minute"
    return out


@pytest.fixture(scope="module")
def data(tiny):
    return {name: _jsonl(tiny / f"{name}.jsonl") for name in ("products", "catalog", "videos", "live", "windows")}


def test_layout_and_counts(tiny, data):
    m = json.loads((tiny / "manifest.json").read_text())
    assert (m["preset"], m["seed"]) == ("tiny", 0)
    assert m["counts"]["products"] == len(data["products"]) == 9
    assert len(data["catalog"]) == 9 * PRESETS["tiny"].page_images
    assert len(data["videos"]) == 9 and len(data["live"]) == 2  # one regular stream, one held-out
    assert [s["heldout"] for s in data["live"]] == [False, True]
    for row in data["catalog"]:
        assert (tiny / row["image"]).is_file() and row["title"]
        assert row["attributes"]["brand"] in row["title"] and f"${row['attributes']['price']}" in row["title"]
    for row in data["videos"] + data["live"]:
        assert (tiny / row["path"]).is_file()
    # nothing half-built is left next to the dataset
    assert [p.name for p in tiny.parent.iterdir()] == ["tiny"]


def test_lookalike_groups_differ_only_in_words(data):
    groups = defaultdict(list)
    for p in data["products"]:
        groups[p["group"]].append(p)
    assert len(groups) == 3
    looks = set()
    for members in groups.values():
        assert len(members) >= 3
        assert len({tuple(p[k] for k in VISUAL) for p in members}) == 1  # they look the same
        words = {(p["brand"], p["model"], p["material"], p["price"]) for p in members}
        assert len(words) == len(members)  # the words tell them apart
        assert len({(p["brand"], p["model"]) for p in members}) == len(members)
        looks.add(tuple(members[0][k] for k in VISUAL))
    assert len(looks) == len(groups)  # different groups look different


def test_splits_by_group(data):
    by_group = defaultdict(set)
    for p in data["products"]:
        assert p["split"] in ("train", "val", "test")
        by_group[p["group"]].add(p["split"])
    assert all(len(s) == 1 for s in by_group.values())
    assert {s for v in by_group.values() for s in v} == {"train", "val", "test"}


def _decode(path: Path) -> tuple[int, tuple[int, int], float, np.ndarray]:
    with av.open(str(path)) as c:
        assert {s.type for s in c.streams} >= {"video", "audio"}
        duration = c.duration / 1e6
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=16000)
        audio = np.concatenate([g.to_ndarray().reshape(-1) for f in c.decode(audio=0) for g in rs.resample(f)])
    return len(frames), frames[0].shape[:2], duration, audio


def test_media_decodes(tiny, data):
    fps = PRESETS["tiny"].fps
    with Image.open(tiny / data["catalog"][0]["image"]) as im:
        assert im.size == (224, 224)
    for row in data["videos"][:3] + data["live"]:
        n, hw, dur, audio = _decode(tiny / row["path"])
        assert hw == ((360, 640) if row in data["live"] else (256, 256))
        assert abs(dur - row["duration"]) < 0.3
        assert abs(n - row["duration"] * fps) <= 1
        assert abs(len(audio) / 16000 - row["duration"]) < 0.3
        assert float(np.sqrt(np.mean(audio**2))) > 0.01  # speech is there
    for row in data["videos"]:
        assert 8 <= row["duration"] <= 15


def test_live_segments_cover_stream(data):
    products = {p["product_id"]: p for p in data["products"]}
    stream = data["live"][0]
    segs = stream["segments"]
    assert 70 <= stream["duration"] <= 110
    assert [s["kind"] for s in segs] == ["intro", "product", "product", "product", "outro"]
    assert segs[0]["start"] == 0 and segs[-1]["end"] == stream["duration"]
    for a, b in zip(segs, segs[1:]):
        assert a["end"] == b["start"]
    for s in segs:
        if s["kind"] != "product":
            continue
        p = products[s["product_id"]]
        assert 16 <= s["end"] - s["start"] <= 32
        assert p["brand"] in s["script"] or p["model"] in s["script"]


def test_intro_and_outro_show_and_name_no_product(data):
    names = [w for p in data["products"] for w in (p["brand"], p["model"])]
    for stream in data["live"]:
        segs = stream["segments"]
        assert segs[0]["kind"] == "intro" and segs[-1]["kind"] == "outro"
        for s in segs:
            if s["kind"] == "product":
                assert s["product_id"] is not None
                continue
            assert s["product_id"] is None and s["screen"]["price_card"] is None and s["screen"]["name_card"] is None
            assert (6 <= s["end"] - s["start"] <= 12.1) if s["kind"] != "break" else (5 <= s["end"] - s["start"] <= 9.1)
            assert not any(n in s["script"] for n in names)  # nothing is pitched
            assert s["sentences"][0]["family"] == {"intro": "greeting", "outro": "outro", "break": "break"}[s["kind"]]
            # no product in the frame: its box is null all through the segment
            inside = [b for b in stream["boxes"] if s["start"] + 0.7 <= b[0] < s["end"] - 0.1]
            assert inside and all(b[1:] == [None] * 4 for b in inside)


def test_windows_match_segments(data):
    window, hop = get_settings().windows.window_s, get_settings().windows.hop_s
    for stream in data["live"]:
        wins = [w for w in data["windows"] if w["stream_id"] == stream["stream_id"]]
        # every window of the grid, as the live pipeline cuts them; null where no product holds a majority
        assert len(wins) == expected_windows(stream["duration"], window, hop)
        for w in wins:
            assert w["id"] == f"{w['stream_id']}:{int(w['start'] * 1000)}"
            assert w["start"] % hop == 0 and w["end"] - w["start"] <= window
            assert w["product_id"] == on_air(stream["segments"], w["start"], w["end"])
        assert wins[0]["product_id"] is None and wins[-1]["product_id"] is None  # intro and outro
        # every product on air gets at least three windows
        counts = defaultdict(int)
        for w in wins:
            counts[w["product_id"]] += 1
        assert all(counts[s["product_id"]] >= 3 for s in stream["segments"] if s["product_id"])


def test_live_windows_keep_ties_and_tail_as_null_or_product():
    segs = [{"start": 0, "end": 10, "product_id": "a"}, {"start": 10, "end": 21, "product_id": "b"}]
    wins = live_windows([{"stream_id": "s", "duration": 21.0, "segments": segs}], 8.0, 4.0)
    got = [(w["start"], w["end"], w["product_id"]) for w in wins]
    # [16, 21) is a tail of >= half a window
    assert got == [(0, 8, "a"), (4, 12, "a"), (8, 16, "b"), (12, 20, "b"), (16, 21.0, "b")]
    segs = [{"start": 0, "end": 6, "product_id": None}, {"start": 6, "end": 16, "product_id": "a"}]
    wins = live_windows([{"stream_id": "s", "duration": 16.0, "segments": segs}], 8.0, 4.0)
    # a stream ending on the grid still gets the tail window the live assembler closes ([12, 16))
    assert [(w["start"], w["product_id"]) for w in wins] == [(0, None), (4, "a"), (8, "a"), (12, "a")]
    ties = live_windows(
        [
            {
                "stream_id": "s",
                "duration": 16.0,
                "segments": [{"start": 0, "end": 8, "product_id": "a"}, {"start": 8, "end": 16, "product_id": "b"}],
            }
        ],
        8.0,
        4.0,
    )
    # [4, 12) is a 4/4 tie: no majority, kept with a null product
    assert [(w["start"], w["product_id"]) for w in ties] == [(0, "a"), (4, None), (8, "b"), (12, "b")]


def test_deterministic_by_seed(tiny, data, tmp_path):
    rows = [p.row() for p in make_products(PRESETS["tiny"], 0)]
    assert rows == data["products"]
    assert rows != [p.row() for p in make_products(PRESETS["tiny"], 1)]
    again = build_dataset(tmp_path / "again", "tiny", seed=0, workers=1, progress=None)
    for name in ("products", "catalog", "videos", "live", "windows"):
        assert (again / f"{name}.jsonl").read_bytes() == (tiny / f"{name}.jsonl").read_bytes(), name
    for row in data["live"] + data["videos"][:2]:  # the media too, overlays and speech included
        assert (again / row["path"]).read_bytes() == (tiny / row["path"]).read_bytes(), row["path"]


def test_cache_returns_without_rebuilding(tiny):
    before = (tiny / "products.jsonl").stat().st_mtime_ns
    said = []
    t = time.time()
    assert build_dataset(tiny, "tiny", seed=0, progress=said.append) == tiny
    assert time.time() - t < 1.0 and said == []
    assert (tiny / "products.jsonl").stat().st_mtime_ns == before


def test_only_the_window_grid_is_redone(tiny, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["window_grid"] = {"window_s": 6.0, "hop_s": 3.0}
    (copy / "manifest.json").write_text(json.dumps(m))
    (copy / "windows.jsonl").write_text("")
    assert build_dataset(copy, "tiny", seed=0, progress=None) == copy
    assert (copy / "windows.jsonl").read_bytes() == (tiny / "windows.jsonl").read_bytes()
    assert (
        json.loads((copy / "manifest.json").read_text())["window_grid"]["window_s"] == get_settings().windows.window_s
    )


def test_refuses_to_replace_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        build_dataset(tmp_path, "tiny", progress=None)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_bad_input():
    with pytest.raises(ValueError, match="unknown preset"):
        build_dataset(Path("/nonexistent/x"), "huge")
    assert price_words(49) == "forty nine dollars"
    assert number_words(155) == "one hundred fifty five"


def test_bench_preset_meets_its_spec():
    b = PRESETS["bench"]
    products = make_products(b, 0)
    assert len(products) >= 300 and len({p.category for p in products}) >= 10
    assert b.page_images >= 2 and b.videos_per_product == 2 and b.segment_s[0] >= 16
    on_air_ids = {p.product_id for shown in plan_streams(products, b, 0) for p in shown}
    assert on_air_ids == {p.product_id for p in products}  # every product goes on air


def test_demo_plan_puts_every_split_on_air():
    d = PRESETS["demo"]
    products = make_products(d, 0)
    shown = [p for s in plan_streams(products, d, 0) for p in s]
    assert len(shown) == d.live_streams * d.products_per_stream
    assert {p.split for p in shown} == {"train", "val", "test"}


def test_bench_preset_has_heldout_streams_of_test_products():
    b = PRESETS["bench"]
    products = make_products(b, 0)
    held = plan_heldout_streams(products, b, 0)
    assert 5 <= len(held) <= 6
    assert {p.split for s in held for p in s} == {"test"}
    assert {p.product_id for s in held for p in s} == {p.product_id for p in products if p.split == "test"}


def _variant_heldout(variant: str) -> bool:
    head, *shapes = variant.split("|")
    family, k = head.rsplit(".", 1)
    held = is_heldout(family, int(k))
    assert all((s in HELDOUT_PRICE_SHAPES) == held for s in shapes), variant  # prices said the same way
    return held


def test_heldout_streams_use_only_heldout_phrasings_and_voices(data):
    split = {p["product_id"]: p["split"] for p in data["products"]}
    fit_voices, held_voices = {v for _, v in FIT_VOICES}, {v for _, v in HELDOUT_VOICES}
    for stream in data["live"]:
        sents = [s for seg in stream["segments"] for s in seg["sentences"]]
        assert sents
        for s in sents:
            assert _variant_heldout(s["variant"]) == stream["heldout"], s
            assert s["voice"] in (held_voices if stream["heldout"] else fit_voices), s
            assert (s["engine"], s["voice"]) in (HELDOUT_VOICES if stream["heldout"] else FIT_VOICES)
        if stream["heldout"]:
            assert {split[seg["product_id"]] for seg in stream["segments"] if seg["product_id"]} == {"test"}
    for v in data["videos"]:  # short videos are fitted on: fit phrasings and voices only
        assert all(not _variant_heldout(s["variant"]) and s["voice"] in fit_voices for s in v["sentences"])


def test_sentences_are_tagged_and_timed(data):
    families = set()
    for stream in data["live"]:
        for seg in stream["segments"]:
            sents = seg["sentences"]
            assert seg["script"] == " ".join(s["text"].rstrip(".") + "." for s in sents)
            prev = seg["start"]
            for s in sents:
                assert set(s) == {"text", "family", "variant", "voice", "engine", "t0", "t1"}
                assert s["variant"].startswith(s["family"] + ".")
                assert prev <= s["t0"] < s["t1"] <= seg["end"]
                prev = s["t1"]
                families.add(s["family"])
    assert {"greeting", "transition", "outro"} <= families


def test_screen_truth_is_consistent(data):
    products = {p["product_id"]: p for p in data["products"]}
    for stream in data["live"]:
        assert stream["size"] == [640, 360]
        dur = stream["duration"]
        # the product's box every 0.5 s, normalised, null where no product shows
        assert [b[0] for b in stream["boxes"]] == [round(0.5 * i, 3) for i in range(len(stream["boxes"]))]
        assert abs(stream["boxes"][-1][0] - dur) <= 0.5
        product_segs = [s for s in stream["segments"] if s["product_id"]]
        assert sum(s["screen"]["name_card"] is not None for s in product_segs) <= len(product_segs) / 3
        shown = [b for b in stream["boxes"] if b[1] is not None]
        assert shown and all(0 <= b[1] < b[3] <= 1 and 0 <= b[2] < b[4] <= 1 for b in shown)
        for seg in stream["segments"]:
            sc = seg["screen"]
            assert set(sc) == {"price_card", "name_card", "badges", "chat"}
            for item in [sc["price_card"], sc["name_card"], *sc["badges"]]:
                if item:
                    assert seg["start"] <= item["t0"] < item["t1"] <= seg["end"] + 1e-6
                    assert 0 <= item["box"][0] < item["box"][2] <= 1 and 0 <= item["box"][1] < item["box"][3] <= 1
            if seg["product_id"]:
                p = products[seg["product_id"]]
                if sc["price_card"]:
                    pc = sc["price_card"]
                    assert pc["price"] == p["price"]
                    assert pc["text"] in next(r["title"] for r in data["catalog"] if r["product_id"] == p["product_id"])
                    assert pc["old_price"] is None or pc["old_price"] > pc["price"]
                if sc["name_card"]:
                    assert (sc["name_card"]["brand"], sc["name_card"]["model"]) == (p["brand"], p["model"])
                # a product segment's box shows the product once it has slid in
                inside = [b for b in stream["boxes"] if seg["start"] + 0.7 <= b[0] < seg["end"] - 0.1]
                assert any(b[1] is not None for b in inside)
            for c in sc["chat"]:
                assert seg["start"] <= c["t0"] < seg["end"] and c["t0"] < c["t1"] <= dur
                if c["product_id"]:
                    named = products[c["product_id"]]
                    assert named["model"] in c["text"] or named["brand"] in c["text"]


def _frame_at(path: Path, t: float) -> np.ndarray:
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.time is not None and f.time >= t - 1e-3:
                return f.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {t}")


def test_overlays_are_drawn_when_the_truth_says(tiny, data):
    stream = data["live"][0]
    cards = [(seg, seg["screen"]["price_card"]) for seg in stream["segments"] if seg["screen"]["price_card"]]
    assert cards, "seed 0's tiny stream shows a price card"
    seg, pc = cards[0]
    path = tiny / stream["path"]
    h, w = 360, 640
    x0, y0, x1, y1 = (int(round(v * s)) for v, s in zip(pc["box"], (w, h, w, h)))
    assert 20 <= (y1 - y0) <= 90  # legible at 640x360
    on = _frame_at(path, (pc["t0"] + pc["t1"]) / 2)[y0:y1, x0:x1].astype(int)
    off = _frame_at(path, 1.0)[y0:y1, x0:x1].astype(int)  # the intro: no price card
    assert np.abs(on - off).mean() > 25
    # the product is small in the frame: 0.2-0.35 of the height (rotation adds a little to its box)
    for b in stream["boxes"]:
        if b[1] is not None and 0 < b[3] - b[1] and b[2] > 0 and b[4] < 1:
            assert (b[4] - b[2]) <= 0.5
