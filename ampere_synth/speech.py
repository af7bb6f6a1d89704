"""Speech with espeak-ng, resampled to 16 kHz mono with sox, plus noise and "music" beds.

sox runs with -D (no dither): its dither is random per run and would make the audio differ between
two builds of the same seed. Noise and music are drawn from the item's own numpy generator.
"""
from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

SR = 16000
# espeak-ng voices and variants that exist in Debian's package (no mbrola)
VOICES = ("en-us", "en-gb", "en+m3", "en+f2", "en-us+f3", "en-gb-x-rp+m7", "en-gb-scotland", "en+f4")


@dataclass(frozen=True)
class Voice:
    name: str
    speed: int  # words per minute
    pitch: int  # 0-99


def pick_voice(rng: random.Random, speed: tuple[int, int] = (150, 185)) -> Voice:
    return Voice(rng.choice(VOICES), rng.randint(*speed), rng.randint(35, 65))


def check_tools() -> None:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"the data generator needs {' and '.join(missing)} on PATH "
                           f"(Debian: apt-get install espeak-ng sox)")


def speak(text: str, voice: Voice) -> np.ndarray:
    """One utterance as float32 mono at 16 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch),
                          "--stdin", "--stdout"], input=text.encode(), capture_output=True, check=True).stdout
    raw = subprocess.run(["sox", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(SR), "-e", "signed", "-b", "16",
                          "-c", "1", "-"], input=wav, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0


def trim_silence(x: np.ndarray, thresh: float = 1e-3) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > thresh)
    return x[idx[0]: idx[-1] + 1] if len(idx) else x[:0]


def speak_sentences(sentences: list[str], voice: Voice, rng: random.Random, max_s: float | None = None,
                    min_count: int = 0, pause_s: tuple[float, float] = (0.15, 0.6)) -> tuple[np.ndarray, list[str]]:
    """Speak sentences in order with short pauses; stop before one would pass max_s (the first
    min_count sentences are always spoken). Returns (audio, the sentences actually spoken)."""
    parts: list[np.ndarray] = []
    spoken: list[str] = []
    total = 0
    for i, s in enumerate(sentences):
        clip = trim_silence(speak(s, voice))
        gap = np.zeros(int(rng.uniform(*pause_s) * SR), np.float32)
        if max_s is not None and i >= min_count and total + len(clip) > max_s * SR:
            break
        parts += [clip, gap]
        spoken.append(s)
        total += len(clip) + len(gap)
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return audio, spoken


def fit(x: np.ndarray, n: int, lead: int = 0) -> np.ndarray:
    """x placed at sample `lead` of a zero buffer of n samples (cut if longer)."""
    out = np.zeros(n, np.float32)
    seg = x[: max(0, n - lead)]
    out[lead: lead + len(seg)] = seg
    return out


def noise_bed(n: int, rng: np.random.Generator) -> np.ndarray:
    """Room/crowd-like noise: white noise low-passed to a random degree."""
    white = rng.standard_normal(n).astype(np.float32)
    a = float(rng.uniform(0.0, 0.95))  # one-pole low-pass: 0 = white, close to 1 = rumble
    if a > 0:
        k = np.arange(256, dtype=np.float32)
        white = np.convolve(white, (1 - a) * a ** k, mode="same").astype(np.float32)
    return white / (np.std(white) + 1e-9)


def music_bed(n: int, rng: np.random.Generator) -> np.ndarray:
    """A looped arpeggio of plucked harmonic tones: stands in for background music."""
    root = float(rng.uniform(110, 220))
    steps = rng.choice([[0, 4, 7, 12], [0, 3, 7, 10], [0, 5, 9, 12], [0, 4, 7, 11]])
    note_s = float(rng.uniform(0.18, 0.35))
    m = int(note_s * SR)
    t = np.arange(m, dtype=np.float32) / SR
    env = np.exp(-t * float(rng.uniform(4, 9))).astype(np.float32)
    notes = []
    for st in steps:
        f = root * 2 ** (st / 12)
        notes.append(env * (np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t) + 0.2 * np.sin(6 * np.pi * f * t)))
    loop = np.concatenate(notes + notes[-2:0:-1]).astype(np.float32)
    out = np.tile(loop, n // len(loop) + 1)[:n]
    return out / (np.std(out) + 1e-9)


def mix_at_snr(speech: np.ndarray, bed: np.ndarray, snr_db: float) -> np.ndarray:
    """Add bed so that speech power / bed power = snr_db, measured on the voiced samples only."""
    voiced = speech[np.abs(speech) > 1e-3]
    p_speech = float(np.mean(voiced ** 2)) if len(voiced) else 1e-4
    p_bed = float(np.mean(bed ** 2)) + 1e-12
    out = speech + bed * np.sqrt(p_speech / (p_bed * 10 ** (snr_db / 10)))
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    return (out * (0.95 / peak) if peak > 0.95 else out).astype(np.float32)
