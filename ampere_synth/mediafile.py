"""Write an mp4 (H.264 or MPEG-4 video + AAC audio) with PyAV, no ffmpeg binary needed."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np


@lru_cache(maxsize=1)
def video_codec() -> str:
    """libx264 where the PyAV build has it (wheels do), MPEG-4 part 2 otherwise."""
    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:
        return "mpeg4"


def write_mp4(
    path: Path, frames: Iterable[np.ndarray], audio: np.ndarray, fps: int, sample_rate: int, size: int | tuple[int, int]
) -> None:
    """frames: HxWx3 uint8 RGB; audio: float32 mono in [-1, 1]. Both are written in full.
    size: the frame side, or (width, height)."""
    path = Path(path)
    width, height = (size, size) if isinstance(size, int) else size
    with av.open(str(path), "w", format="mp4") as out:
        codec = video_codec()
        vs: Any = out.add_stream(codec, rate=fps)  # a VideoStream (PyAV types the union of all streams)
        vs.width, vs.height = width, height
        vs.pix_fmt = "yuv420p"
        # one encoder thread: x264 output is then the same bytes on every run (and workers are processes)
        vs.codec_context.thread_count = 1
        vs.options = {"preset": "veryfast", "crf": "26"} if codec == "libx264" else {}
        if codec != "libx264":
            vs.bit_rate = 400_000
        as_: Any = out.add_stream("aac", rate=sample_rate)
        as_.layout = "mono"
        as_.bit_rate = 48_000
        for arr in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        audio = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
        step = 1024  # the AAC frame size
        for i in range(0, len(audio), step):
            chunk = audio[i : i + step]
            fr = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
            fr.sample_rate = sample_rate
            fr.pts = i
            fr.time_base = Fraction(1, sample_rate)
            for pkt in as_.encode(fr):
                out.mux(pkt)
        for pkt in as_.encode():
            out.mux(pkt)
