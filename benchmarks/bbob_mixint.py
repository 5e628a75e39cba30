"""Mixed-integer BBOB: the 24 BBOB functions (ioh) with most variables integer, as blackbox tasks.

Design after COCO's bbob-mixint suite (Tusar, Brockhoff, Hansen 2019): in dimension d (a multiple
of 5) the variables fall into five equal groups; the first four are integers of arity 2, 4, 8 and
16, the last is continuous in [-5, 5]. Integer k of arity a stands for the centre of the k-th of
a equal bins of [-5, 5]:  x = -5 + 10 (k + 0.5) / a.  Unlike COCO, instance optima are not moved
onto the integer grid, so the best reachable value is unknown (metadata.optimum is None; the
continuous f_opt, a lower bound, is in metadata.extra). Gives the suite integer hyperparameters of
very different cardinalities, which optimizers treat very differently.

Ids: bbobmixint/f<function>_d<dimension>_i<instance>, dimensions 5, 10, 20, instance 1.
"""
from __future__ import annotations

from typing import Any, Mapping

from ConfigSpace import ConfigurationSpace, Float, Integer

from benchmarks.bbob import FUNCTIONS, default_n_trials
from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Objective

DIMENSIONS = (5, 10, 20)
INSTANCES = (1,)
ARITIES = (2, 4, 8, 16)


def arities(dimension: int) -> list[int | None]:
    """Arity of each variable (None = continuous): d/5 variables per arity, the last fifth continuous."""
    if dimension % 5:
        raise ValueError(f"mixed-integer BBOB needs a dimension divisible by 5, got {dimension}")
    group = dimension // 5
    return [a for a in ARITIES for _ in range(group)] + [None] * group


class BBOBMixedInteger(ObjectiveFunction):
    """One BBOB function with integer variables of arities 2/4/8/16 and a continuous fifth."""

    def __init__(self, fid: int, dimension: int, instance: int = 1) -> None:
        import ioh

        self.fid, self.dimension, self.instance = int(fid), int(dimension), int(instance)
        self._problem = ioh.get_problem(self.fid, instance=self.instance, dimension=self.dimension,
                                        problem_class=ioh.ProblemClass.BBOB)
        self._arities = arities(self.dimension)
        self._names = [f"x{i}" for i in range(self.dimension)]
        self.configspace = ConfigurationSpace(
            name=f"bbobmixint_f{self.fid}_d{self.dimension}_i{self.instance}",
            space=[Float(n, (-5.0, 5.0)) if a is None else Integer(n, (0, a - 1))
                   for n, a in zip(self._names, self._arities)],
        )
        self.objectives = (Objective("f", minimize=True),)
        self.metadata = ObjectiveMetadata(
            domain="synthetic", approximation="synthetic", deterministic=True, optimum=None,
            extra={"function": self._problem.meta_data.name, "continuous_f_opt": float(self._problem.optimum.y),
                   "arities": [a or 0 for a in self._arities]},
        )

    def point(self, config: Mapping[str, Any]) -> list[float]:
        """The BBOB point a configuration stands for."""
        return [float(config[n]) if a is None else -5.0 + 10.0 * (int(config[n]) + 0.5) / a
                for n, a in zip(self._names, self._arities)]

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        return Evaluation(values=(float(self._problem(self.point(config))),))


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(id=f"bbobmixint/f{f}_d{d}_i{i}", target="benchmarks.bbob_mixint.BBOBMixedInteger",
                 kwargs={"fid": f, "dimension": d, "instance": i}, n_trials=default_n_trials(d))
        for f in FUNCTIONS for d in DIMENSIONS for i in INSTANCES
    ]
