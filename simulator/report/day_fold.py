"""One replication's recorded days folded into its summary, a piece of days at a time.

A replication pair (a scenario run and its paired baseline) is reduced to what the tables and charts need: the
impact metrics of every series (scenario against baseline, and baseline against itself), each series' impacts
statistic, GDP summed over quarters, period means and the charted days. :class:`DayFold` takes the pair's days
in consecutive pieces and keeps only running values between them (sums, extremes, first and last days, counts,
the periods' sums), plus the few series it needs whole (charted series, and stocks for the exhaustion metric,
whose threshold is the baseline's peak over the whole run). Every sum over days adds the days one after the
other in day order, carried from one piece to the next, so the result does not depend on where the pieces end.

The engine hands a batch's days over each time its ring of recorded days is full (``runner.ring_days``: 16
days, 128 when this fold runs in numpy, instead of every day of the horizon; all the batch's pairs in one call,
:mod:`.batch_fold`), and a finished run is folded from its recorders (``reduce.reduce_pair``), so both give the
same bytes; these are the numbers of the whole-series functions of :mod:`.metrics` and :mod:`.reduce`
(``bucket_means``, ``stat_values``, ``quarter_sum``), which the tests check.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..engine import kernels
from .layout import Layout, impact_statistic
from .metrics import (IMPACT_THRESHOLD, PRICE_JUMP, above_jump, below, drop_share, exhaustion, running_sum,
                      stopped)

__all__ = ["DayFold", "period_sums"]

#: running values a series may need, one bit each (a series' ``flags`` say which): Σ(baseline − value),
#: Σ value, largest drop share, days below the impact threshold (first and last), largest value (and its first
#: day), smallest value, days above the price jump, first line stop
LOST, SUMX, DROP, BELOW, TOP, LOW, ABOVE, FSTOP = 1, 2, 4, 8, 16, 32, 64, 128
NEEDS = {"lost": LOST, "total": SUMX, "mean": SUMX, "max_drop_pct": DROP, "time_to_impact": BELOW,
         "recovery": BELOW, "peak": TOP, "peak_day": TOP, "days_above_50pct": ABOVE, "first_stop": FSTOP,
         "exhaustion": 0}
STAT_NEEDS = {"total": SUMX, "mean": SUMX, "peak": TOP, "low": LOW}


def _seq(v: np.ndarray, carry: np.ndarray | None = None) -> np.ndarray:
    """:func:`.metrics.running_sum` of a short last axis, as one vector addition per day (fast for many rows)."""
    acc = v[..., 0] + carry if carry is not None else v[..., 0].copy()
    for j in range(1, v.shape[-1]):
        acc += v[..., j]
    return acc


def period_sums(x: np.ndarray, d0: int, step: int, out: np.ndarray, started: bool) -> None:
    """Sums of ``step``-day periods from day 0 into ``out`` (``(..., periods)``), of the days ``d0 .. d0 + n``
    of ``x`` (``(..., n)``); days of a period are added one after the other, a period that began before
    ``d0`` continuing from its running sum in ``out`` (``started``: earlier days were added)."""
    n = x.shape[-1]
    head = min(n, (-d0) % step)          # the rest of a period that began before d0
    if head:
        p = d0 // step
        out[..., p] = _seq(x[..., :head], out[..., p] if started else None)
    m = (n - head) // step               # whole periods
    p = -(-d0 // step)
    if m:
        full = x[..., head:head + m * step].reshape(x.shape[:-1] + (m, step))
        out[..., p:p + m] = _seq(full)
    tail = n - head - m * step           # a period that goes on after this piece (or the run's last, short)
    if tail:
        out[..., p + m] = _seq(x[..., n - tail:])


_NO_BUCKETS = np.zeros((2, 1, 1))   # what the compiled loop is handed when no period sums are kept


def array_layout(a: np.ndarray) -> tuple:
    """What numba's type of array ``a`` depends on (dtype, dimensions, contiguity, writable, aligned): arrays
    alike in this go into one tuple of a compiled call."""
    f = a.flags
    return a.dtype.str, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned


@dataclass(frozen=True)
class FoldIndex:
    """Where a layout's series go in a fold, the same for every pair of the layout (read only): each series'
    running values asked for (``flags``: bits of :data:`FLAG_ORDER`; ``rows``: the series asking for each bit),
    the impact metrics' groups ``(metric name, its slots in the metrics row, the series rows they read)``, the
    impact statistics' groups ``(statistic, impact columns, series rows)``, and the series gathered apart: GDP
    (with its quarters' first and last day), stocks kept whole for exhaustion, charted series (``daily``)."""

    flags: np.ndarray
    groups: list[tuple[str, np.ndarray, np.ndarray]]
    stat_groups: list[tuple[str, np.ndarray, np.ndarray]]
    rows: dict[int, np.ndarray]
    gdp_rows: np.ndarray
    quarters: list[tuple[int, int]]
    exh_rows: np.ndarray
    plot_rows: np.ndarray
    small_rows: np.ndarray


def fold_index(lay: Layout, daily: bool) -> FoldIndex:
    """The :class:`FoldIndex` of ``lay`` (charted series when ``daily``)."""
    K = len(lay.keys)
    row = {k: j for j, k in enumerate(lay.keys)}
    by_name: dict[str, list[int]] = {}
    for j, (_, name, _) in enumerate(lay.metric_slots):
        by_name.setdefault(name, []).append(j)
    flags = np.zeros(K, dtype=np.int64)
    groups = []
    for name, slots in by_name.items():
        rows = np.array([row[lay.metric_slots[j][0]] for j in slots], dtype=np.intp)
        groups.append((name, np.array(slots, dtype=np.intp), rows))
        flags[rows] |= NEEDS[name]
    by_stat: dict[str, list[int]] = {}
    for j, key in enumerate(lay.impact_keys):
        by_stat.setdefault(impact_statistic(lay.info[key]), []).append(j)
    stat_groups = []
    for stat, cols in by_stat.items():
        rows = np.array([row[lay.impact_keys[j]] for j in cols], dtype=np.intp)
        stat_groups.append((stat, np.array(cols, dtype=np.intp), rows))
        flags[rows] |= STAT_NEEDS[stat]
    bit_rows = {bit: np.flatnonzero(flags & bit) for bit in (LOST, SUMX, DROP, BELOW, TOP, LOW, ABOVE, FSTOP)}
    gdp_rows = np.array([row[f"economy.{r}.gdp"] for r in lay.regions], dtype=np.intp)
    quarters = [(int(np.argmax(m)), int(len(m) - np.argmax(m[::-1]))) for _, m in lay.quarter_masks]
    exh_rows = next((rows for name, _, rows in groups if name == "exhaustion"), np.zeros(0, dtype=np.intp))
    plot_rows = np.array([row[k] for k in lay.plot_keys] if daily else [], dtype=np.intp)
    small_rows = np.concatenate([gdp_rows, exh_rows, plot_rows])
    for a in (flags, gdp_rows, exh_rows, plot_rows, small_rows, *bit_rows.values(),
              *(x for g in groups + stat_groups for x in g[1:])):
        a.flags.writeable = False
    return FoldIndex(flags, groups, stat_groups, bit_rows, gdp_rows, quarters, exh_rows, plot_rows, small_rows)


class DayFold:
    """The summary of one replication pair under way: :meth:`add` (or :meth:`add_recorders`) its days piece by
    piece, then :meth:`finish`.

    Running values are kept per series, as ``(2, series)`` arrays (row 0 the scenario against its baseline,
    row 1 the baseline against itself), only for the series that need them. ``daily=False`` keeps only the
    statistics (impact metrics, impacts, GDP), no period means or charted days: what a sweep run needs.
    ``compiled``: update them in one compiled loop over the recorded days (:func:`fold_pairs`, same numbers);
    default: when the engine uses compiled loops. Days must hold numbers (see :meth:`add_recorders`)."""

    def __init__(self, lay: Layout, daily: bool = True, compiled: bool | None = None,
                 index: FoldIndex | None = None):
        """``index``: :func:`fold_index` of ``lay`` and ``daily``, if the caller has it (the same for every pair
        of a layout: a sweep task's 64 folds share one, ~2 ms each to work out)."""
        self.lay, self.daily = lay, daily
        self.days = lay.sc.days
        self.day = 0
        K = len(lay.keys)
        ix = index if index is not None else fold_index(lay, daily)
        self.flags, self.groups, self.stat_groups, self.rows = ix.flags, ix.groups, ix.stat_groups, ix.rows
        self.gdp_rows, self.quarters, self.exh_rows = ix.gdp_rows, ix.quarters, ix.exh_rows
        self.plot_rows, self.small_rows = ix.plot_rows, ix.small_rows
        nan = np.full((2, K), np.nan)
        self.lost, self.sumx, self.drop, self.top, self.low = (np.zeros((2, K)) for _ in range(5))
        self.tti, self.rec, self.topday, self.fstop = nan.copy(), nan.copy(), nan.copy(), nan
        self.above = np.zeros((2, K))
        self.gdp = np.zeros((2, len(lay.regions), len(self.quarters)))
        self.gdp_carry = np.zeros((2, len(lay.regions)))
        # kept day by day, (2, days, series): a piece's days are one contiguous block (series by day would
        # write a short run in every series' row, ~3 µs a lane-day at 16-day pieces, measured)
        self.exh = np.empty((2, self.days, len(self.exh_rows)))    # scenario, baseline (also the reference of both)
        self.plot = np.empty((2, self.days, len(self.plot_rows))) if daily else None
        self._plan: tuple | None = None    # the recorders' parts as :func:`fold_pairs` takes them
        #: (2, periods, series) period sums (days themselves when ``step`` is 1): a day's writes are contiguous
        self.bucket_sums = np.empty((2, self.days if lay.step == 1 else len(lay.periods), K)) if daily else None
        if compiled is None:
            compiled = kernels.in_use("fold")
        self.kernel: Callable | None = compiled_fold() if compiled else None

    # ------------------------------------------------------------------------------------------------ add
    def add_recorders(self, s: Any, b: Any, start: int, stop: int) -> tuple[str, str, int] | None:
        """Fold rows ``start .. stop`` of the scenario recorder ``s`` and its baseline's ``b`` (``Recorder``s
        of the layout's series) as the next days. Returns ``(which, series, day)`` of the first NaN (the
        baseline's first, then the scenario's; the first series in recording order, its first day in these
        rows), leaving the fold unusable, or None."""
        n = stop - start
        self.check_days(n, len(self.lay.keys))
        if self.kernel is None:
            for which, rec in (("baseline", b), ("scenario", s)):
                m = rec.matrix(self.lay.keys, start, stop)
                if np.isnan(m).any():
                    k, d = np.unravel_index(int(np.argmax(np.isnan(m))), m.shape)
                    return which, self.lay.keys[k], int(d)
                if which == "baseline":
                    B = m
            self.add(m, B)
            return None
        nan = np.full((1, 4), np.iinfo(np.int64).max, dtype=np.int64)
        sp, bp = s.parts(), b.parts()
        plan = self._plan
        if plan is None or plan[0] is not sp or plan[1] is not bp:   # parts() gives the same list until a series
            plan = self._plan = (sp, bp, self.pair_plans(sp, bp))    # is added
        g = len(self.gdp_rows)
        S, B = (np.empty((1, n, g)) for _ in range(2))
        for sparts, bparts, k0s, cols, fptr, small_j, small_q, small_ptr in plan[2]:
            one = np.zeros((1, len(sparts)), dtype=np.int64)          # a pair's parts: blocks of one lane
            self.kernel(sparts, bparts, one, one, one - 1, k0s, start, stop, self.day, self.period_step(), cols, fptr,
                        IMPACT_THRESHOLD, 1.0 + PRICE_JUMP, *self.state(), nan, small_j, small_q, small_ptr, S, B,
                        *self.kept())
        bad = self.first_nan(nan[0])
        if bad is not None:
            return bad
        if g:
            self._gdp(np.stack([S[0].T, B[0].T]), self.day)
        self.day += n
        return None

    def period_step(self) -> int:
        """The period length :func:`fold_pairs` takes (0: no period sums)."""
        return self.lay.step if self.daily else 0

    def state(self) -> tuple[np.ndarray, ...]:
        """The running values and period sums, in :func:`fold_pairs`'s order, with a leading axis of one pair."""
        buckets = self.bucket_sums if self.daily else _NO_BUCKETS
        return tuple(getattr(self, name)[None] for name in RUNNING) + (buckets[None],)

    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        """The days kept whole (stocks, charted series) as :func:`fold_pairs` takes them, one pair."""
        return self.exh[None], (self.plot if self.daily else _NO_BUCKETS)[None]

    def first_nan(self, nan: np.ndarray) -> tuple[str, str, int] | None:
        """``(which, series, day)`` of the NaN :func:`fold_pairs` found first in a pair (``nan``: its row)."""
        for w, which in ((0, "baseline"), (2, "scenario")):
            if nan[w] < len(self.lay.keys):
                return which, self.lay.keys[int(nan[w])], int(nan[w + 1])
        return None

    def pair_plans(self, sp: list, bp: list) -> list[tuple]:
        """The recorders' parts (``Recorder.parts`` of the scenario, ``sp``, and of its baseline, ``bp``) as the
        calls of :func:`fold_pairs`: ``(scenario parts, baseline parts, their first series, cols, fptr, small_j,
        small_q, small_ptr)``, the parts as blocks of one lane, one call for all parts whose arrays have the same
        layout (a compiled call takes a tuple of arrays of one type: in a batch of two lanes or more every part is
        a strided view, so one call)."""
        groups: dict[tuple, list[int]] = {}
        for i, ((sa, _), (ba, _)) in enumerate(zip(sp, bp)):
            groups.setdefault((array_layout(sa), array_layout(ba)), []).append(i)
        plans = []
        for parts in groups.values():
            cols, fptr, small_j, small_q, small_ptr = [], [], [], [], [0]
            at = 0
            for i in parts:
                a, k0 = sp[i]
                w = a.shape[1]
                c, f = flag_runs(self.flags[k0:k0 + w])
                cols.append(c)
                fptr.append(f + at)
                at += c.size
                dest = np.flatnonzero((self.small_rows >= k0) & (self.small_rows < k0 + w))
                small_j.append(self.small_rows[dest] - k0)
                small_q.append(dest)
                small_ptr.append(small_ptr[-1] + dest.size)
            plans.append((tuple(sp[i][0][:, None] for i in parts), tuple(bp[i][0][:, None] for i in parts),
                          np.array([sp[i][1] for i in parts], dtype=np.int64),
                          np.concatenate(cols).astype(np.int64), np.stack(fptr).astype(np.int64),
                          np.concatenate(small_j).astype(np.int64), np.concatenate(small_q).astype(np.int64),
                          np.array(small_ptr, dtype=np.int64)))
        return plans

    def check_days(self, n: int, keys: int) -> None:
        if keys != len(self.lay.keys) or n <= 0 or self.day + n > self.days:
            raise ValueError(f"a fold takes the next days of {len(self.lay.keys)} series, at most "
                             f"{self.days - self.day} more; got {n} days of {keys} series at day {self.day} of "
                             f"{self.days}")

    def add(self, S: np.ndarray, B: np.ndarray) -> None:
        """The next days of the scenario run (``S``) and its baseline (``B``), each ``(keys, days)`` in layout
        order, following the days already added (numpy; :func:`fold_pairs` is the compiled twin)."""
        d0, n = self.day, S.shape[1]
        if S.shape != B.shape:
            raise ValueError(f"scenario days {S.shape} and baseline days {B.shape} differ")
        self.check_days(n, S.shape[0])
        first = d0 == 0
        for bit, rows in self.rows.items():
            if not len(rows):
                continue
            b = B[rows]
            X = np.stack([S[rows], b])
            if bit == LOST:
                self.lost[:, rows] = running_sum(b - X, None if first else self.lost[:, rows])
            elif bit == SUMX:
                self.sumx[:, rows] = running_sum(X, None if first else self.sumx[:, rows])
            elif bit == DROP:
                v = drop_share(X, b).max(axis=-1)
                self.drop[:, rows] = v if first else np.maximum(self.drop[:, rows], v)
            elif bit == BELOW:
                mask = below(X, b)
                hit = mask.any(axis=-1)
                tti = self.tti[:, rows]
                self.tti[:, rows] = np.where(np.isnan(tti), np.where(hit, d0 + mask.argmax(axis=-1), np.nan), tti)
                self.rec[:, rows] = np.where(hit, d0 + n - 1 - mask[..., ::-1].argmax(axis=-1), self.rec[:, rows])
            elif bit == TOP:
                top, at = X.max(axis=-1), (d0 + X.argmax(axis=-1)).astype(float)
                higher = top > self.top[:, rows] if not first else np.ones(top.shape, dtype=bool)
                self.top[:, rows] = np.where(higher, top, self.top[:, rows])
                self.topday[:, rows] = np.where(higher, at, self.topday[:, rows])
            elif bit == LOW:
                v = X.min(axis=-1)
                self.low[:, rows] = v if first else np.minimum(self.low[:, rows], v)
            elif bit == ABOVE:
                self.above[:, rows] += np.count_nonzero(above_jump(X, b), axis=-1)
            else:   # FSTOP
                mask = stopped(X, b)
                at = np.where(mask.any(axis=-1), d0 + mask.argmax(axis=-1), np.nan)
                self.fstop[:, rows] = np.where(np.isnan(self.fstop[:, rows]), at, self.fstop[:, rows])
        if self.daily:
            for w, X in enumerate((S, B)):
                if self.lay.step == 1:
                    self.bucket_sums[w, d0:d0 + n] = X.T
                else:
                    period_sums(X, d0, self.lay.step, self.bucket_sums[w].T, not first)
        self._small(S[self.small_rows].T, B[self.small_rows].T)
        self.day += n

    def _small(self, S: np.ndarray, B: np.ndarray) -> None:
        """GDP, stocks kept whole and charted series from their columns (``small_rows``) of the next days
        (``S``, ``B``: days × small rows)."""
        d0, n = self.day, S.shape[0]
        g, e = len(self.gdp_rows), len(self.exh_rows)
        if g:
            self._gdp(np.stack([S[:, :g].T, B[:, :g].T]), d0)
        if e:
            self.exh[0, d0:d0 + n] = S[:, g:g + e]
            self.exh[1, d0:d0 + n] = B[:, g:g + e]
        if self.daily:
            self.plot[0, d0:d0 + n] = S[:, g + e:]
            self.plot[1, d0:d0 + n] = B[:, g + e:]

    def _gdp(self, X: np.ndarray, d0: int) -> None:
        """Quarter sums of daily GDP (2, regions, days), day after day in order (a quarter may span pieces)."""
        self.gdp_carry = quarter_sums(X, d0, self.quarters, self.gdp, self.gdp_carry)

    # --------------------------------------------------------------------------------------------- finish
    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(metrics, stats, gdp, buckets, plot)`` as in :class:`~.reduce.PairSummary` (buckets and plot None
        when not ``daily``)."""
        if self.day != self.days:
            raise ValueError(f"the fold has {self.day} of {self.days} days")
        metrics = np.empty((2, len(self.lay.metric_slots)))
        for name, slots, rows in self.groups:
            metrics[:, slots] = self._final(name, rows)
        stats = np.empty((2, len(self.lay.impact_keys)))
        for stat, cols, rows in self.stat_groups:
            stats[:, cols] = {"total": self.sumx, "mean": self.sumx, "peak": self.top, "low": self.low}[stat][:, rows]
            if stat == "mean":
                stats[:, cols] /= self.days
        buckets = None
        if self.daily:
            buckets = np.ascontiguousarray(self.bucket_sums.transpose(0, 2, 1))
            if self.lay.step != 1:
                buckets /= np.diff(np.append(self.lay.periods, self.days)).astype(float)
        plot = np.ascontiguousarray(self.plot.transpose(0, 2, 1)) if self.daily else None   # (2, series, days)
        return metrics, stats, self.gdp, buckets, plot

    def _final(self, name: str, rows: np.ndarray) -> np.ndarray:
        if name == "lost":
            return self.lost[:, rows]
        if name == "total":
            return self.sumx[:, rows]
        if name == "mean":
            return self.sumx[:, rows] / self.days
        if name == "max_drop_pct":
            return np.maximum(0.0, self.drop[:, rows]) * 100.0
        if name == "time_to_impact":
            return self.tti[:, rows]
        if name == "recovery":
            last = self.rec[:, rows]
            return np.where(np.isnan(last) | (last + 1 >= self.days), np.nan, last + 1)
        if name == "peak":
            return self.top[:, rows]
        if name == "peak_day":
            return self.topday[:, rows]
        if name == "days_above_50pct":
            return self.above[:, rows]
        if name == "first_stop":
            return self.fstop[:, rows]
        s, b = self.exh[0].T, self.exh[1].T                  # (series, days)
        return np.stack([exhaustion(s, b), exhaustion(b, b)])


def quarter_sums(X: np.ndarray, d0: int, quarters: list[tuple[int, int]], gdp: np.ndarray,
                 carry: np.ndarray) -> np.ndarray:
    """Sums of daily GDP ``X`` (..., regions, days from day ``d0``) over the ``quarters`` (first day, end day)
    into ``gdp`` (..., regions, quarters), day after day in order, the quarter under way continuing from its
    running sum ``carry`` (a quarter may span pieces). Returns the running sum to carry on with."""
    n = X.shape[-1]
    for q, (q0, q1) in enumerate(quarters):
        a, z = max(q0, d0), min(q1, d0 + n)
        if a >= z:
            continue
        total = running_sum(X[..., a - d0:z - d0], carry if q0 < d0 else None)
        if z == q1:
            gdp[..., q] = total
        else:
            carry = total
    return carry


def compiled_fold() -> Callable:
    """:func:`fold_pairs` compiled (with :func:`_fold_part` in it)."""
    return kernels.compile_external(fold_pairs, (_fold_part,))


#: the running values of a :class:`DayFold`, ``(2, series)`` each, in :func:`fold_pairs`'s order of arguments
RUNNING = ("lost", "sumx", "drop", "tti", "rec", "top", "topday", "low", "above", "fstop")

#: the running values in the order :func:`fold_pairs` updates them (its loops follow this order)
FLAG_ORDER = (LOST, SUMX, DROP, BELOW, TOP, LOW, ABOVE, FSTOP)


def flag_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The columns asking for each running value, flag by flag in :data:`FLAG_ORDER`: ``(cols, fptr)`` with the
    ``i``-th flag's columns, ascending, in ``cols[fptr[i]:fptr[i + 1]]`` (a column asking for several values is
    in several runs)."""
    runs = [np.flatnonzero(flags & bit) for bit in FLAG_ORDER]
    return (np.concatenate(runs).astype(np.int64),
            np.cumsum([0] + [r.size for r in runs]).astype(np.int64))


def fold_pairs(sblocks, bblocks, s_lanes, b_lanes, b_src, k0s, r0, r1, d0, step, cols, fptr, threshold, jump,
               lost, sumx, drop, tti, rec, top, topday, low, above, fstop, buckets, nan, small_j, small_q, small_ptr,
               S, B, exh, plot):
    """:meth:`DayFold.add` for the rows ``r0 .. r1`` of the recorded parts of pairs, compiled (see
    ``engine.kernels.compile_external``): pair ``q``'s part ``p`` (``(rows, columns)``, its first series
    ``k0s[p]``) is ``sblocks[p][:, s_lanes[q, p]]`` for the scenario and ``bblocks[p][:, b_lanes[q, p]]`` for its
    baseline (``(rows, lanes, columns)`` blocks: a batch's own, or one pair's parts with a lane axis of one),
    their row ``r0`` being day ``d0``. The fold's arrays below have the pairs on a leading axis. For each pair
    and part in turn: adds every column's days to the period sums ``buckets`` (``(2, periods, series)``;
    ``step`` days; 1: the days themselves; 0: none), then updates the running values (row 0 the scenario
    against ``b``, row 1 ``b`` against itself) of the columns asking for each (:func:`flag_runs`: the part's
    runs are ``cols[fptr[p, i]:fptr[p, i + 1]]``), with the same operations in the same order, and copies its
    columns ``small_j[small_ptr[p]:small_ptr[p + 1]]`` of the series read apart to their places ``small_q`` in
    ``DayFold.small_rows``: GDP into ``S`` and ``B`` (``(days, regions)``), stocks into ``exh`` and charted
    series into ``plot`` (``(2, days, series)``, from day ``d0``). One call a window for a batch's pairs
    (numba's call costs ~3 µs, the Python around it ~20 µs a pair) and no gathering in numpy. The first NaN
    (series, day) of a pair's baseline goes to ``nan[q, 0:2]``, of its scenario to ``nan[q, 2:4]`` (its fold
    is then of no use).

    A baseline that an earlier pair's part reads from the same lane of the same block (``b_src[q, p]``: that
    pair, else −1) is folded once: pair ``q`` folds its scenario against it and takes that pair's baseline rows
    (row 1 of the running values, of the period sums of the window's periods, its NaN) instead of folding the same
    days again. A batch's baselines are such lanes while they record the same numbers: the replications' market
    lanes (``engine.shared_lanes``: the headline's 9 of 10 baselines in a worker, the whole run) and a sweep's
    points, which share one baseline lane."""
    span = np.array([r0, r1 - r0, d0, step, 2])   # (numba copies a callee into its caller only up to 30 arguments)
    for q in range(s_lanes.shape[0]):
        lost_q, sumx_q, drop_q, tti_q, rec_q = lost[q], sumx[q], drop[q], tti[q], rec[q]
        top_q, topday_q, low_q, above_q, fstop_q = top[q], topday[q], low[q], above[q], fstop[q]
        buckets_q, nan_q, S_q, B_q, exh_q, plot_q = buckets[q], nan[q], S[q], B[q], exh[q], plot[q]
        for part in range(len(sblocks)):
            src = b_src[q, part]
            span[4] = 1 if src >= 0 else 2             # rows folded: the scenario's alone, or both
            _fold_part(sblocks[part], bblocks[part], s_lanes[q, part], b_lanes[q, part], span, k0s[part],
                       part, cols, fptr[part], threshold, jump, lost_q, sumx_q, drop_q, tti_q, rec_q,
                       top_q, topday_q, low_q, above_q, fstop_q, buckets_q, nan_q, small_j, small_q, small_ptr, S_q,
                       B_q, exh_q, plot_q)
            if src >= 0:                               # the baseline's rows as pair ``src`` folded them:
                k0 = k0s[part]                         # the running values its columns ask for, flag by flag
                fp = fptr[part]
                firsts = (lost, sumx, drop, tti, top, low, above, fstop)      # each flag's, in FLAG_ORDER
                for i in range(8):
                    arr = firsts[i]
                    for jj in range(fp[i], fp[i + 1]):
                        k = k0 + cols[jj]
                        arr[q, 1, k] = arr[src, 1, k]
                        if i == 3:                             # BELOW's last day, TOP's day
                            rec[q, 1, k] = rec[src, 1, k]
                        elif i == 4:
                            topday[q, 1, k] = topday[src, 1, k]
                if step > 0:                           # and the sums of the window's periods
                    k1 = k0 + sblocks[part].shape[2]
                    n = r1 - r0
                    p0, p1 = (d0 // step, (d0 + n - 1) // step) if step > 1 else (d0, d0 + n - 1)
                    for pp in range(p0, p1 + 1):
                        for k in range(k0, k1):
                            buckets[q, 1, pp, k] = buckets[src, 1, pp, k]
                nan[q, 0] = nan[src, 0]
                nan[q, 1] = nan[src, 1]


def _fold_part(sb, bb, ls, lb, span, k0, part, cols, fp, threshold, jump, lost, sumx, drop, tti, rec, top, topday, low,
               above, fstop, buckets, nan, small_j, small_q, small_ptr, S, B, exh, plot):
    """One pair's part in :func:`fold_pairs`: its days are rows ``r0 .. r0 + n`` of lane ``ls`` of the block
    ``sb`` (the scenario) and of lane ``lb`` of ``bb`` (the baseline), ``fp`` its runs; one pair's arrays. A day's
    row is taken as a row of the block (``sb[r0 + d, ls]``), which is contiguous where the block is, so the
    passes over every column are plain loops over memory that the compiler vectorises (a 2-D view of one lane
    has strides numba cannot know; measured 2026-12-07 on a 16-day window of the headline's 20 pairs, 2,804
    series: 4.3 → 3.6 ms alone, the fold's share of the engine 14.3 → 12.7 µs a lane-day). Reading the days is
    not what bounds it: in such a window (3.0 ms alone, 2026-12-07) the NaN scan over all of them takes 0.63 ms,
    the period sums 0.76, the series kept whole 0.47 and the running values of the ~1,200 flagged columns 1.16."""
    r0, n, d0, step, nv = span[0], span[1], span[2], span[3], span[4]
    g, e = S.shape[1], exh.shape[2]
    c = sb.shape[2]
    for d in range(n):
        sr = sb[r0 + d, ls]
        br = bb[r0 + d, lb]
        for q in range(small_ptr[part], small_ptr[part + 1]):
            j, dst = small_j[q], small_q[q]
            if dst < g:
                S[d, dst] = sr[j]
                B[d, dst] = br[j]
            elif dst < g + e:
                exh[0, d0 + d, dst - g] = sr[j]
                exh[1, d0 + d, dst - g] = br[j]
            else:
                plot[0, d0 + d, dst - g - e] = sr[j]
                plot[1, d0 + d, dst - g - e] = br[j]
    for d in range(n):                  # one pass over every column: the NaN scan and the period sums
        day = d0 + d
        sr = sb[r0 + d, ls]
        br = bb[r0 + d, lb]
        bad = False                     # any NaN in the day's row (a branch-free pass); where so, find it
        if nv == 2:
            for j in range(c):
                bad |= (br[j] != br[j]) | (sr[j] != sr[j])
        else:                           # the baseline's NaN comes from the pair that folds it
            for j in range(c):
                bad |= sr[j] != sr[j]
        if bad:
            for j in range(c):
                xb = br[j] if nv == 2 else 0.0
                xs = sr[j]
                if xb != xb or xs != xs:
                    k = k0 + j
                    w = 0 if xb != xb else 2
                    if k < nan[w] or (k == nan[w] and d < nan[w + 1]):
                        nan[w] = k
                        nan[w + 1] = d
        if step > 0:
            p = day // step if step > 1 else day
            if step == 1 or day % step == 0:
                for j in range(c):
                    buckets[0, p, k0 + j] = sr[j]
                if nv == 2:
                    for j in range(c):
                        buckets[1, p, k0 + j] = br[j]
            else:
                for j in range(c):
                    buckets[0, p, k0 + j] += sr[j]
                if nv == 2:
                    for j in range(c):
                        buckets[1, p, k0 + j] += br[j]
        first = day == 0                # then the running values of the day, while its row is in cache:
        # flag by flag over the columns asking for it (``fptr`` bounds each flag's run of ``cols``), so each
        # loop is short and branch-free; every value still sees its days in order
        for jj in range(fp[0], fp[1]):                      # LOST: baseline − x, summed
            j = cols[jj]
            k = k0 + j
            xb = br[j]
            for v in range(nv):
                y = xb - (sr[j] if v == 0 else xb)
                lost[v, k] = y if first else lost[v, k] + y
        for jj in range(fp[1], fp[2]):                      # SUMX: sum of x
            j = cols[jj]
            k = k0 + j
            for v in range(nv):
                x = sr[j] if v == 0 else br[j]
                sumx[v, k] = x if first else sumx[v, k] + x
        for jj in range(fp[2], fp[3]):                      # DROP: largest drop below the baseline
            j = cols[jj]
            k = k0 + j
            xb = br[j]
            for v in range(nv):
                x = sr[j] if v == 0 else xb
                dr = (xb - x) / xb if xb > 0 else -np.inf
                if dr != dr:
                    dr = -np.inf
                if first or dr > drop[v, k]:
                    drop[v, k] = dr
        for jj in range(fp[3], fp[4]):                      # BELOW: first and last day below the threshold
            j = cols[jj]
            k = k0 + j
            xb = br[j]
            for v in range(nv):
                x = sr[j] if v == 0 else xb
                if xb > 0 and x < threshold * xb:
                    if tti[v, k] != tti[v, k]:
                        tti[v, k] = day
                    rec[v, k] = day
        for jj in range(fp[4], fp[5]):                      # TOP: peak and its day
            j = cols[jj]
            k = k0 + j
            for v in range(nv):
                x = sr[j] if v == 0 else br[j]
                if first or x > top[v, k]:
                    top[v, k] = x
                    topday[v, k] = day
        for jj in range(fp[5], fp[6]):                      # LOW: smallest value
            j = cols[jj]
            k = k0 + j
            for v in range(nv):
                x = sr[j] if v == 0 else br[j]
                if first or x < low[v, k]:
                    low[v, k] = x
        for jj in range(fp[6], fp[7]):                      # ABOVE: days above the price jump
            j = cols[jj]
            k = k0 + j
            xb = br[j]
            for v in range(nv):
                x = sr[j] if v == 0 else xb
                if xb > 0 and x > jump * xb:
                    above[v, k] += 1.0
        for jj in range(fp[7], fp[8]):                      # FSTOP: first day of flow where there was none
            j = cols[jj]
            k = k0 + j
            xb = br[j]
            for v in range(nv):
                x = sr[j] if v == 0 else xb
                if x > 1e-9 and xb <= 1e-9 and fstop[v, k] != fstop[v, k]:
                    fstop[v, k] = day
