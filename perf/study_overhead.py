"""Fixed cost of one more run in a study, against baselines measured in the same run (no asserts).

    .venv/bin/python perf/study_overhead.py [--runs 41] [--repeats 3]

Every run is random search on toy/bb with a budget of 1 trial, so what is measured is the cost
of getting a run going and recorded, not optimization. Seconds per extra run = (time for
--runs runs - time for 1 run) / (--runs - 1), best of --repeats, one job (no parallelism):
  * in-process: `run_cell` called in a loop (the floor: store, runner, task build);
  * study: `python -m carps_like.study` (what `make run` starts), the common path;
  * Hydra basic launcher: `python -m carps_like.run -m hydra/launcher=basic` over the same
    cells (a Hydra compose and job set-up per run, in one process);
and the ratios of the study and of Hydra to the in-process floor.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def in_process(n: int, out: Path) -> float:
    from analysis_runs import task_config

    from carps_like import registry
    from carps_like.experiment import run_cell

    cfg, task = registry.get_optimizer_config("randomsearch"), task_config("toy/bb", n_trials=1)
    t0 = time.perf_counter()
    for seed in range(1, n + 1):
        run_cell(cfg, task, seed, out=out, study="p")
    return time.perf_counter() - t0


def study(n: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", "toy/bb",
           "--seeds", str(n), "--n-trials", "1", "--jobs", "1", "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def hydra_basic(n: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "carps_like.run", "-m", "hydra/launcher=basic", "optimizer=randomsearch",
           "task=toy/bb", f"seed={','.join(str(s) for s in range(1, n + 1))}", "task.budget.n_trials=1", f"out={out}"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env={**__import__("os").environ,
                                                                        "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - t0


def per_extra_run(fn, n: int, repeats: int) -> tuple[float, float, float]:
    """(seconds per extra run, time for 1 run, time for n runs), best of `repeats` fresh directories."""
    ones, ns = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            ones.append(fn(1, Path(a)))
            ns.append(fn(n, Path(b)))
    one, many = min(ones), min(ns)
    return (many - one) / (n - 1), one, many


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=41)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [("in-process run_cell (floor)", in_process), ("study (make run, one job)", study),
            ("Hydra basic launcher", hydra_basic)]
    results = {}
    with tempfile.TemporaryDirectory() as warm:
        in_process(1, Path(warm))  # imports happen once, outside the timings (a study's process pays them)
    print(f"{'path':32s} {'s per extra run':>16s} {'1 run s':>8s} {f'{args.runs} runs s':>10s} {'vs floor':>9s}")
    for name, fn in rows:
        extra, one, many = per_extra_run(fn, args.runs, args.repeats)
        results[name] = extra
        floor = results[rows[0][0]]
        print(f"{name:32s} {extra:16.4f} {one:8.2f} {many:10.2f} {extra / floor:8.1f}x", flush=True)
    ratio = results[rows[1][0]] / results[rows[2][0]]
    print(f"\nstudy / Hydra basic launcher per extra run: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
