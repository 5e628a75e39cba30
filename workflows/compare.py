"""`make compare OPT=<name>`: does a new optimizer conform, run on every task type it claims, and
how does it rank against the shipped baselines on the dev subsets?

    python -m workflows.compare myopt [--types bb,mf] [--seeds 3] [--baselines randomsearch,optuna_tpe]
                                     [--fail-if-worse-than randomsearch] [--out compare] [--jobs N]

1. the conformance suite (tests/conformance, what `make check-optimizer` runs);
2. the optimizer on `subset_<type>_dev` for every type it supports, seeds 1..SEEDS, with the
   budgets the baselines ran with (configs/subsets.yaml caps), into `runs/compare-<data version>/`
   (resumable: finished runs are not redone);
3. refusal of anything that would make the comparison unfair: baselines collected for other subset
   files, other budgets, other task definitions (task metadata fingerprint), seeds the baselines lack;
4. statistics on the seed-averaged final scores of the tasks every optimizer ran (analysis.comparison,
   analysis.ranking): mean ranks, Friedman + Nemenyi with a CD diagram, and for the new optimizer
   against each baseline a Wilcoxon signed-rank test over tasks, Holm-adjusted over the baselines,
   with the mean score difference and its bootstrap 95% interval;
5. `<out>/README.md` (Markdown, for a CI job summary), `<out>/index.html`, `<out>/figures/`, the
   full analysis report of the same runs in `<out>/report/`, and a short terminal summary.

This module runs things (the conformance suite, the studies); the statistics and the report are
pure data -> tables in analysis/comparison.py.

Exit status: 0 fine; 1 the conformance suite failed, a run failed or did not finish, or a
--fail-if-worse-than baseline is significantly better; 2 bad input or a refused comparison.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from analysis.comparison import compare_type, gathered_subset, mismatches, summary_lines, threshold_failures, write_report
from analysis.gather import write_gathered
from analysis.subsets import CONFIG, ROOT, TYPES, load_config
from carps_like import registry
from carps_like.errors import UserError

from . import baselines as B
from .subsets import budget_groups


class Refused(Exception):
    """The runs cannot be compared with the baselines (the message says why and what to do)."""


# -- planning ------------------------------------------------------------------------------------
def dev_tasks(task_type: str) -> list[str]:
    import yaml

    path = B.subset_file(task_type, "dev")
    if not path.exists():
        raise Refused(f"{path.relative_to(ROOT)} is missing: run `make subsets`")
    return yaml.safe_load(path.read_text())["tasks"]


def plan_types(optimizer: str, requested: list[str] | None,
               batch_size: int = 1) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """Dev tasks the optimizer can run, per type it supports; and the skipped tasks with reasons.
    A type is supported when the optimizer can run at least one of its dev tasks."""
    registry.get_optimizer_config(optimizer)  # unknown names: a clear error listing the valid ones
    bad = [t for t in requested or [] if t not in TYPES]
    if bad:
        raise UserError(f"unknown task types {bad}; accepted: {', '.join(TYPES)}")
    runnable, skipped = {}, {}
    for t in requested or list(TYPES):
        ok, why = [], {}
        for task in dev_tasks(t):
            reason = registry.incompatibility(optimizer, registry.get_task(task), batch_size)
            if reason:
                why[task] = reason
            else:
                ok.append(task)
        if ok:
            runnable[t] = ok
        if why:
            skipped[t] = why
    if requested:
        unsupported = [t for t in requested if t not in runnable]
        if unsupported:
            reasons = {t: next(iter(skipped[t].values())) for t in unsupported}
            raise UserError(f"{optimizer} cannot run any dev task of type(s) {unsupported}: {reasons}")
    if not runnable:
        raise UserError(f"{optimizer} cannot run any dev task of any type: "
                        + "; ".join(f"{t}: {next(iter(w.values()))}" for t, w in skipped.items()))
    return runnable, skipped


def run_conformance(optimizer: str) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "conformance"),
           "--optimizer", optimizer]
    print(f"[compare] conformance suite: {' '.join(cmd[2:])}", flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def study_name(cfg: dict) -> str:
    return f"compare-{cfg['data_version']}"


def run_optimizer(cfg: dict, optimizer: str, tasks: dict[str, list[str]], seeds: list[int], runs_root: Path,
                  jobs: int | None, redo: bool = False, batch_size: int = 1) -> int:
    """The optimizer on the dev tasks with the baselines' budgets (one study call per budget cap)."""
    rc = 0
    for t, ids in tasks.items():
        for cap, group in sorted(budget_groups(cfg, t, ids).items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)):
            cmd = [sys.executable, "-m", "carps_like.study", "--optimizer", optimizer, "--task", ",".join(group),
                   "--seeds", ",".join(map(str, seeds)), "--out", str(runs_root), "--study", study_name(cfg),
                   "--batch-size", str(batch_size)]
            if cap is not None:
                cmd += ["--n-trials", str(cap)]
            if jobs:
                cmd += ["--jobs", str(jobs)]
            if redo:
                cmd.append("--redo")
            print(f"[compare] {t}: {optimizer} on {len(group)} dev tasks x {len(seeds)} seeds"
                  + (f" (budget cap {cap})" if cap else ""), flush=True)
            rc = max(rc, subprocess.call(cmd, cwd=ROOT))
    return rc


# -- the comparison (statistics and report: analysis/comparison.py) --------------------------------
def analyse(cfg: dict, optimizer: str, tasks: dict[str, list[str]], seeds: list[int], runs_root: Path,
            baseline_names: list[str] | None, out: Path, skipped: dict, full_report: bool = True):
    """Gather the new runs and the baselines, refuse unfair comparisons, write the report."""
    from analysis.anytime import compute
    from analysis.gather import Gathered, gather

    problems = B.check(cfg)
    if problems:
        raise Refused("the shipped baselines cannot be used: " + "; ".join(problems))
    study_dir = runs_root / study_name(cfg) / optimizer
    if not study_dir.exists():
        raise Refused(f"no runs of {optimizer} in {study_dir}")
    new = gather([study_dir], out / ".gather-new")
    base = gather([B.baseline_dir(cfg)])
    all_tasks = {task for ids in tasks.values() for task in ids}
    new_runs = new.runs[new.runs["task_id"].isin(all_tasks) & new.runs["seed"].isin(seeds)]
    base_runs = base.runs[base.runs["task_id"].isin(all_tasks) & base.runs["seed"].isin(seeds)]
    if baseline_names:
        unknown = sorted(set(baseline_names) - set(base.runs["optimizer_id"]))
        if unknown:
            raise UserError(f"unknown baselines {unknown}; the shipped baselines are: {', '.join(sorted(set(base.runs['optimizer_id'])))}")
        base_runs = base_runs[base_runs["optimizer_id"].isin(baseline_names)]
    if optimizer in set(base_runs["optimizer_id"]):
        base_runs = base_runs[base_runs["optimizer_id"] != optimizer]  # a baseline compared with itself: its new runs
    bad = mismatches(new_runs, base_runs)
    if bad:
        raise Refused(f"{len(bad)} problem(s) make the runs incomparable with the baselines:\n  " + "\n  ".join(bad[:20]))
    run_problems = [f"{r.task_id} seed {r.seed}: {r.status}" + (f" ({r.reason})" if isinstance(r.reason, str) and r.reason else "")
                    for r in new_runs.itertuples() if r.status != "complete"]
    expected = {(task, s) for ids in tasks.values() for task in ids for s in seeds}
    missing = sorted(expected - set(zip(new_runs["task_id"], new_runs["seed"])))
    run_problems += [f"{task} seed {s}: no run" for task, s in missing]
    parts = [gathered_subset(new, new_runs), gathered_subset(base, base_runs)]
    both = Gathered(trials=pd.concat([p.trials for p in parts], ignore_index=True),
                    runs=pd.concat([p.runs for p in parts], ignore_index=True))
    perf = compute(both, None, sorted(all_tasks))
    comparisons = {}
    for t in tasks:
        of_type = perf.final[perf.final["task_type"] == t]
        if not of_type.empty and of_type.loc[of_type["optimizer_id"] == optimizer, "score"].notna().any():
            comparisons[t] = compare_type(perf.final, t, optimizer)
        elif not of_type.empty:
            run_problems.append(f"{t}: {optimizer} recorded no scored trial on any dev task, nothing to compare")
    header = [f"Dev subsets of data version {cfg['data_version']} (configs/taskset/subset_<type>_dev.yaml); seeds "
              f"{', '.join(map(str, seeds))} for every optimizer; budgets as the baselines (configs/subsets.yaml caps). "
              f"Baselines: shipped runs in {B.baseline_dir(cfg).relative_to(ROOT)}; new runs in {study_dir}.",
              perf.options.describe() + "."]
    index = write_report(out, optimizer, comparisons, perf, skipped, header, run_problems)
    if full_report:
        from analysis.report import build_report

        build_report([write_gathered(both, out / "data")], out / "report", progress=False)
    return comparisons, index, run_problems


def _csv(text: str | None) -> list[str] | None:
    items = [x.strip() for x in (text or "").split(",") if x.strip()]
    return items or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workflows.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("optimizer")
    parser.add_argument("--types", default=None, help="comma list of bb, mf, mo, momf (default: every type it supports)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (at most the baselines' seeds)")
    parser.add_argument("--baselines", default=None, help="comma list of baseline optimizers (default: all shipped)")
    parser.add_argument("--fail-if-worse-than", default=None, help="comma list: exit 1 if significantly worse than these")
    parser.add_argument("--out", type=Path, default=Path("compare"))
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where the new runs go")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--redo", action="store_true",
                        help="run finished runs again (after changing the optimizer; old results go to attempts/)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="trials per ask_batch (make compare BATCH=q); the new runs are compared as <optimizer>_q<q> "
                             "(default: the optimizer config's batch_size, else 1)")
    parser.add_argument("--skip-conformance", action="store_true", help="(debugging) do not run the conformance suite")
    args = parser.parse_args(argv)
    cfg = load_config(CONFIG)
    out, runs_root = (args.out if args.out.is_absolute() else ROOT / args.out), (
        args.runs if args.runs.is_absolute() else ROOT / args.runs)
    try:
        if not 1 <= args.seeds <= int(cfg["baseline_seeds"]):
            raise UserError(f"--seeds {args.seeds}: the baselines have seeds 1..{cfg['baseline_seeds']}; accepted: 1..{cfg['baseline_seeds']}")
        seeds = list(range(1, args.seeds + 1))
        batch_size, _ = registry.chosen_batch_size(args.optimizer, args.batch_size)  # unknown names: listed
        label = registry.run_label(args.optimizer, batch_size)  # what the runs are filed and compared as
        tasks, skipped = plan_types(args.optimizer, _csv(args.types), batch_size)
        problems = B.check(cfg)
        if problems:
            raise Refused("the shipped baselines cannot be used: " + "; ".join(problems))
        print(f"[compare] {label} on the dev subsets of {', '.join(tasks)} "
              f"({sum(map(len, tasks.values()))} tasks x {len(seeds)} seeds)", flush=True)
        if not args.skip_conformance and run_conformance(args.optimizer) != 0:
            print(f"[compare] FAILED: {args.optimizer} does not pass the conformance suite (output above); "
                  f"fix it first (`make check-optimizer OPT={args.optimizer}`)", file=sys.stderr)
            return 1
        run_rc = run_optimizer(cfg, args.optimizer, tasks, seeds, runs_root, args.jobs, args.redo, batch_size)
        comparisons, index, run_problems = analyse(cfg, label, tasks, seeds, runs_root, _csv(args.baselines),
                                                   out, skipped)
        failures = threshold_failures(comparisons, _csv(args.fail_if_worse_than) or [], label)
    except (UserError, Refused, FileNotFoundError, ValueError) as exc:
        print(f"[compare] error: {exc}", file=sys.stderr)
        return 2
    for line in summary_lines(label, comparisons):
        print(f"[compare] {line}")
    print(f"[compare] report: {out / 'README.md'} and {index}; full analysis: {out / 'report' / 'index.html'}")
    rc = 0
    if run_rc or run_problems:
        print(f"[compare] FAILED: {len(run_problems)} run(s) failed or did not finish: " + "; ".join(run_problems[:5]),
              file=sys.stderr)
        rc = 1
    for f in failures:
        print(f"[compare] FAILED threshold: {f}", file=sys.stderr)
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
