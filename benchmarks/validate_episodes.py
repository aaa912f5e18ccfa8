"""Validation across minerals: replays of real Chinese export controls against what was observed.

Each episode is a scenario written only from the public dates and scope of the measure (``scenarios/replay_*.yaml``
and the gallium/germanium case ``china_gallium_licensing_2023.yaml``), with the schema's default licence terms —
nothing is fitted per episode. For every observed point in ``benchmarks/episodes/observed.csv`` (columns
``episode,series,date,low,high,unit,source,grade``; series ``<item>.china_exports`` in t/month, ``<item>.
price_ex_china`` and ``<item>.price_china`` in the source's unit) the script takes the model's median over
replications on that date (prices) or in that month (exports) and compares the **change against the episode's
pre-announcement level** — the observed change from the series' last point before the announcement, the model's
change from its own value on that date — so units and absolute levels need not match:

- *direction*: same sign of change (or both within ±10%);
- *size*: the model's level relative to its pre-episode level within a factor of 2 of the observed one (or, for
  collapses, both below 25% of it).

A point the run does not reach (its date, or its series' pre-announcement point, outside the scenario's start and
horizon) is listed as ``n/a`` and counted apart, not as a miss: it says nothing of the model.

Prints one table per episode and a summary per mineral; ``--csv FILE`` writes the rows. Usage::

    python benchmarks/validate_episodes.py [--replications N] [--csv out.csv]
"""
from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.api import run as run_scenario  # noqa: E402

OBSERVED = ROOT / "benchmarks" / "episodes" / "observed.csv"
#: episode name in observed.csv → (scenario file, announcement date)
EPISODES: dict[str, tuple[str, str]] = {
    "ga_2023": ("replay_gallium_germanium_2023.yaml", "2023-07-03"),
    "ge_2023": ("replay_gallium_germanium_2023.yaml", "2023-07-03"),
    "gr_2023": ("replay_graphite_2023.yaml", "2023-10-20"),
    "sb_2024": ("replay_antimony_2024.yaml", "2024-08-15"),
    "usban_2024": ("replay_gallium_germanium_2023.yaml", "2024-12-03"),
    "ree_2025": ("replay_rare_earths_2025.yaml", "2025-04-04"),
    "ree_2010": ("replay_rare_earths_japan_2010.yaml", "2010-09-21"),
}
#: observed series stems that stand for a model item (grades or elements of one traded stage)
ALIASES = {"ree_heavy_oxide_dy": "ree_heavy_oxide", "ree_heavy_oxide_tb": "ree_heavy_oxide",
           "ree_heavy_oxide_dy_metal": "ree_heavy_oxide", "ree_light_oxide_nd": "ree_light_oxide",
           "antimony_metal": "antimony_refined", "antimony_oxide": "antimony_refined"}
#: observed totals over several model items
TOTALS = {"graphite_natural_total": ("graphite_flake", "graphite_spherical"),
          "ree_total": ("ree_light_oxide", "ree_heavy_oxide", "ndfeb_magnets")}
REGION_NAMES = {"SouthKorea": "South_Korea"}
#: observed series whose only public quote is an export price *in* China (fob China): the model's China price
FOB_CHINA = {"graphite_flake.price_ex_china", "graphite_spherical.price_ex_china"}
FLAT = 0.10     # changes within ±10% count as "no change"
FACTOR = 2.0    # size within a factor of 2


def model_keys(series: str) -> list[str]:
    """The model's daily series (summed) for an observed series name, e.g. ``graphite_flake.china_exports_to_
    Japan`` → ``graphite_flake.China_to_Japan.flow``; ``ree_total.japan_imports_from_china`` → the China-to-Japan
    flows of every rare-earth item."""
    if series in FOB_CHINA:
        series = series.replace("price_ex_china", "price_china")
    stem, metric = series.split(".", 1)
    items = TOTALS.get(stem, (ALIASES.get(stem, stem),))
    if metric.startswith("china_exports_to_"):
        reg = metric[len("china_exports_to_"):]
        return [f"{i}.China_to_{REGION_NAMES.get(reg, reg)}.flow" for i in items]
    if metric == "japan_imports_from_china":
        return [f"{i}.China_to_Japan.flow" for i in items]
    if metric == "japan_imports":
        return [f"{i}.Japan.imports" for i in items]
    if metric == "price_china_usd":
        metric = "price_china"
    return [f"{i}.{metric}" for i in items]


def _span(when: str, start: dt.date) -> tuple[int, int]:
    """Day range [a, b) of an observed date: a day, a month (YYYY-MM) or a range of months (YYYY-MM/YYYY-MM)."""
    if "/" in when:
        a, b = when.split("/")
        a0, b0 = _span(a, start), _span(b, start)
        return a0[0], b0[1]
    if len(when) == 7:
        y, m = map(int, when.split("-"))
        a = (dt.date(y, m, 1) - start).days
        return a, a + calendar.monthrange(y, m)[1]
    d = (dt.date.fromisoformat(when) - start).days
    return d, d + 1


def _model_value(res, series: str, when: str, start: dt.date) -> float:
    """Median over replications: a price on a date, or flows per month (summed over the month; the monthly
    mean over a range of months)."""
    keys = model_keys(series)
    have = res.pairs[0].scenario.data
    if not all(k in have for k in keys):
        raise KeyError(series)
    arr = sum(res.daily(k) for k in keys)
    a, b = _span(when, start)
    if a < 0 or b > arr.shape[1]:
        return float("nan")
    if b - a == 1:
        return float(np.median(arr[:, a]))
    months = max(1.0, (b - a) / 30.4375)
    return float(np.median(arr[:, a:b].sum(axis=1) / months))


def _date(when: str) -> dt.date:
    when = when.split("/")[-1]
    return dt.date.fromisoformat(when + "-15") if len(when) == 7 else dt.date.fromisoformat(when)


def judge(obs_change: float, model_change: float) -> tuple[bool, bool]:
    """(direction right, size right) of a model change against an observed one (both as ratios − 1).

    Direction: both within ±10%, or the same sign beyond it. Size: the model's level relative to its own
    pre-episode level within a factor of 2 of the observed one — or, for collapses, both below 25% of it."""
    if not (np.isfinite(obs_change) and np.isfinite(model_change)):
        return False, False
    flat_o, flat_m = abs(obs_change) <= FLAT, abs(model_change) <= FLAT
    direction = (flat_o and flat_m) or (not flat_o and not flat_m and np.sign(obs_change) == np.sign(model_change))
    a, b = 1.0 + obs_change, 1.0 + model_change
    if a < 0.25 or b < 0.25:
        size = a < 0.25 and b < 0.25
    else:
        size = max(a, b) / min(a, b) <= FACTOR
    return bool(direction), bool(size)


def validate(replications: int = 5, observed: Path = OBSERVED) -> list[dict]:
    """Rows of observed vs model change for every observed point after each episode's announcement."""
    with open(observed, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out: list[dict] = []
    cache: dict[str, object] = {}
    for ep, (file, announced) in EPISODES.items():
        pts = [r for r in rows if r["episode"] == ep]
        if not pts:
            continue
        if file not in cache:
            cache[file] = run_scenario(str(ROOT / "scenarios" / file), replications=replications)
        res = cache[file]
        start = res.scenario.start
        ann = dt.date.fromisoformat(announced)
        for series in sorted({r["series"] for r in pts}):
            srows = sorted((r for r in pts if r["series"] == series), key=lambda r: _date(r["date"]))
            before = [r for r in srows if _date(r["date"]) < ann]
            if not before:
                continue
            ref = before[-1]
            ref_obs = (float(ref["low"]) + float(ref["high"])) / 2
            try:
                ref_mod = _model_value(res, series, ref["date"], start)
            except KeyError:
                continue
            for r in srows:
                if _date(r["date"]) < ann:
                    continue
                obs = (float(r["low"]) + float(r["high"])) / 2
                mod = _model_value(res, series, r["date"], start)
                oc = obs / ref_obs - 1.0 if ref_obs > 0 else float("nan")
                mc = mod / ref_mod - 1.0 if ref_mod > 0 else float("nan")
                d_ok, s_ok = judge(oc, mc)
                out.append({"episode": ep, "series": series, "date": r["date"], "observed": obs,
                            "observed_change_pct": 100 * oc, "model": mod, "model_change_pct": 100 * mc,
                            "unit": r["unit"], "scored": bool(np.isfinite(mod) and np.isfinite(ref_mod)),
                            "direction_ok": d_ok, "size_ok": s_ok, "source": r["source"]})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--csv", help="write the rows to this CSV")
    args = ap.parse_args(argv)
    if not OBSERVED.is_file():
        print(f"{OBSERVED} not found: nothing to validate")
        return 0
    rows = validate(args.replications)
    for ep in EPISODES:
        er = [r for r in rows if r["episode"] == ep]
        if not er:
            continue
        print(f"\n{ep}")
        print(f"  {'series':<34} {'date':<10} {'obs chg':>8} {'model chg':>9}  dir size")
        for r in er:
            if r["scored"]:
                mark = f"{'ok ' if r['direction_ok'] else 'NO '} {'ok' if r['size_ok'] else 'NO'}"
                model = f"{r['model_change_pct']:+8.0f}%"
            else:
                mark, model = "n/a (outside the run)", f"{'':>9}"
            print(f"  {r['series']:<34} {r['date']:<10} {r['observed_change_pct']:+7.0f}% {model}  {mark}")
    scored = [r for r in rows if r["scored"]]
    print("\nsummary by mineral item and series kind (direction right / size within 2x / points)")
    keys = sorted({(r["series"].split(".")[0], r["series"].split(".")[-1]) for r in scored})
    for item, kind in keys:
        kr = [r for r in scored if r["series"].split(".")[0] == item and r["series"].split(".")[-1] == kind]
        print(f"  {item:<22} {kind:<16} {sum(r['direction_ok'] for r in kr):3d} / {sum(r['size_ok'] for r in kr):3d}"
              f" / {len(kr):3d}")
    n = len(scored)
    if n:
        print(f"\nall: direction {sum(r['direction_ok'] for r in scored)}/{n}, "
              f"size {sum(r['size_ok'] for r in scored)}/{n}")
    if len(rows) > n:
        print(f"not scored: {len(rows) - n} point(s) outside the runs (their date or their reference's)")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["episode"])
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
