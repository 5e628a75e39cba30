"""Nevergrad (1.0.x) through its ask/tell interface; one base adapter, one small subclass per variant.

Shipped variants (nevergrad registry name) and the task types each really supports:

* NevergradCMA    ng_cma    "CMA" (pycma inside nevergrad)              bb, mo
* NevergradDE     ng_de     "TwoPointsDE" (differential evolution)      bb, mo
* NevergradPSO    ng_pso    "PSO" (particle swarm)                      bb, mo

Multi-objective: `tell` takes the vector of losses; nevergrad scalarizes it by the hypervolume
gain over its Pareto archive (reference point bounded from the first evaluations), so every
variant runs unchanged on mo tasks (the adapter declares the number of objectives up front:
nevergrad's "CMA" picks its pycma settings from it). Nevergrad has no fidelity: no mf/momf.

Decisions:

* NGOpt is not shipped: at small budgets it selects deterministic local methods (same trials
  for every seed), which the conformance suite rejects.
* Spaces. ConfigSpace -> `ng.p.Dict`: float -> `ng.p.Scalar(lower, upper)` (log: `ng.p.Log`),
  integer -> the same with `set_integer_casting()`, categorical -> `ng.p.Choice`, ordinal ->
  `ng.p.TransitionChoice` (mutations move to neighbouring levels: the order is kept); constants
  are added back; normal/beta floats and ints keep their bounds and lose their prior. No
  conditions and no forbidden clauses (nevergrad has neither; declared unsupported).
* Budget. Nevergrad optimizers take the number of evaluations as a hint (nevergrad's "CMA"
  picks its pycma settings from it, the space and the noise flag); it is the task's n_trials.
  Time-only tasks give `budget_hint` instead (None: unknown, which CMA, DE and PSO accept).
  The runner alone stops the run: past the hint, nevergrad keeps proposing.
* Seeding. Nevergrad draws from `parametrization.random_state`, set from the run seed, but
  also from the *global* numpy generator in places (DE's crossover). Every nevergrad call runs
  inside a `GlobalRNGScope` (a private global state seeded from the run seed), so runs are
  reproducible and nothing else sees the draws; importing nevergrad draws too, so the first
  import happens inside a throwaway scope.
* Crashed trials. Nevergrad has no failure state. A crash (or a non-finite cost) is told with
  the worst cost seen so far among successful trials, per objective (as for SMAC and HEBO).
  Before any success there is no worst cost: a single-objective crash is then told at once as
  inf, which nevergrad clips to 5e20 (its own convention for failed points); a multi-objective
  crash is held back until the first success (an infinite loss vector would make the
  hypervolume reference point infinite), which is safe because CMA, DE and PSO accept pending
  asks.
* Batches. `num_workers` (default 1: the runner evaluates sequentially) is nevergrad's own
  parallelism setting. CMA, DE and PSO accept any number of pending asks (extra asks sample from
  the current population/distribution), so n asks are a batch.
* Output. Nothing is written; stdout and warnings (e.g. LossTooLargeWarning, pycma's
  InjectionWarning) are discarded while nevergrad runs.
* Speed. About 4 ms (DE, PSO) to 7 ms (CMA) of nevergrad overhead per ask + tell on 2 cores;
  importing nevergrad takes about 1.5 s once per process.
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
    from ConfigSpace.hyperparameters import (
        CategoricalHyperparameter,
        Constant,
        FloatHyperparameter,
        IntegerHyperparameter,
        OrdinalHyperparameter,
    )

    params: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    for hp in configspace.values():
        if isinstance(hp, Constant):
            constants[hp.name] = hp.value
        elif isinstance(hp, (FloatHyperparameter, IntegerHyperparameter)):
            Kind = ng.p.Log if hp.log else ng.p.Scalar
            param = Kind(lower=float(hp.lower), upper=float(hp.upper))
            params[hp.name] = param.set_integer_casting() if isinstance(hp, IntegerHyperparameter) else param
        elif isinstance(hp, CategoricalHyperparameter):
            params[hp.name] = ng.p.Choice(list(hp.choices))
        elif isinstance(hp, OrdinalHyperparameter):
            params[hp.name] = ng.p.TransitionChoice(list(hp.sequence))
        else:
            raise TypeError(f"nevergrad adapter cannot convert hyperparameter {hp.name!r} of type {type(hp).__name__}")
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
        self._hps = {hp.name: hp for hp in cs.values()}
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
        from ConfigSpace.hyperparameters import FloatHyperparameter, IntegerHyperparameter

        config: dict[str, Any] = dict(self._constants)
        for name, value in values.items():
            hp = self._hps[name]
            if isinstance(hp, FloatHyperparameter):
                value = min(max(float(value), hp.lower), hp.upper)  # Log's exp(log(x)) may leave the bounds by an ulp
            elif isinstance(hp, IntegerHyperparameter):
                value = min(max(int(round(float(value))), hp.lower), hp.upper)
            config[name] = value
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
