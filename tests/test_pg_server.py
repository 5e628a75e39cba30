"""The PostgreSQL test server the queue tests rely on: it serves SQLAlchemy + psycopg, survives a
clean restart on the same port and recovers from a crash with committed data intact."""
from __future__ import annotations

import pytest

import pg_server


def _engine(url):
    from sqlalchemy import create_engine

    return create_engine(url, pool_pre_ping=True)


def _write_rows(url, rows):
    from sqlalchemy import text

    engine = _engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, name text)"))
        conn.execute(text("INSERT INTO t (id, name) VALUES (:id, :name)"), rows)
    engine.dispose()


def _read_rows(url):
    from sqlalchemy import text

    engine = _engine(url)
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(text("SELECT id, name FROM t ORDER BY id"))]
    engine.dispose()
    return out


def test_fixture_round_trip_through_sqlalchemy_psycopg(postgres_url, postgres_server):
    from sqlalchemy import text

    assert postgres_url.startswith(f"postgresql+psycopg://{postgres_server.user}@127.0.0.1:{postgres_server.port}/")
    _write_rows(postgres_url, [{"id": 1, "name": "ä"}, {"id": 2, "name": "b"}])
    assert _read_rows(postgres_url) == [(1, "ä"), (2, "b")]
    engine = _engine(postgres_url)
    with engine.connect() as conn:
        assert engine.dialect.driver == "psycopg"
        assert conn.execute(text("SHOW server_encoding")).scalar() == "UTF8"
    engine.dispose()


def test_each_test_gets_a_fresh_database(postgres_url, postgres_server):
    from sqlalchemy import text

    engine = _engine(postgres_url)
    with engine.connect() as conn:  # the table the previous test made is not here
        assert conn.execute(text("SELECT to_regclass('t')")).scalar() is None
    engine.dispose()
    assert postgres_url != postgres_server.url


def test_stop_and_start_keep_data_and_port(postgres_url, postgres_server):
    _write_rows(postgres_url, [{"id": 1, "name": "kept"}])
    port = postgres_server.port
    postgres_server.stop()
    assert not postgres_server.running
    postgres_server.start()
    assert postgres_server.running and postgres_server.port == port
    assert _read_rows(postgres_url) == [(1, "kept")]


def test_kill_then_start_recovers_committed_data(postgres_url, postgres_server):
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    _write_rows(postgres_url, [{"id": 1, "name": "committed"}])
    engine = _engine(postgres_url)
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (2, 'never committed')"))  # open transaction at the crash
    port = postgres_server.port
    postgres_server.kill()
    assert not postgres_server.running
    with pytest.raises(OperationalError):  # the crash is visible to a connected client
        conn.execute(text("SELECT 1"))
    conn.invalidate()
    conn.close()
    engine.dispose()
    postgres_server.start()  # crash recovery
    assert postgres_server.port == port
    assert _read_rows(postgres_url) == [(1, "committed")]
    assert "not properly shut down" in postgres_server.log_tail(200)


def test_context_manager_cleans_up():
    reason = pg_server.postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with pg_server.PostgresServer(dbname="cm") as server:
        assert server.running and server.url.endswith("/cm")
        _write_rows(server.url, [{"id": 1, "name": "x"}])
        base = server.base_dir
    assert not server.running and not base.exists()


def test_reason_names_the_package_when_binaries_are_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CARPS_PG_BINDIR", raising=False)
    monkeypatch.setattr(pg_server, "_BINDIR_GLOBS", (str(tmp_path / "none-*"),))
    reason = pg_server.postgres_unavailable_reason()
    assert reason and "PostgreSQL server binaries not found" in reason and "postgresql" in reason
