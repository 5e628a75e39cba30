"""Hydra launchers (docs/launchers.md): the same study through joblib, submitit's local executor
and Ray (a local Ray, and a Ray head on loopback that the launcher joins) gives complete, identical
runs, and a second launch submits nothing. Real SLURM cannot run here: its config is only composed."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from carps_like.store import read_run_json

TASKS = ["toy/bb", "bbob/f1_d2_i1"]
SEEDS = [1, 2]
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="module", autouse=True)
def ray_temp_root():
    """Ray keeps a session directory under its temp root (/tmp/ray by default) for every start and never
    removes it: each test run left one behind. Here the root is a directory of this module's, removed
    after it (short, under /tmp: Ray's unix socket paths are limited to 107 bytes)."""
    root, old = tempfile.mkdtemp(prefix="ray", dir="/tmp"), os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = root
    yield root
    os.environ.pop("RAY_TMPDIR") if old is None else os.environ.__setitem__("RAY_TMPDIR", old)
    shutil.rmtree(root, ignore_errors=True)


def _study(out: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", ",".join(TASKS),
           "--seeds", ",".join(map(str, SEEDS)), "--n-trials", "5", "--out", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def _cells(out: Path) -> list[Path]:
    return [out / "default" / "randomsearch" / t / f"seed_{s}" for t in TASKS for s in SEEDS]


def _assert_complete(out: Path, res: subprocess.CompletedProcess) -> None:
    assert res.returncode == 0, res.stdout + res.stderr
    assert [(read_run_json(d) or {}).get("status") for d in _cells(out)] == ["complete"] * len(_cells(out))


def _trials(out: Path) -> dict:
    """Per cell: (trial, config, costs, status) of every trial; timings differ between runs."""
    rows = {}
    for d in _cells(out):
        lines = (d / "trials.jsonl").read_text().splitlines()
        rows[d.relative_to(out)] = [(r["trial"], r["config"], r["costs"], r["status"]) for r in map(json.loads, lines)]
    return rows


def _launched_with(out: Path) -> str:
    """The launcher Hydra instantiated, from the multirun.yaml the sweep wrote."""
    return yaml.safe_load((out / "default" / ".hydra" / "multirun.yaml").read_text())["hydra"]["launcher"]["_target_"]


@pytest.fixture(scope="module")
def study_runs(tmp_path_factory):
    """launcher -> results directory of one study run with it (each launcher runs once per module)."""
    done: dict[str, Path] = {}

    def run(launcher: str, *args: str, env: dict | None = None) -> Path:
        if launcher not in done:
            out = tmp_path_factory.mktemp(launcher)
            _assert_complete(out, _study(out, "--launcher", launcher, *args, env=env))
            done[launcher] = out
        return done[launcher]

    return run


def test_submitit_local_runs_the_study_and_a_second_launch_submits_nothing(study_runs):
    out = study_runs("submitit_local")
    assert _launched_with(out).endswith("submitit_launcher.LocalLauncher")
    jobs = out / "default" / ".hydra" / ".submitit"
    submitted = sorted(p.name for p in jobs.iterdir())
    assert len([n for n in submitted if n.isdigit()]) == len(_cells(out))  # one submitit job per run

    again = _study(out, "--launcher", "submitit_local")
    assert again.returncode == 0, again.stderr
    assert "4 of 4 runs already complete" in again.stdout and "nothing to run" in again.stdout
    assert sorted(p.name for p in jobs.iterdir()) == submitted  # no job submitted


def test_ray_local_cluster_runs_the_study(study_runs):
    """address null: the launcher starts its own Ray (num_cpus from --jobs) and shuts it down at exit."""
    out = study_runs("ray", "--jobs", "2", env=RAY_ENV)
    assert _launched_with(out).endswith("carps_like_ray_launcher.ray_launcher.RayLauncher")
    again = _study(out, "--launcher", "ray")
    assert again.returncode == 0 and "nothing to run" in again.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ray_joins_a_running_cluster_on_loopback(tmp_path, study_runs):
    """A Ray head started with `ray start` (its own short temp dir: unix socket paths are limited to
    107 bytes; token authentication, which an explicit address needs RAY_AUTH_MODE=token for). The
    head is stopped by killing its own process group: `ray stop` would stop every Ray on the host."""
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {**os.environ, **RAY_ENV, "RAY_AUTH_MODE": "token"}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
                             "--num-cpus", "2", "--include-dashboard", "false", "--temp-dir", temp_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        out = tmp_path / "cluster"
        res = _study(out, "--launcher", "ray", f"hydra.launcher.address=127.0.0.1:{port}", env=env)
        _assert_complete(out, res)
        # the jobs ran in the cluster's workers (their logs are in the head's temp dir)
        assert list(Path(temp_dir).glob("session_*/logs/worker-*.out"))
        assert _trials(out) == _trials(study_runs("joblib"))
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=30)
        time.sleep(1)  # workers exit once their raylet is gone
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_joblib_submitit_and_ray_give_identical_trials(study_runs):
    """Runs are seeded, so the launcher must not change a single configuration or cost."""
    reference = _trials(study_runs("joblib"))
    assert len(reference) == 4 and all(len(rows) == 5 for rows in reference.values())
    assert _trials(study_runs("submitit_local")) == reference
    assert _trials(study_runs("ray", "--jobs", "2", env=RAY_ENV)) == reference


def test_unknown_launcher_is_exit_2_with_the_valid_names(tmp_path):
    res = _study(tmp_path, "--launcher", "slurmm")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    for name in ("joblib", "ray", "submitit_local", "submitit_slurm"):
        assert name in res.stderr
    assert not (tmp_path / "default").exists()


def _hydra_cfg(*overrides: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "carps_like.run", "--cfg", "hydra", "task=toy/bb", *overrides],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "deprecated" not in res.stderr  # the schema-matching warning is filtered (hydra_plugins/carps_like_ray_launcher)
    return yaml.safe_load(res.stdout)["hydra"]


def test_slurm_config_composes_with_command_line_values():
    """SLURM itself cannot run here; this checks the config the SLURM launcher would get."""
    launcher = _hydra_cfg("hydra/launcher=submitit_slurm", "hydra.launcher.partition=cpu", "hydra.launcher.timeout_min=120",
                          "hydra.launcher.mem_gb=8", "hydra.launcher.array_parallelism=50")["launcher"]
    assert launcher["_target_"] == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher["partition"], launcher["timeout_min"], launcher["mem_gb"], launcher["array_parallelism"]) == ("cpu", 120, 8, 50)
    assert launcher["cpus_per_task"] == 1 and any("activate" in line for line in launcher["setup"])
    assert "additional_parameters" in launcher


def test_every_launcher_config_composes_and_joblib_stays_the_default():
    assert _hydra_cfg()["launcher"]["_target_"].endswith("JoblibLauncher")
    assert _hydra_cfg()["launcher"]["n_jobs"] == -1
    ray = _hydra_cfg("hydra/launcher=ray", "hydra.launcher.address=auto", "hydra.launcher.remote.memory=1000000000")["launcher"]
    assert ray["address"] == "auto" and ray["remote"]["memory"] == 10**9
    assert _hydra_cfg("hydra/launcher=submitit_local")["launcher"]["_target_"].endswith("LocalLauncher")


def test_jobs_maps_to_each_launchers_parallelism_knob():
    from argparse import Namespace

    from carps_like import study

    assert study.launcher_names() == ["joblib", "ray", "submitit_local", "submitit_slurm"]
    expected = {"joblib": "hydra.launcher.n_jobs=3", "ray": "hydra.launcher.num_cpus=3",
                "submitit_local": "hydra.sweeper.max_batch_size=3", "submitit_slurm": "hydra.launcher.array_parallelism=3"}
    for launcher, override in expected.items():
        args = Namespace(optimizer="randomsearch", out="runs", study="s", jobs=3, launcher=launcher, redo=False,
                         retry_failed=False, overrides=[])
        cmd = study.hydra_command(args, Path("plan.json"), 2, [])
        assert f"hydra/launcher={launcher}" in cmd and override in cmd and "cell=0,1" in cmd
    args = Namespace(optimizer="randomsearch", out="runs", study="s", jobs=None, launcher="submitit_slurm", redo=False,
                     retry_failed=False, overrides=[])
    assert not any("parallelism" in a for a in study.hydra_command(args, Path("plan.json"), 1, []))  # the config's value
