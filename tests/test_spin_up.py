"""Measures dated before ``start`` are played from their announcement (spin-up) and then cut off the report."""
from __future__ import annotations

import datetime as _dt

import numpy as np

from simulator.runner import run_pair, spin_up_days
from simulator.scenario.schema import Scenario
from simulator.scenario.world_data import load_world

LICENSING = {"id": "ga", "against": ["all"], "mineral": ["gallium", "germanium"], "kind": "licensing",
             "announced": "2023-07-03", "effective": "2023-08-01"}
WORLD = {"minerals": load_world("default").values["minerals"]}


def scenario(start: str, horizon: str) -> Scenario:
    return Scenario.model_validate({"name": "t", "start": start, "horizon": horizon, "seed": 3,
                                    "countermeasures": [LICENSING]})


def test_report_starts_from_a_state_that_already_reflects_earlier_measures():
    late = scenario("2024-01-01", "180d")
    assert spin_up_days(late) == (_dt.date(2024, 1, 1) - _dt.date(2023, 7, 3)).days
    full = scenario("2023-07-03", f"{spin_up_days(late) + 180}d")
    a, b = run_pair(late, WORLD, 0), run_pair(full, WORLD, 0)
    lead = spin_up_days(late)
    assert a.scenario.days == 180
    for key in ("gallium_primary.price_ex_china", "gallium_primary.China.exports", "germanium_refined.Japan.industry_stock"):
        np.testing.assert_array_equal(a.scenario.get(key), b.scenario.get(key)[lead:])
        np.testing.assert_array_equal(a.baseline.get(key), b.baseline.get(key)[lead:])
    # the licensing regime is months old on 1 Jan 2024: licensed exports flow from day 0, no fresh collapse
    assert a.scenario.get("gallium_primary.China.exports")[:30].sum() > 0
    # events of the spin-up keep their dates, before the reported start
    assert [e.day for e in a.scenario.events if e.entity == "ga" and e.event == "effective"] == [-lead + 29]


def test_no_spin_up_without_earlier_measures():
    assert spin_up_days(scenario("2023-06-01", "1y")) == 0
