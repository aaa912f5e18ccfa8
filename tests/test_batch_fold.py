"""A batch's pairs folded together (report.batch_fold): one compiled call a window over the batch's blocks, the
numbers of each pair folded alone, byte for byte; pair by pair where the parts are not views of shared blocks."""
from __future__ import annotations

import numpy as np
import pytest

from simulator import runner
from simulator.report.batch_fold import BatchFold, baseline_sources
from simulator.report.day_fold import DayFold
from simulator.report.layout import Layout
from simulator.report.metrics import IMPACT_THRESHOLD, PRICE_JUMP
from simulator.report.reduce import Reducer
from simulator.scenario.load import load_scenario

SCENARIO = "scenarios/japan_servicing_ban.yaml"
PARTS = ("metrics", "stats", "gdp", "buckets", "plot")


def _compiled():
    from simulator.engine import kernels
    if not kernels.available():
        pytest.skip("numba is not available or turned off")


def _same(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True) and \
        np.array_equal(np.signbit(a), np.signbit(b))


@pytest.fixture(scope="module")
def batch():
    """Three replications' pairs, every day recorded (their recorders' parts are views of the batch's blocks)."""
    loaded = load_scenario(SCENARIO, ["replications=3", "horizon=200d", "output.frequency=7d"])
    sc = loaded.scenario
    pairs = runner.run_batch(sc, loaded.world.values, [0, 1, 2])
    return sc, pairs, Layout(sc, pairs[0].scenario.info)


class Copied:
    """A recorder whose parts are copies (not views of the batch's blocks); ``fresh``: a new list at each call."""

    def __init__(self, rec, copy: bool = True, fresh: bool = False):
        self._parts = [(np.ascontiguousarray(a) if copy else a, k) for a, k in rec.parts()]
        self.fresh = fresh

    def parts(self):
        return list(self._parts) if self.fresh else self._parts


def _alone(lay, pairs, cuts):
    out = []
    for p in pairs:
        fold = DayFold(lay, compiled=True)
        for a, z in zip(cuts, cuts[1:]):
            assert fold.add_recorders(p.scenario, p.baseline, a, z) is None
        out.append(fold.finish())
    return out


def test_a_batch_is_folded_in_one_call_a_window_with_each_pairs_own_numbers(batch):
    _compiled()
    sc, pairs, lay = batch
    cuts = [0, 64, 91, 128, 150, sc.days]          # windows across quarters: GDP sums carried over
    folds = [DayFold(lay, compiled=True) for _ in pairs]
    calls = []
    kernel = folds[0].kernel

    def counted(*args):
        calls.append(len(args[2]))
        return kernel(*args)
    folds[0].kernel = counted
    bf = BatchFold(folds)
    for a, z in zip(cuts, cuts[1:]):
        assert bf.add([p.scenario for p in pairs], [p.baseline for p in pairs], a, z) is None
    assert calls == [3] * (len(cuts) - 1)           # one call a window, for the three pairs
    for got, want in zip([f.finish() for f in folds], _alone(lay, pairs, cuts)):
        for name, x, y in zip(PARTS, got, want):
            assert _same(x, y), name


def test_recorders_that_change_or_are_not_views_of_shared_blocks_are_folded_as_well(batch):
    """A new list of parts (a series added) makes a new call with the days folded so far; copies of the parts
    (no shared blocks) are folded pair by pair, the GDP quarter under way carried over."""
    _compiled()
    sc, pairs, lay = batch
    folds = [DayFold(lay, compiled=True) for _ in pairs]
    bf = BatchFold(folds)
    S, B = [p.scenario for p in pairs], [p.baseline for p in pairs]
    assert bf.add(S, B, 0, 64) is None and bf._plan is not None
    first = bf._plan
    fresh = [Copied(r, copy=False, fresh=True) for r in S], [Copied(r, copy=False, fresh=True) for r in B]
    assert bf.add(*fresh, 64, 100) is None and bf._plan is not None and bf._plan is not first
    copies = [Copied(r) for r in S], [Copied(r) for r in B]
    assert bf.add(*copies, 100, 150) is None and bf._plan is None      # pair by pair
    assert bf.add(S, B, 150, sc.days) is None and bf._plan is not None
    for got, want in zip([f.finish() for f in folds], _alone(lay, pairs, [0, 64, 100, 150, sc.days])):
        for name, x, y in zip(PARTS, got, want):
            assert _same(x, y), name


def test_a_baseline_that_pairs_read_from_one_lane_is_folded_once_with_each_pairs_own_numbers(batch):
    """Pairs whose baseline part is the same lane of a block (a sweep's points, which share one baseline lane;
    the replications' market lanes in a ring folded as it runs, ``engine.shared_lanes``) fold it once: the first
    of them folds it, the others take its rows. Every array, and the first NaN of the baseline, is what folding
    that baseline again for each pair gives."""
    _compiled()
    sc, pairs, lay = batch
    folds = [DayFold(lay, compiled=True) for _ in pairs]
    plan = BatchFold(folds)._plan_for([p.scenario for p in pairs], [p.baseline for p in pairs])
    _, blocks, s_lanes, b_lanes, _, call, state, kept = plan
    k0s, cols, fptr, small_j, small_q, small_ptr = call
    b_lanes = np.repeat(b_lanes[:1], len(pairs), axis=0)      # every pair reads pair 0's baseline, as a sweep's do
    b_src = baseline_sources(b_lanes)
    assert (b_src[0] == -1).all() and (b_src[1:] == 0).all()
    part = int(np.argmax([b.shape[2] for b in blocks]))        # the markets' block, the largest
    blk, lane = blocks[part], b_lanes[0, part]
    was = blk[40, lane, 7]
    blk[40, lane, 7] = np.nan
    try:
        got = []
        for src in (b_src, np.full_like(b_src, -1)):
            st = [a.copy() for a in state]
            kp = [None if a is None else a.copy() for a in kept]
            nan = np.full((len(pairs), 4), np.iinfo(np.int64).max, dtype=np.int64)
            g = len(folds[0].gdp_rows)
            S, B = np.empty((len(pairs), 64, g)), np.empty((len(pairs), 64, g))
            folds[0].kernel(blocks, blocks, s_lanes, b_lanes, src, k0s, 0, 64, 0, folds[0].period_step(), cols,
                            fptr, IMPACT_THRESHOLD, 1.0 + PRICE_JUMP, *st, nan, small_j, small_q, small_ptr, S, B,
                            *kp)
            got.append(st + [a for a in kp if a is not None] + [nan, S, B])
        for x, y in zip(*got):
            assert _same(x, y)
        assert (got[0][-3][:, 0] == k0s[part] + 7).all() and (got[0][-3][:, 1] == 40).all()
    finally:
        blk[40, lane, 7] = was


def test_the_first_pair_with_a_nan_is_named_with_its_series_and_day(batch):
    _compiled()
    sc, pairs, lay = batch
    keys = lay.keys
    s1 = pairs[1].scenario
    col = s1.data[keys[500]]
    was = col[40]
    col[40] = np.nan                                   # a view of the batch's block
    try:
        got = []
        for recs in (([p.scenario for p in pairs], [p.baseline for p in pairs]),
                     ([Copied(p.scenario) for p in pairs], [Copied(p.baseline) for p in pairs])):
            bf = BatchFold([DayFold(lay, compiled=True) for _ in pairs])
            got.append(bf.add(*recs, 0, 64))
        alone = DayFold(lay, compiled=True).add_recorders(s1, pairs[1].baseline, 0, 64)
        assert got == [(1, *alone)] * 2 and alone == ("scenario", keys[500], 40)
    finally:
        col[40] = was


def test_simulate_folds_a_batch_with_one_call_a_window(monkeypatch):
    """The runner hands each window of a batch to one call (the folds it makes are the batch's)."""
    _compiled()
    loaded = load_scenario(SCENARIO, ["replications=2", "horizon=100d"])
    sc = loaded.scenario
    made = []
    real = Reducer.batch

    def spy(self, folds):
        made.append(real(self, folds))
        return made[-1]
    monkeypatch.setattr(Reducer, "batch", spy)
    runner.run_batch(sc, loaded.world.values, [0, 1], Reducer(sc))
    assert len(made) == 1 and made[0]._plan is not None and len(made[0].folds) == 2
    b_src = made[0]._plan[4]                # the second pair takes the first's market baseline (one lane)
    assert (b_src[0] == -1).all() and (b_src[1] == 0).sum() == 1


def test_the_folds_of_a_layout_share_one_read_only_index(batch):
    """A reducer works out where the layout's series go once (``day_fold.fold_index``) and its folds share it
    (a sweep task's 64 folds: ~2 ms each before); the shared arrays cannot be written through a fold; a fold
    given no index works out the same one."""
    from simulator.report.day_fold import fold_index
    sc, pairs, lay = batch
    red = Reducer(sc, daily=False)
    info = pairs[0].scenario.info
    a, b = red.fold(info), red.fold(info)
    assert a.flags is b.flags and a.groups is b.groups and a.small_rows is b.small_rows
    assert a.lost is not b.lost                                     # running values: each fold its own
    with pytest.raises(ValueError):
        a.flags[0] = 0
    own = fold_index(red.layout(info), False)
    alone = DayFold(red.layout(info), daily=False)
    for f in (own, alone):
        assert np.array_equal(f.flags, a.flags) and np.array_equal(f.small_rows, a.small_rows)
        assert [(n, s.tolist(), r.tolist()) for n, s, r in f.groups] == \
            [(n, s.tolist(), r.tolist()) for n, s, r in a.groups]
