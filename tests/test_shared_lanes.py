"""Baseline lanes sharing one run of the mineral markets (``engine.shared_lanes``): every lane's recorded numbers
and events are those it has when every lane is stepped, before and after the baseline lanes part."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator import runner
from simulator.engine import kernels, shared_lanes
from simulator.engine import world as W
from simulator.engine.market.markets import MineralMarkets
from simulator.engine.shared_lanes import SharedBaselines
from simulator.engine.streams import replication_seeds
from simulator.report.reduce import Reducer
from simulator.scenario.load import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _batch(name: str, reps: int, horizon: str | None, share: bool, compiled: bool, monkeypatch):
    """The batch of ``reps`` replications of a shipped scenario (baseline and scenario lanes, measures dated
    before the start played as a spin-up), run to its horizon; returns the lanes and the markets."""
    monkeypatch.setattr(shared_lanes, "ENABLED", share)
    monkeypatch.setattr(shared_lanes, "PARTED", set())
    monkeypatch.setattr(kernels, "worth_compiling", lambda *a, **k: compiled)
    sets = [f"replications={reps}"] + ([f"horizon={horizon}"] if horizon else [])
    loaded = load_scenario(str(SCENARIOS / f"{name}.yaml"), sets)
    sc, _ = runner.played(loaded.scenario)
    seeds = replication_seeds(sc.seed, reps)
    specs: list[W.LaneSpec] = []
    for i in range(reps):
        specs.append(W.LaneSpec(i, seeds[i], True))
        specs.append(W.LaneSpec(i, seeds[i], False, len(specs) - 1))
    lanes, mechs = W.build_lanes(sc, loaded.world.values, specs)
    W.run_lanes(lanes, mechs)
    return lanes, next(m for m in mechs if isinstance(m, (MineralMarkets, SharedBaselines)))


def _assert_same_lanes(a, b) -> None:
    """Every lane records the same bytes in every series, and the same events in the same order."""
    assert a.n == b.n
    for lane in range(a.n):
        ra, rb = a.runs[lane].recorder, b.runs[lane].recorder
        assert list(ra.data) == list(rb.data)
        for key in ra.data:
            x, y = np.ascontiguousarray(ra.data[key]), np.ascontiguousarray(rb.data[key])
            assert x.tobytes() == y.tobytes(), (lane, key)
        assert ra.events == rb.events, lane


def _modes() -> list[bool]:
    return [False, True] if kernels.available() else [False]


@pytest.mark.parametrize("compiled", _modes())
def test_baselines_share_one_market_run_and_get_its_numbers(compiled, monkeypatch):
    """The headline's baseline lanes never part (no alternative-supply project starts in a baseline): the
    markets step the scenario lanes and one baseline lane, and every baseline lane records its numbers."""
    shared, m = _batch("japan_servicing_ban", 3, "150d", True, compiled, monkeypatch)
    assert isinstance(m, SharedBaselines) and m.main.n == 3 + 1 and m.apart is None
    assert not m.view.direct                                   # lanes interleaved: a staging row copied out
    alone, m2 = _batch("japan_servicing_ban", 3, "150d", False, compiled, monkeypatch)
    assert isinstance(m2, MineralMarkets) and m2.n == 6
    _assert_same_lanes(alone, shared)


@pytest.mark.parametrize("compiled", _modes())
@pytest.mark.parametrize("replay", [False, True])
def test_baselines_part_when_a_project_draws_its_own_lead_time(compiled, replay, monkeypatch):
    """In the 2023 gallium/germanium replay a project starts in the baselines on day 295 (of 913), each lane
    with its own lead time: from then on every other baseline lane has its own markets, which take the
    representative's state with their own lead times (or, ``replay``, are stepped again from day 0 with their own
    random streams: a second build must not draw again from streams the first build used), and every lane's
    numbers and events are those it has when every lane is stepped. A batch that had to replay leaves the next
    batch of its calendar in this process unshared; one that took the state does not."""
    if replay:
        monkeypatch.setattr(MineralMarkets, "take_lane", lambda self, src, lane, day: False)
    shared, m = _batch("replay_gallium_germanium_2023", 3, None, True, compiled, monkeypatch)
    assert isinstance(m, SharedBaselines) and m.apart is not None and m.apart.n == 2   # the other baselines
    loaded = load_scenario(str(SCENARIOS / "replay_gallium_germanium_2023.yaml"), ["replications=2"])
    sc, _ = runner.played(loaded.scenario)
    seeds = replication_seeds(sc.seed, 2)
    specs = [W.LaneSpec(0, seeds[0], True), W.LaneSpec(0, seeds[0], False, 0),
             W.LaneSpec(1, seeds[1], True), W.LaneSpec(1, seeds[1], False, 2)]
    _, mechs = W.build_lanes(sc, loaded.world.values, specs)
    assert any(type(x) is (MineralMarkets if replay else SharedBaselines) for x in mechs)
    alone, _ = _batch("replay_gallium_germanium_2023", 3, None, False, compiled, monkeypatch)
    _assert_same_lanes(alone, shared)
    online = [e for e in shared.runs[2].recorder.events if e.event.endswith("_online")]
    assert online and online != [e for e in shared.runs[0].recorder.events if e.event.endswith("_online")]


def test_lane_state_is_copied_along_the_lane_axis_only():
    """``copy_lane_state``: arrays and per-lane lists whose length follows the lane count take the source
    lane's entry along that axis (rings: the second axis), sub-objects too; named attributes and lane-free
    arrays stay as built; equal lane counts or an axis that cannot be told copy nothing."""
    from types import SimpleNamespace as NS

    from simulator.engine.shared_lanes import copy_lane_state
    src = NS(n=3, a=np.arange(6.0).reshape(3, 2), ring=np.arange(12.0).reshape(2, 3, 2), fixed=np.ones(4),
             own=np.arange(3.0), per=["x", "y", "z"])
    src.sub = NS(n=3, b=np.array([[1, 2], [3, 4], [5, 6]]))
    dst = NS(n=2, a=np.zeros((2, 2)), ring=np.zeros((2, 2, 2)), fixed=np.zeros(4), own=np.full(2, 9.0),
             per=["-", "-"])
    dst.sub = NS(n=2, b=np.zeros((2, 2), dtype=int))
    assert copy_lane_state(dst, src, 1, frozenset({"own"}))
    assert dst.a.tolist() == [[2.0, 3.0]] * 2 and dst.ring[:, 0].tolist() == dst.ring[:, 1].tolist() == [[2, 3], [8, 9]]
    assert dst.fixed.tolist() == [0.0] * 4 and dst.own.tolist() == [9.0, 9.0] and dst.per == ["y", "y"]
    assert dst.sub.b.tolist() == [[3, 4], [3, 4]]
    same = NS(n=3, a=np.zeros((3, 2)))
    assert not copy_lane_state(same, src, 0, frozenset()) and not same.a.any()
    odd = NS(n=2, q=np.zeros((2, 2)))                     # src's (3, 3): which axis is the lane's?
    assert not copy_lane_state(odd, NS(n=3, q=np.ones((3, 3))), 0, frozenset()) and not odd.q.any()
    late = NS(n=2, q=np.zeros((2, 2)))                    # src made state while stepping that dst lacks
    assert not copy_lane_state(late, NS(n=3, q=np.ones((3, 2)), extra=1), 0, frozenset()) and not late.q.any()


def _folded(name: str, reps: int, horizon: str | None, share: bool, compiled: bool, monkeypatch):
    """The summaries of ``reps`` replications of a shipped scenario run as one batch folded as it runs (ring
    recorders, as ``simulate`` runs them), and the batch's markets (None when not shared)."""
    monkeypatch.setattr(shared_lanes, "ENABLED", share)
    monkeypatch.setattr(shared_lanes, "PARTED", set())
    monkeypatch.setattr(kernels, "worth_compiling", lambda *a, **k: compiled)
    seen: list[SharedBaselines] = []
    step = SharedBaselines.step

    def spy(self, day):
        if not seen or seen[-1] is not self:
            seen.append(self)
        if day == self.lanes.days - 1 and self.deferred:       # the last day, before the last window is folded
            _assert_deferred(self)
        return step(self, day)
    monkeypatch.setattr(SharedBaselines, "step", spy)
    sets = [f"replications={reps}"] + ([f"horizon={horizon}"] if horizon else [])
    loaded = load_scenario(str(SCENARIOS / f"{name}.yaml"), sets)
    sums = runner.run_batch(loaded.scenario, loaded.world.values, list(range(reps)),
                            reduce=Reducer(loaded.scenario))
    return sums, (seen[0] if seen else None)


def _assert_deferred(m: SharedBaselines) -> None:
    """While the baseline lanes agree, the other baseline lanes' recorders read the representative's days, and
    their own columns hold NaN but for the series read as the run goes (the markets read by the industries)."""
    live = m._live_columns()
    assert 0 < live.size < m.block.shape[2] // 10
    for f in m.followers:
        rec = m.lanes.runs[f].recorder
        assert any(a.base is m.block and np.shares_memory(a, m.block[:, m.rep]) for a, _ in rec.parts())
        own = m.block[:, f]
        assert np.isnan(np.delete(own, live, axis=1)).all() and not np.isnan(own[:, live]).any()


def _assert_same_summaries(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.events == y.events
        for part in ("metrics", "stats", "gdp", "buckets", "plot"):
            u, v = np.asarray(getattr(x, part)), np.asarray(getattr(y, part))
            assert u.shape == v.shape and u.tobytes() == v.tobytes(), (x.replication, part)


@pytest.mark.parametrize("compiled", _modes())
def test_folded_baselines_are_read_from_the_representative_and_get_its_numbers(compiled, monkeypatch):
    """A batch folded as it runs, its lanes as ``simulate`` orders them: the markets write the representative's
    and the scenario lanes' days straight into the batch's block; the other baseline lanes' market days are not
    copied, their recorders read the representative's (the fold too), only the series the industries read are
    copied each day; every pair's folded numbers and events are those it has when every lane is stepped."""
    shared, m = _folded("japan_servicing_ban", 3, "150d", True, compiled, monkeypatch)
    assert m is not None and m.apart is None and m.deferred and len(m.followers) == 2
    assert m.view.direct and m.main.block.base is m.block      # the markets write into the batch's block
    alone, none = _folded("japan_servicing_ban", 3, "150d", False, compiled, monkeypatch)
    assert none is None
    _assert_same_summaries(alone, shared)


@pytest.mark.parametrize("compiled", _modes())
@pytest.mark.parametrize("replay", [False, True])
def test_folded_baselines_take_their_own_days_when_they_part(compiled, replay, monkeypatch):
    """When the baseline lanes part mid-window (day 295 of the 2023 gallium/germanium replay), the other
    baseline lanes take the representative's days of the window under way and record and read their own from
    then on: every pair's folded numbers are those it has when every lane is stepped."""
    if replay:
        monkeypatch.setattr(MineralMarkets, "take_lane", lambda self, src, lane, day: False)
    shared, m = _folded("replay_gallium_germanium_2023", 3, None, True, compiled, monkeypatch)
    assert m is not None and m.apart is not None and not m.deferred
    for f in m.followers:
        assert all(not np.shares_memory(a, m.block[:, m.rep]) for a, _ in m.lanes.runs[f].recorder.parts())
    alone, _ = _folded("replay_gallium_germanium_2023", 3, None, False, compiled, monkeypatch)
    _assert_same_summaries(alone, shared)


TRIGGERED = """\
name: triggered
start: 2025-01-01
horizon: 200d
seed: 11
replications: 3
controls:
  - id: jp_ban
    by: Japan
    measures: [servicing, spare_parts]
    scope: {vendor_countries: [Japan]}
    effective: 2025-01-05
countermeasures:
  - id: cn_ga
    mineral: gallium
    kind: ban
    against: [Japan]
    trigger: {after: jp_ban, delay: 5d}
    lift: {when: {metric: gallium_primary.price_ex_china, above: 1.05, relative_to: baseline, for: 5d}}
  - id: cn_graphite
    mineral: graphite
    kind: ban
    against: [Japan]
    trigger: {when: {metric: graphite_spherical.Japan.days_of_cover, below: 0.9, relative_to: baseline, for: 3d}}
"""


@pytest.mark.parametrize("compiled", _modes())
def test_triggers_on_market_series_read_their_baselines_days(compiled, tmp_path, monkeypatch):
    """Triggers that read a market series relative to the baseline, one watching from the start and one from
    mid-run (a lift, from the day the ban takes effect): they read the other baseline lanes' days, copied each
    day from the first day a watch asks for them, and every pair's numbers and events are those of every lane
    stepped (the lift fires in every replication)."""
    path = tmp_path / "triggered.yaml"
    path.write_text(TRIGGERED)
    got = []
    for share in (True, False):
        monkeypatch.setattr(shared_lanes, "ENABLED", share)
        monkeypatch.setattr(shared_lanes, "PARTED", set())
        monkeypatch.setattr(kernels, "worth_compiling", lambda *a, **k: compiled)
        loaded = load_scenario(str(path))
        got.append(runner.run_batch(loaded.scenario, loaded.world.values, [0, 1, 2],
                                    reduce=Reducer(loaded.scenario)))
    _assert_same_summaries(got[1], got[0])
    assert all("ended" in [e.event for e in s.events[0] if e.entity == "cn_ga"] for s in got[0])


@pytest.mark.parametrize("compiled", _modes())
def test_transit_rings_as_long_as_the_longest_delay_change_no_number(compiled, monkeypatch):
    """The markets' transit and spot rings hold the longest transport, leakage or spot delay + 1 days (the rows
    a day writes stay near in memory); rings of the old fixed length give the same numbers, bit for bit, over a
    run that goes round them several times with leakage and spot purchases on them."""
    from simulator.engine.market import markets
    short, m = _batch("china_minerals_ban_japan", 2, "300d", False, compiled, monkeypatch)
    assert m.transit.shape[0] == m.spot.shape[0] == max(m.tau_e.max(), m.tau_leak.max(), m.tau_spot.max()) + 1 < 300 / 2
    for metric in (".leakage", ".spot_imports"):     # both rings carry goods in the scenario lanes
        assert any(np.any(v) for run in short.runs for k, v in run.recorder.data.items() if k.endswith(metric))
    monkeypatch.setattr(markets, "ring_days", lambda *delays: markets.H_TRANSIT)
    long, m2 = _batch("china_minerals_ban_japan", 2, "300d", False, compiled, monkeypatch)
    assert m2.transit.shape[0] == markets.H_TRANSIT
    _assert_same_lanes(short, long)
