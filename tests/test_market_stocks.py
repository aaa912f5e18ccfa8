"""Stocks (engine/market/stocks.py): holder groups with different days of cover, the ex-China spot market and
the strategic stockpile release. Tiny world, metal ban on Japan (or the US) from day 31."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.market.data import holder_covers
from simulator.engine.market.stocks import HolderGroups, sourcing_classes

from .market_world import EFFECTIVE_DAY, events, measure, run_tw, world

NO_SPOT = {"minerals.common.spot.capacity_share": 0.0}
POOLED = {**NO_SPOT, "minerals.common.stocks.holder_cover_spread": 0.0}
US_BAN = [measure(against=["US"])]
US_DEMAND = 250 / 365.25
P_REF = 150.0


def test_holder_covers_are_lognormal_quantiles_with_the_mean_cover():
    c = holder_covers(60.0, 0.6, 8)
    assert c.mean() == pytest.approx(60.0) and np.all(np.diff(c) > 0)
    assert c[0] == pytest.approx(0.35 * 60, rel=0.1)            # the thinnest eighth holds ~35% of the mean
    assert np.array_equal(holder_covers(60.0, 0.0, 8), np.full(8, 60.0))


def test_the_first_users_run_short_well_before_the_regional_stock_is_empty():
    _, s = run_tw([measure()], NO_SPOT)
    day = events(s, "first_users_short", "testium_metal.Japan")
    assert day, "Japan's thinnest-stocked metal users should run short under the ban"
    d = int(day[0])
    stock = s.get("testium_metal.Japan.industry_stock")
    short = s.get("testium_metal.Japan.users_short_share")
    assert np.all(short[:d] == 0.0) and 0.0 < short[d] < 0.5
    assert stock[d] > 0.5 * stock[0]                               # national stock still more than half full
    assert s.get("testium_metal.Japan.unmet_demand")[d] > 0.0       # those users' demand goes unmet
    # with one pooled stock (spread 0) nobody is short until the pool is nearly empty: much later
    _, pooled = run_tw([measure()], POOLED)
    day0 = events(pooled, "first_users_short", "testium_metal.Japan")
    assert not day0 or day0[0] > d + 60, (d, day0)


def _divert(cn_contract: float, days: int = 120) -> tuple[np.ndarray, float]:
    """An importer whose China-sourced users bought 0.1 of its 1.0 a day from China: Chinese material diverted
    from a restricted market brings 0.4 a day, while its other supply falls from 0.9 to 0.5. Holder groups'
    stocks after ``days`` and the short share on the last day."""
    cover = holder_covers(40.0, 0.6, 4)[None, None, :]
    w, c, cov = sourcing_classes(cover, np.array([[0.1]]), np.array([0.8]))
    hg = HolderGroups(w, c)
    demand = np.array([[1.0]])
    S = w * cov * demand[:, :, None]
    one = np.ones((1, 1))
    for _ in range(days):
        _, short, _ = hg.consume(S, S.sum(axis=-1), 0.4 * one, 0.5 * one, 0.9 * one, cn_contract * one,
                                 np.zeros((1, 1)), demand, 40.0 * one, 30.0 * one)
    return S, float(short[0, 0])


def test_chinese_material_beyond_the_contracts_goes_to_the_users_short_of_it():
    """Diverted Chinese arrivals used to reach only the China-sourced users, whose stocks grew without end while
    the others ran short (the US's gallium users under a Chinese ban on Japan: the US's stocks rose to 78 days of
    cover while four in five of its users were short, 2026-12-07). Beyond their contracted level they go by need."""
    S, short = _divert(cn_contract=0.1)
    S_old, short_old = _divert(cn_contract=np.inf)            # every Chinese arrival to the China-sourced users
    china_sourced = slice(0, 4)
    assert S_old[0, 0, china_sourced].sum() > 2.0 * S[0, 0, china_sourced].sum()
    assert short < short_old
    assert S.sum() == pytest.approx(S_old.sum(), rel=0.5)      # the same supply, spread by need


def test_the_spot_market_supplies_a_banned_importer_whose_only_supplier_is_china():
    _, s = run_tw(US_BAN)
    _, closed = run_tw(US_BAN, NO_SPOT)
    key = "testium_metal.US"
    spot = s.get(f"{key}.spot_imports")
    assert spot[:EFFECTIVE_DAY].sum() == 0.0 and spot[EFFECTIVE_DAY:].sum() > 0.0
    assert np.all(s.get(f"{key}.imports") >= spot)
    assert closed.get(f"{key}.unmet_demand").sum() > 0.0
    assert s.get(f"{key}.unmet_demand").sum() < 0.8 * closed.get(f"{key}.unmet_demand").sum()
    assert s.get("testium_metal.China.spot_exports").sum() == 0.0 == s.get("testium_metal.China.spot_imports").sum()
    # spot goods leave the sellers before they arrive
    regions = ("Japan", "US", "Southeast_Asia")
    sold = sum(s.get(f"testium_metal.{r}.spot_exports") for r in regions)
    bought = sum(s.get(f"testium_metal.{r}.spot_imports") for r in regions)
    in_transit = np.cumsum(sold) - np.cumsum(bought)
    lag = int(world()["minerals"]["common"]["spot"]["transport_days"])
    assert np.all(in_transit >= -1e-12) and in_transit[-1] <= sold[-lag:].sum() + 1e-12


def test_spot_supply_comes_only_at_a_price_is_bounded_and_never_chinese_to_a_restricted_buyer():
    for share in (1.0, 0.05):
        _, s = run_tw(US_BAN, {"minerals.common.spot.capacity_share": share})
        sold = sum(s.get(f"testium_metal.{r}.spot_exports") for r in ("Japan", "Southeast_Asia"))
        days = np.flatnonzero(sold > 0)
        assert days.size > 0
        assert np.all(s.get("testium_metal.price_ex_china")[days - 1] > P_REF)   # holders sell when it pays
        assert np.all(s.get("testium_metal.US.spot_imports") <= share * US_DEMAND * (1 + 1e-12))
        # the US is restricted: what it buys on the spot market is never Chinese-origin
        assert np.all(s.get("testium_metal.US.imports_chinese_origin")[EFFECTIVE_DAY + 30:] == 0.0)
    _, tight = run_tw(US_BAN, {"minerals.common.spot.capacity_share": 0.05})
    assert tight.get("testium_metal.US.spot_imports").max() == pytest.approx(0.05 * US_DEMAND, rel=1e-9)
    # holders that do not respond to the price (elasticity 0) sell less
    _, rigid = run_tw(US_BAN, {"minerals.common.spot.release_elasticity": 0.0})
    _, elastic = run_tw(US_BAN)
    assert rigid.get("testium_metal.US.spot_imports").sum() < 0.9 * elastic.get("testium_metal.US.spot_imports").sum()


def test_strategic_release_fires_on_its_trigger():
    base, s = run_tw([measure()], NO_SPOT)
    g = s.get("testium_metal.Japan.strategic_stock")
    assert np.all(base.get("testium_metal.Japan.strategic_stock") == g[0]) and g[0] > 0
    starts = events(s, "strategic_release_started", "testium_metal.Japan")
    assert starts, "Japan's stockpile should be released when its metal runs short"
    d = int(starts[0])
    assert np.all(g[:d] == g[0]) and g[d] < g[0]
    cover = s.get("testium_metal.Japan.days_of_cover")
    price = s.get("testium_metal.price_ex_china") / P_REF
    short = s.get("testium_metal.Japan.users_short_share")
    c = world()["minerals"]["common"]["strategic"]

    def fired(t: int) -> bool:       # on yesterday's price, cover and users short
        return bool(cover[t] < c["release_cover_days"] or price[t] >= c["release_price_ratio"]
                    or short[t] >= c["release_short_share"])
    assert fired(d - 1) and not fired(d - 2)
    # stricter triggers fire later
    strict = {"minerals.common.strategic.release_price_ratio": 4.0,
              "minerals.common.strategic.release_short_share": 0.6}
    _, late = run_tw([measure()], {**NO_SPOT, **strict})
    later = events(late, "strategic_release_started", "testium_metal.Japan")
    assert not later or later[0] > d + 10
