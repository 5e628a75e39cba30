"""The analytic scaling-law LM tasks (benchmarks.lm.scaling): optimum, landscape shape, fronts, batches.

Reference numbers are recomputed here from the published constants (not read from the module),
and the landscape is checked against the Step Law grid summary in /work/shared/LM_NOTES.md.
"""
from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import random_search_run, dominates, sample_configs

from benchmarks.lm import scaling
from carps_like.objective import describe
from carps_like.types import TaskType

SPECS = scaling.task_specs()
BY_ID = {s.id: s for s in SPECS}
EPOCH = {"E": 1.8169, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
HOFFMANN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
LN_VOCAB = math.log(32000)


def chinchilla(n, d, E, A, B, alpha, beta):
    return E + A / n ** alpha + B / d ** beta


def step_lr(n, d):
    return 1.79 * n ** -0.713 * d ** 0.307


def step_batch_sequences(d):
    return 0.58 * d ** 0.571 / 2048


def build(task_id):
    return BY_ID[task_id].build()


def loss(obj, config, fidelity=None):
    return obj.evaluate(config, fidelity).values[0]


def losses(obj, configs, fidelity=None):
    return np.array([e.values[0] for e in obj.evaluate_batch(configs, [fidelity] * len(configs))])


# --- the collection -------------------------------------------------------------------------------
def test_ids_are_stable_unique_and_cover_every_type():
    ids = [s.id for s in SPECS]
    assert ids == [s.id for s in scaling.task_specs()] and len(ids) == len(set(ids)) == 18
    assert all(re.fullmatch(r"lmscaling/(bb|mf|mo|momf)_[a-z0-9_]+", i) for i in ids), ids
    types = [s.build().task_type.value for s in SPECS]
    assert {t: types.count(t) for t in set(types)} == {"bb": 7, "mf": 4, "mo": 4, "momf": 3}
    for i, t in zip(ids, types):
        assert i.split("/")[1].split("_")[0] == t
    for known in ("lmscaling/bb_n1e8", "lmscaling/bb_n7e9", "lmscaling/mf_n1e9", "lmscaling/mo_nd_small",
                  "lmscaling/momf_n_d2e10"):
        assert known in ids


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_every_task_builds_and_evaluates_a_sampled_config(spec):
    obj = spec.build()
    m = len(obj.objectives)
    assert [o.name for o in obj.objectives] == (["loss"] if m == 1 else ["loss", "compute"])
    assert all(o.minimize for o in obj.objectives)
    fidelities = [None] if obj.fidelity is None else [None, obj.fidelity.min, obj.fidelity.max]
    for config in sample_configs(obj, 4, seed=3):
        for z in fidelities:
            ev = obj.evaluate(config, z)
            assert len(ev.values) == m and all(isinstance(v, float) and math.isfinite(v) for v in ev.values)
            assert 0.0 < ev.values[0] <= LN_VOCAB
            n = config.get("n_params", obj.n_fixed)
            d = config.get("n_tokens", obj.d_fixed if z is None else z)
            assert ev.virtual_time == pytest.approx(6 * n * d / (4e14 * 0.4), rel=1e-12)
            assert isinstance(ev.info["diverged"], bool)
    record = describe(obj)
    json.dumps(record)
    assert (record["domain"], record["approximation"], record["deterministic"]) == ("lm", "synthetic", True)
    space = obj.configspace
    assert space["learning_rate"].log and space["batch_size"].log and space["weight_decay"].log
    assert record["n_integer"] >= 1 and record["n_categorical"] >= 1
    if obj.task_type.multi_fidelity:
        assert "separate runs completed at each budget" in record["fidelity_semantics"]
        assert obj.fidelity.name == "tokens" and obj.fidelity.max / obj.fidelity.min == 64
    if obj.task_type.multi_objective:
        assert record["optimum"] is None
        ref, nadir = np.array(record["extra"]["reference_point"]), np.array(record["extra"]["nadir"])
        assert ref.shape == (2,) and np.all(ref > nadir)
    else:
        assert len(record["optimum"]) == 1


def test_importing_the_collection_does_not_import_torch():
    code = "import sys, benchmarks.lm.scaling as s; s.task_specs(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="law"):
        scaling.LMScalingLaw(1e8, law="kaplan")
    with pytest.raises(ValueError, match="compute_objective"):
        scaling.LMScalingLaw(1e8, compute_objective=True)
    with pytest.raises(ValueError, match="fidelity"):
        scaling.LMScalingLaw([1e8, 1e9], [1e9, 1e10], token_fidelity=True)
    with pytest.raises(ValueError, match="fixed n_params"):
        scaling.LMScalingLaw([1e8, 1e9])


# --- the optimum ----------------------------------------------------------------------------------
SO_SPECS = [s for s in SPECS if s.id.split("/")[1].startswith(("bb", "mf"))]


@pytest.mark.parametrize("spec", SO_SPECS, ids=lambda s: s.id)
def test_the_optimum_is_step_law_at_the_chinchilla_loss(spec):
    obj = spec.build()
    n = spec.kwargs["n_params"]
    d = n * spec.kwargs.get("tokens_per_param", 20.0)
    config = obj.optimal_config()
    assert config["learning_rate"] == pytest.approx(step_lr(n, d), rel=1e-14)
    s = step_batch_sequences(d)
    b = config["batch_size"]
    assert isinstance(b, int) and b in (math.floor(s), math.ceil(s))  # whole sequences, nearest in log space
    other = math.ceil(s) if b == math.floor(s) else math.floor(s)
    assert abs(math.log(b / s)) <= abs(math.log(other / s))
    assert (config["warmup_fraction"], config["weight_decay"], config["beta2"], config["schedule"]) == (
        0.02, 0.1, 0.98, "cosine")
    expected = chinchilla(n, d, **EPOCH)
    assert obj.metadata.optimum[0] == pytest.approx(expected, rel=1e-14)
    assert loss(obj, config) == obj.metadata.optimum[0]  # exactly: every penalty is 0 there
    for name, value in config.items():  # the optimum lies inside the space
        assert obj.configspace[name].is_legal(value), name


@pytest.mark.parametrize("task_id", ["lmscaling/bb_n1e8", "lmscaling/bb_n7e9", "lmscaling/mf_n1e9"])
def test_nothing_beats_the_optimum(task_id):
    obj = build(task_id)
    best = obj.metadata.optimum[0]
    assert losses(obj, sample_configs(obj, 3000, seed=5)).min() > best
    config = obj.optimal_config()
    for name, factor in (("learning_rate", 1.05), ("learning_rate", 0.95), ("batch_size", None),
                         ("warmup_fraction", 0.01), ("warmup_fraction", 0.03), ("weight_decay", 1.1),
                         ("weight_decay", 0.9), ("beta2", 0.97), ("beta2", 0.99)):
        moved = dict(config)
        if name == "batch_size":
            for b in (config["batch_size"] - 1, config["batch_size"] + 1):
                assert loss(obj, dict(config, batch_size=b)) > best
            continue
        moved[name] = config[name] * factor if name in ("learning_rate", "weight_decay") else factor
        assert loss(obj, moved) > best, name
    for schedule in ("linear", "wsd", "constant"):
        assert loss(obj, dict(config, schedule=schedule)) > best


# --- the landscape (LM_NOTES: Step Law grid) --------------------------------------------------------
LR_SHAPE = {-4: 0.027, -2: 0.010, -1: 0.004, 1: 0.007, 2: 0.032}
BATCH_SHAPE = {2: (0.013, 0.016), 3: (0.029, 0.044), 4: (0.080, 0.090)}


@pytest.mark.parametrize("task_id", ["lmscaling/bb_n1e8", "lmscaling/bb_n1e9", "lmscaling/bb_n7e9"])
def test_learning_rate_slice_matches_the_step_law_grid(task_id):
    obj = build(task_id)
    config, best = obj.optimal_config(), obj.metadata.optimum[0]
    rel = {x: loss(obj, dict(config, learning_rate=config["learning_rate"] * 2.0 ** x)) / best - 1 for x in LR_SHAPE}
    for x, target in LR_SHAPE.items():
        assert rel[x] == pytest.approx(target, rel=0.05), (x, rel[x])
    assert rel[2] > 3 * rel[-2] and rel[1] > rel[-1]  # gentle below, steep above


def test_batch_profile_and_slice_match_the_step_law_grid():
    obj = build("lmscaling/bb_n1e9")
    config, best = obj.optimal_config(), obj.metadata.optimum[0]
    grid = config["learning_rate"] * np.exp2(np.linspace(-3, 3, 1201))  # 0.005 octaves
    for v, (lo, hi) in BATCH_SHAPE.items():
        for sign in (1, -1):
            batch = config["batch_size"] * 2.0 ** (sign * v)  # the function is defined on real batch sizes
            profile = losses(obj, [dict(config, batch_size=batch, learning_rate=lr) for lr in grid]).min() / best - 1
            assert lo - 0.002 <= profile <= hi + 0.002, (sign * v, profile)
            fixed_lr = loss(obj, dict(config, batch_size=batch)) / best - 1
            assert lo - 0.002 <= fixed_lr <= hi + 0.006, (sign * v, fixed_lr)


def test_best_learning_rate_rises_as_batch_to_the_0_3():
    obj = build("lmscaling/bb_n1e9")
    config = obj.optimal_config()
    grid = config["learning_rate"] * np.exp2(np.linspace(-3, 3, 1201))
    for v in (-2, 2):
        batch = config["batch_size"] * 2.0 ** v
        best_lr = grid[losses(obj, [dict(config, batch_size=batch, learning_rate=lr) for lr in grid]).argmin()]
        assert math.log2(best_lr / config["learning_rate"]) == pytest.approx(0.3 * v, abs=0.006)


def test_basin_quadratic_is_close_to_the_grid_fit():
    """LM_NOTES: inside the 3% basin, curvatures lr 0.0072, batch 0.0061, cross -0.0043 per (ln unit)^2."""
    obj = build("lmscaling/bb_n1e9")
    config, best = obj.optimal_config(), obj.metadata.optimum[0]
    u, v = (g.ravel() for g in np.meshgrid(np.linspace(-2.5, 2.5, 41), np.linspace(-3, 3, 41)))
    y = losses(obj, [dict(config, learning_rate=config["learning_rate"] * math.exp(a),
                          batch_size=config["batch_size"] * math.exp(b)) for a, b in zip(u, v)]) / best - 1
    m = y < 0.03
    X = np.column_stack([u[m] ** 2, v[m] ** 2, u[m] * v[m], u[m], v[m], np.ones(m.sum())])
    coef = np.linalg.lstsq(X, y[m], rcond=None)[0]
    r2 = 1 - np.sum((y[m] - X @ coef) ** 2) / np.sum((y[m] - y[m].mean()) ** 2)
    assert 0.0072 / 1.5 < coef[0] < 0.0072 * 1.5
    assert 0.0061 / 1.5 < coef[1] < 0.0061 * 1.5
    assert -0.0043 * 1.5 < coef[2] < -0.0043 / 1.5
    assert r2 > 0.85


def _divergence_octaves(obj, warmup):
    """Smallest lr multiple (octaves above eta*, 0.01 resolution) at which the run diverges."""
    config = obj.optimal_config()
    xs = np.arange(0.0, 7.0, 0.01)
    evs = obj.evaluate_batch([dict(config, warmup_fraction=warmup, learning_rate=config["learning_rate"] * 2.0 ** x)
                              for x in xs])
    flags = np.array([e.info["diverged"] for e in evs])
    return float(xs[flags.argmax()]) if flags.any() else math.inf, xs, np.array([e.values[0] for e in evs])


def test_divergence_is_a_cliff_that_warmup_pushes_out():
    obj = build("lmscaling/bb_n1e9")
    config, best = obj.optimal_config(), obj.metadata.optimum[0]
    no_warmup = dict(config, warmup_fraction=0.0)
    assert loss(obj, dict(no_warmup, learning_rate=config["learning_rate"] * 4)) < 1.05 * best  # convex at 4x
    diverged = obj.evaluate(dict(no_warmup, learning_rate=config["learning_rate"] * 8))
    assert diverged.info["diverged"] and diverged.values[0] > 0.99 * LN_VOCAB  # near ln(vocab) at 8x
    thresholds = [_divergence_octaves(obj, w)[0] for w in (0.0, 0.01, 0.02, 0.05, 0.3)]
    assert 2.0 <= thresholds[0] <= 3.0  # 4-8x without warmup
    assert all(a < b for a, b in itertools.pairwise(thresholds)), thresholds
    assert thresholds[3] >= 4.5  # > 20x with 5% warmup
    _, xs, ys = _divergence_octaves(obj, 0.0)
    jump = ys[(xs > 2.0) & (xs < 3.0)]
    assert np.max(np.diff(jump)) < 0.5  # continuous (steps of 0.01 octaves)...
    assert jump[-1] - jump[0] > 0.9 * (LN_VOCAB - best)  # ...but a cliff within one octave
    before = ys[xs < thresholds[0] - 0.3]
    assert np.all(np.diff(before) >= 0) and np.all(np.diff(before, 2) >= -1e-12)  # convex before the cliff


def test_low_fidelities_are_biased_toward_lower_learning_rates():
    obj = build("lmscaling/mf_n1e8")
    n, d_min, d_max = 1e8, obj.fidelity.min, obj.fidelity.max
    assert step_lr(n, d_min) == pytest.approx(7.1e-4, rel=0.02)  # LM_NOTES: about 7e-4 at D = 3e7
    assert step_lr(n, d_max) == pytest.approx(2.5e-3, rel=0.02)  # and 2.5e-3 at D = 2e9
    grid = np.geomspace(1e-4, 1e-2, 2001)
    best = {}
    for d in (d_min, d_max):
        config = obj.optimal_config(n_tokens=d)
        assert abs(config["batch_size"] - step_batch_sequences(d)) < 1
        best[d] = grid[losses(obj, [dict(config, learning_rate=lr) for lr in grid], d).argmin()]
        assert best[d] == pytest.approx(step_lr(n, d), rel=0.003)
    assert math.log(best[d_max] / best[d_min]) / math.log(d_max / d_min) == pytest.approx(0.307, abs=0.002)
    full = obj.optimal_config()
    assert loss(obj, full, d_min) > loss(obj, obj.optimal_config(n_tokens=d_min), d_min)  # biased
    assert loss(obj, full, d_max) == loss(obj, full) == obj.metadata.optimum[0]


# --- multi-objective ------------------------------------------------------------------------------
MO_SPECS = [s for s in SPECS if s.build().task_type.multi_objective]


@pytest.mark.parametrize("spec", MO_SPECS, ids=lambda s: s.id)
def test_compute_objective_is_6ND_exactly(spec):
    obj = spec.build()
    fidelities = [None] if obj.fidelity is None else [None, obj.fidelity.min, 1.234567e9 * 7]
    for config in sample_configs(obj, 20, seed=2):
        for z in fidelities:
            n = config["n_params"]
            d = config.get("n_tokens", obj.d_fixed if z is None else z)
            if obj.fidelity is not None and not obj.fidelity.contains(d):
                continue
            assert obj.evaluate(config, z).values[1] == 6 * n * d


@pytest.mark.parametrize("spec", MO_SPECS, ids=lambda s: s.id)
def test_pareto_front_is_exact_and_not_dominated(spec):
    obj = spec.build()
    law = HOFFMANN if spec.kwargs.get("law") == "hoffmann" else EPOCH
    front = obj.pareto_front()
    assert front.shape == (1001, 2)
    assert np.all(np.diff(front[:, 1]) > 0) and np.all(np.diff(front[:, 0]) < 0)  # trade-off throughout
    extra = obj.metadata.extra
    assert extra["ideal"] == [front[-1, 0], front[0, 1]] and extra["nadir"] == [front[0, 0], front[-1, 1]]
    n_front, d_front = obj.front_allocations()
    assert np.allclose(front[:, 0], chinchilla(n_front, d_front, **law), rtol=1e-14)
    # each front point is reached exactly by the optimal configuration at its (N, D)
    for i in (0, 137, 500, 1000):
        config = obj.optimal_config(n_params=n_front[i], n_tokens=d_front[i])
        assert all(obj.configspace[k].is_legal(v) for k, v in config.items())  # inside the space
        assert obj.evaluate(config).values == (front[i, 0], front[i, 1])
    # no random configuration dominates a front point
    samples = np.array([e.values for e in obj.evaluate_batch(sample_configs(obj, 3000, seed=4))])
    for point in front[::50]:
        assert not dominates(samples, point).any()
    # brute force: at fixed compute, no allocation inside the box beats the front
    if "n_tokens" in obj.configspace:
        (n_lo, n_hi), (d_lo, d_hi) = obj.n_range, obj.d_range
        for i in (100, 400, 700, 900):
            k = front[i, 1] / 6
            n = np.geomspace(max(n_lo, k / d_hi), min(n_hi, k / d_lo), 20001)
            assert chinchilla(n, k / n, **law).min() >= front[i, 0] - 1e-12
        if spec.kwargs.get("law", "epoch") == "epoch":  # about 20 tokens per parameter (Chinchilla)
            ratio = d_front[100:900] / n_front[100:900]
            assert np.all((ratio > 15) & (ratio < 30))


def test_evaluating_the_front_at_low_fidelity_costs_less_and_loses_more():
    obj = build("lmscaling/momf_n_d2e10")
    config = obj.optimal_config(n_params=1e9)
    full, low = obj.evaluate(config), obj.evaluate(config, obj.fidelity.min)
    assert low.values[1] == full.values[1] / 64 and low.values[0] > full.values[0]
    assert low.virtual_time == pytest.approx(full.virtual_time / 64)


# --- batches and runs -----------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_evaluate_batch_equals_evaluate(spec):
    obj = spec.build()
    configs = sample_configs(obj, 60, seed=7)
    configs[0] = obj.optimal_config(*((1e9,) if "n_params" in obj.configspace else ()),
                                    **({"n_tokens": 2e10} if "n_tokens" in obj.configspace else {}))
    if obj.fidelity is None:
        fids = [None] * len(configs)
    else:
        fids = [None if i % 4 == 0 else float(f) for i, f in
                enumerate(np.geomspace(obj.fidelity.min, obj.fidelity.max, len(configs)))]
    one = [obj.evaluate(c, f) for c, f in zip(configs, fids)]
    for size in (1, 7, 60):
        batch = [e for i in range(0, len(configs), size) for e in obj.evaluate_batch(configs[i:i + size],
                                                                                      fids[i:i + size])]
        assert [(e.values, e.virtual_time, e.info) for e in batch] == [(e.values, e.virtual_time, e.info) for e in one]
    assert obj.evaluate_batch([]) == []


@pytest.mark.parametrize("task_id", ["lmscaling/bb_n1e9", "lmscaling/mf_n1e8", "lmscaling/mo_nd_small",
                                     "lmscaling/momf_n_d2e10"])
def test_random_search_runs_each_task_type(task_id):
    spec = BY_ID[task_id]
    task, result = random_search_run(spec, n_trials=15)
    assert all(r["virtual_time"] > 1000 for r in result.rows)  # accelerator time of a real run, not wall time
    if task.task_type is TaskType.BLACKBOX or task.task_type is TaskType.MULTI_FIDELITY:
        assert result.incumbent["cost"] >= spec.build().metadata.optimum[0]
