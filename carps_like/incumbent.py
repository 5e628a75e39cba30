"""The one incumbent definition, used by the runner (per trial, O(1) single-objective, O(front)
multi-objective) and by the analysis (vectorized, `full_fidelity_mask`).

A trial can define the incumbent only if it succeeded with finite costs and was evaluated at the
task's full fidelity (tasks without fidelity: every trial). Costs measured at lower fidelities
never become the incumbent, so the runner's `incumbent_cost` column, `run.json`'s incumbent and
the report's default (`--mf-policy max_fidelity`) are one and the same number; a multi-fidelity
run has no incumbent until its first full-fidelity evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FULL_FIDELITY_RTOL = 1e-9


def is_full_fidelity(fidelity: float | None, fidelity_max: float | None) -> bool:
    """A trial counts as a full-fidelity evaluation when the task has no fidelity, the trial has
    none (None/NaN: recorded before fidelities were stored), or it is at the task's maximum."""
    return (fidelity_max is None or fidelity is None or fidelity != fidelity
            or fidelity >= fidelity_max * (1 - FULL_FIDELITY_RTOL) - 1e-12)


def full_fidelity_mask(fidelity: np.ndarray, fidelity_max: float | None) -> np.ndarray:
    """`is_full_fidelity` over an array of trials (the analysis' vectorized form of the rule)."""
    f = np.asarray(fidelity, dtype=float)
    if fidelity_max is None:
        return np.ones(f.shape, dtype=bool)
    return np.isnan(f) | (f >= fidelity_max * (1 - FULL_FIDELITY_RTOL) - 1e-12)


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """a Pareto-dominates b (minimization): no worse everywhere, better somewhere."""
    better = False
    for x, y in zip(a, b):
        if x > y:
            return False
        if x < y:
            better = True
    return better


@dataclass
class IncumbentTracker:
    """Best full-fidelity trial (single objective) or Pareto front of them (multi-objective)."""

    multi_objective: bool
    fidelity_max: float | None = None
    best_cost: float | None = None
    best_trial: int | None = None
    front: list[tuple[tuple[float, ...], int]] = field(default_factory=list)

    def update(self, trial: int, cost, fidelity: float | None) -> bool:
        """Offer a successful trial; returns True if it changed the incumbent."""
        if not is_full_fidelity(fidelity, self.fidelity_max):
            return False
        if not self.multi_objective:
            if not math.isfinite(cost):
                return False
            if self.best_cost is None or cost < self.best_cost:
                self.best_cost, self.best_trial = cost, trial
                return True
            return False
        cost = tuple(cost)
        if not all(map(math.isfinite, cost)):
            return False
        for other, _ in self.front:
            if other == cost or dominates(other, cost):
                return False
        self.front = [(c, t) for c, t in self.front if not dominates(cost, c)]
        self.front.append((cost, trial))
        return True

    def summary(self) -> dict:
        found = bool(self.front) if self.multi_objective else self.best_trial is not None
        fid = self.fidelity_max if found else None
        if self.multi_objective:
            return {"fidelity": fid, "pareto_front": [{"trial": t, "cost": list(c)} for c, t in sorted(self.front)]}
        return {"fidelity": fid, "trial": self.best_trial, "cost": self.best_cost}
