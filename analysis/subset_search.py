"""Choose k of n points (n up to a few thousand, d 2..5, k 10..64) with small exact star discrepancy.

    select(points, k, seed, budget, exclude=())           -> SubsetResult
    select_dev_test(points, k, seed, budget, exclude=())  -> DevTestResult (two disjoint subsets)

Why this design. The objective, the exact L-infinity star discrepancy D*, is a max over anchored
boxes, so a swap (one point out, one in) changes the count of every box by at most one. The search
keeps a growing cache of boxes (corner, open/closed) found by exact evaluations; for every cached box
and every possible swap it knows the new local discrepancy exactly. That makes the cache a set of
cutting planes: a swap whose new value on some cached box is >= the current D* cannot improve, and
that test runs for all k x n swaps at once on bit-packed membership rows. Only swaps that survive the
cuts are evaluated exactly (branch and bound of `analysis.star_discrepancy`, seeded with the best
cached box and stopped as soon as a box reaches the current value); a failed evaluation adds the box
that refuted it to the cache. Survivors are tried in order of their cached lower bound (smallest
first, seeded random tie-break), so the worst box drives the moves: it forces a point out of an
over-filled closed box or a candidate into an under-filled open box. An exact evaluation of a swap
first searches only the boxes the swap can have made worse (closed boxes around the incoming point,
open boxes around the outgoing one) with cuts at the current value, so most refutations are cheap,
and keeps up to eight refuting boxes for the cache. When no swap survives the cuts the subset is a
proven 1-swap local optimum; the search then kicks it (one point for one of its nearest free
neighbours: iterated local search, returning to the best subset when a kick does not pay off) until
the budget is spent.

Determinism: everything is driven by numpy.random.default_rng(seed) and the budget counts exact
evaluations of candidate subsets (one per subset evaluated, whether refuted early or computed in
full), never time. Work per evaluation: one branch and bound on k points (see
`analysis.star_discrepancy`), plus O(B k + k n / 64) word operations for the cuts over B cached boxes
(bit-packed over the n candidates) and O(1024 * 32) for ranking the survivors.

Every sort whose order of ties matters is stable (kind="stable", no argpartition): numpy's default
sorts dispatch to SIMD code (x86-simd-sort) that orders ties differently per CPU, and the shipped
subsets came out different on a machine without AVX-512 before this was so.

Two disjoint subsets (dev/test): the objective is the sorted pair (worse, better) of discrepancies,
compared lexicographically. Moves always target the worse subset W: swaps with the free pool,
exchanges of one point with the other subset O, and chains (W takes a point of O, O refills from
the pool), accepted only if every new value is below W's current value. Kicks also exchange points
between the subsets. Neither subset is chosen first, so neither is starved of good points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analysis.star_discrepancy import (EXACT, OVER, STOPPED, UNDER, StarDiscrepancy, _check, _exact,
                                      _Prepared, box_volume)

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_RANK_BOXES = 256  # cached boxes used to rank surviving swaps
_RANK_FAST = 32  # boxes for the cheap first ranking of all surviving swaps
_RANK_HEAD = 64  # swaps re-ranked with _RANK_BOXES boxes
_MAX_TRY = 1024  # surviving swaps ranked at once (a random sample if more survive)
_HARVEST = 8  # boxes kept from one refuting evaluation
_CACHE = 4096  # boxes cached (the less relevant half is dropped when full)
_KICK_NEAR = 8  # a kick swaps a point for one of its this many nearest free points


@dataclass(frozen=True)
class SubsetResult:
    """Selected indices (sorted, distinct), their exact discrepancy and a worst box."""

    indices: np.ndarray
    discrepancy: float
    box: StarDiscrepancy
    evaluations: int = 0


@dataclass(frozen=True)
class DevTestResult:
    """Two disjoint subsets; `worst` = max of the two discrepancies (what the search minimises)."""

    dev: SubsetResult
    test: SubsetResult
    evaluations: int = 0

    @property
    def worst(self) -> float:
        return max(self.dev.discrepancy, self.test.discrepancy)


def _pack(mask: np.ndarray, nw: int) -> np.ndarray:
    """bool (..., n) -> uint64 (..., nw), bit a of the row = mask[a]."""
    b = np.packbits(mask, axis=-1, bitorder="little")
    out = np.zeros(mask.shape[:-1] + (nw * 8,), dtype=np.uint8)
    out[..., :b.shape[-1]] = b
    return out.view(np.uint64)


def _unpack(words: np.ndarray, n: int) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")[..., :n].astype(bool)


class _Boxes:
    """Cache of anchored boxes with their membership over all n candidate points (point-major
    bool matrix for counting subsets, bit-packed box-major rows for the cuts)."""

    def __init__(self, pts: np.ndarray, cap: int):
        self.pts = pts
        self.n, self.d = pts.shape
        self.nw = (self.n + 63) // 64
        self.cap = cap
        self.corner = np.empty((cap, self.d))
        self.over = np.empty(cap, dtype=bool)
        self.vol = np.empty(cap)
        self.memT = np.zeros((self.n, cap), dtype=bool)
        self.packed = np.zeros((cap, self.nw), dtype=np.uint64)
        self.size = 0
        self.keys: dict[tuple, int] = {}

    def add(self, box: StarDiscrepancy) -> int:
        key = (box.term, box.corner)
        if key in self.keys:
            return self.keys[key]
        if self.size == self.cap:
            raise RuntimeError("box cache full; call prune() first")
        i = self.size
        q = np.asarray(box.corner)
        self.corner[i] = q
        self.over[i] = box.term == OVER
        self.vol[i] = box_volume(box.corner)
        mem = np.all(self.pts <= q, axis=1) if box.term == OVER else np.all(self.pts < q, axis=1)
        self.memT[:, i] = mem
        self.packed[i] = _pack(mem, self.nw)
        self.keys[key] = i
        self.size += 1
        return i

    def counts(self, idx: np.ndarray) -> np.ndarray:
        return self.memT[idx, :self.size].sum(axis=0)

    def values(self, counts: np.ndarray, k: int) -> np.ndarray:
        """Local discrepancy of cached boxes given their counts (same float ops as the exact code)."""
        vol = self.vol[:self.size]
        return np.where(self.over[:self.size], counts / k - vol, vol - counts / k)

    def box(self, i: int, count: int, k: int) -> StarDiscrepancy:
        term = OVER if self.over[i] else UNDER
        vol = float(self.vol[i])
        value = count / k - vol if term == OVER else vol - count / k
        return StarDiscrepancy(float(value), tuple(float(c) for c in self.corner[i]), term, int(count), vol)

    def prune(self, keep: np.ndarray) -> None:
        """Keep only the boxes flagged in `keep` (bool over the current size)."""
        idx = np.flatnonzero(keep)
        m = idx.size
        for arr in (self.corner, self.over, self.vol, self.packed):
            arr[:m] = arr[idx]
        self.memT[:, :m] = self.memT[:, idx]
        self.size = m
        self.keys = {(OVER if self.over[i] else UNDER, tuple(float(c) for c in self.corner[i])): i
                     for i in range(m)}


@dataclass
class _Sub:
    idx: np.ndarray  # global indices, unsorted, distinct
    value: float
    box: StarDiscrepancy


@dataclass
class _Run:
    pts: np.ndarray
    k: int
    rng: np.random.Generator
    budget: int
    free: np.ndarray  # bool over n: may be selected at all (not excluded)
    boxes: _Boxes = field(init=False)
    evals: int = 0
    subs: list = field(default_factory=list)

    def __post_init__(self):
        self.boxes = _Boxes(self.pts, cap=_CACHE)

    # -- exact evaluation ---------------------------------------------------------------------
    def left(self) -> int:
        return self.budget - self.evals

    def seed_box(self, idx: np.ndarray) -> StarDiscrepancy | None:
        """Best cached box for the subset `idx` (exact value: a lower bound for its D*)."""
        b = self.boxes
        if b.size == 0:
            return None
        cnt = b.counts(idx)
        vals = b.values(cnt, self.k)
        i = int(np.argmax(vals))
        return b.box(i, int(cnt[i]), self.k)

    def evaluate(self, idx: np.ndarray, stop_at: float = math.inf, swap=None):
        """One exact evaluation (budget unit). Returns (box, refuted, cached): refuted means a box
        with value >= stop_at was found (the box returned); otherwise the box is a worst box, value
        = D*; cached = indices of the boxes it added to the cache (valid until the next call).
        swap=(out, in) global indices when idx differs from a subset whose exact D* is stop_at:
        the boxes that grew (closed ones around `in`, open ones around `out`) are searched first."""
        self.evals += 1
        pts = _Prepared(self.pts[idx])
        seed = self.seed_box(idx)
        status, extra = EXACT, []
        if math.isfinite(stop_at):
            around = None if swap is None else (self.pts[swap[1]], self.pts[swap[0]])
            seed, status = _exact(pts, seed, stop_at, decide=True, around=around,
                                  harvest=[stop_at, _HARVEST, extra])
        if status != STOPPED:
            seed, status = _exact(pts, seed, stop_at)
        for box in extra:
            self.remember(box)
        self.remember(seed)
        keys = self.boxes.keys
        cached = sorted({keys[key] for key in ((x.term, x.corner) for x in (*extra, seed)) if key in keys})
        return seed, status == STOPPED, cached

    def remember(self, box: StarDiscrepancy) -> None:
        b = self.boxes
        if (box.term, box.corner) in b.keys:
            return
        if b.size == b.cap:  # drop the boxes least relevant to the current subsets
            rel = np.full(b.size, -np.inf)
            for sub in self.subs:
                rel = np.maximum(rel, b.values(b.counts(sub.idx), self.k))
            b.prune(rel >= np.sort(rel)[b.size // 2])
        b.add(box)

    # -- cuts -----------------------------------------------------------------------------------
    def survivors(self, idx: np.ndarray, thresh: float, cols: np.ndarray) -> np.ndarray:
        """uint64 (k, nw): bit a of row i set iff swapping idx[i] for point a (a in `cols`, packed)
        keeps every cached box strictly below `thresh`."""
        b, k = self.boxes, self.k
        X = b.memT[idx, :b.size]  # (k, s): selected point i inside box
        cnt = X.sum(axis=0)
        ok_m, ok_0, ok_p = (b.values(cnt + delta, k) < thresh for delta in (-1, 0, 1))
        crit = np.flatnonzero(~(ok_m & ok_0 & ok_p))
        out = np.broadcast_to(cols, (k, b.nw)).copy()
        for start in range(0, crit.size, 256):
            c = crit[start:start + 256]
            P = b.packed[c]
            m0, mm, mp = ok_0[c, None], ok_m[c, None], ok_p[c, None]
            ok_in = np.where(m0, np.where(mm, _ALL, P), np.where(mm, ~P, np.uint64(0)))  # point i in box
            ok_out = np.where(mp, np.where(m0, _ALL, P), np.where(m0, ~P, np.uint64(0)))  # point i not in box
            rows = np.where(X[:, c].T[:, :, None], ok_in[:, None, :], ok_out[:, None, :])
            out &= np.bitwise_and.reduce(rows, axis=0)
        return out

    def still_ok(self, box_i: int, idx: np.ndarray, pos: np.ndarray, add: np.ndarray, thresh: float):
        """For swaps (idx[pos] out, add in): is cached box `box_i` still strictly below thresh?"""
        b, k = self.boxes, self.k
        mem = b.memT[:, box_i]
        cnt = int(mem[idx].sum())
        new = cnt - mem[idx[pos]].astype(np.int64) + mem[add].astype(np.int64)
        vol = b.vol[box_i]
        vals = new / k - vol if b.over[box_i] else vol - new / k
        return vals < thresh

    def rank(self, idx: np.ndarray, pos: np.ndarray, add: np.ndarray, limit: int = _RANK_BOXES) -> np.ndarray:
        """Cached lower bound on the new discrepancy of each swap (idx[pos] out, add in)."""
        b, k = self.boxes, self.k
        X = b.memT[idx, :b.size]
        vals = b.values(X.sum(axis=0), k)
        # a swap moves each value by at most 1/k, so boxes below max - 2/k never decide the max
        near = np.flatnonzero(vals >= vals.max() - 2.0 / k - 1e-12)
        top = near[np.argsort(-vals[near], kind="stable")[:limit]]  # stable: see the module docstring
        step = np.where(b.over[top], 1.0, -1.0) / k
        uadd, inv = np.unique(add, return_inverse=True)
        delta = b.memT[np.ix_(uadd, top)].view(np.int8)[inv] - X[:, top].view(np.int8)[pos]
        return (vals[top] + delta * step).max(axis=1)

    # -- local search -------------------------------------------------------------------------
    def candidates(self, w: int, thresh: float, pool: np.ndarray):
        """Moves of subset w that survive every cached box, as arrays (pos, add, part, opos, oin):
        w gives up its point at position pos and takes point add, from the free pool (part = -1) or
        from subset part, which then gives up its position opos and takes point oin (w's point: an
        exchange, or a free point: a chain)."""
        subs, n, nw = self.subs, self.boxes.n, self.boxes.nw
        W = subs[w]
        pool_packed = _pack(pool, nw)
        pos, add = np.nonzero(_unpack(self.survivors(W.idx, thresh, pool_packed), n))
        none = np.full(pos.size, -1)
        parts = [(pos, add, none, none, none)]
        for o, Other in enumerate(subs):
            if o == w:
                continue
            in_o, in_w = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
            in_o[Other.idx] = True
            in_w[W.idx] = True
            fw = _unpack(self.survivors(W.idx, thresh, _pack(in_o, nw)), n)[:, Other.idx]  # (i, j)
            if not fw.any():
                continue
            fo = _unpack(self.survivors(Other.idx, thresh, _pack(in_w, nw)), n)[:, W.idx]  # (j, i)
            pi, pj = np.nonzero(fw & fo.T)
            parts.append((pi, Other.idx[pj], np.full(pi.size, o), pj, W.idx[pi]))
            # chains: o refills position j with its best-ranked surviving free point
            oj, q = np.nonzero(_unpack(self.survivors(Other.idx, thresh, pool_packed), n)[fw.any(axis=0)])
            if q.size == 0:
                continue
            oj = np.flatnonzero(fw.any(axis=0))[oj]
            if q.size > _MAX_TRY:
                pick = np.sort(self.rng.choice(q.size, _MAX_TRY, replace=False))
                oj, q = oj[pick], q[pick]
            lb = self.rank(Other.idx, oj, q, _RANK_FAST)
            order = np.lexsort((self.rng.random(q.size), lb, oj))
            first = order[np.r_[True, oj[order][1:] != oj[order][:-1]]]  # best q for each j
            best_q = np.full(len(Other.idx), -1)
            best_q[oj[first]] = q[first]
            pi, pj = np.nonzero(fw & (best_q >= 0)[None, :])
            parts.append((pi, Other.idx[pj], np.full(pi.size, o), pj, best_q[pj]))
        return tuple(np.concatenate(x) for x in zip(*parts))

    def lower_bounds(self, w, pos, add, part, opos, oin, limit):
        """Cached lower bound of each candidate move's new worst value (both subsets for exchanges)."""
        subs = self.subs
        lb = self.rank(subs[w].idx, pos, add, limit)
        for o in np.unique(part[part >= 0]):
            sel = part == o
            lb[sel] = np.maximum(lb[sel], self.rank(subs[o].idx, opos[sel], oin[sel], limit))
        return lb

    def improve_once(self) -> bool:
        """One first-improvement step on the worst subset. False: proven local optimum (or budget)."""
        subs, b = self.subs, self.boxes
        w = max(range(len(subs)), key=lambda i: (subs[i].value, -i))
        W = subs[w]
        thresh = W.value
        taken = np.zeros(b.n, dtype=bool)
        for s in subs:
            taken[s.idx] = True
        pool = self.free & ~taken
        while self.left() > 0:
            cand = self.candidates(w, thresh, pool)
            if cand[0].size == 0:
                return False
            sampled = cand[0].size > _MAX_TRY
            if sampled:
                pick = np.sort(self.rng.choice(cand[0].size, _MAX_TRY, replace=False))
                cand = tuple(x[pick] for x in cand)
            pos, add, part, opos, oin = cand
            # order: cheap bound (few boxes) for all, full bound for the most promising few
            lb = self.lower_bounds(w, *cand, _RANK_FAST)
            order = np.lexsort((self.rng.random(pos.size), lb))
            head = order[:_RANK_HEAD]
            lb_head = self.lower_bounds(w, *(x[head] for x in cand), _RANK_BOXES)
            order = np.concatenate([head[np.lexsort((self.rng.random(head.size), lb_head))], order[_RANK_HEAD:]])
            alive = np.ones(pos.size, dtype=bool)
            for t in order:
                if not alive[t]:
                    continue
                if self.left() <= 0:
                    return False
                i, a, o = int(pos[t]), int(add[t]), int(part[t])
                new_w = W.idx.copy()
                new_w[i] = a
                res, stopped, cached = self.evaluate(new_w, stop_at=thresh, swap=(W.idx[i], a))
                if stopped:  # the refuting boxes are cached now; drop the moves they also refute
                    for bi in cached:
                        alive &= self.still_ok(bi, W.idx, pos, add, thresh)
                    continue
                if o >= 0:
                    if self.left() <= 0:
                        return False
                    Other = subs[o]
                    new_o = Other.idx.copy()
                    new_o[opos[t]] = oin[t]
                    res_o, stopped, cached = self.evaluate(new_o, stop_at=thresh, swap=(a, int(oin[t])))
                    if stopped:
                        sel = part == o
                        for bi in cached:
                            alive[sel] &= self.still_ok(bi, Other.idx, opos[sel], oin[sel], thresh)
                        continue
                    subs[o] = _Sub(new_o, res_o.value, res_o)
                subs[w] = _Sub(new_w, res.value, res)
                return True
            if not sampled:
                return False
        return False


def _prepare(points, k: int, exclude, need: int):
    pts = _check(points)
    n = pts.shape[0]
    if not 1 <= k:
        raise ValueError("k must be >= 1")
    free = np.ones(n, dtype=bool)
    ex = np.asarray(list(exclude), dtype=np.int64)
    if ex.size:
        if ex.min() < -n or ex.max() >= n:
            raise ValueError("exclude holds indices outside the point set")
        free[ex] = False
    if free.sum() < need * k:
        raise ValueError(f"need {need * k} selectable points, only {int(free.sum())} left after exclusion")
    return pts, free


def _copy(subs: list) -> list:
    return [_Sub(s.idx.copy(), s.value, s.box) for s in subs]


def _key(subs: list) -> tuple:
    """What the search minimises: the discrepancies, worst first, compared lexicographically."""
    return tuple(sorted((s.value for s in subs), reverse=True))


def _search(pts, k, seed, budget, free, n_subsets) -> _Run:
    """Iterated local search: descend to a proven local optimum, keep it if it is no worse than the
    best so far (else return to the best), kick the worst subset (one of its points for one of that
    point's nearest free neighbours, or with two subsets also nearest points of the other subset,
    exchanged), repeat until the evaluation budget is spent."""
    if budget < n_subsets:
        raise ValueError(f"budget must allow at least {n_subsets} evaluations")
    run = _Run(pts, k, np.random.default_rng(seed), int(budget), free)
    n = pts.shape[0]
    init = run.rng.permutation(np.flatnonzero(free))[:k * n_subsets]
    for s in range(n_subsets):
        idx = init[s * k:(s + 1) * k].copy()
        res, _, _ = run.evaluate(idx)
        run.subs.append(_Sub(idx, res.value, res))
    best = _copy(run.subs)
    while run.left() > 0:
        while run.left() > 0 and run.improve_once():
            pass
        if _key(run.subs) <= _key(best):
            best = _copy(run.subs)
        else:
            run.subs = _copy(best)
        if run.left() <= 0:
            break
        w = max(range(n_subsets), key=lambda i: (run.subs[i].value, -i))
        taken = np.zeros(n, dtype=bool)
        for s in run.subs:
            taken[s.idx] = True
        pool = np.flatnonzero(free & ~taken)
        # kick: one point of the worst subset for one of its nearest free points, or (two subsets,
        # every other kick or no free point left) for one of its nearest points of another subset
        o = -1
        if n_subsets > 1 and (pool.size == 0 or run.rng.random() < 0.5):
            o = int(run.rng.choice([i for i in range(n_subsets) if i != w]))
            pool = run.subs[o].idx
        if pool.size == 0:
            break
        idx = run.subs[w].idx.copy()
        i = int(run.rng.integers(k))
        m = min(_KICK_NEAR, pool.size)
        dist = ((pts[pool] - pts[idx[i]]) ** 2).sum(axis=1)
        a = int(run.rng.choice(pool[np.argsort(dist, kind="stable")[:m]]))  # stable: see the module docstring
        if o >= 0:
            other = run.subs[o].idx.copy()
            other[other == a] = idx[i]
            res, _, _ = run.evaluate(other)
            run.subs[o] = _Sub(other, res.value, res)
        idx[i] = a
        res, _, _ = run.evaluate(idx)
        run.subs[w] = _Sub(idx, res.value, res)
    if _key(run.subs) <= _key(best):
        best = run.subs
    run.subs = best
    return run


def _result(sub: _Sub, evals: int) -> SubsetResult:
    return SubsetResult(np.sort(sub.idx), float(sub.value), sub.box, evals)


def select(points, k: int, seed: int = 0, budget: int = 2000, exclude=()) -> SubsetResult:
    """k distinct indices of `points` (n, d) in [0,1]^d, not in `exclude`, with small exact D*.
    Deterministic for a given (seed, budget); budget = number of exact evaluations."""
    pts, free = _prepare(points, k, exclude, 1)
    run = _search(pts, k, seed, budget, free, 1)
    return _result(run.subs[0], run.evals)


def select_dev_test(points, k: int, seed: int = 0, budget: int = 4000, exclude=()) -> DevTestResult:
    """Two disjoint k-subsets minimising the worse of their two exact discrepancies."""
    pts, free = _prepare(points, k, exclude, 2)
    run = _search(pts, k, seed, budget, free, 2)
    dev, test = run.subs
    return DevTestResult(_result(dev, run.evals), _result(test, run.evals), run.evals)


def select_dev_then_test(points, k: int, seed: int = 0, budget: int = 4000, exclude=()) -> DevTestResult:
    """The sequential mode (what CARP-S does): dev first with half the budget, then test from the
    remaining points with the other half. Kept for comparison: the test subset gets the leftovers."""
    dev = select(points, k, seed=seed, budget=budget // 2, exclude=exclude)
    test = select(points, k, seed=seed, budget=budget - budget // 2, exclude=np.union1d(np.asarray(exclude, int), dev.indices))
    return DevTestResult(dev, test, dev.evaluations + test.evaluations)
