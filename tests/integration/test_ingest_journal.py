"""Open windows survive a worker change: ampere.ingest journals their media in a real Redis."""

import numpy as np
import pytest

from ampere import media
from ampere.ingest import Ingestor
from ampere.records import AudioChunk, Keyframe, StreamEnd
from ampere.store import Store

pytestmark = pytest.mark.integration

SR = 16000


@pytest.fixture
def store(services, settings_for):
    settings = settings_for()
    st = Store.connect(services.redis_url, settings.redis)
    yield settings, st
    st.r.close()


def ingestor(settings, streams):
    return Ingestor(streams, settings.windows, settings.ingest)


def records(stream_id: str, seconds: int = 21):
    """1 s FLAC chunks of a tone whose pitch rises (every sample differs) and keyframes at 2 fps."""
    out = []
    for s in range(seconds):
        t = np.arange(s * SR, (s + 1) * SR) / SR
        pcm = (0.3 * np.sin(2 * np.pi * (200 + 10 * t) * t)).astype(np.float32)
        out.append(
            AudioChunk(
                stream_id=stream_id,
                seq=2 * s,
                t0=float(s),
                sample_rate=SR,
                codec="flac",
                data=media.encode_audio(pcm, SR),
            )
        )
        for half in (0.0, 0.5):
            rgb = np.full((32, 32, 3), int(10 * (s + half)) % 255, np.uint8)
            out.append(
                Keyframe(stream_id=stream_id, seq=2 * s + 1, t=s + half, codec="jpeg", data=media.encode_jpeg(rgb))
            )
    return out + [StreamEnd(stream_id=stream_id, t=float(seconds))]


def run(ingestors, recs, switch_at):
    """Feed records to the first ingestor until media time switch_at, then to the second (a new owner)."""
    windows = []
    for rec in recs:
        t = getattr(rec, "t0", getattr(rec, "t", 0.0))
        windows += (ingestors[0] if t < switch_at else ingestors[1]).handle(rec)
    return {w.window_id: w for w in windows}


def test_a_new_worker_rebuilds_the_open_windows_from_the_journal(store):
    settings, st = store
    sid = "journal-1"
    reference = run([ingestor(settings, None)] * 2, records(sid), switch_at=1e9)
    assert len(reference) >= 4

    # without a journal the new owner misses what the old one had consumed: the open windows come out cut
    lost = run([ingestor(settings, None), ingestor(settings, None)], records(sid), switch_at=10.5)
    assert any(len(lost.get(k, w).audio) != len(w.audio) or k not in lost for k, w in reference.items())

    handed_over = run([ingestor(settings, st.streams), ingestor(settings, st.streams)], records(sid), switch_at=10.5)
    assert handed_over.keys() == reference.keys()
    for k, w in reference.items():
        got = handed_over[k]
        assert (got.start, got.end, got.final) == (w.start, w.end, w.final)
        np.testing.assert_allclose(got.audio, w.audio, atol=1e-4)
        assert [t for t, _ in got.frames] == [t for t, _ in w.frames]
    assert not st.r.exists(st.keys.journal(sid))  # the stream ended: nothing left behind


def test_the_journal_holds_only_the_open_windows_media(store):
    settings, st = store
    sid = "journal-2"
    ing = ingestor(settings, st.streams)
    for rec in records(sid)[:-1]:  # no end: the stream is still on air
        ing.handle(rec)
    # 21 s of media, 8 s windows every 4 s: only what the next window [16, 24) needs stays (~5 s)
    entries = st.streams.journal(sid)
    assert 0 < len(entries) <= 3 * (settings.windows.window_s + 1)
    assert st.r.ttl(st.keys.journal(sid)) > 0
    st.streams.journal_delete(sid)
