"""BBOB noiseless functions (24) from the `ioh` package, as blackbox tasks.

Ids: bbob/f<function>_d<dimension>_i<instance>. Space: one float per dimension in [-5, 5]
(the BBOB domain). The optimum of every instance is known, so regret is exact.
`evaluate_batch` hands the whole batch to ioh in one call (ioh accepts a list of points).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ConfigSpace import ConfigurationSpace, Float

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Objective

FUNCTIONS = range(1, 25)
DIMENSIONS = (2, 3, 5, 10, 20)
INSTANCES = (1, 2, 3)


def default_n_trials(dimension: int) -> int:
    """Budget grows with dimension: 50 + 10 d full evaluations."""
    return 50 + 10 * dimension


class BBOBFunction(ObjectiveFunction):
    """One BBOB problem instance (function `fid`, `dimension`, `instance`)."""

    def __init__(self, fid: int, dimension: int, instance: int = 1) -> None:
        import ioh

        self.fid, self.dimension, self.instance = int(fid), int(dimension), int(instance)
        self._problem = ioh.get_problem(self.fid, instance=self.instance, dimension=self.dimension,
                                        problem_class=ioh.ProblemClass.BBOB)
        self._names = [f"x{i}" for i in range(self.dimension)]
        lb, ub = self._problem.bounds.lb, self._problem.bounds.ub
        self.configspace = ConfigurationSpace(
            name=f"bbob_f{self.fid}_d{self.dimension}_i{self.instance}",
            space=[Float(n, (float(lo), float(hi))) for n, lo, hi in zip(self._names, lb, ub)],
        )
        self.objectives = (Objective("f", minimize=True),)
        self.metadata = ObjectiveMetadata(
            domain="synthetic", approximation="synthetic", deterministic=True,
            optimum=(float(self._problem.optimum.y),),
            extra={"function": self._problem.meta_data.name},
        )

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        return Evaluation(values=(float(self._problem([config[n] for n in self._names])),))

    def evaluate_batch(self, configs: Sequence[Mapping[str, Any]], fidelities: Sequence[float | None] | None = None,
                       seeds: Sequence[int | None] | None = None) -> list[Evaluation]:
        """One ioh call for the whole batch (ioh evaluates a list of points); equals `evaluate` exactly."""
        if not len(configs):
            return []
        if type(self).evaluate is not BBOBFunction.evaluate:
            return super().evaluate_batch(configs, fidelities, seeds)  # the loop (a subclass changed evaluate)
        names = self._names
        return [Evaluation(values=(float(y),)) for y in self._problem([[c[n] for n in names] for c in configs])]


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(id=f"bbob/f{f}_d{d}_i{i}", target="benchmarks.bbob.BBOBFunction",
                 kwargs={"fid": f, "dimension": d, "instance": i}, n_trials=default_n_trials(d))
        for f in FUNCTIONS for d in DIMENSIONS for i in INSTANCES
    ]
