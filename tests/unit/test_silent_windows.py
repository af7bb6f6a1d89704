"""A window of digital silence with no words shows no product (ampere.pipeline.Pipeline._silent)."""

from types import SimpleNamespace

import numpy as np

from ampere.pipeline import Pipeline
from ampere.records import Embedded
from ampere.settings import Settings
from ampere.windows import WindowMedia


class Streams:
    def __init__(self):
        self.tags, self.ended, self.states = [], [], {}

    def record_tag(self, *args, **kw):
        self.tags.append(args)

    def end(self, *a):
        self.ended.append(a)

    def put_segmenter_state(self, stream_id, start, state):
        self.states[(stream_id, start)] = state

    def segmenter_state(self, stream_id, start):
        return self.states.get((stream_id, start))


def pipeline():
    p = Pipeline.__new__(Pipeline)
    p.settings = Settings()
    store = SimpleNamespace(
        streams=Streams(),
        keys=SimpleNamespace(blob=lambda s, t: f"blob:{s}:{t}"),
        blobs=SimpleNamespace(put=lambda key, mapping: None),
    )
    p.store = store
    p._tag = lambda rec: (_ for _ in ()).throw(AssertionError("the tagger must not see a silent window"))
    return p


def window(rms, text="", final=0):
    return Embedded(
        stream_id="s", start=8.0, end=16.0, blob_key="k", n_frames=4, closed_at=0.0, rms=rms, text=text, final=final
    )


def test_silence_without_words_is_no_product():
    p = pipeline()
    (tag,) = p.tag(window(0.0, final=1))
    assert tag.product_id == "" and tag.score == 0.0 and tag.decision == "none"
    assert p.store.streams.tags == [("s", 8.0, 16.0, "", 0.0, [])]  # "now" moves off the last product
    assert p.store.streams.ended  # the final window still ends the stream


def test_a_silent_window_keeps_the_products_the_stream_has_shown():
    p = pipeline()
    hop = p.settings.windows.hop_s
    p.store.streams.states[("s", 8.0 - hop)] = {"scores": {"B": 0.0}, "decision": "B", "last": "B", "left": ["A"]}
    p.tag(window(0.0))
    state = p.store.streams.states[("s", 8.0)]
    assert state["scores"] == {"": 0.0} and state["decision"] == ""
    assert state["left"] == ["A"] and state["last"] == "B"  # the return prior still knows A was shown


def test_speech_or_sound_or_unknown_level_goes_to_the_tagger():
    p = pipeline()
    seen = []
    p._tag = lambda rec: seen.append(rec) or None
    p.tag(window(0.0, text="this lamp"))  # words over silence (the recognizer heard something)
    p.tag(window(0.05))  # music, noise, speech
    p.tag(window(-1.0))  # a record from before the level was measured
    assert len(seen) == 3


def test_the_window_level_is_measured_when_it_is_stored():
    p = pipeline()
    silent = p.store_window(WindowMedia("s", 0.0, 8.0, np.zeros(16000 * 8, np.float32), []))
    loud = p.store_window(WindowMedia("s", 4.0, 12.0, np.full(16000 * 8, 0.25, np.float32), []))
    assert silent.rms == 0.0 and abs(loud.rms - 0.25) < 1e-3
