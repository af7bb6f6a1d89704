import numpy as np

from ampere.windows import WindowAssembler
from ampere_synth.truth import expected_windows, on_air, score_tags

SR = 100  # a low sample rate keeps the arithmetic readable


def feed(asm, stream, seconds, chunk=1.0, t_start=0.0):
    out = []
    t = t_start
    while t < t_start + seconds - 1e-9:
        n = int(round(min(chunk, t_start + seconds - t) * SR))
        pcm = np.full(n, t, np.float32)  # sample value = chunk start: lets tests check alignment
        out += asm.add_frame(stream, t + 0.25, f"f{t}".encode())
        out += asm.add_audio(stream, t, pcm)
        t += n / SR
    return out


def test_windows_on_grid_with_overlap_and_tail():
    asm = WindowAssembler(window_s=8, hop_s=4, sample_rate=SR, frames_per_window=4)
    wins = feed(asm, "s", 22)
    assert [(w.start, w.end) for w in wins] == [(0, 8), (4, 12), (8, 16), (12, 20)]
    assert all(len(w.audio) == 8 * SR for w in wins)
    assert wins[1].audio[0] == 4.0 and wins[1].audio[-1] == 11.0  # audio is aligned with media time
    assert all(len(w.frames) == 4 and all(w.start <= t < w.end for t, _ in w.frames) for w in wins)
    tail = asm.end("s")
    assert [(w.start, w.end) for w in tail] == [(16, 22)]
    assert tail[-1].final and not any(w.final for w in wins)
    assert len(wins) + len(tail) == expected_windows(22, 8, 4)
    assert asm.streams() == []


def test_gap_is_padded_and_redelivery_is_trimmed():
    asm = WindowAssembler(window_s=4, hop_s=4, sample_rate=SR, frames_per_window=2)
    asm.add_audio("s", 0.0, np.ones(SR, np.float32))
    # 1 s chunk lost, then a duplicate of [2,3) arrives twice
    asm.add_audio("s", 2.0, np.ones(SR, np.float32) * 2)
    asm.add_audio("s", 2.0, np.ones(SR, np.float32) * 2)
    wins = asm.add_audio("s", 3.0, np.ones(SR, np.float32) * 3)
    assert len(wins) == 1 and len(wins[0].audio) == 4 * SR
    a = wins[0].audio
    assert (
        (a[:SR] == 1).all()
        and (a[SR : 2 * SR] == 0).all()
        and (a[2 * SR : 3 * SR] == 2).all()
        and (a[3 * SR :] == 3).all()
    )


def test_redelivered_frames_are_kept_once_and_open_from_follows_the_closed_windows():
    asm = WindowAssembler(window_s=8, hop_s=4, sample_rate=SR, frames_per_window=8)
    assert asm.open_from("s") is None
    feed(asm, "s", 5)
    assert asm.open_from("s") == 0  # [0, 8) still open
    feed(asm, "s", 5, t_start=0.0)  # redelivered from the start (a worker restarted before committing)
    wins = feed(asm, "s", 5, t_start=5.0)
    assert [(w.start, w.end) for w in wins] == [(0, 8)]
    assert [t for t, _ in wins[0].frames] == [0.25 + i for i in range(8)]
    assert asm.open_from("s") == 4
    assert asm.would_restart("s", 0.0) is False  # within a window of the grid: redelivery, not a restart
    feed(asm, "s", 10, t_start=10.0)
    assert asm.would_restart("s", 0.0) is True


def test_stream_joined_mid_way_starts_on_the_grid():
    asm = WindowAssembler(window_s=8, hop_s=4, sample_rate=SR, frames_per_window=4)
    wins = feed(asm, "s", 14, t_start=101.0)
    assert [(w.start, w.end) for w in wins] == [(104, 112)]
    assert wins[0].audio[0] == 104.0


def test_streams_are_independent():
    asm = WindowAssembler(window_s=4, hop_s=2, sample_rate=SR, frames_per_window=1)
    a = feed(asm, "a", 6)
    b = feed(asm, "b", 4)
    assert {w.stream_id for w in a} == {"a"} and {w.stream_id for w in b} == {"b"}
    assert len(a) == 2 and len(b) == 1


def test_truth_majority_and_scoring():
    segs = [{"start": 0, "end": 10, "product_id": "A"}, {"start": 10, "end": 20, "product_id": "B"}]
    assert on_air(segs, 0, 8) == "A" and on_air(segs, 8, 16) == "B" and on_air(segs, 6, 14) is None
    tags = [
        {"stream_id": "s", "start": 0, "end": 8, "product_id": "A"},
        {"stream_id": "s", "start": 0, "end": 8, "product_id": "A"},  # redelivered duplicate
        {"stream_id": "s", "start": 8, "end": 16, "product_id": "A"},
        {"stream_id": "s", "start": 6, "end": 14, "product_id": "A"},
    ]  # no majority: not scored
    sc = score_tags(tags, {"s": segs})
    assert (sc.windows, sc.correct) == (2, 1) and sc.top1 == 0.5
