"""Impact metrics of one series: a scenario's daily values ``s`` against its paired baseline ``b``.

Pure functions over day-indexed arrays (day 0 = scenario start). Thresholds are relative to the same day's
baseline: *impact* means output below ``threshold`` (default 90%) of baseline; *recovery* is the day after the
last day below it (NaN when never impacted or not recovered within the horizon).
"""
from __future__ import annotations

import math

import numpy as np

IMPACT_THRESHOLD = 0.9      # share of baseline: "output first falls below 90% of baseline" (issue 3)
PRICE_JUMP = 0.5            # +50% over baseline for days_above_50pct (issue 4)
EXHAUSTED = 1e-6            # a stock at or below this share of its baseline peak counts as empty


def lost(s: np.ndarray, b: np.ndarray) -> float:
    """Cumulative shortfall: Σ (baseline − scenario) over days, in the series unit × day."""
    return float(np.nansum(b - s))


def max_drop_pct(s: np.ndarray, b: np.ndarray) -> float:
    """Largest daily drop below baseline, in percent of that day's baseline (0 when never below)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(b > 0, (b - s) / b, np.nan)
    if np.all(np.isnan(drop)):
        return 0.0
    return float(max(0.0, np.nanmax(drop)) * 100.0)


def _below(s: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (b > 0) & (s < threshold * b)


def time_to_impact(s: np.ndarray, b: np.ndarray, threshold: float = IMPACT_THRESHOLD) -> float:
    """First day the scenario is below ``threshold`` × baseline; NaN if never."""
    idx = np.flatnonzero(_below(s, b, threshold))
    return float(idx[0]) if idx.size else math.nan


def recovery(s: np.ndarray, b: np.ndarray, threshold: float = IMPACT_THRESHOLD) -> float:
    """Day after the last day below ``threshold`` × baseline; NaN if never impacted or still below at the end."""
    idx = np.flatnonzero(_below(s, b, threshold))
    if not idx.size or idx[-1] + 1 >= len(s):
        return math.nan
    return float(idx[-1] + 1)


def total(s: np.ndarray, b: np.ndarray | None = None) -> float:
    """Σ of daily values (a flow per day summed to the horizon)."""
    return float(np.nansum(s))


def peak(s: np.ndarray, b: np.ndarray | None = None) -> float:
    """Largest daily value."""
    return float(np.nanmax(s)) if np.any(~np.isnan(s)) else math.nan


def peak_day(s: np.ndarray, b: np.ndarray | None = None) -> float:
    """Day of the largest daily value (first, if tied)."""
    return float(np.nanargmax(s)) if np.any(~np.isnan(s)) else math.nan


def days_above_50pct(s: np.ndarray, b: np.ndarray, jump: float = PRICE_JUMP) -> float:
    """Number of days the scenario is more than ``jump`` (50%) above the same day's baseline."""
    with np.errstate(invalid="ignore"):
        return float(np.count_nonzero((b > 0) & (s > (1.0 + jump) * b)))


def exhaustion(s: np.ndarray, b: np.ndarray) -> float:
    """First day the stock is empty (≤ a millionth of its baseline peak); NaN if never."""
    ref = np.nanmax(np.abs(b)) if np.any(~np.isnan(b)) else 0.0
    with np.errstate(invalid="ignore"):
        idx = np.flatnonzero(s <= EXHAUSTED * max(ref, 1e-12))
    return float(idx[0]) if idx.size else math.nan


def mean(s: np.ndarray, b: np.ndarray | None = None) -> float:
    """Average daily value."""
    return float(np.nanmean(s)) if np.any(~np.isnan(s)) else math.nan


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
}
