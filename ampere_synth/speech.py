"""Speech with espeak-ng or flite, resampled to 16 kHz mono with sox, plus noise and "music" beds.

Voices are split into a fit part (espeak-ng voices, said in regular streams and short videos) and a
held-out part (flite's voices and two espeak-ng variants, said only in the held-out streams).

sox runs with -D (no dither): its dither is random per run and would make the audio differ between
two builds of the same seed. Noise and music are drawn from the item's own numpy generator.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
# espeak-ng voices and variants that exist in Debian's package (no mbrola)
VOICES = ("en-us", "en-gb", "en+m3", "en+f2", "en-us+f3", "en-gb-x-rp+m7", "en-gb-scotland", "en+f4")
FIT_VOICES = (
    ("espeak-ng", "en-us"),
    ("espeak-ng", "en-gb"),
    ("espeak-ng", "en+m3"),
    ("espeak-ng", "en+f2"),
    ("espeak-ng", "en-us+f3"),
    ("espeak-ng", "en-gb-x-rp+m7"),
)
# Debian's flite voices (kal is 8 kHz, resampled like the rest) and two espeak-ng variants fitting never hears
HELDOUT_VOICES = (
    ("flite", "kal"),
    ("flite", "kal16"),
    ("flite", "awb"),
    ("flite", "rms"),
    ("flite", "slt"),
    ("flite", "slt"),
    ("espeak-ng", "en-gb-scotland"),
    ("espeak-ng", "en+f4"),
)
FLITE_F0 = {"kal": 105.0, "kal16": 105.0, "awb": 110.0, "rms": 105.0, "slt": 170.0}  # mean pitch, Hz


@dataclass(frozen=True)
class Voice:
    name: str
    speed: int  # words per minute
    pitch: int  # 0-99
    engine: str = "espeak-ng"


def pick_voice(rng: random.Random, speed: tuple[int, int] = (150, 185), heldout: bool = False) -> Voice:
    engine, name = rng.choice(HELDOUT_VOICES if heldout else FIT_VOICES)
    return Voice(name, rng.randint(*speed), rng.randint(35, 65), engine)


def check_tools(heldout: bool = False) -> None:
    """espeak-ng and sox always; flite when held-out streams are to be spoken."""
    missing = [t for t in ("espeak-ng", "sox") + (("flite",) if heldout else ()) if shutil.which(t) is None]
    if missing:
        raise RuntimeError(
            f"the data generator needs {' and '.join(missing)} on PATH (Debian: apt-get install {' '.join(missing)})"
        )


def _resample(wav: bytes) -> np.ndarray:
    raw = subprocess.run(
        ["sox", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(SR), "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0


def _flite(text: str, voice: Voice) -> bytes:
    f0 = FLITE_F0.get(voice.name, 120.0) * (0.85 + 0.3 * (voice.pitch - 35) / 30)
    with tempfile.TemporaryDirectory(prefix="ampere-flite-") as d:
        out = Path(d) / "s.wav"
        subprocess.run(
            [
                "flite",
                "-voice",
                voice.name,
                "--setf",
                f"duration_stretch={170 / voice.speed:.3f}",
                "--setf",
                f"int_f0_target_mean={f0:.1f}",
                "-t",
                text,
                "-o",
                str(out),
            ],
            capture_output=True,
            check=True,
        )
        return out.read_bytes()


def speak(text: str, voice: Voice) -> np.ndarray:
    """One utterance as float32 mono at 16 kHz."""
    if voice.engine == "flite":
        return _resample(_flite(text, voice))
    wav = subprocess.run(
        ["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch), "--stdin", "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    return _resample(wav)


def trim_silence(x: np.ndarray, thresh: float = 1e-3) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > thresh)
    return x[idx[0] : idx[-1] + 1] if len(idx) else x[:0]


def speak_sentences(
    sentences: list,
    voice: Voice,
    rng: random.Random,
    max_s: float | None = None,
    min_count: int = 0,
    pause_s: tuple[float, float] = (0.15, 0.6),
) -> tuple[np.ndarray, list]:
    """Speak sentences (strings or objects with .text) in order with short pauses; stop before one
    would pass max_s (the first min_count sentences are always spoken). Returns (audio, spoken) where
    spoken holds (sentence, t0, t1): each sentence actually spoken with its span in the audio, seconds."""
    parts: list[np.ndarray] = []
    spoken: list = []
    total = 0
    for i, s in enumerate(sentences):
        clip = trim_silence(speak(getattr(s, "text", s), voice))
        gap = np.zeros(int(rng.uniform(*pause_s) * SR), np.float32)
        if max_s is not None and i >= min_count and total + len(clip) > max_s * SR:
            break
        parts += [clip, gap]
        spoken.append((s, total / SR, (total + len(clip)) / SR))
        total += len(clip) + len(gap)
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return audio, spoken


def fit(x: np.ndarray, n: int, lead: int = 0) -> np.ndarray:
    """x placed at sample `lead` of a zero buffer of n samples (cut if longer)."""
    out = np.zeros(n, np.float32)
    seg = x[: max(0, n - lead)]
    out[lead : lead + len(seg)] = seg
    return out


def noise_bed(n: int, rng: np.random.Generator) -> np.ndarray:
    """Room/crowd-like noise: white noise low-passed to a random degree."""
    white = rng.standard_normal(n).astype(np.float32)
    a = float(rng.uniform(0.0, 0.95))  # one-pole low-pass: 0 = white, close to 1 = rumble
    if a > 0:
        k = np.arange(256, dtype=np.float32)
        white = np.convolve(white, (1 - a) * a**k, mode="same").astype(np.float32)
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
        notes.append(
            env * (np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t) + 0.2 * np.sin(6 * np.pi * f * t))
        )
    loop = np.concatenate(notes + notes[-2:0:-1]).astype(np.float32)
    out = np.tile(loop, n // len(loop) + 1)[:n]
    return out / (np.std(out) + 1e-9)


def mix_at_snr(speech: np.ndarray, bed: np.ndarray, snr_db: float) -> np.ndarray:
    """Add bed so that speech power / bed power = snr_db, measured on the voiced samples only."""
    voiced = speech[np.abs(speech) > 1e-3]
    p_speech = float(np.mean(voiced**2)) if len(voiced) else 1e-4
    p_bed = float(np.mean(bed**2)) + 1e-12
    out = speech + bed * np.sqrt(p_speech / (p_bed * 10 ** (snr_db / 10)))
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    return (out * (0.95 / peak) if peak > 0.95 else out).astype(np.float32)
