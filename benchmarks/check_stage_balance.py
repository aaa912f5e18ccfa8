"""Baseline mass balance of the stage-based mineral world file, per item and region.

Models nothing: it reads ``simulator/scenario/world/default/minerals.yaml`` (or the path given as the
first argument; top-level key ``minerals_stages`` or ``minerals``) with PyYAML and, for every item and region,
compares in t/year (item unit per year)

    supply = production (capacity x utilisation) + recycling (recycling_share x consumption) + imports
    demand = exports + final consumption + feed use by downstream stages in the same region
             (downstream production x feed ratio)

and prints the residual (supply - demand) in the item's unit and as a share of max(supply, demand).
Exit status 1 when any residual exceeds the loader's 15% tolerance, 0 otherwise.

Usage: python benchmarks/check_stage_balance.py [path/to/minerals.yaml] [--quiet]
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

DEFAULT = Path(__file__).resolve().parents[1] / "simulator/scenario/world/default/minerals.yaml"
TOLERANCE = 0.15
REGIONS = ["China", "Japan", "South_Korea", "Taiwan", "US", "EU", "Southeast_Asia", "India",
           "Russia_Central_Asia", "Africa", "Australia_Canada", "Latin_America", "rest_of_world"]


def _v(entry: dict | None, key: str) -> float:
    """Value of a `{value: ...}` leaf, 0 when absent."""
    if not entry or key not in entry:
        return 0.0
    return float(entry[key]["value"])


def production(item: dict, region: str) -> float:
    """Baseline output of one item in one region, t/year: capacity x utilisation."""
    reg = item.get("regions", {}).get(region)
    return _v(reg, "capacity") * _v(reg, "utilisation") if reg else 0.0


def balances(minerals: dict) -> list[tuple[str, str, float, float]]:
    """(item, region, supply, demand) for every region an item touches (t/year)."""
    items = {k: v for k, v in minerals.items() if k != "common"}
    rows = []
    for name, item in items.items():
        touched = set(item.get("regions", {}))
        flows_in: dict[str, float] = {}
        flows_out: dict[str, float] = {}
        for edge, spec in (item.get("edges") or {}).items():
            exporter, importer = edge.split("_to_")
            if exporter not in REGIONS or importer not in REGIONS:
                raise SystemExit(f"{name}: edge {edge} names an unknown region")
            flow = float(spec["flow"]["value"])
            flows_out[exporter] = flows_out.get(exporter, 0.0) + flow
            flows_in[importer] = flows_in.get(importer, 0.0) + flow
            touched |= {exporter, importer}
        downstream = [(other, o) for other, o in items.items() if name in (o.get("feeds") or {})]
        for region in REGIONS:
            if region not in touched and not any(region in o.get("regions", {}) for _, o in downstream):
                continue
            reg = item.get("regions", {}).get(region, {})
            consumption = _v(reg, "consumption")
            supply = production(item, region) + _v(reg, "recycling_share") * consumption + flows_in.get(region, 0.0)
            feed_use = sum(production(o, region) * float(o["feeds"][name]["value"]) for _, o in downstream)
            demand = flows_out.get(region, 0.0) + consumption + feed_use
            if supply == 0.0 and demand == 0.0:
                continue
            rows.append((name, region, supply, demand))
    return rows


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    path = Path(args[0]) if args else DEFAULT
    quiet = "--quiet" in argv
    doc = yaml.safe_load(path.read_text())
    minerals = doc.get("minerals_stages") or doc["minerals"]
    worst = 0.0
    bad = []
    current = None
    for name, region, supply, demand in balances(minerals):
        scale = max(supply, demand)
        share = (supply - demand) / scale if scale > 0 else 0.0
        worst = max(worst, abs(share))
        if abs(share) > TOLERANCE:
            bad.append((name, region, share))
        if not quiet:
            if name != current:
                print(f"\n{name}")
                current = name
            flag = "  <-- over 15%" if abs(share) > TOLERANCE else ""
            print(f"  {region:20s} supply {supply:12.1f}  demand {demand:12.1f}  "
                  f"residual {supply - demand:10.1f} ({share:+.1%}){flag}")
    print(f"\nworst residual {worst:.1%}; {len(bad)} item/region pairs over {TOLERANCE:.0%}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
