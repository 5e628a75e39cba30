"""`full_fidelity: true` in an optimizer config: a bb/mo optimizer runs mf/momf tasks at the maximum fidelity."""
from __future__ import annotations

import copy
import json

import pytest

from carps_like import registry
from carps_like.experiment import run_cell
from carps_like.types import TaskType


def _cfg(task_id: str, n: int = 6) -> dict:
    cfg = copy.deepcopy(registry.get_task(task_id).config)
    cfg["budget"] = {"n_trials": n, "time_limit": None}
    return cfg


@pytest.mark.parametrize("task_id", ["toy/mf", "toy/momf"])
def test_runs_every_trial_at_max_fidelity_and_keeps_the_task_type(task_id, tmp_path):
    outcome = run_cell(registry.get_optimizer_config("optuna_nsga2_full"), _cfg(task_id), 1, out=tmp_path, study="s")
    assert outcome.result.status == "complete" and outcome.result.n_trials == 6
    entry = registry.get_task(task_id)
    fid_max = entry.config["metadata"]["fidelity"]["max"]
    # the optimizer asked without a fidelity; the wrapped objective evaluated at the maximum
    assert all(r["fidelity"] is None for r in outcome.result.rows)
    assert outcome.result.budget_used == 6
    meta = json.loads((outcome.directory / "run.json").read_text())
    assert meta["task_type"] == entry.task_type.value and fid_max > 0


def test_values_equal_max_fidelity_evaluations(tmp_path):
    from carps_like.experiment import build_task

    task = build_task(_cfg("toy/mf"))
    view = task.at_full_fidelity()
    assert view.fidelity is None and view.task_type is TaskType.BLACKBOX
    config = dict(task.configspace.sample_configuration())
    assert view.objective_function.evaluate(config).values == task.objective_function.evaluate(config, task.fidelity.max).values


def test_capability_check_sees_the_reduced_type():
    assert registry.incompatibility("optuna_nsga2_full", registry.get_task("toy/momf")) is None
    assert registry.incompatibility("optuna_nsga2_full", registry.get_task("toy/mf")) is None
    assert "not 'momf'" in registry.incompatibility("optuna_nsga2", registry.get_task("toy/momf"))
