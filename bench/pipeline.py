"""Baseline figures of the live pipeline, written to bench/results/pipeline.json.

    .venv/bin/python bench/pipeline.py            # or: make bench

Components are timed on the demo dataset's live windows (no Kafka): ASR real-time
factor, summarizer ms per window, embedding items/s (ONNX vs PyTorch, batch 1 as in
the live path). End-to-end figures come from a real `faust -A streamer.app worker`
against the embedded broker and Redis: latency from window closed to searchable
(one stream at real-time pace), the worker's throughput when saturated, how many
real-time streams one worker keeps up with (verified by a run at that count:
latency must not grow), live tag top-1 against the generator's truth and the
worker's peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from ampere import media
from ampere.broker import (
    consume,
    ensure_topics,
    topic_names,
)
from ampere.catalog import add_pages, add_videos
from ampere.models import Models
from ampere.records import decode
from ampere.replay import replay
from ampere.settings import REPO_ROOT, get_settings
from ampere.store import Store
from ampere.summarize import summary_for_embedding
from ampere_dev.demo import TagCollector
from ampere_dev.derive import ensure_ready
from ampere_dev.services import resolve_services
from ampere_dev.worker import FaustWorker
from ampere_synth.truth import expected_windows, load_jsonl, score_tags
from encoders.frames import segment_centres

OUT = REPO_ROOT / "bench" / "results" / "pipeline.json"


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "gpu": None,
    }


def components(dataset: Path, settings, models: Models, n_windows: int) -> dict:
    live = {s["stream_id"]: s for s in load_jsonl(dataset / "live.jsonl")}
    windows = [w for w in load_jsonl(dataset / "windows.jsonl") if w["product_id"]][:n_windows]
    clips = []
    for w in windows:
        path = str(dataset / live[w["stream_id"]]["path"])
        pcm = media.read_audio(path, w["start"], w["end"], settings.ingest.sample_rate)
        frames = media.read_frames(
            path, segment_centres(w["start"], w["end"], settings.windows.frames_per_window), settings.ingest.frame_size
        )
        clips.append((pcm, frames))

    models.transcriber.transcribe(clips[0][0])  # warm-up
    audio_s, asr_s, texts = 0.0, 0.0, []
    for pcm, _ in clips:
        t = time.perf_counter()
        texts.append(models.transcriber.transcribe(pcm).text)
        asr_s += time.perf_counter() - t
        audio_s += len(pcm) / settings.ingest.sample_rate

    models.summarizer.summarize(texts[0])
    sum_ms, summaries = [], []
    for text in texts:
        t = time.perf_counter()
        summaries.append(models.summarizer.summarize(text).text)
        sum_ms.append((time.perf_counter() - t) * 1000)

    from encoders.runtime import TorchEmbedder

    torch_emb = TorchEmbedder.load(settings.embed.checkpoint)
    rates = {}
    for name, emb in (("onnx", models.embedder), ("torch", torch_emb)):
        emb.embed("live", clips[0][1], summaries[0])
        t = time.perf_counter()
        for (_, frames), s in zip(clips, summaries):
            emb.embed("live", frames, summary_for_embedding(s))
        rates[name] = len(clips) / (time.perf_counter() - t)
    return {
        "asr_rtf": round(audio_s / asr_s, 2),
        "summarizer_ms_per_window": round(statistics.mean(sum_ms), 1),
        "summarizer_ms_p95": round(float(np.percentile(sum_ms, 95)), 1),
        "embed_items_per_s_onnx": round(rates["onnx"], 1),
        "embed_items_per_s_torch": round(rates["torch"], 1),
        "component_windows": len(clips),
    }


class LatencyCollector(threading.Thread):
    """Window closed -> searchable, from the embeddings topic (indexed_at - closed_at)."""

    def __init__(self, kafka_url: str, topic: str):
        super().__init__(daemon=True)
        self.kafka_url, self.topic = kafka_url, topic
        self.rows: list[tuple[str, float, float, float]] = []  # stream, start, closed_at, latency ms
        self.stop_event = threading.Event()

    def run(self):
        for msg in consume(self.kafka_url, self.topic, timeout_s=None, max_records=None, stop=self.stop_event):
            e = decode(msg.value)
            self.rows.append((e.stream_id, e.start, e.closed_at, (e.indexed_at - e.closed_at) * 1000))


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a live process and all its threads (/proc/PID/stat), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_streams(urls, settings, dataset: Path, n_streams: int, realtime: bool, tag: str, workers: int = 1) -> dict:
    """Replay n_streams (demo streams reused under new ids) through ``workers`` fresh worker processes (one
    consumer group: Faust splits the topics' partitions between them)."""
    base = load_jsonl(dataset / "live.jsonl")
    streams = [{**base[i % len(base)], "stream_id": f"{tag}-{i}"} for i in range(n_streams)]
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(FaustWorker(urls, settings, log_path=settings.home / "logs" / f"bench-{tag}-w{i}.log"))
            for i in range(max(1, workers))
        ]
        for worker in procs:
            worker.wait_ready(timeout=240)
        cpu0 = sum(cpu_seconds(w.pid) for w in procs)  # after start-up: model loading is not the load
        lat = LatencyCollector(urls.kafka_url, settings.topic("embeddings"))
        tags = TagCollector(urls.kafka_url, settings.topic("tags"), {}, echo=False)
        lat.start(), tags.start()
        t0 = time.time()
        threads = [
            threading.Thread(
                target=replay,
                args=(str(dataset / s["path"]), s["stream_id"], urls.kafka_url, settings),
                kwargs={"realtime": realtime},
            )
            for s in streams
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        expected = sum(
            expected_windows(s["duration"], settings.windows.window_s, settings.windows.hop_s) for s in streams
        )
        deadline = time.time() + 900
        while time.time() < deadline:
            done = {(r[0], r[1]) for r in lat.rows if r[0].startswith(tag)}
            if len(done) >= expected:
                break
            time.sleep(0.5)
        wall = time.time() - t0
        time.sleep(2)  # let the last tags arrive
        peak = max(rss_peak_mb(w.pid) for w in procs)  # per process: what the RSS target is about
        cpu = sum(cpu_seconds(w.pid) for w in procs) - cpu0
        lat.stop_event.set(), tags.stop()
    rows = sorted((r for r in lat.rows if r[0].startswith(tag)), key=lambda r: r[2])
    ms = [r[3] for r in rows]
    third = max(1, len(rows) // 3)
    score = score_tags(
        [t for t in tags.tags if t["stream_id"].startswith(tag)], {s["stream_id"]: s["segments"] for s in streams}
    )
    return {
        "streams": n_streams,
        "realtime": realtime,
        "windows": len(rows),
        "expected_windows": expected,
        "wall_s": round(wall, 1),
        "windows_per_s": round(len(rows) / wall, 3),
        "e2e_ms_p50": round(float(np.percentile(ms, 50)), 0) if ms else None,
        "e2e_ms_p95": round(float(np.percentile(ms, 95)), 0) if ms else None,
        "latency_first_third_ms": round(statistics.median(ms[:third]), 0) if ms else None,
        "latency_last_third_ms": round(statistics.median(ms[-third:]), 0) if ms else None,
        "live_tag_top1": round(score.top1, 4),
        "tagged_windows_scored": score.windows,
        "peak_rss_mb": round(peak, 0),
        # the workers' CPU from ready to the last window, as a share of the host's cores
        "cpu_share": round(cpu / max(1e-9, wall) / (os.cpu_count() or 1), 3),
    }


def keeps_up(run: dict) -> bool:
    # lag not growing: the last third of windows is not much slower than the first, and all windows came out
    return (
        run["windows"] >= run["expected_windows"]
        and run["latency_last_third_ms"] <= 1.5 * run["latency_first_third_ms"] + 2000
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--component-windows", type=int, default=24)
    ap.add_argument("--max-streams", type=int, default=12)
    args = ap.parse_args()
    settings = get_settings()
    dataset = ensure_ready(settings, "demo")
    models = Models(settings)
    result = {
        "command": "python bench/pipeline.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "settings": {
            k: getattr(settings, k).model_dump(mode="json") for k in ("windows", "asr", "summarizer", "embed")
        },
    }
    print("components ...", flush=True)
    result.update(components(dataset, settings, models, args.component_windows))
    print(json.dumps(result, indent=2), flush=True)

    with resolve_services(settings) as urls:
        ensure_topics(urls.kafka_url, list(topic_names(settings).values()), settings.broker.partitions)
        store = Store.connect(urls.redis_url, settings.redis)
        store.index.create()
        add_pages(store, dataset / "catalog.jsonl", models)
        add_videos(store, dataset / "videos.jsonl", models)
        del models  # the worker loads its own; keep this process small while it runs

        print("one stream at real-time pace ...", flush=True)
        one = run_streams(urls, settings, dataset, 1, realtime=True, tag="rt1")
        print(json.dumps(one), flush=True)
        print("saturation (fast replay of 3 streams) ...", flush=True)
        sat = run_streams(urls, settings, dataset, 3, realtime=False, tag="sat")
        print(json.dumps(sat), flush=True)
        # each real-time stream closes one window per hop
        n = max(1, min(args.max_streams, int(sat["windows_per_s"] * settings.windows.hop_s)))
        runs = []
        while n >= 1:
            print(f"{n} concurrent streams at real-time pace ...", flush=True)
            run = run_streams(urls, settings, dataset, n, realtime=True, tag=f"rt{n}x")
            runs.append(run)
            print(json.dumps(run), flush=True)
            if keeps_up(run):
                break
            n -= 1
    result.update(
        {
            "e2e_ms_p50": one["e2e_ms_p50"],
            "e2e_ms_p95": one["e2e_ms_p95"],
            "live_tag_top1": sat["live_tag_top1"],  # all demo streams; pacing does not change tags
            "saturated_windows_per_s": sat["windows_per_s"],
            "realtime_streams_per_worker": runs[-1]["streams"] if keeps_up(runs[-1]) else 0,
            "peak_rss_mb": max(x["peak_rss_mb"] for x in [one, sat, *runs]),
            "runs": {"one_stream": one, "saturation": sat, "capacity": runs},
        }
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
