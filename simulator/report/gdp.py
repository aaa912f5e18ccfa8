"""GDP by calendar quarter: the economy part's daily GDP per region summed to quarters, with bands.

For each region (series ``economy.<region>.gdp``, USD/day) and calendar quarter touched by the run, the table
``gdp_by_quarter.csv`` gives the days of that quarter inside the horizon, the baseline GDP over those days
(replication mean), the scenario GDP's p05/p50/p95 across replications, and the loss (baseline − scenario,
computed per replication, so the pairing under common random numbers is kept) as p05/p50/p95 in USD and its
median in percent of the baseline. A quarter cut by the start or end of the run covers only its days inside.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .table import Table
from .tables import write_table

if TYPE_CHECKING:
    import pandas as pd

GDP_QUARTER_COLUMNS = ["region", "quarter", "days", "baseline_gdp_usd", "gdp_p05_usd", "gdp_p50_usd",
                       "gdp_p95_usd", "loss_usd_p05", "loss_usd_p50", "loss_usd_p95", "loss_pct_p50"]


def quarter_labels(start: _dt.date, days: int) -> np.ndarray:
    """``YYYYQn`` of every day of the run."""
    from .layout import quarter_labels as labels
    return labels(start, days)


def table(regions: Sequence[str], quarters: Sequence[tuple[str, int]], scenario: np.ndarray,
          baseline: np.ndarray) -> Table:
    """The quarterly table from GDP already summed to quarters: ``scenario`` and ``baseline`` are
    (replications × regions × quarters) arrays in USD, replications paired row by row; ``quarters`` gives
    each quarter's ``(YYYYQn, days inside the run)``."""
    scenario, baseline = np.asarray(scenario, dtype=float), np.asarray(baseline, dtype=float)
    rows = []
    for r, region in enumerate(regions):
        for q, (label, days) in enumerate(quarters):
            s_q, b_q = np.ascontiguousarray(scenario[:, r, q]), np.ascontiguousarray(baseline[:, r, q])
            loss = b_q - s_q
            base = float(b_q.mean())
            g = np.percentile(s_q, [5, 50, 95])
            lq = np.percentile(loss, [5, 50, 95])
            rows.append({"region": region, "quarter": label, "days": int(days), "baseline_gdp_usd": base,
                         "gdp_p05_usd": g[0], "gdp_p50_usd": g[1], "gdp_p95_usd": g[2],
                         "loss_usd_p05": lq[0], "loss_usd_p50": lq[1], "loss_usd_p95": lq[2],
                         "loss_pct_p50": lq[1] / base * 100.0 if base else float("nan")})
    return Table.from_rows(GDP_QUARTER_COLUMNS, rows)


def gdp_by_quarter(start: _dt.date, scenario: Mapping[str, np.ndarray], baseline: Mapping[str, np.ndarray]
                   ) -> "pd.DataFrame":
    """The quarterly table from daily GDP per region: ``scenario[region]`` and ``baseline[region]`` are
    (replications × days) arrays in USD/day, replications paired row by row."""
    frames = []
    for region, S in scenario.items():
        S = np.atleast_2d(np.asarray(S, dtype=float))
        B = np.atleast_2d(np.asarray(baseline[region], dtype=float))
        labels = quarter_labels(start, S.shape[1])
        masks = [(q, labels == q) for q in dict.fromkeys(labels)]
        sums = [np.stack([np.nansum(X[:, m], axis=1) for _, m in masks], axis=1)[:, None, :] for X in (S, B)]
        frames.append(table([region], [(q, int(m.sum())) for q, m in masks], sums[0], sums[1]))
    return (Table.concat(frames) if frames else Table(GDP_QUARTER_COLUMNS)).frame()


def gdp_series(pairs: Sequence, which: str) -> dict[str, np.ndarray]:
    """Region → (replications × days) daily GDP of the runs in ``pairs`` (``which`` = scenario/baseline)."""
    first = getattr(pairs[0], which)
    regions = [k[len("economy."):-len(".gdp")] for k in first.data
               if k.startswith("economy.") and k.endswith(".gdp") and k.count(".") == 2]
    return {r: np.vstack([getattr(p, which).data[f"economy.{r}.gdp"] for p in pairs]) for r in regions}


def from_pairs(start: _dt.date, pairs: Sequence) -> "pd.DataFrame":
    """The quarterly table of a run's replication pairs (empty when the world has no economy part)."""
    if not pairs:
        return Table(GDP_QUARTER_COLUMNS).frame()
    return gdp_by_quarter(start, gdp_series(pairs, "scenario"), gdp_series(pairs, "baseline"))


def write_gdp_by_quarter(df: "pd.DataFrame | Table", folder: Path) -> Path | None:
    """Write the quarterly table ``df`` as ``gdp_by_quarter.csv`` into ``folder`` (nothing when empty: no
    region GDP was recorded)."""
    if df.empty:
        return None
    path = Path(folder) / "gdp_by_quarter.csv"
    write_table(df, path)
    return path
