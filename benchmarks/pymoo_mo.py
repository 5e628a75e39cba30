"""Multi-objective test problems from pymoo (ZDT, DTLZ, WFG), as multi-objective tasks.

The standard synthetic MO suites: their true Pareto fronts are known, so analysis can score
optimizers by IGD+ against the front (`pareto_front()`) and by hypervolume against the
suggested reference point, instead of only against the best front any optimizer found.

Ids (stable, lower-case): pymoo/zdt<i>_d<n_var>, pymoo/dtlz<i>_d<n_var>_m<n_obj>,
pymoo/wfg<i>_d<n_var>_m<n_obj>. Space: one float x0..x{n-1} per variable within pymoo's xl/xu.
Objectives f1..fm, all minimized. Budget: 20 n_var full evaluations, clipped to [100, 200].

Tasks (116): ZDT1-4, 6 with n_var 5, 10, 20, 30 (20); DTLZ1-7 with 2 objectives (n_var 6, 10, 20)
and 3 objectives (n_var 7, 10, 20) (42); WFG1-9 with 2 and 3 objectives, n_var 6, 10 and 20, k = 4
position variables (l = 2, 6 or 16 distance variables, even as WFG2/3 require) (54). The first 42
ids (ZDT n_var 5/10, DTLZ n_var m+4/10, WFG1-4 d6 m2) are the original collection and keep their
order; the larger variants follow.

`evaluate_batch` evaluates all configurations in one `problem.evaluate(X)` call on an (n, d)
array; each row equals the one-by-one result exactly (tests/test_benchmarks_suite.py). WFG1 is
the exception: its weighted-sum reduction goes through BLAS (np.dot), whose rounding depends on
the number of rows, so WFG1 batches loop over `evaluate` instead.

metadata.extra holds (plain floats): `ideal` and `nadir` of the true front and
`reference_point` = nadir + 0.1 (nadir - ideal) (= 1.1 nadir wherever the ideal is 0, as for
ZDT1/2/4 and DTLZ1-6). Fronts are pymoo's analytic ones (ZDT, DTLZ1-6 with 2 objectives,
DTLZ1-4 with 3) or computed here, deterministically and offline, by evaluating Pareto-optimal
decision vectors and keeping the non-dominated points: DTLZ5/6 with 3 objectives (pymoo would
download them), DTLZ7 (pymoo's own sample keeps dominated points) and WFG1-4 (pymoo's sampler uses
unseeded randomness and keeps dominated points of WFG2's disconnected front).

WFG details. WFG1 positions are sampled as u^50 (as pymoo does), since its b_poly(0.02) bias
would otherwise leave a gap of 0.5 in the front; its distance variables are the floats x that
bring x / xu closest to 0.35. That bias also turns a rounding error of 1e-16 in x / xu into
about 0.5, and no float gives exactly 0.35 for xu = 12 (n_var >= 6), so pymoo's WFG1 attains
only the front shifted by 0.26 (n_var 6), 0.064 (10), 0.043 (20) along every objective: that
attainable front is the one kept (random samples do not dominate it; the textbook ideal 0 is out of
reach). WFG5-9 share the concave front f = S * h, h on the positive unit sphere, S = (2, 4, ...,
2m); their positions pass through deceptive / parameter-dependent transformations, so sampled
positions miss the extremes, and the front is written down analytically on an angle grid.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np
from ConfigSpace import ConfigurationSpace, Float

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Objective

ZDT = ("zdt1", "zdt2", "zdt3", "zdt4", "zdt6")
ZDT_N_VAR = (5, 10)
ZDT_N_VAR_LARGE = (20, 30)
DTLZ = tuple(f"dtlz{i}" for i in range(1, 8))
DTLZ_N_OBJ = (2, 3)
DTLZ_N_VAR_LARGE = 20
WFG = ("wfg1", "wfg2", "wfg3", "wfg4")  # the original WFG tasks (2 objectives, n_var 6)
WFG_ALL = tuple(f"wfg{i}" for i in range(1, 10))
WFG_N_VAR, WFG_K = 6, 4  # k position + l = 2 distance variables (WFG2/3 need l even)
WFG_SETTINGS = ((6, 2), (6, 3), (10, 2), (10, 3), (20, 2), (20, 3))  # (n_var, n_obj); k = 4 (a multiple of m - 1), l = n_var - 4

#: problems whose vectorized evaluation is not bitwise equal to one-row evaluation (BLAS np.dot)
_NOT_BITWISE_VECTORIZED = frozenset({"wfg1"})


def default_n_trials(n_var: int) -> int:
    """20 full evaluations per variable, clipped to [100, 200]."""
    return int(min(200, max(100, 20 * n_var)))


def _get_problem(problem: str, n_var: int, n_obj: int | None, k: int | None):
    from pymoo.problems import get_problem

    kwargs: dict[str, Any] = {"n_var": n_var}
    if n_obj is not None:
        kwargs["n_obj"] = n_obj
    if k is not None:
        kwargs["k"] = k
    return get_problem(problem, **kwargs)


def _non_dominated(F: np.ndarray) -> np.ndarray:
    from pymoo.util.nds.non_dominated_sorting import find_non_dominated

    F = np.unique(F, axis=0)
    return F[find_non_dominated(F)]


def _closest_fraction(fraction: float, upper: float, ulps: int = 64) -> float:
    """The float x near fraction * upper whose x / upper is closest to `fraction` (exact where possible)."""
    x0 = fraction * upper
    cands = [x0]
    for direction in (np.inf, -np.inf):
        x = x0
        for _ in range(ulps):
            x = float(np.nextafter(x, direction))
            cands.append(x)
    return float(min(cands, key=lambda x: (abs(x / upper - fraction), abs(x - x0))))


@lru_cache(maxsize=None)
def _front(problem: str, n_var: int, n_obj: int | None, k: int | None) -> np.ndarray | None:
    """The true Pareto front (cached per process; callers get a copy)."""
    p = _get_problem(problem, n_var, n_obj, k)
    m = p.n_obj
    if problem in ("wfg5", "wfg6", "wfg7", "wfg8", "wfg9"):
        # concave front: S_i times a point of the positive unit sphere, angles on a grid
        if m == 2:
            a = np.linspace(0.0, np.pi / 2, 2001)
            h = np.column_stack([np.sin(a), np.cos(a)])
        else:
            a, b = (g.ravel() for g in np.meshgrid(*[np.linspace(0.0, np.pi / 2, 101)] * 2, indexing="ij"))
            h = np.column_stack([np.sin(a) * np.sin(b), np.sin(a) * np.cos(b), np.cos(a)])
        return _non_dominated(h * np.asarray(p.S, float))
    if problem.startswith("wfg"):
        # Pareto-optimal x: positions in [0,1]^k (diagonal sweep, all corners, a seeded uniform
        # sample), distance variables at their optimum (pymoo's _positional_to_optimal).
        rng = np.random.default_rng(0)
        diag = np.repeat(np.linspace(0.0, 1.0, 2001)[:, None], p.k, axis=1)
        corners = np.array([[(i >> j) & 1 for j in range(p.k)] for i in range(2 ** p.k)], float)
        pos = np.vstack([diag, corners, rng.random((4000, p.k))])
        if m > 2:
            # plus a grid over the m - 1 position groups (each group of k/(m-1) variables equal)
            gap = p.k // (m - 1)
            axes = np.meshgrid(*[np.linspace(0.0, 1.0, 61)] * (m - 1), indexing="ij")
            grid = np.column_stack([a.ravel() for a in axes])
            pos = np.vstack([pos, np.repeat(grid, gap, axis=1)])
        if problem != "wfg1":
            return _non_dominated(p.evaluate(p._positional_to_optimal(pos), return_values_of=["F"]))
        # WFG1 raises positions to the power 0.02 (b_poly): sample them as u^50, as pymoo does,
        # so the front is covered evenly; and its distance variables x must make x / xu as close
        # to 0.35 as floating point allows (exactly where possible), since b_poly turns a rounding
        # error of 1e-16 into 0.5.
        X = p._positional_to_optimal(pos ** 50.0)
        X[:, p.k:] = [_closest_fraction(0.35, u) for u in np.asarray(p.xu, float)[p.k:]]
        return _non_dominated(p.evaluate(X, return_values_of=["F"]))
    if problem in ("dtlz5", "dtlz6") and m == 3:
        # degenerate curve: theta1 in [0, pi/2], theta2 = pi/4 (same formula pymoo uses for m=2)
        t = np.linspace(0.0, np.pi / 2, 500)
        c = np.cos(np.pi / 4)
        return np.column_stack([np.cos(t) * c, np.cos(t) * c, np.sin(t)])
    if problem == "dtlz7":
        # g = 1 on the front, so f_m = 2 (m - sum_{i<m} f_i/2 (1 + sin(3 pi f_i))), f_i in [0, 1]
        axes = np.meshgrid(*[np.linspace(0.0, 1.0, 2001 if m == 2 else 101)] * (m - 1), indexing="ij")
        head = np.column_stack([a.ravel() for a in axes])
        last = 2.0 * m - np.sum(head * (1.0 + np.sin(3.0 * np.pi * head)), axis=1)
        return _non_dominated(np.column_stack([head, last]))
    front = p.pareto_front()
    return None if front is None else np.asarray(front, dtype=float)


class PymooProblem(ObjectiveFunction):
    """One pymoo problem (`problem` name as pymoo spells it, `n_var`, `n_obj`, WFG's `k`)."""

    def __init__(self, problem: str, n_var: int, n_obj: int | None = None, k: int | None = None) -> None:
        self.problem_name = str(problem).lower()
        self.n_var = int(n_var)
        self.n_obj_arg = None if n_obj is None else int(n_obj)
        self.k = None if k is None else int(k)
        self._problem = _get_problem(self.problem_name, self.n_var, self.n_obj_arg, self.k)
        self.n_obj = int(self._problem.n_obj)
        self.xl = np.asarray(self._problem.xl, dtype=float)
        self.xu = np.asarray(self._problem.xu, dtype=float)
        self._names = [f"x{i}" for i in range(self.n_var)]
        self.configspace = ConfigurationSpace(
            name=f"pymoo_{self.problem_name}_d{self.n_var}_m{self.n_obj}",
            space=[Float(n, (float(lo), float(hi))) for n, lo, hi in zip(self._names, self.xl, self.xu)],
        )
        self.objectives = tuple(Objective(f"f{i + 1}", minimize=True) for i in range(self.n_obj))
        extra: dict[str, Any] = {"problem": self.problem_name, "n_obj": self.n_obj}
        if self.k is not None:
            extra["k"] = self.k
        front = self.pareto_front()
        if front is not None:
            ideal, nadir = front.min(axis=0), front.max(axis=0)
            extra.update(
                ideal=[round(float(v), 6) for v in ideal],
                nadir=[round(float(v), 6) for v in nadir],
                reference_point=[round(float(v), 6) for v in nadir + 0.1 * (nadir - ideal)],
                pareto_front_points=int(len(front)),
            )
        self.metadata = ObjectiveMetadata(domain="synthetic", approximation="synthetic", deterministic=True,
                                       optimum=None, extra=extra)

    def pareto_front(self) -> np.ndarray | None:
        """The true Pareto front as an (n_points, n_obj) array, None when unknown."""
        front = _front(self.problem_name, self.n_var, self.n_obj_arg, self.k)
        return None if front is None else front.copy()

    def vector(self, config: Mapping[str, Any]) -> np.ndarray:
        return np.fromiter((config[n] for n in self._names), dtype=float, count=self.n_var)

    def evaluate_x(self, x: np.ndarray) -> tuple[float, ...]:
        """Objective values at decision vector `x` (one row), as plain floats."""
        F = self._problem.evaluate(x.reshape(1, -1), return_values_of=["F"])
        return tuple(float(v) for v in F[0])

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        return Evaluation(values=self.evaluate_x(self.vector(config)))

    def evaluate_batch(self, configs: Sequence[Mapping[str, Any]], fidelities: Sequence[float | None] | None = None,
                       seeds: Sequence[int | None] | None = None) -> list[Evaluation]:
        """All configurations in one `problem.evaluate` call on an (n, n_var) array (pymoo vectorizes)."""
        if not len(configs):
            return []
        if self.problem_name in _NOT_BITWISE_VECTORIZED or type(self).evaluate is not PymooProblem.evaluate:
            return super().evaluate_batch(configs, fidelities, seeds)  # the loop (subclasses may change evaluate)
        X = np.array([[c[n] for n in self._names] for c in configs], dtype=float)
        F = self._problem.evaluate(X, return_values_of=["F"])
        return [Evaluation(values=tuple(float(v) for v in row)) for row in F]


def task_specs() -> list[TaskSpec]:
    target = "benchmarks.pymoo_mo.PymooProblem"
    specs = [TaskSpec(id=f"pymoo/{p}_d{n}", target=target, kwargs={"problem": p, "n_var": n},
                      n_trials=default_n_trials(n))
             for p in ZDT for n in ZDT_N_VAR]
    specs += [TaskSpec(id=f"pymoo/{p}_d{n}_m{m}", target=target, kwargs={"problem": p, "n_var": n, "n_obj": m},
                       n_trials=default_n_trials(n))
              for p in DTLZ for m in DTLZ_N_OBJ for n in (m + 4, 10)]
    specs += [TaskSpec(id=f"pymoo/{p}_d{WFG_N_VAR}_m2", target=target,
                       kwargs={"problem": p, "n_var": WFG_N_VAR, "n_obj": 2, "k": WFG_K},
                       n_trials=default_n_trials(WFG_N_VAR))
              for p in WFG]
    # larger variants (added later; the ids above keep their order)
    specs += [TaskSpec(id=f"pymoo/{p}_d{n}", target=target, kwargs={"problem": p, "n_var": n},
                       n_trials=default_n_trials(n))
              for p in ZDT for n in ZDT_N_VAR_LARGE]
    specs += [TaskSpec(id=f"pymoo/{p}_d{DTLZ_N_VAR_LARGE}_m{m}", target=target,
                       kwargs={"problem": p, "n_var": DTLZ_N_VAR_LARGE, "n_obj": m},
                       n_trials=default_n_trials(DTLZ_N_VAR_LARGE))
              for p in DTLZ for m in DTLZ_N_OBJ]
    specs += [TaskSpec(id=f"pymoo/{p}_d{n}_m{m}", target=target,
                       kwargs={"problem": p, "n_var": n, "n_obj": m, "k": WFG_K},
                       n_trials=default_n_trials(n))
              for p in WFG_ALL for n, m in WFG_SETTINGS if not (p in WFG and (n, m) == (WFG_N_VAR, 2))]
    return specs
