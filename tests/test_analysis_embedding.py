"""Task embedding for subset selection: per-column ECDF normalization and the CARP-S pitfalls."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.embedding import ecdf_midpoints, embed


def final_frame(rows: dict[str, dict[str, float]], seeds: int = 2) -> pd.DataFrame:
    out = []
    for task, by_opt in rows.items():
        for opt, v in by_opt.items():
            for s in range(seeds):
                out.append({"task_type": "bb", "task_id": task, "optimizer_id": opt, "seed": s + 1, "score": v})
    return pd.DataFrame(out)


def test_columns_not_rows_are_normalized():
    """CARP-S scaled each row to [0, 1], putting a 1 in every point; per-column ranks do not."""
    f = final_frame({"t1": {"a": 0.1, "b": 0.2}, "t2": {"a": 0.3, "b": 0.9}, "t3": {"a": 0.2, "b": 0.5}})
    e = embed(f, "bb", ["a", "b"])
    assert e.task_ids == ["t1", "t2", "t3"]
    # column a: 0.1 < 0.2 < 0.3 -> ranks 1, 3, 2; (r - 0.5) / 3
    assert e.points[:, 0] == pytest.approx([0.5 / 3, 2.5 / 3, 1.5 / 3])
    assert not np.any(e.points == 1.0) and not np.any(e.points == 0.0)


def test_ties_share_a_coordinate_and_all_tied_tasks_are_points():
    f = final_frame({"t1": {"a": 0.0, "b": 0.0}, "t2": {"a": 0.0, "b": 0.0}, "t3": {"a": 0.5, "b": 0.1}})
    e = embed(f, "bb", ["a", "b"])
    assert np.isfinite(e.points).all() and len(e.task_ids) == 3
    assert e.points[0, 0] == e.points[1, 0] == pytest.approx(1.0 / 3)  # average rank 1.5 -> 1/3


def test_duplicate_points_keep_their_own_task_ids():
    f = final_frame({"x": {"a": 0.2, "b": 0.3}, "y": {"a": 0.2, "b": 0.3}, "z": {"a": 0.9, "b": 0.1}})
    e = embed(f, "bb", ["a", "b"])
    assert e.task_ids == ["x", "y", "z"] and np.array_equal(e.points[0], e.points[1])
    assert e.frame().loc["y"].tolist() == e.points[1].tolist()


def test_missing_reference_runs_exclude_the_task_with_a_reason():
    f = final_frame({"t1": {"a": 0.1, "b": 0.2}, "t2": {"a": 0.3}})
    e = embed(f, "bb", ["a", "b"])
    assert e.task_ids == ["t1"] and e.excluded == {"t2": "no usable run of b"}


def test_ecdf_midpoints_are_uniform_marginals():
    rng = np.random.default_rng(0)
    pts = ecdf_midpoints(rng.exponential(size=(100, 3)))
    for j in range(3):
        assert sorted(pts[:, j]) == pytest.approx((np.arange(100) + 0.5) / 100)


def test_nan_seed_scores_are_averaged_over_the_finite_seeds_and_reported():
    """Issue 17 item 11: a NaN seed used to vanish silently in the mean."""
    f = final_frame({"t1": {"a": 0.1, "b": 0.2}, "t2": {"a": 0.3, "b": 0.9}, "t3": {"a": 0.2, "b": 0.5}}, seeds=3)
    f.loc[(f.task_id == "t2") & (f.optimizer_id == "b") & (f.seed == 2), "score"] = np.nan
    e = embed(f, "bb", ["a", "b"])
    assert e.task_ids == ["t1", "t2", "t3"] and e.raw[1, 1] == pytest.approx(0.9) and e.excluded == {}
    assert e.nan_seeds == {"t2": "b: 1 of 3 seeds NaN"}


def test_infinite_scores_exclude_the_task_with_the_reason():
    """Issue 17 item 11: an infinite score used to stay in as an extreme rank."""
    f = final_frame({"t1": {"a": 0.1, "b": 0.2}, "t2": {"a": 0.3, "b": 0.9}, "t3": {"a": 0.2, "b": 0.5},
                     "t4": {"a": 0.4, "b": 0.1}, "t5": {"a": 0.6}}, seeds=3)
    f.loc[(f.task_id == "t1") & (f.optimizer_id == "b") & (f.seed == 3), "score"] = -np.inf
    f.loc[(f.task_id == "t3") & (f.optimizer_id == "a") & (f.seed != 2), "score"] = np.inf
    f.loc[(f.task_id == "t5") & (f.optimizer_id == "a") & (f.seed == 1), "score"] = np.inf
    e = embed(f, "bb", ["a", "b"])
    assert e.task_ids == ["t2", "t4"] and np.isfinite(e.points).all() and e.nan_seeds == {}
    assert e.excluded == {"t1": "infinite score of b (1 of 3 seeds)", "t3": "infinite score of a (2 of 3 seeds)",
                          "t5": "no usable run of b; infinite score of a (1 of 3 seeds)"}
