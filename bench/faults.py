"""What faults cost, written to bench/results/faults.json.

    .venv/bin/python bench/faults.py                 # all of them, real-time pace (~15 min on 2 cores)
    .venv/bin/python bench/faults.py --speed 2 --only kill9_worker redis_down_30s

Each fault runs on embedded services of its own (loopback only) with real `faust -A streamer.app worker`
processes, the tiny dataset's two live streams replayed at real-time pace (`--speed`), and the fault injected
--at seconds in (ampere_dev/faults.py has the definitions of every figure):

    kill9_worker      kill -9 of one of two workers mid-stream
    worker_restart    a clean restart (SIGTERM, start again) of the only worker
    redis_down_30s    Redis stopped (SIGTERM) for 30 s, restarted on its AOF, same port and password
    redis_stall_30s   redis-server SIGSTOPped for 30 s, then SIGCONT
    broker_restart    the embedded broker (memory only: it comes back empty) stopped and started again
    malformed         41 kinds of malformed or hostile input while the streams play; the worker's memory

The workers summarize with the keyword summarizer: the LLM is not what is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ampere.settings import Settings
from ampere_dev import faults
from ampere_dev.derive import ensure_dataset, ensure_onnx
from bench.pipeline import machine

FAULTS = {
    "kill9_worker": (2, False, faults.kill9_worker),
    "worker_restart": (1, False, faults.worker_restart),
    "redis_down_30s": (1, False, faults.redis_down(30)),
    "redis_stall_30s": (1, False, faults.redis_stall(30)),
    "broker_restart": (1, True, faults.broker_restart()),
}
KEYS = ("expected", "indexed", "lost", "lost_silently", "duplicated", "dead_letters", "recovery_s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", type=float, default=1.0, help="media seconds per wall second (default: 1)")
    ap.add_argument(
        "--at", type=float, default=None, help="wall seconds into the replay when the fault hits (default: 30 / speed)"
    )
    ap.add_argument("--only", nargs="+", choices=[*FAULTS, "malformed"], default=None, help="run only these")
    ap.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parent / "results" / "faults.json"),
        help="result file (default: bench/results/faults.json)",
    )
    args = ap.parse_args()
    at = args.at if args.at is not None else 30.0 / args.speed
    base = Settings()
    dataset = ensure_dataset(base, "tiny", 0, progress=print)
    ensure_onnx(base, progress=print)
    from ampere.models import Models

    models = Models(Settings())
    result: dict = {
        "command": "python bench/faults.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "speed": args.speed,
        "fault_at_s": at,
        "dataset": "tiny-s0 (live000 83.3 s + live001 62.5 s, 35 windows)",
        "faults": {},
    }
    out = Path(args.out)
    if out.exists() and args.only:  # keep the figures of the faults not rerun
        old = json.loads(out.read_text())
        result["faults"] = old.get("faults", {})
        if "malformed" in old and "malformed" not in args.only:
            result["malformed"] = old["malformed"]
    for name, (workers, restart, fault) in FAULTS.items():
        if args.only and name not in args.only:
            continue
        with (
            tempfile.TemporaryDirectory(prefix=f"ampere-{name}-") as home,
            faults.Lab(Path(home), dataset, Settings(summarizer="keyword")) as lab,
        ):
            lab.index_catalog(models)
            lab.start_workers(workers, restart=restart)
            r = lab.run(name, fault, at_s=at, speed=args.speed)
        entry = {k: getattr(r, k) for k in KEYS}
        entry.update(replays=r.replays, worker_restarts=r.worker_restarts, index_extra=r.index_extra, wall_s=r.wall_s)
        result["faults"][name] = entry
        print(json.dumps({name: entry}), flush=True)
    if not args.only or "malformed" in args.only:
        with (
            tempfile.TemporaryDirectory(prefix="ampere-malformed-") as home,
            faults.Lab(Path(home), dataset, Settings(summarizer="keyword")) as lab,
        ):
            lab.index_catalog(models)
            lab.start_workers(1)
            m = faults.run_malformed(lab, speed=max(args.speed, 1.0))
        result["malformed"] = m
        print(json.dumps({k: v for k, v in m.items() if k != "by_kind"}), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
