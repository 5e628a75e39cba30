"""bayesian-optimization 3.x (`bayes_opt`): a GP (Matern 2.5) with UCB/EI/POI through suggest/register.

Black-box tasks only. Its YAML declares `requirements: ["bayesian-optimization==3.4.0"]` (the
lock pins 1.4.0 for nevergrad), so it runs in its own isolated environment (carps_like.optenv).
Design decisions and measured speed: docs/adapters.md#bayes_opt.

    make run OPT=bayes_opt TASK=subset_bb_dev SEEDS=1
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from carps_like.crash_imputation import WorstCostImputer
from carps_like.isolation import quiet
from carps_like.optimizer import Optimizer
from carps_like.spaces import configuration_from_encoded, searched
from carps_like.types import TaskType, TrialInfo, TrialValue

ACQUISITIONS = ("ucb", "ei", "poi")


def pbounds(configspace) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """ConfigSpace space -> (bayes_opt bounds, constants to add back, names searched on the log scale)."""
    dims, constants = searched(configspace)
    bounds: dict[str, Any] = {}
    logs: set[str] = set()
    for d in dims:
        if d.kind in ("float", "integer") and d.log:
            logs.add(d.name)
            bounds[d.name] = (math.log(d.lower), math.log(d.upper))
        elif d.kind == "float":
            bounds[d.name] = (d.lower, d.upper)
        elif d.kind == "integer":
            bounds[d.name] = (d.lower, d.upper, int)
        elif len(d.choices) == 1:  # a single-choice categorical or ordinal is a constant
            constants[d.name] = d.choices[0]
        elif d.kind == "categorical":
            bounds[d.name] = list(range(len(d.choices)))
        else:  # ordinal: its order index
            bounds[d.name] = (0, len(d.choices) - 1, int)
    return bounds, constants, logs


class BayesOpt(Optimizer):
    """Settings: init_points (random samples before the GP is used), acquisition (ucb, ei, poi),
    kappa (ucb's exploration weight), xi (ei's and poi's improvement margin)."""

    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.BLACKBOX})
    supports_conditions: ClassVar[bool] = False
    supports_forbiddens: ClassVar[bool] = False
    hyperparameters = {"float": "native (log: log scale)", "integer": "native (log: log scale, rounded)",
                       "categorical": "native (one-hot over choice indices)", "ordinal": "integer index"}
    noise_handling: ClassVar[str] = "none"  # fixed GP jitter alpha=1e-6, no noise kernel

    def __init__(self, task, seed: int, workdir: Path | None = None, *, init_points: int = 5,
                 acquisition: str = "ucb", kappa: float = 2.576, xi: float = 0.01) -> None:
        super().__init__(task, seed, workdir)
        import numpy as np
        from bayes_opt import BayesianOptimization
        from bayes_opt import acquisition as acq

        cs = task.configspace
        if cs.conditions or cs.forbidden_clauses:  # check_task refuses these first; guard direct use too
            raise ValueError("bayes_opt supports neither conditional hyperparameters nor forbidden clauses")
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}")
        function = {"ucb": lambda: acq.UpperConfidenceBound(kappa=float(kappa)),
                    "ei": lambda: acq.ExpectedImprovement(xi=float(xi)),
                    "poi": lambda: acq.ProbabilityOfImprovement(xi=float(xi))}[acquisition]
        bounds, self._constants, self._logs = pbounds(cs)
        self._init_points = int(init_points)
        self._n_asked = 0
        self._imputer = WorstCostImputer()
        with quiet():  # "non-float parameters are experimental" warning
            self._opt = BayesianOptimization(f=None, pbounds=bounds, acquisition_function=function(),
                                             random_state=np.random.RandomState(self.seed), verbose=0,
                                             allow_duplicate_points=True)

    def ask(self) -> TrialInfo:
        with quiet():
            if self._n_asked < self._init_points:
                params = self._opt.random_sample(1)[0]
            else:
                params = self._opt.suggest()
        self._n_asked += 1
        return TrialInfo(config=self._to_config(params), native=params)

    def _to_config(self, params: dict[str, Any]):
        encoded = {k: (math.exp(float(v)) if k in self._logs else v) for k, v in params.items()}
        return configuration_from_encoded(self.task.configspace, encoded, self._constants)

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        for told in self._imputer.process(trial_info, trial_value):
            with quiet():  # the library prints a notice for each duplicate point
                self._opt.register(params=told.info.native, target=-float(told.costs[0]))
