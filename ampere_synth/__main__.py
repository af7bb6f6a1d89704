"""python -m ampere_synth --preset tiny --out DIR [--seed N] [--workers N]"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import PRESETS, build_dataset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ampere_synth", description=__doc__)
    ap.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    ap.add_argument("--out", required=True, help="dataset directory (created; reused if already built)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    print(build_dataset(Path(a.out), a.preset, seed=a.seed, workers=a.workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
