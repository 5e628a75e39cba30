"""Shared fixtures: real toy tasks from benchmarks/toy.py, built the way the runner builds them."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def make_task():
    """make_task('toy/mf', n_trials=10, time_limit=None, **objective_kwargs) -> Task"""
    from carps_like import registry
    from carps_like.experiment import build_task

    def _make(task_id: str, n_trials=None, time_limit=None, **objective_kwargs):
        cfg = registry.get_task(task_id).config
        cfg = {**cfg, "objective_function": {**cfg["objective_function"], **objective_kwargs}}
        if n_trials is not None or time_limit is not None:
            cfg["budget"] = {"n_trials": n_trials, "time_limit": time_limit}
        return build_task(cfg)

    return _make


def python_cmd(*args: str) -> list[str]:
    return [sys.executable, *args]


def pytest_addoption(parser):
    parser.addoption(
        "--optimizer", action="append", default=[],
        help="optimizer config name(s) or YAML file(s) for the conformance suite (default: every shipped one)",
    )


def pytest_configure(config):
    """Unknown --optimizer names stop the session with the list of valid ones (not a traceback)."""
    names = [n for opt in config.getoption("--optimizer") for n in opt.split(",") if n]
    if not names:
        return
    from carps_like import registry
    from carps_like.errors import UserError

    for name in names:
        if name.endswith((".yaml", ".yml")):
            if not Path(name).is_file():
                raise pytest.UsageError(f"optimizer config file {name!r} does not exist")
            continue
        try:
            registry.get_optimizer_config(name)
        except UserError as exc:
            raise pytest.UsageError(str(exc)) from None


# --- PostgreSQL (issue 9): a real server on 127.0.0.1, one per test session (per xdist worker) ---

@pytest.fixture(scope="session")
def postgres_server():
    """A started tests.pg_server.PostgresServer; skips with the reason when PostgreSQL is not
    installed (scripts/ensure-postgres.sh installs it in CI). A server that is installed but fails
    to start is an error, not a skip."""
    from pg_server import PostgresServer, postgres_unavailable_reason

    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server):
    """SQLAlchemy URL (postgresql+psycopg://...) of a fresh database, dropped after the test.
    The server is (re)started around the test, so a test may stop() or kill() it."""
    import uuid

    postgres_server.start()
    name = f"test_{uuid.uuid4().hex[:16]}"
    postgres_server.create_database(name)
    yield postgres_server.url_for(name)
    postgres_server.start()  # a test that stopped or killed the server leaves it running again
    postgres_server.drop_database(name)


@pytest.fixture
def kill_tmpdir():
    """TMPDIR for subprocesses a test kills on purpose: what they cannot clean up (a worker's scratch
    directory, a cell's result file) goes with the test instead of staying in /tmp. Short and under /tmp, not
    tmp_path: pytest's paths can push the AF_UNIX socket paths some libraries make under TMPDIR past 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="cl-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
