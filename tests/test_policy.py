"""Trigger semantics of the policy engine, with a small test mechanism that records a known signal."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.engine import registry
from simulator.engine.streams import replication_seeds
from simulator.engine.world import Mechanism, simulate
from simulator.scenario.schema import Scenario


class Signal(Mechanism):
    """Test part: ``signal.level`` falls linearly from 1 by ``slope`` a day, times 0.5 while any control is in
    force; ``signal.noise`` is a draw from a named stream (to check common random numbers)."""

    section = "signal"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.level = ctx.recorder.series("signal", "level", "share")
        self.noise = ctx.recorder.series("signal", "noise", "1")
        self.rng = ctx.streams.get("signal.noise")
        self.slope = ctx.world["signal"]["slope"]

    def step(self, day: int) -> None:
        cut = 0.5 if any(s.in_force for s in self.ctx.policy.controls) else 1.0
        self.level[day] = (1.0 - self.slope * day) * cut
        self.noise[day] = self.rng.random()


@pytest.fixture(autouse=True)
def signal_part(monkeypatch):
    monkeypatch.setattr(registry, "MECHANISMS", [Signal])


WORLD = {"signal": {"slope": 0.01}}


def ctrl(id_: str, **kw) -> dict:
    d = {"id": id_, "by": "Japan", "measures": ["servicing"], "scope": {"vendor_countries": ["Japan"]}}
    d.update(kw)
    return d


def cm(id_: str, **kw) -> dict:
    d = {"id": id_, "against": ["Japan"], "mineral": "gallium", "kind": "ban"}
    d.update(kw)
    return d


def scenario(controls=(), countermeasures=(), horizon="200d", seed=1) -> Scenario:
    return Scenario.model_validate({"name": "t", "start": "2025-01-01", "horizon": horizon, "seed": seed,
                                    "controls": list(controls), "countermeasures": list(countermeasures)})


def run(sc: Scenario, rep: int = 0):
    seq = replication_seeds(sc.seed, rep + 1)[rep]
    base = simulate(sc, WORLD, seq, rep, True)
    return base, simulate(sc, WORLD, seq, rep, False, base)


def days_of(rec, entity: str, event: str) -> list[float]:
    return [e.day for e in rec.events if e.entity == entity and e.event == event]


def test_dated_measure_announces_takes_effect_and_ends_on_its_dates():
    _, s = run(scenario([ctrl("a", announced="2025-01-11", effective="2025-02-01", ends="2025-03-01")]))
    assert days_of(s, "a", "announced") == [10] and days_of(s, "a", "effective") == [31]
    assert days_of(s, "a", "ended") == [59]
    lvl = s.get("signal.level")
    assert lvl[30] == pytest.approx(1 - 0.3) and lvl[31] == pytest.approx((1 - 0.31) * 0.5)
    assert lvl[59] == pytest.approx(1 - 0.59)


def test_after_trigger_waits_for_the_delay():
    sc = scenario([ctrl("a", effective="2025-02-01")],
                  [cm("b", trigger={"after": "a", "delay": "30d"}, notice="10d")])
    _, s = run(sc)
    assert days_of(s, "b", "announced") == [61] and days_of(s, "b", "effective") == [71]
    assert "effective of a" in [e.cause for e in s.events if e.entity == "b"][0]


def test_after_trigger_probability_matches_over_many_seeds():
    sc = scenario([ctrl("a", effective="2025-02-01")], [cm("b", trigger={"after": "a", "probability": 0.3})],
                  horizon="60d")
    n = 400
    fired = 0
    for seed in range(n):
        _, s = run(sc.model_copy(update={"seed": seed}))
        fired += bool(days_of(s, "b", "effective"))
    # binomial(400, 0.3): sd ≈ 9.2; 4 sd band
    assert abs(fired - 0.3 * n) < 4 * np.sqrt(n * 0.3 * 0.7)
    assert 0 < fired < n


def test_when_trigger_needs_the_condition_for_its_duration():
    # level = 1 - 0.01 d is below 0.5 from day 51; held 10 days on day 60 → fires (whole day) on day 61
    sc = scenario(countermeasures=[cm("b", trigger={"when": {"metric": "signal.level", "below": 0.5,
                                                              "for": "10d"}})])
    _, s = run(sc)
    assert days_of(s, "b", "effective") == [61]
    assert "signal.level below 0.5 for 10d" in s.events[0].cause


def test_when_trigger_relative_to_baseline():
    # the control halves the level from day 31: relative to baseline 0.5 < 0.9 from day 31; for 5d → day 36
    sc = scenario([ctrl("a", effective="2025-02-01")],
                  [cm("b", trigger={"when": {"metric": "signal.level", "below": 0.9, "relative_to": "baseline",
                                             "for": "5d"}})])
    _, s = run(sc)
    assert days_of(s, "b", "effective") == [36]


def test_when_trigger_never_fires_if_condition_breaks_off():
    sc = scenario(countermeasures=[cm("b", trigger={"when": {"metric": "signal.level", "below": 0.5,
                                                              "for": "300d"}})])
    _, s = run(sc)
    assert days_of(s, "b", "effective") == []


def test_lift_by_date_after_and_when():
    sc = scenario([ctrl("a", effective="2025-01-11", lift={"date": "2025-02-01"}),
                   ctrl("b", effective="2025-01-11", lift={"after": "c", "delay": "5d"}),
                   ctrl("c", effective="2025-03-01"),
                   ctrl("d", effective="2025-01-11", lift={"when": {"metric": "signal.level", "below": 0.3}})])
    _, s = run(sc)
    assert days_of(s, "a", "ended") == [31]
    assert days_of(s, "b", "ended") == [59 + 5]
    # (1 − 0.01 d) × 0.5 < 0.3 ⇔ d > 40: holds on day 41, so the lift takes effect on the next whole day
    assert days_of(s, "d", "ended") == [42]
    assert days_of(s, "c", "ended") == []


def test_escalation_chain_a_triggers_b_triggers_c():
    sc = scenario([ctrl("a", effective="2025-01-11"), ctrl("c", trigger={"after": "b", "delay": "7d"})],
                  [cm("b", trigger={"after": "a", "delay": "20d"})])
    _, s = run(sc)
    assert days_of(s, "b", "effective") == [30] and days_of(s, "c", "effective") == [37]


def test_baseline_has_no_measures_and_shares_random_numbers():
    base, s = run(scenario([ctrl("a", effective="2025-02-01")], horizon="90d"))
    assert base.events == []
    assert np.array_equal(base.get("signal.noise"), s.get("signal.noise"))
    lvl_b, lvl_s = base.get("signal.level"), s.get("signal.level")
    assert np.array_equal(lvl_b[:31], lvl_s[:31]) and np.all(lvl_s[31:] < lvl_b[31:])


def test_suspended_measure_lifted_before_effect_never_takes_effect():
    sc = scenario([ctrl("a", announced="2025-01-05", effective="2025-03-01", lift={"date": "2025-02-01"})])
    _, s = run(sc)
    assert days_of(s, "a", "effective") == [] and days_of(s, "a", "ended") == [31]
