"""The ObjectiveFunction contract every benchmark implements (real, surrogate, tabular, synthetic).

One protocol for all kinds, as in Syne Tune's blackbox repository: the runner never needs to
know which kind it drives. Metadata describing the search space is derived here once, so that
collections only declare what they alone know (domain, approximation, optimum).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace

from .spaces import KINDS, dimensions
from .types import Evaluation, Fidelity, Objective, TaskType

APPROXIMATIONS = ("real", "surrogate", "tabular", "synthetic")


@dataclass(frozen=True)
class ObjectiveMetadata:
    """What a collection declares about its objective; space statistics are derived separately."""

    domain: str
    approximation: str
    deterministic: bool = True
    optimum: tuple[float, ...] | None = None  # best achievable cost(s) where known (regret is exact then)
    fidelity_semantics: str | None = None  # how low fidelities relate to the full one
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.approximation not in APPROXIMATIONS:
            raise ValueError(f"approximation must be one of {APPROXIMATIONS}, got {self.approximation!r}")


class ObjectiveFunction(ABC):
    """A function from configurations (and optionally a fidelity) to objective values.

    Subclasses set `configspace` (a ConfigSpace `ConfigurationSpace`) and `metadata` in
    `__init__`, and `objectives` / `fidelity` where the defaults (one minimized cost, no
    fidelity) do not fit; plain attributes or properties both work. `evaluate` must be safe to
    call many times and must not print or log (the runner records everything).
    """

    configspace: "ConfigurationSpace"
    metadata: ObjectiveMetadata
    objectives: tuple[Objective, ...] = (Objective("cost", minimize=True),)
    fidelity: Fidelity | None = None

    @abstractmethod
    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        """Evaluate `config` (at `fidelity`, full fidelity when None)."""

    def evaluate_batch(self, configs: Sequence[Mapping[str, Any]], fidelities: Sequence[float | None] | None = None,
                       seeds: Sequence[int | None] | None = None) -> list[Evaluation]:
        """Evaluate several configurations at once, for optimizers that ask batches.

        The default loops over `evaluate`; collections whose library vectorizes (BBOB, pymoo)
        override it. Results must equal the one-by-one results.
        """
        n = len(configs)
        fidelities = [None] * n if fidelities is None else fidelities
        seeds = [None] * n if seeds is None else seeds
        return [self.evaluate(c, f, s) for c, f, s in zip(configs, fidelities, seeds)]

    @property
    def task_type(self) -> TaskType:
        return TaskType.of(len(self.objectives), self.fidelity is not None)


def space_statistics(configspace) -> dict[str, Any]:
    """Counts per hyperparameter kind, conditions and forbiddens: what task listings filter on."""
    counts = Counter(d.kind for d in dimensions(configspace).values())
    return {
        "dimensions": len(configspace),
        **{f"n_{k}": counts[k] for k in KINDS},
        "n_conditions": len(configspace.conditions),
        "n_forbiddens": len(configspace.forbidden_clauses),
    }


def describe(objective_function: ObjectiveFunction) -> dict[str, Any]:
    """Full metadata record of an objective function (written into task configs and run metadata)."""
    meta = objective_function.metadata
    fid = objective_function.fidelity
    record = {
        "type": objective_function.task_type.value,
        "domain": meta.domain,
        "approximation": meta.approximation,
        "deterministic": meta.deterministic,
        "objectives": [{"name": o.name, "minimize": o.minimize} for o in objective_function.objectives],
        "fidelity": None if fid is None else {"name": fid.name, "min": fid.min, "max": fid.max, "integer": fid.integer},
        "optimum": None if meta.optimum is None else [float(v) for v in meta.optimum],
        "fidelity_semantics": meta.fidelity_semantics,
        **space_statistics(objective_function.configspace),
    }
    if meta.extra:
        record["extra"] = dict(meta.extra)
    return record


__all__ = ["ObjectiveFunction", "ObjectiveMetadata", "space_statistics", "describe", "asdict"]


def instantiate_objective(task_cfg: Mapping) -> ObjectiveFunction:
    """The objective function of a task config (`objective_function: {_target_: ..., kwargs}`),
    built by Hydra as every front end builds it."""
    from hydra.utils import instantiate

    return instantiate(task_cfg["objective_function"], _convert_="all")
