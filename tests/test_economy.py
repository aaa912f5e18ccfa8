"""Economy layer: Leontief algebra on hand-made tables, the ARIO model's dynamics, and GDP per region."""
from __future__ import annotations

import copy
import datetime as _dt

import numpy as np
import pytest

from simulator.engine import kernels, registry
from simulator.engine.economy import Economy, build_params, build_table
from simulator.engine.io_model import (ARIO, MRIO, ARIOParams, DAYS_PER_YEAR, build_mrio, coefficients,
                                       leontief_inverse, mixed_output, run_ario)
from simulator.engine.streams import replication_seeds
from simulator.engine.world import Mechanism, simulate
from simulator.scenario.schema import Scenario
from simulator.scenario.world_data import load_world

# Two sectors, one region: Z = [[10, 20], [15, 5]], Y = [70, 30] → X = [100, 50],
# A = [[0.1, 0.4], [0.15, 0.1]], det(I − A) = 0.75, (I − A)⁻¹ = [[1.2, 8/15], [0.2, 1.2]], VA = [75, 25].
TWO = MRIO(("R",), ("a", "b"), np.array([[10.0, 20.0], [15.0, 5.0]]), np.array([70.0, 30.0]))


def test_leontief_inverse_matches_the_hand_computed_inverse():
    L = leontief_inverse(coefficients(TWO.Z, TWO.X))
    assert np.allclose(L, [[1.2, 8 / 15], [0.2, 1.2]], rtol=0, atol=1e-12)
    assert np.allclose(L @ TWO.Y, [100.0, 50.0], rtol=0, atol=1e-9)
    assert np.allclose(TWO.VA, [75.0, 25.0], rtol=0, atol=1e-12)


def test_static_gdp_loss_of_a_final_demand_cut_equals_the_cut():
    A = coefficients(TWO.Z, TWO.X)
    v = TWO.VA / TWO.X
    dx = leontief_inverse(A) @ np.array([-10.0, 0.0])
    assert np.allclose(dx, [-12.0, -2.0], rtol=0, atol=1e-9)
    assert float(v @ dx) == pytest.approx(-10.0, abs=1e-9)      # closed economy: ΔGDP = Δ final demand


def test_mixed_model_two_sectors_and_two_regions_by_hand():
    A = coefficients(TWO.Z, TWO.X)
    x = mixed_output(A, TWO.Y, {1: 40.0})                      # sector b's output cut to 40
    assert x[0] == pytest.approx(860.0 / 9.0, abs=1e-9)          # (Y1 + a12 x2)/(1 − a11) = (70 + 16)/0.9
    # two regions, one sector each: Z = [[20, 10], [5, 15]], Y = [70, 40] → X = [100, 60]
    two_r = MRIO(("A", "B"), ("goods",), np.array([[20.0, 10.0], [5.0, 15.0]]), np.array([70.0, 40.0]))
    A2 = coefficients(two_r.Z, two_r.X)
    x2 = mixed_output(A2, two_r.Y, {1: 48.0})                    # region B loses 20% of its output
    assert x2[0] == pytest.approx(97.5, abs=1e-9)                # (70 + 48/6)/0.8
    dva = (two_r.VA / two_r.X) * (x2 - two_r.X)
    assert dva[0] == pytest.approx(-1.875, abs=1e-9) and dva[1] == pytest.approx(-7.0, abs=1e-9)


def _params(days=30.0, ns=2, tau=10.0, psi=0.8):
    return ARIOParams(np.full(ns, days), psi=psi, tau_inventory=tau)


def test_ario_steady_state_matches_the_mixed_model():
    # b sells only to final demand, so a permanent cut of b propagates only backward (lost orders to a)
    t = MRIO(("R",), ("a", "b"), np.array([[10.0, 20.0], [0.0, 0.0]]), np.array([70.0, 50.0]))
    x = run_ario(t, _params(), np.tile([1.0, 0.8], (1500, 1)))[-1] * DAYS_PER_YEAR
    expect = mixed_output(coefficients(t.Z, t.X), t.Y, {1: 40.0})
    assert np.allclose(x, expect, rtol=1e-9, atol=0)
    assert x[0] == pytest.approx(860.0 / 9.0, rel=1e-9)


def test_ario_is_an_exact_fixed_point_without_a_shock():
    table = build_table(load_world("default").values["economy"])
    model = ARIO(table, build_params(load_world("default").values["economy"]))
    for _ in range(50):
        x = model.step(np.ones(table.n))
        assert np.array_equal(x, model.x0)
    assert np.array_equal(model.orders, model.Z)


def chain() -> MRIO:
    """a supplies b (40 of b's 50), final demand takes the rest: a cut of a reaches b through b's stock."""
    return MRIO(("R",), ("a", "b"), np.array([[0.0, 40.0], [0.0, 0.0]]), np.array([60.0, 50.0]))


def test_inventories_delay_the_forward_propagation():
    cap = np.tile([0.5, 1.0], (300, 1))
    with_stock = run_ario(chain(), _params(days=30.0), cap)
    b0 = 50.0 / DAYS_PER_YEAR
    assert with_stock[5, 1] == pytest.approx(b0, rel=1e-12)          # b lives on its 30-day stock of a
    assert with_stock[299, 1] < 0.9 * b0                            # ...until it runs low
    first = int(np.argmax(with_stock[:, 1] < b0 * (1 - 1e-9)))
    assert 10 <= first <= 20                                         # 0.2 × 30 days ÷ half the usage lost = 12
    no_stock = run_ario(chain(), _params(days=1.0), cap)
    assert no_stock[5, 1] < 0.9 * b0                                 # without a stock b stops at once


def test_rationing_serves_every_client_the_same_share():
    model = ARIO(chain(), _params(days=30.0))
    inv0 = model.inv[0, 1]
    x = model.step(np.array([0.5, 1.0]))
    served = x[0] / (100.0 / DAYS_PER_YEAR)                          # demand on a = its orders 40 + final 60
    assert served == pytest.approx(0.5)
    assert model.shortage_share[0] == pytest.approx(0.5)             # final demand gets 50% of its order...
    used = 40.0 / DAYS_PER_YEAR
    assert model.inv[0, 1] - inv0 == pytest.approx(0.5 * used - used)   # ...and so does customer b


def _world_economy():
    return load_world("default").values["economy"]


def _cut_loss(share: float, days: int = 30, horizon: int = 240) -> np.ndarray:
    cfg = _world_economy()
    table = build_table(cfg)
    c = table.cell("Japan", "motor_vehicles")
    cap = np.ones((horizon, table.n))
    cap[:days, c] = 1.0 - share
    model = ARIO(table, build_params(cfg))
    x = np.vstack([model.step(row) for row in cap])
    return (model.gdp0 - model.va_coeff * x).sum(axis=0)            # cumulative VA lost per cell


def test_gdp_loss_scales_with_the_cut():
    one, two = _cut_loss(0.01).sum(), _cut_loss(0.02).sum()
    assert one > 0
    assert two / one == pytest.approx(2.0, rel=0.02)


def test_indirect_losses_reach_suppliers_in_other_regions():
    loss = _cut_loss(0.05)
    table = build_table(_world_economy())
    direct = loss[table.cell("Japan", "motor_vehicles")]
    assert loss.sum() > direct * 1.2                                 # suppliers lose value added too
    assert loss[table.cell("China", "mining_metals")] > 0


def test_table_value_added_equals_published_gdp_and_balances():
    cfg = _world_economy()
    t = build_table(cfg)
    for r, g in t.gdp().items():
        assert g == pytest.approx(cfg["gdp_usd"][r], rel=1e-9)
    assert np.all(t.Y >= cfg["min_final_share"] * t.X - 1e-6)
    bad = copy.deepcopy(cfg)
    bad["domestic_share"]["Japan"]["mining_metals"] = 0.99
    bad["va_share"]["Japan"]["mining_metals"] = 0.001
    with pytest.raises(ValueError, match="Japan/mining_metals"):
        build_table(bad)


def test_build_mrio_by_hand():
    # one sector per region would hide sourcing; two regions × one sector: each buys 50% of its output as
    # inputs, 80% from home; VA = GDP; X = VA / 0.5.
    t = build_mrio(["A", "B"], ["g"], "g", {"A": 100.0, "B": 50.0}, {"A": {}, "B": {}}, {"g": 0.5},
                   {"g": {"g": 1.0}}, {"A": {"g": 0.8}, "B": {"g": 0.8}}, {"g": {"A": 0.5, "B": 0.5}})
    assert np.allclose(t.Z, [[80.0, 10.0], [20.0, 40.0]])
    assert np.allclose(t.X, [200.0, 100.0]) and np.allclose(t.VA, [100.0, 50.0])


# --- the mechanism in a run --------------------------------------------------------------------------------


class FakeIndustries(Mechanism):
    """Japanese cars lose ``CUT`` of planned output from day 10 to 39 while a countermeasure is in force; a
    sector not in the sector map loses everything (and must not feed the economy)."""

    section = "industries"
    CUT = 0.10

    def __init__(self, ctx):
        super().__init__(ctx)
        r = ctx.recorder
        self.cars = (r.series("industries.japan_cars", "output_value", "USD/day"),
                     r.series("industries.japan_cars", "planned_output", "vehicles/day"))
        self.other = (r.series("industries.unmapped", "output_value", "USD/day"),
                      r.series("industries.unmapped", "planned_value", "USD/day"))

    def step(self, day):
        on = any(c.in_force for c in self.ctx.policy.countermeasures) and 10 <= day < 40
        planned = 8.24e6 / 365.25
        self.cars[1][day] = planned
        self.cars[0][day] = planned * 25000.0 * (1.0 - (self.CUT if on else 0.0))
        self.other[1][day] = 1e9
        self.other[0][day] = 0.0 if on else 1e9


def _world() -> dict:
    eco = _world_economy()
    eco["sector_map"]["not_a_sector"] = {"region": "Japan", "io_sector": "motor_vehicles"}
    return {"industries": {"sectors": {"japan_cars": {"unit_value_usd": 25000.0}}}, "economy": eco}


@pytest.fixture
def parts(monkeypatch):
    monkeypatch.setattr(registry, "MECHANISMS", [FakeIndustries, Economy])


def _run(world, horizon="200d"):
    sc = Scenario.model_validate({"name": "t", "start": "2025-01-01", "horizon": horizon, "countermeasures": [
        {"id": "ban", "against": ["Japan"], "mineral": "rare_earths", "kind": "ban", "effective": "2025-01-01"}]})
    seq = replication_seeds(0, 1)[0]
    base = simulate(sc, world, seq, 0, True)
    return base, simulate(sc, world, seq, 0, False, base)


def test_baseline_shows_exactly_zero_loss(parts):
    base, _ = _run(_world())
    for r in ("Japan", "China", "US", "rest_of_world"):
        assert np.all(base.get(f"economy.{r}.gdp_loss") == 0.0)
        assert np.all(base.get(f"economy.{r}.gdp") == base.get(f"economy.{r}.gdp")[0])
    assert all(np.all(base.data[k] == 0.0) for k in base.data if k.endswith(".value_added_lost"))


def test_a_car_cut_costs_japan_gdp_and_only_mapped_sectors_feed(parts):
    base, s = _run(_world())
    loss = s.get("economy.Japan.gdp_loss")
    assert np.all(loss[:10] == 0.0) and loss[10] > 0
    direct = s.get("economy.Japan.motor_vehicles.direct_output_lost")
    lost_usd = 8.24e6 / 365.25 * 25000.0 * 0.10
    assert direct[10] == pytest.approx(lost_usd) and direct[40] == 0.0
    # the car cell's own value added falls by its value-added ratio × the direct loss on the first day
    assert s.get("economy.Japan.motor_vehicles.value_added_lost")[10] == pytest.approx(0.2 * lost_usd, rel=1e-6)
    assert loss.sum() > 0.2 * lost_usd * 30                          # plus Japanese suppliers' losses
    assert s.get("economy.China.gdp_loss").sum() > 0                 # and foreign suppliers'
    pct = s.get("economy.Japan.gdp_loss_pct")
    assert pct[10] == pytest.approx(loss[10] / (4.21e12 / 365.25) * 100, rel=1e-9)
    # the unmapped sector (total loss) does not feed; the unknown name in the map is ignored
    assert loss[10] == pytest.approx(0.2 * lost_usd, rel=1e-6)       # day 1: only the car cell, nothing else
    eco_gdp = base.get("economy.Japan.gdp")[0]
    assert eco_gdp == pytest.approx(4.21e12 / 365.25, rel=1e-9)


def test_removing_the_mapping_removes_the_loss(parts):
    w = _world()
    del w["economy"]["sector_map"]["japan_cars"]
    _, s = _run(w, "60d")
    assert all(np.all(s.get(f"economy.{r}.gdp_loss") == 0.0) for r in ("Japan", "China", "US"))


def test_a_sector_map_naming_a_missing_cell_is_a_clear_error(parts):
    w = _world()
    w["economy"]["sector_map"]["japan_cars"] = {"region": "Japan", "io_sector": "cars"}
    with pytest.raises(ValueError, match=r"economy.sector_map.japan_cars.*'cars'"):
        _run(w, "10d")


# --- the quarterly GDP table -------------------------------------------------------------------------------


def test_gdp_by_quarter_sums_days_and_bands_losses(parts):
    from simulator.report.gdp import from_pairs, gdp_by_quarter
    start = _dt.date(2025, 3, 30)                                   # 2 days of Q1, then Q2
    base = np.full((3, 10), 10.0)
    scen = base - np.array([[0.0] * 10, [1.0] * 10, [2.0] * 10])     # replications lose 0, 1, 2 a day
    df = gdp_by_quarter(start, {"Japan": scen}, {"Japan": base})
    q1, q2 = df.iloc[0], df.iloc[1]
    assert (q1.quarter, q1.days, q2.quarter, q2.days) == ("2025Q1", 2, "2025Q2", 8)
    assert q2.baseline_gdp_usd == 80.0 and q2.gdp_p50_usd == 72.0 and q2.loss_usd_p50 == 8.0
    assert q2.loss_usd_p05 == pytest.approx(0.8) and q2.loss_usd_p95 == pytest.approx(15.2)
    assert q2.loss_pct_p50 == pytest.approx(10.0)
    from simulator.runner import Pair
    b, s = _run(_world(), "100d")
    table = from_pairs(_dt.date(2025, 1, 1), [Pair(0, 0, b, s)])
    jp = table[table.region == "Japan"].set_index("quarter")
    assert jp.loc["2025Q1", "loss_usd_p50"] > 0 and set(table.region) >= {"Japan", "China", "US"}
    assert jp.loc["2025Q1", "loss_usd_p50"] == pytest.approx(s.get("economy.Japan.gdp_loss")[:90].sum(), rel=1e-9)


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
@pytest.mark.parametrize("alpha_max", [1.0, 1.4])
def test_compiled_ario_steps_are_their_numpy_twin(alpha_max):
    """``kernels.ario_serve`` / ``ario_restock`` (``ARIO._step_compiled``) against ``ARIO.step_runs`` in numpy:
    four runs with deep, uneven capacity cuts (stocks run down, sellers ration), 150 days, every day's output
    and the final stocks, orders, overproduction factors and shortage shares identical."""
    cfg = _world_economy()
    table = build_table(cfg)
    params = build_params(cfg)
    params = ARIOParams(params.inventory_days, psi=params.psi, tau_inventory=params.tau_inventory,
                        alpha_max=alpha_max, tau_alpha=60.0)
    rng = np.random.default_rng(11)
    cap = np.ones((150, 4, table.n))
    hit = rng.choice(table.n, 6, replace=False)
    cap[10:90, :, hit] = rng.uniform(0.2, 0.9, (80, 4, hit.size))
    out = {}
    for compiled in (False, True):
        model = ARIO(table, params)
        assert model._lim_covers_phys
        if compiled:
            model.kernels = (kernels.compiled("ario_serve"), kernels.compiled("ario_restock"))
        st = model.start(4)
        xs, short = [], []
        for c in cap:
            xs.append(model.step_runs(st, c).copy())
            short.append(st.shortage_share.copy())
        out[compiled] = (np.stack(xs), np.stack(short), st.inv, st.orders, st.alpha)
    for a, b in zip(out[False], out[True]):
        assert np.array_equal(a, b)
    xs, short, inv, _, alpha = out[True]
    assert (xs[40] < 0.99 * xs[0]).any() and (short > 0).any()   # output cut, sellers rationed
    assert alpha_max == 1.0 or (alpha > 1.0).any()               # overproduction where demand went unserved


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
def test_compiled_direct_losses_are_their_numpy_twin():
    """``kernels.economy_direct`` against ``Economy.direct_losses`` in numpy on the read values of real lanes
    and on random ones with NaN, inf and negative shortfalls, every kind of comparison and baselines with and
    without a plan."""
    from simulator.engine import world as W
    from simulator.scenario.load import load_scenario
    from pathlib import Path
    loaded = load_scenario(str(Path(__file__).resolve().parents[1] / "scenarios" / "china_minerals_ban_japan.yaml"),
                           ["replications=2", "horizon=120d"])
    seeds = replication_seeds(loaded.scenario.seed, 2)
    specs = [W.LaneSpec(0, seeds[0], True), W.LaneSpec(0, seeds[0], False, 0), W.LaneSpec(1, seeds[1], True),
             W.LaneSpec(1, seeds[1], False, 2)]
    lanes, mechs = W.build_lanes(loaded.scenario, loaded.world.values, specs)
    W.run_lanes(lanes, mechs)
    eco = next(m for m in mechs if isinstance(m, Economy))
    assert eco.feeds and eco.shocked.size
    eco._direct_k = kernels.compiled("economy_direct")
    rng = np.random.default_rng(2)
    real = eco.reader.read
    for day in (30, 90, 119, "random"):
        if day == "random":
            shape = real(lanes.row(119)).shape
            vals = rng.normal(100.0, 60.0, shape)
            vals[rng.random(shape) < 0.1] = np.nan
            vals[rng.random(shape) < 0.05] = np.inf
            eco.reader.read = lambda row, vals=vals: vals.copy()
            eco.kind = rng.integers(0, 3, eco.kind.shape).astype(np.int8)   # every kind of comparison
            eco.b_plan = rng.random(eco.b_plan.shape) < 0.5
            eco.kind[0, 0], vals[2] = 1, np.inf     # feed 0, lane 0: infinite baseline output, a loss of none
            day = 119
        got = []
        for k in (None, kernels.compiled("economy_direct")):
            eco._direct_k = k
            got.append(eco.direct_losses(day))
        assert np.array_equal(got[0], got[1])
    assert (got[1] > 0).any()
