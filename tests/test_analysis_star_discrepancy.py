"""Exact star discrepancy: the branch and bound against plain enumeration, the d=1 closed form and an
independent full-grid (histogram + cumulative sum) computation, with the boundary pitfalls: ties,
duplicated points, coordinates exactly 0 and exactly 1, one point, all points identical."""
from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.star_discrepancy import (BELOW, EXACT, OVER, STOPPED, UNDER, _exact, box_value, box_volume,
                                       brute_force_star_discrepancy, star_discrepancy, star_discrepancy_1d,
                                       star_discrepancy_value)

TOL = 1e-12


def grid_reference(pts: np.ndarray) -> float:
    """Independent exact method: closed counts at every critical-grid corner by a d-dimensional
    histogram and cumulative sums; open counts are the closed counts one grid step lower."""
    k, d = pts.shape
    grids, ranks = [], []
    for j in range(d):
        g = np.union1d(pts[:, j], [1.0])
        grids.append(g)
        ranks.append(np.searchsorted(g, pts[:, j]))
    closed = np.zeros([g.size for g in grids], dtype=np.int64)
    np.add.at(closed, tuple(ranks), 1)
    for axis in range(d):
        closed = np.cumsum(closed, axis=axis)
    padded = np.zeros([g.size + 1 for g in grids], dtype=np.int64)
    padded[(slice(1, None),) * d] = closed
    opened = padded[(slice(None, -1),) * d]
    vol = grids[0]
    for g in grids[1:]:
        vol = np.multiply.outer(vol, g)
    return float(max((closed / k - vol).max(), (vol - opened / k).max()))


def check_box(pts: np.ndarray, res) -> None:
    """The reported box is a real box of the set with the reported value, count and volume."""
    q = np.asarray(res.corner)
    assert q.shape == (pts.shape[1],) and np.all((0 <= q) & (q <= 1))
    inside = np.all(pts <= q, axis=1) if res.term == OVER else np.all(pts < q, axis=1)
    assert res.term in (UNDER, OVER)
    assert res.count == int(inside.sum())
    assert res.volume == pytest.approx(box_volume(res.corner), abs=TOL)
    assert box_value(pts, res.corner, res.term) == pytest.approx(res.value, abs=TOL)


def random_set(rng, k, d, kind):
    if kind == "uniform":
        return rng.random((k, d))
    if kind == "ties":  # few distinct coordinates, many tied and duplicated points
        return rng.integers(0, 4, (k, d)) / 3.0
    if kind == "halves":
        return rng.integers(0, 3, (k, d)) / 2.0
    pts = rng.random((k, d))  # "bounds": many coordinates exactly 0 or 1
    pts[rng.random((k, d)) < 0.3] = 1.0
    pts[rng.random((k, d)) < 0.2] = 0.0
    return pts


@pytest.mark.parametrize("kind", ["uniform", "ties", "halves", "bounds"])
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_matches_brute_force(kind, d):
    rng = np.random.default_rng(100 * d + len(kind))
    for _ in range(25 if d < 4 else 12):
        k = int(rng.integers(1, 13 if d < 4 else 9))
        pts = random_set(rng, k, d, kind)
        fast, brute = star_discrepancy(pts), brute_force_star_discrepancy(pts)
        assert fast.value == pytest.approx(brute.value, abs=TOL), pts
        check_box(pts, fast)
        check_box(pts, brute)
        if d == 1:
            assert fast.value == pytest.approx(star_discrepancy_1d(pts[:, 0]), abs=TOL)


@pytest.mark.parametrize("d,k", [(3, 64), (4, 30), (5, 20), (2, 150)])
def test_larger_sets_match_full_grid(d, k):
    """Beyond brute-force sizes (and more than 64 points: several bitmask words) against the
    independent full-grid method, on a uniform set and on a low-discrepancy (hard to prune) one."""
    from scipy.stats import qmc

    rng = np.random.default_rng(d * k)
    for pts in (rng.random((k, d)), qmc.Halton(d, seed=1).random(k)):
        res = star_discrepancy(pts)
        assert res.value == pytest.approx(grid_reference(pts), abs=TOL)
        check_box(pts, res)


def test_full_grid_reference_agrees_with_brute_force():
    rng = np.random.default_rng(3)
    for kind in ("uniform", "ties", "bounds"):
        pts = random_set(rng, 7, 3, kind)
        assert grid_reference(pts) == pytest.approx(brute_force_star_discrepancy(pts).value, abs=TOL)


def test_one_dimensional_closed_form():
    rng = np.random.default_rng(1)
    for k in (1, 2, 5, 17, 64, 100):
        x = rng.random(k)
        assert star_discrepancy(x[:, None]).value == pytest.approx(star_discrepancy_1d(x), abs=TOL)
    # evenly spread midpoints (2i-1)/(2k) are optimal: D* = 1/(2k)
    k = 8
    mid = (2 * np.arange(1, k + 1) - 1) / (2 * k)
    assert star_discrepancy(mid[:, None]).value == pytest.approx(1 / (2 * k), abs=TOL)
    assert star_discrepancy_1d([0.5]) == pytest.approx(0.5)


def test_single_points_and_boundary_semantics():
    # a point at the origin lies in the closed box [0,0] of volume 0: over-fill 1
    r = star_discrepancy([[0.0, 0.0]])
    assert r.value == 1.0 and r.term == OVER and r.count == 1 and r.volume == 0.0
    # a point with a coordinate 1 lies in no open box: [0,1)^d is empty, under-fill 1
    for p in ([1.0, 1.0], [1.0, 0.3], [0.2, 1.0]):
        r = star_discrepancy([p])
        assert r.value == 1.0 and r.term == UNDER and r.count == 0 and r.volume == 1.0
    # (1/2, 1/2): closed box [0,1/2]^2 holds it with volume 1/4 -> 3/4
    r = star_discrepancy([[0.5, 0.5]])
    assert r.value == pytest.approx(0.75) and r.term == OVER and r.corner == (0.5, 0.5)
    # d = 1: x = 0 and x = 1 both give 1, as the closed form says
    assert star_discrepancy([[0.0]]).value == 1.0 == star_discrepancy_1d([0.0])
    assert star_discrepancy([[1.0]]).value == 1.0 == star_discrepancy_1d([1.0])


def test_identical_and_duplicated_points():
    for d in (1, 2, 3):
        for c in (0.0, 0.3, 1.0):
            pts = np.full((5, d), c)
            assert star_discrepancy(pts).value == pytest.approx(brute_force_star_discrepancy(pts).value, abs=TOL)
    # duplicating every point keeps the empirical measure, hence D*
    rng = np.random.default_rng(4)
    pts = rng.random((6, 3))
    assert star_discrepancy(np.vstack([pts, pts])).value == pytest.approx(star_discrepancy(pts).value, abs=TOL)
    # ties along one coordinate only
    pts[:, 0] = 0.5
    assert star_discrepancy(pts).value == pytest.approx(brute_force_star_discrepancy(pts).value, abs=TOL)


def test_point_order_does_not_matter():
    rng = np.random.default_rng(5)
    pts = random_set(rng, 20, 4, "ties")
    assert star_discrepancy(pts).value == star_discrepancy(pts[rng.permutation(20)]).value
    assert star_discrepancy_value(pts) == star_discrepancy(pts).value


def test_invalid_input():
    for bad in ([[1.5, 0.2]], [[-0.1]], [[np.nan, 0.5]], np.zeros((0, 2))):
        with pytest.raises(ValueError):
            star_discrepancy(bad)


def test_search_entry_points():
    """The modes the subset search relies on: a seed box, stopping at a threshold, deciding only,
    restricting to boxes around given points, and collecting extra boxes."""
    rng = np.random.default_rng(6)
    pts = rng.random((15, 3))
    exact = star_discrepancy(pts)
    res, status = _exact(pts)
    assert status == EXACT and res.value == exact.value
    res, status = _exact(pts, seed=exact)  # seeded with the answer: still exact
    assert status == EXACT and res.value == exact.value
    res, status = _exact(pts, stop_at=exact.value)
    assert status == STOPPED and res.value >= exact.value
    res, status = _exact(pts, stop_at=exact.value + 1e-9, decide=True)
    assert status == BELOW and res.value <= exact.value
    check_box(pts, res)
    res, status = _exact(pts, stop_at=exact.value - 0.05, decide=True)
    assert status == STOPPED and res.value >= exact.value - 0.05
    extra = []
    _exact(pts, stop_at=exact.value - 0.1, decide=True, around=(pts[0], pts[1]), harvest=[exact.value - 0.1, 5, extra])
    assert len(extra) <= 5
    for box in extra:
        check_box(pts, box)
        assert box.value >= exact.value - 0.1 - TOL
        if box.term == OVER:  # around=(a, r): closed boxes contain a, open boxes contain r
            assert np.all(pts[0] <= np.asarray(box.corner))
        else:
            assert np.all(pts[1] < np.asarray(box.corner))


def test_worst_box_is_attained_on_the_grid():
    """The box reported is worst: no corner of the full critical grid does better."""
    rng = np.random.default_rng(7)
    pts = random_set(rng, 9, 3, "bounds")
    res = star_discrepancy(pts)
    grids = [np.union1d(pts[:, j], [1.0]) for j in range(3)]
    best = -math.inf
    for q in np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, 3):
        best = max(best, box_value(pts, q, UNDER), box_value(pts, q, OVER))
    assert res.value == pytest.approx(best, abs=TOL)
