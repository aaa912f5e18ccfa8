"""Checks on the stage-based mineral world data (world/default/minerals.yaml, issue 11).

Data only: the file must load with the default world, name the 14 items and 13 fixed regions, give every number a
source or a labelled assumption whose range holds the value, carry dated reference prices, and balance per item and
region within the loader's 15% tolerance (same arithmetic as benchmarks/check_stage_balance.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "simulator/scenario/world/default/minerals.yaml"
ITEMS = ["gallium_primary", "gallium_refined", "germanium_concentrate", "germanium_refined", "graphite_flake",
         "graphite_spherical", "graphite_synthetic", "antimony_ore", "antimony_refined", "ree_light_concentrate",
         "ree_light_oxide", "ree_heavy_concentrate", "ree_heavy_oxide", "ndfeb_magnets"]
REGIONS = ["China", "Japan", "South_Korea", "Taiwan", "US", "EU", "Southeast_Asia", "India",
           "Russia_Central_Asia", "Africa", "Australia_Canada", "Latin_America", "rest_of_world"]


@pytest.fixture(scope="module")
def data() -> dict:
    return yaml.safe_load(FILE.read_text(encoding="utf-8"))["minerals"]


def _checker():
    spec = importlib.util.spec_from_file_location("check_stage_balance", ROOT / "benchmarks/check_stage_balance.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _leaves(node, path=()):
    if isinstance(node, dict):
        if "value" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from _leaves(v, path + (str(k),))


def test_default_world_loads_with_the_stage_file():
    from simulator.scenario.world_data import load_world
    world = load_world("default")
    assert "minerals" in world.values and "minerals_stages" not in world.values


def test_items_regions_and_edges_are_the_fixed_vocabulary(data):
    assert [k for k in data if k != "common"] == ITEMS
    for name in ITEMS:
        item = data[name]
        assert {"mineral", "stage", "unit", "price_unit", "price", "regions", "edges"} <= set(item), name
        assert set(item["regions"]) <= set(REGIONS), name
        for edge in item["edges"]:
            a, b = edge.split("_to_")
            assert a in REGIONS and b in REGIONS and a != b, (name, edge)
        for feed in item.get("feeds", {}):
            assert data[feed]["mineral"] == item["mineral"], (name, feed)


def test_common_section_holds_the_behavioural_parameters(data):
    assert {"price", "demand", "supply", "stocks", "strategic", "trade", "spot", "china_reserve", "china_output",
            "investment"} <= set(data["common"])

def test_every_number_has_a_source_or_a_ranged_assumption(data):
    bad, seen = [], 0
    for name in ITEMS:
        for path, leaf in _leaves(data[name], (name,)):
            seen += 1
            if "source" in leaf:
                continue
            lo, hi = leaf.get("range", [None, None])
            if "assumption" not in leaf or lo is None or not lo <= leaf["value"] <= hi:
                bad.append(".".join(path))
    assert seen > 500 and not bad, (seen, bad[:10])


def test_dated_reference_prices_and_ceilings(data):
    for name in ITEMS:
        price = data[name]["price"]
        years = set(price["reference"])
        # dated points are the no-policy path: none after the chain's first control (rare earths Apr 2025,
        # antimony Aug 2024, graphite Oct 2023, gallium and germanium Jul 2023)
        last = {"rare_earths": 2024, "antimony": 2024, "graphite": 2023, "gallium": 2023, "germanium": 2023}
        assert {2019, 2022, 2023} <= years and max(years) <= last[data[name]["mineral"]], (name, sorted(years))
        for year, sides in price["reference"].items():
            assert {"ex_china", "china"} <= set(sides), (name, year)
        assert price["ceiling_ratio"]["value"] > 1.0, name


def test_every_item_and_region_balances_within_15_percent(data):
    rows = _checker().balances(data)
    worst = max(abs(s - d) / max(s, d) for _, _, s, d in rows if max(s, d) > 0)
    assert worst <= 0.15, worst


def test_feed_for_chinese_refining_comes_from_outside_china(data):
    """The issue's point: ore/concentrate bound for Chinese refineries is an explicit edge into China."""
    for name in ("antimony_ore", "ree_light_concentrate", "ree_heavy_concentrate", "graphite_flake"):
        into_china = sum(e["flow"]["value"] for k, e in data[name]["edges"].items() if k.endswith("_to_China"))
        assert into_china > 0, name


def test_japan_uses_every_finished_item(data):
    for name in ("gallium_refined", "germanium_refined", "graphite_spherical", "graphite_synthetic",
                 "antimony_refined", "ree_light_oxide", "ree_heavy_oxide", "ndfeb_magnets"):
        japan = data[name]["regions"]["Japan"]
        assert japan["consumption"]["value"] > 0, name
        assert "China_to_Japan" in data[name]["edges"], name
