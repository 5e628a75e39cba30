"""The one loop that drives every (optimizer, task, seed) run: ask -> evaluate -> tell.

Budget accounting, timing, incumbent tracking and failure handling live here once, so that
adapters stay thin. Per-trial work is constant-time (no re-scans of history) and writes one
JSON line; nothing is deep-copied per trial.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from .errors import OptimizerProtocolError
from .incumbent import IncumbentTracker
from .optimizer import Optimizer
from .spaces import ConfigurationChecker
from .store import RunHandle
from .task import Task
from .types import Status, TrialInfo, TrialValue

EPS = 1e-9


class StoreError(RuntimeError):
    """A trial could not be recorded (disk full, read-only results, database gone): not the
    optimizer's fault, so it is not recorded as an optimizer failure. The run stays unfinished
    (resumable), never complete."""


@dataclass
class RunResult:
    status: str  # complete | failed
    n_trials: int
    budget_used: float
    incumbent: dict
    stop_reason: str
    error: str | None = None
    optimizer_time: float = 0.0
    objective_time: float = 0.0
    virtual_time: float = 0.0
    setup_time: float = 0.0
    wall_time: float = 0.0
    n_crashed: int = 0  # trials without a usable cost: the objective raised or returned NaN/inf
    n_nonfinite: int = 0  # of those, the ones whose objective returned NaN/inf
    rows: list[dict] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        return {k: getattr(self, k) for k in ("n_trials", "budget_used", "incumbent", "stop_reason", "error",
                                               "optimizer_time", "objective_time", "virtual_time", "setup_time",
                                               "wall_time", "n_crashed", "n_nonfinite")}


class _Sink:
    """Where rows go when no run directory is used (tests, perf baselines)."""

    def append_trial(self, row: dict) -> None:  # pragma: no cover - trivial
        pass


def run_trials(task: Task, make_optimizer: Callable[[], Optimizer], handle: RunHandle | None = None,
               batch_size: int = 1) -> RunResult:
    """Run one optimizer on one task until the budget is spent or the optimizer fails.

    Never raises for objective or optimizer errors: an objective that raises gives a CRASHED
    trial and the run goes on; one that returns NaN or +-inf (any objective) gives a NONFINITE
    trial, recorded with its values but never an incumbent and told to the optimizer as a crash.
    An optimizer that raises, or asks for a configuration outside the space or a fidelity outside
    its bounds (OptimizerProtocolError, checked before anything is evaluated), ends the run as
    failed, with the traceback in the result. Trials already written stay written.

    `batch_size` q > 1 (synchronous batches, for optimizers that declare `batch_ask`): each step
    asks `ask_batch(q)` (fewer where the budget has room for fewer), evaluates the trials one by
    one (each keeps its own time and crash status), then tells and records them in order. The
    trials that no longer fit the budget are dropped and end the run, so every batch but the last
    is full: trial t belongs to batch t // q. The time limit is checked between batches.
    """
    sink = handle if handle is not None else _Sink()
    budget = task.budget
    n_limit = math.inf if budget.n_trials is None else float(budget.n_trials)
    t_limit = math.inf if budget.time_limit is None else float(budget.time_limit)
    fid = task.fidelity
    fid_max = fid.max if fid is not None else None
    minimize = [o.minimize for o in task.objectives]
    multi_objective = len(minimize) > 1
    objective = task.objective_function
    names = [o.name for o in task.objectives]
    config_problem = ConfigurationChecker(task.configspace).problem
    incumbent = IncumbentTracker(multi_objective=multi_objective, fidelity_max=fid_max)
    clock = time.perf_counter
    wall = time.time

    rows: list[dict] = []
    result = RunResult(status="complete", n_trials=0, budget_used=0.0, incumbent={}, stop_reason="budget")
    t_start = clock()
    optimizer = None
    try:
        t0 = clock()
        optimizer = make_optimizer()
        result.setup_time = clock() - t0
    except Exception:
        result.status, result.stop_reason, result.error = "failed", "optimizer_error", traceback.format_exc()
        result.wall_time = clock() - t_start
        return result

    def fidelity_and_cost(info: TrialInfo, n: int) -> tuple[float | None, float]:
        fidelity = info.fidelity
        if fid is None:
            if fidelity is not None:
                raise OptimizerProtocolError(f"trial {n}: optimizer asked for fidelity {fidelity!r} on a task "
                                             "without fidelity; accepted: None")
            return None, 1.0
        if fidelity is None:
            return fid_max, 1.0
        problem = fid.problem(fidelity)
        if problem:
            raise OptimizerProtocolError(f"trial {n}: optimizer asked for {problem}")
        return fidelity, fidelity / fid_max

    def checked_config(info: TrialInfo, n: int) -> dict:
        """The asked configuration as a dict (as recorded), once it is known to lie in the space."""
        try:
            config = dict(info.config)
        except (TypeError, ValueError):
            raise OptimizerProtocolError(f"trial {n}: optimizer asked for config {info.config!r}; accepted: a "
                                         "ConfigSpace Configuration or a dict of hyperparameter values") from None
        problem = config_problem(config)
        if problem:
            raise OptimizerProtocolError(f"trial {n}: optimizer asked for a configuration outside the space: {problem}")
        return config

    def evaluate(info: TrialInfo, fidelity: float | None) -> dict:
        start_wall = wall()
        t1 = clock()
        try:
            evaluation = objective.evaluate(info.config, fidelity, info.seed)
            t_obj = clock() - t1
            vt = evaluation.virtual_time
            if len(evaluation.values) != len(minimize):  # a silent zip would drop or invent objectives
                raise ValueError(f"objective returned {len(evaluation.values)} value(s) for {len(minimize)} objective(s) "
                                 f"({', '.join(names)})")
            costs = [v if m else -v for v, m in zip(evaluation.values, minimize)]
            status, error = Status.SUCCESS, None
            if not all(map(math.isfinite, costs)):  # raises TypeError for non-numbers: a crash
                status = Status.NONFINITE
                error = "non-finite objective value: " + ", ".join(f"{n}={v!r}" for n, v in zip(names, evaluation.values))
            return {"costs": costs, "status": status, "time": t_obj, "virtual": t_obj if vt is None else float(vt),
                    "info": evaluation.info, "error": error, "start": start_wall, "end": wall()}
        except Exception as exc:  # the objective crashed: record it, go on
            t_obj = clock() - t1
            return {"costs": None, "status": Status.CRASHED, "time": t_obj, "virtual": t_obj, "info": None,
                    "error": f"{type(exc).__name__}: {exc}", "start": start_wall, "end": wall()}

    used = 0.0
    trial = 0
    opt_time = obj_time = virt_total = 0.0
    try:
        while used < n_limit - EPS and (clock() - t_start) < t_limit:
            t0 = clock()
            if batch_size == 1:
                infos = [optimizer.ask()]
            else:  # ask no more trials than the budget can still take (each costs <= 1)
                n_ask = batch_size if fid is not None or math.isinf(n_limit) else \
                    max(1, min(batch_size, int(n_limit - used + EPS)))
                infos = list(optimizer.ask_batch(n_ask))
                if len(infos) != n_ask:
                    raise OptimizerProtocolError(f"trial {trial}: ask_batch({n_ask}) returned {len(infos)} trials; "
                                                 f"accepted: exactly {n_ask}")
            t_ask = (clock() - t0) / len(infos)
            batch, planned, budget_full = [], used, False
            for info in infos:  # the whole batch is checked before any of it is evaluated
                fidelity, cost_units = fidelity_and_cost(info, trial + len(batch))
                if planned + cost_units > n_limit + EPS:
                    budget_full = True
                    break
                planned += cost_units
                batch.append((info, checked_config(info, trial + len(batch)), fidelity, cost_units))
            opt_time += t_ask * (len(infos) - len(batch))  # asked, not run: the budget is spent
            evaluated = [evaluate(info, fidelity) for info, _, fidelity, _ in batch]  # the whole batch before any tell

            for (info, config, fidelity, cost_units), ev in zip(batch, evaluated):
                costs, status, t_obj, virtual = ev["costs"], ev["status"], ev["time"], ev["virtual"]
                used += cost_units
                if status is Status.SUCCESS:
                    cost_value = tuple(costs) if multi_objective else costs[0]
                    incumbent.update(trial, cost_value, fidelity)
                else:  # crashed or non-finite: the optimizer is told a crash either way
                    cost_value = None
                value = TrialValue(cost=cost_value, status=Status.CRASHED if status is Status.NONFINITE else status,
                                   time=t_obj, virtual_time=virtual,
                                   info={} if ev["error"] is None else {"error": ev["error"]})
                t2 = clock()
                tell_error = None
                try:
                    optimizer.tell(info, value)
                except Exception as exc:  # keep the evaluated trial, then fail the run
                    tell_error = exc
                t_opt = t_ask + (clock() - t2)

                row = {
                    "trial": trial,
                    "config": config,
                    "fidelity": fidelity,
                    "trial_seed": info.seed,
                    "budget_used": used,
                    "costs": costs,
                    "status": status.value,
                    "optimizer_time": t_opt,
                    "objective_time": t_obj,
                    "virtual_time": virtual,
                    "start_time": ev["start"],
                    "end_time": ev["end"],
                    "incumbent_cost": None if multi_objective else incumbent.best_cost,
                    "error": ev["error"],
                    "info": ev["info"] or None,
                }  # every field of store.TRIAL_SCHEMA, in its order (tests/test_trial_schema.py)
                if ev["error"] is not None:
                    result.n_crashed += 1
                    result.n_nonfinite += status is Status.NONFINITE
                try:
                    sink.append_trial(row)
                except Exception as exc:
                    raise StoreError(f"trial {trial} could not be recorded: {type(exc).__name__}: {exc}") from exc
                rows.append(row)
                if tell_error is not None:
                    raise tell_error
                opt_time += t_opt
                obj_time += t_obj
                virt_total += virtual
                trial += 1
            if budget_full:
                result.stop_reason = "budget"
                break
        else:
            result.stop_reason = "budget" if used >= n_limit - EPS else "time_limit"
    except StoreError:
        raise
    except Exception:
        result.status, result.stop_reason, result.error = "failed", "optimizer_error", traceback.format_exc()
    finally:
        try:
            optimizer.close()
        except Exception:
            if result.error is None:
                result.status, result.stop_reason, result.error = "failed", "optimizer_error", traceback.format_exc()

    result.n_trials = trial
    result.budget_used = used
    result.incumbent = incumbent.summary()
    result.optimizer_time = opt_time
    result.objective_time = obj_time
    result.virtual_time = virt_total
    result.wall_time = clock() - t_start
    result.rows = rows
    return result
