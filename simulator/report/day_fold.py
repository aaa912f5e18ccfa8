"""One replication's recorded days folded into its summary, a piece of days at a time.

A replication pair (a scenario run and its paired baseline) is reduced to what the tables and charts need: the
impact metrics of every series (scenario against baseline, and baseline against itself), each series' impacts
statistic, GDP summed over quarters, period means and the charted days. :class:`DayFold` takes the pair's days
in consecutive pieces and keeps only running values between them (sums, extremes, first and last days, counts,
the periods' sums), plus the few series it needs whole (charted series, and stocks for the exhaustion metric,
whose threshold is the baseline's peak over the whole run). Every sum over days adds the days one after the
other in day order, carried from one piece to the next, so the result does not depend on where the pieces end.

The engine hands a batch's days over each time its ring of recorded days is full (``runner``: 128 days instead
of every day of the horizon), and a finished run is folded from its recorders (``reduce.reduce_pair``), so both
give the same bytes; these are the numbers of the whole-series functions of :mod:`.metrics` and
:mod:`.reduce` (``bucket_means``, ``stat_values``, ``quarter_sum``), which the tests check.
"""
from __future__ import annotations

import numpy as np

from .layout import Layout, impact_statistic
from .metrics import _below, above_jump, drop_share, exhaustion, stopped

__all__ = ["DayFold", "period_sums", "running_sum"]


def running_sum(x: np.ndarray, carry: np.ndarray | None = None) -> np.ndarray:
    """Σ over the last axis of ``x``, one day after the other in day order, continuing from ``carry`` (the
    running sum of earlier days) when given: ``((carry + x0) + x1) + ...``."""
    y = np.array(x, dtype=float)
    if carry is not None:
        y[..., 0] += carry
    np.add.accumulate(y, axis=-1, out=y)
    return y[..., -1]


def _seq(v: np.ndarray, carry: np.ndarray | None = None) -> np.ndarray:
    """:func:`running_sum` of a short last axis, as one vector addition per day (fast for many rows)."""
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


class DayFold:
    """The summary of one replication pair under way; :meth:`add` its days piece by piece, then :meth:`finish`.

    ``daily=False`` keeps only the statistics (impact metrics, impacts, GDP), no period means or charted days:
    what a sweep run needs. Days must hold numbers (the runner checks them for NaN before they come here)."""

    def __init__(self, lay: Layout, daily: bool = True):
        self.lay, self.daily = lay, daily
        self.days = lay.sc.days
        self.day = 0
        row = {k: j for j, k in enumerate(lay.keys)}
        by_name: dict[str, list[int]] = {}
        for j, (_, name, _) in enumerate(lay.metric_slots):
            by_name.setdefault(name, []).append(j)
        #: (metric name, its slots in the metrics row, the series rows they read)
        self.groups = [(name, np.array(slots, dtype=np.intp),
                        np.array([row[lay.metric_slots[j][0]] for j in slots], dtype=np.intp))
                       for name, slots in by_name.items()]
        by_stat: dict[str, list[int]] = {}
        for j, key in enumerate(lay.impact_keys):
            by_stat.setdefault(impact_statistic(lay.info[key]), []).append(j)
        self.stat_groups = [(stat, np.array(cols, dtype=np.intp),
                             np.array([row[lay.impact_keys[j]] for j in cols], dtype=np.intp))
                            for stat, cols in by_stat.items()]
        self.gdp_rows = np.array([row[f"economy.{r}.gdp"] for r in lay.regions], dtype=np.intp)
        self.quarters = [(int(np.argmax(m)), int(len(m) - np.argmax(m[::-1]))) for _, m in lay.quarter_masks]
        self.acc: dict[str, list[np.ndarray]] = {}
        self.stat_acc: dict[str, np.ndarray] = {}
        self.gdp = np.zeros((2, len(lay.regions), len(self.quarters)))
        self.gdp_carry = np.zeros((2, len(lay.regions)))
        self.whole: dict[str, np.ndarray] = {}
        for name, _, rows in self.groups:
            if name == "exhaustion":   # the threshold is the baseline's peak of the whole run: keep the days
                self.whole["exhaustion"] = np.empty((3, len(rows), self.days))
        if daily:
            self.plot_rows = np.array([row[k] for k in lay.plot_keys], dtype=np.intp)
            self.plot = np.empty((2, len(self.plot_rows), self.days))
            self.bucket_sums = np.empty((2, len(lay.keys), len(lay.periods)))

    # ------------------------------------------------------------------------------------------------ add
    def add(self, S: np.ndarray, B: np.ndarray) -> None:
        """The next days of the scenario run (``S``) and its baseline (``B``), each ``(keys, days)`` in layout
        order, following the days already added."""
        d0, n = self.day, S.shape[1]
        if S.shape != B.shape or S.shape[0] != len(self.lay.keys) or n == 0 or d0 + n > self.days:
            raise ValueError(f"a fold takes the next days of {len(self.lay.keys)} series, at most {self.days - d0} "
                             f"more; got {S.shape} and {B.shape} at day {d0} of {self.days}")
        first = d0 == 0
        for name, _, rows in self.groups:
            b = B[rows]
            self._metric(name, np.stack([S[rows], b]), b, d0, first)
        for stat, _, rows in self.stat_groups:
            X = np.stack([S[rows], B[rows]])
            if stat in ("total", "mean"):
                self.stat_acc[stat] = running_sum(X, None if first else self.stat_acc[stat])
            elif stat == "peak":
                v = X.max(axis=-1)
                self.stat_acc[stat] = v if first else np.maximum(self.stat_acc[stat], v)
            else:   # low
                v = X.min(axis=-1)
                self.stat_acc[stat] = v if first else np.minimum(self.stat_acc[stat], v)
        if len(self.gdp_rows):
            self._gdp(np.stack([S[self.gdp_rows], B[self.gdp_rows]]), d0)
        if self.daily:
            for w, X in enumerate((S, B)):
                self.plot[w, :, d0:d0 + n] = X[self.plot_rows]
                if self.lay.step == 1:
                    self.bucket_sums[w, :, d0:d0 + n] = X
                else:
                    period_sums(X, d0, self.lay.step, self.bucket_sums[w], not first)
        self.day += n

    def _metric(self, name: str, X: np.ndarray, b: np.ndarray, d0: int, first: bool) -> None:
        """Update metric ``name`` of the rows of ``X`` (2, rows, days: scenario, baseline) against ``b``."""
        acc = self.acc.get(name)
        n = X.shape[-1]
        if name in ("lost", "total", "mean"):
            self.acc[name] = [running_sum(b - X if name == "lost" else X, None if first else acc[0])]
        elif name == "max_drop_pct":
            v = drop_share(X, b).max(axis=-1)
            self.acc[name] = [v if first else np.maximum(acc[0], v)]
        elif name in ("time_to_impact", "first_stop"):
            mask = _below(X, b) if name == "time_to_impact" else stopped(X, b)
            at = np.where(mask.any(axis=-1), d0 + mask.argmax(axis=-1), np.nan)
            self.acc[name] = [at if first else np.where(np.isnan(acc[0]), at, acc[0])]
        elif name == "recovery":
            mask = _below(X, b)
            hit = mask.any(axis=-1)
            last = np.where(hit, d0 + n - 1 - mask[..., ::-1].argmax(axis=-1), np.nan)
            self.acc[name] = [last if first else np.where(hit, last, acc[0])]
        elif name in ("peak", "peak_day"):
            top, at = X.max(axis=-1), (d0 + X.argmax(axis=-1)).astype(float)
            if first:
                self.acc[name] = [top, at]
            else:
                higher = top > acc[0]
                self.acc[name] = [np.where(higher, top, acc[0]), np.where(higher, at, acc[1])]
        elif name == "days_above_50pct":
            v = np.count_nonzero(above_jump(X, b), axis=-1)
            self.acc[name] = [v if first else acc[0] + v]
        elif name == "exhaustion":
            self.whole[name][:2, :, d0:d0 + n] = X
            self.whole[name][2, :, d0:d0 + n] = b
        else:  # pragma: no cover - a metric added to METRICS without its fold
            raise KeyError(f"no fold for impact metric {name!r}")

    def _gdp(self, X: np.ndarray, d0: int) -> None:
        """Quarter sums of daily GDP (2, regions, days), day after day in order (a quarter may span pieces)."""
        n = X.shape[-1]
        for q, (q0, q1) in enumerate(self.quarters):
            a, z = max(q0, d0), min(q1, d0 + n)
            if a >= z:
                continue
            total = running_sum(X[..., a - d0:z - d0], self.gdp_carry if q0 < d0 else None)
            if z == q1:
                self.gdp[:, :, q] = total
            else:
                self.gdp_carry = total

    # --------------------------------------------------------------------------------------------- finish
    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(metrics, stats, gdp, buckets, plot)`` as in :class:`~.reduce.PairSummary` (buckets and plot None
        when not ``daily``)."""
        if self.day != self.days:
            raise ValueError(f"the fold has {self.day} of {self.days} days")
        metrics = np.empty((2, len(self.lay.metric_slots)))
        for name, slots, _ in self.groups:
            metrics[:, slots] = self._final(name)
        stats = np.empty((2, len(self.lay.impact_keys)))
        for stat, cols, _ in self.stat_groups:
            v = self.stat_acc[stat]
            stats[:, cols] = v / self.days if stat == "mean" else v
        buckets = plot = None
        if self.daily:
            plot = self.plot
            if self.lay.step == 1:
                buckets = self.bucket_sums
            else:
                lengths = np.diff(np.append(self.lay.periods, self.days)).astype(float)
                buckets = self.bucket_sums / lengths
        return metrics, stats, self.gdp, buckets, plot

    def _final(self, name: str) -> np.ndarray:
        acc = self.acc.get(name)
        if name in ("lost", "total", "time_to_impact", "first_stop"):
            return acc[0]
        if name == "mean":
            return acc[0] / self.days
        if name == "max_drop_pct":
            return np.maximum(0.0, acc[0]) * 100.0
        if name == "recovery":
            last = acc[0]
            return np.where(np.isnan(last) | (last + 1 >= self.days), np.nan, last + 1)
        if name == "peak":
            return acc[0]
        if name == "peak_day":
            return acc[1]
        if name == "days_above_50pct":
            return acc[0].astype(float)
        w = self.whole["exhaustion"]
        return np.stack([exhaustion(w[0], w[2]), exhaustion(w[1], w[2])])
