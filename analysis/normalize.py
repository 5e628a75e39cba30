"""Per-task normalization: turn raw costs into scores in [0, 1] where 0 is best, so that tasks
with different scales can be averaged and ranked together.

Single objective (`normalization`):
  * ``regret`` (default): (y - y*) / (y_worst - y*), with y* the task's known optimum when it
    has one, else the best cost any run of the task reached; y_worst is the worst eligible cost
    any run of the task observed. Exact regret on BBOB, LM scaling laws and friends.
  * ``minmax``: the same with y* always the best observed cost (ignores known optima).
  * ``log=True``: log10(y - y* + delta) min-max scaled to [0, 1], delta = 1e-8 (y_worst - y*),
    for tasks whose regret spans orders of magnitude (COCO-style). 0 still means optimal.
  A task where every run observed the same cost scores 0 for every optimizer (a tie, not NaN).

Multi-objective: the reference front is the true front where the task code provides one, else
the non-dominated set of every eligible point any run of the task observed. Costs are scaled
per objective to [0, 1] between the reference front's ideal point and (`mo_box`):
  * ``observed`` (default): the worst value any run of the task observed (or the front's nadir
    if larger), the multi-objective analogue of the single-objective y_worst, so that every run
    that found anything has a positive hypervolume and runs stay distinguishable at small budgets;
  * ``front``: the reference front's nadir (the textbook choice; at small budgets on hard
    problems such as DTLZ1/3 no run reaches the box, everybody scores 1 and ties).
The hypervolume of a run's front is taken in that space against the reference point
(1 + REF_OFFSET, ...) = (1.1, ...); the score is 1 - HV / HV(reference front). IGD+ is reported
against the true front, in the same scaling, where one is known.

Multi-fidelity (`mf_policy`):
  * ``max_fidelity`` (default): only evaluations at the task's maximum fidelity count; a run has
    no incumbent until its first full-fidelity evaluation. Fidelities are never mixed.
  * ``highest_per_config``: each configuration counts with its cost at the highest fidelity it
    was evaluated at so far; the incumbent is the best of those. Mixes fidelities across
    configurations (low-fidelity costs can look better than they are); use with care.
Crashed trials never count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from carps_like.incumbent import full_fidelity_mask

from .tasks import TaskInfo, true_front

NORMALIZATIONS = ("regret", "minmax")
MF_POLICIES = ("max_fidelity", "highest_per_config")
X_AXES = ("budget", "wall_time", "virtual_time")
MO_BOXES = ("observed", "front")
REF_OFFSET = 0.1
LOG_DELTA = 1e-8


@dataclass(frozen=True)
class Options:
    """How runs become scores; every choice is printed in the report."""

    normalization: str = "regret"
    log: bool = False
    mf_policy: str = "max_fidelity"
    grid_points: int = 50
    x_axis: str = "budget"
    mo_box: str = "observed"

    def __post_init__(self) -> None:
        for name, value, accepted in (("normalization", self.normalization, NORMALIZATIONS),
                                      ("mf_policy", self.mf_policy, MF_POLICIES), ("x_axis", self.x_axis, X_AXES),
                                      ("mo_box", self.mo_box, MO_BOXES)):
            if value not in accepted:
                raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(accepted)}")
        if int(self.grid_points) < 2:
            raise ValueError(f"grid_points must be >= 2, got {self.grid_points}")

    def describe(self) -> str:
        norm = {"regret": "regret against the known optimum (best observed where none is known)",
                "minmax": "min-max over all runs of each task"}[self.normalization]
        return (f"normalization: {norm}{', log10 scale' if self.log else ''}; multi-fidelity incumbent: "
                f"{self.mf_policy.replace('_', ' ')}; x axis: {self.x_axis.replace('_', ' ')} "
                f"({self.grid_points} grid points); multi-objective: 1 - HV/HV(reference front), objectives scaled "
                f"from the reference front's ideal to {'the worst observed value' if self.mo_box == 'observed' else 'its nadir'}, "
                f"reference point {1 + REF_OFFSET:g} per objective")


def eligible_mask(status: np.ndarray, fidelity: np.ndarray, info: TaskInfo, options: Options) -> np.ndarray:
    """Trials whose costs may define an incumbent under the chosen multi-fidelity policy."""
    ok = status == "SUCCESS"
    if info.fidelity_max is not None and options.mf_policy == "max_fidelity":
        ok &= full_fidelity_mask(fidelity, info.fidelity_max)
    return ok


def incumbent_costs(costs: np.ndarray, eligible: np.ndarray, configs: np.ndarray | None, fidelity: np.ndarray,
                    options: Options, has_fidelity: bool) -> np.ndarray:
    """Best-so-far cost after each trial (NaN before the first eligible one)."""
    if has_fidelity and options.mf_policy == "highest_per_config":
        best_of: dict[str, tuple[float, float]] = {}
        out = np.full(len(costs), np.nan)
        current = math.inf
        for i in range(len(costs)):
            if eligible[i]:
                seen = best_of.get(configs[i])
                if seen is None or fidelity[i] >= seen[0]:
                    best_of[configs[i]] = (fidelity[i], costs[i])
                    # a configuration re-evaluated higher may get worse: then recompute the best
                    current = min(c for _, c in best_of.values()) if seen is not None else min(current, costs[i])
            out[i] = current if current < math.inf else np.nan
        return out
    vals = np.where(eligible, costs, np.inf)
    best = np.minimum.accumulate(vals) if len(vals) else vals
    return np.where(np.isinf(best), np.nan, best)


@dataclass
class SingleObjectiveScale:
    """Maps a task's raw costs to scores in [0, 1]."""

    best: float
    worst: float
    log: bool
    best_is_known: bool

    @classmethod
    def fit(cls, info: TaskInfo, observed: np.ndarray, options: Options) -> "SingleObjectiveScale":
        observed = observed[np.isfinite(observed)]
        known = options.normalization == "regret" and info.optimum is not None
        lo = float(observed.min()) if len(observed) else 0.0
        best = float(info.optimum[0]) if known else lo
        worst = float(observed.max()) if len(observed) else best
        return cls(best=best, worst=max(worst, best), log=options.log, best_is_known=known)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        span = self.worst - self.best
        if not span > 0:
            return np.where(np.isnan(y), np.nan, 0.0)
        regret = np.clip(y - self.best, 0.0, None)
        if self.log:
            delta = LOG_DELTA * span
            lo = math.log10(delta)
            score = (np.log10(regret + delta) - lo) / (math.log10(span + delta) - lo)
        else:
            score = regret / span
        return np.clip(score, 0.0, 1.0)


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Rows of `points` no other row dominates (minimization); duplicates kept once."""
    if len(points) <= 1:
        return points
    from pymoo.util.nds.non_dominated_sorting import find_non_dominated

    pts = np.unique(points, axis=0)
    return pts[find_non_dominated(pts)]


@dataclass
class MultiObjectiveScale:
    """Normalizes a task's objective vectors and scores fronts by hypervolume (and IGD+)."""

    ideal: np.ndarray
    nadir: np.ndarray
    hv_reference: float
    front_is_true: bool
    true_front: np.ndarray | None  # normalized

    @classmethod
    def fit(cls, info: TaskInfo, observed: np.ndarray, box: str = "observed") -> "MultiObjectiveScale":
        m = info.n_objectives
        front = true_front(info.task_id)
        is_true = front is not None and front.shape[1] == m
        observed = observed[np.all(np.isfinite(observed), axis=1)] if len(observed) else np.zeros((0, m))
        ref_front = front if is_true else non_dominated(observed)
        if len(ref_front) == 0:
            ideal, nadir = np.zeros(m), np.ones(m)
        else:
            ideal, nadir = ref_front.min(axis=0), ref_front.max(axis=0)
        if box == "observed" and len(observed):
            nadir = np.maximum(nadir, observed.max(axis=0))
        span = np.where(nadir - ideal > 0, nadir - ideal, 1.0)
        scale = cls(ideal=ideal, nadir=ideal + span, hv_reference=1.0, front_is_true=is_true,
                    true_front=(ref_front - ideal) / span if is_true else None)
        scale.hv_reference = scale.hypervolume(ref_front, assume_front=True) if len(ref_front) else 1.0
        if not scale.hv_reference > 0:
            scale.hv_reference = 1.0
        return scale

    def normalize(self, points: np.ndarray) -> np.ndarray:
        return (points - self.ideal) / (self.nadir - self.ideal)

    def hypervolume(self, points: np.ndarray, assume_front: bool = False) -> float:
        """HV of raw cost vectors in the normalized space; `assume_front` skips the
        non-dominated filter for sets known to be fronts (large true fronts)."""
        from pymoo.indicators.hv import HV

        if len(points) == 0:
            return 0.0
        p = self.normalize(points)
        ref = np.full(p.shape[1], 1.0 + REF_OFFSET)
        p = p[np.all(p < ref, axis=1)]
        if len(p) == 0:
            return 0.0
        return float(HV(ref_point=ref)(p if assume_front else non_dominated(p)))

    def score(self, points: np.ndarray) -> float:
        """1 - HV / HV(reference front): 0 = as good as the reference front, 1 = nothing inside."""
        return float(np.clip(1.0 - self.hypervolume(points) / self.hv_reference, 0.0, 1.0))

    def igd_plus(self, points: np.ndarray) -> float:
        if self.true_front is None or len(points) == 0:
            return math.nan
        from pymoo.indicators.igd_plus import IGDPlus

        return float(IGDPlus(self.true_front)(non_dominated(self.normalize(points))))
