"""One trial schema from the runner to Parquet, and one incumbent definition (issue 20, item 3).

Real runs through `run_cell` (the production path), read back by `gather` as the analysis does.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis.gather import RUNS_TABLE, TRIALS_TABLE, gather
from analysis.normalize import Options, eligible_mask, incumbent_costs
from analysis.tasks import task_infos
from carps_like import registry
from carps_like.experiment import run_cell
from carps_like.store import RUN_IDENTITY, TRIAL_FIELDS, TRIAL_SCHEMA, TRIALS_FILE, TRIALS_PARQUET, read_run_json

IDENTITY = [name for name, _ in RUN_IDENTITY]
RUNS = (("dehb", "toy/mf", 6), ("randomsearch", "toy/momf", 6), ("randomsearch", "toy/bb", 8), ("randomsearch", "toy/mo", 8))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    dirs = {}
    for opt, task_id, n_trials in RUNS:
        cfg = {**registry.get_task(task_id).config, "budget": {"n_trials": n_trials, "time_limit": None}}
        for seed in (1, 2):
            outcome = run_cell(registry.get_optimizer_config(opt), cfg, seed, out=out, study="schema")
            assert outcome.status == "complete"
            dirs[(opt, task_id, seed)] = outcome.directory
    return out, dirs


def test_the_runner_rows_are_the_stored_rows(study):
    """trials.jsonl lines, trials.parquet and gather's table hold the same fields, in the
    runner's order; nothing is derived on the way (no stored `cost` beside `costs`)."""
    out, dirs = study
    for directory in dirs.values():
        lines = [json.loads(line) for line in (directory / TRIALS_FILE).read_text().splitlines()]
        assert lines and all(list(line) == list(TRIAL_FIELDS) for line in lines)
        assert pq.read_schema(directory / TRIALS_PARQUET).names == IDENTITY + list(TRIAL_FIELDS)
    g = gather([out], out=out / "gathered")
    assert pq.read_schema(out / "gathered" / TRIALS_TABLE).names == ["run_key", *IDENTITY, *TRIAL_FIELDS]
    # what the analysis reads: `cost` is the first objective's cost, derived in memory only
    first = [c[0] if c is not None else math.nan for c in g.trials["costs"]]
    np.testing.assert_array_equal(g.trials["cost"].to_numpy(float), np.array(first, float))
    # `config` is JSON text in every table and decodes to what the runner recorded
    recorded = json.loads((dirs[("randomsearch", "toy/bb", 1)] / TRIALS_FILE).read_text().splitlines()[0])["config"]
    key = str(dirs[("randomsearch", "toy/bb", 1)].resolve())
    assert json.loads(g.trials[(g.trials["run_key"] == key) & (g.trials["trial"] == 0)]["config"].iloc[0]) == recorded


def test_task_metadata_is_decoded_once_whatever_the_source(study):
    """Run directories and re-read gathered tables give the analysis the same dicts."""
    out, dirs = study
    fresh = gather([out], out=out / "regathered")
    again = gather([out / "regathered" / TRIALS_TABLE])
    for g in (fresh, again):
        meta = g.runs.set_index("run_key")["task_metadata"]
        assert all(isinstance(m, dict) and m.get("type") for m in meta)
    by_task = lambda g: {t: m for t, m in zip(g.runs["task_id"], g.runs["task_metadata"])}  # noqa: E731
    assert by_task(fresh) == by_task(again) and by_task(fresh)["toy/mf"]["fidelity"]["max"] == 9.0


def test_tables_written_by_the_old_schema_still_read(study, tmp_path):
    """Gathered tables from before (with a stored `cost` column, e.g. the shipped baselines) read
    into the same schema; `cost` is derived from `costs` again."""
    out, _ = study
    gather([out], out=tmp_path / "now")
    old = pq.read_table(tmp_path / "now" / TRIALS_TABLE)
    costs = [c[0] if c else math.nan for c in old["costs"].to_pylist()]
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    pq.write_table(old.append_column("cost", [costs]), old_dir / TRIALS_TABLE)
    (old_dir / RUNS_TABLE).write_bytes((tmp_path / "now" / RUNS_TABLE).read_bytes())
    g = gather([old_dir / TRIALS_TABLE])
    np.testing.assert_array_equal(g.trials["cost"].to_numpy(float), np.array(costs, float))


def test_the_runner_incumbent_is_the_analysis_incumbent(study):
    """One definition: the stored `incumbent_cost` after every trial, and run.json's incumbent,
    equal what the report computes by default (full-fidelity evaluations only). DEHB starts at
    low fidelities, where the old runner already named an incumbent the report did not have."""
    out, dirs = study
    g = gather([out])
    infos = task_infos(g.runs)
    low_fidelity_before_full = 0
    for (opt, task_id, seed), directory in dirs.items():
        if infos[task_id].multi_objective:
            continue
        key = str(directory.resolve())
        t = g.trials[g.trials["run_key"] == key].sort_values("trial")
        info = infos[task_id]
        fid = t["fidelity"].to_numpy(float)
        eligible = eligible_mask(t["status"].to_numpy(), fid, info, Options())
        expected = incumbent_costs(t["cost"].to_numpy(float), eligible, None, fid, Options(), False)
        stored = t["incumbent_cost"].to_numpy(float)
        np.testing.assert_array_equal(stored, expected)
        summary = read_run_json(directory)["incumbent"]
        assert (summary["cost"] is None and np.isnan(expected[-1])) or summary["cost"] == expected[-1]
        if info.fidelity_max is not None:
            first_full = int(np.argmax(eligible)) if eligible.any() else len(t)
            low_fidelity_before_full += int((t["status"].iloc[:first_full] == "SUCCESS").sum())
    assert low_fidelity_before_full > 0  # the case that tells the two old definitions apart


def test_docs_table_is_the_schema():
    """docs/results.md lists every stored column with its type, in the schema's order."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([\w<>0-9]+) \|", text, flags=re.M)
    assert rows == [*RUN_IDENTITY, *TRIAL_SCHEMA]
