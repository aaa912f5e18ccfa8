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
    alone, m2 = _batch("japan_servicing_ban", 3, "150d", False, compiled, monkeypatch)
    assert isinstance(m2, MineralMarkets) and m2.n == 6
    _assert_same_lanes(alone, shared)


@pytest.mark.parametrize("compiled", _modes())
def test_baselines_part_when_a_project_draws_its_own_lead_time(compiled, monkeypatch):
    """In the 2023 gallium/germanium replay a project starts in the baselines on day 295 (of 913), each lane
    with its own lead time: from then on every baseline lane has its own markets, replayed from day 0 with its
    own random streams (a second build must not draw again from streams the first build used), and its numbers
    and events are those it has when every lane is stepped; the next batch of the same calendar in this
    process steps its baselines apart from the start."""
    shared, m = _batch("replay_gallium_germanium_2023", 3, None, True, compiled, monkeypatch)
    assert isinstance(m, SharedBaselines) and m.apart is not None and m.apart.n == 2   # the other baselines
    # parted once: a later batch of this calendar in the same process is not shared
    loaded = load_scenario(str(SCENARIOS / "replay_gallium_germanium_2023.yaml"), ["replications=2"])
    sc, _ = runner.played(loaded.scenario)
    seeds = replication_seeds(sc.seed, 2)
    specs = [W.LaneSpec(0, seeds[0], True), W.LaneSpec(0, seeds[0], False, 0),
             W.LaneSpec(1, seeds[1], True), W.LaneSpec(1, seeds[1], False, 2)]
    _, mechs = W.build_lanes(sc, loaded.world.values, specs)
    assert any(type(x) is MineralMarkets for x in mechs)
    alone, _ = _batch("replay_gallium_germanium_2023", 3, None, False, compiled, monkeypatch)
    _assert_same_lanes(alone, shared)
    online = [e for e in shared.runs[2].recorder.events if e.event.endswith("_online")]
    assert online and online != [e for e in shared.runs[0].recorder.events if e.event.endswith("_online")]
