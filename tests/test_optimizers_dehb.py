"""DEHB adapter on the real library: what the conformance suite does not cover.

Space conversion of every kind (log, ordinal, constants), DEHB's fidelity grid (rounded for
integer fidelities, geometric inside the bounds otherwise), endless brackets, crashes (DEHB breaks
on infinite fitness, so crashes are imputed), its files, and loguru left as it was. DEHB asks take
milliseconds, so every test runs in well under a second (the loguru one starts a subprocess).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import (
    Configuration,
)

from benchmarks.toy import ToyFunction
from helpers import mixed_kinds_space
from carps_like import registry
from carps_like.errors import IncompatibleError
from carps_like.experiment import build_task
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.runner import run_trials
from carps_like.task import Budget, Task
from carps_like.types import (
    Evaluation,
    Fidelity,
    Objective,
    Status,
    TaskType,
    TrialValue,
)

REPO = Path(__file__).resolve().parents[1]


def settings(variant: str = "dehb") -> dict:
    return {k: v for k, v in registry.get_optimizer_config(variant)["adapter"].items() if k != "_target_"}


def toy_task(n_trials: float = 10, **kwargs) -> Task:
    base = build_task(registry.get_task("toy/mf").config)
    objective = ToyFunction("mf", **kwargs) if kwargs else base.objective_function
    return Task("toy/mf", objective, Budget(n_trials=n_trials))


def run(task: Task, variant: str = "dehb", seed: int = 0, workdir=None):
    cls = registry.optimizer_class(variant)
    cls.check_task(task)
    made = []

    def make():
        made.append(cls(task=task, seed=seed, workdir=workdir, **settings(variant)))
        return made[0]

    result = run_trials(task, make)
    assert result.status == "complete", result.error
    return result, made[0]


def tell_all(opt, task: Task, n: int) -> list:
    """Ask/tell n trials directly on the adapter (no budget): returns the TrialInfos."""
    infos = []
    for _ in range(n):
        info = opt.ask()
        value = task.objective_function.evaluate(info.config, info.fidelity).values[0]
        opt.tell(info, TrialValue(cost=value, status=Status.SUCCESS, time=0.0, virtual_time=0.0))
        infos.append(info)
    return infos


class MixedMF(ObjectiveFunction):
    """Every kind DEHB decodes, a log integer, non-string categories, a constant; a float fidelity."""

    def __init__(self) -> None:
        self.configspace = mixed_kinds_space()
        self.fidelity = Fidelity("subsample", 0.05, 1.0)
        self.objectives = (Objective("loss"),)
        self.metadata = ObjectiveMetadata(domain="test", approximation="synthetic")

    def evaluate(self, config, fidelity=None, seed=None):
        value = (np.log10(config["lr"]) + 3) ** 2 + config["x"] ** 2 + 0.1 * config["layers"] + 0.01 * np.log2(config["width"])
        value += {"small": 0.2, "medium": 0.0, "large": 0.1}[config["size"]] + 0.001 * config["batch"]
        return Evaluation(values=(float(value) + (1.0 - fidelity),))


def test_declarations():
    from optimizers.dehb import DEHB

    assert registry.optimizer_class("dehb") is DEHB
    assert registry.optimizer_variant("dehb", TaskType.MULTI_FIDELITY) == "dehb"
    assert DEHB.task_types == frozenset({TaskType.MULTI_FIDELITY})
    assert DEHB.supports_conditions and not DEHB.supports_forbiddens
    for task_id in ("toy/bb", "toy/mo", "toy/momf"):
        with pytest.raises(IncompatibleError):
            DEHB.check_task(build_task(registry.get_task(task_id).config))
    assert "forbidden" in DEHB.incompatibility(TaskType.MULTI_FIDELITY, {"n_forbiddens": 1})


def test_every_kind_is_decoded_into_valid_varied_configs_on_a_float_fidelity():
    task = Task("test/mixed_mf", MixedMF(), Budget(n_trials=15))
    result, _ = run(task)
    space = task.configspace
    for row in result.rows:
        config = Configuration(space, values=row["config"])  # validates bounds and types
        assert config["fixed"] == "yes"
        assert isinstance(config["layers"], int) and isinstance(config["width"], int)
        assert config["batch"] in (16, 32, 64)
    for name in ("lr", "x", "layers", "width", "batch", "act", "size"):
        assert len({row["config"][name] for row in result.rows}) >= 3, name
    # log-scaled decoding: DEHB's vector is uniform in log space, so small learning rates are common
    assert sum(row["config"]["lr"] < 1e-3 for row in result.rows) >= 3
    # a float fidelity is not rounded: DEHB's geometric grid max * 3**-k inside [min, max]
    levels = sorted({row["fidelity"] for row in result.rows})
    assert levels == pytest.approx([1 / 9, 1 / 3, 1.0])
    assert all(0.05 <= f <= 1.0 for f in levels)


def test_integer_fidelity_is_rounded_and_spans_the_range():
    task = toy_task()
    opt = registry.optimizer_class("dehb")(task=task, seed=0, **settings())
    infos = tell_all(opt, task, 40)
    opt.close()
    assert {i.fidelity for i in infos} == {1.0, 3.0, 9.0}  # 9 * 3**-2 is 1.0000000000000002 in DEHB
    assert all(isinstance(i.fidelity, float) for i in infos)


def test_conditional_children_are_absent_when_inactive():
    task = toy_task(extra=("categorical", "conditional"))
    opt = registry.optimizer_class("dehb")(task=task, seed=3, **settings())
    infos = tell_all(opt, task, 60)
    opt.close()
    assert {i.config["cat"] for i in infos} == {"a", "b", "c"}
    assert all(("x_b" in i.config) == (i.config["cat"] == "b") for i in infos)


def test_keeps_proposing_through_many_brackets():
    """DEHB's ask opens new Hyperband brackets forever: the runner alone ends a run."""
    task = toy_task()
    opt = registry.optimizer_class("dehb")(task=task, seed=1, **settings())
    try:
        tell_all(opt, task, 400)
        assert opt._dehb.iteration_counter > 3 * opt._dehb.max_SH_iter  # far past one full Hyperband iteration
    finally:
        opt.close()


def test_improves_over_random_search_at_equal_budget():
    """Best full-fidelity cost after 20 full-fidelity equivalents, seeds 0-4 (deterministic)."""
    def best(variant: str, seed: int) -> float:
        result, _ = run(toy_task(n_trials=20), variant, seed)
        return min(row["costs"][0] for row in result.rows if row["fidelity"] == 9.0)

    dehb = np.mean([best("dehb", s) for s in range(5)])
    random = np.mean([best("randomsearch", s) for s in range(5)])
    assert dehb < random


def test_crashes_are_imputed_never_told_as_infinite():
    """A crash before any success is held back, then told with the worst successful cost."""
    task = toy_task(crash_above=-0.5)  # most of the space crashes
    result, opt = run(task, seed=0, workdir=None)
    statuses = [row["status"] for row in result.rows]
    assert statuses[0] == Status.CRASHED.value and Status.SUCCESS.value in statuses
    assert not opt._imputer._held
    fitness = [h[2] for h in opt._dehb.history]
    assert len(fitness) == result.n_trials and np.isfinite(fitness).all()


def test_state_goes_to_the_workdir_on_close_and_nothing_else(tmp_path):
    run(toy_task(n_trials=5), workdir=tmp_path / "run")
    files = sorted(p.relative_to(tmp_path / "run").as_posix() for p in (tmp_path / "run").rglob("*") if p.is_file())
    assert "dehb/dehb_state.json" in files and "dehb/history.pkl" in files
    assert all(f.startswith("dehb/") for f in files)
    assert not any(f.endswith(".log") for f in files)  # no loguru file sink


def test_loguru_is_left_as_it_was_and_runs_are_quiet(tmp_path):
    """Importing DEHB 0.1.1 replaces loguru's handlers and every DEHB adds a global file sink; the adapter avoids both."""
    code = (
        "import io, threading\n"
        "from loguru import logger\n"
        "seen = io.StringIO(); logger.add(seen, level='DEBUG', format='{name} {message}')\n"
        "from test_optimizers_dehb import run, toy_task\n"
        f"result, _ = run(toy_task(n_trials=5), workdir={str(tmp_path)!r})\n"
        "logger.info('probe after the run')\n"
        "print(repr(seen.getvalue()), threading.active_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO / "tests", capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert out.stdout.strip() == "'__main__ probe after the run\\n' 1"  # our sink kept, no DEHB message, no thread
    assert "dehb" not in out.stderr.lower()  # loguru's own stderr handler is still there, and silent
