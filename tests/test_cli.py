"""User-facing commands: one-line errors for bad input, studies that resume, progress output."""
from __future__ import annotations

import subprocess
import sys

import pytest

from carps_like.store import read_run_json


def _study(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "carps_like.study", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "carps_like.run", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,expected", [
    (["--optimizer", "randomserch", "--task", "toy"], "unknown optimizer 'randomserch'; closest: randomsearch"),
    (["--optimizer", "randomsearch", "--task", "toy/bbb"], "unknown task 'toy/bbb'; closest: toy/bb"),
    (["--optimizer", "randomsearch", "--task", "toy", "--seeds", "0"], "SEEDS must be a count >= 1"),
    (["--optimizer", "randomsearch", "--task", "toy", "--seeds", "x"], "SEEDS must be"),
    (["--optimizer", "randomsearch", "--task", "toy", "--n-trials", "-4"], "N_TRIALS must be a positive number"),
    (["--optimizer", "randomsearch", "--task", "toy", "--n-trials", "none"], "budget needs n_trials and/or time_limit"),
    (["--optimizer", "randomsearch", "--task", "toy", "--jobs", "0"], "JOBS must be >= 1"),
])
def test_study_rejects_bad_input_in_one_line(tmp_path, args, expected):
    res = _study(*args, "--out", str(tmp_path))
    assert res.returncode == 2
    assert expected in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_run_entry_point_rejects_unknown_names_and_missing_task():
    res = _run("optimizer=nope", "task=toy/bb")
    assert res.returncode == 2 and "unknown optimizer 'nope'" in res.stderr and "Traceback" not in res.stderr
    res = _run("optimizer=randomsearch")
    assert res.returncode == 2 and "missing task=" in res.stderr
    res = _run("task=toy/bb", "seed=-3")
    assert res.returncode == 2 and "seed must be a non-negative integer" in res.stderr


def test_study_runs_a_taskset_then_skips_it_when_complete(tmp_path):
    res = _study("--optimizer", "randomsearch", "--task", "toy", "--seeds", "2", "--out", str(tmp_path), "--n-trials", "6")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "running 10 runs (5 tasks x 2 seeds)" in res.stdout and "10/10 runs done" in res.stderr
    dirs = list((tmp_path / "default" / "randomsearch").rglob("run.json"))
    assert len(dirs) == 10 and all(read_run_json(p.parent)["n_trials"] == 6 for p in dirs)
    again = _study("--optimizer", "randomsearch", "--task", "toy", "--seeds", "2", "--out", str(tmp_path), "--n-trials", "6")
    assert again.returncode == 0 and "10 of 10 runs already complete" in again.stdout and "nothing to run" in again.stdout
    changed = _study("--optimizer", "randomsearch", "--task", "toy", "--seeds", "2", "--out", str(tmp_path), "--n-trials", "7")
    assert changed.returncode == 2 and "used another budget" in changed.stderr


def test_study_with_a_time_only_budget(tmp_path):
    res = _study("--optimizer", "randomsearch", "--task", "toy/bb", "--seeds", "1", "--out", str(tmp_path),
                 "--n-trials", "none", "--time-limit", "0.5", "+task.objective_function.delay=0.01")
    assert res.returncode == 0, res.stdout + res.stderr
    meta = read_run_json(tmp_path / "default" / "randomsearch" / "toy" / "bb" / "seed_1")
    assert meta["stop_reason"] == "time_limit" and meta["budget"] == {"n_trials": None, "time_limit": 0.5}
    assert meta["n_trials"] > 5


def test_study_reports_failed_runs_and_exits_nonzero(tmp_path):
    res = _study("--optimizer", "smac_bb", "--task", "toy/bb", "--seeds", "1", "--out", str(tmp_path),
                 "optimizer.adapter.facade=no_such_facade")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 runs failed" in res.stdout and "no_such_facade" in res.stdout


def test_an_optimizer_setting_the_adapter_does_not_take_is_refused_before_any_run(tmp_path):
    res = _study("--optimizer", "randomsearch", "--task", "toy/bb", "--seeds", "1", "--out", str(tmp_path),
                 "+optimizer.adapter.no_such_setting=1")
    assert res.returncode == 2 and "unknown adapter setting 'no_such_setting'" in res.stderr
    assert not list(tmp_path.rglob("run.json"))


def test_a_misspelt_key_inside_a_nested_setting_is_refused_before_any_run(tmp_path):
    """Optuna's `sampler` setting is a dict of sampler arguments: a typo in it used to fail every run."""
    res = _study("--optimizer", "optuna_tpe", "--task", "toy/bb", "--seeds", "1", "--out", str(tmp_path),
                 "++optimizer.adapter.sampler.n_startup_trial=3")
    assert res.returncode == 2 and not list(tmp_path.rglob("run.json")), res.stdout + res.stderr
    assert "unknown sampler setting 'n_startup_trial' (did you mean 'n_startup_trials'?); TPESampler accepts:" \
        in res.stderr
    # SMAC's initial_design goes to its facade's get_initial_design: which one depends on `facade`
    res = _study("--optimizer", "smac_bb", "--task", "toy/bb", "--seeds", "1", "--out", str(tmp_path),
                 "++optimizer.adapter.facade=hyperband", "++optimizer.adapter.initial_design={n_configs:2}")
    assert res.returncode == 2 and not list(tmp_path.rglob("run.json")), res.stdout + res.stderr
    assert "unknown initial_design setting 'n_configs'" in res.stderr
    assert "get_initial_design accepts: additional_configs\n" in res.stderr  # Hyperband's takes nothing else


def test_study_skips_unsupported_tasks_with_one_summary_line_each(tmp_path):
    res = _study("--optimizer", "hebo", "--task", "toy", "--seeds", "1", "--out", str(tmp_path), "--n-trials", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    skips = [line for line in res.stdout.splitlines() if "skipping" in line]
    assert any("not 'mf'" in s and "1 of 5 tasks" in s for s in skips)
    assert any("not 'momf'" in s for s in skips) and any("conditional" in s and "toy/bb_mixed" in s for s in skips)
    assert "running 2 runs" in res.stdout
    assert read_run_json(tmp_path / "default" / "hebo" / "toy" / "mo" / "seed_1")["status"] == "complete"


def test_a_single_unsupported_task_is_refused_with_the_reason(tmp_path):
    res = _study("--optimizer", "smac", "--task", "toy/bb_mixed,toy/mf", "--out", str(tmp_path), "--n-trials", "2", "--seeds", "1")
    assert res.returncode == 0  # smac supports both (smac_bb on bb, smac_hyperband on mf)
    res = _study("--optimizer", "hebo", "--task", "toy/mf", "--out", str(tmp_path))
    assert res.returncode == 2 and "supports none of the 1 tasks" in res.stderr and "not 'mf'" in res.stderr
    res = _run("optimizer=hebo", "task=toy/momf", f"out={tmp_path}")
    assert res.returncode == 2 and "not 'momf'" in res.stderr and "Traceback" not in res.stderr


def test_a_task_that_cannot_be_built_is_one_error_line_and_the_study_goes_on(tmp_path):
    res = _run("task=toy/bb", f"out={tmp_path}", "+task.objective_function.bogus=1")
    assert res.returncode == 2 and "unexpected keyword argument 'bogus'" in res.stderr and "Traceback" not in res.stderr
    res = _run("task=toy/bb", f"out={tmp_path}", "task.budget.n_trials=-2")
    assert res.returncode == 2 and "budget n_trials must be a positive number" in res.stderr
    res = _study("--optimizer", "randomsearch", "--task", "toy/bb,toy/mo", "--seeds", "1", "--out", str(tmp_path),
                 "+task.objective_function.bogus=1")
    assert res.returncode == 1 and "2 runs did not finish" in res.stdout


def test_study_skips_tasks_with_unsupported_hyperparameter_kinds(tmp_path):
    """pycma has no categoricals: a study over mixed tasks skips those with one line and runs the rest."""
    res = _study("--optimizer", "cma_es", "--task", "toy/bb,sklearn/knn_iris_bb,sklearn/knn_wine_bb,toy/mo",
                 "--seeds", "1", "--out", str(tmp_path), "--n-trials", "3")
    assert res.returncode == 0, res.stdout + res.stderr
    skips = [line for line in res.stdout.splitlines() if "skipping" in line]
    assert len(skips) == 2, skips
    assert any("does not support categorical hyperparameters" in s and "2 of 4 tasks" in s for s in skips)
    assert any("not 'mo'" in s for s in skips)
    assert read_run_json(tmp_path / "default" / "cma_es" / "toy" / "bb" / "seed_1")["status"] == "complete"
