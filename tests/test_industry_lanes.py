"""Industries and economy stepped as lanes: each lane of a batch gets exactly the series and events it gets alone.

The scenario bans Chinese gallium and germanium to Japan, and with probability 0.5 (one draw per replication)
graphite too, which stops Japanese car lines; once car output is 0.5% below its baseline's, rare earths follow.
Japan also stops servicing Chinese fabs' etch and deposition tools, so Chinese chip supply (which feeds the
economy) falls differently in every replication. So the scenario lanes of different replications differ, in the
economy too, and a trigger reads each lane's paired baseline lane.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.economy import build_params, build_table
from simulator.engine.lane_reader import LaneReader
from simulator.engine.io_model import ARIO, ARIOParams, MRIO
from simulator.engine.recorder import Recorder
from simulator.engine.streams import replication_seeds
from simulator.engine.world import LaneSpec, simulate, simulate_lanes
from simulator.scenario.schema import Scenario
from simulator.scenario.world_data import load_world

PARTS = ("industries.", "economy.")
SCENARIO = Scenario.model_validate({
    "name": "lanes", "start": "2026-01-01", "horizon": "300d", "seed": 4,
    "controls": [{"id": "jp_servicing_ban", "by": "Japan", "against": ["China"],
                  "measures": ["servicing", "spare_parts"], "effective": "2026-01-01",
                  "scope": {"vendor_countries": ["Japan"], "tool_classes": ["etch", "deposition"]}}],
    "countermeasures": [
        {"id": "ga_ge_ban", "by": "China", "against": ["Japan"], "mineral": ["gallium", "germanium"],
         "kind": "ban", "announced": "2026-01-06", "effective": "2026-02-01"},
        {"id": "graphite_ban", "by": "China", "against": ["Japan"], "mineral": ["graphite"], "kind": "ban",
         "trigger": {"after": "ga_ge_ban", "on": "effective", "probability": 0.5}},
        {"id": "magnet_ban", "by": "China", "against": ["Japan"], "mineral": ["rare_earths"], "kind": "ban",
         "trigger": {"when": {"metric": "industries.japan_cars.output", "below": 0.995,
                              "relative_to": "baseline"}}}]})
REPS = 3


def _part(rec: Recorder) -> tuple[dict[str, np.ndarray], list[tuple]]:
    """The industries and economy series and events of one run."""
    data = {k: v for k, v in rec.data.items() if k.startswith(PARTS)}
    events = [(e.day, e.entity, e.event, e.cause) for e in rec.events if e.entity.startswith(PARTS)]
    return data, events


@pytest.fixture(scope="module")
def runs():
    """Every lane alone, and two batches of the same lanes in different orders, by (replication, kind)."""
    world = load_world("default").values
    seeds = replication_seeds(SCENARIO.seed, REPS)
    alone = {}
    for i in range(REPS):
        base = simulate_lanes(SCENARIO, world, [LaneSpec(i, seeds[i], True)])[0]
        alone[i, "baseline"] = base
        alone[i, "scenario"] = simulate(SCENARIO, world, seeds[i], i, False, base)
    specs, names = [], []
    for i in range(REPS):                                   # baseline, then its scenario, replication by replication
        specs += [LaneSpec(i, seeds[i], True), LaneSpec(i, seeds[i], False, len(specs))]
        names += [(i, "baseline"), (i, "scenario")]
    batch = dict(zip(names, simulate_lanes(SCENARIO, world, specs)))
    # baselines first in reverse, scenarios after in another order: a lane must find its own pair
    specs2 = [LaneSpec(2, seeds[2], True), LaneSpec(0, seeds[0], True), LaneSpec(1, seeds[1], True),
              LaneSpec(0, seeds[0], False, 1), LaneSpec(2, seeds[2], False, 0), LaneSpec(1, seeds[1], False, 2)]
    names2 = [(2, "baseline"), (0, "baseline"), (1, "baseline"), (0, "scenario"), (2, "scenario"),
              (1, "scenario")]
    batch2 = dict(zip(names2, simulate_lanes(SCENARIO, world, specs2)))
    return alone, batch, batch2


def _same(a: Recorder, b: Recorder) -> None:
    da, ea = _part(a)
    db, eb = _part(b)
    assert list(da) == list(db)
    bad = [k for k in da if not np.array_equal(da[k], db[k], equal_nan=True)]
    assert not bad, f"{len(bad)} series differ, e.g. {bad[:3]}"
    assert ea == eb


def test_the_lanes_differ(runs):
    """The check below has teeth: replications' scenario lanes differ from each other and from baselines."""
    alone, _, _ = runs
    scen = [_part(alone[i, "scenario"])[0] for i in range(REPS)]
    base = _part(alone[0, "baseline"])[0]
    key = "industries.japan_cars.output"
    assert any(not np.array_equal(scen[0][key], s[key]) for s in scen[1:]), "replications should differ"
    assert any(not np.array_equal(s[key], base[key]) for s in scen)
    gdp = "economy.China.gdp_loss"
    assert scen[0][gdp].max() > 0 and not np.array_equal(scen[0][gdp], scen[1][gdp])
    assert max(s["economy.Japan.gdp_loss"].max() for s in scen) > 0
    assert np.all(base["economy.Japan.gdp_loss"] == 0.0)
    assert any(_part(alone[i, "scenario"])[1] for i in range(REPS)), "some lane should stop lines"


@pytest.mark.parametrize("rep", range(REPS))
@pytest.mark.parametrize("kind", ["baseline", "scenario"])
def test_each_lane_of_a_batch_is_the_lane_alone(runs, rep, kind):
    alone, batch, batch2 = runs
    _same(batch[rep, kind], alone[rep, kind])
    _same(batch2[rep, kind], alone[rep, kind])


def test_lane_reader_reads_shared_separate_and_missing_series():
    days, lanes = 5, 6
    shared = np.arange(days * lanes * 3, dtype=float).reshape(days, lanes, 3)
    col = np.arange(days * lanes, dtype=float).reshape(days, lanes) + 1000.0
    own = np.array(np.linspace(-1.0, 1.0, days))                      # owns its memory
    run_block = np.full((days, 4), 7.0) + np.arange(4.0)             # a run's own block
    later = np.arange((days + 2) * 2, dtype=float).reshape(days + 2, 2)[2:]   # trimmed: starts two days in
    arrays = [shared[:, 1, 2], own, None, col[:, 3], shared[:, 0, 0], shared[:, 5, 1], shared[:, 2, 2],
              col[:, 0], col[:, 1], col[:, 5], col[:, 4], shared[:, 4, 0], run_block[:, 2], later[:, 1],
              run_block[:, 0], None, later[:, 0], shared[:, 3, 1][::-1]]
    reader = LaneReader(arrays)
    assert len(reader.groups) == 4 and len(reader.singles) == 2        # own and the reversed view
    for day in range(days):
        expect = [0.0 if a is None else a[day] for a in arrays]
        assert np.array_equal(reader.read(day), expect)
    one = LaneReader([shared[:, l, 1] for l in range(lanes)])
    assert one.whole and np.array_equal(one.read(3), shared[3, :, 1])


@pytest.mark.parametrize("days", [30.0, 1.0])           # ψ × days ≥ 1, and < 1 (the physical stock limit binds)
def test_ario_runs_stepped_together_match_each_run_alone(days):
    cfg = load_world("default").values["economy"]
    table = build_table(cfg)
    params = build_params(cfg) if days > 1 else ARIOParams(np.full(len(table.sectors), days), psi=0.8,
                                                           tau_inventory=10.0)
    rng = np.random.default_rng(7)
    runs, horizon = 4, 120
    cap = np.ones((runs, horizon, table.n))
    for r in range(runs):
        for _ in range(3):
            c, a = rng.integers(table.n), rng.integers(horizon)
            cap[r, a:a + rng.integers(5, 60), c] = rng.uniform(0.3, 1.0)
    alone = [ARIO(table, params) for _ in range(runs)]
    together = ARIO(table, params)
    state = together.start(runs)
    for d in range(horizon):
        x = together.step_runs(state, cap[:, d])
        for r, m in enumerate(alone):
            assert np.array_equal(x[r], m.step(cap[r, d]))
            assert np.array_equal(state.inv[r], m.inv) and np.array_equal(state.orders[r], m.orders)
    assert not np.array_equal(state.inv[0], ARIO(table, params).inv)     # the shocks did something


def test_ario_on_a_hand_made_table_matches_alone_with_late_starters():
    t = MRIO(("R",), ("a", "b"), np.array([[0.0, 40.0], [0.0, 0.0]]), np.array([60.0, 50.0]))
    p = ARIOParams(np.full(2, 30.0), psi=0.8, tau_inventory=10.0)
    together = ARIO(t, p)
    state = together.start(1)
    first, second = ARIO(t, p), ARIO(t, p)
    for d in range(80):
        if d == 20:                                         # a second run joins later, from the equilibrium
            state = state.take(together.start(1))
        cap = np.array([[0.5, 1.0]] + ([[0.9, 0.7]] if d >= 20 else []))
        x = together.step_runs(state, cap)
        assert np.array_equal(x[0], first.step(cap[0]))
        if d >= 20:
            assert np.array_equal(x[1], second.step(cap[1]))
