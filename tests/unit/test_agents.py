"""The agents' per-event work (streamer.agents.Stages) driven with fakes: no Kafka, no Redis, no models."""

import asyncio
from types import SimpleNamespace

import numpy as np

from ampere import media
from ampere.ingest import Ingestor
from ampere.records import AudioChunk, DeadLetter, StreamEnd, Tag, WindowReady, decode, decode_tag_json
from ampere.settings import Settings
from streamer.agents import Deps, Event, Stages


class FakePipeline:
    def __init__(self):
        self.ended, self.stored = [], []

    def store_window(self, win):
        self.stored.append(win)
        return WindowReady(
            stream_id=win.stream_id,
            start=win.start,
            end=win.end,
            blob_key="k",
            n_frames=0,
            closed_at=0.0,
            final=int(win.final),
        )

    def end_stream(self, stream_id, media_t=None):
        self.ended.append((stream_id, media_t))

    def hear(self, rec):
        raise RuntimeError("model server down")

    def see(self, rec):
        return None


def stages(settings=None):
    settings = settings or Settings()
    pipe = FakePipeline()
    sent = []

    async def send(stage, key, value):
        sent.append((stage, key, value))

    deps = Deps(settings=settings, pipeline=pipe, ingestor=Ingestor(None, settings.windows, settings.ingest))
    return Stages(lambda: deps, send), pipe, sent


def event(rec_or_bytes, offset=0):
    raw = rec_or_bytes if isinstance(rec_or_bytes, bytes) else rec_or_bytes.encode()
    return Event("ampere.media", 0, offset, b"s1", raw)


def audio(t0, seconds=1.0):
    pcm = np.full(int(16000 * seconds), 0.1, np.float32)
    return AudioChunk(
        stream_id="s1", seq=int(t0), t0=t0, sample_rate=16000, codec="flac", data=media.encode_audio(pcm, 16000)
    )


def run(coro):
    return asyncio.run(coro)


def test_closed_windows_are_stored_and_forwarded_and_the_end_is_recorded_whatever_follows():
    st, pipe, sent = stages()
    for t in range(10):
        run(st.ingest(event(audio(float(t)), offset=t)))
    run(st.ingest(event(StreamEnd(stream_id="s1", t=10.0), offset=10)))
    windows = [decode(v) for stage, _, v in sent if stage == "windows"]
    assert [(w.start, w.end) for w in windows] == [(0.0, 8.0), (4.0, 10.0)]
    assert windows[-1].final == 1
    # the stream is marked ended at ingest, even though its final window has not been tagged yet (it could
    # still fail in a stage): it must not stay "live now"
    assert pipe.ended == [("s1", 10.0)]


def test_a_poison_record_is_dead_lettered_with_its_reason_and_the_stream_goes_on():
    st, pipe, sent = stages()
    run(st.ingest(event(b"\x00\xffnot msgpack", offset=3)))
    run(st.ingest(event(audio(0.0), offset=4)))
    ((stage, key, value),) = sent
    letter = DeadLetter.decode(value)
    assert stage == "dead-letter" and key == b"s1"
    assert (letter.offset, letter.source_topic) == (3, "ampere.media") and "not a msgpack record" in letter.reason
    assert letter.payload == b"\x00\xffnot msgpack"


def test_a_failing_stage_dead_letters_the_window_instead_of_stopping_the_agent():
    st, pipe, sent = stages()
    rec = WindowReady(stream_id="s1", start=0.0, end=8.0, blob_key="k", n_frames=0, closed_at=0.0)
    assert run(st.transcribe(Event("ampere.windows", 1, 7, b"s1", rec.encode()))) is None
    ((stage, _, value),) = sent
    assert stage == "dead-letter" and "model server down" in DeadLetter.decode(value).reason


def test_stage_results_go_to_the_next_topic():
    st, pipe, sent = stages()
    tag = Tag(stream_id="s1", start=4.0, end=12.0, product_id="p1", score=0.9)
    fix = Tag(stream_id="s1", start=0.0, end=8.0, product_id="p2", score=0.7, correction=1)
    pipe.tag = lambda rec: [tag, fix]  # this window's tag and a correction of the previous one's
    from ampere.records import Embedded

    rec = Embedded(stream_id="s1", start=4.0, end=12.0, blob_key="k", n_frames=0, closed_at=0.0)
    assert run(st.tag(Event("ampere.embeddings", 0, 1, b"s1", rec.encode()))) == [tag, fix]
    got = [(s, decode_tag_json(v)) for s, _, v in sent]
    assert [(s, t.product_id, t.correction) for s, t in got] == [("tags", "p1", 0), ("tags", "p2", 1)]


def test_dependencies_are_built_on_first_use_only():
    built = []

    def factory():
        built.append(1)
        return SimpleNamespace()

    st = Stages(factory, send=None)
    assert built == []
    st.deps, st.deps  # noqa: B018
    assert built == [1]


def test_a_re_published_window_tagged_since_is_skipped_and_any_other_is_processed():
    st, pipe, sent = stages()
    heard = []
    pipe.tagged = lambda rec: rec.start == 0.0  # window 0 has a tag, window 4 has none
    pipe.hear = lambda rec: heard.append(rec.start) or SimpleNamespace()
    pipe.transcribed = lambda rec, h, s: WindowReady(**{**rec.__dict__})

    def window(start, redrive):
        rec = WindowReady(stream_id="s1", start=start, end=start + 8, blob_key="k", n_frames=0, closed_at=0.0)
        rec.redrive = redrive
        return Event("ampere.windows", 0, 1, b"s1", rec.encode())

    assert run(st.transcribe(window(0.0, 1))) is None  # queued, tagged meanwhile: not done twice
    run(st.transcribe(window(4.0, 1)))  # lost in flight: done now
    run(st.transcribe(window(0.0, 0)))  # the stream replayed by its owner: done again
    assert heard == [4.0, 0.0]
    assert [s for s, _, _ in sent] == ["transcripts", "transcripts"]


def test_windows_of_one_stream_keep_their_order_while_other_streams_go_beside_them():
    import threading
    import time

    st, pipe, sent = stages()
    log, lock = [], threading.Lock()

    def hear(rec):
        with lock:
            log.append(("start", rec.stream_id, rec.start))
        time.sleep(0.3 if (rec.stream_id, rec.start) == ("a", 0.0) else 0.01)
        with lock:
            log.append(("end", rec.stream_id, rec.start))
        return SimpleNamespace()

    pipe.hear = hear
    pipe.transcribed = lambda rec, h, s: WindowReady(**{**rec.__dict__})

    def window(stream, start):
        rec = WindowReady(stream_id=stream, start=start, end=start + 8, blob_key="k", n_frames=0, closed_at=0.0)
        return Event("ampere.windows", 0, int(start), stream.encode(), rec.encode())

    async def concurrently():  # what several agents sharing the topic's queue do
        return await asyncio.gather(*(st.transcribe(window(s, t)) for s, t in [("a", 0.0), ("a", 4.0), ("b", 0.0)]))

    assert all(r is not None for r in run(concurrently()))
    at = {entry: i for i, entry in enumerate(log)}
    assert at[("start", "a", 4.0)] > at[("end", "a", 0.0)]  # the stream's second window waited for its first
    assert at[("end", "b", 0.0)] < at[("end", "a", 0.0)]  # the other stream did not wait
    assert st._turns == {}  # nothing kept once the windows are through
    assert [decode(v).stream_id for s, _, v in sent] == ["b", "a", "a"]
