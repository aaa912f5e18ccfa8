"""The compact headline table printed after a run: who loses what, and how sure (fits 100 columns)."""
from __future__ import annotations

import math

import pandas as pd

HEADLINE_METRICS = ("lost", "max_drop_pct", "time_to_impact", "peak", "days_above_50pct", "total", "exhaustion")


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.3g}G"
    if a >= 1e6:
        return f"{x / 1e6:.3g}M"
    if a >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:.3g}"


def headline_table(summary: pd.DataFrame, headline_keys: set[str], width: int = 100) -> str:
    """Rows for headline series: entity, metric, median with 90% band, change, probability."""
    if summary.empty:
        return "(no impact metrics recorded)"
    rows = []
    for r in summary.itertuples(index=False):
        series, _, mname = r.metric.rpartition(".")
        if f"{r.entity}.{series}" not in headline_keys or mname not in HEADLINE_METRICS:
            continue
        if r.unit == "days from start":
            val = r.p50_date or "never"
            band = ""
        else:
            val = _num(r.p50)
            band = f"{_num(r.p05)}..{_num(r.p95)}"
        prob = "" if math.isnan(r.probability) else f"{r.probability:.0%}"
        chg = "" if math.isnan(r.change_pct) else f"{r.change_pct:+.0f}%"
        rows.append((r.entity[:28], r.metric[:30], val, band, r.unit[:14], chg, prob))
    if not rows:
        return "(no headline impacts)"
    head = ("entity", "metric", "median", "p05..p95", "unit", "change", "P(event)")
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, x)) for x in rows]
    return "\n".join(line[:width] for line in lines)
