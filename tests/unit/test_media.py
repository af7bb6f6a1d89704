from fractions import Fraction

import av
import numpy as np
import pytest

from ampere import media


def _write_mp4(path, seconds=3.0, fps=10, size=64, sr=16000, audio=True, video=True):
    """A small mp4 whose frame brightness encodes its index, with a 440 Hz tone."""
    n_frames = int(seconds * fps)
    with av.open(str(path), "w", format="mp4") as out:
        # every stream must exist before the first packet is muxed
        if video:
            vs = out.add_stream("mpeg4", rate=fps)
            vs.width, vs.height, vs.pix_fmt = size + 32, size, "yuv420p"  # not square: the aspect must be kept
        if audio:
            as_ = out.add_stream("aac", rate=sr)
            as_.layout = "mono"
        if video:
            for i in range(n_frames):
                arr = np.full((size, size + 32, 3), (i * 8) % 250, np.uint8)
                for pkt in vs.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    out.mux(pkt)
            for pkt in vs.encode():
                out.mux(pkt)
        if audio:
            t = np.arange(int(seconds * sr)) / sr
            pcm = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for i in range(0, len(pcm), 1024):
                fr = av.AudioFrame.from_ndarray(pcm[i : i + 1024].reshape(1, -1), format="fltp", layout="mono")
                fr.sample_rate, fr.pts, fr.time_base = sr, i, Fraction(1, sr)
                for pkt in as_.encode(fr):
                    out.mux(pkt)
            for pkt in as_.encode():
                out.mux(pkt)
    return path


def test_flac_round_trip_is_exact_at_int16():
    rng = np.random.default_rng(0)
    pcm = np.clip(rng.normal(0, 0.2, 16000), -1, 1).astype(np.float32)
    data = media.encode_audio(pcm, 16000)
    back = media.decode_audio(data, 16000)
    assert back.dtype == np.float32 and back.shape == pcm.shape
    assert np.abs(back - pcm).max() <= 0.5 / 32767 + 1e-7
    # speech-like (smooth) audio compresses; white noise is the worst case and must not grow much
    tone = (0.3 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220)).astype(np.float32)
    assert len(media.encode_audio(tone, 16000)) < 0.6 * 2 * len(tone)


def test_decode_audio_rejects_garbage_and_wrong_rate():
    with pytest.raises(media.MediaError):
        media.decode_audio(b"not flac at all" * 10, 16000)
    data = media.encode_audio(np.zeros(8000, np.float32), 8000)
    with pytest.raises(media.MediaError, match="8000 Hz"):
        media.decode_audio(data, 16000)


def test_jpeg_round_trip_and_garbage():
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = (200, 10, 10)
    back = media.decode_jpeg(media.encode_jpeg(rgb))
    assert back.shape == (40, 60, 3) and back.dtype == np.uint8
    assert abs(int(back[20, 5, 0]) - 200) < 12 and back[20, 50, 0] < 20
    with pytest.raises(media.MediaError):
        media.decode_jpeg(b"\xff\xd8garbage")
    with pytest.raises(media.MediaError):
        media.encode_jpeg(np.zeros((4, 4), np.float32))


def test_iter_media_orders_audio_and_frames_and_covers_duration(tmp_path):
    path = _write_mp4(tmp_path / "a.mp4", seconds=3.0)
    pieces = list(
        media.iter_media(str(path), chunk_s=1.0, keyframe_fps=2.0, frame_size=48, full_every_s=1.0, full_size=640)
    )
    assert isinstance(pieces[-1], media.EndPiece)
    times = [p.t0 if isinstance(p, media.AudioPiece) else p.t for p in pieces[:-1]]
    assert times == sorted(times)
    audio = [p for p in pieces if isinstance(p, media.AudioPiece)]
    frames = [p for p in pieces if isinstance(p, media.FramePiece)]
    assert [round(a.t0, 3) for a in audio[:3]] == [0.0, 1.0, 2.0]
    total = sum(len(a.pcm) for a in audio) / 16000
    assert 2.9 <= total <= 3.2 and 2.9 <= pieces[-1].t <= 3.3
    assert [round(f.t, 2) for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    # the whole 96x64 frame, longest side 48, no crop; every second also the frame as it is, for OCR
    assert all(f.rgb.shape == (32, 48, 3) and f.rgb.dtype == np.uint8 for f in frames)
    assert [f.t for f in frames if f.full is not None] == [0.0, 1.0, 2.0]
    assert all(f.full.shape == (64, 96, 3) for f in frames if f.full is not None)
    # frame at 1.5 s is frame index 15: brightness 120
    assert abs(float(frames[3].rgb.mean()) - 120) < 8
    # the tone survives AAC: mostly 440 Hz energy
    spec = np.abs(np.fft.rfft(audio[1].pcm))
    assert abs(int(np.argmax(spec)) - 440) <= 2


def test_iter_media_without_audio_or_video(tmp_path):
    v = _write_mp4(tmp_path / "v.mp4", seconds=1.0, audio=False)
    kinds = {type(p).__name__ for p in media.iter_media(str(v))}
    assert kinds == {"FramePiece", "EndPiece"}
    a = _write_mp4(tmp_path / "a.mp4", seconds=1.0, video=False)
    kinds = {type(p).__name__ for p in media.iter_media(str(a))}
    assert kinds == {"AudioPiece", "EndPiece"}
    with pytest.raises(media.MediaError):
        list(media.iter_media(str(tmp_path / "missing.mp4")))


def test_read_frames_and_read_audio(tmp_path):
    path = _write_mp4(tmp_path / "a.mp4", seconds=2.0)
    frames = media.read_frames(str(path), [1.0, 0.0, 99.0], 48)
    assert [f.shape for f in frames] == [(32, 48, 3)] * 3
    assert abs(frames[0].mean() - 80) < 8 and frames[1].mean() < 8 and abs(frames[2].mean() - 152) < 8
    pcm = media.read_audio(str(path), 0.5, 1.5, 16000)
    assert pcm.shape == (16000,) and 0.15 < np.abs(pcm).max() < 0.45
    assert 1.9 < media.probe_duration(str(path)) < 2.2
