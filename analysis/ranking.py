"""Final performance, ranks and the statistics behind a ranking claim.

* Per-task rank: optimizers are ranked within each (task, seed) on the final normalized score
  (lower is better; ties share the average rank), then averaged over seeds. The mean rank of
  an optimizer is the mean of its per-task ranks.
* Tests use one value per task and optimizer (the final score averaged over seeds) and only
  tasks every optimizer ran (the others are listed, not dropped silently):
  - three or more optimizers: Friedman test, Nemenyi post-hoc (scikit-posthocs), critical
    difference CD = q_alpha sqrt(k (k + 1) / (6 N)) (Demsar 2006);
  - two optimizers: the Wilcoxon signed-rank test (Friedman needs three);
  - always: pairwise Wilcoxon signed-rank p-values with Holm's correction.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ALPHA = 0.05


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

    @property
    def best(self) -> str:
        return str(self.summary["mean_rank"].idxmin())

    def significantly_worse_than_best(self) -> set[str]:
        """Optimizers whose Holm-adjusted Wilcoxon p-value against the best is below alpha."""
        if self.wilcoxon_holm is None or len(self.optimizers) < 2:
            return set()
        best = self.best
        col = self.wilcoxon_holm[best]
        return {o for o in self.optimizers if o != best and col.get(o, 1.0) < self.alpha}


def per_task_ranks(final: pd.DataFrame) -> pd.DataFrame:
    """task x optimizer table of ranks within (task, seed), averaged over seeds."""
    f = final[["task_id", "seed", "optimizer_id", "score"]].copy()
    f["rank"] = f.groupby(["task_id", "seed"])["score"].rank(method="average")
    return f.groupby(["task_id", "optimizer_id"])["rank"].mean().unstack("optimizer_id")


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
    from scipy.stats import wilcoxon

    opts = list(blocks.columns)
    pairs, pvals = [], []
    for i, a in enumerate(opts):
        for b in opts[i + 1:]:
            d = blocks[a].to_numpy(float) - blocks[b].to_numpy(float)
            if len(d) == 0 or np.allclose(d, 0):
                p = 1.0
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    p = float(wilcoxon(blocks[a], blocks[b], zero_method="zsplit").pvalue)
            pairs.append((a, b))
            pvals.append(p if np.isfinite(p) else 1.0)
    out = pd.DataFrame(1.0, index=opts, columns=opts)
    if pvals:
        adjusted = holm(pvals)
        for (a, b), p in zip(pairs, adjusted):
            out.loc[a, b] = out.loc[b, a] = float(p)
    return out


def rank(final: pd.DataFrame, task_type: str, alpha: float = ALPHA) -> Ranking:
    """Ranks and tests for one task type's final scores (one row per run)."""
    final = final[final["task_type"] == task_type]
    optimizers = sorted(final["optimizer_id"].unique())
    ranks = per_task_ranks(final).reindex(columns=optimizers)
    scores = final.groupby(["task_id", "optimizer_id"])["score"].mean().unstack("optimizer_id").reindex(columns=optimizers)
    complete = scores.dropna()
    excluded = {t: "no runs of " + ", ".join(o for o in optimizers if pd.isna(scores.loc[t, o]))
                for t in scores.index if t not in complete.index}
    n, k = len(complete), len(optimizers)
    cd_ranks = complete.rank(axis=1, method="average").mean() if n else pd.Series(np.nan, index=optimizers)
    runs = final.groupby("optimizer_id").size()
    summary = pd.DataFrame({
        "mean_rank": ranks.mean(),
        "cd_rank": cd_ranks,
        "score": scores.mean(),
        "score_std": scores.std(ddof=1),
        "n_tasks": scores.notna().sum(),
        "n_runs": runs,
    }).reindex(optimizers)
    result = Ranking(task_type, optimizers, summary, ranks, scores, complete, excluded, alpha=alpha)
    if k < 2 or n < 2:
        result.test = "none (needs two optimizers on at least two common tasks)"
        return result
    result.wilcoxon_holm = wilcoxon_holm(complete)
    result.critical_difference = critical_difference(k, n, alpha)
    if k == 2:
        result.test = "Wilcoxon signed-rank (two optimizers)"
        result.p_value = float(result.wilcoxon_holm.iloc[0, 1])
    else:
        from scipy.stats import friedmanchisquare
        import scikit_posthocs as sp

        values = complete.to_numpy(float)
        if np.allclose(values, values[:, :1]):  # every optimizer tied on every task
            result.statistic, result.p_value = 0.0, 1.0
            result.nemenyi = pd.DataFrame(1.0, index=optimizers, columns=optimizers)
        else:
            stat = friedmanchisquare(*[values[:, j] for j in range(k)])
            result.statistic, result.p_value = float(stat.statistic), float(stat.pvalue)
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


def per_task_best_and_markers(final: pd.DataFrame, task_type: str, value: str, minimize_by_task: dict[str, bool],
                              alpha: float = ALPHA) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Per task: the optimizer with the best mean `value`, and those significantly worse than it
    over seeds (two-sided Mann-Whitney U, Holm-adjusted over the other optimizers)."""
    from scipy.stats import mannwhitneyu

    f = final[final["task_type"] == task_type]
    best, worse = {}, {}
    for task, g in f.groupby("task_id"):
        means = g.groupby("optimizer_id")[value].mean().dropna()
        if means.empty:
            continue
        minimize = minimize_by_task.get(task, True)
        b = str(means.idxmin() if minimize else means.idxmax())
        best[task] = b
        others = [o for o in means.index if o != b]
        ref = g.loc[g["optimizer_id"] == b, value].dropna()
        ps = []
        for o in others:
            x = g.loc[g["optimizer_id"] == o, value].dropna()
            if len(x) < 2 or len(ref) < 2 or (np.ptp(np.r_[x, ref]) == 0):
                ps.append(1.0)
            else:
                ps.append(float(mannwhitneyu(ref, x, alternative="two-sided").pvalue))
        worse[task] = set()
        if ps:
            adj = holm(ps)
            worse[task] = {o for o, p in zip(others, adj) if p < alpha}
    return best, worse
