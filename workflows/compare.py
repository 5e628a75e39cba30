"""`make compare OPT=<name>`: does a new optimizer conform, run on every task type it claims, and
how does it rank against the shipped baselines on the dev subsets?

    python -m workflows.compare myopt [--types bb,mf] [--seeds 3] [--max-minutes 60] [--baselines randomsearch,optuna_tpe]
                                     [--fail-if-worse-than randomsearch] [--out compare] [--jobs N]

0. the plan and its estimate, first (seeds, types and time budget: the command line's, else the
   optimizer YAML's `compare:` section, else 3 seeds, every type, no budget);
1. the conformance suite (tests/conformance, what `make check-optimizer` runs);
2. the optimizer on `subset_<type>_dev` for every type it supports, seeds 1..SEEDS, with the
   budgets the baselines ran with (configs/subsets.yaml caps), into `runs/compare-<data version>/`:
   one study, launched seed by seed, with one progress line (resumable: finished runs are not
   redone). Every --report-every seconds a partial report is written; `--max-minutes` stops the
   runs in time for a report; Ctrl-C writes a partial report and exits 130;
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

A partial comparison (time budget, interrupt) compares the finished (task, seed) pairs only, with
the baselines' runs of the same pairs, and says so in its title, first line and terminal summary.

Exit status: 0 fine (also when the time budget left runs out: the report says what it covers);
1 the conformance suite failed, a run failed, or did not finish without a time budget to explain
it, or a --fail-if-worse-than baseline is significantly better; 2 bad input or a refused
comparison; 130 interrupted (143: its study was stopped by SIGTERM; a partial report is written first).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from analysis.comparison import compare_type, gathered_subset, mismatches, summary_lines, threshold_failures, write_report
from analysis.gather import write_gathered
from analysis.subsets import CONFIG, ROOT, TYPES, load_config
from carps_like import registry
from carps_like.errors import UserError
from carps_like.study import EXIT_TIME_BUDGET, STOP_SIGNALS

from . import baselines as B
from .subsets import budget_groups

#: the study's exit statuses when a stop signal (Ctrl-C, SIGTERM, SIGHUP) stopped it (128 + the signal): the
#: comparison was interrupted, whether or not this process saw the signal itself
STUDY_INTERRUPTED = tuple(128 + int(s) for s in STOP_SIGNALS)


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
    """The suite as `make check-optimizer` runs it: in the optimizer's isolated environment when
    its YAML `requirements` need one (carps_like.optenv)."""
    from carps_like.optenv import conformance_commands

    rc = 0
    for cmd in conformance_commands(optimizer, ["-q", "-p", "no:cacheprovider"]):
        where = "" if cmd[0] == sys.executable else f" (isolated environment: {cmd[0]})"
        print(f"[compare] conformance suite: {' '.join(cmd[2:])}{where}", flush=True)
        rc = max(rc, subprocess.call(cmd, cwd=ROOT))
    return rc


def study_name(cfg: dict) -> str:
    return f"compare-{cfg['data_version']}"


def write_budgets(cfg: dict, tasks: dict[str, list[str]], path: Path) -> Path:
    """The dev tasks' budgets as the baselines ran them (configs/subsets.yaml caps), as the
    `--budgets` file of one study over every type: one plan, one estimate, one progress line."""
    capped = {task: {"n_trials": cap} for t, ids in tasks.items()
              for cap, group in budget_groups(cfg, t, ids).items() if cap is not None for task in group}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(capped, indent=1, sort_keys=True))
    return path


def study_arguments(cfg: dict, optimizer: str, tasks: dict[str, list[str]], seeds: list[int], runs_root: Path,
                    budgets: Path, jobs: int | None, redo: bool = False, batch_size: int = 1) -> list[str]:
    """`carps_like.study` arguments of the comparison's runs: every dev task of every type, seeds 1..S."""
    args = ["--optimizer", optimizer, "--task", ",".join(task for ids in tasks.values() for task in ids),
            "--seeds", ",".join(map(str, seeds)), "--out", str(runs_root), "--study", study_name(cfg),
            "--batch-size", str(batch_size), "--budgets", str(budgets)]
    return args + (["--jobs", str(jobs)] if jobs else []) + (["--redo"] if redo else [])


def announce(label: str, tasks: dict[str, list[str]], seeds: list[int], study_args: list[str], conformance: bool) -> None:
    """The whole plan and its estimate, before anything runs (the conformance suite comes first)."""
    from carps_like import study

    args = study.parser().parse_args(study_args)
    _, _, pending, _, cells, _ = study.planned_cells(args)
    _, _, estimate = study.upfront_estimate(cells, args.jobs or os.cpu_count() or 1, "joblib")
    n_tasks = sum(map(len, tasks.values()))
    per_type = ", ".join(f"{t} {len(ids)}" for t, ids in tasks.items())
    todo = f"{len(pending)} to run" if pending else "all finished earlier"
    first = "the conformance suite, then " if conformance else ""
    print(f"[compare] plan: {first}{label} on {n_tasks} dev tasks ({per_type}) x {len(seeds)} "
          f"seeds = {n_tasks * len(seeds)} runs ({todo}), seed by seed", flush=True)
    if pending and estimate:
        print(f"[compare] runs: {estimate}", flush=True)


def run_optimizer(study_args: list[str], max_seconds: float | None, report: Callable[[], None],
                  report_every: float) -> int:
    """One study over every dev task, with the study's own progress line. Every `report_every`
    seconds the partial report is rewritten from the runs finished so far. Returns the study's
    exit status (124: the time budget ran out). Ctrl-C reaches the study too (same process group);
    it stops its runs, and KeyboardInterrupt goes on to the caller once it has exited."""
    cmd = [sys.executable, "-m", "carps_like.study", *study_args, "--quiet-plan"]
    if max_seconds is not None:
        cmd += ["--max-minutes", f"{max_seconds / 60:.4f}"]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        while True:
            try:
                return proc.wait(timeout=report_every)
            except subprocess.TimeoutExpired:
                report()
    except KeyboardInterrupt:
        proc.wait()
        raise


# -- the comparison (statistics and report: analysis/comparison.py) --------------------------------
@dataclass
class Outcome:
    """What a comparison found: per-type statistics, the report, runs that failed or did not
    finish, and how much of the plan the new runs cover."""

    comparisons: dict
    index: Path
    run_problems: list[str]
    finished: int
    planned: int

    @property
    def partial(self) -> bool:
        return self.finished < self.planned


def analyse(cfg: dict, optimizer: str, tasks: dict[str, list[str]], seeds: list[int], runs_root: Path,
            baseline_names: list[str] | None, out: Path, skipped: dict, full_report: bool = True,
            unfinished_because: str | None = None) -> Outcome:
    """Gather the new runs and the baselines, refuse unfair comparisons, write the report.

    Only finished runs are compared, against the baselines' runs of the same (task, seed) pairs,
    so a partial comparison (`unfinished_because`: still running, the time budget ran out,
    interrupted) compares like with like and says how much it covers; without a reason, runs
    that did not finish are problems (exit 1)."""
    from analysis.anytime import compute
    from analysis.gather import Gathered, gather

    problems = B.check(cfg)
    if problems:
        raise Refused("the shipped baselines cannot be used: " + "; ".join(problems))
    study_dir = runs_root / study_name(cfg) / optimizer
    if not study_dir.exists() and not unfinished_because:
        raise Refused(f"no runs of {optimizer} in {study_dir}")
    new = gather([study_dir] if study_dir.exists() else [], out / ".gather-new")
    base = gather([B.baseline_dir(cfg)])
    all_tasks = {task for ids in tasks.values() for task in ids}
    new_runs = new.runs[new.runs["task_id"].isin(all_tasks) & new.runs["seed"].isin(seeds)]
    finished = new_runs[new_runs["status"].isin(["complete", "failed"])]
    pairs = set(zip(finished["task_id"], finished["seed"]))
    base_runs = base.runs[[(t, s) in pairs for t, s in zip(base.runs["task_id"], base.runs["seed"])]]
    if baseline_names:
        unknown = sorted(set(baseline_names) - set(base.runs["optimizer_id"]))
        if unknown:
            raise UserError(f"unknown baselines {unknown}; the shipped baselines are: {', '.join(sorted(set(base.runs['optimizer_id'])))}")
        base_runs = base_runs[base_runs["optimizer_id"].isin(baseline_names)]
    if optimizer in set(base_runs["optimizer_id"]):
        base_runs = base_runs[base_runs["optimizer_id"] != optimizer]  # a baseline compared with itself: its new runs
    bad = mismatches(finished, base_runs)
    if bad:
        raise Refused(f"{len(bad)} problem(s) make the runs incomparable with the baselines:\n  " + "\n  ".join(bad[:20]))
    run_problems = [f"{r.task_id} seed {r.seed}: {r.status}" + (f" ({r.reason})" if isinstance(r.reason, str) and r.reason else "")
                    for r in new_runs.itertuples() if r.status == "failed" or (r.status != "complete" and not unfinished_because)]
    expected = {(task, s) for ids in tasks.values() for task in ids for s in seeds}
    if not unfinished_because:
        run_problems += [f"{task} seed {s}: no run" for task, s in sorted(expected - set(zip(new_runs["task_id"], new_runs["seed"])))]
    parts = [gathered_subset(new, finished), gathered_subset(base, base_runs)]
    both = Gathered(trials=pd.concat([p.trials for p in parts], ignore_index=True),
                    runs=pd.concat([p.runs for p in parts], ignore_index=True))
    comparisons = {}
    perf = compute(both, None, sorted(all_tasks & {t for t, _ in pairs})) if pairs else None
    for t in tasks:
        of_type = perf.final[perf.final["task_type"] == t] if perf is not None else pd.DataFrame()
        if not of_type.empty and of_type.loc[of_type["optimizer_id"] == optimizer, "score"].notna().any():
            comparisons[t] = compare_type(perf.final, t, optimizer)
        elif not of_type.empty:
            run_problems.append(f"{t}: {optimizer} recorded no scored trial on any dev task, nothing to compare")
    covered = len(pairs & expected)
    status = None
    if covered < len(expected):
        status = (f"PARTIAL RESULT ({unfinished_because or 'runs missing'}): {covered} of {len(expected)} planned runs "
                  f"finished. Everything below compares only those (task, seed) pairs, with the baselines' runs of the "
                  f"same pairs; run the same command again to go on (finished runs are kept).")
    header = [f"Dev subsets of data version {cfg['data_version']} (configs/taskset/subset_<type>_dev.yaml); seeds "
              f"{', '.join(map(str, seeds))} for every optimizer; budgets as the baselines (configs/subsets.yaml caps). "
              f"Baselines: shipped runs in {B.baseline_dir(cfg).relative_to(ROOT)}; new runs in {study_dir}."]
    if perf is not None:
        header.append(perf.options.describe() + ".")
    index = write_report(out, optimizer, comparisons, perf, skipped, header, run_problems, status=status)
    if full_report and pairs:
        from analysis.report import build_report

        build_report([write_gathered(both, out / "data")], out / "report", progress=False)
    return Outcome(comparisons, index, run_problems, covered, len(expected))


def _csv(text: str | None) -> list[str] | None:
    items = [x.strip() for x in (text or "").split(",") if x.strip()]
    return items or None


#: seconds kept back from MAX_MINUTES for the final report (it took 20-40 s on 2 cores), at most a
#: quarter of the budget
REPORT_RESERVE_SECONDS = 60.0


def settings(optimizer: str, args) -> tuple[int, list[str] | None, float | None]:
    """Seeds, types and time budget: the command line's, else the optimizer YAML's `compare:`
    section (docs/compare.md), else 3 seeds, every type, no time budget."""
    own = registry.get_optimizer_config(optimizer).get("compare") or {}
    seeds = args.seeds if args.seeds is not None else int(own.get("seeds", 3))
    types = _csv(args.types) or own.get("types")
    minutes = args.max_minutes if args.max_minutes is not None else own.get("max_minutes")
    if minutes is not None and not float(minutes) > 0:
        raise UserError(f"MAX_MINUTES must be a positive number of minutes, got {minutes}")
    return seeds, types, None if minutes is None else float(minutes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workflows.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("optimizer")
    parser.add_argument("--types", default=None, help="comma list of bb, mf, mo, momf (default: the YAML's compare.types, "
                                                        "else every type it supports)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 1..N (default: the YAML's compare.seeds, else 3)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="time budget for the whole comparison (default: the YAML's compare.max_minutes, else none)")
    parser.add_argument("--report-every", type=float, default=300.0,
                        help="seconds between partial reports while the runs go on (default 300)")
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
    started = time.monotonic()
    cfg = load_config(CONFIG)
    out, runs_root = (args.out if args.out.is_absolute() else ROOT / args.out), (
        args.runs if args.runs.is_absolute() else ROOT / args.runs)
    try:
        n_seeds, types, max_minutes = settings(args.optimizer, args)  # unknown names: listed
        if not 1 <= n_seeds <= int(cfg["baseline_seeds"]):
            raise UserError(f"--seeds {n_seeds}: the baselines have seeds 1..{cfg['baseline_seeds']}; accepted: 1..{cfg['baseline_seeds']}")
        seeds = list(range(1, n_seeds + 1))
        batch_size, _ = registry.chosen_batch_size(args.optimizer, args.batch_size)
        label = registry.run_label(args.optimizer, batch_size)  # what the runs are filed and compared as
        tasks, skipped = plan_types(args.optimizer, types, batch_size)
        problems = B.check(cfg)
        if problems:
            raise Refused("the shipped baselines cannot be used: " + "; ".join(problems))
        study_args = study_arguments(cfg, args.optimizer, tasks, seeds, runs_root, write_budgets(cfg, tasks, out / "budgets.json"),
                                     args.jobs, args.redo, batch_size)
        announce(label, tasks, seeds, study_args, not args.skip_conformance)
        reserve = None if max_minutes is None else min(REPORT_RESERVE_SECONDS, max_minutes * 15)
        if max_minutes is not None:
            print(f"[compare] time budget: {max_minutes:g} min for the whole comparison (MAX_MINUTES); the runs stop "
                  f"{reserve:.0f} s before it to leave time for the report", flush=True)
        if not args.skip_conformance and run_conformance(args.optimizer) != 0:
            print(f"[compare] FAILED: {args.optimizer} does not pass the conformance suite (output above); "
                  f"fix it first (`make check-optimizer OPT={args.optimizer}`)", file=sys.stderr)
            return 1

        def report(because: str | None, full: bool = True) -> Outcome:
            return analyse(cfg, label, tasks, seeds, runs_root, _csv(args.baselines), out, skipped, full, because)

        def progress_report() -> None:
            try:
                o = report("the runs are still going on", full=False)
                print(f"[compare] partial report ({o.finished} of {o.planned} runs finished): {out / 'README.md'}", flush=True)
            except (Refused, UserError) as exc:  # nothing finished yet, or not comparable yet: the final report says
                print(f"[compare] no partial report yet: {str(exc).splitlines()[0]}", flush=True)

        left = None if max_minutes is None else max_minutes * 60 - (time.monotonic() - started) - reserve
        because = None
        if left is not None and left <= 0:
            run_rc, because = 0, f"the time budget of {max_minutes:g} min was spent before the runs started"
        else:
            try:
                run_rc = run_optimizer(study_args, left, progress_report, args.report_every)
            except KeyboardInterrupt:
                run_rc = 128 + int(signal.SIGINT)
            if run_rc in STUDY_INTERRUPTED:  # Ctrl-C here, or a signal that stopped the study alone
                outcome = report("interrupted", full=False)
                print(f"[compare] interrupted: partial report of {outcome.finished} of {outcome.planned} runs in "
                      f"{out / 'README.md'}; run the same command again to go on", file=sys.stderr)
                return run_rc
            if run_rc == EXIT_TIME_BUDGET:
                run_rc, because = 0, f"the time budget of {max_minutes:g} min ran out"
        outcome = report(because)
        failures = threshold_failures(outcome.comparisons, _csv(args.fail_if_worse_than) or [], label)
    except (UserError, Refused, FileNotFoundError, ValueError) as exc:
        print(f"[compare] error: {exc}", file=sys.stderr)
        return 2
    for line in summary_lines(label, outcome.comparisons):
        print(f"[compare] {line}")
    if outcome.partial:
        print(f"[compare] PARTIAL: {outcome.finished} of {outcome.planned} planned runs finished "
              f"({because or 'runs missing'}); the statistics cover only those")
    print(f"[compare] report: {out / 'README.md'} and {outcome.index}; full analysis: {out / 'report' / 'index.html'}")
    rc = 0
    if run_rc or outcome.run_problems:
        print(f"[compare] FAILED: {len(outcome.run_problems)} run(s) failed or did not finish: "
              + "; ".join(outcome.run_problems[:5]), file=sys.stderr)
        rc = 1
    for f in failures:
        print(f"[compare] FAILED threshold: {f}", file=sys.stderr)
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
