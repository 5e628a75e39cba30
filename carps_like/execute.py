"""Execute a study's planned cells in local processes: what `make run` launches by default.

    python -m carps_like.execute PLAN.json --out runs --study default [--jobs N] [--redo] [--retry-failed]

The cells come resolved from the study front end (carps_like.plan), so a run costs its own work
and nothing more: no Hydra compose and no re-exec per run. Runs go to a joblib (loky) pool, one
worker per job. A cell that cannot be set up prints one `error:` line and the others go on. A
worker process that dies (SIGKILL, out of memory) makes loky stop the pool: this prints one line
and exits WORKER_DIED, and the study front end reruns what was lost (carps_like.study).
"""
from __future__ import annotations

import argparse
import os
import sys

from . import lifeline, plan
from .errors import UserError

WORKER_DIED = 3


def _one(cell: plan.Cell, out: str, study: str, redo: bool, retry_failed: bool) -> str:
    try:
        return plan.execute(cell, out, study, redo, retry_failed).status
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
    except Exception as exc:  # a task or store that cannot be set up; the run itself never raises
        print(f"error: task {cell.task_id} seed {cell.seed}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        if os.environ.get("CARPS_LIKE_DEBUG"):
            raise
    return "error"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="carps_like.execute", description=__doc__.splitlines()[0])
    parser.add_argument("plan")
    parser.add_argument("--out", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--jobs", type=int, default=None, help="parallel runs (default: all cores)")
    parser.add_argument("--redo", action="store_true")
    parser.add_argument("--retry-failed", action="store_true")
    args = parser.parse_args(argv)
    lifeline.watch_study()
    os.environ.setdefault("PYTHONHASHSEED", "0")  # workers inherit it (SMAC's set order; carps_like.run)
    cells = plan.load(args.plan)
    jobs = min(args.jobs or os.cpu_count() or 1, max(len(cells), 1))
    if jobs == 1:
        statuses = [_one(c, args.out, args.study, args.redo, args.retry_failed) for c in cells]
    else:
        from joblib import Parallel, delayed
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        try:
            statuses = Parallel(n_jobs=jobs, backend="loky")(
                delayed(_one)(c, args.out, args.study, args.redo, args.retry_failed) for c in cells)
        except TerminatedWorkerError:
            print("a worker process died (SIGKILL? out of memory?)", file=sys.stderr, flush=True)
            return WORKER_DIED
    return 0 if all(s in ("complete", "failed") for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
