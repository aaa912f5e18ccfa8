"""Prices and supply responses (engine/market/prices.py, supply.py): dated reference prices, China's state reserve
buying and output cuts under an export ban, and new capacity after its lead time. Tiny world."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from simulator.engine.market.data import dated_path

from .market_world import EFFECTIVE_DAY, events, measure, run_tw, world

BAN_ALL = [measure(against=["all"])]
NO_RESERVE = {"minerals.common.china_reserve.max_purchase_share": 0.0}
NO_CUTS = {"minerals.common.china_output.max_cut_share": 0.0}
LATER = slice(EFFECTIVE_DAY + 60, None)


def _path(start: str, days: int, key: str = "ex_china") -> np.ndarray:
    refs = world()["minerals"]["testium_metal"]["price"]["reference"]
    return dated_path(refs, key, dt.date.fromisoformat(start), days)


def test_dated_path_interpolates_between_years_and_is_flat_outside():
    p = _path("2020-01-01", 2000)
    assert p[0] == 100.0 and p[-1] == 150.0
    mid = (dt.date(2022, 7, 1) - dt.date(2020, 1, 1)).days          # halfway between 1 July 2020 and 2024
    assert p[mid] == pytest.approx(125.0, abs=0.05)


def test_a_run_starts_from_the_reference_price_of_its_start_date_and_follows_the_dated_path():
    from .market_world import run
    w = world(industries=False)
    early, _ = run(w, [], "1y", start="2022-01-01")
    late, _ = run(w, [], "1y", start="2026-01-01")
    pe, pl = early.get("testium_metal.price_ex_china"), late.get("testium_metal.price_ex_china")
    path = _path("2022-01-01", 365)
    assert pe[0] == pytest.approx(path[0], rel=1e-12) and pl[0] == 150.0
    assert pe[0] < 0.85 * pl[0]
    assert pe[-1] > pe[0] * 1.08                                # the baseline price rises with the path ...
    assert np.allclose(pe, path, rtol=0.01)                     # ... lagging it by the price time constant only
    pc = early.get("testium_metal.price_china")
    assert np.allclose(pc, _path("2022-01-01", 365, "china"), rtol=0.01)
    assert np.allclose(pl, 150.0, rtol=1e-12)                   # flat after the last dated point


def test_china_state_reserve_buying_holds_up_the_domestic_price_under_a_ban():
    _, on = run_tw(BAN_ALL, NO_CUTS)
    _, off = run_tw(BAN_ALL, {**NO_CUTS, **NO_RESERVE})
    p_on, p_off = on.get("testium_metal.price_china"), off.get("testium_metal.price_china")
    assert np.all(p_on[LATER] >= p_off[LATER] * (1 - 1e-9)) and p_on[LATER].mean() > 1.1 * p_off[LATER].mean()
    g = on.get("testium_metal.China.strategic_stock")
    assert g[0] == 0.0 and g[-1] > 30.0                         # the purchases are in China's strategic stock
    assert np.all(np.diff(g) >= -1e-12)
    assert np.all(off.get("testium_metal.China.strategic_stock") == 0.0)
    start = events(on, "state_reserve_buying_started", "testium_metal.China")
    assert start and start[0] > EFFECTIVE_DAY
    assert np.all(g[:int(start[0])] == 0.0)
    ref_cn = 140.0
    assert p_on[int(start[0]) - 1] < 0.95 * ref_cn            # it buys only below its buying level


def test_china_output_cuts_hold_up_the_domestic_price_under_a_ban():
    base, cut = run_tw(BAN_ALL, NO_RESERVE)
    _, free = run_tw(BAN_ALL, {**NO_RESERVE, **NO_CUTS})
    p_cut, p_free = cut.get("testium_metal.price_china"), free.get("testium_metal.price_china")
    assert p_cut[LATER].mean() > 1.1 * p_free[LATER].mean()
    q_cut, q_free = cut.get("testium_metal.China.production"), free.get("testium_metal.China.production")
    assert q_cut[LATER].mean() < 0.97 * q_free[LATER].mean()
    # no cut without a restriction, even at a low price: the baseline runs at its planned output
    assert np.allclose(base.get("testium_metal.China.production"), 1760 / 365.25, rtol=1e-12)


def test_new_capacity_appears_only_after_its_lead_time():
    tweaks = {"minerals.common.investment.persistence_days": 60.0}
    _, s = run_tw(BAN_ALL, tweaks)
    p = world()["minerals"]["testium_metal"]["projects"]["Southeast_Asia_restart"]
    started = events(s, "restart_started", "testium_metal.Southeast_Asia")
    online = events(s, "restart_online", "testium_metal.Southeast_Asia")
    assert started and online
    assert online[0] - started[0] == pytest.approx(p["lead_time"], abs=1.0)
    price = s.get("testium_metal.price_ex_china")
    assert price[int(started[0])] > p["long_run_cost"]
    new = s.get("testium_metal.new_capacity_online")
    assert np.all(new[:int(online[0])] == 0.0) and new[-1] > 0.0
    assert new.max() <= p["capacity"] * (1 + 1e-9)
    sea = s.get("testium_metal.Southeast_Asia.production")
    assert sea[:int(online[0])].max() <= 100 / 365.25 * (1 + 1e-12) < sea[-1]


def test_china_reserve_buying_stops_when_the_last_restriction_ends():
    """The reserve buys only under an export restriction: when the ban ends, buying stops that day, with an event
    saying why (it used to stop silently, and a later restriction would not report buying again)."""
    _, s = run_tw([measure(against=["all"], ends="2026-07-20")], NO_CUTS)
    ended = events(s, "ended", "cm")
    assert events(s, "state_reserve_buying_started", "testium_metal.China")[0] < ended[0]
    assert events(s, "state_reserve_buying_stopped", "testium_metal.China") == ended
    assert [e.cause for e in s.events if e.event == "state_reserve_buying_stopped"] == ["export restriction ended"]
    g = s.get("testium_metal.China.strategic_stock")
    end = int(ended[0])
    assert g[end - 1] > g[end - 30] and np.all(np.diff(g[end:]) <= 0.0)     # bought until the end, not after
