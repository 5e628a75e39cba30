"""Shared pieces of the experiment-queue tests (SQLite and PostgreSQL run the same scenarios)."""
from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
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


def start_worker(url: str, *extra: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen(worker_cmd(url, *extra), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1"))


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


def kill_mid_run_then_reclaim(url: str, tmp_path: Path) -> None:
    """kill -9 a worker after it recorded some trials; another worker reclaims the cell after the
    heartbeat timeout and completes it; the dead worker's trials stay, superseded."""
    engine = register(url, "s", toy_cells(n_trials=40, delay=0.05))
    w1 = start_worker(url, "--heartbeat-interval", "0.5", "--heartbeat-timeout", "3", log=tmp_path / "w1.log")
    wait_for(lambda: sum(trial_counts(engine).values()) >= 5, 120, "the first worker's trials")
    os.kill(w1.pid, signal.SIGKILL)
    w1.wait()
    dead = dict(trial_counts(engine))
    (cell,) = cell_rows(engine)
    assert cell.status == "running" and cell.attempt == 1
    w2 = subprocess.run(worker_cmd(url, "--heartbeat-interval", "0.5", "--heartbeat-timeout", "3", "--wait",
                                   "--max-cells", "1"), cwd=REPO, capture_output=True, text=True, timeout=240)
    assert w2.returncode == 0, w2.stdout[-2000:] + w2.stderr[-2000:]
    assert "reclaimed" in w2.stdout
    (cell,) = cell_rows(engine)
    assert cell.status == "complete" and cell.attempt == 2
    counts = trial_counts(engine)
    assert counts[(cell.id, 1)] == dead[(cell.id, 1)] >= 5  # the dead worker's trials are kept
    assert counts[(cell.id, 2)] == 40
    kinds = [e.kind for e in event_rows(engine)]
    assert kinds == ["claim", "reclaim", "complete"], kinds
    # the analysis sees one complete run with the final attempt's 40 trials
    from analysis.gather import gather

    g = gather([url])
    assert len(g.runs) == 1 and g.runs.iloc[0]["status"] == "complete" and len(g.trials) == 40
    engine.dispose()


def many_workers_no_double_claim(url: str, n_cells: int = 24, n_workers: int = 6) -> None:
    """Several worker processes on one small study: every cell is claimed once and completed once."""
    engine = register(url, "s", toy_cells(n_tasks=n_cells // 2, seeds=(1, 2), n_trials=3))
    procs = [start_worker(url, "--heartbeat-timeout", "120") for _ in range(n_workers)]
    for p in procs:
        assert p.wait(timeout=300) == 0
    rows = cell_rows(engine)
    assert len(rows) == n_cells and all(r.status == "complete" and r.attempt == 1 for r in rows)
    evs = event_rows(engine)
    claims = [e.cell_id for e in evs if e.kind == "claim"]
    assert sorted(claims) == sorted(r.id for r in rows)  # each exactly once
    assert sorted(e.cell_id for e in evs if e.kind == "complete") == sorted(r.id for r in rows)
    assert len({e.worker for e in evs if e.kind == "claim"}) >= 2  # the work was really shared
    assert all(n == 3 for n in trial_counts(engine).values())
    engine.dispose()


def threads_claim_exclusively(url: str, n_threads: int = 8) -> None:
    """Threads, each with its own engine (own connections), race for 60 cells: each cell once."""
    register(url, "s", toy_cells(n_tasks=30, seeds=(1, 2))).dispose()
    got: dict[str, list[int]] = {}

    def grab(name):
        engine = make_engine(url)
        got[name] = []
        while (c := Q.claim(engine, name, "s")) is not None:
            got[name].append(c.cell_id)
        engine.dispose()

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = sorted(cid for ids in got.values() for cid in ids)
    assert len(claimed) == 60 and len(set(claimed)) == 60  # every cell once, none twice
    assert sum(1 for ids in got.values() if ids) >= 2
