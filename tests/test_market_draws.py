"""The mineral markets' random numbers are drawn when first used (``market.markets``): a Chinese edge's licence
delays when licensing first applies to it, a project's lead time when it starts. A lane builds none of those
streams up front, and the numbers it draws are those its named streams give from their start."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simulator import runner
from simulator.engine import world as W
from simulator.engine.market.markets import MineralMarkets
from simulator.engine.shared_lanes import SharedBaselines
from simulator.engine.streams import Streams, replication_seeds
from simulator.scenario.load import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _built(name: str, sets: list[str]):
    """One replication of a shipped scenario (its baseline lane, then its scenario lane), built, not run."""
    loaded = load_scenario(str(SCENARIOS / f"{name}.yaml"), ["replications=1", *sets])
    sc, _ = runner.played(loaded.scenario)
    seed = replication_seeds(sc.seed, 1)[0]
    specs = [W.LaneSpec(0, seed, True), W.LaneSpec(0, seed, False, 0)]
    lanes, mechs = W.build_lanes(sc, loaded.world.values, specs)
    markets = next(m for m in mechs if isinstance(m, (MineralMarkets, SharedBaselines)))
    return lanes, mechs, getattr(markets, "main", markets), seed


def _market_streams(lanes) -> list[set[str]]:
    return [{k for k in ctx.streams._cache if k.endswith(".licence") or ".project." in k} for ctx in lanes.runs]


def test_a_lane_builds_no_licence_or_project_stream():
    """Building the headline's markets draws no licence delay and no lead time (~120 streams a lane before)."""
    lanes, _, markets, _ = _built("japan_servicing_ban", ["horizon=200d"])
    assert markets.d.p_names and markets.from_china.any()
    assert _market_streams(lanes) == [set(), set()]
    assert np.isnan(markets.projects.lead).all()
    assert markets.trade.z_licence == [{}, {}]


def test_licence_delays_and_lead_times_are_the_streams_numbers_from_their_start():
    """The 2023 gallium and germanium licensing replay: licensing applies to Chinese edges and projects start.
    Each drawn licence row and lead time is the first draw of its named stream, and only the streams of edges
    under licensing and of started projects exist."""
    lanes, mechs, markets, seed = _built("replay_gallium_germanium_2023", [])
    W.run_lanes(lanes, mechs)
    d, trade, projects = markets.d, markets.trade, markets.projects
    lane = 1                                         # the scenario lane (the markets' own lane order)
    licensed = sorted(trade.z_licence[lane])
    started = np.flatnonzero(~np.isnan(projects.start[lane]))
    assert licensed and started.size, "the replay licenses edges and starts projects"
    fresh = Streams(seed)
    for e in licensed:
        z = fresh.get(f"minerals.{d.e_names[e]}.licence").standard_normal(lanes.days)
        assert trade.z_licence[lane][e].tobytes() == z.tobytes()
    for k in started:
        z = fresh.get(f"minerals.{d.items[d.p_m[k]]}.project.{d.p_names[k]}").standard_normal()
        assert projects.lead[lane, k] == max(30.0, d.p_lead[k] + d.p_lead_sd[k] * z)
    assert np.isnan(projects.lead[lane, np.isnan(projects.start[lane])]).all()
    names = _market_streams(lanes)[lane]
    assert names == ({f"minerals.{d.e_names[e]}.licence" for e in licensed}
                     | {f"minerals.{d.items[d.p_m[k]]}.project.{d.p_names[k]}" for k in started})
