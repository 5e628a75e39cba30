"""SMAC3 (smac 2.x) through its ask/tell interface; one base adapter, one small subclass per facade.

Variants: `smac_bb`, `smac_hpo` (bb), `smac_hyperband`, `smac_mf` (mf), `smac_mo` (mo), `smac_momf`
(momf); `smac` picks one per task type. Budget, crashed trials, reproducibility and output are
described in docs/adapters.md#smac3.

    make run OPT=smac TASK=subset_mf SEEDS=2
"""
from __future__ import annotations

import copy
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from carps_like.crash_imputation import WorstCostImputer
from carps_like.isolation import preserved_root_logger
from carps_like.optimizer import Optimizer
from carps_like.types import TaskType, TrialInfo, TrialValue

#: SMAC's logging level: errors only, so runs stay quiet
LOG_LEVEL = 40
#: scenario n_trials when the task has no n_trials budget (time limit only); SMAC never stops by itself
UNBOUNDED_TRIALS = 10**9

FACADES = {
    "blackbox": "BlackBoxFacade",
    "hpo": "HyperparameterOptimizationFacade",
    "hyperband": "HyperbandFacade",
    "multi_fidelity": "MultiFidelityFacade",
}
MULTI_FIDELITY_FACADES = ("hyperband", "multi_fidelity")
MULTI_OBJECTIVE_ALGORITHMS = ("parego", "mean")


class SMAC(Optimizer):
    """Base adapter; the subclasses below fix the facade and declare their task types.

    Settings (all optional, from the optimizer YAML):
      facade: blackbox | hpo | hyperband | multi_fidelity
      multi_objective: parego | mean (MO tasks; `mean` is the facade's get_multi_objective_algorithm)
      parego_rho: ParEGO's rho (default 0.05)
      objective_weights: weights for `mean` aggregation
      initial_design: kwargs for the facade's get_initial_design (e.g. {n_configs: 10})
      intensifier: kwargs for the facade's get_intensifier (e.g. {eta: 3} for Hyperband)
      save_every_tell: write SMAC's run history after every tell (default false: once on close)
    """

    task_types: ClassVar[frozenset[TaskType]] = frozenset()
    # SMAC handles every ConfigSpace kind, conditions and forbiddens itself
    batch_ask: ClassVar[bool] = True  # ask() marks the trial running; the next ask proposes another
    # the intensifier re-runs incumbents on new seeds when the task is not deterministic
    noise_handling: ClassVar[str] = "repeats"
    facade: ClassVar[str] = "hpo"
    multi_objective: ClassVar[str | None] = None
    #: intensifier kwargs this variant needs; settings override them
    intensifier_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def nested_settings(cls, settings) -> dict[str, tuple[Any, tuple[str, ...]]]:
        import smac

        name = settings.get("facade") or cls.facade
        if name not in FACADES:
            return {}  # refused with the accepted facades when the adapter is built
        facade = getattr(smac.facade, FACADES[name])
        return {"initial_design": (facade.get_initial_design, ("scenario",)),
                "intensifier": (facade.get_intensifier, ("scenario",))}

    def __init__(self, task, seed: int, workdir: Path | None = None, *, facade: str | None = None,
                 multi_objective: str | None = None, parego_rho: float = 0.05,
                 objective_weights: list[float] | None = None, initial_design: dict | None = None,
                 intensifier: dict | None = None, save_every_tell: bool = False) -> None:
        super().__init__(task, seed, workdir)
        import smac
        from smac.runhistory.enumerations import StatusType

        facade = facade or self.facade
        if facade not in FACADES:
            raise ValueError(f"unknown SMAC facade {facade!r}; accepted: {', '.join(FACADES)}")
        mo_name = multi_objective or self.multi_objective
        task_type = task.task_type
        if task_type.multi_fidelity != (facade in MULTI_FIDELITY_FACADES):
            raise ValueError(f"SMAC facade {facade!r} cannot run a {task_type.value!r} task")
        if task_type.multi_objective:
            mo_name = mo_name or "parego"
            if mo_name not in MULTI_OBJECTIVE_ALGORITHMS:
                raise ValueError(f"unknown multi_objective {mo_name!r}; accepted: {', '.join(MULTI_OBJECTIVE_ALGORITHMS)}")
        self._status = StatusType
        self._save = bool(save_every_tell)
        self._multi_objective = task_type.multi_objective
        self._integer_fidelity = task.fidelity is not None and task.fidelity.integer
        self._imputer = WorstCostImputer()  # crashes are told as the worst successful cost so far

        self._tmpdir = None
        if self.workdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="carps_smac_")
            out_root = Path(self._tmpdir)
        else:
            out_root = self.workdir
        try:
            with preserved_root_logger():  # SMAC's setup_logging replaces the root handlers
                self._smac = self._make_facade(smac, FACADES[facade], mo_name, out_root, intensifier, initial_design,
                                               parego_rho, objective_weights)
        except BaseException:
            self.close()  # no temporary directory left behind
            raise

    def _make_facade(self, smac, facade_name: str, mo_name: str | None, out_root: Path, intensifier: dict | None,
                     initial_design: dict | None, parego_rho: float, objective_weights: list[float] | None):
        task = self.task
        task_type = task.task_type
        Facade = getattr(smac.facade, facade_name)
        intensifier_kwargs = {**self.intensifier_defaults, **(intensifier or {})}

        scenario_kwargs: dict[str, Any] = {}
        fid = task.fidelity
        if fid is not None:
            scenario_kwargs.update(min_budget=fid.min, max_budget=fid.max)
        if task_type.multi_objective:
            scenario_kwargs["objectives"] = [o.name for o in task.objectives]
        scenario = smac.Scenario(
            configspace=copy.deepcopy(task.configspace),
            name="run",
            output_directory=out_root / "smac3",
            deterministic=bool(task.objective_function.metadata.deterministic),
            n_trials=self._scenario_trials(task, intensifier_kwargs.get("eta", 3)),
            seed=self.seed,
            **scenario_kwargs,
        )

        components: dict[str, Any] = {}
        if initial_design:
            components["initial_design"] = Facade.get_initial_design(scenario, **initial_design)
        if intensifier_kwargs:
            components["intensifier"] = Facade.get_intensifier(scenario, **intensifier_kwargs)
        if task_type.multi_objective:
            if mo_name == "parego":
                from smac.multi_objective.parego import ParEGO

                components["multi_objective_algorithm"] = ParEGO(scenario, rho=parego_rho)
            else:
                components["multi_objective_algorithm"] = Facade.get_multi_objective_algorithm(
                    scenario, objective_weights=objective_weights)
        return Facade(scenario, target_function=None, logging_level=LOG_LEVEL, overwrite=True, **components)

    @staticmethod
    def _scenario_trials(task, eta: int) -> int:
        n = task.budget.n_trials
        if n is None:
            return UNBOUNDED_TRIALS
        fid = task.fidelity
        if fid is None:
            return max(1, math.ceil(n))
        from smac.intensifier.hyperband_utils import get_n_trials_for_hyperband_multifidelity

        # SMAC's conversion of a total budget (in fidelity units) into Hyperband trials
        trials = get_n_trials_for_hyperband_multifidelity(total_budget=n * fid.max, min_budget=fid.min,
                                                          max_budget=fid.max, eta=eta, print_summary=False)
        return max(1, int(trials))

    def ask(self) -> TrialInfo:
        info = self._smac.ask()
        fidelity = None
        fid = self.task.fidelity
        if fid is not None:
            # SMAC's budgets lie in [min, max] already; rounding (integer fidelities) and clamping
            # guard against float error. `native` keeps SMAC's own budget for tell.
            fidelity = float(info.budget)
            if self._integer_fidelity:
                fidelity = float(round(fidelity))
            fidelity = min(max(fidelity, fid.min), fid.max)
        return TrialInfo(config=info.config, fidelity=fidelity, seed=info.seed, native=info)

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        for told in self._imputer.process(trial_info, trial_value):
            status = self._status.CRASHED if told.crashed else self._status.SUCCESS
            self._tell(told.info.native, told.costs, told.time, status)

    def _tell(self, native, costs: list[float], time: float, status) -> None:
        from smac.runhistory.dataclasses import TrialValue as SMACTrialValue

        cost = list(costs) if self._multi_objective else costs[0]
        self._smac.tell(native, SMACTrialValue(cost=cost, time=float(time), status=status), save=self._save)

    def close(self) -> None:
        smac_ = getattr(self, "_smac", None)
        if smac_ is not None and self._tmpdir is None:
            smac_.optimizer.save()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class SMACBlackBox(SMAC):
    """BlackBoxFacade: Gaussian process, Sobol initial design."""

    task_types = frozenset({TaskType.BLACKBOX})
    facade = "blackbox"


class SMACHPO(SMAC):
    """HyperparameterOptimizationFacade: random forest, log-scaled costs."""

    task_types = frozenset({TaskType.BLACKBOX})
    facade = "hpo"


class SMACHyperband(SMAC):
    """HyperbandFacade: random configurations, Hyperband over the task's fidelity."""

    task_types = frozenset({TaskType.MULTI_FIDELITY})
    noise_handling = "none"  # successive halving evaluates each config once per budget
    facade = "hyperband"


class SMACMultiFidelity(SMAC):
    """MultiFidelityFacade: random forest (BOHB-like) + Hyperband."""

    task_types = frozenset({TaskType.MULTI_FIDELITY})
    noise_handling = "none"  # successive halving evaluates each config once per budget
    facade = "multi_fidelity"


class SMACParEGO(SMAC):
    """HPO facade with ParEGO's random scalarization of the objectives."""

    task_types = frozenset({TaskType.MULTI_OBJECTIVE})
    facade = "hpo"
    multi_objective = "parego"


class SMACMultiFidelityParEGO(SMAC):
    """MultiFidelityFacade + ParEGO: multi-fidelity multi-objective."""

    task_types = frozenset({TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE})
    noise_handling = "none"  # successive halving evaluates each config once per budget
    facade = "multi_fidelity"
    multi_objective = "parego"
    # With the facade's default ("highest_observed_budget", and also with "any_budget") SMAC 2.4.1
    # fails `assert len(incumbent_isb_keys) > 0` in update_incumbents as soon as Pareto incumbents
    # were evaluated on different budgets (SMAC3 issue #1050). Comparing incumbents on the highest
    # budget only keeps every incumbent on the same instance-seed-budget keys.
    intensifier_defaults = {"incumbent_selection": "highest_budget"}
