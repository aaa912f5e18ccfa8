"""The result tables of a run, as pandas DataFrames with stable column order.

- ``summary``: one row per entity × metric: unit, baseline, scenario mean, p05/p50/p95 across replications,
  change %, the median date for date-like metrics, and for event-like metrics the probability across
  replications that it happened with its 95% Wilson interval.
- ``timeseries``: tidy rows (scenario, replication, date, entity, metric, unit, value); each row is the mean of
  the daily values over the period starting on ``date`` (``output.frequency``).
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
import pandas as pd

from ..engine.recorder import SeriesInfo
from ..runner import Pair
from ..scenario.schema import Scenario
from .metrics import METRICS, wilson

SUMMARY_COLUMNS = ["scenario", "entity", "metric", "unit", "baseline", "mean", "p05", "p50", "p95", "change_pct",
                   "p50_date", "probability", "wilson_low", "wilson_high", "replications"]
TIMESERIES_COLUMNS = ["scenario", "replication", "date", "entity", "metric", "unit", "value"]
EVENT_COLUMNS = ["scenario", "replication", "date", "entity", "event", "cause"]
EXPANDED = {"peak": ("peak", "peak_day")}


def _amount_unit(unit: str) -> str:
    return unit[:-4] if unit.endswith("/day") else f"{unit}*day"


def metric_unit(kind: str, unit: str) -> str:
    return {"amount": _amount_unit(unit), "pct": "%", "day": "days from start", "days": "days",
            "level": unit}[kind]


def _stack(pairs: list[Pair], key: str, which: str) -> np.ndarray:
    return np.vstack([getattr(p, which).data[key] for p in pairs])


BY_REPLICATION_COLUMNS = ["scenario", "replication", "entity", "metric", "unit", "value"]


def metric_values(sc: Scenario, pairs: list[Pair]):
    """Yield (info, metric name, kind, scenario values per replication, baseline values per replication)."""
    first = pairs[0].scenario
    for key, info in first.info.items():
        names = [m for name in info.summary for m in EXPANDED.get(name, (name,))]
        if not names:
            continue
        S, B = _stack(pairs, key, "scenario"), _stack(pairs, key, "baseline")
        for name in names:
            fn, kind = METRICS[name]
            yield info, name, kind, fn(S, B), fn(B, B)


def by_replication(sc: Scenario, pairs: list[Pair]) -> pd.DataFrame:
    """Every impact metric for every replication (what ``compare`` pairs when seeds are shared)."""
    cols: dict[str, list] = {c: [] for c in BY_REPLICATION_COLUMNS}
    reps = [p.replication for p in pairs]
    for info, name, kind, vals, _ in metric_values(sc, pairs):
        cols["scenario"] += [sc.name] * len(reps)
        cols["replication"] += reps
        cols["entity"] += [info.entity] * len(reps)
        cols["metric"] += [f"{info.metric}.{name}"] * len(reps)
        cols["unit"] += [metric_unit(kind, info.unit)] * len(reps)
        cols["value"] += list(vals)
    return pd.DataFrame(cols, columns=BY_REPLICATION_COLUMNS)


def summary(sc: Scenario, pairs: list[Pair]) -> pd.DataFrame:
    """Impact metrics of every series that declares some, across replications."""
    rows = [_row(sc, info, name, kind, vals, base, len(pairs))
            for info, name, kind, vals, base in metric_values(sc, pairs)]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _row(sc: Scenario, info: SeriesInfo, name: str, kind: str, vals: np.ndarray, base: np.ndarray,
         n: int) -> dict:
    ok = vals[~np.isnan(vals)]
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


def _periods(days: int, step: int) -> np.ndarray:
    return np.arange(0, days, step)


def _bucket_means(arr: np.ndarray, step: int) -> np.ndarray:
    """Mean over consecutive ``step``-day periods (last one may be shorter); arr is (..., days)."""
    if step == 1:
        return arr
    days = arr.shape[-1]
    starts = _periods(days, step)
    sums = np.add.reduceat(np.nan_to_num(arr), starts, axis=-1)
    counts = np.add.reduceat((~np.isnan(arr)).astype(float), starts, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _matrix(rec, keys: list[str]) -> np.ndarray:
    """key × day matrix of one run's series."""
    return np.vstack([rec.data[k] for k in keys])


def mean_matrix(pairs: list[Pair], which: str, keys: list[str]) -> np.ndarray:
    """key × day replication mean (NaN-aware), accumulated run by run so memory stays one run's worth."""
    total = count = None
    for p in pairs:
        m = _matrix(getattr(p, which), keys)
        ok = ~np.isnan(m)
        if total is None:
            total, count = np.where(ok, m, 0.0), ok.astype(float)
        else:
            total += np.where(ok, m, 0.0)
            count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)


def _dates(sc: Scenario, step: int) -> np.ndarray:
    return np.array([(sc.start + _dt.timedelta(days=int(d))).isoformat() for d in _periods(sc.days, step)],
                    dtype=object)


def timeseries(sc: Scenario, pairs: list[Pair], means: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Tidy time series of scenario and baseline, at ``output.frequency``, mean or every replication."""
    step = max(1, int(round(sc.output.frequency)))
    dates = _dates(sc, step)
    info = pairs[0].scenario.info
    keys = list(info)
    if not keys:
        return pd.DataFrame(columns=TIMESERIES_COLUMNS)
    entity = [info[k].entity for k in keys]
    metric = [info[k].metric for k in keys]
    unit = [info[k].unit for k in keys]
    frames = []
    for label, which in ((sc.name, "scenario"), ("baseline", "baseline")):
        if sc.output.replications == "mean":
            mat = (means or {}).get(which)
            blocks = [("mean", mat if mat is not None else mean_matrix(pairs, which, keys))]
        else:
            blocks = [(str(p.replication), _matrix(getattr(p, which), keys)) for p in pairs]
        for rep, mat in blocks:
            vals = _bucket_means(mat, step)  # key × period
            nk, nd = vals.shape
            frames.append(pd.DataFrame({
                "scenario": label, "replication": rep, "date": np.tile(dates, nk),
                "entity": np.repeat(entity, nd), "metric": np.repeat(metric, nd), "unit": np.repeat(unit, nd),
                "value": vals.reshape(-1)}))
    return pd.concat(frames, ignore_index=True)[TIMESERIES_COLUMNS]


def timeseries_wide(sc: Scenario, pairs: list[Pair], means: dict[str, np.ndarray] | None = None
                    ) -> pd.DataFrame:
    """Date × series of the replication mean: for each ``entity.metric [unit]`` three adjacent columns, the
    scenario, ``baseline: ...`` and ``difference: ...`` (scenario − baseline); series most relevant to the
    scenario first (see ``report.relevance``)."""
    from .relevance import order_keys
    step = max(1, int(round(sc.output.frequency)))
    info = pairs[0].scenario.info
    keys = list(info)
    vals = {}
    for which in ("scenario", "baseline"):
        mat = (means or {}).get(which)
        if mat is None:
            mat = mean_matrix(pairs, which, keys) if keys else np.zeros((0, sc.days))
        vals[which] = _bucket_means(mat, step)
    row = {k: j for j, k in enumerate(keys)}
    cols: dict[str, np.ndarray] = {"date": _dates(sc, step)}
    heads = {k for k in keys if info[k].headline}
    for k in order_keys(keys, {k: info[k].entity for k in keys}, heads, sc):
        s, b = vals["scenario"][row[k]], vals["baseline"][row[k]]
        name = f"{k} [{info[k].unit}]"
        cols[name] = s
        cols[f"baseline: {name}"] = b
        cols[f"difference: {name}"] = s - b
    return pd.DataFrame(cols)


def events(sc: Scenario, pairs: list[Pair]) -> pd.DataFrame:
    """Every recorded state change of the scenario runs and their baselines, by replication and date."""
    rows = []
    for p in pairs:
        for label, rec in ((sc.name, p.scenario), ("baseline", p.baseline)):
            for e in rec.events:
                rows.append({"scenario": label, "replication": p.replication,
                             "date": (sc.start + _dt.timedelta(days=int(e.day // 1))).isoformat(),
                             "entity": e.entity, "event": e.event, "cause": e.cause})
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


# ------------------------------------------------------------------------------------------------ impacts
IMPACT_COLUMNS = ["entity", "metric", "statistic", "unit", "baseline", "scenario", "difference", "change_pct",
                  "difference_p05", "difference_p95", "headline", "relevance"]
IMPACT_STATISTIC_DOC = {
    "total": "sum of the daily values over the whole horizon (a flow: unit/day × days)",
    "peak": "highest daily value over the horizon",
    "low": "lowest daily value over the horizon (a stock)",
    "mean": "average daily value over the horizon",
}


def impact_statistic(info: SeriesInfo) -> str:
    """Which one number sums up a series in ``impacts.csv``: a flow's total, a price's peak, a stock's low."""
    s = set(info.summary)
    if s & {"lost", "total"} or info.unit.endswith("/day"):
        return "total"
    if "peak" in s:
        return "peak"
    if "exhaustion" in s:
        return "low"
    return "mean"


def _stat(arr: np.ndarray, statistic: str) -> np.ndarray:
    """One value per replication (rows of ``arr``); NaN where a replication recorded nothing."""
    empty = np.isnan(arr).all(axis=1)
    safe = np.where(empty[:, None], 0.0, arr)
    with np.errstate(invalid="ignore"):
        out = {"total": lambda: np.nansum(safe, axis=1), "peak": lambda: np.nanmax(safe, axis=1),
               "low": lambda: np.nanmin(safe, axis=1), "mean": lambda: np.nanmean(safe, axis=1)}[statistic]()
    return np.where(empty, np.nan, out)


def impacts(sc: Scenario, pairs: list[Pair]) -> pd.DataFrame:
    """One row per series that declares impact metrics: scenario against baseline on one statistic, with the
    p05..p95 spread of the paired difference across replications. Order: series the scenario is about
    (relevance > 0) that it moved, then those it left unchanged, then the rest (moved first); within each,
    by relevance.

    Columns: ``entity``, ``metric``, ``statistic`` (total | peak | low | mean, see ``IMPACT_STATISTIC_DOC``),
    ``unit`` (of the statistic), ``baseline`` and ``scenario`` (replication means), ``difference``
    (scenario − baseline), ``change_pct`` (difference in % of |baseline|), ``difference_p05`` /
    ``difference_p95`` (5th and 95th percentile of the per-replication difference), ``headline`` (a headline
    series of the model), ``relevance`` (score from the words of the scenario, see ``report.relevance``)."""
    from .relevance import entity_score, order_keys, scenario_words
    info = pairs[0].scenario.info
    keys = [k for k, i in info.items() if i.summary]
    heads = {k for k in keys if info[k].headline}
    words = scenario_words(sc)
    rows = []
    for key in order_keys(keys, {k: info[k].entity for k in keys}, heads, sc):
        i = info[key]
        stat = impact_statistic(i)
        s = _stat(_stack(pairs, key, "scenario"), stat)
        b = _stat(_stack(pairs, key, "baseline"), stat)
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
    df = pd.DataFrame(rows, columns=IMPACT_COLUMNS)
    if not df.empty:   # within the same relevance, series the scenario moved come before unchanged ones
        moved = (df["difference_p05"].abs() > 0) | (df["difference_p95"].abs() > 0)
        df = df.assign(_named=df["relevance"] > 0, _moved=moved)
        df = df.sort_values(["_named", "_moved", "relevance"], ascending=False, kind="stable")
        df = df.drop(columns=["_named", "_moved"]).reset_index(drop=True)
    return df


# ------------------------------------------------------------------------------------- notebook dtypes
NAME_COLUMNS = ("scenario", "entity", "metric", "unit", "event", "statistic")
DATE_COLUMNS = ("date", "p50_date")


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """The same table for a notebook: date columns as ``datetime64`` (empty → NaT), name columns as
    ``category``. Written back to CSV it gives the same text (midnight dates print as ``YYYY-MM-DD``)."""
    out = df.copy()
    for c in DATE_COLUMNS:
        if c in out.columns:
            out[c] = pd.to_datetime(out[c], format="%Y-%m-%d")
    for c in NAME_COLUMNS:
        if c in out.columns and (out[c].dtype == object or pd.api.types.is_string_dtype(out[c].dtype)):
            out[c] = out[c].astype("category")
    return out
