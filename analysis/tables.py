"""`make tables`: LaTeX (booktabs) tables for papers, from the same analysis as the report.

    python -m analysis.tables runs/ --out tables [--taskset subset_bb] [--stat mean|median]

Writes one file per task type (`<out>/<type>.tex`: a summary table of mean rank and normalized
score per optimizer, then a per-task table of final performance) and `<out>/macros.tex` with
headline numbers (`\\carpsBestBB`, `\\carpsNumTasksMO`, ...). Best values are bold; a dagger
marks results significantly worse than the best (summary: Wilcoxon signed-rank over tasks,
Holm-adjusted; per task: Mann-Whitney U over seeds, Holm-adjusted; alpha 0.05). Needs
`\\usepackage{booktabs}` in the paper. The table environments are written by pandas
(`Styler.to_latex`, booktabs rules) from cells formatted here; every file is then compiled with
pdflatex when it is on PATH, else only structurally checked (`analysis.latex_check`).
"""
from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .anytime import Performance, compute
from .figures import TYPE_NAMES, score_label
from .gather import gather
from .normalize import Options
from .ranking import Ranking, final_table, per_task_best_and_markers, rank
from .report import TYPE_ORDER, add_options, options_from

MACRO_TYPE = {"bb": "BB", "mf": "MF", "mo": "MO", "momf": "MOMF"}
STATS = ("mean", "median")
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
DAGGER = r"\textsuperscript{$\dagger$}"


def escape(text: str) -> str:
    """Escape LaTeX's special characters in names (task ids, optimizer ids)."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def number(v: float, digits: int = 3) -> str:
    """A number as LaTeX: 3 significant digits, powers of ten as 1.2\\times10^{5}."""
    if v is None or not math.isfinite(v):
        return "--"
    text = f"{v:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"${mant}\\times10^{{{int(exp)}}}$"
    return text


def cell(main: float, spread: float | None, bold: bool, worse: bool) -> str:
    text = number(main) + ("" if spread is None or not math.isfinite(spread) else r" $\pm$ " + number(spread, 2))
    if bold:  # \boldmath: \textbf alone leaves $1.2\times10^{3}$ and $\pm$ in normal weight
        text = r"\textbf{\boldmath " + text + "}"
    return text + (DAGGER if worse else "")


def options_note(task_type: str, options: Options) -> str:
    """The analysis options behind a table's numbers, as the command-line flags that set them."""
    def flag(name: str, value: str = "") -> str:
        return r"\texttt{-{}-" + escape(name + (" " + value if value else "")) + "}"

    parts = []
    if task_type in ("bb", "mf"):
        parts.append(flag("normalization", options.normalization) + (", " + flag("log") if options.log else ", linear scale"))
    if task_type in ("mf", "momf"):
        parts.append(flag("mf-policy", options.mf_policy))
    if task_type in ("mo", "momf"):
        parts.append(flag("mo-box", options.mo_box))
    return "Analysis options: " + "; ".join(parts) + "."


def latex_table(header: list[str], rows: list[list[str]], align: str, caption: str, label: str,
                small: bool = False) -> list[str]:
    """A booktabs `table` float written by pandas; cells and header are LaTeX already, shown verbatim."""
    styler = pd.DataFrame(rows, columns=header).style.hide(axis="index")
    styler = styler.format(str).format_index(str, axis=1)  # explicit: never escaped again, whatever pandas options say
    if small:
        styler = styler.set_table_styles([{"selector": "small", "props": ":;"}])  # renders as \small
    return styler.to_latex(hrules=True, caption=caption, label=label, position="t", position_float="centering",
                           column_format=align).splitlines()


def summary_table(r: Ranking, task_type: str, options: Options) -> list[str]:
    """Mean rank and score on the tasks every optimizer ran; bold only for a leader the data backs
    (not when all tie or no task is shared), optimizers without common tasks listed in the caption."""
    worse = r.significantly_worse_than_best()
    leaders = set(r.leaders) if len(r.leaders) < len(r.optimizers) else set()
    scores = r.summary["score"]
    best_score = scores.min() if leaders and not np.allclose(scores, scores.min()) else math.nan
    rows = []
    for opt, s in r.summary.sort_values(["mean_rank", "n_tasks_run"], ascending=[True, False]).iterrows():
        rows.append([escape(opt), cell(s.mean_rank, None, opt in leaders, opt in worse),
                     cell(s.score, s.score_std, bool(np.isclose(s.score, best_score)), False),
                     f"{int(s.n_tasks)} / {int(s.n_tasks_run)}"])
    name = TYPE_NAMES[task_type]
    if not r.comparable:
        verdict = "No task was run by two or more optimizers: no comparison, nothing is bold."
    elif not leaders:
        verdict = "All optimizers tie on mean rank: nothing is bold."
    else:
        verdict = "Best in bold; a bold value is not significantly better unless the test says so."
    excluded = (f" {len(r.excluded_tasks)} task(s) not every optimizer ran are left out." if r.excluded_tasks else "")
    attain = r.attainable()
    limits = ("" if not attain or attain["pairwise"] < r.alpha else
              f" With {len(r.blocks)} common tasks no pairwise test can reach $\\alpha$ "
              f"(smallest attainable Holm-adjusted $p = {number(attain['pairwise'])}$).")
    caption = (f"{name.capitalize()} tasks: mean rank (per-task ranks averaged over seeds, then tasks) and "
               f"{score_label(task_type, options.log)} (mean $\\pm$ std over tasks) on the {len(r.blocks)} tasks every "
               f"optimizer ran (Tasks: common / run).{excluded} {verdict} {DAGGER} significantly worse than the best "
               f"(Wilcoxon signed-rank over tasks, Holm, $\\alpha = {r.alpha}$). {escape(r.test)}"
               + (f", $p = {number(r.p_value)}$ ({escape(r.p_method)})" if math.isfinite(r.p_value) else "") + "."
               + limits + " " + options_note(task_type, options))
    return latex_table(["Optimizer", "Mean rank", "Normalized score", "Tasks"], rows, "lrrr", caption,
                       f"tab:carps-{task_type}-summary")


def per_task_table(perf: Performance, task_type: str, stat: str) -> list[str]:
    mo = task_type in ("mo", "momf")
    value = "hv" if mo else "final_value"
    final = perf.final
    minimize = {t: (False if mo else i.minimize[0]) for t, i in perf.tasks.items()}
    table = final_table(final, task_type, value)
    best, worse = per_task_best_and_markers(final, task_type, value, minimize)
    opts = sorted(final.loc[final["task_type"] == task_type, "optimizer_id"].unique())
    rows = []
    for task in sorted(set(table.index.get_level_values(0))):
        row = [escape(task)]
        for opt in opts:
            if (task, opt) not in table.index:
                row.append("--")
                continue
            t = table.loc[(task, opt)]
            main, spread = (t["mean"], t["std"]) if stat == "mean" else (t["median"], t["iqr"])
            row.append(cell(main, spread, opt in best.get(task, ()), opt in worse.get(task, ())))
        rows.append(row)
    what = "hypervolume of the final front (normalized objectives, reference point 1.1)" if mo else \
        "final incumbent value in the objective's own direction"
    spread = "mean $\\pm$ std" if stat == "mean" else "median $\\pm$ IQR"
    caption = (f"{TYPE_NAMES[task_type].capitalize()} tasks: {what}, {spread} over seeds; best in bold where two or "
               f"more optimizers ran the task and not all tie; {DAGGER} significantly worse than the best on that task "
               f"(Mann-Whitney U over seeds, exact for small samples, Holm, $\\alpha = 0.05$); -- = not run. "
               + options_note(task_type, perf.options))
    return latex_table(["Task", *[escape(o) for o in opts]], rows, "l" + "r" * len(opts), caption,
                       f"tab:carps-{task_type}-per-task", small=True)


def macro_name(*parts: str) -> str:
    name = "carps" + "".join(p[:1].upper() + p[1:] for p in parts)
    assert re.fullmatch(r"[A-Za-z]+", name), name
    return name


def macros(rankings: dict[str, Ranking], perf: Performance) -> list[str]:
    lines = ["% Headline numbers of the carps-like tables; generated by `make tables`, do not edit."]

    def define(name: str, value: str) -> None:
        lines.append(r"\newcommand{\%s}{%s}" % (name, value))

    define(macro_name("Num", "Runs"), str(len(perf.final)))
    define(macro_name("Num", "Optimizers"), str(len(perf.optimizers)))
    for t, r in rankings.items():
        T = MACRO_TYPE[t]
        define(macro_name("Num", "Tasks", T), str(len(r.per_task_score)))
        define(macro_name("Num", "Common", "Tasks", T), str(len(r.blocks)))
        if r.best is None:  # never a winner the data cannot back
            lines.append(f"% no single best for {T}: {r.best_label()}")
            define(macro_name("Best", T), "--")
            define(macro_name("Best", T, "Rank"), "--")
            define(macro_name("Best", T, "Score"), "--")
        else:
            define(macro_name("Best", T), escape(r.best))
            define(macro_name("Best", T, "Rank"), number(float(r.summary.loc[r.best, "mean_rank"])))
            define(macro_name("Best", T, "Score"), number(float(r.summary.loc[r.best, "score"])))
        define(macro_name("P", "Value", T), number(r.p_value))
    return lines


def write_tables(perf: Performance, out: str | Path, stat: str = "mean") -> list[Path]:
    """Write the per-type files and the macro file; returns their paths."""
    if stat not in STATS:
        raise ValueError(f"unknown stat {stat!r}; accepted: {', '.join(STATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths, rankings = [], {}
    for t in TYPE_ORDER:
        pt = perf.of_type(t)
        if pt.final.empty:
            continue
        rankings[t] = r = rank(pt.final, t)
        body = ["% " + TYPE_NAMES[t] + " tables; generated by `make tables`, do not edit. Needs \\usepackage{booktabs}.",
                *summary_table(r, t, perf.options), "", *per_task_table(pt, t, stat)]
        path = out / f"{t}.tex"
        path.write_text("\n".join(body) + "\n")
        paths.append(path)
    path = out / "macros.tex"
    path.write_text("\n".join(macros(rankings, perf)) + "\n")
    return [path, *paths]


def build_tables(sources: Iterable[str | Path], out: str | Path = "tables", taskset: str | None = None,
                 options: Options | None = None, stat: str = "mean", data_dir: str | Path | None = None) -> list[Path]:
    g = gather(sources, data_dir)
    task_ids = None
    if taskset:
        from carps_like import registry

        task_ids = registry.resolve_task_names(taskset)
    return write_tables(compute(g, options or Options(), task_ids), out, stat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--out", default="tables")
    parser.add_argument("--taskset", default=None)
    parser.add_argument("--stat", default="mean", choices=STATS, help="mean +- std or median +- IQR per task")
    parser.add_argument("--data", default="report/data", help="gather cache shared with `make report`")
    add_options(parser)
    args = parser.parse_args(argv)
    from carps_like.errors import UserError

    from .latex_check import check_files

    try:
        paths = build_tables(args.sources, args.out, args.taskset or None, options_from(args), args.stat, args.data)
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(f"wrote {p}")
    problems = check_files(paths)
    how = ("compiled with pdflatex" if shutil.which("pdflatex") else
           "only structurally checked (braces, environments, cells per row): no pdflatex on PATH, not compiled")
    if problems:
        print(f"LaTeX check failed ({how}):\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"LaTeX: {how}, no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
