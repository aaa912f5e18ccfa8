"""One replication (a :class:`~simulator.runner.Pair` of recorders, ~50 MB for three years) reduced to what the
result tables and charts need (a few hundred kB), in the worker process that ran it.

:func:`reduce_pair` is applied to each pair before it leaves its worker (``runner.run_replications(...,
reduce=...)``), so no daily series travels between processes unless asked for. Every number is computed per
replication exactly as the tables computed it from the stacked replications before (the metrics work row by row),
so folding the summaries in replication order gives the same tables whatever the batching or the workers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..engine.recorder import Event, Recorder, SeriesInfo
from ..scenario.schema import Scenario
from .layout import Layout, impact_statistic
from .metrics import METRICS
from .spool import load_array, save_arrays

WHICH = ("scenario", "baseline")


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

    def array(self, part: str) -> np.ndarray:
        """``buckets`` or ``plot``, from memory or from the spool."""
        held = getattr(self, part)
        return held if held is not None else load_array(self.spool, self.replication, part)


def bucket_means(arr: np.ndarray, step: int) -> np.ndarray:
    """Mean over consecutive ``step``-day periods (the last one may be shorter), NaN-aware; arr is (..., days)."""
    if step == 1:
        return arr
    starts = np.arange(0, arr.shape[-1], step)
    if not np.isnan(arr).any():   # recorded series hold no NaN (runner.check_numbers): same numbers, faster
        lengths = np.diff(np.append(starts, arr.shape[-1])).astype(float)
        return np.add.reduceat(arr, starts, axis=-1) / lengths
    sums = np.add.reduceat(np.nan_to_num(arr), starts, axis=-1)
    counts = np.add.reduceat((~np.isnan(arr)).astype(float), starts, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def stat_values(arr: np.ndarray, statistic: str) -> np.ndarray:
    """One value per row of ``arr`` (replications × days); NaN where a row recorded nothing."""
    empty = np.isnan(arr).all(axis=1)
    safe = np.where(empty[:, None], 0.0, arr)
    with np.errstate(invalid="ignore"):
        out = {"total": lambda: np.nansum(safe, axis=1), "peak": lambda: np.nanmax(safe, axis=1),
               "low": lambda: np.nanmin(safe, axis=1), "mean": lambda: np.nanmean(safe, axis=1)}[statistic]()
    return np.where(empty, np.nan, out)


def _metrics(lay: Layout, S: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(2, metric slots) from the key × day matrices ``S`` and ``B``: each metric is applied once to the
    (contiguous) rows of the series that declare it; the metrics work row by row, so every value is the one
    computed from that series' replications × days stack."""
    row = {k: j for j, k in enumerate(lay.keys)}
    out = np.empty((2, len(lay.metric_slots)))
    by_name: dict[str, list[int]] = {}
    for j, (_, name, _) in enumerate(lay.metric_slots):
        by_name.setdefault(name, []).append(j)
    for name, slots in by_name.items():
        idx = [row[lay.metric_slots[j][0]] for j in slots]
        s_rows, b_rows = S[idx], B[idx]
        fn = METRICS[name][0]
        out[0, slots] = fn(s_rows, b_rows)
        out[1, slots] = fn(b_rows, b_rows)
    return out


def _stats(lay: Layout, S: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(2, impact keys): the impacts statistic of each series, grouped by statistic as in :func:`_metrics`."""
    row = {k: j for j, k in enumerate(lay.keys)}
    out = np.empty((2, len(lay.impact_keys)))
    by_stat: dict[str, list[int]] = {}
    for j, key in enumerate(lay.impact_keys):
        by_stat.setdefault(impact_statistic(lay.info[key]), []).append(j)
    for stat, cols in by_stat.items():
        idx = [row[lay.impact_keys[j]] for j in cols]
        out[0, cols] = stat_values(S[idx], stat)
        out[1, cols] = stat_values(B[idx], stat)
    return out


def quarter_sum(days: np.ndarray, sequential: bool) -> float:
    """Σ of one quarter's daily values (NaN as 0), in the order the stacked computation used: numpy sums
    each row of a boolean-masked (replications × days) array one day after the other when there are several
    replications (the masked copy is not row-contiguous), pairwise when there is one."""
    days = np.nan_to_num(np.asarray(days, dtype=float))
    if not days.size:
        return 0.0
    return float(np.cumsum(days)[-1]) if sequential else float(np.sum(days))


def _gdp(lay: Layout, s: Recorder, b: Recorder, runs: int) -> np.ndarray:
    out = np.empty((2, len(lay.regions), len(lay.quarter_masks)))
    for w, rec in enumerate((s, b)):
        for r, region in enumerate(lay.regions):
            row = np.asarray(rec.data[f"economy.{region}.gdp"], dtype=float)
            for q, (_, m) in enumerate(lay.quarter_masks):
                out[w, r, q] = quarter_sum(row[m], runs > 1)
    return out


def reduce_pair(sc: Scenario, pair: Any, spool: str | Path | None = None,
                layout: Layout | None = None, runs: int | None = None, daily: bool = True) -> PairSummary:
    """The summary of one replication ``pair`` (a ``runner.Pair``) of ``sc``, one of ``runs`` replications
    (default ``sc.replications``). With ``spool`` (a folder), the bucketed and plotted series go to files
    there (see :mod:`.spool`) instead of into the summary, and for ``output.replications: all`` the
    replication's series are also written as a Parquet partition. With ``daily=False`` only the statistics
    (impact metrics, impacts, GDP) are kept, no period means or charted series: what a sweep run needs."""
    s, b = pair.scenario, pair.baseline
    lay = layout if layout is not None else Layout(sc, s.info)
    S, B = s.matrix(lay.keys), b.matrix(lay.keys)
    summary = PairSummary(
        replication=pair.replication, seed_entropy=pair.seed_entropy,
        info=dict(s.info) if pair.replication == 0 else None,
        metrics=_metrics(lay, S, B), stats=_stats(lay, S, B), gdp=_gdp(lay, s, b, sc.replications if runs is None else runs),
        events=(list(s.events), list(b.events)), buckets=None, plot=None)
    if not daily:
        return summary
    bs = [bucket_means(S, lay.step), bucket_means(B, lay.step)]    # daily: S and B themselves, no copy
    plots = [rec.matrix(lay.plot_keys) for rec in (s, b)]
    if spool is not None:
        save_arrays(spool, pair.replication, "buckets", bs)
        save_arrays(spool, pair.replication, "plot", plots)
        if sc.output.replications == "all":
            from .parquet import write_partition
            write_partition(Path(spool), lay, pair.replication, bs)
        summary.spool = str(spool)
    else:
        summary.buckets, summary.plot = np.stack(bs), np.stack(plots)
    return summary


class Reducer:
    """``reduce_pair`` with its scenario and spool bound, picklable, for ``runner.run_replications(reduce=)``.
    Caches the layout of the first pair it sees (series are the same in every replication)."""

    def __init__(self, sc: Scenario, spool: str | Path | None = None):
        self.sc = sc
        self.spool = None if spool is None else str(spool)
        self._layout: Layout | None = None

    def __getstate__(self) -> Mapping[str, Any]:
        return {"sc": self.sc, "spool": self.spool, "_layout": None}

    def __call__(self, pair: Any) -> PairSummary:
        if self._layout is None or self._layout.keys != list(pair.scenario.info):
            self._layout = Layout(self.sc, pair.scenario.info)
        return reduce_pair(self.sc, pair, self.spool, self._layout)
