"""A study with a time budget (`--max-minutes`, `make run MAX_MINUTES=`), per-task budgets
(`--budgets FILE`, what `make compare` runs the dev subsets with) and seed-major launch order
(issue 21): real study processes on the toy tasks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_study_faults import _env, _faulty, _marked, _meta

ROOT = Path(__file__).resolve().parents[1]


def _study(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "carps_like.study", "--out", str(out), "--jobs", "1", *args]


def test_a_time_budget_stops_the_study_and_leaves_runs_to_resume(tmp_path):
    """The study stops at MAX_MINUTES with exit 124, says how far it got, leaves no process behind,
    and the same command without the budget goes on from there."""
    marker = "budget-" + tmp_path.name
    env = {**_env(tmp_path, {"slow": _faulty(sleep=0.05).format(name="slow")}), "FAULT_MARKER": marker}
    out = tmp_path / "runs"
    res = subprocess.run(_study(out, "--optimizer", "slow", "--task", "toy/bb", "--seeds", "2", "--n-trials", "100000",
                                "--max-minutes", "0.1"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 124, res.stdout + res.stderr
    assert "time budget of 0.1 min reached: 0 of 2 runs finished" in res.stderr, res.stderr
    assert _marked(marker) == [] and "Traceback" not in res.stderr
    assert _meta(out, "slow", 1).get("status") == "running"  # stopped mid-run: resumable, not failed
    again = subprocess.run(_study(out, "--optimizer", "slow", "--task", "toy/bb", "--seeds", "2", "--n-trials", "3"),
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [_meta(out, "slow", s).get("status") for s in (1, 2)] == ["complete", "complete"]


def test_bad_time_budgets_are_refused(tmp_path):
    res = subprocess.run(_study(tmp_path, "--optimizer", "randomsearch", "--task", "toy/bb", "--max-minutes", "0"),
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "MAX_MINUTES must be a positive number of minutes" in res.stderr


def test_per_task_budgets_and_seed_major_order(tmp_path):
    """`--budgets` gives each task its own budget; cells are launched seed by seed, so a study cut
    short has covered every task at its first seeds."""
    budgets = tmp_path / "budgets.json"
    budgets.write_text(json.dumps({"toy/bb": {"n_trials": 2}, "toy/mo": {"n_trials": 3}}))
    out = tmp_path / "runs"
    res = subprocess.run(_study(out, "--optimizer", "randomsearch", "--task", "toy/bb,toy/mo,toy/mf", "--seeds", "2",
                                "--n-trials", "4", "--budgets", str(budgets)),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    study = out / "default"
    n = {t: json.loads((study / "randomsearch" / t / "seed_1" / "run.json").read_text())["budget"]["n_trials"]
         for t in ("toy/bb", "toy/mo", "toy/mf")}
    assert n == {"toy/bb": 2, "toy/mo": 3, "toy/mf": 4}
    plan_file, = (study / ".hydra").glob("plan-*.json")
    order = [(c["seed"], c["task"]["id"]) for c in json.loads(plan_file.read_text())]
    assert order == [(1, "toy/bb"), (1, "toy/mo"), (1, "toy/mf"), (2, "toy/bb"), (2, "toy/mo"), (2, "toy/mf")]


def test_a_budgets_file_naming_other_tasks_is_refused(tmp_path):
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("toy/mo: {n_trials: 3}\ntoy/bb: {n_trails: 2}\n")
    res = subprocess.run(_study(tmp_path, "--optimizer", "randomsearch", "--task", "toy/bb", "--budgets", str(budgets)),
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "tasks ['toy/mo'] are not in the study's task list" in res.stderr and "['toy/bb']" in res.stderr
