"""Runs stepped together as lanes of one batch give each run exactly the numbers it has alone.

A batch shares one SimPy environment and numpy arrays with a leading lane axis; a lane's numbers must not depend
on its neighbours (a baseline lane next to a scenario lane, one replication next to another) nor on the batch size.
"""
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from simulator import runner
from simulator.engine.world import LaneSpec, simulate_lanes
from simulator.engine.streams import replication_seeds
from simulator.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _same(a, b) -> None:
    assert list(a.data) == list(b.data)
    for key in a.data:
        assert np.array_equal(a.data[key], b.data[key], equal_nan=True), key
    assert [(e.day, e.entity, e.event, e.cause) for e in a.events] == \
        [(e.day, e.entity, e.event, e.cause) for e in b.events]


@pytest.mark.parametrize("name, sets", [
    ("china_minerals_ban_japan", ["horizon=150d"]),                 # mineral bans: trade rules differ by lane
    ("escalation_ladder", ["horizon=240d"]),                        # when-triggers relative to the baseline
])
def test_a_batch_gives_each_replication_its_own_numbers(name, sets):
    loaded = load_scenario(str(ROOT / "scenarios" / f"{name}.yaml"), ["replications=3", *sets])
    sc, world = loaded.scenario, loaded.world.values
    together = runner.run_batch(sc, world, [0, 1, 2])
    alone = [runner.run_batch(sc, world, [i])[0] for i in (2, 0, 1)]
    for pair in alone:
        mate = together[pair.replication]
        _same(pair.baseline, mate.baseline)
        _same(pair.scenario, mate.scenario)
    # the lanes did differ: a measure acted in the scenario, and replications drew their own numbers
    s0, b0, s1 = together[0].scenario.data, together[0].baseline.data, together[1].scenario.data
    assert any(not np.array_equal(s0[k], b0[k], equal_nan=True) for k in s0)
    assert any(not np.array_equal(s0[k], s1[k], equal_nan=True) for k in s0)


def test_batches_and_workers_do_not_change_results():
    loaded = load_scenario(str(ROOT / "scenarios" / "china_minerals_ban_japan.yaml"),
                           ["replications=3", "horizon=90d"])
    sc, world = loaded.scenario, loaded.world.values
    calls: dict[int, list[int]] = {1: [], 2: []}
    one = runner.run_replications(sc, world, jobs=1, batch_size=1,
                                  meanwhile=lambda: calls[1].append(len(multiprocessing.active_children())))
    two = runner.run_replications(sc, world, jobs=2, batch_size=2,
                                  meanwhile=lambda: calls[2].append(len(multiprocessing.active_children())))
    # the parent's own work runs once, while both workers are alive; a run without workers has no "meanwhile"
    assert calls == {1: [], 2: [2]}
    for a, b in zip(one, two):
        assert a.replication == b.replication
        _same(a.scenario, b.scenario)
        _same(a.baseline, b.baseline)


def test_one_replication_runs_in_a_worker_when_there_is_work_beside_it(monkeypatch):
    """One batch, two jobs: with ``meanwhile`` work the batch runs in one worker while the work runs here (the
    same numbers as a run in this process); without it, in this process."""
    loaded = load_scenario(str(ROOT / "scenarios" / "china_minerals_ban_japan.yaml"),
                           ["replications=1", "horizon=60d"])
    sc, world = loaded.scenario, loaded.world.values
    seen: list[int] = []
    here = runner.run_replications(sc, world, jobs=1, meanwhile=lambda: seen.append(-1))
    batches_here: list[int] = []                # batches run in this process (a worker's append stays there)
    run_batch = runner.run_batch
    monkeypatch.setattr(runner, "run_batch", lambda *a: batches_here.append(1) or run_batch(*a))
    there = runner.run_replications(sc, world, jobs=2,
                                    meanwhile=lambda: seen.append(len(multiprocessing.active_children())))
    assert seen == [1] and batches_here == []
    alone = runner.run_replications(sc, world, jobs=2)      # nothing to do beside it: no worker
    assert batches_here == [1]
    for a, b in zip(here + here, there + alone):
        assert a.replication == b.replication == 0
        _same(a.scenario, b.scenario)
        _same(a.baseline, b.baseline)


def test_batches_split_replications_evenly_over_workers():
    assert runner.batches(20, 2, 16) == [list(range(10)), list(range(10, 20))]
    assert runner.batches(40, 1, 16) == [list(range(0, 13)), list(range(13, 27)), list(range(27, 40))]
    assert runner.batches(1, 4, 16) == [[0]]
    assert [len(b) for b in runner.batches(5, 2, 2)] == [2, 1, 2]


def test_a_scenario_lane_must_follow_its_baseline_lane():
    loaded = load_scenario(str(ROOT / "scenarios" / "japan_servicing_ban.yaml"), ["horizon=10d"])
    seq = replication_seeds(0, 1)[0]
    with pytest.raises(ValueError, match="baseline lane"):
        simulate_lanes(loaded.scenario, loaded.world.values, [LaneSpec(0, seq, False, 1), LaneSpec(0, seq, True)])


def test_batches_are_smaller_when_every_replications_daily_series_are_written():
    assert runner.batch_replications(2800, 1096, False) == runner.BATCH_REPLICATIONS
    small = runner.batch_replications(2800, 1096, True)
    assert 1 <= small < runner.BATCH_REPLICATIONS
    assert small * 2 * 2800 * 1096 * 8 <= runner.ALL_BATCH_BYTES
    assert runner.batch_replications(2800, 100_000, True) == 1


def test_a_build_pauses_collections_and_a_run_freezes_what_was_built(monkeypatch):
    """Building lanes runs without cyclic collections (world.collections_paused) and playing them with the heap
    alive at the start frozen (world.frozen_heap); both restore the collector's state after, also on error."""
    import gc
    from simulator.engine import world
    seen = {}
    real = world.Lanes.__init__

    def spy(self, *a, **k):
        seen["enabled_in_build"] = gc.isenabled()
        real(self, *a, **k)
    monkeypatch.setattr(world.Lanes, "__init__", spy)
    loaded = load_scenario(Path(__file__).parents[1] / "scenarios" / "japan_servicing_ban.yaml",
                           ["replications=1", "horizon=5d"])
    seq = replication_seeds(loaded.scenario.seed, 1)[0]
    lanes, mechs = world.build_lanes(loaded.scenario, loaded.world.values,
                                     [LaneSpec(0, seq, True), LaneSpec(0, seq, False, 0)])
    assert seen["enabled_in_build"] is False and gc.isenabled()

    step = mechs[0].step

    def step_spy(day):
        seen.setdefault("frozen_in_run", gc.get_freeze_count())
        step(day)
    mechs[0].step = step_spy
    assert gc.get_freeze_count() == 0
    world.run_lanes(lanes, mechs)
    assert seen["frozen_in_run"] > 1000 and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError):
        with world.collections_paused():
            raise RuntimeError
    assert gc.isenabled()
    gc.freeze()
    try:
        n = gc.get_freeze_count()
        with world.frozen_heap():
            pass
        assert gc.get_freeze_count() == n     # someone else's freeze is left as it was
    finally:
        gc.unfreeze()


def test_a_worker_collects_a_big_batch_before_its_next_build_not_at_its_end(monkeypatch):
    """With ``defer_collections`` (pool workers), a big batch's model is left for the collection that runs just
    before the next build: no full collection between a run's end and its result, the same memory peak."""
    import gc
    from simulator.engine import world
    loaded = load_scenario(Path(__file__).parents[1] / "scenarios" / "japan_servicing_ban.yaml",
                           ["replications=1", "horizon=2y"])
    seq = replication_seeds(loaded.scenario.seed, 1)[0]
    specs = [LaneSpec(i // 2, seq, i % 2 == 0, None if i % 2 == 0 else i - 1) for i in range(8)]
    calls = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: (calls.append(1), real(*a))[1])
    try:
        world.defer_collections(True)
        simulate_lanes(loaded.scenario, loaded.world.values, specs)      # 8 lanes × 730 days: a big batch
        assert world._COLLECTION["pending"] and not calls
        simulate_lanes(loaded.scenario, loaded.world.values, specs[:2])
        assert calls == [1] and not world._COLLECTION["pending"]   # collected first (2 lanes: not big)
        world.defer_collections(False)
        simulate_lanes(loaded.scenario, loaded.world.values, specs)
        assert calls == [1, 1] and not world._COLLECTION["pending"]   # not deferred: as the run ends
    finally:
        world.defer_collections(False)


@pytest.mark.parametrize("every, defer", [(False, True), (True, False)])
def test_workers_defer_collections_unless_every_replications_days_are_written(monkeypatch, every, defer):
    """Pool workers leave a batch's collection to their next build (runner._worker_init), except when every
    replication's days are written, where the batch would still be held while its days become results."""
    from concurrent.futures import Future
    seen = []

    class Inline:      # runs the batches here, recording what the workers would be initialised with
        def __init__(self, max_workers, initializer, initargs):
            seen.append(initargs)

        def submit(self, fn, *args):
            f = Future()
            f.set_result(fn(*args))
            return f

        def shutdown(self, *a, **k):
            pass
    monkeypatch.setattr(runner, "ProcessPoolExecutor", Inline)
    sets = ["replications=2", "horizon=10d"] + (["output.replications=all", "output.frequency=1d"] if every else [])
    loaded = load_scenario(Path(__file__).parents[1] / "scenarios" / "japan_servicing_ban.yaml", sets)
    runner.run_replications(loaded.scenario, loaded.world.values, jobs=2, batch_size=1)
    assert seen and seen[0][1] is defer


def test_a_series_registered_twice_is_named_whether_in_one_block_or_across_blocks():
    """``Lanes.block`` works out a block's keys once for all its lanes (and checks them once): a key twice in
    one block, or a key another block or series of the lanes has, is still refused with its name."""
    from simulator.engine.world import Lanes
    loaded = load_scenario(str(ROOT / "scenarios" / "japan_servicing_ban.yaml"), ["horizon=30d"])
    seeds = replication_seeds(1, 2)
    lanes = Lanes(loaded.scenario, loaded.world.values,
                  [LaneSpec(0, seeds[0], True), LaneSpec(0, seeds[0], False, 0), LaneSpec(1, seeds[1], True)])
    blk = lanes.block([("a", "x", "t"), ("a", "y", "t")])
    assert blk.shape == (30, 3, 2) and all(ctx.recorder.get("a.y") is not None for ctx in lanes.runs)
    lanes.runs[2].recorder.get("a.y")[4] = 7.0                          # a lane's column of the batch's block
    assert blk[4, 2, 1] == 7.0 and blk[4, :2].sum() == 0.0
    with pytest.raises(ValueError, match="'b.z' registered twice"):
        lanes.block([("b", "z", "t"), ("b", "w", "t"), ("b", "z", "t")])
    with pytest.raises(ValueError, match="'a.y' registered twice"):
        lanes.block([("c", "v", "t"), ("a", "y", "t")])
    lanes.series("d", "level", "t")
    with pytest.raises(ValueError, match="'d.level' registered twice"):
        lanes.block([("d", "level", "t")])
