"""Nevergrad adapter on the real library: space conversion for every kind, crash handling, batches,
multi-objective runs and improvement over random search. What the conformance suite checks for
every optimizer (determinism, budget, files, global state) is not repeated here.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import Configuration

from helpers import mixed_kinds_space
from carps_like import registry
from carps_like.errors import IncompatibleError
from carps_like.experiment import build_task
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.runner import run_trials
from carps_like.task import Budget, Task
from carps_like.types import Evaluation, Status, TaskType, TrialValue

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("ng_cma", "ng_de", "ng_pso")


def toy_task(kind: str = "bb", n_trials: float | None = 20, time_limit: float | None = None, **objective) -> Task:
    cfg = {"id": f"test/{kind}", "budget": {"n_trials": n_trials, "time_limit": time_limit}, "metadata": {"type": "bb"},
           "objective_function": {"_target_": "benchmarks.toy.ToyFunction", "kind": kind, **objective}}
    return build_task(cfg)


def make(variant: str, task: Task, seed: int = 0, **overrides):
    cfg = registry.get_optimizer_config(variant)["adapter"]
    settings = {**{k: v for k, v in cfg.items() if k != "_target_"}, **overrides}
    return registry.import_target(cfg["_target_"])(task=task, seed=seed, **settings)


class MixedSpace(ObjectiveFunction):
    """Every hyperparameter kind the adapter converts, log scales and a constant included."""

    def __init__(self) -> None:
        self.configspace = mixed_kinds_space()
        self.metadata = ObjectiveMetadata(domain="test", approximation="synthetic")

    def evaluate(self, config, fidelity=None, seed=None):
        return Evaluation(values=(float(config["x"] ** 2 + np.log10(config["lr"]) ** 2 / 25),))


def test_parametrization_converts_every_kind():
    import nevergrad as ng

    from optimizers.nevergrad import parametrization

    param, constants = parametrization(MixedSpace().configspace)
    assert constants == {"fixed": "yes"}
    kinds = {name: type(p) for name, p in param.items()}
    assert kinds == {"x": ng.p.Scalar, "lr": ng.p.Log, "layers": ng.p.Scalar, "width": ng.p.Log,
                     "act": ng.p.Choice, "batch": ng.p.Choice, "size": ng.p.TransitionChoice}
    assert isinstance(param["layers"].value, int) and isinstance(param["width"].value, int)  # integer casting


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_kind_round_trips_into_valid_configs(variant):
    space = MixedSpace()
    task = Task("test/mixed", space, Budget(n_trials=40))
    result = run_trials(task, lambda: make(variant, task, seed=3))
    assert result.status == "complete", result.error
    configs = [r["config"] for r in result.rows]
    for config in configs:
        space.configspace.check_configuration(Configuration(space.configspace, values=config))
        assert config["fixed"] == "yes"
    for name in ("x", "lr", "layers", "width", "act", "batch", "size"):
        assert len({c[name] for c in configs}) >= 2, name
    lrs = np.log10([c["lr"] for c in configs])  # the log scale is searched: several decades are visited
    assert lrs.max() - lrs.min() > 1.0
    assert all(isinstance(c["layers"], int) and isinstance(c["batch"], int) for c in configs)


def test_declarations_and_refusals():
    for variant in VARIANTS:
        cls = registry.optimizer_class(variant)
        assert cls.task_types == {TaskType.BLACKBOX, TaskType.MULTI_OBJECTIVE}
        assert cls.batch_ask
        with pytest.raises(IncompatibleError, match="conditional"):
            cls.check_task(toy_task(extra=["categorical", "conditional"]))
        with pytest.raises(IncompatibleError, match="forbidden"):
            cls.check_task(toy_task(extra=["forbidden"]))
    assert "ng_ngopt" not in registry.optimizers()  # see docs/adapters.md#nevergrad


def test_base_class_needs_an_optimizer_name():
    from optimizers.nevergrad import Nevergrad

    with pytest.raises(ValueError, match="no nevergrad optimizer"):
        Nevergrad(toy_task(), seed=0)
    assert Nevergrad(toy_task(), seed=0, optimizer="PSO")._opt.name == "PSO"


@pytest.mark.parametrize("variant", ("ng_cma", "ng_de"))
def test_beats_random_search_on_the_toy_sphere(variant):
    task = toy_task(n_trials=60)

    def best(factory, seed):
        result = run_trials(task, lambda: factory(seed))
        assert result.status == "complete", result.error
        return result.incumbent["cost"]

    from optimizers.randomsearch import RandomSearch

    ours = np.mean([best(lambda s: make(variant, task, seed=s), s) for s in range(3)])
    rs = np.mean([best(lambda s: RandomSearch(task, seed=s), s) for s in range(3)])
    assert ours < rs / 3, (ours, rs)


def _value(cost, status=Status.SUCCESS):
    return TrialValue(cost=cost, status=status, time=0.0, virtual_time=0.0)


def test_single_objective_crash_before_any_success_is_told_as_inf_then_worst_cost():
    opt = make("ng_cma", toy_task())
    first, second, third = opt.ask(), opt.ask(), opt.ask()
    opt.tell(first, _value(None, Status.CRASHED))  # no success yet: told at once, nevergrad clips inf
    assert opt._opt.num_tell == 1 and first.native.loss == pytest.approx(5e20)
    opt.tell(second, _value(0.5))
    opt.tell(third, _value(None, Status.CRASHED))  # worst successful cost so far
    assert opt._opt.num_tell == 3 and third.native.loss == 0.5
    opt.close()


def test_multi_objective_crash_is_held_back_until_the_first_success():
    opt = make("ng_de", toy_task("mo"))
    first, second = opt.ask(), opt.ask()
    opt.tell(first, _value(None, Status.CRASHED))
    assert opt._opt.num_tell == 0  # an inf loss vector would break the hypervolume reference point
    opt.tell(second, _value((0.2, 0.7)))
    assert opt._opt.num_tell == 2
    np.testing.assert_allclose(first.native.losses, [0.2, 0.7])
    opt.close()


@pytest.mark.parametrize("variant", VARIANTS)
def test_multi_objective_run_finds_a_front(variant):
    task = toy_task("mo", n_trials=40)
    result = run_trials(task, lambda: make(variant, task, seed=1))
    assert result.status == "complete", result.error
    assert len(result.incumbent["pareto_front"]) >= 3


def test_batches_larger_than_num_workers_are_distinct():
    """num_workers=1 is a hint: CMA/DE/PSO keep proposing new points while asks are pending."""
    for variant in VARIANTS:
        opt = make(variant, toy_task())
        batch = opt.ask_batch(12)
        assert len({tuple(sorted(dict(t.config).items())) for t in batch}) == 12
        for info in batch:
            opt.tell(info, _value(float(info.config["x0"] ** 2)))
        opt.close()


def test_importing_the_adapter_does_not_import_nevergrad():
    code = "import sys, optimizers.nevergrad; print(sorted(m for m in ('nevergrad', 'cma') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
