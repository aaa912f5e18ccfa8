"""A first run's compile shared out among its workers (``engine.first_compile``): each cold part compiled by one
worker, the others running it on its numpy twins with the same numbers, and marks that make the next run compile
nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from simulator import runner
from simulator.api import run_loaded
from simulator.engine import first_compile as fc
from simulator.engine import kernels
from simulator.engine import world as W
from simulator.engine.fabs import FabFleets
from simulator.engine.market.markets import MineralMarkets
from simulator.engine.shared_lanes import SharedBaselines
from simulator.engine.streams import replication_seeds
from simulator.scenario.load import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
ALL = set(fc.PARTS)


@pytest.fixture
def share_state(monkeypatch):
    """This process's share of a first compile, undone after the test."""
    monkeypatch.setattr(kernels, "_share", None)
    monkeypatch.setattr(kernels, "_marks_folder", None)
    monkeypatch.setattr(kernels, "_ran_compiled", set())
    monkeypatch.setenv("SIMULATOR_NUMBA", "always")


def test_each_cold_part_goes_to_one_worker_heaviest_first_to_the_least_loaded():
    two = fc.shares(list(fc.PARTS), 2)
    assert two == [{"markets", "industries"}, {"fabs", "fold", "economy"}]
    loads = [sum(fc.PARTS[p][0] for p in s) for s in two]
    assert abs(loads[0] - loads[1]) < 0.5          # 9.5 s against 9.4 s of compiling: half the 18.9 s each
    for slots in (1, 2, 3, 7):
        got = fc.shares(list(fc.PARTS), slots)
        assert len(got) == slots and set().union(*got) == ALL
        assert sum(len(s) for s in got) == len(ALL)  # no part compiled twice
    assert fc.shares(["fold"], 2) == [{"fold"}, set()]
    assert fc.shares([], 2) == [set(), set()]
    with pytest.raises(ValueError, match="slots"):
        fc.shares(["fold"], 0)


def test_a_mark_is_for_one_version_of_the_parts_source_and_of_numba(tmp_path, monkeypatch):
    src = tmp_path / "loops.py"
    src.write_text("x = 1\n")
    monkeypatch.setattr(fc, "source_of", lambda part: src)
    marks = fc.Marks(tmp_path, "0.62.0")
    assert not marks.cached("fabs")
    marks.mark("fabs")
    assert marks.cached("fabs") and not marks.cached("markets")
    assert not fc.Marks(tmp_path, "0.63.0").cached("fabs")          # another numba: compiled again
    src.write_text("x = 2  # edited\n")                                # the loops edited: numba's cache is stale
    assert not marks.cached("fabs")
    marks.mark("fabs")                                                  # the new version's mark replaces the old
    assert marks.cached("fabs") and len(list(tmp_path.glob("simulator-compiled-fabs-*"))) == 1


def test_workers_leave_each_other_their_cold_parts_and_nothing_once_marked(tmp_path):
    marks = fc.Marks(tmp_path, "v")
    assert fc.Share(0, 2).leaves("fabs", marks) and not fc.Share(0, 2).leaves("markets", marks)
    left = [{p for p in fc.PARTS if fc.Share(k, 2).leaves(p, marks)} for k in (0, 1)]
    assert left == [{"fabs", "fold", "economy"}, {"markets", "industries"}]
    for p in fc.PARTS:
        marks.mark(p)
    assert not any(fc.Share(k, 2).leaves(p, marks) for k in (0, 1) for p in fc.PARTS)
    # a folder that cannot be written never gets marks: no sharing, or every run would be a first run
    missing = fc.Marks(tmp_path / "no such folder", "v")
    assert not any(fc.Share(0, 2).leaves(p, missing) for p in fc.PARTS)
    assert not fc.Share(0, 1).leaves("fabs", marks)
    with pytest.raises(ValueError, match="slot"):
        fc.Share(2, 2)


def _build(share: tuple[int, int] | None, folder: Path):
    if share is not None:
        kernels.share_first_compile(*share, folder=folder)
    loaded = load_scenario(str(SCENARIOS / "japan_servicing_ban.yaml"), ["replications=1", "horizon=30d"])
    sc, _ = runner.played(loaded.scenario)
    seed = replication_seeds(sc.seed, 1)[0]
    lanes, mechs = W.build_lanes(sc, loaded.world.values, [W.LaneSpec(0, seed, True), W.LaneSpec(0, seed, False, 0)])
    fabs = next(m for m in mechs if isinstance(m, FabFleets))
    markets = next(m for m in mechs if isinstance(m, (MineralMarkets, SharedBaselines)))
    markets = getattr(markets, "main", markets)        # shared baseline lanes: their main part
    return fabs, markets


def test_a_worker_runs_the_parts_left_to_others_on_numpy(tmp_path, share_state):
    pytest.importorskip("numba")
    fabs, markets = _build((0, 2), tmp_path)
    assert not fabs.draws.compiled and fabs._parts_day is None          # left to worker 1
    assert markets._kernels and markets.holders._day is not None          # its own
    assert kernels.would_compile(10_000, "fold") is False
    assert kernels._ran_compiled == {"markets", "industries"}


def test_worker_one_compiles_what_worker_zero_leaves(tmp_path, share_state):
    pytest.importorskip("numba")
    fabs, markets = _build((1, 2), tmp_path)
    assert fabs.draws.compiled and fabs._parts_day is not None
    assert not markets._kernels and markets.holders._day is None
    assert kernels.would_compile(10_000, "fold") is True


def _write(res, folder: Path) -> dict[str, bytes]:
    res.write(folder, plots=False)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


@pytest.mark.parametrize("slot", [0, 1])
def test_a_shared_first_compile_gives_the_same_bytes_and_marks_what_it_compiled(tmp_path, share_state, slot):
    """Each worker's batch, with the parts left to the other on numpy, writes the bytes of an all-compiled run;
    after it, the parts it ran compiled are marked as cached and the others are not."""
    pytest.importorskip("numba")
    loaded = load_scenario(str(SCENARIOS / "japan_servicing_ban.yaml"), ["replications=2", "horizon=400d"])
    whole = _write(run_loaded(loaded, jobs=1, progress=False), tmp_path / "whole")
    assert kernels._ran_compiled == ALL
    kernels._ran_compiled.clear()
    kernels.share_first_compile(slot, 2, folder=tmp_path)
    shared = _write(run_loaded(loaded, jobs=1, progress=False), tmp_path / "shared")
    assert shared == whole and "timeseries.csv" in shared
    mine = fc.shares(list(fc.PARTS), 2)[slot]
    assert kernels._ran_compiled == mine
    marks = fc.Marks(tmp_path, kernels._numba.__version__)
    assert {p for p in fc.PARTS if marks.cached(p)} == mine
    # the next run's workers find those parts cached: the other worker's parts are all that is left to share
    left_next = [{p for p in fc.PARTS if fc.Share(k, 2).leaves(p, marks)} for k in (0, 1)]
    assert set().union(*left_next) == ALL - mine
    # the share ended with the batch: this process's next batch runs every part compiled
    fabs, markets = _build(None, tmp_path)
    assert fabs.draws.compiled and markets._kernels


def test_zygote_workers_started_together_share_and_later_ones_do_not(share_state, monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "defer_collections", lambda flag: calls.append(("defer", flag)))
    monkeypatch.setattr(kernels, "share_first_compile", lambda slot, slots: calls.append(("share", slot, slots)))
    runner._zygote_worker((1, 2))
    runner._zygote_worker(None)
    runner._zygote_worker((0, 1))
    assert calls == [("defer", True), ("share", 1, 2), ("defer", True), ("defer", True)]
