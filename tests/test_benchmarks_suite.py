"""The task suite at scale: multi-fidelity BBOB (mf_bbob), the extended pymoo collection, and the
vectorized `evaluate_batch` of bbob, mf_bbob and pymoo (real objects, no mocks)."""
from __future__ import annotations

import json
import math

import numpy as np
from helpers import dominates as _dominates
from helpers import sample_configs as _configs
import pytest
from scipy.stats import spearmanr

from benchmarks import bbob, mf_bbob, pymoo_mo
from benchmarks.mf_synthetic import FIDELITY, VARIANTS
from carps_like.objective import describe
from carps_like.types import TaskType




# --- counts and ids ----------------------------------------------------------------------------------
def test_collection_sizes_and_ids():
    mf_ids = [s.id for s in mf_bbob.task_specs()]
    assert len(mf_ids) == len(set(mf_ids)) >= 288
    assert {"mfbbob/f1_d2_good", "mfbbob/f12_d5_bad", "mfbbob/f24_d10_misleading"} <= set(mf_ids)
    mo = pymoo_mo.task_specs()
    assert len(mo) >= 100 and len({s.id for s in mo}) == len(mo)
    ids = [s.id for s in mo]
    # the original 42 ids keep their place; the new ones follow
    assert ids[:3] == ["pymoo/zdt1_d5", "pymoo/zdt1_d10", "pymoo/zdt2_d5"] and ids[41] == "pymoo/wfg4_d6_m2"
    assert {"pymoo/wfg9_d10_m3", "pymoo/wfg5_d6_m2", "pymoo/dtlz7_d20_m3", "pymoo/zdt4_d30"} <= set(ids)


def test_every_mf_bbob_task_builds_with_plain_metadata():
    for spec in mf_bbob.task_specs():
        obj = spec.build()
        assert obj.task_type is TaskType.MULTI_FIDELITY and obj.fidelity == FIDELITY
        assert spec.n_trials == bbob.default_n_trials(obj.dimension)
    record = describe(obj)
    json.dumps(record)
    assert record["deterministic"] is True and record["optimum"] == [obj.f_opt]


# --- mf_bbob ------------------------------------------------------------------------------------------
MF_SAMPLE = [(1, 2), (3, 5), (8, 10), (12, 5), (15, 2), (21, 10), (24, 5)]


@pytest.mark.parametrize("fid,dim", MF_SAMPLE)
def test_mf_bbob_full_fidelity_is_plain_bbob_and_the_optimum_is_exact(fid, dim):
    plain = bbob.BBOBFunction(fid, dim)
    for variant in VARIANTS:
        mf = mf_bbob.MFBBOBFunction(fid, dim, variant)
        assert mf.metadata.optimum == plain.metadata.optimum
        for config in _configs(mf, 20, seed=fid):
            full = plain.evaluate(config).values
            assert mf.evaluate(config).values == full
            assert mf.evaluate(config, 100).values == full
            assert mf.evaluate(config, 1).values != full
        x_opt = [float(v) for v in plain._problem.optimum.x]
        at_opt = dict(zip(mf.configspace.keys(), x_opt))
        assert mf.evaluate(at_opt).values[0] == pytest.approx(mf.f_opt, abs=1e-8)
        assert mf.value(x_opt, 100) == mf.evaluate(at_opt).values[0]


def test_mf_bbob_virtual_cost_grows_with_fidelity():
    obj = mf_bbob.MFBBOBFunction(7, 5, "moderate")
    config = _configs(obj, 1)[0]
    times = [obj.evaluate(config, z).virtual_time for z in (1, 2, 3, 11, 33, 50, 99, 100)]
    assert all(a < b for a, b in zip(times, times[1:]))
    assert times[0] == pytest.approx(0.05) and times[-1] == pytest.approx(1.0)
    assert obj.evaluate(config).virtual_time == times[-1]


def _rho(obj, n=200, seed=7):
    configs = _configs(obj, n, seed=seed)
    low = [e.values[0] for e in obj.evaluate_batch(configs, [1] * n)]
    high = [e.values[0] for e in obj.evaluate_batch(configs)]
    return spearmanr(low, high)[0]


@pytest.mark.parametrize("fid,dim", MF_SAMPLE)
def test_mf_bbob_variants_order_by_rank_correlation(fid, dim):
    rho = {v: _rho(mf_bbob.MFBBOBFunction(fid, dim, v)) for v in VARIANTS}
    assert rho["good"] > 0.85, rho
    assert rho["good"] > rho["moderate"] > rho["bad"], rho
    assert rho["good"] > rho["misleading"] + 0.1, rho
    assert rho["bad"] < 0.7, rho


@pytest.mark.parametrize("fid,dim", [(1, 2), (12, 5), (21, 10)])
def test_mf_bbob_misleading_low_fidelity_optimum_lies_in_the_decoy_well(fid, dim):
    obj = mf_bbob.MFBBOBFunction(fid, dim, "misleading")
    ref = obj._ref
    X = np.vstack([np.random.default_rng(3).uniform(-5, 5, (2000, dim)), ref.x_decoy, ref.x_opt])
    low = np.array([obj.value(x, 1) for x in X.tolist()])
    best = X[np.argmin(low)]
    assert np.linalg.norm(best - ref.x_decoy) < np.linalg.norm(best - ref.x_opt)
    assert obj.value(ref.x_decoy.tolist(), 1) < obj.value(ref.x_opt.tolist(), 1)
    assert obj.value(ref.x_decoy.tolist()) > obj.f_opt + 1e-3  # a poor point at full fidelity


@pytest.mark.parametrize("fid,dim", [(2, 2), (17, 10)])
def test_mf_bbob_calibration_table_is_reproducible(fid, dim):
    mf_bbob.calibration.cache_clear()
    gi = mf_bbob.choose_distractor_instance(fid, dim, 1)
    computed = (gi, *(mf_bbob.calibrate(fid, dim, 1, v, gi) for v in VARIANTS))
    assert computed == mf_bbob.CALIBRATION[(fid, dim)]


def test_mf_bbob_noise_is_seeded_and_vanishes_at_full_fidelity():
    obj = mf_bbob.MFBBOBFunction(3, 2, "good", noise=0.5)
    assert obj.metadata.deterministic is False
    config = {"x0": 0.3, "x1": -1.2}
    a, b = obj.evaluate(config, 2, seed=1).values, obj.evaluate(config, 2, seed=1).values
    assert a == b != obj.evaluate(config, 2, seed=2).values
    assert obj.evaluate(config, 100, seed=1).values == bbob.BBOBFunction(3, 2).evaluate(config).values


# --- evaluate_batch equals the loop ------------------------------------------------------------------------
def _assert_batch_equals_loop(obj, configs, fidelities=None):
    loop = [obj.evaluate(c, z) for c, z in zip(configs, fidelities or [None] * len(configs))]
    batch = obj.evaluate_batch(configs, fidelities)
    assert [e.values for e in batch] == [e.values for e in loop]
    assert [e.virtual_time for e in batch] == [e.virtual_time for e in loop]
    assert obj.evaluate_batch([]) == []


@pytest.mark.parametrize("fid,dim,inst", [(1, 2, 1), (12, 5, 2), (20, 20, 3), (24, 10, 1)])
def test_bbob_batch_equals_loop(fid, dim, inst):
    obj = bbob.BBOBFunction(fid, dim, inst)
    _assert_batch_equals_loop(obj, _configs(obj, 64, seed=fid))


@pytest.mark.parametrize("variant", VARIANTS)
def test_mf_bbob_batch_equals_loop_at_mixed_fidelities(variant):
    for fid, dim in ((5, 2), (16, 10)):
        obj = mf_bbob.MFBBOBFunction(fid, dim, variant)
        configs = _configs(obj, 60, seed=dim)
        fidelities = [(None, 1, 3, 11, 33, 100, 57)[i % 7] for i in range(60)]
        _assert_batch_equals_loop(obj, configs, fidelities)
        _assert_batch_equals_loop(obj, configs)  # all at full fidelity
        noisy = mf_bbob.MFBBOBFunction(fid, dim, variant, noise=0.3)
        seeds = list(range(60))
        assert [e.values for e in noisy.evaluate_batch(configs, fidelities, seeds)] == \
               [noisy.evaluate(c, z, s).values for c, z, s in zip(configs, fidelities, seeds)]


@pytest.mark.parametrize("problem,n_var,n_obj,k", [
    ("zdt1", 5, None, None), ("zdt4", 30, None, None), ("dtlz2", 20, 3, None), ("dtlz7", 6, 2, None),
    ("wfg1", 6, 2, 4), ("wfg1", 10, 3, 4), ("wfg2", 10, 3, 4), ("wfg8", 20, 2, 4), ("wfg9", 6, 3, 4),
])
def test_pymoo_batch_equals_loop(problem, n_var, n_obj, k):
    obj = pymoo_mo.PymooProblem(problem, n_var, n_obj, k)
    _assert_batch_equals_loop(obj, _configs(obj, 100, seed=n_var))


# --- the new pymoo tasks -------------------------------------------------------------------------------------
NEW_MO = [s for s in pymoo_mo.task_specs()[42:] if "wfg" in s.id or "dtlz" in s.id]


@pytest.mark.parametrize("spec", NEW_MO[::3], ids=lambda s: s.id)
def test_new_pymoo_tasks_evaluate_and_their_front_is_not_dominated(spec):
    obj = spec.build()
    m = len(obj.objectives)
    assert obj.task_type is TaskType.MULTI_OBJECTIVE and m == spec.kwargs["n_obj"]
    samples = np.array([e.values for e in obj.evaluate_batch(_configs(obj, 300, seed=11))])
    assert samples.shape == (300, m) and np.all(np.isfinite(samples))
    assert all(isinstance(v, float) for v in obj.evaluate(_configs(obj, 1)[0]).values)
    front = obj.pareto_front()
    assert front is not None and front.shape[1] == m and len(front) >= 50
    picks = front[np.linspace(0, len(front) - 1, 25).astype(int)]
    assert not any(_dominates(samples, p).any() for p in picks)
    extra = obj.metadata.extra
    assert np.allclose(extra["nadir"], front.max(axis=0), atol=1e-6)
    assert np.all(np.array(extra["reference_point"]) >= np.array(extra["nadir"]))


@pytest.mark.parametrize("problem", ["wfg5", "wfg9"])
def test_wfg_concave_fronts_are_exact(problem):
    obj = pymoo_mo.PymooProblem(problem, 10, 3, 4)
    front = obj.pareto_front()
    assert np.allclose(np.sum((front / np.array([2.0, 4.0, 6.0])) ** 2, axis=1), 1.0)
    assert obj.metadata.extra["nadir"] == [2.0, 4.0, 6.0]


def test_wfg1_front_covers_the_whole_curve():
    front = pymoo_mo.PymooProblem("wfg1", 6, 2, 4).pareto_front()
    front = front[np.argsort(front[:, 0])]
    assert np.max(np.linalg.norm(np.diff(front, axis=0), axis=1)) < 0.05
    assert math.isclose(front[:, 0].max() - front[:, 0].min(), 2.0, abs_tol=1e-6)


# ----------------------------------------------------------------------------- mixed-integer BBOB

def test_mixint_bbob_maps_integers_to_bin_centres_and_matches_plain_bbob():
    import ioh
    from ConfigSpace import Configuration

    from benchmarks.bbob_mixint import BBOBMixedInteger, arities

    assert arities(5) == [2, 4, 8, 16, None] and arities(10).count(None) == 2
    with pytest.raises(ValueError, match="divisible by 5"):
        arities(6)
    f = BBOBMixedInteger(3, 5)
    meta = f.metadata
    assert meta.optimum is None and meta.extra["arities"] == [2, 4, 8, 16, 0]
    cfg = Configuration(f.configspace, values={"x0": 0, "x1": 3, "x2": 4, "x3": 15, "x4": 1.25})
    point = f.point(cfg)
    assert point == pytest.approx([-2.5, 3.75, 0.625, 4.6875, 1.25])
    plain = ioh.get_problem(3, instance=1, dimension=5, problem_class=ioh.ProblemClass.BBOB)
    assert f.evaluate(cfg).values[0] == plain(point) >= meta.extra["continuous_f_opt"]
    assert sum(hp.__class__.__name__.startswith("Uniform Integer") or "Integer" in type(hp).__name__
               for hp in f.configspace.values()) == 4
