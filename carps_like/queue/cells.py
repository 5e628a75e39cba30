"""Cell lifecycle in the queue: register, claim (atomically), heartbeat, finish, release.

Ownership is (cell id, attempt, worker). Every claim bumps the attempt, so a worker that was
presumed dead and comes back can neither heartbeat, nor finish, nor have its late trials counted:
its statements match no row, and the analysis reads only the final attempt's trials.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import UserError
from .db import cells, events, now_expr, retrying, trials

DEFAULT_HEARTBEAT_TIMEOUT = 60.0  # seconds without a heartbeat before a running cell is reclaimed


@dataclass(frozen=True)
class Claim:
    cell_id: int
    attempt: int
    worker: str
    study: str
    optimizer_id: str
    task_id: str
    seed: int
    optimizer_config: dict
    task_config: dict
    reclaimed: bool


def register(engine: sa.Engine, study: str, cells_to_add: list[dict]) -> tuple[int, int]:
    """Insert pending cells (dicts with optimizer_id, task_id, seed, optimizer_config, task_config);
    cells already registered are kept. Returns (added, already there). A registered cell whose
    configuration differs (another budget or optimizer setting) is an error: one study, one setup."""
    def work():
        added = existing = 0
        with engine.begin() as conn:
            for c in cells_to_add:
                row = conn.execute(sa.select(cells.c.id, cells.c.optimizer_config, cells.c.task_config).where(
                    cells.c.study == study, cells.c.optimizer_id == c["optimizer_id"], cells.c.task_id == c["task_id"],
                    cells.c.seed == c["seed"])).first()
                opt_json, task_json = json.dumps(c["optimizer_config"], sort_keys=True), json.dumps(c["task_config"], sort_keys=True)
                if row is None:
                    conn.execute(sa.insert(cells).values(study=study, optimizer_id=c["optimizer_id"], task_id=c["task_id"],
                                                         seed=c["seed"], optimizer_config=opt_json, task_config=task_json,
                                                         status="pending", attempt=0))
                    added += 1
                    continue
                if (row.optimizer_config, row.task_config) != (opt_json, task_json):
                    raise UserError(f"study {study!r} already has {c['optimizer_id']} on {c['task_id']} seed {c['seed']} "
                                    f"with another budget or optimizer setting; use another STUDY name")
                existing += 1
        return added, existing

    return retrying(work, "registering cells")


def _event(conn, cell_id: int, attempt: int, worker: str | None, kind: str, now, detail: str | None = None) -> None:
    conn.execute(sa.insert(events).values(cell_id=cell_id, attempt=attempt, worker=worker, kind=kind, at=now,
                                          detail=detail))


def claim(engine: sa.Engine, worker: str, study: str | None = None,
          heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT) -> Claim | None:
    """Atomically take one pending cell, or a running one whose heartbeat is older than
    `heartbeat_timeout` (its worker died). One UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
    LOCKED) RETURNING statement: PostgreSQL row locks and SQLite's single writer make it exclusive."""
    now = now_expr(engine)
    claimable = sa.or_(cells.c.status == "pending",
                       sa.and_(cells.c.status == "running", cells.c.heartbeat < now - heartbeat_timeout))
    pick = sa.select(cells.c.id).where(claimable)
    if study is not None:
        pick = pick.where(cells.c.study == study)
    pick = pick.order_by(cells.c.id).limit(1).with_for_update(skip_locked=True).scalar_subquery()

    def mine(conn):  # a claim whose commit succeeded but whose reply was lost (retry after a drop)
        return conn.execute(sa.select(cells).where(cells.c.worker == worker, cells.c.status == "running")).first()

    tries = []

    def work():
        with engine.begin() as conn:
            if tries:  # a retry: did the previous try's claim commit?
                row = mine(conn)
                if row is not None:
                    return row, row.attempt > 1
            tries.append(1)
            # SET expressions see the old row: a cell taken from a running (dead) worker says so
            note = sa.case((cells.c.status == "running",
                            sa.literal("reclaimed from ") + sa.func.coalesce(cells.c.worker, "?") + " (stale heartbeat)"),
                           else_=sa.null())
            stmt = (sa.update(cells).where(cells.c.id == pick, claimable)
                    .values(status="running", attempt=cells.c.attempt + 1, worker=worker, heartbeat=now, claimed_at=now,
                            error=note)
                    .returning(*cells.c))
            row = conn.execute(stmt).first()
            if row is None:
                return None, False
            reclaimed = (row.error or "").startswith("reclaimed")
            _event(conn, row.id, row.attempt, worker, "reclaim" if reclaimed else "claim", now, row.error)
            return row, reclaimed

    row, reclaimed = retrying(work, "claiming a cell")
    if row is None:
        return None
    return Claim(row.id, row.attempt, worker, row.study, row.optimizer_id, row.task_id, row.seed,
                 json.loads(row.optimizer_config), json.loads(row.task_config), reclaimed)


def _owned(c: Claim):
    return sa.and_(cells.c.id == c.cell_id, cells.c.attempt == c.attempt, cells.c.worker == c.worker,
                   cells.c.status == "running")


def heartbeat(engine: sa.Engine, c: Claim) -> bool:
    """Refresh the claim; False when the cell is no longer ours (reclaimed after a stale heartbeat)."""
    def work():
        with engine.begin() as conn:
            return conn.execute(sa.update(cells).where(_owned(c)).values(heartbeat=now_expr(engine))).rowcount == 1
    return retrying(work, "sending a heartbeat", timeout=30)


def start(engine: sa.Engine, c: Claim, meta: dict) -> bool:
    def work():
        with engine.begin() as conn:
            return conn.execute(sa.update(cells).where(_owned(c)).values(meta=json.dumps(meta, default=str))).rowcount == 1
    return retrying(work, "starting a run")


def add_trial(engine: sa.Engine, c: Claim, trial: int, row_json: str) -> None:
    """Record one trial of this attempt in one statement; idempotent (INSERT ... ON CONFLICT DO
    NOTHING), so a retry after a lost reply inserts nothing twice."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(trials).values(cell_id=c.cell_id, attempt=c.attempt, trial=trial, row=row_json).on_conflict_do_nothing()

    def work():
        with engine.begin() as conn:
            conn.execute(stmt)
    retrying(work, "recording a trial")


def finish(engine: sa.Engine, c: Claim, status: str, summary: dict) -> bool:
    """Mark the cell complete or failed, only if still ours. False: another worker owns it now, so
    this attempt's result is discarded (no duplicate final results)."""
    now = now_expr(engine)
    error = summary.get("error")

    def work():
        with engine.begin() as conn:
            done = conn.execute(sa.update(cells).where(_owned(c)).values(
                status=status, finished_at=now, summary=json.dumps(summary, default=str), error=error)).rowcount == 1
            if not done:  # our earlier commit may have succeeded with its reply lost
                row = conn.execute(sa.select(cells.c.status, cells.c.attempt, cells.c.worker)
                                   .where(cells.c.id == c.cell_id)).first()
                done = row is not None and (row.status, row.attempt, row.worker) == (status, c.attempt, c.worker)
                if not done:
                    _event(conn, c.cell_id, c.attempt, c.worker, "lost", now, "finished after being reclaimed; discarded")
                return done
            _event(conn, c.cell_id, c.attempt, c.worker, status, now)
            return True
    return retrying(work, "finishing a run")


def release(engine: sa.Engine, c: Claim, reason: str) -> bool:
    """Give the cell back (the worker is stopping: SIGTERM, preemption); its trials stay, superseded."""
    def work():
        with engine.begin() as conn:
            ok = conn.execute(sa.update(cells).where(_owned(c)).values(status="pending", worker=None, heartbeat=None,
                                                                      error=f"released: {reason}")).rowcount == 1
            if ok:
                _event(conn, c.cell_id, c.attempt, c.worker, "release", now_expr(engine), reason)
            return ok
    return retrying(work, "releasing a cell", timeout=30)


def reset_failed(engine: sa.Engine, study: str | None = None) -> int:
    """Put failed cells back to pending (RETRY_FAILED)."""
    def work():
        with engine.begin() as conn:
            q = sa.update(cells).where(cells.c.status == "failed")
            if study is not None:
                q = q.where(cells.c.study == study)
            return conn.execute(q.values(status="pending", worker=None, heartbeat=None)).rowcount
    return retrying(work, "resetting failed cells")


def counts(engine: sa.Engine, study: str | None = None, heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT) -> dict:
    """Cells per study and status; running cells with a stale heartbeat are counted as `stale`."""
    now = now_expr(engine)
    status = sa.case((sa.and_(cells.c.status == "running", cells.c.heartbeat < now - heartbeat_timeout), "stale"),
                     else_=cells.c.status)
    q = sa.select(cells.c.study, status.label("s"), sa.func.count()).group_by(cells.c.study, status)
    if study is not None:
        q = q.where(cells.c.study == study)
    def work():
        out: dict[str, dict[str, int]] = {}
        with engine.connect() as conn:
            for st, s, n in conn.execute(q):
                out.setdefault(st, {})[s] = n
        return out
    return retrying(work, "counting cells", timeout=60)
