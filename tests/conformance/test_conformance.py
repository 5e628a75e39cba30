"""Optimizer conformance suite: every shipped optimizer passes it in `make test`.

    make check-optimizer OPT=<name>     # one optimizer (a dispatcher checks all its variants)
    pytest tests/conformance --optimizer path/to/my_optimizer.yaml   # a config not registered yet

Runs go through the production path (`run_cell`: store, runner, crash handling) on tiny toy
tasks. Each run is checked for: a complete status, the ask/tell contract, configurations valid
for the space (inactive conditional hyperparameters absent), fidelities inside bounds, the budget
spent exactly as the runner allows, no files outside its run directory (also none left in the
temporary directory), and untouched global state (numpy/random/torch generators, environment,
root logger). Determinism: the same seed gives the same trials, whatever ran before and
whatever the global generators hold.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import pytest
from ConfigSpace import Configuration

from carps_like.errors import IncompatibleError
from carps_like.experiment import build_task, run_cell
from carps_like.isolation import global_rng_fingerprint
from carps_like.store import read_trials
from carps_like.types import Status, TrialInfo, TrialValue

from .cases import N_TRIALS, TIME_LIMIT, TYPE_ORDER, Case, cases_for, load_variants, not_run

#: where a failure message sends the reader
GUIDE = "docs/adding-an-optimizer.md"


def pytest_generate_tests(metafunc):
    """Cases from each variant's declarations; a check that does not apply is a skipped case that
    says why (not pytest's bare "got empty parameter set")."""
    names = [n for opt in metafunc.config.getoption("--optimizer") for n in opt.split(",") if n]
    variants = load_variants(names)
    if "case" in metafunc.fixturenames:
        batch = metafunc.function.__name__ != "test_runs_conform"
        cases = [pytest.param(c, id=c.id) for v in variants for c in cases_for(v) if (c.kind == "batch") == batch]
        cases += [pytest.param(None, id=case_id, marks=pytest.mark.skip(reason=why))
                  for v in variants for case_id, why in not_run(v) if case_id.endswith("-batch") == batch]
        metafunc.parametrize("case", cases)
    elif "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", variants, ids=[v.name for v in variants])


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty working directory and a private temporary directory for the run."""
    cwd = tmp_path / "cwd"
    tmp = tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return cwd, tmp


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _global_state() -> tuple:
    root = logging.getLogger()
    return global_rng_fingerprint(), len(sys.modules), dict(os.environ), root.level, tuple(root.handlers)


def _run(case: Case, workspace, seed: int, study: str, n_trials=N_TRIALS, time_limit=None, batch_size=1):
    """One run through run_cell, with the checks every run must pass; returns (outcome, trials)."""
    cwd, tmp = workspace
    before_files, before_tmp, before_state = _files(cwd), set(tmp.rglob("*")), _global_state()
    config = case.variant.config if batch_size == 1 else {**case.variant.config, "batch_size": batch_size}
    outcome = run_cell(config, case.task_config(n_trials, time_limit), seed, out=cwd / "runs", study=study)
    result = outcome.result
    assert outcome.action == "ran"
    assert result.status == "complete", f"run failed:\n{result.error}"

    new_files = _files(cwd) - before_files
    outside = sorted(str(p.relative_to(cwd)) for p in new_files if outcome.directory not in p.parents)
    assert not outside, f"files written outside the run directory: {outside}"
    after_state = _global_state()
    for generator, state in before_state[0].items():
        assert after_state[0][generator] == state, (
            f"the run changed the global {generator} generator state: the library draws from (or seeds) it; "
            f"run its calls inside carps_like.isolation.GlobalRNGScope(self.seed) ({GUIDE}, section 1)")
    # a library's import-time set-up (torch's inductor cache directory, KMP_* variables) is not
    # a leak of the run: these checks hold for runs that import nothing new
    if after_state[1] == before_state[1]:
        leftovers = sorted(str(p.relative_to(tmp)) for p in set(tmp.rglob("*")) - before_tmp)
        assert not leftovers, f"files left in the temporary directory: {leftovers}"
        assert after_state[2] == before_state[2], "the run changed os.environ"
        assert after_state[3:] == before_state[3:], "the run changed the root logger"

    trials = read_trials(outcome.directory)
    assert len(trials) == result.n_trials >= 1
    task = build_task(case.task_config())
    _check_trials(task, trials)
    return outcome, trials


def _label(row: dict, index: int) -> str:
    """How a message names a trial: its number in the run (as the runner's own messages do)."""
    return f"trial {row.get('trial', index)}"


def _check_trials(task, trials: list[dict]) -> None:
    space, fid = task.configspace, task.fidelity
    for i, row in enumerate(trials):
        trial = _label(row, i)
        try:  # Configuration() rejects values of inactive hyperparameters and missing active ones
            space.check_configuration(Configuration(space, values=row["config"]))
        except Exception as error:
            raise AssertionError(f"{trial}: configuration {row['config']} is not valid for the space: {error}") from None
        if fid is None:
            assert row["fidelity"] is None, f"{trial}: fidelity {row['fidelity']!r} on a task without fidelity"
        else:
            assert fid.min - 1e-9 <= row["fidelity"] <= fid.max + 1e-9, (
                f"{trial}: fidelity {row['fidelity']!r} outside [{fid.min}, {fid.max}]")
            if fid.integer:
                assert float(row["fidelity"]).is_integer(), f"{trial}: integer fidelity asked as {row['fidelity']}"


def _trace(trials: list[dict]) -> list[tuple]:
    return [(tuple(sorted(r["config"].items())), r["fidelity"]) for r in trials]


def _first_difference(first: list[dict], second: list[dict]) -> str:
    """Where two runs' trials part: the first trial whose configuration or fidelity differs."""
    for i, (a, b) in enumerate(zip(_trace(first), _trace(second))):
        if a != b:
            return f"{_label(first[i], i)} differs: {dict(a[0])} (fidelity {a[1]}) vs {dict(b[0])} (fidelity {b[1]})"
    return f"the runs have {len(first)} and {len(second)} trials"


def _seed_globals(value: int) -> None:
    """Put the global generators into a known state: an adapter must not depend on it."""
    import random
    import sys

    import numpy as np

    np.random.seed(value)
    random.seed(value)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(value)


def test_runs_conform(case: Case, workspace):
    if case.kind == "time":
        outcome, _ = _run(case, workspace, 0, "t", n_trials=None, time_limit=TIME_LIMIT)
        assert outcome.result.stop_reason == "time_limit"
        return
    if case.kind != "determinism":
        outcome, trials = _run(case, workspace, 0, "a")
        result = outcome.result
        assert result.stop_reason == "budget"
        assert result.budget_used <= N_TRIALS + 1e-9
        if case.task_type.multi_fidelity:  # stopped only because the next trial would overshoot
            assert result.budget_used > N_TRIALS - 1.0 - 1e-9
        else:
            assert result.n_trials == N_TRIALS
        if case.kind == "crash":
            crashed = sum(r["status"] == Status.CRASHED.value for r in trials)
            assert 0 < crashed < len(trials), "the crash case should give some crashed and some successful trials"
        if case.kind == "kinds":  # every hyperparameter, of every declared kind, is actually varied
            for name in build_task(case.task_config()).configspace:
                seen = {r["config"][name] for r in trials if name in r["config"]}
                assert len(seen) >= 2, f"hyperparameter {name!r} took only the values {seen} in {len(trials)} trials"
        return

    _seed_globals(1)
    _, first = _run(case, workspace, 0, "a")
    _seed_globals(99)
    _, other_seed = _run(case, workspace, 1, "a")
    _seed_globals(2)
    _, again = _run(case, workspace, 0, "b")
    assert _trace(first) == _trace(again), (
        f"seed 0 twice, different trials: {_first_difference(first, again)}. The library draws from a generator "
        "the run seed does not fix: pass self.seed to it (its seed / random_state argument), and run calls that "
        f"draw from the global numpy/random/torch generators inside GlobalRNGScope(self.seed) ({GUIDE}, section 1)")
    assert [r["costs"] for r in first] == [r["costs"] for r in again]
    assert _trace(first) != _trace(other_seed), (
        f"seeds 0 and 1 gave the same {len(first)} trials: the seed is ignored; pass self.seed to the library "
        "(its seed / random_state argument)")


def test_batch_ask(case: Case, workspace):
    """ask_batch(n) gives n valid, distinct pending trials; tells may come back in any order."""
    cwd, _ = workspace
    task = build_task(case.task_config())
    settings = {k: v for k, v in case.variant.config["adapter"].items() if k != "_target_"}
    optimizer = case.variant.cls(task=task, seed=0, workdir=cwd / "work", **settings)
    minimize = [o.minimize for o in task.objectives]
    try:
        for _round in range(2):
            batch = optimizer.ask_batch(3)
            assert len(batch) == 3 and all(isinstance(t, TrialInfo) for t in batch)
            traces = [(tuple(sorted(dict(t.config).items())), t.fidelity) for t in batch]
            assert len(set(traces)) == 3, f"round {_round}: ask_batch(3) returned duplicate trials: {traces}"
            rows = []
            for info in batch:
                fidelity = info.fidelity if task.fidelity is None or info.fidelity is not None else task.fidelity.max
                rows.append({"config": dict(info.config), "fidelity": fidelity if task.fidelity else None})
            _check_trials(task, rows)
            for i, info in reversed(list(enumerate(batch))):
                if i == 0:
                    value = TrialValue(cost=None, status=Status.CRASHED, time=0.0, virtual_time=0.0)
                else:
                    values = task.objective_function.evaluate(info.config, rows[i]["fidelity"]).values
                    costs = tuple(v if m else -v for v, m in zip(values, minimize))
                    value = TrialValue(cost=costs if len(costs) > 1 else costs[0], status=Status.SUCCESS,
                                       time=0.0, virtual_time=0.0)
                optimizer.tell(info, value)
        info = optimizer.ask()
        _check_trials(task, [{"config": dict(info.config),
                              "fidelity": (info.fidelity or task.fidelity.max) if task.fidelity else None}])
    finally:
        optimizer.close()


def test_batched_runs_conform(case: Case, workspace):
    """A run with batch_size 3 (make run BATCH=3) goes through ask_batch and spends the budget as
    the sequential run does; every trial passes the same checks."""
    outcome, trials = _run(case, workspace, 0, "q", batch_size=3)
    result = outcome.result
    assert result.stop_reason == "budget" and result.budget_used <= N_TRIALS + 1e-9
    if case.task_type.multi_fidelity:  # a batch is cut at the first trial that would overshoot
        assert result.budget_used > N_TRIALS - 1.0 - 1e-9
    else:
        assert result.n_trials == N_TRIALS
    assert outcome.directory.parts[-4].endswith("_q3")


def test_declarations(variant):
    """Declared capabilities are well formed, and undeclared task types are refused up front."""
    from carps_like.optimizer import HYPERPARAMETER_KINDS, NOISE_HANDLING

    cls = variant.cls
    assert cls.task_types, "declares no task type"
    assert cls.noise_handling in NOISE_HANDLING
    assert set(cls.hyperparameters) <= set(HYPERPARAMETER_KINDS)
    assert "float" in cls.hyperparameters or "integer" in cls.hyperparameters
    for task_type in TYPE_ORDER:
        case = Case(variant, task_type, "determinism")
        task = build_task(case.task_config())
        if task_type in cls.task_types:
            cls.check_task(task)
        else:
            with pytest.raises(IncompatibleError, match=task_type.value):
                cls.check_task(task)
    for kind in set(HYPERPARAMETER_KINDS) - set(cls.hyperparameters):
        assert kind in (cls.incompatibility(variant.primary_type, {f"n_{kind}": 1}) or "")
    if not cls.supports_conditions:
        assert "conditional" in cls.incompatibility(variant.primary_type, {"n_conditions": 1})
    if not cls.supports_forbiddens:
        assert "forbidden" in cls.incompatibility(variant.primary_type, {"n_forbiddens": 1})
