"""Export single-objective runs as IOHprofiler data, so IOHanalyzer can read them.

    python -m analysis.export runs/ --format ioh --out export/ioh

Why: IOHanalyzer gives fixed-budget, fixed-target and ECDF views of anytime performance that our
own report does not. The files are written by ioh's own `Analyzer` logger (the installed ioh, not
a hand-written imitation): each run is replayed through a problem made with `ioh.wrap_problem`
whose function hands back the recorded values in order. So the JSON meta-file
(`IOHprofiler_f<id>_<name>.json` with `scenarios`/`runs`) and the `.dat` files (one
`evaluations raw_y budget_used` header line per run) are exactly what IOHexperimenter writes.

What the numbers mean:
- one folder per optimizer (algorithm name = optimizer id), one JSON per function, one run per
  seed (run attribute `seed`).
- function: BBOB tasks (`bbob/f<f>_d<d>_i<i>`) keep their BBOB function id, instance and dimension
  and ioh's function name, so they line up with BBOB data from IOHexperimenter. Every other task
  gets a stable id, `stable_function_id(task_id)` (from crc32 of the id, in [1000, 65535]), its
  task id as function name (`/` written as `.`: ioh puts the name into file names), instance 1 and the
  task's dimension.
- evaluations = budget units: ceil(budget_used), the cumulative full-fidelity equivalents spent.
  For blackbox tasks that is the 1-based trial number; for multi-fidelity tasks a value found
  after 2.3 units of budget is at evaluation 3, and several cheap trials share one unit. The exact
  budget_used is the extra column `budget_used`.
- values (raw_y) = cost in minimization form (a maximized objective is logged as -value), hence
  `"maximization": false`. Only successful trials at full fidelity give values: crashed trials
  and low-fidelity trials spend budget but give no value (low-fidelity values measure another
  function). Full fidelity means what it means in the analysis (`carps_like.incumbent.full_fidelity_mask`):
  a NaN fidelity, recorded by optimizers run at full fidelity (`full_fidelity: true`, such as
  `optuna_nsga2_full`), counts as the maximum. Within one budget unit the best value stands for the unit.
- improvements only, like ioh's default trigger: a line when the best-so-far improves, plus the
  run's last evaluation (ioh adds it so the run length is known). Every run starts at
  evaluation 1; when that unit has no value yet (a crash, or only low-fidelity trials), ioh
  writes `None` there, as it does for any evaluation without a finite value.
- ioh writes raw_y with 10 decimals in the .dat files; the JSON `best.y` keeps full precision.
- skipped, with the reason in `ExportResult.skipped` (optimizer, task, seed): multi-objective
  tasks, runs that are not complete or failed, runs without any value.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import re
import shutil
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from carps_like.incumbent import full_fidelity_mask

log = logging.getLogger(__name__)

BBOB_TASK = re.compile(r"^bbob/f(\d+)_d(\d+)_i(\d+)$")
SINGLE_OBJECTIVE_TYPES = ("bb", "mf")
ID_LOW, ID_HIGH = 1000, 65535  # non-BBOB function ids: above the 24 BBOB ids, 16-bit
EPS = 1e-9  # the runner's budget tolerance
_BOUND = 1e300  # box of the replay problem: recorded points are never clipped


@dataclass(frozen=True)
class Skip:
    """A run left out of an export, and why."""

    optimizer_id: str
    task_id: str
    seed: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.optimizer_id} on {self.task_id} seed {self.seed}: {self.reason}"


class ExportResult(list):
    """The files written (a list of Path), plus `skipped`: the runs left out, with reasons."""

    def __init__(self, files=(), skipped=()):
        super().__init__(files)
        self.skipped: list[Skip] = list(skipped)


@dataclass
class Run:
    """One usable single-objective run: its identity, task metadata and trials (in order)."""

    optimizer_id: str
    task_id: str
    seed: int
    meta: dict
    trials: pd.DataFrame


# -- run selection (shared with export_coco) ---------------------------------------------------
def select_runs(gathered, skipped: list[Skip], reject: Callable[[str, dict], str | None] | None = None) -> list[Run]:
    """Usable single-objective runs of `gathered`; every other run goes to `skipped` with its
    reason. `reject(task_id, meta)` may refuse more tasks by returning a reason."""
    trials_by_run = dict(tuple(gathered.trials.groupby("run_key", sort=False)))
    out = []
    for row in gathered.runs.sort_values(["optimizer_id", "task_id", "seed"]).itertuples(index=False):
        meta = row.task_metadata or {}
        reason = _run_problem(row, meta) or (reject(row.task_id, meta) if reject else None)
        trials = trials_by_run.get(row.run_key)
        if reason is None and (trials is None or trials.empty):
            reason = "no trials recorded"
        seed = None if pd.isna(row.seed) else int(row.seed)
        if reason is not None:
            skipped.append(Skip(str(row.optimizer_id), str(row.task_id), seed, reason))
            continue
        out.append(Run(row.optimizer_id, row.task_id, seed, meta, trials.sort_values("trial", kind="stable")))
    return out


def _run_problem(row, meta: dict) -> str | None:
    if row.status not in ("complete", "failed"):
        return f"run is {row.status}" + (f" ({row.reason})" if isinstance(row.reason, str) and row.reason else "")
    task_type = meta.get("type") or row.task_type
    if task_type not in SINGLE_OBJECTIVE_TYPES:
        return f"{task_type} task: multi-objective, the format holds a single objective"
    return None


def value_mask(trials: pd.DataFrame, meta: dict) -> np.ndarray:
    """Trials whose cost is a function value: successful, finite, and at full fidelity when the
    task has a fidelity (a low-fidelity cost measures a different function). Full fidelity is the
    analysis' own test (`full_fidelity_mask`, used by `normalize.eligible_mask`): a NaN fidelity is a
    trial run at the maximum (by an optimizer with `full_fidelity: true`)."""
    ok = trials["status"].eq("SUCCESS").to_numpy() & np.isfinite(trials["cost"].to_numpy(dtype=float))
    fidelity = meta.get("fidelity")
    if fidelity:
        ok &= full_fidelity_mask(trials["fidelity"].to_numpy(dtype=float), float(fidelity["max"]))
    return ok


def point(config: str | dict, dim: int) -> list[float]:
    """The configuration as a numeric vector of length `dim` when it is one (x0, x1, ... of
    BBOB-like tasks); zeros otherwise (categorical or conditional spaces have no such vector)."""
    cfg = json.loads(config) if isinstance(config, str) else dict(config or {})
    keys = [f"x{i}" for i in range(dim)]
    values = [cfg[k] for k in keys] if all(k in cfg for k in keys) else list(cfg.values())
    if len(values) == dim and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return [float(v) for v in values]
    return [0.0] * dim


# -- function identity -------------------------------------------------------------------------
def _home_id(task_id: str) -> int:
    return ID_LOW + zlib.crc32(task_id.encode()) % (ID_HIGH - ID_LOW + 1)


def _probe(slot: int, taken: set[int]) -> int:
    while slot in taken:
        slot = ID_LOW if slot == ID_HIGH else slot + 1
    return slot


@functools.lru_cache(maxsize=1)
def catalog_function_ids() -> dict[str, int]:
    """Ids of every non-BBOB task of the shipped catalog: its home id (from crc32 of the task
    id) when no other catalog task hashes there, else the next free id, in task-id order."""
    from carps_like import registry

    tasks = [t for t in sorted(registry.tasks()) if not BBOB_TASK.match(t)]
    homes = Counter(_home_id(t) for t in tasks)
    ids = {t: _home_id(t) for t in tasks if homes[_home_id(t)] == 1}
    taken = set(ids.values())
    for t in tasks:
        if t not in ids:
            ids[t] = _probe(_home_id(t), taken)
            taken.add(ids[t])
    return ids


def stable_function_id(task_id: str) -> int:
    """The IOH function id of a non-BBOB task: depends on the task id and the shipped catalog
    only, so exports from different machines merge. In [1000, 65535]: above the 24 BBOB ids, and
    16-bit because ioh readers (iohinspector) store function ids as UInt16. A task missing from
    the catalog probes from its home id past the catalog's ids."""
    ids = catalog_function_ids()
    return ids[task_id] if task_id in ids else _probe(_home_id(task_id), set(ids.values()))


def safe_name(text: str) -> str:
    """ioh builds file names (and unescaped JSON) from names: keep them to plain characters."""
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", text.replace("/", "."))


@dataclass(frozen=True)
class Function:
    fid: int
    name: str
    instance: int
    dimension: int


def function_of(task_id: str, meta: dict) -> Function:
    """BBOB tasks keep their BBOB identity; others get `stable_function_id` and instance 1."""
    m = BBOB_TASK.match(task_id)
    if m:
        f, d, i = (int(g) for g in m.groups())
        name = (meta.get("extra") or {}).get("function") or f"f{f}"
        return Function(f, safe_name(name), i, d)
    dim = int(meta.get("dimensions") or 1)
    return Function(stable_function_id(task_id), safe_name(task_id), 1, dim)


def _check_ids(runs: list[Run]) -> dict[str, Function]:
    functions, owner = {}, {}
    for run in runs:
        fn = functions.setdefault(run.task_id, function_of(run.task_id, run.meta))
        other = owner.setdefault(fn.fid, run.task_id)
        if other != run.task_id and not (BBOB_TASK.match(other) and BBOB_TASK.match(run.task_id)):
            raise ValueError(f"function id {fn.fid} of {run.task_id} collides with {other}")
    return functions


# -- one run as budget units -------------------------------------------------------------------
@dataclass
class Unit:
    """One budget unit of a run: the best value found in it (None: none), its point, and the
    budget_used to show on its line."""

    value: float | None
    x: list[float]
    budget_used: float


def budget_units(run: Run, dim: int) -> list[Unit]:
    """Units 1..ceil(final budget_used); a unit without a value repeats the best so far (ioh
    writes no line for it) or, before the first value, stays None."""
    t = run.trials
    budget = t["budget_used"].to_numpy(dtype=float)
    unit_of = np.maximum(1, np.ceil(budget - EPS)).astype(int)
    values = np.where(value_mask(t, run.meta), t["cost"].to_numpy(dtype=float), np.nan)
    n_units = int(unit_of[-1])
    best_pos: dict[int, int] = {}
    for pos in np.flatnonzero(~np.isnan(values)):
        u = unit_of[pos]
        if u not in best_pos or values[pos] < values[best_pos[u]]:
            best_pos[u] = pos
    spent = np.maximum.accumulate(_last_budget_per_unit(unit_of, budget, n_units))
    units, best = [], None
    for u in range(1, n_units + 1):
        pos = best_pos.get(u)
        if pos is not None:
            unit = Unit(float(values[pos]), point(t["config"].iloc[pos], dim), float(budget[pos]))
            if best is None or unit.value < best.value:
                best = unit
            units.append(unit)
        else:
            units.append(Unit(best.value if best else None, best.x if best else [0.0] * dim, float(spent[u])))
    return units


def _last_budget_per_unit(unit_of: np.ndarray, budget: np.ndarray, n_units: int) -> np.ndarray:
    last = np.zeros(n_units + 1)
    last[unit_of] = budget  # positions are in trial order, so the last write per unit wins
    return last


# -- writing with ioh --------------------------------------------------------------------------
class _Replay:
    """The objective ioh evaluates: the recorded values, in order."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def __call__(self, x) -> float:
        return self.values.pop()


class _RunState:
    """Attributes the logger reads on each line (`budget_used`) and per run (`seed`)."""

    seed = 0.0
    budget_used = 0.0


def export_ioh(gathered, out_dir) -> ExportResult:
    """Write every usable bb/mf run of `gathered` below `out_dir` (one folder per optimizer).
    Returns the files written; `.skipped` lists the runs left out and why."""
    out_dir = Path(out_dir)
    skipped: list[Skip] = []
    runs = select_runs(gathered, skipped)
    functions = _check_ids(runs)
    runs = _drop_valueless(runs, skipped)
    files = []
    by_optimizer: dict[str, list[Run]] = {}
    for run in runs:
        by_optimizer.setdefault(run.optimizer_id, []).append(run)
    for optimizer_id, opt_runs in sorted(by_optimizer.items()):
        files += _write_optimizer(optimizer_id, opt_runs, functions, out_dir)
    for skip in skipped:
        log.info("ioh export skipped %s", skip)
    return ExportResult(files, skipped)


def _drop_valueless(runs: list[Run], skipped: list[Skip]) -> list[Run]:
    kept = []
    for run in runs:
        if value_mask(run.trials, run.meta).any():
            kept.append(run)
        else:
            what = "successful full-fidelity trial" if run.meta.get("fidelity") else "successful trial"
            skipped.append(Skip(run.optimizer_id, run.task_id, run.seed, f"no {what}: nothing to show"))
    return kept


def _write_optimizer(optimizer_id: str, runs: list[Run], functions: dict[str, Function], out_dir: Path) -> list[Path]:
    import ioh

    folder = out_dir / safe_name(optimizer_id)
    clear_previous(folder, ("IOHprofiler_*.json",), "data_f*")
    out_dir.mkdir(parents=True, exist_ok=True)
    state, replay = _RunState(), _Replay()
    logger = ioh.logger.Analyzer(root=str(out_dir), folder_name=folder.name, algorithm_name=json_safe(optimizer_id),
                                 algorithm_info=_algorithm_info(runs))
    # names unlike any data column: readers (iohinspector) turn these into columns
    logger.add_experiment_attribute("exported_by", "carps_like")
    logger.add_experiment_attribute("y_is", "cost in minimization form (maximized objectives negated)")
    logger.add_experiment_attribute("evaluation_is", "ceil(budget_used) in full-fidelity equivalents")
    logger.add_run_attributes(state, ["seed"])
    logger.watch(state, "budget_used")
    name = f"carps_like_replay_{id(replay)}"
    order = sorted(runs, key=lambda r: (functions[r.task_id].fid, functions[r.task_id].dimension,
                                        functions[r.task_id].instance, r.task_id, r.seed))
    problem, current = None, None
    for run in order:
        fn = functions[run.task_id]
        if fn != current:
            if problem is not None:
                problem.detach_logger()
            problem, current = _replay_problem(ioh, replay, name, fn), fn
            problem.attach_logger(logger)
        _replay_run(problem, replay, state, run, fn.dimension)
    if problem is not None:
        problem.detach_logger()
    logger.close()
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _algorithm_info(runs: list[Run]) -> str:
    variants = sorted({str(v) for r in runs for v in r.trials["optimizer_variant"].unique()})
    studies = sorted({str(s) for r in runs for s in r.trials["study"].unique()})
    return json_safe(f"carps_like variants {', '.join(variants)}; studies {', '.join(studies)}")


def json_safe(text: str) -> str:
    """ioh writes names into its JSON unescaped: drop what would break it."""
    return re.sub(r'["\\\x00-\x1f]', "", text)


def _replay_problem(ioh, replay: _Replay, name: str, fn: Function):
    problem = ioh.wrap_problem(replay, name=name, dimension=fn.dimension, instance=fn.instance,
                               optimization_type=ioh.OptimizationType.MIN, lb=-_BOUND, ub=_BOUND)
    problem.set_id(fn.fid)
    problem.set_name(fn.name)
    return problem


def _replay_run(problem, replay: _Replay, state: _RunState, run: Run, dim: int) -> None:
    """Evaluate the problem once per budget unit. A unit before the first value returns inf,
    which ioh logs as `None` on evaluation 1 (what it writes for any evaluation without a
    value), so every run starts at evaluation 1 as readers expect."""
    units = budget_units(run, dim)
    replay.values = [math.inf if u.value is None else u.value for u in reversed(units)]
    state.seed = float(run.seed)
    for unit in units:
        state.budget_used = unit.budget_used
        problem(unit.x)
    problem.reset()  # ends the run while the logger is attached: ioh records it (and its seed) now


def clear_previous(folder: Path, top_patterns: tuple[str, ...], data_pattern: str) -> None:
    """Remove an earlier export of the same optimizer (ioh would otherwise write `<name>-1`);
    refuse when the folder holds anything an export does not write."""
    if not folder.exists():
        return
    foreign = [p for p in folder.iterdir()
               if not (p.is_file() and any(p.match(pat) for pat in top_patterns))
               and not (p.is_dir() and p.match(data_pattern))]
    if foreign:
        raise FileExistsError(f"{folder} exists and holds {foreign[0].name}, which no export writes; "
                              "choose another --out or remove it")
    shutil.rmtree(folder)

