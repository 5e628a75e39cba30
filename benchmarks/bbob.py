"""BBOB noiseless functions (24) from the `ioh` package, as blackbox tasks.

Ids: bbob/f<function>_d<dimension>_i<instance>. Space: one float per dimension in [-5, 5]
(the BBOB domain). The optimum of every instance is known, so regret is exact.
"""
from __future__ import annotations

from typing import Any, Mapping

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


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(id=f"bbob/f{f}_d{d}_i{i}", target="benchmarks.bbob.BBOBFunction",
                 kwargs={"fid": f, "dimension": d, "instance": i}, n_trials=default_n_trials(d))
        for f in FUNCTIONS for d in DIMENSIONS for i in INSTANCES
    ]
