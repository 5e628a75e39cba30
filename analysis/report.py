"""`make report`: run directories -> a self-contained report a reviewer can read without the code.

    python -m analysis.report runs/ [more runs/ or gathered tables] --out report [--taskset subset_bb]

Writes `<out>/index.html` (images inlined as data URIs, no scripts, no external URLs: opens
offline), `<out>/README.md` (the same content in Markdown, for CI job summaries), the figures
as PNG and PDF under `<out>/figures/`, and the gathered tables under `<out>/data/` (re-used
incrementally by the next report into the same directory).
"""
from __future__ import annotations

import argparse
import base64
import html
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from . import figures as F
from .anytime import Performance, compute
from .gather import Gathered, gather, status_summary
from .normalize import MF_POLICIES, MO_BOXES, NORMALIZATIONS, X_AXES, Options
from .ranking import Ranking, final_table, per_task_best_and_markers, rank

TYPE_ORDER = ("bb", "mf", "mo", "momf")
MARKER_RULE = ("shared by all that tie for it, shown only where two or more optimizers ran the task and not all tie; "
               "† significantly worse than each of them (two-sided Mann-Whitney U over seeds, exact for small samples, "
               "Holm-adjusted, alpha 0.05).")
TEST_DIFFERENCE = ("The CD diagram and the Wilcoxon-Holm table answer different questions and can disagree: the "
                   "diagram's bars come from the Nemenyi test (after Friedman), which compares mean ranks of all k "
                   "optimizers at once with one critical difference, ignores by how much an optimizer wins on a task, "
                   "and depends on which other optimizers are ranked; the Wilcoxon signed-rank test compares one pair "
                   "at a time on the score differences (their signs and sizes) and is Holm-adjusted over the pairs. "
                   "A pair joined by a bar can therefore be 'worse' in the table, and the reverse.")
MAX_STATUS_ROWS = 200


class NothingToReport(Exception):
    """The sources hold no run the analysis can use; the message says what was found."""


# -- a tiny document model rendered twice (HTML and Markdown) -------------------------------------
@dataclass
class Doc:
    blocks: list = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, df: pd.DataFrame, caption: str = "", index: bool = True) -> None:
        self.blocks.append(("table", df, caption, index))

    def figure(self, paths: dict[str, Path], caption: str) -> None:
        self.blocks.append(("figure", paths, caption))


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_table(df: pd.DataFrame, index: bool) -> str:
    d = df.reset_index() if index else df
    head = "| " + " | ".join(_md_cell(c) for c in d.columns) + " |"
    sep = "|" + "|".join("---" for _ in d.columns) + "|"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in d.astype(object).itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def render_markdown(doc: Doc, out: Path) -> str:
    parts = []
    for block in doc.blocks:
        if block[0] == "h":
            parts.append("#" * block[1] + " " + block[2])
        elif block[0] == "p":
            parts.append(block[1])
        elif block[0] == "table":
            _, df, caption, index = block
            if caption:
                parts.append(f"*{caption}*")
            parts.append(_md_table(df, index))
        else:
            _, paths, caption = block
            rel = paths["png"].relative_to(out).as_posix()
            pdf = paths["pdf"].relative_to(out).as_posix()
            parts.append(f"![{caption}]({rel})\n\n*{caption}* ([PDF]({pdf}))")
    return "\n\n".join(parts) + "\n"


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1em 0 2em}figcaption,.cap{color:#555;font-size:.85em}
img{max-width:100%}h1,h2,h3{border-bottom:1px solid #eee}code{background:#f6f6f6}"""


def render_html(doc: Doc, title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body>"]
    for block in doc.blocks:
        if block[0] == "h":
            parts.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
        elif block[0] == "p":
            parts.append(f"<p>{html.escape(block[1])}</p>")
        elif block[0] == "table":
            _, df, caption, index = block
            if caption:
                parts.append(f"<p class='cap'>{html.escape(caption)}</p>")
            parts.append(df.to_html(index=index, escape=True, border=0, na_rep="-"))
        else:
            _, paths, caption = block
            data = base64.b64encode(paths["png"].read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(caption, quote=True)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


# -- content ------------------------------------------------------------------------------------
def fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}g}"


def pm(mean: float, std: float) -> str:
    return fmt(mean) if not (isinstance(std, float) and math.isfinite(std)) else f"{fmt(mean)} ± {fmt(std, 2)}"


def ranking_table(r: Ranking) -> pd.DataFrame:
    """One row per optimizer, on the common tasks only; the verdict column never names a best
    that the data cannot back (a tie, or no task shared by two optimizers)."""
    worse = r.significantly_worse_than_best()
    leaders = r.leaders
    rows = []
    for opt, s in r.summary.sort_values(["mean_rank", "n_tasks_run"], ascending=[True, False]).iterrows():
        if not r.comparable:
            mark = "no comparison"
        elif len(leaders) == len(r.optimizers):
            mark = "all tied"
        elif r.wilcoxon_holm is None:  # too few common tasks for any test
            mark = "lowest mean rank (no test)" if opt in leaders else "no test"
        elif opt in leaders:
            mark = "best" if len(leaders) == 1 else "tied best"
        else:
            mark = "worse (p < %g)" % r.alpha if opt in worse else "not separable"
        rows.append({"optimizer": opt, "mean rank": fmt(s.mean_rank), "CD rank": fmt(s.cd_rank),
                     "normalized score": pm(s.score, s.score_std), "common tasks": int(s.n_tasks),
                     "tasks run": int(s.n_tasks_run), "runs": int(s.n_runs), "vs best (Wilcoxon-Holm)": mark})
    return pd.DataFrame(rows).set_index("optimizer")


def pvalue_table(matrix: pd.DataFrame) -> pd.DataFrame:
    out = matrix.copy().astype(object)
    for a in matrix.index:
        for b in matrix.columns:
            out.loc[a, b] = "" if a == b else fmt(matrix.loc[a, b], 2)
    return out


def per_task_table(perf: Performance, task_type: str) -> tuple[pd.DataFrame, str]:
    """Raw final values per task (objective's own direction) for single-objective types,
    normalized hypervolume and IGD+ for multi-objective ones."""
    final = perf.final
    if task_type in ("mo", "momf"):
        hv = final_table(final, task_type, "hv")
        igd = final_table(final, task_type, "igd_plus")
        best, worse = per_task_best_and_markers(final, task_type, "hv", {t: False for t in perf.tasks})
        cells = {}
        for (task, opt), row in hv.iterrows():
            i = igd.loc[(task, opt)]
            text = pm(row["mean"], row["std"]) + ("" if not math.isfinite(i["mean"]) else f" / {fmt(i['mean'])}")
            cells[(task, opt)] = text + (" *" if opt in best.get(task, ()) else "") + (" †" if opt in worse.get(task, ()) else "")
        caption = ("Final hypervolume in the normalized space (mean ± std over seeds) / IGD+ where the true front "
                   f"is known; * best mean HV, {MARKER_RULE}")
    else:
        t = final_table(final, task_type, "final_value")
        minimize = {tid: info.minimize[0] for tid, info in perf.tasks.items()}
        best, worse = per_task_best_and_markers(final, task_type, "final_value", minimize)
        cells = {(task, opt): pm(row["mean"], row["std"]) + (" *" if opt in best.get(task, ()) else "")
                 + (" †" if opt in worse.get(task, ()) else "") for (task, opt), row in t.iterrows()}
        caption = ("Final incumbent value per task in the objective's own direction (mean ± std over seeds); * best "
                   f"mean, {MARKER_RULE} - = not run, or no incumbent.")
    table = pd.Series(cells).unstack() if cells else pd.DataFrame()
    table.index.name = "task"
    return table.fillna("-"), caption


def _type_section(doc: Doc, perf: Performance, task_type: str, fig_dir: Path, colors: dict) -> Ranking:
    opts = perf.options
    pt = perf.of_type(task_type)
    r = rank(pt.final, task_type)
    common = set(r.blocks.index)
    shared = pt.of_tasks(common)
    name = F.TYPE_NAMES[task_type]
    doc.h(2, f"{name.capitalize()} ({len(pt.tasks)} tasks, {len(pt.final)} runs, {len(r.optimizers)} optimizers)")
    p_how = f" ({r.p_method})" if r.p_method else ""
    doc.p(f"Compared on the {len(common)} task(s) every optimizer ran. Test: {r.test}; p = {fmt(r.p_value)}{p_how}"
          + (f"; critical difference {fmt(r.critical_difference)}" if math.isfinite(r.critical_difference) else "")
          + f". Best mean rank: {r.best_label()}.")
    for note in r.attainability_notes():
        doc.p(note)
    if r.excluded_tasks:
        doc.p(f"{len(r.excluded_tasks)} task(s) not every optimizer ran are left out of the ranking, scores, tests and "
              "curves (their per-task values are below): "
              + "; ".join(f"{t} ({why})" for t, why in sorted(r.excluded_tasks.items())[:20])
              + (" ..." if len(r.excluded_tasks) > 20 else ""))
    doc.table(ranking_table(r), f"Ranking over the {len(common)} common task(s). Mean rank: per-task ranks (per seed, "
                                "averaged over seeds) averaged over tasks. CD rank: ranks of the seed-averaged score (the "
                                f"test's input). Normalized score: {F.score_label(task_type, opts.log)}, mean ± std over "
                                "tasks. Tasks run: all tasks with runs of that optimizer.")
    missing = pt.final[~pt.final["has_incumbent"]]
    if len(missing):
        doc.p(f"{len(missing)} run(s) never made an eligible evaluation (e.g. no full-fidelity trial) and score 1: "
              + ", ".join(f"{o}/{t}/seed {s}" for o, t, s in missing[["optimizer_id", "task_id", "seed"]].head(20).itertuples(index=False)))
    if r.wilcoxon_holm is not None:
        doc.table(pvalue_table(r.wilcoxon_holm), "Pairwise Wilcoxon signed-rank p-values over the common tasks "
                                                 "(zero_method zsplit; exact for N <= 10), Holm-adjusted over all pairs.")
    if r.nemenyi is not None:
        doc.table(pvalue_table(r.nemenyi), "Nemenyi post-hoc p-values after the Friedman test (what the CD diagram's bars show).")
        doc.p(TEST_DIFFERENCE)
    if not r.comparable:
        doc.p("No figures: no task was run by two or more optimizers, so there is nothing to compare.")
    else:
        figs = [("cd", F.cd_diagram(r, colors))] if r.wilcoxon_holm is not None else []
        figs += [("rank_over_time", F.rank_over_time_figure(shared.curves, task_type, colors, opts.x_axis)),
                ("performance_over_time", F.performance_over_time(shared.curves, task_type, colors, opts.x_axis, opts.log))]
        if task_type in ("mo", "momf"):
            figs.append(("hypervolume_over_time", F.performance_over_time(shared.curves, task_type, colors, opts.x_axis,
                                                                          opts.log, hypervolume=True)))
        figs += [("per_task_ranks", F.heatmap(r, task_type)),
                 ("final_boxplots", F.final_boxplots(shared.final, task_type, colors, opts.log))]
        for key, (fig, cap) in figs:
            cap += "" if key == "cd" else f" Common tasks only ({len(common)})."
            doc.figure(F.save(fig, fig_dir, f"{task_type}_{key}", tight=key == "cd"), cap)
    table, caption = per_task_table(pt, task_type)
    doc.h(3, f"Per-task final performance, {name}")
    doc.table(table, caption)
    return r


def _status_section(doc: Doc, g: Gathered, missing_tasks: list[str]) -> None:
    doc.h(2, "Runs")
    doc.p(f"{len(g.runs)} run directories: {status_summary(g.runs) or 'none'}. Complete and failed runs are analysed "
          "(a failed run keeps its recorded trials and its incumbent stops improving); the others are listed here.")
    bad = g.runs[g.runs["status"] != "complete"]
    if len(bad):
        shown = bad.sort_values(["status", "optimizer_id", "task_id", "seed"]).head(MAX_STATUS_ROWS)
        table = shown[["status", "optimizer_id", "task_id", "seed", "n_trials", "reason"]].rename(
            columns={"optimizer_id": "optimizer", "task_id": "task", "n_trials": "trials"})
        doc.table(table, "Runs that are not complete" + (f" (first {MAX_STATUS_ROWS} of {len(bad)}; all in data/runs.parquet)"
                                                          if len(bad) > MAX_STATUS_ROWS else ""), index=False)
    analysed = g.trials[g.trials["run_key"].isin(g.usable_runs()["run_key"])]
    nonfinite = analysed.loc[analysed["status"].eq("NONFINITE"), "optimizer_id"].value_counts().sort_index()
    if len(nonfinite):
        total = analysed["optimizer_id"].value_counts()
        doc.p("Trials whose objective returned NaN or an infinite value (status NONFINITE: recorded, told to the "
              "optimizer as a crash, never an incumbent): "
              + ", ".join(f"{o} {n} of {total[o]}" for o, n in nonfinite.items()) + ".")
    if missing_tasks:
        doc.p(f"{len(missing_tasks)} task(s) of the task set have no usable run: " + ", ".join(missing_tasks[:50])
              + (" ..." if len(missing_tasks) > 50 else ""))


def build_report(sources: Iterable[str | Path], out: str | Path = "report", taskset: str | None = None,
                 options: Options | None = None, progress: bool = True) -> Path:
    """Gather, analyse and write the report; returns the path of index.html."""
    t0 = time.perf_counter()
    out = Path(out)
    options = options or Options()
    g = gather(sources, out / "data", progress=progress)
    if g.runs.empty:
        raise NothingToReport(f"no runs found in {', '.join(str(s) for s in sources)} (no directory with a run.json "
                              "below it): run `make run ...` first, or point RUNS= at a results directory")
    task_ids, missing = None, []
    if taskset:
        from carps_like import registry

        task_ids = registry.resolve_task_names(taskset)
        usable = set(g.usable_runs()["task_id"])
        missing = [t for t in task_ids if t not in usable]
    perf = compute(g, options, task_ids)
    fig_dir = out / "figures"
    for old in fig_dir.glob("*.p[nd][gf]") if fig_dir.exists() else []:
        old.unlink()
    colors = F.palette(perf.optimizers)
    doc = Doc()
    scope = f"task set {taskset}" if taskset else "all tasks found"
    doc.h(1, "carps-like benchmark report")
    doc.p(f"{len(perf.final)} analysed runs of {len(perf.optimizers)} optimizer(s) on {len(perf.tasks)} task(s) ({scope}); "
          f"sources: {', '.join(str(s) for s in sources)}.")
    doc.p(options.describe() + ".")
    types = [t for t in TYPE_ORDER if (perf.final["task_type"] == t).any()]
    if not types:
        doc.p("No complete or failed runs to analyse.")
    summary_rows = []
    rankings = {}
    for t in types:
        rankings[t] = r = _type_section(doc, perf, t, fig_dir, colors)
        summary_rows.append({"task type": F.TYPE_NAMES[t], "common tasks": len(r.blocks),
                             "tasks": len(r.per_task_score), "optimizers": len(r.optimizers),
                             "best (mean rank)": r.best_label() + (f" ({fmt(r.summary.loc[r.best, 'mean_rank'])})"
                                                                   if r.best else ""),
                             "test": r.test, "p": fmt(r.p_value)})
        if progress:
            print(f"report: {t} done ({time.perf_counter() - t0:.1f}s)", file=sys.stderr, flush=True)
    if summary_rows:  # the overview goes right after the introduction
        overview = Doc()
        overview.h(2, "Overview")
        overview.table(pd.DataFrame(summary_rows).set_index("task type"), "Best optimizer per task type (lowest mean rank on the tasks every optimizer ran; none when "
                       "tied or not comparable) and the test behind it; a best is not significantly better unless the "
                       "test says so.")
        doc.blocks[3:3] = overview.blocks
    _status_section(doc, g, missing)
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(render_markdown(doc, out))
    index = out / "index.html"
    index.write_text(render_html(doc, "carps-like benchmark report"))
    perf.final.to_csv(out / "data" / "final.csv", index=False)
    if progress:
        print(f"report: {index} ({time.perf_counter() - t0:.1f}s)", file=sys.stderr, flush=True)
    if perf.final.empty:
        raise NothingToReport(f"{len(g.runs)} run(s) found ({status_summary(g.runs)}), none complete or failed"
                              + (f" on task set {taskset}" if taskset else "") + f": nothing to analyse ({index} lists them)")
    return index


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--normalization", default="regret", choices=NORMALIZATIONS)
    parser.add_argument("--log", action="store_true", help="log10-scaled regret (COCO-style)")
    parser.add_argument("--mf-policy", default="max_fidelity", choices=MF_POLICIES)
    parser.add_argument("--x-axis", default="budget", choices=X_AXES)
    parser.add_argument("--grid-points", type=int, default=50)
    parser.add_argument("--mo-box", default="observed", choices=MO_BOXES,
                        help="multi-objective scaling: up to the worst observed value (default) or the front's nadir")


def options_from(args) -> Options:
    return Options(normalization=args.normalization, log=args.log, mf_policy=args.mf_policy, x_axis=args.x_axis,
                   grid_points=args.grid_points, mo_box=args.mo_box)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="run roots, study or run directories, or gathered trials.parquet files")
    parser.add_argument("--out", default="report")
    parser.add_argument("--taskset", default=None, help="restrict to a task set or task ids (comma-separated)")
    add_options(parser)
    args = parser.parse_args(argv)
    from carps_like.errors import UserError

    try:
        index = build_report(args.sources, args.out, args.taskset or None, options_from(args))
    except NothingToReport as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report written: {index} and {index.with_name('README.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
