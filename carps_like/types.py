"""Plain value types shared by tasks, optimizers, the runner and the store.

Kept free of heavy imports (no torch, smac, hebo) so that `import carps_like` stays cheap.
"""
from __future__ import annotations

import enum
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping


class TaskType(str, enum.Enum):
    """The four task types; the type follows from the objectives and the fidelity."""

    BLACKBOX = "bb"
    MULTI_FIDELITY = "mf"
    MULTI_OBJECTIVE = "mo"
    MULTI_FIDELITY_MULTI_OBJECTIVE = "momf"

    @classmethod
    def of(cls, n_objectives: int, has_fidelity: bool) -> "TaskType":
        if n_objectives > 1:
            return cls.MULTI_FIDELITY_MULTI_OBJECTIVE if has_fidelity else cls.MULTI_OBJECTIVE
        return cls.MULTI_FIDELITY if has_fidelity else cls.BLACKBOX

    @classmethod
    def parse(cls, value: "str | TaskType") -> "TaskType":
        if isinstance(value, TaskType):
            return value
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown task type {value!r}; accepted: {valid}") from None

    @property
    def multi_objective(self) -> bool:
        return self in (TaskType.MULTI_OBJECTIVE, TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE)

    @property
    def multi_fidelity(self) -> bool:
        return self in (TaskType.MULTI_FIDELITY, TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE)


ALL_TASK_TYPES = frozenset(TaskType)


class Status(str, enum.Enum):
    """Outcome of one trial as recorded. Only SUCCESS costs count (incumbents, analysis); NONFINITE
    (the objective returned NaN or +-inf; its values are kept in the record) is told to the
    optimizer as CRASHED, so adapters only ever see SUCCESS and CRASHED."""

    SUCCESS = "SUCCESS"
    CRASHED = "CRASHED"
    NONFINITE = "NONFINITE"


@dataclass(frozen=True, slots=True)
class Objective:
    """One objective of a task. Costs handed to optimizers are always to be minimized."""

    name: str
    minimize: bool = True


@dataclass(frozen=True, slots=True)
class Fidelity:
    """The fidelity dimension of a multi-fidelity task (e.g. epochs, subsample fraction, tokens)."""

    name: str
    min: float
    max: float
    integer: bool = False

    def __post_init__(self) -> None:
        if not (0 < self.min < self.max):
            raise ValueError(f"fidelity {self.name!r} needs 0 < min < max, got min={self.min} max={self.max}")

    def contains(self, value: float) -> bool:
        return self.min - 1e-9 <= value <= self.max + 1e-9

    def problem(self, value: Any) -> str | None:
        """Why `value` is not a fidelity of this task (one line, with what is accepted), or None."""
        accepted = f"{'an integer' if self.integer else 'a number'} in [{self.min}, {self.max}]"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"{self.name}={value!r}; accepted: {accepted}"
        if not self.contains(float(value)):
            return f"{self.name}={value!r}, outside [{self.min}, {self.max}]; accepted: {accepted}"
        if self.integer and not float(value).is_integer():
            return f"{self.name}={value!r}, not an integer; accepted: {accepted}"
        return None


@dataclass(slots=True)
class Evaluation:
    """What an objective function returns for one evaluation.

    `values` are in each objective's own direction (a maximized accuracy stays positive);
    the runner turns them into costs to minimize. `virtual_time` is the time the evaluation
    stands for (surrogate or tabular tasks); None means the measured wall time.
    """

    values: tuple[float, ...]
    virtual_time: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TrialInfo:
    """A trial an optimizer asks for: a configuration and, for multi-fidelity tasks, a fidelity.

    `native` carries the adapter's own trial object (e.g. SMAC's TrialInfo) back to `tell`.
    """

    config: Mapping[str, Any]
    fidelity: float | None = None
    seed: int | None = None
    native: Any = None


@dataclass(slots=True)
class TrialValue:
    """The result told to the optimizer. `cost` is minimization-form, one float per objective
    (a float for single-objective tasks), always finite; None when the trial crashed (status
    CRASHED, the reason in info["error"]: an exception, or NaN/inf returned by the objective)."""

    cost: float | tuple[float, ...] | None
    status: Status
    time: float
    virtual_time: float
    info: dict[str, Any] = field(default_factory=dict)
