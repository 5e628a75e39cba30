"""Experiment queue: registration, atomic claims, heartbeats, reclaim after kill -9, release on
SIGTERM, zombie workers, same results as `make run`, analysis from the database, and clear errors
for unwritable results. Tests taking `any_url` run on SQLite (WAL) and on a real PostgreSQL server
on loopback (tests/pg_server.py; `make test` installs Debian's postgresql, and without it those
runs skip with the reason); a database restart in the middle of a study is PostgreSQL's alone."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from queue_helpers import (
    REPO,
    cell_rows,
    event_rows,
    register,
    start_worker,
    toy_cells,
    trial_counts,
    wait_for,
    worker_cmd,
)

from carps_like.errors import UserError
from carps_like.queue import cells as Q
from carps_like.queue.db import cells, make_engine


@pytest.fixture
def url(tmp_path):
    """A SQLite queue in the test's directory."""
    return f"sqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, url):
    """The queue on each backend; the PostgreSQL run skips with the reason where it is not installed."""
    return url if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def test_register_is_idempotent_and_refuses_another_budget(url):
    engine = register(url, "s", toy_cells(seeds=(1, 2)))
    assert Q.register(engine, "s", toy_cells(seeds=(1, 2, 3))) == (1, 2)
    with pytest.raises(UserError, match="another budget"):
        Q.register(engine, "s", toy_cells(seeds=(1,), n_trials=7))
    assert Q.counts(engine) == {"s": {"pending": 3}}


def test_claims_are_exclusive_under_concurrency(any_url):
    """Eight threads, each with its own engine (own connections), race for 60 cells: each cell once."""
    register(any_url, "s", toy_cells(n_tasks=30, seeds=(1, 2))).dispose()
    got: dict[str, list[int]] = {}

    def grab(name):
        engine = make_engine(any_url)
        got[name] = []
        while (c := Q.claim(engine, name, "s")) is not None:
            got[name].append(c.cell_id)
        engine.dispose()

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = sorted(cid for ids in got.values() for cid in ids)
    assert len(claimed) == 60 and len(set(claimed)) == 60  # every cell once, none twice
    assert sum(1 for ids in got.values() if ids) >= 2


def test_many_worker_processes_never_claim_the_same_cell(any_url):
    """Six worker processes on one small study: every cell is claimed once and completed once."""
    engine = register(any_url, "s", toy_cells(n_tasks=12, seeds=(1, 2), n_trials=3))
    procs = [start_worker(any_url, "--heartbeat-timeout", "120") for _ in range(6)]
    for p in procs:
        assert p.wait(timeout=300) == 0
    rows = cell_rows(engine)
    assert len(rows) == 24 and all(r.status == "complete" and r.attempt == 1 for r in rows)
    evs = event_rows(engine)
    claims = [e.cell_id for e in evs if e.kind == "claim"]
    assert sorted(claims) == sorted(r.id for r in rows)  # each exactly once
    assert sorted(e.cell_id for e in evs if e.kind == "complete") == sorted(r.id for r in rows)
    assert len({e.worker for e in evs if e.kind == "claim"}) >= 2  # the work was really shared
    assert all(n == 3 for n in trial_counts(engine).values())
    engine.dispose()


def test_worker_results_equal_make_run(url, tmp_path):
    """The queue runs the same runner: same configurations and costs as a run directory."""
    register(url, "s", toy_cells(seeds=(1, 2), n_trials=8)).dispose()
    res = subprocess.run(worker_cmd(url), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    direct = subprocess.run([sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", "toy/bb",
                             "--seeds", "2", "--n-trials", "8", "--out", str(tmp_path / "runs"), "--jobs", "1"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert direct.returncode == 0, direct.stdout + direct.stderr
    from analysis.gather import gather

    a = gather([url]).trials.sort_values(["seed", "trial"])
    b = gather([tmp_path / "runs"]).trials.sort_values(["seed", "trial"])
    assert len(a) == len(b) == 16
    assert list(a["config"]) == list(b["config"]) and list(a["cost"]) == list(b["cost"])
    runs = gather([url]).runs
    assert set(runs["status"]) == {"complete"} and set(runs["task_type"]) == {"bb"}


def test_zombie_worker_cannot_heartbeat_or_finish(url):
    engine = register(url, "s", toy_cells())
    a = Q.claim(engine, "A", "s", heartbeat_timeout=0.2)
    assert Q.claim(engine, "B", "s", heartbeat_timeout=0.2) is None  # A's heartbeat is fresh
    time.sleep(0.4)
    b = Q.claim(engine, "B", "s", heartbeat_timeout=0.2)
    assert b is not None and b.reclaimed and b.attempt == 2 and b.cell_id == a.cell_id
    assert not Q.heartbeat(engine, a)
    assert not Q.finish(engine, a, "complete", {"n_trials": 1})  # discarded, recorded as lost
    assert Q.finish(engine, b, "complete", {"n_trials": 5})
    assert [e.kind for e in event_rows(engine)] == ["claim", "reclaim", "lost", "complete"]
    (row,) = cell_rows(engine)
    assert (row.status, row.attempt, row.worker) == ("complete", 2, "B")


def test_killed_worker_cell_is_reclaimed_and_completed(any_url, tmp_path, kill_tmpdir):
    """kill -9 a worker after it recorded some trials; another worker reclaims the cell after the
    heartbeat timeout and completes it; the dead worker's trials stay, superseded."""
    url = any_url
    engine = register(url, "s", toy_cells(n_trials=40, delay=0.05))
    w1 = start_worker(url, "--heartbeat-interval", "0.5", "--heartbeat-timeout", "3", log=tmp_path / "w1.log",
                      tmpdir=kill_tmpdir)
    wait_for(lambda: sum(trial_counts(engine).values()) >= 5, 120, "the first worker's trials")
    os.kill(w1.pid, signal.SIGKILL)
    w1.wait()
    assert list(kill_tmpdir.glob("carps-like-worker-*"))  # a killed worker cannot remove its scratch: the fixture does
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


def test_database_restart_during_a_study(postgres_url, postgres_server, tmp_path):
    """Stop PostgreSQL while two workers are mid-study, start it again 3 s later: the workers
    retry, the study completes, every cell exactly once."""
    engine = register(postgres_url, "s", toy_cells(n_tasks=6, seeds=(1, 2), n_trials=20, delay=0.05))
    workers = [start_worker(postgres_url, "--heartbeat-interval", "1", "--heartbeat-timeout", "30",
                            log=tmp_path / f"w{i}.log") for i in range(2)]
    wait_for(lambda: any(r.status == "complete" for r in cell_rows(engine)), 120, "a first complete cell")
    engine.dispose()
    postgres_server.stop(mode="fast")  # terminates every connection
    time.sleep(3)
    postgres_server.start()
    for i, w in enumerate(workers):
        assert w.wait(timeout=300) == 0, (tmp_path / f"w{i}.log").read_text()[-3000:]
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(2))
    assert "database unavailable" in logs  # they did see the outage, and rode it out
    engine = make_engine(postgres_url)
    rows = cell_rows(engine)
    assert len(rows) == 12 and all(r.status == "complete" for r in rows)
    done = [e.cell_id for e in event_rows(engine) if e.kind == "complete"]
    assert sorted(done) == sorted(r.id for r in rows)
    from analysis.gather import gather

    g = gather([postgres_url])
    assert set(g.runs["status"]) == {"complete"} and len(g.trials) == 12 * 20
    engine.dispose()


def test_sigterm_releases_the_cell(url, tmp_path):
    engine = register(url, "s", toy_cells(n_trials=200, delay=0.05))
    w = start_worker(url, log=tmp_path / "w.log")
    wait_for(lambda: sum(trial_counts(engine).values()) >= 3, 120, "trials")
    w.send_signal(signal.SIGTERM)
    assert w.wait(timeout=60) == 1  # released work is not success
    (row,) = cell_rows(engine)
    assert row.status == "pending" and row.worker is None and "SIGTERM" in row.error
    assert [e.kind for e in event_rows(engine)] == ["claim", "release"]
    assert "released cell" in (tmp_path / "w.log").read_text()


def test_failed_cells_and_retry(url):
    engine = register(url, "s", toy_cells(task="toy/crashing", n_trials=4))
    bad = dict(toy_cells()[0], task_id="toy/bad", seed=9)
    bad["optimizer_config"] = dict(bad["optimizer_config"], adapter={"_target_": "optimizers.no_such.Optimizer"})
    Q.register(engine, "s", [bad])
    res = subprocess.run(worker_cmd(url), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1  # a failed cell
    rows = {r.task_id: r for r in cell_rows(engine)}
    assert rows["toy/crashing"].status == "complete"  # crashing objectives are trials, not failures
    assert rows["toy/bad"].status == "failed" and "no_such" in rows["toy/bad"].error
    assert Q.reset_failed(engine) == 1 and Q.counts(engine)["s"] == {"pending": 1, "complete": 1}


def test_cli_register_status_and_bad_input(url, tmp_path):
    def run(*a):
        return subprocess.run([sys.executable, "-m", "carps_like.queue", "--queue", url, *a], cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    res = run("register", "--study", "s1", "--optimizer", "randomsearch", "--task", "toy/bb,toy/mo", "--seeds", "2",
              "--n-trials", "4")
    assert res.returncode == 0 and "4 cells registered" in res.stdout, res.stderr
    res = run("status")
    assert res.returncode == 0 and "s1" in res.stdout and "pending" in res.stdout
    res = run("register", "--study", "s1", "--optimizer", "no_such_opt", "--task", "toy/bb")
    assert res.returncode == 2 and "unknown optimizer 'no_such_opt'" in res.stderr and "randomsearch" in res.stderr
    res = subprocess.run([sys.executable, "-m", "carps_like.queue", "--queue", "mysql://x/y", "status"], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 2 and "accepted: sqlite, postgresql" in res.stderr
    res = subprocess.run([sys.executable, "-m", "carps_like.queue", "--queue", f"sqlite:///{tmp_path}/none.db", "status"],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 2 and "register a study first" in res.stderr
    res = run("worker", "--workers", "0")
    assert res.returncode == 2 and "--workers must be >= 1" in res.stderr
    res = run("worker", "--heartbeat-interval", "10", "--heartbeat-timeout", "15")
    assert res.returncode == 2 and "at most half the timeout" in res.stderr
    res = run("register", "--study", "s1", "--optimizer", "randomsearch", "--task", "toy/bb", "--seeds", "0")
    assert res.returncode == 2 and "SEEDS" in res.stderr


def _read_only(directory, cmd: list[str]) -> list[str]:
    """`cmd` in a private mount namespace where `directory` is a read-only bind mount: a real
    read-only filesystem even for root (file modes do not stop root). Skips where unshare cannot."""
    import shlex
    import shutil

    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("needs `unshare --mount` (util-linux, root or CAP_SYS_ADMIN) for a read-only bind mount: "
                    + (probe.stderr.strip() if probe else "unshare not found"))
    d = shlex.quote(str(directory))
    return ["unshare", "--mount", "sh", "-c",
            f"mount --bind {d} {d} && mount -o remount,bind,ro {d} && exec " + " ".join(map(shlex.quote, cmd))]


def test_read_only_queue_directory_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    url = f"sqlite:///{ro / 'queue.db'}"
    register(url, "s", toy_cells()).dispose()
    res = subprocess.run(_read_only(ro, worker_cmd(url)), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode in (2, 3), res.stdout[-1000:] + res.stderr[-2000:]
    assert "error: queue" in res.stderr and "read" in res.stderr.lower(), res.stderr
    assert "Traceback" not in res.stderr
    engine = make_engine(url)
    (row,) = cell_rows(engine)
    assert row.status == "pending"  # nothing claimed, nothing reported as complete
    engine.dispose()


def test_read_only_results_directory_is_a_clear_error(tmp_path):
    """`make run` into a read-only results directory: one clear line, exit 2, no traceback."""
    out = tmp_path / "runs"
    out.mkdir()
    cmd = [sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", "toy/bb", "--seeds", "1",
           "--n-trials", "3", "--out", str(out)]
    res = subprocess.run(_read_only(out, cmd), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout[-2000:] + res.stderr[-2000:]
    assert "not writable" in res.stderr and str(out) in res.stderr and "Traceback" not in res.stderr
    assert not any(out.rglob("run.json"))


def test_full_disk_leaves_the_cell_unfinished(url, tmp_path):
    """RLIMIT_FSIZE makes writes past 64 kB fail like a full disk: the worker stops with a clear
    error, and the cell is not complete (another worker reclaims it later)."""
    engine = register(url, "s", toy_cells(n_trials=3000))
    engine.dispose()
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        size = os.path.getsize(url.removeprefix("sqlite:///"))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 65536, size + 65536))

    res = subprocess.run(worker_cmd(url), cwd=REPO, capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert res.returncode == 3, res.stdout[-1000:] + res.stderr[-2000:]
    assert "error: queue database" in res.stderr and ("full" in res.stderr or "too large" in res.stderr.lower()), res.stderr
    engine = make_engine(url)
    (row,) = cell_rows(engine)
    assert row.status == "running"  # not complete: reclaimed after the heartbeat timeout
    engine.dispose()


def test_run_directory_on_a_full_disk_is_not_marked_complete(tmp_path):
    """The run-directory store under the same simulated full disk: a clear error, run.json never
    says complete, and the trials written so far are kept."""
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (32768, 32768))

    out = tmp_path / "runs"
    res = subprocess.run([sys.executable, "-m", "carps_like.run", "optimizer=randomsearch", "task=toy/bb",
                          "task.budget.n_trials=3000", f"out={out}"], cwd=REPO, capture_output=True, text=True,
                         timeout=120, preexec_fn=limit, env=dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1"))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "could not be recorded" in res.stderr and "File too large" in res.stderr, res.stderr
    run_dir = out / "default" / "randomsearch" / "toy" / "bb" / "seed_1"
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "running"
    from carps_like.store import read_trials

    assert len(read_trials(run_dir)) > 10


def test_gather_reads_pending_and_running_cells_as_incomplete(url):
    engine = register(url, "s", toy_cells(seeds=(1, 2)))
    c = Q.claim(engine, "A", "s")
    Q.start(engine, c, {"task_type": "bb"})
    from analysis.gather import gather

    runs = gather([url]).runs.sort_values("seed")
    assert list(runs["status"]) == ["incomplete", "incomplete"]
    assert "running on A" in runs.iloc[0]["reason"] and "queued" in runs.iloc[1]["reason"]
    with engine.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cells)).scalar() == 2
    engine.dispose()


def test_smac_runs_through_the_queue_and_leaves_no_scratch(url, tmp_path):
    """A library optimizer with its own working files (SMAC's output directory) runs in a worker;
    the scratch directory is removed afterwards, the trials are in the database."""
    from carps_like import registry

    cell = dict(toy_cells(n_trials=6)[0], optimizer_id="smac_hpo", optimizer_config=registry.get_optimizer_config("smac_hpo"))
    register(url, "s", [cell]).dispose()
    res = subprocess.run(worker_cmd(url), cwd=REPO, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert not list(tmp_path.glob("carps-like-worker-*"))
    from analysis.gather import gather

    g = gather([url])
    assert list(g.runs["status"]) == ["complete"] and len(g.trials) == 6 and set(g.trials["optimizer_id"]) == {"smac_hpo"}


def test_recording_a_trial_twice_keeps_the_first(url):
    """A retry after a lost reply must not duplicate a trial or overwrite it."""
    engine = register(url, "s", toy_cells())
    c = Q.claim(engine, "A", "s")
    Q.add_trial(engine, c, 0, '{"trial": 0, "first": true}')
    Q.add_trial(engine, c, 0, '{"trial": 0, "first": false}')
    assert trial_counts(engine) == {(c.cell_id, 1): 1}
    from carps_like.queue.db import trials

    with engine.connect() as conn:
        assert json.loads(conn.execute(sa.select(trials.c.row)).scalar())["first"] is True
    engine.dispose()
