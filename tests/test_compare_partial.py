"""`make compare` under a time budget, interrupted, and with its settings in the optimizer YAML
(issue 21): a report arrives in every case, marked partial, saying what it covers, and the exit
status says what happened. Real studies in a copy of the repository."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from helpers import copy_repository

COPIED = ("carps_like", "benchmarks", "optimizers", "configs", "tests", "analysis", "workflows", "baselines", "pyproject.toml")

SLOW = '''
import time

from optimizers.randomsearch import RandomSearch


class Slow(RandomSearch):
    """Random search that takes `sleep` seconds per ask: runs long enough to be cut short."""

    def __init__(self, task, seed, workdir=None, *, sleep: float = 0.0):
        super().__init__(task, seed, workdir)
        self.sleep = sleep

    def ask(self):
        time.sleep(self.sleep)
        return super().ask()
'''


def _repo(tmp_path: Path, yaml_extra: str = "") -> dict:
    return copy_repository(tmp_path, COPIED, {
        "optimizers/slow.py": SLOW,
        "configs/optimizer/slow.yaml": "id: slow\nadapter:\n  _target_: optimizers.slow.Slow\n  sleep: 0.02\n" + yaml_extra})


def _compare(*args: str) -> list[str]:
    return [sys.executable, "-m", "workflows.compare", "slow", "--skip-conformance", "--jobs", "2", *args]


def _finished(tmp_path: Path) -> int:
    return sum(json.loads(p.read_text()).get("status") == "complete"
               for p in (tmp_path / "runs").glob("compare-*/slow/**/run.json"))


def test_a_time_budget_gives_a_partial_report_and_says_so(tmp_path):
    """Seeds and types come from the YAML's `compare:` section; MAX_MINUTES stops the runs in time
    for a report that covers what finished, against the baselines on the same (task, seed) pairs."""
    env = _repo(tmp_path, "compare: {seeds: 2, types: [bb]}\n")
    res = subprocess.run(_compare("--max-minutes", "0.5"), cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    n_dev = len(__import__("yaml").safe_load((tmp_path / "configs/taskset/subset_bb_dev.yaml").read_text())["tasks"])
    assert f"[compare] plan: slow on {n_dev} dev tasks (bb {n_dev}) x 2 seeds = {2 * n_dev} runs" in res.stdout, out
    assert "running" not in res.stdout.split("[compare] plan:")[1].split("\n")[1]  # one plan: the study adds none
    finished = _finished(tmp_path)
    assert 0 < finished < 2 * n_dev, out[-3000:]
    readme = (tmp_path / "compare" / "README.md").read_text()
    assert "(partial)" in readme.splitlines()[0]
    assert f"PARTIAL RESULT (the time budget of 0.5 min ran out): {finished} of {2 * n_dev} planned runs finished" in readme
    assert f"[compare] PARTIAL: {finished} of {2 * n_dev} planned runs finished" in res.stdout
    # the same command again goes on from there, and its complete report is not marked partial
    again = subprocess.run(_compare("--types", "bb", "--seeds", "1"), cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert "(partial)" not in (tmp_path / "compare" / "README.md").read_text().splitlines()[0]


def _interrupted_compare(tmp_path: Path, stop: Callable[[subprocess.Popen], None], tmpdir: Path) -> tuple[int, str]:
    """Start a comparison, call `stop` on it once a run has finished; its exit status and stderr. `tmpdir`: its
    TMPDIR (conftest's kill_tmpdir), for the cell result files of the processes it stops."""
    env = {**_repo(tmp_path), "TMPDIR": str(tmpdir)}
    with open(tmp_path / "out.txt", "w") as stdout, open(tmp_path / "err.txt", "w") as stderr:
        proc = subprocess.Popen(_compare("--types", "bb", "--seeds", "2"), cwd=tmp_path, env=env, stdout=stdout,
                                stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 300  # a guard against a hung start, not a timing assertion
        while _finished(tmp_path) < 1 or _study_pid(proc.pid) is None:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "err.txt").read_text()
            time.sleep(0.2)
        stop(proc)
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return code, (tmp_path / "err.txt").read_text()


def _study_pid(compare_pid: int) -> int | None:
    """The `carps_like.study` child of the compare process (Linux /proc), or None while there is none."""
    children = Path(f"/proc/{compare_pid}/task/{compare_pid}/children")
    for pid in (children.read_text().split() if children.exists() else []):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"carps_like.study" in cmdline:
            return int(pid)
    return None


def test_an_interrupted_compare_leaves_a_partial_report(tmp_path, kill_tmpdir):
    code, err = _interrupted_compare(tmp_path, lambda proc: os.killpg(proc.pid, signal.SIGINT), kill_tmpdir)  # Ctrl-C
    assert code == 130, err[-3000:]
    assert "[compare] interrupted: partial report of" in err and "Traceback" not in err, err[-3000:]
    assert "PARTIAL RESULT (interrupted)" in (tmp_path / "compare" / "README.md").read_text()


def test_a_study_stopped_by_a_signal_of_its_own_gives_an_interrupted_report(tmp_path, kill_tmpdir):
    """A scheduler or a user may stop the study process alone (SIGTERM to it, not to compare): compare
    reads the study's exit status, writes the partial report marked interrupted and exits with that status
    (it used to report the unfinished runs as failures and exit 1). The same path catches a Ctrl-C whose
    KeyboardInterrupt compare itself did not see in time."""
    code, err = _interrupted_compare(tmp_path, lambda proc: os.kill(_study_pid(proc.pid), signal.SIGTERM),
                                     kill_tmpdir)
    assert code == 143, err[-3000:]
    assert "[compare] interrupted: partial report of" in err and "FAILED" not in err, err[-3000:]
    assert "PARTIAL RESULT (interrupted)" in (tmp_path / "compare" / "README.md").read_text()


def test_bad_compare_settings_in_the_yaml_are_refused(tmp_path):
    env = _repo(tmp_path, "compare: {seeds: 2, max_minuets: 5}\n")
    res = subprocess.run(_compare(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "max_minuets" in res.stderr and "max_minutes" in res.stderr, res.stderr
