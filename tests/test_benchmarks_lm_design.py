"""The refine stage of the tinylm sweep (benchmarks.lm.design): chosen where the surrogate predicts the best
losses, spread out, stored once in the manifest and reused on resume. Real tiny training runs (smoke profile)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.lm import surrogate as sg
from benchmarks.lm.design import choose, farthest_points
from benchmarks.lm.sweep import manifest_path, read_runs, sobol_points, sweep, to_hparams

REFINE = {"n_configs": 3, "n_seeds": 2, "pool": 64, "candidates": 8}
SMALL = {"n_configs": 8, "seeds_subset": 0, "n_seeds": 1, "tokens": 2**10, "device": "cpu", "progress": False}


def test_farthest_points_start_at_the_first_row_and_spread_out():
    points = np.array([[0.4, 0.4], [0.52, 0.5], [0.0, 0.0], [1.0, 1.0], [0.41, 0.41]])
    assert farthest_points(points, 3) == [0, 3, 2]  # not 1 or 4, near copies of row 0
    assert sorted(farthest_points(points, 10)) == [0, 1, 2, 3, 4]  # at most every row, once


@pytest.fixture(scope="module")
def refined(tmp_path_factory):
    out = tmp_path_factory.mktemp("refine") / "runs-smoke.jsonl"
    manifest = sweep(out, "smoke", refine=REFINE, **SMALL)
    return out, manifest


def test_refine_runs_follow_the_sobol_stage_with_their_seeds(refined):
    out, manifest = refined
    runs = read_runs(out)
    ids = [r["config_id"] for r in runs]
    assert ids[:8] == [f"c{i:04d}" for i in range(8)]  # the Sobol stage first
    assert sorted((r["config_id"], r["seed"]) for r in runs[8:]) == [(f"r{i:04d}", s) for i in range(3) for s in (0, 1)]
    [refine] = manifest["refine"]  # one round
    assert manifest["n_runs"] == manifest["n_runs_planned"] == 8 + 3 * 2
    assert refine["fitted_on"]["n_runs"] == 8 and refine["n_seeds"] == 2 and refine["model"] == sg.DEFAULT_MODEL
    by_id = {r["config_id"]: r["hparams"] for r in runs}
    assert all(by_id[cid][k] == v for cid, hp in refine["configs"] for k, v in hp.items())


def test_refine_configurations_are_the_best_predicted_of_the_pool(refined, tmp_path):
    out, manifest = refined
    sobol_only = tmp_path / "runs-smoke.jsonl"
    sobol_only.write_text("".join(line + "\n" for line in out.read_text().splitlines()[:8]))
    again = choose(sobol_only, "smoke", **{k: REFINE[k] for k in ("n_configs", "pool", "candidates")})
    assert again["configs"] == manifest["refine"][0]["configs"]  # deterministic: the same data, the same choice
    fitted = sg.fit(sg.load_dataset(sobol_only))
    pool = [to_hparams("smoke", p) for p in sobol_points("smoke", REFINE["pool"], 1)]
    predicted = fitted.predict_curves(pool)[:, -1]
    chosen = fitted.predict_curves([hp for _, hp in again["configs"]])[:, -1]
    assert chosen[0] == predicted.min()  # the best predicted first
    assert chosen.max() <= np.sort(predicted)[REFINE["candidates"] - 1]  # all among the candidates
    assert chosen.max() < np.median(predicted)


def test_resume_reuses_the_stored_choice_and_reruns_only_what_is_missing(refined, tmp_path):
    out, manifest = refined
    copy = tmp_path / out.name
    lines = out.read_text().splitlines()
    copy.write_text("".join(line + "\n" for line in lines[:-1]))  # the last refine run was lost
    stored = json.loads(manifest_path(out).read_text())
    manifest_path(copy).write_text(json.dumps(stored))
    again = sweep(copy, "smoke", refine=REFINE, **SMALL)
    runs = read_runs(copy)
    assert len(runs) == len(lines) and [r["config_id"] for r in runs[:-1]] == [json.loads(x)["config_id"] for x in lines[:-1]]
    assert again["refine"][0]["configs"] == stored["refine"][0]["configs"]  # not chosen again on the new data
    with pytest.raises(ValueError, match="refine round 0 was chosen with"):
        sweep(copy, "smoke", refine={**REFINE, "n_configs": 4}, **SMALL)


def test_a_second_round_is_chosen_on_every_run_so_far_and_numbered_on(refined, tmp_path):
    out, manifest = refined
    copy = tmp_path / out.name
    copy.write_text(out.read_text())
    manifest_path(copy).write_text(manifest_path(out).read_text())
    again = sweep(copy, "smoke", refine={**REFINE, "rounds": 2}, **SMALL)
    first, second = again["refine"]
    assert first == manifest["refine"][0]  # round 0 kept as chosen
    assert second["round"] == 1 and second["fitted_on"]["n_runs"] == 8 + 3 * 2  # fitted on round 0's runs too
    assert second["pool_sobol_seed"] == first["pool_sobol_seed"] + 1  # another pool
    assert [cid for cid, _ in second["configs"]] == ["r0003", "r0004", "r0005"]
    runs = read_runs(copy)
    assert again["n_runs"] == again["n_runs_planned"] == len(runs) == 8 + 2 * 3 * 2
    assert sorted((r["config_id"], r["seed"]) for r in runs[14:]) == [(f"r{i:04d}", s) for i in (3, 4, 5) for s in (0, 1)]
    assert sweep(copy, "smoke", refine={**REFINE, "rounds": 2}, **SMALL)["refine"] == again["refine"]  # resumes: nothing new
    with pytest.raises(ValueError, match="holds 2 refine rounds, more than the 1 asked for"):
        sweep(copy, "smoke", refine=REFINE, **SMALL)


def test_a_manifest_written_before_rounds_existed_reads_as_round_0(refined, tmp_path):
    out, manifest = refined
    copy = tmp_path / out.name
    copy.write_text(out.read_text())
    old = {**manifest, "refine": {k: v for k, v in manifest["refine"][0].items() if k != "round"}}
    manifest_path(copy).write_text(json.dumps(old))
    again = sweep(copy, "smoke", refine=REFINE, **SMALL)
    assert again["n_runs"] == manifest["n_runs"] and again["refine"] == [{"round": 0, **old["refine"]}]


@pytest.mark.parametrize("refine", ["-1", "129"])
def test_an_impossible_refine_size_is_refused_with_the_accepted_range(refine, capsys):
    from benchmarks.lm.sweep import main

    with pytest.raises(SystemExit) as stop:
        main(["--instance", "help-s16", "--refine", refine])
    assert stop.value.code == 2 and f"--refine must be 0 (no refine stage) to 128 configurations, got {refine}" in \
        capsys.readouterr().err
    with pytest.raises(ValueError, match="1 <= n_configs <= candidates <= pool"):
        choose(Path("unused.jsonl"), "smoke", n_configs=int(refine), pool=64, candidates=8)


def test_a_sweep_loads_its_refine_model_before_the_first_run(tmp_path, monkeypatch):
    """The refine rounds of one sweep use the surrogate code it started with: loaded before any run, an edit of
    the model during the hour of training cannot split the rounds across versions (it did once, 2026-12-07)."""
    import sys

    from benchmarks.lm import sweep as sw

    import benchmarks.lm

    for name in ("design", "surrogate", "fitted_kernel"):  # as in a fresh process: not imported yet
        monkeypatch.delitem(sys.modules, f"benchmarks.lm.{name}", raising=False)
        monkeypatch.delattr(benchmarks.lm, name, raising=False)
    loaded = []

    def no_runs(*args, **kwargs):
        loaded.append({name for name in ("benchmarks.lm.design", "benchmarks.lm.surrogate") if name in sys.modules})
        return []

    monkeypatch.setattr(sw, "execute_runs", no_runs)
    sw.sweep(tmp_path / "runs.jsonl", "smoke", refine=REFINE, **SMALL)
    assert loaded == [{"benchmarks.lm.design", "benchmarks.lm.surrogate"}]
