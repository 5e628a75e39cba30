"""A queue worker: claim a cell, run it with the ordinary runner, write its trials and final
status to the database, heartbeat meanwhile; repeat until nothing is claimable.

    python -m carps_like.queue worker --queue sqlite:///runs/queue.db [--study S] [--workers 2]

SIGTERM/SIGINT (preemption, Ctrl-C) release the cell being run back to pending; a worker killed
outright (kill -9, node loss) stops heartbeating and its cell is reclaimed by another worker after
the heartbeat timeout. The runner is the one of `make run`, so results are the same. Every
`_target_` of a cell is checked against the trusted modules first (carps_like.trust): the database
is data, not code.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from ..errors import UserError
from ..runner import StoreError
from ..store import dumps
from ..trust import UntrustedTarget, check_config, trusted_prefixes
from . import cells as Q


class CellLost(RuntimeError):
    """The cell was reclaimed by another worker (our heartbeat went stale): stop this attempt."""


class QueueRunHandle:
    """The runner's handle (start / append_trial / finish) writing to the queue database."""

    def __init__(self, engine: sa.Engine, claim: Q.Claim, lost: threading.Event) -> None:
        self.engine, self.claim, self.lost = engine, claim, lost
        self.finished_as: str | None = None

    def start(self, meta: dict) -> None:
        if not Q.start(self.engine, self.claim, dict(meta, status="running", started=time.time(),
                                                     queue_attempt=self.claim.attempt, worker=self.claim.worker)):
            raise CellLost(f"cell {self.claim.cell_id} was taken by another worker before it started")

    def append_trial(self, row: dict) -> None:
        if self.lost.is_set():
            raise CellLost(f"cell {self.claim.cell_id} attempt {self.claim.attempt} was reclaimed by another worker")
        Q.add_trial(self.engine, self.claim, int(row["trial"]), dumps(row))

    def finish(self, status: str, summary: dict, table_rows) -> None:
        if Q.finish(self.engine, self.claim, status, summary):
            self.finished_as = status


class _Heartbeat(threading.Thread):
    def __init__(self, engine, claim: Q.Claim, interval: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{claim.cell_id}")
        self.engine, self.claim, self.interval = engine, claim, interval
        self.stop_event, self.lost = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                if not Q.heartbeat(self.engine, self.claim):
                    self.lost.set()
                    return
            except Exception as exc:  # noqa: BLE001 - the database is gone for longer than the retry window
                print(f"[worker] heartbeat failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


class _Stop(BaseException):  # not an Exception: the runner must not record it as a crash
    pass


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_one(engine: sa.Engine, claim: Q.Claim, heartbeat_interval: float, scratch: Path,
            url: str | None = None) -> str:
    """Run one claimed cell; returns its final status (or 'lost' / 'error'). A cell whose optimizer needs
    an isolated environment (YAML `requirements`, carps_like.optenv) runs in a child process of that
    environment's interpreter (`python -m carps_like.queue run-claim`), built here when missing."""
    from ..experiment import prepare_run

    beat = _Heartbeat(engine, claim, heartbeat_interval)
    beat.start()
    try:
        try:
            check_config(claim.optimizer_config, "optimizer_config")  # before anything is imported or built
            check_config(claim.task_config, "task_config")
            planned = not claim.optimizer_config.get("by_task_type")  # cells queued before plans held dispatchers
            python = _isolated_python(claim) if planned and url else None
            if python is None:
                prepared = prepare_run(claim.optimizer_config, claim.task_config, claim.seed, claim.study,
                                       label=claim.optimizer_id if planned else None)
        except Exception as exc:  # noqa: BLE001 - an unrunnable or refused cell fails, the worker goes on
            refused = isinstance(exc, UntrustedTarget)
            if refused:
                print(f"[worker] refused cell {claim.cell_id}: {exc}", file=sys.stderr, flush=True)
            Q.finish(engine, claim, "failed", {"error": f"{type(exc).__name__}: {exc}",
                                               "stop_reason": "refused" if refused else "setup_error"})
            return "failed"
        if python is not None:
            return _run_isolated(engine, url, claim, heartbeat_interval, python)
        handle = QueueRunHandle(engine, claim, beat.lost)
        workdir = Path(tempfile.mkdtemp(prefix=f"cell{claim.cell_id}-", dir=scratch))  # the optimizer's own files
        try:
            prepared.execute(handle, workdir)
        except CellLost:
            return "lost"
        except StoreError as exc:
            if isinstance(exc.__cause__, CellLost):
                return "lost"
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)  # results are in the database, not here
        return handle.finished_as or "lost"
    finally:
        beat.stop_event.set()


def _isolated_python(claim: Q.Claim) -> str | None:
    """The interpreter of the cell optimizer's isolated environment (built when missing), or None: it runs here."""
    from ..optenv import is_current, python_for

    python = python_for(claim.optimizer_config, claim.optimizer_id)
    return python if python and not is_current(python) else None


def _run_isolated(engine: sa.Engine, url: str, claim: Q.Claim, heartbeat_interval: float, python: str) -> str:
    """Run the claimed cell in a child process of `python` (its own heartbeat and database connection);
    a child that dies without finishing the cell fails it. A stopped worker kills the child first."""
    cmd = [python, "-m", "carps_like.queue", "run-claim", "--queue", url, "--heartbeat-interval",
           str(heartbeat_interval)]
    proc = subprocess.run(cmd, input=json.dumps(dataclasses.asdict(claim)), stdout=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return lines[-1]
    if Q.finish(engine, claim, "failed", {"error": f"the worker process of the isolated environment ({python}) exited "
                                                   f"with status {proc.returncode}", "stop_reason": "setup_error"}):
        return "failed"
    return "lost"


def run_claim_from_stdin(url: str, heartbeat_interval: float) -> int:
    """`python -m carps_like.queue run-claim`: run the claim read from stdin (JSON) here; print its outcome."""
    from .db import make_engine

    claim = Q.Claim(**json.loads(sys.stdin.read()))
    engine = make_engine(url)
    scratch = Path(tempfile.mkdtemp(prefix="carps-like-worker-"))
    try:
        print(run_one(engine, claim, heartbeat_interval, scratch), flush=True)
    finally:
        engine.dispose()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def work(url: str, study: str | None = None, heartbeat_interval: float = 5.0,
         heartbeat_timeout: float = Q.DEFAULT_HEARTBEAT_TIMEOUT, max_cells: int | None = None,
         idle_exit: bool = True, poll: float = 2.0, quiet: bool = False) -> dict:
    """Claim and run cells until none is claimable (or `max_cells`); returns counts by outcome."""
    from .db import display_url, make_engine

    if heartbeat_interval * 2 > heartbeat_timeout:
        raise UserError(f"heartbeat interval {heartbeat_interval} s must be at most half the timeout {heartbeat_timeout} s")
    trusted = trusted_prefixes()  # a malformed $CARPS_LIKE_TRUSTED_TARGETS stops here, before any claim
    engine = make_engine(url)
    me = worker_id()
    scratch = Path(tempfile.mkdtemp(prefix="carps-like-worker-"))
    done: dict[str, int] = {}
    current: list[Q.Claim] = []

    def on_signal(signum, _frame):
        raise _Stop(signal.Signals(signum).name)

    in_main = threading.current_thread() is threading.main_thread()  # signals can only be caught there
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)} if in_main else {}
    say = (lambda *a: None) if quiet else (lambda msg: print(f"[worker {me}] {msg}", flush=True))
    say(f"working on {display_url(url)}" + (f", study {study}" if study else "")
        + f"; trusting targets in {', '.join(trusted)}")
    try:
        while max_cells is None or sum(done.values()) < max_cells:
            claim = Q.claim(engine, me, study, heartbeat_timeout)
            if claim is None:
                if idle_exit:
                    break
                time.sleep(poll)
                continue
            current[:] = [claim]
            what = f"{claim.optimizer_id} on {claim.task_id} seed {claim.seed} (cell {claim.cell_id}, attempt {claim.attempt}" \
                   + (", reclaimed)" if claim.reclaimed else ")")
            say(f"running {what}")
            outcome = run_one(engine, claim, heartbeat_interval, scratch, url)
            current.clear()
            done[outcome] = done.get(outcome, 0) + 1
            c = Q.counts(engine, claim.study, heartbeat_timeout).get(claim.study, {})
            progress = ", ".join(f"{c[k]} {k}" for k in ("complete", "failed", "running", "stale", "pending") if c.get(k))
            say(f"{outcome}: {what}; study {claim.study}: {sum(c.get(k, 0) for k in ('complete', 'failed'))}/"
                f"{sum(c.values())} done ({progress})")
    except _Stop as stop:
        for claim in current:
            Q.release(engine, claim, f"worker stopped by {stop}")
            say(f"released cell {claim.cell_id} ({stop})")
        done["released"] = done.get("released", 0) + len(current)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        engine.dispose()
        shutil.rmtree(scratch, ignore_errors=True)
    return done
