"""Multi-fidelity synthetic functions with a controllable low-fidelity bias (MF-Hartmann, MF-Branin).

Like the MF-Hartmann family of mf-prior-bench used in CARP-S, but defined here in full (our own
constants, tuned so the variants differ measurably): cheap, deterministic tasks on which one can
see whether a multi-fidelity optimizer profits from good low fidelities and is hurt by bad ones.

Fidelity: integer z in [1, 100] (name "z"); each fidelity is a separate evaluation (no
learning curve), None means z = 100. With the normalised (log) fidelity level

    s(z) = ln(z / z_min) / ln(z_max / z_min)   in [0, 1]   (geometric schedules 1, 3, 11, 33, 100
                                                           are spread evenly: s = 0, .24, .52, .76, 1)

the task returns f_z(x) = g(x; lam) - D (1 - s) exp(-|u - u_d|^2 / (2 w^2)) + eps, with
lam = beta (1 - s), u = x scaled to [0, 1]^d, and the bias g of each function:

* hartmann3 / hartmann6: g(x; lam) = -sum_i (alpha_i - lam) exp(-sum_j A_ij (x_j - P_ij)^2),
  alpha = (1, 1.2, 3, 3.2); lowering every alpha flattens the low fidelity and, for larger
  beta, lets the minor basins win (the BOCA / mf-prior-bench form alpha - bias (1 - z)).
* branin: the BOCA MF-Branin (Kandasamy et al. 2017) with strength lam:
  g = (x2 - b x1^2 + c x1 - 6)^2 + 10 (1 - t) cos(x1) + 10, b = 5.1/(4 pi^2) - 0.01 lam,
  c = 5/pi - 0.1 lam, t = 1/(8 pi) + 0.05 lam, on x1 in [-5, 10], x2 in [0, 15].

Variants (beta; Spearman rank correlation of z=1 with z=100 over uniform random x, measured):

    variant      hartmann3/6 beta   branin beta   decoy D     rho(z=1, z=100)
    good         0.5                2             0           0.99
    moderate     1.25               10            0           0.75-0.82
    bad          2.0                16            0           0.45-0.49
    misleading   1.0                5             4 / 4 / 60  0.5-0.8, low-fidelity optimum near u_d

The misleading decoy (width w = 0.2 in unit coordinates) sits at u_d = 1 - u* for Hartmann and at
u_d = (0.5, 0.6) for Branin, away from the true minimisers, and is the global low-fidelity minimum.
At z = z_max every bias and the decoy vanish, so the known optimum holds exactly (Hartmann3
-3.86278, Hartmann6 -3.32237, Branin 0.397887).

Noise eps ~ N(0, (noise (1 - s))^2) (kwarg `noise`, default 0: tasks are deterministic and
metadata.deterministic says so; with noise > 0 the draw is seeded by (seed, z, x) when `seed` is
given, so repeated calls agree). Cost: virtual_time = 0.05 + 0.95 ((z - z_min)/(z_max - z_min))^1.5
seconds (0.05 s at z = 1, 1 s at z = 100), returned as Evaluation.virtual_time.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
from ConfigSpace import ConfigurationSpace, Float

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective

# --- shared multi-fidelity conventions (also used by benchmarks.momf_synthetic) ------------------
Z_MIN, Z_MAX = 1, 100
FIDELITY = Fidelity("z", Z_MIN, Z_MAX, integer=True)
FIDELITY_SEMANTICS = ("each fidelity z is a separate, cheaper evaluation; low fidelities are biased "
                      "(bias shrinks to 0 at z_max)")
S_FORMULA = "s = ln(z/z_min)/ln(z_max/z_min)"
COST_FORMULA = "virtual_time = 0.05 + 0.95*((z-z_min)/(z_max-z_min))**1.5"
VARIANTS = ("good", "moderate", "bad", "misleading")


def fidelity_level(z: float | None) -> float:
    """Normalised log fidelity s in [0, 1]; None (full fidelity) gives 1."""
    if z is None:
        return 1.0
    s = math.log(float(z) / Z_MIN) / math.log(Z_MAX / Z_MIN)
    return min(1.0, max(0.0, s))


def virtual_cost(z: float | None) -> float:
    """Seconds of virtual time one evaluation at z stands for (0.05 at z_min, 1 at z_max)."""
    lin = 1.0 if z is None else min(1.0, max(0.0, (float(z) - Z_MIN) / (Z_MAX - Z_MIN)))
    return 0.05 + 0.95 * lin ** 1.5


def noise_draw(sd: float, seed: int | None, z: float | None, x: np.ndarray, size: int = 1) -> np.ndarray:
    """Gaussian noise with standard deviation `sd`; seeded by (seed, z, x) when seed is given."""
    if sd <= 0.0:
        return np.zeros(size)
    if seed is None:
        rng = np.random.default_rng()
    else:
        key = zlib.crc32(np.append(np.asarray(x, float), -1.0 if z is None else float(z)).tobytes())
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, key])
    return sd * rng.standard_normal(size)


# --- the functions -----------------------------------------------------------------------------
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_A3 = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_P3 = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_A6 = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P6 = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                       [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann(x: np.ndarray, lam: float, A: np.ndarray, P: np.ndarray) -> float:
    """Hartmann with every alpha_i lowered by lam (lam = 0: the standard function)."""
    inner = np.sum(A * (x - P) ** 2, axis=1)
    return float(-np.sum((_ALPHA - lam) * np.exp(-inner)))


def branin(x: np.ndarray, lam: float) -> float:
    """BOCA MF-Branin with perturbation strength lam (lam = 0: the standard Branin)."""
    x1, x2 = float(x[0]), float(x[1])
    b = 5.1 / (4 * math.pi ** 2) - 0.01 * lam
    c = 5 / math.pi - 0.1 * lam
    t = 1 / (8 * math.pi) + 0.05 * lam
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


@dataclass(frozen=True)
class _Function:
    g: Callable[[np.ndarray, float], float]
    bounds: tuple[tuple[float, float], ...]
    optimum: float
    minimisers: tuple[tuple[float, ...], ...]
    betas: dict[str, float]
    decoy_centre: tuple[float, ...]  # unit coordinates
    decoy_depth: float
    decoy_width: float = 0.2
    n_trials: int = 50


_H3_X = (0.114614, 0.555649, 0.852547)
_H6_X = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
FUNCTIONS: dict[str, _Function] = {
    "hartmann3": _Function(
        g=lambda x, lam: hartmann(x, lam, _A3, _P3), bounds=((0.0, 1.0),) * 3, optimum=-3.86278,
        minimisers=(_H3_X,), betas={"good": 0.5, "moderate": 1.25, "bad": 2.0, "misleading": 1.0},
        decoy_centre=tuple(round(1 - v, 6) for v in _H3_X), decoy_depth=4.0, n_trials=60),
    "hartmann6": _Function(
        g=lambda x, lam: hartmann(x, lam, _A6, _P6), bounds=((0.0, 1.0),) * 6, optimum=-3.32237,
        minimisers=(_H6_X,), betas={"good": 0.5, "moderate": 1.25, "bad": 2.0, "misleading": 1.0},
        decoy_centre=tuple(round(1 - v, 6) for v in _H6_X), decoy_depth=4.0, n_trials=100),
    "branin": _Function(
        g=branin, bounds=((-5.0, 10.0), (0.0, 15.0)), optimum=0.397887,
        minimisers=((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)),
        betas={"good": 2.0, "moderate": 10.0, "bad": 16.0, "misleading": 5.0},
        decoy_centre=(0.5, 0.6), decoy_depth=60.0, n_trials=50),
}


class MFSyntheticFunction(ObjectiveFunction):
    """One MF synthetic function (`function` in FUNCTIONS) in one bias `variant` (see VARIANTS)."""

    def __init__(self, function: str, variant: str = "good", noise: float = 0.0) -> None:
        if function not in FUNCTIONS:
            raise ValueError(f"unknown function {function!r}; accepted: {', '.join(FUNCTIONS)}")
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; accepted: {', '.join(VARIANTS)}")
        self.function, self.variant, self.noise = function, variant, float(noise)
        self._f = FUNCTIONS[function]
        self.beta = self._f.betas[variant]
        self.decoy_depth = self._f.decoy_depth if variant == "misleading" else 0.0
        self._names = [f"x{i}" for i in range(len(self._f.bounds))]
        self._lb = np.array([b[0] for b in self._f.bounds])
        self._width = np.array([b[1] - b[0] for b in self._f.bounds])
        self._decoy = np.array(self._f.decoy_centre)
        self.configspace = ConfigurationSpace(
            name=f"mfsynth_{function}_{variant}",
            space=[Float(n, b) for n, b in zip(self._names, self._f.bounds)],
        )
        self.metadata = ObjectiveMetadata(
            domain="synthetic", approximation="synthetic", deterministic=self.noise == 0.0,
            optimum=(self._f.optimum,), fidelity_semantics=FIDELITY_SEMANTICS,
            extra={
                "function": function, "variant": variant, "bias_beta": self.beta,
                "decoy_depth": self.decoy_depth,
                "decoy_centre_unit": list(self._f.decoy_centre) if self.decoy_depth else None,
                "noise_sd_at_z_min": self.noise,
                "minimisers": [[float(v) for v in m] for m in self._f.minimisers],
                "fidelity_level": S_FORMULA, "cost_model": COST_FORMULA,
            },
        )

    objectives = (Objective("f", minimize=True),)
    fidelity = FIDELITY

    def value(self, x: np.ndarray, fidelity: float | None = None, seed: int | None = None) -> float:
        """f_z(x) for a decision vector in the task's own units (see the module docstring)."""
        s = fidelity_level(fidelity)
        y = self._f.g(x, self.beta * (1.0 - s))
        if self.decoy_depth and s < 1.0:
            u = (x - self._lb) / self._width
            y -= self.decoy_depth * (1.0 - s) * math.exp(-float(np.sum((u - self._decoy) ** 2))
                                                         / (2 * self._f.decoy_width ** 2))
        if self.noise and s < 1.0:
            y += float(noise_draw(self.noise * (1.0 - s), seed, fidelity, x)[0])
        return y

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        x = np.fromiter((config[n] for n in self._names), dtype=float, count=len(self._names))
        return Evaluation(values=(self.value(x, fidelity, seed),), virtual_time=virtual_cost(fidelity))


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(id=f"mfsynth/{f}_{v}", target="benchmarks.mf_synthetic.MFSyntheticFunction",
                 kwargs={"function": f, "variant": v}, n_trials=FUNCTIONS[f].n_trials)
        for f in FUNCTIONS for v in VARIANTS
    ]
