"""Incumbent tracking in O(1) per trial (single objective) or O(front) (multi-objective).

Multi-fidelity rule: trials at a higher fidelity supersede lower ones. The incumbent is the best
trial at the highest fidelity evaluated so far (for MO: the Pareto front of those trials), so
costs measured at different fidelities are never compared with each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field


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
    """Best trial (single objective) or Pareto front (multi-objective) so far."""

    multi_objective: bool
    fidelity: float = float("-inf")
    best_cost: float | None = None
    best_trial: int | None = None
    front: list[tuple[tuple[float, ...], int]] = field(default_factory=list)

    def update(self, trial: int, cost, fidelity: float | None) -> bool:
        """Add a successful trial; returns True if it changed the incumbent."""
        level = float("inf") if fidelity is None else fidelity
        if level < self.fidelity:
            return False
        if level > self.fidelity:
            self.fidelity = level
            self.best_cost, self.best_trial, self.front = None, None, []
        if not self.multi_objective:
            if self.best_cost is None or cost < self.best_cost:
                self.best_cost, self.best_trial = cost, trial
                return True
            return False
        cost = tuple(cost)
        for other, _ in self.front:
            if other == cost or dominates(other, cost):
                return False
        self.front = [(c, t) for c, t in self.front if not dominates(cost, c)]
        self.front.append((cost, trial))
        return True

    def summary(self) -> dict:
        fid = None if self.fidelity in (float("inf"), float("-inf")) else self.fidelity
        if self.multi_objective:
            return {"fidelity": fid, "pareto_front": [{"trial": t, "cost": list(c)} for c, t in sorted(self.front)]}
        return {"fidelity": fid, "trial": self.best_trial, "cost": self.best_cost}
