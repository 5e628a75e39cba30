"""Every claim a report, a table or a compare verdict makes must be one the data supports
(issue 17): common tasks only, no winner without a comparison or among ties, exact p-values at
small sizes and a warning where a test cannot reach alpha, bold that renders bold."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import report as R
from analysis.anytime import Performance
from analysis.comparison import compare_type
from analysis.normalize import Options
from analysis.ranking import per_task_best_and_markers, rank
from analysis.tables import cell, macros, summary_table

ROOT = Path(__file__).resolve().parents[1]


def final_frame(scores: dict[str, dict[str, list[float]]], task_type: str = "bb") -> pd.DataFrame:
    """scores[optimizer][task] = per-seed final scores -> the per-run table analysis makes."""
    rows = [{"task_type": task_type, "task_id": task, "optimizer_id": opt, "seed": s + 1, "score": v, "final_value": v}
            for opt, per_task in scores.items() for task, seeds in per_task.items() for s, v in enumerate(seeds)]
    return pd.DataFrame(rows)


# optimizer "one" ran one task, "many" ran four; on the shared task "many" is better
MIXED = {"one": {"t0": [0.5, 0.5, 0.5]},
         "many": {"t0": [0.3, 0.3, 0.3], "t1": [0.9, 0.9, 0.9], "t2": [0.9, 0.9, 0.9], "t3": [0.9, 0.9, 0.9]}}


# -- item 1: optimizers that ran different task sets ---------------------------------------------------
def test_scores_and_ranks_use_only_the_tasks_every_optimizer_ran():
    r = rank(final_frame(MIXED), "bb")
    assert list(r.blocks.index) == ["t0"]
    assert r.summary.loc["many", "score"] == pytest.approx(0.3)  # not 0.75, its mean over 4 tasks
    assert r.summary.loc["many", "n_tasks"] == 1 and r.summary.loc["many", "n_tasks_run"] == 4
    assert list(r.per_task_rank.index) == ["t0"]  # the heatmap shows no task without a competitor
    assert r.best == "many"
    assert set(r.excluded_tasks) == {"t1", "t2", "t3"}


def test_summary_table_bolds_the_best_on_common_tasks_and_counts_them():
    r = rank(final_frame(MIXED), "bb")
    rows = {line.split(" & ")[0]: line for line in summary_table(r, "bb", Options()) if " & " in line}
    assert r"\textbf" in rows["many"].split(" & ")[2] and r"\textbf" not in rows["one"]
    assert "1 / 4" in rows["many"] and "1 / 1" in rows["one"]


def test_no_winner_without_a_shared_task():
    r = rank(final_frame({"a": {"t0": [0.1, 0.2]}, "b": {"t1": [0.5, 0.6]}}), "bb")
    assert not r.comparable and r.best is None and r.leaders == []
    assert "no task run by two optimizers" in r.best_label()
    lines = summary_table(r, "bb", Options())
    assert not any(r"\textbf" in line for line in lines if " & " in line)


@pytest.fixture(scope="module")
def mixed_runs(tmp_path_factory):
    """Real runs: random search on three blackbox tasks, Optuna on one of them, three seeds."""
    from analysis_runs import make_runs

    out = tmp_path_factory.mktemp("mixed")
    make_runs(out, plan={"bb": (["randomsearch"], ["toy/bb", "bbob/f1_d2_i1", "bbob/f2_d2_i1"])}, seeds=(1, 2, 3))
    make_runs(out, plan={"bb": (["optuna"], ["toy/bb"])}, seeds=(1, 2, 3))
    return out


def test_report_on_mixed_task_sets_compares_only_common_tasks(mixed_runs, tmp_path, monkeypatch):
    seen = {}
    original = R.F.performance_over_time

    def spy(curves, *args, **kwargs):
        seen["tasks"] = set(curves["task_id"])
        return original(curves, *args, **kwargs)

    monkeypatch.setattr(R.F, "performance_over_time", spy)
    R.build_report([mixed_runs], tmp_path / "rep", progress=False)
    text = (tmp_path / "rep" / "README.md").read_text()
    assert seen["tasks"] == {"toy/bb"}  # the curves average the shared task only
    assert "Compared on the 1 task(s) every optimizer ran" in text
    assert "2 task(s) not every optimizer ran are left out" in text
    assert "| common tasks | tasks run |" in text
    # one common task: no pairwise test can reach alpha, and the report says so
    assert "cannot reach alpha = 0.05 with this design" in text


# -- item 4: ties --------------------------------------------------------------------------------------
def test_all_tied_names_no_best_in_report_or_macros():
    final = final_frame({o: {"t0": [0.0, 0.0], "t1": [0.0, 0.0]} for o in ("a", "b", "c")})
    r = rank(final, "bb")
    assert r.best is None and r.best_label() == "none (all tied)"
    assert "best" not in " ".join(R.ranking_table(r)["vs best (Wilcoxon-Holm)"]).replace("tied", "")
    perf = Performance(Options(), {}, pd.DataFrame(), final)
    text = "\n".join(macros({"bb": r}, perf))
    assert r"\newcommand{\carpsBestBB}{--}" in text and "all tied" in text
    assert "\\textbf" not in "\n".join(line for line in summary_table(r, "bb", Options()) if " & " in line)


def test_tied_leaders_are_named_as_a_tie_not_alphabetically():
    final = final_frame({"a": {"t0": [0.1], "t1": [0.5]}, "b": {"t0": [0.5], "t1": [0.1]}, "c": {"t0": [0.9], "t1": [0.9]}})
    r = rank(final, "bb")
    assert r.best is None and r.leaders == ["a", "b"] and r.best_label() == "none (tied: a, b)"


def test_per_task_marks_no_best_where_all_tie_or_one_ran():
    final = final_frame({"a": {"t0": [1.0, 1.0], "t1": [0.2, 0.3]}, "b": {"t0": [1.0, 1.0]}})
    best, _ = per_task_best_and_markers(final, "bb", "final_value", {})
    assert best == {}


# -- item 5: significance that cannot happen -----------------------------------------------------------
def test_three_seeds_cannot_give_a_per_task_marker_even_with_ties():
    # scipy's asymptotic Mann-Whitney says p = 0.047 here; no exact test on 3 vs 3 goes below 0.1
    final = final_frame({"a": {"t0": [0.0, 0.0, 0.0]}, "b": {"t0": [1.0, 1.0, 1.0]}})
    _, worse = per_task_best_and_markers(final, "bb", "final_value", {"t0": True})
    assert worse["t0"] == set()
    from analysis import significance as S

    assert S.mann_whitney_p([0, 0, 0], [1, 1, 1]) == pytest.approx(0.1)
    assert S.min_p_mann_whitney(3, 3) == pytest.approx(0.1)


def test_friedman_is_exact_for_few_tasks():
    """N = 3, k = 3, every task orders the optimizers the same way: exact p = 6 / 6^3 = 1/36
    (Friedman's table), where the chi-square approximation says 0.0498."""
    final = final_frame({"a": {f"t{i}": [0.1] for i in range(3)}, "b": {f"t{i}": [0.5] for i in range(3)},
                         "c": {f"t{i}": [0.9] for i in range(3)}})
    r = rank(final, "bb")
    assert r.p_value == pytest.approx(1 / 36) and r.p_method == "exact permutation distribution"


def test_exact_friedman_matches_a_full_permutation_test_with_ties():
    from scipy.stats import permutation_test, rankdata

    values = np.array([[0.1, 0.1, 0.5], [0.2, 0.4, 0.3], [0.6, 0.5, 0.9], [0.3, 0.8, 0.8]])

    def stat(*cols, axis=-1):
        ranks = rankdata(np.stack(cols, axis=-1), axis=-1)
        return (ranks.sum(axis=-2) ** 2).sum(axis=-1)

    from analysis import significance as S

    expected = permutation_test(list(values.T), stat, permutation_type="samples", n_resamples=np.inf,
                                alternative="greater", vectorized=True).pvalue
    assert S.friedman(values)[1] == pytest.approx(expected, rel=1e-9)


def test_five_tasks_warn_that_worse_than_best_cannot_appear():
    final = final_frame({o: {f"t{i}": [off + 0.01 * i] for i in range(5)} for o, off in (("a", 0.1), ("b", 0.5), ("c", 0.9))})
    r = rank(final, "bb")
    assert r.attainable()["pairwise"] == pytest.approx(3 / 16)
    notes = " ".join(r.attainability_notes())
    assert "cannot reach alpha = 0.05" in notes and "significantly worse than the best" in notes
    assert r.significantly_worse_than_best() == set()


def test_compare_states_the_smallest_attainable_p_and_warns():
    final = final_frame({o: {f"t{i}": [off + 0.01 * i] * 3 for i in range(4)}
                         for o, off in (("new", 0.1), ("rs", 0.5), ("smac", 0.3))})
    c = compare_type(final, "bb", "new")
    assert c.min_p() == pytest.approx(2 * 2 ** -3)
    assert "WARNING" in c.limits() and "0.25" in c.limits()


# -- item 6 and 7: which test each output shows, documented choices -------------------------------------
def test_report_explains_why_cd_diagram_and_wilcoxon_table_can_differ(tmp_path):
    from analysis_runs import make_runs

    out = make_runs(tmp_path / "runs", plan={"bb": (["randomsearch", "optuna", "ng_de"], ["toy/bb", "bbob/f1_d2_i1"])},
                    seeds=(1,))
    R.build_report([out], tmp_path / "rep", progress=False)
    text = (tmp_path / "rep" / "README.md").read_text()
    assert "Nemenyi" in text and "can therefore be 'worse' in the table" in text


def test_analysis_doc_describes_zsplit_common_tasks_exact_p_and_bands():
    doc = (ROOT / "docs" / "analysis.md").read_text()
    for phrase in ("zsplit", "common tasks", "exact permutation", "smallest attainable", "No single best"):
        assert phrase in doc, phrase


# -- item 3: bold that renders -----------------------------------------------------------------------------
def test_bold_cell_in_scientific_notation_uses_bold_math():
    text = cell(1010.0, 20.0, bold=True, worse=False)
    assert text.startswith(r"\textbf{\boldmath ") and r"\times10^{3}" in text


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on PATH (scripts/ensure-tex.sh installs it)")
def test_bold_scientific_value_compiles_to_bold_fonts(tmp_path):
    """Compile the cell and read the fonts the PDF uses: bold math (cmbx digits in math, cmbsy
    for \\times) must be there; `\\textbf{$...$}` alone gives none."""
    doc = (r"\pdfobjcompresslevel=0\pdfcompresslevel=0\documentclass{article}\begin{document}"
           + cell(1010.0, 20.0, bold=True, worse=False) + r"\end{document}")
    (tmp_path / "b.tex").write_text(doc)
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "b.tex"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    fonts = set(re.findall(rb"/BaseFont\s*/[A-Z]+\+(\w+)", (tmp_path / "b.pdf").read_bytes()))
    assert b"CMBSY10" in fonts and b"CMBX10" in fonts, fonts


# -- item 9: captions state the options -----------------------------------------------------------------------
def test_table_captions_state_the_analysis_options():
    from analysis.tables import options_note

    assert r"\texttt{-{}-normalization minmax}, \texttt{-{}-log}" in options_note("bb", Options(normalization="minmax", log=True))
    assert r"\texttt{-{}-mf-policy highest\_per\_config}" in options_note("mf", Options(mf_policy="highest_per_config"))
    assert r"\texttt{-{}-mo-box front}" in options_note("momf", Options(mo_box="front"))
    r = rank(final_frame(MIXED), "bb")
    caption = next(line for line in summary_table(r, "bb", Options(log=True)) if line.startswith(r"\caption"))
    assert r"\texttt{-{}-log}" in caption and r"\texttt{-{}-normalization regret}" in caption


# -- item 10: nothing to report ------------------------------------------------------------------------------------
def test_report_on_a_runless_directory_fails_with_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert R.main([str(tmp_path / "empty"), "--out", str(tmp_path / "rep")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no runs found in") and len([e for e in err if e.startswith("error")]) == 1


def test_report_with_only_unfinished_runs_fails_and_says_what_was_found(tmp_path, capsys):
    import json

    from analysis_runs import make_runs

    out = make_runs(tmp_path / "runs", plan={"bb": (["randomsearch"], ["toy/bb"])}, seeds=(1,))
    meta = next(out.rglob("run.json"))
    data = json.loads(meta.read_text())
    data["status"] = "running"
    meta.write_text(json.dumps(data))
    assert R.main([str(out), "--out", str(tmp_path / "rep")]) == 1
    assert "1 run(s) found" in capsys.readouterr().err


def test_exact_small_sample_tests_match_scipys_full_permutation_tests():
    """The vectorized exact Mann-Whitney and zsplit signed-rank p-values equal scipy's exhaustive
    permutation tests, ties and zero differences included."""
    import warnings

    from scipy import stats

    from analysis import significance as S

    rng = np.random.default_rng(0)
    exhaustive = stats.PermutationMethod(n_resamples=np.inf)
    for _ in range(60):
        x, y = rng.integers(0, 4, rng.integers(2, 6)).astype(float), rng.integers(0, 4, rng.integers(2, 6)).astype(float)
        if np.ptp(np.r_[x, y]) > 0:
            assert S.mann_whitney_p(x, y) == pytest.approx(stats.mannwhitneyu(x, y, method=exhaustive).pvalue, abs=1e-12)
        a, b = rng.integers(0, 4, 8).astype(float), rng.integers(0, 4, 8).astype(float)
        if not np.allclose(a, b):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = stats.wilcoxon(a, b, zero_method="zsplit", method=exhaustive).pvalue
            assert S.signed_rank_p(a, b) == pytest.approx(expected, abs=1e-12)
