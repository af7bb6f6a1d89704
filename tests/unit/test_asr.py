import shutil
import subprocess

import numpy as np
import pytest

from ampere import asr, media
from ampere.settings import Settings

pytestmark = pytest.mark.models  # loads a real model


@pytest.fixture(scope="module")
def transcriber():
    try:
        asr.default_model_dir()
    except asr.ConfigError as exc:
        pytest.skip(str(exc))
    return asr.Transcriber(Settings().asr)


def _speak(tmp_path, text):
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    wav = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), text], check=True)
    return media.read_audio(str(wav), 0.0, None, 16000)


def test_transcribes_a_product_sentence(tmp_path, transcriber):
    pcm = _speak(tmp_path, "This is the Silver Oak Falcon 300 leather backpack in navy, only forty nine dollars")
    tr = transcriber.transcribe(pcm)
    words = tr.text.lower()
    assert "backpack" in words or "back pack" in words
    assert "silver" in words and "falcon" in words
    assert tr.no_speech_prob < 0.5 and tr.segments
    assert 5.0 < tr.duration_s < 7.0 and tr.asr_ms > 0  # speed is the benchmarks' job, not a unit test's


def test_silence_and_noise_give_no_text(transcriber):
    assert transcriber.transcribe(np.zeros(16000 * 4, np.float32)).text == ""
    noise = np.random.default_rng(0).normal(0, 0.05, 16000 * 6).astype(np.float32)
    tr = transcriber.transcribe(noise)
    assert tr.text == "" and tr.no_speech_prob == 1.0


def test_audio_at_another_rate_is_resampled_for_whisper(tmp_path, transcriber):
    """AMPERE_INGEST__SAMPLE_RATE may be 8 kHz (telephony) or 48 kHz: Whisper still hears 16 kHz audio."""
    pcm16 = _speak(tmp_path, "This is the Silver Oak Falcon 300 leather backpack in navy")
    pcm8 = media.resample(pcm16, 16000, 8000)
    assert abs(len(pcm8) - len(pcm16) / 2) < 100
    tr = transcriber.transcribe(pcm8, sample_rate=8000)
    assert "falcon" in tr.text.lower() and 3.0 < tr.duration_s < 5.0


def test_hallucination_rule():
    seg = asr.Segment(0, 1, "Thank you.", avg_logprob=-1.5, no_speech_prob=0.9)
    assert asr.is_hallucination(seg, 0.6)
    assert not asr.is_hallucination(asr.Segment(0, 1, "hi", -0.3, 0.9), 0.6)
    assert not asr.is_hallucination(asr.Segment(0, 1, "hi", -1.5, 0.2), 0.6)
