"""Harness overhead against the bare loop, measured in one process (no timing asserts anywhere).

    make perf            # or: .venv/bin/python perf/overhead.py [--trials 10000]

Prints, for random search on a cheap BBOB task:
  * bare loop: ConfigSpace sampling + ioh call, nothing else (the baseline)
  * harness:   the same through carps-like (runner, incumbent, JSON-lines store, Parquet at the end)
  * per-trial overhead = harness - bare, and the ratio harness / bare
  * growth: per-trial harness time in the last 10% of trials / first 10% (1.0 = no growth)
  * fixed cost of one run beyond imports (1-trial runs through run_cell, median of 7)
  * the runner's check of every asked configuration (carps_like.spaces.ConfigurationChecker) per
    configuration, against ConfigSpace's own `Configuration(space, values=...)` in the same run,
    on this task's space and on the conditional toy space
Targets (issue 2): overhead <= 0.1 ms/trial, no growth, fixed cost < 0.3 s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from carps_like import registry  # noqa: E402
from carps_like.experiment import build_task, run_cell  # noqa: E402

TASK = "bbob/f1_d5_i1"
RS = {"id": "randomsearch", "adapter": {"_target_": "optimizers.randomsearch.RandomSearch"}}


def bare_loop(n: int) -> float:
    """ConfigSpace sampling + objective call: what any harness must at least do."""
    import copy

    import ioh

    task = build_task(registry.get_task(TASK).config)
    space = copy.deepcopy(task.configspace)
    space.seed(1)
    problem = ioh.get_problem(1, instance=1, dimension=5, problem_class=ioh.ProblemClass.BBOB)
    names = list(space.keys())
    t0 = time.perf_counter()
    for _ in range(n):
        config = space.sample_configuration()
        problem([config[k] for k in names])
    return time.perf_counter() - t0


def harness(n: int, out: Path) -> tuple[float, list[dict]]:
    cfg = dict(registry.get_task(TASK).config, budget={"n_trials": n, "time_limit": None})
    t0 = time.perf_counter()
    outcome = run_cell(RS, cfg, seed=1, out=out, study="perf")
    return time.perf_counter() - t0, outcome.result.rows


def fixed_cost(out: Path, repeats: int = 7) -> float:
    cfg = dict(registry.get_task(TASK).config, budget={"n_trials": 1, "time_limit": None})
    run_cell(RS, cfg, seed=0, out=out, study="warmup")  # imports and caches
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        run_cell(RS, cfg, seed=i + 1, out=out, study="fixed")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def space_check(task_id: str, n: int = 2000) -> tuple[float, float]:
    """(checker, ConfigSpace) seconds per configuration on sampled configurations, best of 3."""
    from ConfigSpace import Configuration

    from carps_like.spaces import ConfigurationChecker

    space = build_task(registry.get_task(task_id).config).configspace
    space.seed(0)
    configs = [dict(c) for c in space.sample_configuration(n)]
    checker = ConfigurationChecker(space)

    def best(fn) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for c in configs:
                fn(c)
            times.append((time.perf_counter() - t0) / n)
        return min(times)

    return best(checker.problem), best(lambda c: Configuration(space, values=c))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    args = parser.parse_args()
    n = args.trials
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        bare_loop(200)  # warm caches for both measurements
        bare = min(bare_loop(n) for _ in range(2))
        runs = [harness(n, out / f"h{i}") for i in range(2)]
        total, rows = min(runs, key=lambda r: r[0])
        k = max(1, n // 10)
        first = (rows[k]["end_time"] - rows[0]["end_time"]) / k
        last = (rows[-1]["end_time"] - rows[-1 - k]["end_time"]) / k
        fixed = fixed_cost(out)
    per_bare, per_harness = bare / n * 1e3, total / n * 1e3
    print(f"task {TASK}, random search, {n} trials")
    print(f"  bare loop      {bare:8.3f} s  {per_bare:7.4f} ms/trial  (baseline)")
    print(f"  harness        {total:8.3f} s  {per_harness:7.4f} ms/trial  ratio {total / bare:5.2f}x")
    print(f"  overhead       {per_harness - per_bare:7.4f} ms/trial   (target <= 0.1)")
    print(f"  growth         {last / first:7.2f}x  per-trial time, last 10% vs first 10% (target ~1.0)")
    print(f"  fixed cost     {fixed * 1e3:7.1f} ms per run beyond imports (target < 300)")
    for task_id in (TASK, "toy/bb_mixed"):
        ours, theirs = space_check(task_id)
        print(f"  space check    {ours * 1e6:7.2f} us per configuration on {task_id} (the runner's), "
              f"ConfigSpace's Configuration(values=...) {theirs * 1e6:.2f} us: ratio {ours / theirs:.3f}")


if __name__ == "__main__":
    main()
