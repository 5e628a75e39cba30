"""`make tables`: pandas writes the table environments, pdflatex compiles what was written, and a small
structural check stands in where no TeX is installed (analysis.latex_check).

The compile tests need pdflatex (scripts/ensure-tex.sh installs it in `make test`) and skip without it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis import latex_check, tables
from analysis.latex_check import check_files, compile_problems, structure_problems

needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                               reason="no pdflatex on PATH (scripts/ensure-tex.sh installs it)")

GOOD = "\n".join([
    r"\begin{table}[t]",
    r"\centering",
    r"\caption{Cost on 50\% of the tasks, $\alpha = 0.05$ \texttt{-{}-log}.}",
    r"\begin{tabular}{lrr}",
    r"\toprule",
    r"Optimizer & smac\_hebo & \multicolumn{1}{c}{rs} \\",
    r"\midrule",
    r"toy/bb & \textbf{\boldmath $1.2\times10^{3}$ $\pm$ 3} & 0.5\textsuperscript{$\dagger$} \\",  # line 8
    r"\bottomrule",
    r"\end{tabular}",
    r"\end{table}",
]) + "\n"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> list[Path]:
    """The files `make tables` writes for a real small analysis: blackbox and multi-objective runs,
    names with underscores (ng_de, bbob/f1_d2_i1)."""
    from analysis_runs import make_runs

    root = tmp_path_factory.mktemp("latex")
    make_runs(root / "runs", plan={"bb": (["randomsearch", "ng_de"], ["toy/bb", "bbob/f1_d2_i1"]),
                                   "mo": (["randomsearch", "optuna"], ["toy/mo"])})
    return tables.build_tables([root / "runs"], root / "tables", data_dir=root / "data")


def test_pandas_writes_booktabs_and_the_cells_verbatim(written):
    """The environments come from Styler.to_latex; names are escaped once, cells are not escaped again."""
    assert sorted(p.name for p in written) == ["bb.tex", "macros.tex", "mo.tex"]
    bb = (written[0].parent / "bb.tex").read_text()
    for piece in (r"\begin{table}[t]", r"\centering", r"\small", r"\toprule", r"\midrule", r"\bottomrule",
                  r"\begin{tabular}{lrrr}", r"\label{tab:carps-bb-summary}", r"\label{tab:carps-bb-per-task}",
                  r"bbob/f1\_d2\_i1 & ", r"Task & ng\_de & randomsearch \\", r"\texttt{-{}-normalization regret}",
                  r"$\pm$"):
        assert piece in bb, piece
    assert r"\textbackslash" not in bb and r"\_\_" not in bb and r"\$" not in bb   # nothing escaped twice
    assert all(structure_problems(p.read_text(), str(p)) == [] for p in written)


@needs_tex
def test_real_tables_compile_and_make_tables_says_so(written, tmp_path, capsys):
    assert compile_problems(written) == []
    runs = written[0].parent.parent / "runs"
    assert tables.main([str(runs), "--out", str(tmp_path / "t"), "--data", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "wrote " in out and "LaTeX: compiled with pdflatex, no problems" in out


@needs_tex
def test_compile_error_names_the_file_line_and_tex_message(tmp_path):
    (tmp_path / "macros.tex").write_text("% generated\n\\newcommand{\\carpsBestBB}{smac}\n"
                                         "\\newcommand{\\carpsBad}{\\nosuchcommand}\n")
    (tmp_path / "good.tex").write_text(GOOD.replace("rs}", r"rs \carpsBestBB}"))
    (tmp_path / "undefined.tex").write_text("\\begin{tabular}{ll}\na & \\carpsNoSuchMacro \\\\\n\\end{tabular}\n")
    (tmp_path / "extra_tab.tex").write_text(GOOD.replace(r"0.5\textsuperscript", r"0.5 & 7\textsuperscript"))
    (tmp_path / "open.tex").write_text("\\begin{table}\nx\n")
    paths = [tmp_path / n for n in ("macros.tex", "good.tex", "undefined.tex", "extra_tab.tex", "open.tex")]
    problems = compile_problems(paths)
    assert len(problems) == 4, problems
    assert problems[0].startswith(f"{tmp_path / 'macros.tex'}:3: Undefined control sequence"), problems
    assert "using \\carpsBad" in problems[0]
    assert problems[1].startswith(f"{tmp_path / 'undefined.tex'}:2: Undefined control sequence"), problems
    assert "l.2" in problems[1] and "carpsNoSuchMacro" in problems[1]
    assert problems[2].startswith(f"{tmp_path / 'extra_tab.tex'}:8: Extra alignment tab"), problems
    assert problems[3].startswith(f"{tmp_path / 'open.tex'}: ") and "\\begin{table}" in problems[3], problems


@needs_tex
def test_make_tables_exits_1_on_a_compile_error(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bb.tex"
    bad.write_text("\\begin{tabular}{ll}\na & \\nosuchcommand \\\\\n\\end{tabular}\n")
    monkeypatch.setattr(tables, "build_tables", lambda *a, **k: [bad])
    assert tables.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "LaTeX check failed (compiled with pdflatex)" in err and f"{bad}:2: Undefined control sequence" in err


def test_without_pdflatex_make_tables_says_it_only_checked_the_structure(written, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setattr(latex_check, "compile_problems", lambda *a, **k: pytest.fail("compiled without pdflatex"))
    monkeypatch.setattr(tables, "build_tables", lambda *a, **k: written)
    assert tables.main([str(tmp_path)]) == 0
    assert "only structurally checked" in capsys.readouterr().out
    broken = tmp_path / "broken.tex"
    broken.write_text(GOOD.replace(r"\textbf{\boldmath", r"\textbf{\boldmath{"))
    monkeypatch.setattr(tables, "build_tables", lambda *a, **k: [broken])
    assert tables.main([str(tmp_path)]) == 1
    assert f"{broken}:8: '{{' is never closed" in capsys.readouterr().err


@pytest.mark.parametrize("old, new, expected", [
    pytest.param(r"\textbf{\boldmath", r"\textbf{\boldmath{", "line 8: '{' is never closed", id="unclosed-brace"),
    pytest.param(r"$\pm$ 3}", r"$\pm$ 3}}", "line 8: unmatched '}'", id="extra-brace"),
    pytest.param(r"0.5\textsuperscript", r"0.5 & 7\textsuperscript", "line 8: row has 4 cells, the column spec has 3",
                 id="too-many-cells"),
    pytest.param(r"\multicolumn{1}{c}{rs}", r"\multicolumn{2}{c}{rs}", "line 6: row has 4 cells, the column spec has 3",
                 id="multicolumn-span"),
    pytest.param(r"\end{tabular}", r"\end{table}", r"line 10: \end{table} does not match \begin{tabular} on line 4",
                 id="mismatched-end"),
])
def test_structural_check_catches(old, new, expected):
    assert structure_problems(GOOD) == []
    assert expected in structure_problems(GOOD.replace(old, new))


def test_check_files_reports_the_file_name(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    (tmp_path / "t.tex").write_text(GOOD.replace(r"\end{table}", ""))
    assert check_files([tmp_path / "t.tex"]) == [f"{tmp_path / 't.tex'}:1: \\begin{{table}} is never closed"]
