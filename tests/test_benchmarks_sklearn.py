"""The sklearn collection (benchmarks/sklearn_ml.py): real scikit-learn fits on bundled datasets.

Everything here trains real models (no mocks); the sample of evaluated tasks sticks to the small
datasets and covers every estimator and every task type, so the file stays fast on 2 cores.
"""
from __future__ import annotations

import math
import re
import warnings
from collections import Counter

import numpy as np
import pytest

from benchmarks import sklearn_ml
from benchmarks.sklearn_ml import (
    DATASETS,
    FAMILIES,
    TASK_TYPES,
    SklearnTask,
    load_dataset,
)
from carps_like.catalog import collections
from carps_like.objective import describe
from carps_like.types import TaskType

SPECS = sklearn_ml.task_specs()
BY_ID = {s.id: s for s in SPECS}

# one evaluated task per (estimator, type) at least; cheap datasets first
SAMPLE = [
    "sklearn/svm_iris_bb", "sklearn/svm_diabetes_mf", "sklearn/svm_wine_mo", "sklearn/svm_breast_cancer_momf",
    "sklearn/rf_iris_bb", "sklearn/rf_wine_mf", "sklearn/rf_diabetes_mo", "sklearn/rf_iris_momf",
    "sklearn/hgb_diabetes_bb", "sklearn/hgb_iris_mf", "sklearn/hgb_wine_mo", "sklearn/hgb_iris_momf",
    "sklearn/mlp_wine_bb", "sklearn/mlp_iris_mf", "sklearn/mlp_diabetes_mo", "sklearn/mlp_iris_momf",
    "sklearn/linear_diabetes_bb", "sklearn/linear_wine_mf", "sklearn/linear_breast_cancer_mo",
    "sklearn/linear_iris_momf", "sklearn/knn_digits_bb", "sklearn/knn_diabetes_mf",
]
EXPECTED_COUNTS = {"bb": 30, "mf": 30, "mo": 25, "momf": 25}


def _random_config(obj, seed: int = 3):
    space = obj.configspace
    space.seed(seed)
    return space.sample_configuration()


def test_registered_ids_unique_well_formed_and_counted():
    assert "benchmarks.sklearn_ml" in collections()
    ids = [s.id for s in SPECS]
    assert len(ids) == len(set(ids))
    assert ids == [s.id for s in sklearn_ml.task_specs()]  # stable order
    pattern = rf"sklearn/({'|'.join(FAMILIES)})_({'|'.join(DATASETS)})_({'|'.join(TASK_TYPES)})"
    assert [i for i in ids if not re.fullmatch(pattern, i)] == []
    counts = Counter(i.rsplit("_", 1)[1] for i in ids)
    per_estimator = Counter(i.split("/")[1].split("_")[0] for i in ids)
    report = f"sklearn tasks: {len(ids)}; per type {dict(counts)}; per estimator {dict(per_estimator)}"
    print(report)
    assert dict(counts) == EXPECTED_COUNTS, report
    assert per_estimator == {"svm": 20, "rf": 20, "hgb": 20, "mlp": 20, "linear": 20, "knn": 10}, report
    for spec in SPECS:
        assert 50 <= spec.n_trials <= 100


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_every_spec_builds_with_consistent_metadata(spec):
    obj = spec.build()
    kind = spec.kwargs["task_type"]
    assert obj.task_type == TaskType(kind)
    meta = obj.metadata
    assert (meta.domain, meta.approximation, meta.deterministic, meta.optimum) == ("ml", "real", True, None)
    for key in ("estimator", "dataset", "metric"):
        assert isinstance(meta.extra[key], str) and meta.extra[key]
    assert meta.extra["dataset"] == spec.kwargs["dataset"]
    assert obj.objectives[0].name == "error" and all(o.minimize for o in obj.objectives)
    if kind in ("mf", "momf"):
        assert obj.fidelity is not None and meta.fidelity_semantics
        assert obj.fidelity.name not in obj.configspace  # the fidelity is not also a hyperparameter
    else:
        assert obj.fidelity is None and meta.fidelity_semantics is None
    assert len(obj.configspace) >= 3
    describe(obj)  # what the task configs are generated from


@pytest.mark.parametrize("task_id", SAMPLE)
def test_sample_evaluates_default_and_random_config_deterministically(task_id):
    obj = BY_ID[task_id].build()
    n = len(obj.objectives)
    default = obj.configspace.get_default_configuration()
    first = obj.evaluate(default)
    assert len(first.values) == n and all(math.isfinite(v) for v in first.values)
    assert first.virtual_time is None  # the runner measures the time
    cap = 1.0 if DATASETS[obj.dataset].classification else sklearn_ml.REGRESSION_ERROR_CAP
    assert 0.0 <= first.values[0] <= cap
    if n > 1:
        assert first.values[1] > 0
    # same values again, from a plain dict, and whatever seed the optimizer passes (ignored by default)
    again = obj.evaluate(dict(default), seed=12345)
    assert again.values == first.values
    rand = obj.evaluate(_random_config(obj), fidelity=None)
    assert len(rand.values) == n and all(math.isfinite(v) for v in rand.values)
    if obj.fidelity is not None:  # None means full fidelity
        assert obj.evaluate(default, fidelity=obj.fidelity.max).values == first.values


def test_a_fresh_instance_gives_identical_values():
    config = {"n_estimators": 20, "criterion": "entropy", "max_depth": 5, "min_samples_split": 3,
              "min_samples_leaf": 2, "max_features": 0.4}
    a = SklearnTask("rf", "wine", "mo").evaluate(config).values
    b = SklearnTask("rf", "wine", "mo").evaluate(config).values
    assert a == b


def test_use_trial_seed_makes_the_evaluate_seed_count():
    obj = SklearnTask("rf", "wine", "bb", use_trial_seed=True)
    assert obj.metadata.deterministic is False
    config = {"n_estimators": 8, "criterion": "gini", "max_depth": 32, "min_samples_split": 2,
              "min_samples_leaf": 1, "max_features": 0.2}
    runs = [obj.evaluate(config, seed=s).info["fold_errors"] for s in (1, 2, 3, 1)]
    assert runs[0] == runs[3]
    assert runs[0] != runs[1] or runs[0] != runs[2]


def test_svm_space_is_conditional_on_the_kernel():
    obj = SklearnTask("svm", "digits", "bb")
    space = obj.configspace
    assert len(space.conditions) == 3
    space.seed(0)
    seen = Counter()
    for config in space.sample_configuration(200):
        config.check_valid_configuration()
        kernel = config["kernel"]
        seen[kernel] += 1
        assert ("gamma" in config) == (kernel != "linear")
        assert ("degree" in config) == (kernel == "poly")
        assert ("coef0" in config) == (kernel in ("poly", "sigmoid"))
    assert set(seen) == {"linear", "rbf", "poly", "sigmoid"}
    linear = {"kernel": "linear", "C": 0.5}  # no gamma / degree / coef0 at all
    assert 0.0 <= obj.evaluate(linear).values[0] < 0.2


def test_linear_space_conditional_l1_ratio_and_sparsity_tradeoff():
    obj = SklearnTask("linear", "breast_cancer", "mo")
    space = obj.configspace
    space.seed(1)
    for config in space.sample_configuration(100):
        config.check_valid_configuration()
        assert ("l1_ratio" in config) == (config["penalty"] == "elasticnet")
    dense = obj.evaluate({"C": 1.0, "penalty": "l2"}).values
    sparse = obj.evaluate({"C": 0.01, "penalty": "l1"}).values
    assert dense[1] == 30 and sparse[1] < dense[1]  # non-zero coefficients of 30 features


def test_knn_p_is_ordinal_and_n_neighbors_is_capped_at_tiny_fidelity():
    obj = SklearnTask("knn", "iris", "mf")
    assert type(obj.configspace["p"]).__name__ == "OrdinalHyperparameter"
    ev = obj.evaluate({"n_neighbors": 32, "weights": "uniform", "p": 1}, fidelity=obj.fidelity.min)
    assert max(ev.info["n_train"]) < 32 and math.isfinite(ev.values[0])


@pytest.mark.parametrize("estimator,dataset", [("svm", "breast_cancer"), ("linear", "digits"), ("knn", "wine"),
                                               ("rf", "wine"), ("hgb", "wine"), ("mlp", "iris")])
def test_lower_fidelity_is_cheaper_and_differs(estimator, dataset):
    obj = SklearnTask(estimator, dataset, "mf")
    fid = obj.fidelity
    config = obj.configspace.get_default_configuration()
    low = obj.evaluate(config, fidelity=fid.min)
    high = obj.evaluate(config, fidelity=fid.max)
    if fid.name == "subsample":  # deterministic cost proxy: training samples per fold
        assert not fid.integer
        assert all(lo < hi for lo, hi in zip(low.info["n_train"], high.info["n_train"]))
    else:  # trees / boosting iterations / epochs actually fitted
        assert fid.integer
        assert all(lo <= fid.min < hi for lo, hi in zip(low.info["n_iter"], high.info["n_iter"]))
    assert low.values != high.values


def test_subsample_prefixes_are_stratified():
    _, y = load_dataset("iris")
    order = sklearn_ml._subsample_order(np.arange(len(y)), y, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(len(y)))
    assert set(y[order[:3]]) == {0, 1, 2}  # every class first
    assert np.bincount(y[order[:30]], minlength=3).tolist() == [10, 10, 10]


def test_evaluate_is_silent(capsys):
    obj = SklearnTask("mlp", "wine", "mf")  # 4 epochs: sklearn would warn about convergence
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj.evaluate(obj.configspace.get_default_configuration(), fidelity=4)
    assert caught == []
    assert capsys.readouterr() == ("", "")


def test_unknown_names_and_unsupported_types_are_refused():
    with pytest.raises(ValueError, match="estimator"):
        SklearnTask("xgb", "iris")
    with pytest.raises(ValueError, match="dataset"):
        SklearnTask("svm", "mnist")
    with pytest.raises(ValueError, match="no model-size objective"):
        SklearnTask("knn", "iris", "mo")
