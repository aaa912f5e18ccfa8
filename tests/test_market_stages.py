"""Feed links between the stages of a mineral (engine/market/supply.py): a stage consumes its feed where it is
made, its output is bounded by its own capacity and by the feed its region was served. Tiny world."""
from __future__ import annotations

import numpy as np

from .market_world import EFFECTIVE_DAY, measure, run_tw

SEA_CAP = 100 / 365.25
# Southeast Asia's refinery three times larger, used at a third: the same baseline output of 90 t/year
BIG_SEA = {"minerals.testium_metal.regions.Southeast_Asia.capacity": 300.0,
           "minerals.testium_metal.regions.Southeast_Asia.utilisation": 0.3}
NO_SPOT = {"minerals.common.spot.capacity_share": 0.0,      # and no restart of Southeast Asia's refinery
           "minerals.testium_metal.projects.Southeast_Asia_restart.long_run_cost": 1e9}


def test_feed_is_used_up_in_the_region_that_makes_the_next_stage():
    base, _ = run_tw([])
    g = base.get
    assert np.allclose(g("testium_ore.China.feed_use"), 1.1 * g("testium_metal.China.production"), rtol=1e-12)
    assert np.allclose(g("testium_ore.Southeast_Asia.feed_use"), 1.1 * g("testium_metal.Southeast_Asia.production"),
                       rtol=1e-12)
    # Japan's magnet makers use Japan's metal (its production is all primary: no magnet recycling)
    assert np.allclose(g("testium_metal.Japan.feed_use"), 0.3 * g("testium_magnet.Japan.production"), rtol=1e-12)
    assert np.allclose(g("testium_ore.China.demand"), g("testium_ore.China.feed_use") + 164 / 365.25, rtol=1e-12)
    assert g("testium_ore.Southeast_Asia.demand")[0] == g("testium_ore.Southeast_Asia.feed_use")[0] > 0


def test_ore_refined_in_china_cannot_reach_a_banned_buyer_as_metal():
    """Under a metal ban on Japan, Africa (ore only) sells Japan no metal, and Southeast Asia, the only refiner
    outside China, cannot refine more than its capacity: Japan's metal supply is bound by that refinery."""
    _, s = run_tw([measure()], NO_SPOT)
    assert not s.has("testium_metal.Africa.exports") and not s.has("testium_metal.Africa.production")
    sea = s.get("testium_metal.Southeast_Asia.production")
    assert np.all(sea <= SEA_CAP * (1 + 1e-12))
    assert sea[-60:].mean() > 0.99 * SEA_CAP                       # the price pulls it to full capacity
    _, big = run_tw([measure()], {**NO_SPOT, **BIG_SEA})
    sea_big = big.get("testium_metal.Southeast_Asia.production")
    assert sea_big.max() > 1.2 * SEA_CAP                            # a larger refinery refines more ...
    assert big.get("testium_ore.Africa_to_Southeast_Asia.flow")[-60:].mean() > \
        s.get("testium_ore.Africa_to_Southeast_Asia.flow")[-60:].mean() * 1.1      # ... of African ore
    jp, jp_big = s.get("testium_metal.Japan.consumption"), big.get("testium_metal.Japan.consumption")
    assert jp_big[EFFECTIVE_DAY:].sum() > jp[EFFECTIVE_DAY:].sum() * 1.02          # and Japan gets more metal


def test_feed_shortage_limits_the_output_of_the_next_stage():
    """Japanese magnet production falls once Japan's metal users run short."""
    base, s = run_tw([measure()], NO_SPOT)
    mag0 = base.get("testium_magnet.Japan.production")[0]
    mag = s.get("testium_magnet.Japan.production")
    served = s.get("testium_metal.Japan.consumption") / s.get("testium_metal.Japan.demand")
    short = np.flatnonzero(served < 1 - 1e-9)
    assert short.size > 30, "the metal ban should leave Japan's metal users short"
    assert np.all(mag[:short[0] + 1] >= mag0 * (1 - 1e-9))
    assert mag[short[-30:]].mean() < 0.9 * mag0
    # output is the planned output times yesterday's served share of the feed (never more)
    t = short[1:]
    assert np.all(mag[t] / mag0 <= served[t - 1] * 1.2 + 1e-9)      # planned output moves at most ~20% with price
    # Chinese magnet makers, fed by Chinese metal, do not fall short
    assert s.get("testium_magnet.China.production").min() >= 0.99 * base.get("testium_magnet.China.production")[0]
