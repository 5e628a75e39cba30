"""Cost of one evaluation per task collection, next to the harness overhead per trial (no asserts).

    .venv/bin/python perf/task_cost.py [--tasks 6] [--batch 100] [--trials 2000]

For a sample of tasks of each collection (bbob, bbobmixint, mfbbob, pymoo, mfsynth, momfsynth, toy,
lmscaling, tinylm, and sklearn and tinylm-live on 2 / 1 tasks with a few evaluations since those
train real models), prints the mean wall time per evaluation of
  * `evaluate`        one configuration at a time (`--batch` configurations, best of 5 repeats),
  * `evaluate_batch`  the same configurations in one call,
  * their ratio (the batch speed-up; 1.0 where a collection keeps the default loop).
Multi-fidelity tasks are evaluated at fidelities cycling through 5 geometric levels from min to
max, the same in both modes. Then, measured in the same process, the harness overhead per trial
as perf/overhead.py measures it: random search through `carps_like.experiment.run_cell` against
a bare sampling + ioh loop on bbob/f1_d5_i1 (`--trials`), and per collection the ratio
overhead / evaluation cost (below 1: the harness costs less than the task itself).
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "perf"))

import overhead  # perf/overhead.py: bare_loop, harness

from carps_like.catalog import collections
from carps_like.requirements import unmet_requirement

SLOW = {"sklearn": (2, 3), "tinylm-live": (1, 2)}  # collection -> (tasks, evaluations per mode)


def _fidelities(obj, n: int) -> list[float | None]:
    fid = obj.fidelity
    if fid is None:
        return [None] * n
    levels = [fid.min * (fid.max / fid.min) ** (k / 4) for k in range(5)]
    levels = [float(round(z)) if fid.integer else z for z in levels]
    return [levels[i % 5] for i in range(n)]


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(spec, n: int, repeats: int) -> tuple[float, float] | None:
    """(seconds per evaluation one by one, seconds per evaluation batched); None if the task raises."""
    obj = spec.build()
    space = obj.configspace
    space.seed(0)
    configs = space.sample_configuration(n) if n > 1 else [space.sample_configuration()]
    configs = [dict(c) for c in configs]
    zs = _fidelities(obj, n)
    try:
        obj.evaluate_batch(configs[:2], zs[:2])  # warm caches (imports, datasets, fronts)
        single = _best(lambda: [obj.evaluate(c, z) for c, z in zip(configs, zs)], repeats)
        batch = _best(lambda: obj.evaluate_batch(configs, zs), repeats)
    except Exception:  # noqa: BLE001  (e.g. toy/crashing)
        return None
    return single / n, batch / n


def sample_specs(specs: list, k: int) -> list:
    if len(specs) <= k:
        return specs
    step = len(specs) / k
    return [specs[int(i * step)] for i in range(k)]


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.2f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6, help="tasks sampled per collection")
    parser.add_argument("--batch", type=int, default=100, help="configurations per task (and batch size)")
    parser.add_argument("--trials", type=int, default=2000, help="trials of the overhead measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write-data", action="store_true",
                        help="store the per-evaluation means in carps_like/data/cost_model.json (study estimates)")
    args = parser.parse_args()

    rows = []
    for module in collections():
        declared = importlib.import_module(module).task_specs()
        name = declared[0].id.split("/", 1)[0]
        # tasks this machine cannot run (e.g. CUDA-only) are left out, as studies leave them out
        specs = [s for s in declared if unmet_requirement(s.requires) is None]
        k, n, repeats = (*SLOW[name], 1) if name in SLOW else (args.tasks, args.batch, args.repeats)
        chosen = sample_specs(specs, k)
        results = [(s.id, measure(s, n, repeats)) for s in chosen]
        ok = [r for _, r in results if r is not None]
        skipped = [i for i, r in results if r is None]
        if not ok:
            print(f"({name}: every sampled task raised, skipped)")
            continue
        single = sum(r[0] for r in ok) / len(ok)
        batch = sum(r[1] for r in ok) / len(ok)
        ratios = [r[0] / r[1] for r in ok]
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        rows.append((name, len(specs), len(ok), n, single, batch, geo, min(ratios), max(ratios), skipped))

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        n = args.trials
        overhead.bare_loop(200)
        bare = min(overhead.bare_loop(n) for _ in range(2))
        total = min(overhead.harness(n, out / f"h{i}")[0] for i in range(2))
    per_bare, per_harness = bare / n, total / n
    per_overhead = max(per_harness - per_bare, 0.0)

    print("\nper-evaluation wall time (mean over sampled tasks; MF tasks at 5 fidelity levels)")
    print(f"{'collection':11s} {'tasks':>5s} {'sampled':>7s} {'n':>4s} {'evaluate':>12s} {'evaluate_batch':>15s} "
          f"{'speed-up':>9s} {'(min-max)':>11s} {'overhead/eval':>14s}")
    for name, total_tasks, sampled, n_eval, single, batch, geo, lo, hi, skipped in rows:
        print(f"{name:11s} {total_tasks:5d} {sampled:7d} {n_eval:4d} {fmt_time(single):>12s} {fmt_time(batch):>15s} "
              f"{geo:8.2f}x {lo:5.1f}-{hi:<5.1f} {per_overhead / single:13.3g}x"
              + (f"   (skipped, raised: {', '.join(skipped)})" if skipped else ""))
    if args.write_data:
        from carps_like.estimate import DATA, write_section

        write_section("collections", {name: {"seconds": single, "sampled_tasks": sampled}
                                      for name, _, sampled, _, single, *_ in rows})
        print(f"\nwrote the per-evaluation means to {DATA.relative_to(ROOT)}")
    print(f"\nharness overhead, random search on {overhead.TASK}, {args.trials} trials (same process):")
    print(f"  bare loop  {per_bare * 1e3:8.4f} ms/trial   (ConfigSpace sampling + ioh call)")
    print(f"  harness    {per_harness * 1e3:8.4f} ms/trial   (runner, incumbent, JSON-lines store, Parquet)")
    print(f"  overhead   {per_overhead * 1e3:8.4f} ms/trial   = harness - bare; the last column above is")
    print("             overhead / evaluate time: the harness's share next to one evaluation of that collection")


if __name__ == "__main__":
    main()
