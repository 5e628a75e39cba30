"""Faults a study must survive (issue 18), with real processes: a joblib worker killed by SIGKILL
(as the out-of-memory killer does), an interrupt (Ctrl-C to the process group, SIGINT or SIGTERM
to the study alone), `make run`'s exit status, and a typo in an optimizer YAML.

The optimizer `Faulty` below is imported by the study's worker processes (tests/ is put on their
PYTHONPATH), so each test chooses a seed on which it kills its process, raises, or crawls."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from optimizers.randomsearch import RandomSearch
from helpers import configs_with_optimizers

ROOT = Path(__file__).resolve().parents[1]  # so the same file also runs against an old checkout


class Faulty(RandomSearch):
    """Random search that SIGKILLs its own process at its second ask on seed `kill_seed`, raises on
    seed `raise_seed`, and sleeps `sleep` seconds per ask (a run that takes long)."""

    def __init__(self, task, seed: int, workdir=None, *, kill_seed: int = -1, raise_seed: int = -1,
                 sleep: float = 0.0) -> None:
        if seed == raise_seed:
            raise RuntimeError(f"Faulty fails on seed {seed}")
        super().__init__(task, seed, workdir)
        self.kill_seed, self.sleep, self.asked = kill_seed, sleep, 0

    def ask(self):
        self.asked += 1
        if self.seed == self.kill_seed and self.asked == 2:  # one trial is recorded first
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.sleep)
        return super().ask()


def _env(tmp_path: Path, optimizers: dict[str, str]) -> dict:
    """The shipped configs plus `optimizers` (name -> YAML text), and an environment whose
    processes find them and this module."""
    return configs_with_optimizers(tmp_path, optimizers, [ROOT, ROOT / "tests"])


def _faulty(**settings) -> str:
    return "id: {name}\nadapter:\n  _target_: test_study_faults.Faulty\n" + "".join(
        f"  {k}: {v}\n" for k, v in settings.items())


def _study(*args: str) -> list[str]:
    return [sys.executable, "-m", "carps_like.study", "--task", "toy/bb", *args]


def _meta(out: Path, opt: str, seed: int) -> dict:
    path = out / "default" / opt / "toy" / "bb" / f"seed_{seed}" / "run.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_killed_worker_loses_only_its_own_run(tmp_path):
    """Seed 2 kills its worker at every attempt; loky then kills the other worker as well. The
    other runs complete, seed 2 is marked failed with the reason, its recorded trial is kept,
    and the study ends with exit 1 and no traceback."""
    env = _env(tmp_path, {"killer": _faulty(kill_seed=2).format(name="killer")})
    out = tmp_path / "runs"
    res = subprocess.run(_study("--optimizer", "killer", "--seeds", "4", "--n-trials", "3", "--jobs", "2",
                                "--out", str(out)), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    text = res.stdout + res.stderr
    assert [_meta(out, "killer", s).get("status") for s in (1, 2, 3, 4)] == ["complete", "failed", "complete", "complete"], text
    failed = _meta(out, "killer", 2)
    assert "worker process died" in failed["error"] and failed["n_trials"] == 1, failed
    assert len((out / "default" / "killer" / "toy" / "bb" / "seed_2" / "trials.jsonl").read_text().splitlines()) == 1
    assert res.returncode == 1, text
    assert "Traceback" not in text and "TerminatedWorkerError" not in text, text
    assert "1 runs failed" in res.stdout and "worker process died" in res.stdout, text


def _marked(marker: str) -> list[str]:
    """Live processes (zombies excluded: their environ reads empty) whose environment has `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"FAULT_MARKER={marker}".encode() in (proc / "environ").read_bytes():
                found.append(f"{proc.name}: {(proc / 'cmdline').read_bytes()[:100]!r}")
        except OSError:
            pass
    return found


def _kill_all(study: subprocess.Popen, marker: str) -> None:
    """SIGKILL the study and every process with `marker` in its environment."""
    study.kill() if study.poll() is None else None
    for line in _marked(marker):
        try:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("how", ["ctrl-c", "sigint", "sigterm"])
def test_an_interrupt_stops_every_process_of_the_study(tmp_path, how):
    """Ctrl-C (SIGINT to the study's process group, as a terminal sends it), SIGINT or SIGTERM to
    the study alone: once the study has exited, no process it started is left (none can complete
    a run later), and it said so, with 128 + the signal as its exit status."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc to find the study's processes")
    marker = uuid.uuid4().hex
    env = {**_env(tmp_path, {"slow": _faulty(sleep=0.05).format(name="slow")}), "FAULT_MARKER": marker}
    out = tmp_path / "runs"
    with open(tmp_path / "out.txt", "w") as stdout, open(tmp_path / "err.txt", "w") as stderr:
        study = subprocess.Popen(_study("--optimizer", "slow", "--seeds", "4", "--n-trials", "1000000", "--jobs", "2",
                                        "--out", str(out)), cwd=ROOT, env=env, stdout=stdout, stderr=stderr,
                                 start_new_session=True)  # its own process group, as a terminal's job
    try:
        deadline = time.monotonic() + 300  # a guard against a hung start, not a timing assertion
        while [_meta(out, "slow", s).get("status") for s in (1, 2)] != ["running", "running"]:
            assert study.poll() is None and time.monotonic() < deadline, (tmp_path / "err.txt").read_text()
            time.sleep(0.1)
        sig = signal.SIGTERM if how == "sigterm" else signal.SIGINT
        if how == "ctrl-c":
            os.killpg(study.pid, sig)
        else:
            study.send_signal(sig)
        code = study.wait(timeout=120)
        left = _marked(marker)
        err = (tmp_path / "err.txt").read_text()
        assert left == [], f"processes left after the study exited: {left}"
        assert code == 128 + sig, err
        assert "interrupted" in err and "Traceback" not in err, err
        assert "complete" not in [_meta(out, "slow", s).get("status") for s in (1, 2, 3, 4)]
    finally:  # whatever an old study left behind
        _kill_all(study, marker)


def test_a_killed_study_leaves_no_process_running(tmp_path):
    """SIGKILL to the study alone (the out-of-memory killer, `kill -9`): it cannot stop its launches, so
    each launch ends itself and its workers once its parent is gone (carps_like.lifeline); before,
    they ran on, holding the runs' locks. The runs keep their recorded trials and resume."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc to find the study's processes")
    marker = uuid.uuid4().hex
    env = {**_env(tmp_path, {"slow": _faulty(sleep=0.05).format(name="slow")}), "FAULT_MARKER": marker}
    out = tmp_path / "runs"
    args = ("--optimizer", "slow", "--seeds", "2", "--n-trials", "1000000", "--jobs", "2", "--out", str(out))
    study = subprocess.Popen(_study(*args), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300  # a guard against a hung start, not a timing assertion
        while [_meta(out, "slow", s).get("status") for s in (1, 2)] != ["running", "running"]:
            assert study.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        study.kill()
        study.wait(timeout=60)
        deadline = time.monotonic() + 60  # the launches poll their parent; a bound, not a timing assertion
        while _marked(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _marked(marker) == [], "processes left running after the study was killed"
        trials = out / "default" / "slow" / "toy" / "bb" / "seed_1" / "trials.jsonl"
        recorded = len(trials.read_text().splitlines())
        assert recorded > 0
        resumed = subprocess.run(_study(*args[:-6], "--n-trials", str(recorded + 2), "--jobs", "1", "--out", str(out)),
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert [_meta(out, "slow", s).get("status") for s in (1, 2)] == ["complete", "complete"]
    finally:
        _kill_all(study, marker)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_run_keeps_the_exit_status_apart(tmp_path):
    """make exits 2 whenever a command fails; EXIT_STATUS=<file> tells bad input (2) from a failed
    run (1), as the README says."""
    env = _env(tmp_path, {"raiser": _faulty(raise_seed=1).format(name="raiser")})
    for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # when the suite itself runs under make
        env.pop(inherited, None)
    status = tmp_path / "status"

    def make(*variables: str) -> int:
        cmd = ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "run", f"PY={sys.executable}", "JOBS=1",
               "TASK=toy/bb", "SEEDS=1", "N_TRIALS=2", f"OUT={tmp_path / 'runs'}", f"EXIT_STATUS={status}", *variables]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300).returncode

    assert make("OPT=no_such_optimizer") == 2
    assert status.read_text().strip() == "2"
    assert make("OPT=raiser") == 2
    assert status.read_text().strip() == "1"
    assert make("OPT=randomsearch") == 0
    assert status.read_text().strip() == "0"


def test_an_unknown_optimizer_key_is_refused_before_any_run(tmp_path):
    """A typo in an adapter setting or at the top level of an optimizer YAML: `make run`, `make
    queue` and `make check-optimizer` refuse it with one line naming the key and the accepted
    ones (exit 2 for the first two); no run directory is created."""
    env = _env(tmp_path, {"typo": _faulty(kill_sead=3).format(name="typo"),
                          "toplevel": "id: toplevel\nbatch_sise: 2\nadapter:\n  _target_: optimizers.randomsearch.RandomSearch\n"})
    out = tmp_path / "runs"
    for name, key, accepted in (("typo", "'kill_sead'", "kill_seed, raise_seed, sleep"),
                                ("toplevel", "'batch_sise'", "id, adapter, by_task_type, batch_size, full_fidelity")):
        res = subprocess.run(_study("--optimizer", name, "--seeds", "1", "--n-trials", "2", "--out", str(out)),
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 2, res.stdout + res.stderr
        assert not out.exists()
        (line,) = res.stderr.strip().splitlines()
        assert key in line and accepted in line and f"{name}.yaml" in line, line
        queue = subprocess.run([sys.executable, "-m", "carps_like.queue", "--queue", f"sqlite:///{tmp_path / 'q.db'}",
                                "register", "--study", "s", "--optimizer", name, "--task", "toy/bb", "--seeds", "1"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert queue.returncode == 2 and queue.stderr.strip().splitlines() == [line], queue.stdout + queue.stderr
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance",
                            "--optimizer", "typo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode != 0 and "'kill_sead'" in check.stdout + check.stderr, check.stdout + check.stderr
