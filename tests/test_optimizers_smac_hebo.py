"""SMAC3 and HEBO adapters on the real libraries: every variant on every task type it declares,
valid configs, fidelities and budget, determinism, crashes, refusals, and the HEBO environment.

Budgets are tiny: SMAC's GP facade and HEBO refit a model on every ask (about 1-2 s each on
2 cores), so runs only go a few steps past the initial design.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import Configuration

from benchmarks.toy import ToyFunction
from helpers import mixed_kinds_space
from carps_like import registry
from carps_like.errors import IncompatibleError
from carps_like.experiment import build_task
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.runner import run_trials
from carps_like.task import Budget, Task
from carps_like.types import Evaluation, Status, TaskType, TrialValue

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers

def make_task(task_id: str, n_trials: float | None = None, time_limit: float | None = None) -> Task:
    base = build_task(registry.get_task(task_id).config)
    return Task(base.id, base.objective_function, Budget(n_trials=n_trials, time_limit=time_limit))


def adapter_settings(variant: str) -> dict:
    cfg = registry.get_optimizer_config(variant)["adapter"]
    return {k: v for k, v in cfg.items() if k != "_target_"}


def run(variant: str, task: Task, seed: int = 1, workdir=None, **overrides):
    """Run the variant's YAML config (plus overrides) on `task`; returns (RunResult, adapter)."""
    cls = registry.optimizer_class(variant)
    cls.check_task(task)
    settings = {**adapter_settings(variant), **overrides}
    made = []

    def make():
        made.append(cls(task=task, seed=seed, workdir=workdir, **settings))
        return made[0]

    result = run_trials(task, make, handle=None)
    assert result.status == "complete", result.error
    return result, made[0]


def assert_valid_configs(task: Task, rows: list[dict]) -> None:
    """Every config is legal for the space: values in range, inactive hyperparameters absent."""
    cs = task.configspace
    for row in rows:
        cs.check_configuration(Configuration(cs, values=row["config"]))


def config_sequence(rows: list[dict]) -> list:
    return [(sorted(row["config"].items()), row["fidelity"]) for row in rows]


class CrashyToy(ToyFunction):
    """A toy task that crashes on a large region (x0 > -0.2), often on the very first trial."""

    def evaluate(self, config, fidelity=None, seed=None):
        if float(config["x0"]) > -0.2:
            raise RuntimeError("crash region")
        return super().evaluate(config, fidelity, seed)


class MixedTypesFunction(ObjectiveFunction):
    """Every ConfigSpace hyperparameter kind HEBO's conversion handles, without conditions."""

    def __init__(self) -> None:
        self._space = mixed_kinds_space(lr_lower=1e-4)
        self._meta = ObjectiveMetadata(domain="test", approximation="synthetic")

    @property
    def configspace(self):
        return self._space

    @property
    def metadata(self):
        return self._meta

    def evaluate(self, config, fidelity=None, seed=None):
        value = (np.log10(config["lr"]) + 2.5) ** 2 + config["x"] ** 2 + 0.1 * config["layers"]
        value += 0.1 * (config["act"] != "relu") + 0.01 * np.log2(config["width"]) + 0.001 * config["batch"]
        value += {"small": 0.2, "medium": 0.0, "large": 0.1}[config["size"]]
        return Evaluation(values=(float(value),))


# ----------------------------------------------------------------------------- every variant, every declared type

SMAC_TYPES = {
    "smac_bb": {TaskType.BLACKBOX},
    "smac_hpo": {TaskType.BLACKBOX},
    "smac_hyperband": {TaskType.MULTI_FIDELITY},
    "smac_mf": {TaskType.MULTI_FIDELITY},
    "smac_mo": {TaskType.MULTI_OBJECTIVE},
    "smac_momf": {TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE},
    "hebo": {TaskType.BLACKBOX, TaskType.MULTI_OBJECTIVE},
}


def test_declared_task_types():
    for variant, types in SMAC_TYPES.items():
        assert set(registry.optimizer_class(variant).task_types) == types, variant
    from optimizers.hebo import HEBO

    assert HEBO.supports_conditions is False and HEBO.supports_forbiddens is False


def test_smac_dispatches_per_task_type():
    expected = {TaskType.BLACKBOX: "smac_bb", TaskType.MULTI_FIDELITY: "smac_hyperband",
                TaskType.MULTI_OBJECTIVE: "smac_mo", TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE: "smac_momf"}
    for task_type, variant in expected.items():
        assert registry.optimizer_variant("smac", task_type) == variant
        assert task_type in registry.optimizer_class(variant).task_types


@pytest.mark.parametrize("variant,task_id,n_trials", [
    ("smac_bb", "toy/bb", 6),
    ("smac_bb", "toy/bb_mixed", 6),
    ("smac_hpo", "toy/bb", 10),
    ("smac_hpo", "toy/bb_mixed", 12),
    ("smac_hyperband", "toy/mf", 20),
    ("smac_mf", "toy/mf", 10),
    ("smac_mo", "toy/mo", 10),
    ("smac_momf", "toy/momf", 10),
    ("hebo", "toy/bb", 5),
    ("hebo", "toy/mo", 4),
])
def test_variant_completes_with_valid_trials(variant, task_id, n_trials):
    task = make_task(task_id, n_trials=n_trials)
    result, _ = run(variant, task)
    rows = result.rows
    assert rows and all(row["status"] == Status.SUCCESS.value for row in rows)
    assert_valid_configs(task, rows)
    assert result.budget_used <= n_trials + 1e-9
    fid = task.fidelity
    if fid is None:
        assert all(row["fidelity"] is None for row in rows)
        assert result.n_trials == n_trials
    else:
        assert all(fid.min <= row["fidelity"] <= fid.max for row in rows)
        assert all(float(row["fidelity"]).is_integer() for row in rows)  # toy fidelity is an integer
        assert sum(row["fidelity"] / fid.max for row in rows) <= n_trials + 1e-9
    if task_id == "toy/bb_mixed":  # the conditional x2 is present exactly when kind == "b"
        assert all(("x2" in row["config"]) == (row["config"]["kind"] == "b") for row in rows)


def test_hyperband_uses_several_fidelities_and_reaches_the_maximum():
    task = make_task("toy/mf", n_trials=20)
    result, _ = run("smac_hyperband", task)
    levels = {row["fidelity"] for row in result.rows}
    assert len(levels) > 1 and task.fidelity.max in levels and task.fidelity.min in levels


# ----------------------------------------------------------------------------- budgets

@pytest.mark.parametrize("variant,task_id", [("smac_hpo", "toy/bb"), ("smac_hyperband", "toy/mf"),
                                             ("smac_mo", "toy/mo"), ("smac_momf", "toy/momf")])
def test_smac_keeps_asking_past_its_scenario_n_trials(variant, task_id):
    """SMAC's ask() never stops at scenario.n_trials, so the runner alone ends runs (time-only budgets)."""
    task = make_task(task_id, n_trials=1)
    cls = registry.optimizer_class(variant)
    opt = cls(task=task, seed=1, workdir=None, **adapter_settings(variant))
    assert opt._smac.scenario.n_trials < 15
    objective = task.objective_function
    try:
        for _ in range(15):
            info = opt.ask()
            values = objective.evaluate(info.config, info.fidelity, info.seed).values
            cost = values[0] if len(values) == 1 else tuple(values)
            opt.tell(info, TrialValue(cost=cost, status=Status.SUCCESS, time=0.0, virtual_time=0.0))
    finally:
        opt.close()
    assert opt._smac.runhistory.finished == 15  # all 15 told, far past the scenario n_trials


def test_smac_time_only_budget():
    task = make_task("toy/mf", n_trials=None, time_limit=1.0)
    result, _ = run("smac_hyperband", task)
    assert result.stop_reason == "time_limit" and result.n_trials > 10


# ----------------------------------------------------------------------------- determinism

def test_smac_same_seed_same_sequence_other_seed_other_sequence():
    task = make_task("toy/bb", n_trials=12)
    a, _ = run("smac_hpo", task, seed=1)
    b, _ = run("smac_hpo", task, seed=1)
    c, _ = run("smac_hpo", task, seed=2)
    assert config_sequence(a.rows) == config_sequence(b.rows)
    assert config_sequence(a.rows) != config_sequence(c.rows)


def test_hebo_same_seed_same_sequence_other_seed_other_sequence():
    task = make_task("toy/bb", n_trials=5)  # 3 Sobol points, then 2 model-based suggestions
    a, _ = run("hebo", task, seed=1)
    b, _ = run("hebo", task, seed=1)
    c, _ = run("hebo", task, seed=2)
    assert config_sequence(a.rows) == config_sequence(b.rows)
    assert config_sequence(a.rows) != config_sequence(c.rows)


def test_hebo_leaves_global_rng_untouched():
    import random

    import torch

    np.random.seed(123)
    torch.manual_seed(123)
    random.seed(123)
    expected = (np.random.rand(), torch.rand(1).item(), random.random())
    np.random.seed(123)
    torch.manual_seed(123)
    random.seed(123)
    run("hebo", make_task("toy/bb", n_trials=4), seed=7)
    assert (np.random.rand(), torch.rand(1).item(), random.random()) == expected


@pytest.mark.slow
def test_smac_reproducible_across_processes_with_fixed_hash_seed():
    """SMAC orders local-search start points through a set of Configurations (hash of their repr),
    so runs are reproducible across processes only with a fixed PYTHONHASHSEED."""
    code = ("import json, sys; sys.path.insert(0, 'tests');"
            "from test_optimizers_smac_hebo import make_task, run, config_sequence;"
            "r, _ = run('smac_hpo', make_task('toy/bb', n_trials=12)); print(json.dumps(config_sequence(r.rows)))")
    outs = [subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "0"}).stdout for _ in range(2)]
    assert outs[0] == outs[1] and outs[0].strip()


# ----------------------------------------------------------------------------- crashes

def test_smac_on_crashing_toy_task():
    task = make_task("toy/crashing", n_trials=20)
    result, opt = run("smac_hpo", task)
    assert result.n_crashed > 0
    assert any(row["status"] == Status.CRASHED.value for row in result.rows)
    assert not opt._imputer._held and opt._smac.runhistory.finished == result.n_trials  # every crash was told


# seeds chosen so that the first trial lands in the crash region
@pytest.mark.parametrize("variant,kind,n_trials,seed", [("smac_hpo", "bb", 10, 3), ("smac_hyperband", "mf", 10, 3),
                                                        ("smac_mo", "mo", 8, 3), ("smac_momf", "momf", 8, 3),
                                                        ("hebo", "bb", 5, 2), ("hebo", "mo", 4, 3)])
def test_crash_on_first_trial_is_held_back_then_told(variant, kind, n_trials, seed):
    task = Task(f"crashy/{kind}", CrashyToy(kind), Budget(n_trials=n_trials))
    result, opt = run(variant, task, seed=seed)
    statuses = [row["status"] for row in result.rows]
    assert statuses[0] == Status.CRASHED.value and Status.SUCCESS.value in statuses
    assert_valid_configs(task, result.rows)
    assert not opt._imputer._held
    if variant == "hebo":
        assert len(opt._opt.X) == result.n_trials and np.isfinite(opt._opt.y).all()
    else:  # (the runner may have asked one more trial that did not fit the budget: it stays "running")
        assert opt._smac.runhistory.finished == result.n_trials


# ----------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("variant,task_id,reason", [
    ("hebo", "toy/mf", "task types"),
    ("hebo", "toy/momf", "task types"),
    ("hebo", "toy/bb_mixed", "conditional"),
    ("smac_hyperband", "toy/bb", "task types"),
    ("smac_mf", "toy/mo", "task types"),
    ("smac_bb", "toy/mf", "task types"),
    ("smac_hpo", "toy/mo", "task types"),
    ("smac_mo", "toy/momf", "task types"),
    ("smac_momf", "toy/mf", "task types"),
])
def test_incompatible_pairs_are_refused(variant, task_id, reason):
    cls = registry.optimizer_class(variant)
    entry = registry.get_task(task_id)
    meta = entry.metadata
    assert reason in cls.incompatibility(entry.task_type, meta)
    assert reason in registry.incompatibility(variant, entry)
    with pytest.raises(IncompatibleError):
        cls.check_task(make_task(task_id, n_trials=5))


def test_smac_dispatcher_accepts_every_toy_task():
    for task_id in ("toy/bb", "toy/bb_mixed", "toy/mf", "toy/mo", "toy/momf", "toy/crashing"):
        assert registry.incompatibility("smac", registry.get_task(task_id)) is None, task_id


def test_hebo_refuses_forbiddens():
    from optimizers.hebo import HEBO

    assert "forbidden" in HEBO.incompatibility(TaskType.BLACKBOX, {"n_forbiddens": 1})


# ----------------------------------------------------------------------------- conversions, files, imports

def test_hebo_converts_every_hyperparameter_kind():
    task = Task("test/mixed_types", MixedTypesFunction(), Budget(n_trials=4))
    result, _ = run("hebo", task, rand_sample=2)
    assert_valid_configs(task, result.rows)
    for row in result.rows:
        config = row["config"]
        assert config["fixed"] == "yes"
        assert isinstance(config["layers"], int) and isinstance(config["width"], int)
        assert config["batch"] in (16, 32, 64) and config["size"] in ("small", "medium", "large")


def test_smac_writes_its_run_history_into_the_workdir(tmp_path):
    run("smac_hpo", make_task("toy/bb", n_trials=3), workdir=tmp_path)
    assert list(tmp_path.glob("smac3/**/runhistory.json"))


def test_importing_adapters_does_not_import_the_libraries():
    code = ("import sys, optimizers.smac, optimizers.hebo;"
            "print(sorted(m for m in ('smac', 'hebo', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hebo_runs_on_pinned_numpy():
    """Environment decision: HEBO 0.3.6 declares numpy<1.25 and pymoo==0.6.0 (and GPy), but it is
    installed --no-deps and runs on this environment's numpy 2.x / pymoo 0.6.2 without GPy.
    pymoo >= 0.6.1 seeds its GA from OS entropy; the adapter hands it a seed (optimizers/hebo.py)."""
    import hebo  # noqa: F401
    import pymoo

    assert int(np.__version__.split(".")[0]) >= 2
    assert pymoo.__version__ != "0.6.0"
    task = make_task("toy/bb", n_trials=9)  # toy/bb is a 2-d sphere with its optimum (cost 0) at (0.3, -0.2)
    result, opt = run("hebo", task, rand_sample=4)
    costs = [row["costs"][0] for row in result.rows]
    assert len(opt._opt.X) == 9
    assert min(costs[4:]) < min(costs[:4])  # the GP-guided suggestions beat the Sobol initial design
