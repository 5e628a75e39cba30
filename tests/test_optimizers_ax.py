"""Ax adapter on the real library: what the conformance suite does not cover.

Space conversion of every kind (log float and integer, non-string categories, ordinals,
constants), minimization of every objective, native failure reporting, Ax's logging left as it
was, the snapshot file, the dispatcher, and one check that BoTorch beats random search. Most
tests stay in Ax's Sobol phase (milliseconds per ask); the BoTorch one takes a few seconds.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest
from ConfigSpace import (
    Categorical,
    Configuration,
    ConfigurationSpace,
    Integer,
)

from helpers import mixed_kinds_space
from carps_like import registry
from carps_like.errors import IncompatibleError
from carps_like.experiment import build_task
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.runner import run_trials
from carps_like.task import Budget, Task
from carps_like.types import Evaluation, Objective, Status, TaskType, TrialValue


def settings(variant: str) -> dict:
    return {k: v for k, v in registry.get_optimizer_config(variant)["adapter"].items() if k != "_target_"}


def make(variant: str, task: Task, seed: int = 0, workdir=None, **overrides):
    cls = registry.optimizer_class(variant)
    cls.check_task(task)
    return cls(task=task, seed=seed, workdir=workdir, **{**settings(variant), **overrides})


def toy(task_id: str, n_trials: float = 8) -> Task:
    base = build_task(registry.get_task(task_id).config)
    return Task(base.id, base.objective_function, Budget(n_trials=n_trials))


class MixedTypes(ObjectiveFunction):
    """Every kind the conversion handles: log float/int, int and str categories, an ordinal, constants."""

    def __init__(self) -> None:
        self.configspace = mixed_kinds_space(Categorical("only", ["one"]))
        self.objectives = (Objective("loss"),)
        self.metadata = ObjectiveMetadata(domain="test", approximation="synthetic")

    def evaluate(self, config, fidelity=None, seed=None):
        return Evaluation(values=(float((np.log10(config["lr"]) + 3) ** 2 + config["x"] ** 2),))


def test_dispatcher_and_declarations():
    assert registry.optimizer_variant("ax", TaskType.BLACKBOX) == "ax_botorch"
    assert registry.optimizer_variant("ax", TaskType.MULTI_OBJECTIVE) == "ax_mo"
    for task_type in (TaskType.MULTI_FIDELITY, TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE):
        with pytest.raises(IncompatibleError):
            registry.optimizer_variant("ax", task_type)
    for variant in ("ax_botorch", "ax_mo"):
        cls = registry.optimizer_class(variant)
        assert not cls.supports_conditions and not cls.supports_forbiddens and cls.batch_ask
        assert cls.noise_handling == "model"
    with pytest.raises(IncompatibleError, match="conditional"):
        registry.optimizer_class("ax_botorch").check_task(toy("toy/bb_mixed"))


def test_space_conversion_of_every_kind():
    from optimizers.ax import ax_parameters

    task = Task("test/mixed", MixedTypes(), Budget(n_trials=8))
    parameters, constants = ax_parameters(task.configspace)
    by_name = {p.name: p for p in parameters}
    assert constants == {"fixed": "yes", "only": "one"}
    assert by_name["lr"].parameter_type == "float" and by_name["lr"].scaling == "log"
    assert by_name["x"].scaling == "linear" and by_name["x"].bounds == (-2.0, 2.0)
    assert by_name["width"].parameter_type == "int" and by_name["width"].scaling == "log"
    assert by_name["act"].values == ["relu", "tanh", "gelu"] and by_name["act"].is_ordered is False
    assert by_name["batch"].values == ["0", "1", "2"] and by_name["batch"].is_ordered is False  # indices
    assert by_name["size"].values == [0, 1, 2] and by_name["size"].is_ordered is True

    opt = make("ax_botorch", task)
    # centre + Sobol, no model needed; asking past the initial design while it awaits data gives
    # more Sobol trials (allow_exceeding_initialization_budget) instead of Ax's DataRequiredError
    infos = opt.ask_batch(5) + [opt.ask() for _ in range(3)]
    opt.close()
    rows = [dict(info.config) for info in infos]
    for row in rows:
        Configuration(task.configspace, values=row)  # validates bounds and types
        assert row["fixed"] == "yes" and row["only"] == "one"
        assert isinstance(row["layers"], int) and isinstance(row["width"], int)
        assert row["batch"] in (16, 32, 64) and row["size"] in ("small", "medium", "large")
    # Ax's centre is the log-scaled midpoint (1e-3; about 64 for width), not the linear one (0.05; 260)
    assert rows[0]["lr"] == pytest.approx(1e-3) and 60 <= rows[0]["width"] <= 68
    for name in ("lr", "x", "layers", "width", "batch", "act", "size"):
        assert len({row[name] for row in rows}) >= 2, name


def test_every_objective_is_minimized():
    for variant, task_id in (("ax_botorch", "toy/bb"), ("ax_mo", "toy/mo")):
        opt = make(variant, toy(task_id))
        metrics = opt._client._experiment.metrics
        assert sorted(metrics) == [f"c{i}" for i in range(len(opt.task.objectives))]
        assert all(m.lower_is_better for m in metrics.values())
        assert opt._client._experiment.optimization_config.objective.is_multi_objective == (variant == "ax_mo")


def test_crashes_and_non_finite_costs_are_marked_failed():
    opt = make("ax_mo", toy("toy/mo"))
    a, b, c = opt.ask_batch(3)
    opt.tell(a, TrialValue(cost=None, status=Status.CRASHED, time=0.0, virtual_time=0.0, info={"error": "boom"}))
    opt.tell(b, TrialValue(cost=(1.0, float("nan")), status=Status.SUCCESS, time=0.0, virtual_time=0.0))
    opt.tell(c, TrialValue(cost=(1.0, 2.0), status=Status.SUCCESS, time=0.0, virtual_time=0.0))
    trials = opt._client._experiment.trials
    assert trials[a.native].status.is_failed and trials[a.native].status_reason == "boom"
    assert trials[b.native].status.is_failed
    assert trials[c.native].status.is_completed
    assert len(opt.ask_batch(2)) == 2  # Sobol goes on: failed trials do not count as initialization


def test_logging_is_quiet_and_restored(capfd):
    from optimizers.ax import _import_ax

    _import_ax()
    from ax.utils.common.logger import ROOT_STREAM_HANDLER

    level, disabled = ROOT_STREAM_HANDLER.level, logging.root.manager.disable
    task = toy("toy/bb")
    opt = make("ax_botorch", task)
    for info in opt.ask_batch(3):
        cost = task.objective_function.evaluate(info.config).values[0]
        opt.tell(info, TrialValue(cost=cost, status=Status.SUCCESS, time=0.0, virtual_time=0.0))
    opt.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert ROOT_STREAM_HANDLER.level == level and logging.root.manager.disable == disabled


def test_snapshot_in_the_workdir_only(tmp_path):
    task = toy("toy/bb", n_trials=3)
    result = run_trials(task, lambda: make("ax_botorch", task, workdir=tmp_path / "run"))
    assert result.status == "complete", result.error
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert files == ["run/ax/client.json"]


def test_botorch_beats_random_search_on_toy_bb():
    """10 trials (5 initial + 5 BoTorch) against the mean best of random search over 10 seeds."""
    def best(variant: str, seed: int) -> tuple[float, list[float]]:
        task = toy("toy/bb", n_trials=10)
        cls = registry.optimizer_class(variant)
        result = run_trials(task, lambda: cls(task=task, seed=seed, workdir=None, **settings(variant)))
        assert result.status == "complete", result.error
        costs = [row["costs"][0] for row in result.rows]
        return min(costs), costs

    ax_best, costs = best("ax_botorch", 0)
    assert min(costs[5:]) < min(costs[:5])  # the BoTorch trials improve on the initial design
    assert ax_best < np.mean([best("randomsearch", s)[0] for s in range(10)])


class SixPoints(ObjectiveFunction):
    """A fully discrete space of 6 points."""

    def __init__(self) -> None:
        self.configspace = ConfigurationSpace(space=[Integer("k", (1, 3)), Categorical("c", ["a", "b"])])
        self.objectives = (Objective("f"),)
        self.metadata = ObjectiveMetadata(domain="test", approximation="synthetic")

    def evaluate(self, config, fidelity=None, seed=None):
        return Evaluation(values=(float(config["k"]) + (config["c"] == "b"),))


def test_exhausted_discrete_space_goes_on_with_repeats():
    """Ax raises SearchSpaceExhausted after the 6th point; the run goes on with seeded repeats."""
    task = Task("test/six", SixPoints(), Budget(n_trials=9))

    def trace(seed: int) -> list:
        result = run_trials(task, lambda: make("ax_botorch", task, seed=seed))
        assert result.status == "complete", result.error
        assert result.n_trials == 9
        return [(row["config"]["k"], row["config"]["c"]) for row in result.rows]

    first = trace(0)
    assert len(set(first[:6])) == 6  # every point once, then repeats
    assert trace(0) == first
