"""Scaling of a study over local workers, and the experiment queue's overhead per cell.

    make perf-queue      # or: .venv/bin/python perf/queue_scaling.py [--runs 200] [--no-postgres]

1. Throughput: one study of `--runs` cheap runs (random search, 20 trials, on 2-d BBOB tasks),
   run four ways in this process's machine, each into a fresh directory or database:
   joblib (`make run`) with 1 and 2 jobs, queue workers (`make worker`) with 1 and 2 processes.
   Prints wall time, runs per second, and parallel efficiency = T(1) / (2 * T(2)).
2. Queue overhead per claimed cell: the database work a worker adds to one cell besides its
   trials (claim + start + finish), timed in-process over 300 cells, on SQLite and, where the
   PostgreSQL server binaries exist, on a throwaway server on 127.0.0.1 (tests/pg_server.py);
   also the cost of recording one trial; both also as multiples of a bare write transaction on the
   same database, measured in the same run. Targets (issue 9): < 20 ms per cell on SQLite, < 50 ms
   on loopback PostgreSQL. No asserts: this prints measurements.
3. Gather of the same study from its run directories and from its queue database (ratio).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
ENV = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
TASKS = [f"bbob/f{f}_d2_i1" for f in range(1, 21)]


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return time.perf_counter() - t0


def joblib_study(out: Path, seeds: int, jobs: int) -> float:
    return _timed([sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", ",".join(TASKS),
                   "--seeds", str(seeds), "--n-trials", "20", "--out", str(out), "--jobs", str(jobs)])


def queue_study(db: Path, seeds: int, workers: int) -> float:
    url = f"sqlite:///{db}"
    q = [sys.executable, "-m", "carps_like.queue", "--queue", url]
    _timed(q + ["register", "--study", "perf", "--optimizer", "randomsearch", "--task", ",".join(TASKS), "--seeds",
                str(seeds), "--n-trials", "20"])
    return _timed(q + ["worker", "--workers", str(workers)])


def bare_transaction(engine, n: int = 300) -> float:
    """ms per empty write transaction on the same engine: the floor any queue operation pays."""
    import sqlalchemy as sa

    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT 1"))
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def cell_overhead(url: str, n: int = 300) -> tuple[float, float, float]:
    """(ms per claimed cell for claim + start + finish, ms per recorded trial, ms per bare
    transaction on the same database, measured right before), medians."""
    from queue_helpers import toy_cells

    from carps_like.queue import cells as Q
    from carps_like.queue.db import make_engine

    engine = make_engine(url, create=True)
    Q.register(engine, "overhead", toy_cells(n_tasks=n, seeds=(1,)))
    bare = bare_transaction(engine)
    per_cell, per_trial = [], []
    row = '{"trial": 0, "config": {"x0": 0.1, "x1": 0.2}, "costs": [0.05], "status": "SUCCESS"}'
    for _ in range(n):
        t0 = time.perf_counter()
        c = Q.claim(engine, "perf-worker", "overhead")
        Q.start(engine, c, {"task_type": "bb"})
        t1 = time.perf_counter()
        Q.add_trial(engine, c, 0, row)
        t2 = time.perf_counter()
        Q.finish(engine, c, "complete", {"n_trials": 1})
        t3 = time.perf_counter()
        per_cell.append((t1 - t0) + (t3 - t2))
        per_trial.append(t2 - t1)
    engine.dispose()
    return 1000 * statistics.median(per_cell), 1000 * statistics.median(per_trial), bare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200, help="runs per study (multiple of 20)")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    seeds = max(1, args.runs // len(TASKS))
    n_runs = seeds * len(TASKS)
    print(f"study: random search, 20 trials, {len(TASKS)} BBOB 2-d tasks x {seeds} seeds = {n_runs} runs; "
          f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        times = {}
        for kind in ("joblib", "queue"):
            for n in (1, 2):
                t = (joblib_study(tmp / f"runs-{n}", seeds, n) if kind == "joblib"
                     else queue_study(tmp / f"queue-{n}.db", seeds, n))
                times[kind, n] = t
                print(f"  {kind:6s} {n} worker{'s' if n > 1 else ' '}: {t:7.1f} s  {n_runs / t:6.1f} runs/s", flush=True)
        for kind in ("joblib", "queue"):
            eff = times[kind, 1] / (2 * times[kind, 2])
            print(f"  {kind}: parallel efficiency 1 -> 2 workers {eff:.2f}")
        print(f"  queue / joblib wall time: 1 worker {times['queue', 1] / times['joblib', 1]:.2f}, "
              f"2 workers {times['queue', 2] / times['joblib', 2]:.2f}")

        from analysis.gather import gather

        t0 = time.perf_counter()
        gather([tmp / "runs-1"])
        t_dirs = time.perf_counter() - t0
        t0 = time.perf_counter()
        gather([f"sqlite:///{tmp / 'queue-1.db'}"])
        t_queue = time.perf_counter() - t0
        print(f"gather of the same {n_runs} runs: run directories {t_dirs:.2f} s, queue database {t_queue:.2f} s "
              f"(ratio {t_queue / t_dirs:.2f})")

        print("queue overhead per claimed cell (claim + start + finish; median of 300) and per trial:")
        cell, trial, bare = cell_overhead(f"sqlite:///{tmp / 'overhead.db'}")
        print(f"  SQLite (WAL):         {cell:6.2f} ms per cell (target < 20; {cell / bare:.1f}x a bare transaction "
              f"of {bare:.2f} ms), {trial:5.2f} ms per trial ({trial / bare:.1f}x)")
        if args.no_postgres:
            return
        from pg_server import PostgresServer, postgres_unavailable_reason

        reason = postgres_unavailable_reason()
        if reason:
            print(f"  PostgreSQL: not measured ({reason})")
            return
        with PostgresServer(settings={"fsync": "on"}) as server:  # durable commits, as in production
            cell, trial, bare = cell_overhead(server.url)
        print(f"  PostgreSQL, loopback: {cell:6.2f} ms per cell (target < 50; {cell / bare:.1f}x a bare transaction "
              f"of {bare:.2f} ms), {trial:5.2f} ms per trial ({trial / bare:.1f}x)")


if __name__ == "__main__":
    main()
