"""Experiment queue on a real PostgreSQL server on loopback (tests/pg_server.py; `make test` installs
Debian's postgresql): exclusive claims with SKIP LOCKED, reclaim after kill -9, a database
restart in the middle of a study, and the analysis reading trials from the database."""
from __future__ import annotations

import time

import queue_helpers as qh

from carps_like.queue.db import make_engine


def test_claims_are_exclusive_under_concurrency(postgres_url):
    qh.threads_claim_exclusively(postgres_url)


def test_many_worker_processes_never_claim_the_same_cell(postgres_url):
    qh.many_workers_no_double_claim(postgres_url)


def test_killed_worker_cell_is_reclaimed_and_completed(postgres_url, tmp_path):
    qh.kill_mid_run_then_reclaim(postgres_url, tmp_path)


def test_database_restart_during_a_study(postgres_url, postgres_server, tmp_path):
    """Stop PostgreSQL while two workers are mid-study, start it again 3 s later: the workers
    retry, the study completes, every cell exactly once."""
    engine = qh.register(postgres_url, "s", qh.toy_cells(n_tasks=6, seeds=(1, 2), n_trials=20, delay=0.05))
    workers = [qh.start_worker(postgres_url, "--heartbeat-interval", "1", "--heartbeat-timeout", "30",
                            log=tmp_path / f"w{i}.log") for i in range(2)]
    qh.wait_for(lambda: any(r.status == "complete" for r in qh.cell_rows(engine)), 120, "a first complete cell")
    engine.dispose()
    postgres_server.stop(mode="fast")  # terminates every connection
    time.sleep(3)
    postgres_server.start()
    for i, w in enumerate(workers):
        assert w.wait(timeout=300) == 0, (tmp_path / f"w{i}.log").read_text()[-3000:]
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(2))
    assert "database unavailable" in logs  # they did see the outage, and rode it out
    engine = make_engine(postgres_url)
    rows = qh.cell_rows(engine)
    assert len(rows) == 12 and all(r.status == "complete" for r in rows)
    done = [e.cell_id for e in qh.event_rows(engine) if e.kind == "complete"]
    assert sorted(done) == sorted(r.id for r in rows)
    from analysis.gather import gather

    g = gather([postgres_url])
    assert set(g.runs["status"]) == {"complete"} and len(g.trials) == 12 * 20
    engine.dispose()
