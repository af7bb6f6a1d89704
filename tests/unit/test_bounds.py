"""Bounded, validated media: the assembler's reorder/late/jump rules and the ingestor's per-record checks."""

import io
import math
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from ampere import media
from ampere.ingest import Ingestor
from ampere.records import AudioChunk, Keyframe, StreamEnd
from ampere.settings import Settings
from ampere.windows import WindowAssembler

SR = 100


def asm(**kw):
    return WindowAssembler(window_s=4, hop_s=4, sample_rate=SR, frames_per_window=2, **kw)


def chunk(t):
    return np.full(SR, t + 1, np.float32)  # sample value = second + 1 (0 is silence)


def test_out_of_order_chunks_within_the_bound_are_put_back_in_order():
    a = asm(reorder_s=2.0)
    out = []
    for t in (0, 1, 3, 2):  # 2 arrives after 3, within 2 s
        a.check_audio("s", float(t), SR)
        out += a.add_audio("s", float(t), chunk(t))
    (w,) = out
    assert [w.audio[i * SR] for i in range(4)] == [1, 2, 3, 4]  # no silence, in order


def test_a_chunk_later_than_the_bound_is_refused_not_replaced_by_silence():
    a = asm(reorder_s=2.0)
    for t in (0, 1, 3, 4, 5):  # 2 is missing; 3 s of audio waited past the hole: it is padded
        a.check_audio("s", float(t), SR)
        a.add_audio("s", float(t), chunk(t))
    with pytest.raises(media.LateMedia, match="padded with silence") as exc:
        a.check_audio("s", 2.0, SR)
    assert exc.value.category == "late-media"
    # a plain redelivery of real audio is still dropped quietly
    a.check_audio("s", 1.0, SR)


def test_a_time_jump_is_refused_unless_the_next_chunk_confirms_the_new_clock():
    a = asm(max_jump_s=10.0)
    for t in range(10):
        a.add_audio("s", float(t), chunk(t))
    with pytest.raises(media.MediaLimit, match="jumps 390.0 s ahead"):
        a.check_audio("s", 400.0, SR)
    a.check_audio("s", 10.0, SR)  # a hostile record alone: the stream goes on where it was
    a.add_audio("s", 10.0, chunk(10))
    with pytest.raises(media.MediaLimit):
        a.check_audio("s", 400.0, SR)
    # the source really resumed at 400 s: the next chunk continues from the refused one
    with pytest.raises(media.MediaLimit):
        a.check_audio("s", 500.0, SR)
    a.check_audio("s", 501.0, SR)
    out = a.add_audio("s", 501.0, chunk(1))
    for t in range(502, 508):
        out += a.add_audio("s", float(t), chunk(1))
    # no windows of silence over the hole: the old clock's open window closes, the new one starts at 504
    assert [w.start for w in out] == [8.0, 504.0]
    assert all(w.audio.min() > 0 for w in out)


def test_a_small_hole_is_still_padded():
    a = asm(max_jump_s=10.0, reorder_s=0.0)
    a.add_audio("s", 0.0, chunk(0))
    (w,) = a.add_audio("s", 3.0, chunk(3))
    assert (w.audio[SR : 3 * SR] == 0).all()


def test_keyframe_bounds():
    a = asm(max_jump_s=10.0, max_frames_per_s=3)
    a.add_audio("s", 0.0, chunk(0))
    for i in range(3):
        a.check_frame("s", 0.1 * i)
        a.add_frame("s", 0.1 * i, b"j")
    with pytest.raises(media.MediaLimit, match="more than 3 keyframes in media second 0"):
        a.check_frame("s", 0.5)
    a.check_frame("s", 0.1)  # redelivered: not refused
    with pytest.raises(media.MediaLimit, match="ahead of the stream's audio"):
        a.check_frame("s", 100.0)


def _stereo_flac(rate=16000):
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        st = out.add_stream("flac", rate=rate)
        st.layout, st.format = "stereo", "s16"
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 2 * rate), np.int16), format="s16", layout="stereo")
        fr.sample_rate, fr.pts, fr.time_base = rate, 0, Fraction(1, rate)
        for pkt in st.encode(fr):
            out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def test_audio_is_checked_as_decoded():
    with pytest.raises(media.MediaError, match="2 channels"):
        media.decode_audio(_stereo_flac(), 16000)
    bomb = media.encode_audio(np.zeros(16000 * 120, np.float32), 16000)
    assert len(bomb) < 64_000  # two minutes of silence in a few KB
    with pytest.raises(media.MediaLimit, match="more than 10 s"):
        media.decode_audio(bomb, 16000, max_s=10)


def _jpeg(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(buf, "JPEG", quality=5)
    return buf.getvalue()


def test_frame_pixels_are_checked_from_the_header_before_decoding(monkeypatch):
    big = _jpeg(2000, 1500)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    with pytest.raises(media.MediaLimit, match="2000x1500"):
        media.decode_jpeg(big, max_pixels=1920 * 1080)
    assert decoded == []  # refused on its header alone
    assert media.jpeg_size(big, max_pixels=10**7) == (2000, 1500)
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS <= 4096 * 4096


def _ingestor(**limits):
    s = Settings(limits=limits) if limits else Settings()
    return Ingestor(None, s.windows, s.ingest, limits=s.limits)


def _audio(sid, t0, pcm=None, rate=16000):
    pcm = np.full(rate, 0.1, np.float32) if pcm is None else pcm
    return AudioChunk(stream_id=sid, seq=0, t0=t0, sample_rate=rate, codec="flac", data=media.encode_audio(pcm, rate))


def test_ingest_refuses_what_is_over_the_limits():
    ing = _ingestor(max_chunk_s=2.0, max_frame_pixels=64 * 64)
    with pytest.raises(media.MediaLimit):
        ing.prepare(_audio("s", 0.0, np.zeros(16000 * 5, np.float32)))
    with pytest.raises(media.MediaLimit, match="pixels"):
        ing.prepare(Keyframe(stream_id="s", seq=0, t=0.0, codec="jpeg", data=_jpeg(100, 100)))
    with pytest.raises(media.MediaLimit, match="past the longest stream"):
        ing.prepare(_audio("s", 1e9))
    with pytest.raises(media.MediaError, match="no samples"):
        ing.prepare(_audio("s", 0.0, np.zeros(0, np.float32)))


def test_open_streams_per_worker_are_bounded_and_idle_ones_leave_memory():
    now = [0.0]
    s = Settings(limits={"max_streams": 2, "stream_idle_s": 60})
    ing = Ingestor(None, s.windows, s.ingest, limits=s.limits, clock=lambda: now[0])
    ing.handle(_audio("a", 0.0))
    ing.handle(_audio("b", 0.0))
    with pytest.raises(media.MediaLimit, match="more than 2 open streams"):
        ing.handle(_audio("c", 0.0))
    ing.handle(_audio("a", 1.0))  # known streams go on
    now[0] = 1000.0
    ing.handle(_audio("c", 0.0))  # a and b were idle: dropped from memory
    assert set(ing.assembler.streams()) == {"c"}


class FlakyStreams:
    """A journal whose Redis fails every other call (an outage in the middle of each step)."""

    def __init__(self):
        self.data, self.calls = {}, 0

    def _maybe_fail(self):
        self.calls += 1
        if self.calls % 2:
            raise ConnectionError("Redis is down")

    def journal(self, sid):
        self._maybe_fail()
        return [raw for raw, _ in sorted(self.data.get(sid, {}).items(), key=lambda kv: kv[1])]

    def journal_append(self, sid, raw, span):
        self._maybe_fail()
        self.data.setdefault(sid, {})[raw] = span

    def journal_trim(self, sid, keep_from):
        self._maybe_fail()
        self.data[sid] = {r: s for r, s in self.data.get(sid, {}).items() if s > keep_from + 1e-6}

    def journal_delete(self, sid):
        self._maybe_fail()
        self.data.pop(sid, None)


def _retry(fn, *args):
    for _ in range(10):
        try:
            return fn(*args)
        except ConnectionError:
            continue
    raise AssertionError("never succeeded")


def test_each_ingest_step_can_be_retried_after_an_outage_without_losing_or_doubling_anything():
    s = Settings()
    recs = [_audio("s", float(t), np.full(16000, 0.01 * (t + 1), np.float32)) for t in range(21)]
    recs.append(StreamEnd(stream_id="s", t=21.0))
    reference = Ingestor(None, s.windows, s.ingest)
    want = [w for r in recs for w in reference.handle(r)]

    ing = Ingestor(FlakyStreams(), s.windows, s.ingest)
    got = []
    for r in recs:
        p = ing.prepare(r)
        got += _retry(ing.accept, p)
        _retry(ing.commit, p)
    assert [(w.start, w.end, w.final) for w in got] == [(w.start, w.end, w.final) for w in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.audio, b.audio)
    assert math.isclose(got[-1].end, 21.0)
