"""One replication (a :class:`~simulator.runner.Pair` of recorders, or its days as they are recorded) reduced to
what the result tables and charts need (a few hundred kB), in the worker process that ran it.

:func:`reduce_pair` is applied to each pair before it leaves its worker (``runner.run_replications(...,
reduce=...)``), so no daily series travels between processes unless asked for; a batch under way is folded
while it runs (:class:`Reducer` gives the runner a :class:`~.day_fold.DayFold` per pair and turns it into the
summary with :func:`summarize`). Every number of a replication depends on that replication alone, so folding the
summaries in replication order gives the same tables whatever the batching or the workers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..engine.recorder import Event, SeriesInfo
from ..scenario.schema import Scenario
from .batch_fold import BatchFold
from .day_fold import DayFold, FoldIndex, fold_index, period_sums
from .layout import Layout
from .metrics import day_sum, mean, peak, total
from .spool import load_array, save_arrays, writing

WHICH = ("scenario", "baseline")

#: days of a finished run folded at a time (a fold's numbers do not depend on it; it bounds the copies' size)
FOLD_DAYS = 128


@dataclass
class PairSummary:
    """What the tables need from one replication. Index 0 of every leading axis of 2 is the scenario run,
    index 1 its baseline; numbers are in the unit of their series (see :class:`~.layout.Layout`)."""

    replication: int
    seed_entropy: int
    info: dict[str, SeriesInfo] | None   #: series descriptions; replication 0 only (the same in every one)
    metrics: np.ndarray                  #: (2, metric slots): each impact metric, baseline against itself in row 1
    stats: np.ndarray                    #: (2, impact keys): the impacts statistic (total, peak, low, mean)
    gdp: np.ndarray                      #: (2, regions, quarters): GDP summed over each quarter's days, USD
    events: tuple[list[Event], list[Event]]   #: recorded state changes of scenario and baseline
    buckets: np.ndarray | None           #: (2, keys, periods) period means; None when spooled
    plot: np.ndarray | None              #: (2, plot keys, days) daily values for charts; None when spooled
    spool: str | None = None             #: folder holding the spooled arrays

    def array(self, part: str, out: np.ndarray | None = None) -> np.ndarray:
        """``buckets`` or ``plot``, from memory or from the spool (into ``out`` when given)."""
        held = getattr(self, part)
        if held is None:
            return load_array(self.spool, self.replication, part, out)
        if out is None:
            return held
        out[...] = held
        return out


def bucket_means(arr: np.ndarray, step: int) -> np.ndarray:
    """Mean over consecutive ``step``-day periods (the last one may be shorter), NaN-aware; arr is (..., days).
    A period's days are added one after the other (as the fold of recorded days does, see ``period_sums``)."""
    if step == 1:
        return arr
    arr = np.asarray(arr, dtype=float)
    days = arr.shape[-1]
    starts = np.arange(0, days, step)
    lengths = np.diff(np.append(starts, days)).astype(float)
    sums = np.empty(arr.shape[:-1] + (len(starts),))
    if not np.isnan(arr).any():   # recorded series hold no NaN (runner.check_numbers)
        period_sums(arr, 0, step, sums, False)
        return sums / lengths
    counts = np.empty_like(sums)
    period_sums(np.nan_to_num(arr), 0, step, sums, False)
    period_sums((~np.isnan(arr)).astype(float), 0, step, counts, False)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def stat_values(arr: np.ndarray, statistic: str) -> np.ndarray:
    """One value per row of ``arr`` (replications × days); NaN where a row recorded nothing."""
    empty = np.isnan(arr).all(axis=1)
    safe = np.where(empty[:, None], 0.0, arr)
    if statistic == "low":
        out = np.nanmin(safe, axis=1)
    else:
        out = {"total": total, "peak": peak, "mean": mean}[statistic](safe)
    return np.where(empty, np.nan, out)


def quarter_sum(days: np.ndarray) -> float:
    """Σ of one quarter's daily values (NaN as 0), one day after the other (as the fold of recorded days adds
    them, carrying a quarter's running sum from one piece to the next)."""
    return float(day_sum(np.asarray(days, dtype=float)))


def reduce_pair(sc: Scenario, pair: Any, spool: str | Path | None = None,
                layout: Layout | None = None, daily: bool = True) -> PairSummary:
    """The summary of one finished replication ``pair`` (a ``runner.Pair``) of ``sc``, its recorded days folded
    piece by piece (:class:`~.day_fold.DayFold`) as the engine folds a run under way. With ``spool`` (a folder),
    the bucketed and plotted series go to files there (see :mod:`.spool`) instead of into the summary, and for
    ``output.replications: all`` the replication's series are also written as a Parquet partition. With
    ``daily=False`` only the statistics (impact metrics, impacts, GDP) are kept, no period means or charted
    series: what a sweep run needs."""
    s, b = pair.scenario, pair.baseline
    lay = layout if layout is not None else Layout(sc, s.info)
    fold = DayFold(lay, daily)
    for d0 in range(0, lay.sc.days, FOLD_DAYS):
        bad = fold.add_recorders(s, b, d0, min(d0 + FOLD_DAYS, lay.sc.days))
        if bad is not None:
            raise ValueError(f"{bad[1]} of the {bad[0]} is not a number on day {d0 + bad[2]}")
    return summarize(sc, pair, fold, lay, spool)


def summarize(sc: Scenario, pair: Any, fold: DayFold, lay: Layout, spool: str | Path | None = None
              ) -> PairSummary:
    """The :class:`PairSummary` of replication ``pair`` (its recorders give the events and, for replication 0,
    the series descriptions) from the completed ``fold`` of its days; see :func:`reduce_pair` for ``spool``."""
    s, b = pair.scenario, pair.baseline
    metrics, stats, gdp, buckets, plot = fold.finish()
    summary = PairSummary(
        replication=pair.replication, seed_entropy=pair.seed_entropy,
        info=dict(s.info) if pair.replication == 0 else None, metrics=metrics, stats=stats, gdp=gdp,
        events=(list(s.events), list(b.events)), buckets=None, plot=None)
    if buckets is None:
        return summary
    if spool is not None:
        save_arrays(spool, pair.replication, "buckets", list(buckets))
        save_arrays(spool, pair.replication, "plot", list(plot))
        if sc.output.replications == "all":
            from .parquet import write_partition
            with writing(spool):
                write_partition(Path(spool), lay, pair.replication, list(buckets))
        summary.spool = str(spool)
    else:
        summary.buckets, summary.plot = buckets, plot
    return summary


class Reducer:
    """``reduce_pair`` with its scenario, spool and ``daily`` bound, picklable, for ``runner.run_replications(
    reduce=)`` and ``runner.run_runs(reduce=)``. Caches the layout of the first pair it sees (series are the same
    in every replication). Runs of a sweep batch differ from ``sc`` in measure values only, which the statistics
    kept with ``daily=False`` do not depend on."""

    def __init__(self, sc: Scenario, spool: str | Path | None = None, daily: bool = True):
        self.sc = sc
        self.spool = None if spool is None else str(spool)
        self.daily = daily
        self._layout: Layout | None = None
        self._index: tuple[Layout, FoldIndex] | None = None     #: the fold index of ``_layout``, once asked

    def __getstate__(self) -> Mapping[str, Any]:
        return {"sc": self.sc, "spool": self.spool, "daily": self.daily, "_layout": None, "_index": None}

    def layout(self, info: Mapping[str, SeriesInfo]) -> Layout:
        """The layout of runs recording the series ``info``."""
        if self._layout is None or self._layout.keys != list(info):
            self._layout = Layout(self.sc, info)
        return self._layout

    def __call__(self, pair: Any) -> PairSummary:
        return reduce_pair(self.sc, pair, self.spool, self.layout(pair.scenario.info), self.daily)

    def fold(self, info: Mapping[str, SeriesInfo]) -> DayFold:
        """An empty fold of one replication recording the series ``info`` (for a batch folded as it runs)."""
        lay = self.layout(info)
        if self._index is None or self._index[0] is not lay:
            self._index = (lay, fold_index(lay, self.daily))
        return DayFold(lay, self.daily, index=self._index[1])

    def batch(self, folds: list[DayFold]) -> BatchFold:
        """The folds of a batch's pairs, folded together (see :class:`.batch_fold.BatchFold`)."""
        return BatchFold(folds)

    def summary(self, pair: Any, fold: DayFold) -> PairSummary:
        """The summary of replication ``pair`` from the completed ``fold`` of its days."""
        return summarize(self.sc, pair, fold, self.layout(pair.scenario.info), self.spool)
