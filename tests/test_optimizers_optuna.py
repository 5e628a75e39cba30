"""Optuna adapters beyond the conformance suite: space conversion (every kind, log, ordinal,
conditions), improvement over random search, the Hyperband rung mapping, FAIL/PRUNED states,
quietness, the dispatcher and cheap module import. Real Optuna, real toy tasks, fixed seeds."""
from __future__ import annotations

import logging
import statistics
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from ConfigSpace import (
    Categorical,
    Configuration,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    Float,
    GreaterThanCondition,
    Integer,
    OrConjunction,
)
from ConfigSpace.hyperparameters import OrdinalHyperparameter

from benchmarks.toy import ToyFunction
from carps_like import registry
from carps_like.errors import IncompatibleError
from carps_like.runner import run_trials
from carps_like.task import Budget, Task
from carps_like.types import Fidelity, Status, TaskType, TrialValue

optuna = pytest.importorskip("optuna")
from optimizers.optuna import OptunaTPEHyperband, fidelity_rungs, suggest_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("optuna_tpe", "optuna_motpe", "optuna_nsga2", "optuna_cmaes", "optuna_tpe_hyperband")


def every_kind_space() -> ConfigurationSpace:
    """Every kind the adapter converts, with a condition chain and an OR condition."""
    cs = ConfigurationSpace()
    c, o = Categorical("c", ["a", "b", "c"]), OrdinalHyperparameter("o", ["low", "mid", "high"])
    child, grandchild, either = Float("child", (0.0, 1.0)), Integer("grandchild", (1, 4)), Float("either", (-1.0, 1.0))
    cs.add([Float("f", (0.0, 1.0)), Float("lf", (1e-4, 1.0), log=True), Integer("i", (1, 8)),
            Integer("li", (1, 1024), log=True), Categorical("flag", [True, False]), c, o, Constant("k", "fixed"),
            child, grandchild, either,
            EqualsCondition(child, c, "b"), GreaterThanCondition(grandchild, child, 0.5),
            OrConjunction(EqualsCondition(either, c, "a"), EqualsCondition(either, o, "high"))])
    return cs


def adapter_settings(variant: str) -> dict:
    return {k: v for k, v in registry.get_optimizer_config(variant)["adapter"].items() if k != "_target_"}


def toy_task(kind: str, n_trials: float, **kwargs) -> Task:
    return Task(f"toy/{kind}", ToyFunction(kind, **kwargs), Budget(n_trials=n_trials))


def run(variant: str, task: Task, seed: int = 0):
    cls = registry.optimizer_class(variant)
    made = []

    def make():
        made.append(cls(task=task, seed=seed, **adapter_settings(variant)))
        return made[0]

    result = run_trials(task, make)
    assert result.status == "complete", result.error
    return result, made[0]


def best_cost(result) -> float:
    return min(row["costs"][0] for row in result.rows if row["costs"] is not None)


# ----------------------------------------------------------------------------- spaces

def test_distributions_for_every_kind():
    cs = every_kind_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    values = suggest_config(trial, cs)
    Configuration(cs, values=values)  # valid, inactive hyperparameters absent
    d = trial.distributions
    assert d["f"] == optuna.distributions.FloatDistribution(0.0, 1.0)
    assert d["lf"] == optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
    assert d["i"] == optuna.distributions.IntDistribution(1, 8)
    assert d["li"] == optuna.distributions.IntDistribution(1, 1024, log=True)
    assert d["c"] == optuna.distributions.CategoricalDistribution([0, 1, 2])
    assert d["o"] == optuna.distributions.IntDistribution(0, 2)  # ordinal: ordered index
    assert "k" not in d and values["k"] == "fixed"  # constants are not suggested


@pytest.mark.parametrize("params, expected", [
    ({"f": 0.25, "lf": 0.01, "i": 3, "li": 64, "flag": 1, "c": 1, "o": 2, "child": 0.75, "grandchild": 2, "either": 0.5},
     {"f": 0.25, "lf": 0.01, "i": 3, "li": 64, "flag": False, "c": "b", "o": "high", "k": "fixed", "child": 0.75,
      "grandchild": 2, "either": 0.5}),
    ({"f": 0.5, "lf": 1e-4, "i": 8, "li": 1, "flag": 0, "c": 1, "o": 0, "child": 0.25, "grandchild": 2, "either": 0.5},
     {"f": 0.5, "lf": 1e-4, "i": 8, "li": 1, "flag": True, "c": "b", "o": "low", "k": "fixed", "child": 0.25}),
    ({"f": 1.0, "lf": 1.0, "i": 1, "li": 1024, "flag": 0, "c": 0, "o": 1, "child": 0.9, "grandchild": 4, "either": -1.0},
     {"f": 1.0, "lf": 1.0, "i": 1, "li": 1024, "flag": True, "c": "a", "o": "mid", "k": "fixed", "either": -1.0}),
    ({"f": 0.0, "lf": 0.5, "i": 2, "li": 2, "flag": 1, "c": 2, "o": 1, "child": 0.9, "grandchild": 4, "either": 0.0},
     {"f": 0.0, "lf": 0.5, "i": 2, "li": 2, "flag": False, "c": "c", "o": "mid", "k": "fixed"}),
])
def test_round_trip_and_conditions(params, expected):
    """Optuna values map back to ConfigSpace values; only active hyperparameters are suggested."""
    cs = every_kind_space()
    values = suggest_config(optuna.trial.FixedTrial(params), cs)
    assert values == expected
    config = Configuration(cs, values=values)
    assert set(values) == set(cs.get_active_hyperparameters(config))


def test_random_conditional_configs_are_valid():
    cs = every_kind_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_active = set()
    for _ in range(200):
        values = suggest_config(study.ask(), cs)
        config = Configuration(cs, values=values)
        cs.check_configuration(config)
        assert set(values) == set(cs.get_active_hyperparameters(config))
        seen_active.add(frozenset(values))
    assert len(seen_active) >= 4  # the condition chain and the OR condition are all exercised


def test_forbiddens_refused():
    fn = ToyFunction("bb", extra=("forbidden",))
    task = Task("toy/forbidden", fn, Budget(n_trials=5))
    cls = registry.optimizer_class("optuna_tpe")
    with pytest.raises(IncompatibleError, match="forbidden"):
        cls.check_task(task)
    with pytest.raises(ValueError, match="forbidden"):
        cls(task=task, seed=0, **adapter_settings("optuna_tpe"))


# ----------------------------------------------------------------------------- optimization

@pytest.mark.parametrize("variant, n_trials", [("optuna_tpe", 40), ("optuna_cmaes", 40), ("optuna_nsga2", 100)])
def test_beats_random_search_on_toy_bb(variant, n_trials):
    """Mean best cost over three seeds is below random search's (NSGA-II after two generations)."""
    ours = statistics.mean(best_cost(run(variant, toy_task("bb", n_trials), s)[0]) for s in range(3))
    rand = statistics.mean(best_cost(run("randomsearch", toy_task("bb", n_trials), s)[0]) for s in range(3))
    assert ours < rand


def test_crashes_are_told_as_fail():
    result, adapter = run("optuna_cmaes", toy_task("bb", 20, crash_above=0.0), seed=0)
    states = [t.state for t in adapter._study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == result.n_crashed > 0
    assert states.count(optuna.trial.TrialState.COMPLETE) == result.n_trials - result.n_crashed


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_runs_are_quiet(capsys):
    """No warning escapes, nothing reaches stdout or Optuna's logger, and its level is restored."""
    logger = logging.getLogger("optuna")
    level, records = logger.level, Records()
    extra = ("log", "integer", "ordinal", "categorical", "conditional")
    logger.addHandler(records)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for variant, kind in [("optuna_tpe", "bb"), ("optuna_motpe", "mo"), ("optuna_nsga2", "mo"),
                                  ("optuna_cmaes", "bb"), ("optuna_tpe_hyperband", "mf")]:
                run(variant, toy_task(kind, 15, extra=extra))
        assert records.messages == []
        assert logger.level == level
        optuna.create_study()  # outside the adapter Optuna logs as usual: the check above can fail
        assert any("study created" in m for m in records.messages)
    finally:
        logger.removeHandler(records)
    assert capsys.readouterr().out == ""


# ----------------------------------------------------------------------------- multi-fidelity

def test_fidelity_rungs():
    assert fidelity_rungs(Fidelity("z", 1, 9, integer=True), 3) == [1.0, 3.0, 9.0]
    assert fidelity_rungs(Fidelity("z", 1, 10, integer=True), 3) == [1.0, 3.0, 10.0]  # 10/9, 10/3 rounded
    assert fidelity_rungs(Fidelity("z", 1, 2, integer=True), 3) == [2.0]
    assert fidelity_rungs(Fidelity("z", 1, 243, integer=True), 3) == [1.0, 3.0, 9.0, 27.0, 81.0, 243.0]
    floats = fidelity_rungs(Fidelity("z", 0.01, 1.0), 3)
    assert floats[-1] == 1.0 and floats[0] >= 0.01 and len(floats) == 5
    assert all(b == pytest.approx(3 * a) for a, b in zip(floats, floats[1:]))


def test_hyperband_brackets_match_rungs():
    """HyperbandPruner gets one bracket per rung, also where Optuna's float log comes out short."""
    class Wide(ToyFunction):
        """toy/mf with fidelity 1..243: six rungs, where log(243, 3) = 4.999... in floats."""

        def __init__(self):
            super().__init__("mf")
            self.fidelity = Fidelity("z", 1.0, 243.0, integer=True)

    for fn, n in [(ToyFunction("mf"), 3), (Wide(), 6)]:
        adapter = OptunaTPEHyperband(Task("hb", fn, Budget(n_trials=5)), seed=0, **adapter_settings("optuna_tpe_hyperband"))
        pruner = adapter._study.pruner
        pruner._try_initialization(adapter._study)
        assert pruner._n_brackets == len(adapter._rungs) == n


def test_hyperband_trials_climb_rungs_until_pruned_or_complete():
    fn = ToyFunction("mf", crash_above=0.6)
    task = Task("toy/mf", fn, Budget(n_trials=30))
    adapter = OptunaTPEHyperband(task, seed=0, **adapter_settings("optuna_tpe_hyperband"))
    rungs = adapter._rungs
    history: dict[int, list[tuple[int, float, dict]]] = {}
    crashed: set[int] = set()
    for _ in range(120):
        info = adapter.ask()
        trial, rung, _ = info.native
        assert trial.number not in crashed, "a crashed trial was continued"
        config = dict(info.config)
        steps = history.setdefault(trial.number, [])
        assert rung == len(steps) and info.fidelity == rungs[rung]
        assert all(c == config for _, _, c in steps), "a trial changed its configuration between rungs"
        steps.append((rung, info.fidelity, config))
        try:
            cost, status = fn.evaluate(config, info.fidelity).values[0], Status.SUCCESS
        except RuntimeError:
            cost, status = None, Status.CRASHED
            crashed.add(trial.number)
        adapter.tell(info, TrialValue(cost=cost, status=status, time=0.0, virtual_time=0.0))

    states = {t.number: t.state for t in adapter._study.trials}
    state = optuna.trial.TrialState
    for number, steps in history.items():
        last = steps[-1][0]
        if states[number] == state.COMPLETE:
            assert last == len(rungs) - 1
        elif states[number] == state.PRUNED:
            assert last < len(rungs) - 1
        elif states[number] == state.FAIL:
            assert number in crashed
    counts = {s: list(states.values()).count(s) for s in (state.COMPLETE, state.PRUNED, state.FAIL)}
    assert all(counts.values()), counts


# ----------------------------------------------------------------------------- registry & import

def test_dispatcher_resolves_variants():
    assert registry.optimizer_variant("optuna", TaskType.BLACKBOX) == "optuna_tpe"
    assert registry.optimizer_variant("optuna", TaskType.MULTI_FIDELITY) == "optuna_tpe_hyperband"
    assert registry.optimizer_variant("optuna", TaskType.MULTI_OBJECTIVE) == "optuna_motpe"
    with pytest.raises(IncompatibleError, match="momf"):
        registry.optimizer_variant("optuna", TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE)
    for variant in VARIANTS:  # no Optuna variant claims momf: pruning is single-objective only
        assert TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE not in registry.optimizer_class(variant).task_types


def test_module_import_does_not_import_optuna():
    code = "import sys, optimizers.optuna; assert 'optuna' not in sys.modules, 'optuna imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
