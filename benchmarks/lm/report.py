"""Fidelity report of the LM tasks (`make lm-report`): how faithful are the surrogates?

    python -m benchmarks.lm.report [--dataset FILE ...] [--models et,et_div,...] [--splits 5] [--markdown]
                                   [--attainable fixed|searched|off] [--attainable-draws 16]

--dataset may be given more than once; default: every `benchmarks/lm/data/runs-*.jsonl` (one per
tinylm instance), sorted by name. The report starts with one summary row per dataset for the model
the tinylm tasks use (surrogate.DEFAULT_MODEL): runs, configurations (and how many of them the refine
stage of the sweep added, benchmarks.lm.design), diverged runs, held-out R^2 and
Spearman on all configurations, the top 25 % and the top 10 %, each Spearman next to its noise
ceiling. Then one section per dataset:

For each learned surrogate model of benchmarks.lm.surrogate (the one the tinylm tasks use is
marked): held-out R^2, Spearman and Kendall of the predicted loss against the held-out
configurations' target curves (GroupKFold by configuration id: seeds of one configuration stay in
one fold; the out-of-fold predictions of surrogate.cross_validate), at the final budget and at every
checkpoint token count; the share of predicted curves that are non-increasing in tokens (raw model
output and as shipped); the numbers of runs, configurations and diverged runs; the dataset sha256
and dates; the seed noise (pooled spread of ln final loss, and the share of the final-loss variance
that is within-configuration seed noise, a ceiling on R^2).

Fidelity by quantile of the target (final budget): Spearman and Kendall of the same out-of-fold
predictions on all configurations, on the best 25 % and on the best 10 % by observed target (lowest
final target loss = best; k = ceil(share n) configurations, ties in stable order; a correlation on
fewer than 3 configurations is n/a). This is where optimizers search: a surrogate can rank the whole
range well and the good configurations badly. Every figure is printed with the number of
configurations it rests on; a top-10 % figure on 26 configurations moves by about 0.1 from one
noise draw to the next (the cpu dataset; the "sd" of the ceiling says how much), so read it as a
rough figure.

Noise ceiling (``noise_ceiling``): the rank correlation a perfect predictor of each configuration's
mean loss would reach against the observed targets, given the measured seed noise, on the same
subsets (selected, like the model's, by the observed target). Computed by simulation under a noise
model fitted to the configurations run with several seeds that all converged (``fit_noise_model``,
``NoiseModel``). The seeds of a sweep are common random numbers: every configuration runs seed s with
the same batch order and, where the shapes (SHARED_NOISE_KEYS: d_model, n_layers, seq_len, batch_size)
are equal, the same initial weights. So seed s of configuration i observes
    truth_i + offset_s + sqrt(1 - share) x (a draw from i's residual pool) + sqrt(share) x sd_i x g(s, shape of i)
and a configuration's target is the mean over the seeds it ran:
    offsets   each seed's offset, common to every configuration: a two-way fit (configuration + seed, by
              alternating means) on the multi-seed configurations, mean 0 over their seeds, so the truth
              is the mean over those seeds and a single-seed configuration's target carries its seed's
              offset (on the tinylm instances +-0.001 to +-0.012 nats). A common offset reorders nothing;
              counted as each configuration's own noise (as the ceiling did before, 2026-12-07) it made
              the ceiling too low.
    pools     for every multi-seed configuration, each seed's final target less its offset, minus the
              configuration's mean, times sqrt(m / (m - 1)) (m seeds; unbiased for the variance of one
              seed). A configuration's pool holds the residuals of the NOISE_NEIGHBOURS (16) multi-seed
              configurations whose mean is nearest its observed target (less its offset; ``local_pools``):
              the noise may depend on where in the landscape a configuration lies (on the tinylm
              instances the rms seed residual is 0.013-0.057 nats among the refine stage's good
              configurations and 0.025-0.16 among the Sobol ones, larger on 6 of 8; 2026-12-07); with 16
              or fewer multi-seed configurations (runs-cpu-v1), one pool for all. sd_i is the rms of
              i's pool. Resampling the measured residuals keeps their heavy tail (a seed that lands far
              off), which a normal model with the pooled variance would spread over every configuration.
    share     of the noise variance common to the configurations of one shape within a seed, g one
              standard normal per seed and shape: 1 - (pooled variance of the residuals divided by
              their configuration's sd_i, within groups of one shape, seed set and seed) / (their total
              variance), clipped to [0, 1]; 0 without a group of two. A rough estimate: on an instance it
              rests on about 30 shapes among 72 two-seed configurations (0.00-0.47 by instance); the
              check below says whether the model as a whole predicts what two seeds do.
    diverged  configurations with a diverged seed are left out of the fit (their count is printed):
              divergence happens only at some (high) learning rates and only raises the loss, by 1-2
              nats over a converged seed; a configuration with one diverged seed of three has a mean
              target of about 3.2 nats or more, above the best quartile of every shipped dataset (below 3
              nats), so among the best configurations only the converged seeds' noise is at work.
              Pooled, such a residual would move any configuration by 1-2 nats in either direction,
              into the best quartile too (on an instance with one such configuration of 8, the
              top-25 % ceiling came out negative). The all-configurations ceiling is a little high.
    truth     the observed targets contain noise, so taking them as the true means overstates the
              spread of the truth and hence the ceiling. One deconvolution step instead, on the common
              level (each target less its seeds' mean offset): with y the sorted levels and q the mean
              sorted (y + noise) over DECONV_DRAWS draws, the sorted true means are sort(y - (q - y)),
              the levels less the spread one round of noise adds; configuration i keeps its rank and its
              seeds. (Earlier validation, independent noise: plugging in the observed targets instead
              gave +0.04 and +0.08 on the top-10 % ceiling; iterating the step to a fixed point gave
              -0.12 and no better errors.)
    ceiling   CEILING_DRAWS draws of (truth + noise); in each, the subset is the best k by the
              simulated observation and the correlation is taken between truth and observation
              there; the mean over draws is printed, and its sd over draws (how much one dataset's
              figure can move by chance).
    validated ``benchmarks.lm.validate_ceiling`` (synthetic datasets with known truth and noise, laid out
              as an instance and as runs-cpu-v1, 16 datasets per case, 2026-12-07): per best share (all /
              top 25 % / top 10 %), the estimated minus the true ceiling, mean (sd over datasets). An instance: independent normal noise
              0.000 / +0.001 (0.04) / +0.05 (0.10); t(3) 0.000 / -0.002 (0.05) / +0.01 (0.11); sd 0.01 in
              the best quarter and 0.08 elsewhere +0.001 / -0.04 (0.09) / -0.17 (0.17); shared (offsets
              +-0.012, share 0.4, sd 0.015) 0.000 / -0.001 (0.01) / +0.02 (0.06), where the model without
              offsets and share (the ceiling before 2026-12-07) gave -0.002 / -0.04 / -0.08 and its check
              flagged 14 of 32 figures (now 0 of 32; the independent cases 0-1 of 32). The cpu layout
              (16 random three-seed configurations, one pool): top 10 % +0.10 (0.10) normal, +0.03 (0.17)
              t(3), +0.03 (0.07) shared; loss-dependent noise -0.42 / -0.51 on the top 25 % / 10 %: one
              pool for all cannot see it, and a dataset laid out like runs-cpu-v1 gets a ceiling far too
              low if its noise depends on the loss (the instances' 72 two-seed configurations can).
    assumes   noise additive in loss units, with one distribution per neighbourhood in loss (above),
              independent of the truth within it; seeds share noise only through the offsets and the
              shape's share; a pool is small (the cpu dataset: 16 configurations x 3 seeds = 48
              residuals; an instance: 16 x 2 = 32), so the ceiling carries that uncertainty too (the
              error sd above includes it). Fixed random seeds: the report repeats exactly. With no
              configuration run with several converged seeds there is no ceiling (n/a).

Attainable (``benchmarks.lm.attainable``; a column of both summary tables, a row of each section): the
held-out Spearman that a gp right about the landscape's form reaches on synthetic data of the dataset's
design and noise (the tasks' final-loss GP as the truth, its kernel fixed, noise from the ceiling's model,
the report's folds), mean and sd over 16 synthetic datasets (`--attainable searched`: the kernel searched in
each fold, as the gp's own cross-validation does, about 4 s per synthetic dataset; `--attainable-draws`;
`--attainable off`). The ceiling is what a predictor that knows the true means reaches; a held-out surrogate
learns from noisy neighbours, so even a right model falls short of it, most in the best decile (on the
tinylm instances: top 10 % attainable 0.26-0.66 against ceilings 0.51-0.89). Under each summary table a
second count: datasets whose figure lies within 0.05 of the attainable or above it.

The Sobol stage held out (``sobol_stage_fidelity``, a second summary table, for datasets with a refine
stage): the tasks' model, the Sobol configurations held out in 5 folds and the refine configurations
always in training, quantiles and ceiling over the Sobol configurations. The refine stage moves the
best decile of a dataset into the region it refined, so the first table's top-decile figures before and
after it are over different configurations; this table's are over the same ones.

Seed agreement (``seed_agreement``, the row "seed 0 vs seed 1"): over the n best configurations run
with seeds 0 and 1 (by their mean), the rank correlation of the two seeds' final losses: no noise
model, only the data. Where it is high and the surrogate's figure low, the surrogate, not the noise,
limits the fidelity.

Its modelled counterpart (``modelled_seed_agreement``, the row "seed 0 vs seed 1, noise model"): the same
figure simulated under the ceiling's noise model (deconvolved truth, seeds 0 and 1 drawn jointly: offsets,
own and shared parts). Observed agreement well above it means the noise model misses something the seeds
share, and the ceiling is too low; well below, the ceiling is likely too high. The summary counts both
(``ceiling_check_line``). It is how the shared seed noise was found (docs/tasks.md, "the seeds share noise"):
with each seed's noise taken as independent of every other configuration's, the check flagged 3 and 2 of 10
instances; with the offsets and the shape's share, none.

Plus the analytic check of the lmscaling tasks: each bb and mf task evaluated at its optimum
configuration (`optimal_config()`, full fidelity) against the Chinchilla L(N, D) of its law; the
largest absolute error is printed (0 up to rounding when the tasks are right).

--markdown prints the same tables as Markdown (for docs/tasks.md). Sklearn fits run with one thread
(set OMP_NUM_THREADS=1 on a shared machine); the whole report takes about a minute per dataset of
256 configurations.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import surrogate as sg
from .attainable import Attainable, attainable_fidelity

#: (label, share of the configurations, best first) of the quantile table
SUBSETS = (("all", 1.0), ("top 25 %", 0.25), ("top 10 %", 0.10))
MIN_CONFIGS = 3  # fewer configurations in a subset: no rank correlation (n/a)
GOAL_MARGIN = 0.05  # the fidelity goal (issue 22): the best decile's Spearman within this of its noise ceiling
CEILING_DRAWS = 1000
DECONV_DRAWS = 200
CEILING_SEED = 0
#: the noise of a configuration is drawn from the residuals of this many multi-seed configurations nearest
#: in mean loss (a heteroscedastic noise model; with no more than this many, one pool for all)
NOISE_NEIGHBOURS = 16
#: the hyperparameters that fix what one seed shares between configurations: the initial weights (d_model,
#: n_layers, seq_len: torch.manual_seed(seed)) and the batch order (batch_size, seq_len: a generator seeded by seed)
SHARED_NOISE_KEYS = ("d_model", "n_layers", "seq_len", "batch_size")


def _f(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool) -> str:
    """A Markdown table or a plain aligned text table."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells[1:]])
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])


def seed_noise(dataset: sg.Dataset) -> dict[str, float]:
    """Seed spread of ln(final loss) and the within-configuration share of the final-loss variance, both
    over the multi-seed configurations whose seeds all converged (the noise ceiling's set: a diverged seed
    would put its 1-2 nat jump into the share of the whole dataset)."""
    groups, left_out = residual_groups(dataset)
    first = [float(sg.target_curve(rs[0])[-1]) for rs in sg.group_by_config(dataset.runs).values()]
    total = float(np.var(first, ddof=1)) if len(first) > 1 else float("nan")
    within = float(np.mean([np.mean(r**2) for _, r in groups])) if groups else float("nan")  # r: scaled residuals
    return {"seed_spread": sg.seed_spread(dataset), "n_multi_seed_configs": len(groups),
            "n_left_out_diverged": left_out, "within_share": within / total if groups and total > 0 else float("nan")}


# --- fidelity by quantile and the noise ceiling ------------------------------------------------------
def subset_size(n: int, share: float) -> int:
    """How many configurations the best `share` of n is: ceil(share n), at least 1."""
    return n if share >= 1.0 else max(1, min(n, math.ceil(share * n - 1e-9)))


def best_configs(observed: np.ndarray, share: float) -> np.ndarray:
    """Indices of the best (lowest) `share` of the observed targets, best first (stable order for ties)."""
    return np.argsort(np.asarray(observed, dtype=float), kind="stable")[:subset_size(len(observed), share)]


def quantile_fidelity(dataset: sg.Dataset, predictions: np.ndarray, subsets: Sequence[tuple[str, float]] = SUBSETS,
                      among: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Held-out Spearman and Kendall at the final budget on all configurations (or those of the mask
    `among`) and on the best shares of them."""
    keep = slice(None) if among is None else np.asarray(among, dtype=bool)
    y, p = dataset.curves[keep, -1], np.asarray(predictions)[keep, -1]
    rows = []
    for label, share in subsets:
        idx = best_configs(y, share)
        m = sg.heldout_metrics(y[idx], p[idx]) if len(idx) >= MIN_CONFIGS else {"spearman": math.nan,
                                                                                 "kendall": math.nan}
        rows.append({"subset": label, "share": share, "n": len(idx), "spearman": m["spearman"],
                     "kendall": m["kendall"]})
    return rows


def residual_groups(dataset: sg.Dataset) -> tuple[list[tuple[float, np.ndarray]], int]:
    """(mean final target, its seed residuals) per converged multi-seed configuration, in dataset order;
    the number of multi-seed configurations with a diverged seed. Raw: the seeds' common offsets are in
    them (seed_noise's spread); the ceiling's noise model removes them (fit_noise_model)."""
    groups, left_out = [], 0
    for runs in sg.group_by_config(dataset.runs).values():
        if len(runs) < 2:
            continue
        if any(r["diverged"] for r in runs):
            left_out += 1
            continue
        x = np.array([float(sg.target_curve(r)[-1]) for r in runs])
        groups.append((float(x.mean()), (x - x.mean()) * math.sqrt(len(x) / (len(x) - 1))))
    return groups, left_out


def flat_residuals(groups: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Every group's residuals in one array, in group order."""
    return np.concatenate([r for _, r in groups]) if groups else np.zeros(0)


def local_pools(observed: np.ndarray, groups: list[tuple[float, np.ndarray]],
                neighbours: int = NOISE_NEIGHBOURS) -> np.ndarray | list[np.ndarray]:
    """Each configuration's residual pool: the residuals of the `neighbours` multi-seed configurations
    whose mean target is nearest its observed target (dataset order kept). With no more multi-seed
    configurations than that, one pool for all: the flat residual array."""
    if len(groups) <= neighbours:
        return flat_residuals(groups)
    means = np.array([m for m, _ in groups])
    pools = []
    for y in np.asarray(observed, dtype=float):
        near = np.zeros(len(groups), dtype=bool)
        near[np.argsort(np.abs(means - y), kind="stable")[:neighbours]] = True
        pools.append(np.concatenate([r for (_, r), keep in zip(groups, near) if keep]))
    return pools


def shape_key(hparams: dict[str, Any]) -> tuple:
    """What a seed shares between configurations: equal keys, equal initial weights and batch order."""
    return tuple(hparams.get(k) for k in SHARED_NOISE_KEYS)


@dataclass(frozen=True)
class NoiseModel:
    """The ceiling's noise model (module docstring, "noise"), one row per configuration: seed s of
    configuration i observes truth_i + offsets[s] + sqrt(1 - share) x (a draw from i's residual pool) +
    sqrt(share) x sd_i x g(s, shape of i), g a standard normal shared by the configurations of one shape."""

    seeds: np.ndarray  # (S,) every seed of the dataset, ascending
    offsets: np.ndarray  # (S,) each seed's common offset (mean 0 over the multi-seed configurations' seeds)
    ran: np.ndarray  # (n, S) bool: configuration i ran seed s
    pools: np.ndarray | list[np.ndarray]  # one residual pool for all, or one per configuration
    sd: np.ndarray  # (n,) rms of each configuration's pool
    share: float  # of the noise variance common to the configurations of one shape within a seed
    shape: np.ndarray  # (n,) shape index (shape_key)

    def rows(self, keep: np.ndarray) -> NoiseModel:
        """The model of the configurations of the mask `keep` (noise measured on all)."""
        keep = np.asarray(keep, dtype=bool)
        pools = self.pools if isinstance(self.pools, np.ndarray) else [p for p, k in zip(self.pools, keep) if k]
        return NoiseModel(self.seeds, self.offsets, self.ran[keep], pools, self.sd[keep], self.share, self.shape[keep])

    @property
    def target_offsets(self) -> np.ndarray:
        """(n,) the common offset in each configuration's target: the mean over the seeds it ran."""
        return (self.ran * self.offsets).sum(1) / self.ran.sum(1)

    def seed_draws(self, rng: np.random.Generator, draws: int, offsets: bool = True) -> np.ndarray:
        """(draws, S, n) simulated noise of every seed of every configuration (with the seeds' offsets or
        without)."""
        n, s = self.ran.shape
        if isinstance(self.pools, np.ndarray):
            own = rng.choice(self.pools, size=(draws, s, n))
        else:
            lens = np.array([len(p) for p in self.pools])
            padded = np.zeros((n, int(lens.max())))
            for i, pool in enumerate(self.pools):
                padded[i, :len(pool)] = pool
            own = padded[np.arange(n), rng.integers(0, lens, size=(draws, s, n))]
        out = math.sqrt(1.0 - self.share) * own + (self.offsets[None, :, None] if offsets else 0.0)
        if self.share > 0:
            common = rng.standard_normal((draws, s, int(self.shape.max()) + 1))
            out += math.sqrt(self.share) * self.sd * common[:, :, self.shape]
        return out

    def target_draws(self, rng: np.random.Generator, draws: int, offsets: bool = True) -> np.ndarray:
        """(draws, n) simulated noise of each configuration's target: the mean over the seeds it ran."""
        return (self.seed_draws(rng, draws, offsets) * self.ran.T[None]).sum(1) / self.ran.sum(1)


def fit_noise_model(dataset: sg.Dataset) -> tuple[NoiseModel | None, dict[str, Any]]:
    """The noise model of a dataset from its converged multi-seed configurations (module docstring), and what
    it rests on (counts, rms residual, offsets, share). None: no such configuration or no spread."""
    by_config = sg.group_by_config(dataset.runs)
    seeds = np.array(sorted({int(r["seed"]) for r in dataset.runs}))
    col = {int(s): j for j, s in enumerate(seeds)}
    ran = np.zeros((dataset.n_configs, len(seeds)), dtype=bool)
    finals = np.full(ran.shape, np.nan)
    for i, cid in enumerate(dataset.config_ids):
        for r in by_config[cid]:
            ran[i, col[int(r["seed"])]] = True
            finals[i, col[int(r["seed"])]] = float(sg.target_curve(r)[-1])
    multi_any = ran.sum(1) >= 2
    diverged = np.array([any(r["diverged"] for r in by_config[c]) for c in dataset.config_ids])
    multi = multi_any & ~diverged
    info: dict[str, Any] = {"n_multi_seed_configs": int(multi.sum()),
                            "n_left_out_diverged": int((multi_any & diverged).sum()), "n_residuals": int(ran[multi].sum()), "noise_sd": math.nan, "local_noise": False,
                            "seed_offsets": {}, "shared_share": math.nan}
    x = finals[multi]
    offsets = np.zeros(len(seeds))
    if len(x):  # the seeds' common offsets: a two-way fit (configuration + seed) by alternating means
        used = ~np.all(np.isnan(x), axis=0)
        for _ in range(50):
            level = np.nanmean(x - offsets, axis=1)
            offsets[used] = np.nanmean(x - level[:, None], axis=0)[used]
            offsets[used] -= offsets[used].mean()
        info["seed_offsets"] = {int(s): float(o) for s, o, u in zip(seeds, offsets, used) if u}
    m = ran[multi].sum(1)
    level = np.nanmean(x - offsets, axis=1) if len(x) else np.zeros(0)
    resid = (x - offsets - level[:, None]) * np.sqrt(m / np.maximum(m - 1, 1))[:, None]
    groups = [(float(lv), r[~np.isnan(r)]) for lv, r in zip(level, resid)]
    flat = flat_residuals(groups)
    if not groups or not np.any(flat != 0):
        return None, info
    info["noise_sd"] = float(np.sqrt(np.mean(flat ** 2)))
    pools = local_pools(dataset.curves[:, -1] - (ran * offsets).sum(1) / ran.sum(1), groups)
    info["local_noise"] = not isinstance(pools, np.ndarray)
    sd = (np.full(dataset.n_configs, info["noise_sd"]) if isinstance(pools, np.ndarray)
          else np.array([math.sqrt(np.mean(p ** 2)) for p in pools]))
    keys = [shape_key(h) for h in dataset.hparams]
    index = {k: j for j, k in enumerate(dict.fromkeys(keys))}
    shape = np.array([index[k] for k in keys])
    share = _shared_share(resid / sd[multi][:, None], shape[multi], ran[multi])
    info["shared_share"] = share
    return NoiseModel(seeds, offsets, ran, pools, sd, share, shape), info


def _shared_share(u: np.ndarray, shape: np.ndarray, ran: np.ndarray) -> float:
    """The share of the (standardized, offset-free) seed residuals `u` common to configurations of one shape
    and seed set within a seed: 1 - pooled within-group variance / total variance, in [0, 1]; 0 without a
    group of two."""
    groups: dict[tuple, list[float]] = {}
    for i in range(len(u)):
        for j in np.flatnonzero(ran[i]):
            groups.setdefault((int(shape[i]), tuple(np.flatnonzero(ran[i])), int(j)), []).append(float(u[i, j]))
    within = [(np.var(v, ddof=1), len(v) - 1) for v in groups.values() if len(v) >= 2]
    values = u[ran]
    if not within or len(values) < 3:
        return 0.0
    ratio = np.average([w for w, _ in within], weights=[k for _, k in within]) / np.var(values, ddof=1)
    return float(np.clip(1.0 - ratio, 0.0, 1.0))


def deconvolve(observed: np.ndarray, model: NoiseModel, rng: np.random.Generator) -> np.ndarray:
    """True means whose noisy version has the observed distribution (module docstring: one step), by rank, on
    the seeds' common level: each target less its seeds' mean offset, the noise without offsets."""
    level = np.asarray(observed, dtype=float) - model.target_offsets
    mean_order_stats = np.sort(level + model.target_draws(rng, DECONV_DRAWS, offsets=False), axis=1).mean(0)
    order = np.argsort(level, kind="stable")
    target = level[order]
    out = np.empty_like(target)
    out[order] = np.sort(target + (target - mean_order_stats))
    return out


def ceiling_truth(dataset: sg.Dataset, model: NoiseModel) -> np.ndarray:
    """The true means the ceiling and its check assume: every configuration's final target deconvolved."""
    return deconvolve(dataset.curves[:, -1], model, np.random.default_rng(CEILING_SEED + 1))


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of each pair of rows (NaN where a row is constant)."""
    import warnings

    from scipy.stats import ConstantInputWarning, pearsonr, rankdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return pearsonr(rankdata(a, axis=-1), rankdata(b, axis=-1), axis=-1).statistic


def ceiling_of(truth: np.ndarray, noise: np.ndarray,
               subsets: Sequence[tuple[str, float]] = SUBSETS) -> list[dict[str, Any]]:
    """Rank correlation of known true means with their simulated observations truth + noise (noise: (draws, n)),
    per best share, the subset chosen by the observation."""
    from scipy.stats import kendalltau

    truth = np.asarray(truth, dtype=float)
    obs = truth + noise
    draws = len(obs)
    rows = []
    for label, share in subsets:
        k = subset_size(len(truth), share)
        if k < MIN_CONFIGS:
            rows.append({"subset": label, "share": share, "n": k, "spearman": math.nan, "kendall": math.nan,
                         "spearman_sd": math.nan, "kendall_sd": math.nan})
            continue
        idx = np.argsort(obs, axis=1, kind="stable")[:, :k]
        t, o = truth[idx], np.take_along_axis(obs, idx, axis=1)
        rho = _spearman_rows(t, o)
        tau = np.array([kendalltau(t[i], o[i]).statistic for i in range(draws)], dtype=float)
        rows.append({"subset": label, "share": share, "n": k, "spearman": float(np.nanmean(rho)),
                     "kendall": float(np.nanmean(tau)), "spearman_sd": float(np.nanstd(rho)),
                     "kendall_sd": float(np.nanstd(tau))})
    return rows


def noise_ceiling(dataset: sg.Dataset, among: np.ndarray | None = None,
                  attainable: Attainable | None = None) -> dict[str, Any]:
    """The noise ceiling of the final-budget rank correlations per best share (module docstring), over all
    configurations or those of the mask `among` (the noise measured on all); with `attainable`, also what a
    correctly specified surrogate attains held out under the same noise, computed so (benchmarks.lm.attainable)."""
    model, out = fit_noise_model(dataset)
    keep = np.ones(dataset.n_configs, dtype=bool) if among is None else np.asarray(among, dtype=bool)
    y = dataset.curves[keep, -1]
    truth = None
    if model is None:
        out["subsets"] = [{"subset": label, "share": share, "n": subset_size(len(y), share), "spearman": math.nan,
                           "kendall": math.nan, "spearman_sd": math.nan, "kendall_sd": math.nan}
                          for label, share in SUBSETS]
    else:
        truth = ceiling_truth(dataset, model)
        noise = model.rows(keep).target_draws(np.random.default_rng(CEILING_SEED), CEILING_DRAWS)
        out["subsets"] = ceiling_of(truth[keep], noise)
    counts = [c["n"] for c in out["subsets"]]
    if attainable is not None:
        out["attainable_how"] = attainable.describe()
        out["attainable"] = [{"subset": label, **a} for (label, _), a in
                             zip(SUBSETS, attainable_fidelity(dataset, model, counts, among, how=attainable))]
    if among is None:  # its check: seed 0 vs seed 1, observed and as this noise model predicts it
        modelled = modelled_seed_agreement(dataset, counts, model=None if truth is None else (truth, model))
        out["check"] = {"observed": seed_agreement(dataset, counts), "model": modelled}
    return out


# --- other checks ------------------------------------------------------------------------------------
def time_model_fit(dataset: sg.Dataset) -> dict[str, float]:
    """The virtual-time model on its own data: R^2 of ln(seconds per token), median relative error."""
    coef = sg.fit_time_model(dataset.runs)
    y = sg.time_target(dataset.runs)
    p = sg._time_design([r["hparams"] for r in dataset.runs]) @ coef
    return {"r2": sg.heldout_metrics(y, p)["r2"],
            "median_rel_error": float(np.median(np.abs(np.exp(p - y) - 1.0))), "b": float(coef[1]), "c": float(coef[2])}


def lmscaling_optimum_check() -> dict[str, Any]:
    """Every lmscaling bb/mf task at its optimum configuration vs L(N, D): max absolute error."""
    from .scaling import task_specs

    errors = {}
    for spec in task_specs():
        obj = spec.build()
        if obj.task_type.multi_objective:
            continue
        loss = obj.evaluate(obj.optimal_config()).values[0]
        errors[spec.id] = abs(loss - float(obj.law.loss(obj.n_fixed, obj.d_fixed)))
    return {"n_tasks": len(errors), "max_abs_error": max(errors.values()), "errors": errors}


def evaluate_models(dataset: sg.Dataset, models: Iterable[str], n_splits: int = 5,
                    progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Held-out metrics of each model (surrogate.cross_validate), plus the fidelity by quantile; `progress` is
    told each model's time as it finishes (a slow model takes minutes per dataset)."""
    results = []
    for name in models:
        t0 = time.perf_counter()
        cv = sg.cross_validate(dataset, name, n_splits)
        cv["seconds"] = time.perf_counter() - t0
        cv["quantiles"] = quantile_fidelity(dataset, cv["predictions"])
        results.append(cv)
        if progress is not None:
            progress(f"{name} done in {_duration(cv['seconds'])}")
    return results


def dataset_work(dataset: sg.Dataset) -> int:
    """A dataset's share of the report's time, in rounds of cross-validation over it: all configurations, and
    the Sobol stage held out again where the dataset has a refine stage (runs-cpu-v1 has none: half the work)."""
    return 1 + int(dataset.from_refine.any() and not dataset.from_refine.all())


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def sobol_stage_fidelity(dataset: sg.Dataset, n_splits: int = 5, model: str = sg.DEFAULT_MODEL,
                         attainable: Attainable | None = None) -> dict[str, Any] | None:
    """Fidelity on the Sobol stage's configurations, held out in folds with the refine configurations always
    in training: the same test configurations as before the refine stage, so the two can be compared. None
    for a dataset without a refine stage."""
    sobol = ~dataset.from_refine  # the Sobol stage: every configuration the refine stage did not add
    if sobol.all() or not sobol.any():
        return None
    cv = sg.cross_validate(dataset, model, n_splits, held_out=sobol)
    return {"model": model, "n_configs": int(sobol.sum()), "final": cv["final"],
            "quantiles": quantile_fidelity(dataset, cv["predictions"], among=sobol),
            "ceiling": noise_ceiling(dataset, among=sobol, attainable=attainable)}


# --- rendering ---------------------------------------------------------------------------------------
def _title(text: str, markdown: bool, level: int = 2) -> str:
    return f"{'#' * level} {text}" if markdown else text


def _lines(lines: list[str], markdown: bool) -> list[str]:
    """Markdown line breaks for a block of plain lines."""
    return [line + ("  " if markdown and line and not line.startswith("#") else "") for line in lines]


def _quantiles(result: dict[str, Any]) -> list[dict[str, Any]]:
    return result.get("quantiles") or []


#: per best share: how many configurations, the model's Spearman, what a correctly specified model attains,
#: the ceiling (both summary tables)
QUANTILE_HEADER = [h for label, _ in SUBSETS for h in (f"n {label}", f"Spearman {label}", "attainable", "ceiling")]


def _attainable(ceiling: dict[str, Any]) -> list[dict[str, Any]]:
    return ceiling.get("attainable") or [{"spearman": math.nan, "spearman_sd": math.nan} for _ in SUBSETS]


def _quantile_cells(quantiles: list[dict[str, Any]], ceiling: dict[str, Any]) -> list[str]:
    return [x for q, a, c in zip(quantiles, _attainable(ceiling), ceiling["subsets"])
            for x in (str(q["n"]), _f(q["spearman"]), _f(a["spearman"], 2), _f(c["spearman"], 2))]


def ceiling_gaps(pairs: Sequence[tuple[list[dict[str, Any]], dict[str, Any]]],
                 margin: float = GOAL_MARGIN) -> list[dict[str, Any]]:
    """Per best share, over datasets (pairs of a model's quantile fidelity and the noise ceiling on the same
    configurations): on how many the Spearman is within `margin` of the ceiling, and the mean shortfall
    (ceiling - Spearman; one dataset's ceiling moves by its sd, the mean over several much less). Datasets
    without a figure or a ceiling are not counted."""
    out = []
    for i, (label, _) in enumerate(SUBSETS):
        gaps = [c["subsets"][i]["spearman"] - q[i]["spearman"] for q, c in pairs
                if not (math.isnan(q[i]["spearman"]) or math.isnan(c["subsets"][i]["spearman"]))]
        out.append({"subset": label, "n": len(gaps), "within": sum(g <= margin for g in gaps),
                    "mean_shortfall": float(np.mean(gaps)) if gaps else math.nan})
    return out


def ceiling_check_line(ceilings: Sequence[dict[str, Any]], z: float = 2.0) -> str:
    """One line: on how many datasets, per best share, the observed seed 0 vs seed 1 agreement lies more than
    `z` sd above what the ceiling's noise model predicts (modelled_seed_agreement: the ceiling there is likely
    too low, and the count of datasets within the margin of it too high) and more than `z` sd below it (the
    ceiling likely too high, the shortfall overstated)."""
    parts = []
    for i, (label, _) in enumerate(SUBSETS):
        pairs = [(c["check"]["observed"][i]["spearman"], c["check"]["model"][i]) for c in ceilings if c.get("check")]
        z_scores = [(o - m["spearman"]) / m["spearman_sd"] for o, m in pairs
                    if not (math.isnan(o) or math.isnan(m["spearman"])) and m["spearman_sd"] > 0]
        if z_scores:
            above, below = sum(v > z for v in z_scores), sum(v < -z for v in z_scores)
            parts.append(f"{label} {above} above, {below} below, of {len(z_scores)}")
    if not parts:
        return "noise model check: n/a (no dataset with configurations run with seeds 0 and 1)"
    return (f"noise model check, datasets whose seeds 0 and 1 agree more than {z:g} sd above the model's prediction "
            f"(the ceiling there likely too low, the count above too high) or below it (the ceiling likely too high): "
            + "; ".join(parts))


def gap_lines(pairs: Sequence[tuple[list[dict[str, Any]], dict[str, Any]]]) -> list[str]:
    """Lines: how close the fidelity comes to the noise ceiling over these datasets (ceiling_gaps), and to what a
    correctly specified model attains, where the datasets have that figure."""
    parts = [f"{g['subset']} {g['within']} of {g['n']} (mean shortfall {_f(g['mean_shortfall'])})"
             for g in ceiling_gaps(pairs)]
    line = (f"within {GOAL_MARGIN} of the noise ceiling, datasets: " + "; ".join(parts)
            + f" (the fidelity goal, docs/tasks.md: {SUBSETS[-1][0]}, Spearman within {GOAL_MARGIN} of the ceiling)")
    attained = [(q, {"subsets": c["attainable"]}) for q, c in pairs if c.get("attainable")]
    if not attained:
        return [line]
    parts = [f"{g['subset']} {g['within']} of {g['n']} (mean shortfall {_f(g['mean_shortfall'])})"
             for g in ceiling_gaps(attained)]
    return [line, f"within {GOAL_MARGIN} of what a correctly specified model attains (or above it), datasets: "
            + "; ".join(parts) + " (one dataset's figure moves by about the attainable's sd: 0.1-0.25 on a top 10 %)"]


def summary_row(dataset: sg.Dataset, result: dict[str, Any], ceiling: dict[str, Any]) -> list[str]:
    """One dataset's row of the summary table (model `result`)."""
    return [dataset.name, str(dataset.n_runs), str(dataset.n_configs), str(int(dataset.from_refine.sum())),
            str(dataset.n_diverged), _f(result["final"]["r2"]), *_quantile_cells(_quantiles(result), ceiling)]


def render_summary(sections: list[tuple[sg.Dataset, list[dict[str, Any]], dict[str, Any], dict[str, Any] | None]],
                   markdown: bool = False) -> str:
    """The summary table: one row per dataset, for the tasks' model (or the first model reported); then, for
    datasets with a refine stage, the fidelity on their Sobol stage's configurations (sobol_stage_fidelity)."""
    rows, used, pairs = [], set(), []
    for dataset, results, ceiling, _ in sections:
        result = next((r for r in results if r["model"] == sg.DEFAULT_MODEL), results[0])
        used.add(result["model"])
        rows.append(summary_row(dataset, result, ceiling))
        pairs.append((_quantiles(result), ceiling))
    header = ["dataset", "runs", "configs", "refine", "diverged", "R^2", *QUANTILE_HEADER]
    model = ", ".join(f"`{m}`" for m in sorted(used))
    out = [_title("Tiny-LM surrogate fidelity: summary", markdown), ""]
    out += _lines([f"held out by configuration, final budget, model {model}"
                   + (" (the tasks' model)" if used == {sg.DEFAULT_MODEL} else "")
                   + "; refine = configurations of the refine stage (benchmarks.lm.design), in configs"
                   "; n = configurations a figure rests on; ceiling = Spearman a perfect predictor of the "
                   "mean loss would reach under the measured seed noise (n/a: no configuration with several "
                   "converged seeds)"], markdown)
    out += ["", table(header, rows, markdown), ""]
    out += _lines([*gap_lines(pairs), ceiling_check_line([c for _, _, c, _ in sections])], markdown) + [""]
    staged = [(dataset, staged) for dataset, *_, staged in sections if staged]
    if staged:
        header = ["dataset", "Sobol configs", "R^2", *QUANTILE_HEADER]
        rows = [[dataset.name, str(v["n_configs"]), _f(v["final"]["r2"]), *_quantile_cells(v["quantiles"], v["ceiling"])]
                for dataset, v in staged]
        out += [_title("The Sobol stage's configurations held out (refine configurations always in training)",
                       markdown, 3), ""]
        out += _lines([f"model `{staged[0][1]['model']}`; the test configurations are those of the space-filling "
                       "design, as before the refine stage (benchmarks.lm.design) existed, so these figures compare "
                       "with a report on the Sobol runs alone; ceilings over the same configurations"], markdown)
        out += ["", table(header, rows, markdown), ""]
        out += _lines(gap_lines([(v["quantiles"], v["ceiling"]) for _, v in staged]), markdown) + [""]
    return "\n".join(out)


def render(dataset: sg.Dataset, results: list[dict[str, Any]], noise: dict[str, float], check: dict[str, Any] | None,
           markdown: bool = False, ceiling: dict[str, Any] | None = None, level: int = 2) -> str:
    """One dataset's section (and, when `check` is given, the lmscaling check after it)."""
    m = dataset.manifest
    n_div = dataset.n_diverged
    timing = time_model_fit(dataset)
    n_changed = sum(not r["diverged"] and float(np.min(r["val_loss"])) < float(r["val_loss"][-1]) for r in dataset.runs)
    ceiling = ceiling if ceiling is not None else noise_ceiling(dataset)
    sub = level + 1
    out = [_title(f"Tiny-LM surrogate fidelity (held out by configuration): {dataset.name}", markdown, level), ""]
    out += _lines([
        (f"dataset {dataset.name}: {dataset.n_runs} runs, {dataset.n_configs} configurations{_stages(dataset)}, "
         f"{n_div} diverged; sha256 {dataset.sha256}"),
        (f"data updated {m.get('updated', 'n/a')} (planned runs: {m.get('n_runs_planned', 'n/a')}); "
         f"report {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}; surrogate version "
         f"{sg.surrogate_version(sg.DEFAULT_MODEL, dataset)}; tasks use `{sg.DEFAULT_MODEL}`"),
        (f"target: best-so-far validation loss per checkpoint (ln 256 for diverged runs), mean over seeds; "
         f"{n_changed} converged runs end above their best checkpoint"),
        (f"seed noise: spread of ln(final loss) {_f(noise['seed_spread'], 4)} over the "
         f"{noise['n_multi_seed_configs']} multi-seed configurations whose seeds all converged "
         f"({noise['n_left_out_diverged']} with a diverged seed left out); seed noise is "
         f"{_f(100 * noise['within_share'], 1)}% of the final-loss variance"),
        (f"virtual time: ln(s/token) = a {timing['b']:+.2f} ln(FLOPs/token) {timing['c']:+.2f} ln(tokens/step), "
         f"in-sample R^2 {_f(timing['r2'])}, median relative error {_f(100 * timing['median_rel_error'], 0)}%"),
    ], markdown)
    out.append("")
    rows = [[r["model"] + (" (tasks)" if r["model"] == sg.DEFAULT_MODEL else ""), _f(r["final"]["r2"]),
             _f(r["final"]["spearman"]), _f(r["final"]["kendall"]), _f(r["monotone_share"], 2),
             _f(r["monotone_share_raw"], 2), f"{r['n_splits']}", f"{r['seconds']:.1f}"] for r in results]
    out += [_title(f"Final budget ({dataset.checkpoint_tokens[-1]} tokens)", markdown, sub), "",
            table(["model", "R^2", "Spearman", "Kendall", "monotone", "monotone raw", "folds", "CV s"], rows,
                  markdown), ""]
    out += render_quantiles(dataset, results, ceiling, markdown, sub)
    for metric, label in (("r2", "R^2"), ("spearman", "Spearman"), ("kendall", "Kendall")):
        rows = [[r["model"], *(_f(c[metric]) for c in r["per_checkpoint"])] for r in results]
        out += [_title(f"{label} by checkpoint (tokens)", markdown, sub), "",
                table(["model", *(str(t) for t in dataset.checkpoint_tokens)], rows, markdown), ""]
    if check is not None:
        out += render_check(check, markdown, sub)
    return "\n".join(out)


def _stages(dataset: sg.Dataset) -> str:
    """How many configurations come from the refine stage (benchmarks.lm.design), when there is one."""
    from .design import rounds_of

    rounds = rounds_of(dataset.manifest)
    if not rounds:
        return ""
    n = int(dataset.from_refine.sum())
    fitted = " and ".join(str(r["fitted_on"]["n_runs"]) for r in rounds)
    return (f" ({dataset.n_configs - n} Sobol, {n} refine in {len(rounds)} round{'s' * (len(rounds) > 1)}: chosen "
            f"where the {rounds[0]['model']} surrogate fitted on the first {fitted} runs predicted the best losses, "
            f"{rounds[0]['n_seeds']} seeds each)")


def _two_seed_pairs(dataset: sg.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(configuration indices, (n, 2) final targets of seeds 0 and 1) of the configurations run with both
    seeds, all converged, in dataset order."""
    by_config = {c: {int(r["seed"]): r for r in rs} for c, rs in sg.group_by_config(dataset.runs).items()}
    idx = [i for i, c in enumerate(dataset.config_ids) if 0 in by_config[c] and 1 in by_config[c]
           and not any(r["diverged"] for r in by_config[c].values())]
    pairs = [[float(sg.target_curve(by_config[dataset.config_ids[i]][s])[-1]) for s in (0, 1)] for i in idx]
    return np.array(idx, dtype=int), np.array(pairs, dtype=float).reshape(-1, 2)


def seed_agreement(dataset: sg.Dataset, counts: Sequence[int]) -> list[dict[str, Any]]:
    """Model-free check of the ceiling: per count k, Spearman and Kendall between seed 0's and seed 1's final
    targets over the k best configurations (by their mean) among those run with both seeds, all converged
    (n/a when fewer than k, or k < MIN_CONFIGS). Two seeds agreeing on a ranking that the surrogate misses
    say the gap is the surrogate's, not the noise's; one seed is noisier than the mean a ceiling compares with."""
    pairs = _two_seed_pairs(dataset)[1]
    order = np.argsort(pairs.mean(1), kind="stable")
    rows = []
    for k in counts:
        if k < MIN_CONFIGS or k > len(pairs):
            rows.append({"n": k, "spearman": math.nan, "kendall": math.nan})
            continue
        m = sg.heldout_metrics(pairs[order[:k], 0], pairs[order[:k], 1])
        rows.append({"n": k, "spearman": m["spearman"], "kendall": m["kendall"]})
    return rows


def modelled_seed_agreement(dataset: sg.Dataset, counts: Sequence[int], draws: int = CEILING_DRAWS,
                            seed: int = CEILING_SEED + 2, model: tuple | None = None) -> list[dict[str, Any]]:
    """What the ceiling's noise model predicts for seed_agreement: each configuration run with both seeds gets
    its deconvolved true mean plus its simulated seed 0 and seed 1 (NoiseModel.seed_draws: offsets, own and
    shared parts), the k best by their mean are taken and the two rank-correlated, as seed_agreement does with
    the runs (mean and sd over draws). Observed agreement well above this says the seeds share more noise
    across configurations than the model holds, and the ceiling is too low. `model`: the ceiling's (truth,
    NoiseModel) over all configurations, as noise_ceiling computed them; None: computed here the same way."""
    if model is None:
        noise = fit_noise_model(dataset)[0]
        if noise is not None:
            model = (ceiling_truth(dataset, noise), noise)
    idx = _two_seed_pairs(dataset)[0]
    if model is None or len(idx) == 0:
        return [{"n": k, "spearman": math.nan, "spearman_sd": math.nan} for k in counts]
    truth, noise = model
    cols = [int(np.flatnonzero(noise.seeds == s)[0]) for s in (0, 1)]
    keep = np.zeros(len(truth), dtype=bool)
    keep[idx] = True  # idx is in dataset order, as the rows of a mask
    e = noise.rows(keep).seed_draws(np.random.default_rng(seed), draws)
    s0, s1 = truth[idx] + e[:, cols[0]], truth[idx] + e[:, cols[1]]
    rows = []
    for k in counts:
        if k < MIN_CONFIGS or k > len(idx):
            rows.append({"n": k, "spearman": math.nan, "spearman_sd": math.nan})
            continue
        best = np.argsort((s0 + s1) / 2, axis=1, kind="stable")[:, :k]
        rho = _spearman_rows(np.take_along_axis(s0, best, 1), np.take_along_axis(s1, best, 1))
        rows.append({"n": k, "spearman": float(np.nanmean(rho)), "spearman_sd": float(np.nanstd(rho))})
    return rows


def render_quantiles(dataset: sg.Dataset, results: list[dict[str, Any]], ceiling: dict[str, Any], markdown: bool,
                     level: int = 3) -> list[str]:
    """The table of Spearman / Kendall by best share of the target, with the noise ceiling's row."""
    counts = [c["n"] for c in ceiling["subsets"]]
    header = ["model"] + [f"{metric} {label} ({n})" for metric in ("Spearman", "Kendall")
                          for (label, _), n in zip(SUBSETS, counts)]
    rows = [[r["model"] + (" (tasks)" if r["model"] == sg.DEFAULT_MODEL else ""),
             *(_f(q[metric]) for metric in ("spearman", "kendall") for q in _quantiles(r))] for r in results]
    if ceiling.get("attainable"):
        attained = [_f(a["spearman"], 2) + ("" if math.isnan(a["spearman"]) else f" ({_f(a['spearman_sd'], 2)})")
                    for a in ceiling["attainable"]]
        rows.append(["attainable, a correctly specified gp (sd)", *attained, *([""] * len(attained))])
    rows.append(["noise ceiling", *(_f(c[metric], 2) for metric in ("spearman", "kendall") for c in ceiling["subsets"])])
    rows.append(["ceiling sd", *(_f(c[f"{metric}_sd"], 2) for metric in ("spearman", "kendall")
                                 for c in ceiling["subsets"])])
    check = ceiling["check"]  # noise_ceiling over all configurations carries it
    agree = check["observed"]
    rows.append(["seed 0 vs seed 1", *(_f(a[metric], 2) for metric in ("spearman", "kendall") for a in agree)])
    modelled = [_f(a["spearman"], 2) + ("" if math.isnan(a["spearman"]) else f" ({_f(a['spearman_sd'], 2)})")
                for a in check["model"]]
    rows.append(["seed 0 vs seed 1, noise model (sd)", *modelled, *([""] * len(modelled))])
    left = ceiling.get("n_left_out_diverged", 0)
    left_note = (f"; {left} multi-seed configuration{'s' if left != 1 else ''} with a diverged seed left out"
                 if left else "")
    if ceiling["n_multi_seed_configs"]:
        pools = (f"each configuration's noise drawn from the {NOISE_NEIGHBOURS} of them nearest in loss"
                 if ceiling.get("local_noise") else "one pool for all configurations")
        offsets = ", ".join(f"seed {k} {v:+.4f}" for k, v in ceiling["seed_offsets"].items())
        note = (f"noise: {ceiling['n_residuals']} seed residuals of {ceiling['n_multi_seed_configs']} configurations "
                f"run with several seeds, all converged (rms {_f(ceiling['noise_sd'], 4)} nats, each seed's offset "
                f"common to all configurations removed: {offsets} nats){left_note}; {pools}; a share "
                f"{_f(ceiling['shared_share'], 2)} of it common to the configurations of one shape within a seed; "
                f"ceiling = mean over {CEILING_DRAWS} simulated datasets, sd = its spread over them (how far one "
                "dataset's figure moves by chance)")
    else:
        note = f"noise ceiling n/a: no configuration of this dataset was run with several converged seeds{left_note}"
    note2 = ("seed 0 vs seed 1: the rank correlation of two seeds' final losses over the n best configurations run "
             "with both (by their mean; n/a: fewer such configurations), a check of the ceiling without a noise model; "
             "the noise model's row: the Spearman the ceiling's noise model predicts for it (mean and sd over simulated "
             "datasets): observed well above it says the seeds share more noise across configurations than the model "
             "holds, so the ceiling is too low")
    note3 = ("attainable: the held-out Spearman a gp that is right about the landscape's form (the tasks' final-loss "
             f"GP as truth; {ceiling.get('attainable_how')}) reaches on synthetic data of this design and noise, "
             "mean (sd) over the synthetic datasets; a surrogate learns from noisy neighbours, so it falls short of "
             "the ceiling even then (benchmarks/lm/attainable.py)")
    notes = [note, note2] + ([note3] if ceiling.get("attainable") else [])
    return [_title("Final budget by quantile of the target (best = lowest loss; n configurations)", markdown, level),
            "", *_lines(notes, markdown), "", table(header, rows, markdown), ""]


def render_check(check: dict[str, Any], markdown: bool, level: int = 2) -> list[str]:
    return [_title("Analytic lmscaling tasks at their optimum vs Chinchilla L(N, D)", markdown, level), "",
            (f"{check['n_tasks']} bb/mf tasks evaluated at optimal_config(); max |loss - L(N, D)| = "
             f"{check['max_abs_error']:.3g}"), ""]


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fidelity report of the LM surrogates (see the module docstring).")
    parser.add_argument("--dataset", type=Path, action="append", default=None,
                        help="a runs file; repeat for several (default: every benchmarks/lm/data/runs-*.jsonl)")
    parser.add_argument("--models", default=",".join(sg.MODELS), help=f"comma-separated, of {', '.join(sg.MODELS)}")
    parser.add_argument("--splits", type=int, default=5, help="GroupKFold folds (by configuration)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--attainable", choices=("fixed", "searched", "off"), default="fixed",
                        help="what a correctly specified gp attains: its kernel fixed at the truth's (default, about "
                             "a second per dataset), searched in each fold as the gp's cross-validation does "
                             "(about 4 s per synthetic dataset), or not computed")
    parser.add_argument("--attainable-draws", type=int, default=Attainable.draws,
                        help=f"synthetic datasets for the attainable figure (default {Attainable.draws})")
    a = parser.parse_args(list(argv) if argv is not None else None)
    if a.attainable_draws < 1:
        parser.error(f"--attainable-draws must be at least 1, got {a.attainable_draws}")
    how = None if a.attainable == "off" else Attainable(a.attainable_draws, a.attainable == "searched")
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in sg.MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; accepted: {', '.join(sg.MODELS)}")
    paths = a.dataset or sg.shipped_datasets()
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing or not paths:
        parser.error(f"no such dataset: {', '.join(missing) or sg.DATA_DIR / 'runs-*.jsonl'}")
    sections = []
    started = time.perf_counter()
    def progress(line: str) -> None:  # on stderr: the tables on stdout stay clean
        print(f"[lm-report] {line}", file=sys.stderr, flush=True)

    datasets = [sg.load_dataset(path) for path in paths]  # up front: the estimate of the time left weighs each
    work = [dataset_work(d) for d in datasets]
    for i, (path, dataset) in enumerate(zip(paths, datasets), 1):
        elapsed = time.perf_counter() - started
        left = f", about {_duration(elapsed / sum(work[:i - 1]) * sum(work[i - 1:]))} left" if i > 1 else ""
        progress(f"{i}/{len(paths)} {Path(path).name}: cross-validating {', '.join(models)} "
                 f"({_duration(elapsed)} so far{left})")
        sections.append((dataset, evaluate_models(dataset, models, a.splits, lambda m: progress(f"  {m}")),
                         noise_ceiling(dataset, attainable=how),
                         sobol_stage_fidelity(dataset, a.splits, attainable=how)))
    progress(f"done in {_duration(time.perf_counter() - started)}")
    parts = [render_summary(sections, a.markdown)]
    parts += [render(d, results, seed_noise(d), None, a.markdown, ceiling) for d, results, ceiling, _ in sections]
    parts.append("\n".join(render_check(lmscaling_optimum_check(), a.markdown)))
    print("\n".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
