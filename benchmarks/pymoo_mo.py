"""Multi-objective test problems from pymoo (ZDT, DTLZ, WFG), as multi-objective tasks.

The standard synthetic MO suites: their true Pareto fronts are known, so analysis can score
optimizers by IGD+ against the front (`pareto_front()`) and by hypervolume against the
suggested reference point, instead of only against the best front any optimizer found.

Ids (stable, lower-case): pymoo/zdt<i>_d<n_var>, pymoo/dtlz<i>_d<n_var>_m<n_obj>,
pymoo/wfg<i>_d<n_var>_m<n_obj>. Space: one float x0..x{n-1} per variable within pymoo's xl/xu.
Objectives f1..fm, all minimized. Budget: 20 n_var full evaluations, clipped to [100, 200].

metadata.extra holds (plain floats): `ideal` and `nadir` of the true front and
`reference_point` = nadir + 0.1 (nadir - ideal) (= 1.1 nadir wherever the ideal is 0, as for
ZDT1/2/4 and DTLZ1-6). Fronts are pymoo's analytic ones (ZDT, DTLZ1-6 with 2 objectives,
DTLZ1-4 with 3) or computed here, deterministically and offline, by evaluating Pareto-optimal
decision vectors and keeping the non-dominated points: DTLZ5/6 with 3 objectives (pymoo would
download them), DTLZ7 (pymoo's own sample keeps dominated points) and WFG (pymoo's sampler uses
unseeded randomness and keeps dominated points of WFG2's disconnected front).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np
from ConfigSpace import ConfigurationSpace, Float

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Objective

ZDT = ("zdt1", "zdt2", "zdt3", "zdt4", "zdt6")
ZDT_N_VAR = (5, 10)
DTLZ = tuple(f"dtlz{i}" for i in range(1, 8))
DTLZ_N_OBJ = (2, 3)
WFG = ("wfg1", "wfg2", "wfg3", "wfg4")
WFG_N_VAR, WFG_K = 6, 4  # k position + l = 2 distance variables (WFG2/3 need l even)


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


@lru_cache(maxsize=None)
def _front(problem: str, n_var: int, n_obj: int | None, k: int | None) -> np.ndarray | None:
    """The true Pareto front (cached per process; callers get a copy)."""
    p = _get_problem(problem, n_var, n_obj, k)
    m = p.n_obj
    if problem.startswith("wfg"):
        # Pareto-optimal x: positions in [0,1]^k (diagonal sweep, all corners, a seeded uniform
        # sample), distance variables at their optimum (pymoo's _positional_to_optimal).
        rng = np.random.default_rng(0)
        diag = np.repeat(np.linspace(0.0, 1.0, 2001)[:, None], p.k, axis=1)
        corners = np.array([[(i >> j) & 1 for j in range(p.k)] for i in range(2 ** p.k)], float)
        pos = np.vstack([diag, corners, rng.random((4000, p.k))])
        return _non_dominated(p.evaluate(p._positional_to_optimal(pos), return_values_of=["F"]))
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
        self._configspace = ConfigurationSpace(
            name=f"pymoo_{self.problem_name}_d{self.n_var}_m{self.n_obj}",
            space=[Float(n, (float(lo), float(hi))) for n, lo, hi in zip(self._names, self.xl, self.xu)],
        )
        self._objectives = tuple(Objective(f"f{i + 1}", minimize=True) for i in range(self.n_obj))
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
        self._meta = ObjectiveMetadata(domain="synthetic", approximation="synthetic", deterministic=True,
                                       optimum=None, extra=extra)

    @property
    def configspace(self) -> ConfigurationSpace:
        return self._configspace

    @property
    def objectives(self):
        return self._objectives

    @property
    def metadata(self) -> ObjectiveMetadata:
        return self._meta

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
    return specs
