"""Lanes of the tool-fleet mechanism (``FabFleets`` steps every lane of a batch at once): each lane's series and
events are exactly those it has alone, whatever the batch, and lanes never leak into each other."""
from __future__ import annotations

from functools import lru_cache
from unittest import mock

import numpy as np
import pytest

from simulator.engine import kernels
from simulator.engine.recorder import Recorder
from simulator.engine.streams import replication_seeds
from simulator.engine.fab_parts import wright
from simulator.engine.fabs import FabFleets
from simulator.engine.world import LaneSpec, build_lanes, run_lanes, simulate, simulate_lanes
from simulator.scenario.schema import Scenario

from .test_fabs import JAPAN_GROUPS, control, fabs_world, scenario

SEED = 7
REPS = 3


def ban_scenario(horizon: str = "240d") -> Scenario:
    """A Japanese servicing and parts ban (bites within the horizon: small spare stocks), then a US sales and
    servicing ban triggered with probability 0.5, so scenario lanes differ in policy among themselves too."""
    japan = control("Japan", ["servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01", JAPAN_GROUPS)
    us = {"id": "us", "by": "US", "measures": ["sales", "servicing"], "scope": {"vendor_countries": ["US"]},
          "trigger": {"after": "c", "delay": "20d", "probability": 0.5}, "compliance": 0.8}
    return scenario([japan, us], horizon)


@lru_cache(maxsize=1)
def world() -> dict:
    return {"fabs": fabs_world(spares_cover_months=0.5)}


@lru_cache(maxsize=None)
def alone(rep: int) -> tuple[Recorder, Recorder]:
    """Replication ``rep`` run alone: its baseline (a batch of one lane), then its scenario paired with it."""
    seed = replication_seeds(SEED, REPS)[rep]
    sc = ban_scenario()
    base = simulate(sc, world(), seed, rep, True)
    return base, simulate(sc, world(), seed, rep, False, base)


def batch(order: str) -> dict[tuple[int, bool], Recorder]:
    """All replications in one batch, by (replication, is_baseline): ``pairs`` (baseline, scenario, baseline,
    ...) or ``baselines_first`` (every baseline, then the scenario lanes in reverse replication order)."""
    seeds = replication_seeds(SEED, REPS)
    specs: list[LaneSpec] = []
    if order == "pairs":
        for r in range(REPS):
            specs.append(LaneSpec(r, seeds[r], True))
            specs.append(LaneSpec(r, seeds[r], False, len(specs) - 1))
    else:
        specs = [LaneSpec(r, seeds[r], True) for r in range(REPS)]
        specs += [LaneSpec(r, seeds[r], False, r) for r in reversed(range(REPS))]
    recs = simulate_lanes(ban_scenario(), world(), specs)
    return {(sp.replication, sp.is_baseline): rec for sp, rec in zip(specs, recs)}


def events(rec: Recorder) -> list[tuple]:
    return [(e.day, e.entity, e.event, e.cause) for e in rec.events]


def fab_keys(rec: Recorder) -> list[str]:
    return [k for k in rec.data if k.startswith(("fabs.", "vendors."))]


@pytest.mark.parametrize("order", ["pairs", "baselines_first"])
def test_every_lane_of_a_batch_is_exactly_the_lane_run_alone(order):
    got = batch(order)
    for rep in range(REPS):
        for is_base, ref in zip((True, False), alone(rep)):
            rec = got[(rep, is_base)]
            assert fab_keys(rec) == fab_keys(ref) and fab_keys(ref)
            for k in fab_keys(ref):
                assert np.array_equal(rec.get(k), ref.get(k), equal_nan=True), (order, rep, is_base, k)
            assert events(rec) == events(ref), (order, rep, is_base)


def test_lanes_differ_so_a_leak_would_show():
    """The comparison above means something only if the lanes differ: by seed between replications, by policy
    between a baseline and its scenario (fab events, lost output), and by the triggered US ban between
    scenario lanes."""
    key = "fabs.mature_logic.wafer_output"
    runs = [alone(r) for r in range(REPS)]
    for base, scen in runs:
        assert not np.array_equal(base.get(key), scen.get(key))
        assert not [e for e in base.events if e.entity.startswith("fabs.")]
        assert [e for e in scen.events if e.event == "spares_exhausted"]
        assert [e for e in scen.events if e.event == "tools_retired"]
    avail = "fabs.mature_logic.etch.availability"          # output is capped by capacity, availability is not
    assert not np.array_equal(runs[0][0].get(avail), runs[1][0].get(avail))
    fired = [any(e.entity == "us" and e.event == "effective" for e in scen.events) for _, scen in runs]
    assert any(fired) and not all(fired), f"US ban fired in {fired}: pick another SEED"


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
def test_compiled_draws_give_every_lane_the_numpy_draws():
    """The failure, local-repair and repair-time draws as compiled loops over lanes (``fab_draws.py``) give the
    batch exactly the numbers of one numpy call per lane, under the servicing and parts cuts."""
    seeds = replication_seeds(SEED, REPS)
    specs = [LaneSpec(0, seeds[0], True), LaneSpec(0, seeds[0], False, 0), LaneSpec(1, seeds[1], False)]
    runs = {}
    for compiled in (False, True):
        with mock.patch.object(kernels, "worth_compiling", lambda *a, **k: compiled):
            runs[compiled] = simulate_lanes(ban_scenario(), world(), specs)
    for numpy_rec, compiled_rec in zip(runs[False], runs[True]):
        assert fab_keys(compiled_rec) == fab_keys(numpy_rec)
        for k in fab_keys(numpy_rec):
            assert np.array_equal(compiled_rec.get(k), numpy_rec.get(k), equal_nan=True), k
        assert events(compiled_rec) == events(numpy_rec)
    assert [e for e in events(runs[True][1]) if e[2] == "tools_retired"]      # the parts cut bit


def _fleets_at_end(horizon: str):
    """The tool-fleet mechanism of a batch (3 scenario lanes under the ban) played to the end of ``horizon``."""
    seeds = replication_seeds(SEED, REPS)
    specs = [LaneSpec(r, seeds[r], False) for r in range(REPS)]
    sc = ban_scenario(horizon)
    lanes, mechs = build_lanes(sc, world(), specs)
    run_lanes(lanes, mechs)
    return next(m for m in mechs if isinstance(m, FabFleets))


def test_local_repair_skill_is_worked_out_again_only_where_local_repairs_grew_and_is_the_whole_arrays_factor():
    """``FabFleets._learning`` keeps the Wright factor of every lane's and cohort's local repairs and works it
    out again only where they moved since; after every day it is, bit for bit, the factor of the whole array."""
    seeds = replication_seeds(SEED, REPS)
    lanes, mechs = build_lanes(ban_scenario("120d"), world(), [LaneSpec(r, seeds[r], False) for r in range(REPS)])
    fleets = next(m for m in mechs if isinstance(m, FabFleets))
    step, repairing = fleets.step, []

    def checked(day: int) -> None:
        step(day)
        got = fleets._learning()
        want = wright(fleets.cum_local, fleets.learn_base, fleets.learn_rate)
        assert np.array_equal(got.view(np.int64), want.view(np.int64)), day
        repairing.append(int(np.count_nonzero(fleets.cum_local)))
    fleets.step = checked
    run_lanes(lanes, mechs)
    assert len(repairing) == 120 and repairing[0] == 0
    assert 0 < repairing[70] < repairing[-1] < fleets.cum_local.size     # some cohorts learn, more with time


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
def test_compiled_parts_cut_is_its_numpy_twin_even_with_more_failures_than_active_tools():
    """``kernels.fab_parts_day`` against ``FabFleets._parts_cut_numpy`` on the same state: failures forty times
    the active tools (a few percent of failures need a part), so that more of them need a part than there are
    active tools and the cap of one part per active tool bites (rare in a run) and a parts cut with
    spares run down. Every array of the fleet and its parts ledger, the returned pairs and the events agree."""
    got = {}
    for how in ("numpy", "compiled"):
        fl = _fleets_at_end("200d")
        assert fl._any["has_part"] and fl._parts_day is not None
        active = fl.fleet - fl.installing - fl.waiting
        fails = (active * 40 + 20).astype(fl.fleet.dtype)
        learn = np.full(fl.fleet.shape, 0.3)
        fn = fl._parts_cut_numpy if how == "numpy" else fl._parts_cut_compiled
        swapped, short_any = fn(200, fails, active, learn)
        state = {k: v.copy() for obj in (fl, fl.parts) for k, v in vars(obj).items()
                 if isinstance(v, np.ndarray) and not k.startswith("_")}
        got[how] = (swapped, short_any, fails, state, [(e.day, e.entity, e.event) for c in fl.lanes.runs
                                                      for e in c.recorder.events])
    (s0, a0, f0, st0, ev0), (s1, a1, f1, st1, ev1) = got["numpy"], got["compiled"]
    assert a0 and a1 and s0 is not None and s1 is not None
    for x, y in zip(s0, s1):
        assert np.array_equal(x, y)
    assert np.array_equal(f0, f1)
    common = st0.keys() & st1.keys()             # the numpy path keeps its pairs (hit_lanes) as scratch state
    assert {"fleet", "waiting", "ring_back", "ring_deliv", "stock2", "refurb_ring", "in_refurb"} <= common
    for k in common:
        assert np.array_equal(st0[k], st1[k], equal_nan=True), k
    assert ev0 == ev1


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
@pytest.mark.parametrize("overbooked", [False, True])
def test_compiled_day_accounts_are_their_numpy_twin(overbooked):
    """``kernels.fab_account_states`` and ``fab_account_output`` against ``FabFleets._account``'s numpy code on
    the same state: the recorded row (output per fab, group series, NaN availability where no tool is
    scheduled) and the repair times, also when more repair time is booked than a day holds somewhere (every
    cohort's repairs are then scaled)."""
    fl = _fleets_at_end("200d")
    assert fl._account_k is not None
    rng = np.random.default_rng(3)
    fl.installing[0, :40] = fl.fleet[0, :40]                  # every tool installing: nothing scheduled
    elig = np.maximum(fl.fleet - fl.installing - fl.waiting, 0)
    down_v = rng.uniform(0.0, 0.3, elig.shape) * elig
    down_l = rng.uniform(0.0, 0.3, elig.shape) * elig
    if overbooked:
        down_v[1, 3] = elig[1, 3] * 2.0 + 5.0
    got = {}
    for how in ("numpy", "compiled"):
        ks = fl._account_k
        if how == "numpy":
            fl._account_k = None
        dv, dl = down_v.copy(), down_l.copy()
        fl._account(150, elig, dv, dl)
        fl._account_k = ks
        got[how] = (fl.block[fl.lanes.row(150)].copy(), dv, dl, fl._S.copy())
    for a, b in zip(got["numpy"], got["compiled"]):
        assert np.array_equal(a, b, equal_nan=True)
    row, dv, _, _ = got["compiled"]
    assert np.isnan(row).any()                                 # availability with no tool scheduled
    assert overbooked == (not np.array_equal(dv, down_v))      # the cap bit only where booked beyond the day


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
@pytest.mark.parametrize("expansion_stopped", [False, True])
def test_compiled_arrivals_are_their_numpy_twin(expansion_stopped):
    """``kernels.fab_arrivals`` against ``FabFleets._arrivals_numpy`` on the same state, three days running (the
    pipelines' rows turn): fleet, qualification, waiting, carried fractions and every pipeline agree, also
    with new tools ordered from domestic substitutes where expansion is stopped in some lanes."""
    got = {}
    for how in ("numpy", "compiled"):
        fl = _fleets_at_end("200d")
        assert fl._arrive_k is not None
        if expansion_stopped:
            fl.s_exp[:] = 0.0
            fl.s_exp[1:, ::3] = 0.6
            fl.deliv_factor[:] = 1.0 - fl.s_exp
            fl._any["any_exp"] = True
        if how == "numpy":
            fl._arrive_k = None
        for day in (197, 198, 199):            # rows of the rings turn (the state is that of day 199)
            fl._arrivals(day)
        got[how] = {k: v.copy() for k, v in vars(fl).items() if isinstance(v, np.ndarray) and not k.startswith("_")}
    assert {"fleet", "installing", "waiting", "carry", "ring_deliv", "ring_qual", "ring_back", "q"} <= got["numpy"].keys()
    for k in got["numpy"]:
        assert np.array_equal(got["numpy"][k], got["compiled"][k], equal_nan=True), k


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
@pytest.mark.parametrize("parts_cut", [True, False])
def test_compiled_hazard_is_its_numpy_twin(parts_cut):
    """``kernels.fab_hazard`` (``FabFleets._hazard_compiled``) against ``_pm_deficit`` then ``_failure_rate`` in
    numpy on the same state, three days running (weekly redundant tools included): expected failures, local
    learning, PM debt, kit stocks, third-party kits, kit yield and every other array agree, with and without
    a parts cut."""
    got = {}
    for how in ("numpy", "compiled"):
        fl = _fleets_at_end("200d")
        fl._any["has_part"] = parts_cut
        fl.parts.kits[:] = 3.0                                 # a few kits left: some cohorts run out
        kits0 = fl.parts.kits.copy()
        out = []
        for day in (196, 197, 198):                            # 196: a week's redundant tools are ordered
            active = fl.fleet - fl.installing - fl.waiting
            if how == "compiled":
                learn, lam = fl._hazard_compiled(day, active)
            else:
                learn, deficit = fl._pm_deficit(day, active)
                lam = active * fl._failure_rate(day, deficit, learn)
            out += [learn.copy(), lam.copy()]
        state = {k: v.copy() for obj in (fl, fl.parts) for k, v in vars(obj).items()
                 if isinstance(v, np.ndarray) and not k.startswith("_")}
        got[how] = (out, state)
    for a, b in zip(got["numpy"][0], got["compiled"][0]):
        assert np.array_equal(a, b)
    (_, s0), (_, s1) = got["numpy"], got["compiled"]
    assert {"e_pm", "kits", "tp_avail", "decay", "kit_q", "ring_deliv", "refurb_ring"} <= s0.keys() == s1.keys()
    for k in s0:
        assert np.array_equal(s0[k], s1[k], equal_nan=True), k
    assert parts_cut == (not np.array_equal(s1["kits"], kits0))    # kits are used only under a parts cut


@pytest.mark.skipif(not kernels.available(), reason="numba not installed")
def test_compiled_substitutes_learning_is_its_numpy_twin():
    """``kernels.fab_sub_cum``/``fab_sub_set`` (``FabFleets._substitutes_learn`` compiled) against its numpy
    lines on the same state, three days running: some lanes receive substitute tools, some none, some tools that
    are not substitutes only; the cumulative deliveries and the throughput factor ``q`` agree bit for bit, and
    only lanes with substitute deliveries learn."""
    got = {}
    for how in ("numpy", "compiled"):
        fl = _fleets_at_end("60d")
        if how == "numpy":
            fl._sub_k = None
        assert fl.sub_of_group.size
        rng = np.random.default_rng(3)
        q0 = fl.q.copy()
        for _ in range(3):
            deliv = np.zeros_like(fl._deliv)
            deliv[0, fl.sub_of_group] = rng.integers(0, 3, fl.sub_of_group.size)
            other = np.setdiff1d(np.arange(deliv.shape[1]), fl.sub_of_group)
            deliv[1, other[:3]] = 2                                  # lane 1: no substitute tools
            deliv[2, fl.sub_of_group[0]] = 1
            fl._substitutes_learn(deliv)
        got[how] = (fl.cum_sub.copy(), fl.q.copy(), q0)
    (c0, q_np, q0), (c1, q_c, _) = got["numpy"], got["compiled"]
    assert c0.tobytes() == c1.tobytes() and q_np.tobytes() == q_c.tobytes()
    assert not np.array_equal(q_np[0], q0[0]) and np.array_equal(q_np[1], q0[1])
