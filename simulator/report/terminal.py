"""The headline table printed after a run: who loses what, in which unit, and how sure.

Rows are the series the scenario is about (``report.relevance``): the model's headline series, and the outputs and
prices of entities named by two of the scenario's words at once (``gallium.Japan`` when it restricts gallium to
Japan), most relevant first. A row appears when the scenario moved the series in some replication; a headline
series of an entity the scenario names is shown even when unchanged (``no change``). The table stops at
:data:`MAX_ROWS` rows, but for what the regions the measures name lose downstream (their outputs and GDP that moved),
which is kept past it: the bottom line of a scenario of many minerals, whose prices and shortages rank first.

Columns: the series' full ``entity.metric`` name; its main impact as the replication **median** with its
unit (``lost`` for outputs: the cumulative shortfall against the baseline; ``peak`` for prices: the highest
daily value; ``total`` for flows), a peak or total with the median's change against the baseline's value; the
p05..p95 spread across replications; a second figure (largest daily drop, or days more than 50% above the
baseline); the median date of first impact (or of the peak); and ``P``, the share of replications in which the
impact happened:
for outputs, output below 90% of the same day's baseline at least once (``metrics.IMPACT_THRESHOLD``);
for prices, more than 50% above the same day's baseline at least once (``metrics.PRICE_JUMP``).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .metrics import IMPACT_THRESHOLD, PRICE_JUMP

if TYPE_CHECKING:
    import pandas as pd

    from .table import Table

MAX_ROWS = 14
#: rows kept beyond :data:`MAX_ROWS` for what the regions the measures name lose downstream: their headline outputs
#: that moved (a targeted country's car output, its GDP), which the prices and shortages of a scenario of many
#: minerals would otherwise push off the table (``china_minerals_ban_japan``: Japan's cars and GDP ranked 23rd and
#: 27th of 48 rows)
MAX_REGION_LOSS_ROWS = 6
HEAD = ("series", "impact (median)", "p05..p95", "also", "first/peak", "P")


def number(x: float | None) -> str:
    """A plain number a reader can say aloud: ``571,000``, ``4.63 million``, ``17.4 billion``, ``12.6 trillion``
    (a GDP over three years: was ``1.26e+04 billion``), ``418``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    if a >= 1e12:
        return f"{x / 1e12:.3g} trillion"
    if a >= 1e9:
        return f"{x / 1e9:.3g} billion"
    if a >= 1e6:
        return f"{x / 1e6:.3g} million"
    if a >= 1e4:
        return f"{x:,.0f}" if a < 1e5 else f"{round(x, -3):,.0f}"
    if a >= 100:
        return f"{x:,.0f}"
    if a == 0:
        return "0"
    return f"{x:.3g}"


def _short(x: float) -> str:
    """Compact number for the band column: 464k, 4.63M, 16.8G, 12.6T."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    for threshold, div, suf in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if a >= threshold:
            return f"{x / div:.3g}{suf}"
    return f"{x:.0f}" if a >= 100 else f"{x:.3g}"


def _unchanged(m: dict) -> bool:
    """True when a series shows no impact in any replication."""
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
    return True


def _date(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or str(x) in ("", "NaT"):   # (pandas' NaT: "NaT")
        return ""
    return str(x)[:10]


def _drop(pct: float) -> str:
    """A largest daily drop in % for the ``also`` column: whole percent, or two significant digits under 1%
    (a GDP's ``0.14``, which ``0`` hid)."""
    return f"{pct:.2g}" if 0 < pct < 1 else f"{pct:.0f}"


def _median_change(r) -> str:
    """`` (+62%)``: the change of the replication median ``r.p50`` shown beside it against the baseline's value of
    the same statistic (its mean over the replications' baselines), so the row reads as one figure; empty where
    the baseline is missing, 0 or, as for the summary's ``change_pct``, a rounding error beside the median. Not
    that ``change_pct``, which is the scenario *mean*'s: where a measure fires in only some replications the two
    part (a median peak of 4,800 USD/t against a baseline of 2,400 is +100%; the mean's +55% came out beside it
    until 2026-12-07)."""
    b = r.baseline
    if b is None or not math.isfinite(b) or not math.isfinite(r.p50) or abs(b) <= 1e-9 * max(abs(r.p50), 1e-300):
        return ""
    return f" ({(r.p50 - b) / abs(b) * 100:+.0f}%)"


def _row(key: str, m: dict) -> tuple[str, ...] | None:
    if "lost" in m:
        r = m["lost"]
        main, band = f"lost {number(r.p50)} {r.unit}", f"{_short(r.p05)}..{_short(r.p95)}"
        d = m.get("max_drop_pct")
        second = f"max -{_drop(d.p50)}%" if d is not None and not math.isnan(d.p50) else ""
        t = m.get("time_to_impact")
        date = (_date(t.p50_date) or "none") if t is not None else ""
        prob = f"{t.probability:.0%}" if t is not None and not math.isnan(t.probability) else ""
    elif "peak" in m:
        r = m["peak"]
        main, band = f"peak {number(r.p50)} {r.unit}{_median_change(r)}", f"{_short(r.p05)}..{_short(r.p95)}"
        a = m.get("days_above_50pct")
        second = f"{a.p50:.0f} d >+{PRICE_JUMP:.0%}" if a is not None and not math.isnan(a.p50) else ""
        pd_ = m.get("peak_day")
        date = _date(pd_.p50_date) if pd_ is not None else ""
        prob = f"{a.probability:.0%}" if a is not None and not math.isnan(a.probability) else ""
    elif "total" in m:
        r = m["total"]
        main, band, second, date, prob = f"total {number(r.p50)} {r.unit}{_median_change(r)}", \
            f"{_short(r.p05)}..{_short(r.p95)}", "", "", ""
    else:
        return None
    return (key, main, band, second, date, prob)


def headline_rows(summary: "pd.DataFrame | Table", headline_keys: set[str], scenario=None,
                  max_rows: int = MAX_ROWS) -> list[tuple[str, ...]]:
    """Rows (series, impact, band, also, date, P) for the series the scenario is about, most relevant first.

    Without ``scenario`` only the headline series are considered, in summary order. Past ``max_rows``, up to
    :data:`MAX_REGION_LOSS_ROWS` more rows: the headline outputs of the regions the measures name that lost
    something (:func:`.relevance.region_words`), in the same order."""
    from .relevance import entity_score, matched, region_words, scenario_words
    words = scenario_words(scenario) if scenario is not None else {}
    regions = region_words(scenario) if scenario is not None else set()
    by_series: dict[str, dict[str, object]] = {}
    entity_of: dict[str, str] = {}
    for r in summary.itertuples(index=False):
        series, _, mname = str(r.metric).rpartition(".")
        key = f"{r.entity}.{series}"
        by_series.setdefault(key, {})[mname] = r
        entity_of[key] = str(r.entity)
    order = list(by_series)
    score = {k: entity_score(entity_of[k], words, k in headline_keys) for k in order}
    ranked = sorted(order, key=lambda k: -score[k])      # stable: ties keep the summary's order
    rows = []
    region_loss = []                                     # per row: a named region's output that moved
    for key in ranked:
        m = by_series[key]
        head = key in headline_keys
        named = score[key] - (100.0 if head else 0.0) > 0
        if not head and len(matched(entity_of[key], words)) < 2:
            continue
        if _unchanged(m):
            if head and named and ("lost" in m or "peak" in m):
                unit = (m.get("lost") or m.get("peak")).unit
                rows.append((key, f"no change ({unit})", "", "", "", "0%"))
                region_loss.append(False)
            continue
        row = _row(key, m) if head or "lost" in m or "peak" in m else None
        if row is not None:
            rows.append(row)
            region_loss.append(head and "lost" in m and any(w in regions for w in matched(entity_of[key], words)))
    kept_beyond = [r for r, loss in zip(rows[max_rows:], region_loss[max_rows:]) if loss]
    return rows[:max_rows] + kept_beyond[:MAX_REGION_LOSS_ROWS]


def legend() -> str:
    """What the columns mean (printed under the table)."""
    return (f"median and p05..p95 across replications; lost = cumulative shortfall against the no-measure "
            f"baseline;\nP = share of replications where output fell below {IMPACT_THRESHOLD:.0%} of baseline "
            f"(lost rows) or a price rose more than {PRICE_JUMP:.0%} above it (peak rows);\n"
            f"first/peak = median date of first impact or of the peak. All series: impacts.csv, summary.csv")


def headline_table(summary: "pd.DataFrame | Table", headline_keys: set[str], width: int | None = None, scenario=None
                   ) -> str:
    """The table as text; rows are cut at ``width`` only when one is given (names and units stay whole)."""
    rows = headline_rows(summary, headline_keys, scenario)
    if not rows:
        return "(no headline series differs from its baseline)"
    rows = [(r[0].removeprefix("industries."),) + r[1:] for r in rows]
    widths = [max(len(x[i]) for x in rows + [HEAD]) for i in range(len(HEAD))]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*HEAD), fmt.format(*("-" * w for w in widths))] + [fmt.format(*x) for x in rows]
    return "\n".join(line.rstrip()[:width] if width else line.rstrip() for line in lines)
