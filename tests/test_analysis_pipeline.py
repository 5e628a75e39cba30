"""gather -> report -> tables on real small runs of every task type (made through run_cell)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.gather import gather
from analysis.latex_check import check_files
from analysis.report import build_report, main as report_main
from analysis.tables import build_tables, escape, number
from analysis_runs import FAILING, N_TRIALS, PLAN, make_runs, task_config
from carps_like import registry
from carps_like.experiment import run_cell


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    make_runs(out)
    # a failed run (optimizer raises in tell) and a time-budget-only run (CARP-S crashed on those)
    run_cell(FAILING, task_config("toy/bb"), 1, out=out, study="t")
    run_cell(FAILING, task_config("bbob/f2_d2_i1"), 1, out=out, study="t")
    run_cell(FAILING, task_config("bbob/f1_d2_i1"), 1, out=out, study="t")
    run_cell(registry.get_optimizer_config("randomsearch"), task_config("toy/bb", n_trials=None, time_limit=0.3), 9,
             out=out, study="timeonly")
    return out


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    build_report([runs], out, progress=False)
    return out


def test_gather_reports_every_run_with_its_status(runs, tmp_path):
    g = gather([runs])
    assert set(g.runs["status"]) == {"complete", "failed"}
    failed = g.runs[g.runs["status"] == "failed"]
    assert len(failed) == 3 and failed["reason"].str.contains("optimizer broke on purpose").all()
    n_expected = sum(len(o) * len(t) * 2 for o, t in PLAN.values()) + 4
    assert len(g.runs) == n_expected
    # a failed run keeps the trials it recorded (3 told + the one whose tell raised)
    assert (g.trials[g.trials["optimizer_id"] == "failing"].groupby("run_key").size() == 4).all()
    assert set(g.trials.columns) >= {"study", "optimizer_id", "task_id", "task_type", "seed", "trial", "config", "fidelity",
                                     "budget_used", "cost", "costs", "status", "optimizer_time", "objective_time",
                                     "virtual_time", "start_time", "end_time"}


def test_incomplete_corrupt_and_duplicate_runs_are_reported(runs, tmp_path):
    src = next(p for p in runs.rglob("run.json") if "toy/bb/seed_1" in p.as_posix() and "/t/randomsearch/" in p.as_posix()).parent
    root = tmp_path / "runs"
    killed = root / "s" / "randomsearch" / "toy" / "bb" / "seed_1"
    shutil.copytree(src, killed)
    meta = json.loads((killed / "run.json").read_text())
    (killed / "run.json").write_text(json.dumps(dict(meta, status="running")))
    (killed / "trials.parquet").unlink()
    (killed / "lock").write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    corrupt = root / "s" / "randomsearch" / "toy" / "bb" / "seed_2"
    corrupt.mkdir(parents=True)
    (corrupt / "run.json").write_text("{not json")
    dup = root / "other" / "randomsearch" / "toy" / "bb" / "seed_1"
    shutil.copytree(src, dup)
    g = gather([root])
    by = g.runs.set_index("path")["status"].to_dict()
    assert by[str(killed)] == "incomplete" and by[str(corrupt)] == "corrupt" and by[str(dup)] == "complete"
    reason = g.runs.set_index("path").loc[str(killed), "reason"]
    assert "interrupted" in reason and f"{N_TRIALS} trials" in reason
    # the same run twice (two studies, one complete): one copy counts, the other is a duplicate
    both = root / "s2" / "randomsearch" / "toy" / "bb" / "seed_1"
    shutil.copytree(src, both)
    g2 = gather([root])
    statuses = g2.runs[g2.runs["path"].isin([str(dup), str(both)])]["status"].tolist()
    assert sorted(statuses) == ["complete", "duplicate"]


def test_regather_is_incremental(runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs, root)
    out = tmp_path / "data"
    first = gather([root], out)
    again = gather([root], out)
    pd.testing.assert_frame_equal(first.runs.sort_values("run_key").reset_index(drop=True),
                                  again.runs.sort_values("run_key").reset_index(drop=True))
    assert len(again.trials) == len(first.trials)
    # change one run (append a trial line as a resumed run would), remove another
    all_runs = sorted(p.parent for p in root.rglob("run.json"))
    changed = all_runs[0] / "trials.jsonl"
    (changed.parent / "trials.parquet").unlink()
    meta = json.loads((changed.parent / "run.json").read_text())
    (changed.parent / "run.json").write_text(json.dumps(dict(meta, status="running")))
    gone = all_runs[-1]
    shutil.rmtree(gone)
    third = gather([root], out, progress=False)
    assert len(third.runs) == len(first.runs) - 1
    assert third.runs.set_index("path").loc[str(changed.parent), "status"] == "incomplete"
    assert str(gone) not in set(third.runs["path"])
    index = json.loads((out / "gather-index.json").read_text())
    assert len(index["runs"]) == len(third.runs)


def test_gathered_tables_merge_like_run_directories(runs, tmp_path):
    """Results gathered on another machine are read back from their Parquet tables."""
    gather([runs], tmp_path / "elsewhere")
    merged = gather([tmp_path / "elsewhere" / "trials.parquet"])
    direct = gather([runs])
    assert len(merged.trials) == len(direct.trials) and len(merged.runs) == len(direct.runs)


def test_report_has_every_type_and_is_self_contained(report):
    html = (report / "index.html").read_text()
    md = (report / "README.md").read_text()
    for name in ("Blackbox", "Multi-fidelity", "Multi-objective", "Multi-fidelity multi-objective"):
        assert f"<h2>{name} (" in html and f"## {name} (" in md
    assert html.count("src='data:image/png;base64,") >= 4 * 5 + 2 - 1  # momf: one task, no test, no CD diagram
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//)""", html)  # nothing fetched from outside
    assert "<script" not in html
    for t in ("bb", "mf", "mo", "momf"):
        for fig in ("cd", "rank_over_time", "performance_over_time", "per_task_ranks", "final_boxplots"):
            if (t, fig) == ("momf", "cd"):  # a single common task: no test, so no diagram claims one
                assert not (report / "figures" / "momf_cd.png").exists()
                continue
            for ext in ("png", "pdf"):
                assert (report / "figures" / f"{t}_{fig}.{ext}").stat().st_size > 1000
    assert (report / "figures" / "mo_hypervolume_over_time.png").exists()
    for link in re.findall(r"\]\((figures/[^)]+)\)", md):
        assert (report / link).exists()


def test_report_names_tests_failures_and_choices(report):
    md = (report / "README.md").read_text()
    assert "Friedman + Nemenyi" in md  # bb and mf have three optimizers
    assert "Wilcoxon signed-rank (two optimizers)" in md  # mo and momf have two
    assert "optimizer failed: RuntimeError: optimizer broke on purpose" in md
    assert "normalization: regret against the known optimum" in md
    assert "1 - HV/HV(reference front)" in md
    # every figure carries a caption line in italics right after it
    assert md.count("![") == md.count("([PDF](")


def test_report_restricted_to_a_taskset_lists_tasks_without_runs(runs, tmp_path, capsys):
    rc = report_main([str(runs), "--out", str(tmp_path / "r"), "--taskset", "toy/bb,toy/crashing"])
    assert rc == 0
    md = (tmp_path / "r" / "README.md").read_text()
    assert "1 task(s) of the task set have no usable run: toy/crashing" in md
    assert "Multi-objective" not in md


def test_report_bad_input_is_one_line(tmp_path, capsys):
    assert report_main([str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report_main([str(tmp_path), "--normalization", "zscore"])


def test_tables_compile_or_pass_the_syntax_check(runs, report, tmp_path):
    paths = build_tables([runs], tmp_path / "tables", data_dir=report / "data")
    assert sorted(p.name for p in paths) == ["bb.tex", "macros.tex", "mf.tex", "mo.tex", "momf.tex"]
    assert check_files(paths) == []
    bb = (tmp_path / "tables" / "bb.tex").read_text()
    assert r"\toprule" in bb and r"\textbf{" in bb and "bbob/f1\\_d2\\_i1" in bb
    macros = (tmp_path / "tables" / "macros.tex").read_text()
    assert r"\newcommand{\carpsBestBB}" in macros and r"\newcommand{\carpsNumTasksMOMF}{1}" in macros


def test_latex_helpers():
    assert escape("smac_bb 50% & #1") == r"smac\_bb 50\% \& \#1"
    assert number(123456.0) == r"$1.23\times10^{5}$" and number(float("nan")) == "--" and number(0.5) == "0.5"


def test_time_budget_only_runs_and_time_axes(tmp_path):
    """CARP-S crashed on time-only budgets; here the task's scale is the most budget any run spent."""
    from analysis.anytime import compute
    from analysis.normalize import Options

    cfg = task_config("toy/bb", n_trials=None, time_limit=0.2)
    for opt in ("randomsearch", "optuna"):
        run_cell(registry.get_optimizer_config(opt), cfg, 1, out=tmp_path / "runs", study="time")
    g = gather([tmp_path / "runs"])
    perf = compute(g, Options())
    info = perf.tasks["toy/bb"]
    assert not info.budget_declared and info.budget == g.runs["budget_used"].max()
    for axis in ("wall_time", "virtual_time"):
        p = compute(g, Options(x_axis=axis, log=True))
        assert p.curves["score"].between(0, 1).all() and len(p.final) == 2
    index = build_report([tmp_path / "runs"], tmp_path / "report", options=Options(x_axis="wall_time"), progress=False)
    assert "x axis: wall time" in index.with_name("README.md").read_text()
