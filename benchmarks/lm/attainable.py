"""What a held-out surrogate can attain on a dataset: the yardstick next to the noise ceiling.

The noise ceiling (benchmarks.lm.report) is the rank correlation of the *true* means with the observed
targets. A surrogate evaluated held out knows no true mean: it learns from the other folds' noisy
targets, so it falls short of the ceiling even when its model of the landscape is exactly right. How far
short, at a dataset's design (which configurations, how many seeds, which folds) and noise, is measured
here by simulation with a model that is right by construction:

    truth     the tasks' final-loss GP (gp model; the kernel hyperparameters of `<dataset>.gp-kernel.json`,
              or searched where there is none) fitted on the dataset's converged configurations: its
              in-sample posterior mean of each one's final loss, a smooth function that this GP, with
              these hyperparameters, represents exactly (on ln(final loss) where the surrogate has its
              own final-loss GP, version 3+; on the final loss otherwise, as version 1)
    noise     each draw adds noise from the report's noise model (seed offsets, residual pools, the
              shape's share; report.NoiseModel) to the truth: one synthetic dataset
    refit     the same GP, hyperparameters fixed at the truth's (no search: the model is told the right
              kernel; or, with Attainable(search=True), searched in each fold as the report's
              cross-validation does for the gp: about 4 s per synthetic dataset instead of 0.05),
              fitted in GroupKFold folds as the report's cross-validation (held-out mask: the others
              always in training), predicting the held-out configurations
    figure    Spearman of the held-out predictions against the synthetic observations over the best k by
              observation (k as for the report's figure on the real data: diverged configurations are
              never among the best; "all" is every converged configuration held out), mean and sd over
              ATTAINABLE_DRAWS synthetic datasets

So the figure is what a surrogate that is right about the landscape's form (and, by default, told its
smoothness) attains from data of this size and noise: an optimistic reference (the truth is as smooth
as the fit itself; a rougher truth, a posterior sample, gave lower figures: mean top-10 % 0.42 against
0.48 over the 10 instances, 2026-12-07, out of tree). Fixed seeds: it repeats exactly.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import surrogate as sg

ATTAINABLE_DRAWS = 16
ATTAINABLE_SEED = 3


@dataclass(frozen=True)
class Attainable:
    """How the attainable figure is computed: synthetic datasets, and whether the refit searches its kernel."""

    draws: int = ATTAINABLE_DRAWS
    search: bool = False

    def describe(self) -> str:
        kernel = "its kernel searched in each fold" if self.search else "its kernel fixed at the truth's"
        return f"{kernel}, {self.draws} synthetic datasets"


def final_loss_kernel(dataset: sg.Dataset) -> tuple[dict[str, Any], bool]:
    """The hyperparameters of the tasks' final-loss GP on `dataset` (shipped file, else one search) and
    whether it models ln(final loss) (its own final-loss GP) or the final loss (version 1's shared GP)."""
    from . import fitted_kernel

    params = fitted_kernel.load(dataset)
    if params is None:
        params = sg.fit(dataset, "gp").model.kernel_params
    final = {k[len(sg.FINAL_KERNEL):]: v for k, v in params.items() if k.startswith(sg.FINAL_KERNEL)}
    return (final, True) if final else (params, False)


def predict_final(params: Mapping[str, Any] | None, log: bool, x_train: np.ndarray, y_train: np.ndarray,
                  x_test: np.ndarray) -> np.ndarray:
    """The final-loss GP, standardized as the surrogate does, fitted and predicting: hyperparameters fixed at
    `params`, or searched by maximum marginal likelihood as the surrogate does (params None)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from threadpoolctl import threadpool_limits

    mu, sd = x_train.mean(0), x_train.std(0) + 1e-9
    t = np.log(y_train) if log else np.asarray(y_train, dtype=float)
    t_mu, t_sd = t.mean(), t.std() + 1e-9
    xs, ts, kernel = (x_train - mu) / sd, (t - t_mu) / t_sd, sg.gp_kernel(x_train.shape[1])
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a length scale at its bound, as in the surrogate
        gp = (GaussianProcessRegressor(kernel, random_state=sg.RANDOM_STATE).fit(xs, ts) if params is None
              else sg._fixed_gp(kernel, params, xs, ts))
        out = gp.predict((x_test - mu) / sd) * t_sd + t_mu
    return np.exp(out) if log else out


def attainable_fidelity(dataset: sg.Dataset, noise_model: Any, counts: Sequence[int],
                        among: np.ndarray | None = None, n_splits: int = 5, how: Attainable = Attainable(),
                        seed: int = ATTAINABLE_SEED) -> list[dict[str, Any]]:
    """Per count k: the held-out Spearman over the best k that a correctly specified GP attains on synthetic
    data of this dataset's design and noise (module docstring), mean and sd over draws. `among`: the
    configurations held out (the others always in training); `noise_model`: report.NoiseModel over all
    configurations."""
    from sklearn.model_selection import GroupKFold

    converged = dataset.diverged_share == 0
    tested = converged & (np.ones(dataset.n_configs, dtype=bool) if among is None else np.asarray(among, dtype=bool))
    nan = [{"n": k, "spearman": math.nan, "spearman_sd": math.nan} for k in counts]
    if noise_model is None or tested.sum() < max(3, n_splits):
        return nan
    params, log = final_loss_kernel(dataset)
    x = sg.features(dataset.hparams)[converged]
    truth = predict_final(params, log, x, dataset.curves[converged, -1], x)
    noise = noise_model.rows(converged)
    test_rows = np.flatnonzero(tested[converged])
    always = np.flatnonzero(~tested[converged])
    groups = np.asarray(dataset.config_ids)[converged][test_rows]
    folds = [(np.concatenate([test_rows[a], always]), test_rows[b])
             for a, b in GroupKFold(n_splits=n_splits).split(test_rows, groups=groups)]
    rng = np.random.default_rng(seed)
    rho = np.full((how.draws, len(counts)), math.nan)
    for d in range(how.draws):
        observed = truth + noise.target_draws(rng, 1)[0]
        predicted = np.empty_like(observed)
        for train, test in folds:
            predicted[test] = predict_final(None if how.search else params, log, x[train], observed[train],
                                            x[test])
        best = test_rows[np.argsort(observed[test_rows], kind="stable")]
        for j, k in enumerate(counts):
            if k >= 3:
                rho[d, j] = sg.heldout_metrics(observed[best[:k]], predicted[best[:k]])["spearman"]
    return [{"n": min(k, len(test_rows)), "spearman": float(np.nanmean(r)) if np.isfinite(r).any() else math.nan,
             "spearman_sd": float(np.nanstd(r)) if np.isfinite(r).any() else math.nan}
            for k, r in zip(counts, rho.T)]
