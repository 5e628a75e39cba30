"""The runner loop: budgets, timing, failure handling, determinism (real toy tasks, random search)."""
from __future__ import annotations

import time

import pytest

from carps_like.optimizer import Optimizer
from carps_like.runner import run_trials
from carps_like.types import ALL_TASK_TYPES, TaskType, TrialInfo
from optimizers.randomsearch import RandomSearch


def _rs(task, seed=1):
    return lambda: RandomSearch(task=task, seed=seed)


@pytest.mark.parametrize("task_id,multi", [("toy/bb", False), ("toy/mf", False), ("toy/mo", True), ("toy/momf", True)])
def test_random_search_runs_every_task_type(make_task, task_id, multi):
    task = make_task(task_id, n_trials=12)
    result = run_trials(task, _rs(task))
    assert result.status == "complete" and result.n_trials == 12 and result.budget_used == pytest.approx(12)
    assert ("pareto_front" in result.incumbent) == multi
    if not multi:
        best = min(r["costs"][0] for r in result.rows)
        assert result.incumbent["cost"] == best
        assert [r["incumbent_cost"] for r in result.rows] == sorted((r["incumbent_cost"] for r in result.rows), reverse=True)


def test_same_seed_same_trials_other_seed_other_trials(make_task):
    task = make_task("toy/bb_mixed", n_trials=15)
    a = [r["config"] for r in run_trials(task, _rs(task, 3)).rows]
    b = [r["config"] for r in run_trials(make_task("toy/bb_mixed", n_trials=15), _rs(task, 3)).rows]
    c = [r["config"] for r in run_trials(task, _rs(task, 4)).rows]
    assert a == b and a != c
    assert all(("x2" in cfg) == (cfg["kind"] == "b") for cfg in a)  # conditional respected


class _FixedFidelity(Optimizer):
    """Asks a fixed fidelity forever; records what it was told."""

    task_types = ALL_TASK_TYPES

    def __init__(self, task, seed, workdir=None, fidelity=None, fail_ask_at=None, fail_tell_at=None):
        super().__init__(task, seed, workdir)
        self.fid, self.fail_ask_at, self.fail_tell_at = fidelity, fail_ask_at, fail_tell_at
        self.space = task.configspace
        self.space.seed(seed)
        self.asked = self.told = 0
        self.statuses = []

    def ask(self):
        if self.asked == self.fail_ask_at:
            raise RuntimeError("optimizer bug in ask")
        self.asked += 1
        return TrialInfo(self.space.sample_configuration(), fidelity=self.fid)

    def tell(self, trial_info, trial_value):
        self.told += 1
        self.statuses.append(trial_value.status.value)
        if self.told == self.fail_tell_at:
            raise ValueError("optimizer bug in tell")


def test_multi_fidelity_budget_counts_full_fidelity_equivalents(make_task):
    task = make_task("toy/mf", n_trials=3)  # fidelity z in [1, 9]: a z=3 trial costs 1/3
    result = run_trials(task, lambda: _FixedFidelity(task, 1, fidelity=3.0))
    assert result.n_trials == 9 and result.budget_used == pytest.approx(3.0)
    assert all(r["fidelity"] == 3.0 for r in result.rows)


def test_budget_is_never_exceeded_by_the_last_trial(make_task):
    task = make_task("toy/mf", n_trials=2.5)
    result = run_trials(task, lambda: _FixedFidelity(task, 1, fidelity=9.0))
    assert result.n_trials == 2 and result.budget_used == pytest.approx(2.0) and result.stop_reason == "budget"


def test_fidelity_outside_bounds_fails_the_run_with_the_reason(make_task):
    task = make_task("toy/mf", n_trials=3)
    result = run_trials(task, lambda: _FixedFidelity(task, 1, fidelity=20.0))
    assert result.status == "failed" and "outside [1.0, 9.0]" in result.error


def test_time_only_budget_stops_on_time(make_task):
    task = make_task("toy/bb", n_trials=None, time_limit=0.3, delay=0.01)
    result = run_trials(task, _rs(task))
    assert result.status == "complete" and result.stop_reason == "time_limit"
    assert 1 <= result.n_trials <= 31  # each trial sleeps 0.01 s: at most 30 fit in 0.3 s (+1 started before)
    assert result.wall_time >= 0.3 and result.budget_used == result.n_trials


def test_crashing_objective_gives_crashed_trials_and_the_run_goes_on(make_task):
    task = make_task("toy/crashing", n_trials=30)
    opt_holder = {}

    def make():
        opt_holder["opt"] = _FixedFidelity(task, 2)
        return opt_holder["opt"]

    result = run_trials(task, make)
    statuses = [r["status"] for r in result.rows]
    assert result.status == "complete" and result.n_trials == 30
    assert "CRASHED" in statuses and "SUCCESS" in statuses and result.n_crashed == statuses.count("CRASHED")
    crashed = [r for r in result.rows if r["status"] == "CRASHED"]
    assert all(r["costs"] is None and "toy crash" in r["error"] for r in crashed)
    assert opt_holder["opt"].statuses == statuses  # the optimizer was told about every trial


def test_optimizer_failing_in_ask_ends_the_run_as_failed_keeping_trials(make_task):
    task = make_task("toy/bb", n_trials=20)
    result = run_trials(task, lambda: _FixedFidelity(task, 1, fail_ask_at=5))
    assert result.status == "failed" and result.n_trials == 5 and len(result.rows) == 5
    assert "RuntimeError: optimizer bug in ask" in result.error and "Traceback" in result.error


def test_optimizer_failing_in_tell_keeps_the_evaluated_trial(make_task):
    task = make_task("toy/bb", n_trials=20)
    result = run_trials(task, lambda: _FixedFidelity(task, 1, fail_tell_at=3))
    assert result.status == "failed" and len(result.rows) == 3 and "optimizer bug in tell" in result.error


def test_optimizer_failing_in_construction_fails_cleanly(make_task):
    task = make_task("toy/bb", n_trials=5)

    def boom():
        raise ImportError("library missing")

    result = run_trials(task, boom)
    assert result.status == "failed" and result.n_trials == 0 and "library missing" in result.error


class _SlowAsk(RandomSearch):
    def ask(self):
        time.sleep(0.03)
        return super().ask()


def test_optimizer_objective_and_virtual_time_are_separate(make_task):
    task = make_task("toy/bb", n_trials=5, delay=0.06)
    result = run_trials(task, lambda: _SlowAsk(task, seed=1))
    for r in result.rows:  # lower bounds only (sleeps guarantee them): no timing asserts
        assert r["objective_time"] >= 0.06 and r["optimizer_time"] >= 0.03
        assert r["virtual_time"] == r["objective_time"]  # no virtual time reported: wall time stands in
    assert result.objective_time == pytest.approx(sum(r["objective_time"] for r in result.rows))


def test_multi_objective_costs_are_minimization_form(make_task):
    task = make_task("toy/mo", n_trials=5)
    result = run_trials(task, _rs(task))
    assert all(len(r["costs"]) == 2 for r in result.rows)
    assert TaskType.MULTI_OBJECTIVE is task.task_type




def test_maximized_objectives_are_negated_once_for_optimizers_and_store(make_task):
    from ConfigSpace import ConfigurationSpace, Float

    from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
    from carps_like.task import Budget, Task
    from carps_like.types import Evaluation, Objective

    class AccuracyAndSize(ObjectiveFunction):
        def __init__(self):
            self._cs = ConfigurationSpace(space=[Float("x", (0.0, 1.0))])

        configspace = property(lambda self: self._cs)
        objectives = property(lambda self: (Objective("accuracy", minimize=False), Objective("size")))
        metadata = property(lambda self: ObjectiveMetadata(domain="test", approximation="synthetic"))

        def evaluate(self, config, fidelity=None, seed=None):
            return Evaluation(values=(config["x"], 10 * config["x"]))

    task = Task("test/acc", AccuracyAndSize(), Budget(n_trials=10))
    told = []

    class Recorder(RandomSearch):
        def tell(self, trial_info, trial_value):
            told.append((trial_info.config["x"], trial_value.cost))

    result = run_trials(task, lambda: Recorder(task, seed=0))
    for (x, cost), row in zip(told, result.rows):
        assert cost == pytest.approx((-x, 10 * x)) and row["costs"] == pytest.approx([-x, 10 * x])
    assert len(result.incumbent["pareto_front"]) == 10  # accuracy up, size up: every point is Pareto-optimal
