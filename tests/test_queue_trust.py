"""Data is not code: a queue database names only trusted classes, a results directory only catalogue
task ids. Real SQLite queues, real workers (in this process, so the classes below are importable
by their module name), real task configs."""
from __future__ import annotations

import copy
import json
import os
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from carps_like import registry
from queue_helpers import cell_rows, register, toy_cells, trial_counts

#: instances of Marker built so far: any entry means a queued or results-directory config ran our code
BUILT: list[str] = []


class Marker:
    """Stands for an attacker's code: records that it was instantiated (and accepts anything)."""

    objectives = [SimpleNamespace(minimize=True)] * 2  # enough of a two-objective task for true_front

    def __init__(self, *args, **kwargs) -> None:
        BUILT.append(type(self).__name__)

    @staticmethod
    def pareto_front():
        return [[0.0, 1.0], [1.0, 0.0]]


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv("CARPS_LIKE_TRUSTED_TARGETS", raising=False)
    BUILT.clear()


def _work(url):
    from carps_like.queue.worker import work

    return work(url, heartbeat_interval=0.5, heartbeat_timeout=5, quiet=True)


def _cell(seed: int, adapter: str | None = None, **objective) -> dict:
    cell = copy.deepcopy(toy_cells(n_trials=4)[0])
    cell["seed"] = seed
    if adapter:
        cell["optimizer_config"] = {"id": "evil", "adapter": {"_target_": adapter}}
    cell["task_config"]["objective_function"].update(objective)
    return cell


def test_workers_refuse_untrusted_targets_at_any_depth_and_go_on(tmp_path):
    """Whoever can write a shared queue must not run code on every worker: an adapter outside the
    project, a nested objective argument, a trusted module's import (Hydra walks attributes) and an
    environment interpolation are each refused, the cell marked failed with why; the worker goes on."""
    url = f"sqlite:///{tmp_path / 'q.db'}"
    evil = {
        2: _cell(2, adapter=f"{__name__}.Marker"),
        3: _cell(3, extra=[{"_target_": f"{__name__}.Marker"}]),
        4: _cell(4, _target_="benchmarks.toy.ConfigurationSpace"),
        5: _cell(5, delay="${oc.env:HOME}"),
    }
    engine = register(url, "s", [_cell(1), *evil.values()])
    assert _work(url) == {"complete": 1, "failed": 4}
    rows = {r.seed: r for r in cell_rows(engine)}
    assert rows[1].status == "complete"
    assert BUILT == []  # no untrusted code ran
    for seed, why in ((2, f"optimizer_config.adapter._target_ '{__name__}.Marker' is outside the trusted modules"),
                      (3, "task_config.objective_function.extra[0]._target_"),
                      (4, "is not a class defined there (it is ConfigSpace"),
                      (5, "task_config.objective_function.delay '${oc.env:HOME}' is an interpolation")):
        assert rows[seed].status == "failed" and why in (rows[seed].error or ""), (seed, rows[seed].error)
        assert json.loads(rows[seed].summary)["stop_reason"] == "refused"
        assert (rows[seed].id, 1) not in trial_counts(engine)
    assert "carps_like, benchmarks, optimizers" in rows[2].error and "CARPS_LIKE_TRUSTED_TARGETS" in rows[2].error
    engine.dispose()


def test_contributor_modules_run_once_listed_in_the_trusted_prefixes(tmp_path, monkeypatch):
    """Tests and contributors keep classes outside the project's packages (tests/analysis_runs.py):
    refused by default, they run on workers that list their module in CARPS_LIKE_TRUSTED_TARGETS;
    a prefix matches whole module names only, and a malformed list stops the worker before a claim."""
    from carps_like.errors import UserError

    from analysis_runs import FAILING

    url = f"sqlite:///{tmp_path / 'q.db'}"
    cell = dict(_cell(1), optimizer_id="failing", optimizer_config=FAILING)
    engine = register(url, "s", [cell])
    _work(url)
    (row,) = cell_rows(engine)
    assert row.status == "failed" and "'analysis_runs.FailingRandomSearch' is outside the trusted modules" in row.error

    monkeypatch.setenv("CARPS_LIKE_TRUSTED_TARGETS", "analysis_run,nothing.here")  # a prefix of the name, not a module
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cells SET status = 'pending'"))
    _work(url)
    assert "outside the trusted modules" in cell_rows(engine)[0].error

    monkeypatch.setenv("CARPS_LIKE_TRUSTED_TARGETS", " analysis_runs , ")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cells SET status = 'pending'"))
    _work(url)
    (row,) = cell_rows(engine)
    assert row.status == "failed" and "optimizer broke on purpose" in row.error  # it ran, and broke as designed
    assert trial_counts(engine)[(row.id, row.attempt)] >= 3

    monkeypatch.setenv("CARPS_LIKE_TRUSTED_TARGETS", "*")
    with pytest.raises(UserError, match=r"CARPS_LIKE_TRUSTED_TARGETS: '\*' is not a module prefix \(accepted: "):
        _work(url)
    engine.dispose()


def test_true_front_reads_only_catalogue_task_ids(tmp_path):
    """A run's task_id is data from a results directory: `../../x` must not pick a YAML file outside
    configs/task (whose `_target_` would be imported and built); catalogue ids still get their front."""
    from analysis.tasks import true_front

    cfg = copy.deepcopy(registry.get_task("pymoo/zdt1_d5").config)
    cfg["objective_function"] = {"_target_": f"{__name__}.Marker"}
    (tmp_path / "evil.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    evil_id = os.path.relpath(tmp_path / "evil", registry.CONFIG_DIR / "task")
    assert evil_id.startswith("..")
    true_front.cache_clear()
    assert true_front(evil_id) is None
    assert BUILT == []  # the file's target was never instantiated
    assert true_front("pymoo/../pymoo/zdt1_d5") is None  # not a catalogue id, though the path exists
    front = true_front("pymoo/zdt1_d5")
    assert front is not None and front.shape[1] == 2


def test_every_shipped_config_is_trusted():
    """The check must refuse no real study: every optimizer config and each task collection's
    objective class pass as they are."""
    from carps_like.trust import check_config

    for name, cfg in registry.optimizers().items():
        check_config(cfg, name)
    by_target = {e.config["objective_function"]["_target_"]: e for e in registry.tasks().values()}
    assert len(by_target) >= 10
    for entry in by_target.values():
        check_config(entry.config, entry.id)
