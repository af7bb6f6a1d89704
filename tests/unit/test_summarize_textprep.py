import json
import shutil
import subprocess
from fractions import Fraction

import av
import pytest

from ampere import media
from ampere.settings import Settings
from ampere_train.textprep import prepare_texts, read_texts


def _speech_mp4(tmp_path, name, text):
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    wav = tmp_path / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), text], check=True)
    pcm = media.read_audio(str(wav), 0.0, None, 16000)
    path = tmp_path / f"{name}.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        st = out.add_stream("aac", rate=16000)
        st.layout = "mono"
        for i in range(0, len(pcm), 1024):
            fr = av.AudioFrame.from_ndarray(pcm[i : i + 1024].reshape(1, -1), format="fltp", layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = 16000, i, Fraction(1, 16000)
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path.name, len(pcm) / 16000


def test_prepare_texts_writes_and_caches(tmp_path):
    vname, _ = _speech_mp4(tmp_path, "v0", "Here we have the Silver Oak Falcon 300 backpack, only forty nine dollars.")
    lname, dur = _speech_mp4(
        tmp_path,
        "l0",
        "Hello everyone, welcome to the stream. Now look at this leather "
        "backpack. The price is forty nine dollars. Drop a heart in the chat.",
    )
    (tmp_path / "videos.jsonl").write_text(json.dumps({"id": "v0", "product_id": "p0", "path": vname}) + "\n")
    (tmp_path / "live.jsonl").write_text(json.dumps({"stream_id": "s0", "path": lname, "duration": dur}) + "\n")
    wins = [
        {"id": "s0-w0", "stream_id": "s0", "product_id": "p0", "start": 0.0, "end": dur / 2},
        {"id": "s0-w1", "stream_id": "s0", "product_id": "p0", "start": dur / 2, "end": dur},
    ]
    (tmp_path / "windows.jsonl").write_text("".join(json.dumps(w) + "\n" for w in wins))
    settings = Settings(summarizer="keyword")
    logs = []
    paths = prepare_texts(tmp_path, settings, progress=logs.append, workers=1)
    raw, summ = read_texts(paths["raw_asr"]), read_texts(paths["summary"])
    assert set(raw) == set(summ) == {"v0", "s0-w0", "s0-w1"}
    assert "falcon" in raw["v0"].lower() and "49" in raw["s0-w0"] + raw["s0-w1"]
    assert "welcome" in raw["s0-w0"].lower() and "welcome" not in raw["s0-w1"].lower()
    # second run: everything cached, files unchanged
    before = paths["raw_asr"].read_text(), paths["summary"].read_text()
    logs.clear()
    prepare_texts(tmp_path, settings, progress=logs.append, workers=1)
    assert (paths["raw_asr"].read_text(), paths["summary"].read_text()) == before
    assert any("nothing to do" in m for m in logs)
    # another summarizer kind: summaries are redone, ASR is not
    prepare_texts(tmp_path, Settings(summarizer="raw"), progress=logs.append, workers=1)
    assert paths["raw_asr"].read_text() == before[0]
    assert read_texts(paths["summary"])["v0"] == raw["v0"]


def test_prepare_texts_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unknown text mode"):
        prepare_texts(tmp_path, Settings(), modes=("captions",))
    with pytest.raises(FileNotFoundError, match="videos.jsonl"):
        prepare_texts(tmp_path, Settings(), progress=lambda m: None)


def test_summary_chains_keep_each_stream_in_order_and_videos_apart():
    from ampere_train.textprep import _chains

    order = [
        ("v0", None),
        ("v1", None),
        ("a:0", None),
        ("a:4", "a:0"),
        ("a:8", "a:4"),
        ("b:0", None),
        ("b:4", "b:0"),
        ("c:8", "c:4"),
    ]  # c:0 and c:4 were cached by an interrupted run
    chains = _chains(order, videos_per_chain=1)
    assert [("a:0", None), ("a:4", "a:0"), ("a:8", "a:4")] in chains
    assert [("b:0", None), ("b:4", "b:0")] in chains and [("c:8", "c:4")] in chains
    assert [("v0", None)] in chains and [("v1", None)] in chains
    assert sorted(x for c in chains for x in c) == sorted(order)
