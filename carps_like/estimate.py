"""How long a study will take: an estimate before anything runs, refined from finished trials.

The up-front estimate uses costs measured by the perf scripts and shipped as data
(`carps_like/data/cost_model.json`, written by `perf/optimizer_cost.py --write-data` and
`perf/task_cost.py --write-data`):

* an optimizer's ask+tell time per trial changes with its history (a GP refits on every trial;
  SMAC's first trials are a cheap initial design), so each variant's cost per trial c(t) is
  the piecewise-linear curve through its measured means (a run of N trials measures the mean at
  t = N/2 and the second-half mean at t = 3N/4), held at its last measured value beyond: a line
  fitted through a short capped run extrapolated SMAC's 20-d cost to a minute per trial at
  trial 250, where it measured 6.5 s at trial 85. n trials cost the sum of c(0..n-1). Budgets
  count full-fidelity evaluations, and a multi-fidelity optimizer makes more (cheaper) trials
  per unit: the measured ratio `trials_per_unit` scales n;
* an evaluation costs the measured mean of its task collection, once per budget unit;
* time-only budgets cost their time limit.

Model-based optimizers cost more per trial on higher-dimensional tasks: SMAC's GP took 6.5 s per
trial at trial 85 of a 20-d BBOB task, and 1.3 s at trial 75 of the 5-d one. So each variant is
measured on a 5-d task of its type and, with `--high-dim`, on a 10-20-d one; a task's cost curve
is interpolated linearly in its dimension between the two.

Runs are spread over `jobs` parallel workers, longest first. While the study runs, the same model
gives the work that the finished trials stand for; the ratio of elapsed time to that work
calibrates the rest (this machine may be slower or faster than the one that measured), so the
ETA moves from the model to the measurement as trials finish.
"""
from __future__ import annotations

import heapq
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

DATA = Path(__file__).with_name("data") / "cost_model.json"
HARNESS_SECONDS = 1e-4  # per trial: the runner's own overhead (perf/overhead.py)
RUN_SECONDS = 0.2  # per run: building the task, the optimizer and the Parquet table (perf/study_overhead.py: 7 ms on toy/bb; more for real tasks)
START_SECONDS = 3.0  # once: worker processes importing the libraries
UNKNOWN_EVAL_SECONDS = 0.05  # a collection the data does not cover


@lru_cache(maxsize=1)
def cost_model() -> dict:
    try:
        return json.loads(DATA.read_text())
    except (OSError, ValueError):
        return {"optimizers": {}, "collections": {}}


def write_section(section: str, entries: dict) -> None:
    """Merge measured entries into one section of the shipped data (the perf scripts call this)."""
    import datetime
    import os
    import platform

    path = DATA
    data = {"optimizers": {}, "collections": {}}
    if path.exists():
        data.update(json.loads(path.read_text()))
    stamp = {"measured": datetime.date.today().isoformat(),
             "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start"}
    records = data.setdefault(section, {})
    for key, new in entries.items():  # a --high-dim record joins the variant's record; others replace theirs
        old = records.get(key, {})
        records[key] = ({**old, "high_dim": {**new["high_dim"], **stamp}} if set(new) == {"high_dim"}
                        else {**({"high_dim": old["high_dim"]} if "high_dim" in old else {}), **new, **stamp})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    cost_model.cache_clear()


def trials_per_unit(variant: str) -> float:
    return float(cost_model()["optimizers"].get(variant, {}).get("trials_per_unit", 1.0))


def _curve(points) -> Callable[[np.ndarray], np.ndarray] | None:
    """Seconds per trial at trial indices t: piecewise linear through measured (trial, ms)
    points, constant beyond the first and last."""
    if not points:
        return None
    ts, cs = np.array(sorted(points), dtype=float).T
    return lambda t: np.interp(t, ts, cs / 1e3)


def optimizer_curve(variant: str, dim: int | None = None) -> Callable[[np.ndarray], np.ndarray] | None:
    """A variant's seconds per trial as a function of the trial index, or None when it was not
    measured. With `dim` and a measurement in more dimensions (`perf/optimizer_cost.py
    --high-dim`), the two curves are interpolated linearly in the dimension (held beyond them)."""
    record = cost_model()["optimizers"].get(variant, {})
    low, high = _curve(record.get("points")), _curve(record.get("high_dim", {}).get("points"))
    d0, d1 = record.get("dim", 5), record.get("high_dim", {}).get("dim")
    if dim is None or low is None or high is None or not d1 or d1 <= d0:
        return low
    w = min(max((dim - d0) / (d1 - d0), 0.0), 1.0)
    return lambda t: (1 - w) * low(t) + w * high(t)


def eval_seconds(task_id: str) -> float:
    collections = cost_model()["collections"]
    return collections.get(task_id.split("/", 1)[0], {}).get("seconds", UNKNOWN_EVAL_SECONDS)


@dataclass
class CellCost:
    """The model of one run: its trials and what it would take after k of them."""

    task_id: str
    n_trials: float | None
    time_limit: float | None
    curve: Callable[[np.ndarray], np.ndarray] | None
    per_eval: float
    trials_per_unit: float = 1.0

    def seconds_after(self, k: float) -> float:
        """Modelled seconds after k budget units (full-fidelity evaluations)."""
        if k <= 0:
            return 0.0
        n = k * self.trials_per_unit
        optimizer = float(self.curve(np.arange(math.ceil(n))).sum()) if self.curve else 0.0
        return RUN_SECONDS + optimizer + n * HARNESS_SECONDS + k * self.per_eval

    @property
    def seconds(self) -> float:
        if self.n_trials is None:
            return float(self.time_limit or 0.0)
        total = self.seconds_after(self.n_trials)
        return min(total, self.time_limit) if self.time_limit else total


def cell_cost(variant: str, task_id: str, n_trials: float | None, time_limit: float | None,
              dim: int | None = None) -> CellCost:
    return CellCost(task_id, n_trials, time_limit, optimizer_curve(variant, dim), eval_seconds(task_id),
                    trials_per_unit(variant))


def makespan(seconds: list[float], jobs: int) -> float:
    """Wall time of runs spread over `jobs` workers, longest first (what a pool achieves)."""
    workers = [0.0] * max(1, min(jobs, len(seconds) or 1))
    for s in sorted(seconds, reverse=True):
        heapq.heapreplace(workers, workers[0] + s)
    return START_SECONDS + max(workers)


def describe(cells: list[CellCost], variants: set[str], jobs: int) -> str:
    """The up-front line: total, parallelism, and what the estimate rests on."""
    total = makespan([c.seconds for c in cells], jobs)
    missing = sorted(v for v in variants if optimizer_curve(v) is None)
    rows = cost_model()["optimizers"]
    def measured_on(v: str) -> str:
        tasks = [rows[v].get("task", "?")] + ([rows[v]["high_dim"]["task"]] if "high_dim" in rows[v] else [])
        return " and ".join(tasks)

    per_trial = ", ".join(f"{v} {fmt_seconds(float(optimizer_curve(v)(50)))}/trial at trial 50"
                          f" on {measured_on(v)}" for v in sorted(variants - set(missing)))
    measured = sorted({rows[v].get("measured", "?") for v in variants if v in rows})
    basis = (f"optimizer cost measured by perf/optimizer_cost.py ({', '.join(measured)}): {per_trial}" if per_trial else "")
    if missing:
        basis += ("; " if basis else "") + f"no measured cost for {', '.join(missing)} (counted as 0)"
    return (f"estimate: about {fmt_seconds(total)} for {len(cells)} run(s) on {min(jobs, len(cells))} parallel "
            f"job(s) ({basis}; costs interpolated by task dimension where two dimensions were measured); "
            "refined as trials finish")


def fmt_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms" if seconds >= 1e-3 else f"{seconds * 1e3:.2f} ms"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def eta(cells: list[CellCost], done_units: list[float], finished: list[bool], elapsed: float,
        upfront: float | None) -> float:
    """Seconds left: the model's remaining work, scaled by elapsed / the model's finished work
    (`done_units`: budget spent per run so far)."""
    done = sum(c.seconds if f else min(c.seconds_after(k), c.seconds) for c, k, f in zip(cells, done_units, finished))
    total = sum(c.seconds for c in cells)
    if done <= 0:  # nothing finished yet: the up-front estimate, if there is one (NaN: unknown)
        return math.nan if upfront is None else max(upfront - elapsed, 0.0)
    rate = elapsed / done  # seconds of wall time per second of modelled (single-job) work
    return max(total - done, 0.0) * rate
