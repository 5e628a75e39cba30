"""Wall time of `make compare` for one optimizer against the time its runs themselves took.

    .venv/bin/python perf/compare_cost.py [randomsearch] [--jobs 2] [--types bb,mf,mo,momf]

Runs `python -m workflows.compare <optimizer>` (conformance suite, dev-subset runs, report) into
temporary directories and times it. Baseline, from the same run: the library + objective time the
runner recorded for every trial of those runs, divided by the number of parallel jobs (what the
runs would take with no process start-up, no conformance suite and no analysis). The ratio says
how much of `make compare` is the harness around the runs. No asserts: this prints measurements.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("optimizer", nargs="?", default="randomsearch")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--types", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "workflows.compare", args.optimizer, "--out", f"{tmp}/compare", "--runs",
               f"{tmp}/runs", "--jobs", str(args.jobs)] + (["--types", args.types] if args.types else [])
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                             env=dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1"))
        wall = time.perf_counter() - t0
        if res.returncode not in (0, 1):
            raise SystemExit(f"make compare failed ({res.returncode}):\n{res.stderr[-3000:]}")
        from analysis.gather import gather

        g = gather([f"{tmp}/runs"])
        inside = float(g.trials["optimizer_time"].sum() + g.trials["objective_time"].sum())
    print(f"make compare {args.optimizer}: {wall:.1f} s wall on {args.jobs} jobs; {len(g.runs)} runs, {len(g.trials)} trials")
    print(f"  baseline: optimizer + objective time recorded in those runs / {args.jobs} jobs = {inside / args.jobs:.1f} s")
    print(f"  ratio make compare / baseline: {wall / (inside / args.jobs):.1f}x")


if __name__ == "__main__":
    main()
