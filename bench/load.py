"""How many live streams one host keeps up with in real time: ramp the streams until the lag grows.

    .venv/bin/python bench/load.py [--steps 1 2 4 6 8 12] [--workers 1]

Each step replays that many demo streams at real-time pace (reused under new ids) through ``--workers`` fresh
``faust -A streamer.app worker`` processes on the embedded services, and measures windows in and out per
second, window closed -> searchable latency (p50/p95, first third vs last third: the lag trend), the workers'
CPU share and peak RSS, and tag top-1 against the generator's truth. The ramp stops at the first step that does
not keep up (``bench.pipeline.keeps_up``: every window out and latency not growing). Writes
bench/results/load.json (``realtime_streams_per_host``, ``at_max``, ``single_stream_tag_top1``, ``steps``) and
bench/results/load.png (latency against streams).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ampere.broker import ensure_topics, topic_names
from ampere.catalog import add_pages
from ampere.models import Models
from ampere.settings import REPO_ROOT, get_settings
from ampere.store import Store
from ampere_dev.derive import ensure_ready
from ampere_dev.services import resolve_services
from bench.pipeline import keeps_up, machine, run_streams

OUT = REPO_ROOT / "bench" / "results" / "load.json"


def plot(steps: list[dict], path: Path, cpu: bool = True) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [s["streams"] for s in steps]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(n, [s["e2e_ms_p50"] / 1000 for s in steps], "o-", label="closed -> searchable p50")
    ax.plot(n, [s["e2e_ms_p95"] / 1000 for s in steps], "o-", label="p95")
    ax.plot(n, [s["latency_last_third_ms"] / 1000 for s in steps], "x--", label="last third (lag trend)")
    ax.set_xlabel("concurrent real-time streams")
    ax.set_ylabel("seconds (log)")
    ax.set_yscale("log")  # a step that falls behind is 20-40x the ones that keep up
    ax.axhline(4.0, color="red", lw=0.8, ls=":", label="p95 target (4 s)")
    if cpu:
        ax2 = ax.twinx()
        ax2.plot(n, [s["cpu_share"] for s in steps], "s:", color="grey", label="CPU share")
        ax2.set_ylim(0, 1.05)
        ax2.set_ylabel("CPU share of the host")
    ax.legend(loc="upper left")
    ax.set_title("one 2-core host")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 6, 8, 12], help="stream counts to try")
    ap.add_argument("--workers", type=int, default=1, help="worker processes on the host (default: 1)")
    ap.add_argument("--partitions", type=int, default=None, help="partitions per topic (default: the broker settings')")
    ap.add_argument("--out", type=Path, default=OUT, help=f"results file (default: {OUT.relative_to(REPO_ROOT)})")
    args = ap.parse_args(argv)
    settings = get_settings()
    partitions = args.partitions or settings.broker.partitions
    dataset = ensure_ready(settings, "demo")
    steps: list[dict] = []
    t0 = time.time()
    with resolve_services(settings) as urls:
        ensure_topics(urls.kafka_url, list(topic_names(settings).values()), partitions)
        store = Store.connect(urls.redis_url, settings.redis)
        store.index.create()
        add_pages(store, dataset / "catalog.jsonl", Models(settings), progress=False)
        for n in args.steps:
            run = run_streams(urls, settings, dataset, n, realtime=True, tag=f"load{n}", workers=args.workers)
            run["keeps_up"] = keeps_up(run)
            steps.append(run)
            print(json.dumps(run), flush=True)
            if not run["keeps_up"]:
                break
    held = [s for s in steps if s["keeps_up"]]
    best = max(held, key=lambda s: s["streams"]) if held else None
    result = {
        "command": "python bench/load.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "workers_per_host": args.workers,
        "partitions": partitions,
        "realtime_streams_per_host": best["streams"] if best else 0,
        "at_max": {k: best[k] for k in ("e2e_ms_p50", "e2e_ms_p95", "live_tag_top1", "peak_rss_mb")} if best else None,
        "single_stream_tag_top1": steps[0]["live_tag_top1"] if steps and steps[0]["streams"] == 1 else None,
        "steps": steps,
        "wall_s": round(time.time() - t0, 1),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(steps, args.out.with_suffix(".png"))
    print(json.dumps({k: result[k] for k in ("realtime_streams_per_host", "at_max")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
