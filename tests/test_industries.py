"""Downstream sectors (engine/industries.py): output = planned × min over critical inputs of (1 − d) + d × served
share; firms stop lines when their holder group runs dry; inputs raise unit cost."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from simulator.engine import registry
from simulator.engine.industries import Industries
from simulator.engine.market.data import REGIONS, load_market_data
from simulator.engine.streams import replication_seeds
from simulator.engine.world import Mechanism, simulate
from simulator.scenario.schema import Scenario

from .market_world import EFFECTIVE_DAY, default_world, events, measure, run, run_tw

MAGNET_BAN = [measure(items=["testium_magnet"], announced=None)]      # no front-running
# no spot market, and Japan's magnet plants already at full capacity: the ban leaves Japan's magnet users short
NO_SPOT = {"minerals.common.spot.capacity_share": 0.0, "minerals.testium_magnet.regions.Japan.capacity": 800.0,
           "minerals.testium_magnet.regions.Japan.utilisation": 1.0}


# ----- the formula, on a fake market with known served shares -----------------------------------------------------
class FakeMarkets(Mechanism):
    """Japan is served 40% of its gallium demand from day 10 and 70% of its graphite from day 20 while any
    countermeasure is in force (a quarter of graphite users stand); the ex-China gallium price doubles then."""

    section = "minerals"

    def __init__(self, ctx):
        super().__init__(ctx)
        r = ctx.recorder
        self.s = {k: (r.series(f"{k}.Japan", "consumption", "t/day"), r.series(f"{k}.Japan", "demand", "t/day"),
                      r.series(f"{k}.Japan", "users_short_share", "share")) for k in ("gallium", "graphite")}
        self.price = r.series("gallium", "price_ex_china", "USD/kg")

    def step(self, day):
        on = any(c.in_force for c in self.ctx.policy.countermeasures)
        for k, (cons, dem, short) in self.s.items():
            dem[day] = 2.0
            share = 0.4 if k == "gallium" and day >= 10 else 0.7 if day >= 20 else 1.0
            cons[day] = 2.0 * (share if on else 1.0)
            short[day] = 0.25 if on and share < 1.0 else 0.0
        self.price[day] = 600.0 if on and day >= 10 else 300.0


FAKE_WORLD = {"minerals": {}, "industries": {"sectors": {
    "cars": {"region": "Japan", "unit": "vehicles", "capacity_per_year": 365.25 * 100, "utilisation": 1.0,
             "unit_value_usd": 20000.0,
             "inputs": {"graphite": {"dependent_share": 0.5, "cost_share": 0.01},
                        "gallium": {"dependent_share": 0.0, "cost_share": 0.02}}},
    "devices": {"region": "Japan", "unit": "USD", "capacity_per_year": 365.25 * 1000, "utilisation": 1.0,
                "unit_value_usd": 1.0, "inputs": {"gallium": {"dependent_share": 1.0, "cost_share": 0.05}}}}}}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(registry, "MECHANISMS", [FakeMarkets, Industries])
    sc = Scenario.model_validate({"name": "t", "start": "2025-01-01", "horizon": "40d", "countermeasures": [
        {"id": "ban", "against": ["Japan"], "mineral": "gallium", "kind": "ban", "effective": "2025-01-01"}]})
    seq = replication_seeds(0, 1)[0]
    base = simulate(sc, FAKE_WORLD, seq, 0, True)
    return base, simulate(sc, FAKE_WORLD, seq, 0, False, base)


def test_critical_input_limits_output_by_its_dependent_share(fake):
    base, s = fake
    cars, dev = s.get("industries.cars.output"), s.get("industries.devices.output")
    assert np.allclose(base.get("industries.cars.output"), 100.0)
    assert cars[5] == pytest.approx(100.0) and cars[25] == pytest.approx(100 * (0.5 + 0.5 * 0.7))
    assert dev[5] == pytest.approx(1000.0) and dev[15] == pytest.approx(400.0)
    assert s.get("industries.cars.output_value")[25] == pytest.approx(85.0 * 20000)


def test_non_critical_input_only_raises_cost(fake):
    _, s = fake
    assert s.get("industries.cars.output")[15] == pytest.approx(100.0)   # gallium served 40%, cars do not need it
    cost = s.get("industries.cars.unit_cost_change_pct")
    assert cost[5] == pytest.approx(0.0) and cost[15] == pytest.approx(0.02 * 100 * 1.0)


def test_firms_stopped_share_is_the_dependent_share_of_users_short_and_events_name_the_input(fake):
    _, s = fake
    firms = s.get("industries.cars.firms_stopped_share")
    assert firms[15] == 0.0 and firms[25] == pytest.approx(0.5 * 0.25)
    assert s.get("industries.devices.firms_stopped_share")[15] == pytest.approx(1.0 * 0.25)
    stops = [(e.day, e.entity) for e in s.events if e.event == "line_stop"]
    assert (20.0, "industries.cars") in stops and (10.0, "industries.devices") in stops
    ev = [(e.day, e.entity, e.cause) for e in s.events if e.event == "binding_input"]
    assert (20.0, "industries.cars", "graphite allows 85.0% of planned output") in ev


# ----- on the tiny market world --------------------------------------------------------------------------------------
def test_sector_output_follows_the_served_share_of_its_critical_input():
    base, s = run_tw(MAGNET_BAN, NO_SPOT)
    served = s.get("testium_magnet.Japan.consumption") / s.get("testium_magnet.Japan.demand")
    out = s.get("industries.jp_motors.output")
    assert np.allclose(base.get("industries.jp_motors.output"), 1000.0)
    assert served.min() < 0.995, "the magnet ban should leave Japan's magnet users short"
    assert np.allclose(out, 1000.0 * np.minimum(1.0, 0.4 + 0.6 * served), rtol=1e-12)
    assert np.allclose(s.get("industries.jp_motors.limit_testium_magnet"), 0.4 + 0.6 * served)


def test_a_non_critical_input_raises_cost_and_never_output():
    """Japanese coatings use metal only as a cost: under a metal ban their output stays at plan while the metal
    price, and so their unit cost, rises."""
    _, s = run_tw([measure()], NO_SPOT)
    assert (s.get("testium_metal.Japan.consumption") < s.get("testium_metal.Japan.demand") * 0.95).any()
    assert np.all(s.get("industries.jp_coatings.output") == 500.0)
    price = s.get("testium_metal.price_ex_china")
    cost = s.get("industries.jp_coatings.unit_cost_change_pct")
    assert np.allclose(cost, 0.1 * (price / price[0] - 1.0) * 100.0, rtol=1e-9, atol=1e-12)
    assert cost.max() > 10.0


def _first_stop(rec) -> float:
    firms = rec.get("industries.jp_motors.firms_stopped_share")
    stops = events(rec, "line_stop", "industries.jp_motors")
    if not stops:
        assert np.all(firms == 0.0)
        return np.inf
    d = int(stops[0])
    assert np.all(firms[:d] == 0.0) and firms[d] > 0.0
    return stops[0]


def test_the_first_line_stop_comes_before_the_national_stock_runs_out():
    _, s = run_tw(MAGNET_BAN, NO_SPOT)
    d = int(_first_stop(s))         # (an infinite first stop fails here: the default must stop lines)
    stock = s.get("testium_magnet.Japan.industry_stock")
    assert stock[d] > 0.3 * stock[EFFECTIVE_DAY]          # far from empty when the first lines stop
    assert s.get("industries.jp_motors.firms_stopped_share")[d] <= 0.6 * 0.25
    # more cover, or less spread between firms, moves the first stop later
    _, more = run_tw(MAGNET_BAN, {**NO_SPOT, "minerals.testium_magnet.regions.Japan.cover_days": 90.0})
    _, even = run_tw(MAGNET_BAN, {**NO_SPOT, "minerals.common.stocks.holder_cover_spread": 0.2})
    assert _first_stop(more) > d + 10
    assert _first_stop(even) > d + 10


def test_a_chinese_ban_on_single_sourced_chips_cuts_european_car_output():
    w = default_world()
    ban = [{"id": "nexperia", "against": ["EU"], "mineral": "chips", "items": ["china_sourced_chips"],
            "kind": "ban", "effective": "2026-02-01"}]
    base, s = run(w, ban, "1y")
    out, out0 = s.get("industries.eu_cars.output"), base.get("industries.eu_cars.output")
    assert np.allclose(out0, out0[0])
    assert np.all(out[:EFFECTIVE_DAY] == out0[:EFFECTIVE_DAY])
    assert out.min() < 0.9 * out0[0]
    served = s.get("china_sourced_chips.EU.consumption") / s.get("china_sourced_chips.EU.demand")
    assert np.allclose(s.get("industries.eu_cars.limit_china_sourced_chips"), 0.5 + 0.5 * served)
    assert events(s, "line_stop", "industries.eu_cars")
    assert np.all(s.get("china_sourced_chips.China_to_EU.flow")[EFFECTIVE_DAY:] == 0.0)


def test_a_chinese_magnet_ban_stops_us_car_lines_and_costs_us_gdp():
    """US car making (10.6 M vehicles a year, every one with NdFeB magnets) stops lines once its magnet users'
    stocks run dry, as Ford's Chicago plant did in May 2025; the lost output is a cut of the US motor-vehicle cell.
    (A ban on the US alone is deflected in part: Japanese and Southeast Asian magnets go to the US, up to each
    edge's cap, and Chinese ones replace them.)"""
    w = default_world()
    ban = [{"id": "magnets", "against": ["all"], "mineral": "rare_earths", "items": ["ndfeb_magnets"],
            "kind": "ban", "effective": "2026-02-01"}]
    base, s = run(w, ban, "1y")
    out, out0 = s.get("industries.us_cars.output"), base.get("industries.us_cars.output")
    assert np.all(out[:EFFECTIVE_DAY + 20] == out0[:EFFECTIVE_DAY + 20])     # stocks carry the first weeks
    assert out.min() < 0.9 * out0.max()
    assert events(s, "line_stop", "industries.us_cars")
    lost = s.get("economy.US.motor_vehicles.value_added_lost").sum()
    assert lost > 0.0 and s.get("economy.US.gdp_loss").sum() > lost      # suppliers lose too


@pytest.mark.parametrize("mineral, items, sector, cell", [
    ("graphite", None, "korea_batteries", "electrical_equipment_batteries"),
    ("rare_earths", ["ndfeb_magnets"], "korea_cars", "motor_vehicles"),
])
def test_a_chinese_ban_on_south_korea_cuts_its_cells_and_cars_and_costs_its_gdp(mineral, items, sector, cell):
    """Korea's cell makers take ~98% of their anode graphite from China, its car makers most of their ~8 kt of
    magnets a year: a ban on Korea alone stops lines once their stocks are gone (edges capped, so third countries
    cannot re-route it all) and cuts the Korean table cell they belong to."""
    w = default_world()
    ban = [{"id": "ban", "against": ["South_Korea"], "mineral": mineral, "kind": "ban", "effective": "2026-02-01"}
           | ({"items": items} if items else {})]
    base, s = run(w, ban, "1y")
    out, out0 = s.get(f"industries.{sector}.output"), base.get(f"industries.{sector}.output")
    assert np.all(out[:EFFECTIVE_DAY] == out0[:EFFECTIVE_DAY])
    assert out.sum() < 0.85 * out0.sum() and out.min() < 0.7 * out0.max()
    assert events(s, "line_stop", f"industries.{sector}")
    assert s.get(f"economy.South_Korea.{cell}.value_added_lost").sum() > 0.0


def test_a_world_wide_chinese_antimony_stop_reaches_us_users():
    """The US uses ~21 kt of antimony a year (USGS), half of it imported from China: its flame-retardant,
    battery-grid and ammunition makers run short when every Chinese edge stops."""
    w = default_world()
    ban = [{"id": "sb", "against": ["all"], "mineral": "antimony", "kind": "ban", "effective": "2026-02-01"}]
    base, s = run(w, ban, "1y")
    out, out0 = (r.get("industries.us_flame_retardants_batteries.output") for r in (s, base))
    assert out.min() < 0.99 * out0.max()
    assert s.get("economy.US.electrical_equipment_batteries.value_added_lost").sum() > 0.0


#: inputs whose users make something that stops without them (components and refined metals; flake graphite's
#: refractories and foundries are left to its price)
CRITICAL_ITEMS = ("gallium_refined", "germanium_refined", "antimony_refined", "graphite_spherical",
                  "graphite_synthetic", "ndfeb_magnets", "china_sourced_chips")


def test_every_large_user_region_of_a_critical_item_has_a_sector_that_stops_without_it():
    """A region of the economy's table (China aside) that takes ≥ 5% of the world's final use of a critical item
    must have a downstream sector that needs it, or a ban on that region costs it nothing but a price (the
    original complaint about Japan, found again for the EU's germanium and the US's and EU's antimony)."""
    w = default_world()
    d = load_market_data(w, dt.date(2026, 1, 1), 10)
    read = {(item, s["region"]) for s in w["industries"]["sectors"].values()
            for item, v in s["inputs"].items() if v["dependent_share"] > 0}
    mapped = set(w["economy"]["sector_map"])
    assert set(w["industries"]["sectors"]) <= mapped              # every sector's loss reaches the table
    missing = []
    for item in CRITICAL_ITEMS:
        i = d.items.index(item)
        world_use = d.final0[i].sum()
        for r, region in enumerate(REGIONS):
            if region in w["economy"]["regions"] and region != "China" and d.final0[i, r] >= 0.05 * world_use \
                    and (item, region) not in read:
                missing.append((item, region))
    assert not missing
