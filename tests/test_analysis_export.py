"""IOHprofiler and COCO exports (analysis/export_ioh.py, export_coco.py, export.py) on real small runs.

The runs are made through the real API (run_cell) once per module: random search with 2 seeds and
10 trials on a BBOB task, toy/bb, toy/crashing (real crashes), an mfbbob task and toy/mo (to be
skipped), plus DEHB on toy/mf, whose early trials are low-fidelity.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.export import main as export_main
from analysis.export_coco import HEADER, export_coco, parse_info, tdat_triggers
from analysis.export_ioh import (
    ID_HIGH,
    ID_LOW,
    catalog_function_ids,
    export_ioh,
    stable_function_id,
    value_mask,
)
from analysis.gather import Gathered, gather

SEEDS = (1, 2)
RS_TASKS = ("bbob/f1_d2_i1", "toy/bb", "toy/crashing", "mfbbob/f1_d2_good", "toy/mo")
N_TRIALS = 10


def _task(task_id: str, n_trials: int) -> dict:
    from carps_like import registry

    cfg = dict(registry.get_task(task_id).config)
    cfg["budget"] = {"n_trials": n_trials, "time_limit": None}
    return cfg


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    from carps_like import registry
    from carps_like.experiment import run_cell

    root = tmp_path_factory.mktemp("runs")
    for task_id in RS_TASKS:
        for seed in SEEDS:
            out = run_cell(registry.get_optimizer_config("randomsearch"), _task(task_id, N_TRIALS), seed, out=root, study="t")
            assert out.status == "complete"
    out = run_cell(registry.get_optimizer_config("dehb"), _task("toy/mf", 5), 1, out=root, study="t")
    assert out.status == "complete"
    return root


@pytest.fixture(scope="module")
def gathered(runs_root) -> Gathered:
    return gather([runs_root])


def _copy(g: Gathered) -> Gathered:
    return Gathered(trials=g.trials.copy(deep=True), runs=g.runs.copy(deep=True))


def _trials(g: Gathered, optimizer: str, task_id: str, seed: int) -> pd.DataFrame:
    t = g.trials
    return t[(t.optimizer_id == optimizer) & (t.task_id == task_id) & (t.seed == seed)].sort_values("trial")


def _best(trials: pd.DataFrame, meta_fidelity_max: float | None = None) -> float:
    ok = trials.status.eq("SUCCESS") & trials.cost.notna()
    if meta_fidelity_max is not None:
        ok &= trials.fidelity >= meta_fidelity_max
    return float(trials.cost[ok].min())


# -- IOHprofiler -------------------------------------------------------------------------------
def _ioh_json(out: Path, optimizer: str, task_id: str) -> tuple[dict, Path]:
    """The meta-file of a task (by function name) and its folder."""
    name = {"bbob/f1_d2_i1": "Sphere"}.get(task_id, task_id.replace("/", "."))
    files = [p for p in (out / optimizer).glob("IOHprofiler_f*.json") if json.loads(p.read_text())["function_name"] == name]
    assert len(files) == 1, (task_id, list((out / optimizer).iterdir()))
    return json.loads(files[0].read_text()), files[0].parent


def _dat_blocks(path: Path) -> list[list[tuple[int, float | None, float]]]:
    """Runs of an IOH .dat file: rows (evaluations, raw_y or None, budget_used) after each header."""
    blocks = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[0] == "evaluations":
            assert parts == ["evaluations", "raw_y", "budget_used"]
            blocks.append([])
            continue
        assert len(parts) == 3, line
        blocks[-1].append((int(parts[0]), None if parts[1] == "None" else float(parts[1]), float(parts[2])))
    return blocks


@pytest.fixture(scope="module")
def ioh_out(gathered, tmp_path_factory):
    out = tmp_path_factory.mktemp("ioh")
    return out, export_ioh(gathered, out)


def test_ioh_meta_files_follow_the_analyzer_layout(ioh_out):
    out, result = ioh_out
    assert {p.parent.relative_to(out).parts[0] for p in result} == {"randomsearch", "dehb"}
    meta, folder = _ioh_json(out, "randomsearch", "bbob/f1_d2_i1")
    assert (meta["function_id"], meta["maximization"], meta["algorithm"]["name"]) == (1, False, "randomsearch")
    assert {"version", "suite", "function_name", "attributes", "scenarios"} <= set(meta)
    assert meta["attributes"] == ["evaluations", "raw_y", "budget_used"] and meta["run_attributes"] == ["seed"]
    (scenario,) = meta["scenarios"]
    assert scenario["dimension"] == 2 and (folder / scenario["path"]).is_file()
    assert [(r["instance"], r["seed"], r["evals"]) for r in scenario["runs"]] == [(1, 1, N_TRIALS), (1, 2, N_TRIALS)]
    toy, _ = _ioh_json(out, "randomsearch", "toy/bb")
    assert toy["function_id"] == stable_function_id("toy/bb") and toy["scenarios"][0]["runs"][0]["instance"] == 1


def test_ioh_values_round_trip_and_only_improvements_are_written(gathered, ioh_out):
    out, _ = ioh_out
    for task_id in ("bbob/f1_d2_i1", "toy/bb", "toy/crashing", "mfbbob/f1_d2_good"):
        meta, folder = _ioh_json(out, "randomsearch", task_id)
        scenario = meta["scenarios"][0]
        blocks = _dat_blocks(folder / scenario["path"])
        assert len(blocks) == len(scenario["runs"]) == len(SEEDS)
        for run, block in zip(scenario["runs"], blocks):
            best = _best(_trials(gathered, "randomsearch", task_id, run["seed"]))
            assert run["best"]["y"] == pytest.approx(best, rel=1e-12)
            evals = [e for e, _, _ in block]
            assert evals[0] == 1 and evals[-1] == run["evals"] == N_TRIALS and evals == sorted(set(evals))
            values = [y for _, y, _ in block[:-1] if y is not None]
            assert all(b < a for a, b in itertools.pairwise(values))  # improvements only (last line: the run's end)
            assert min(y for _, y, _ in block if y is not None) == pytest.approx(best, abs=1e-9)


def test_ioh_crashed_trials_count_but_give_no_value(gathered, tmp_path):
    g = _copy(gathered)
    crashed = g.trials.status.eq("CRASHED") & g.trials.task_id.eq("toy/crashing")
    assert crashed.any()
    g.trials.loc[crashed, "cost"] = -1e9  # a crash must never be read as a value
    result = export_ioh(g, tmp_path)
    meta, _ = _ioh_json(tmp_path, "randomsearch", "toy/crashing")
    for run in meta["scenarios"][0]["runs"]:
        trials = _trials(gathered, "randomsearch", "toy/crashing", run["seed"])
        assert run["evals"] == len(trials) and run["best"]["y"] == pytest.approx(_best(trials))
    assert not [s for s in result.skipped if s.task_id == "toy/crashing"]


def test_ioh_multi_fidelity_counts_budget_and_full_fidelity_values_only(gathered, ioh_out):
    out, _ = ioh_out
    trials = _trials(gathered, "dehb", "toy/mf", 1)
    assert (trials.fidelity < 9).any() and (trials.fidelity == 9).any()  # DEHB really used low fidelities
    meta, folder = _ioh_json(out, "dehb", "toy/mf")
    (run,) = meta["scenarios"][0]["runs"]
    assert run["evals"] == math.ceil(trials.budget_used.max() - 1e-9) == 5
    assert run["best"]["y"] == pytest.approx(_best(trials, meta_fidelity_max=9))
    (block,) = _dat_blocks(folder / meta["scenarios"][0]["path"])
    first_full = trials[trials.fidelity == 9].iloc[0]
    assert block[0][:2] == (1, None)  # no full-fidelity value in the first budget unit
    assert block[1][0] == math.ceil(first_full.budget_used - 1e-9) and block[1][1] == pytest.approx(first_full.cost, abs=1e-9)


def test_ioh_low_fidelity_values_are_ignored(gathered, tmp_path):
    g = _copy(gathered)
    rows = g.trials.index[(g.trials.task_id == "mfbbob/f1_d2_good") & (g.trials.trial == 3)]
    g.trials.loc[rows, ["fidelity", "cost"]] = [1.0, -1e9]  # a cheap, wildly good low-fidelity trial
    export_ioh(g, tmp_path)
    meta, _ = _ioh_json(tmp_path, "randomsearch", "mfbbob/f1_d2_good")
    for run in meta["scenarios"][0]["runs"]:
        assert run["best"]["y"] > 0


def test_ioh_exports_full_fidelity_runs_with_nan_fidelity_and_skips_name_the_optimizer(tmp_path, capsys):
    """Issue 17 item 2: an optimizer run at full fidelity records NaN fidelity on an mf task, which
    the analysis counts as the maximum (`eligible_mask`); the export must give its values too."""
    from carps_like import registry
    from carps_like.experiment import run_cell

    root = tmp_path / "runs"
    for task_id in ("toy/mf", "toy/momf"):
        out = run_cell(registry.get_optimizer_config("optuna_nsga2_full"), _task(task_id, 5), 1, out=root, study="t")
        assert out.status == "complete"
    g = gather([root])
    trials = _trials(g, "optuna_nsga2_full", "toy/mf", 1)
    assert trials.fidelity.isna().all() and trials.status.eq("SUCCESS").all()
    assert value_mask(trials, {"fidelity": {"max": 9}}).all()
    result = export_ioh(g, tmp_path / "ioh")
    meta, folder = _ioh_json(tmp_path / "ioh", "optuna_nsga2_full", "toy/mf")
    (run,) = meta["scenarios"][0]["runs"]
    assert run["evals"] == 5 and run["best"]["y"] == pytest.approx(_best(trials), rel=1e-12)
    (block,) = _dat_blocks(folder / meta["scenarios"][0]["path"])
    assert block[0] == (1, pytest.approx(trials.cost.iloc[0], abs=1e-9), 1.0)  # a value from the first trial on
    assert [(s.optimizer_id, s.task_id) for s in result.skipped] == [("optuna_nsga2_full", "toy/momf")]
    assert export_main([str(root), "--format", "ioh", "--out", str(tmp_path / "cli")]) == 0
    assert "skipped 1 runs: momf task: multi-objective" in (out := capsys.readouterr().out)
    assert "[optuna_nsga2_full on toy/momf]" in out  # the CLI names the optimizer of a skipped run


def test_ioh_skips_multi_objective_runs_with_a_reason(ioh_out):
    _, result = ioh_out
    skipped = {(s.task_id, s.seed): s.reason for s in result.skipped}
    assert set(skipped) == {("toy/mo", 1), ("toy/mo", 2)}
    assert all("multi-objective" in r for r in skipped.values())
    assert not any("toy.mo" in p.name for p in result)


def test_ioh_reexport_replaces_and_foreign_folders_are_kept(gathered, tmp_path):
    export_ioh(gathered, tmp_path)
    export_ioh(gathered, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dehb", "randomsearch"]  # no randomsearch-1
    (tmp_path / "randomsearch" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        export_ioh(gathered, tmp_path)


def test_function_ids_are_stable_16_bit_and_unique_over_the_catalog():
    ids = catalog_function_ids()
    assert len(set(ids.values())) == len(ids) and all(ID_LOW <= i <= ID_HIGH for i in ids.values())
    assert not any(t.startswith("bbob/") and re.match(r"bbob/f\d+_d\d+_i\d+$", t) for t in ids)
    assert stable_function_id("toy/bb") == ids["toy/bb"]
    assert stable_function_id("not/in_catalog") not in set(ids.values())


def test_ioh_export_of_100_runs_of_100_trials(gathered, tmp_path):
    """Many runs per scenario end up in one scenario (its speed is measured by perf/, not here)."""
    base = _trials(gathered, "randomsearch", "toy/bb", 1)
    run_row = gathered.runs[gathered.runs.run_key == base.run_key.iloc[0]].iloc[0]
    rng = np.random.default_rng(0)
    runs, trials = [], []
    for seed in range(100):
        t = pd.concat([base] * 10, ignore_index=True)
        t["run_key"], t["seed"], t["trial"] = f"k{seed}", seed, range(100)
        t["budget_used"], t["cost"] = np.arange(1.0, 101.0), rng.random(100)
        trials.append(t)
        runs.append({**run_row.to_dict(), "run_key": f"k{seed}", "seed": seed})
    g = Gathered(trials=pd.concat(trials, ignore_index=True), runs=pd.DataFrame(runs))
    export_ioh(g, tmp_path)
    meta, _ = _ioh_json(tmp_path, "randomsearch", "toy/bb")
    assert len(meta["scenarios"][0]["runs"]) == 100


# -- COCO --------------------------------------------------------------------------------------
def _coco_blocks(path: Path, dim: int) -> list[tuple[str, list[list[float]]]]:
    blocks = []
    for line in path.read_text().splitlines():
        if line.startswith("%"):
            blocks.append((line, []))
            continue
        parts = line.split()
        assert len(parts) == dim + 5, line  # cocopp drops rows of any other length
        blocks[-1][1].append([float(p) for p in parts])
    return blocks


@pytest.fixture(scope="module")
def coco_out(gathered, tmp_path_factory):
    out = tmp_path_factory.mktemp("coco")
    return out, export_coco(gathered, out)


def test_coco_files_follow_the_bbob_logger_layout(gathered, coco_out):
    out, result = coco_out
    folder = out / "randomsearch"
    assert sorted(p.relative_to(folder).as_posix() for p in result) == [
        "bbobexp_f1.info", "data_f1/bbobexp_f1_DIM2.dat", "data_f1/bbobexp_f1_DIM2.tdat"]
    (block,) = parse_info((folder / "bbobexp_f1.info").read_text())
    assert block["header"]["suite"] == "bbob" and block["header"]["funcId"] == "1" and block["header"]["DIM"] == "2"
    assert block["header"]["algId"] == "randomsearch" and block["header"]["data_format"] == "bbob-new2"
    assert block["comment"].startswith("%") and block["data_file"] == "data_f1/bbobexp_f1_DIM2.dat"
    fopt = gathered.runs.task_metadata[gathered.runs.task_id == "bbob/f1_d2_i1"].iloc[0]["optimum"][0]
    dat = _coco_blocks(folder / "data_f1/bbobexp_f1_DIM2.dat", 2)
    tdat = _coco_blocks(folder / "data_f1/bbobexp_f1_DIM2.tdat", 2)
    assert len(dat) == len(tdat) == len(block["runs"]) == len(SEEDS)
    for seed, (instance, maxevals, final), (dh, drows), (th, trows) in zip(SEEDS, block["runs"], dat, tdat):
        best = _best(_trials(gathered, "randomsearch", "bbob/f1_d2_i1", seed))
        assert dh == th == HEADER.format(fopt=fopt)
        assert instance == 1 and maxevals == N_TRIALS == trows[-1][0]
        for rows in (drows, trows):
            evals = [r[0] for r in rows]
            assert evals == sorted(set(evals)) and all(r[1] == 0 for r in rows)
            assert all(r[2] == pytest.approx(r[4] - fopt, abs=1e-8) for r in rows)  # best - Fopt vs best
        assert drows[0][0] == 1 and all(b[2] < a[2] for a, b in itertools.pairwise(drows))
        assert [r[0] for r in trows] == sorted(tdat_triggers(2, N_TRIALS) | {N_TRIALS})
        assert trows[-1][2] == pytest.approx(best - fopt, rel=1e-8) and trows[-1][4] == pytest.approx(best, rel=1e-9)
        assert final == pytest.approx(best - fopt, rel=0.06)  # written as %.1e


def test_coco_skips_everything_but_bbob_with_reasons(coco_out):
    _, result = coco_out
    reasons = {s.task_id: s.reason for s in result.skipped}
    assert set(reasons) == {"toy/bb", "toy/crashing", "mfbbob/f1_d2_good", "toy/mo", "toy/mf"}
    assert "not a BBOB task" in reasons["toy/bb"] and "multi-objective" in reasons["toy/mo"]


def test_coco_crashed_trials_are_evaluations_without_values(gathered, tmp_path):
    g = _copy(gathered)
    rows = g.trials.index[(g.trials.task_id == "bbob/f1_d2_i1") & (g.trials.seed == 1) & g.trials.trial.isin([0, 4])]
    g.trials.loc[rows, ["status", "cost"]] = ["CRASHED", -1e9]
    export_coco(g, tmp_path)
    folder = tmp_path / "randomsearch"
    (block,) = parse_info((folder / "bbobexp_f1.info").read_text())
    (_, drows), _ = _coco_blocks(folder / "data_f1/bbobexp_f1_DIM2.dat", 2)
    (_, trows), _ = _coco_blocks(folder / "data_f1/bbobexp_f1_DIM2.tdat", 2)
    trials = _trials(g, "randomsearch", "bbob/f1_d2_i1", 1)
    assert drows[0][0] == 2  # the first value is at evaluation 2
    assert block["runs"][0][1] == trows[-1][0] == N_TRIALS
    assert trows[-1][4] == pytest.approx(_best(trials))
    assert math.isnan(next(r for r in trows if r[0] == 5)[3])  # measured fitness of the crash (trial 4)


def test_coco_output_loads_in_cocopp_when_installed(coco_out):
    cocopp = pytest.importorskip("cocopp")
    out, _ = coco_out
    dsl = cocopp.load(str(out / "randomsearch"))
    assert sum(len(ds.instancenumbers) for ds in dsl) == len(SEEDS)


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_exports_and_lists_skipped_runs(runs_root, tmp_path, capsys):
    assert export_main([str(runs_root), "--format", "ioh", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "-> " in out and "skipped 2 runs" in out and "[randomsearch on toy/mo]" in out  # optimizer and task
    assert (tmp_path / "randomsearch").is_dir()


def test_cli_formats_default_to_their_own_folders(runs_root, tmp_path, monkeypatch, capsys):
    """Without --out, IOH then COCO both export (COCO used to refuse the folder IOH wrote)."""
    monkeypatch.chdir(tmp_path)
    assert export_main([str(runs_root), "--format", "ioh"]) == 0
    assert export_main([str(runs_root), "--format", "coco"]) == 0
    assert (tmp_path / "export" / "ioh" / "randomsearch").is_dir() and (tmp_path / "export" / "coco").is_dir()


@pytest.mark.parametrize("args, message", [
    (["{runs}", "--format", "csv"], "error: unknown format 'csv' (accepted: coco, ioh)"),
    (["{tmp}/missing", "--format", "ioh"], "no such run directory"),
    (["{tmp}/empty", "--format", "ioh"], "no runs found"),
    (["{runs}/t/randomsearch/toy", "--format", "coco"], "nothing to export as coco"),
])
def test_cli_bad_input_is_one_error_line_and_exit_2(runs_root, tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    argv = [a.format(runs=runs_root, tmp=tmp_path) for a in args] + ["--out", str(tmp_path / "out")]
    assert export_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_value_mask_needs_success_and_full_fidelity():
    trials = pd.DataFrame({"status": ["SUCCESS", "CRASHED", "SUCCESS", "SUCCESS"],
                           "cost": [1.0, 2.0, np.nan, 3.0], "fidelity": [9.0, 9.0, 9.0, 3.0]})
    assert value_mask(trials, {"fidelity": {"max": 9}}).tolist() == [True, False, False, False]
    assert value_mask(trials, {"fidelity": None}).tolist() == [True, False, False, True]
