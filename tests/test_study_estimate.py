"""A study says up front how long it will take, refines that from finished trials, shows
progress per trial, and ends with the next command (issue 19: `ETA ?` for 12 minutes)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from carps_like import registry


@pytest.fixture
def model(tmp_path, monkeypatch):
    """A cost model file: a GP-like optimizer whose per-trial cost grows, and a cheap collection."""
    from carps_like import estimate

    path = tmp_path / "cost_model.json"
    path.write_text(json.dumps({
        "optimizers": {"gp": {"points": [[25, 1000.0], [50, 2000.0]], "trials_per_unit": 1.0, "measured": "2026-12-06",
                              "task": "bbob/f1_d5_i1", "dim": 5,
                              "high_dim": {"points": [[25, 3000.0], [50, 6000.0]], "dim": 20, "task": "bbob/f1_d20_i1"}},
                       "flat": {"points": [[25, 10.0], [75, 10.0]], "trials_per_unit": 10.0, "measured": "2026-12-06"}},
        "collections": {"bbob": {"seconds": 0.001}}}))
    monkeypatch.setattr(estimate, "DATA", path)
    estimate.cost_model.cache_clear()
    yield estimate
    estimate.cost_model.cache_clear()


def test_cost_follows_the_measured_curve_and_multi_fidelity_trials_scale(model):
    curve = model.optimizer_curve("gp")
    # 1 s up to trial 25, linear to 2 s at trial 50, held at 2 s beyond (no extrapolated growth)
    assert curve(np.array([0, 25, 37.5, 50, 250])) == pytest.approx([1.0, 1.0, 1.5, 2.0, 2.0])
    cell = model.cell_cost("gp", "bbob/f1_d2_i1", 100, None)
    optimizer = 25 * 1.0 + (26 + 325 / 25) + 49 * 2.0  # trials 0-24, 25-50, 51-99
    assert cell.seconds == pytest.approx(model.RUN_SECONDS + optimizer + 100 * (0.001 + model.HARNESS_SECONDS))
    flat = model.cell_cost("flat", "bbob/f1_d2_i1", 100, None)  # 10 trials per full-fidelity unit
    assert flat.seconds == pytest.approx(model.RUN_SECONDS + 1000 * (0.01 + model.HARNESS_SECONDS) + 100 * 0.001)
    capped = model.cell_cost("gp", "bbob/f1_d2_i1", 100, 60.0)
    assert capped.seconds == 60.0 and model.cell_cost("gp", "bbob/f1_d2_i1", None, 30.0).seconds == 30.0
    assert model.cell_cost("unmeasured", "nowhere/x", 10, None).curve is None


def test_cost_is_interpolated_by_task_dimension(model):
    at_50 = {d: float(model.optimizer_curve("gp", d)(50)) for d in (5, 10, 20, 40)}
    assert at_50 == pytest.approx({5: 2.0, 10: 2.0 + (6.0 - 2.0) / 3, 20: 6.0, 40: 6.0})  # held beyond 20
    assert float(model.optimizer_curve("flat", 20)(50)) == float(model.optimizer_curve("flat")(50))  # one dim measured


def test_perf_data_merges_a_high_dim_measurement_into_the_variant(model):
    model.write_section("optimizers", {"gp": {"high_dim": {"points": [[50, 1.0]], "dim": 10, "task": "t"}}})
    record = model.cost_model()["optimizers"]["gp"]
    assert record["points"] == [[25, 1000.0], [50, 2000.0]] and record["high_dim"]["dim"] == 10
    model.write_section("optimizers", {"gp": {"points": [[10, 5.0]], "dim": 5, "task": "u"}})
    record = model.cost_model()["optimizers"]["gp"]
    assert record["points"] == [[10, 5.0]] and record["high_dim"]["dim"] == 10  # kept


def test_runs_are_spread_over_the_jobs():
    from carps_like.estimate import START_SECONDS, makespan

    assert [makespan(s, j) - START_SECONDS for s, j in (([10, 10, 10, 10], 2), ([30, 10, 10, 10], 2), ([5], 8))] == [20, 30, 5]


def test_eta_follows_the_machine_once_trials_finish(model):
    cells = [model.cell_cost("gp", "bbob/f1_d2_i1", 50, None) for _ in range(2)]
    total = sum(c.seconds for c in cells)
    assert model.eta(cells, [0, 0], [False, False], 5.0, upfront=100.0) == pytest.approx(95.0)
    # half the modelled work done (the first run finished) in twice the modelled time: the rest takes twice as long
    half = cells[0].seconds
    assert model.eta(cells, [0, 0], [True, False], 2 * half, upfront=1.0) == pytest.approx(2 * (total - half))


def test_describe_names_the_basis_and_what_was_not_measured(model):
    cells = [model.cell_cost("gp", "bbob/f1_d2_i1", 50, None), model.cell_cost("new_opt", "bbob/f1_d2_i1", 50, None)]
    text = model.describe(cells, {"gp", "new_opt"}, jobs=2)
    assert text.startswith("estimate: about ") and "2 parallel job(s)" in text
    assert "perf/optimizer_cost.py (2026-12-06)" in text and "no measured cost for new_opt" in text
    assert "on bbob/f1_d5_i1 and bbob/f1_d20_i1" in text


def test_progress_counts_the_budget_spent_inside_running_runs(tmp_path):
    from analysis_runs import task_config

    from carps_like.estimate import cell_cost
    from carps_like.experiment import run_cell
    from carps_like.progress import ProgressMonitor
    from carps_like.store import RUN_FILE

    out = run_cell(registry.get_optimizer_config("randomsearch"), task_config("toy/bb", n_trials=8), 1, out=tmp_path)
    meta = json.loads((out.directory / RUN_FILE).read_text())
    meta["status"] = "running"  # as a run in progress looks: 8 trials logged
    (out.directory / RUN_FILE).write_text(json.dumps(meta))
    monitor = ProgressMonitor([out.directory], "t", costs=[cell_cost("randomsearch", "toy/bb", 20, None)], upfront=10.0)
    monitor.poll()
    line = monitor.line()
    assert "0/1 runs done" in line and "8/20 trials" in line and "ETA ?" not in line


def test_study_prints_an_estimate_first_and_the_next_step_last(tmp_path):
    res = subprocess.run([sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", "toy/bb",
                          "--seeds", "2", "--out", str(tmp_path / "runs"), "--n-trials", "5"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert any("estimate: about" in line and "refined as trials finish" in line for line in lines)
    assert lines[-1].startswith(f"next: make report RUNS={tmp_path / 'runs'}") and "open report/index.html" in lines[-1]
    assert "/10 trials" in res.stderr  # progress per trial
