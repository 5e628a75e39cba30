"""Batched runs in the analysis: the run table's batch_size and the batch-aware virtual-time axis."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from analysis.anytime import _x_events, compute
from analysis.gather import RUNS_TABLE, gather
from analysis.normalize import Options
from carps_like import registry
from carps_like.experiment import run_cell


def _trials(key: str, opt: list[float], virt: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"run_key": key, "trial": range(len(opt)), "optimizer_time": opt, "virtual_time": virt,
                         "budget_used": np.arange(1, len(opt) + 1, dtype=float)})


def test_virtual_time_of_a_batch_is_its_optimizer_time_plus_its_longest_evaluation():
    opt = [0.1, 0.2, 0.3, 0.4, 0.5]
    virt = [5.0, 1.0, 2.0, 7.0, 3.0]
    tr = pd.concat([_trials("seq", opt, virt), _trials("q2", opt, virt)], ignore_index=True)
    x = _x_events(tr, "virtual_time", pd.Series(dtype=float), pd.Series({"seq": 1, "q2": 2}))
    assert np.allclose(x[:5], np.cumsum(np.add(opt, virt)))  # sequential: every trial after the last
    b1, b2, b3 = 0.3 + 5.0, 0.7 + 7.0, 0.5 + 3.0  # batches {0,1}, {2,3}, {4}
    assert np.allclose(x[5:], [b1, b1, b1 + b2, b1 + b2, b1 + b2 + b3])
    no_sizes = _x_events(tr, "virtual_time", pd.Series(dtype=float))
    assert np.allclose(no_sizes[5:], np.cumsum(np.add(opt, virt)))  # tables without batch_size: sequential


def test_gather_records_batch_size_and_old_tables_read_as_sequential(tmp_path):
    task_cfg = {**registry.get_task("toy/bb").config, "budget": {"n_trials": 6}}
    rs = registry.get_optimizer_config("randomsearch")
    for cfg in (rs, {**rs, "batch_size": 3}):
        assert run_cell(cfg, task_cfg, 1, out=tmp_path / "runs", study="s").status == "complete"
    g = gather([tmp_path / "runs"], out=tmp_path / "gathered")
    sizes = dict(zip(g.runs["optimizer_id"], g.runs["batch_size"]))
    assert sizes == {"randomsearch": 1, "randomsearch_q3": 3}
    perf = compute(g, Options(x_axis="virtual_time"))
    assert set(perf.final["optimizer_id"]) == {"randomsearch", "randomsearch_q3"}
    # a runs table gathered before batch_size existed (the shipped baselines): read as sequential
    runs_file = tmp_path / "gathered" / RUNS_TABLE
    pq.write_table(pq.read_table(runs_file).drop_columns(["batch_size"]), runs_file)
    old = gather([tmp_path / "gathered"])
    assert list(old.runs["batch_size"]) == [1, 1]


def test_queue_cells_report_their_batch_size(tmp_path):
    from carps_like.queue import cells as Q
    from carps_like.queue.db import make_engine

    q = 2
    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = make_engine(url, create=True)
    task_cfg = {**registry.get_task("toy/bb").config, "budget": {"n_trials": 4}}
    Q.register(engine, "s", [{"optimizer_id": f"randomsearch_q{q}", "task_id": "toy/bb", "seed": 1, "task_config": task_cfg,
                              "optimizer_config": {**registry.get_optimizer_config("randomsearch"), "batch_size": q}}])
    engine.dispose()
    runs = gather([url]).runs  # a pending cell: its batch size comes from the registered config
    assert list(runs["batch_size"]) == [q] and list(runs["status"]) == ["incomplete"]
