"""`ampere replay` takes anything PyAV opens: here an HLS playlist served over HTTP on loopback."""

from __future__ import annotations

import functools
import http.server
import threading

import av
import pytest

from ampere import media
from ampere.settings import Settings
from ampere_dev.derive import ensure_dataset
from ampere_synth.truth import load_jsonl

pytestmark = pytest.mark.integration


def remux_to_hls(src, out_dir):
    with (
        av.open(str(src)) as inp,
        av.open(str(out_dir / "live.m3u8"), "w", format="hls", options={"hls_time": "4", "hls_list_size": "0"}) as out,
    ):
        streams = {}
        for s in inp.streams:
            if s.type in ("audio", "video"):
                streams[s.index] = out.add_stream_from_template(s)
        for packet in inp.demux(*[inp.streams[i] for i in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def counts(source):
    n = {"audio": 0, "frames": 0, "end": None}
    for piece in media.iter_media(source):
        if isinstance(piece, media.AudioPiece):
            n["audio"] += 1
        elif isinstance(piece, media.FramePiece):
            n["frames"] += 1
        else:
            n["end"] = round(piece.t)
    return n


def test_hls_over_http_gives_the_same_pieces_as_the_file(tmp_path):
    data = ensure_dataset(Settings(), "tiny", 0, progress=print)
    src = data / load_jsonl(data / "live.jsonl")[0]["path"]
    remux_to_hls(src, tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/live.m3u8"
        assert counts(url) == counts(str(src))
    finally:
        server.shutdown()
