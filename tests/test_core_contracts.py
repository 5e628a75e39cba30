"""Contracts of the core value types: budgets, task types, incumbents, capability checks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from carps_like.errors import IncompatibleError, UserError
from carps_like.incumbent import IncumbentTracker, dominates, full_fidelity_mask, is_full_fidelity
from carps_like.optimizer import Optimizer
from carps_like.task import Budget
from carps_like.types import Fidelity, TaskType


def test_task_type_follows_objectives_and_fidelity():
    assert TaskType.of(1, False) is TaskType.BLACKBOX
    assert TaskType.of(1, True) is TaskType.MULTI_FIDELITY
    assert TaskType.of(2, False) is TaskType.MULTI_OBJECTIVE
    assert TaskType.of(3, True) is TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE
    with pytest.raises(ValueError, match="accepted: bb, mf, mo, momf"):
        TaskType.parse("blackbox")


@pytest.mark.parametrize("kwargs", [{}, {"n_trials": 0}, {"n_trials": -1}, {"time_limit": math.inf},
                                    {"n_trials": "ten"}, {"n_trials": True}])
def test_invalid_budgets_are_rejected_with_what_is_accepted(kwargs):
    with pytest.raises(UserError, match="n_trials|time_limit"):
        Budget.from_mapping(kwargs) if "n_trials" in kwargs and isinstance(kwargs["n_trials"], str) else Budget(**kwargs)


def test_budget_from_mapping_accepts_time_only_and_rejects_unknown_keys():
    assert Budget.from_mapping({"n_trials": "none", "time_limit": 2}).as_dict() == {"n_trials": None, "time_limit": 2}
    with pytest.raises(UserError, match="unknown budget keys"):
        Budget.from_mapping({"trials": 3})


def test_fidelity_bounds():
    with pytest.raises(ValueError):
        Fidelity("z", 5, 1)
    f = Fidelity("z", 1, 9)
    assert f.contains(1) and f.contains(9) and not f.contains(9.5)


def test_incumbent_single_objective_keeps_best():
    inc = IncumbentTracker(multi_objective=False)
    assert inc.update(0, 3.0, None)
    assert not inc.update(1, 4.0, None)
    assert inc.update(2, 1.0, None)
    assert inc.summary() == {"fidelity": None, "trial": 2, "cost": 1.0}


def test_incumbent_multi_fidelity_counts_full_fidelity_only():
    inc = IncumbentTracker(multi_objective=False, fidelity_max=9.0)
    assert not inc.update(0, 0.1, 1.0)  # a low-fidelity cost never becomes the incumbent
    assert inc.summary() == {"fidelity": None, "trial": None, "cost": None}
    assert inc.update(1, 5.0, 9.0)
    assert not inc.update(2, 0.0, 3.0)
    assert inc.update(3, 4.0, 9.0 * (1 - 1e-12))  # the maximum up to rounding
    assert inc.summary() == {"fidelity": 9.0, "trial": 3, "cost": 4.0}


def test_full_fidelity_rule_is_one_rule_for_scalars_and_arrays():
    fids = [None, float("nan"), 1.0, 8.999999999999, 9.0, 3.0]
    mask = full_fidelity_mask(np.array([np.nan if f is None else f for f in fids]), 9.0)
    assert list(mask) == [is_full_fidelity(f, 9.0) for f in fids] == [True, True, False, True, True, False]
    assert all(full_fidelity_mask(np.array([1.0, 2.0]), None)) and is_full_fidelity(1.0, None)


def test_pareto_front_is_kept_non_dominated():
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (2, 1)) and not dominates((1, 1), (1, 1))
    inc = IncumbentTracker(multi_objective=True)
    for t, c in enumerate([(3, 3), (1, 4), (4, 1), (2, 2), (2, 2), (5, 5)]):
        inc.update(t, c, None)
    front = {tuple(p["cost"]) for p in inc.summary()["pareto_front"]}
    assert front == {(1, 4), (4, 1), (2, 2)}


class _BBOnly(Optimizer):
    task_types = frozenset({TaskType.BLACKBOX})
    supports_conditions = False
    hyperparameters = {"float": "native", "integer": "rounded"}

    def ask(self):  # pragma: no cover - never asked
        raise AssertionError

    def tell(self, trial_info, trial_value):  # pragma: no cover
        raise AssertionError


def test_capability_check_names_the_reason(make_task):
    assert _BBOnly.incompatibility(TaskType.BLACKBOX) is None
    assert "not 'mf'" in _BBOnly.incompatibility(TaskType.MULTI_FIDELITY)
    with pytest.raises(IncompatibleError, match="conditional"):
        _BBOnly.check_task(make_task("toy/bb_mixed"))
    reason = _BBOnly.incompatibility(TaskType.BLACKBOX, {"n_float": 2, "n_categorical": 1})
    assert reason == ("_BBOnly does not support categorical hyperparameters (1 in the space; "
                      "it handles: float, integer)")
    with pytest.raises(IncompatibleError, match=r"ordinal hyperparameters .*\(task toy/bb\)"):
        _BBOnly.check_task(make_task("toy/bb", extra=["ordinal"]))
    _BBOnly.check_task(make_task("toy/bb", extra=["log", "integer"]))


def test_capabilities_record_and_default_batch_ask(make_task):
    caps = _BBOnly.capabilities()
    assert caps == {"task_types": ["bb"], "conditions": False, "forbiddens": True,
                    "hyperparameters": {"float": "native", "integer": "rounded", "categorical": "unsupported",
                                        "ordinal": "unsupported"},
                    "batch_ask": False, "noise_handling": "none"}
    with pytest.raises(NotImplementedError, match="batch_ask"):
        _BBOnly(make_task("toy/bb"), seed=0).ask_batch(2)


def test_global_rng_scope_is_private_and_reproducible():
    import random

    import numpy as np

    from carps_like.isolation import GlobalRNGScope, global_rng_fingerprint

    np.random.seed(5)
    before = global_rng_fingerprint()
    a, b = GlobalRNGScope(1, torch=False), GlobalRNGScope(1, torch=False)
    with a:
        first = [np.random.rand(), random.random()]
    with a:
        second = [np.random.rand(), random.random()]  # continues a's own stream
    with b:
        again = [np.random.rand(), random.random()]
    assert first == again and first != second
    assert global_rng_fingerprint() == before


def test_importing_the_core_imports_no_heavy_library():
    import subprocess
    import sys

    code = ("import sys, carps_like.runner, carps_like.experiment, carps_like.registry, carps_like.study, "
            "carps_like.store, optimizers.randomsearch\n"
            "import optimizers.smac, optimizers.hebo, optimizers.optuna, optimizers.nevergrad, optimizers.dehb, "
            "optimizers.cma_es, optimizers.ax\n"
            "heavy = [m for m in ('torch', 'smac', 'hebo', 'pymoo', 'optuna', 'nevergrad', 'dehb', 'cma', 'ax', "
            "'botorch', 'loguru') if m in sys.modules]\n"
            "print(heavy); sys.exit(1 if heavy else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_worst_cost_imputer_holds_early_crashes_and_imputes_the_worst_success():
    from carps_like.crash_imputation import WorstCostImputer
    from carps_like.types import Status, TrialInfo, TrialValue

    imp = WorstCostImputer()
    crash = TrialValue(cost=None, status=Status.CRASHED, time=0.1, virtual_time=0.1)
    a, b, c, d = (TrialInfo(config={"x": i}) for i in range(4))
    assert list(imp.process(a, crash)) == []  # nothing to impute from yet: held back
    told = list(imp.process(b, TrialValue(cost=(2.0, 5.0), status=Status.SUCCESS, time=0.2, virtual_time=0.2)))
    assert [(t.info, t.costs, t.crashed) for t in told] == [(b, [2.0, 5.0], False), (a, [2.0, 5.0], True)]
    list(imp.process(c, TrialValue(cost=(3.0, 1.0), status=Status.SUCCESS, time=0.2, virtual_time=0.2)))
    inf = TrialValue(cost=(math.inf, 0.0), status=Status.SUCCESS, time=0.1, virtual_time=0.1)
    assert [(t.costs, t.crashed) for t in imp.process(d, inf)] == [([3.0, 5.0], True)]  # non-finite counts as a crash


def test_machine_requirements_refuse_tasks_up_front(tmp_path):
    from carps_like import registry
    from carps_like.experiment import run_cell
    from carps_like.requirements import _cuda_available, unmet_requirement

    assert unmet_requirement([]) is None
    assert "known: cuda" in unmet_requirement(["quantum"])
    entry = registry.get_task("toy/bb")
    gpu_entry = registry.TaskEntry(entry.id, entry.path, {**entry.config, "requires": ["cuda"]})
    if _cuda_available():
        assert registry.incompatibility("randomsearch", gpu_entry) is None
        return
    assert registry.incompatibility("randomsearch", gpu_entry) == (
        "task needs a CUDA GPU (torch.cuda.is_available() is False here)")
    with pytest.raises(IncompatibleError, match="toy/bb needs a CUDA GPU"):
        run_cell({"id": "randomsearch", **registry.get_optimizer_config("randomsearch")}, gpu_entry.config, 0,
                 out=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was written
