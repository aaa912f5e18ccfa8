"""Specification of the parts classes (``simulator/engine/fab_parts.py``): PM kits with third-party copies,
repairable modules with a refurbishment loop, OEM-locked items; stocks in their own units; learning raises
repair skill and refurbishment, not the locked share."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.fab_parts import PartsLedger, third_party_share, wright

from .test_fabs import JAPAN_GROUPS, control, day, fabs_world, run_pair, scenario, total_output

CFG = {"kit_cover_months": 1.0, "locked_cover_months": 1.0, "module_pool_per_100_tools": 20, "refurb_d": 30,
       "refurb_success_initial": 0.5, "refurb_success_max": 0.9, "third_party_initial": 0.5,
       "third_party_ramp_y": 1.0, "third_party_module_factor": 0.0, "kit_quality_penalty": 0.3,
       "kit_yield_loss": 0.02, "requalification_h": 8, "vendor_pm_share": 0.3, "cannibalised_parts_per_tool": 3}


class _Gen:
    """Random streams as numpy generators (the engine's streams are the same calls)."""

    def __init__(self, seed: int):
        self.g = {k: np.random.default_rng([seed, i]) for i, k in enumerate(("oem_parts", "parts_class", "refurb"))}

    def __getitem__(self, k):
        return self.g[k]


def ledger(n=1000, p_locked=0.02, p_module=0.03, tp=0.6, **cfg) -> PartsLedger:
    c = dict(CFG, **cfg)
    one = lambda v: np.array([float(v)])  # noqa: E731
    return PartsLedger(one(n), one(0.13), one(14.0), one(p_locked), one(p_module), one(tp), c)


def test_stocks_are_sized_in_their_own_units():
    led = ledger(module_pool_per_100_tools=20)
    assert led.modules[0] == pytest.approx(200), "modules: a pool per 100 tools, not months of use"
    assert led.kits[0] == pytest.approx(1000 / 14 * 365.25 / 12), "kits: months of PM use"
    assert led.locked[0] == pytest.approx(1000 * 0.13 * 0.02 * 365.25 / 12), "locked items: months of use"


def test_third_party_kit_share_ramps_from_initial_to_its_max():
    assert third_party_share(0.8, 0.5, 1.0, 0) == pytest.approx(0.4)
    assert third_party_share(0.8, 0.5, 1.0, 365.25) == pytest.approx(0.8 * (0.5 + 0.5 * (1 - np.exp(-1))))
    assert third_party_share(0.8, 0.5, 1.0, 365.25 * 20) == pytest.approx(0.8, abs=1e-6)


def test_third_party_kits_spare_the_stock_at_a_quality_penalty():
    active, sp = np.array([1000]), np.array([1.0])
    no_tp, tp = ledger(tp=0.0), ledger(tp=0.8)
    for led in (no_tp, tp):
        led.set_cut(np.array([1.0]))
    k0 = no_tp.kits[0]
    short0, q0 = no_tp.pm_kits(active, sp)
    short1, q1 = tp.pm_kits(active, sp)
    assert k0 - no_tp.kits[0] == pytest.approx(1000 / 14), "one kit per PM event"
    assert k0 - tp.kits[0] == pytest.approx(1000 / 14 * (1 - third_party_share(0.8, 0.5, 1.0, 1)))
    assert q0[0] == 0 and q1[0] > 0 and short0[0] == short1[0] == 0
    empty = ledger(tp=0.0, kit_cover_months=0.0)
    short, _ = empty.pm_kits(active, sp)
    assert short[0] == pytest.approx(1.0), "no kit left: every PM event runs without one"


def test_learning_does_not_reduce_the_locked_share_but_raises_refurbishment():
    """Half of the failures need a part whatever the fab has learned (the old model learned OEM parts away)."""
    needs, back = {}, {}
    for learn in (1.0, 0.05):
        led = ledger(p_locked=0.2, p_module=0.3, module_pool_per_100_tools=10_000, locked_cover_months=1000)
        led.set_need(np.array([0.5]), np.array([0]))
        locked0 = led.locked[0]
        i, short, swaps = led.failures(np.array([20_000]), np.array([10**6]), np.array([0]), np.array([learn]), 0,
                                       _Gen(1))
        assert short[0] == 0
        needs[learn] = (int(swaps[0]), locked0 - led.locked[0])
        led.refurbished(30)
        back[learn] = led.modules[0]
    assert needs[1.0][0] + needs[1.0][1] == pytest.approx(20_000 * 0.5, rel=0.03)
    assert needs[1.0][1] == pytest.approx(20_000 * 0.2, rel=0.05)
    assert needs[1.0] == needs[0.05], "same draws, same part demand: learning does not touch p_locked/p_module"
    assert back[0.05] > back[1.0], "experienced local shops refurbish more modules successfully"


def test_refurbished_modules_return_to_the_pool_after_refurb_days():
    led = ledger(p_locked=0.0, p_module=1.0, module_pool_per_100_tools=1.0, refurb_success_initial=1.0,
                 refurb_success_max=1.0, refurb_d=30)
    led.set_need(np.array([1.0]), np.array([0]))
    i, short, swaps = led.failures(np.array([50]), np.array([1000]), np.array([0]), np.array([1.0]), 5, _Gen(2))
    assert swaps[0] == 10 and short[0] == 40 and led.modules[0] == 0
    led.refurbished(34)
    assert led.modules[0] == 0
    led.refurbished(35)
    assert led.modules[0] == 10


def test_pool_exhaustion_comes_sooner_when_more_failures_need_modules():
    """Stocks sized in their own units: the cliff's timing now depends on the part share (issue 13)."""
    sc = scenario([control("Japan", ["servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01",
                           ["coat_develop"])], "1y")
    first = {}
    for p in (0.01, 0.06):
        w = fabs_world()
        w["tool_classes"]["coat_develop"]["p_module"] = p
        _, scen = run_pair(sc, w)
        ev = [e.day for e in scen.events if e.event == "spares_exhausted" and "Tokyo_Electron" in e.cause]
        first[p] = min(ev) if ev else 10**6
    assert first[0.06] < first[0.01] - 20, first


def test_refurbishment_and_third_party_supply_soften_the_cut():
    sc = scenario([control("Japan", ["servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01",
                           JAPAN_GROUPS)], "2y")
    loss = {}
    for name, params in (("none", dict(refurb_success_initial=0.0, refurb_success_max=0.0,
                                        third_party_module_factor=0.0)),
                         ("default", {})):
        base, scen = run_pair(sc, fabs_world(**params))
        loss[name] = float((total_output(base) - total_output(scen)).sum())
    assert loss["default"] < 0.8 * loss["none"], loss


def test_requalification_after_non_oem_swaps_costs_uptime():
    sc = scenario([control("Japan", ["servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01",
                           ["etch"])], "180d")
    av = {}
    for h in (0.0, 120.0):
        _, scen = run_pair(sc, fabs_world(requalification_h=h))
        av[h] = np.nanmean(scen.get("fabs.mature_logic.etch.availability")[day("2025-03-01"):])
    assert av[120.0] < av[0.0] - 0.003, av


def test_third_party_kits_cost_good_output():
    """Kits from third parties keep PM going but lower the tool's good output by kit_yield_loss."""
    sc = scenario([control("Japan", ["spare_parts"], ["Japan"], "2025-02-01", "2025-03-01", ["coat_develop"])],
                  "120d")
    prod = {}
    for y in (0.0, 0.2):
        _, scen = run_pair(sc, fabs_world(kit_yield_loss=y))
        prod[y] = scen.get("fabs.mature_logic.wafer_output")[-20:].mean()
    assert prod[0.2] < prod[0.0] * 0.995, prod


def test_wright_factor_halves_learning_per_doubling():
    assert wright(0.0, 4.0, 0.2) == 1.0
    assert wright(4.0, 4.0, 0.2) == pytest.approx(0.8)
