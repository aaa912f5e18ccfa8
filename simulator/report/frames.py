"""The result tables of a run with stable column order: the small ones as plain columns (``*_table``:
:class:`.table.Table`, what ``simulate`` writes and reads without pandas), each also as a pandas DataFrame.

- ``summary``: one row per entity × metric: unit, baseline, scenario mean, p05/p50/p95 across replications,
  change %, the median date for date-like metrics, and for event-like metrics the probability across
  replications that it happened with its 95% Wilson interval.
- ``timeseries``: tidy rows (scenario, replication, date, entity, metric, unit, value); each row is the mean of
  the daily values over the period starting on ``date`` (``output.frequency``); the ``mean`` rows average the
  replications' period means (each replication is bucketed in its worker; same value as the period mean of the
  daily replication mean up to rounding, and independent of batching).

The functions take the folded replications (:class:`~.fold.Reduced`) or, as before, the full pairs of a run.
- ``timeseries_wide``: one row per date; per ``entity.metric [unit]`` (replication mean) three adjacent
  columns: scenario, ``baseline:`` and ``difference:``; series most relevant to the scenario first.
- ``impacts``: one row per series with impact metrics: baseline, scenario, difference, % change and the
  p05..p95 spread of the difference, on one statistic (a flow's total, a price's peak, a stock's low), most
  relevant to the scenario first.
- ``events``: replication, date, entity, event, cause.
"""
from __future__ import annotations

import datetime as _dt
import math

import numpy as np

from typing import TYPE_CHECKING, Any, Sequence, Union

from ..engine.recorder import SeriesInfo
from ..scenario.schema import Scenario
from .fold import Reduced
from .layout import EXPANDED, impact_statistic
from .metrics import spread, wilson
from .reduce import bucket_means as _bucket_means  # noqa: F401  (kept for callers of the old name)
from .table import Table

if TYPE_CHECKING:    # the tables are built as plain columns (:class:`.table.Table`); pandas only for DataFrames
    import pandas as pd

#: what the table functions take: the folded replications, or the full pairs (``runner.Pair``) of a run
Runs = Union[Reduced, Sequence[Any]]


def reduced(sc: Scenario, runs: Runs) -> Reduced:
    """``runs`` folded: as is when already a :class:`Reduced`, else reduced from full pairs."""
    return runs if isinstance(runs, Reduced) else Reduced.from_pairs(sc, runs)

SUMMARY_COLUMNS = ["scenario", "entity", "metric", "unit", "baseline", "mean", "p05", "p50", "p95", "change_pct",
                   "p50_date", "probability", "wilson_low", "wilson_high", "replications"]
TIMESERIES_COLUMNS = ["scenario", "replication", "date", "entity", "metric", "unit", "value"]
EVENT_COLUMNS = ["scenario", "replication", "date", "entity", "event", "cause"]


def _amount_unit(unit: str) -> str:
    return unit[:-4] if unit.endswith("/day") else f"{unit}*day"


def metric_unit(kind: str, unit: str) -> str:
    return {"amount": _amount_unit(unit), "pct": "%", "day": "days from start", "days": "days",
            "level": unit}[kind]


BY_REPLICATION_COLUMNS = ["scenario", "replication", "entity", "metric", "unit", "value"]


def metric_values(sc: Scenario, runs: Runs):
    """Yield (info, metric name, kind, scenario values per replication, baseline values per replication)."""
    red = reduced(sc, runs)
    for j, (key, name, kind) in enumerate(red.layout.metric_slots):
        yield red.info[key], name, kind, red.metrics[0, j], red.metrics[1, j]


def by_replication(sc: Scenario, runs: Runs) -> "pd.DataFrame":
    """Every impact metric for every replication (what ``compare`` pairs when seeds are shared)."""
    return by_replication_table(sc, runs).frame()


def by_replication_table(sc: Scenario, runs: Runs) -> Table:
    """:func:`by_replication` as a :class:`.table.Table`."""
    red = reduced(sc, runs)
    cols: dict[str, list] = {c: [] for c in BY_REPLICATION_COLUMNS}
    reps = list(red.replications)
    for info, name, kind, vals, _ in metric_values(sc, red):
        cols["scenario"] += [sc.name] * len(reps)
        cols["replication"] += reps
        cols["entity"] += [info.entity] * len(reps)
        cols["metric"] += [f"{info.metric}.{name}"] * len(reps)
        cols["unit"] += [metric_unit(kind, info.unit)] * len(reps)
        cols["value"] += list(vals)
    return Table(BY_REPLICATION_COLUMNS, cols)


def summary(sc: Scenario, runs: Runs) -> "pd.DataFrame":
    """Impact metrics of every series that declares some, across replications."""
    return summary_table(sc, runs).frame()


def summary_table(sc: Scenario, runs: Runs) -> Table:
    """:func:`summary` as a :class:`.table.Table`.

    Slots whose numbers :func:`_plain_stats` computes (every scenario value finite and some baseline value:
    nearly all of the headline's) get their rows column by column, with the same operations :func:`_row` does
    one slot at a time (checked against it in ``tests/test_summary_columns.py``), and so do the slots whose
    scenario values are all NaN (:func:`_empty_columns`); the others (some NaN, an infinity, no baseline) row by
    row with :func:`_row`. A sweep builds this table for each run: a one-replication table of the headline took
    12.5–14.7 ms row by row (~9% of a sweep worker's time), 5.5–7.4 ms with plain slots as columns (2026-12-06),
    and with the all-NaN slots as columns 3.5–3.6 → 1.7–2.2 ms (2026-12-07; of the 150 slots not plain, 1 row
    is left)."""
    red = reduced(sc, runs)
    M, B = red.metrics[0], red.metrics[1]             # (metric slots, replications)
    plain = _plain_stats(M, B)
    slots = red.layout.metric_slots
    entity, metric, unit, kinds = _labels(red)
    cols: dict[str, list] = {"scenario": [sc.name] * len(slots), "entity": entity, "metric": metric,
                             "unit": unit}
    if plain is None:                             # no replications: every row one by one
        cols.update({c: [None] * len(slots) for c in SUMMARY_COLUMNS[4:]})
        rest = range(len(slots))
    else:
        cols.update(_plain_columns(sc, plain, M, kinds, red.n))
        empty = ~plain[0] & np.isnan(M).all(axis=1)
        _empty_columns(cols, np.flatnonzero(empty), kinds, red.n)
        rest = np.flatnonzero(~plain[0] & ~empty)
    # some NaN among the scenario values, an infinity: one by one
    for j in rest:
        key, name, kind = slots[j]
        row = _row(sc, red.info[key], name, kind, M[j], B[j], red.n)
        for c in SUMMARY_COLUMNS[4:]:
            cols[c][j] = row[c]
    return Table(SUMMARY_COLUMNS, cols)


def _labels(red: Reduced) -> tuple[list[str], list[str], list[str], dict[str, np.ndarray]]:
    """(entity, metric, unit) columns of the summary, and masks of its slots by kind: ``pct_change`` (a level
    or an amount, not ``lost``: its change in %), ``day``, ``days``."""
    slots = red.layout.metric_slots
    infos = [red.info[key] for key, _, _ in slots]
    kinds = {"pct_change": np.array([k in ("level", "amount") and n != "lost" for _, n, k in slots], dtype=bool),
             "day": np.array([k == "day" for _, _, k in slots], dtype=bool),
             "days": np.array([k == "days" for _, _, k in slots], dtype=bool)}
    units: dict[tuple[str, str], str] = {}            # a few dozen distinct (kind, unit) among ~1,200 slots
    for i, (_, _, k) in zip(infos, slots):
        if (k, i.unit) not in units:
            units[k, i.unit] = metric_unit(k, i.unit)
    return ([i.entity for i in infos], [f"{i.metric}.{n}" for i, (_, n, _) in zip(infos, slots)],
            [units[k, i.unit] for i, (_, _, k) in zip(infos, slots)], kinds)


def _plain_columns(sc: Scenario, plain: tuple, M: np.ndarray, kinds: dict[str, np.ndarray], n: int
                   ) -> dict[str, list]:
    """The number columns of the summary for every slot, as :func:`_row` computes them for a ``plain`` slot
    (rows of slots that are not plain are replaced by the caller)."""
    ok, p05, p50, p95, mean, bmean = plain
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = kinds["pct_change"] & (bmean != 0) & ~np.isnan(bmean) \
            & (np.abs(bmean) > 1e-9 * np.maximum(np.abs(mean), 1e-300))
        change = np.where(pct, (mean - bmean) / np.abs(bmean) * 100.0, math.nan)
    slots = len(mean)
    prob, lo, hi = (np.full(slots, math.nan) for _ in range(3))
    date = [""] * slots
    reps = M.shape[1]
    day = np.flatnonzero(kinds["day"] & ok)
    if day.size:                                  # plain: every replication has its date
        prob[day] = reps / n
        lo[day], hi[day] = wilson(reps, n)
        for j in day:
            date[j] = (sc.start + _dt.timedelta(days=int(round(float(p50[j]))))).isoformat()
    days = np.flatnonzero(kinds["days"] & ok)
    if days.size:
        hits = np.count_nonzero(M[days] > 0, axis=1)
        prob[days] = hits / n
        interval = {h: wilson(h, n) for h in set(hits.tolist())}
        lo[days] = [interval[h][0] for h in hits.tolist()]
        hi[days] = [interval[h][1] for h in hits.tolist()]
    return {"baseline": bmean.tolist(), "mean": mean.tolist(), "p05": p05.tolist(), "p50": p50.tolist(),
            "p95": p95.tolist(), "change_pct": change.tolist(), "p50_date": date, "probability": prob.tolist(),
            "wilson_low": lo.tolist(), "wilson_high": hi.tolist(), "replications": [n] * slots}


def _empty_columns(cols: dict[str, list], empty: np.ndarray, kinds: dict[str, np.ndarray], n: int) -> None:
    """The rows of the slots ``empty`` (every scenario value NaN: an event that came in no replication), in
    ``cols`` as :func:`_plain_columns` made them, made what :func:`_row` gives such a slot: no statistics and no
    change (NaN), no date, a probability of 0 with its Wilson interval for ``day`` and ``days`` slots; the
    baseline mean stays :func:`_plain_stats`'s (NaN where the baseline has no number either). In a sweep run
    (one replication) these are 149 of the 150 slots that are not plain (of 1,095)."""
    if not empty.size:
        return
    nan = math.nan
    for c in ("mean", "p05", "p50", "p95", "change_pct", "probability", "wilson_low", "wilson_high"):
        col = cols[c]
        for j in empty.tolist():
            col[j] = nan
    date = cols["p50_date"]
    for j in empty.tolist():
        date[j] = ""
    hit = empty[(kinds["day"] | kinds["days"])[empty]].tolist()
    if hit:
        prob, (lo, hi) = 0 / n, wilson(0, n)
        for c, v in (("probability", prob), ("wilson_low", lo), ("wilson_high", hi)):
            col = cols[c]
            for j in hit:
                col[j] = v


def _plain_stats(M: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """For every metric slot at once: (plain, p05, p50, p95, mean, baseline mean), where ``plain`` marks the
    slots whose scenario values are all finite and whose baseline values are not all NaN; for those, the same
    numbers :func:`_row` computes one slot at a time (see :func:`.metrics.spread`)."""
    if M.shape[1] == 0:
        return None
    stats, plain = spread(M)
    if M.shape[1] == 1:          # one replication (a sweep run): its value as is, as _row gives it
        stats[:3] = M[:, 0]
    plain &= (~np.isnan(B)).any(axis=1)
    nan_b = np.isnan(B)
    with np.errstate(invalid="ignore", divide="ignore"):
        bmean = np.where(nan_b, 0.0, B).sum(axis=1) / (~nan_b).sum(axis=1)
    return plain, stats[0], stats[1], stats[2], stats[3], bmean


def _row(sc: Scenario, info: SeriesInfo, name: str, kind: str, vals: np.ndarray, base: np.ndarray,
         n: int, plain: tuple | None = None) -> dict:
    """One summary row; ``plain`` (p05, p50, p95, mean, baseline mean) when :func:`_plain_stats` computed them:
    the row-by-row form of :func:`_plain_columns`, which ``tests/test_summary_columns.py`` holds it to
    (:func:`summary_table` calls this only for slots that are not plain)."""
    if plain is not None:
        ok = vals
        q = [float(plain[0]), float(plain[1]), float(plain[2])]
        mean, bmean = float(plain[3]), float(plain[4])
    else:
        ok = vals[~np.isnan(vals)]
        if ok.size == 1 and np.isfinite(ok[0]):      # one replication (a sweep run): its value, as percentile gives
            q = np.repeat(ok, 3)
        else:
            q = np.percentile(ok, [5, 50, 95]) if ok.size else [math.nan] * 3
        bmean = float(np.nanmean(base)) if np.any(~np.isnan(base)) else math.nan
        mean = float(ok.mean()) if ok.size else math.nan
    change = math.nan
    if kind in ("level", "amount") and name != "lost" and bmean and not math.isnan(bmean) \
            and abs(bmean) > 1e-9 * max(abs(mean), 1e-300):     # no percentage of a baseline that is zero
        change = (mean - bmean) / abs(bmean) * 100.0
    prob = lo = hi = math.nan
    date = ""
    if kind == "day":
        hits = int(ok.size)
        prob = hits / n
        lo, hi = wilson(hits, n)
        if ok.size:
            date = (sc.start + _dt.timedelta(days=int(round(q[1])))).isoformat()
    elif kind == "days":
        hits = int(np.count_nonzero(ok > 0))
        prob = hits / n
        lo, hi = wilson(hits, n)
    return {"scenario": sc.name, "entity": info.entity, "metric": f"{info.metric}.{name}",
            "unit": metric_unit(kind, info.unit), "baseline": bmean, "mean": mean, "p05": q[0], "p50": q[1],
            "p95": q[2], "change_pct": change, "p50_date": date, "probability": prob, "wilson_low": lo,
            "wilson_high": hi, "replications": n}


def gdp_by_quarter_table(sc: Scenario, runs: Runs) -> Table:
    """GDP per region and calendar quarter (see :mod:`.gdp`): the folded replications' quarter sums; empty
    without an economy part."""
    from .gdp import table
    red = reduced(sc, runs)
    lay = red.layout
    quarters = [(q, int(m.sum())) for q, m in lay.quarter_masks]
    return table(lay.regions, quarters, red.gdp[0].transpose(2, 0, 1), red.gdp[1].transpose(2, 0, 1))


def _dates(sc: Scenario, step: int) -> np.ndarray:
    return np.array([(sc.start + _dt.timedelta(days=int(d))).isoformat() for d in np.arange(0, sc.days, step)],
                    dtype=object)


def timeseries_blocks(sc: Scenario, red: Reduced):
    """Yield ``(scenario label, replication label, key × period matrix)`` in the row order of ``timeseries``:
    the scenario's blocks, then the baseline's; one ``mean`` block each, or one per replication."""
    for w, label in enumerate((sc.name, "baseline")):
        if sc.output.replications == "mean":
            yield label, "mean", red.mean_buckets[w]
        else:
            for i, rep in enumerate(red.replications):
                yield label, str(rep), red.buckets(i)[w]


def timeseries(sc: Scenario, runs: Runs) -> "pd.DataFrame":
    """Tidy time series of scenario and baseline, at ``output.frequency``, mean or every replication."""
    import pandas as pd
    red = reduced(sc, runs)
    lay = red.layout
    dates = np.array(lay.dates, dtype=object)
    info = red.info
    keys = lay.keys
    if not keys:
        return pd.DataFrame(columns=TIMESERIES_COLUMNS)
    entity = [info[k].entity for k in keys]
    metric = [info[k].metric for k in keys]
    unit = [info[k].unit for k in keys]
    frames = []
    for label, rep, vals in timeseries_blocks(sc, red):
        nk, nd = vals.shape
        frames.append(pd.DataFrame({
            "scenario": label, "replication": rep, "date": np.tile(dates, nk),
            "entity": np.repeat(entity, nd), "metric": np.repeat(metric, nd), "unit": np.repeat(unit, nd),
            "value": vals.reshape(-1)}))
    return pd.concat(frames, ignore_index=True)[TIMESERIES_COLUMNS]


def wide_columns(sc: Scenario, red: Reduced) -> dict[str, np.ndarray]:
    """Columns of ``timeseries_wide``, in order: ``date`` (ISO text), then per series its scenario mean,
    ``baseline: ...`` and ``difference: ...``, most relevant series first."""
    from .relevance import order_keys
    info = red.info
    keys = red.layout.keys
    mean = red.mean_buckets if keys else np.zeros((2, 0, len(red.layout.periods)))
    row = {k: j for j, k in enumerate(keys)}
    cols: dict[str, np.ndarray] = {"date": np.array(red.layout.dates, dtype=object)}
    heads = {k for k in keys if info[k].headline}
    for k in order_keys(keys, {k: info[k].entity for k in keys}, heads, sc):
        s, b = mean[0, row[k]], mean[1, row[k]]
        name = f"{k} [{info[k].unit}]"
        cols[name] = s
        cols[f"baseline: {name}"] = b
        cols[f"difference: {name}"] = s - b
    return cols


def timeseries_wide(sc: Scenario, runs: Runs) -> "pd.DataFrame":
    """Date × series of the replication mean: for each ``entity.metric [unit]`` three adjacent columns, the
    scenario, ``baseline: ...`` and ``difference: ...`` (scenario − baseline); series most relevant to the
    scenario first (see ``report.relevance``)."""
    import pandas as pd
    return pd.DataFrame(wide_columns(sc, reduced(sc, runs)))


def events(sc: Scenario, runs: Runs) -> "pd.DataFrame":
    """Every recorded state change of the scenario runs and their baselines, by replication and date."""
    return events_table(sc, runs).frame()


def events_table(sc: Scenario, runs: Runs) -> Table:
    """:func:`events` as a :class:`.table.Table`."""
    cols: dict[str, list] = {c: [] for c in EVENT_COLUMNS}
    iso: dict[int, str] = {}     # day → ISO date, formatted once per day
    for rep, w, e in reduced(sc, runs).events():
        day = int(e.day // 1)
        date = iso.get(day)
        if date is None:
            date = iso[day] = (sc.start + _dt.timedelta(days=day)).isoformat()
        cols["scenario"].append(sc.name if w == "scenario" else "baseline")
        cols["replication"].append(rep)
        cols["date"].append(date)
        cols["entity"].append(e.entity)
        cols["event"].append(e.event)
        cols["cause"].append(e.cause)
    return Table(EVENT_COLUMNS, cols)


# ------------------------------------------------------------------------------------------------ impacts
IMPACT_COLUMNS = ["entity", "metric", "statistic", "unit", "baseline", "scenario", "difference", "change_pct",
                  "difference_p05", "difference_p95", "headline", "relevance"]
IMPACT_STATISTIC_DOC = {
    "total": "sum of the daily values over the whole horizon (a flow: unit/day × days)",
    "peak": "highest daily value over the horizon",
    "low": "lowest daily value over the horizon (a stock)",
    "mean": "average daily value over the horizon",
}


def impacts(sc: Scenario, runs: Runs) -> "pd.DataFrame":
    """One row per series that declares impact metrics: scenario against baseline on one statistic, with the
    p05..p95 spread of the paired difference across replications. Order: series the scenario is about
    (relevance > 0) that it moved, then those it left unchanged, then the rest (moved first); within each,
    by relevance.

    Columns: ``entity``, ``metric``, ``statistic`` (total | peak | low | mean, see ``IMPACT_STATISTIC_DOC``),
    ``unit`` (of the statistic), ``baseline`` and ``scenario`` (replication means), ``difference``
    (scenario − baseline), ``change_pct`` (difference in % of |baseline|), ``difference_p05`` /
    ``difference_p95`` (5th and 95th percentile of the per-replication difference), ``headline`` (a headline
    series of the model), ``relevance`` (score from the words of the scenario, see ``report.relevance``)."""
    return impacts_table(sc, runs).frame()


def impacts_table(sc: Scenario, runs: Runs) -> Table:
    """:func:`impacts` as a :class:`.table.Table`."""
    from .relevance import entity_score, order_keys, scenario_words
    red = reduced(sc, runs)
    info = red.info
    keys = red.layout.impact_keys
    col = {k: j for j, k in enumerate(keys)}
    heads = {k for k in keys if info[k].headline}
    words = scenario_words(sc)
    # series whose every replication has finite numbers (nearly all): their means and percentiles for all of
    # them at once, row by row as numpy reduces each contiguous row alone (the numbers of the loop below,
    # ~0.1 s less for the headline's ~800 series)
    S, B = red.stats[0], red.stats[1]
    D = S - B
    plain = np.isfinite(S).all(axis=1) & np.isfinite(B).all(axis=1) & np.isfinite(D).all(axis=1) \
        & (S.shape[1] > 0)
    at = np.cumsum(plain) - 1                      # row of a plain series in the arrays below
    means = (B[plain].mean(axis=1), S[plain].mean(axis=1), D[plain].mean(axis=1))
    pct = np.percentile(D[plain], [5, 95], axis=1) if plain.any() else np.zeros((2, 0))
    rows = []
    for key in order_keys(keys, {k: info[k].entity for k in keys}, heads, sc):
        i = info[key]
        stat = impact_statistic(i)
        c = col[key]
        if plain[c]:
            bm, smean, diff = (float(m[at[c]]) for m in means)
            lo, hi = pct[0, at[c]], pct[1, at[c]]
        else:
            s, b = S[c], B[c]
            d = (s - b)[~np.isnan(s - b)]
            bm = float(np.nanmean(b)) if np.any(~np.isnan(b)) else math.nan
            smean = float(np.nanmean(s)) if np.any(~np.isnan(s)) else math.nan
            diff = float(d.mean()) if d.size else math.nan
            lo, hi = (np.percentile(d, [5, 95]) if d.size else (math.nan, math.nan))
        # no percentage of a baseline that is zero up to rounding (a cost change of 0, a stock never held)
        tiny = abs(bm) <= 1e-9 * max(abs(smean), abs(diff), 1e-300) if not math.isnan(bm) else True
        change = diff / abs(bm) * 100.0 if bm and not tiny and not math.isnan(diff) else math.nan
        unit = _amount_unit(i.unit) if stat == "total" and i.unit.endswith("/day") else i.unit
        rows.append({"entity": i.entity, "metric": i.metric, "statistic": stat, "unit": unit, "baseline": bm,
                     "scenario": smean, "difference": diff, "change_pct": change, "difference_p05": float(lo),
                     "difference_p95": float(hi), "headline": i.headline,
                     "relevance": entity_score(i.entity, words, i.headline)})
    rows.sort(key=_impact_order)
    return Table.from_rows(IMPACT_COLUMNS, rows)


def _impact_order(row: dict) -> tuple:
    """Sort key of an impacts row: series the scenario is about (relevance > 0) first, within those and the rest
    the ones it moved first, then by relevance, highest first, a NaN last; as pandas' stable
    ``sort_values(["_named", "_moved", "relevance"], ascending=False)`` orders them (ties keep their order)."""
    rel = row["relevance"]
    moved = difference_moved(row["difference_p05"], row["difference_p95"])
    return (not rel > 0, not moved, math.isnan(rel), 0.0 if math.isnan(rel) else -rel)


def difference_moved(p05: float, p95: float) -> bool:
    """Whether the scenario moved a series in the impacts table: the p05 or p95 of its paired difference across
    replications is not zero (a NaN is not a move)."""
    return abs(p05) > 0 or abs(p95) > 0


# ------------------------------------------------------------------------------------- notebook dtypes
NAME_COLUMNS = ("scenario", "entity", "metric", "unit", "event", "statistic")
DATE_COLUMNS = ("date", "p50_date")


def typed(df: "pd.DataFrame | Table") -> "pd.DataFrame":
    """The same table for a notebook: date columns as ``datetime64`` (empty → NaT), name columns as
    ``category``. Written back to CSV it gives the same text (midnight dates print as ``YYYY-MM-DD``)."""
    import pandas as pd
    out = df.frame() if isinstance(df, Table) else df.copy()
    for c in DATE_COLUMNS:
        if c in out.columns:
            out[c] = pd.to_datetime(out[c], format="%Y-%m-%d")
    for c in NAME_COLUMNS:
        if c in out.columns and (out[c].dtype == object or pd.api.types.is_string_dtype(out[c].dtype)):
            out[c] = out[c].astype("category")
    return out
