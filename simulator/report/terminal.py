"""The compact headline table printed after a run: who loses what, and how sure (fits 100 columns).

One row per headline series: its main impact (lost output, peak price or total) as the replication median
with the p05..p95 band, a second figure (largest drop, or days more than 50% above baseline), the median date
of first impact (or of the price peak) and the probability across replications that the impact happened.
"""
from __future__ import annotations

import math

import pandas as pd


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    for threshold, div, suf in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if a >= threshold:
            return f"{x / div:.3g}{suf}"
    return f"{x:.0f}" if a >= 100 else f"{x:.3g}"


def _short_unit(u: str) -> str:
    return u.replace("vehicles", "veh").replace("wafers", "waf")[:10]


def _unchanged(m: dict) -> bool:
    """True when a headline series shows no impact in any replication (kept out of the table)."""
    def zero(name: str) -> bool:
        r = m.get(name)
        return r is None or (r.p95 == 0 and r.p05 == 0) or (math.isnan(r.p95) and math.isnan(r.p05))
    if "lost" in m:
        return abs(m["lost"].p95) < 1e-9 and abs(m["lost"].p05) < 1e-9
    if "peak" in m:
        r = m["peak"]
        return (math.isnan(r.change_pct) or abs(r.change_pct) < 0.5) and zero("days_above_50pct")
    if "total" in m:
        r = m["total"]
        return zero("total") or (not math.isnan(r.change_pct) and abs(r.change_pct) < 0.5)
    return False


def headline_rows(summary: pd.DataFrame, headline_keys: set[str]) -> list[tuple[str, ...]]:
    by_series: dict[str, dict[str, object]] = {}
    for r in summary.itertuples(index=False):
        series, _, mname = r.metric.rpartition(".")
        key = f"{r.entity}.{series}"
        if key in headline_keys:
            by_series.setdefault(key, {})[mname] = r
    rows = []
    for key, m in by_series.items():
        if _unchanged(m):
            continue
        if "lost" in m:
            r = m["lost"]
            main, band = f"lost {_num(r.p50)} {_short_unit(r.unit)}", f"{_num(r.p05)}..{_num(r.p95)}"
            d = m.get("max_drop_pct")
            second = f"max -{d.p50:.0f}%" if d is not None and not math.isnan(d.p50) else ""
            t = m.get("time_to_impact")
            date = (t.p50_date or "none") if t is not None else ""
            prob = f"{t.probability:.0%}" if t is not None and not math.isnan(t.probability) else ""
        elif "peak" in m:
            r = m["peak"]
            chg = "" if math.isnan(r.change_pct) else f" ({r.change_pct:+.0f}%)"
            main, band = f"peak {_num(r.p50)}{chg}", f"{_num(r.p05)}..{_num(r.p95)}"
            a = m.get("days_above_50pct")
            second = f"{a.p50:.0f} d >+50%" if a is not None and not math.isnan(a.p50) else ""
            pd_ = m.get("peak_day")
            date = pd_.p50_date if pd_ is not None else ""
            prob = f"{a.probability:.0%}" if a is not None and not math.isnan(a.probability) else ""
        elif "total" in m:
            r = m["total"]
            chg = "" if math.isnan(r.change_pct) else f" ({r.change_pct:+.0f}%)"
            main, band, second, date, prob = f"total {_num(r.p50)} {_short_unit(r.unit)}{chg}", \
                f"{_num(r.p05)}..{_num(r.p95)}", "", "", ""
        else:
            continue
        rows.append((key, main, band, second, date, prob))
    return rows


def headline_table(summary: pd.DataFrame, headline_keys: set[str], width: int = 100) -> str:
    """The table as text, at most ``width`` columns wide."""
    rows = headline_rows(summary, headline_keys)
    if not rows:
        return "(no headline series differs from its baseline)"
    head = ("series", "impact (median)", "p05..p95", "also", "first/peak", "P")
    rows = [(r[0].removeprefix("industries.")[:36],) + r[1:] for r in rows]
    widths = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*x) for x in rows]
    return "\n".join(line[:width] for line in lines)
