"""The Optimizer contract: a thin ask/tell adapter with declared capabilities.

Modelled on Optuna's samplers and benchopt's solvers: one base class, a few hooks. Adapters
convert spaces and results only; they never loop, count budget, time or log (the runner does).
Libraries are imported inside the adapter's methods so that listing optimizers stays cheap.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from .errors import IncompatibleError
from .spaces import KINDS
from .types import TaskType, TrialInfo, TrialValue

if TYPE_CHECKING:
    from .task import Task

#: hyperparameter kinds of a ConfigSpace space that adapters declare handling for
HYPERPARAMETER_KINDS = tuple(kind for kind in KINDS if kind != "constant")  # constants are never searched
#: accepted values of `Optimizer.noise_handling` and what they mean
NOISE_HANDLING = {
    "none": "treats every observation as exact",
    "model": "its surrogate models observation noise",
    "repeats": "re-evaluates promising configurations with new seeds (intensification)",
    "population": "ranks by population statistics that tolerate noise (no explicit noise model)",
}
#: how a kind reaches the library: the first words of a `hyperparameters` value, optionally
#: followed by a note in parentheses ("native (log: log scale)"); the listing and docs show both
ENCODINGS = {
    "native": "the library has a parameter of this kind",
    "rounded": "searched as a continuous value, rounded to an integer",
    "integer index": "searched as an integer over the choice / order index",
    "index bins": "a continuous value cut into equal bins, one per choice",
    "independent sampler": "not modelled: drawn by a separate sampler (random) next to the model",
}
#: every kind handled natively: the default declaration
NATIVE_HANDLING: Mapping[str, str] = {kind: "native" for kind in HYPERPARAMETER_KINDS}
_HANDLING = re.compile(r"(?P<encoding>[a-z][a-z ]*?)(?: \((?P<note>.+)\))?")


def encoding_of(handling: str) -> str:
    """The encoding of a `hyperparameters` value ("native (log: pow)" -> "native")."""
    match = _HANDLING.fullmatch(handling) if isinstance(handling, str) else None
    return match.group("encoding") if match else ""


def declaration_problems(cls: type) -> list[str]:
    """What is wrong with an adapter's capability declarations (empty when they are well formed).

    Checked when the class is defined, so a typo ("int" for "integer", "modell") is one clear error
    at import instead of a kind silently refused or a listing that says nothing true.
    """
    problems = []
    types = cls.task_types
    if not isinstance(types, frozenset) or not all(isinstance(t, TaskType) for t in types):
        problems.append(f"task_types must be a frozenset of TaskType members, got {types!r}")
    for name in ("supports_conditions", "supports_forbiddens", "batch_ask"):
        if not isinstance(getattr(cls, name), bool):
            problems.append(f"{name} must be True or False, got {getattr(cls, name)!r}")
    if cls.noise_handling not in NOISE_HANDLING:
        problems.append(f"noise_handling {cls.noise_handling!r} is not one of: {', '.join(NOISE_HANDLING)}")
    declared = cls.hyperparameters
    if not isinstance(declared, Mapping):
        return problems + [f"hyperparameters must map kinds to handling, got {declared!r}"]
    for kind, handling in declared.items():
        if kind not in HYPERPARAMETER_KINDS:
            problems.append(f"hyperparameters: {kind!r} is not a kind; accepted: {', '.join(HYPERPARAMETER_KINDS)}")
        elif encoding_of(handling) not in ENCODINGS:
            problems.append(f"hyperparameters[{kind!r}] = {handling!r}: accepted: one of "
                            f"{', '.join(repr(e) for e in ENCODINGS)}, optionally followed by a note in parentheses")
    return problems


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
    #: hyperparameter kind -> how it reaches the library: one of ENCODINGS, optionally followed by
    #: a note in parentheses; a kind that is absent is unsupported, and tasks using it are refused
    hyperparameters: ClassVar[Mapping[str, str]] = NATIVE_HANDLING
    #: `ask_batch(n)` proposes n trials to evaluate together before any tell (the runner calls it
    #: for runs with batch_size n > 1: `make run BATCH=n`)
    batch_ask: ClassVar[bool] = False
    #: how noisy objectives are treated: one of NOISE_HANDLING's keys
    noise_handling: ClassVar[str] = "none"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        problems = declaration_problems(cls)
        if problems:
            raise TypeError(f"{cls.__module__}.{cls.__qualname__} declares its capabilities wrongly "
                            f"(docs/adding-an-optimizer.md, section 4): " + "; ".join(problems))

    def __init__(self, task: "Task", seed: int, workdir: Path | None = None) -> None:
        self.task = task
        self.seed = int(seed)
        self.workdir = Path(workdir) if workdir is not None else None

    @abstractmethod
    def ask(self) -> TrialInfo:
        """Propose the next trial (config and, for multi-fidelity tasks, a fidelity). The runner
        checks both against the task before evaluating anything: a configuration outside the space
        or a fidelity outside its bounds ends the run with an OptimizerProtocolError."""

    @abstractmethod
    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        """Receive the result of a trial proposed by `ask` (or `ask_batch`)."""

    def ask_batch(self, n: int) -> list[TrialInfo]:
        """Propose n trials to evaluate in parallel; results come back through `tell`, in any order.

        Only for adapters that declare `batch_ask`. This default asks n times, which is right for
        libraries whose ask registers the trial as pending (the next ask proposes another point);
        adapters whose library proposes a batch in one call override it.
        """
        if not self.batch_ask:
            raise NotImplementedError(f"{type(self).__name__} does not declare batch_ask")
        return [self.ask() for _ in range(int(n))]

    def close(self) -> None:
        """Release resources (threads, files). Called once at the end of a run."""

    @classmethod
    def nested_settings(cls, settings: Mapping[str, Any]) -> dict[str, tuple[Any, tuple[str, ...]]]:
        """Settings that are dicts of keyword arguments for a library callable: name -> (the callable,
        the arguments the adapter sets itself), e.g. {"sampler": (optuna.samplers.TPESampler, ("seed",))};
        `settings` (the adapter's settings as given) for a callable that depends on another setting.
        `registry.check_optimizer_config` refuses an unknown key inside them before any run starts,
        like an unknown setting (a typo would otherwise fail every run). The default has none."""
        return {}

    @classmethod
    def capabilities(cls) -> dict[str, Any]:
        """Everything the adapter declares, as one record (listings, docs, the conformance suite)."""
        return {
            "task_types": sorted(t.value for t in cls.task_types),
            "conditions": cls.supports_conditions,
            "forbiddens": cls.supports_forbiddens,
            "hyperparameters": {k: cls.hyperparameters.get(k, "unsupported") for k in HYPERPARAMETER_KINDS},
            "batch_ask": cls.batch_ask,
            "noise_handling": cls.noise_handling,
        }

    @classmethod
    def incompatibility(cls, task_type: TaskType, space: Mapping[str, int] | None = None) -> str | None:
        """Why this optimizer cannot run a task of this type and space, or None if it can.

        `space` holds the counts of `carps_like.objective.space_statistics` (n_conditions,
        n_forbiddens, n_float, n_integer, n_categorical, n_ordinal); missing counts are zero.
        """
        space = space or {}
        if task_type not in cls.task_types:
            supported = ", ".join(sorted(t.value for t in cls.task_types)) or "none"
            return f"{cls.__name__} supports task types [{supported}], not {task_type.value!r}"
        n_conditions, n_forbiddens = space.get("n_conditions", 0), space.get("n_forbiddens", 0)
        if n_conditions and not cls.supports_conditions:
            return f"{cls.__name__} does not support conditional search spaces ({n_conditions} conditions)"
        if n_forbiddens and not cls.supports_forbiddens:
            return f"{cls.__name__} does not support forbidden clauses ({n_forbiddens} forbiddens)"
        for kind in HYPERPARAMETER_KINDS:
            count = space.get(f"n_{kind}", 0)
            if count and kind not in cls.hyperparameters:
                handled = ", ".join(k for k in HYPERPARAMETER_KINDS if k in cls.hyperparameters)
                return f"{cls.__name__} does not support {kind} hyperparameters ({count} in the space; it handles: {handled})"
        return None

    @classmethod
    def check_task(cls, task: "Task") -> None:
        """Raise IncompatibleError when this optimizer cannot run `task`."""
        from .objective import space_statistics

        reason = cls.incompatibility(task.task_type, space_statistics(task.configspace))
        if reason:
            raise IncompatibleError(f"{reason} (task {task.id})")
