"""Anytime performance: every run's normalized incumbent score on one common grid.

The x axis is the fraction of the task's budget (full-fidelity evaluation equivalents, so a
multi-fidelity trial at fidelity z costs z / z_max) or, optionally, of wall time or virtual time
(optimizer time + the time surrogate/tabular evaluations stand for; for runs in batches of q,
a batch's optimizer time plus its longest evaluation, as if its trials ran on q workers). A run's score at grid point
x is that of its incumbent after every trial that finished by x; before its first eligible
trial it scores 1 (as bad as the worst observed). A run that stopped early (an optimizer
failure) keeps its last incumbent to the end. Time-only budgets use, per task, the most budget
any of its runs spent as the scale.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .gather import Gathered
from .normalize import (MultiObjectiveScale, Options, SingleObjectiveScale, eligible_mask, incumbent_costs,
                        non_dominated)
from .tasks import TaskInfo, task_infos


@dataclass
class Performance:
    """Everything later stages need: per-run curves on the grid and final values."""

    options: Options
    tasks: dict[str, TaskInfo]
    curves: pd.DataFrame  # task_type, task_id, optimizer_id, seed, x, score
    final: pd.DataFrame  # one row per run: score at x = 1 plus raw final values
    scales: dict = field(default_factory=dict, repr=False)

    def of_type(self, task_type: str) -> "Performance":
        return self.of_tasks([t for t, i in self.tasks.items() if i.task_type == task_type])

    def of_tasks(self, task_ids) -> "Performance":
        """The same analysis restricted to some tasks (a type; the tasks every optimizer ran)."""
        ids = set(task_ids)
        keep = [t for t in self.tasks if t in ids]
        return Performance(self.options, {t: self.tasks[t] for t in keep}, self.curves[self.curves["task_id"].isin(keep)],
                           self.final[self.final["task_id"].isin(keep)], {t: self.scales[t] for t in keep if t in self.scales})

    @property
    def optimizers(self) -> list[str]:
        return sorted(self.final["optimizer_id"].unique())


def _x_events(tr: pd.DataFrame, axis: str, started: pd.Series, batch_sizes: pd.Series | None = None) -> np.ndarray:
    if axis == "budget":
        return tr["budget_used"].to_numpy(float)
    if axis == "wall_time":
        return tr["end_time"].to_numpy(float) - tr["run_key"].map(started).to_numpy(float)
    opt = tr["optimizer_time"].fillna(0).to_numpy(float)
    virt = tr["virtual_time"].fillna(0).to_numpy(float)
    keys = tr["run_key"].to_numpy()
    q_of = {} if batch_sizes is None else batch_sizes.to_dict()
    out = np.empty(len(opt))
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(keys)]):
        q = int(q_of.get(keys[a], 1) or 1)
        if q == 1:
            out[a:b] = np.cumsum(opt[a:b] + virt[a:b])
            continue
        # a batch's q trials run side by side, as on q workers: the batch takes its optimizer time
        # plus its longest evaluation, and its trials count as done when the batch is
        batch = np.arange(b - a) // q
        per_batch = np.bincount(batch, weights=opt[a:b]) + pd.Series(virt[a:b]).groupby(batch).max().to_numpy()
        out[a:b] = np.cumsum(per_batch)[batch]
    return out


def compute(gathered: Gathered, options: Options | None = None, task_ids: list[str] | None = None) -> Performance:
    """Scores on the grid for every usable (complete or failed) run."""
    options = options or Options()
    runs = gathered.usable_runs()
    if task_ids is not None:
        runs = runs[runs["task_id"].isin(task_ids)]
    infos = task_infos(runs) if len(runs) else {}
    trials = gathered.trials[gathered.trials["run_key"].isin(runs["run_key"])]
    trials = trials.sort_values(["run_key", "trial"], kind="stable")
    grid = np.linspace(0.0, 1.0, int(options.grid_points) + 1)[1:]
    by_key = runs.set_index("run_key")
    x_all = _x_events(trials, options.x_axis, by_key["started"],
                      by_key["batch_size"] if "batch_size" in by_key else None)
    curve_parts, final_rows, scales = [], [], {}
    run_meta = runs.set_index("run_key")

    for task_id, task_trials in trials.groupby("task_id", sort=True):
        info = infos[task_id]
        idx = task_trials.index
        status = task_trials["status"].to_numpy()
        fid = task_trials["fidelity"].to_numpy(float)
        elig = eligible_mask(status, fid, info, options)
        keys = task_trials["run_key"].to_numpy()
        x_task = x_all[trials.index.get_indexer(idx)]
        if options.x_axis == "budget":
            scale_x = info.budget
        elif options.x_axis == "wall_time" and info.time_limit:
            scale_x = info.time_limit
        else:
            ends = pd.Series(x_task).groupby(keys).max()
            scale_x = float(ends.max()) if len(ends) and ends.max() > 0 else 1.0
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        bounds = list(zip(starts, np.r_[starts[1:], len(keys)]))
        if info.multi_objective:
            costs = np.array([np.asarray(c, float) if c is not None else np.full(info.n_objectives, np.nan)
                              for c in task_trials["costs"]], dtype=float).reshape(len(task_trials), info.n_objectives)
            elig = elig & np.isfinite(costs).all(axis=1)  # old data may hold NaN/inf as SUCCESS
            scale = MultiObjectiveScale.fit(info, costs[elig], options.mo_box)
        else:
            costs = task_trials["cost"].to_numpy(float)
            elig = elig & np.isfinite(costs)  # old data may hold NaN/inf as SUCCESS
            configs = task_trials["config"].to_numpy() if info.fidelity_max is not None else None
            inc_all = np.empty(len(costs))
            for a, b in bounds:
                inc_all[a:b] = incumbent_costs(costs[a:b], elig[a:b], None if configs is None else configs[a:b], fid[a:b],
                                               options, info.fidelity_max is not None)
            observed = costs[elig] if options.mf_policy == "max_fidelity" or info.fidelity_max is None else inc_all
            scale = SingleObjectiveScale.fit(info, observed, options)
        scales[task_id] = scale
        for a, b in bounds:
            key = keys[a]
            meta = run_meta.loc[key]
            pos = np.searchsorted(x_task[a:b] / scale_x, grid + 1e-9, side="right") - 1
            if info.multi_objective:
                e = elig[a:b]
                pts, pts_idx = costs[a:b][e], np.flatnonzero(e)
                scores, cache = np.empty(len(grid)), {}
                for j, p in enumerate(pos):
                    n = int(np.searchsorted(pts_idx, p, side="right"))
                    if n not in cache:
                        cache[n] = scale.score(pts[:n])
                    scores[j] = cache[n]
                front = non_dominated(pts)
                final = {"final_cost": np.nan, "final_value": np.nan,
                         "hv": scale.hypervolume(front, assume_front=True) if len(front) else 0.0,
                         "igd_plus": scale.igd_plus(front), "front_size": len(front)}
            else:
                inc = inc_all[a:b]
                raw = np.where(pos >= 0, inc[np.clip(pos, 0, None)], np.nan)
                scores = np.where(np.isnan(raw), 1.0, scale(raw))
                last = inc[-1] if len(inc) else np.nan
                sign = 1.0 if info.minimize[0] else -1.0
                final = {"final_cost": last, "final_value": sign * last, "hv": np.nan, "igd_plus": np.nan,
                         "front_size": np.nan}
            curve_parts.append(pd.DataFrame({"run_key": key, "x": grid, "score": scores}))
            final_rows.append({"run_key": key, "task_type": info.task_type, "task_id": task_id,
                               "optimizer_id": meta["optimizer_id"], "seed": int(meta["seed"]), "run_status": meta["status"],
                               "score": float(scores[-1]), "has_incumbent": bool(np.any(elig[a:b])), **final})
    final = pd.DataFrame(final_rows, columns=["run_key", "task_type", "task_id", "optimizer_id", "seed", "run_status", "score",
                                              "has_incumbent", "final_cost", "final_value", "hv", "igd_plus", "front_size"])
    if curve_parts:
        curves = pd.concat(curve_parts, ignore_index=True)
        ident = final.set_index("run_key")[["task_type", "task_id", "optimizer_id", "seed"]]
        curves = curves.join(ident, on="run_key")
    else:
        curves = pd.DataFrame(columns=["run_key", "x", "score", "task_type", "task_id", "optimizer_id", "seed"])
    return Performance(options, infos, curves, final, scales)


CI_LEVEL = 0.95
CI_RESAMPLES = 2000
CI_SEED = 0


def mean_with_ci(curves: pd.DataFrame, value: str = "score", level: float = CI_LEVEL, n_resamples: int = CI_RESAMPLES,
                 seed: int = CI_SEED) -> pd.DataFrame:
    """Mean over tasks (each task first averaged over its seeds) per optimizer and grid point, with a
    seeded percentile bootstrap interval (95%): the tasks an optimizer ran are resampled with
    replacement (its seeds when it ran a single task), one resample for all grid points, and lo / hi
    are quantiles of the resampled means. A resampled mean is a mean of observed values, so the band
    never leaves the range of the data (normalized scores stay in [0, 1]), unlike a t-interval. Each
    optimizer draws from its own generator seeded with `seed`: bands are reproducible and do not
    depend on which other optimizers are in the frame. Columns: optimizer_id, x, mean, lo, hi, n
    (tasks, or seeds of the single task, with a value at x)."""
    columns = ["optimizer_id", "x", "mean", "lo", "hi", "n"]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    q = [(1 - level) / 2, (1 + level) / 2]
    per_task = curves.groupby(["optimizer_id", "task_id", "x"], sort=True)[value].mean().unstack("x")
    parts = []
    for opt, block in per_task.groupby(level="optimizer_id", sort=True):
        if len(block) < 2:  # a single task: resample its seeds
            one = curves[curves["optimizer_id"] == opt]
            block = one.groupby(["seed", "x"], sort=True)[value].mean().unstack("x")
        v = block.to_numpy(float)  # units (tasks or seeds) x grid points
        ok = np.isfinite(v)
        n = ok.sum(axis=0)
        keep = n > 0
        v, ok, n, xs = v[:, keep], ok[:, keep], n[keep], block.columns.to_numpy(float)[keep]
        v0 = np.where(ok, v, 0.0)
        units = len(v)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, units, (n_resamples, units)) + units * np.arange(n_resamples)[:, None]
        weights = np.bincount(draws.ravel(), minlength=n_resamples * units).reshape(n_resamples, units).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (weights @ v0) / (weights @ ok)
        lo, hi = (np.nanquantile if not ok.all() else np.quantile)(boot, q, axis=0)
        vmin, vmax = np.where(ok, v, np.inf).min(axis=0), np.where(ok, v, -np.inf).max(axis=0)
        parts.append(pd.DataFrame({"optimizer_id": opt, "x": xs, "mean": v0.sum(axis=0) / n,
                                   "lo": np.clip(lo, vmin, vmax), "hi": np.clip(hi, vmin, vmax), "n": n}))
    return pd.concat(parts, ignore_index=True)[columns]


def rank_over_time(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean rank per optimizer and grid point: ranks within each (task, seed) (ties share the
    average rank), averaged over seeds, then over tasks. Lower is better."""
    c = curves[["task_id", "seed", "x", "optimizer_id", "score"]].copy()
    c["rank"] = c.groupby(["task_id", "seed", "x"])["score"].rank(method="average")
    per_task = c.groupby(["optimizer_id", "x", "task_id"])["rank"].mean()
    return per_task.groupby(["optimizer_id", "x"]).mean().rename("rank").reset_index()
