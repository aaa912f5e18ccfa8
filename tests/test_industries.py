"""Downstream sectors: output = planned × min over critical inputs of (1 − d) + d × served share."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.engine import registry
from simulator.engine.industries import Industries
from simulator.engine.streams import replication_seeds
from simulator.engine.world import Mechanism, simulate
from simulator.scenario.schema import Scenario


class FakeMinerals(Mechanism):
    """Japan is served 40% of its gallium demand from day 10 and 70% of its graphite from day 20 while any
    countermeasure is in force; the ex-China gallium price doubles then."""

    section = "minerals"

    def __init__(self, ctx):
        super().__init__(ctx)
        r = ctx.recorder
        self.s = {k: (r.series(f"{k}.Japan", "consumption", "t/day"), r.series(f"{k}.Japan", "demand", "t/day"))
                  for k in ("gallium", "graphite_natural")}
        self.price = r.series("gallium", "price_ex_china", "USD/kg")

    def step(self, day):
        on = any(c.in_force for c in self.ctx.policy.countermeasures)
        for k, (cons, dem) in self.s.items():
            dem[day] = 2.0
            share = 0.4 if k == "gallium" and day >= 10 else 0.7 if day >= 20 else 1.0
            cons[day] = 2.0 * (share if on else 1.0)
        self.price[day] = 600.0 if on and day >= 10 else 300.0


WORLD = {"industries": {"sectors": {
    "cars": {"region": "Japan", "unit": "vehicles", "capacity_per_year": 365.25 * 100, "utilisation": 1.0,
             "unit_value_usd": 20000.0,
             "inputs": {"graphite_natural": {"dependent_share": 0.5, "cost_share": 0.01},
                        "gallium": {"dependent_share": 0.0, "cost_share": 0.02}}},
    "devices": {"region": "Japan", "unit": "USD", "capacity_per_year": 365.25 * 1000, "utilisation": 1.0,
                "unit_value_usd": 1.0, "inputs": {"gallium": {"dependent_share": 1.0, "cost_share": 0.05}}}}}}
WORLD["minerals"] = {}


@pytest.fixture(autouse=True)
def parts(monkeypatch):
    monkeypatch.setattr(registry, "MECHANISMS", [FakeMinerals, Industries])


def run():
    sc = Scenario.model_validate({"name": "t", "start": "2025-01-01", "horizon": "40d", "countermeasures": [
        {"id": "ban", "against": ["Japan"], "mineral": "gallium", "kind": "ban", "effective": "2025-01-01"}]})
    seq = replication_seeds(0, 1)[0]
    base = simulate(sc, WORLD, seq, 0, True)
    return base, simulate(sc, WORLD, seq, 0, False, base)


def test_critical_input_limits_output_by_dependent_share():
    base, s = run()
    cars, dev = s.get("industries.cars.output"), s.get("industries.devices.output")
    assert np.allclose(base.get("industries.cars.output"), 100.0)
    assert cars[5] == pytest.approx(100.0) and cars[25] == pytest.approx(100 * (0.5 + 0.5 * 0.7))
    assert dev[5] == pytest.approx(1000.0) and dev[15] == pytest.approx(400.0)


def test_non_critical_input_only_raises_cost():
    _, s = run()
    cars = s.get("industries.cars.output")
    assert cars[15] == pytest.approx(100.0)        # gallium served 40% but cars do not depend on it
    cost = s.get("industries.cars.unit_cost_change_pct")
    assert cost[5] == pytest.approx(0.0) and cost[15] == pytest.approx(0.02 * 100 * 1.0)


def test_value_and_binding_input_recorded():
    _, s = run()
    assert s.get("industries.cars.output_value")[25] == pytest.approx(85.0 * 20000)
    ev = [(e.day, e.entity, e.cause) for e in s.events if e.event == "binding_input"]
    assert (20.0, "industries.cars", "graphite_natural allows 85.0% of planned output") in ev
    assert any(d == 10.0 and ent == "industries.devices" for d, ent, _ in ev)
