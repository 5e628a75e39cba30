"""Real small runs for the analysis tests, made through `run_cell` (the production path).

`make_runs` writes runs of every task type with two or three optimizers, so gather, report and
tables see what a user's `make run` leaves behind, including a failed and a time-budget-only run.
"""
from __future__ import annotations

import copy
from pathlib import Path

from carps_like import registry
from carps_like.experiment import run_cell
from optimizers.randomsearch import RandomSearch

N_TRIALS = 8

#: (optimizer, task ids) per task type: three optimizers where the type has them (Friedman),
#: two for momf (the two-optimizer path)
PLAN = {
    "bb": (["randomsearch", "optuna", "ng_de"], ["toy/bb", "bbob/f2_d2_i1", "bbob/f1_d2_i1"]),
    "mf": (["randomsearch", "optuna", "dehb"], ["toy/mf", "mfbbob/f1_d2_good"]),
    "mo": (["randomsearch", "optuna"], ["toy/mo", "pymoo/zdt1_d5"]),
    "momf": (["randomsearch", "smac"], ["toy/momf"]),
}
SEEDS = (1, 2)


class FailingRandomSearch(RandomSearch):
    """Random search whose tell raises after a few trials: a run that ends `failed`."""

    def tell(self, trial_info, trial_value):
        self._told = getattr(self, "_told", 0) + 1
        if self._told > 3:
            raise RuntimeError("optimizer broke on purpose")
        return super().tell(trial_info, trial_value)


FAILING = {"id": "failing", "adapter": {"_target_": "analysis_runs.FailingRandomSearch"}}


def task_config(task_id: str, n_trials: float | None = N_TRIALS, time_limit: float | None = None) -> dict:
    cfg = copy.deepcopy(registry.get_task(task_id).config)
    cfg["budget"] = {"n_trials": n_trials, "time_limit": time_limit}
    return cfg


def make_runs(out: Path, study: str = "t", plan: dict | None = None, seeds=SEEDS) -> Path:
    plan = plan or PLAN
    for task_type, (opts, task_ids) in plan.items():
        for task_id in task_ids:
            cfg = task_config(task_id)
            for opt in opts:
                for seed in seeds:
                    run_cell(registry.get_optimizer_config(opt), cfg, seed, out=out, study=study)
    return out
