"""configs/task/ must match the task collections exactly, and every taskset must name real tasks."""
from __future__ import annotations

from collections import Counter

import pytest

from carps_like import registry
from carps_like.catalog import all_specs, collections, render


@pytest.fixture(scope="module")
def specs():
    return all_specs()


def test_every_collection_task_has_an_up_to_date_config(specs):
    stale = []
    for spec in specs:
        path = registry.CONFIG_DIR / "task" / f"{spec.id}.yaml"
        if not path.exists() or path.read_text() != render(spec):
            stale.append(spec.id)
    assert not stale, f"{len(stale)} task configs are missing or stale (run `make task-configs`): {stale[:5]}"


def test_no_config_without_a_collection_task(specs):
    ids = {s.id for s in specs}
    orphans = [tid for tid in registry.tasks() if tid not in ids]
    assert not orphans, f"configs without a task in {collections()}: {orphans[:5]}"


def test_shipped_baselines_describe_the_tasks_as_they_are_now():
    """`make compare` refuses a task whose definition (its metadata's fingerprint) differs from the
    baselines': a change to a task in a subset (a surrogate version, a dataset) must come with new baselines."""
    import json

    import pandas as pd
    import yaml

    from workflows.baselines import BASELINE_DIR

    runs = pd.read_parquet(BASELINE_DIR / "fullset-v1" / "runs.parquet", columns=["task_id", "task_metadata"])
    changed = []
    for task_id, stored in runs.drop_duplicates().itertuples(index=False):
        current = yaml.safe_load((registry.CONFIG_DIR / "task" / f"{task_id}.yaml").read_text())["metadata"]
        if json.loads(stored) != current:
            changed.append(task_id)
    assert runs["task_id"].nunique() > 100 and not changed, f"tasks changed since the baselines: {changed[:5]}"


def test_collections_are_discovered_from_the_source_without_importing(tmp_path):
    package = tmp_path / "benchmarks"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("def task_specs():\n    return []\n")
    (package / "sub" / "b.py").write_text("import no_such_module\n\n\ndef task_specs():\n    return []\n")
    (package / "helper.py").write_text('def other():\n    """not a collection: def task_specs() is not at the top"""\n')
    assert collections(package) == ("benchmarks.a", "benchmarks.sub.b")
    assert "benchmarks.toy" in collections() and "benchmarks.lm.tinylm" in collections()


def test_bbob_covers_24_functions_5_dimensions_3_instances():
    bbob = [e for e in registry.tasks().values() if e.collection == "bbob"]
    assert len(bbob) == 24 * 5 * 3
    assert Counter(e.metadata["dimensions"] for e in bbob) == {d: 72 for d in (2, 3, 5, 10, 20)}


def test_every_task_type_is_offered():
    types = Counter(e.metadata["type"] for e in registry.tasks().values() if e.collection != "toy")
    assert set(types) == {"bb", "mf", "mo", "momf"}, types


@pytest.mark.parametrize("name", sorted(registry.tasksets()))
def test_tasksets_name_existing_tasks(name):
    members = registry.tasksets()[name]["tasks"]
    assert members and len(set(members)) == len(members)
    for tid in members:
        registry.get_task(tid)


@pytest.mark.parametrize("task_type", ["bb", "mf", "mo", "momf"])
def test_subsets_hold_one_task_type_and_dev_is_the_default(task_type):
    sets = registry.tasksets()
    dev, test = sets[f"subset_{task_type}_dev"]["tasks"], sets[f"subset_{task_type}_test"]["tasks"]
    assert sets[f"subset_{task_type}"]["tasks"] == dev and 10 <= len(dev) == len(test) <= 30
    assert {registry.get_task(t).metadata["type"] for t in dev + test} == {task_type} and not set(dev) & set(test)


def _one_task_per_collection_and_type():
    seen = {}
    for entry in registry.tasks().values():
        seen.setdefault((entry.collection, entry.metadata["type"]), entry.id)
    return sorted(seen.values())


@pytest.mark.parametrize("task_id", _one_task_per_collection_and_type())
def test_random_search_runs_a_sample_of_every_collection(tmp_path, task_id):
    from carps_like.experiment import run_cell

    cfg = dict(registry.get_task(task_id).config, budget={"n_trials": 2, "time_limit": None})
    rs = {"id": "randomsearch", "adapter": {"_target_": "optimizers.randomsearch.RandomSearch"}}
    outcome = run_cell(rs, cfg, seed=1, out=tmp_path)
    assert outcome.status == "complete" and outcome.result.n_trials == 2
    assert all(r["status"] == "SUCCESS" for r in outcome.result.rows)
