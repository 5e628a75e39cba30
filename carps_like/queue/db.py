"""The queue's database: schema, engines for SQLite (WAL) and PostgreSQL, the database clock, and
retries across connection loss.

All times that decide ownership (heartbeats, claims) come from the database's clock, so workers
on machines with skewed clocks still agree on which heartbeat is stale.
"""
from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import UserError
from . import is_queue_url  # noqa: F401 - re-exported

T = TypeVar("T")
DEFAULT_URL_ENV = "CARPS_LIKE_QUEUE"
SCHEMA_VERSION = 1

metadata = sa.MetaData()

# One row per (study, optimizer, task, seed): the unit a worker claims.
cells = sa.Table(
    "cells", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study", sa.String(200), nullable=False),
    sa.Column("optimizer_id", sa.String(200), nullable=False),
    sa.Column("task_id", sa.String(300), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("optimizer_config", sa.Text, nullable=False),  # JSON, resolved at registration
    sa.Column("task_config", sa.Text, nullable=False),  # JSON, with the study's budget
    sa.Column("status", sa.String(16), nullable=False, default="pending"),  # pending|running|complete|failed
    sa.Column("attempt", sa.Integer, nullable=False, default=0),  # bumped by every claim
    sa.Column("worker", sa.String(200)),
    sa.Column("heartbeat", sa.Float),
    sa.Column("claimed_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("meta", sa.Text),  # JSON run metadata of the current attempt (versions, host, ...)
    sa.Column("summary", sa.Text),  # JSON run summary of the final attempt
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("study", "optimizer_id", "task_id", "seed", name="uq_cell"),
)
sa.Index("ix_cells_claim", cells.c.study, cells.c.status, cells.c.id)

# One row per finished trial of one attempt. Trials of superseded attempts stay (never deleted).
trials = sa.Table(
    "trials", metadata,
    sa.Column("cell_id", sa.Integer, sa.ForeignKey("cells.id"), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("trial", sa.Integer, primary_key=True),
    sa.Column("row", sa.Text, nullable=False),  # the runner's trial row as JSON
)

events = sa.Table(  # claims, reclaims, releases, finishes: what queue-status and the fault tests read
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cell_id", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(200)),
    sa.Column("kind", sa.String(16), nullable=False),  # claim | reclaim | release | complete | failed | lost
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("detail", sa.Text),
)


def default_url(out: str | os.PathLike = "runs") -> str:
    return os.environ.get(DEFAULT_URL_ENV) or f"sqlite:///{Path(out) / 'queue.db'}"


def display_url(url: str) -> str:
    """The URL without its password (for logs and run keys)."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin, not by the driver
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; many worker processes
    cur.execute("PRAGMA synchronous=NORMAL")  # durable across process kills (WAL); a power cut may lose the last commit
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn) -> None:
    """Take SQLite's write lock when a transaction starts: a read-then-write transaction that
    upgrades later can fail at once with SQLITE_BUSY under concurrency; this one waits its turn."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, create: bool = False) -> sa.Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...); `create` makes the schema."""
    if url.startswith(("postgresql:", "postgres:")):
        url = "postgresql+psycopg:" + url.split(":", 1)[1]  # the installed driver
    try:
        parsed = sa.engine.make_url(url)
    except sa_exc.ArgumentError as exc:
        raise UserError(f"queue URL {url!r} is not a database URL; accepted: sqlite:///path/queue.db, "
                        f"postgresql://user@host:port/db") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UserError(f"queue database {parsed.get_backend_name()!r} is not supported; accepted: sqlite, postgresql")
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            raise UserError("the queue needs a SQLite file (sqlite:///path/queue.db), not an in-memory database")
        directory = Path(path).resolve().parent
        if create:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create the queue's directory {directory}: {exc.strerror}") from exc
        if create and not os.access(directory, os.W_OK):
            raise UserError(f"the queue's directory {directory} is not writable (SQLite needs to write the database "
                            f"and its WAL there); choose another QUEUE=sqlite:///... or fix the permissions")
        if not create and not Path(path).exists():
            raise UserError(f"no queue database at {path}; register a study first (make queue STUDY=... OPT=... TASK=...)")
        engine = sa.create_engine(parsed, connect_args={"timeout": 60}, poolclass=sa.pool.NullPool)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
    if create:
        retrying(lambda: metadata.create_all(engine), "creating the queue schema", timeout=30)
    return engine


def now_expr(engine: sa.Engine):
    """The database's clock in seconds since the epoch, as an SQL expression."""
    if engine.dialect.name == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)")
    return sa.literal_column("extract(epoch from clock_timestamp())::float8")


TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        text = str(exc).lower()
        # SQLite's permanent errors are OperationalErrors too: do not retry them
        permanent = ("readonly database", "disk i/o error", "database or disk is full", "no such table",
                     "unable to open database file")
        return not any(p in text for p in permanent)
    return isinstance(exc, sa_exc.DBAPIError) and bool(getattr(exc, "connection_invalidated", False))


def retrying(fn: Callable[[], T], what: str, timeout: float = 300.0, log=sys.stderr) -> T:
    """Run `fn`, retrying with jittered backoff while the database is unreachable (a restart, a
    network blip, a locked SQLite file) for up to `timeout` seconds; permanent errors raise at once."""
    deadline = time.monotonic() + timeout
    delay, warned = 0.1, False
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not _transient(exc) or time.monotonic() > deadline:
                raise
            if not warned:
                print(f"[queue] database unavailable while {what} ({type(exc).__name__}); retrying for up to "
                      f"{timeout:.0f} s", file=log, flush=True)
                warned = True
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)
