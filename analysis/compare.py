"""`make compare OPT=<name>`: does a new optimizer conform, run on every task type it claims, and
how does it rank against the shipped baselines on the dev subsets?

    python -m analysis.compare myopt [--types bb,mf] [--seeds 3] [--baselines randomsearch,optuna_tpe]
                                     [--fail-if-worse-than randomsearch] [--out compare] [--jobs N]

1. the conformance suite (tests/conformance, what `make check-optimizer` runs);
2. the optimizer on `subset_<type>_dev` for every type it supports, seeds 1..SEEDS, with the
   budgets the baselines ran with (configs/subsets.yaml caps), into `runs/compare-<data version>/`
   (resumable: finished runs are not redone);
3. refusal of anything that would make the comparison unfair: baselines collected for other subset
   files, other budgets, other task definitions (task metadata fingerprint), seeds the baselines lack;
4. statistics on the seed-averaged final scores of the tasks every optimizer ran (analysis.ranking):
   mean ranks, Friedman + Nemenyi with a CD diagram, and for the new optimizer against each
   baseline a Wilcoxon signed-rank test over tasks, Holm-adjusted over the baselines, with the mean
   score difference and its bootstrap 95% interval;
5. `<out>/README.md` (Markdown, for a CI job summary), `<out>/index.html`, `<out>/figures/`, the
   full analysis report of the same runs in `<out>/report/`, and a short terminal summary.

Exit status: 0 fine; 1 the conformance suite failed, a run failed or did not finish, or a
--fail-if-worse-than baseline is significantly better; 2 bad input or a refused comparison.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from carps_like import registry
from carps_like.errors import UserError

from . import baselines as B
from .subsets import CONFIG, ROOT, TYPES, _budget_groups, load_config

ALPHA = 0.05
N_BOOTSTRAP = 2000


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
        for cap, group in sorted(_budget_groups(cfg, t, ids).items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)):
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


# -- refusing unfair comparisons -------------------------------------------------------------------
def task_fingerprint(task_metadata) -> str:
    """A task definition's identity: the sha256 of its metadata (space counts, fidelity, optimum,
    objectives, generator parameters), which changes when the task changes."""
    meta = json.loads(task_metadata) if isinstance(task_metadata, str) else (task_metadata or {})
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]


def mismatches(new_runs: pd.DataFrame, base_runs: pd.DataFrame) -> list[str]:
    """Why the new runs and the baselines are not comparable, one line per problem (empty: fine)."""
    problems = []
    base = base_runs.groupby("task_id").agg(n_trials=("budget_n_trials", lambda s: set(s.dropna())),
                                            time_limit=("budget_time_limit", lambda s: set(s.dropna())),
                                            fingerprint=("task_metadata", lambda s: {task_fingerprint(m) for m in s}),
                                            seeds=("seed", set))
    for task, g in new_runs.groupby("task_id"):
        if task not in base.index:
            problems.append(f"{task}: no baseline runs")
            continue
        b = base.loc[task]
        n_trials, time_limit = set(g["budget_n_trials"].dropna()), set(g["budget_time_limit"].dropna())
        if n_trials != b["n_trials"] or time_limit != b["time_limit"]:
            problems.append(f"{task}: budget n_trials {sorted(n_trials)} time_limit {sorted(time_limit)}, baselines ran with "
                            f"n_trials {sorted(b['n_trials'])} time_limit {sorted(b['time_limit'])}")
        fp = {task_fingerprint(m) for m in g["task_metadata"]}
        if fp != b["fingerprint"]:
            problems.append(f"{task}: task definition {sorted(fp)} differs from the baselines' {sorted(b['fingerprint'])} "
                            "(the task changed since the baselines were collected: run `make baselines`)")
        missing = sorted(set(g["seed"]) - b["seeds"])
        if missing:
            problems.append(f"{task}: seeds {missing} have no baseline runs (baselines have {sorted(b['seeds'])})")
    return problems


# -- statistics --------------------------------------------------------------------------------------
def bootstrap_mean_ci(values, seed: int = 0, n: int = N_BOOTSTRAP, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and percentile bootstrap interval over tasks (seeded: the report is reproducible)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (n, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(x.mean()), float(lo), float(hi)


@dataclass
class PairResult:
    baseline: str
    wins: int  # tasks where the new optimizer's seed-mean score is lower
    losses: int
    ties: int
    diff: float  # mean over tasks of (new - baseline) score; < 0: new is better
    diff_lo: float
    diff_hi: float
    p_raw: float
    p_holm: float = math.nan

    @property
    def verdict(self) -> str:
        if not self.p_holm < ALPHA:
            return "not separable"
        return "better" if self.diff < 0 else "worse"


@dataclass
class TypeComparison:
    task_type: str
    optimizer: str
    ranking: object  # analysis.ranking.Ranking over the new optimizer and the baselines
    scores: pd.DataFrame  # optimizer -> mean, lo, hi (bootstrap over tasks)
    pairs: list[PairResult] = field(default_factory=list)

    def pair(self, baseline: str) -> PairResult | None:
        return next((p for p in self.pairs if p.baseline == baseline), None)

    def min_p(self) -> float:
        """Smallest Holm-adjusted p-value a pair can reach on these tasks (Holm over the baselines)."""
        from .significance import min_p_signed_rank

        return min_p_signed_rank(len(self.ranking.blocks), max(len(self.pairs), 1))

    def limits(self) -> str:
        """The design's smallest attainable p, and a warning when no verdict can reach alpha."""
        n, p = len(self.ranking.blocks), self.min_p()
        text = f"smallest attainable p_holm with {n} common task(s) and {len(self.pairs)} baseline(s): {_fmt(p, 3)}"
        if not p < ALPHA:
            text += (f"; WARNING: no 'better' or 'worse' verdict can reach alpha = {ALPHA} with this design whatever "
                     "the data (more tasks are needed), so 'not separable' here is not evidence of equal performance")
        return text


def compare_type(final: pd.DataFrame, task_type: str, optimizer: str, seed: int = 0) -> TypeComparison:
    """Rank the new optimizer against the baselines on one type's tasks and test it against each."""
    from .ranking import holm, rank
    from .significance import signed_rank_p

    r = rank(final, task_type, ALPHA)
    blocks = r.blocks  # tasks every optimizer ran: task x optimizer, seed-mean score
    scores = pd.DataFrame([dict(zip(("mean", "lo", "hi"), bootstrap_mean_ci(blocks[o], seed)), optimizer=o)
                           for o in r.optimizers]).set_index("optimizer")
    pairs = []
    for b in [o for o in r.optimizers if o != optimizer]:
        d = (blocks[optimizer] - blocks[b]).to_numpy(float)
        mean, lo, hi = bootstrap_mean_ci(d, seed)
        p = 1.0 if len(d) < 2 else signed_rank_p(blocks[optimizer], blocks[b])
        tol = 1e-12
        pairs.append(PairResult(b, int((d < -tol).sum()), int((d > tol).sum()), int((np.abs(d) <= tol).sum()),
                                mean, lo, hi, p if math.isfinite(p) else 1.0))
    if pairs:
        for pr, adj in zip(pairs, holm([pr.p_raw for pr in pairs])):
            pr.p_holm = float(adj)
    return TypeComparison(task_type, optimizer, r, scores, pairs)


# -- the report ----------------------------------------------------------------------------------------
def _fmt(v, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}g}"


def write_report(out: Path, optimizer: str, comparisons: dict[str, TypeComparison], perf, skipped: dict,
                 header: list[str], run_problems: list[str]) -> Path:
    from . import figures as F
    from .report import Doc, render_html, render_markdown

    doc = Doc()
    doc.h(1, f"make compare: {optimizer} against the shipped baselines")
    for line in header:
        doc.p(line)
    if run_problems:
        doc.p("Runs that failed or did not finish (the comparison uses what they recorded): " + "; ".join(run_problems[:20]))
    overview = []
    for t, c in comparisons.items():
        s = c.ranking.summary
        row = {"task type": F.TYPE_NAMES[t], "dev tasks": len(c.ranking.blocks), "optimizers": len(c.ranking.optimizers),
               f"{optimizer} mean rank": _fmt(s.loc[optimizer, "mean_rank"]), "best": c.ranking.best_label(),
               "better than": ", ".join(p.baseline for p in c.pairs if p.verdict == "better") or "-",
               "worse than": ", ".join(p.baseline for p in c.pairs if p.verdict == "worse") or "-",
               "smallest attainable p_holm": _fmt(c.min_p(), 3) + ("" if c.min_p() < ALPHA else " (cannot reach alpha)")}
        overview.append(row)
    doc.h(2, "Summary")
    if not overview:
        doc.p(f"No comparison: {optimizer} has no scored result on any dev task (see the failed runs above).")
    else:
        doc.table(pd.DataFrame(overview).set_index("task type"),
                  f"Per type: the new optimizer's mean rank among all, and the baselines it is significantly better or "
                  f"worse than (Wilcoxon signed-rank over tasks, Holm-adjusted over the baselines, alpha {ALPHA}).")
    colors = F.palette(sorted({o for c in comparisons.values() for o in c.ranking.optimizers}))
    for t, c in comparisons.items():
        r = c.ranking
        doc.h(2, f"{F.TYPE_NAMES[t].capitalize()}: {len(r.blocks)} dev tasks")
        doc.p(f"Test over all optimizers on the {len(r.blocks)} dev task(s) every optimizer ran: {r.test}; p = "
              f"{_fmt(r.p_value)}" + (f" ({r.p_method})" if r.p_method else "")
              + (f"; critical difference {_fmt(r.critical_difference)}" if math.isfinite(r.critical_difference) else "")
              + f". Best mean rank: {r.best_label()}.")
        doc.p(c.limits()[0].upper() + c.limits()[1:] + ".")
        if r.excluded_tasks:
            doc.p(f"{len(r.excluded_tasks)} dev task(s) left out, not every optimizer ran them: "
                  + "; ".join(f"{k} ({v})" for k, v in sorted(r.excluded_tasks.items())))
        rows = []
        for o, srow in r.summary.sort_values("mean_rank").iterrows():
            sc = c.scores.loc[o]
            rows.append({"optimizer": o + (" (new)" if o == optimizer else ""), "mean rank": _fmt(srow.mean_rank),
                         "CD rank": _fmt(srow.cd_rank), "normalized score": _fmt(sc["mean"]),
                         "95% CI": f"[{_fmt(sc['lo'])}, {_fmt(sc['hi'])}]", "runs": int(srow.n_runs)})
        doc.table(pd.DataFrame(rows).set_index("optimizer"),
                  f"Ranking. Normalized score: {F.score_label(t, perf.options.log)} at the end of the budget, seed-averaged, "
                  "mean over tasks with a percentile bootstrap 95% interval over tasks (lower is better).")
        rows = [{"baseline": p.baseline, "wins / losses / ties": f"{p.wins} / {p.losses} / {p.ties}",
                 "mean difference (new - baseline)": _fmt(p.diff), "95% CI": f"[{_fmt(p.diff_lo)}, {_fmt(p.diff_hi)}]",
                 "p (Wilcoxon)": _fmt(p.p_raw, 2), "p (Holm)": _fmt(p.p_holm, 2), "verdict": p.verdict} for p in c.pairs]
        doc.table(pd.DataFrame(rows).set_index("baseline"),
                  f"{optimizer} against each baseline: tasks where its seed-mean score is lower / higher / equal, the mean "
                  "score difference with a bootstrap interval, and the Wilcoxon signed-rank test over tasks.")
        fig, cap = F.cd_diagram(r, colors)
        doc.figure(F.save(fig, out / "figures", f"{t}_cd", tight=True), cap)
        if r.nemenyi is not None:
            from .report import TEST_DIFFERENCE

            doc.p(TEST_DIFFERENCE)
        per_task = r.per_task_score.copy()
        table = per_task.apply(lambda col: col.map(_fmt)).astype(object)
        for task, row in per_task.iterrows():
            ran = row.dropna()
            if len(ran) >= 2 and not np.allclose(ran, ran.min()):
                for b in ran.index[np.isclose(ran, ran.min())]:
                    table.loc[task, b] = table.loc[task, b] + " *"
        table.index.name = "task"
        doc.table(table, "Per task: seed-averaged final normalized score (lower is better); * best on the task (all "
                         "that tie for it; none where all tie or only one optimizer ran the task).")
        if skipped.get(t):
            doc.p(f"{len(skipped[t])} dev task(s) skipped, the optimizer cannot run them: "
                  + "; ".join(f"{k} ({v})" for k, v in sorted(skipped[t].items())))
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(render_markdown(doc, out))
    index = out / "index.html"
    index.write_text(render_html(doc, f"make compare: {optimizer}"))
    return index


def _gathered_subset(g, keep_runs: pd.DataFrame):
    from .gather import Gathered

    keys = set(keep_runs["run_key"])
    return Gathered(trials=g.trials[g.trials["run_key"].isin(keys)].reset_index(drop=True),
                    runs=g.runs[g.runs["run_key"].isin(keys)].reset_index(drop=True))


def _write_gathered(g, directory: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .gather import RUNS_TABLE, TRIALS_TABLE, _RUN_SCHEMA, _TRIAL_SCHEMA

    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(g.trials, schema=_TRIAL_SCHEMA, preserve_index=False), directory / TRIALS_TABLE)
    pq.write_table(pa.Table.from_pandas(g.runs, schema=_RUN_SCHEMA, preserve_index=False), directory / RUNS_TABLE)
    return directory


def analyse(cfg: dict, optimizer: str, tasks: dict[str, list[str]], seeds: list[int], runs_root: Path,
            baseline_names: list[str] | None, out: Path, skipped: dict, full_report: bool = True):
    """Gather the new runs and the baselines, refuse unfair comparisons, write the report."""
    from .anytime import compute
    from .gather import gather

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
    from .gather import Gathered

    parts = [_gathered_subset(new, new_runs), _gathered_subset(base, base_runs)]
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
        from .report import build_report

        build_report([_write_gathered(both, out / "data")], out / "report", progress=False)
    return comparisons, index, run_problems


def summary_lines(optimizer: str, comparisons: dict[str, TypeComparison]) -> list[str]:
    lines = []
    for t, c in comparisons.items():
        s = c.ranking.summary
        vs = "; ".join(f"{p.baseline}: {p.verdict} ({p.wins}W/{p.losses}L, p_holm {_fmt(p.p_holm, 2)})" for p in c.pairs)
        lines.append(f"{t}: {optimizer} mean rank {_fmt(s.loc[optimizer, 'mean_rank'])} of {len(c.ranking.optimizers)} "
                     f"on {len(c.ranking.blocks)} dev tasks; {vs}; {c.limits()}")
    return lines


def threshold_failures(comparisons: dict[str, TypeComparison], names: list[str], optimizer: str = "") -> list[str]:
    """--fail-if-worse-than: types where the new optimizer is significantly worse than a named baseline."""
    out = []
    for name in names:
        if name == optimizer:
            continue  # the optimizer is not compared with itself (a CI default may name it)
        known = {p.baseline for c in comparisons.values() for p in c.pairs}
        if name not in known:
            raise UserError(f"--fail-if-worse-than {name!r} is not a compared baseline; compared: {', '.join(sorted(known))}")
        for t, c in comparisons.items():
            p = c.pair(name)
            if p is not None and p.verdict == "worse":
                out.append(f"{t}: significantly worse than {name} (mean difference {_fmt(p.diff)}, p_holm {_fmt(p.p_holm, 2)})")
    return out


def _csv(text: str | None) -> list[str] | None:
    items = [x.strip() for x in (text or "").split(",") if x.strip()]
    return items or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="analysis.compare", description=__doc__.split("\n\n")[0])
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
