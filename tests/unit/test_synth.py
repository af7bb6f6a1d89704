"""The tiny preset, built once per module: layout, truth, media and determinism."""
from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
import pytest

from ampere_synth import PRESETS, build_dataset, live_windows, make_products
from ampere.settings import get_settings
from ampere_synth.live import plan_streams
from ampere_synth.scripts import number_words, price_words
from ampere_synth.truth import on_air

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
    assert len(data["videos"]) == 9 and len(data["live"]) == 1
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
    for row in data["videos"][:3] + data["live"]:
        n, hw, dur, audio = _decode(tiny / row["path"])
        assert hw == (128, 128)
        assert abs(dur - row["duration"]) < 0.3
        assert abs(n - row["duration"] * fps) <= 1
        assert abs(len(audio) / 16000 - row["duration"]) < 0.3
        assert float(np.sqrt(np.mean(audio ** 2))) > 0.01  # speech is there
    for row in data["videos"]:
        assert 8 <= row["duration"] <= 15


def test_live_segments_cover_stream(data):
    products = {p["product_id"]: p for p in data["products"]}
    (stream,) = data["live"]
    segs = stream["segments"]
    assert 60 <= stream["duration"] <= 80 and len(segs) == 3
    assert segs[0]["start"] == 0 and segs[-1]["end"] == stream["duration"]
    for a, b in zip(segs, segs[1:]):
        assert a["end"] == b["start"]
    for s in segs:
        p = products[s["product_id"]]
        assert 16 <= s["end"] - s["start"] <= 32
        assert p["brand"] in s["script"] or p["model"] in s["script"]


def test_windows_match_segments(data):
    (stream,) = data["live"]
    wins = [w for w in data["windows"] if w["stream_id"] == stream["stream_id"]]
    assert len(wins) >= 12
    window, hop = get_settings().windows.window_s, get_settings().windows.hop_s
    for w in wins:
        assert w["id"] == f"{w['stream_id']}:{int(w['start'] * 1000)}"
        assert w["start"] % hop == 0 and w["end"] - w["start"] <= window
        assert w["product_id"] == on_air(stream["segments"], w["start"], w["end"])
    # every product on air gets at least three windows
    counts = defaultdict(int)
    for w in wins:
        counts[w["product_id"]] += 1
    assert all(counts[s["product_id"]] >= 3 for s in stream["segments"])


def test_live_windows_skip_ties_and_keep_tail():
    segs = [{"start": 0, "end": 10, "product_id": "a"}, {"start": 10, "end": 21, "product_id": "b"}]
    wins = live_windows([{"stream_id": "s", "duration": 21.0, "segments": segs}], 8.0, 4.0)
    got = [(w["start"], w["end"], w["product_id"]) for w in wins]
    # [6, 14) is a 4/4 tie: no majority, left out; [16, 21) is a tail of >= half a window
    assert got == [(0, 8, "a"), (4, 12, "a"), (8, 16, "b"), (12, 20, "b"), (16, 21.0, "b")]


def test_deterministic_by_seed(tiny, data, tmp_path):
    rows = [p.row() for p in make_products(PRESETS["tiny"], 0)]
    assert rows == data["products"]
    assert rows != [p.row() for p in make_products(PRESETS["tiny"], 1)]
    again = build_dataset(tmp_path / "again", "tiny", seed=0, workers=1, progress=None)
    for name in ("products", "catalog", "videos", "live", "windows"):
        assert (again / f"{name}.jsonl").read_bytes() == (tiny / f"{name}.jsonl").read_bytes(), name


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
    assert json.loads((copy / "manifest.json").read_text())["window_grid"]["window_s"] == get_settings().windows.window_s


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
