"""Ranks and tests on fixed data, checked against autorank and scikit-posthocs / scipy."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.ranking import critical_difference, per_task_best_and_markers, per_task_ranks, rank, wilcoxon_holm


def final_frame(scores: dict[str, list[list[float]]], task_type: str = "bb") -> pd.DataFrame:
    """scores[optimizer][task][seed] -> the per-run final table analysis produces."""
    rows = []
    for opt, per_task in scores.items():
        for t, seeds in enumerate(per_task):
            for s, v in enumerate(seeds):
                rows.append({"task_type": task_type, "task_id": f"task{t:02d}", "optimizer_id": opt, "seed": s + 1,
                             "score": v, "final_value": v})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fixed():
    rng = np.random.default_rng(7)
    base = rng.uniform(0, 1, size=(12, 1))
    offsets = {"a": 0.0, "b": 0.08, "c": 0.15, "d": 0.3}
    return {o: (base + off + rng.normal(0, 0.05, size=(12, 3))).clip(0, 1).tolist() for o, off in offsets.items()}


def test_against_autorank(fixed):
    from autorank import autorank

    r = rank(final_frame(fixed), "bb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ar = autorank(r.blocks, alpha=0.05, verbose=False, order="ascending", force_mode="nonparametric")
    assert ar.omnibus == "friedman"
    assert r.p_value == pytest.approx(ar.pvalue, rel=1e-9)
    assert r.critical_difference == pytest.approx(ar.cd, rel=1e-4)  # autorank: q with large finite df
    for opt in r.optimizers:
        assert r.summary.loc[opt, "cd_rank"] == pytest.approx(ar.rankdf.loc[opt, "meanrank"], rel=1e-9)


def test_nemenyi_matches_scikit_posthocs(fixed):
    import scikit_posthocs as sp

    r = rank(final_frame(fixed), "bb")
    expected = sp.posthoc_nemenyi_friedman(r.blocks.to_numpy())
    assert np.allclose(r.nemenyi.to_numpy(), expected.to_numpy())
    assert r.nemenyi.loc["a", "d"] < 0.05  # a clear gap is found


def test_wilcoxon_holm_by_hand(fixed):
    from scipy.stats import wilcoxon

    r = rank(final_frame(fixed), "bb")
    opts = r.optimizers
    pairs = [(a, b) for i, a in enumerate(opts) for b in opts[i + 1:]]
    raw = np.array([wilcoxon(r.blocks[a], r.blocks[b], zero_method="zsplit").pvalue for a, b in pairs])
    order = np.argsort(raw)
    m = len(raw)
    holm = np.empty(m)
    running = 0.0
    for i, j in enumerate(order):  # Holm: p_(i) * (m - i), made monotone, capped at 1
        running = max(running, min(1.0, raw[j] * (m - i)))
        holm[j] = running
    for (a, b), p in zip(pairs, holm):
        assert r.wilcoxon_holm.loc[a, b] == pytest.approx(p)
        assert r.wilcoxon_holm.loc[b, a] == pytest.approx(p)


def test_per_task_ranks_average_over_seeds_and_share_ties():
    final = final_frame({"a": [[1.0, 2.0]], "b": [[1.0, 1.0]], "c": [[3.0, 0.0]]})
    ranks = per_task_ranks(final)
    # seed 1: a = b = 1.5, c = 3; seed 2: c = 1, b = 2, a = 3
    assert ranks.loc["task00"].to_dict() == {"a": 2.25, "b": 1.75, "c": 2.0}


def test_mean_rank_and_best(fixed):
    r = rank(final_frame(fixed), "bb")
    assert r.best == "a"
    assert r.summary["mean_rank"].idxmax() == "d"
    assert "d" in r.significantly_worse_than_best()
    assert r.summary["n_tasks"].tolist() == [12] * 4


def test_two_optimizers_use_wilcoxon_and_do_not_crash():
    scores = {"a": [[0.1, 0.2]] * 6, "b": [[0.5, 0.6]] * 6}
    r = rank(final_frame(scores), "bb")
    assert r.test.startswith("Wilcoxon")
    assert r.nemenyi is None and r.wilcoxon_holm.loc["a", "b"] < 0.05
    assert r.best == "a" and r.critical_difference > 0


def test_one_optimizer_or_one_task_gives_no_test_but_a_table():
    r = rank(final_frame({"a": [[0.1, 0.2]]}), "bb")
    assert r.test.startswith("none") and r.summary.loc["a", "mean_rank"] == 1.0
    r2 = rank(final_frame({"a": [[0.1]], "b": [[0.2]], "c": [[0.3]]}), "bb")
    assert r2.test.startswith("none") and r2.best == "a"


def test_all_tied_gives_p_one_and_equal_ranks():
    scores = {o: [[0.5, 0.5]] * 5 for o in "abc"}
    r = rank(final_frame(scores), "bb")
    assert r.p_value == 1.0
    assert r.summary["mean_rank"].tolist() == [2.0, 2.0, 2.0]
    assert r.significantly_worse_than_best() == set()


def test_tasks_missing_an_optimizer_are_listed_not_dropped_silently():
    final = final_frame({"a": [[0.1], [0.2], [0.3]], "b": [[0.2], [0.3], [0.4]], "c": [[0.3], [0.4], [0.5]]})
    final = final[~((final["optimizer_id"] == "c") & (final["task_id"] == "task02"))]
    r = rank(final, "bb")
    assert r.excluded_tasks == {"task02": "no runs of c"}
    assert len(r.blocks) == 2 and r.summary.loc["c", "n_tasks"] == 2


def test_critical_difference_formula():
    """Demsar 2006, Table 5: q_0.05 for k = 4 is 2.569; CD = q sqrt(k (k+1) / 6N)."""
    assert critical_difference(4, 10) == pytest.approx(2.569 * np.sqrt(4 * 5 / 60), rel=1e-3)
    assert critical_difference(2, 10) == pytest.approx(1.960 * np.sqrt(2 * 3 / 60), rel=1e-3)


def test_per_task_best_respects_direction():
    final = final_frame({"a": [[0.9, 0.91, 0.92]], "b": [[0.1, 0.11, 0.12]]})
    best_max, worse_max = per_task_best_and_markers(final, "bb", "final_value", {"task00": False})
    best_min, _ = per_task_best_and_markers(final, "bb", "final_value", {"task00": True})
    assert best_max == {"task00": {"a"}} and best_min == {"task00": {"b"}}
    assert worse_max["task00"] == set()  # three seeds each: Mann-Whitney cannot reach 0.05


def test_wilcoxon_holm_identical_columns():
    blocks = pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [0.1, 0.2, 0.3]})
    assert wilcoxon_holm(blocks).loc["a", "b"] == 1.0


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from analysis.ranking import holm

    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 9))
        p[rng.integers(0, len(p))] = p[0]  # ties
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
