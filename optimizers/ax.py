"""Ax 1.3.1 (Meta's adaptive experimentation platform, BoTorch 0.18.1 models) through its Client API.

Variants and task types:

* ax_botorch  AxBoTorch          Ax's default generation strategy ("fast"): centre of the space,
                                 Sobol, then BoTorch (GP + qLogNoisyExpectedImprovement)       bb
* ax_mo       AxMultiObjective   the same strategy, one GP per objective + qLogNEHVI             mo

`ax` is the dispatcher over both. No mf / momf: the Client API of Ax 1.x has no fidelity
parameters (`progression` is for early stopping of learning curves, not for asking low
fidelities), so multi-fidelity would need Ax's lower-level APIs.

Decisions:

* API. `Client(random_seed=seed)`, `configure_experiment(parameters=...)`,
  `configure_optimization("-c0")` (or "-c0, -c1, ..." for mo; metrics are named c<i> internally so
  that any objective name is safe in Ax's expression strings, and costs are minimized),
  `configure_generation_strategy(method, initialization_budget, ...)` with Ax's defaults except
  `allow_exceeding_initialization_budget` (true: an ask while the whole initial design awaits
  data gives another Sobol trial instead of Ax's DataRequiredError; no difference for
  sequential ask/tell),
  `get_next_trials(max_trials=n)` (batches are native), `complete_trial` and `mark_trial_failed`.
* Spaces. float -> RangeParameterConfig float (log: scaling="log"), integer -> int range (log
  likewise), categorical -> unordered ChoiceParameterConfig (the choices themselves when all are
  strings, else the choice indices as strings), ordinal -> ordered int ChoiceParameterConfig over
  the order index; constants (and one-value categoricals/ordinals) are added back. Priors and
  category weights are dropped. Conditions are declared unsupported (Ax 1.x has hierarchical
  `dependent_parameters`, but the ConfigSpace -> Ax mapping of general conditions is not done
  here), and so are forbidden clauses (Ax's parameter constraints are linear inequalities only).
* Exhausted spaces. On a fully discrete space Ax raises SearchSpaceExhausted once every point
  was proposed; the runner alone ends a run, so the adapter then attaches uniformly drawn
  repeats (`attach_trial`, seeded from the run seed) instead of failing the run.
* Multi-objective. Objective thresholds are not given: Ax infers them from the data
  (it warns that it recommends explicit thresholds; the warning is silenced).
* Noise. Results are attached as means without a standard error, so the GP infers the
  observation noise (noise_handling "model").
* Crashed trials. Native: `mark_trial_failed`. Ax excludes failed trials from the model and from
  its initialization count (a crash is re-sampled by Sobol during initialization). Successful
  trials with a non-finite cost are treated as failed too (a GP cannot fit them).
* Seeding. `Client(random_seed=seed)` makes every `get_next_trials` run under Ax's
  `with_rng_seed`, which seeds numpy/random/torch's global generators with the seed and restores
  their previous states afterwards; the Sobol initialization gets the seed too
  (`initialization_random_seed`). Runs are reproducible and leave the global generators
  untouched, so no GlobalRNGScope is needed (the conformance suite checks both).
* Logging. Ax logs INFO lines on its own "ax" logger (which does not propagate to the root
  logger) through its own stderr handler: that handler's level is raised to WARNING while Ax
  runs and restored afterwards (`_quiet_ax`). Importing Ax logs an INFO line before that
  handler can be reached ("Ax SQL storage initialized ..."), so INFO records are disabled
  (`logging.disable`) for the duration of that one import and the previous setting restored.
  Python warnings of Ax/BoTorch (e.g. missing objective thresholds, tensor copies) are ignored
  while Ax runs.
* Output. Ax writes nothing by itself (no storage config). On close the Client's JSON snapshot
  goes to `workdir/ax/client.json` (nothing is written without a workdir).
* Speed. Centre and Sobol asks take 0.02-0.06 s; each BoTorch ask refits the GP(s) and
  optimizes the acquisition function on CPU: on a 6-dimensional toy space (2 cores) 0.75-1.15 s
  per ask over trials 6-20 (bb), and 1.5-3 s, up to 6 s by trial 15, for mo (2 objectives,
  qLogNEHVI), growing with the number of observations. Importing Ax takes about 3-3.5 s.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import sys
from pathlib import Path
from typing import Any, ClassVar

from carps_like.isolation import quiet
from carps_like.optimizer import Optimizer
from carps_like.spaces import configuration_from_encoded
from carps_like.types import Status, TaskType, TrialInfo, TrialValue

#: level of Ax's own stderr handler while Ax runs: warnings and errors only
LOG_LEVEL = logging.WARNING
METHODS = ("fast", "quality", "random_search")


def _import_ax():
    """Import Ax (the top-level package: this module is optimizers.ax) without its import-time INFO line."""
    if "ax" not in sys.modules:
        previous = logging.root.manager.disable
        logging.disable(logging.INFO)
        try:
            import ax
        finally:
            logging.disable(previous)
    import ax

    return ax


@contextlib.contextmanager
def _quiet_ax():
    """Ax's own stderr handler at WARNING while Ax runs (restored after), Python warnings ignored."""
    _import_ax()
    from ax.utils.common.logger import ROOT_STREAM_HANDLER

    level = ROOT_STREAM_HANDLER.level
    ROOT_STREAM_HANDLER.setLevel(max(level, LOG_LEVEL))
    try:
        with quiet():
            yield
    finally:
        ROOT_STREAM_HANDLER.setLevel(level)


def ax_parameters(configspace) -> tuple[list, dict[str, Any]]:
    """ConfigSpace space -> (Ax parameter configs, constants to add back to every config)."""
    _import_ax()
    from ax import ChoiceParameterConfig, RangeParameterConfig
    from ConfigSpace.hyperparameters import (
        CategoricalHyperparameter,
        Constant,
        FloatHyperparameter,
        IntegerHyperparameter,
        OrdinalHyperparameter,
    )

    parameters: list = []
    constants: dict[str, Any] = {}
    for hp in configspace.values():
        if isinstance(hp, Constant):
            constants[hp.name] = hp.value
        elif isinstance(hp, FloatHyperparameter):
            parameters.append(RangeParameterConfig(name=hp.name, bounds=(float(hp.lower), float(hp.upper)),
                                                   parameter_type="float", scaling="log" if hp.log else "linear"))
        elif isinstance(hp, IntegerHyperparameter):
            parameters.append(RangeParameterConfig(name=hp.name, bounds=(int(hp.lower), int(hp.upper)),
                                                   parameter_type="int", scaling="log" if hp.log else "linear"))
        elif isinstance(hp, CategoricalHyperparameter):
            if len(hp.choices) == 1:
                constants[hp.name] = hp.choices[0]
            else:
                parameters.append(ChoiceParameterConfig(name=hp.name, values=_category_values(hp),
                                                        parameter_type="str", is_ordered=False))
        elif isinstance(hp, OrdinalHyperparameter):
            if len(hp.sequence) == 1:
                constants[hp.name] = hp.sequence[0]
            else:
                parameters.append(ChoiceParameterConfig(name=hp.name, values=list(range(len(hp.sequence))),
                                                        parameter_type="int", is_ordered=True))
        else:
            raise TypeError(f"Ax adapter cannot convert hyperparameter {hp.name!r} of type {type(hp).__name__}")
    return parameters, constants


def _all_strings(choices) -> bool:
    return all(isinstance(c, str) for c in choices)


def _category_values(hp) -> list[str]:
    """The choices when all are strings, else their indices as strings (Ax's choices share one type)."""
    if _all_strings(hp.choices):
        return list(hp.choices)
    return [str(i) for i in range(len(hp.choices))]


class Ax(Optimizer):
    """Base adapter; the subclasses below declare their task types.

    Settings (Ax's `configure_generation_strategy`; null = Ax's default):
      method: fast (Sobol + BoTorch defaults) | quality (warped SAAS GP, much slower) | random_search
      initialization_budget: Sobol trials before BoTorch (null = Ax's 5, the centre included)
      initialize_with_center: first trial at the centre of the space (Ax's default: true)
      allow_exceeding_initialization_budget: keep generating Sobol trials while the initial design
        still awaits data (default true; Ax's default false raises DataRequiredError on such an
        ask). Sequential ask/tell never has trials awaiting data, so it only matters for batches.
    """

    task_types: ClassVar[frozenset[TaskType]] = frozenset()
    supports_conditions: ClassVar[bool] = False
    supports_forbiddens: ClassVar[bool] = False
    hyperparameters = {"float": "native (log: log scaling)", "integer": "native (log: log scaling)",
                       "categorical": "native (unordered choice, one-hot)", "ordinal": "integer index (ordered choice)"}
    batch_ask: ClassVar[bool] = True  # get_next_trials(max_trials=n)
    noise_handling: ClassVar[str] = "model"  # means without sem: the GP infers the noise level

    def __init__(self, task, seed: int, workdir: Path | None = None, *, method: str = "fast",
                 initialization_budget: int | None = None, initialize_with_center: bool = True,
                 allow_exceeding_initialization_budget: bool = True) -> None:
        super().__init__(task, seed, workdir)
        if method not in METHODS:
            raise ValueError(f"unknown Ax method {method!r}; accepted: {', '.join(METHODS)}")
        cs = task.configspace
        if cs.conditions or cs.forbidden_clauses:  # check_task refuses these first; guard direct use too
            raise ValueError("the Ax adapter supports neither conditional hyperparameters nor forbidden clauses")
        if task.fidelity is not None:
            raise ValueError("the Ax adapter has no multi-fidelity variant")
        _import_ax()
        from ax import Client

        self._hps = dict(cs.items())
        self._repeats = None  # space copy for repeats once a fully discrete space is exhausted
        self._metrics = [f"c{i}" for i in range(len(task.objectives))]
        with _quiet_ax():
            parameters, self._constants = ax_parameters(cs)
            self._client = Client(random_seed=self.seed)
            self._client.configure_experiment(parameters=parameters, name="carps_like")
            self._client.configure_optimization(objective=", ".join(f"-{m}" for m in self._metrics))
            self._client.configure_generation_strategy(method=method, initialization_budget=initialization_budget,
                                                       initialization_random_seed=self.seed,
                                                       initialize_with_center=initialize_with_center,
                                                       allow_exceeding_initialization_budget=allow_exceeding_initialization_budget)

    def ask(self) -> TrialInfo:
        return self.ask_batch(1)[0]

    def ask_batch(self, n: int) -> list[TrialInfo]:
        from ax.exceptions.core import SearchSpaceExhausted

        with _quiet_ax():
            try:
                trials = self._client.get_next_trials(max_trials=int(n))
            except SearchSpaceExhausted:
                trials = self._attach_repeats(int(n))
        return [TrialInfo(config=self._to_config(params), native=index) for index, params in trials.items()]

    def _attach_repeats(self, n: int) -> dict[int, dict]:
        """Every point of a fully discrete space was proposed: attach n uniformly drawn repeats.

        Ax raises SearchSpaceExhausted instead of proposing a point twice, but the runner alone
        ends a run. Repeats go in through `attach_trial`, Ax's API for user-chosen trials.
        """
        if self._repeats is None:
            self._repeats = copy.deepcopy(self.task.configspace)  # a seeded copy: never the task's own
            self._repeats.seed(self.seed)
        trials = {}
        for _ in range(n):
            params = self._to_ax(self._repeats.sample_configuration())
            trials[self._client.attach_trial(parameters=params)] = params
        return trials

    def _to_ax(self, config) -> dict[str, Any]:
        """The inverse of `_to_config`: a Configuration -> Ax parameters."""
        from ConfigSpace.hyperparameters import (
            CategoricalHyperparameter,
            IntegerHyperparameter,
            OrdinalHyperparameter,
        )

        params: dict[str, Any] = {}
        for name, value in config.items():  # plain Python types: Ax rejects numpy scalars (np.str_)
            if name in self._constants:
                continue
            hp = self._hps[name]
            if isinstance(hp, CategoricalHyperparameter):
                params[name] = str(value) if _all_strings(hp.choices) else str(hp.choices.index(value))
            elif isinstance(hp, OrdinalHyperparameter):
                params[name] = hp.sequence.index(value)
            elif isinstance(hp, IntegerHyperparameter):
                params[name] = int(value)
            else:
                params[name] = float(value)
        return params

    def _to_config(self, params):
        # string choices travel as themselves, other choices as their index (see ax_parameters)
        return configuration_from_encoded(self.task.configspace, params, self._constants,
                                          categorical_by_index=lambda hp: not _all_strings(hp.choices))

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        index = trial_info.native
        costs = None
        if trial_value.status is Status.SUCCESS and trial_value.cost is not None:
            raw = trial_value.cost if isinstance(trial_value.cost, (tuple, list)) else (trial_value.cost,)
            costs = [float(c) for c in raw]
        with _quiet_ax():
            if costs is None or not all(math.isfinite(c) for c in costs):
                reason = (trial_value.info or {}).get("error") or "non-finite cost"
                self._client.mark_trial_failed(trial_index=index, failed_reason=str(reason))
            else:
                self._client.complete_trial(trial_index=index, raw_data=dict(zip(self._metrics, costs)))

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None and self.workdir is not None:
            out = self.workdir / "ax"
            out.mkdir(parents=True, exist_ok=True)
            with _quiet_ax():
                client.save_to_json_file(str(out / "client.json"))


class AxBoTorch(Ax):
    """Ax's default strategy on black-box tasks: centre, Sobol, then BoTorch (GP + qLogNEI)."""

    task_types = frozenset({TaskType.BLACKBOX})


class AxMultiObjective(Ax):
    """Ax's default strategy on multi-objective tasks: centre, Sobol, then BoTorch (GP per objective + qLogNEHVI)."""

    task_types = frozenset({TaskType.MULTI_OBJECTIVE})
