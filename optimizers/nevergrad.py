"""Nevergrad (1.0.x) through its ask/tell interface; one base adapter, one small subclass per variant.

Variants: `ng_cma` ("CMA"), `ng_de` ("TwoPointsDE"), `ng_pso` ("PSO"), each on bb and mo tasks
(nevergrad scalarizes the losses by hypervolume). Spaces, budget hint, seeding and crashed
trials: docs/adapters.md#nevergrad.

    make run OPT=ng_de TASK=subset_bb SEEDS=2
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from carps_like.crash_imputation import WorstCostImputer
from carps_like.isolation import GlobalRNGScope, quiet
from carps_like.optimizer import Optimizer
from carps_like.spaces import dimensions, searched
from carps_like.types import Status, TaskType, TrialInfo, TrialValue

BB_MO = frozenset({TaskType.BLACKBOX, TaskType.MULTI_OBJECTIVE})


def _import_nevergrad():
    """Import nevergrad (and pycma) without touching the caller's global RNG: nevergrad draws from
    the global numpy generator while its modules build their optimizer registry. pycma is imported
    here too (nevergrad's CMA imports it at its first ask) so its import time counts as set-up."""
    import sys

    if "nevergrad" not in sys.modules or "cma" not in sys.modules:
        with GlobalRNGScope(0, torch=False):
            import cma  # noqa: F401
            import nevergrad  # noqa: F401
    return sys.modules["nevergrad"]


def parametrization(configspace):
    """ConfigSpace space -> (nevergrad `ng.p.Dict`, constants to add back to every config)."""
    ng = _import_nevergrad()
    dims, constants = searched(configspace)
    params: dict[str, Any] = {}
    for d in dims:
        if d.kind == "categorical":
            params[d.name] = ng.p.Choice(list(d.choices))
        elif d.kind == "ordinal":  # mutations move to neighbouring levels
            params[d.name] = ng.p.TransitionChoice(list(d.choices))
        else:
            param = (ng.p.Log if d.log else ng.p.Scalar)(lower=float(d.lower), upper=float(d.upper))
            params[d.name] = param.set_integer_casting() if d.kind == "integer" else param
    if not params:
        raise ValueError("nevergrad needs at least one non-constant hyperparameter")
    return ng.p.Dict(**params), constants


class Nevergrad(Optimizer):
    """Base adapter; the subclasses below fix the nevergrad optimizer and declare capabilities.

    Settings (from the optimizer YAML):
      optimizer: nevergrad registry name (CMA, TwoPointsDE, PSO); defaults to the subclass's
      num_workers: nevergrad's number of parallel evaluations (default 1)
      budget_hint: evaluation budget told to nevergrad when the task has no n_trials budget
    """

    task_types: ClassVar[frozenset[TaskType]] = BB_MO
    supports_conditions: ClassVar[bool] = False
    supports_forbiddens: ClassVar[bool] = False
    hyperparameters = {"float": "native (ng.p.Scalar; log: ng.p.Log)",
                       "integer": "native (Scalar/Log with integer casting)",
                       "categorical": "native (ng.p.Choice)",
                       "ordinal": "native (ng.p.TransitionChoice, order kept)"}
    batch_ask: ClassVar[bool] = True  # pending asks are fine: the next ask proposes another point
    noise_handling: ClassVar[str] = "none"
    optimizer: ClassVar[str | None] = None  # nevergrad registry name: set by each subclass

    def __init__(self, task, seed: int, workdir: Path | None = None, *, optimizer: str | None = None,
                 num_workers: int = 1, budget_hint: int | None = None) -> None:
        super().__init__(task, seed, workdir)
        ng = _import_nevergrad()

        cs = task.configspace
        if cs.conditions or cs.forbidden_clauses:  # check_task refuses these first; guard direct use too
            raise ValueError("nevergrad supports neither conditional hyperparameters nor forbidden clauses")
        name = optimizer or self.optimizer
        if name is None:
            raise ValueError("no nevergrad optimizer given: set `optimizer` or use a subclass that sets it")
        if name not in ng.optimizers.registry:
            raise ValueError(f"unknown nevergrad optimizer {name!r}")
        self._dims = dimensions(cs)
        self._n_obj = len(task.objectives)
        self._imputer = WorstCostImputer()
        # two independent streams from the run seed: nevergrad's own generator and the global scope
        param_seed, scope_seed = np.random.SeedSequence(self.seed).generate_state(2)
        self._rng = GlobalRNGScope(int(scope_seed), torch=False)

        n_trials = task.budget.n_trials
        budget = math.ceil(n_trials) if n_trials is not None else budget_hint
        with self._scope():
            param, self._constants = parametrization(cs)
            param.random_state = np.random.RandomState(param_seed)
            # nevergrad's "CMA" picks its pycma settings from it (noisy functions: the plain CMA)
            param.function.deterministic = bool(task.objective_function.metadata.deterministic)
            self._opt = ng.optimizers.registry[name](parametrization=param, budget=budget, num_workers=int(num_workers))
            self._opt.num_objectives = self._n_obj

    @contextlib.contextmanager
    def _scope(self):
        """Run nevergrad on this adapter's own global-RNG states, quietly."""
        with self._rng, quiet():
            yield

    def ask(self) -> TrialInfo:
        with self._scope():
            candidate = self._opt.ask()
            values = candidate.value
        return TrialInfo(config=self._to_config(values), native=candidate)

    def _to_config(self, values: dict):
        from ConfigSpace import Configuration

        # Log's exp(log(x)) may leave the bounds by an ulp
        config = {**self._constants, **{name: self._dims[name].clip(v) for name, v in values.items()}}
        return Configuration(self.task.configspace, values=config)  # validates against the space

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        crashed = trial_value.status is not Status.SUCCESS or trial_value.cost is None or not all(
            math.isfinite(c) for c in np.atleast_1d(np.asarray(trial_value.cost, dtype=float)))
        if crashed and self._n_obj == 1 and self._imputer.worst is None:
            self._tell(trial_info.native, float("inf"))  # no worst cost yet: nevergrad's own failure value
            return
        for told in self._imputer.process(trial_info, trial_value):
            self._tell(told.info.native, told.costs[0] if self._n_obj == 1 else told.costs)

    def _tell(self, candidate, loss) -> None:
        with self._scope():
            self._opt.tell(candidate, loss)


class NevergradCMA(Nevergrad):
    """CMA-ES (pycma inside nevergrad, restarted by nevergrad when it stops)."""

    optimizer = "CMA"
    noise_handling = "population"  # rank-based recombination of the population


class NevergradDE(Nevergrad):
    """Differential evolution with two-points crossover (nevergrad's recommended DE)."""

    optimizer = "TwoPointsDE"


class NevergradPSO(Nevergrad):
    """Particle swarm optimization."""

    optimizer = "PSO"
