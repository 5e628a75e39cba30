"""Report figures. Each function draws one figure and returns it with a one-line caption that
says what is plotted and how it was normalized; `save` writes PNG and PDF side by side.

Matplotlib runs headless (Agg). Colours are fixed per optimizer across all figures of a
report, so a reader can follow one optimizer from figure to figure.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .anytime import mean_with_ci, rank_over_time  # noqa: E402
from .ranking import Ranking  # noqa: E402

TYPE_NAMES = {"bb": "blackbox", "mf": "multi-fidelity", "mo": "multi-objective", "momf": "multi-fidelity multi-objective"}
X_LABELS = {"budget": "budget used (fraction of full-fidelity evaluations)",
            "wall_time": "wall time (fraction of the task's longest run)",
            "virtual_time": "virtual time (fraction of the task's longest run)"}


def palette(optimizers: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10" if len(optimizers) <= 10 else "tab20")
    return {o: cmap(i % cmap.N) for i, o in enumerate(sorted(optimizers))}


def score_label(task_type: str, log: bool) -> str:
    if task_type in ("mo", "momf"):
        return "1 - HV / HV(reference front)"
    return "normalized regret" + (" (log10 scaled)" if log else "")


def save(fig, directory: Path, name: str, tight: bool = False) -> dict[str, Path]:
    """PNG + PDF. Figures use constrained layout; bbox_inches="tight" (a second layout pass,
    about 0.35 s per figure) only where labels are drawn outside the axes (the CD diagram)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext in ("png", "pdf"):
        path = directory / f"{name}.{ext}"
        fig.savefig(path, dpi=110 if ext == "png" else None, bbox_inches="tight" if tight else None)
        paths[ext] = path
    plt.close(fig)
    return paths


def cd_diagram(ranking: Ranking, colors: dict) -> tuple[plt.Figure, str]:
    import scikit_posthocs as sp

    k = len(ranking.optimizers)
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.3 * k))
    sig = ranking.nemenyi if ranking.nemenyi is not None else ranking.wilcoxon_holm
    ranks = ranking.summary["cd_rank"]
    if sig is not None and ranks.notna().all():
        sp.critical_difference_diagram(ranks, sig, ax=ax, alpha=ranking.alpha,
                                       color_palette={o: colors[o] for o in ranking.optimizers})
        # the rank axis is drawn at the top (ticks above the line): its label goes above the tick
        # labels, where matplotlib places it from their extents, and the title above both
        ax.xaxis.set_label_position("top")
        ax.set_xlabel("mean rank (1 = best) ->", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no test: " + ranking.test, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    name = TYPE_NAMES.get(ranking.task_type, ranking.task_type)
    ax.set_title(f"Critical difference diagram, {name} ({len(ranking.blocks)} tasks)", pad=8)
    post = "Nemenyi" if ranking.nemenyi is not None else "Holm-adjusted Wilcoxon"
    cap = (f"Mean ranks of the final normalized score averaged over seeds per task, on the tasks every optimizer "
           f"ran ({ranking.test}, p = {ranking.p_value:.3g}{', ' + ranking.p_method if ranking.p_method else ''}); "
           f"bars join optimizers that the {post} test at alpha = {ranking.alpha} "
           f"does not separate; CD = {ranking.critical_difference:.2f}.")
    return fig, cap


def rank_over_time_figure(curves: pd.DataFrame, task_type: str, colors: dict, x_axis: str) -> tuple[plt.Figure, str]:
    r = rank_over_time(curves)
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for opt, g in r.groupby("optimizer_id"):
        ax.plot(g["x"], g["rank"], label=opt, color=colors[opt], lw=1.8)
    k = curves["optimizer_id"].nunique()
    ax.set_ylim(0.8, k + 0.2)
    ax.invert_yaxis()
    ax.set_xlabel(X_LABELS[x_axis])
    ax.set_ylabel("mean rank (1 = best)")
    ax.set_title(f"Rank over time, {TYPE_NAMES.get(task_type, task_type)}")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    cap = ("Rank within each (task, seed) at every point of the budget grid, averaged over seeds, then tasks; "
           "ties share the average rank.")
    return fig, cap


def performance_over_time(curves: pd.DataFrame, task_type: str, colors: dict, x_axis: str, log: bool,
                          hypervolume: bool = False) -> tuple[plt.Figure, str]:
    c = curves.assign(score=1.0 - curves["score"]) if hypervolume else curves
    m = mean_with_ci(c)
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for opt, g in m.groupby("optimizer_id"):
        ax.plot(g["x"], g["mean"], label=opt, color=colors[opt], lw=1.8)
        ax.fill_between(g["x"], g["lo"], g["hi"], color=colors[opt], alpha=0.18, lw=0)
    name = TYPE_NAMES.get(task_type, task_type)
    ax.set_xlabel(X_LABELS[x_axis])
    if hypervolume:
        ax.set_ylabel("HV / HV(reference front) (higher is better)")
        ax.set_title(f"Hypervolume over time, {name}")
        cap = ("Hypervolume of each run's front in the normalized objective space (reference point 1.1 per "
               "objective) relative to the reference front's; mean over tasks of the seed mean, with a percentile "
               "bootstrap 95% interval over tasks (over seeds for a single task; seeded), which stays within the "
               "range of the data.")
    else:
        ax.set_ylabel(score_label(task_type, log) + " (lower is better)")
        ax.set_title(f"Normalized performance over time, {name}")
        positive = m["mean"][m["mean"] > 0]
        if len(positive) and positive.max() / max(positive.min(), 1e-12) > 50:
            ax.set_yscale("log")
        cap = (f"{score_label(task_type, log).capitalize()} of the incumbent per task, mean over tasks of the seed "
               "mean, with a percentile bootstrap 95% interval over tasks (over seeds for a single task; seeded), "
               "which stays within the range of the data; 1 until a run has its first eligible evaluation.")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3, which="both")
    return fig, cap


def heatmap(ranking: Ranking, task_type: str) -> tuple[plt.Figure, str]:
    table = ranking.per_task_rank
    n_tasks, k = table.shape
    height = min(max(2.5, 0.22 * n_tasks + 1.2), 40)
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * k + 2.5, height), layout="constrained")
    im = ax.imshow(table.to_numpy(float), aspect="auto", cmap="viridis_r", vmin=1, vmax=max(k, 2))
    ax.set_xticks(range(k), table.columns, rotation=30, ha="right", fontsize=8)
    if n_tasks <= 120:
        ax.set_yticks(range(n_tasks), table.index, fontsize=max(4, min(8, 400 // max(n_tasks, 1))))
    else:
        ax.set_yticks([])
    if n_tasks * k <= 400:
        for (i, j), v in np.ndenumerate(table.to_numpy(float)):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6, color="w" if v > (k + 1) / 2 else "k")
    # two short lines: the rotated label must fit the colour bar's height (2.5 in for a few tasks)
    fig.colorbar(im, ax=ax).set_label("rank averaged\nover seeds (1 = best)", fontsize=9)
    ax.set_xlabel("optimizer")
    ax.set_ylabel(f"task ({n_tasks})")
    ax.set_title(f"Per-task ranks, {TYPE_NAMES.get(task_type, task_type)}")
    cap = ("Rank of each optimizer on each task every optimizer ran (final normalized score, ranked per seed, "
           "averaged over seeds); tasks only some optimizers ran are listed in the text, not ranked.")
    return fig, cap


def final_boxplots(final: pd.DataFrame, task_type: str, colors: dict, log: bool) -> tuple[plt.Figure, str]:
    opts = sorted(final["optimizer_id"].unique())
    data = [final.loc[final["optimizer_id"] == o, "score"].to_numpy(float) for o in opts]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.0 * len(opts) + 2), 3.8), layout="constrained")
    box = ax.boxplot(data, patch_artist=True, showmeans=True, medianprops={"color": "k"})
    ax.set_xticks(range(1, len(opts) + 1), opts, rotation=30, ha="right", fontsize=8)
    for patch, o in zip(box["boxes"], opts):
        patch.set_facecolor(colors[o])
        patch.set_alpha(0.6)
    ax.set_xlabel("optimizer")
    ax.set_ylabel(score_label(task_type, log) + " (lower is better)")
    ax.set_title(f"Final performance, {TYPE_NAMES.get(task_type, task_type)}")
    from matplotlib.lines import Line2D

    ax.legend(handles=[Line2D([], [], color="k", label="median"),
                       Line2D([], [], marker="^", ls="", color="green", label="mean")], fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    cap = f"Final {score_label(task_type, log)} of every run (task x seed) at the end of its budget; box = quartiles."
    return fig, cap


def finite_or_dash(v: float, fmt: str = "{:.3g}") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)
