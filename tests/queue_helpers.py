"""Shared pieces of the experiment-queue tests (tests/test_queue.py, test_queue_trust.py) and perf/queue_scaling.py."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from carps_like import registry
from carps_like.queue import cells as Q
from carps_like.queue.db import cells, events, make_engine, trials

REPO = Path(__file__).resolve().parents[1]


def toy_cells(n_tasks: int = 1, seeds=(1,), n_trials: int = 5, delay: float = 0.0, task: str = "toy/bb") -> list[dict]:
    """Cells of toy tasks; `delay` (seconds per evaluation) makes runs long enough to kill mid-run.
    Distinct tasks are made by varying the toy's delay a little (task ids differ by suffix)."""
    base = registry.get_task(task).config
    opt = registry.get_optimizer_config("randomsearch")
    out = []
    for i in range(n_tasks):
        cfg = copy.deepcopy(base)
        cfg["id"] = f"{task}" if n_tasks == 1 else f"{task}_{i}"
        cfg["objective_function"]["delay"] = delay
        cfg["budget"] = {"n_trials": n_trials, "time_limit": None}
        out += [{"optimizer_id": "randomsearch", "task_id": cfg["id"], "seed": s, "optimizer_config": opt,
                 "task_config": cfg} for s in seeds]
    return out


def register(url: str, study: str, new_cells: list[dict]) -> sa.Engine:
    engine = make_engine(url, create=True)
    Q.register(engine, study, new_cells)
    return engine


def worker_cmd(url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "carps_like.queue", "--queue", url, "worker", *extra]


def start_worker(url: str, *extra: str, log: Path | None = None, tmpdir: Path | None = None) -> subprocess.Popen:
    """A worker process; `tmpdir` its TMPDIR (for one the test kills: conftest's kill_tmpdir)."""
    out = open(log, "w") if log else subprocess.DEVNULL
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", **({"TMPDIR": str(tmpdir)} if tmpdir else {}))
    return subprocess.Popen(worker_cmd(url, *extra), cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)


def cell_rows(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(cells).order_by(cells.c.id)).all()


def event_rows(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(events).order_by(events.c.id)).all()


def trial_counts(engine: sa.Engine) -> dict[tuple[int, int], int]:
    with engine.connect() as conn:
        q = sa.select(trials.c.cell_id, trials.c.attempt, sa.func.count()).group_by(trials.c.cell_id, trials.c.attempt)
        return {(c, a): n for c, a, n in conn.execute(q)}


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
