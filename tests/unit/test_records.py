import msgpack
import pytest

from ampere.records import (
    SCHEMA_VERSION,
    AudioChunk,
    BadRecord,
    DeadLetter,
    Keyframe,
    StreamEnd,
    Summarized,
    Tag,
    Transcribed,
    WindowReady,
    decode,
)


def test_round_trip_every_stage():
    w = WindowReady(stream_id="s1", start=4.0, end=12.0, blob_key="blob:s1:4000", n_frames=4, closed_at=1.5)
    t = Transcribed(**{k: v for k, v in w.to_dict().items() if k not in ("v", "type")}, text="hi", asr_ms=3.0)
    s = Summarized(**{k: v for k, v in t.to_dict().items() if k not in ("v", "type")}, summary="x")
    for rec in (w, t, s, Tag(stream_id="s1", start=0, end=8, product_id="P1", score=0.9, candidates=[["P1", 0.9]])):
        back = decode(rec.encode())
        assert type(back) is type(rec) and back == rec
    assert w.window_id == "s1:4000"


def test_audio_and_frame_checks():
    ok = AudioChunk(stream_id="s", seq=0, t0=0.0, sample_rate=16000, codec="flac", data=b"x")
    assert decode(ok.encode(), expect=(AudioChunk,)) == ok
    with pytest.raises(BadRecord, match="codec"):
        decode(AudioChunk(stream_id="s", seq=0, t0=0.0, sample_rate=16000, codec="mp3", data=b"x").encode())
    with pytest.raises(BadRecord, match="unexpected record type"):
        decode(StreamEnd(stream_id="s", t=1.0).encode(), expect=(Keyframe,))


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\xc1\xff garbage", "not a msgpack record"),
        (msgpack.packb([1, 2, 3]), "expected a map"),
        (msgpack.packb({"v": 99, "type": "audio"}), "unknown schema version 99"),
        (msgpack.packb({"v": SCHEMA_VERSION, "type": "video"}), "unknown record type"),
        (msgpack.packb({"v": SCHEMA_VERSION, "type": "end", "t": 1.0}), "missing field 'stream_id'"),
        (msgpack.packb({"v": SCHEMA_VERSION, "type": "end", "stream_id": "s", "t": "late"}), "expected number"),
        (msgpack.packb({"v": SCHEMA_VERSION, "type": "end", "stream_id": "s", "t": float("nan")}), "finite"),
        (msgpack.packb({"v": SCHEMA_VERSION, "type": "end", "stream_id": "", "t": 1.0}), "bad stream_id"),
        # a stream id is part of Redis keys and their hash tag: braces, spaces and control characters are refused
        (msgpack.packb({"v": SCHEMA_VERSION, "type": "end", "stream_id": "a}{b", "t": 1.0}), "bad stream_id"),
        (msgpack.packb({"v": SCHEMA_VERSION, "type": "end", "stream_id": "x" * 500, "t": 1.0}), "bad stream_id"),
        (None, "empty message"),
    ],
)
def test_bad_records_have_reasons(raw, reason):
    with pytest.raises(BadRecord, match=reason):
        decode(raw)


def test_oversized():
    rec = Keyframe(stream_id="s", seq=1, t=0.5, codec="jpeg", data=b"\0" * 5000)
    with pytest.raises(BadRecord, match="oversized record"):
        decode(rec.encode(), max_bytes=1000)
    assert decode(rec.encode(), max_bytes=10_000) == rec


def test_dead_letter_round_trip():
    dl = DeadLetter(source_topic="ampere.media", partition=2, offset=7, reason="bad", payload=b"\x00\x01", key=b"s")
    assert DeadLetter.decode(dl.encode()) == dl
