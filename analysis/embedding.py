"""Embed each task as a point: how the reference optimizers fare on it, one coordinate each.

A task's raw coordinate for optimizer j is its final normalized score on that task (the same
per-task normalization as the report: regret against the known optimum or the best observed,
scaled by the worst observed cost; 1 - HV/HV_ref for multi-objective), averaged over seeds.

Coordinates are then normalized **per column** (per optimizer, across tasks), never per row:
each value becomes its empirical-CDF midpoint (r - 1/2) / n, where r is its rank among the n
tasks (ties share the average rank). So every marginal is spread evenly over (0, 1) as the
uniform reference of the star discrepancy expects, no coordinate is exactly 0 or 1 (CARP-S's
per-row min-max put a 1 in every point, and exact zeros force large discrepancies), tasks on
which every optimizer ties stay ordinary points, and identical points keep their own task ids.
A task on which some reference optimizer has no usable run is excluded, with the reason.

Nothing is dropped silently (issue 17, item 11). A NaN seed score (a run whose final score could
not be computed) would vanish in the mean: the task keeps the mean over its finite seeds, since
one lost seed does not make a task unrepresentative, and `nan_seeds` says per task which
optimizer lost how many seeds. An infinite score cannot come out of a working [0, 1] normalization: it is a defect
of that task's data, and as a coordinate it would only be an extreme rank of unknown size, so
the task is excluded with "infinite score of ..." as its reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata


@dataclass
class Embedding:
    task_ids: list[str]
    columns: list[str]  # reference optimizers, in coordinate order
    raw: np.ndarray  # n x d seed-averaged final scores
    points: np.ndarray  # n x d column-normalized coordinates in (0, 1)
    excluded: dict[str, str] = field(default_factory=dict)  # task -> why it is not a point
    nan_seeds: dict[str, str] = field(default_factory=dict)  # embedded task -> its NaN seeds, per optimizer

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.points, index=pd.Index(self.task_ids, name="task_id"), columns=self.columns)


def ecdf_midpoints(values: np.ndarray) -> np.ndarray:
    """(average rank - 1/2) / n per column: uniform marginals, strictly inside (0, 1)."""
    n = values.shape[0]
    return np.column_stack([(rankdata(values[:, j], method="average") - 0.5) / n for j in range(values.shape[1])])


def embed(final: pd.DataFrame, task_type: str, reference: list[str]) -> Embedding:
    """Points for the tasks of one type from the per-run final scores (analysis.anytime.compute)."""
    f = final[(final["task_type"] == task_type) & final["optimizer_id"].isin(reference)]
    score = f["score"].astype(float)
    f = f.assign(score=score.where(np.isfinite(score)), nan=score.isna(), inf=np.isinf(score))
    by = f.groupby(["task_id", "optimizer_id"])
    counts = by.agg(n=("nan", "size"), nan=("nan", "sum"), inf=("inf", "sum"))
    scores = by["score"].mean().unstack("optimizer_id").reindex(columns=list(reference)).sort_index()
    excluded, nan_seeds = {}, {}
    for task, row in scores.iterrows():
        c = counts.loc[task]
        inf = [f"{o} ({c.at[o, 'inf']} of {c.at[o, 'n']} seeds)" for o in reference if o in c.index and c.at[o, "inf"]]
        missing = [o for o in reference if pd.isna(row[o]) and not (o in c.index and c.at[o, "inf"])]
        reasons = (["no usable run of " + ", ".join(missing)] if missing else []) + \
                  (["infinite score of " + ", ".join(inf)] if inf else [])
        if reasons:
            excluded[str(task)] = "; ".join(reasons)
            continue
        nan = [f"{o}: {c.at[o, 'nan']} of {c.at[o, 'n']} seeds NaN" for o in reference if c.at[o, "nan"]]
        if nan:
            nan_seeds[str(task)] = ", ".join(nan)
    keep = scores.drop(index=list(excluded))
    raw = keep.to_numpy(float)
    points = ecdf_midpoints(raw) if len(raw) else raw.reshape(0, len(reference))
    return Embedding([str(t) for t in keep.index], list(reference), raw, points, excluded, nan_seeds)
