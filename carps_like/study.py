"""Front end of `make run`: one optimizer on a task or taskset, for several seeds.

    python -m carps_like.study --optimizer smac --task subset_bb --seeds 5

It checks every name and budget first (one-line errors, no tracebacks), skips tasks the
optimizer does not support with one summary line, skips runs already complete, then launches
the remaining cells as a Hydra multirun and shows progress by watching the run directories.
`--launcher` picks configs/hydra/launcher/<name>.yaml: joblib (default, parallel over cores),
submitit_local, submitit_slurm or ray (docs/launchers.md). Exit status: 0 when every run is complete,
1 when some failed or did not finish, 2 for bad input, 124 when `--max-minutes` ran out (the
runs it stopped are left to resume), 128 + the signal when interrupted (130: Ctrl-C).

Runs are launched seed by seed (every task's seed 1, then every task's seed 2, ...), so a study
cut short by a time budget or an interrupt has covered as many tasks as it could.

Each launch runs in a process group of its own, so that an interrupt (SIGINT, SIGTERM, SIGHUP)
stops every process it started, joblib's workers included. With joblib, a worker process that
dies (SIGKILL, out of memory) does not end the study: the runs it left unfinished are launched
again, one at a time, and a run that kills its worker twice is marked failed.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import plan, registry
from .errors import UserError
from .execute import WORKER_DIED  # a local launch whose worker process died
from .lifeline import STUDY_PID_VARIABLE
from .progress import ProgressMonitor
from .store import RUN_FILE, check_writable, lock_reason, read_run_json, read_trials, run_dir, write_json_atomic
from .task import Budget


def say(*parts, **kw) -> None:
    print(*parts, flush=True, **kw)


def parse_seeds(text: str) -> list[int]:
    """'5' -> seeds 1..5; '1,4,9' -> those seeds; '3-6' -> 3..6."""
    text = str(text).strip()
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        elif "-" in text.lstrip("-") and not text.startswith("-"):
            lo, hi = (int(s) for s in text.split("-", 1))
            seeds = list(range(lo, hi + 1))
        else:
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = list(range(1, n + 1))
    except ValueError:
        raise UserError(f"SEEDS must be a count >= 1 (e.g. 5 -> seeds 1..5), a list (1,4,9) or a range (3-6); got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise UserError(f"seeds must be non-negative integers; got {text!r}")
    return sorted(set(seeds))


def _budget_value(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    if text.lower() in ("none", "null"):
        return "null"
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name} must be a positive number or 'none'; got {text!r}") from None
    if not value > 0:
        raise UserError(f"{name} must be a positive number or 'none'; got {text!r}")
    return text


def effective_budget(entry: registry.TaskEntry, n_trials: str | None, time_limit: str | None,
                     own: dict | None = None) -> Budget:
    """The task's default budget, then N_TRIALS / TIME_LIMIT, then its own entry of `--budgets`."""
    budget = dict(entry.config.get("budget") or {})
    if n_trials is not None:
        budget["n_trials"] = None if n_trials == "null" else float(n_trials)
    if time_limit is not None:
        budget["time_limit"] = None if time_limit == "null" else float(time_limit)
    return Budget.from_mapping({**budget, **(own or {})})


def read_budgets(path: str | None, task_ids: list[str]) -> dict[str, dict]:
    """`--budgets FILE`: per-task budgets ({task id: {n_trials: .., time_limit: ..}}, YAML or
    JSON), e.g. the capped budgets `make compare` runs the dev subsets with."""
    if not path:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"--budgets {path}: cannot read it ({exc})") from None
    unknown = sorted(set(data) - set(task_ids))
    bad = {t: b for t, b in data.items() if not isinstance(b, dict) or set(b) - {"n_trials", "time_limit"}}
    if unknown or bad:
        raise UserError(f"--budgets {path}: " + (f"tasks {unknown[:5]} are not in the study's task list; " if unknown else "")
                        + (f"entries {sorted(bad)[:5]} are not {{n_trials: .., time_limit: ..}}" if bad else "")
                        + "; accepted: {task id: {n_trials: <number or null>, time_limit: <seconds or null>}}")
    return data


@dataclass
class Resolved:
    """A study's names and budgets, checked: what `make run` and `make queue` both start from."""

    tasks: list[str]  # the tasks the optimizer can run, in the taskset's order
    seeds: list[int]
    budgets: dict[str, Budget]  # per task: its default budget with N_TRIALS / TIME_LIMIT applied
    skipped: dict[str, list[str]]  # reason -> tasks the optimizer cannot run
    n_tasks: int
    n_trials: str | None
    time_limit: str | None
    batch_size: int = 1
    batch_override: int | None = None  # the batch size to set because it differs from the config's
    label: str = ""  # the name runs are filed under: the optimizer, `_q<n>` for batches of n


def resolve(optimizer: str, task: str, seeds: str, n_trials: str | None, time_limit: str | None,
            batch_size: int | None = None, budgets_file: str | None = None) -> Resolved:
    """Check names, seeds, budgets and batch size (None: the optimizer config's, else 1); leave out
    tasks the optimizer cannot run (UserError if none)."""
    batch_size, batch_override = registry.chosen_batch_size(optimizer, batch_size)
    task_ids = registry.resolve_task_names(task)
    own = read_budgets(budgets_file, task_ids)
    seed_list = parse_seeds(seeds)
    n_trials = _budget_value(n_trials, "N_TRIALS")
    time_limit = _budget_value(time_limit, "TIME_LIMIT")
    skipped: dict[str, list[str]] = defaultdict(list)
    budgets: dict[str, Budget] = {}
    for tid in task_ids:
        entry = registry.get_task(tid)
        reason = registry.incompatibility(optimizer, entry, batch_size)
        if reason:
            skipped[reason.replace(f" (task {tid})", "")].append(tid)
        else:
            budgets[tid] = effective_budget(entry, n_trials, time_limit, own.get(tid))  # validates
    if not budgets:
        reasons = "; ".join(f"{r} ({len(t)} tasks)" for r, t in skipped.items())
        raise UserError(f"optimizer {optimizer!r} supports none of the {len(task_ids)} tasks in {task!r}: {reasons}")
    return Resolved(list(budgets), seed_list, budgets, dict(skipped), len(task_ids), n_trials, time_limit, batch_size,
                    batch_override, registry.run_label(optimizer, batch_size))


def pending_cells(args) -> tuple[list[str], list[int], list[tuple[str, int, Path]], dict]:
    """Resolve names and budgets; return (tasks to run, seeds, pending cells, report)."""
    r = resolve(args.optimizer, args.task, args.seeds, args.n_trials, args.time_limit, getattr(args, "batch_size", None),
                getattr(args, "budgets", None))
    runnable, seeds, skipped, n_trials, time_limit = r.tasks, r.seeds, r.skipped, r.n_trials, r.time_limit

    pending, complete, failed_before, mismatched = [], 0, 0, []
    for tid in runnable:
        budget = r.budgets[tid].as_dict()
        for seed in seeds:
            d = run_dir(args.out, args.study, r.label, tid, seed)
            meta = read_run_json(d)
            status = None if meta is None else meta.get("status")
            if not args.redo and status == "complete":
                if meta.get("budget") not in (None, budget):
                    mismatched.append(f"{tid} seed {seed}: {meta.get('budget')} != {budget}")
                    continue
                complete += 1
                continue
            if not args.redo and status == "failed" and not args.retry_failed:
                failed_before += 1
                continue
            pending.append((tid, seed, d))
    if mismatched:
        raise UserError(f"{len(mismatched)} complete runs in study {args.study!r} used another budget "
                        f"(e.g. {mismatched[0]}); choose another STUDY or redo them with REDO=1")
    report = {"skipped": skipped, "complete": complete, "failed_before": failed_before, "n_tasks": r.n_tasks,
              "n_trials": n_trials, "time_limit": time_limit, "batch_override": r.batch_override, "label": r.label,
              "budgets": r.budgets}
    return runnable, seeds, pending, report


def cell_costs(cells: list) -> tuple[list, set]:
    """The cost model of every planned run (carps_like.estimate) and the concrete variants behind them."""
    from . import estimate

    costs = [estimate.cell_cost(c.variant, c.task_id, c.task["budget"].get("n_trials"), c.task["budget"].get("time_limit"),
                                c.task.get("metadata", {}).get("dimensions")) for c in cells]
    return costs, {c.variant for c in cells}


LAUNCHER_DIR = registry.CONFIG_DIR / "hydra" / "launcher"

# the override `--jobs N` becomes, per launcher: its own parallelism knob where it has one; the
# submitit local executor starts every job of a launch at once, so its launches are batched
JOBS_OVERRIDE = {
    "joblib": "hydra.launcher.n_jobs",
    "ray": "hydra.launcher.num_cpus",
    "submitit_slurm": "hydra.launcher.array_parallelism",
    "submitit_local": "hydra.sweeper.max_batch_size",
}


def launcher_names() -> list[str]:
    return sorted(p.stem for p in LAUNCHER_DIR.glob("*.yaml"))


def check_launcher(name: str) -> str:
    names = launcher_names()
    if name not in names:
        raise UserError(f"unknown launcher {name!r}; valid launchers: {', '.join(names)}")
    return name


def hydra_command(args, plan_file: Path, n_cells: int, launcher_overrides: list[str]) -> list[str]:
    """A Hydra multirun over the planned cells (submitit, Ray): each job runs cell <i> of the plan."""
    cmd = [sys.executable, "-m", "carps_like.run", "-m", f"plan={plan_file}", f"cell={','.join(map(str, range(n_cells)))}",
           f"out={args.out}", f"study={args.study}"]
    launcher = getattr(args, "launcher", "joblib")
    cmd.append(f"hydra/launcher={launcher}")
    jobs = args.jobs
    if jobs is None and launcher == "submitit_local":
        jobs = os.cpu_count() or 1  # as joblib's default: all cores
    if jobs and launcher in JOBS_OVERRIDE:
        cmd.append(f"{JOBS_OVERRIDE[launcher]}={jobs}")
    if args.redo:
        cmd.append("redo=true")
    if args.retry_failed:
        cmd.append("retry_failed=true")
    return cmd + list(launcher_overrides)


def execute_command(args, plan_file: Path, jobs: int | None) -> list[str]:
    """The local launch (the default): carps_like.execute runs the planned cells in a process pool."""
    cmd = [sys.executable, "-m", "carps_like.execute", str(plan_file), "--out", str(args.out), "--study", args.study]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    return cmd + (["--redo"] if args.redo else []) + (["--retry-failed"] if args.retry_failed else [])


def write_plan(args, cells: list, name: str) -> Path:
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    return plan.save(cells, Path(args.out) / args.study / ".hydra" / f"plan-{name}-{stamp}.json")


def summarize(cells: list[tuple[str, int, Path]], stream=sys.stdout) -> int:
    failed, unfinished = [], []
    for tid, seed, d in cells:
        meta = read_run_json(d) or {}
        status = meta.get("status")
        if status == "failed":
            err = (meta.get("error") or "").strip().splitlines()
            failed.append(f"  {d}: {err[-1] if err else 'failed'}")
        elif status != "complete":
            why = lock_reason(d)
            unfinished.append(f"  {d}: {status or 'not started'}" + (f" ({why})" if why else ""))
    if failed:
        say(f"{len(failed)} runs failed (traceback in each run.json):", file=stream)
        say("\n".join(failed[:10]) + ("\n  ..." if len(failed) > 10 else ""), file=stream)
    if unfinished:
        say(f"{len(unfinished)} runs did not finish (run the same command again to resume):", file=stream)
        say("\n".join(unfinished[:10]) + ("\n  ..." if len(unfinished) > 10 else ""), file=stream)
    return 1 if failed or unfinished else 0


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE_SECONDS = 10.0  # how long a launch gets to end after SIGTERM before SIGKILL
DIED = "worker process died (SIGKILL? out of memory?) while running it"


EXIT_TIME_BUDGET = 124  # --max-minutes ran out (as GNU timeout)


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupted(signum, frame) -> None:
    raise Interrupted(signum)


class Launches:
    """Starts Hydra launches, each in a session (process group) of its own, and ends whatever a
    launch started once it exits or the study is interrupted: loky workers outlive a launch
    process that is killed, and would go on running (and writing) runs after the study ended. A study
    killed outright cannot do this; its launches then end themselves (carps_like.lifeline)."""

    def __init__(self, env: dict) -> None:
        self.env = {**env, STUDY_PID_VARIABLE: str(os.getpid())}  # a launch ends itself if the study dies
        self.procs = []

    def start(self, cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env=self.env, start_new_session=True)
        self.procs.append(proc)
        return proc

    def wait(self, proc: subprocess.Popen) -> int:
        code = proc.wait()
        _end_group(proc, grace=2.0)  # what the launch left behind
        return code

    def stop(self) -> None:
        """SIGTERM every launch's process group, give it STOP_GRACE_SECONDS, then SIGKILL it."""
        for proc in self.procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in self.procs:
            _end_group(proc, grace=max(0.0, deadline - time.monotonic()))


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when the group has no process left."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _end_group(proc: subprocess.Popen, grace: float) -> None:
    """Give a launch's process group `grace` seconds to end, then SIGKILL what is left and wait
    (bounded) until it is gone."""
    for sig, seconds in ((0, grace), (signal.SIGKILL, 10.0)):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            proc.poll()  # reap the launch process itself: unreaped, it still counts in its group
            if not _signal_group(proc.pid, sig):
                break
            time.sleep(0.02)
    proc.wait()


def _finished_since(directory: Path, since: float) -> bool:
    meta = read_run_json(directory) or {}
    return meta.get("status") in ("complete", "failed") and (meta.get("finished") or 0) >= since


def _left_running(directory: Path, since: float) -> bool:
    """A run that a launch started (after `since`) and left running: its process died."""
    meta = read_run_json(directory) or {}
    return meta.get("status") == "running" and (meta.get("started") or 0) >= since


def _mark_failed(directory: Path, reason: str) -> None:
    """Mark an unfinished run failed (its trials stay), so that re-runs skip it until --retry-failed."""
    meta = read_run_json(directory) or {}
    meta.update(status="failed", stop_reason="worker_died", error=reason, finished=time.time(),
                n_trials=len(read_trials(directory)))
    write_json_atomic(directory / RUN_FILE, meta)


def run_joblib(args, cells: list, launches: Launches, label: str) -> list[int]:
    """Launch the planned cells in local processes. When a worker process dies (the launch exits
    WORKER_DIED, or is killed itself with JOBS=1), loky kills its other workers too, so each run it
    left running is a suspect: suspects run again one at a time (JOBS=1) before the rest, and one
    that is lost twice is marked failed. Returns the launches' exit statuses, less those of deaths
    handled so."""
    from .store import run_dir

    where = {id(c): run_dir(args.out, args.study, c.label, c.task_id, c.seed) for c in cells}
    t0 = time.time()
    lost_before: Counter = Counter()
    codes, todo = [], list(cells)
    while todo:
        suspects = [c for c in todo if lost_before[where[id(c)]]]
        batch = suspects or todo
        since = time.time()
        plan_file = write_plan(args, batch, label.replace("/", "-"))
        code = launches.wait(launches.start(execute_command(args, plan_file, 1 if suspects else args.jobs)))
        died = code == WORKER_DIED or code < 0
        lost = [c for c in batch if _left_running(where[id(c)], since)] if died else []
        if not lost:
            codes.append(code)
            todo = [c for c in todo if c not in batch]
            continue
        for c in lost:
            lost_before[where[id(c)]] += 1
            if lost_before[where[id(c)]] == 2:
                _mark_failed(where[id(c)], f"{DIED}, twice")
        names = ", ".join(f"{c.task_id} seed {c.seed}" for c in lost[:3]) + (", ..." if len(lost) > 3 else "")
        say(f"[{label}] a worker process died (SIGKILL? out of memory?); the {len(lost)} run(s) it left "
            f"unfinished ({names}) run again one at a time, and a run lost twice is marked failed", file=sys.stderr)
        todo = [c for c in todo if not _finished_since(where[id(c)], t0)]
    return codes


def planned_cells(args) -> tuple[list[str], list[int], list, dict, list[plan.Cell], list[str]]:
    """The study's plan: (runnable tasks, seeds, pending runs, report, the pending cells in launch
    order (seed-major), hydra.* overrides). Raises UserError for bad input."""
    tasks, seeds, pending, report = pending_cells(args)
    todo = {(tid, seed) for tid, seed, _ in pending}
    todo_tasks = {tid for tid, _ in todo}
    cells, launcher_overrides = plan.build(args.optimizer, [t for t in tasks if t in todo_tasks],
                                           seeds, report["budgets"], args.overrides, report["batch_override"])
    cells = sorted((c for c in cells if (c.task_id, c.seed) in todo), key=lambda c: seeds.index(c.seed))
    return tasks, seeds, pending, report, cells, launcher_overrides


def upfront_estimate(cells: list[plan.Cell], jobs: int, launcher: str) -> tuple[list, float | None, str | None]:
    """(cost model per cell, estimated makespan, the line that says it); local launches only."""
    from . import estimate

    costs, variants = cell_costs(cells)
    if launcher != "joblib":
        return costs, None, None
    return costs, estimate.makespan([c.seconds for c in costs], jobs), estimate.describe(costs, variants, jobs)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carps_like.study", description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", required=True, help="optimizer name (make optimizers lists them)")
    parser.add_argument("--task", required=True, help="task id, taskset name, or a comma-separated list")
    parser.add_argument("--seeds", default="5", help="count (5 -> 1..5), list (1,4,9) or range (3-6)")
    parser.add_argument("--out", default="runs", help="results directory")
    parser.add_argument("--study", default="default", help="study name (a subdirectory of --out)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel runs (default: all cores; SLURM: the config's array_parallelism)")
    parser.add_argument("--launcher", default="joblib",
                        help="Hydra launcher: a name of configs/hydra/launcher/*.yaml (joblib, submitit_local, submitit_slurm, ray)")
    parser.add_argument("--n-trials", default=None, help="budget in full-fidelity evaluations, or 'none'")
    parser.add_argument("--time-limit", default=None, help="wall-clock seconds per run, or 'none'")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="trials asked together (ask_batch) and evaluated before they are told; runs are filed "
                             "as <optimizer>_q<n> (default: the optimizer config's batch_size, else 1)")
    parser.add_argument("--redo", action="store_true", help="run complete runs again (old results go to attempts/)")
    parser.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    parser.add_argument("--dry-run", action="store_true", help="plan and estimate the study, run nothing")
    parser.add_argument("--budgets", default=None, help="YAML/JSON file of per-task budgets {task: {n_trials, time_limit}}")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="time budget for the whole study: when it runs out, the runs in progress are stopped "
                             "(resumable) and the study exits 124")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. optimizer.adapter.n_init=5")
    parser.add_argument("--quiet-plan", action="store_true",
                        help="leave out the plan, estimate and next-step lines (for callers that print their own: make compare)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.jobs is not None and args.jobs < 1:
            raise UserError(f"JOBS must be >= 1, got {args.jobs}")
        if args.max_minutes is not None and not args.max_minutes > 0:
            raise UserError(f"MAX_MINUTES must be a positive number of minutes, got {args.max_minutes:g}")
        check_launcher(args.launcher)
        tasks, seeds, pending, report, cells, launcher_overrides = planned_cells(args)
        if pending:
            check_writable(Path(args.out) / args.study)
    except UserError as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 2

    label = f"{args.study}/{report['label']}"
    for reason, tids in report["skipped"].items():
        shown = ", ".join(tids[:3]) + (", ..." if len(tids) > 3 else "")
        say(f"[{label}] skipping {len(tids)} of {report['n_tasks']} tasks: {reason} ({shown})")
    total = len(tasks) * len(seeds)
    if report["complete"] or report["failed_before"]:
        extra = f", {report['failed_before']} failed earlier (RETRY_FAILED: --retry-failed)" if report["failed_before"] else ""
        say(f"[{label}] {report['complete']} of {total} runs already complete{extra}")
    if not pending:
        say(f"[{label}] nothing to run; results in {Path(args.out) / args.study}")
        if not args.quiet_plan:
            say(next_step(Path(args.out), args.study))
        return 1 if report["failed_before"] else 0

    shape = (f"{len(tasks)} tasks x {len(seeds)} seeds" if len(pending) == total else
             f"of {total}; the others are done or failed earlier")
    if not args.quiet_plan:
        say(f"[{label}] running {len(pending)} runs ({shape}) -> {Path(args.out) / args.study}")
    if launcher_overrides and args.launcher == "joblib":
        say(f"[{label}] note: {' '.join(launcher_overrides)} set Hydra launcher options; local runs (LAUNCHER=joblib) "
            "do not go through Hydra, so they are ignored (JOBS= sets the parallelism)", file=sys.stderr)
    costs, upfront, estimate_line = upfront_estimate(cells, args.jobs or os.cpu_count() or 1, args.launcher)
    if estimate_line and not args.quiet_plan:
        say(f"[{label}] {estimate_line}")
    if getattr(args, "dry_run", False):
        for python, cell in plan.unbuilt_environments(cells).items():
            say(f"[{label}] {cell.variant} runs in an isolated environment not built yet ({Path(python).parent.parent}); "
                "the study builds it first (a few minutes, once)")
        say(f"[{label}] dry run: nothing was started")
        return 0
    try:
        plan.build_environments(cells)
    except UserError as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 2
    dirs = [run_dir(args.out, args.study, c.label, c.task_id, c.seed) for c in cells]
    monitor = ProgressMonitor(dirs, label, costs=costs, upfront=upfront).start()
    env = dict(os.environ, HYDRA_FULL_ERROR=os.environ.get("HYDRA_FULL_ERROR", "0"))
    env.setdefault("PYTHONHASHSEED", "0")  # reproducible set ordering inside SMAC (see carps_like.run)
    env.setdefault("OMP_NUM_THREADS", "1")  # one thread per run: runs are the unit of parallelism
    # loky's resource tracker cleans up after a launch stopped by an interrupt, warning about each leak
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), "ignore:resource_tracker:UserWarning"]))
    launches = Launches(env)
    previous = {s: signal.signal(s, _interrupted) for s in STOP_SIGNALS + (signal.SIGALRM,)}
    if args.max_minutes is not None:
        signal.setitimer(signal.ITIMER_REAL, args.max_minutes * 60.0)
    try:
        if args.launcher == "joblib":  # local processes, without Hydra: the common path
            codes = run_joblib(args, cells, launches, label)
        else:  # schedulers and clusters: one Hydra multirun over the planned cells
            plan_file = write_plan(args, cells, label.replace("/", "-"))
            codes = [launches.wait(launches.start(hydra_command(args, plan_file, len(cells), launcher_overrides)))]
    except Interrupted as exc:
        for s in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(s, signal.SIG_IGN)
        launches.stop()
        monitor.stop()
        if exc.signum == signal.SIGALRM:
            done = sum((read_run_json(d) or {}).get("status") in ("complete", "failed") for d in dirs)
            say(f"[{label}] time budget of {args.max_minutes:g} min reached: {done} of {len(dirs)} runs finished, "
                "the others were stopped; run the same command again to go on", file=sys.stderr)
            return EXIT_TIME_BUDGET
        say(f"[{label}] interrupted; every process of the study is stopped; run the same command again to resume",
            file=sys.stderr)
        return 128 + exc.signum
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for s, handler in previous.items():
            signal.signal(s, handler)
    monitor.stop()
    status = summarize(pending)
    if codes and max(codes) != 0 and status == 0:
        say(f"[{label}] the launcher exited with status {max(codes)}", file=sys.stderr)
        return 1
    if status == 0:
        say(f"[{label}] all {total} runs complete; results in {Path(args.out) / args.study}")
    if not args.quiet_plan:
        say(next_step(Path(args.out), args.study))
    return status


def next_step(out: Path, study: str) -> str:
    """What to type next: a report of this results directory, and where to open it."""
    runs = "" if out == Path("runs") else f" RUNS={out}"
    return (f"next: make report{runs}   (reads every run under {out}/, this study's in {out / study}; "
            f"then open report/index.html)")


if __name__ == "__main__":
    sys.exit(main())
