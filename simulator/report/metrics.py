"""Impact metrics of one series: a scenario's daily values ``s`` against its paired baseline ``b``.

Pure functions over day-indexed arrays (day 0 = scenario start). Each takes one series (1-D, returns a float)
or one series per replication (2-D ``replications × days``, returns one value per replication). Thresholds are
relative to the same day's baseline: *impact* means output below ``threshold`` (default 90%) of baseline;
*recovery* is the day after the last day below it (NaN when never impacted or not recovered within the horizon).

Sums over days (:func:`day_sum`) add the days one after the other, in day order, so a run's daily values can be
folded piece by piece as they are recorded (``report.day_fold``) and give the same bytes as these functions
applied to the whole series.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

IMPACT_THRESHOLD = 0.9      # share of baseline: "output first falls below 90% of baseline" (issue 3)
PRICE_JUMP = 0.5            # +50% over baseline for days_above_50pct (issue 4)
EXHAUSTED = 1e-6            # a stock at or below this share of its baseline peak counts as empty


def running_sum(x: np.ndarray, carry: np.ndarray | None = None) -> np.ndarray:
    """Σ over the last axis of ``x`` (at least one day), one day after the other in day order, continuing from
    ``carry`` (the running sum of earlier days) when given: ``((carry + x0) + x1) + ...``."""
    y = np.array(x, dtype=float)
    if carry is not None:
        y[..., 0] += carry
    np.add.accumulate(y, axis=-1, out=y)
    return y[..., -1]


def day_sum(x: np.ndarray) -> np.ndarray:
    """Σ over the last axis (days), NaN as 0, adding the days one after the other in day order
    (:func:`running_sum`): what a fold of the days piece by piece gives too (``report.day_fold``). It differs
    from numpy's pairwise ``sum`` only in the last bits (relative error below days × 1e-16)."""
    x = np.nan_to_num(np.asarray(x, dtype=float))
    if not x.shape[-1]:
        return np.zeros(x.shape[:-1])
    return running_sum(x)


def _rowwise(fn: Callable[..., np.ndarray]) -> Callable[..., float | np.ndarray]:
    """Let a function written for 2-D (replications × days) arrays take one 1-D series too."""
    def wrapper(s: np.ndarray, b: np.ndarray | None = None, *args: float):
        s = np.asarray(s, dtype=float)
        one = s.ndim == 1
        s2 = s[None, :] if one else s
        b2 = None if b is None else (np.asarray(b, dtype=float)[None, :] if one else np.asarray(b, dtype=float))
        out = fn(s2, b2, *args)
        return float(out[0]) if one else out
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


def _first(mask: np.ndarray) -> np.ndarray:
    """Index of the first True per row, NaN where none."""
    hit = mask.any(axis=1)
    return np.where(hit, mask.argmax(axis=1), np.nan).astype(float)


def below(s: np.ndarray, b: np.ndarray, threshold: float = IMPACT_THRESHOLD) -> np.ndarray:
    """Days the scenario is below ``threshold`` × a positive baseline."""
    with np.errstate(invalid="ignore"):
        return (b > 0) & (s < threshold * b)


def drop_share(s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(baseline − scenario) ÷ baseline on days with a positive baseline, −inf on the others."""
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(b > 0, (b - s) / b, -np.inf)
    return np.where(np.isnan(drop), -np.inf, drop)


def above_jump(s: np.ndarray, b: np.ndarray, jump: float = PRICE_JUMP) -> np.ndarray:
    """Days the scenario is more than ``jump`` above a positive baseline."""
    with np.errstate(invalid="ignore"):
        return (b > 0) & (s > (1.0 + jump) * b)


def stopped(s: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Days a share is positive while the baseline's is not (a line stop of the scenario's own)."""
    with np.errstate(invalid="ignore"):
        base = np.zeros_like(s) if b is None else np.nan_to_num(b)
        return (s > 1e-9) & (base <= 1e-9)


@_rowwise
def lost(s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cumulative shortfall: Σ (baseline − scenario) over days, in the series unit × day."""
    return day_sum(b - s)


@_rowwise
def max_drop_pct(s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest daily drop below baseline, in percent of that day's baseline (0 when never below)."""
    return np.maximum(0.0, drop_share(s, b).max(axis=1)) * 100.0


@_rowwise
def time_to_impact(s: np.ndarray, b: np.ndarray, threshold: float = IMPACT_THRESHOLD) -> np.ndarray:
    """First day the scenario is below ``threshold`` × baseline; NaN if never."""
    return _first(below(s, b, threshold))


@_rowwise
def recovery(s: np.ndarray, b: np.ndarray, threshold: float = IMPACT_THRESHOLD) -> np.ndarray:
    """Day after the last day below ``threshold`` × baseline; NaN if never impacted or still below at the end."""
    mask = below(s, b, threshold)
    days = mask.shape[1]
    last = days - 1 - _first(mask[:, ::-1])
    return np.where(np.isnan(last) | (last + 1 >= days), np.nan, last + 1)


@_rowwise
def total(s: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Σ of daily values (a flow per day summed to the horizon)."""
    return day_sum(s)


@_rowwise
def peak(s: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Largest daily value."""
    ok = ~np.isnan(s).all(axis=1)
    return np.where(ok, np.nanmax(np.where(ok[:, None], s, 0.0), axis=1), np.nan)


@_rowwise
def peak_day(s: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Day of the largest daily value (first, if tied)."""
    ok = ~np.isnan(s).all(axis=1)
    filled = np.where(np.isnan(s), -np.inf, s)
    return np.where(ok, filled.argmax(axis=1), np.nan).astype(float)


@_rowwise
def days_above_50pct(s: np.ndarray, b: np.ndarray, jump: float = PRICE_JUMP) -> np.ndarray:
    """Number of days the scenario is more than ``jump`` (50%) above the same day's baseline."""
    return np.count_nonzero(above_jump(s, b, jump), axis=1).astype(float)


@_rowwise
def exhaustion(s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """First day the stock is empty (≤ a millionth of its baseline peak); NaN if never."""
    ref = np.where(np.isnan(b).all(axis=1), 0.0, np.nanmax(np.abs(np.nan_to_num(b)), axis=1))
    with np.errstate(invalid="ignore"):
        return _first(s <= EXHAUSTED * np.maximum(ref, 1e-12)[:, None])


@_rowwise
def first_stop(s: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """First day a share (of firms stopped, of users short) is positive: the first line stop (NaN if none)."""
    return _first(stopped(s, b))


@_rowwise
def mean(s: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Average daily value (NaN days left out)."""
    count = (~np.isnan(s)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, day_sum(s) / count, np.nan)


def spread(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``table`` (rows, values), across its values: p05, p50, p95 and mean as (4, rows), and
    ``plain``, the rows these hold for (every value finite, at least one); NaN in the others, which the caller
    treats its own way (missing or infinite values). numpy reduces each contiguous row as it would the row alone,
    so these are the numbers of one row at a time, ~30× faster for hundreds of rows."""
    plain = np.isfinite(table).all(axis=1) & (table.shape[1] > 0)
    stats = np.full((4, table.shape[0]), math.nan)
    if plain.any():
        rows = table[plain]
        stats[:3, plain] = np.percentile(rows, [5, 50, 95], axis=1)
        stats[3, plain] = rows.mean(axis=1)
    return stats, plain


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval (95% by default) for a share ``successes``/``n``."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


#: metric name → (function, kind). Kinds: "amount" (unit × day), "pct", "day" (a date), "days", "level".
METRICS: dict[str, tuple] = {
    "lost": (lost, "amount"),
    "max_drop_pct": (max_drop_pct, "pct"),
    "time_to_impact": (time_to_impact, "day"),
    "recovery": (recovery, "day"),
    "total": (total, "amount"),
    "peak": (peak, "level"),
    "peak_day": (peak_day, "day"),
    "days_above_50pct": (days_above_50pct, "days"),
    "exhaustion": (exhaustion, "day"),
    "mean": (mean, "level"),
    "first_stop": (first_stop, "day"),
}
