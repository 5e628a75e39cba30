"""Ax 1.3.1 (Meta's adaptive experimentation platform, BoTorch 0.18.1 models) through its Client API.

`ax_botorch` (bb) and `ax_mo` (mo, qLogNEHVI) run Ax's default generation strategy (centre, Sobol,
then BoTorch); `ax` picks one per task type. API calls, spaces, exhausted discrete spaces,
crashed trials, seeding and logging: docs/adapters.md#ax.

    make run OPT=ax TASK=toy/bb SEEDS=2
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
from carps_like.spaces import configuration_from_encoded, dimensions, searched
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

    dims, constants = searched(configspace)
    parameters: list = []
    for d in dims:
        if d.kind in ("float", "integer"):
            kind = "float" if d.kind == "float" else "int"
            parameters.append(RangeParameterConfig(name=d.name, bounds=(d.lower, d.upper), parameter_type=kind,
                                                   scaling="log" if d.log else "linear"))
        elif len(d.choices) == 1:  # Ax refuses one-value choices
            constants[d.name] = d.choices[0]
        elif d.kind == "categorical":
            parameters.append(ChoiceParameterConfig(name=d.name, values=_category_values(d), parameter_type="str",
                                                    is_ordered=False))
        else:  # ordinal: the order index
            parameters.append(ChoiceParameterConfig(name=d.name, values=list(range(len(d.choices))),
                                                    parameter_type="int", is_ordered=True))
    return parameters, constants


def _all_strings(choices) -> bool:
    return all(isinstance(c, str) for c in choices)


def _category_values(d) -> list[str]:
    """The choices when all are strings, else their indices as strings (Ax's choices share one type)."""
    if _all_strings(d.choices):
        return list(d.choices)
    return [str(i) for i in range(len(d.choices))]


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

        self._dims = dimensions(cs)
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
        params: dict[str, Any] = {}
        for name, value in config.items():  # plain Python types: Ax rejects numpy scalars (np.str_)
            if name in self._constants:
                continue
            d = self._dims[name]
            if d.kind == "categorical":
                params[name] = str(value) if _all_strings(d.choices) else str(d.choices.index(value))
            elif d.kind == "ordinal":
                params[name] = d.choices.index(value)
            else:
                params[name] = int(value) if d.kind == "integer" else float(value)
        return params

    def _to_config(self, params):
        # string choices travel as themselves, other choices as their index (see ax_parameters)
        return configuration_from_encoded(self.task.configspace, params, self._constants,
                                          categorical_by_index=lambda d: not _all_strings(d.choices))

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
