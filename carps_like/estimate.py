"""How long a study will take: an estimate before anything runs, refined from finished trials.

The up-front estimate uses costs measured by the perf scripts and shipped as data
(`carps_like/data/cost_model.json`, written by `perf/optimizer_cost.py --write-data` and
`perf/task_cost.py --write-data`):

* an optimizer's ask+tell time per trial grows with its history (a GP refits on every trial),
  so each variant gets a line c(t) = a + b t through its measured means (a run of N trials
  measures the mean at t = N/2 and the second-half mean at t = 3N/4); n trials then cost
  n a + b n (n - 1) / 2. Budgets count full-fidelity evaluations, and a multi-fidelity
  optimizer makes more (cheaper) trials per unit: the measured ratio `trials_per_unit` scales n;
* an evaluation costs the measured mean of its task collection, once per budget unit;
* time-only budgets cost their time limit.

The optimizer costs are measured on one 5-d task per type. On higher-dimensional tasks, model-based
optimizers cost more per trial: SMAC's GP took 6.5 s per trial at trial 85 of a 20-d BBOB task, and
1.3 s at trial 75 of the 5-d one. So the first estimate is low for such tasks, and the ETA
catches up as trials finish.

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
    data.setdefault(section, {}).update({k: {**v, **stamp} for k, v in entries.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    cost_model.cache_clear()


def trials_per_unit(variant: str) -> float:
    return float(cost_model()["optimizers"].get(variant, {}).get("trials_per_unit", 1.0))


def optimizer_line(variant: str) -> tuple[float, float] | None:
    """(a, b) in seconds of c(t) = a + b t for a variant, or None when it was not measured."""
    points = cost_model()["optimizers"].get(variant, {}).get("points")
    if not points:
        return None
    ts = [t for t, _ in points]
    cs = [c / 1e3 for _, c in points]
    if len(points) == 1 or max(ts) == min(ts):
        return sum(cs) / len(cs), 0.0
    tm, cm = sum(ts) / len(ts), sum(cs) / len(cs)
    b = max(0.0, sum((t - tm) * (c - cm) for t, c in zip(ts, cs)) / sum((t - tm) ** 2 for t in ts))
    return max(cm - b * tm, 0.0), b


def eval_seconds(task_id: str) -> float:
    collections = cost_model()["collections"]
    return collections.get(task_id.split("/", 1)[0], {}).get("seconds", UNKNOWN_EVAL_SECONDS)


@dataclass
class CellCost:
    """The model of one run: its trials and what it would take after k of them."""

    task_id: str
    n_trials: float | None
    time_limit: float | None
    line: tuple[float, float] | None
    per_eval: float
    trials_per_unit: float = 1.0

    def seconds_after(self, k: float) -> float:
        """Modelled seconds after k budget units (full-fidelity evaluations)."""
        a, b = self.line or (0.0, 0.0)
        n = k * self.trials_per_unit
        return (RUN_SECONDS if k > 0 else 0.0) + n * (a + HARNESS_SECONDS) + b * n * max(n - 1, 0) / 2 + k * self.per_eval

    @property
    def seconds(self) -> float:
        if self.n_trials is None:
            return float(self.time_limit or 0.0)
        total = self.seconds_after(self.n_trials)
        return min(total, self.time_limit) if self.time_limit else total


def cell_cost(variant: str, task_id: str, n_trials: float | None, time_limit: float | None) -> CellCost:
    return CellCost(task_id, n_trials, time_limit, optimizer_line(variant), eval_seconds(task_id), trials_per_unit(variant))


def makespan(seconds: list[float], jobs: int) -> float:
    """Wall time of runs spread over `jobs` workers, longest first (what a pool achieves)."""
    workers = [0.0] * max(1, min(jobs, len(seconds) or 1))
    for s in sorted(seconds, reverse=True):
        heapq.heapreplace(workers, workers[0] + s)
    return START_SECONDS + max(workers)


def describe(cells: list[CellCost], variants: set[str], jobs: int) -> str:
    """The up-front line: total, parallelism, and what the estimate rests on."""
    total = makespan([c.seconds for c in cells], jobs)
    missing = sorted(v for v in variants if optimizer_line(v) is None)
    rows = cost_model()["optimizers"]
    per_trial = ", ".join(f"{v} {fmt_seconds(optimizer_line(v)[0] + optimizer_line(v)[1] * 50)}/trial at 50 trials"
                          f" on {rows[v].get('task', '?')}" for v in sorted(variants - set(missing)))
    measured = sorted({rows[v].get("measured", "?") for v in variants if v in rows})
    basis = (f"optimizer cost measured by perf/optimizer_cost.py ({', '.join(measured)}): {per_trial}" if per_trial else "")
    if missing:
        basis += ("; " if basis else "") + f"no measured cost for {', '.join(missing)} (counted as 0)"
    return (f"estimate: about {fmt_seconds(total)} for {len(cells)} run(s) on {min(jobs, len(cells))} parallel "
            f"job(s) ({basis}; model-based optimizers cost more per trial on higher-dimensional tasks); "
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
