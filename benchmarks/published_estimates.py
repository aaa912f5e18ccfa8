"""Published estimates: the model against studies that put a number on a Chinese mineral cut-off.

Each study's set-up is replayed as the study states it (``benchmarks/estimates/*.yaml``: who stops what, to whom,
for how long, with nothing re-routed), with the default world; nothing is fitted to these numbers. For each
published figure the script gives the model's mean over replications with its p05..p95 across replications, and
where it falls:

- *in range*: within the study's own low..high (its range or, for a single figure, ×½..×2 of it);
- *below* / *above*: outside it, with the factor to the study's central figure.

Figures compared:

- GDP losses (``economy.<region>.gdp_loss``, summed over the run) in USD, or as a share of the region's annual
  GDP in the table's year where the study states a share (the Japanese studies and the IMF's: no exchange rate
  in between), or as a share of the GDP of the measure's months where a study states a loss of output over a
  period that is not a year (the ECB's 18 months);
- price rises: the mean over the measure's months of the ex-China price against the paired baseline's (a
  study's post-disruption equilibrium price is a level held over its year, not a peak).

Usage::

    python benchmarks/published_estimates.py [--replications N] [--csv out.csv]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.api import run as run_scenario  # noqa: E402

HERE = ROOT / "benchmarks" / "estimates"


@dataclass(frozen=True)
class Estimate:
    """One published figure and the run that replays its set-up.

    ``kind``: ``gdp_usd_bn`` (a region's GDP loss over the run, USD bn), ``gdp_pct`` (the same as % of the
    region's annual GDP), ``gdp_pct_measure`` (the same as % of its baseline GDP over the measure's days: the mean
    shortfall of output while the measure lasts, for a study that states a loss of output over a period that is
    not a year) or ``price_pct`` (mean % rise of an item's ex-China price over the measure's months).
    ``low``/``high``: the study's range; None for a single figure (then ×½..×2); ``high`` None alone for "more
    than ``low``"."""

    study: str
    what: str
    scenario: str
    sets: tuple[str, ...]
    kind: str
    target: str              # region (GDP) or item (price)
    central: float
    low: float | None
    high: float | None


USGS = "USGS OFR 2024-1057 (Nassar et al., 2024-10-15), A"
NOMURA = "Nomura Research Institute (T. Kiuchi, Nov 2025), B"
DAIWA = "Daiwa Institute of Research (K. Akimoto, 2025-12-11), B"
ECB = "ECB Occasional Paper on rare-earth export controls (2026-03-31), B"
IMF = "IMF WP 2026/073 (Bogmans et al., 2026-04-14), B"
IMF_SETUP = ("countermeasures.cn_ree_world.quota_share=0.2", "countermeasures.cn_ree_world.ends=2027-01-06")
GA_ONLY = ("countermeasures.cn_ga_ge_ban.mineral=[gallium]",)
GE_ONLY = ("countermeasures.cn_ga_ge_ban.mineral=[germanium]",)
THREE_MONTHS = ("countermeasures.cn_ree_japan.ends=2026-04-06",)
SIX_MINERALS = ("countermeasures.cn_ree_japan.mineral=[gallium,germanium,graphite,antimony,rare_earths]",)

ESTIMATES: list[Estimate] = [
    Estimate(USGS, "US GDP, China stops Ga and Ge exports for a year", "usgs_ga_ge_2024.yaml", (),
             "gdp_usd_bn", "US", 3.4, 1.7, 9.0),
    Estimate(USGS, "US GDP, gallium alone", "usgs_ga_ge_2024.yaml", GA_ONLY, "gdp_usd_bn", "US", 3.1, 1.7, 8.2),
    Estimate(USGS, "US GDP, germanium alone", "usgs_ga_ge_2024.yaml", GE_ONLY, "gdp_usd_bn", "US", 0.4, 0.01, 1.1),
    Estimate(USGS, "gallium price rise, gallium alone", "usgs_ga_ge_2024.yaml", GA_ONLY,
             "price_pct", "gallium_refined", 150.0, 150.0, None),
    Estimate(USGS, "germanium price rise, germanium alone", "usgs_ga_ge_2024.yaml", GE_ONLY,
             "price_pct", "germanium_refined", 26.0, None, None),
    Estimate(NOMURA, "Japan GDP, rare earths stopped for 3 months (% of a year's GDP)", "ree_japan_2026.yaml",
             THREE_MONTHS, "gdp_pct", "Japan", 0.11, None, None),
    Estimate(NOMURA, "Japan GDP, rare earths stopped for a year", "ree_japan_2026.yaml", (),
             "gdp_pct", "Japan", 0.43, None, None),
    Estimate(DAIWA, "Japan GDP, rare earths stopped for a year", "ree_japan_2026.yaml", (),
             "gdp_pct", "Japan", 1.3, None, None),
    Estimate(DAIWA, "Japan GDP, rare earths and other critical minerals for a year", "ree_japan_2026.yaml",
             SIX_MINERALS, "gdp_pct", "Japan", 3.2, None, None),
    Estimate(ECB, "US output, rare earths to everyone cut by 75% for 18 months (% of those months' GDP)",
             "ree_world_2026.yaml", (), "gdp_pct_measure", "US", 0.45, 0.3, 0.6),
    Estimate(IMF, "Japan GDP, rare-earth supply cut by 80%, low substitution (a year)", "ree_world_2026.yaml",
             IMF_SETUP, "gdp_pct", "Japan", 1.8, None, None),
    Estimate(IMF, "US GDP, the same", "ree_world_2026.yaml", IMF_SETUP, "gdp_pct", "US", 1.5, None, None),
]


def bounds(e: Estimate) -> tuple[float, float]:
    """The band a model figure must fall in: the study's range, or ×½..×2 of a single figure; "more than" has
    no upper bound."""
    if e.low is None:
        return e.central / 2.0, e.central * 2.0
    return e.low, (np.inf if e.high is None else e.high)


def verdict(e: Estimate, value: float) -> str:
    """``in range``, or ``below``/``above`` with the factor to the study's central figure."""
    lo, hi = bounds(e)
    if lo <= value <= hi:
        return "in range"
    if value <= 0 or e.central <= 0:
        return "below" if value < lo else "above"
    f = e.central / value if value < lo else value / e.central
    return f"{'below' if value < lo else 'above'} (×{f:.1f})"


def measure_days(res) -> tuple[int, int]:
    """First and past-the-last day index (from the scenario's start) of the run's one countermeasure; a measure
    without an end lasts to the horizon."""
    sc = res.scenario
    m = sc.countermeasures[0]
    first = (m.effective - sc.start).days
    last = (m.ends - sc.start).days if m.ends is not None else sc.days
    return first, last


def model_value(e: Estimate, res) -> tuple[float, float, float]:
    """The model's figure for ``e`` from a run: mean over replications, p05, p95 across replications."""
    if e.kind in ("gdp_usd_bn", "gdp_pct", "gdp_pct_measure"):
        loss = res.daily(f"economy.{e.target}.gdp_loss").sum(axis=1)             # USD per replication
        if e.kind == "gdp_usd_bn":
            per = loss / 1e9
        else:
            base = res.daily(f"economy.{e.target}.gdp", "baseline")              # USD/day
            a, b = (0, 365) if e.kind == "gdp_pct" else measure_days(res)
            per = 100.0 * loss / (base.mean() * (b - a))
    elif e.kind == "price_pct":
        a, b = measure_days(res)
        key = f"{e.target}.price_ex_china"
        sc, base = res.daily(key)[:, a:b], res.daily(key, "baseline")[:, a:b]
        per = 100.0 * (sc.mean(axis=1) / base.mean(axis=1) - 1.0)
    else:
        raise ValueError(f"unknown kind {e.kind!r}")
    return float(per.mean()), float(np.percentile(per, 5)), float(np.percentile(per, 95))


#: every kind of figure (see :class:`Estimate`) and the unit it is printed in
UNITS = {"gdp_usd_bn": "USD bn", "gdp_pct": "% of GDP", "gdp_pct_measure": "% of GDP", "price_pct": "%"}


def unit(e: Estimate) -> str:
    """The unit a figure of ``e`` is printed in."""
    return UNITS[e.kind]


def published(e: Estimate) -> str:
    """The study's figure as printed: central (low–high), "> low", or the single figure."""
    if e.low is None:
        return f"{e.central:g}"
    if e.high is None:
        return f"> {e.low:g}"
    return f"{e.central:g} ({e.low:g}–{e.high:g})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--csv", help="write the rows to this CSV file")
    args = ap.parse_args(argv)
    runs: dict[tuple[str, tuple[str, ...]], object] = {}
    rows = []
    for e in ESTIMATES:
        k = (e.scenario, e.sets)
        if k not in runs:
            runs[k] = run_scenario(str(HERE / e.scenario), sets=list(e.sets), replications=args.replications,
                                   progress=False)
        mean, p05, p95 = model_value(e, runs[k])
        rows.append({"study": e.study, "figure": e.what, "unit": unit(e), "published": published(e),
                     "model_mean": round(mean, 3), "model_p05": round(p05, 3), "model_p95": round(p95, 3),
                     "verdict": verdict(e, mean)})
    print(f"Published estimates against the model ({args.replications} replications, "
          f"{dt.date.today().isoformat()})\n")
    print("| study | figure | unit | published | model mean (p05..p95) | verdict |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['study']} | {r['figure']} | {r['unit']} | {r['published']} | "
              f"{r['model_mean']:.3g} ({r['model_p05']:.3g}..{r['model_p95']:.3g}) | {r['verdict']} |")
    n_in = sum(r["verdict"] == "in range" for r in rows)
    print(f"\nin range: {n_in} of {len(rows)}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
