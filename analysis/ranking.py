"""Final performance, ranks and the statistics behind a ranking claim.

Only what the data supports is claimed:

* Everything that compares optimizers (mean rank, CD rank, normalized score, tests, the best)
  uses the **common tasks**: those every compared optimizer ran. A task only some optimizers ran
  is listed (`excluded_tasks`) and never averaged in, so an optimizer run on 1 task is never
  compared with one run on 20 as if they had met.
* Per-task rank: optimizers are ranked within each (task, seed) on the final normalized score
  (lower is better; ties share the average rank) over the seeds every optimizer ran on that task,
  then averaged over seeds (a task without such a seed ranks the seed means).
* `best` is the one optimizer with the lowest mean rank; there is none when several share it
  (`leaders` lists them), when all are tied, or when fewer than two optimizers share a task.
* Tests use one value per common task and optimizer (the final score averaged over seeds):
  - three or more optimizers: Friedman test (exact permutation p-value for N <= 10, see
    `significance`), Nemenyi post-hoc (scikit-posthocs), critical difference
    CD = q_alpha sqrt(k (k + 1) / (6 N)) (Demsar 2006);
  - two optimizers: the Wilcoxon signed-rank test (Friedman needs three);
  - always: pairwise Wilcoxon signed-rank p-values (zsplit) with Holm's correction.
* `attainable` gives each test's smallest possible p-value for this design, so a report can say
  when a marker cannot appear whatever the data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import significance

ALPHA = 0.05


def fmt_p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-3 else f"{p:.1e}"


@dataclass
class Ranking:
    """Everything a report or table says about one task type."""

    task_type: str
    optimizers: list[str]
    summary: pd.DataFrame  # optimizer_id -> mean_rank, cd_rank, score, score_std, n_tasks, n_runs
    per_task_rank: pd.DataFrame  # task x optimizer, rank averaged over seeds
    per_task_score: pd.DataFrame  # task x optimizer, mean final score
    blocks: pd.DataFrame  # tasks with every optimizer: task x optimizer, mean final score (test input)
    excluded_tasks: dict[str, str] = field(default_factory=dict)  # task -> why it is not in the tests
    test: str = ""
    statistic: float = math.nan
    p_value: float = math.nan
    critical_difference: float = math.nan
    nemenyi: pd.DataFrame | None = None  # optimizer x optimizer p-values
    wilcoxon_holm: pd.DataFrame | None = None  # optimizer x optimizer Holm-adjusted p-values
    alpha: float = ALPHA
    p_method: str = ""  # how p_value was computed (exact, Monte Carlo, chi-square)
    seeds_per_task: int = 0  # fewest seeds any optimizer has on a common task

    @property
    def comparable(self) -> bool:
        """At least two optimizers met on at least one task."""
        return len(self.optimizers) >= 2 and len(self.blocks) >= 1

    @property
    def leaders(self) -> list[str]:
        """Optimizers sharing the lowest mean rank on the common tasks (all of them when tied)."""
        if not self.comparable:
            return []
        ranks = self.summary["mean_rank"]
        return [o for o in self.optimizers if np.isclose(ranks[o], ranks.min())]

    @property
    def best(self) -> str | None:
        """The single optimizer with the lowest mean rank, or None when nobody is ahead alone."""
        leaders = self.leaders
        return leaders[0] if len(leaders) == 1 else None

    def best_label(self) -> str:
        """What a report says instead of a name when there is no single best."""
        if self.best is not None:
            return self.best
        if not self.comparable:
            return "none (no task run by two optimizers)"
        if len(self.leaders) == len(self.optimizers):
            return "none (all tied)"
        return "none (tied: " + ", ".join(self.leaders) + ")"

    def significantly_worse_than_best(self) -> set[str]:
        """Optimizers whose Holm-adjusted Wilcoxon p-value against every leader is below alpha."""
        leaders = self.leaders
        if self.wilcoxon_holm is None or not leaders or len(leaders) == len(self.optimizers):
            return set()
        return {o for o in self.optimizers if o not in leaders
                and all(self.wilcoxon_holm.loc[o, b] < self.alpha for b in leaders)}

    def attainable(self) -> dict[str, float]:
        """Smallest p-value each test can produce with this many tasks, optimizers and seeds."""
        n, k = len(self.blocks), len(self.optimizers)
        if k < 2 or n < 1:
            return {}
        out = {"omnibus": significance.min_p_signed_rank(n) if k == 2 else significance.min_p_friedman(n, k),
               "pairwise": significance.min_p_signed_rank(n, k * (k - 1) // 2)}
        if self.seeds_per_task:
            out["per_task"] = significance.min_p_mann_whitney(self.seeds_per_task, self.seeds_per_task, k - 1)
        return out

    def attainability_notes(self) -> list[str]:
        """Sentences saying which significance markers cannot appear with this design."""
        a = self.attainable()
        if not a:
            return []
        n, k = len(self.blocks), len(self.optimizers)
        notes = [f"Smallest p-value this design can give (N = {n} common tasks, k = {k} optimizers"
                 + (f", {self.seeds_per_task} seeds" if self.seeds_per_task else "") + "): "
                 + f"{'Wilcoxon' if k == 2 else 'Friedman'} {fmt_p(a['omnibus'])}, "
                 + f"pairwise Wilcoxon-Holm {fmt_p(a['pairwise'])}"
                 + (f", per-task Mann-Whitney-Holm {fmt_p(a['per_task'])}" if "per_task" in a else "") + "."]
        cannot = [name for key, name in (("omnibus", "the omnibus test"),
                                         ("pairwise", '"significantly worse than the best" over tasks'),
                                         ("per_task", "the per-task dagger"))
                  if key in a and not a[key] < self.alpha]
        if cannot:
            listed = cannot[0] if len(cannot) == 1 else ", ".join(cannot[:-1]) + " and " + cannot[-1]
            notes.append(f"Warning: {listed} cannot reach alpha = {self.alpha} with this design whatever the "
                         "data, so its absence is not evidence of equal performance; add tasks or seeds.")
        return notes


def per_task_ranks(final: pd.DataFrame) -> pd.DataFrame:
    """task x optimizer table of ranks within (task, seed), averaged over the seeds every
    optimizer of the task ran; a task without such a seed ranks the seed means instead."""
    f = final[["task_id", "seed", "optimizer_id", "score"]]
    k = f.groupby("task_id")["optimizer_id"].nunique()
    full = f.groupby(["task_id", "seed"])["optimizer_id"].transform("nunique") == f["task_id"].map(k)
    g = f[full].assign(rank=lambda d: d.groupby(["task_id", "seed"])["score"].rank(method="average"))
    ranks = g.groupby(["task_id", "optimizer_id"])["rank"].mean().unstack("optimizer_id")
    rest = sorted(set(f["task_id"]) - set(g["task_id"]))
    if rest:
        means = f[f["task_id"].isin(rest)].groupby(["task_id", "optimizer_id"])["score"].mean().unstack("optimizer_id")
        ranks = pd.concat([ranks, means.rank(axis=1, method="average")]).sort_index()
    return ranks


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference of mean ranks for k methods on n blocks."""
    from scipy.stats import studentized_range

    if k < 2 or n < 1:
        return math.nan
    q = studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment (what statsmodels' multipletests(method="holm") returns;
    statsmodels 0.15 runs gc.collect() on every call, a third of a large report's time)."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(np.maximum.accumulate(p[order] * (m - np.arange(m))), 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


def wilcoxon_holm(blocks: pd.DataFrame) -> pd.DataFrame:
    """Pairwise two-sided Wilcoxon signed-rank p-values, Holm-adjusted over all pairs."""
    opts = list(blocks.columns)
    pairs, pvals = [], []
    for i, a in enumerate(opts):
        for b in opts[i + 1:]:
            pairs.append((a, b))
            pvals.append(significance.signed_rank_p(blocks[a], blocks[b]))
    out = pd.DataFrame(1.0, index=opts, columns=opts)
    if pvals:
        adjusted = holm(pvals)
        for (a, b), p in zip(pairs, adjusted):
            out.loc[a, b] = out.loc[b, a] = float(p)
    return out


def rank(final: pd.DataFrame, task_type: str, alpha: float = ALPHA) -> Ranking:
    """Ranks and tests for one task type's final scores (one row per run), on the common tasks."""
    final = final[final["task_type"] == task_type]
    optimizers = sorted(final["optimizer_id"].unique())
    scores = final.groupby(["task_id", "optimizer_id"])["score"].mean().unstack("optimizer_id").reindex(columns=optimizers)
    complete = scores.dropna()
    excluded = {t: "no runs of " + ", ".join(o for o in optimizers if pd.isna(scores.loc[t, o]))
                for t in scores.index if t not in complete.index}
    common = final[final["task_id"].isin(complete.index)]
    ranks = per_task_ranks(common).reindex(index=complete.index, columns=optimizers)
    n, k = len(complete), len(optimizers)
    cd_ranks = complete.rank(axis=1, method="average").mean() if n else pd.Series(np.nan, index=optimizers)
    summary = pd.DataFrame({
        "mean_rank": ranks.mean(),
        "cd_rank": cd_ranks,
        "score": complete.mean(),
        "score_std": complete.std(ddof=1),
        "n_tasks": complete.notna().sum(),
        "n_tasks_run": scores.notna().sum(),
        "n_runs": common.groupby("optimizer_id").size(),
    }).reindex(optimizers)
    summary["n_runs"] = summary["n_runs"].fillna(0)
    seeds = int(common.groupby(["task_id", "optimizer_id"]).size().min()) if len(common) else 0
    result = Ranking(task_type, optimizers, summary, ranks, scores, complete, excluded, alpha=alpha, seeds_per_task=seeds)
    if k < 2 or n < 2:
        result.test = ("none (needs two optimizers on at least two common tasks; "
                       f"{k} optimizer(s), {n} common task(s))")
        return result
    result.wilcoxon_holm = wilcoxon_holm(complete)
    result.critical_difference = critical_difference(k, n, alpha)
    if k == 2:
        result.test = "Wilcoxon signed-rank (two optimizers)"
        result.p_value = float(result.wilcoxon_holm.iloc[0, 1])
        result.p_method = "exact" if n <= significance.EXACT_MAX_BLOCKS else "normal approximation"
    else:
        import scikit_posthocs as sp

        values = complete.to_numpy(float)
        if np.allclose(values, values[:, :1]):  # every optimizer tied on every task
            result.statistic, result.p_value, result.p_method = 0.0, 1.0, "all tied"
            result.nemenyi = pd.DataFrame(1.0, index=optimizers, columns=optimizers)
        else:
            result.statistic, result.p_value, result.p_method = significance.friedman(values)
            nem = sp.posthoc_nemenyi_friedman(values)
            nem.index, nem.columns = optimizers, optimizers
            result.nemenyi = nem.astype(float)
        result.test = "Friedman + Nemenyi"
    return result


def final_table(final: pd.DataFrame, task_type: str, value: str) -> pd.DataFrame:
    """task x optimizer mean and std of a raw final value (e.g. final_value, hv, igd_plus)."""
    f = final[final["task_type"] == task_type]
    agg = f.groupby(["task_id", "optimizer_id"])[value].agg(["mean", "std", "median",
                                                             lambda s: s.quantile(0.75) - s.quantile(0.25)])
    agg.columns = ["mean", "std", "median", "iqr"]
    return agg


def task_leaders(means: pd.Series, minimize: bool = True, **isclose) -> list[str]:
    """The optimizers sharing a task's best mean (np.isclose with `isclose`), or none where fewer
    than two optimizers ran the task or all of them tie: the rule behind every per-task best mark."""
    means = means.dropna()
    if len(means) < 2:
        return []
    top = means.min() if minimize else means.max()
    leaders = [str(o) for o, m in means.items() if np.isclose(m, top, **isclose)]
    return [] if len(leaders) == len(means) else leaders


def per_task_best_and_markers(final: pd.DataFrame, task_type: str, value: str, minimize_by_task: dict[str, bool],
                              alpha: float = ALPHA) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per task: the optimizers sharing the best mean `value` (only where two or more optimizers
    ran the task and not all are tied), and those significantly worse than every one of them over
    seeds (two-sided Mann-Whitney U, exact for small samples, Holm-adjusted over the others)."""
    f = final[final["task_type"] == task_type]
    best, worse = {}, {}
    for task, g in f.groupby("task_id"):
        means = g.groupby("optimizer_id")[value].mean().dropna()
        leaders = set(task_leaders(means, minimize_by_task.get(task, True), rtol=1e-12, atol=0))
        if not leaders:
            continue
        best[task] = leaders
        others = [o for o in means.index if o not in leaders]
        ps = np.ones((len(leaders), len(others)))
        for i, b in enumerate(sorted(leaders)):
            ref = g.loc[g["optimizer_id"] == b, value].dropna()
            ps[i] = [significance.mann_whitney_p(ref, g.loc[g["optimizer_id"] == o, value].dropna()) for o in others]
        adj = np.array([holm(row) for row in ps]).max(axis=0)
        worse[task] = {o for o, p in zip(others, adj) if p < alpha}
    return best, worse
