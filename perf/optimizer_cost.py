"""Each optimizer's own cost per ask+tell on a 5-d task at 50 and 200 trials (no asserts).

    .venv/bin/python perf/optimizer_cost.py [--optimizers smac_bb,hebo] [--trials 50,200]
                                            [--max-seconds 600] [--repeats 1]

Library cost, apart from harness and objective cost: for every concrete optimizer variant, one
run per budget through the real runner (`run_trials`, no store) on a cheap 5-d task of its first
declared type (bb: bbob/f1_d5_i1, mf: mfbbob/f1_d5_good, mo: pymoo/zdt1_d5, momf:
momfsynth/zdt1_d5_good; all evaluate in microseconds), and prints
  * ms per ask+tell, mean over the run (the runner times ask and tell, nothing else),
  * ms per ask+tell over the second half of the trials (how the cost grows with the history;
    a half, not a tail, because some libraries work in bursts, e.g. SMAC every 8 trials),
  * the optimizer's total seconds for the run,
  * the ratio of its mean to random search's mean, measured in the same run (the floor: random
    search's ask+tell is one ConfigSpace sample).
Budgets are full-fidelity evaluations, so multi-fidelity runs make more (cheaper) trials. A run
that reaches --max-seconds stops early and its row is marked with the trials it reached.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from carps_like import registry  # noqa: E402
from carps_like.experiment import build_task  # noqa: E402
from carps_like.runner import run_trials  # noqa: E402
from carps_like.types import TaskType  # noqa: E402

TASK_PER_TYPE = {
    TaskType.BLACKBOX: "bbob/f1_d5_i1",
    TaskType.MULTI_FIDELITY: "mfbbob/f1_d5_good",
    TaskType.MULTI_OBJECTIVE: "pymoo/zdt1_d5",
    TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE: "momfsynth/zdt1_d5_good",
}
#: --high-dim: the same functions in more dimensions (model-based optimizers cost more there)
TASK_PER_TYPE_HIGH = {
    TaskType.BLACKBOX: "bbob/f1_d20_i1",
    TaskType.MULTI_FIDELITY: "mfbbob/f1_d10_good",
    TaskType.MULTI_OBJECTIVE: "pymoo/zdt1_d20",
    TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE: "momfsynth/zdt1_d10_good",
}
TYPE_ORDER = list(TASK_PER_TYPE)
BASELINE = "randomsearch"


def concrete_variants() -> list[str]:
    return [name for name, cfg in registry.optimizers().items() if not cfg.get("by_task_type")]


def measure(variant: str, task_type: TaskType, n_trials: int, max_seconds: float, seed: int = 0,
            tasks: dict = TASK_PER_TYPE) -> dict:
    """One run; per-trial optimizer times as the runner measured them."""
    cfg = registry.get_optimizer_config(variant)
    cls = registry.optimizer_class(variant)
    settings = {k: v for k, v in cfg["adapter"].items() if k != "_target_"}
    task_cfg = {**registry.get_task(tasks[task_type]).config,
                "budget": {"n_trials": n_trials, "time_limit": max_seconds}}
    task = build_task(task_cfg)
    t0 = time.perf_counter()
    result = run_trials(task, lambda: cls(task=task, seed=seed, workdir=None, **settings))
    wall = time.perf_counter() - t0
    if result.status != "complete":
        raise RuntimeError(f"{variant} failed on {task.id}:\n{result.error}")
    times = [row["optimizer_time"] for row in result.rows]
    tail = times[len(times) // 2:]
    return {"variant": variant, "task": task.id, "dim": len(list(task.configspace.values())), "budget": n_trials,
            "trials": len(times), "units": result.budget_used,
            "stopped": result.stop_reason == "time_limit", "mean_ms": 1e3 * statistics.fmean(times),
            "tail_ms": 1e3 * statistics.fmean(tail), "total_s": sum(times) + result.setup_time, "wall_s": wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizers", default="", help="comma-separated variants (default: every concrete one)")
    parser.add_argument("--trials", default="50,200", help="comma-separated budgets (full-fidelity evaluations)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="time limit per run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per budget (seeds 0..n-1); the mean is reported")
    parser.add_argument("--high-dim", action="store_true",
                        help="measure on higher-dimensional tasks (bbob d 20, mfbbob d 10, zdt1 d 20, momf d 10)")
    parser.add_argument("--write-data", action="store_true",
                        help="store the measured means in carps_like/data/cost_model.json (study estimates)")
    args = parser.parse_args(argv)
    variants = [v for v in args.optimizers.split(",") if v] or concrete_variants()
    for v in variants:
        registry.get_optimizer_config(v)  # unknown names fail before anything runs
    budgets = [int(b) for b in args.trials.split(",")]
    measured: dict[str, dict] = {}
    tasks = TASK_PER_TYPE_HIGH if args.high_dim else TASK_PER_TYPE

    print(f"{'optimizer':<22} {'task':<24} {'budget':>6} {'trials':>7} {'ms/ask+tell':>12} {'2nd half':>9} "
          f"{'total s':>8} {'vs random':>9}", flush=True)
    for budget in budgets:
        baseline: dict[TaskType, float] = {}
        for variant in [BASELINE] + [v for v in variants if v != BASELINE]:
            cls = registry.optimizer_class(variant)
            task_type = next(t for t in TYPE_ORDER if t in cls.task_types)
            if variant == BASELINE:
                # the baseline is measured on every type, in this same process and budget
                for t in TYPE_ORDER:
                    runs = [measure(BASELINE, t, budget, args.max_seconds, s, tasks) for s in range(args.repeats)]
                    baseline[t] = statistics.fmean(r["mean_ms"] for r in runs)
                if BASELINE not in variants:
                    continue
            runs = [measure(variant, task_type, budget, args.max_seconds, s, tasks) for s in range(args.repeats)]
            row = runs[0]
            mean_ms = statistics.fmean(r["mean_ms"] for r in runs)
            tail_ms = statistics.fmean(r["tail_ms"] for r in runs)
            total = statistics.fmean(r["total_s"] for r in runs)
            trials = f"{row['trials']}{'*' if row['stopped'] else ''}"
            entry = measured.setdefault(variant, {"task": row["task"], "dim": row["dim"], "points": [], "units": 0.0,
                                                  "trials": 0})
            # a run of N trials: its mean stands for trial N/2, its second-half mean for 3N/4
            entry["points"] += [[row["trials"] / 2, round(mean_ms, 4)], [3 * row["trials"] / 4, round(tail_ms, 4)]]
            entry["units"] += row["units"]
            entry["trials"] += row["trials"]
            print(f"{variant:<22} {row['task']:<24} {budget:>6} {trials:>7} {mean_ms:>12.2f} {tail_ms:>9.2f} "
                  f"{total:>8.1f} {mean_ms / baseline[task_type]:>8.0f}x", flush=True)
    print("\n* stopped at --max-seconds before the budget was spent", flush=True)
    if args.write_data:
        from carps_like.estimate import DATA, write_section

        entries = {v: {"task": e["task"], "dim": e["dim"], "points": e["points"],
                       "trials_per_unit": round(e["trials"] / max(e["units"], 1e-9), 3)} for v, e in measured.items()}
        # --high-dim adds a second dimension to each variant's record (carps_like.estimate interpolates)
        write_section("optimizers", {v: {"high_dim": e} for v, e in entries.items()} if args.high_dim else entries)
        print(f"wrote {len(measured)} optimizers' costs to {DATA.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
