"""Multi-fidelity BBOB: the 24 BBOB functions (ioh) with biased, cheaper low fidelities.

Ids: mfbbob/f<function>_d<dimension>_<variant>, dimensions 2, 5, 10, variants good / moderate /
bad / misleading (as in benchmarks.mf_synthetic), BBOB instance 1: 24 x 3 x 4 = 288 tasks.
Space and budget as benchmarks.bbob (one float per dimension in [-5, 5]; 50 + 10 d full-fidelity
evaluations). Fidelity, fidelity level s, cost model and noise follow benchmarks.mf_synthetic:
integer z in [1, 100], s = ln(z/z_min)/ln(z_max/z_min), virtual_time = 0.05 + 0.95 ((z-1)/99)^1.5
(0.05 s at z = 1, 1 s at z = 100), each fidelity a separate evaluation.

Formula. f is the BBOB function (benchmarks.bbob.BBOBFunction), f_opt its optimum value, d_f(x)
= f(x) - f_opt >= 0. The distractor g is another BBOB function, number ((fid + 11) mod 24) + 1,
same dimension (e.g. f12 -> f24, f13 -> f1; its instance: see below), turned into a score

    h(x) = clip((ln(g(x) - g_opt + c_g) - mu_g) / sd_g, -3, 3).

Then, with the fidelity level s = s(z),

    f_z(x) = f(x)                                             if s = 1 (z = 100, or fidelity None)
    f_z(x) = f_opt - c + (d_f(x) + c) exp((1 - s) B(x))       otherwise,
    B(x)   = lam sd_f h(x)  [ - K phi(x): misleading only ]  [ + noise sd_f eps ]

i.e. in log space the low fidelity is ln(d_f + c) plus a distractor whose spread is lam times
that of ln(d_f + c), fading out as z grows. At z = 100 the value IS plain BBOB (bit for bit), so
the known optimum is BBOB's f_opt, reached at ioh's `optimum.x`. Low fidelities may go below
f_opt (by less than c). Constants come from a fixed reference sample of 1000 uniform points
(seeded by function, dimension, instance), rounded to 6 significant digits: c = 5% quantile of
d_f (keeps the log finite; differences far below c are not resolved at low fidelity), sd_f = std
of ln(d_f + c); c_g = 5% quantile of g - g_opt, mu_g and sd_g the mean and std of ln(g - g_opt + c_g).

Misleading: a decoy well phi(x) = exp(-|x - x_d|^2 / (2 d)) (width sqrt(d)) at
x_d = x* - 4 sign(x*) (per coordinate, sign(0) = +1, rounded to 6 decimals; |x_d - x*|^2 = 16 d,
so phi(x*) = e^-8, except for f5, whose x* lies on the boundary), with depth
K = ln((d_f(x_d) + c) / c) + lam sd_f (h(x_d) + 3) + 1. Then f_1(x_d) = f_opt - c + c exp(-3 lam sd_f - 1)
lies below f_1 anywhere outside the well (phi ~ 0): at z = 1 the optimum lies in the decoy well
(at x_d or, where d_f falls towards x*, next to it), far from x*; it moves back as z grows.

Distractor instance: among instances instance+1 .. instance+16 of g, the one whose h is least
rank-correlated with d_f on the reference sample (with one fixed instance, g and f were strongly
correlated for some functions at d = 2, and no lam brought rho down to the bad target).

Variants are defined by their rank correlation: lam is calibrated per task (bisection on
[0, LAM_MAX = 20], rounded to 3 significant digits; table CALIBRATION below, recomputed by
`python -m benchmarks.mf_bbob --calibrate`) so that Spearman's rho between f_1 and f_100 on the
reference sample equals the target. Measured on 200 fresh uniform points per task, all 72
(function, dimension) pairs (with n = 200, rho itself scatters by about +-0.05):

    variant      target   measured rho(z=1, z=100)               lam: median (range)
    good         0.95     0.92-0.97 (median 0.95)                0.31 (0.13-0.47)
    moderate     0.80     0.73-0.88 (median 0.80)                0.71 (0.36-1.3)
    bad          0.50     0.36-0.68 (median 0.50)                1.7  (1.0-4.1)
    misleading   0.65     0.40-0.79 (median 0.65; 5-95%         0.95 (0-2.3)
                          0.54-0.74), z=1 optimum in the well

good, moderate and bad do not overlap. For 6 misleading tasks at d = 2 (f1, f6, f10, f13, f19,
f20) the well alone takes rho below 0.65, so lam = 0 there. Constant betas per variant were tried
first: with one lam, the measured rho spread over 0.1-0.9 across functions at d = 2, so the
calibration is what keeps the variants apart.

Noise: eps ~ N(0, 1) from mf_synthetic.noise_draw, seeded by (seed, z, x) when seed is given;
kwarg `noise` (default 0: deterministic tasks; metadata.deterministic says so) scales it, in
units of sd_f in log space, and it vanishes at z = 100 like the bias.

`evaluate_batch` calls ioh once per batch for f and once for g (ioh accepts a list of points)
and then applies the same scalar code as `evaluate`, so batches equal one-by-one results exactly.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from benchmarks.bbob import BBOBFunction, default_n_trials
from benchmarks.mf_synthetic import (
    COST_FORMULA,
    FIDELITY,
    FIDELITY_SEMANTICS,
    S_FORMULA,
    VARIANTS,
    fidelity_level,
    noise_draw,
    virtual_cost,
)
from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective

FUNCTIONS = range(1, 25)
DIMENSIONS = (2, 5, 10)
TARGET_RHO = {"good": 0.95, "moderate": 0.80, "bad": 0.50, "misleading": 0.65}
LAM_MAX = 20.0
N_REFERENCE = 1000
H_CLIP = 3.0
DECOY_STEP = 4.0
N_DISTRACTOR_CANDIDATES = 16


_Z_MAX = FIDELITY.max
_FULL_COST = virtual_cost(None)
_log, _exp = math.log, math.exp
_level = lru_cache(maxsize=1024)(fidelity_level)  # optimizers ask few distinct fidelities
_cost = lru_cache(maxsize=1024)(virtual_cost)


def distractor_of(fid: int) -> int:
    """The BBOB function used as distractor for function `fid`."""
    return (int(fid) + 11) % 24 + 1


def _sig(v: float, digits: int = 6) -> float:
    """Round to `digits` significant digits (keeps constants identical across platforms)."""
    v = float(v)
    return 0.0 if v == 0.0 else float(f"{v:.{digits - 1}e}")


# (function, dimension): (distractor instance, lam good, moderate, bad, misleading) for instance 1;
# generated by `python -m benchmarks.mf_bbob --calibrate` (other instances: calibrated when built).
CALIBRATION: dict[tuple[int, int], tuple[int, float, float, float, float]] = {
    (1, 2): (10, 0.285, 0.747, 2.05, 0.0),
    (1, 5): (2, 0.29, 0.652, 1.49, 0.766),
    (1, 10): (9, 0.311, 0.706, 1.64, 1.03),
    (2, 2): (9, 0.21, 0.62, 1.57, 0.0927),
    (2, 5): (3, 0.338, 0.754, 1.7, 0.949),
    (2, 10): (10, 0.341, 0.768, 1.68, 1.11),
    (3, 2): (10, 0.331, 0.746, 1.74, 0.191),
    (3, 5): (10, 0.333, 0.742, 1.64, 0.84),
    (3, 10): (16, 0.325, 0.767, 1.88, 1.13),
    (4, 2): (8, 0.306, 0.744, 1.67, 0.554),
    (4, 5): (16, 0.256, 0.655, 1.63, 1.17),
    (4, 10): (5, 0.285, 0.689, 1.61, 1.14),
    (5, 2): (6, 0.282, 0.744, 1.87, 1.34),
    (5, 5): (11, 0.339, 0.731, 1.64, 1.19),
    (5, 10): (16, 0.313, 0.757, 1.9, 1.3),
    (6, 2): (13, 0.277, 0.688, 1.77, 0.0),
    (6, 5): (7, 0.224, 0.602, 1.57, 0.739),
    (6, 10): (9, 0.29, 0.69, 1.61, 0.948),
    (7, 2): (5, 0.308, 0.629, 1.37, 2.27),
    (7, 5): (13, 0.334, 0.783, 1.97, 1.18),
    (7, 10): (14, 0.331, 0.771, 1.92, 1.2),
    (8, 2): (4, 0.375, 0.919, 2.14, 0.541),
    (8, 5): (2, 0.335, 0.788, 1.82, 0.978),
    (8, 10): (10, 0.317, 0.715, 1.58, 1.08),
    (9, 2): (5, 0.336, 0.75, 1.73, 0.464),
    (9, 5): (12, 0.358, 0.858, 2.64, 1.58),
    (9, 10): (6, 0.416, 1.1, 4.12, 2.11),
    (10, 2): (15, 0.307, 0.717, 1.74, 0.0),
    (10, 5): (4, 0.392, 1.04, 3.25, 1.36),
    (10, 10): (6, 0.397, 0.942, 3.19, 1.61),
    (11, 2): (11, 0.257, 0.666, 1.65, 0.293),
    (11, 5): (10, 0.288, 0.683, 1.61, 1.08),
    (11, 10): (11, 0.268, 0.659, 1.61, 1.06),
    (12, 2): (15, 0.31, 0.644, 1.13, 0.644),
    (12, 5): (3, 0.206, 0.524, 1.38, 0.903),
    (12, 10): (9, 0.261, 0.626, 1.59, 0.994),
    (13, 2): (6, 0.35, 0.871, 2.42, 0.0),
    (13, 5): (6, 0.304, 0.703, 1.62, 0.785),
    (13, 10): (12, 0.307, 0.699, 1.61, 0.908),
    (14, 2): (6, 0.291, 0.652, 1.88, 0.532),
    (14, 5): (5, 0.352, 0.794, 1.85, 0.77),
    (14, 10): (16, 0.338, 0.77, 1.85, 1.17),
    (15, 2): (13, 0.232, 0.556, 1.32, 0.577),
    (15, 5): (3, 0.306, 0.677, 1.68, 0.932),
    (15, 10): (9, 0.306, 0.704, 1.7, 1.22),
    (16, 2): (9, 0.312, 0.716, 1.67, 0.302),
    (16, 5): (4, 0.311, 0.705, 1.66, 0.97),
    (16, 10): (4, 0.312, 0.7, 1.62, 1.04),
    (17, 2): (2, 0.301, 0.784, 2.06, 0.5),
    (17, 5): (4, 0.214, 0.543, 1.58, 0.838),
    (17, 10): (4, 0.312, 0.698, 1.62, 1.03),
    (18, 2): (9, 0.465, 1.33, 3.2, 1.31),
    (18, 5): (5, 0.229, 0.59, 1.64, 0.826),
    (18, 10): (10, 0.309, 0.735, 1.85, 1.1),
    (19, 2): (11, 0.231, 0.597, 1.39, 0.0),
    (19, 5): (17, 0.32, 0.703, 1.54, 1.08),
    (19, 10): (14, 0.329, 0.777, 2.03, 1.28),
    (20, 2): (5, 0.228, 0.544, 1.51, 0.0),
    (20, 5): (17, 0.312, 0.726, 1.72, 0.829),
    (20, 10): (17, 0.319, 0.682, 1.44, 0.928),
    (21, 2): (4, 0.297, 0.65, 1.46, 1.07),
    (21, 5): (10, 0.169, 0.514, 1.68, 0.82),
    (21, 10): (9, 0.272, 0.777, 2.95, 1.03),
    (22, 2): (10, 0.237, 0.622, 1.44, 0.954),
    (22, 5): (9, 0.141, 0.364, 1.02, 0.407),
    (22, 10): (7, 0.129, 0.411, 1.28, 0.665),
    (23, 2): (13, 0.282, 0.694, 1.73, 0.338),
    (23, 5): (12, 0.327, 0.76, 1.84, 0.946),
    (23, 10): (2, 0.32, 0.723, 1.71, 1.08),
    (24, 2): (11, 0.295, 0.715, 1.7, 1.61),
    (24, 5): (8, 0.301, 0.712, 1.72, 1.36),
    (24, 10): (15, 0.318, 0.759, 1.81, 1.31),
}


def _bbob(fid: int, dimension: int, instance: int):
    import ioh

    return ioh.get_problem(int(fid), instance=int(instance), dimension=int(dimension), problem_class=ioh.ProblemClass.BBOB)


class _Reference:
    """Constants of one (function, dimension, instance, distractor instance) from the reference sample."""

    def __init__(self, fid: int, dimension: int, instance: int, g_instance: int) -> None:
        self.f = _bbob(fid, dimension, instance)
        self.g = _bbob(distractor_of(fid), dimension, g_instance)
        self.f_opt, self.g_opt = float(self.f.optimum.y), float(self.g.optimum.y)
        rng = np.random.default_rng([int(fid), int(dimension), int(instance), 4242])
        self.X = rng.uniform(-5.0, 5.0, (N_REFERENCE, dimension))
        rows = self.X.tolist()
        self.df = np.maximum(np.asarray(self.f(rows), float) - self.f_opt, 0.0)
        dg = np.maximum(np.asarray(self.g(rows), float) - self.g_opt, 0.0)
        self.c = _sig(max(np.quantile(self.df, 0.05), 1e-12))
        self.sd_f = _sig(np.log(self.df + self.c).std())
        self.c_g = _sig(max(np.quantile(dg, 0.05), 1e-12))
        lg = np.log(dg + self.c_g)
        self.mu_g, self.sd_g = _sig(lg.mean()), _sig(lg.std())
        self.h = np.clip((lg - self.mu_g) / self.sd_g, -H_CLIP, H_CLIP)
        xo = np.asarray(self.f.optimum.x, float)
        self.x_opt = xo
        self.x_decoy = np.round(xo - DECOY_STEP * np.where(xo >= 0, 1.0, -1.0), 6)
        self.width2 = 2.0 * dimension  # 2 w^2 with w = sqrt(d)
        self.phi = np.exp(-np.sum((self.X - self.x_decoy) ** 2, axis=1) / self.width2)
        self.df_decoy = max(float(self.f(self.x_decoy.tolist())) - self.f_opt, 0.0)
        self.h_decoy = self.score(float(self.g(self.x_decoy.tolist())))

    def score(self, gx: float) -> float:
        h = (math.log(max(gx - self.g_opt, 0.0) + self.c_g) - self.mu_g) / self.sd_g
        return min(H_CLIP, max(-H_CLIP, h))

    def depth(self, lam: float) -> float:
        """Decoy depth K for bias strength lam (see the module docstring)."""
        return _sig(math.log((self.df_decoy + self.c) / self.c) + lam * self.sd_f * (self.h_decoy + H_CLIP) + 1.0)

    def rho(self, lam: float, misleading: bool) -> float:
        """Spearman's rho of f_1 against f on the reference sample (vectorised, for calibration)."""
        from scipy.stats import spearmanr

        B = lam * self.sd_f * self.h
        if misleading:
            B = B - self.depth(lam) * self.phi
        low = (self.df + self.c) * np.exp(B)  # monotone in f_1, enough for ranks
        return float(spearmanr(low, self.df)[0])


@lru_cache(maxsize=None)
def reference(fid: int, dimension: int, instance: int = 1, g_instance: int | None = None) -> _Reference:
    if g_instance is None:
        g_instance = calibration(fid, dimension, instance)[0]
    return _Reference(int(fid), int(dimension), int(instance), int(g_instance))


def choose_distractor_instance(fid: int, dimension: int, instance: int = 1) -> int:
    """Instance of the distractor function (among instance+1 .. instance+N_DISTRACTOR_CANDIDATES)
    whose score h is least rank-correlated with ln d_f on the reference sample."""
    from scipy.stats import spearmanr

    best = None
    for gi in range(instance + 1, instance + 1 + N_DISTRACTOR_CANDIDATES):
        ref = _Reference(fid, dimension, instance, gi)
        r = abs(float(spearmanr(ref.h, ref.df)[0]))
        if best is None or r < best[0] - 1e-9:
            best = (r, gi)
    return best[1]


def calibrate(fid: int, dimension: int, instance: int = 1, variant: str = "good", g_instance: int | None = None) -> float:
    """lam whose rho(f_1, f) on the reference sample is closest to TARGET_RHO[variant] (3 digits)."""
    ref = reference(fid, dimension, instance, g_instance)
    target, misleading = TARGET_RHO[variant], variant == "misleading"
    if ref.rho(0.0, misleading) <= target:
        return 0.0
    if ref.rho(LAM_MAX, misleading) >= target:
        return LAM_MAX
    lo, hi = 0.0, LAM_MAX
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if ref.rho(mid, misleading) >= target:
            lo = mid
        else:
            hi = mid
    return _sig(0.5 * (lo + hi), 3)


@lru_cache(maxsize=None)
def calibration(fid: int, dimension: int, instance: int = 1) -> tuple[int, float, float, float, float]:
    """(distractor instance, lam good, moderate, bad, misleading): the table CALIBRATION for
    instance 1, computed (choose_distractor_instance, calibrate) for other instances."""
    key = (int(fid), int(dimension))
    if instance == 1 and key in CALIBRATION:
        return CALIBRATION[key]
    gi = choose_distractor_instance(fid, dimension, instance)
    return (gi, *(calibrate(fid, dimension, instance, v, gi) for v in VARIANTS))


class MFBBOBFunction(ObjectiveFunction):
    """BBOB function `fid` in `dimension` with biased low fidelities of one `variant`."""

    def __init__(self, fid: int, dimension: int, variant: str = "good", instance: int = 1, noise: float = 0.0) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; accepted: {', '.join(VARIANTS)}")
        self.fid, self.dimension, self.instance = int(fid), int(dimension), int(instance)
        self.variant, self.noise = variant, float(noise)
        self._bbob = BBOBFunction(self.fid, self.dimension, self.instance)
        self._f = self._bbob._problem
        self._names = self._bbob._names
        cal = calibration(self.fid, self.dimension, self.instance)
        ref = reference(self.fid, self.dimension, self.instance, cal[0])
        self._g, self._ref = ref.g, ref
        self.f_opt = float(self._f.optimum.y)
        self.lam = cal[1 + VARIANTS.index(variant)]
        self._lam_sd = self.lam * ref.sd_f
        self.depth = ref.depth(self.lam) if variant == "misleading" else 0.0
        self._decoy = ref.x_decoy.tolist()
        # plain floats for the scalar hot path
        self._base = self.f_opt - ref.c  # f_z = base + (f - base) exp((1 - s) B)
        self._g_opt, self._c_g, self._mu_g, self._sd_g = ref.g_opt, ref.c_g, ref.mu_g, ref.sd_g
        self._sd_f, self._width2 = ref.sd_f, ref.width2
        self.configspace = self._bbob.configspace
        self.metadata = ObjectiveMetadata(
            domain="synthetic", approximation="synthetic", deterministic=self.noise == 0.0,
            optimum=(self.f_opt,), fidelity_semantics=FIDELITY_SEMANTICS,
            extra={
                "function": self._f.meta_data.name, "variant": variant, "instance": self.instance,
                "distractor": f"bbob f{distractor_of(self.fid)} instance {cal[0]}",
                "bias_lambda": self.lam, "target_rho": TARGET_RHO[variant],
                "offset_c": ref.c, "log_sd_f": ref.sd_f,
                "decoy_depth": self.depth,
                "decoy_centre": [float(v) for v in ref.x_decoy] if self.depth else None,
                "noise_log_sd_at_z_min": self.noise,
                "fidelity_level": S_FORMULA, "cost_model": COST_FORMULA,
                "formula": "f_z = f_opt - c + (f - f_opt + c) * exp((1 - s) * B(x)), f_100 = f (benchmarks/mf_bbob.py)",
            },
        )

    @property
    def objectives(self):
        return (Objective("f", minimize=True),)

    @property
    def fidelity(self) -> Fidelity:
        return FIDELITY

    def _value(self, x: list[float], fx: float, gx: float, fidelity: float | None, seed: int | None) -> float:
        """f_z from f(x) and g(x) (the scalar code shared by evaluate and evaluate_batch)."""
        s = _level(fidelity)
        if s >= 1.0:
            return fx
        h = (_log(max(gx - self._g_opt, 0.0) + self._c_g) - self._mu_g) / self._sd_g
        b = self._lam_sd * (H_CLIP if h > H_CLIP else -H_CLIP if h < -H_CLIP else h)
        if self.depth:
            r2 = 0.0
            for xi, ci in zip(x, self._decoy):
                r2 += (xi - ci) * (xi - ci)
            b -= self.depth * _exp(-r2 / self._width2)
        if self.noise:
            b += self.noise * self._sd_f * float(noise_draw(1.0, seed, fidelity, np.asarray(x, float))[0])
        return self._base + (fx - self._base) * _exp((1.0 - s) * b)

    def value(self, x: Sequence[float], fidelity: float | None = None, seed: int | None = None) -> float:
        """f_z(x) for a decision vector (see the module docstring)."""
        x = [float(v) for v in x]
        return self._value(x, float(self._f(x)), float(self._g(x)), fidelity, seed)

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        x = [config[n] for n in self._names]
        fx = float(self._f(x))
        if fidelity is None or fidelity >= _Z_MAX:
            return Evaluation(values=(fx,), virtual_time=_FULL_COST)
        return Evaluation(values=(self._value(x, fx, float(self._g(x)), fidelity, seed),), virtual_time=_cost(fidelity))

    def evaluate_batch(self, configs: Sequence[Mapping[str, Any]], fidelities: Sequence[float | None] | None = None,
                       seeds: Sequence[int | None] | None = None) -> list[Evaluation]:
        """One ioh call for f and one for g over the whole batch; then the scalar code of `evaluate`."""
        n = len(configs)
        if not n:
            return []
        names = self._names
        X = [[c[k] for k in names] for c in configs]
        F = self._f(X)
        if fidelities is None or all(z is None or z >= _Z_MAX for z in fidelities):
            return [Evaluation(values=(float(fx),), virtual_time=_FULL_COST) for fx in F]
        seeds = [None] * n if seeds is None else seeds
        low = [i for i, z in enumerate(fidelities) if not (z is None or z >= _Z_MAX)]
        G = self._g([X[i] for i in low]) if len(low) < n else self._g(X)
        out = [Evaluation(values=(float(fx),), virtual_time=_FULL_COST) for fx in F]
        value = self._value
        for i, gx in zip(low, G):
            z = fidelities[i]
            out[i] = Evaluation(values=(value(X[i], float(F[i]), float(gx), z, seeds[i]),), virtual_time=_cost(z))
        return out


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(id=f"mfbbob/f{f}_d{d}_{v}", target="benchmarks.mf_bbob.MFBBOBFunction",
                 kwargs={"fid": f, "dimension": d, "variant": v}, n_trials=default_n_trials(d))
        for f in FUNCTIONS for d in DIMENSIONS for v in VARIANTS
    ]


def _calibration_table() -> str:
    lines = []
    for f in FUNCTIONS:
        for d in DIMENSIONS:
            gi = choose_distractor_instance(f, d, 1)
            lams = tuple(calibrate(f, d, 1, v, gi) for v in VARIANTS)
            lines.append(f"    ({f}, {d}): ({gi}, {', '.join(repr(v) for v in lams)}),")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m benchmarks.mf_bbob --calibrate
    import sys

    if "--calibrate" in sys.argv:
        print(_calibration_table())
