"""Subset search: determinism for a seed and budget, distinct sorted indices, exclusion, disjoint
dev/test subsets, reported discrepancy = exact recomputation, and quality: better than the best of
as many random subsets as evaluations spent (a comparison of quality, not of time)."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.star_discrepancy import star_discrepancy
from analysis.subset_search import select, select_dev_test, select_dev_then_test


def uniform(n, d, seed=0):
    return np.random.default_rng(seed).random((n, d))


def check_subset(pts, res, k, exclude=()):
    idx = res.indices
    assert idx.shape == (k,) and idx.dtype.kind == "i"
    assert np.all(np.diff(idx) > 0)  # sorted, distinct
    assert not set(idx.tolist()) & set(np.asarray(exclude, dtype=int).tolist())
    exact = star_discrepancy(pts[idx])
    assert res.discrepancy == exact.value  # same value, bit for bit
    assert res.box.value == exact.value


def test_deterministic_for_seed_and_budget():
    pts = uniform(400, 3, seed=1)
    a = select(pts, 12, seed=5, budget=250)
    b = select(pts, 12, seed=5, budget=250)
    assert np.array_equal(a.indices, b.indices) and a.discrepancy == b.discrepancy
    assert a.evaluations == b.evaluations <= 250
    c = select(pts, 12, seed=6, budget=250)
    check_subset(pts, c, 12)
    d = select_dev_test(pts, 10, seed=5, budget=250)
    e = select_dev_test(pts, 10, seed=5, budget=250)
    assert np.array_equal(d.dev.indices, e.dev.indices) and np.array_equal(d.test.indices, e.test.indices)


def test_valid_result_and_exact_value():
    pts = uniform(300, 4, seed=2)
    res = select(pts, 15, seed=0, budget=200)
    check_subset(pts, res, 15)


def test_exclusion_is_honoured():
    pts = uniform(120, 3, seed=3)
    exclude = list(range(0, 120, 2))  # every even index
    res = select(pts, 10, seed=1, budget=200, exclude=exclude)
    check_subset(pts, res, 10, exclude)
    assert np.all(res.indices % 2 == 1)
    # exactly k selectable points: all of them
    res = select(pts, 10, seed=1, budget=20, exclude=list(range(10, 120)))
    assert np.array_equal(res.indices, np.arange(10))
    with pytest.raises(ValueError):
        select(pts, 10, seed=1, budget=20, exclude=list(range(5, 120)))
    with pytest.raises(ValueError):
        select(pts, 10, seed=1, budget=0)


def test_duplicated_points_keep_their_own_indices():
    base = uniform(40, 2, seed=4)
    pts = np.vstack([base, base, base])  # every point three times
    pts[:5] = 0.0  # and some at the corner
    res = select(pts, 12, seed=2, budget=200)
    check_subset(pts, res, 12)


def test_dev_test_disjoint_exact_and_exclusion():
    pts = uniform(200, 3, seed=5)
    exclude = [0, 1, 2, 3, 50, 199]
    res = select_dev_test(pts, 15, seed=3, budget=300, exclude=exclude)
    check_subset(pts, res.dev, 15, exclude)
    check_subset(pts, res.test, 15, exclude)
    assert not set(res.dev.indices.tolist()) & set(res.test.indices.tolist())
    assert res.worst == max(res.dev.discrepancy, res.test.discrepancy)
    # just enough points: the two subsets partition them
    res = select_dev_test(pts[:24], 12, seed=1, budget=100)
    assert sorted(res.dev.indices.tolist() + res.test.indices.tolist()) == list(range(24))
    with pytest.raises(ValueError):
        select_dev_test(pts[:23], 12, seed=1, budget=100)


def test_beats_best_of_random_at_equal_evaluations():
    pts = uniform(500, 3, seed=6)
    k, budget = 12, 300
    res = select(pts, k, seed=0, budget=budget)
    rng = np.random.default_rng(0)
    best_random = min(star_discrepancy(pts[rng.choice(500, k, replace=False)]).value for _ in range(budget))
    assert res.evaluations <= budget
    assert res.discrepancy < 0.85 * best_random


def test_dev_test_is_balanced_where_sequential_starves_test():
    """With few spare points, picking dev first leaves test the leftovers; the joint search keeps
    the worse of the two lower (fixed instance and seeds, same total budget)."""
    pts = uniform(50, 3, seed=7)
    k, budget = 20, 600
    joint = select_dev_test(pts, k, seed=0, budget=budget)
    seq = select_dev_then_test(pts, k, seed=0, budget=budget)
    dev, test = seq.dev, seq.test
    assert not set(dev.indices) & set(test.indices) and seq.evaluations <= budget
    assert joint.worst < max(dev.discrepancy, test.discrepancy)
    assert abs(joint.dev.discrepancy - joint.test.discrepancy) < abs(dev.discrepancy - test.discrepancy)


def _ties_reversed_argsort(real):
    """np.argsort as another CPU may compute it: numpy's default (unstable) sort dispatches to SIMD
    code, and the order of equal values is whatever that code gives. Here: ties in reverse index
    order, a valid result of an unstable sort. Stable sorts are left alone."""
    def argsort(a, axis=-1, kind=None, order=None, **kwargs):
        a = np.asarray(a)
        if kind in ("stable", "mergesort") or a.ndim != 1 or order is not None:
            return real(a, axis=axis, kind=kind, order=order, **kwargs)
        return a.size - 1 - real(a[::-1], kind="stable")  # ascending, equal values in descending index order
    return argsort


def test_the_chosen_subsets_do_not_depend_on_how_a_cpu_orders_ties(monkeypatch):
    """The shipped subsets came out different on a CPU without AVX-512: numpy's argsort and
    argpartition order ties per CPU, and the search read that order. Every order it reads must
    be stable, so the same data gives the same subsets everywhere."""
    from analysis.embedding import ecdf_midpoints

    rng = np.random.default_rng(5)
    pts = ecdf_midpoints(rng.integers(0, 5, size=(90, 3)).astype(float))  # ties in values, distances, box values
    expected = select_dev_test(pts, 8, seed=1, budget=400)
    ties_reversed = _ties_reversed_argsort(np.argsort)
    monkeypatch.setattr(np, "argsort", ties_reversed)
    monkeypatch.setattr(np, "argpartition", lambda a, kth, **kw: ties_reversed(a))  # a full sort is a partition
    got = select_dev_test(pts, 8, seed=1, budget=400)
    assert got.dev.indices.tolist() == expected.dev.indices.tolist()
    assert got.test.indices.tolist() == expected.test.indices.tolist()
    assert got.evaluations == expected.evaluations
