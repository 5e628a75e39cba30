"""Gather run directories into two tidy tables: one row per trial, one row per run.

    python -m analysis.gather runs/ other_machine/runs/ --out report/data

Sources may be any number of run roots, study directories, single run directories, experiment-queue
databases (sqlite:///runs/queue.db, postgresql://...) or Parquet tables gathered elsewhere (results from other machines merge by reading their `trials.parquet`
and `runs.parquet`). Nothing is dropped silently: every run found gets a row in the run table
with its status (complete | incomplete | failed | corrupt | duplicate) and the reason.

Re-gathering is incremental: `<out>/gather-index.json` records each run directory's file
signatures (size and mtime of run.json, trials.jsonl, trials.parquet); only new or changed runs
are read again, and runs that vanished are removed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from carps_like.queue import is_queue_url
from carps_like.store import (LOCK_FILE, RUN_FILE, TRIAL_COLUMNS, TRIALS_FILE, TRIALS_PARQUET, iter_run_dirs, lock_reason,
                              read_trial_log, trial_arrow_schema, trial_table_rows)

TRIALS_TABLE = "trials.parquet"
RUNS_TABLE = "runs.parquet"
INDEX_FILE = "gather-index.json"
INDEX_VERSION = 3  # 2: runs gained batch_size; 3: trials lost the stored `cost` copy (issue 20)
RUN_STATUSES = ("complete", "incomplete", "failed", "corrupt", "duplicate")

RUN_COLUMNS = (
    "run_key", "study", "optimizer_id", "optimizer_variant", "task_id", "task_type", "seed", "status", "reason",
    "n_trials", "n_crashed", "budget_used", "budget_n_trials", "budget_time_limit", "batch_size", "stop_reason", "started",
    "finished", "host", "git_revision", "versions", "task_metadata", "path",
)


@dataclass
class Gathered:
    """The two tables analysis works on. `trials` follows the results schema of DESIGN.md plus
    `run_key`; `runs` has one row per run found, whatever its state."""

    trials: pd.DataFrame
    runs: pd.DataFrame

    def usable_runs(self) -> pd.DataFrame:
        """Runs whose trials enter the analysis: complete and failed ones (a failed run keeps
        the trials it recorded; its incumbent simply stops improving)."""
        return self.runs[self.runs["status"].isin(["complete", "failed"])]

    def restricted_to(self, runs: pd.DataFrame) -> Gathered:
        """These rows of `runs` (a selection of this gather's) with their trials."""
        return Gathered(trials=self.trials[self.trials["run_key"].isin(set(runs["run_key"]))], runs=runs)


def _signature(directory: Path) -> list:
    sig = []
    for name in (RUN_FILE, TRIALS_FILE, TRIALS_PARQUET, LOCK_FILE):
        try:
            st = os.stat(directory / name)
            sig.append([st.st_size, st.st_mtime_ns])
        except FileNotFoundError:
            sig.append(None)
    return sig


def _last_line(text: str | None) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def read_run(directory: Path) -> tuple[dict, pa.Table]:
    """One run directory -> (run row, its trials as an Arrow table). Never raises for damaged
    runs: they become `corrupt` or `incomplete` rows with the reason. Complete runs are read as
    Arrow tables end to end (no per-trial Python objects)."""
    key = str(directory.resolve())
    try:
        meta = json.loads((directory / RUN_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return ({"run_key": key, "path": str(directory), "status": "corrupt",
                 "reason": f"run.json unreadable ({type(exc).__name__})"}, _trials_table([]))
    status = meta.get("status")
    parquet = directory / TRIALS_PARQUET
    log_note = ""  # lines of trials.jsonl left out (a torn last line), said in the run's reason
    if status in ("complete", "failed") and parquet.exists():
        table = pq.read_table(parquet)
        table = table.append_column("run_key", pa.array([key] * table.num_rows, pa.string()))
        table = table.select(_TRIAL_SCHEMA.names).cast(_TRIAL_SCHEMA)
    else:
        trials, log_note = read_trial_log(directory)
        rows = trial_table_rows(meta, trials)
        for r in rows:
            r["run_key"] = key
        table = _trials_table(rows)
    n_rows = table.num_rows
    budget = meta.get("budget") or {}
    n_crashed = n_rows - int(pc.sum(pc.equal(table["status"], "SUCCESS")).as_py() or 0) if n_rows else 0
    used = float(table["budget_used"][n_rows - 1].as_py()) if n_rows else 0.0
    if status == "complete":
        reason = ""
    elif status == "failed":
        reason = "optimizer failed: " + (_last_line(meta.get("error")) or "no traceback recorded")
    elif status == "running":  # the store says whether a live process holds it (one reading of locks)
        held = lock_reason(directory)
        reason = ("interrupted: no process holds it" if not held else
                  f"interrupted: {held}" if held.startswith("stale lock") else
                  f"still running: {held}" if held.endswith("which is running") else
                  f"running on another host, or interrupted there: {held}")
        status = "incomplete"
    else:
        reason, status = f"unknown status {status!r} in run.json", "corrupt"
    if status == "incomplete":
        reason += f"; {n_rows} trials, budget {used:g} of {budget.get('n_trials')}"
    if log_note:
        reason = f"{reason}; {log_note}" if reason else log_note
    run = {
        "run_key": key, "path": str(directory), "status": status, "reason": reason,
        **{k: meta.get(k) for k in ("study", "optimizer_id", "optimizer_variant", "task_id", "task_type", "seed",
                                    "stop_reason", "started", "finished", "host", "git_revision")},
        "n_trials": n_rows, "n_crashed": n_crashed, "budget_used": used,
        "budget_n_trials": budget.get("n_trials"), "budget_time_limit": budget.get("time_limit"),
        "batch_size": batch_size_of(meta),
        "versions": json.dumps(meta.get("versions") or {}, sort_keys=True),
        "task_metadata": meta.get("task_metadata") or {},
    }
    return run, table


def batch_size_of(meta: dict) -> int:
    """Trials per ask_batch of a run (1: sequential), from the optimizer config it recorded."""
    return int((meta.get("optimizer_config") or {}).get("batch_size") or 1)


# -- tables ------------------------------------------------------------------------------------
_TRIAL_SCHEMA = pa.schema([("run_key", pa.string()), *trial_arrow_schema()])
assert set(_TRIAL_SCHEMA.names) == {"run_key", *TRIAL_COLUMNS}

_RUN_SCHEMA = pa.schema([
    (c, pa.int64() if c in ("seed", "n_trials", "n_crashed", "batch_size") else
     pa.float64() if c in ("budget_used", "budget_n_trials", "budget_time_limit", "started", "finished") else pa.string())
    for c in RUN_COLUMNS
])


def _trials_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist([{c: r.get(c) for c in _TRIAL_SCHEMA.names} for r in rows], schema=_TRIAL_SCHEMA)


def _runs_table(rows: list[dict]) -> pa.Table:
    """Run rows as stored: `task_metadata` (a dict in memory) as JSON text."""
    return pa.Table.from_pylist([{**{c: r.get(c) for c in RUN_COLUMNS},
                                  "task_metadata": json.dumps(r.get("task_metadata") or {}, sort_keys=True)}
                                 for r in rows], schema=_RUN_SCHEMA)


def _in_memory(trials_tbl: pa.Table, runs: pd.DataFrame) -> Gathered:
    """The one conversion from the stored tables to what the analysis reads: `cost` (the first
    objective's cost, NaN for crashed trials) is derived here, never stored, and `task_metadata`
    is decoded here once."""
    trials = trials_tbl.append_column("cost", pc.list_element(trials_tbl["costs"], 0)).to_pandas()
    trials["cost"] = trials["cost"].astype(float)
    runs = runs.assign(task_metadata=[json.loads(m) if isinstance(m, str) and m else {} for m in runs["task_metadata"]])
    return Gathered(trials=trials, runs=runs.reset_index(drop=True))


def _write_table(table: pa.Table, path: Path, compression: str = "snappy") -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression=compression)
    os.replace(tmp, path)


def write_gathered(g: Gathered, directory: str | os.PathLike, compression: str = "snappy") -> Path:
    """A gather (or part of one) as the two stored tables that `gather` and `analysis.report` read
    back: the inverse of `_in_memory` (no `cost` column, `task_metadata` as JSON text)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    runs = g.runs.assign(task_metadata=[m if isinstance(m, str) else json.dumps(m or {}, sort_keys=True)
                                        for m in g.runs["task_metadata"]])
    for name, frame, schema in ((TRIALS_TABLE, g.trials, _TRIAL_SCHEMA), (RUNS_TABLE, runs, _RUN_SCHEMA)):
        _write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), directory / name, compression)
    return directory


def _mark_duplicates(runs: pd.DataFrame) -> pd.DataFrame:
    """Two runs of the same (optimizer, task, seed), e.g. from two studies or machines, would
    count one seed twice: the latest finished usable one is kept, the others become `duplicate`."""
    if runs.empty:
        return runs
    usable = runs["status"].isin(["complete", "failed"])
    order = runs.assign(_u=usable, _c=runs["status"].eq("complete"), _f=runs["finished"].fillna(-math.inf))
    order = order.sort_values(["_u", "_c", "_f", "run_key"], ascending=[False, False, False, True])
    order = order[order["_u"]]
    dup = order.duplicated(["optimizer_id", "task_id", "seed"], keep="first")
    dup_keys = set(order.loc[dup, "run_key"])
    if dup_keys:
        keep = order[~order["run_key"].isin(dup_keys)].set_index(["optimizer_id", "task_id", "seed"])["path"]
        runs = runs.copy()
        for i in runs.index[runs["run_key"].isin(dup_keys)]:
            r = runs.loc[i]
            runs.loc[i, "reason"] = f"same optimizer, task and seed as {keep.loc[(r.optimizer_id, r.task_id, r.seed)]}"
            runs.loc[i, "status"] = "duplicate"
    return runs


def read_queue_source(url: str) -> tuple[list[dict], pa.Table]:
    """Every cell of an experiment-queue database as run rows and the final attempts' trials."""
    from carps_like.queue.read import read_queue

    _, cells = read_queue(url)
    runs, rows = [], []
    for meta, trial_rows in cells:
        key = meta["run_key"]
        table_rows = trial_table_rows(meta, trial_rows)
        for r in table_rows:
            r["run_key"] = key
        rows.extend(table_rows)
        status = meta["queue_status"]
        reason = meta["reason"]
        if status == "failed":
            reason = "optimizer failed: " + (_last_line(meta.get("error")) or "no traceback recorded")
        budget = meta.get("budget") or {}
        runs.append({
            "run_key": key, "path": key, "status": status, "reason": reason,
            **{k: meta.get(k) for k in ("study", "optimizer_id", "optimizer_variant", "task_id", "task_type", "seed",
                                        "stop_reason", "started", "finished", "host", "git_revision")},
            "n_trials": len(trial_rows), "n_crashed": sum(r.get("status") != "SUCCESS" for r in trial_rows),
            "budget_used": float(trial_rows[-1]["budget_used"]) if trial_rows else 0.0,
            "budget_n_trials": budget.get("n_trials"), "budget_time_limit": budget.get("time_limit"),
            "batch_size": batch_size_of(meta),
            "versions": json.dumps(meta.get("versions") or {}, sort_keys=True),
            "task_metadata": meta.get("task_metadata") or {},
        })
    return runs, _trials_table(rows)


def _expand_sources(sources: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    run_dirs, tables = [], []
    for src in sources:
        if is_queue_url(str(src)):
            continue  # read by gather() itself
        path = Path(src)
        if not path.exists():
            raise FileNotFoundError(f"no such run directory or table: {path}")
        if path.is_file() and path.suffix == ".parquet":
            tables.append(path)
        elif path.is_dir() and (path / TRIALS_TABLE).exists() and (path / RUNS_TABLE).exists() and not (path / RUN_FILE).exists():
            tables.append(path / TRIALS_TABLE)
        elif path.is_dir():
            run_dirs.extend(iter_run_dirs(path))
        else:
            raise ValueError(f"{path}: expected a directory of runs or a gathered trials.parquet")
    return sorted(set(run_dirs)), tables


def gather(sources: Iterable[str | os.PathLike], out: str | os.PathLike | None = None, progress: bool = False) -> Gathered:
    """Read every run below `sources`; with `out`, write `trials.parquet` / `runs.parquet` there
    and reuse what an earlier gather into the same `out` already read."""
    sources = list(sources)
    queues = [str(s) for s in sources if is_queue_url(str(s))]
    run_dirs, tables = _expand_sources(sources)
    out = Path(out) if out is not None else None
    index, old_trials, old_runs = {}, None, None
    if out is not None and (out / INDEX_FILE).exists() and (out / TRIALS_TABLE).exists() and (out / RUNS_TABLE).exists():
        try:
            saved = json.loads((out / INDEX_FILE).read_text())
            if saved.get("version") == INDEX_VERSION:
                index = saved["runs"]
                old_trials = pq.read_table(out / TRIALS_TABLE)
                old_runs = pq.read_table(out / RUNS_TABLE)
        except (OSError, json.JSONDecodeError, KeyError, pa.ArrowInvalid):
            index = {}
    new_index, fresh_runs, fresh_trials, reused = {}, [], [], set()
    for i, directory in enumerate(run_dirs):
        key = str(directory.resolve())  # the same key read_run uses
        sig = _signature(directory)
        new_index[key] = sig
        if index.get(key) == sig and old_runs is not None:
            reused.add(key)
            continue
        run, table = read_run(directory)
        fresh_runs.append(run)
        fresh_trials.append(table)
        if progress and (i + 1) % 200 == 0:
            print(f"gather: {i + 1}/{len(run_dirs)} runs", file=sys.stderr, flush=True)
    parts_t, parts_r = [], []
    if reused:
        keys = pa.array(sorted(reused))
        parts_t.append(old_trials.filter(pc.is_in(old_trials["run_key"], keys)))
        parts_r.append(old_runs.filter(pc.is_in(old_runs["run_key"], keys)))
    parts_t.extend(fresh_trials or [_trials_table([])])
    parts_r.append(_runs_table(fresh_runs))
    n_queue = 0
    for url in queues:  # experiment-queue databases: read whole every time (no file signatures)
        q_runs, q_trials = read_queue_source(url)
        n_queue += len(q_runs)
        parts_t.append(q_trials)
        parts_r.append(_runs_table(q_runs))
    for table in tables:  # gathered elsewhere: taken as they are
        parts_t.append(pq.read_table(table).select(_TRIAL_SCHEMA.names).cast(_TRIAL_SCHEMA))
        runs_file = table.with_name(RUNS_TABLE)
        if not runs_file.exists():
            raise FileNotFoundError(f"{table} has no {RUNS_TABLE} beside it (gather writes both)")
        runs_part = pq.read_table(runs_file)
        if "batch_size" not in runs_part.column_names:  # gathered before batches existed: all sequential
            runs_part = runs_part.append_column("batch_size", pa.array([1] * runs_part.num_rows, pa.int64()))
        parts_r.append(runs_part.select(RUN_COLUMNS).cast(_RUN_SCHEMA))
    trials_tbl = pa.concat_tables(parts_t)
    runs = _mark_duplicates(pa.concat_tables(parts_r).to_pandas().drop_duplicates("run_key").reset_index(drop=True))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _write_table(trials_tbl, out / TRIALS_TABLE)
        _write_table(pa.Table.from_pandas(runs[list(RUN_COLUMNS)], schema=_RUN_SCHEMA, preserve_index=False),
                     out / RUNS_TABLE)
        (out / INDEX_FILE).write_text(json.dumps({"version": INDEX_VERSION, "runs": new_index}))
    gathered = _in_memory(trials_tbl, runs)
    trials, runs = gathered.trials, gathered.runs
    if progress:
        queued = f", {n_queue} from queue databases" if queues else ""
        print(f"gather: {len(runs)} runs ({len(reused)} unchanged, {len(fresh_runs)} read{queued}), {len(trials)} trials",
              file=sys.stderr, flush=True)
    return gathered


def status_summary(runs: pd.DataFrame) -> str:
    """One line per status: what a reader must know before trusting a ranking."""
    counts = runs["status"].value_counts()
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in RUN_STATUSES if counts.get(s, 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="run roots, study or run directories, queue database URLs, or gathered trials.parquet files")
    parser.add_argument("--out", default="report/data", help="where trials.parquet and runs.parquet go (default report/data)")
    args = parser.parse_args(argv)
    try:
        g = gather(args.sources, args.out, progress=True)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(g.runs)} runs: {status_summary(g.runs)}; {len(g.trials)} trials -> {args.out}")
    bad = g.runs[~g.runs["status"].eq("complete")]
    for row in bad.itertuples():
        print(f"  {row.status:10s} {row.path}: {row.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
