"""Optuna (5.x) through its ask-and-tell interface; one base adapter, one small subclass per sampler.

Variants: `optuna_tpe`, `optuna_nsga2` (bb, mo), `optuna_motpe` (mo), `optuna_cmaes` (bb),
`optuna_tpe_hyperband` (mf); `optuna` picks one per task type. Define-by-run conditional spaces,
crashed trials (told FAIL), the Hyperband rungs and seeding: docs/adapters.md#optuna.

    make run OPT=optuna_tpe TASK=subset_bb SEEDS=2
"""
from __future__ import annotations

import contextlib
import logging
import math
import warnings
from pathlib import Path
from typing import Any, ClassVar, Iterator

from carps_like.optimizer import Optimizer
from carps_like.spaces import dimensions
from carps_like.types import Status, TaskType, TrialInfo, TrialValue

#: Optuna's own logger: silenced (ERROR) while Optuna runs
OPTUNA_LOGGER = "optuna"


@contextlib.contextmanager
def optuna_scope() -> Iterator[None]:
    """Run an Optuna call with its logger at ERROR and its ExperimentalWarnings ignored."""
    from optuna.exceptions import ExperimentalWarning

    logger = logging.getLogger(OPTUNA_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            yield
    finally:
        logger.setLevel(level)


def suggest_config(trial, configspace) -> dict[str, Any]:
    """Suggest the active hyperparameters of `configspace` on an Optuna trial, parents first.

    Returns the configuration's values (ConfigSpace values; inactive hyperparameters absent).
    """
    import numpy as np

    vector = np.full(len(configspace), np.nan)  # ConfigSpace's encoding; NaN = inactive / not yet set
    values: dict[str, Any] = {}
    for name, d in dimensions(configspace).items():  # topological order: parents before children
        if not all(c.satisfied_by_vector(vector) for c in configspace.parent_conditions_of[name]):
            continue
        if d.kind == "constant":
            value = d.value
        elif d.kind == "float":
            value = d.clip(trial.suggest_float(name, d.lower, d.upper, log=d.log))
        elif d.kind == "integer":
            value = trial.suggest_int(name, d.lower, d.upper, log=d.log)
        elif d.kind == "categorical":  # over the choice indices: any choice type works
            value = d.choices[trial.suggest_categorical(name, list(range(len(d.choices))))]
        else:  # ordinal: the order index
            value = d.choices[trial.suggest_int(name, 0, len(d.choices) - 1)]
        values[name] = value
        vector[configspace.index_of[name]] = configspace[name].to_vector(value)
    return values


def fidelity_rungs(fidelity, eta: int) -> list[float]:
    """Hyperband's geometric budgets max * eta^-i, i = 0..floor(log_eta(max/min)), ascending.

    Integer fidelities are rounded; every rung lies in [min, max] and the last is max.
    """
    ratio = fidelity.max / fidelity.min
    n = int(math.floor(math.log(ratio) / math.log(eta) + 1e-9)) + 1
    rungs: list[float] = []
    for i in range(n - 1, -1, -1):
        z = fidelity.max * float(eta) ** (-i)
        if fidelity.integer:
            z = float(round(z))
        z = min(max(z, fidelity.min), fidelity.max)
        if not rungs or z > rungs[-1]:
            rungs.append(z)
    return rungs


class Optuna(Optimizer):
    """Base adapter; subclasses fix the sampler and declare their task types.

    Settings (from the optimizer YAML):
      sampler: keyword arguments of the sampler class (the run seed is added as `seed`)
    """

    supports_forbiddens: ClassVar[bool] = False  # Optuna has no forbidden clauses
    hyperparameters = {"float": "native (log: suggest_float log=True)",
                       "integer": "native (log: suggest_int log=True)",
                       "categorical": "native (over choice indices)", "ordinal": "integer index"}
    batch_ask: ClassVar[bool] = True  # ask() registers a running trial; the next ask proposes another
    #: name of the class in optuna.samplers
    sampler_class: ClassVar[str] = "TPESampler"

    @classmethod
    def nested_settings(cls, settings) -> dict[str, tuple[Any, tuple[str, ...]]]:
        import optuna

        return {"sampler": (getattr(optuna.samplers, cls.sampler_class), ("seed",))}  # the run's seed

    def __init__(self, task, seed: int, workdir: Path | None = None, *, sampler: dict | None = None) -> None:
        super().__init__(task, seed, workdir)
        import optuna

        cs = task.configspace
        if cs.forbidden_clauses:  # check_task refuses these first; guard direct use too
            raise ValueError("Optuna does not support forbidden clauses")
        self._TrialState = optuna.trial.TrialState
        self._n_obj = len(task.objectives)
        with optuna_scope():
            self._sampler = getattr(optuna.samplers, self.sampler_class)(**{**(sampler or {}), "seed": self.seed})
            self._study = optuna.create_study(
                storage=None, sampler=self._sampler, pruner=self._make_pruner(optuna),
                study_name=f"carps_like_seed{self.seed}", directions=["minimize"] * self._n_obj)

    def _make_pruner(self, optuna):
        return optuna.pruners.NopPruner()

    def _new_trial(self):
        """A new Optuna trial and its configuration values."""
        with optuna_scope():
            trial = self._study.ask()
            values = suggest_config(trial, self.task.configspace)
        return trial, values

    def _config(self, values: dict[str, Any]):
        from ConfigSpace import Configuration

        return Configuration(self.task.configspace, values=values)  # validates against the space

    def ask(self) -> TrialInfo:
        trial, values = self._new_trial()
        return TrialInfo(config=self._config(values), native=trial)

    def _costs(self, trial_value: TrialValue) -> list[float] | None:
        """Finite costs of a successful trial, else None (told as FAIL)."""
        if trial_value.status is not Status.SUCCESS or trial_value.cost is None:
            return None
        raw = trial_value.cost if isinstance(trial_value.cost, (tuple, list)) else (trial_value.cost,)
        costs = [float(c) for c in raw]
        return costs if all(math.isfinite(c) for c in costs) else None

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        costs = self._costs(trial_value)
        with optuna_scope():
            if costs is None:
                self._study.tell(trial_info.native, state=self._TrialState.FAIL)
            else:
                self._study.tell(trial_info.native, costs if self._n_obj > 1 else costs[0])


class OptunaTPE(Optuna):
    """TPESampler: single- and multi-objective (MOTPE) natively."""

    task_types = frozenset({TaskType.BLACKBOX, TaskType.MULTI_OBJECTIVE})


class OptunaMOTPE(Optuna):
    """TPESampler on multi-objective studies (settings in optuna_motpe.yaml)."""

    task_types = frozenset({TaskType.MULTI_OBJECTIVE})


class OptunaNSGAII(Optuna):
    """NSGAIISampler: non-dominated sorting GA; on one objective a plain elitist GA."""

    task_types = frozenset({TaskType.BLACKBOX, TaskType.MULTI_OBJECTIVE})
    sampler_class = "NSGAIISampler"


class OptunaCmaEs(Optuna):
    """CmaEsSampler: CMA-ES over floats and integers; categoricals go to the independent sampler."""

    task_types = frozenset({TaskType.BLACKBOX})
    hyperparameters = {"float": "native (log: CMA-ES in log space)",
                       "integer": "native (continuous in CMA-ES, rounded)",
                       "categorical": "independent sampler (RandomSampler)",
                       "ordinal": "integer index"}
    # rank-based weighted recombination of a population, no elitism
    noise_handling = "population"
    sampler_class = "CmaEsSampler"


class OptunaTPEHyperband(Optuna):
    """TPESampler + HyperbandPruner: each trial climbs the fidelity rungs until pruned.

    Settings: sampler (TPESampler kwargs), eta (Hyperband's reduction factor, default 3).
    """

    task_types = frozenset({TaskType.MULTI_FIDELITY})

    def __init__(self, task, seed: int, workdir: Path | None = None, *, sampler: dict | None = None,
                 eta: int = 3) -> None:
        if task.fidelity is None:
            raise ValueError("OptunaTPEHyperband needs a task with a fidelity")
        self._eta = int(eta)
        if self._eta < 2:
            raise ValueError(f"eta must be an integer >= 2, got {eta!r}")
        self._rungs = fidelity_rungs(task.fidelity, self._eta)
        self._steps = [self._eta ** i for i in range(len(self._rungs))]
        self._alive: list[tuple[int, int, Any, dict]] = []  # (rung to run next, order, trial, values)
        self._order = 0
        super().__init__(task, seed, workdir, sampler=sampler)

    def _make_pruner(self, optuna):
        max_resource = self._steps[-1]
        # Optuna counts brackets as floor(log(max_resource, eta)) + 1 in floats, which comes out one
        # short for some powers (log(243, 3) = 4.999...); one more step fixes the count and changes
        # no rung (promotion steps are eta^i, and the last rung is told COMPLETE without pruning)
        if math.floor(math.log(max_resource, self._eta)) + 1 < len(self._steps):
            max_resource += 1
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource,
                                              reduction_factor=self._eta)

    def ask(self) -> TrialInfo:
        if self._alive:
            # continue the live trial at the deepest rung first (oldest among equals)
            entry = max(self._alive, key=lambda e: (e[0], -e[1]))
            self._alive.remove(entry)
            rung, _, trial, values = entry
        else:
            trial, values = self._new_trial()
            rung = 0
        return TrialInfo(config=self._config(values), fidelity=self._rungs[rung], native=(trial, rung, values))

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        trial, rung, values = trial_info.native
        costs = self._costs(trial_value)
        with optuna_scope():
            if costs is None:
                self._study.tell(trial, state=self._TrialState.FAIL)
                return
            trial.report(costs[0], self._steps[rung])
            if rung == len(self._rungs) - 1:
                self._study.tell(trial, costs[0])
            elif trial.should_prune():
                self._study.tell(trial, state=self._TrialState.PRUNED)
            else:
                self._alive.append((rung + 1, self._order, trial, values))
                self._order += 1
