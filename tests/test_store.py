"""Run store: skip complete runs, restart incomplete ones, never delete, lock, survive kill -9."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from carps_like import registry
from carps_like.errors import UserError
from carps_like.experiment import run_cell
from carps_like.store import LOCK_FILE, TRIALS_FILE, iter_run_dirs, read_run_json, read_trials

RS = {"id": "randomsearch", "adapter": {"_target_": "optimizers.randomsearch.RandomSearch"}}


def _task_cfg(task_id="toy/bb", **budget):
    cfg = dict(registry.get_task(task_id).config)
    if budget:
        cfg["budget"] = {"n_trials": None, "time_limit": None, **budget}
    return cfg


def test_run_writes_metadata_trials_and_parquet(tmp_path):
    out = run_cell(RS, _task_cfg("toy/mo"), seed=3, out=tmp_path, study="s")
    d = out.directory
    assert d == tmp_path / "s" / "randomsearch" / "toy" / "mo" / "seed_3"
    meta = read_run_json(d)
    assert meta["status"] == "complete" and meta["n_trials"] == 20 and meta["task_type"] == "mo"
    for key in ("versions", "git_revision", "host", "started", "finished", "budget", "optimizer_config", "incumbent"):
        assert key in meta
    assert meta["versions"]["ConfigSpace"] == "1.2.2"
    table = pq.read_table(d / "trials.parquet").to_pandas()
    assert len(table) == 20 and set(table["task_type"]) == {"mo"} and table["trial"].tolist() == list(range(20))
    assert all(len(c) == 2 for c in table["costs"]) and not (d / LOCK_FILE).exists()
    assert json.loads(table["config"][0]).keys() == {"x0", "x1"}
    assert list(iter_run_dirs(tmp_path)) == [d]


def test_complete_runs_are_skipped_and_budget_changes_refused(tmp_path):
    first = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    again = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    assert first.action == "ran" and again.action == "skipped_complete"
    with pytest.raises(UserError, match="budget"):
        run_cell(RS, _task_cfg(n_trials=5), seed=1, out=tmp_path)
    other = {**RS, "adapter": {**RS["adapter"], "some_setting": 2}}
    with pytest.raises(UserError, match="other optimizer settings"):
        run_cell(other, _task_cfg(), seed=1, out=tmp_path)


def test_redo_archives_instead_of_deleting(tmp_path):
    first = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    redo = run_cell(RS, _task_cfg(), seed=1, out=tmp_path, redo=True)
    assert redo.action == "ran" and redo.status == "complete"
    archived = first.directory / "attempts" / "1"
    assert read_run_json(archived)["status"] == "complete" and len(read_trials(archived)) == 20


def test_incomplete_run_is_restarted_cleanly(tmp_path):
    d = run_cell(RS, _task_cfg(), seed=1, out=tmp_path).directory
    meta = read_run_json(d)
    meta["status"] = "running"  # as left by a killed process
    (d / "run.json").write_text(json.dumps(meta))
    (d / LOCK_FILE).write_text(json.dumps({"host": os.uname().nodename, "pid": 2 ** 22 + 12345}))  # dead pid
    again = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    assert again.action == "ran" and again.status == "complete"
    assert read_run_json(d / "attempts" / "1")["status"] == "running"


def test_a_run_locked_by_a_live_process_is_left_alone(tmp_path):
    d = run_cell(RS, _task_cfg(), seed=1, out=tmp_path).directory
    meta = read_run_json(d)
    meta["status"] = "running"
    (d / "run.json").write_text(json.dumps(meta))
    (d / LOCK_FILE).write_text(json.dumps({"host": os.uname().nodename, "pid": os.getpid()}))
    assert run_cell(RS, _task_cfg(), seed=1, out=tmp_path).action == "skipped_locked"


def test_a_lock_from_another_host_is_taken_over_only_when_stale(tmp_path):
    """A SLURM job killed at its time limit leaves a lock naming its node; a resubmission on
    another node takes it over once the lock has gone unrefreshed for LOCK_STALE_SECONDS."""
    from carps_like.store import LOCK_STALE_SECONDS

    d = run_cell(RS, _task_cfg(), seed=1, out=tmp_path).directory
    meta = read_run_json(d)
    meta["status"] = "running"
    (d / "run.json").write_text(json.dumps(meta))
    lock = d / LOCK_FILE
    lock.write_text(json.dumps({"host": "node-17", "pid": 4242, "slurm_job": "123_4"}))
    assert run_cell(RS, _task_cfg(), seed=1, out=tmp_path).action == "skipped_locked"  # fresh: maybe alive
    old = time.time() - LOCK_STALE_SECONDS - 5
    os.utime(lock, (old, old))
    again = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    assert again.action == "ran" and again.status == "complete" and not lock.exists()


def test_two_hosts_with_the_same_pid_lock_a_run_once_and_cleanly(tmp_path, monkeypatch):
    """On a shared file system, jobs on two nodes often have the same pid (containers). Node B
    takes the lock while node A is between writing its temporary lock file and linking it: A must
    see the lock taken (and leave the run to B), not fail with "cannot write the lock" because B
    wrote and removed a temporary file of the same name."""
    import socket

    from carps_like import store

    host, real_link, turns = ["node-a"], os.link, []
    monkeypatch.setattr(socket, "gethostname", lambda: host[0])

    def interleaved_link(src, dst):
        if not turns:  # node A is about to link: node B (same pid, same thread) runs first
            turns.append(src)
            host[0] = "node-b"
            assert store._create_lock(tmp_path / LOCK_FILE, "B")
            host[0] = "node-a"
        return real_link(src, dst)

    monkeypatch.setattr(os, "link", interleaved_link)
    assert store._create_lock(tmp_path / LOCK_FILE, "A") is False
    assert (tmp_path / LOCK_FILE).read_text() == "B"
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_FILE]  # no temporary file left


def test_a_live_run_keeps_its_lock_fresh(tmp_path, monkeypatch):
    import carps_like.store as store

    monkeypatch.setattr(store, "LOCK_TOUCH_SECONDS", 0.05)
    handle = store.RunHandle(tmp_path / "run")
    handle.acquire()
    lock = tmp_path / "run" / LOCK_FILE
    old = time.time() - 1000
    os.utime(lock, (old, old))
    deadline = time.time() + 10
    while lock.stat().st_mtime < time.time() - 500 and time.time() < deadline:
        time.sleep(0.02)
    assert lock.stat().st_mtime > time.time() - 500
    handle.release()
    assert not lock.exists()


def test_failed_runs_are_kept_and_retried_only_when_asked(tmp_path):
    broken = {"id": "broken", "adapter": {"_target_": "optimizers.randomsearch.RandomSearch", "no_such_setting": 1}}
    out = run_cell(broken, _task_cfg(), seed=1, out=tmp_path)
    assert out.status == "failed" and "no_such_setting" in read_run_json(out.directory)["error"]
    assert run_cell(broken, _task_cfg(), seed=1, out=tmp_path).action == "skipped_failed"
    assert run_cell(broken, _task_cfg(), seed=1, out=tmp_path, retry_failed=True).action == "ran"


def test_torn_last_line_is_ignored(tmp_path):
    (tmp_path / TRIALS_FILE).write_text('{"trial": 0}\n{"trial": 1}\n{"tri')
    assert [r["trial"] for r in read_trials(tmp_path)] == [0, 1]


def test_kill_9_keeps_every_finished_trial_and_rerun_resumes(tmp_path):
    """A real subprocess killed with SIGKILL mid-run; the study re-run restarts it cleanly."""
    cmd = [sys.executable, "-m", "carps_like.run", "task=toy/bb", "seed=1", f"out={tmp_path}",
           "+task.objective_function.delay=0.05", "task.budget.n_trials=200"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    d = tmp_path / "default" / "randomsearch" / "toy" / "bb" / "seed_1"
    deadline = time.time() + 60
    while time.time() < deadline and len(read_trials(d)) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = read_trials(d)
    assert len(kept) >= 5 and [r["trial"] for r in kept] == list(range(len(kept)))
    assert read_run_json(d)["status"] == "running" and (d / LOCK_FILE).exists()

    cmd = [c for c in cmd if "delay" not in c]  # the re-run is fast
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert read_run_json(d)["status"] == "complete" and len(read_trials(d)) == 200
    assert len(read_trials(d / "attempts" / "1")) >= len(kept)  # the killed attempt is kept, not deleted
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert "skipped complete" in again.stdout
