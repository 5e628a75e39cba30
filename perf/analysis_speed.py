"""Speed of the analysis pipeline (gather + report) on synthetic results, against the I/O floor (no asserts).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python perf/analysis_speed.py [--runs 1000] [--trials 100]
                                                                         [--quick] [--keep DIR]

Why: the issue asks that gather + report of 1,000 runs x 100 trials finish in under 60 s on 2 cores,
and that the 45-run case CARP-S needed about a minute for (14-20 s gather, 36-61 s report) be
measured the same way. Evaluating real objectives would take far longer than the analysis, so
the runs are synthetic, but they are REAL run directories written through `carps_like.store.
RunHandle` (run.json + trials.jsonl + trials.parquet, the meta dict `experiment.run_cell` writes),
on REAL task ids whose registry metadata (objectives, fidelity range, known optimum) is recorded,
so normalization, known optima and true Pareto fronts take the same code paths as a real study.

What is printed, every number measured in this process or a child of it:
  * generation time (not part of any measurement);
  * the I/O floor, the baseline: walk the run root and read every run.json (json) and
    trials.parquet (pyarrow) in a plain loop; best of 2. Ratio gather / floor;
  * cold gather (`analysis.gather.gather` into a fresh out dir: no gather-index.json);
  * cold `build_report` into a fresh out dir (includes its own gather), with a breakdown
    (gather / compute / rank + tests / per-task tables / figures drawn / figures saved /
    rendering / rest, plus nested and cross-cutting lines such as statsmodels' multipletests) taken
    by wrapping module attributes at run time (the analysis code is unchanged);
  * a second `build_report` into the same out dir (the incremental gather re-reads nothing);
  * the CLI end to end in a fresh interpreter (`python -m analysis.report ROOT --out NEW`):
    what `make report` costs a user, imports and interpreter start included;
  * the same for the 45-run case (3 optimizers x 3 bbob tasks x 5 seeds, 20-50 trials each);
    its in-process numbers are the median of 3;
  * a final table; the verdict compares the 1,000-run case's cold in-process total and CLI time
    with the 60 s target.
Notes: the files were just written, so the page cache is warm for every reader, the floor
included ("cold" means no earlier gather index, not a cold disk). The machine's 2 cores are
shared: expect +-20 % between runs; ratios within one run are steadier than absolute times.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from carps_like import registry  # noqa: E402
from carps_like.environment import git_revision, host_info, package_versions  # noqa: E402
from carps_like.errors import UserError  # noqa: E402
from carps_like.incumbent import IncumbentTracker  # noqa: E402
from carps_like.runner import RunResult  # noqa: E402
from carps_like.store import RUN_FILE, TRIALS_PARQUET, RunHandle, iter_run_dirs, run_dir  # noqa: E402
from carps_like.types import TaskType  # noqa: E402

TARGET_S = 60.0
TARGET_RUNS, TARGET_TRIALS = 1000, 100
OPTIMIZERS = ("randomsearch", "smac", "optuna", "dehb", "ng_de")  # labels only: nothing is run
COLLECTIONS = {"bb": "bbob", "mf": "mfbbob", "mo": "pymoo", "momf": "momfsynth"}
SEEDS = 5
CRASH_RATE = 0.01  # share of trials whose objective "crashed" (costs None)
FAIL_EVERY = 97  # every 97th run ends as `failed` (optimizer error) after 50-90 % of its trials
BASE_TIME = 1.7e9  # trial timestamps are synthetic and deterministic
CARPS_QUOTE = "CARP-S, quoted from the issue (not measured here): 14-20 s gather + 36-61 s report for 45 small runs"


# -- synthetic results ------------------------------------------------------------------------------
def pick_tasks(per_type: int, types=("bb", "mf", "mo", "momf")) -> list[str]:
    """`per_type` real task ids per type, evenly spaced over each collection's sorted ids (a spread
    of functions, dimensions and objective counts)."""
    ids_all = sorted(registry.tasks())
    chosen = []
    for t in types:
        ids = [i for i in ids_all if i.startswith(COLLECTIONS[t] + "/")]
        step = len(ids) / per_type
        chosen += [ids[int(k * step)] for k in range(per_type)]
    return chosen


@functools.cache
def optimizer_identity(opt_id: str, task_type: str) -> tuple[str, dict]:
    """(variant, config) as run_cell records them; ids an optimizer lacks a variant for keep their own
    config (compatibility does not matter here: nothing is evaluated)."""
    try:
        variant = registry.optimizer_variant(opt_id, TaskType.parse(task_type))
    except UserError:  # IncompatibleError included
        variant = opt_id
    return variant, registry.get_optimizer_config(variant)


def _task_rng_params(task_id: str, seed: int) -> dict:
    """Per-task constants (cost scale, offset) drawn from a task-keyed generator."""
    rng = np.random.default_rng([seed, sum(task_id.encode())])
    return {"scale": 10 ** rng.uniform(0.3, 3.5), "offset": rng.normal(0.0, 50.0)}


def synth_run(rng: np.random.Generator, task_id: str, meta_task: dict, opt_index: int, n_trials: int, failed: bool,
              run_index: int) -> tuple[RunResult, dict]:
    """Trial rows (runner.py's keys) and the RunResult of one synthetic run, plus its budget dict.

    Single objective: cost = optimum + scale * (1 + t)^-alpha * lognormal (alpha grows with the
    optimizer index, so optimizers differ); low fidelities add a bias that vanishes at z_max.
    Multi-objective: points along the positive unit sphere between the task's ideal and nadir,
    pushed out by a distance that shrinks over trials. Multi-fidelity: hyperband-like levels
    z_max / 3^k, about half the higher-level trials re-evaluate an earlier configuration, the last
    10 % of trials are at z_max; randomsearch always uses z_max (as its adapter does)."""
    n_obj = len(meta_task.get("objectives") or [None])
    mo = n_obj > 1
    fid = meta_task.get("fidelity")
    dim = int(meta_task.get("dimensions") or 2)
    names = [f"x{i}" for i in range(dim)]
    p = _task_rng_params(task_id, 0)
    alpha = 0.15 + 0.12 * opt_index
    progress = (1.0 + np.arange(n_trials)) ** -alpha

    if fid:
        zmin, zmax = float(fid["min"]), float(fid["max"])
        levels = np.unique(np.clip(np.round(zmax / 3.0 ** np.arange(4)[::-1]), zmin, zmax))
        if OPTIMIZERS[opt_index % len(OPTIMIZERS)] == "randomsearch":
            z = np.full(n_trials, zmax)
        else:
            w = 1.0 / (1.0 + np.arange(len(levels)))  # more low-fidelity trials, as in hyperband
            z = rng.choice(levels, size=n_trials, p=w / w.sum())
            z[-max(1, n_trials // 10):] = zmax
        s = np.log(z / zmin) / np.log(zmax / zmin) if zmax > zmin else np.ones(n_trials)
        units = z / zmax
        virtual = 0.05 + 0.95 * ((z - zmin) / max(zmax - zmin, 1e-12)) ** 1.5
    else:
        z, s, units, virtual = None, np.ones(n_trials), np.ones(n_trials), None

    if mo:
        extra = meta_task.get("extra") or {}
        ideal = np.asarray(extra.get("ideal") or np.zeros(n_obj), float)
        nadir = np.asarray(extra.get("nadir") or np.ones(n_obj), float)
        u = np.abs(rng.normal(size=(n_trials, n_obj)))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        d = 0.01 + 2.0 * progress * np.exp(rng.normal(0.0, 0.6, n_trials)) + 0.5 * (1 - s) * rng.random(n_trials)
        costs = ideal + (nadir - ideal) * u * (1.0 + d)[:, None]
    else:
        opt = meta_task.get("optimum")
        y_star = float(opt[0]) if opt else p["offset"]
        full = y_star + p["scale"] * progress * np.exp(rng.normal(0.0, 0.8, n_trials))
        costs = full + p["scale"] * 0.3 * (1 - s) * rng.normal(1.0, 0.5, n_trials)
    crashed = rng.random(n_trials) < CRASH_RATE
    opt_time = rng.exponential(0.005 * (1 + opt_index), n_trials)
    obj_time = rng.exponential(0.001, n_trials)
    xs = rng.random((n_trials, dim))
    used_total = float(units.sum())
    budget = {"n_trials": float(math.ceil(used_total - 1e-9)) if fid else n_trials, "time_limit": None}
    if failed:
        n_trials = int(n_trials * rng.uniform(0.5, 0.9))

    tracker = IncumbentTracker(multi_objective=mo, fidelity_max=float(fid["max"]) if fid else None)
    rows, configs, used, clock = [], [], 0.0, BASE_TIME + 1e4 * run_index
    for i in range(n_trials):
        if fid and z[i] > levels[0] and configs and rng.random() < 0.5:
            config = configs[int(rng.integers(len(configs)))]  # promotion: same configuration, higher fidelity
        else:
            config = dict(zip(names, xs[i].tolist()))
            configs.append(config)
        fidelity = float(z[i]) if fid else None
        used += float(units[i])
        start = clock + opt_time[i]
        end = start + obj_time[i]
        clock = end
        row = {"trial": i, "config": config, "fidelity": fidelity, "trial_seed": int(rng.integers(2**31)),
               "budget_used": used, "status": "SUCCESS", "optimizer_time": float(opt_time[i]),
               "objective_time": float(obj_time[i]),
               "virtual_time": float(virtual[i]) if virtual is not None else float(obj_time[i]),
               "start_time": start, "end_time": end, "incumbent_cost": None, "error": None, "info": None}
        if crashed[i]:
            row.update(costs=None, status="CRASHED", error="RuntimeError: synthetic objective crash")
        else:
            c = costs[i].tolist() if mo else [float(costs[i])]
            row["costs"] = c
            tracker.update(i, tuple(c) if mo else c[0], fidelity)
        row["incumbent_cost"] = None if mo else tracker.best_cost
        rows.append(row)
    result = RunResult(status="failed" if failed else "complete", n_trials=n_trials, budget_used=used,
                       incumbent=tracker.summary(), stop_reason="optimizer_error" if failed else "budget",
                       error=("Traceback (most recent call last):\n  File \"optimizers/x.py\", line 1, in ask\n"
                              "RuntimeError: synthetic optimizer failure") if failed else None,
                       optimizer_time=float(opt_time[:n_trials].sum()), objective_time=float(obj_time[:n_trials].sum()),
                       virtual_time=float(sum(r["virtual_time"] for r in rows)), setup_time=0.01,
                       wall_time=clock - BASE_TIME - 1e4 * run_index, n_crashed=int(crashed[:n_trials].sum()), rows=rows)
    return result, budget


def generate(root: Path, cells: list[tuple[str, str, int, int]], study: str, seed: int) -> tuple[float, int, int]:
    """Write one run directory per (optimizer, task, seed, n_trials) cell through RunHandle.
    Returns (seconds, runs, trials)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    versions, rev, host = package_versions(), git_revision(), host_info()
    n_rows = 0
    for k, (opt_id, task_id, s, n_trials) in enumerate(cells):
        entry = registry.get_task(task_id)
        meta_task = entry.config["metadata"]
        variant, variant_cfg = optimizer_identity(opt_id, meta_task["type"])
        result, budget = synth_run(rng, task_id, meta_task, OPTIMIZERS.index(opt_id), n_trials,
                                   failed=(k % FAIL_EVERY == FAIL_EVERY - 1), run_index=k)
        meta = {"study": study, "optimizer_id": opt_id, "optimizer_variant": variant, "optimizer_config": variant_cfg,
                "task_id": task_id, "task_type": meta_task["type"], "task_metadata": meta_task, "seed": s,
                "budget": budget, "versions": versions, "git_revision": rev, **host}
        handle = RunHandle(run_dir(root, study, opt_id, task_id, s))
        handle.acquire()
        try:
            handle.start(meta)
            for row in result.rows:
                handle.append_trial(row)
            handle.finish(result.status, result.summary(), result.rows)
        finally:
            handle.release()
        n_rows += len(result.rows)
    return time.perf_counter() - t0, len(cells), n_rows


def big_cells(n_runs: int, n_trials: int) -> list[tuple[str, str, int, int]]:
    """5 optimizers x (4 types x k tasks) x 5 seeds, k = n_runs / 100 (1,000 runs: 40 tasks)."""
    per_type = max(1, round(n_runs / (len(OPTIMIZERS) * SEEDS * 4)))
    return [(o, t, s, n_trials) for o in OPTIMIZERS for t in pick_tasks(per_type) for s in range(SEEDS)]


def small_cells(seed: int) -> list[tuple[str, str, int, int]]:
    """The CARP-S-sized case: 3 optimizers x 3 bbob tasks x 5 seeds, 20-50 trials per run."""
    rng = np.random.default_rng(seed + 45)
    return [(o, t, s, int(rng.integers(20, 51))) for o in OPTIMIZERS[:3] for t in pick_tasks(3, ("bb",))
            for s in range(SEEDS)]


# -- measurements -------------------------------------------------------------------------------------
def io_floor(root: Path) -> tuple[float, int]:
    """The baseline: find the runs and read each run.json and trials.parquet, nothing else."""
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    n = 0
    for d in iter_run_dirs(root):
        json.loads((d / RUN_FILE).read_text())
        n += pq.read_table(d / TRIALS_PARQUET).num_rows
    return time.perf_counter() - t0, n


class Probe:
    """Accumulated wall time of selected analysis functions, installed by replacing module attributes
    for the duration of one measurement (the analysis code itself is untouched)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def _wrap(self, fn, label: str):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.calls[label] += 1
        return timed

    @contextlib.contextmanager
    def installed(self, targets):
        saved = []
        try:
            for owner, attr, label in targets:
                orig = getattr(owner, attr)
                saved.append((owner, attr, orig))
                setattr(owner, attr, self._wrap(orig, label))
            yield self
        finally:
            for owner, attr, orig in reversed(saved):
                setattr(owner, attr, orig)


def report_targets():
    """(owner, attribute, label): top-level stages of build_report, then nested ones (label with ':')."""
    import statsmodels.stats.multitest as SM  # ranking.py imports multipletests from it at call time

    import analysis.figures as F
    import analysis.gather as G
    import analysis.normalize as N
    import analysis.report as R

    draw = "figures drawn"
    return [
        (R, "gather", "gather"), (R, "compute", "compute (curves, normalization, HV)"), (R, "rank", "rank + tests"),
        (R, "per_task_table", "per-task tables (+ Mann-Whitney)"),
        (F, "cd_diagram", draw), (F, "rank_over_time_figure", draw), (F, "performance_over_time", draw),
        (F, "heatmap", draw), (F, "final_boxplots", draw), (F, "save", "figures saved (PNG + PDF)"),
        (R, "render_markdown", "render README.md + index.html"), (R, "render_html", "render README.md + index.html"),
        # nested (already inside a stage above)
        (G, "read_run", "gather: read_run (run.json + trials.parquet)"),
        (G, "_trials_table", "gather: dicts -> Arrow table"),
        (N, "true_front", "compute: true Pareto fronts"),
        (N.MultiObjectiveScale, "hypervolume", "compute: hypervolume"),
        (N.MultiObjectiveScale, "igd_plus", "compute: IGD+"),
        (F, "mean_with_ci", "figures drawn: mean_with_ci"), (F, "rank_over_time", "figures drawn: rank_over_time"),
        # cross-cutting (called from several stages; label starts with '*')
        (SM, "multipletests", "* statsmodels multipletests (Holm), in rank + per-task tables"),
    ]


def timed_build_report(root: Path, out: Path, probe: Probe | None = None) -> float:
    """One build_report call; with `probe`, the stage breakdown is recorded. The true-front cache is
    cleared first, so each call pays what a fresh process pays."""
    from analysis import tasks
    from analysis.report import build_report

    tasks.true_front.cache_clear()
    with (probe.installed(report_targets()) if probe else contextlib.nullcontext()):
        t0 = time.perf_counter()
        build_report([str(root)], out, progress=False)
        return time.perf_counter() - t0


def timed_gather(root: Path, out: Path) -> tuple[float, int, int]:
    from analysis.gather import gather

    t0 = time.perf_counter()
    g = gather([str(root)], out, progress=False)
    return time.perf_counter() - t0, len(g.runs), len(g.trials)


def cli_report(root: Path, out: Path) -> float:
    """`python -m analysis.report ROOT --out OUT` in a fresh interpreter (what `make report` runs)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "analysis.report", str(root), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"analysis.report failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dt


def warm_imports() -> float:
    """Import everything the report imports lazily, so in-process stage times are work, not imports
    (the CLI measurement pays them)."""
    t0 = time.perf_counter()
    import pymoo.indicators.hv  # noqa: F401
    import pymoo.indicators.igd_plus  # noqa: F401
    import pymoo.util.nds.non_dominated_sorting  # noqa: F401
    import scikit_posthocs  # noqa: F401
    import scipy.stats  # noqa: F401
    import statsmodels.stats.multitest  # noqa: F401

    import analysis.report  # noqa: F401  (matplotlib, pandas, pyarrow)
    return time.perf_counter() - t0


def print_breakdown(probe: Probe, total: float) -> None:
    top = {k: v for k, v in probe.seconds.items() if ":" not in k and not k.startswith("*")}
    nested = {k: v for k, v in probe.seconds.items() if ":" in k and not k.startswith("*")}
    across = {k: v for k, v in probe.seconds.items() if k.startswith("*")}
    print(f"    {'stage':46s} {'s':>7s} {'% of report':>12s} {'calls':>6s}")
    for label, sec in top.items():
        print(f"    {label:46s} {sec:7.2f} {100 * sec / total:11.1f}% {probe.calls[label]:6d}")
        for sub, s2 in nested.items():
            if sub.split(":")[0] == label.split(" (")[0]:
                print(f"      {sub:44s} {s2:7.2f} {100 * s2 / total:11.1f}% {probe.calls[sub]:6d}")
    rest = total - sum(top.values())
    print(f"    {'rest (doc model, tables, final.csv, ...)':46s} {rest:7.2f} {100 * rest / total:11.1f}%")
    for label, sec in across.items():
        print(f"    {label:62s} {sec:7.2f} {100 * sec / total:11.1f}% {probe.calls[label]:6d}")


def measure_case(name: str, root: Path, work: Path, repeats: int) -> dict:
    """Floor, cold gather, cold report (with breakdown), warm report and CLI for one run root."""
    floor = min(io_floor(root)[0] for _ in range(2))
    gathers = [timed_gather(root, work / f"{name}_gather{i}") for i in range(repeats)]
    g_s = statistics.median(g[0] for g in gathers)
    _, n_runs, n_trials = gathers[0]
    colds, probes = [], []
    for i in range(repeats):
        probe = Probe()
        colds.append(timed_build_report(root, work / f"{name}_report{i}", probe))
        probes.append(probe)
    mid = sorted(range(repeats), key=lambda i: colds[i])[repeats // 2]
    cold, probe = colds[mid], probes[mid]
    warm_probe = Probe()
    warm = timed_build_report(root, work / f"{name}_report{mid}", warm_probe)
    cli = cli_report(root, work / f"{name}_cli")
    report_gather = probe.seconds["gather"]
    print(f"  runs {n_runs}, trials {n_trials}" + (f" (median of {repeats})" if repeats > 1 else ""))
    print(f"  I/O floor (baseline: walk + run.json + trials.parquet, best of 2)  {floor:7.2f} s")
    print(f"  cold gather                                   {g_s:7.2f} s   gather / floor = {g_s / floor:5.1f}x"
          f"   ({1e3 * g_s / n_runs:.1f} ms/run)")
    print(f"  cold build_report (gather + report)           {cold:7.2f} s   of which its gather {report_gather:.2f} s")
    print(f"  warm build_report (incremental gather)        {warm:7.2f} s   warm / cold = {warm / cold:4.2f}"
          f"   (its gather {warm_probe.seconds['gather']:.2f} s)")
    print(f"  CLI end to end (fresh interpreter, imports)   {cli:7.2f} s   CLI / in-process cold = {cli / cold:4.2f}")
    print(f"  breakdown of the cold build_report ({cold:.2f} s):")
    print_breakdown(probe, cold)
    return {"name": name, "runs": n_runs, "trials": n_trials, "floor": floor, "gather": g_s,
            "report": cold - report_gather, "total": cold, "warm": warm, "cli": cli}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=TARGET_RUNS, help="runs of the large case (default 1000)")
    parser.add_argument("--trials", type=int, default=TARGET_TRIALS, help="trials per run of the large case (default 100)")
    parser.add_argument("--keep", type=Path, default=None, help="keep generated runs and reports in this directory")
    parser.add_argument("--quick", action="store_true", help="smoke test: 100 runs")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed of the synthetic results")
    args = parser.parse_args()
    n_runs = 100 if args.quick else args.runs

    print(f"analysis speed: python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, nice {os.nice(0)}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        base, cleanup = args.keep, contextlib.nullcontext()
    else:
        tmp = tempfile.TemporaryDirectory(prefix="analysis_speed_")
        base, cleanup = Path(tmp.name), tmp
    with cleanup:
        imports = warm_imports()
        print(f"imports of the analysis stack (not in the in-process times): {imports:.2f} s")
        cases = []
        for name, cells, repeats in (("large", big_cells(n_runs, args.trials), 1), ("carps45", small_cells(args.seed), 3)):
            root = base / f"runs_{name}"
            work = base / f"work_{name}"
            if root.exists():
                shutil.rmtree(root)
            if work.exists():
                shutil.rmtree(work)
            gen_s, nr, nt = generate(root, cells, study=f"perf_{name}", seed=args.seed)
            types = sorted({registry.get_task(t).config["metadata"]["type"] for _, t, _, _ in cells})
            print(f"\n== case {name}: {nr} runs, {nt} trials, {len({c[1] for c in cells})} tasks "
                  f"({', '.join(types)}), {len({c[0] for c in cells})} optimizers, {SEEDS} seeds")
            print(f"  generation (RunHandle writes; not measured): {gen_s:.1f} s")
            cases.append(measure_case(name, root, work, repeats))

        large, small = cases
        is_target = large["runs"] >= TARGET_RUNS and large["trials"] >= TARGET_RUNS * TARGET_TRIALS * 0.95
        print("\n== summary (s; gather = cold gather alone; report = cold build_report minus its own gather;"
              "\n   total = cold build_report, gather included; CLI = `python -m analysis.report` in a fresh process)")
        head = f"{'case':9s} {'runs':>5s} {'trials':>7s} {'floor':>6s} {'gather':>7s} {'report':>7s} {'total':>7s} " \
               f"{'warm':>6s} {'CLI':>6s}  {'target':10s} verdict"
        print(head)
        print("-" * len(head))
        for c in cases:
            if c is large:
                worst = max(c["total"], c["cli"])
                target = f"< {TARGET_S:g} s"
                verdict = ("PASS" if worst < TARGET_S else "FAIL") + f" (worst {worst:.1f} s = {worst / TARGET_S:.2f} x target)"
                if not is_target:
                    verdict = "n/a (target is for 1000 x 100)"
            else:
                target, verdict = "reported", "measured (CARP-S figures below)"
            print(f"{c['name']:9s} {c['runs']:5d} {c['trials']:7d} {c['floor']:6.2f} {c['gather']:7.2f} {c['report']:7.2f} "
                  f"{c['total']:7.2f} {c['warm']:6.2f} {c['cli']:6.2f}  {target:10s} {verdict}")
        print(f"\nratios measured in this run: large gather / floor = {large['gather'] / large['floor']:.1f}x; "
              f"large / carps45 total = {large['total'] / small['total']:.1f}x for "
              f"{large['trials'] / small['trials']:.0f}x the trials; warm / cold report (large) = "
              f"{large['warm'] / large['total']:.2f}")
        print(CARPS_QUOTE)
        if args.keep:
            print(f"kept: {base}")


if __name__ == "__main__":
    main()
