"""Analytic language-model training tasks built on published scaling laws (collection `lmscaling`).

The final validation loss (nats per token) of a decoder-only LM as a closed-form function of its
training hyperparameters, model size N and tokens D: microseconds per evaluation, a known
optimum (exact regret), and the landscape shape measured in LM training (a gentle slope below the
optimal learning rate, a steep rise and a divergence cliff above it, an optimum that moves with
the budget). All four task types; the numbers below are constants of this module.

Base loss (Chinchilla form, N = non-embedding parameters, D = training tokens)
    L(N, D) = E + A / N^alpha + B / D^beta
    law "epoch" (default): Epoch AI replication of Chinchilla, Besiroglu et al. 2024
                           (arXiv 2404.10102): E 1.8169, A 482.01, B 2085.43, alpha 0.3478, beta 0.3658
    law "hoffmann":        Hoffmann et al. 2022 (arXiv 2203.15556), approach 3:
                           E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28
    Both fits counted all parameters; we use one N, the non-embedding count Step Law needs, in
    both (a simplification: embeddings are a minor share at these sizes).

Optimal learning rate and batch size (Step Law, "Predictable Scale", Li et al. 2025, arXiv 2503.04715)
    eta*(N, D) = 1.79 N^-0.713 D^0.307        B*(D) = 0.58 D^0.571 tokens
    batch_size is an integer number of sequences of SEQ_LEN = 2048 tokens (Chinchilla's context
    length); the batch optimum is B*(D) / 2048 rounded to the nearest whole sequence in log
    space, b*(D) (so the optimum stays exact on the integer domain; the rounding moves it by at
    most half a sequence).

Loss at a configuration (every penalty >= 0, exactly 0 at the optimum)
    x = log2(lr / eta*(N, D)),  v = log2(batch_size / b*(D)),  x_eff = x - 0.3 v
    p = p_lr(x_eff) + p_batch(v) + p_warmup(w) + p_wd(wd) + p_beta2(beta2, x_eff) + p_schedule
    L_conv = min(L(N, D) (1 + p), L_div)                       (never worse than uniform guessing)
    loss = L_conv + s(z) (L_div - L_conv),  s(z) = 1 / (1 + e^-z),  z = (x_eff - x_div(w)) / 0.05
           (s is set to 0 for z < -40, far below one ulp of the loss)
    L_div = ln(VOCAB) = ln(32000) = 10.37: the loss of a uniform prediction over a 32k vocabulary,
    where diverged runs end (LM_NOTES: "loss near ln(vocab)").

    Calibration: relative loss increases of the Step Law grid (1,911 runs, 17 (N, D) groups,
    as summarized in /work/shared/LM_NOTES.md; the runs themselves are not shipped, no licence):
    * p_lr, by log2(lr / eta*): -4: +2.7%, -2: +1.0%, -1: +0.4%, +1: +0.7%, +2: +3.2%.
        x < 0: 0.00395 |x|^1.377 (least-squares fit to the three points: 0.99, 1.03, 0.99 of them)
               + 0.01 max(0, |x| - 4)^2 (our extrapolation beyond the measured range: a run at
               1/100 of the optimal lr is far from converged)
        x > 0: 0.007 x^2.193 (through +0.7% at 1 and +3.2% at 2)
      Convex, zero slope at 0, gentle below the optimum and steep above it.
    * p_batch(v) = 0.0150 (cosh(0.642 v) - 1): least-squares fit to +-2: 1.3-1.6%, +-3: 2.9-4.4%,
      +-4: 8-9% (gives 1.42%, 3.76%, 8.34%); its curvature at 0, 0.0065 per (ln unit)^2, matches
      the quadratic-basin fit (0.0061). Read as the profile: the loss at each batch size with the
      learning rate best for it.
    * Cross term: the quadratic basin fit has curvatures lr 0.0072, batch 0.0061 and cross -0.0043
      per (ln unit)^2, so the best lr rises as batch^(0.0043 / (2 * 0.0072)) = batch^0.30. We
      shift the lr penalty along that ridge: x_eff = x - 0.3 v (best lr = eta* (B / b*)^0.3).
    * Divergence: x_div(w) = 2.5 + 3 (1 - exp(-w / 0.025)) octaves above eta*, w = warmup
      fraction: 2^2.5 = 5.7x without warmup (the grid: +2 convex, +3 mostly diverged; "a cliff at
      4-8x"), 11x at 1% warmup, 34x at 5% and 45x at the 30% maximum (a tiny CPU LM with 5% warmup
      and clipping stayed convex up to 100x: warmup raises the threshold; larger models are
      less stable, so we stop below that). The sigmoid width 0.05 octaves makes a cliff: the loss
      goes from 1% to 99% of the way to L_div within 0.46 octaves (a factor 1.37 in lr).
    Smaller effects (our choices, documented; no single published grid):
    * warmup_fraction w in [0, 0.3], optimum W_OPT = 0.02: 0.004 (1 - w / 0.02)^2 below (no
      warmup: +0.4%, besides the lower divergence threshold), 0.1 (w - 0.02)^2 above (the warmup
      tokens train at a low lr: +0.78% at w = 0.3).
    * weight_decay in [1e-3, 1] (log), optimum 0.1 (the usual AdamW LLM value): with
      t = ln(wd / 0.1), 0.0005 t^2 below (+1.1% at 1e-3) and 0.004 t^2 above (+2.1% at 1).
    * beta2 in [0.8, 0.999], optimum 0.98 (inside the usual 0.95-0.99): with
      t = ln((1 - beta2) / 0.02), 0.0007 t^2 for beta2 above 0.98 (+0.6% at 0.999) and
      0.002 t^2 2^(x_eff / 2) below (+1.1% at 0.8 at the optimal lr, twice that at 4x the lr:
      a short second-moment memory hurts most at high learning rates).
    * schedule (categorical): cosine 0 (the reference; Chinchilla and Step Law decay the lr),
      linear +0.05%, wsd +0.1% (warmup-stable-decay with a cooldown matches cosine, Haegele et al.
      2024, arXiv 2405.18392), constant +2% (no annealing: "a bit worse at full budget").
    Penalties are separable except for the lr-batch ridge, the lr-beta2 term and warmup's effect
    on divergence; weight decay does not interact with the lr (a simplification).

Task types (ids stable; N, D written 1e8 etc.)
    lmscaling/bb_n<N> (N = 1e8, 3e8, 1e9, 3e9, 7e9), bb_n1e8_tpp200, bb_n1e9_tpp200: fixed N,
        D = 20 N (Chinchilla-optimal) or 200 N (over-trained, "tokens per parameter" 200);
        6 hyperparameters (learning_rate log float, batch_size log integer in sequences,
        warmup_fraction, weight_decay log float, beta2, schedule categorical); objective "loss";
        optimum L(N, D) exactly, at lr = eta*(N, D), batch b*(D), warmup 0.02, wd 0.1,
        beta2 0.98, cosine (`optimal_config()`).
    lmscaling/mf_n<N> (N = 1e8, 1e9, 7e9), mf_n1e8_tpp200: as bb with fidelity "tokens" D in
        [D_max / 64, D_max] (float), D_max = 20 N (200 N). Each fidelity is a separate run
        completed at that budget (its own schedule decays to the end at D), so eta*(N, D) and
        b*(D) move with D: low fidelities are biased (the optimal lr at D_max / 64 is
        64^0.307 = 3.6x lower), as in real LM tuning.
        Optimum at full fidelity: L(N, D_max).
    lmscaling/mo_nd_small, mo_nd_large, mo_nd_small_hoffmann: objectives loss and
        compute = 6 N D FLOPs (the usual training-FLOPs estimate), both minimized, with n_params
        (N) and n_tokens (D) as log-float hyperparameters besides the six: a bigger model or
        more tokens lowers the loss and costs compute, so the two conflict. The Pareto front is
        exact: for each budget C, the best loss is L at the compute-optimal allocation inside the
        box, since along N D = C/6 the loss is convex in ln N: N_opt = G (C/6)^(beta/(alpha+beta)),
        G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al., eq. 4), clipped to the box;
        hyperparameters at their optimum for that (N, D). small: N in [3e7, 3e9], D in [1e9, 1e11];
        large: N in [3e8, 3e10], D in [1e10, 5e11].
    lmscaling/mo_n_d2e10: compute trade-off through N only, D fixed at 2e10: the front is
        (L(N, D), 6 N D) for N in [3e7, 3e9].
    lmscaling/momf_n_d2e10 (N in [3e7, 3e9]), momf_n_d2e11 (N in [3e8, 3e10]),
        momf_n_d2e10_hoffmann: n_params as hyperparameter, tokens as fidelity in
        [D_max / 64, D_max] (same semantics as mf); compute = 6 N D at the evaluated D. The front
        (at full fidelity) is (L(N, D_max), 6 N D_max).
    MO tasks: optimum None (a front, not a point); `pareto_front()` returns it (1001 points,
    sorted by compute) and metadata.extra holds ideal, nadir and
    reference_point = nadir + 0.1 (nadir - ideal), as in benchmarks.pymoo_mo.

Search-space bounds contain every optimum of every task (learning_rate [1e-5, 1e-1], batch_size
[4, 4096] sequences); defaults are PyTorch's untuned AdamW values (lr 1e-3, wd 0.01, beta2 0.999,
no warmup, constant schedule; batch 64), not the optimum.

Cost: virtual_time = 6 N D / (4e14 FLOP/s peak * 0.4 MFU) seconds on one accelerator (7.5e5 s,
208 hours, for N = 1e9, D = 2e10), whatever the outcome (a diverged run is not stopped early). The laws are
extrapolated below the fitted ranges (Chinchilla: N >= 7e7, D >= 5e9) at low fidelities and in
the small MO box; the loss never exceeds L_div there.

`evaluate` is `evaluate_batch` on one configuration: one numpy code path, so both agree exactly.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective


@dataclass(frozen=True)
class ChinchillaLaw:
    """L(N, D) = E + A / N^alpha + B / D^beta, with its source."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, n_params, n_tokens):
        return self.E + self.A / np.power(n_params, self.alpha) + self.B / np.power(n_tokens, self.beta)

    def optimal_n_params(self, compute):
        """Compute-optimal N for C = 6 N D FLOPs, without bounds (Hoffmann et al. 2022, eq. 4)."""
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))
        return g * np.power(np.asarray(compute, float) / 6.0, self.beta / (self.alpha + self.beta))


LAWS = {
    "epoch": ChinchillaLaw(1.8169, 482.01, 2085.43, 0.3478, 0.3658, "Besiroglu et al. 2024 (Epoch AI replication)"),
    "hoffmann": ChinchillaLaw(1.69, 406.4, 410.7, 0.34, 0.28, "Hoffmann et al. 2022, approach 3"),
}

# --- Step Law optima ------------------------------------------------------------------------------
STEP_LR = (1.79, -0.713, 0.307)  # eta* = c N^a D^b
STEP_BATCH = (0.58, 0.571)  # B* = c D^b tokens
SEQ_LEN = 2048
VOCAB = 32000
DIVERGED_LOSS = math.log(VOCAB)

# --- landscape constants (see the module docstring for their calibration) ------------------------
LR_LOW_C, LR_LOW_Q = 0.00395, 1.377
LR_FAR_X, LR_FAR_C = 4.0, 0.01
LR_HIGH_C, LR_HIGH_Q = 0.007, 2.193
BATCH_C, BATCH_K = 0.0150, 0.642
LR_BATCH_SLOPE = 0.3
X_DIV0, X_DIV_GAIN, X_DIV_WARMUP_SCALE, DIV_WIDTH = 2.5, 3.0, 0.025, 0.05
WARMUP_OPT, WARMUP_LOW_C, WARMUP_HIGH_C = 0.02, 0.004, 0.1
WD_OPT, WD_LOW_C, WD_HIGH_C = 0.1, 0.0005, 0.004
BETA2_OPT, BETA2_HIGH_C, BETA2_LOW_C, BETA2_LR_SLOPE = 0.98, 0.0007, 0.002, 0.5
SCHEDULE_PENALTY = {"cosine": 0.0, "linear": 0.0005, "wsd": 0.001, "constant": 0.02}
OPTIMAL_SCHEDULE = "cosine"

# --- space, cost, task conventions ----------------------------------------------------------------
LR_BOUNDS = (1e-5, 1e-1)
BATCH_BOUNDS = (4, 4096)
WARMUP_BOUNDS = (0.0, 0.3)
WD_BOUNDS = (1e-3, 1.0)
BETA2_BOUNDS = (0.8, 0.999)
DEFAULTS = {"learning_rate": 1e-3, "batch_size": 64, "warmup_fraction": 0.0, "weight_decay": 0.01,
            "beta2": 0.999, "schedule": "constant"}
PEAK_FLOPS, MFU = 4e14, 0.4
MIN_TOKEN_FRACTION = 1.0 / 64.0
FRONT_POINTS = 1001
FIDELITY_SEMANTICS = ("separate runs completed at each budget: a run at D tokens decays its schedule to the end "
                      "at D; the optimal learning rate (D^0.307) and batch size (D^0.571) move with D (Step Law), "
                      "so low fidelities are biased")


# --- the closed forms (numpy: scalars or arrays) ---------------------------------------------------
def optimal_lr(n_params, n_tokens):
    """Step Law eta*(N, D) = 1.79 N^-0.713 D^0.307."""
    c, a, b = STEP_LR
    return c * np.power(n_params, a) * np.power(n_tokens, b)


def optimal_batch_tokens(n_tokens):
    """Step Law B*(D) = 0.58 D^0.571 tokens (continuous)."""
    c, b = STEP_BATCH
    return c * np.power(n_tokens, b)


def optimal_batch_sequences(n_tokens):
    """b*(D): B*(D) / SEQ_LEN rounded to the nearest whole sequence in log space (at least 1)."""
    s = np.maximum(optimal_batch_tokens(n_tokens) / SEQ_LEN, 1.0)
    lo = np.floor(s)
    hi = lo + 1.0
    return np.where(np.log(s / lo) <= np.log(hi / s), lo, hi)


def lr_penalty(x):
    """Relative loss increase at x = log2(lr / best lr): gentle below, steep above (no divergence)."""
    below = np.maximum(-x, 0.0)
    above = np.maximum(x, 0.0)
    return (LR_LOW_C * below ** LR_LOW_Q + LR_FAR_C * np.maximum(below - LR_FAR_X, 0.0) ** 2
            + LR_HIGH_C * above ** LR_HIGH_Q)


def batch_penalty(v):
    """Relative loss increase at v = log2(batch / b*), with the lr best for that batch."""
    return BATCH_C * (np.cosh(BATCH_K * v) - 1.0)


def warmup_penalty(w):
    d = w - WARMUP_OPT
    return np.where(d < 0.0, WARMUP_LOW_C * (d / WARMUP_OPT) ** 2, WARMUP_HIGH_C * d ** 2)


def divergence_threshold(w):
    """Octaves above the best lr where training diverges; rises with the warmup fraction."""
    return X_DIV0 - X_DIV_GAIN * np.expm1(-np.asarray(w, float) / X_DIV_WARMUP_SCALE)


def weight_decay_penalty(wd):
    t = np.log(wd / WD_OPT)
    return np.where(t < 0.0, WD_LOW_C, WD_HIGH_C) * t * t


def beta2_penalty(beta2, x_eff):
    t = np.log((1.0 - beta2) / (1.0 - BETA2_OPT))
    return np.where(t < 0.0, BETA2_HIGH_C * t * t, BETA2_LOW_C * t * t * np.exp2(BETA2_LR_SLOPE * x_eff))


def training_loss(law: ChinchillaLaw, n_params, n_tokens, learning_rate, batch_size, warmup_fraction,
                  weight_decay, beta2, schedule_penalty):
    """Final validation loss and a diverged flag (arrays; see the module docstring)."""
    x = np.log2(learning_rate / optimal_lr(n_params, n_tokens))
    v = np.log2(batch_size / optimal_batch_sequences(n_tokens))
    x_eff = x - LR_BATCH_SLOPE * v
    p = (lr_penalty(x_eff) + batch_penalty(v) + warmup_penalty(warmup_fraction)
         + weight_decay_penalty(weight_decay) + beta2_penalty(beta2, x_eff) + schedule_penalty)
    converged = np.minimum(law.loss(n_params, n_tokens) * (1.0 + p), DIVERGED_LOSS)
    z = np.clip((x_eff - divergence_threshold(warmup_fraction)) / DIV_WIDTH, -60.0, 60.0)
    weight = np.where(z < -40.0, 0.0, 1.0 / (1.0 + np.exp(-z)))
    return converged + weight * (DIVERGED_LOSS - converged), z > 0.0


def training_flops(n_params, n_tokens):
    return 6.0 * n_params * n_tokens


def gpu_seconds(flops):
    """Seconds on one accelerator at PEAK_FLOPS * MFU."""
    return flops / (PEAK_FLOPS * MFU)


def _fmt(value: float) -> str:
    """1e8 -> '1e8', 3e10 -> '3e10', 2e11 -> '2e11' (task ids)."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _bounds(value) -> tuple[float, float] | None:
    """(lo, hi) for a range given as a list/tuple, None for a fixed value."""
    if isinstance(value, (list, tuple)):
        lo, hi = (float(v) for v in value)
        if not 0.0 < lo < hi:
            raise ValueError(f"a range needs 0 < lo < hi, got {value!r}")
        return lo, hi
    return None


class LMScalingLaw(ObjectiveFunction):
    """Validation loss of an LM training run from scaling laws (all task types; see the module docstring).

    n_params: a number (fixed N) or [lo, hi] (N becomes the log-float hyperparameter n_params).
    n_tokens: a number (fixed D), [lo, hi] (hyperparameter n_tokens) or None (D = tokens_per_param N).
    token_fidelity: tokens become the fidelity, in [D_max * min_token_fraction, D_max].
    compute_objective: add compute = 6 N D FLOPs as a second objective (needs N or D to vary).
    """

    def __init__(self, n_params: float | Sequence[float], n_tokens: float | Sequence[float] | None = None,
                 tokens_per_param: float = 20.0, law: str = "epoch", token_fidelity: bool = False,
                 compute_objective: bool = False, min_token_fraction: float = MIN_TOKEN_FRACTION) -> None:
        if law not in LAWS:
            raise ValueError(f"unknown law {law!r}; accepted: {', '.join(LAWS)}")
        self.law_name, self.law = law, LAWS[law]
        self.n_range, self.d_range = _bounds(n_params), _bounds(n_tokens)
        self.n_fixed = None if self.n_range else float(n_params)
        if n_tokens is None:
            if self.n_fixed is None:
                raise ValueError("n_tokens=None (D = tokens_per_param * N) needs a fixed n_params")
            self.d_fixed = float(tokens_per_param) * self.n_fixed
        else:
            self.d_fixed = None if self.d_range else float(n_tokens)
        if token_fidelity and self.d_range:
            raise ValueError("tokens cannot be both a hyperparameter range and the fidelity")
        if compute_objective and self.n_range is None and self.d_range is None:
            raise ValueError("compute_objective needs n_params or n_tokens as a range (else compute is constant)")
        self.compute_objective = bool(compute_objective)

        hps = [
            Float("learning_rate", LR_BOUNDS, log=True, default=DEFAULTS["learning_rate"]),
            Integer("batch_size", BATCH_BOUNDS, log=True, default=DEFAULTS["batch_size"]),
            Float("warmup_fraction", WARMUP_BOUNDS, default=DEFAULTS["warmup_fraction"]),
            Float("weight_decay", WD_BOUNDS, log=True, default=DEFAULTS["weight_decay"]),
            Float("beta2", BETA2_BOUNDS, default=DEFAULTS["beta2"]),
            Categorical("schedule", list(SCHEDULE_PENALTY), default=DEFAULTS["schedule"]),
        ]
        if self.n_range:
            hps.append(Float("n_params", self.n_range, log=True))
        if self.d_range:
            hps.append(Float("n_tokens", self.d_range, log=True))
        self.configspace = ConfigurationSpace(name="lmscaling", space=hps)
        self.fidelity = (Fidelity("tokens", self.d_fixed * float(min_token_fraction), self.d_fixed)
                         if token_fidelity else None)
        self.objectives = ((Objective("loss"), Objective("compute")) if self.compute_objective
                           else (Objective("loss"),))

        extra: dict[str, Any] = {
            "model": "analytic: Chinchilla loss L(N, D) (published fit) times calibrated hyperparameter "
                     "penalties around the Step Law optimum; closed form, not a learned surrogate",
            "law": law, "law_source": self.law.source,
            "law_constants": {k: getattr(self.law, k) for k in ("E", "A", "B", "alpha", "beta")},
            "step_law": "eta* = 1.79 N^-0.713 D^0.307; B* = 0.58 D^0.571 tokens",
            "n_params": self.n_fixed if self.n_range is None else list(self.n_range),
            "n_tokens": self.d_fixed if self.d_range is None else list(self.d_range),
            "batch_size_unit": f"sequences of {SEQ_LEN} tokens",
            "vocab": VOCAB, "diverged_loss": DIVERGED_LOSS,
            "cost_model": f"virtual_time = 6 N D / ({PEAK_FLOPS:g} FLOP/s * {MFU} MFU) seconds",
        }
        optimum = None
        if self.n_fixed is not None and self.d_fixed is not None:
            extra.update(optimal_learning_rate=float(optimal_lr(self.n_fixed, self.d_fixed)),
                         optimal_batch_size=int(optimal_batch_sequences(self.d_fixed)))
            if not self.compute_objective:
                optimum = (float(self.law.loss(self.n_fixed, self.d_fixed)),)
        if self.compute_objective:
            front = self.pareto_front()
            ideal, nadir = front.min(axis=0), front.max(axis=0)
            extra.update(ideal=[float(v) for v in ideal], nadir=[float(v) for v in nadir],
                         reference_point=[float(v) for v in nadir + 0.1 * (nadir - ideal)],
                         pareto_front_points=len(front))
        self.metadata = ObjectiveMetadata(domain="lm", approximation="synthetic", deterministic=True,
                                          optimum=optimum,
                                          fidelity_semantics=FIDELITY_SEMANTICS if token_fidelity else None,
                                          extra=extra)

    # --- optimum and front ------------------------------------------------------------------------
    def optimal_config(self, n_params: float | None = None, n_tokens: float | None = None) -> dict[str, Any]:
        """The configuration with every penalty 0 at (N, D) (defaults: the task's fixed N, D_max)."""
        n = self.n_fixed if n_params is None else float(n_params)
        d = self.d_fixed if n_tokens is None else float(n_tokens)
        if n is None or d is None:
            raise ValueError("this task varies N or D: pass n_params / n_tokens")
        config: dict[str, Any] = {
            "learning_rate": float(optimal_lr(n, d)), "batch_size": int(optimal_batch_sequences(d)),
            "warmup_fraction": WARMUP_OPT, "weight_decay": WD_OPT, "beta2": BETA2_OPT, "schedule": OPTIMAL_SCHEDULE,
        }
        if self.n_range:
            config["n_params"] = n
        if self.d_range:
            config["n_tokens"] = d
        return config

    def front_allocations(self, n_points: int = FRONT_POINTS) -> tuple[np.ndarray, np.ndarray]:
        """(N, D) of the Pareto-optimal runs at full fidelity, sorted by compute."""
        if not self.compute_objective:
            raise ValueError("single-objective task: no Pareto front")
        if self.d_range is None:
            n = np.geomspace(*self.n_range, n_points)
            return n, np.full_like(n, self.d_fixed)
        n_lo, n_hi = self.n_range if self.n_range else (self.n_fixed, self.n_fixed)
        d_lo, d_hi = self.d_range
        k = np.geomspace(n_lo * d_lo, n_hi * d_hi, n_points)  # C / 6
        n = np.clip(self.law.optimal_n_params(6.0 * k), np.maximum(n_lo, k / d_hi), np.minimum(n_hi, k / d_lo))
        return n, k / n

    def pareto_front(self, n_points: int = FRONT_POINTS) -> np.ndarray:
        """Exact front (loss, compute) at full fidelity, (n_points, 2), sorted by compute."""
        n, d = self.front_allocations(n_points)
        return np.column_stack([self.law.loss(n, d), training_flops(n, d)])

    # --- evaluation ---------------------------------------------------------------------------------
    def _column(self, configs: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
        return np.fromiter((float(c[name]) for c in configs), dtype=float, count=len(configs))

    def evaluate_batch(self, configs: Sequence[Mapping[str, Any]], fidelities: Sequence[float | None] | None = None,
                       seeds: Sequence[int | None] | None = None) -> list[Evaluation]:
        m = len(configs)
        if m == 0:
            return []
        if self.n_range:
            n = self._column(configs, "n_params")
        else:
            n = np.full(m, self.n_fixed)
        if self.d_range:
            d = self._column(configs, "n_tokens")
        else:
            d = np.full(m, self.d_fixed)
            if self.fidelity is not None and fidelities is not None:
                d = np.fromiter((self.d_fixed if f is None else float(f) for f in fidelities), dtype=float, count=m)
        sched = np.fromiter((SCHEDULE_PENALTY[c["schedule"]] for c in configs), dtype=float, count=m)
        loss, diverged = training_loss(
            self.law, n, d, self._column(configs, "learning_rate"), self._column(configs, "batch_size"),
            self._column(configs, "warmup_fraction"), self._column(configs, "weight_decay"),
            self._column(configs, "beta2"), sched)
        flops = training_flops(n, d)
        seconds = gpu_seconds(flops)
        loss_l, flops_l, seconds_l, div_l = loss.tolist(), flops.tolist(), seconds.tolist(), diverged.tolist()
        if self.compute_objective:
            return [Evaluation(values=(loss_l[i], flops_l[i]), virtual_time=seconds_l[i], info={"diverged": div_l[i]})
                    for i in range(m)]
        return [Evaluation(values=(loss_l[i],), virtual_time=seconds_l[i], info={"diverged": div_l[i]})
                for i in range(m)]

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        return self.evaluate_batch([config], [fidelity])[0]


# --- the collection --------------------------------------------------------------------------------
_TARGET = "benchmarks.lm.scaling.LMScalingLaw"
BB_SIZES = (1e8, 3e8, 1e9, 3e9, 7e9)
MF_SIZES = (1e8, 1e9, 7e9)
OVERTRAINED = 200.0  # tokens per parameter of the *_tpp200 variants
MO_BOXES = {"small": ([3e7, 3e9], [1e9, 1e11]), "large": ([3e8, 3e10], [1e10, 5e11])}
MOMF_SETTINGS = {2e10: [3e7, 3e9], 2e11: [3e8, 3e10]}  # D_max: N range


def task_specs() -> list[TaskSpec]:
    specs = []
    for n in BB_SIZES:
        specs.append(TaskSpec(id=f"lmscaling/bb_n{_fmt(n)}", target=_TARGET, kwargs={"n_params": n}, n_trials=100))
    for n in (1e8, 1e9):
        specs.append(TaskSpec(id=f"lmscaling/bb_n{_fmt(n)}_tpp200", target=_TARGET,
                              kwargs={"n_params": n, "tokens_per_param": OVERTRAINED}, n_trials=100))
    for n in MF_SIZES:
        specs.append(TaskSpec(id=f"lmscaling/mf_n{_fmt(n)}", target=_TARGET,
                              kwargs={"n_params": n, "token_fidelity": True}, n_trials=100))
    specs.append(TaskSpec(id="lmscaling/mf_n1e8_tpp200", target=_TARGET,
                          kwargs={"n_params": 1e8, "tokens_per_param": OVERTRAINED, "token_fidelity": True},
                          n_trials=100))
    for name, (n_range, d_range) in MO_BOXES.items():
        specs.append(TaskSpec(id=f"lmscaling/mo_nd_{name}", target=_TARGET,
                              kwargs={"n_params": n_range, "n_tokens": d_range, "compute_objective": True},
                              n_trials=100))
    specs.append(TaskSpec(id="lmscaling/mo_nd_small_hoffmann", target=_TARGET,
                          kwargs={"n_params": MO_BOXES["small"][0], "n_tokens": MO_BOXES["small"][1],
                                  "law": "hoffmann", "compute_objective": True}, n_trials=100))
    specs.append(TaskSpec(id="lmscaling/mo_n_d2e10", target=_TARGET,
                          kwargs={"n_params": [3e7, 3e9], "n_tokens": 2e10, "compute_objective": True}, n_trials=100))
    for d_max, n_range in MOMF_SETTINGS.items():
        specs.append(TaskSpec(id=f"lmscaling/momf_n_d{_fmt(d_max)}", target=_TARGET,
                              kwargs={"n_params": n_range, "n_tokens": d_max, "token_fidelity": True,
                                      "compute_objective": True}, n_trials=100))
    specs.append(TaskSpec(id="lmscaling/momf_n_d2e10_hoffmann", target=_TARGET,
                          kwargs={"n_params": MOMF_SETTINGS[2e10], "n_tokens": 2e10, "law": "hoffmann",
                                  "token_fidelity": True, "compute_objective": True}, n_trials=100))
    return specs
