"""Multi-fidelity multi-objective synthetic tasks: Branin-Currin, Park1/Park2, and MF ZDT/DTLZ.

Cheap MOMF tasks with known structure, so optimizers for the rarest task type (multi-fidelity
and multi-objective at once) can be compared on something besides expensive real tasks.
Fidelity, fidelity level s, cost model and noise follow benchmarks.mf_synthetic exactly: integer
z in [1, 100], s = ln(z/z_min)/ln(z_max/z_min), virtual_time = 0.05 + 0.95 ((z-1)/99)^1.5,
optional noise N(0, (noise (1-s))^2) per objective (default 0: deterministic). Every bias is
scaled by (1 - s), so it vanishes at z = z_max. Variants good / moderate / bad set the strength.

* momfsynth/branincurrin_<v>  u in [0, 1]^2, two objectives (as BoTorch's BraninCurrin):
  f1 = Branin(15 u1 - 5, 15 u2) with the BOCA coefficient bias of mf_synthetic, lam = beta (1-s);
  f2 = C(u) + beta (1-s) (C_L(u) - C(u)), C = Currin's exponential function and C_L its published
  low fidelity (Xiong et al. 2013): the mean of C at (u1 +- 0.05, u2 + 0.05) and
  (u1 +- 0.05, max(0, u2 - 0.05)).
* momfsynth/park_<v>  u in [0, 1]^4, f1 = Park1, f2 = -Park2 (Park 1991; Park2 is maximised,
  since minimising both has no trade-off: both are smallest at u = 0). Each objective is
  P + beta (1-s) (P_L - P) with the published low fidelities (Xiong et al. 2013)
  Park1_L = (1 + sin(u1)/10) Park1 - 2 u1 + u2^2 + u3^2 + 0.5 and Park2_L = 1.2 Park2 - 1
  (Park2_L is a monotone transform of Park2, so only Park1 changes the Pareto set). Park1 is
  computed as 0.5 (sqrt(u1^2 + (u2 + u3^2) u4) - u1) + ..., equal to the usual
  u1/2 (sqrt(1 + (u2 + u3^2) u4 / u1^2) - 1) for u1 > 0 and finite at u1 = 0.
  beta: good 1 (the published low fidelity at z = 1), moderate 5, bad 15.
  Published MF-MO studies (e.g. Belakaria et al., MF-OSEMO) used discrete low-fidelity versions
  of these functions; the continuous interpolation in s and the beta scaling are ours.
* momfsynth/<zdt|dtlz>..._<v>  a pymoo_mo problem evaluated at x contracted towards the anchor
  a = xl + 0.8 (xu - xl): x' = x + lam (a - x), lam = c (1 - s), c: good 0.05, moderate 0.2, bad 0.5.
  The low fidelity front lies above the true one and its Pareto set moves towards a.

Fronts: pareto_front() gives the full-fidelity front: pymoo's for ZDT/DTLZ, a grid approximation
(non-dominated points of a 401^2 / 21^4 grid) for Branin-Currin and Park. metadata.extra holds
ideal, nadir and reference_point = nadir + 0.1 (nadir - ideal), as in benchmarks.pymoo_mo.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

import numpy as np
from ConfigSpace import ConfigurationSpace, Float

from benchmarks.mf_synthetic import (COST_FORMULA, FIDELITY, FIDELITY_SEMANTICS, S_FORMULA,
                                     fidelity_level, noise_draw, virtual_cost)
from benchmarks.pymoo_mo import PymooProblem, default_n_trials
from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Objective

VARIANTS = ("good", "moderate", "bad")
BETAS = {"good": 1.0, "moderate": 5.0, "bad": 15.0}  # Branin-Currin and Park
CONTRACTION = {"good": 0.05, "moderate": 0.2, "bad": 0.5}  # ZDT / DTLZ wrappers
PYMOO_PROBLEMS = (
    # the first five are the original set (ids and order are stable); the rest widen the family
    ("zdt1", 5, None), ("zdt2", 5, None), ("zdt3", 5, None), ("dtlz2", 6, 2), ("dtlz2", 7, 3),
    ("zdt4", 5, None), ("zdt6", 5, None),
    *((p, 10, None) for p in ("zdt1", "zdt2", "zdt3", "zdt4", "zdt6")),
    *((f"dtlz{i}", 6, 2) for i in (1, 3, 4, 5, 6, 7)),
    *((f"dtlz{i}", 7, 3) for i in (1, 3, 4, 5, 6, 7)),
    *((f"wfg{i}", 6, 2) for i in (1, 2, 3, 4)),
)


# --- closed forms; numpy-friendly so the same code evaluates one point or a whole grid ----------
def currin(u1, u2):
    with np.errstate(divide="ignore", over="ignore"):
        fac = np.where(u2 > 0, 1.0 - np.exp(-1.0 / (2.0 * np.maximum(u2, 1e-300))), 1.0)
    return fac * (2300 * u1 ** 3 + 1900 * u1 ** 2 + 2092 * u1 + 60) / (100 * u1 ** 3 + 500 * u1 ** 2 + 4 * u1 + 20)


def currin_low(u1, u2, r: float = 0.05):
    down = np.maximum(0.0, u2 - r)
    return 0.25 * (currin(u1 + r, u2 + r) + currin(u1 + r, down) + currin(u1 - r, u2 + r) + currin(u1 - r, down))


def branin_unit(u1, u2, lam: float):
    x1, x2 = 15.0 * u1 - 5.0, 15.0 * u2
    b = 5.1 / (4 * math.pi ** 2) - 0.01 * lam
    c = 5 / math.pi - 0.1 * lam
    t = 1 / (8 * math.pi) + 0.05 * lam
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


def park1(u1, u2, u3, u4):
    return 0.5 * (np.sqrt(u1 ** 2 + (u2 + u3 ** 2) * u4) - u1) + (u1 + 3 * u4) * np.exp(1 + np.sin(u3))


def park2(u1, u2, u3, u4):
    return 2.0 / 3.0 * np.exp(u1 + u2) - u4 * np.sin(u3) + u3


def _branincurrin(u: np.ndarray, lam: float) -> np.ndarray:
    u1, u2 = u[..., 0], u[..., 1]
    c = currin(u1, u2)
    return np.stack([branin_unit(u1, u2, lam), c + lam * (currin_low(u1, u2) - c)], axis=-1)


def _park(u: np.ndarray, lam: float) -> np.ndarray:
    u1, u2, u3, u4 = (u[..., i] for i in range(4))
    p1, p2 = park1(u1, u2, u3, u4), park2(u1, u2, u3, u4)
    p1_low = (1 + np.sin(u1) / 10) * p1 - 2 * u1 + u2 ** 2 + u3 ** 2 + 0.5
    p2_low = 1.2 * p2 - 1.0
    return np.stack([p1 + lam * (p1_low - p1), -(p2 + lam * (p2_low - p2))], axis=-1)


PROBLEMS = {"branincurrin": (_branincurrin, 2, 401, 50), "park": (_park, 4, 21, 80)}  # f, dim, grid, n_trials


def _pareto_2d(F: np.ndarray) -> np.ndarray:
    """Non-dominated rows of a two-objective array (sort by f1, keep strict improvements of f2)."""
    F = F[np.lexsort((F[:, 1], F[:, 0]))]
    best = np.minimum.accumulate(F[:, 1])
    keep = np.r_[True, F[1:, 1] < best[:-1]]
    return F[keep]


@lru_cache(maxsize=None)
def _grid_front(problem: str) -> np.ndarray:
    f, dim, n, _ = PROBLEMS[problem]
    axes = np.meshgrid(*[np.linspace(0.0, 1.0, n)] * dim, indexing="ij")
    return _pareto_2d(f(np.stack([a.ravel() for a in axes], axis=-1), 0.0))


def _front_extra(front: np.ndarray | None) -> dict[str, Any]:
    if front is None:
        return {}
    ideal, nadir = front.min(axis=0), front.max(axis=0)
    return {"ideal": [round(float(v), 6) for v in ideal], "nadir": [round(float(v), 6) for v in nadir],
            "reference_point": [round(float(v), 6) for v in nadir + 0.1 * (nadir - ideal)],
            "pareto_front_points": int(len(front))}


class _MOMFBase(ObjectiveFunction):
    """Shared plumbing: fidelity, metadata, noise; subclasses define `_values(x, s)`."""

    _names: list[str]
    noise: float
    fidelity = FIDELITY

    def _values(self, x: np.ndarray, s: float) -> np.ndarray:
        raise NotImplementedError

    def values(self, x: np.ndarray, fidelity: float | None = None, seed: int | None = None) -> tuple[float, ...]:
        """Objective values at decision vector `x` and fidelity z (None: z_max)."""
        s = fidelity_level(fidelity)
        y = np.asarray(self._values(x, s), dtype=float)
        if self.noise and s < 1.0:
            y = y + noise_draw(self.noise * (1.0 - s), seed, fidelity, x, size=len(y))
        return tuple(float(v) for v in y)

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        x = np.fromiter((config[n] for n in self._names), dtype=float, count=len(self._names))
        return Evaluation(values=self.values(x, fidelity, seed), virtual_time=virtual_cost(fidelity))


class MOMFSyntheticFunction(_MOMFBase):
    """Branin-Currin or Park1/Park2 (`problem`) with a low-fidelity bias `variant`."""

    def __init__(self, problem: str, variant: str = "good", noise: float = 0.0) -> None:
        if problem not in PROBLEMS:
            raise ValueError(f"unknown problem {problem!r}; accepted: {', '.join(PROBLEMS)}")
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; accepted: {', '.join(VARIANTS)}")
        self.problem, self.variant, self.noise = problem, variant, float(noise)
        self._f, dim, grid, _ = PROBLEMS[problem]
        self.beta = BETAS[variant]
        self._names = [f"x{i}" for i in range(dim)]
        self.configspace = ConfigurationSpace(name=f"momfsynth_{problem}_{variant}",
                                               space=[Float(n, (0.0, 1.0)) for n in self._names])
        self.objectives = (Objective("f1"), Objective("f2"))
        extra = {"problem": problem, "variant": variant, "bias_beta": self.beta, "noise_sd_at_z_min": self.noise,
                 "fidelity_level": S_FORMULA, "cost_model": COST_FORMULA,
                 "pareto_front": f"grid approximation ({grid} points per axis)",
                 **_front_extra(self.pareto_front())}
        self.metadata = ObjectiveMetadata(domain="synthetic", approximation="synthetic", deterministic=self.noise == 0.0,
                                       optimum=None, fidelity_semantics=FIDELITY_SEMANTICS, extra=extra)

    def pareto_front(self) -> np.ndarray:
        """Full-fidelity front, approximated by the non-dominated points of a regular grid."""
        return _grid_front(self.problem).copy()

    def _values(self, x: np.ndarray, s: float) -> np.ndarray:
        return self._f(x, self.beta * (1.0 - s))


class MFPymooProblem(_MOMFBase):
    """A benchmarks.pymoo_mo problem whose low fidelities are evaluated at a contracted x."""

    def __init__(self, problem: str, n_var: int, n_obj: int | None = None, variant: str = "good",
                 noise: float = 0.0) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; accepted: {', '.join(VARIANTS)}")
        self.inner = PymooProblem(problem, n_var, n_obj)
        self.variant, self.noise = variant, float(noise)
        self.contraction = CONTRACTION[variant]
        self._anchor = self.inner.xl + 0.8 * (self.inner.xu - self.inner.xl)
        self._names = [f"x{i}" for i in range(self.inner.n_var)]
        self.configspace = self.inner.configspace
        self.objectives = self.inner.objectives
        extra = {**self.inner.metadata.extra, "variant": variant, "contraction": self.contraction,
                 "anchor": "xl + 0.8 (xu - xl)", "noise_sd_at_z_min": self.noise,
                 "fidelity_level": S_FORMULA, "cost_model": COST_FORMULA}
        self.metadata = ObjectiveMetadata(domain="synthetic", approximation="synthetic", deterministic=self.noise == 0.0,
                                       optimum=None, fidelity_semantics=FIDELITY_SEMANTICS, extra=extra)

    def pareto_front(self) -> np.ndarray | None:
        """Full-fidelity front (the bias vanishes there): pymoo_mo's true front."""
        return self.inner.pareto_front()

    def _values(self, x: np.ndarray, s: float) -> np.ndarray:
        lam = self.contraction * (1.0 - s)
        return np.array(self.inner.evaluate_x(x + lam * (self._anchor - x) if lam else x))


def task_specs() -> list[TaskSpec]:
    specs = [TaskSpec(id=f"momfsynth/{p}_{v}", target="benchmarks.momf_synthetic.MOMFSyntheticFunction",
                      kwargs={"problem": p, "variant": v}, n_trials=PROBLEMS[p][3])
             for p in PROBLEMS for v in VARIANTS]
    for p, n, m in PYMOO_PROBLEMS:
        name = f"{p}_d{n}" if m is None else f"{p}_d{n}_m{m}"
        kwargs: dict[str, Any] = {"problem": p, "n_var": n, "variant": "good"}
        if m is not None:
            kwargs["n_obj"] = m
        specs += [TaskSpec(id=f"momfsynth/{name}_{v}", target="benchmarks.momf_synthetic.MFPymooProblem",
                           kwargs={**kwargs, "variant": v}, n_trials=default_n_trials(n))
                  for v in VARIANTS]
    return specs
