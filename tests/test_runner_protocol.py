"""The runner checks what optimizers ask (issue 18, item 3) and what objectives return (item 4).

Real runner, real toy tasks and ConfigSpace spaces; the misbehaving parties are small subclasses
of random search and of the toy objective. New names are imported inside the tests, so that on
the old code each test fails on its own assertion.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace, Float

from benchmarks.toy import ToyFunction
from carps_like.runner import run_trials
from carps_like.task import Budget, Task
from carps_like.types import Evaluation, Status, TrialInfo
from optimizers.randomsearch import RandomSearch


class _Asks(RandomSearch):
    """Random search whose `bad_at`-th ask (0-based) is replaced by `bad(sampled config dict)`."""

    def __init__(self, task, seed=1, bad_at=2, bad=None, fidelity=None):
        super().__init__(task, seed)
        self.bad_at, self.bad, self.fid, self.asked, self.told = bad_at, bad, fidelity, 0, []

    def ask(self):
        info = super().ask()
        n, self.asked = self.asked, self.asked + 1
        if n != self.bad_at:
            return info
        if self.bad is not None:
            info = TrialInfo(config=self.bad(dict(info.config)), fidelity=info.fidelity)
        if self.fid is not None:
            info = TrialInfo(config=info.config, fidelity=self.fid)
        return info

    def tell(self, trial_info, trial_value):
        self.told.append(trial_value)


def _with(**changes):
    return lambda config: {**config, **changes}


def _without(name):
    return lambda config: {k: v for k, v in config.items() if k != name}


def _wider_space_config(config):
    """A Configuration of the adapter's own copy of the space, with wider bounds: a real bug."""
    wide = ConfigurationSpace(space=[Float("x0", (-5.0, 5.0)), Float("x1", (-1.0, 1.0))])
    return Configuration(wide, values={"x0": 4.5, "x1": config["x1"]})


BAD_CONFIGS = [  # (task, how the config is broken, what the error must say)
    ("toy/bb", _with(x0=7.5), "x0=7.5 is not allowed; accepted: a number in [-1.0, 1.0]"),
    ("toy/bb", _with(x0=math.nan), "x0=nan is not allowed"),
    ("toy/bb", _wider_space_config, "x0=4.5 is not allowed; accepted: a number in [-1.0, 1.0]"),
    ("toy/bb", _with(x0="0.1"), "x0='0.1' is not allowed"),
    ("toy/bb_mixed", _with(n=2.5), "n=2.5 is not allowed; accepted: an integer in [1, 8]"),
    ("toy/bb_mixed", _with(kind="c"), "kind='c' is not allowed; accepted: one of 'a', 'b'"),
    ("toy/bb", _with(bogus=1), "'bogus' not in the space; accepted names: x0, x1"),
    ("toy/bb", _without("x1"), "x1 is missing"),
    ("toy/bb_mixed", _with(kind="a", x2=0.5), "x2=0.5 is given but inactive"),
    ("toy/bb_mixed", lambda c: {k: v for k, v in {**c, "kind": "b"}.items() if k != "x2"}, "x2 is missing"),
]


@pytest.mark.parametrize("task_id,bad,message", BAD_CONFIGS, ids=[m.split(" ")[0] for _, _, m in BAD_CONFIGS])
def test_a_configuration_outside_the_space_fails_the_run_before_it_is_evaluated(make_task, task_id, bad, message):
    task = make_task(task_id, n_trials=10)
    result = run_trials(task, lambda: _Asks(task, bad=bad))
    assert result.status == "failed", [(r["status"], r["config"]) for r in result.rows]
    assert result.n_trials == 2 and len(result.rows) == 2  # the trials before it are kept, it is not evaluated
    last = result.error.strip().splitlines()[-1]
    assert last.startswith("carps_like.errors.OptimizerProtocolError: trial 2: ") and message in last, last


def test_forbidden_configurations_are_refused(make_task):
    task = make_task("toy/bb", n_trials=10, extra=["categorical", "integer", "forbidden"])
    result = run_trials(task, lambda: _Asks(task, bad=_with(mode="q", width=4)))
    assert result.status == "failed" and len(result.rows) == 2
    assert "trial 2: " in result.error and "forbidden clause" in result.error and "width == 4" in result.error


@pytest.mark.parametrize("fidelity,message", [(2.5, "z=2.5, not an integer; accepted: an integer in [1.0, 9.0]"),
                                              ("9", "z='9'; accepted: an integer in [1.0, 9.0]")])
def test_a_fidelity_the_task_does_not_have_fails_the_run(make_task, fidelity, message):
    task = make_task("toy/mf", n_trials=5)
    result = run_trials(task, lambda: _Asks(task, fidelity=fidelity))
    assert result.status == "failed" and len(result.rows) == 2
    assert f"OptimizerProtocolError: trial 2: optimizer asked for {message}" in result.error


def test_an_invalid_trial_in_a_batch_fails_the_run_before_any_of_the_batch_is_evaluated(make_task):
    task = make_task("toy/bb", n_trials=9)
    result = run_trials(task, lambda: _Asks(task, bad_at=4, bad=_with(x1=-3.0)), batch_size=3)
    assert result.status == "failed" and [r["trial"] for r in result.rows] == [0, 1, 2]  # the first batch only
    assert "OptimizerProtocolError: trial 4: " in result.error and "x1=-3.0" in result.error


def test_the_checker_agrees_with_configspace_on_every_hyperparameter_kind():
    """The checker accepts what ConfigSpace accepts and refuses what it refuses, on a space with
    every hyperparameter kind, a condition and a forbidden clause."""
    from ConfigSpace import Categorical, EqualsCondition, ForbiddenEqualsClause, Integer
    from ConfigSpace.hyperparameters import Constant, OrdinalHyperparameter

    from carps_like.spaces import ConfigurationChecker

    cat = Categorical("cat", ["a", "b", 3])
    child = Float("child", (0.0, 1.0), log=False)
    space = ConfigurationSpace(seed=3, space=[Float("lr", (1e-5, 1e-1), log=True), Integer("w", (8, 512), log=True),
                                              cat, child, OrdinalHyperparameter("size", ["s", "m", "l"]),
                                              Constant("fixed", "yes")])
    space.add([EqualsCondition(child, cat, "b"), ForbiddenEqualsClause(space["size"], "l")])
    checker = ConfigurationChecker(space)
    mutations = [lambda c: c, _with(lr=0.5), _with(lr=np.float64(1e-3)), _with(w=np.int64(64)), _with(w=64.0),
                 _with(w=True), _with(cat=3), _with(cat="d"), _with(size="xl"), _with(fixed="no"), _without("lr"),
                 _with(child=0.5), _without("child"), _with(size="l"), _with(cat=[1])]
    seen = {True: 0, False: 0}
    for config in space.sample_configuration(60):
        for mutate in mutations:
            values = mutate(dict(config))
            try:
                Configuration(space, values=values)
                valid = True
            except Exception:
                valid = False
            assert (checker.problem(values) is None) == valid, (values, checker.problem(values))
            seen[valid] += 1
    assert seen[True] > 100 and seen[False] > 100


# --- item 4: non-finite objective values ---


class _NonFinite(ToyFunction):
    """toy/bb or toy/mo that returns -inf for x0 > 0.6 and NaN for x0 < -0.6 (any objective for MO:
    the last one)."""

    def evaluate(self, config, fidelity=None, seed=None):
        values = list(super().evaluate(config, fidelity, seed).values)
        x0 = float(config["x0"])
        if x0 > 0.6:
            values[-1] = -math.inf
        elif x0 < -0.6:
            values[-1] = math.nan
        return Evaluation(values=tuple(values))


def _nonfinite_task(kind="bb", n_trials=40):
    return Task(f"toy/{kind}_nonfinite", _NonFinite(kind), Budget(n_trials=n_trials))


def test_non_finite_values_are_recorded_never_incumbents_and_told_as_crashes():
    task = _nonfinite_task()
    opt = {}
    result = run_trials(task, lambda: opt.setdefault("o", _Asks(task, bad_at=-1)))
    assert math.isfinite(result.incumbent["cost"])  # -inf was the incumbent
    statuses = [r["status"] for r in result.rows]
    assert result.status == "complete" and "NONFINITE" in statuses and "SUCCESS" in statuses
    assert all(r["incumbent_cost"] is None or math.isfinite(r["incumbent_cost"]) for r in result.rows)
    bad = [r for r in result.rows if r["status"] == "NONFINITE"]
    assert all(not math.isfinite(r["costs"][0]) and r["error"].startswith("non-finite objective value: f=")
               for r in bad)  # the values are kept
    assert any(r["costs"][0] == -math.inf for r in bad) and any(math.isnan(r["costs"][0]) for r in bad)
    assert result.n_nonfinite == len(bad) and result.n_crashed == len(bad)
    told = opt["o"].told
    assert [t.status for t in told] == [Status.CRASHED if s == "NONFINITE" else Status.SUCCESS for s in statuses]
    assert all(t.cost is None and "non-finite" in t.info["error"] for t, s in zip(told, statuses) if s == "NONFINITE")


def test_any_non_finite_objective_makes_a_multi_objective_trial_non_finite():
    task = _nonfinite_task("mo")
    result = run_trials(task, lambda: RandomSearch(task, seed=2))
    bad = [r for r in result.rows if r["status"] == "NONFINITE"]
    assert bad and all(math.isfinite(r["costs"][0]) and not math.isfinite(r["costs"][1]) for r in bad)
    front = result.incumbent["pareto_front"]
    assert front and all(math.isfinite(c) for p in front for c in p["cost"])
    assert {p["trial"] for p in front} <= {r["trial"] for r in result.rows if r["status"] == "SUCCESS"}


def test_non_finite_trials_are_stored_and_counted_in_the_report(tmp_path):
    from analysis.gather import gather
    from analysis.report import Doc, _status_section
    from carps_like.experiment import run_cell
    from carps_like.store import read_trials

    task_cfg = {"id": "toy/bb_nonfinite", "budget": {"n_trials": 30, "time_limit": None},
                "objective_function": {"_target_": f"{__name__}._NonFinite", "kind": "bb"}}
    outcome = run_cell({"id": "randomsearch", "adapter": {"_target_": "optimizers.randomsearch.RandomSearch"}},
                       task_cfg, seed=1, out=tmp_path / "runs", study="nf")
    assert outcome.result.status == "complete"
    rows = read_trials(outcome.directory)
    n_bad = sum(r["status"] == "NONFINITE" for r in rows)
    assert n_bad > 0 and all(not math.isfinite(r["costs"][0]) for r in rows if r["status"] == "NONFINITE")
    g = gather([tmp_path / "runs"])
    assert int(g.trials["status"].eq("NONFINITE").sum()) == n_bad  # through trials.parquet, nothing lost
    doc = Doc()
    _status_section(doc, g, [])
    text = " ".join(b[1] for b in doc.blocks if b[0] == "p")
    assert f"randomsearch {n_bad} of 30" in text, text


class _TooFewValues(ToyFunction):
    """toy/mo that returns one value for its two objectives."""

    def evaluate(self, config, fidelity=None, seed=None):
        return Evaluation(values=super().evaluate(config, fidelity, seed).values[:1])


def test_an_objective_returning_the_wrong_number_of_values_crashes_the_trial_with_the_reason():
    task = Task("toy/mo_short", _TooFewValues("mo"), Budget(n_trials=5))
    result = run_trials(task, lambda: RandomSearch(task, seed=1))
    assert [r["status"] for r in result.rows] == ["CRASHED"] * 5
    assert "objective returned 1 value(s) for 2 objective(s)" in result.rows[0]["error"]


def test_old_results_with_non_finite_success_rows_never_define_an_incumbent(tmp_path):
    """Runs stored before NONFINITE existed hold NaN/-inf as SUCCESS: the analysis skips them."""
    import json

    from analysis.anytime import compute
    from analysis.gather import gather
    from analysis_runs import make_runs

    out = make_runs(tmp_path / "runs", plan={"bb": (["randomsearch"], ["toy/bb"])}, seeds=(1,))
    log = next(out.rglob("trials.jsonl"))
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    rows[2].update(cost=-math.inf, costs=[-math.inf], status="SUCCESS")
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for parquet in out.rglob("trials.parquet"):
        parquet.unlink()  # gather reads the JSON lines
    final = compute(gather([out])).final
    assert math.isfinite(final["final_cost"].iloc[0]) and 0.0 <= final["score"].iloc[0] <= 1.0
