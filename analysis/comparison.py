"""`make compare`'s statistics and report: pure data -> tables / figures (no runs launched here;
`workflows/compare.py` runs the conformance suite and the studies, then calls these).

* `task_fingerprint`, `mismatches`: why new runs and the baselines are not comparable (budgets,
  task definitions, seeds);
* `compare_type`: for one task type, the ranking of the new optimizer among the baselines
  (analysis.ranking: mean ranks, Friedman + Nemenyi) and, against each baseline, a Wilcoxon
  signed-rank test over tasks, Holm-adjusted over the baselines, with the mean score difference
  and its bootstrap 95% interval;
* `write_report`: `<out>/README.md`, `<out>/index.html` and `<out>/figures/`;
  `summary_lines`, `threshold_failures`: the terminal summary and `--fail-if-worse-than`.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from carps_like.errors import UserError

ALPHA = 0.05
N_BOOTSTRAP = 2000


# -- refusing unfair comparisons -------------------------------------------------------------------
def task_fingerprint(task_metadata) -> str:
    """A task definition's identity: the sha256 of its metadata (space counts, fidelity, optimum,
    objectives, generator parameters), which changes when the task changes."""
    return hashlib.sha256(json.dumps(task_metadata or {}, sort_keys=True).encode()).hexdigest()[:16]


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
                 header: list[str], run_problems: list[str], status: str | None = None) -> Path:
    """`<out>/README.md` and `<out>/index.html`. `status` (a partial comparison: what it covers)
    goes into the title and first, before anything a reader could take for the final result."""
    from . import figures as F
    from .ranking import task_leaders
    from .report import Doc, render_html, render_markdown

    doc = Doc()
    doc.h(1, f"make compare: {optimizer} against the shipped baselines" + (" (partial)" if status else ""))
    for line in ([status] if status else []) + header:
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
            for b in task_leaders(row):
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
    index.write_text(render_html(doc, f"make compare: {optimizer}" + (" (partial)" if status else "")))
    return index


def gathered_subset(g, keep_runs: pd.DataFrame):
    """The part of a gather that belongs to the given run rows."""
    from .gather import Gathered

    keys = set(keep_runs["run_key"])
    return Gathered(trials=g.trials[g.trials["run_key"].isin(keys)].reset_index(drop=True),
                    runs=g.runs[g.runs["run_key"].isin(keys)].reset_index(drop=True))


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
