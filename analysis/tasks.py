"""What analysis needs to know about each task, read from the run metadata (not the live code).

Every run records its task's metadata (objectives and directions, fidelity range, known optimum
in cost form, budget), so a report can be built on a machine that lacks the task's libraries.
Only true Pareto fronts are fetched from the task code, when it is importable and offers
`pareto_front()`; without one, multi-objective tasks fall back to the empirical front.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd


@dataclass
class TaskInfo:
    task_id: str
    task_type: str
    minimize: tuple[bool, ...]
    fidelity_max: float | None
    optimum: tuple[float, ...] | None  # best achievable cost(s), minimization form
    budget: float  # full-fidelity evaluations one run may spend (the anytime x axis scale)
    budget_declared: bool  # False: time-only budget, scale = most budget any run of the task used
    time_limit: float | None
    metadata: dict = field(default_factory=dict, repr=False)

    @property
    def n_objectives(self) -> int:
        return len(self.minimize)

    @property
    def multi_objective(self) -> bool:
        return self.n_objectives > 1

    @property
    def objective_names(self) -> list[str]:
        return [o.get("name", f"f{i + 1}") for i, o in enumerate(self.metadata.get("objectives") or [])]


def task_infos(runs: pd.DataFrame) -> dict[str, TaskInfo]:
    """One TaskInfo per task id seen in `runs` (usable or not)."""
    infos = {}
    for task_id, group in runs.groupby("task_id", sort=True):
        meta = next((m for m in group["task_metadata"] if m), {})  # decoded once by gather
        objectives = meta.get("objectives") or [{"name": "cost", "minimize": True}]
        fid = meta.get("fidelity")
        declared = pd.to_numeric(group["budget_n_trials"], errors="coerce").dropna()
        used = pd.to_numeric(group["budget_used"], errors="coerce").dropna()
        if len(declared):
            budget, is_declared = float(declared.max()), True
        else:
            budget, is_declared = float(used.max()) if len(used) and used.max() > 0 else 1.0, False
        limits = pd.to_numeric(group["budget_time_limit"], errors="coerce").dropna()
        optimum = meta.get("optimum")
        ttype = meta.get("type") or group["task_type"].dropna().iloc[0]
        infos[task_id] = TaskInfo(
            task_id=task_id, task_type=ttype,
            minimize=tuple(bool(o.get("minimize", True)) for o in objectives),
            fidelity_max=None if not fid else float(fid["max"]),
            optimum=None if optimum is None else tuple(float(v) for v in optimum),
            budget=budget, budget_declared=is_declared,
            time_limit=float(limits.max()) if len(limits) else None, metadata=meta,
        )
    return infos


@lru_cache(maxsize=None)
def true_front(task_id: str) -> np.ndarray | None:
    """The task's true Pareto front in cost form, or None (unknown, or task code not importable).

    Only the objective class is imported to check for `pareto_front`; the objective is built only
    when it has one, so expensive surrogate tasks are never constructed here. `task_id` comes from
    results (data): only an id of this checkout's task catalogue picks a config, never a path."""
    try:
        from carps_like import registry
        from carps_like.objective import instantiate_objective

        entry = registry.tasks().get(task_id)  # `../../x` would name a YAML file outside configs/task
        if entry is None:
            return None
        cfg = entry.config
        cls = registry.import_target(cfg["objective_function"]["_target_"])
        if not hasattr(cls, "pareto_front"):
            return None
        objective = instantiate_objective(cfg)
        front = objective.pareto_front()
    except Exception:  # task unknown here or its library missing: the empirical front is used
        return None
    if front is None:
        return None
    front = np.asarray(front, dtype=float)
    signs = np.array([1.0 if o.minimize else -1.0 for o in objective.objectives])
    front = front * signs
    return front if front.ndim == 2 and len(front) and np.all(np.isfinite(front)) else None


def finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))
