"""Real ML tasks: scikit-learn estimators tuned on the small datasets that ship with scikit-learn.

Why: every other collection is synthetic or a surrogate; these tasks train real models, so an
optimizer meets real HPO landscapes (plateaus, ties, conditional spaces, log-scaled
hyperparameters, cheap vs expensive corners), offline and in about a second per evaluation.
Ids: sklearn/<estimator>_<dataset>_<type>, type in bb | mf | mo | momf.

Datasets (load_*, no downloads; loaded once per process and cached): digits (1797 x 64,
10 classes), breast_cancer (569 x 30, 2), wine (178 x 13, 3), iris (150 x 4, 3) for
classification, diabetes (442 x 10) for regression (target standardized once, which leaves
R^2 unchanged and gives SVR's epsilon and the MLP a sensible scale).

Protocol (fixed by the task's own `seed`, default 0, so every optimizer sees the same splits):
stratified 3-fold CV (KFold for diabetes) with shuffling; digits uses a stratified 2/3 : 1/3
holdout instead, since three fits per evaluation there are too slow. The error is averaged over
folds: 1 - accuracy (classification) or 1 - R^2 (regression, clipped at 2, i.e. R^2 >= -1, and
2 where a diverged model predicts non-finite values). Scale-sensitive estimators (SVM, MLP,
linear, k-NN) standardize features inside each fold (a Pipeline); trees see raw features.

Estimators and spaces (log scale where marked; `[cond]` = conditional hyperparameter):

* svm     SVC / SVR: kernel {linear, rbf, poly, sigmoid}, C log [1e-3, 1e3], gamma log
          [1e-4, 10] [cond: rbf, poly, sigmoid], degree [2, 5] [cond: poly], coef0 [-1, 1]
          [cond: poly, sigmoid]; SVR also epsilon log [1e-3, 1]. max_iter capped at 1e6.
* rf      RandomForest: n_estimators log [4, 128] (the fidelity in MF tasks), criterion
          {gini, entropy} / {squared_error, friedman_mse, absolute_error}, max_depth log
          [2, 32], min_samples_split log [2, 32], min_samples_leaf log [1, 16], max_features
          (fraction) [0.05, 1].
* hgb     HistGradientBoosting (early_stopping=False): max_iter log [4, 64] (the fidelity in
          MF tasks), learning_rate log [0.01, 1], max_leaf_nodes log [4, 64], min_samples_leaf
          log [1, 64], l2_regularization log [1e-6, 10].
* mlp     MLP (Adam, batch size 32): n_layers [1, 3] x width log [8, 128] (hidden_layer_sizes =
          (width,) * n_layers), alpha log [1e-6, 1e-1], learning_rate_init log [1e-4, 1e-1],
          activation {relu, tanh, logistic}; max_iter (epochs) 40, the fidelity in MF tasks.
* linear  LogisticRegression (l2: lbfgs, l1 / elasticnet: saga, max_iter 100) with C log
          [1e-3, 1e3]; regression: Ridge (l2) / Lasso (l1) / ElasticNet with alpha log
          [1e-4, 1e2]; penalty {l2, l1, elasticnet}, l1_ratio [0.05, 0.95] [cond: elasticnet].
* knn     k-NN: n_neighbors log [1, 32] (capped at the training-set size), weights
          {uniform, distance}, p ordinal (1, 2, 3). Only bb and mf (no natural size measure).

Fidelity per estimator (MF and MOMF tasks; None means the maximum):

* svm, linear, knn: `subsample`, float in [0.1, 1]: the fraction of each training fold used for
  fitting. The order is fixed per fold and class-stratified (every class appears first, then
  classes interleave in proportion), so lower fractions are prefixes of higher ones; the test
  folds are always complete; at least 2 samples per class (10 for regression) are used.
* rf: `n_estimators`, integer in [4, 128]. With a fixed random_state the trees of a smaller
  forest are exactly the first trees of a larger one.
* hgb: `max_iter`, integer in [4, 64] boosting iterations; fitting is deterministic without early
  stopping, so a model at k iterations is the first k iterations of a longer fit.
* mlp: `max_iter`, integer in [4, 40] epochs, same initialization and batch order at every
  fidelity; sklearn may stop earlier when the training loss stalls (tol, n_iter_no_change=10).

Every fidelity is a separate, cheaper fit (no warm starts), the runner measures its time.

Second objective of MO / MOMF tasks (deterministic model size, mean over folds, minimized):
svm: support vectors; rf: tree nodes in the forest; hgb: leaves over all trees; mlp: weights +
biases; linear: non-zero coefficients (l1 / elasticnet make it trade off against the error).
Measured training time was not used as it would make the tasks noisy.

Seeds: splits, fidelity subsample orders and every estimator's random_state come from the task's
`seed` kwarg; the `seed` argument of `evaluate` is ignored by default (SMAC passes a
run-dependent seed even for deterministic tasks, which would give optimizers different
functions). With `use_trial_seed=True` a given evaluate seed sets the estimators' random_state
(splits stay fixed) and metadata.deterministic is False; no registered task does this.

Cost: every evaluation fits 1 (digits) or 3 models, on one core where OMP_NUM_THREADS=1 (make exports
it; HistGradientBoosting uses OpenMP otherwise); ranges are capped so the slowest corners stay around a second or two.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, InCondition, Integer

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective

TASK_TYPES = ("bb", "mf", "mo", "momf")
REGRESSION_ERROR_CAP = 2.0  # 1 - R^2 is clipped here (R^2 >= -1)


# --- datasets ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Dataset:
    loader: str  # sklearn.datasets function name
    classification: bool
    holdout: bool = False  # True: one stratified 2/3 : 1/3 split instead of 3-fold CV


DATASETS: dict[str, _Dataset] = {
    "digits": _Dataset("load_digits", True, holdout=True),
    "breast_cancer": _Dataset("load_breast_cancer", True),
    "wine": _Dataset("load_wine", True),
    "iris": _Dataset("load_iris", True),
    "diabetes": _Dataset("load_diabetes", False),
}


@cache
def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a dataset in DATASETS, loaded once per process; y standardized for regression.

    The arrays are read-only: they are shared by every task instance of the process.
    """
    import sklearn.datasets

    spec = DATASETS[name]
    X, y = getattr(sklearn.datasets, spec.loader)(return_X_y=True)
    X = np.ascontiguousarray(X, dtype=np.float64)
    if spec.classification:
        y = np.asarray(y, dtype=np.int64)
    else:
        y = np.asarray(y, dtype=np.float64)
        y = (y - y.mean()) / y.std()
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _splits(name: str, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    spec = DATASETS[name]
    X, y = load_dataset(name)
    if spec.holdout:
        train, test = train_test_split(np.arange(len(y)), test_size=1 / 3, random_state=seed,
                                       stratify=y if spec.classification else None)
        return [(np.sort(train), np.sort(test))]
    cv = (StratifiedKFold if spec.classification else KFold)(n_splits=3, shuffle=True, random_state=seed)
    return list(cv.split(X, y))


def _subsample_order(train: np.ndarray, y: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A fixed order of the training indices whose prefixes are (class-)stratified subsamples.

    Classification: each class is shuffled; its i-th member gets the key (i + 0.5) / n_class (the
    first member of each class -1), so every class comes first, then classes interleave in
    proportion to their size. Regression (y None): a plain permutation.
    """
    if y is None:
        return rng.permutation(train)
    labels = y[train]
    keys = np.empty(len(train))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = rng.permutation(members)
        k = (np.arange(len(members)) + 0.5) / len(members)
        k[0] = -1.0
        keys[members] = k
    tiebreak = rng.random(len(train))
    return train[np.lexsort((tiebreak, keys))]


# --- estimator families ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Family:
    """What differs between estimators: the space, how to build a model, size measure, fidelity."""

    space: Callable[[bool, int, bool], list]  # (classification, n_features, has_fidelity) -> hps + conditions
    build: Callable[[Mapping[str, Any], bool, int, float | None], Any]  # (config, cls, random_state, fidelity)
    fidelity: Fidelity
    fidelity_semantics: str
    scale: bool  # standardize features inside each fold
    size_name: str | None = None  # second objective (None: no MO tasks)
    size: Callable[[Any], float] | None = None
    iterations: Callable[[Any], int] | None = None  # trees / boosting iterations / epochs actually fitted
    names: tuple[str, str] = ("", "")  # estimator names (classification, regression)
    n_trials: int = 60


SUBSAMPLE = Fidelity("subsample", 0.1, 1.0, integer=False)
SUBSAMPLE_SEMANTICS = ("fraction of each training fold used for fitting (fixed, class-stratified order, so lower "
                       "fractions are prefixes of higher ones); test folds are complete; a separate fit per fidelity")


def _svm_space(cls: bool, n_features: int, has_fidelity: bool) -> list:
    kernel = Categorical("kernel", ["linear", "rbf", "poly", "sigmoid"], default="rbf")
    gamma = Float("gamma", (1e-4, 10.0), log=True, default=round(1.0 / n_features, 6))
    degree = Integer("degree", (2, 5), default=3)
    coef0 = Float("coef0", (-1.0, 1.0), default=0.0)
    hps = [kernel, Float("C", (1e-3, 1e3), log=True, default=1.0), gamma, degree, coef0]
    if not cls:
        hps.append(Float("epsilon", (1e-3, 1.0), log=True, default=0.1))
    return hps + [InCondition(gamma, kernel, ["rbf", "poly", "sigmoid"]), EqualsCondition(degree, kernel, "poly"),
                  InCondition(coef0, kernel, ["poly", "sigmoid"])]


def _svm_build(config: Mapping[str, Any], cls: bool, random_state: int, fidelity: float | None):
    from sklearn.svm import SVC, SVR

    kernel = config["kernel"]
    kw = dict(kernel=kernel, C=float(config["C"]), gamma=float(config.get("gamma", 1.0)),
              degree=int(config.get("degree", 3)), coef0=float(config.get("coef0", 0.0)), max_iter=1_000_000)
    if cls:
        return SVC(random_state=random_state, **kw)
    return SVR(epsilon=float(config["epsilon"]), **kw)


def _svm_size(model) -> float:
    est = model[-1]
    return float(len(est.support_))


def _rf_space(cls: bool, n_features: int, has_fidelity: bool) -> list:
    criteria = ["gini", "entropy"] if cls else ["squared_error", "friedman_mse", "absolute_error"]
    default_mf = round(max(0.05, math.sqrt(n_features) / n_features), 4) if cls else 1.0
    hps = [Categorical("criterion", criteria, default=criteria[0]),
           Integer("max_depth", (2, 32), log=True, default=32),
           Integer("min_samples_split", (2, 32), log=True, default=2),
           Integer("min_samples_leaf", (1, 16), log=True, default=1),
           Float("max_features", (0.05, 1.0), default=default_mf)]
    if not has_fidelity:
        hps.insert(0, Integer("n_estimators", (4, 128), log=True, default=100))
    return hps


def _rf_build(config: Mapping[str, Any], cls: bool, random_state: int, fidelity: float | None):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    n_estimators = int(round(fidelity)) if fidelity is not None else int(config["n_estimators"])
    kw = dict(n_estimators=n_estimators, criterion=config["criterion"], max_depth=int(config["max_depth"]),
              min_samples_split=int(config["min_samples_split"]), min_samples_leaf=int(config["min_samples_leaf"]),
              max_features=float(config["max_features"]), random_state=random_state, n_jobs=1)
    return (RandomForestClassifier if cls else RandomForestRegressor)(**kw)


def _rf_size(model) -> float:
    return float(sum(tree.tree_.node_count for tree in model.estimators_))


def _rf_iterations(model) -> int:
    return len(model.estimators_)


def _hgb_space(cls: bool, n_features: int, has_fidelity: bool) -> list:
    hps = [Float("learning_rate", (0.01, 1.0), log=True, default=0.1),
           Integer("max_leaf_nodes", (4, 64), log=True, default=31),
           Integer("min_samples_leaf", (1, 64), log=True, default=20),
           Float("l2_regularization", (1e-6, 10.0), log=True, default=1e-6)]
    if not has_fidelity:
        hps.insert(0, Integer("max_iter", (4, 64), log=True, default=64))
    return hps


def _hgb_build(config: Mapping[str, Any], cls: bool, random_state: int, fidelity: float | None):
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    max_iter = int(round(fidelity)) if fidelity is not None else int(config["max_iter"])
    kw = dict(max_iter=max_iter, learning_rate=float(config["learning_rate"]),
              max_leaf_nodes=int(config["max_leaf_nodes"]), min_samples_leaf=int(config["min_samples_leaf"]),
              l2_regularization=float(config["l2_regularization"]), early_stopping=False, random_state=random_state)
    return (HistGradientBoostingClassifier if cls else HistGradientBoostingRegressor)(**kw)


def _hgb_size(model) -> float:
    # sklearn keeps the fitted trees in the private `_predictors` (a list per iteration)
    return float(sum(p.get_n_leaf_nodes() for iteration in model._predictors for p in iteration))


def _hgb_iterations(model) -> int:
    return int(model.n_iter_)


MLP_EPOCHS = 40
MLP_BATCH = 32


def _mlp_space(cls: bool, n_features: int, has_fidelity: bool) -> list:
    return [Integer("n_layers", (1, 3), default=1),
            Integer("width", (8, 128), log=True, default=64),
            Float("alpha", (1e-6, 1e-1), log=True, default=1e-4),
            Float("learning_rate_init", (1e-4, 1e-1), log=True, default=1e-3),
            Categorical("activation", ["relu", "tanh", "logistic"], default="relu")]


def _mlp_build(config: Mapping[str, Any], cls: bool, random_state: int, fidelity: float | None):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    kw = dict(hidden_layer_sizes=(int(config["width"]),) * int(config["n_layers"]), alpha=float(config["alpha"]),
              learning_rate_init=float(config["learning_rate_init"]), activation=config["activation"],
              max_iter=int(round(fidelity)) if fidelity is not None else MLP_EPOCHS, batch_size=MLP_BATCH,
              solver="adam", random_state=random_state)
    return (MLPClassifier if cls else MLPRegressor)(**kw)


def _mlp_size(model) -> float:
    est = model[-1]
    return float(sum(w.size for w in est.coefs_) + sum(b.size for b in est.intercepts_))


def _mlp_iterations(model) -> int:
    return int(model[-1].n_iter_)


def _linear_space(cls: bool, n_features: int, has_fidelity: bool) -> list:
    strength = (Float("C", (1e-3, 1e3), log=True, default=1.0) if cls
                else Float("alpha", (1e-4, 1e2), log=True, default=1.0))
    penalty = Categorical("penalty", ["l2", "l1", "elasticnet"], default="l2")
    l1_ratio = Float("l1_ratio", (0.05, 0.95), default=0.5)
    return [strength, penalty, l1_ratio, EqualsCondition(l1_ratio, penalty, "elasticnet")]


def _linear_build(config: Mapping[str, Any], cls: bool, random_state: int, fidelity: float | None):
    from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge

    penalty = config["penalty"]
    l1_ratio = {"l2": 0.0, "l1": 1.0}.get(penalty) if penalty != "elasticnet" else float(config["l1_ratio"])
    if cls:
        solver = "lbfgs" if penalty == "l2" else "saga"
        return LogisticRegression(C=float(config["C"]), l1_ratio=l1_ratio, solver=solver, max_iter=100,
                                  random_state=random_state)
    alpha = float(config["alpha"])
    if penalty == "l2":
        return Ridge(alpha=alpha)
    if penalty == "l1":
        return Lasso(alpha=alpha, random_state=random_state)
    return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=random_state)


def _linear_size(model) -> float:
    return float(np.count_nonzero(model[-1].coef_))


def _knn_space(cls: bool, n_features: int, has_fidelity: bool) -> list:
    return [Integer("n_neighbors", (1, 32), log=True, default=5),
            Categorical("weights", ["uniform", "distance"], default="uniform"),
            Categorical("p", [1, 2, 3], default=2, ordered=True)]


def _knn_build(config: Mapping[str, Any], cls: bool, random_state: int, fidelity: float | None):
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    kw = dict(n_neighbors=int(config["n_neighbors"]), weights=config["weights"], p=int(config["p"]), n_jobs=1)
    return (KNeighborsClassifier if cls else KNeighborsRegressor)(**kw)


FAMILIES: dict[str, _Family] = {
    "svm": _Family(_svm_space, _svm_build, SUBSAMPLE, SUBSAMPLE_SEMANTICS, scale=True,
                   size_name="n_support_vectors", size=_svm_size, names=("SVC", "SVR"), n_trials=80),
    "rf": _Family(_rf_space, _rf_build, Fidelity("n_estimators", 4, 128, integer=True),
                  "number of trees, a separate fit per fidelity; with the fixed random_state a smaller forest's "
                  "trees are the first trees of a larger one", scale=False,
                  size_name="n_nodes", size=_rf_size, iterations=_rf_iterations,
                  names=("RandomForestClassifier", "RandomForestRegressor"), n_trials=80),
    "hgb": _Family(_hgb_space, _hgb_build, Fidelity("max_iter", 4, 64, integer=True),
                   "number of boosting iterations (no early stopping), a separate fit per fidelity; fitting is "
                   "deterministic, so k iterations equal the first k iterations of a longer fit", scale=False,
                   size_name="n_leaves", size=_hgb_size, iterations=_hgb_iterations,
                   names=("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"), n_trials=70),
    "mlp": _Family(_mlp_space, _mlp_build, Fidelity("max_iter", 4, MLP_EPOCHS, integer=True),
                   "maximum number of training epochs (Adam, batch size 32), a separate fit per fidelity from the "
                   "same initialization and batch order; training may stop earlier when the loss stalls",
                   scale=True, size_name="n_parameters", size=_mlp_size, iterations=_mlp_iterations,
                   names=("MLPClassifier", "MLPRegressor"), n_trials=80),
    "linear": _Family(_linear_space, _linear_build, SUBSAMPLE, SUBSAMPLE_SEMANTICS, scale=True,
                      size_name="n_nonzero_coefs", size=_linear_size,
                      names=("LogisticRegression", "Ridge/Lasso/ElasticNet"), n_trials=50),
    "knn": _Family(_knn_space, _knn_build, SUBSAMPLE, SUBSAMPLE_SEMANTICS, scale=True,
                   names=("KNeighborsClassifier", "KNeighborsRegressor"), n_trials=50),
}


class SklearnTask(ObjectiveFunction):
    """One estimator family (`estimator` in FAMILIES) on one dataset (DATASETS), as task type
    `task_type` (bb | mf | mo | momf). See the module docstring for spaces, protocol, fidelities."""

    def __init__(self, estimator: str, dataset: str, task_type: str = "bb", seed: int = 0,
                 use_trial_seed: bool = False) -> None:
        if estimator not in FAMILIES:
            raise ValueError(f"unknown estimator {estimator!r}; accepted: {', '.join(FAMILIES)}")
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}")
        if task_type not in TASK_TYPES:
            raise ValueError(f"unknown task type {task_type!r}; accepted: {', '.join(TASK_TYPES)}")
        self.estimator, self.dataset, self.kind = estimator, dataset, task_type
        self.seed, self.use_trial_seed = int(seed), bool(use_trial_seed)
        self._family = fam = FAMILIES[estimator]
        multi_objective = task_type in ("mo", "momf")
        if multi_objective and fam.size is None:
            raise ValueError(f"estimator {estimator!r} has no model-size objective, so no {task_type} tasks")
        spec = DATASETS[dataset]
        self._cls = spec.classification
        X, y = load_dataset(dataset)
        self.fidelity = fam.fidelity if task_type in ("mf", "momf") else None
        self._subsample = self.fidelity is not None and self.fidelity.name == "subsample"

        space = ConfigurationSpace(name=f"sklearn_{estimator}_{dataset}_{task_type}")
        space.add(fam.space(self._cls, X.shape[1], self.fidelity is not None))
        self.configspace = space
        self.objectives = (Objective("error"),) + ((Objective(fam.size_name),) if multi_objective else ())

        self._splits = _splits(dataset, self.seed)
        self._orders = None
        if self._subsample:
            rng = np.random.default_rng([self.seed, 7])
            self._orders = [_subsample_order(train, y if self._cls else None, rng) for train, _ in self._splits]
        self._min_train = 2 * len(np.unique(y)) if self._cls else 10

        metric = "1 - accuracy" if self._cls else f"1 - R^2 (clipped at {REGRESSION_ERROR_CAP:g})"
        protocol = ("stratified 2/3 : 1/3 holdout" if spec.holdout
                    else f"{'stratified ' if self._cls else ''}3-fold CV (shuffled)")
        extra = {"estimator": fam.names[0 if self._cls else 1], "dataset": dataset, "metric": metric,
                 "protocol": f"{protocol}, seed {self.seed}", "n_samples": int(X.shape[0]),
                 "n_features": int(X.shape[1])}
        if multi_objective:
            extra["size_measure"] = fam.size_name
        self.metadata = ObjectiveMetadata(
            domain="ml", approximation="real", deterministic=not self.use_trial_seed, optimum=None,
            fidelity_semantics=fam.fidelity_semantics if self.fidelity is not None else None, extra=extra)

    def _random_state(self, seed: int | None) -> int:
        if self.use_trial_seed and seed is not None:
            return int(seed) & 0x7FFFFFFF
        return self.seed

    def _model(self, config: Mapping[str, Any], random_state: int, fidelity: float | None):
        model = self._family.build(config, self._cls, random_state, fidelity)
        if self._family.scale:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            model = make_pipeline(StandardScaler(), model)
        return model

    def _error(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        if self._cls:
            return float(np.mean(y_true != y_pred))
        if not np.all(np.isfinite(y_pred)):
            return REGRESSION_ERROR_CAP
        ss_res = float(np.sum((y_true - y_pred) ** 2))
        ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
        return min(REGRESSION_ERROR_CAP, ss_res / ss_tot)

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        X, y = load_dataset(self.dataset)
        fid = self.fidelity
        level = None if fid is None else (fid.max if fidelity is None else float(fidelity))
        random_state = self._random_state(seed)
        errors, sizes, n_train, n_iter = [], [], [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning, overflow in kernels, ...: the runner records results
            for k, (train, test) in enumerate(self._splits):
                if self._subsample:
                    n = max(self._min_train, int(round(level * len(train))))
                    train = self._orders[k][:n]
                cfg = config
                if self.estimator == "knn" and int(config["n_neighbors"]) > len(train):
                    cfg = {**dict(config), "n_neighbors": len(train)}
                model = self._model(cfg, random_state, None if self._subsample else level)
                model.fit(X[train], y[train])
                errors.append(self._error(y[test], model.predict(X[test])))
                if len(self.objectives) > 1:
                    sizes.append(self._family.size(model))
                n_train.append(len(train))
                if self._family.iterations is not None:
                    n_iter.append(self._family.iterations(model))
        values = (float(np.mean(errors)),) + ((float(np.mean(sizes)),) if sizes else ())
        info = {"fold_errors": errors, "n_train": n_train}
        if n_iter:
            info["n_iter"] = n_iter
        return Evaluation(values=values, info=info)


def _supported(estimator: str, task_type: str) -> bool:
    return task_type in ("bb", "mf") or FAMILIES[estimator].size is not None


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(id=f"sklearn/{e}_{d}_{t}", target="benchmarks.sklearn_ml.SklearnTask",
                 kwargs={"estimator": e, "dataset": d, "task_type": t}, n_trials=FAMILIES[e].n_trials)
        for e in FAMILIES for d in DATASETS for t in TASK_TYPES if _supported(e, t)
    ]
