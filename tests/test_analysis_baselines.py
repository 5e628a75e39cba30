"""Full-set collection in passes and the shipped baselines, on real small runs (run_cell)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.gather import gather
from analysis.subsets import budget_cap, merge_by_task
from analysis_runs import make_runs
from workflows import baselines
from workflows.subsets import collect

REF = ["randomsearch", "optuna", "ng_de"]


def _cfg(out):
    return {"out": str(out), "data_version": "test-v0", "seeds": 2, "baseline_seeds": 2,
            "types": {"bb": {"reference": REF, "k": 1}}}


def test_budget_cap_prefers_type_then_collection_then_default():
    cfg = {"budget_cap": 100, "budget_caps": {"sklearn": 20, "mf/sklearn": 10}}
    assert budget_cap(cfg, "mf", "sklearn/rf_iris_mf") == 10
    assert budget_cap(cfg, "bb", "sklearn/rf_iris_bb") == 20
    assert budget_cap(cfg, "bb", "bbob/f1_d2_i1") == 100
    assert budget_cap({}, "bb", "bbob/f1_d2_i1") is None


def test_merge_takes_each_task_whole_from_one_side():
    shipped = pd.DataFrame({"task_id": ["A", "A", "B", "B"], "optimizer_id": ["a", "b", "a", "b"], "score": [1, 2, 3, 4]})
    fresh = pd.DataFrame({"task_id": ["B", "C"], "optimizer_id": ["a", "a"], "score": [30, 50]})
    merged = merge_by_task(shipped, fresh).sort_values(["task_id", "optimizer_id"])
    assert merged[["task_id", "optimizer_id", "score"]].values.tolist() == [["A", "a", 1], ["A", "b", 2], ["B", "a", 30],
                                                                            ["C", "a", 50]]
    assert merge_by_task(None, fresh).equals(fresh)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    make_runs(out, study="test-v0", plan={"bb": (REF, ["toy/bb", "bbob/f1_d2_i1"])})
    return out


def test_collect_in_passes_keeps_tasks_not_rerun(runs, tmp_path):
    data = tmp_path / "test-v0.parquet"
    first = pd.read_parquet(collect(_cfg(runs), out=data))
    assert len(first) == 2 * len(REF) * 2 and first["score"].notna().all()
    manifest = json.loads(data.with_suffix(".json").read_text())
    assert manifest["runs"] == 12 and manifest["tasks_per_type"] == {"bb": 2}
    # a second pass whose run directory holds only one task, rescored on request, keeps the other task's rows
    second_runs = tmp_path / "second"
    make_runs(second_runs, study="test-v0", plan={"bb": (REF, ["toy/bb"])})
    merged = pd.read_parquet(collect(_cfg(second_runs), out=data, rescore=["toy/*"]))
    pd.testing.assert_frame_equal(merged, first)  # same seeds, same runs: the same rows back
    assert json.loads(data.with_suffix(".json").read_text())["last_collect"]["rows_kept_from_previous_file"] == 6


def test_collect_does_not_rescore_shipped_tasks_from_other_runs_unless_asked(runs, tmp_path, capsys):
    """A run directory with other runs of a task already in the file (another CPU, older code) must
    not silently change its shipped scores: only tasks the file lacks come in, unless --rescore."""
    from carps_like import registry
    from carps_like.experiment import run_cell

    from analysis_runs import task_config

    data = tmp_path / "test-v0.parquet"
    first = pd.read_parquet(collect(_cfg(runs), out=data))
    other = tmp_path / "other"
    for opt in REF:
        for seed in (1, 2):  # shorter runs of a shipped task: other final costs
            run_cell(registry.get_optimizer_config(opt), task_config("bbob/f1_d2_i1", n_trials=3), seed, out=other,
                     study="test-v0")
    make_runs(other, study="test-v0", plan={"bb": (REF, ["bbob/f2_d2_i1"])})  # a task the file lacks
    kept = pd.read_parquet(collect(_cfg(other), out=data))
    assert "1 tasks with runs here are already in test-v0.parquet" in capsys.readouterr().out
    pd.testing.assert_frame_equal(kept[kept["task_id"] != "bbob/f2_d2_i1"].reset_index(drop=True), first)
    assert (kept["task_id"] == "bbob/f2_d2_i1").sum() == len(REF) * 2
    assert json.loads(data.with_suffix(".json").read_text())["last_collect"]["tasks_with_runs_here_kept_as_they_were"] == 1
    rescored = pd.read_parquet(collect(_cfg(other), out=data, rescore=["bbob/f1_*"])).set_index(["task_id", "optimizer_id", "seed"])
    old = first.set_index(["task_id", "optimizer_id", "seed"]).loc["bbob/f1_d2_i1"]
    assert not rescored.loc["bbob/f1_d2_i1", "final_cost"].equals(old["final_cost"])
    collect(_cfg(other), out=data, rescore=["bbob/f1_d2_i1", "bbob/no_such*"])  # a pattern that matches nothing is named
    assert "--rescore bbob/no_such*: no task of test-v0.parquet has runs here" in capsys.readouterr().out
    # nothing new and nothing to rescore: the file stays as it is
    again = pd.read_parquet(collect(_cfg(other), out=data, rescore=[]))
    pd.testing.assert_frame_equal(again, rescored.reset_index()[again.columns].sort_values(
        ["task_type", "task_id", "optimizer_id", "seed"]).reset_index(drop=True))


def test_baselines_are_relative_complete_and_gatherable(runs, tmp_path):
    cfg = _cfg(runs)
    out = baselines.collect(cfg, tasks={"bb": ["bbob/f1_d2_i1"]}, out=tmp_path / "b")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == len(REF) * 2 and manifest["budget_n_trials"] == {"bbob/f1_d2_i1": 8}
    g = gather([out])
    assert set(g.runs["task_id"]) == {"bbob/f1_d2_i1"} and set(g.runs["optimizer_id"]) == set(REF)
    assert not g.runs["run_key"].str.startswith("/").any() and set(g.trials["run_key"]) == set(g.runs["run_key"])
    assert (g.runs["status"] == "complete").all() and len(g.trials) == len(REF) * 2 * 8


def test_baselines_keep_the_shipped_runs_of_tasks_the_run_directory_lacks(runs, tmp_path):
    """When the subsets change, only the tasks that came in are run: collect takes every other
    task whole from the baselines already in `out` (the full-set study is not shipped)."""
    tasks = {"bb": ["toy/bb", "bbob/f1_d2_i1"]}
    out = baselines.collect(_cfg(runs), tasks=tasks, out=tmp_path / "b")
    first = gather([out])
    only_toy = tmp_path / "only_toy"
    make_runs(only_toy, study="test-v0", plan={"bb": (REF, ["toy/bb"])})
    again = gather([baselines.collect(_cfg(only_toy), tasks=tasks, out=out)])
    for frame in ("runs", "trials"):
        a, b = getattr(first, frame), getattr(again, frame)
        cols = [c for c in a.columns  # what a rerun of toy/bb reproduces (not its clocks)
                if "time" not in c and c not in ("started", "finished", "host", "git_revision", "versions", "elapsed")]
        key = ["run_key", "trial"] if frame == "trials" else ["run_key"]
        pd.testing.assert_frame_equal(a[cols].sort_values(key).reset_index(drop=True),
                                      b[cols].sort_values(key).reset_index(drop=True), check_dtype=False)
    with pytest.raises(ValueError, match="baselines need 12 finished runs, found 6"):  # nothing shipped in a new out
        baselines.collect(_cfg(only_toy), tasks=tasks, out=tmp_path / "new")


def test_baselines_refuse_missing_runs(runs, tmp_path):
    cfg = dict(_cfg(runs), baseline_seeds=3)  # seed 3 was never run
    with pytest.raises(ValueError, match="baselines need 18 finished runs, found 12"):
        baselines.collect(cfg, tasks={"bb": ["toy/bb", "bbob/f1_d2_i1"]}, out=tmp_path / "b")


def test_collect_ignores_the_baselines_extra_seeds_and_other_optimizers(runs, tmp_path):
    cfg = dict(_cfg(runs), seeds=1, types={"bb": {"reference": REF[:2], "k": 1}})
    final = pd.read_parquet(collect(cfg, out=tmp_path / "d.parquet"))
    assert set(final["seed"]) == {1} and set(final["optimizer_id"]) == set(REF[:2]) and len(final) == 4
