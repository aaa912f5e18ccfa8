"""A run's days folded piece by piece (report.day_fold) give the numbers of the whole-series definitions
(report.metrics, reduce.stat_values / bucket_means / quarter_sum), byte for byte; and a batch folded while it
runs (a ring of recorded days) gives the summaries of its finished pairs folded afterwards."""
from __future__ import annotations

import numpy as np
import pytest

from simulator import runner
from simulator.engine.recorder import SeriesInfo
from simulator.report.day_fold import DayFold
from simulator.report.layout import Layout, impact_statistic
from simulator.report.metrics import METRICS, day_sum
from simulator.report.reduce import Reducer, bucket_means, quarter_sum, stat_values
from simulator.scenario.load import load_scenario

SCENARIO = "scenarios/japan_servicing_ban.yaml"
REPLAY = "scenarios/replay_antimony_2024.yaml"   # measures dated before start: a 182-day spin-up
LADDER = "scenarios/escalation_ladder.yaml"      # a `when` trigger reading a series against its baseline


def _synthetic_info() -> dict[str, SeriesInfo]:
    """Series declaring every impact metric and every impacts statistic, and two regions' GDP."""
    info = {}
    for i, summary in enumerate([("lost", "max_drop_pct", "time_to_impact", "recovery"), ("total",),
                                 ("peak", "days_above_50pct"), ("exhaustion",), ("mean",), ("first_stop",),
                                 ("lost",), ("peak",), ()]):
        unit = "t/day" if "total" in summary or "lost" in summary else "t"
        info[f"thing{i}.x"] = SeriesInfo(f"thing{i}", "x", unit, summary, headline=i < 3)
    for region in ("Japan", "US"):
        info[f"economy.{region}.gdp"] = SeriesInfo(f"economy.{region}", "gdp", "USD/day", ("lost",))
    return info


def _reference(lay: Layout, S: np.ndarray, B: np.ndarray):
    """The summary's numbers from whole series (keys × days), one series at a time."""
    row = {k: j for j, k in enumerate(lay.keys)}
    metrics = np.empty((2, len(lay.metric_slots)))
    for j, (key, name, _) in enumerate(lay.metric_slots):
        fn = METRICS[name][0]
        metrics[0, j] = fn(S[row[key]], B[row[key]])
        metrics[1, j] = fn(B[row[key]], B[row[key]])
    stats = np.empty((2, len(lay.impact_keys)))
    for j, key in enumerate(lay.impact_keys):
        stat = impact_statistic(lay.info[key])
        stats[0, j] = stat_values(S[[row[key]]], stat)[0]
        stats[1, j] = stat_values(B[[row[key]]], stat)[0]
    gdp = np.array([[[quarter_sum(X[row[f"economy.{r}.gdp"]][m]) for _, m in lay.quarter_masks]
                     for r in lay.regions] for X in (S, B)])
    buckets = np.stack([bucket_means(S, lay.step), bucket_means(B, lay.step)])
    plot = np.stack([X[[row[k] for k in lay.plot_keys]] for X in (S, B)])
    return metrics, stats, gdp, buckets, plot


def _same(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True) and \
        np.array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("days,frequency,pieces", [(300, "7d", [128]), (300, "1d", [128]), (300, "30d", [50, 3, 128]),
                                                   (257, "200d", [128]), (100, "7d", [1, 99]), (400, "91d", [13])])
def test_fold_gives_the_whole_series_numbers(days, frequency, pieces):
    sc = load_scenario(SCENARIO, ["replications=2", f"horizon={days}d", f"output.frequency={frequency}"]).scenario
    lay = Layout(sc, _synthetic_info())
    rng = np.random.default_rng(days)
    K = len(lay.keys)
    B = rng.uniform(50.0, 150.0, (K, days)) * 10.0 ** rng.integers(-3, 12, (K, 1))
    S = B * rng.uniform(0.3, 1.7, (K, days))
    S[3, 150:] = 0.0                # a stock that runs out (exhaustion)
    S[5, :40], B[5] = 0.0, 0.0      # a share that turns positive on day 40 (first stop)
    S[7] = B[7] = 42.0              # a peak held every day: its day is the first
    fold = DayFold(lay)
    d0, k = 0, 0
    while d0 < days:                  # pieces of the given lengths, in turn: the fold does not depend on them
        d1 = min(days, d0 + pieces[k % len(pieces)])
        fold.add(np.ascontiguousarray(S[:, d0:d1]), np.ascontiguousarray(B[:, d0:d1]))
        d0, k = d1, k + 1
    got, want = fold.finish(), _reference(lay, S, B)
    for name, g, w in zip(("metrics", "stats", "gdp", "buckets", "plot"), got, want):
        assert _same(g, w), name
    slot = {(k, m): j for j, (k, m, _) in enumerate(lay.metric_slots)}
    if days > 150:
        assert got[0][0, slot[("thing3.x", "exhaustion")]] == 150.0
    assert got[0][0, slot[("thing5.x", "first_stop")]] == 40.0
    assert got[0][0, slot[("thing7.x", "peak_day")]] == 0.0


def test_fold_refuses_days_it_cannot_place():
    sc = load_scenario(SCENARIO, ["horizon=300d"]).scenario
    lay = Layout(sc, _synthetic_info())
    fold = DayFold(lay)
    K = len(lay.keys)
    with pytest.raises(ValueError, match="next days"):
        fold.add(np.ones((K - 1, 100)), np.ones((K - 1, 100)))   # not every series
    fold.add(np.ones((K, 128)), np.ones((K, 128)))
    with pytest.raises(ValueError, match="at most 172 more"):
        fold.add(np.ones((K, 173)), np.ones((K, 173)))
    with pytest.raises(ValueError, match="has 128 of 300 days"):
        fold.finish()


@pytest.mark.parametrize("step", [2, 7, 30, 200, 500])
def test_period_means_are_the_means_of_the_periods(step):
    x = np.random.default_rng(step).uniform(1.0, 2.0, (3, 1000)) * 1e3
    x[1, 5] = np.nan
    starts = np.arange(0, 1000, step)
    want = np.stack([np.nanmean(x[:, a:a + step], axis=1) for a in starts], axis=1)
    got = bucket_means(x, step)
    assert got.shape == want.shape and np.allclose(got, want, rtol=1e-13, atol=0)
    assert np.allclose(bucket_means(x[[0, 2]], step), want[[0, 2]], rtol=1e-13, atol=0)


def test_day_sum_adds_the_days_in_order():
    x = np.random.default_rng(3).standard_normal((4, 1096)) * 1e6
    x[2, 7] = np.nan
    want = np.zeros(4)
    for d in range(1096):
        want = want + np.nan_to_num(x[:, d])
    assert np.array_equal(day_sum(x), want)
    assert np.allclose(day_sum(x), np.nansum(x, axis=1), rtol=1e-12, atol=1e-3)


def _summaries_equal(a, b):
    assert a.replication == b.replication and a.seed_entropy == b.seed_entropy
    for part in ("metrics", "stats", "gdp", "buckets", "plot"):
        assert _same(getattr(a, part), getattr(b, part)), part
    assert a.events == b.events
    assert (a.info is None) == (b.info is None)


@pytest.mark.parametrize("path,sets", [(SCENARIO, ["horizon=200d", "output.frequency=1d"]),
                                       (REPLAY, ["horizon=300d", "output.frequency=30d"]),
                                       (LADDER, ["horizon=500d"]), (SCENARIO, ["horizon=90d"])])
def test_a_batch_folded_while_it_runs_gives_the_summaries_of_its_finished_pairs(path, sets, monkeypatch):
    loaded = load_scenario(path, ["replications=3"] + sets)
    sc, world = loaded.scenario, loaded.world.values
    assert path != REPLAY or runner.spin_up_days(sc) > 0
    assert path != LADDER or any(getattr(m.trigger, "when", None) is not None for m in sc.measures if m.trigger)
    rows = []
    real = runner.simulate_lanes

    def spy(*args, **kw):
        recs = real(*args, **kw)
        rows.extend(r.rows for r in recs)
        return recs
    monkeypatch.setattr(runner, "simulate_lanes", spy)
    window = runner.ring_days(6 * (sc.days + runner.spin_up_days(sc)))
    folded = runner.run_batch(sc, world, [0, 1, 2], Reducer(sc))
    assert rows and set(rows) == {min(window, sc.days)}   # every lane kept a ring of that many days at most
    rows.clear()
    pairs = runner.run_batch(sc, world, [0, 1, 2])
    assert set(rows) == {sc.days + runner.spin_up_days(sc)}
    after = [Reducer(sc)(p) for p in pairs]
    for a, b in zip(folded, after):
        _summaries_equal(a, b)


def test_a_nan_in_a_batch_folded_while_it_runs_fails_it_naming_series_and_day():
    from simulator.scenario.errors import SimulationError
    loaded = load_scenario(SCENARIO, ["replications=2", "horizon=200d"])
    world = loaded.world.values
    world["minerals"]["common"]["price"]["tau_days"] = 0.0      # bypasses validation: the engine divides by it
    messages = []
    for reduce in (Reducer(loaded.scenario), None):
        with pytest.raises(SimulationError) as exc, np.errstate(all="ignore"):
            runner.run_batch(loaded.scenario, world, [0, 1], reduce)
        messages.append(str(exc.value))
    assert "is not a number (NaN) from 2025-01-0" in messages[0] and "in the baseline of replication 0" in messages[0]
    assert messages[0] == messages[1]


def test_sweep_runs_sharing_a_baseline_are_folded_as_they_run(monkeypatch):
    points = [load_scenario(SCENARIO, ["replications=1", "horizon=300d", f"controls.jp_servicing_ban.compliance={c}"])
              for c in (0.5, 1.0)]
    world = points[0].world.values
    sc0, points = points[0].scenario, [p.scenario for p in points]
    seed = runner.replication_seeds(sc0.seed, 1)[0]
    runs = [(0, sc, seed) for sc in points]          # one seed: both points share one baseline lane
    rows = []
    real = runner.simulate_lanes

    def spy(*args, **kw):
        recs = real(*args, **kw)
        rows.append(len(recs))
        rows.extend(r.rows for r in recs)
        return recs
    monkeypatch.setattr(runner, "simulate_lanes", spy)
    window = runner.ring_days(3 * sc0.days)
    folded = runner.run_runs(runs, world, Reducer(sc0, daily=False))
    assert rows == [3] + [window] * 3     # a shared baseline lane and two scenario lanes, a ring each
    pairs = runner.run_runs(runs, world)
    assert pairs[0].baseline is pairs[1].baseline
    for a, p in zip(folded, pairs):
        b = Reducer(sc0, daily=False)(p)
        assert a.buckets is None and a.plot is None
        _summaries_equal(a, b)
    assert not _same(folded[0].metrics, folded[1].metrics)   # the points differ


@pytest.mark.parametrize("sets", [["horizon=400d"], ["horizon=200d", "output.frequency=1d"],
                                  ["horizon=300d", "output.frequency=30d"]])
def test_the_compiled_fold_gives_the_numpy_folds_numbers(sets):
    from simulator.engine import kernels
    if not kernels.available():
        pytest.skip("numba is not available or turned off")
    loaded = load_scenario(LADDER, ["replications=2"] + sets)
    sc = loaded.scenario
    pairs = runner.run_batch(sc, loaded.world.values, [0, 1])
    lay = Layout(sc, pairs[0].scenario.info)
    for p in pairs:
        out = []
        for compiled in (False, True):
            fold = DayFold(lay, compiled=compiled)
            assert (fold.kernel is not None) == compiled
            for d0 in range(0, sc.days, 128):
                assert fold.add_recorders(p.scenario, p.baseline, d0, min(sc.days, d0 + 128)) is None
            out.append(fold.finish())
        for name, a, b in zip(("metrics", "stats", "gdp", "buckets", "plot"), *out):
            assert _same(a, b), name
    # a NaN: both report the baseline's first, the first series in recording order, its first day
    s, b = pairs[0].scenario, pairs[0].baseline
    keys = lay.keys
    s.data[keys[40]][30] = np.nan
    s.data[keys[7]][90] = np.nan
    got = [DayFold(lay, compiled=c).add_recorders(s, b, 0, 128) for c in (False, True)]
    assert got == [("scenario", keys[7], 90)] * 2
    b.data[keys[900]][100] = b.data[keys[900]][60] = np.nan
    got = [DayFold(lay, compiled=c).add_recorders(s, b, 0, 128) for c in (False, True)]
    assert got[0] == got[1] == ("baseline", keys[900], 60)


def test_the_compiled_fold_takes_parts_of_different_layouts():
    """``fold_pair`` takes a pair's parts in one call when their arrays are alike (strided views of a batch's
    blocks), in one call per kind otherwise (a compiled call takes a tuple of arrays of one type): a recorder
    whose first part is a contiguous copy folds to the numpy fold's numbers, charted series included."""
    from simulator.engine import kernels
    if not kernels.available():
        pytest.skip("numba is not available or turned off")
    loaded = load_scenario(LADDER, ["replications=1", "horizon=200d"])
    sc = loaded.scenario
    p = runner.run_batch(sc, loaded.world.values, [0])[0]
    lay = Layout(sc, p.scenario.info)

    class Mixed:
        def __init__(self, rec):
            self.rec = rec
            self._parts = [(np.ascontiguousarray(a) if i == 0 else a, k0) for i, (a, k0) in enumerate(rec.parts())]

        def parts(self):
            return self._parts

    s, b = Mixed(p.scenario), Mixed(p.baseline)
    assert s.parts()[0][0].flags.c_contiguous and not s.parts()[1][0].flags.c_contiguous
    out = []
    for compiled, (rs, rb) in ((False, (p.scenario, p.baseline)), (True, (s, b))):
        fold = DayFold(lay, compiled=compiled)
        for d0 in range(0, sc.days, 64):
            assert fold.add_recorders(rs, rb, d0, min(sc.days, d0 + 64)) is None
        out.append(fold.finish())
    assert len(fold._plan[2]) == 2                       # two calls a window: one per kind of array
    for name, x, y in zip(("metrics", "stats", "gdp", "buckets", "plot"), *out):
        assert _same(x, y), name


def test_the_ring_is_small_for_a_compiled_fold_and_large_for_numpys(monkeypatch):
    """A compiled fold takes a short ring (cheap calls, memory near the cache); numpy's fold, whose every call
    costs ~1 ms whatever its days, a long one. ``would_compile`` answers as ``worth_compiling`` would, without
    counting the batch."""
    from simulator.engine import kernels
    assert runner.FOLD_WINDOW < runner.NUMPY_FOLD_WINDOW
    for compiles, days in ((True, runner.FOLD_WINDOW), (False, runner.NUMPY_FOLD_WINDOW)):
        monkeypatch.setattr(kernels, "would_compile", lambda lane_days, part=None, c=compiles: c)
        assert runner.ring_days(40 * 1096) == days
    monkeypatch.undo()
    monkeypatch.delenv("SIMULATOR_NUMBA", raising=False)
    monkeypatch.setattr(kernels, "_numba", None)
    monkeypatch.setattr(kernels, "_lane_days_seen", 0)
    small, big = kernels.MIN_LANE_DAYS - 1, kernels.MIN_LANE_DAYS
    assert not kernels.would_compile(small) and kernels._lane_days_seen == 0
    assert kernels.would_compile(big) == kernels.available() and kernels._lane_days_seen == 0
    assert kernels.worth_compiling(small) == kernels.would_compile(small)
    monkeypatch.setenv("SIMULATOR_NUMBA", "always")
    assert kernels.would_compile(1) == kernels.available()
