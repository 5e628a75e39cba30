"""Hydra overrides of optimizer settings reach the run or are refused (issue 20: with OPT=smac,
`++optimizer.adapter....` was silently dropped because the variant's YAML was read again)."""
from __future__ import annotations

import json
import subprocess
import sys


def _study(out, *extra):
    return subprocess.run([sys.executable, "-m", "carps_like.study", "--optimizer", "smac", "--task", "toy/bb",
                           "--seeds", "1", "--n-trials", "3", "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=300)


def test_an_override_on_a_dispatcher_reaches_the_variant_it_picks(tmp_path):
    res = _study(tmp_path, "++optimizer.adapter.initial_design={n_configs:2}")
    assert res.returncode == 0, res.stdout + res.stderr
    meta = json.loads(next(tmp_path.rglob("run.json")).read_text())
    assert meta["optimizer_variant"] == "smac_bb"
    assert meta["optimizer_config"]["adapter"]["initial_design"] == {"n_configs": 2}


def test_an_override_the_variant_does_not_accept_is_refused_before_any_run(tmp_path):
    res = _study(tmp_path, "++optimizer.adapter.n_init=5")
    assert res.returncode == 2 and not list(tmp_path.rglob("run.json"))
    assert res.stderr.strip().splitlines() == [
        "error: smac -> smac_bb (with your overrides): unknown adapter setting 'n_init'; optimizers.smac.SMACBlackBox "
        "accepts: _target_, facade, multi_objective, parego_rho, objective_weights, initial_design, intensifier, "
        "save_every_tell"]


def test_overrides_that_cannot_reach_the_run_are_refused_in_one_line(tmp_path):
    for override, message in (("task.budget.n_trials=4", "set budgets with N_TRIALS= / TIME_LIMIT="),
                              ("seed=3", "accepted: optimizer.<setting>=<value>, task.<setting>=<value>"),
                              ("optimizer.adapter=[1", "cannot parse the overrides")):
        res = _study(tmp_path, override)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and message in res.stderr, override
    assert not list(tmp_path.rglob("run.json"))
