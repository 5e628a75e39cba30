"""Report figures drawn for real (Agg): confidence bands of normalized scores stay in [0, 1], and
labels neither overlap the tick labels nor get clipped (checked on the rendered text extents)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from analysis import figures as F  # noqa: E402
from analysis.anytime import mean_with_ci  # noqa: E402
from analysis.ranking import rank  # noqa: E402

GRID = np.linspace(0.0, 1.0, 6)[1:]


def curves_frame(per_task: dict[str, list[list[float]]]) -> pd.DataFrame:
    """per_task[optimizer][task][seed] -> a score constant over the grid (the anytime curves table)."""
    rows = []
    for opt, tasks in per_task.items():
        for t, seeds in enumerate(tasks):
            for s, v in enumerate(seeds):
                for x in GRID:
                    rows.append({"task_type": "bb", "task_id": f"task{t:02d}", "optimizer_id": opt, "seed": s,
                                 "x": x, "score": v, "run_key": f"{opt}/{t}/{s}"})
    return pd.DataFrame(rows)


# scores in [0, 1] where a symmetric t-interval leaves the range: several tasks near 0 and one large
# (mean 0.19, t-interval about [-0.30, 0.68]); one task with seeds near 0 and one large (the
# single-task case resamples seeds); tasks near 1, one small (above 1 for the t-interval; also what
# the hypervolume curves, 1 - score, look like)
SKEWED = {
    "near0": [[0.0, 0.0, 0.01], [0.0, 0.02, 0.0], [0.01, 0.0, 0.0], [0.0, 0.0, 0.0], [0.95, 0.9, 0.97]],
    "near1": [[1.0, 1.0, 0.99], [0.98, 1.0, 1.0], [1.0, 0.99, 1.0], [0.05, 0.1, 0.02]],
}
SINGLE_TASK = {"seeds": [[0.0, 0.0, 0.01, 0.0, 0.9]]}


@pytest.mark.parametrize("scores", [SKEWED, SINGLE_TASK], ids=["tasks", "single_task_seeds"])
def test_mean_with_ci_band_stays_in_unit_interval(scores):
    c = curves_frame(scores)
    m = mean_with_ci(c)
    assert len(m) == len(scores) * len(GRID)
    assert set(m.columns) >= {"optimizer_id", "x", "mean", "lo", "hi", "n"}
    for opt, tasks in scores.items():
        units = np.array([np.mean(s) for s in tasks]) if len(tasks) > 1 else np.array(tasks[0], float)
        g = m[m["optimizer_id"] == opt]
        assert np.allclose(g["mean"], units.mean())  # the curve itself is unchanged: mean of the seed means
        assert (g["n"] == len(units)).all()
        # a bounded band: never outside the data's range, hence never outside [0, 1]
        assert (g["lo"] >= units.min()).all() and (g["hi"] <= units.max()).all(), g[["lo", "hi"]]
        assert (g["lo"] >= 0).all() and (g["hi"] <= 1).all()
        assert (g["lo"] <= g["mean"]).all() and (g["mean"] <= g["hi"]).all()
        assert (g["hi"] - g["lo"] > 0.05).all()  # and still an interval, not a point


def test_mean_with_ci_is_a_seeded_deterministic_bootstrap():
    c = curves_frame(SKEWED)
    first = mean_with_ci(c)
    pd.testing.assert_frame_equal(first, mean_with_ci(c.sample(frac=1.0, random_state=3)))  # row order is irrelevant
    pd.testing.assert_frame_equal(first, mean_with_ci(c, seed=0))
    # a band depends only on its own optimizer's runs, not on which other optimizers are drawn
    alone = mean_with_ci(c[c["optimizer_id"] == "near0"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, first[first["optimizer_id"] == "near0"].reset_index(drop=True))
    other = mean_with_ci(c, seed=1)
    assert np.allclose(other["mean"], first["mean"])
    assert not np.allclose(other[["lo", "hi"]], first[["lo", "hi"]])  # the interval is resampled, with that seed


@pytest.mark.parametrize("hypervolume", [False, True])
def test_performance_over_time_band_drawn_inside_unit_interval(hypervolume):
    c = curves_frame(SKEWED)
    colors = F.palette(sorted(SKEWED))
    fig, cap = F.performance_over_time(c, "bb", colors, "budget", log=False, hypervolume=hypervolume)
    try:
        bands = [p for p in fig.axes[0].collections if isinstance(p, PolyCollection)]
        assert len(bands) == len(SKEWED)
        for band in bands:
            y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
            assert y.min() >= 0.0 and y.max() <= 1.0, (y.min(), y.max())
        assert "bootstrap" in cap and "t-interval" not in cap
    finally:
        matplotlib.pyplot.close(fig)


# -- layout --------------------------------------------------------------------------------------------
def final_frame(k: int, n_tasks: int, seeds: int = 3, seed: int = 0) -> pd.DataFrame:
    """The per-run final table: optimizer i is about 0.1 i worse than optimizer 0, with noise."""
    rng = np.random.default_rng(seed)
    names = [f"optimizer_{i}" if i % 2 else f"opt{i}" for i in range(k)]
    rows = [{"task_type": "bb", "task_id": f"bbob/f{t}_d5", "optimizer_id": o, "seed": s,
             "score": float(np.clip(0.1 * i + rng.normal(0, 0.1), 0, 1))}
            for i, o in enumerate(names) for t in range(n_tasks) for s in range(seeds)]
    return pd.DataFrame(rows)


def drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def inside(box, outer) -> bool:
    return outer.x0 <= box.x0 and box.x1 <= outer.x1 and outer.y0 <= box.y0 and box.y1 <= outer.y1


def visible_texts(texts) -> list[Text]:
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("n_tasks", [3, 12])
@pytest.mark.parametrize("k", [2, 3, 6])
def test_cd_diagram_rank_label_clear_of_tick_labels(k, n_tasks):
    r = rank(final_frame(k, n_tasks), "bb")
    fig, _ = F.cd_diagram(r, F.palette(r.optimizers))
    try:
        renderer = drawn(fig)
        ax = fig.axes[0]
        label = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().startswith("mean rank (1 = best)")]
        assert len(label) == 1
        label_box = label[0].get_window_extent(renderer)
        lo, hi = ax.get_xlim()
        ticks = [t for t in visible_texts(ax.get_xticklabels()) if lo <= t.get_position()[0] <= hi]
        assert len(ticks) >= 2
        for t in ticks:
            box = t.get_window_extent(renderer)
            assert not label_box.overlaps(box), f"axis label {label_box} overlaps tick label {t.get_text()!r} {box}"
        title_box = ax.title.get_window_extent(renderer)
        for t in [label[0], *ticks]:
            assert not title_box.overlaps(t.get_window_extent(renderer)), f"title overlaps {t.get_text()!r}"
    finally:
        matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("n_tasks", [2, 3, 12, 40])
@pytest.mark.parametrize("k", [2, 3, 6])
def test_heatmap_colorbar_label_inside_figure(k, n_tasks):
    r = rank(final_frame(k, n_tasks), "bb")
    fig, _ = F.heatmap(r, "bb")
    try:
        renderer = drawn(fig)
        ax, cax = fig.axes
        cbar_label = cax.yaxis.label
        assert cbar_label.get_text().startswith("rank averaged")
        figure_box = fig.bbox
        box = cbar_label.get_window_extent(renderer)
        assert inside(box, figure_box), f"colour-bar label {box} clipped by the figure {figure_box}"
        for t in visible_texts(cax.get_yticklabels()):
            assert not box.overlaps(t.get_window_extent(renderer)), f"colour-bar label overlaps tick {t.get_text()!r}"
        # nothing else is clipped either
        others = [ax.title, ax.xaxis.label, ax.yaxis.label, *visible_texts(ax.get_xticklabels()),
                  *visible_texts(ax.get_yticklabels()), *visible_texts(cax.get_yticklabels())]
        for t in others:
            b = t.get_window_extent(renderer)
            assert inside(b, figure_box), f"{t.get_text()!r} {b} clipped by the figure {figure_box}"
    finally:
        matplotlib.pyplot.close(fig)
