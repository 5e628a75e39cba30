"""Learned surrogates of tiny-LM learning curves, fitted on the recorded runs (benchmarks/lm/data).

A surrogate maps the hyperparameters of one run (learning_rate, batch_size, warmup_fraction,
weight_decay, beta2, schedule, d_model, n_layers) to its validation-loss curve: the loss at each of
the k recorded checkpoint token counts c_0 < ... < c_{k-1} (tokens/64 ... tokens, log-spaced; the
"checkpoints of one fixed-horizon run" of benchmarks.lm.train). It is fitted deterministically,
from the shipped data, the first time a process needs it (cached per process): no weights file, no
pickle; the dataset's sha256 and SURROGATE_VERSION name what a result came from. gp's kernel
hyperparameters (15 numbers per GP, 30 where a final-loss GP joins it; `<dataset>.gp-kernel.json`, benchmarks.lm.fitted_kernel) are shipped,
so a process skips their 3.5 s search and fits in milliseconds; without a matching file it searches.

Data (``load_dataset``): complete JSON lines of the dataset file (a line that does not parse, e.g. the
cut-off last line of a sweep still writing, is skipped); runs whose profile or checkpoint tokens
differ from the majority are left out. ``Dataset.sha256`` is the sha256 of the lines used (each
with its newline): the file's own sha256 once the file is complete and clean.

Target: the monotone curve of a run (the quantity every surrogate here predicts)
    converged run: y_i = min(ln 256, min_{j <= i} L_j)  (best validation loss so far: a transient
                   spike is dropped; it equals the measured L_i wherever the curve already falls)
    diverged run:  y_i = ln 256 at every checkpoint (DIVERGED_LOSS, the trainer's divergence level)
so every target curve is non-increasing in tokens and the final value of a diverged run is the
divergence level, as recorded. A configuration's target is the mean over its seeds (configurations
with several seeds count once). Simplification, stated in task metadata: a configuration that
diverges is reported at the divergence level at every fidelity, although its real early checkpoints
looked fine (a multi-fidelity optimizer can spot divergence cheaply here).

Features (``features``), N = non-embedding parameters (benchmarks.lm.model):
    ln lr, ln(lr N^0.713) (Step-Law-normalized lr: eta* ~ N^-0.713), ln N, ln d_model, n_layers,
    ln batch_size, warmup_fraction, weight_decay, ln(1 - beta2), schedule one-hot (cosine, linear,
    constant, wsd). Measured with the gp model at 99 configurations (held out, final budget):
    without the Step-Law lr R^2 0.82 / Spearman 0.89; with it 0.85 / 0.92; adding ln d_model and
    n_layers (depth and width apart, not only N) 0.87 / 0.93. Trees gain from the Step-Law lr too.
Tokens are the output axis (one output per checkpoint), not an input, except in "et_stacked".

Models (``MODELS``; the tasks use DEFAULT_MODEL = "gp", chosen on held-out metrics, see the report):
    gp          one Gaussian process (sklearn; kernel C * Matern-5/2 with one length scale per feature
                + white noise, hyperparameters by maximum marginal likelihood, no restarts) on
                standardized features and standardized (final loss, increments y_i - y_{i+1}), all
                outputs sharing the kernel; increments clipped at 0, curve = final + cumulative
                increments: non-increasing by construction. Where runs diverged (version 2+): diverged
                configurations (any seed diverged) are left out of the GP and modelled apart, as in et_div
                (p = ExtraTrees on the share of diverged seeds, prediction p ln 256 + (1 - p) GP curve:
                a stationary GP fitted through ln 256 next to 2-3 nats shortens its length scales
                everywhere), and a second GP with its own kernel predicts ln(final loss), the quantity the
                tasks are ranked on (versions 3, 4). On a dataset with no diverged run (runs-cpu-v1) the
                model is version 1's, bit for bit (``surrogate_version``). Why each step, and the held-out
                figures that chose gp: docs/tasks.md (LM tasks) and `make lm-report`.
    et          ExtraTreesRegressor, multi-output over the k checkpoints. A forest's prediction is a
                weighted average of training curves, so it is non-increasing by construction.
    et_div      divergence model + regressor: p = ExtraTrees on the share of diverged seeds, curve =
                ExtraTrees on the converged configurations only; prediction p ln 256 + (1 - p) curve
                (a mix of non-increasing curves with non-negative weights: non-increasing). Equal to
                `et` when no run diverged (the cpu data: 0 of 288; the trainer's divergence test needs a
                sustained loss above ln 256 + 1, which lr <= 0.1 with clipping does not reach).
    gbm         GradientBoosting, one model for the final loss and one per non-negative increment;
                increments clipped at 0, assembled as for gp.
    mlp         an ensemble of 5 MLPRegressors on standardized (final, increments), same assembly.
    et_stacked  ExtraTrees on (features, ln tokens) rows, one row per checkpoint; monotone only after
                a running minimum over checkpoints (reported raw and fixed).
Every prediction is clipped to [0, ln 256] (clipping keeps a curve non-increasing). Fixed
random_state, n_jobs 1: two fits on the same data give identical predictions (same machine and
library versions; across BLAS builds the last bits may differ).

Between checkpoints the curve is interpolated linearly in ln tokens (``predict_at``; clipped to
[c_0, c_{k-1}]), which keeps it non-increasing.

Training time (``predict_train_seconds``): a least-squares fit on all runs of
    ln(train_time_s / tokens_trained) = a + b ln(flops_per_token) + c ln(batch_size seq_len),
times the tokens: the predicted training wall time (evaluation excluded) on the machine that made
the data (timings on a shared 2-core CPU: noisy, for cost-aware optimizers, not a benchmark).

Seed spread (``seed_spread``): pooled standard deviation over seeds of ln(final loss), over the
configurations with several seeds all converged; the tasks' optional noise multiplies a whole curve
by exp(noise * spread * z), z ~ N(0, 1) (one draw per run: monotone stays monotone).

Held-out evaluation (``cross_validate``): GroupKFold by configuration id (all seeds of a
configuration in one fold), the model fitted on the other folds' configurations, metrics per
checkpoint against the held-out configurations' target curves (``heldout_metrics``: R^2, Spearman,
Kendall). `python -m benchmarks.lm.report` prints them for every model.

Datasets: every `runs-*.jsonl` under data/ loads the same way: the original `cpu` instance
(runs-cpu-v1) and each tinylm instance (runs-<instance>.jsonl, benchmarks.lm.sweep.INSTANCES; these
have diverged runs, 8-14 per instance, so `et_div` differs from `et` there). Each gets its own fit.

Landscape (``landscape``, ``python -m benchmarks.lm.surrogate [DATASET ...]``): diverged runs, where
the best measured configurations lie, the surrogate's optimal learning rate and batch size per model
size, the slope of ln lr* in ln N (Step Law: -0.713) and the loss increase at lr* x 2^k; the numbers
behind docs/tasks.md "tinylm instances".
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .model import flops_per_token, non_embedding_params
from .train import DIVERGED_LOSS, SCHEDULES

#: gp where runs diverged (issue 22; see surrogate_version() for which tasks report it): "2" modelled
#: divergence apart, "3" also predicts the final loss with its own kernel, "4" fits that kernel's GP to
#: the log of the final loss
SURROGATE_VERSION = "4"
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DATASET = DATA_DIR / "runs-cpu-v1.jsonl"
STEP_LAW_LR_EXPONENT = 0.713  # eta* ~ N^-0.713 (Step Law, LM_NOTES)
FEATURE_NAMES = ("ln_lr", "ln_lr_steplaw", "ln_params", "ln_d_model", "n_layers", "ln_batch", "warmup_fraction",
                 "weight_decay", "ln_one_minus_beta2", *(f"schedule_{s}" for s in SCHEDULES))
RANDOM_STATE = 0
MONOTONE_TOL = 1e-12


# --- data ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """Runs of one dataset file, grouped by configuration (one row per configuration)."""

    path: Path
    sha256: str
    runs: tuple[dict, ...]
    checkpoint_tokens: tuple[int, ...]
    config_ids: tuple[str, ...]
    hparams: tuple[dict, ...]  # one per configuration
    curves: np.ndarray  # (n_configs, k) target curves, mean over seeds
    diverged_share: np.ndarray  # (n_configs,) share of diverged seeds
    n_seeds: np.ndarray  # (n_configs,)
    skipped_lines: int = 0
    manifest: dict = field(default_factory=dict)

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    @property
    def n_configs(self) -> int:
        return len(self.config_ids)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def from_refine(self) -> np.ndarray:
        """Per configuration: added by the sweep's refine stage (benchmarks.lm.design), not by its Sobol stage."""
        from .design import ID_PREFIX

        return np.array([cid.startswith(ID_PREFIX) for cid in self.config_ids], dtype=bool)

    @property
    def n_diverged(self) -> int:
        """Runs that diverged."""
        return sum(bool(r["diverged"]) for r in self.runs)


def shipped_datasets() -> list[Path]:
    """Every run dataset under data/ (runs-*.jsonl: the cpu instance and each tinylm instance), by name."""
    return sorted(DATA_DIR.glob("runs-*.jsonl"))


def target_curve(record: Mapping[str, Any]) -> np.ndarray:
    """The monotone target of one run (module docstring): best-so-far loss, or ln 256 if diverged."""
    val = np.asarray(record["val_loss"], dtype=float)
    if record["diverged"] or not np.all(np.isfinite(val)):
        return np.full(len(val), DIVERGED_LOSS)
    return np.minimum.accumulate(np.minimum(val, DIVERGED_LOSS))


def _read_lines(path: Path) -> tuple[list[dict], str, int]:
    """Parsed records, sha256 of the lines used, number of lines skipped."""
    raw = path.read_bytes()
    digest, records, skipped = hashlib.sha256(), [], 0
    for line in raw.split(b"\n")[:-1]:  # the last piece has no newline: complete or empty, never used
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            skipped += 1
            continue
        digest.update(line + b"\n")
    if raw and not raw.endswith(b"\n"):
        skipped += 1
    return records, digest.hexdigest(), skipped


def load_dataset(path: Path | str = DEFAULT_DATASET) -> Dataset:
    """Read a runs file (see the module docstring for what is kept) and group it by configuration."""
    path = Path(path)
    records, sha, skipped = _read_lines(path)
    if not records:
        raise ValueError(f"{path}: no complete run records")
    key = Counter((r.get("profile"), tuple(r["checkpoint_tokens"])) for r in records).most_common(1)[0][0]
    runs = [r for r in records if (r.get("profile"), tuple(r["checkpoint_tokens"])) == key]
    by_config = group_by_config(runs)
    ids = sorted(by_config)
    curves = np.array([np.mean([target_curve(r) for r in by_config[c]], axis=0) for c in ids])
    manifest_path = path.with_name(path.name.removesuffix(".jsonl") + ".manifest.json")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return Dataset(
        path=path, sha256=sha, runs=tuple(runs), checkpoint_tokens=tuple(int(t) for t in key[1]), config_ids=tuple(ids),
        hparams=tuple(by_config[c][0]["hparams"] for c in ids), curves=curves,
        diverged_share=np.array([np.mean([bool(r["diverged"]) for r in by_config[c]]) for c in ids]),
        n_seeds=np.array([len(by_config[c]) for c in ids]), skipped_lines=skipped, manifest=manifest)


def group_by_config(runs: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """Runs per configuration id, in the order the ids first appear (seeds in file order)."""
    groups: dict[str, list] = {}
    for r in runs:
        groups.setdefault(r["config_id"], []).append(r)
    return groups


def features(hparams: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Feature matrix (len(hparams), len(FEATURE_NAMES)); see the module docstring."""
    rows = []
    for hp in hparams:
        n = non_embedding_params(int(hp["d_model"]), int(hp["n_layers"]))
        lr = float(hp["learning_rate"])
        sched = [1.0 if hp["schedule"] == s else 0.0 for s in SCHEDULES]
        if sum(sched) != 1.0:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {hp['schedule']!r}")
        rows.append([math.log(lr), math.log(lr) + STEP_LAW_LR_EXPONENT * math.log(n), math.log(n),
                     math.log(int(hp["d_model"])), float(hp["n_layers"]), math.log(float(hp["batch_size"])), float(hp["warmup_fraction"]), float(hp["weight_decay"]),
                     math.log(1.0 - float(hp["beta2"])), *sched])
    return np.array(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))


# --- curve models ------------------------------------------------------------------------------------
def _extra_trees(**kw):
    from sklearn.ensemble import ExtraTreesRegressor

    return ExtraTreesRegressor(**{"n_estimators": 300, "min_samples_leaf": 2, "max_features": 1.0,
                                  "random_state": RANDOM_STATE, "n_jobs": 1, **kw})


def _to_increments(curves: np.ndarray) -> np.ndarray:
    """(final, y_{k-2} - y_{k-1}, ..., y_0 - y_1): the final loss and the non-negative steps back."""
    return np.column_stack([curves[:, -1], (curves[:, :-1] - curves[:, 1:])[:, ::-1]])


def _from_increments(z: np.ndarray) -> np.ndarray:
    """Inverse of _to_increments with the increments clipped at 0: non-increasing by construction."""
    steps = np.maximum(z[:, 1:], 0.0)
    back = z[:, :1] + np.cumsum(steps, axis=1)
    return np.column_stack([back[:, ::-1], z[:, 0]])


def _mix_diverged(p_model, X: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """P(diverged) ln 256 + (1 - P) curve, P from a regressor fitted on the share of diverged seeds: a mix of
    non-increasing curves with non-negative weights, so non-increasing."""
    p = np.clip(p_model.predict(X), 0.0, 1.0)[:, None]
    return p * DIVERGED_LOSS + (1.0 - p) * curves


class ExtraTreesCurves:
    """`et`: multi-output ExtraTrees over the checkpoint losses."""

    name = "et"

    def fit(self, X, curves, diverged_share):
        self.model = _extra_trees().fit(X, curves)
        return self

    def predict(self, X):
        return self.model.predict(X)


class DivergenceMixture:
    """`et_div`: P(diverged) times ln 256 plus (1 - P) times a curve fitted on converged configurations."""

    name = "et_div"

    def fit(self, X, curves, diverged_share):
        self.p = _extra_trees().fit(X, diverged_share)
        ok = diverged_share == 0
        self.curve = _extra_trees().fit(X[ok] if ok.any() else X, curves[ok] if ok.any() else curves)
        return self

    def predict(self, X):
        return _mix_diverged(self.p, X, self.curve.predict(X))


class BoostedIncrements:
    """`gbm`: gradient boosting on the final loss and on each increment (clipped at 0)."""

    name = "gbm"

    def fit(self, X, curves, diverged_share):
        from sklearn.ensemble import GradientBoostingRegressor

        z = _to_increments(curves)
        self.models = [GradientBoostingRegressor(n_estimators=300, learning_rate=0.05, max_depth=3, subsample=0.8,
                                                 random_state=RANDOM_STATE).fit(X, z[:, j]) for j in range(z.shape[1])]
        return self

    def predict(self, X):
        return _from_increments(np.column_stack([m.predict(X) for m in self.models]))


class MLPIncrements:
    """`mlp`: 5 MLPs (64, 64; L-BFGS, L2 1.0; seeds 0-4) on standardized features and (final, increments), averaged."""

    name = "mlp"
    members = 5

    def fit(self, X, curves, diverged_share):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        z = _to_increments(curves)
        self.x_mu, self.x_sd = X.mean(0), X.std(0) + 1e-9
        self.z_mu, self.z_sd = z.mean(0), z.std(0) + 1e-9
        xs, zs = (X - self.x_mu) / self.x_sd, (z - self.z_mu) / self.z_sd
        with warnings.catch_warnings():  # lbfgs stops at max_iter: the cap is the regularization here
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.models = [MLPRegressor(hidden_layer_sizes=(64, 64), solver="lbfgs", alpha=1.0, max_iter=500,
                                        random_state=RANDOM_STATE + i).fit(xs, zs) for i in range(self.members)]
        return self

    def predict(self, X):
        xs = (X - self.x_mu) / self.x_sd
        zs = np.mean([m.predict(xs).reshape(len(X), -1) for m in self.models], axis=0)
        return _from_increments(zs * self.z_sd + self.z_mu)


#: key prefix of the final-loss GP's hyperparameters in one flat kernel_params dict (fitted_kernel's file)
FINAL_KERNEL = "final:"


def gp_kernel(n_features: int):
    """The gp model's kernel (each of its GPs): C x Matern-5/2 with one length scale per feature + white noise."""
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.ones(n_features), (1e-2, 1e3), nu=2.5)
            + WhiteKernel(1e-2, (1e-6, 1.0)))


def _fixed_gp(kernel, params: Mapping[str, Any], xs: np.ndarray, ys: np.ndarray):
    """A GaussianProcessRegressor with `kernel`'s hyperparameters set to `params` and not searched."""
    from sklearn.base import clone
    from sklearn.gaussian_process import GaussianProcessRegressor

    fixed = clone(kernel).set_params(**{k: np.asarray(v, dtype=float) if isinstance(v, list) else float(v)
                                        for k, v in params.items()})
    return GaussianProcessRegressor(fixed, optimizer=None, random_state=RANDOM_STATE).fit(xs, ys)


class GaussianProcessIncrements:
    """`gp`: one Gaussian process (shared ARD Matern 5/2 kernel) on standardized features and (final, increments)
    of the converged configurations, mixed with P(diverged) from ExtraTrees where some diverged; there the final
    loss is predicted by a second GP with its own kernel (version 3), fitted to ln(final loss) (version 4).
    Why the log: the final losses are skewed (a long tail of runs near the unigram plateau above a dense
    good region); on the log scale a stationary kernel resolves the good region better (held out, top-decile
    Spearman up on 8 of 8 instances, docs/tasks.md)."""

    name = "gp"

    def fit(self, X, curves, diverged_share, kernel_params=None):
        """Search the kernels' hyperparameters (slow), or take `kernel_params` (benchmarks.lm.fitted_kernel:
        the shared kernel's, then the final-loss kernel's under FINAL_KERNEL), then factorize with them fixed:
        the same last step either way, so both give the same model."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from threadpoolctl import threadpool_limits

        from .fitted_kernel import kernel_params as params_of

        converged = diverged_share == 0
        # version 1's model where nothing diverged (runs-cpu-v1: its shipped baselines stay comparable)
        own_final = not converged.all()
        if converged.all() or not converged.any():
            self.p_diverged = None
        else:
            self.p_diverged = _extra_trees().fit(X, diverged_share)
            X, curves = X[converged], curves[converged]
        z = _to_increments(curves)
        self.x_mu, self.x_sd = X.mean(0), X.std(0) + 1e-9
        self.z_mu, self.z_sd = z.mean(0), z.std(0) + 1e-9
        xs, zs = (X - self.x_mu) / self.x_sd, (z - self.z_mu) / self.z_sd
        kernel = gp_kernel(X.shape[1])
        if kernel_params is not None and own_final != any(k.startswith(FINAL_KERNEL) for k in kernel_params):
            kernel_params = None  # written for the other model version: search
        self.hyperparameters_from = "shipped" if kernel_params is not None else "search"
        if own_final:  # the final-loss GP's own target: ln(final loss), standardized
            log_final = np.log(curves[:, -1])
            self.f_mu, self.f_sd = log_final.mean(), log_final.std() + 1e-9
        targets = {"": zs, **({FINAL_KERNEL: (log_final - self.f_mu) / self.f_sd} if own_final else {})}
        params: dict[str, Any] = {}
        self.gps = {}
        # one BLAS thread: the search's result depends on the thread count (1e-4 relative between 1 and 2)
        with threadpool_limits(limits=1):
            for prefix, ys in targets.items():
                if kernel_params is None:
                    with warnings.catch_warnings():  # a length scale at its bound: that input hardly matters
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        searched = GaussianProcessRegressor(kernel, random_state=RANDOM_STATE).fit(xs, ys)
                    own = params_of(searched.kernel_)
                else:
                    own = {k[len(prefix):]: v for k, v in kernel_params.items()
                           if k.startswith(prefix) and (prefix or not k.startswith(FINAL_KERNEL))}
                params.update({prefix + k: v for k, v in own.items()})
                self.gps[prefix] = _fixed_gp(kernel, own, xs, ys)
        self.kernel_params = params
        return self

    @property
    def log_marginal_likelihood(self) -> float:
        """Of the whole model: the sum over its GPs (independent models of different targets)."""
        return float(sum(gp.log_marginal_likelihood_value_ for gp in self.gps.values()))

    def predict(self, X):
        # row by row: a batched matrix product may round differently, and a batch must equal its rows
        xs = (X - self.x_mu) / self.x_sd
        zs = np.vstack([self.gps[""].predict(xs[i:i + 1]).reshape(1, -1) for i in range(len(xs))])
        z = zs * self.z_sd + self.z_mu
        if FINAL_KERNEL in self.gps:
            log_final = np.array([self.gps[FINAL_KERNEL].predict(xs[i:i + 1])[0] for i in range(len(xs))])
            z[:, 0] = np.exp(log_final * self.f_sd + self.f_mu)
        curves = _from_increments(z)
        return curves if self.p_diverged is None else _mix_diverged(self.p_diverged, X, curves)


class StackedExtraTrees:
    """`et_stacked`: ExtraTrees on (features, ln tokens), one row per checkpoint; running minimum after."""

    name = "et_stacked"

    def fit(self, X, curves, diverged_share):
        k = curves.shape[1]
        self.log_tokens = np.log(self.tokens[:k])
        self.model = _extra_trees().fit(self._rows(X), curves.reshape(-1))
        return self

    def _rows(self, X):
        k = len(self.log_tokens)
        return np.column_stack([np.repeat(X, k, axis=0), np.tile(self.log_tokens, len(X))])

    def predict_raw(self, X):
        return self.model.predict(self._rows(X)).reshape(len(X), -1)

    def predict(self, X):
        return np.minimum.accumulate(self.predict_raw(X), axis=1)


MODELS = {m.name: m for m in (GaussianProcessIncrements, ExtraTreesCurves, DivergenceMixture, BoostedIncrements,
                              MLPIncrements, StackedExtraTrees)}
DEFAULT_MODEL = "gp"


def make_model(name: str, checkpoint_tokens: Sequence[int]):
    if name not in MODELS:
        raise ValueError(f"unknown surrogate model {name!r}; accepted: {', '.join(MODELS)}")
    model = MODELS[name]()
    model.tokens = np.asarray(checkpoint_tokens, dtype=float)
    return model


def surrogate_version(model: str, dataset: Dataset) -> str:
    """The version a surrogate reports: "1" where the current version computes version 1's function (every model
    but gp, and gp on a dataset with no diverged run), so tasks and baselines made with version 1 stay comparable
    (their task fingerprint includes it); SURROGATE_VERSION otherwise."""
    return SURROGATE_VERSION if model == "gp" and bool(np.any(dataset.diverged_share > 0)) else "1"


def clip_curves(curves: np.ndarray) -> np.ndarray:
    return np.clip(curves, 0.0, DIVERGED_LOSS)


# --- the fitted surrogate ----------------------------------------------------------------------------
@dataclass
class CurveSurrogate:
    """A curve model fitted on one dataset, with the training-time model and the seed spread."""

    dataset: Dataset
    model_name: str
    model: Any
    time_coef: np.ndarray
    seed_spread: float

    @property
    def checkpoint_tokens(self) -> tuple[int, ...]:
        return self.dataset.checkpoint_tokens

    def describe(self) -> dict[str, Any]:
        return {"surrogate_version": surrogate_version(self.model_name, self.dataset), "model": self.model_name,
                "dataset": self.dataset.name, "dataset_sha256": self.dataset.sha256,
                "n_runs": self.dataset.n_runs, "n_configs": self.dataset.n_configs}

    def predict_curves(self, hparams: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, k) predicted losses at the checkpoint tokens, non-increasing along each row."""
        if len(hparams) == 0:
            return np.zeros((0, len(self.checkpoint_tokens)))
        return clip_curves(self.model.predict(features(hparams)))

    def predict_at(self, hparams: Sequence[Mapping[str, Any]], tokens: Sequence[float] | float) -> np.ndarray:
        """Loss after `tokens` training tokens (per row, or one value for all), interpolated in ln tokens."""
        curves = self.predict_curves(hparams)
        t = np.broadcast_to(np.asarray(tokens, dtype=float), (len(curves),))
        return interpolate(curves, self.checkpoint_tokens, t)

    def predict_train_seconds(self, hparams: Sequence[Mapping[str, Any]], tokens: Sequence[float] | float) -> np.ndarray:
        """Predicted training wall time (s) for `tokens` tokens on the machine that recorded the data."""
        t = np.broadcast_to(np.asarray(tokens, dtype=float), (len(hparams),))
        return np.exp(_time_design(hparams) @ self.time_coef) * t


def interpolate(curves: np.ndarray, checkpoint_tokens: Sequence[int], tokens: np.ndarray) -> np.ndarray:
    """Row-wise linear interpolation in ln tokens, clipped to the checkpoint range."""
    x = np.log(np.asarray(checkpoint_tokens, dtype=float))
    q = np.clip(np.log(np.asarray(tokens, dtype=float)), x[0], x[-1])
    j = np.clip(np.searchsorted(x, q, side="right") - 1, 0, len(x) - 2)
    w = (q - x[j]) / (x[j + 1] - x[j])
    rows = np.arange(len(curves))
    return (1.0 - w) * curves[rows, j] + w * curves[rows, j + 1]


def _time_design(hparams: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.array([[1.0, math.log(flops_per_token(int(hp["d_model"]), int(hp["n_layers"]), int(hp["seq_len"]))),
                      math.log(int(hp["batch_size"]) * int(hp["seq_len"]))] for hp in hparams]).reshape(-1, 3)


def time_target(runs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """ln(seconds per training token) of each run: what the time model fits."""
    return np.log([r["timing"]["train_time_s"] / max(1, r["tokens_trained"]) for r in runs])


def fit_time_model(runs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Coefficients (a, b, c) of ln(seconds per training token); see the module docstring."""
    A = _time_design([r["hparams"] for r in runs])
    y = time_target(runs)
    if len(runs) < 3:
        return np.array([float(np.mean(y)), 0.0, 0.0])
    return np.linalg.lstsq(A, y, rcond=None)[0]


def seed_spread(dataset: Dataset) -> float:
    """Pooled standard deviation over seeds of ln(final loss), converged multi-seed configurations."""
    sq, dof = 0.0, 0
    for rs in group_by_config(dataset.runs).values():
        if len(rs) < 2 or any(r["diverged"] for r in rs):
            continue
        v = np.log([r["final_val_loss"] for r in rs])
        sq += float(((v - v.mean()) ** 2).sum())
        dof += len(v) - 1
    return math.sqrt(sq / dof) if dof else 0.0


def fit(dataset: Dataset, model: str = DEFAULT_MODEL) -> CurveSurrogate:
    """Fit `model` on every configuration of `dataset` (deterministic)."""
    from . import fitted_kernel

    X = features(dataset.hparams)
    extra = {"kernel_params": fitted_kernel.load(dataset)} if model == "gp" else {}
    fitted = make_model(model, dataset.checkpoint_tokens).fit(X, dataset.curves, dataset.diverged_share, **extra)
    return CurveSurrogate(dataset, model, fitted, fit_time_model(dataset.runs), seed_spread(dataset))


_CACHE: dict[tuple[str, str, str], CurveSurrogate] = {}


def get_surrogate(dataset: Dataset | Path | str = DEFAULT_DATASET, model: str = DEFAULT_MODEL) -> CurveSurrogate:
    """The surrogate of `model` on a dataset, fitted once per process per (file, content, model)."""
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset)
    key = (str(dataset.path), dataset.sha256, model)
    if key not in _CACHE:
        _CACHE[key] = fit(dataset, model)
    return _CACHE[key]


# --- held-out evaluation -----------------------------------------------------------------------------
def heldout_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """R^2, Spearman and Kendall rank correlation of predictions against held-out truth."""
    from scipy.stats import kendalltau, spearmanr

    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    ss_tot = float(((t - t.mean()) ** 2).sum())
    r2 = 1.0 - float(((t - p) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    constant = np.ptp(t) == 0 or np.ptp(p) == 0
    return {"r2": r2, "spearman": float("nan") if constant else float(spearmanr(t, p).statistic),
            "kendall": float("nan") if constant else float(kendalltau(t, p).statistic)}


def monotone_share(curves: np.ndarray) -> float:
    """Share of curves that never rise from one checkpoint to the next."""
    if len(curves) == 0:
        return float("nan")
    return float(np.mean(np.all(np.diff(curves, axis=1) <= MONOTONE_TOL, axis=1)))


def cross_validate(dataset: Dataset, model: str = DEFAULT_MODEL, n_splits: int = 5,
                   held_out: np.ndarray | None = None) -> dict[str, Any]:
    """Held-out predictions by GroupKFold over configuration ids, and metrics per checkpoint. `held_out`
    (a boolean mask over configurations): only those are held out, in folds; the others are always in
    training (their rows of "predictions" are NaN and they are left out of the metrics)."""
    from sklearn.model_selection import GroupKFold

    X = features(dataset.hparams)
    tested = np.ones(dataset.n_configs, dtype=bool) if held_out is None else np.asarray(held_out, dtype=bool)
    n = int(tested.sum())
    splits = max(2, min(n_splits, n))
    if n < 2:
        raise ValueError("cross-validation needs at least 2 configurations")
    always = np.flatnonzero(~tested)
    pred = np.full_like(dataset.curves, np.nan)
    raw = np.full_like(dataset.curves, np.nan)
    for train, test in GroupKFold(n_splits=splits).split(X[tested], groups=list(np.asarray(dataset.config_ids)[tested])):
        train, test = np.concatenate([np.flatnonzero(tested)[train], always]), np.flatnonzero(tested)[test]
        m = make_model(model, dataset.checkpoint_tokens).fit(X[train], dataset.curves[train],
                                                             dataset.diverged_share[train])
        pred[test] = clip_curves(m.predict(X[test]))
        raw[test] = clip_curves(m.predict_raw(X[test])) if hasattr(m, "predict_raw") else pred[test]
    curves, p = dataset.curves[tested], pred[tested]
    per_checkpoint = [{"tokens": int(t), **heldout_metrics(curves[:, i], p[:, i])}
                      for i, t in enumerate(dataset.checkpoint_tokens)]
    return {"model": model, "n_splits": splits, "n_runs": dataset.n_runs, "n_configs": n,
            "final": per_checkpoint[-1], "per_checkpoint": per_checkpoint,
            "monotone_share": monotone_share(p), "monotone_share_raw": monotone_share(raw[tested]),
            "predictions": pred}


# --- the landscape: divergence, where the optimum lies, the optimal-lr slope in model size ----------
LANDSCAPE_GRID = {"learning_rate": 49, "batch_size": 13}  # log-spaced grid points over the dataset's ranges
#: log2(lr / lr*) at which `landscape` reports the relative loss increase (LM_NOTES: the Step Law grid's
#: -4: +2.7 %, -2: +1.0 %, -1: +0.4 %, +1: +0.7 %, +2: +3.2 %, +3: most runs diverge)
LR_PROFILE_OCTAVES = (-4, -2, -1, 1, 2, 3)


def _sizes(dataset: Dataset) -> list[tuple[int, int]]:
    return sorted({(int(hp["d_model"]), int(hp["n_layers"])) for hp in dataset.hparams})


def landscape(dataset: Dataset, fitted: CurveSurrogate | None = None, top: int = 10) -> dict[str, Any]:
    """How the landscape of one dataset looks (issue 22 item 3), from the data and from its surrogate.

    Data: runs, diverged runs, and the `top` configurations by final target loss with their learning
    rate and batch size, and how many of them sit at the sampled range's lowest batch size (the
    batch-size values are integers: "at the bound" means the lowest value sampled) or in its top
    learning-rate octave. Surrogate (the fitted model, `gp` by default): for every model size of the
    data, the final loss minimized over a log grid of learning rate x batch size spanning the data's
    ranges (LANDSCAPE_GRID points), the other hyperparameters at the trainer's defaults (warmup 0.05,
    weight decay 0.1, beta2 0.99, cosine); the optimum is "interior" when neither coordinate is at the
    grid's end; `lr_profile` is the relative loss increase at lr* x 2^k (k in LR_PROFILE_OCTAVES, None
    outside the data's range), to compare with the published shape. The optimal-lr slope is the least-squares slope of ln lr* on ln N over the sizes (Step
    Law: -0.713, at the optimal batch size, N = non-embedding parameters).
    """
    from .train import DEFAULTS

    fitted = fitted or get_surrogate(dataset)
    hps, final = dataset.hparams, dataset.curves[:, -1]
    lrs = np.array([float(h["learning_rate"]) for h in hps])
    bss = np.array([int(h["batch_size"]) for h in hps])
    order = np.argsort(final, kind="stable")[:top]
    lo_b, hi_lr = int(bss.min()), float(lrs.max())
    best = [{"config_id": dataset.config_ids[i], "loss": float(final[i]), "learning_rate": float(lrs[i]),
             "batch_size": int(bss[i]), "d_model": int(hps[i]["d_model"]), "n_layers": int(hps[i]["n_layers"])}
            for i in order]
    lr_grid = np.geomspace(lrs.min(), lrs.max(), LANDSCAPE_GRID["learning_rate"])
    bs_grid = np.unique(np.round(np.geomspace(bss.min(), bss.max(), LANDSCAPE_GRID["batch_size"])).astype(int))
    seq_len = int(hps[0]["seq_len"])
    base = {k: DEFAULTS[k] for k in ("warmup_fraction", "weight_decay", "beta2", "schedule")}
    optima = []
    for d, n in _sizes(dataset):
        grid = [{**base, "d_model": d, "n_layers": n, "seq_len": seq_len, "learning_rate": float(lr),
                 "batch_size": int(b)} for lr in lr_grid for b in bs_grid]
        pred = fitted.predict_curves(grid)[:, -1].reshape(len(lr_grid), len(bs_grid))
        i, j = np.unravel_index(int(np.argmin(pred)), pred.shape)
        at = {**grid[i * len(bs_grid) + j]}
        shifted = [{**at, "learning_rate": float(lr_grid[i]) * 2.0**k} for k in LR_PROFILE_OCTAVES]
        inside = [lrs.min() <= h["learning_rate"] <= lrs.max() for h in shifted]
        profile = fitted.predict_curves(shifted)[:, -1] / pred[i, j] - 1.0
        optima.append({"d_model": d, "n_layers": n, "n_params": non_embedding_params(d, n), "lr": float(lr_grid[i]),
                       "batch_size": int(bs_grid[j]), "loss": float(pred[i, j]),
                       "lr_profile": {k: (float(v) if ok else None) for k, v, ok in zip(LR_PROFILE_OCTAVES, profile, inside)},
                       "lr_interior": bool(0 < i < len(lr_grid) - 1), "batch_interior": bool(0 < j < len(bs_grid) - 1)})
    return {"dataset": dataset.name, "n_runs": dataset.n_runs, "n_configs": dataset.n_configs,
            "n_diverged": dataset.n_diverged,
            "n_configs_diverged": int(np.sum(dataset.diverged_share > 0)),
            "best": best, "best_at_lowest_batch": int(sum(b["batch_size"] == lo_b for b in best)),
            "best_in_top_lr_octave": int(sum(b["learning_rate"] > hi_lr / 2 for b in best)),
            "lowest_batch": lo_b, "optima": optima, "lr_slope": lr_slope(optima),
            "lr_profile_mean": {k: (float(np.mean(v)) if (v := [o["lr_profile"][k] for o in optima
                                                                 if o["lr_profile"][k] is not None]) else None)
                                for k in LR_PROFILE_OCTAVES}}


def lr_slope(optima: Sequence[Mapping[str, Any]]) -> float:
    """Least-squares slope of ln lr* on ln N over (model size, optimum) rows; nan for fewer than 2 sizes."""
    x = np.log([o["n_params"] for o in optima])
    y = np.log([o["lr"] for o in optima])
    if len(set(x.tolist())) < 2:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def _k(n: int) -> str:
    return f"{round(n / 1000)}k"


def landscape_row(dataset: Dataset, summary: Mapping[str, Any]) -> list[str]:
    """One instance's row of the docs/tasks.md "tinylm instances" table (a test keeps the table equal to it)."""
    m, opt = dataset.manifest, summary["optima"]
    widths = sorted({o["d_model"] for o in opt})
    layers = sorted({o["n_layers"] for o in opt})
    sizes = [o["n_params"] for o in opt]
    b = [o["batch_size"] for o in opt]
    at_bound = sum(o["batch_size"] == summary["lowest_batch"] for o in opt)
    bound = "" if not at_bound else (" (bound for all sizes)" if at_bound == len(opt)
                                     else f" (bound for {at_bound} of {len(opt)} sizes)")
    lrs = [o["lr"] for o in opt]
    n_refine = int(dataset.from_refine.sum())
    tokens = int(dataset.checkpoint_tokens[-1])
    return [f"`{m.get('instance', dataset.name)}`", str(m.get("slice", "")),
            f"{'/'.join(map(str, widths))} x {layers[0]}-{layers[-1]}", f"{_k(min(sizes))}-{_k(max(sizes))}",
            f"2^{tokens.bit_length() - 1}", f"{dataset.n_runs} ({dataset.n_configs - n_refine} + {n_refine})",
            str(dataset.n_diverged), f"{sum(r['timing']['wall_time_s'] for r in dataset.runs) / 60:.1f}",
            f"{summary['best'][0]['loss']:.3f}",
            (f"{min(b)}" if min(b) == max(b) else f"{min(b)}-{max(b)}") + bound,
            f"{min(lrs):.1e}-{max(lrs):.1e}", f"{summary['lr_slope']:.2f}"]


LANDSCAPE_HEADER = ("instance", "slice", "d_model x layers", "N", "tokens", "runs (Sobol + refine configs)",
                    "diverged runs", "CPU min", "best measured loss", "gp B* (seqs of 64)", "gp lr*",
                    "lr* slope in N")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks.lm.surrogate [DATASET ...]`: the landscape summary of each dataset."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.lm.surrogate", description=landscape.__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="*", help="runs files (default: every runs-*.jsonl under benchmarks/lm/data)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per dataset")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table of docs/tasks.md \"tinylm instances\" (one row per dataset)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    paths = [Path(p) for p in args.dataset] or shipped_datasets()
    if args.markdown:
        print("| " + " | ".join(LANDSCAPE_HEADER) + " |\n|" + "---|" * len(LANDSCAPE_HEADER))
    for path in paths:
        dataset = load_dataset(path)
        summary = landscape(dataset)
        if args.markdown:
            print("| " + " | ".join(landscape_row(dataset, summary)) + " |", flush=True)
            continue
        if args.json:
            print(json.dumps(summary))
            continue
        print(f"{summary['dataset']}: {summary['n_runs']} runs, {summary['n_configs']} configurations, "
              f"{summary['n_diverged']} runs diverged; best {len(summary['best'])}: "
              f"{summary['best_at_lowest_batch']} at the lowest batch size {summary['lowest_batch']}, "
              f"{summary['best_in_top_lr_octave']} in the top lr octave; optimal-lr slope "
              f"{summary['lr_slope']:.2f} (Step Law {-STEP_LAW_LR_EXPONENT}); loss increase at lr* x 2^k: "
              + ", ".join(f"{k:+d}: " + ("-" if v is None else f"{100 * v:+.1f}%")
                          for k, v in summary["lr_profile_mean"].items()))
        for o in summary["optima"]:
            print(f"  d {o['d_model']:3d} x {o['n_layers']}  N {o['n_params']:7d}  lr* {o['lr']:.2e}"
                  f"{'' if o['lr_interior'] else ' (grid end)'}  B* {o['batch_size']:2d}"
                  f"{'' if o['batch_interior'] else ' (grid end)'}  loss {o['loss']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
