"""Acceptance of the staged mineral model on the shipped Chinese ban of six minerals on Japan (issue 11).

A ban on Japan must bite where real ones did: Japan's shortfall grows with the ban's scope, shrinks with the
countermeasure's leakage and with Japan's stockpile, and a ban never supplies Japan better than licensing of the
same scope. One replication of a shortened horizon keeps each run to about a second.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulator.api import run

SCENARIO = "scenarios/china_minerals_ban_japan.yaml"
ID = "countermeasures__cn_minerals_ban_japan"


def shortfall(res, region: str = "Japan") -> dict[str, float]:
    """Per item, the cumulative unmet demand of ``region`` as a share of its cumulative demand (summed over
    replications), so tonnes of gallium and of graphite weigh alike."""
    data = res.pairs[0].scenario.data
    out = {}
    for key in data:
        if key.endswith(f".{region}.unmet_demand"):
            item = key.split(".")[0]
            demand = res.daily(f"{item}.{region}.demand").sum()
            out[item] = float(res.daily(key).sum() / demand) if demand > 0 else 0.0
    return out


def stockpiled_items(res, region: str = "Japan") -> list[str]:
    """Items for which ``region`` holds a strategic stockpile in the world data."""
    mins = res.loaded.world.values["minerals"]
    return [k for k, v in mins.items() if k != "common" and v.get("regions", {}).get(region, {}).get("strategic_days")]


def go(**kw):
    return run(SCENARIO, replications=1, seed=3, horizon="2y", **kw)


@pytest.fixture(scope="module")
def full():
    return go()


def test_a_ban_on_japan_leaves_japanese_users_short(full):
    s = shortfall(full)
    assert sum(s.values()) > 0.05, s
    assert sum(v > 0.01 for v in s.values()) >= 2, s


def test_shortfall_grows_with_the_scope_of_the_ban(full):
    narrow = go(**{f"{ID}__mineral": "[rare_earths]"})
    wider = go(**{f"{ID}__mineral": "[rare_earths, graphite]"})
    a, b, c = (sum(shortfall(r).values()) for r in (narrow, wider, full))
    assert a < b < c


def test_shortfall_shrinks_with_leakage(full):
    tight = go(**{f"{ID}__leakage": 0.0})
    leaky = go(**{f"{ID}__leakage": 0.4})
    assert sum(shortfall(tight).values()) > sum(shortfall(full).values()) > sum(shortfall(leaky).values())


def test_shortfall_shrinks_with_japans_stockpile(full):
    items = stockpiled_items(full)
    assert items, "Japan holds JOGMEC stockpiles of the designated rare metals (japan.md)"
    none = go(**{f"minerals.{item}.regions.Japan.strategic_days": 0.0 for item in items})
    assert sum(shortfall(none).values()) > sum(shortfall(full).values())


def test_a_ban_never_supplies_japan_better_than_licensing_of_the_same_scope(full):
    lic = go(**{f"{ID}__kind": "licensing"})
    s_ban, s_lic = shortfall(full), shortfall(lic)
    for item in s_ban:
        assert s_ban[item] >= s_lic[item] - 1e-9, item


def test_japanese_car_output_falls_under_the_ban(full):
    out = full.daily("industries.japan_cars.output")[0]
    assert out.min() < 0.99 * out[0]


def _first_stop_and_stock(**kw):
    """Japanese cars' first line stop (day) under a leak-free rare-earth ban on Japan, and the national stock of
    magnets that day as a share of its level before the ban."""
    res = go(**{f"{ID}__mineral": "[rare_earths]", f"{ID}__leakage": 0.0}, **kw)
    stop = res.daily("industries.japan_cars.firms_stopped_share")[0]
    assert (stop > 0).any(), "a leak-free rare-earth ban must stop some Japanese car lines"
    day = int(np.argmax(stop > 0))
    stock = res.daily("ndfeb_magnets.Japan.industry_stock")[0]
    return day, stock[day] / stock[0]


def test_a_rare_earth_cut_stops_the_first_car_lines_while_national_stocks_remain():
    day, left = _first_stop_and_stock()
    assert left > 0.25, f"first line stop on day {day} with {left:.0%} of Japan's magnet stock left"


def test_the_first_line_stop_moves_with_the_spread_of_firms_buffers():
    wide, _ = _first_stop_and_stock()
    narrow, _ = _first_stop_and_stock(**{"minerals.common.stocks.holder_cover_spread": 0.2})
    assert narrow > wide + 14, (wide, narrow)
