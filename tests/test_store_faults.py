"""Run store under concurrency and faults (issue 18): a run completed by another process while we
waited for its lock is not redone; locks are born whole, and an empty or stale one is taken over
out loud by exactly one process; a torn last trial line is reported, never ignored silently."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from carps_like import registry
from carps_like.store import LOCK_FILE, RUN_FILE, TRIALS_FILE, TRIALS_PARQUET, read_run_json

RS = {"id": "randomsearch", "adapter": {"_target_": "optimizers.randomsearch.RandomSearch"}}
DEAD_PID = 2 ** 22 + 12345  # above Linux's largest pid: never alive


def _task_cfg(task_id="toy/bb"):
    return dict(registry.get_task(task_id).config)


def _interrupted_run(tmp_path):
    """A run as a kill -9 mid-write leaves it: status running, no Parquet, a torn last trial line."""
    from carps_like.experiment import run_cell

    d = run_cell(RS, _task_cfg(), seed=1, out=tmp_path).directory
    meta = read_run_json(d)
    meta["status"] = "running"
    (d / RUN_FILE).write_text(json.dumps(meta))
    (d / TRIALS_PARQUET).unlink()
    with open(d / TRIALS_FILE, "a") as fh:
        fh.write('{"trial": 20, "config": {"x0": 0.1')
    return d


@pytest.mark.parametrize("redo", [False, True])
def test_a_run_completed_by_another_process_before_we_lock_it_is_not_redone(tmp_path, monkeypatch, redo):
    """The other process finishes the run exactly between our status read and our lock."""
    from carps_like import store
    from carps_like.experiment import run_cell

    if redo:
        run_cell(RS, _task_cfg(), seed=1, out=tmp_path)  # the complete run both processes were asked to redo
    real_acquire, raced = store.RunHandle.acquire, []

    def acquire(self):
        monkeypatch.setattr(store.RunHandle, "acquire", real_acquire)
        other = run_cell(RS, _task_cfg(), seed=1, out=tmp_path, redo=redo)  # the other process
        raced.append((other, read_run_json(other.directory)["started"]))
        real_acquire(self)

    monkeypatch.setattr(store.RunHandle, "acquire", acquire)
    out = run_cell(RS, _task_cfg(), seed=1, out=tmp_path, redo=redo)
    (other, started), = raced
    assert other.action == "ran" and out.action == "skipped_complete"
    assert read_run_json(out.directory)["started"] == started  # the other process's run, not rerun
    attempts = sorted(p.name for p in (out.directory / "attempts").glob("*"))
    assert attempts == (["1"] if redo else [])  # only the redo the other process did
    assert not (out.directory / LOCK_FILE).exists()


def test_an_empty_lock_is_taken_over_saying_which_file_and_why(tmp_path, capsys):
    """A kill or a full disk between creating and writing a lock (older versions) left it empty."""
    from carps_like.experiment import run_cell
    from carps_like.store import run_dir

    d = run_dir(tmp_path, "default", "randomsearch", "toy/bb", 1)
    d.mkdir(parents=True)
    (d / LOCK_FILE).write_text("")
    out = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    assert out.action == "ran" and out.status == "complete"
    err = capsys.readouterr().err
    assert f"took over the stale lock {d / LOCK_FILE}: it is empty" in err
    assert "it is empty" in read_run_json(d)["lock_taken_over"] and not (d / LOCK_FILE).exists()


def test_a_full_disk_while_locking_leaves_no_lock_and_says_so(tmp_path):
    """A real failed write (RLIMIT_FSIZE) in a child process: the lock must not exist half-made."""
    from carps_like.experiment import run_cell
    from carps_like.store import run_dir

    d = run_dir(tmp_path, "default", "randomsearch", "toy/bb", 1)
    child = ("import resource, signal, sys; from pathlib import Path; from carps_like.store import RunHandle\n"
             "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))\n"
             "try:\n    RunHandle(Path(sys.argv[1])).acquire()\n"
             "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    done = subprocess.run([sys.executable, "-c", child, str(d)], capture_output=True, text=True, timeout=60)
    assert not (d / LOCK_FILE).exists()
    assert done.stdout.startswith(f"UserError cannot write the lock {d / LOCK_FILE}"), done.stdout + done.stderr
    assert [p.name for p in d.iterdir()] == []  # no temporary file left either
    assert run_cell(RS, _task_cfg(), seed=1, out=tmp_path).action == "ran"


def test_two_processes_taking_over_one_stale_lock_never_both_hold_it(tmp_path, monkeypatch):
    """`first` takes the dead process's lock over right after `second` judged it stale."""
    from carps_like import store

    d = tmp_path / "run"
    d.mkdir()
    lock = d / LOCK_FILE
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": DEAD_PID}))
    first, second = store.RunHandle(d), store.RunHandle(d)
    real = store._lock_is_stale

    def judged_then_raced(*args):
        why = real(*args)
        monkeypatch.setattr(store, "_lock_is_stale", real)
        first.acquire()
        return why

    monkeypatch.setattr(store, "_lock_is_stale", judged_then_raced)
    with pytest.raises(store.RunLockedError, match="locked by pid"):
        second.acquire()
    assert lock.read_text() == first._lock_text
    second.release()  # holds nothing: must not remove first's lock
    assert lock.exists()
    first.release()
    assert not lock.exists() and sorted(p.name for p in d.iterdir()) == []


def test_a_run_not_started_because_of_a_lock_says_who_holds_it(tmp_path):
    from carps_like.experiment import run_cell
    from carps_like.store import LOCK_STALE_SECONDS, lock_reason, run_dir

    d = run_dir(tmp_path, "default", "randomsearch", "toy/bb", 1)
    d.mkdir(parents=True)
    (d / LOCK_FILE).write_text(json.dumps({"host": "node-17", "pid": 4242, "slurm_job": "123_4"}))
    out = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    assert out.action == "skipped_locked"
    assert "locked by pid 4242 on node-17 (SLURM job 123_4)" in out.reason
    assert f"taken over once {LOCK_STALE_SECONDS:.0f} s pass without a refresh" in out.reason
    assert lock_reason(d) in out.reason and lock_reason(d / "nowhere") == ""
    old = time.time() - LOCK_STALE_SECONDS - 5
    os.utime(d / LOCK_FILE, (old, old))
    assert lock_reason(d).startswith(f"stale lock {d / LOCK_FILE}: host node-17 has not refreshed it for")


def test_the_study_summary_says_why_a_run_was_not_started(tmp_path):
    import io

    from carps_like.store import run_dir
    from carps_like.study import summarize

    d = run_dir(tmp_path, "default", "randomsearch", "toy/bb", 1)
    d.mkdir(parents=True)
    (d / LOCK_FILE).write_text(json.dumps({"host": "node-17", "pid": 4242}))
    out = io.StringIO()
    assert summarize([("toy/bb", 1, d)], out) == 1
    assert f"{d}: not started (locked by pid 4242 on node-17" in out.getvalue()


def test_gather_reports_a_torn_last_trial_line(tmp_path):
    from analysis.gather import gather

    d = _interrupted_run(tmp_path)
    runs = gather([tmp_path]).runs
    assert runs["status"].tolist() == ["incomplete"] and runs["n_trials"].tolist() == [20]
    reason = runs["reason"].iloc[0]
    assert "trials.jsonl ends in a torn line (34 characters;" in reason and reason.endswith("left out")
    assert str(d) == runs["path"].iloc[0]


def test_gather_reads_locks_as_the_store_does(tmp_path):
    """One reading of locks: live on this host, stale (its process is gone), or another host's."""
    from analysis.gather import gather

    d = _interrupted_run(tmp_path)
    reasons = {}
    for case, holder in (("live", {"host": socket.gethostname(), "pid": os.getpid()}),
                         ("gone", {"host": socket.gethostname(), "pid": 2 ** 22 + 12345}),
                         ("other", {"host": "node-17", "pid": 4242})):
        (d / LOCK_FILE).write_text(json.dumps(holder))
        reasons[case] = gather([tmp_path]).runs["reason"].iloc[0]
    assert reasons["live"].startswith(f"still running: locked by pid {os.getpid()}")
    assert reasons["gone"].startswith("interrupted: stale lock") and "is gone" in reasons["gone"]
    assert reasons["other"].startswith("running on another host, or interrupted there: locked by pid 4242 on node-17")


def test_resume_reports_the_torn_line_of_the_attempt_it_archives(tmp_path, capsys):
    from carps_like.experiment import run_cell

    d = _interrupted_run(tmp_path)
    capsys.readouterr()
    again = run_cell(RS, _task_cfg(), seed=1, out=tmp_path)
    assert again.action == "ran" and again.status == "complete"
    err = capsys.readouterr().err
    assert f"run {d}: the earlier attempt moved to attempts/1 kept 20 trials; trials.jsonl ends in a torn line" in err
    previous = read_run_json(d)["previous_attempt"]
    assert previous["path"] == "attempts/1" and previous["status"] == "running" and previous["n_trials"] == 20
    assert "torn line" in previous["trial_log"]


def test_a_bad_middle_line_loses_only_itself(tmp_path):
    from carps_like.store import read_trials

    (tmp_path / TRIALS_FILE).write_text('{"trial": 0}\n{"tri\n{"trial": 2}\n{"trial": 3}')
    assert [r["trial"] for r in read_trials(tmp_path)] == [0, 2, 3]  # a whole last record is kept without its newline
    from carps_like.store import read_trial_log

    assert read_trial_log(tmp_path)[1] == "trials.jsonl line(s) 2 are not JSON, left out"
