"""The Optimizer contract: a thin ask/tell adapter with declared capabilities.

Modelled on Optuna's samplers and benchopt's solvers: one base class, a few hooks. Adapters
convert spaces and results only; they never loop, count budget, time or log (the runner does).
Libraries are imported inside the adapter's methods so that listing optimizers stays cheap.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .errors import IncompatibleError
from .types import TaskType, TrialInfo, TrialValue

if TYPE_CHECKING:
    from .task import Task


class Optimizer(ABC):
    """Base class of all optimizer adapters.

    Class attributes declare what the adapter supports; `incompatibility` checks them against a
    task before any run starts, so an unsupported pair is refused with a reason instead of
    crashing deep inside a library.
    """

    #: task types the underlying library really supports
    task_types: ClassVar[frozenset[TaskType]] = frozenset()
    #: handles conditional hyperparameters (inactive ones are absent from configs)
    supports_conditions: ClassVar[bool] = True
    #: handles forbidden clauses
    supports_forbiddens: ClassVar[bool] = True

    def __init__(self, task: "Task", seed: int, workdir: Path | None = None) -> None:
        self.task = task
        self.seed = int(seed)
        self.workdir = Path(workdir) if workdir is not None else None

    @abstractmethod
    def ask(self) -> TrialInfo:
        """Propose the next trial (config and, for multi-fidelity tasks, a fidelity)."""

    @abstractmethod
    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        """Receive the result of a trial proposed by `ask`."""

    def close(self) -> None:
        """Release resources (threads, files). Called once at the end of a run."""

    @classmethod
    def incompatibility(cls, task_type: TaskType, n_conditions: int = 0, n_forbiddens: int = 0) -> str | None:
        """Why this optimizer cannot run a task with these properties, or None if it can."""
        if task_type not in cls.task_types:
            supported = ", ".join(sorted(t.value for t in cls.task_types)) or "none"
            return f"{cls.__name__} supports task types [{supported}], not {task_type.value!r}"
        if n_conditions and not cls.supports_conditions:
            return f"{cls.__name__} does not support conditional search spaces ({n_conditions} conditions)"
        if n_forbiddens and not cls.supports_forbiddens:
            return f"{cls.__name__} does not support forbidden clauses ({n_forbiddens} forbiddens)"
        return None

    @classmethod
    def check_task(cls, task: "Task") -> None:
        """Raise IncompatibleError when this optimizer cannot run `task`."""
        cs = task.configspace
        reason = cls.incompatibility(task.task_type, len(cs.conditions), len(cs.forbidden_clauses))
        if reason:
            raise IncompatibleError(f"{reason} (task {task.id})")
