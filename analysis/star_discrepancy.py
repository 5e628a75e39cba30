"""Exact L-infinity star discrepancy of a small point set in [0,1]^d (k points, d dimensions).

Definition and boundary semantics (the usual one, e.g. Gnewuch, Wahlstroem & Winzen 2012):

    D*(P) = max(U, O)
    U = max_q  vol(q) - |P ∩ [0,q)| / k      under-fill of OPEN anchored boxes  [0,q)
    O = max_q  |P ∩ [0,q]| / k - vol(q)      over-fill of CLOSED anchored boxes [0,q]

with q in [0,1]^d and vol(q) = q_1 * ... * q_d. This equals sup_q |vol(q) - |P ∩ [0,q)|/k| over
half-open boxes (open and closed boxes are the limits from below and above). Consequences that the
tests pin down:

* a point with x_j = 1 lies in no open box (q_j <= 1), so {x = 1} alone gives U = 1 (D* = 1 for k=1);
* a point with x_j = 0 lies in the closed box with q_j = 0 (volume 0), so {x = 0} alone gives O = 1;
* tied / duplicated points are counted with multiplicity, both are in or out of a box together.

Both maxima are attained on the critical grid: every q_j is a coordinate of some point or 1.
Tie-breaking among equally bad boxes is unspecified; the value is exact.

Algorithm (`star_discrepancy`): branch and bound over the critical grid, vectorised with one bit per
point (uint64 words, numpy.bitwise_count). Coordinates are fixed one dimension at a time; a partial
box keeps the bitmask of the points still inside it and its partial volume. Only corners that can be
optimal are generated: for the closed (over-fill) term q_j must be the j-th coordinate of a point
still in the box (a box can be shrunk onto its points), for the open (under-fill) term q_j is 1 or
the coordinate of a point still in the box in the other dimensions (a box grows until a point blocks
it). Partial boxes are cut when a cheap bound cannot beat the best box found so far:

* over-fill: a point p can only stay in a box of volume v if prod_{l>=j} x_l(p) <= v / V (V the
  partial volume); iterating  c -> #{p in box: prod_{l>=j} x_l(p) < (c/k - best)/V}  bounds the count;
* under-fill: all remaining q_l must exceed (best + c/k)/V, so points whose remaining coordinates
  are all below it are surely inside; iterating gives a lower bound c on the count, cut if V - c/k <= best.

The counts come from binary search in sorted keys, or from a 1/1024 table when many partial boxes
are cut at once (rounded towards the safe side). A lower bound from the d one-dimensional
projections (boxes with all other q_l = 1) seeds `best`; callers (subset search) can seed it with known boxes and ask to stop as soon as a box reaches a
threshold. Worst case the work is the number of chains of in-box coordinates, about
(k+1)^d / (d-1)! bitmask operations per term, much less after the cuts; memory is bounded by
processing partial boxes in chunks (depth-first).

`brute_force_star_discrepancy` enumerates the whole critical grid ((k+1)^d corners, tests only) and
`star_discrepancy_1d` is the closed form D* = 1/(2k) + max_i |x_(i) - (2i-1)/(2k)|.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

UNDER = "under"  # open box [0,q) holding too few points: vol(q) - count/k
OVER = "over"  # closed box [0,q] holding too many points: count/k - vol(q)

_CHUNK = 1 << 15  # dense (node x grid value) elements per vectorised step
_SLACK = 1e-9  # relative slack in the cuts so that rounding can never cut the optimum
_CUT_ROUNDS = 3  # refinements of the count bound in a cut
_TABLE = 1024  # resolution of the cut tables
_TABLE_FROM = 2048  # partial boxes in one cut from which a table beats binary search
_ONE = np.uint64(1)


@dataclass(frozen=True)
class StarDiscrepancy:
    """The discrepancy and one worst box: corner q, term (UNDER = open box [0,q) with too few points,
    OVER = closed box [0,q] with too many), number of points in that box, and its volume."""

    value: float
    corner: tuple[float, ...]
    term: str
    count: int
    volume: float

    def __float__(self) -> float:
        return float(self.value)


def _check(points) -> np.ndarray:
    pts = np.asarray(points, dtype=float)
    if pts.ndim == 1:
        pts = pts[:, None]
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] == 0:
        raise ValueError(f"need a non-empty (k, d) array of points, got shape {pts.shape}")
    if not np.all(np.isfinite(pts)) or pts.min() < 0.0 or pts.max() > 1.0:
        raise ValueError("points must be finite and lie in [0, 1]^d")
    return pts


def box_volume(corner) -> float:
    """Volume of [0, corner], multiplying in dimension order (the same rounding everywhere)."""
    v = 1.0
    for c in corner:
        v *= float(c)
    return v


def box_value(points, corner, term: str) -> float:
    """Local discrepancy of one anchored box: vol - open count/k (UNDER) or closed count/k - vol (OVER)."""
    pts = _check(points)
    q = np.asarray(corner, dtype=float)
    k = pts.shape[0]
    if term == UNDER:
        return box_volume(q) - int(np.all(pts < q, axis=1).sum()) / k
    if term == OVER:
        return int(np.all(pts <= q, axis=1).sum()) / k - box_volume(q)
    raise ValueError(f"term must be {UNDER!r} or {OVER!r}")


def star_discrepancy_1d(x) -> float:
    """Closed form for d = 1: D* = 1/(2k) + max_i |x_(i) - (2i-1)/(2k)| (Niederreiter, Thm 2.6)."""
    xs = np.sort(_check(np.reshape(np.asarray(x, dtype=float), (-1, 1)))[:, 0])
    k = xs.size
    i = np.arange(1, k + 1)
    return float(1.0 / (2 * k) + np.max(np.abs(xs - (2 * i - 1) / (2 * k))))


def brute_force_star_discrepancy(points) -> StarDiscrepancy:
    """Every corner of the critical grid (coordinates of points, and 1), counted directly.
    Obviously correct and O(k (k+1)^d); for tests and small sets only."""
    pts = _check(points)
    k, d = pts.shape
    grids = [np.union1d(pts[:, j], [1.0]) for j in range(d)]
    corners = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, d)
    vol = np.ones(len(corners))
    for j in range(d):
        vol = vol * corners[:, j]
    best = (-math.inf, None, None, 0, 0.0)
    step = max(1, 200_000 // (k * d))
    for s in range(0, len(corners), step):
        q = corners[s:s + step]
        closed = np.all(pts[None, :, :] <= q[:, None, :], axis=2).sum(1)
        opened = np.all(pts[None, :, :] < q[:, None, :], axis=2).sum(1)
        over = closed / k - vol[s:s + step]
        under = vol[s:s + step] - opened / k
        for vals, term, cnt in ((under, UNDER, opened), (over, OVER, closed)):
            i = int(np.argmax(vals))
            if vals[i] > best[0]:
                best = (float(vals[i]), q[i], term, int(cnt[i]), float(vol[s + i]))
    v, q, term, cnt, vol_q = best
    return StarDiscrepancy(v, tuple(float(c) for c in q), term, cnt, vol_q)


class _Prepared:
    """Per-set tables, one row per dimension over the k sorted coordinates and a final 1.0 (tied
    values repeat; only the first of a tie group is a child candidate): bitmasks of the points
    <= (le), < (lt) and == (eq) each grid value, and the sorted keys of the cuts."""

    __slots__ = ("k", "d", "grid", "eq", "le", "lt", "full", "okey", "omask", "ukey", "umask",
                 "wide", "m", "seed", "tables")

    def __init__(self, pts: np.ndarray):
        k, d = pts.shape
        if (k + 1) ** d >= 2 ** 62:
            raise ValueError(f"k={k}, d={d}: the critical grid ((k+1)^d corners) is too large for exact computation")
        self.k, self.d, self.m = k, d, k + 1
        w = (k + 63) // 64
        self.wide = w > 1
        if self.wide:
            single = np.zeros((k, w), dtype=np.uint64)
            single[np.arange(k), np.arange(k) >> 6] = _ONE << (np.arange(k) & 63).astype(np.uint64)
            lift = (slice(None), slice(None), None)  # broadcast (d, k+1) conditions over words
        else:
            single = _ONE << np.arange(k, dtype=np.uint64)
            lift = (slice(None), slice(None))
        self.full = np.bitwise_or.reduce(single, axis=0)
        wshape = single.shape[1:]
        rows = np.arange(d)[:, None]
        ptsT = pts.T
        order = np.argsort(ptsT, axis=1, kind="stable")  # (d, k)
        vals = np.take_along_axis(ptsT, order, axis=1)
        grid = np.ones((d, k + 1))
        grid[:, :k] = vals
        self.grid = grid
        below = np.zeros((d, k + 1) + wshape, dtype=np.uint64)  # below[:, i]: sorted positions < i
        below[:, 1:] = np.bitwise_or.accumulate(single[order], axis=1)
        newv = vals[:, 1:] != vals[:, :-1]
        first = np.zeros((d, k + 1), dtype=bool)  # first of a tie group (not the appended 1.0)
        first[:, 0] = True
        first[:, 1:k] = newv
        last = np.ones((d, k), dtype=bool)
        last[:, :-1] = newv
        ar = np.arange(k + 1)[None, :]
        start = np.maximum.accumulate(np.where(first, ar, 0), axis=1)  # group start
        start[:, k] = np.where(vals[:, -1] == 1.0, start[:, k - 1], k)  # x < 1 for the appended 1.0
        end = np.full((d, k + 1), k - 1)  # group end (the appended 1.0: all points are <= 1)
        end[:, :k] = np.minimum.accumulate(np.where(last, ar[:, :k], k)[:, ::-1], axis=1)[:, ::-1]
        self.le = below[rows, end + 1]  # (d, k+1, *w)
        self.lt = below[rows, start]
        self.eq = np.where(first[lift], self.le & ~self.lt, np.uint64(0))
        # cut keys for partial boxes with dimensions < j fixed: products / maxima of the rest
        key = np.concatenate([np.cumprod(ptsT[::-1], axis=0)[::-1], np.maximum.accumulate(ptsT[::-1], axis=0)[::-1]])
        korder = np.argsort(key, axis=1, kind="stable")  # (2d, k)
        keys = np.take_along_axis(key, korder, axis=1)
        cum = np.zeros((2 * d, k + 1) + wshape, dtype=np.uint64)
        cum[:, 1:] = np.bitwise_or.accumulate(single[korder], axis=1)
        self.okey, self.omask, self.ukey, self.umask = keys[:d], cum[:d], keys[d:], cum[d:]
        self.seed = None
        self.tables = {}

    def below(self, term: str, j: int, t: np.ndarray) -> np.ndarray:
        """Cut helper, as a number of sorted keys: OVER: >= #{prod of the remaining coordinates < t}
        (an upper bound); UNDER: <= #{max of the remaining coordinates <= t} (a lower bound). Exact
        by binary search for few queries, conservative through a table on a 1/_TABLE grid for many."""
        keys = self.okey[j] if term == OVER else self.ukey[j]
        if t.size < _TABLE_FROM:
            return np.searchsorted(keys, t, side="left" if term == OVER else "right")
        tab = self.tables.get((term, j))
        if tab is None:  # [0, #{key (< or <=) g/L} for g = 0..L, k]
            grid = np.arange(_TABLE + 1) / _TABLE
            tab = np.concatenate([[0], np.searchsorted(keys, grid, side="left" if term == OVER else "right"), [self.k]])
            self.tables[(term, j)] = tab
        b = np.clip(np.floor(t * _TABLE), -1, _TABLE + 1).astype(np.intp)  # b/L <= t < (b+1)/L
        if term == OVER:
            return tab[np.minimum(b + 2, _TABLE + 2)]  # #{key < (b+1)/L} >= #{key < t}
        return tab[b + 1]  # #{key <= b/L} <= #{key <= t}

    def popcount(self, m: np.ndarray) -> np.ndarray:
        c = np.bitwise_count(m)
        return c.sum(axis=-1, dtype=np.int64) if self.wide else c  # uint8 holds counts <= 64

    def nonzero(self, m: np.ndarray) -> np.ndarray:
        return m.any(axis=-1) if self.wide else m != 0


class _Best:
    """Mutable best box found so far (value exact for the set being evaluated)."""

    __slots__ = ("value", "corner", "term", "count", "volume")

    def __init__(self, value, corner, term, count, volume):
        self.value, self.corner, self.term, self.count, self.volume = value, corner, term, count, volume


def _cut(prep: _Prepared, term: str, j: int, masks: np.ndarray, vols: np.ndarray, best: float) -> np.ndarray:
    """Which partial boxes (dims < j fixed) may still contain a box better than `best`."""
    k = prep.k
    if term == OVER:
        cnt = prep.popcount(masks)
        keep = cnt > best * k  # even a box of volume 0 with all these points is not better
        live = np.flatnonzero(keep & (vols > 0))
        if live.size:
            m, v, c = masks[live], vols[live], cnt[live]
            cum = prep.omask[j]
            for _ in range(_CUT_ROUNDS):
                tau = (c / k - best) / v * (1 + _SLACK) + 1e-300
                c = np.minimum(c, prep.popcount(m & cum[prep.below(OVER, j, tau)]))
            keep[live] = c > best * k
        return keep
    keep = vols > best  # even an empty box of the largest volume V is not better
    live = np.flatnonzero(keep)
    if live.size:
        m, v = masks[live], vols[live]
        c = np.zeros(live.size, dtype=np.int64)
        cum = prep.umask[j]
        for _ in range(_CUT_ROUNDS):
            t = (best + c / k) / v * (1 - _SLACK)
            c = np.maximum(c, prep.popcount(m & cum[prep.below(UNDER, j, t)]))
        keep[live] = v - c / k > best
    return keep


def _run_term(prep: _Prepared, term: str, best: _Best, stop_at: float, floor: float, lo=None,
              harvest=None) -> bool:
    """Depth-first, chunked branch and bound over one term; updates `best`. True if stopped early.
    Partial boxes are cut when they cannot beat max(best, floor). With `lo` (grid index per
    dimension) only corners with q_j >= grid[j][lo[j]] are searched."""
    d, k, m = prep.d, prep.k, prep.m
    per = max(1, _CHUNK // m)
    base = np.int64(k + 1)  # corner code: grid indices in base k+1, first dimension most significant
    stack = [(0, prep.full[None], np.ones(1), np.zeros(1, dtype=np.int64))]
    while stack:
        j, masks, vols, idx = stack.pop()
        if j > 0:
            keep = _cut(prep, term, j, masks, vols, max(best.value, floor))
            if not keep.all():
                masks, vols, idx = masks[keep], vols[keep], idx[keep]
            if len(vols) == 0:
                continue
        if len(vols) > per:  # split; push the rest back, keep depth-first order
            for s in range(((len(vols) - 1) // per) * per, 0, -per):
                stack.append((j, masks[s:s + per], vols[s:s + per], idx[s:s + per]))
            masks, vols, idx = masks[:per], vols[:per], idx[:per]
        first = 0 if lo is None else int(lo[j])
        grid = prep.grid[j, first:]
        child_vol = vols[:, None] * grid[None, :]
        table = (prep.le[j] if term == OVER else prep.lt[j])[first:]
        if j == d - 1:  # leaves: every grid value of the last dimension, exact counts
            cnt = prep.popcount(masks[:, None] & table[None])
            vals = cnt / k - child_vol if term == OVER else child_vol - cnt / k
            flat = int(np.argmax(vals))
            if harvest is not None and vals.flat[flat] >= harvest[0]:
                _harvest(prep, term, vals, cnt, child_vol, idx, first, harvest)
            if vals.flat[flat] > best.value:
                a, g = divmod(flat, grid.size)
                best.value = float(vals.flat[flat])
                best.term = term
                best.count = int(cnt[a, g])
                best.volume = float(child_vol[a, g])
                best.corner = _decode(prep, idx[a] * base + g + first)
                if best.value >= stop_at:
                    return True
            continue
        valid = prep.nonzero(masks[:, None] & prep.eq[j, first:][None])
        if term == UNDER:
            valid[:, -1] = True  # q_j = 1 is always a candidate of an open box
        a, g = np.nonzero(valid)
        stack.append((j + 1, masks[a] & table[g], child_vol[a, g], idx[a] * base + (g + first)))
    return False


def _decode(prep: _Prepared, code) -> tuple[float, ...]:
    """Corner from its code (grid indices in base k+1, first dimension most significant)."""
    code = int(code)
    idx = []
    for _ in range(prep.d):
        code, i = divmod(code, prep.k + 1)
        idx.append(i)
    return tuple(float(prep.grid[dim, i]) for dim, i in enumerate(reversed(idx)))


def _harvest(prep, term, vals, cnt, child_vol, idx, first, harvest):
    """Append up to harvest[1] boxes with value >= harvest[0] (largest first) to harvest[2]."""
    floor, limit, out = harvest
    flat = np.flatnonzero(vals.ravel() >= floor)
    flat = flat[np.argsort(-vals.ravel()[flat], kind="stable")[:limit - len(out)]]  # stable: ties in index order on every CPU
    ncol = vals.shape[1]
    for f in flat:
        a, g = divmod(int(f), ncol)
        corner = _decode(prep, idx[a] * (prep.k + 1) + g + first)
        out.append(StarDiscrepancy(float(vals[a, g]), corner, term, int(cnt[a, g]), float(child_vol[a, g])))
    if len(out) >= limit:
        harvest[0] = math.inf


def _projection_seed(prep: _Prepared) -> _Best:
    """Best of the boxes with all but one q_l equal to 1 (exact values, a lower bound for D*)."""
    k, d = prep.k, prep.d
    below_one = np.bitwise_and.reduce(prep.lt[:, -1], axis=0)  # points with every coordinate < 1
    n_closed = prep.popcount(prep.le)
    n_open = prep.popcount(prep.lt & below_one)
    best = None
    for term, vals, cnt in ((UNDER, prep.grid - n_open / k, n_open), (OVER, n_closed / k - prep.grid, n_closed)):
        j, i = divmod(int(np.argmax(vals)), prep.m)
        if best is None or vals[j, i] > best.value:
            corner = [1.0] * d
            corner[j] = float(prep.grid[j, i])
            best = _Best(float(vals[j, i]), tuple(corner), term, int(cnt[j, i]), box_volume(corner))
    return best


EXACT, STOPPED, BELOW = "exact", "stopped", "below"


def _exact(pts, seed: StarDiscrepancy | None = None, stop_at: float = math.inf,
           decide: bool = False, around=None, harvest=None) -> tuple[StarDiscrepancy, str]:
    """Branch and bound for D*(pts) (an array or a _Prepared), for the subset search. `seed` must be a box whose value is exact
    for `pts` (a known lower bound). Returns (box, status):

    * EXACT: box is a worst box, its value is D*;
    * STOPPED: a box with value >= stop_at was found (a lower bound; D* >= stop_at);
    * BELOW (only with decide=True): no box reaching stop_at was found among those searched (partial
      boxes that cannot reach stop_at are cut); box is the best box seen, a lower bound. Without
      `around` this proves D* < stop_at. `around=(a, r)` searches only closed boxes containing the
      point a and open boxes containing the point r (r may be None): after swapping r out and a in,
      only those can have grown, so BELOW is then a strong hint, not a proof.
      Call again without `decide` (seeded with the box) for the exact value.

    harvest=[floor, limit, list]: leaves with value >= floor met on the way are appended to the list
    (at most limit), extra boxes for the caller's cache.
    """
    prep = pts if isinstance(pts, _Prepared) else _Prepared(pts)
    if prep.seed is None:
        prep.seed = _projection_seed(prep)
    p = prep.seed
    best = _Best(p.value, p.corner, p.term, p.count, p.volume)
    if seed is not None and seed.value > best.value:
        best = _Best(seed.value, tuple(seed.corner), seed.term, seed.count, seed.volume)
    status = STOPPED if best.value >= stop_at else (BELOW if decide else EXACT)
    if status != STOPPED:
        floor = stop_at - 1e-12 if decide else -math.inf
        for term in (UNDER, OVER):
            lo = None
            if decide and around is not None:
                p = around[0] if term == OVER else around[1]
                if p is None or (term == UNDER and np.any(np.asarray(p) >= 1.0)):
                    continue  # no open box contains a point with a coordinate 1
                side = "left" if term == OVER else "right"
                lo = [np.searchsorted(prep.grid[j], p[j], side=side) for j in range(prep.d)]
            if _run_term(prep, term, best, stop_at, floor, lo, harvest):
                status = STOPPED
                break
    return StarDiscrepancy(best.value, best.corner, best.term, best.count, best.volume), status


def star_discrepancy(points) -> StarDiscrepancy:
    """Exact L-infinity star discrepancy of `points` (shape (k, d), in [0,1]^d) and one worst box."""
    pts = _check(points)
    return _exact(pts)[0]


def star_discrepancy_value(points) -> float:
    """Just the number (see `star_discrepancy`)."""
    return star_discrepancy(points).value
