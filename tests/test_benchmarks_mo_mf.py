"""The MO, MF and MOMF synthetic collections: pymoo_mo, mf_synthetic, momf_synthetic (real objects)."""
from __future__ import annotations

import json
import math
import re

import numpy as np
from helpers import dominates as _dominates
from helpers import sample_configs as _sample
import pytest
from scipy.stats import spearmanr

from benchmarks import mf_synthetic, momf_synthetic, pymoo_mo
from carps_like.objective import describe
from carps_like.types import TaskType

MODULES = {"pymoo": (pymoo_mo, TaskType.MULTI_OBJECTIVE),
           "mfsynth": (mf_synthetic, TaskType.MULTI_FIDELITY),
           "momfsynth": (momf_synthetic, TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE)}
SPECS = [s for mod, _ in MODULES.values() for s in mod.task_specs()]
ID_FORMAT = {
    "pymoo": r"pymoo/(zdt\d_d\d+|(dtlz|wfg)\d_d\d+_m\d)",
    "mfsynth": r"mfsynth/(hartmann3|hartmann6|branin)_(good|moderate|bad|misleading)",
    "momfsynth": r"momfsynth/(branincurrin|park|zdt\d_d\d+|(dtlz|wfg)\d_d\d+_m\d)_(good|moderate|bad)",
}


def _objective(spec):
    return spec.build()




def test_ids_are_unique_counted_and_well_formed():
    ids = [s.id for s in SPECS]
    assert len(ids) == len(set(ids))
    for prefix, (mod, _) in MODULES.items():
        mine = [s.id for s in mod.task_specs()]
        assert mine == [s.id for s in mod.task_specs()]  # stable order
        bad = [i for i in mine if not re.fullmatch(ID_FORMAT[prefix], i)]
        assert not bad, bad
    assert [len(m.task_specs()) for m in (pymoo_mo, mf_synthetic, momf_synthetic)] == [116, 12, 90]
    for known in ("pymoo/zdt1_d5", "pymoo/zdt6_d10", "pymoo/dtlz2_d7_m3", "pymoo/dtlz7_d6_m2", "pymoo/wfg1_d6_m2",
                  "mfsynth/hartmann3_good", "mfsynth/hartmann6_misleading", "mfsynth/branin_bad",
                  "momfsynth/branincurrin_good", "momfsynth/park_moderate", "momfsynth/zdt1_d5_moderate"):
        assert known in ids


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_every_task_builds_and_evaluates_to_finite_values(spec):
    obj = _objective(spec)
    prefix = spec.id.split("/")[0]
    assert obj.task_type is MODULES[prefix][1]
    m = len(obj.objectives)
    assert all(o.minimize for o in obj.objectives)
    assert [o.name for o in obj.objectives] == (["f"] if m == 1 else [f"f{i + 1}" for i in range(m)])
    fidelities = [None] if obj.fidelity is None else [None, obj.fidelity.min, 7, obj.fidelity.max]
    for config in _sample(obj, 3, seed=1):
        for z in fidelities:
            ev = obj.evaluate(config, z)
            assert len(ev.values) == m and all(isinstance(v, float) and math.isfinite(v) for v in ev.values)
    record = describe(obj)
    json.dumps(record)  # plain, serialisable metadata
    assert record["deterministic"] is True and record["approximation"] == "synthetic"
    if obj.task_type.multi_objective:
        ref = np.array(record["extra"]["reference_point"])
        assert ref.shape == (m,) and np.all(ref >= np.array(record["extra"]["nadir"]))


# --- multi-fidelity single-objective --------------------------------------------------------------
MF_SPECS = mf_synthetic.task_specs()


@pytest.mark.parametrize("spec", MF_SPECS, ids=lambda s: s.id)
def test_mf_bias_exists_and_vanishes_at_the_known_optimum(spec):
    obj = _objective(spec)
    f = mf_synthetic.FUNCTIONS[obj.function]
    assert obj.metadata.optimum == (f.optimum,)
    for x in f.minimisers:
        config = dict(zip(obj.configspace.keys(), x))
        full = obj.evaluate(config).values[0]
        assert full == pytest.approx(f.optimum, abs=1e-4)
        assert obj.evaluate(config, 100).values[0] == full
        assert abs(obj.evaluate(config, 1).values[0] - full) > 1e-2
    config = _sample(obj, 1, seed=3)[0]
    assert obj.evaluate(config, 1).values[0] != obj.evaluate(config, 100).values[0]


def test_virtual_time_grows_with_fidelity():
    for spec in (MF_SPECS[0], momf_synthetic.task_specs()[0], momf_synthetic.task_specs()[-1]):
        obj = _objective(spec)
        config = _sample(obj, 1)[0]
        times = [obj.evaluate(config, z).virtual_time for z in (1, 3, 11, 33, 100)]
        assert all(a < b for a, b in zip(times, times[1:]))
        assert times[0] == pytest.approx(0.05) and times[-1] == pytest.approx(1.0)
        assert obj.evaluate(config).virtual_time == times[-1]


def _rank_correlation(obj, n=200, z_low=1, objective=0):
    configs = _sample(obj, n, seed=7)
    low = [obj.evaluate(c, z_low).values[objective] for c in configs]
    high = [obj.evaluate(c).values[objective] for c in configs]
    return spearmanr(low, high)[0]


@pytest.mark.parametrize("function", list(mf_synthetic.FUNCTIONS))
def test_good_variant_correlates_better_than_bad_and_misleading(function):
    rho = {v: _rank_correlation(mf_synthetic.MFSyntheticFunction(function, v)) for v in mf_synthetic.VARIANTS}
    assert rho["good"] > 0.9, rho
    assert rho["good"] > rho["moderate"] > rho["bad"], rho
    assert rho["good"] > rho["misleading"] + 0.1, rho
    assert rho["bad"] < 0.7, rho


@pytest.mark.parametrize("function", list(mf_synthetic.FUNCTIONS))
def test_misleading_low_fidelity_optimum_lies_at_the_decoy(function):
    obj = mf_synthetic.MFSyntheticFunction(function, "misleading")
    f = mf_synthetic.FUNCTIONS[function]
    lb, ub = np.array(f.bounds).T
    decoy = lb + np.array(f.decoy_centre) * (ub - lb)
    at_decoy = obj.value(decoy, 1)
    assert all(at_decoy < obj.value(np.array(x), 1) for x in f.minimisers)
    assert obj.value(decoy) > f.optimum + 0.5  # a poor point at full fidelity


def test_noise_is_seeded_shrinks_to_zero_at_full_fidelity_and_marks_the_task():
    obj = mf_synthetic.MFSyntheticFunction("hartmann3", "good", noise=0.5)
    assert obj.metadata.deterministic is False
    config = {"x0": 0.3, "x1": 0.4, "x2": 0.5}
    a, b = obj.evaluate(config, 2, seed=1).values, obj.evaluate(config, 2, seed=1).values
    assert a == b and a != obj.evaluate(config, 2, seed=2).values
    noiseless = mf_synthetic.MFSyntheticFunction("hartmann3")
    assert obj.evaluate(config, 100, seed=1).values == noiseless.evaluate(config).values
    mo = momf_synthetic.MOMFSyntheticFunction("park", "good", noise=0.5)
    c = {f"x{i}": 0.5 for i in range(4)}
    assert mo.evaluate(c, 2, seed=1).values == mo.evaluate(c, 2, seed=1).values != mo.evaluate(c, 2, seed=3).values


# --- multi-objective: true fronts ---------------------------------------------------------------------
@pytest.mark.parametrize("spec", pymoo_mo.task_specs(), ids=lambda s: s.id)
def test_pymoo_true_front_is_not_dominated_by_random_samples(spec):
    obj = _objective(spec)
    front = obj.pareto_front()
    assert front is not None and front.ndim == 2 and front.shape[1] == len(obj.objectives)
    samples = np.array([obj.evaluate(c).values for c in _sample(obj, 300, seed=11)])
    picks = front[np.linspace(0, len(front) - 1, 15).astype(int)]
    assert not any(_dominates(samples, p).any() for p in picks)
    extra = obj.metadata.extra
    assert np.allclose(extra["nadir"], front.max(axis=0), atol=1e-6)


def test_pareto_optimal_decision_vectors_land_on_the_front():
    zdt1 = pymoo_mo.PymooProblem("zdt1", 5)
    for x1 in (0.0, 0.25, 0.81):
        f = zdt1.evaluate({"x0": x1, **{f"x{i}": 0.0 for i in range(1, 5)}}).values
        assert f == pytest.approx((x1, 1 - math.sqrt(x1)))
    dtlz2 = pymoo_mo.PymooProblem("dtlz2", 7, 3)
    f = np.array(dtlz2.evaluate({**{f"x{i}": 0.5 for i in range(7)}, "x0": 0.3, "x1": 0.9}).values)
    assert np.sum(f ** 2) == pytest.approx(1.0)  # the unit sphere


@pytest.mark.parametrize("problem", list(momf_synthetic.PROBLEMS))
def test_grid_fronts_are_not_dominated_by_random_samples(problem):
    obj = momf_synthetic.MOMFSyntheticFunction(problem)
    front = obj.pareto_front()
    assert len(front) > 20
    samples = np.array([obj.evaluate(c).values for c in _sample(obj, 500, seed=5)])
    assert not any(_dominates(samples, p).any() for p in front[:: max(1, len(front) // 25)])


# --- multi-fidelity multi-objective -----------------------------------------------------------------------
def test_mf_pymoo_wrapper_equals_the_plain_problem_at_full_fidelity_only():
    plain = pymoo_mo.PymooProblem("zdt1", 5)
    for variant in momf_synthetic.VARIANTS:
        mf = momf_synthetic.MFPymooProblem("zdt1", 5, variant=variant)
        for config in _sample(mf, 5, seed=2):
            assert mf.evaluate(config).values == plain.evaluate(config).values
            assert mf.evaluate(config, 100).values == plain.evaluate(config).values
            assert mf.evaluate(config, 1).values != plain.evaluate(config).values
        np.testing.assert_array_equal(mf.pareto_front(), plain.pareto_front())


@pytest.mark.parametrize("problem", list(momf_synthetic.PROBLEMS))
def test_momf_bias_grows_from_good_to_bad_and_vanishes_at_full_fidelity(problem):
    objs = {v: momf_synthetic.MOMFSyntheticFunction(problem, v) for v in momf_synthetic.VARIANTS}
    configs = _sample(objs["good"], 50, seed=4)
    full = [objs["good"].evaluate(c).values for c in configs]
    gaps = {}
    for v, obj in objs.items():
        assert [obj.evaluate(c, 100).values for c in configs] == full
        low = np.array([obj.evaluate(c, 1).values for c in configs])
        gaps[v] = float(np.mean(np.abs(low - np.array(full))))
    assert 0 < gaps["good"] < gaps["moderate"] < gaps["bad"]
    rho = {v: _rank_correlation(obj, objective=0) for v, obj in objs.items()}
    assert rho["good"] > rho["bad"] + 0.1, rho


def test_random_search_runs_end_to_end_on_each_new_task_type(tmp_path):
    from carps_like import registry
    from carps_like.experiment import run_cell

    optimizer = registry.get_optimizer_config("randomsearch")
    for task_id in ("pymoo/zdt1_d5", "mfsynth/hartmann3_good", "momfsynth/branincurrin_moderate"):
        cfg = {**registry.get_task(task_id).config, "budget": {"n_trials": 8, "time_limit": None}}
        outcome = run_cell(optimizer, cfg, 1, out=tmp_path)
        assert outcome.status == "complete", task_id
        assert outcome.result.n_trials == 8
