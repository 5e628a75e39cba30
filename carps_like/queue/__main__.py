"""Command line of the experiment queue (`make queue`, `make worker`, `make queue-status`).

    python -m carps_like.queue register --study s1 --optimizer smac --task subset_bb --seeds 5
    python -m carps_like.queue worker --workers 2          # until no cell is claimable
    python -m carps_like.queue status
    python -m carps_like.queue retry-failed --study s1

--queue (or $CARPS_LIKE_QUEUE) picks the database: sqlite:///runs/queue.db by default,
postgresql://user@host:port/db for clusters without a shared filesystem.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from ..errors import UserError
from .db import default_url, display_url


def _cells(optimizer: str, task: str, seeds: str, n_trials: str | None, time_limit: str | None,
           batch_size: int | None = None):
    """The study's cells, planned as `make run` plans them (carps_like.plan: the variant per task
    type, batch size and budget resolved once); returns (cells, skipped reasons)."""
    from .. import plan
    from ..study import resolve

    r = resolve(optimizer, task, seeds, n_trials, time_limit, batch_size)
    planned, _ = plan.build(optimizer, r.tasks, r.seeds, r.budgets, batch_override=r.batch_override)
    cells = [{"optimizer_id": c.label, "task_id": c.task_id, "seed": c.seed, "optimizer_config": c.optimizer,
              "task_config": c.task} for c in planned]
    return cells, r.skipped


def cmd_register(args) -> int:
    from . import cells as Q
    from .db import make_engine

    new_cells, skipped = _cells(args.optimizer, args.task, args.seeds, args.n_trials, args.time_limit, args.batch_size)
    for reason, tids in skipped.items():
        print(f"[queue] skipping {len(tids)} tasks: {reason} ({', '.join(tids[:3])}{', ...' if len(tids) > 3 else ''})")
    engine = make_engine(args.queue, create=True)
    try:
        added, existing = Q.register(engine, args.study, new_cells)
    finally:
        engine.dispose()
    print(f"[queue] study {args.study}: {added} cells registered, {existing} already there -> {display_url(args.queue)}")
    print("[queue] run them with `make worker` (any number of workers, on any machine that reaches the database)")
    return 0


def cmd_status(args) -> int:
    from . import cells as Q
    from .db import make_engine

    engine = make_engine(args.queue)
    try:
        by_study = Q.counts(engine, args.study, args.heartbeat_timeout)
    finally:
        engine.dispose()
    if not by_study:
        print(f"[queue] no cells in {display_url(args.queue)}" + (f" for study {args.study}" if args.study else ""))
        return 0
    order = ("pending", "running", "stale", "complete", "failed")
    print(f"{'study':30s} " + " ".join(f"{s:>9s}" for s in order) + f" {'total':>7s}")
    for study, c in sorted(by_study.items()):
        print(f"{study:30s} " + " ".join(f"{c.get(s, 0):9d}" for s in order) + f" {sum(c.values()):7d}")
    return 0


def cmd_retry_failed(args) -> int:
    from . import cells as Q
    from .db import make_engine

    engine = make_engine(args.queue)
    try:
        n = Q.reset_failed(engine, args.study)
    finally:
        engine.dispose()
    print(f"[queue] {n} failed cells back to pending")
    return 0


def cmd_worker(args) -> int:
    from ..trust import trusted_prefixes
    from .worker import work

    trusted_prefixes()  # a malformed $CARPS_LIKE_TRUSTED_TARGETS: one error, not one per worker process
    if args.workers > 1:  # one process per worker, like independent machines
        base = [sys.executable, "-m", "carps_like.queue", "worker", "--queue", args.queue, "--workers", "1",
                "--heartbeat-interval", str(args.heartbeat_interval), "--heartbeat-timeout", str(args.heartbeat_timeout)]
        if args.study:
            base += ["--study", args.study]
        if args.wait:
            base.append("--wait")
        procs = [subprocess.Popen(base) for _ in range(args.workers)]
        try:
            codes = [p.wait() for p in procs]
        except KeyboardInterrupt:
            for p in procs:
                p.terminate()
            codes = [p.wait() for p in procs]
        return max(codes)
    t0 = time.perf_counter()
    done = work(args.queue, args.study, args.heartbeat_interval, args.heartbeat_timeout, args.max_cells,
                idle_exit=not args.wait)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(done.items())) or "nothing to do"
    print(f"[worker] {summary} in {time.perf_counter() - t0:.1f} s", flush=True)
    return 1 if done.get("failed") or done.get("released") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="carps_like.queue", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue", default=None, help="database URL (default $CARPS_LIKE_QUEUE or sqlite:///runs/queue.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("register", help="add a study's (optimizer, task, seed) cells")
    p.add_argument("--study", required=True)
    p.add_argument("--optimizer", required=True)
    p.add_argument("--task", required=True, help="task id, taskset or comma list")
    p.add_argument("--seeds", default="5")
    p.add_argument("--n-trials", default=None)
    p.add_argument("--time-limit", default=None)
    p.add_argument("--batch-size", type=int, default=None, help="trials per ask_batch (cells filed as <optimizer>_q<n>)")
    p = sub.add_parser("worker", help="claim and run cells until none is left")
    p.add_argument("--study", default=None, help="only this study's cells")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    p.add_argument("--heartbeat-interval", type=float, default=5.0)
    p.add_argument("--heartbeat-timeout", type=float, default=60.0, help="seconds before a silent worker's cell is reclaimed")
    p.add_argument("--max-cells", type=int, default=None)
    p.add_argument("--wait", action="store_true", help="keep polling for new cells instead of exiting when idle")
    p = sub.add_parser("run-claim", help="(used by workers) run one claimed cell, read as JSON from stdin, in this "
                                         "interpreter: an optimizer's isolated environment")
    p.add_argument("--heartbeat-interval", type=float, default=5.0)
    for name in ("status", "retry-failed"):
        p = sub.add_parser(name)
        p.add_argument("--study", default=None)
        p.add_argument("--heartbeat-timeout", type=float, default=60.0)
    for p in sub.choices.values():  # --queue accepted after the subcommand too
        p.add_argument("--queue", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.queue = args.queue or default_url()
    try:
        if getattr(args, "workers", 1) < 1:
            raise UserError(f"--workers must be >= 1, got {args.workers}")
        if args.command == "run-claim":
            from .worker import run_claim_from_stdin

            return run_claim_from_stdin(args.queue, args.heartbeat_interval)
        return {"register": cmd_register, "status": cmd_status, "worker": cmd_worker,
                "retry-failed": cmd_retry_failed}[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a database that stays unreachable, a read-only file
        from sqlalchemy.exc import SQLAlchemyError

        from ..runner import StoreError

        if isinstance(exc, (SQLAlchemyError, StoreError)):
            print(f"error: queue database {display_url(args.queue)}: {type(exc).__name__}: "
                  f"{str(exc).splitlines()[0]}; unfinished cells stay claimable (reclaimed after the heartbeat "
                  f"timeout)", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
