"""The replication pairs of a batch folded together: one compiled call a window for all of them.

A batch's lanes record into shared blocks (``(rows, lanes, columns)``, see ``engine.world.Lanes.block``), and
every pair of a batch has the same layout of series. :class:`BatchFold` hands the blocks themselves to
:func:`.day_fold.fold_pairs` with each pair's scenario and baseline lane, once a window, instead of one call per
pair with its views (measured on the headline's 20 pairs: ~25 µs of Python and call overhead a pair and window).
The pairs' :class:`.day_fold.DayFold` keep their role: their arrays become rows of the batch's arrays, so
``finish`` reads what the batch folded. The numbers are the same as pair by pair (the same kernel, the same
operations in the same order for every value). Where the recorders' parts are not plain views of shared blocks,
or the folds are not compiled, it folds pair by pair.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .day_fold import RUNNING, DayFold, array_layout, quarter_sums
from .metrics import IMPACT_THRESHOLD, PRICE_JUMP

__all__ = ["BatchFold"]


class BatchFold:
    """The folds ``folds`` of a batch's pairs, pair ``q`` being the scenario recorder ``srecs[q]`` against the
    baseline recorder ``brecs[q]`` in :meth:`add`."""

    def __init__(self, folds: list[DayFold]):
        self.folds = folds
        self._plan: tuple | None = None
        #: the pairs' GDP quarter sums (pairs, 2, regions, quarters; the folds' ``gdp`` are its rows) and the
        #: running sums of the quarter under way (pairs, 2, regions), while folded together
        self._gdp_all: np.ndarray | None = None
        self._gdp_carry: np.ndarray | None = None

    def add(self, srecs: list[Any], brecs: list[Any], start: int, stop: int) -> tuple[int, str, str, int] | None:
        """Fold rows ``start .. stop`` of every pair's recorders as its next days. Returns ``(pair, which,
        series, day)`` of the first pair (in order) with a NaN, as :meth:`DayFold.add_recorders` gives it (the
        day counted from ``start``), or None."""
        if not self.folds:
            return None
        plan = self._plan_for(srecs, brecs)
        if plan is None:                                  # pair by pair
            for q, (fold, s, b) in enumerate(zip(self.folds, srecs, brecs)):
                bad = fold.add_recorders(s, b, start, stop)
                if bad is not None:
                    return (q, *bad)
            return None
        f0 = self.folds[0]
        n = stop - start
        f0.check_days(n, len(f0.lay.keys))
        _, blocks, s_lanes, b_lanes, b_src, call, state, kept = plan
        k0s, cols, fptr, small_j, small_q, small_ptr = call
        nan = np.full((len(self.folds), 4), np.iinfo(np.int64).max, dtype=np.int64)
        g = len(f0.gdp_rows)
        S, B = (np.empty((len(self.folds), n, g)) for _ in range(2))
        f0.kernel(blocks, blocks, s_lanes, b_lanes, b_src, k0s, start, stop, f0.day, f0.period_step(), cols, fptr,
                  IMPACT_THRESHOLD, 1.0 + PRICE_JUMP, *state, nan, small_j, small_q, small_ptr, S, B, *kept)
        for q, fold in enumerate(self.folds):
            bad = fold.first_nan(nan[q])
            if bad is not None:
                return (q, *bad)
        if g:                                             # every pair's GDP quarter sums at once
            X = np.stack([S.transpose(0, 2, 1), B.transpose(0, 2, 1)], axis=1)      # pairs, 2, regions, days
            self._gdp_carry = quarter_sums(X, f0.day, f0.quarters, self._gdp_all, self._gdp_carry)
        for fold in self.folds:
            fold.day += n
        return None

    # ----------------------------------------------------------------------------------------------- plan
    def _plan_for(self, srecs: list[Any], brecs: list[Any]) -> tuple | None:
        """The batch's call (made at the first window, checked at the next: a recorder's ``parts()`` is the same
        list until a series is added), or None to fold pair by pair."""
        plan = self._plan
        parts = [r.parts() for r in srecs] + [r.parts() for r in brecs]
        if plan is not None and len(parts) == len(plan[0]) and all(p is q for p, q in zip(parts, plan[0])):
            return plan
        self._release()
        plan = self._make_plan(srecs, brecs, parts)
        if plan is not None:
            self._plan = plan
        return plan

    def _make_plan(self, srecs: list[Any], brecs: list[Any], parts: list[list]) -> tuple | None:
        """``(parts, blocks, scenario lanes, baseline lanes, the pair each baseline part is folded by
        (:func:`baseline_sources`), the call's columns, running values and period sums,
        days kept whole)`` of the batch's call, the folds' arrays made rows of the batch's; None (nothing
        changed) where the folds or the recorders' parts do not allow one call."""
        folds = self.folds
        f0 = folds[0]
        if any(f.kernel is None or f.lay is not f0.lay or f.daily != f0.daily or f.day != f0.day for f in folds):
            return None
        blocks = _shared_blocks(parts)
        if blocks is None:
            return None
        blks, lanes = blocks
        P = len(folds)
        pair_plans = f0.pair_plans(parts[0], parts[P])
        if len(pair_plans) != 1:
            return None
        call = pair_plans[0][2:]
        # the pairs' arrays as rows of the batch's (copied where a fold has days already; fresh otherwise)
        state = []
        for name in RUNNING:
            stacked = np.stack([getattr(f, name) for f in folds])
            for q, f in enumerate(folds):
                setattr(f, name, stacked[q])
            state.append(stacked)
        kept = []
        for name in ("bucket_sums", "exh", "plot"):
            if getattr(f0, name) is None:
                kept.append(None)
                continue
            stacked = np.empty((P,) + getattr(f0, name).shape)
            for q, f in enumerate(folds):
                if f.day:
                    stacked[q] = getattr(f, name)
                setattr(f, name, stacked[q])
            kept.append(stacked)
        buckets, exh, plot = kept
        gdp = np.stack([f.gdp for f in folds])
        for q, f in enumerate(folds):
            f.gdp = gdp[q]
        self._gdp_all = gdp
        self._gdp_carry = np.stack([f.gdp_carry for f in folds])
        state.append(buckets if buckets is not None else np.zeros((P, 2, 1, 1)))
        kept_args = (exh, plot if plot is not None else np.zeros((P, 2, 1, 1)))
        s_lanes = np.array(lanes[:P], dtype=np.int64)               # (pairs, parts)
        b_lanes = np.array(lanes[P:], dtype=np.int64)
        return parts, blks, s_lanes, b_lanes, baseline_sources(b_lanes), call, tuple(state), kept_args

    def _release(self) -> None:
        """Hand the running GDP quarter sums back to the pairs' folds (before folding pair by pair)."""
        if self._plan is not None:
            for q, f in enumerate(self.folds):
                f.gdp_carry = self._gdp_carry[q].copy()
        self._plan = None


def baseline_sources(b_lanes: np.ndarray) -> np.ndarray:
    """For each pair and part (``b_lanes``: the lane its baseline part is read from, in the batch's blocks), the
    earlier pair that reads the same lane, which folds that baseline for both (the first such pair), else −1."""
    src = np.full(b_lanes.shape, -1, dtype=np.int64)
    for p in range(b_lanes.shape[1]):
        first: dict[int, int] = {}
        for q, lane in enumerate(b_lanes[:, p].tolist()):
            if lane in first:
                src[q, p] = first[lane]
            else:
                first[lane] = q
    return src


def _shared_blocks(parts: list[list[tuple[np.ndarray, int]]]
                   ) -> tuple[tuple[np.ndarray, ...], list[list[int]]] | None:
    """The batch's blocks ``(rows, lanes, columns)`` of which every recorder's parts (``parts[r]``: one
    recorder's ``(view, first series)``) are the lanes' views, and the lane of each recorder's part (a part may
    be read from another lane's view: ``engine.recorder.Recorder.read_as``); None unless each part is such a view
    in every recorder, alike in the first series, and the blocks are alike for one compiled call."""
    first = parts[0]
    blks = []
    for arr, _ in first:
        base = arr.base
        if not isinstance(base, np.ndarray) or base.dtype != np.float64:
            return None
        blk = base if base.ndim == 3 else (base[:, :, None] if base.ndim == 2 else None)
        if blk is None or not blk.flags.c_contiguous:
            return None
        blks.append(blk)
    if len({array_layout(b) for b in blks}) != 1:
        return None
    lanes = []
    for rec in parts:
        if len(rec) != len(first) or any(k != k0 for (_, k), (_, k0) in zip(rec, first)):
            return None
        at = [_lane_of(arr, blk) for (arr, _), blk in zip(rec, blks)]
        if None in at:
            return None
        lanes.append(at)
    return tuple(blks), lanes


def _lane_of(view: np.ndarray, blk: np.ndarray) -> int | None:
    """The lane ``l`` for which ``view`` is ``blk[:, l, :]`` (the same memory, shape and steps), or None."""
    if view.shape != (blk.shape[0], blk.shape[2]) or view.strides[0] != blk.strides[0]:
        return None
    if blk.shape[2] > 1 and view.strides[1] != blk.strides[2]:
        return None
    off = view.__array_interface__["data"][0] - blk.__array_interface__["data"][0]
    if blk.strides[1] <= 0 or off % blk.strides[1] or not 0 <= off // blk.strides[1] < blk.shape[1]:
        return None
    return off // blk.strides[1]
