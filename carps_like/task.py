"""A task: an objective function plus the budget a run may spend on it."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import UserError
from .objective import ObjectiveFunction
from .types import TaskType


@dataclass(frozen=True)
class Budget:
    """How much a run may spend.

    n_trials counts full-fidelity equivalents: a multi-fidelity trial at fidelity z costs
    z / z_max. time_limit is wall-clock seconds for the whole run (optimizer + objective).
    Either may be None, not both. A run ends when either is spent.
    """

    n_trials: float | None = None
    time_limit: float | None = None

    def __post_init__(self) -> None:
        if self.n_trials is None and self.time_limit is None:
            raise UserError("budget needs n_trials and/or time_limit; got neither (accepted: n_trials > 0, time_limit > 0 seconds)")
        for name, value in (("n_trials", self.n_trials), ("time_limit", self.time_limit)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise UserError(f"budget {name} must be a positive number or null, got {value!r}")

    @classmethod
    def from_mapping(cls, mapping) -> "Budget":
        mapping = dict(mapping or {})
        unknown = set(mapping) - {"n_trials", "time_limit"}
        if unknown:
            raise UserError(f"unknown budget keys {sorted(unknown)}; accepted: n_trials, time_limit")
        return cls(n_trials=_number(mapping.get("n_trials"), "n_trials"), time_limit=_number(mapping.get("time_limit"), "time_limit"))

    def as_dict(self) -> dict:
        return {"n_trials": self.n_trials, "time_limit": self.time_limit}


def _number(value, name):
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise UserError(f"budget {name} must be a positive number or null, got {value!r}") from None
    return value


@dataclass
class Task:
    """An objective function with a stable id and a budget. Optimizers read it; only the runner evaluates it."""

    id: str
    objective_function: ObjectiveFunction
    budget: Budget

    @property
    def task_type(self) -> TaskType:
        return self.objective_function.task_type

    @property
    def configspace(self):
        return self.objective_function.configspace

    @property
    def objectives(self):
        return self.objective_function.objectives

    @property
    def fidelity(self):
        return self.objective_function.fidelity

    def at_full_fidelity(self) -> "Task":
        """The same task with its fidelity fixed at the maximum: what a blackbox or
        multi-objective optimizer sees when its config says `full_fidelity: true` (the classic
        full-fidelity baseline of multi-fidelity studies). Budget units stay the same."""
        if self.fidelity is None:
            return self
        return Task(self.id, FullFidelityObjective(self.objective_function), self.budget)


class FullFidelityObjective(ObjectiveFunction):
    """Wraps a multi-fidelity objective; every evaluation runs at its maximum fidelity."""

    fidelity = None

    def __init__(self, inner: ObjectiveFunction) -> None:
        self.inner = inner
        self.configspace = inner.configspace
        self.objectives = inner.objectives
        self.metadata = inner.metadata
        self._max = inner.fidelity.max

    def evaluate(self, config, fidelity=None, seed=None):
        return self.inner.evaluate(config, self._max, seed)

    def evaluate_batch(self, configs, fidelities=None, seeds=None):
        return self.inner.evaluate_batch(configs, [self._max] * len(configs), seeds)
