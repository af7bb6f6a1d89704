"""Chunked ASR: each audio second recognised once, words placed by their timestamps; the names prompt."""

import numpy as np

from ampere.asr import ChunkState, Segment, Transcript, Word, names_prompt, transcribe_window

SR = 16000


class FakeTranscriber:
    """Hears the words of a script laid out on the stream's clock, one word per 0.5 s."""

    def __init__(self, script):
        self.script = script  # [(t, word)]
        self.calls = []

    def transcribe(self, pcm, sample_rate, prompt=None, words=False):
        t0 = pcm.offset
        dur = len(pcm) / sample_rate
        self.calls.append((round(t0, 3), round(dur, 3), prompt))
        ws = [Word(t - t0, t - t0 + 0.3, w) for t, w in self.script if t0 <= t and t + 0.3 <= t0 + dur]
        return Transcript(" ".join(w.text for w in ws), [Segment(0, dur, "", -0.1, 0.0, ws)], 0.0, dur, 1.0)


class Clocked(np.ndarray):
    """Audio that knows its stream time (so the fake can hear the right words)."""

    def __getitem__(self, item):
        out = super().__getitem__(item)
        if isinstance(item, slice) and isinstance(out, Clocked):
            out.offset = self.offset + (item.start or 0) / SR
        return out


def audio(start, end):
    a = np.zeros(int((end - start) * SR), np.float32).view(Clocked)
    a.offset = start
    return a


def test_each_second_is_recognised_once_and_windows_get_their_words():
    script = [(t / 2, f"w{t}") for t in range(0, 40)]  # a word every 0.5 s for 20 s
    tr = FakeTranscriber(script)
    state = ChunkState()
    texts = []
    for k in range(4):
        start = 4.0 * k
        text, _ = transcribe_window(tr, state, start, start + 8, audio(start, start + 8), SR, overlap_s=1.0)
        texts.append(text)
    # the first window is decoded whole; then only the new hop with 1 s of context
    assert tr.calls[0][:2] == (0.0, 8.0)
    assert [c[:2] for c in tr.calls[1:]] == [(7.0, 5.0), (11.0, 5.0), (15.0, 5.0)]
    decoded = sum(c[1] for c in tr.calls)
    assert decoded == 8 + 3 * 5  # instead of 4 x 8 = 32 s for independent windows
    want = [" ".join(w for t, w in script if s <= t + 0.15 < s + 8) for s in (0, 4, 8, 12)]
    assert texts == want


def test_a_redelivered_window_reuses_the_words_and_decodes_nothing():
    tr = FakeTranscriber([(1.0, "hello"), (5.0, "world")])
    state = ChunkState()
    first, _ = transcribe_window(tr, state, 0.0, 8.0, audio(0, 8), SR, 1.0)
    again, pass_ = transcribe_window(tr, state, 0.0, 8.0, audio(0, 8), SR, 1.0)
    assert first == again == "hello world" and pass_ is None and len(tr.calls) == 1
    assert ChunkState.of(state.to_dict()).words == state.words


def test_names_prompt_is_bounded_and_keeps_whole_names():
    names = ["Zorvik 40", "Mellora Tey K7", "Zorvik 40", "Open Lane Jaguar 50", "Rex"]
    assert names_prompt(names, 8) == "Zorvik 40, Mellora Tey K7, Rex."
    assert names_prompt(names, 1) == "Rex."
    assert names_prompt([], 8) == "" and names_prompt(["   "], 8) == ""
    assert len(names_prompt([f"Name{i} {i}" for i in range(500)], 24).split()) <= 24


class PromptSkips:
    """A decoder that, given a prompt, drops most of the speech (what hotwords/prompts did on noisy audio)."""

    def __init__(self):
        self.prompts = []

    def transcribe(
        self,
        x,
        language,
        beam_size,
        vad_filter,
        initial_prompt,
        condition_on_previous_text,
        without_timestamps,
        word_timestamps,
    ):
        from types import SimpleNamespace as NS

        self.prompts.append(initial_prompt)
        text = "zorvik" if initial_prompt else "check out the zorvik forty in red it is only twenty dollars"
        seg = NS(start=0.0, end=6.0, text=text, avg_logprob=-0.2, no_speech_prob=0.01, words=[])
        return iter([seg]), NS(duration_after_vad=6.0)


def test_a_prompted_pass_that_loses_speech_falls_back_to_the_unprompted_one():
    from ampere.asr import Transcriber
    from ampere.settings import AsrOptions

    t = Transcriber(AsrOptions(bias_min_words_per_s=1.0))
    t._model = PromptSkips()
    out = t.transcribe(np.full(16000 * 6, 0.1, np.float32), prompt="Zorvik 40.")
    assert t._model.prompts == ["Zorvik 40.", None]
    assert out.fell_back and out.text.startswith("check out")
    t2 = Transcriber(AsrOptions(bias_min_words_per_s=0.0))  # guard off: the prompted pass stands
    t2._model = PromptSkips()
    assert t2.transcribe(np.full(16000 * 6, 0.1, np.float32), prompt="Zorvik 40.").text == "zorvik"
