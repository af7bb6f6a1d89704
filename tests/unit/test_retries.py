"""Outages are retried, never dead-lettered; bad records are, with a stable reason (streamer.agents.Stages with
fakes); ampere.replay checks every send and sends again what the broker refused or lost."""

import asyncio

import numpy as np
import pytest
import redis

from ampere import media
from ampere.errors import category_of, is_transient
from ampere.ingest import Ingestor
from ampere.records import AudioChunk, DeadLetter, Embedded, WindowReady
from ampere.replay import CheckedSender, ReplayError, ReplayStats
from ampere.settings import Settings
from streamer.agents import Deps, Event, Stages

FAST = {"initial_s": 0.01, "max_s": 0.02, "jitter_s": 0.0}


class Pipe:
    def __init__(self, failures=0, exc=None):
        self.failures, self.exc, self.calls, self.stored = failures, exc, 0, []

    def _maybe_fail(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc

    def store_window(self, win):
        self._maybe_fail()
        self.stored.append(win.window_id)
        return WindowReady(
            stream_id=win.stream_id, start=win.start, end=win.end, blob_key="k", n_frames=0, closed_at=0.0
        )

    def hear(self, rec):  # the ASR half of the transcribe stage: this one meets the outage
        self._maybe_fail()
        return "heard"

    def see(self, rec):
        return "seen"

    def transcribed(self, rec, heard, seen):
        return Embedded(**{k: v for k, v in rec.to_dict().items() if k not in ("v", "type")})

    def end_stream(self, *a):
        pass


def stages(pipe, **retry):
    s = Settings(retry={**FAST, **retry})
    sent = []

    async def send(stage, key, value):
        sent.append((stage, value))

    deps = Deps(settings=s, pipeline=pipe, ingestor=Ingestor(None, s.windows, s.ingest))
    return Stages(lambda: deps, send), sent


def window_event():
    rec = WindowReady(stream_id="s1", start=8.0, end=16.0, blob_key="k", n_frames=0, closed_at=0.0)
    return Event("ampere.windows", 1, 7, b"s1", rec.encode())


def test_transient_classification():
    assert is_transient(redis.ConnectionError("down")) and is_transient(redis.TimeoutError())
    assert is_transient(redis.BusyLoadingError("LOADING"))
    assert not is_transient(ValueError("bad")) and not is_transient(media.MediaError("x"))
    from kafka.errors import KafkaConnectionError, UnknownProducerIdError

    assert is_transient(KafkaConnectionError()) and is_transient(UnknownProducerIdError())


def test_an_outage_in_a_stage_is_waited_out_not_dead_lettered():
    pipe = Pipe(failures=3, exc=redis.ConnectionError("Error 111 connecting to redis://:pw@127.0.0.1:1"))
    st, sent = stages(pipe)
    asyncio.run(st.transcribe(window_event()))
    assert pipe.calls == 4
    assert [stage for stage, _ in sent] == ["transcripts"]


def test_a_window_whose_media_cannot_be_stored_waits_and_is_then_forwarded():
    pipe = Pipe(failures=4, exc=redis.TimeoutError("Timeout reading from socket"))
    st, sent = stages(pipe)
    for t in range(9):
        pcm = np.full(16000, 0.1, np.float32)
        rec = AudioChunk(
            stream_id="s1", seq=t, t0=float(t), sample_rate=16000, codec="flac", data=media.encode_audio(pcm, 16000)
        )
        asyncio.run(st.ingest(Event("ampere.media", 0, t, b"s1", rec.encode())))
    assert pipe.stored == ["s1:0"] and [s for s, _ in sent] == ["windows"]


def test_an_outage_outlasting_give_up_is_a_transient_dead_letter_that_can_be_re_driven():
    pipe = Pipe(failures=10**6, exc=redis.ConnectionError("down"))
    st, sent = stages(pipe, give_up_s=0.05)
    ev = window_event()
    asyncio.run(st.transcribe(ev))
    ((stage, value),) = sent
    letter = DeadLetter.decode(value)
    assert stage == "dead-letter" and category_of(letter.reason) == "transient"
    assert letter.reason.startswith("transient: window s1:8000: ") and letter.payload == ev.value


def test_reasons_name_the_record_and_the_window_and_carry_no_reprs():
    class Bug(Pipe):
        def hear(self, rec):
            raise RuntimeError(f"failed on {object()!r} with {b'x' * 100!r}")

    st, sent = stages(Bug())
    asyncio.run(st.transcribe(window_event()))
    reason = DeadLetter.decode(sent[0][1]).reason
    assert reason.startswith("internal-error: window s1:8000: RuntimeError: failed on <object>")
    assert "0x" not in reason and "xxxxxxxx" not in reason
    st, sent = stages(Pipe())
    bad = AudioChunk(stream_id="s1", seq=3, t0=12.0, sample_rate=16000, codec="flac", data=b"fLaC junk")
    asyncio.run(st.ingest(Event("ampere.media", 0, 3, b"s1", bad.encode())))
    reason = DeadLetter.decode(sent[0][1]).reason
    assert reason.startswith("bad-media: audio s1#3 at 12.000 s (window s1:12000): cannot decode audio chunk")


def test_a_refused_send_is_retried_until_the_broker_takes_it():
    from kafka.errors import KafkaConnectionError

    class Refusing:
        def __init__(self):
            self.n = 0

        def __await__(self):
            self.n += 1
            if self.n < 3:
                raise KafkaConnectionError("broker away")
            return iter([])

    pipe = Pipe()
    st, _ = stages(pipe)
    refusing = Refusing()
    tries = []

    async def send(stage, key, value):
        tries.append(stage)
        return refusing

    st.send = send
    asyncio.run(st.transcribe(window_event()))
    assert tries == ["transcripts"] * 3


# --- ampere replay ---------------------------------------------------------------------------------------


class Fut:
    def __init__(self, ok=True, offset=0, exc=None):
        self.is_done, self._ok, self.exception = True, ok, exc
        self.value = type("MD", (), {"offset": offset})()

    def failed(self):
        return not self._ok


class Producer:
    """Acknowledges sends according to ``plan(n)`` -> Fut; records what it was given."""

    def __init__(self, plan, cluster="c1"):
        self.plan, self.sent, self.closed = plan, [], False
        self._metadata = type("M", (), {"cluster_id": cluster})()

    def send(self, topic, key=None, value=None):
        self.sent.append(value)
        return self.plan(len(self.sent))

    def flush(self, timeout=None):
        pass

    def close(self, timeout=None):
        self.closed = True


def sender(producers, **retry):
    s = Settings(retry={**FAST, **retry})
    it = iter(producers)
    stats = ReplayStats("s1")
    cs = CheckedSender("kafka://127.0.0.1:1", s, "t", b"s1", stats, producer_factory=lambda: next(it))
    return cs, stats


@pytest.fixture(autouse=True)
def no_admin(monkeypatch):
    import ampere.broker
    import ampere.replay

    monkeypatch.setattr(ampere.replay, "ensure_topics", lambda *a, **k: [])
    monkeypatch.setattr(ampere.broker, "cluster_id", lambda *a, **k: None)


def test_what_the_broker_refused_is_sent_again_in_order_by_a_new_producer():
    from kafka.errors import UnknownProducerIdError

    first = Producer(lambda n: Fut(ok=n < 3, exc=UnknownProducerIdError()))
    second = Producer(lambda n: Fut())
    cs, stats = sender([first, second])
    for i in range(5):
        cs.send(float(i), b"r%d" % i)
    cs.flush()
    # refused at once (every send is checked): r2 again, then r3 and r4 on the new producer, in order
    assert first.closed and second.sent == [b"r2", b"r3", b"r4"]
    assert stats.delivered == 5 and stats.resent == 1 and stats.producer_restarts == 1


def test_an_acknowledgement_without_an_offset_is_not_a_delivery():
    first = Producer(lambda n: Fut(offset=-1 if n == 2 else n))
    cs, stats = sender([first, Producer(lambda n: Fut())])
    for i in range(3):
        cs.send(float(i), b"r%d" % i)
    cs.flush()
    assert stats.resent == 1 and stats.delivered == 3


def test_when_the_broker_lost_its_data_the_last_acknowledged_stretch_is_sent_again():
    first, second = Producer(lambda n: Fut(), cluster="c1"), Producer(lambda n: Fut(), cluster="c2")
    cs, stats = sender([first, second], replay_rewind_s=3.0)
    for i in range(10):
        cs.send(float(i), b"r%d" % i)
    first._metadata.cluster_id = "c2"  # a memory-only broker restarted empty
    cs.send(10.0, b"r10")
    cs.flush()
    assert stats.broker_changes == 1
    # the 3 s of media the lost broker acknowledged before r10, then r10
    assert second.sent == [b"r%d" % i for i in (7, 8, 9, 10)]


def test_records_that_cannot_be_delivered_raise_with_the_first_undelivered_second():
    from kafka.errors import KafkaTimeoutError

    down = lambda: Producer(lambda n: Fut(ok=False, exc=KafkaTimeoutError("Batch expired")))
    cs, stats = sender(
        [Producer(lambda n: Fut(ok=n < 4, exc=KafkaTimeoutError()))] + [down() for _ in range(10)], replay_attempts=3
    )
    with pytest.raises(ReplayError, match="from media second 3.0 on were not delivered") as exc:
        for i in range(6):
            cs.send(float(i), b"r%d" % i)
        cs.flush()
    assert exc.value.stats.first_undelivered == 3.0 and exc.value.stats.delivered == 3
    assert "--resume" in str(exc.value)
