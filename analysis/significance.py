"""P-values that hold at benchmark sizes, and the smallest p-value a design can reach.

Benchmarks are small: 3 to 5 seeds per task, sometimes a handful of tasks. There the usual
asymptotic approximations are poor (scipy's Mann-Whitney U with ties reports p = 0.047 for 3 vs 3
seeds, where no exact test can go below 0.1), so small samples get exact permutation p-values:

* Mann-Whitney U (per task, over seeds): exact when the samples have at most
  `EXACT_PERMUTATIONS` arrangements, else scipy's default;
* Wilcoxon signed-rank (over tasks, `zero_method="zsplit"`): exact for N <= `EXACT_MAX_BLOCKS`;
* Friedman (over tasks): exact for N <= `EXACT_MAX_BLOCKS` and k <= 4 (the null distribution of
  the rank sums, built block by block), a seeded Monte Carlo permutation p-value for k >= 5;
  the chi-square approximation above N = 10, as autorank and scipy use.

`min_p_*` give the smallest p-value a design can produce, so a report can say when a marker
cannot appear whatever the data (3 seeds: 0.1 per task; 5 tasks: 1/16 for a Wilcoxon pair).
"""
from __future__ import annotations

import math
from itertools import permutations

import numpy as np

EXACT_MAX_BLOCKS = 10
EXACT_PERMUTATIONS = 20_000
MONTE_CARLO_DRAWS = 100_000


def _two_sided(null: np.ndarray, observed: float) -> float:
    """scipy's permutation convention: twice the smaller tail, capped at 1 (ties within 1e-9)."""
    eps = 1e-9 * max(1.0, abs(observed))
    return float(min(1.0, 2 * min((null >= observed - eps).mean(), (null <= observed + eps).mean())))


def mann_whitney_p(x, y) -> float:
    """Two-sided Mann-Whitney U p-value: exact over every split of the pooled ranks (ties keep
    their midranks) when there are at most `EXACT_PERMUTATIONS` splits, else scipy's default."""
    from itertools import combinations

    from scipy.stats import mannwhitneyu, rankdata

    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 1 or len(y) < 1 or np.ptp(np.r_[x, y]) == 0:
        return 1.0
    n = len(x) + len(y)
    if math.comb(n, len(x)) > EXACT_PERMUTATIONS:
        p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
        return min(p, 1.0) if math.isfinite(p) else 1.0
    ranks = rankdata(np.r_[x, y])
    null = ranks[np.array(list(combinations(range(n), len(x))))].sum(axis=1)
    return _two_sided(null, float(ranks[: len(x)].sum()))


def signed_rank_p(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value over paired blocks with zero_method="zsplit" (a zero
    difference is split between the signs instead of dropped, so ties count against a
    difference): exact over all sign flips for N <= `EXACT_MAX_BLOCKS`, else scipy's default."""
    import warnings

    from scipy.stats import rankdata, wilcoxon

    d = np.asarray(a, float) - np.asarray(b, float)
    if len(d) == 0 or np.allclose(d, 0):
        return 1.0
    if len(d) > EXACT_MAX_BLOCKS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(wilcoxon(d, zero_method="zsplit").pvalue)
        return min(p, 1.0) if math.isfinite(p) else 1.0
    ranks = rankdata(np.abs(d))
    nonzero = d != 0
    fixed = ranks[~nonzero].sum() / 2  # zsplit: each zero gives half its rank to the positive sum
    r = ranks[nonzero]
    signs = (np.arange(2 ** len(r))[:, None] >> np.arange(len(r))) & 1
    null = fixed + signs @ r
    return _two_sided(null, fixed + float(r[d[nonzero] > 0].sum()))


def _block_ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, axis=1, method="average")


def _friedman_exact(ranks: np.ndarray) -> float:
    """P(S >= S_obs) for S = sum_j R_j^2 under within-block exchangeability, exactly: the
    distribution of the first k - 1 doubled rank sums, convolved block by block."""
    n, k = ranks.shape
    doubled = np.rint(2 * ranks).astype(int)
    width = 2 * k * n + 1
    dist = np.zeros((width,) * (k - 1))
    dist[(0,) * (k - 1)] = 1.0
    for row in doubled:
        nxt = np.zeros_like(dist)
        perms = set(permutations(row.tolist()))
        for perm in perms:
            shift = perm[: k - 1]
            src = tuple(slice(0, width - s) for s in shift)
            dst = tuple(slice(s, width) for s in shift)
            nxt[dst] += dist[src]
        dist = nxt / len(perms)
    total = int(doubled.sum())
    grids = np.meshgrid(*[np.arange(width)] * (k - 1), indexing="ij")
    last = total - sum(grids)
    stat = sum(g.astype(float) ** 2 for g in grids) + last.astype(float) ** 2
    observed = float((doubled.sum(axis=0).astype(float) ** 2).sum())
    return float(dist[(stat >= observed - 1e-9) & (last >= 0)].sum())


def _friedman_monte_carlo(ranks: np.ndarray, seed: int = 0) -> float:
    n, k = ranks.shape
    rng = np.random.default_rng(seed)
    observed = (ranks.sum(axis=0) ** 2).sum()
    count = 0
    for start in range(0, MONTE_CARLO_DRAWS, 10_000):
        draws = rng.permuted(np.broadcast_to(ranks, (10_000, n, k)), axis=2)
        count += int(((draws.sum(axis=1) ** 2).sum(axis=1) >= observed - 1e-9).sum())
    return (count + 1) / (MONTE_CARLO_DRAWS + 1)


def friedman(values: np.ndarray) -> tuple[float, float, str]:
    """Friedman statistic, p-value and how the p-value was computed, for N blocks x k methods."""
    from scipy.stats import friedmanchisquare

    values = np.asarray(values, float)
    n, k = values.shape
    stat = float(friedmanchisquare(*values.T).statistic)
    if n > EXACT_MAX_BLOCKS:
        return stat, float(friedmanchisquare(*values.T).pvalue), "chi-square approximation"
    ranks = _block_ranks(values)
    if k <= 4:
        return stat, min(_friedman_exact(ranks), 1.0), "exact permutation distribution"
    return stat, _friedman_monte_carlo(ranks), f"Monte Carlo permutation p, {MONTE_CARLO_DRAWS:,} seeded draws"


def min_p_signed_rank(n_blocks: int, comparisons: int = 1) -> float:
    """Smallest Holm-adjusted two-sided signed-rank p-value with n blocks and m comparisons
    (every difference of one sign: 2 / 2^n, times m at Holm's first step)."""
    if n_blocks < 1:
        return 1.0
    if n_blocks <= EXACT_MAX_BLOCKS:
        p = 2.0 ** (1 - n_blocks)
    else:  # scipy's normal approximation at the largest statistic
        from scipy.stats import norm

        n = n_blocks
        p = 2 * float(norm.sf((n * (n + 1) / 4) / math.sqrt(n * (n + 1) * (2 * n + 1) / 24)))
    return min(1.0, comparisons * p)


def min_p_friedman(n_blocks: int, k: int) -> float:
    """Smallest exact Friedman p-value: every block orders the k methods the same way."""
    if n_blocks < 1 or k < 2:
        return 1.0
    if n_blocks <= EXACT_MAX_BLOCKS:
        return float(math.factorial(k)) ** (1 - n_blocks)
    from scipy.stats import chi2

    return float(chi2.sf(n_blocks * (k - 1), k - 1))  # the statistic's maximum, N (k - 1)


def min_p_mann_whitney(n_x: int, n_y: int, comparisons: int = 1) -> float:
    """Smallest Holm-adjusted two-sided Mann-Whitney p-value: complete separation, 2 / C(n, n_x)."""
    if n_x < 1 or n_y < 1:
        return 1.0
    n = math.comb(n_x + n_y, n_x)
    if n <= EXACT_PERMUTATIONS:
        p = 2.0 / n
    else:  # scipy's normal approximation (continuity-corrected) at complete separation
        from scipy.stats import norm

        mean = n_x * n_y / 2
        p = 2 * float(norm.sf((mean - 0.5) / math.sqrt(n_x * n_y * (n_x + n_y + 1) / 12)))
    return min(1.0, comparisons * p)
