"""The output pipeline: replications reduced in their worker, folded in order, spooled, written fast.

Reduced results give the same tables as the full daily series; what a worker sends back is small; the result
does not depend on batching or workers; ``replications: all`` streams every replication to Parquet; the fast
CSV writer prints what pandas prints; ``simulate --help`` / ``validate`` load no pandas.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.api import Result, run_loaded
from simulator.report import frames, gdp
from simulator.report.csvfast import constant, write_tidy, write_wide
from simulator.report.fold import Reduced
from simulator.report.metrics import METRICS
from simulator.report.parquet import partition_path, read_series
from simulator.report.reduce import Reducer
from simulator.report.spool import Spool
from simulator.report.tables import write_table
from simulator.runner import run_batch, run_replications
from simulator.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")
SETS = ["horizon=120d", "replications=3", "seed=5"]


@pytest.fixture(scope="module")
def loaded():
    return load_scenario(SCENARIO, SETS)


@pytest.fixture(scope="module")
def pairs(loaded):
    return run_replications(loaded.scenario, loaded.world.values)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def test_reduced_tables_equal_full_pair_tables(loaded, pairs, tmp_path):
    sc = loaded.scenario
    full = Result(loaded, pairs, 0.0, "")                     # reduced in this process from the pairs
    lean = run_loaded(loaded, progress=False)                 # reduced in the runner, spooled
    for name in ("summary", "impacts", "events", "by_replication", "timeseries", "timeseries_wide",
                 "gdp_by_quarter"):
        pd.testing.assert_frame_equal(getattr(full, name), getattr(lean, name), check_exact=True, obj=name)
    assert folder_bytes(full.write(tmp_path / "a", plots=False)) == folder_bytes(lean.write(tmp_path / "b",
                                                                                              plots=False))
    # the per-replication numbers are those of the stacked computation, exactly
    red = lean.runs
    for j, (key, name, _) in enumerate(red.layout.metric_slots):
        S = np.vstack([p.scenario.data[key] for p in pairs])
        B = np.vstack([p.baseline.data[key] for p in pairs])
        fn = METRICS[name][0]
        np.testing.assert_array_equal(red.metrics[0, j], fn(S, B))
        np.testing.assert_array_equal(red.metrics[1, j], fn(B, B))
    pd.testing.assert_frame_equal(lean.gdp_by_quarter, gdp.from_pairs(sc.start, pairs), check_exact=True)
    # the time series mean: mean of each replication's weekly means = weekly mean of the daily mean
    keys = list(red.info)[:300]
    daily = np.mean([np.vstack([p.scenario.data[k] for k in keys]) for p in pairs], axis=0)
    step = red.layout.step
    weekly = np.add.reduceat(daily, np.arange(0, daily.shape[1], step), axis=1) / \
        np.diff(np.append(np.arange(0, daily.shape[1], step), daily.shape[1]))
    np.testing.assert_allclose(red.mean_buckets[0, :300], weekly, rtol=1e-12, atol=1e-300)
    # charted daily series are kept
    k = sorted(lean.headline_keys)[0]
    np.testing.assert_array_equal(lean.daily(k), full.daily(k))
    with pytest.raises(KeyError, match="keep_daily"):
        lean.daily(next(k for k in red.info if k not in red.layout.plot_keys))
    with pytest.raises(AttributeError, match="keep_daily"):
        lean.pairs  # noqa: B018
    # the charts find every series they draw among the kept ones, and pick the same panels
    from simulator.report.plots import chart_groups
    drawn = {k for _, panels in chart_groups(lean).values() for _, series in panels for k, _ in series}
    assert drawn and drawn <= set(red.layout.plot_keys)
    assert chart_groups(lean) == chart_groups(full)


def test_workers_send_back_no_daily_series(loaded, tmp_path):
    sc = loaded.scenario
    full = run_batch(sc, loaded.world.values, [0, 1])
    spool = Spool(tmp_path)
    lean = run_batch(sc, loaded.world.values, [0, 1], reduce=Reducer(sc, spool.path))
    big, small = len(pickle.dumps(full)), len(pickle.dumps(lean))
    assert small < 600_000 and small * 10 < big, (small, big)
    assert lean[0].buckets is None and lean[0].plot is None and lean[1].info is None
    assert sorted(p.name for p in spool.path.iterdir()) == [f"r{i}.{part}.{w}.npy" for i in (0, 1)
                                                            for part in ("buckets", "plot") for w in (0, 1)]
    spool.close()
    assert not spool.path.exists()


def test_same_result_whatever_the_batching_and_workers(loaded, tmp_path):
    outs = []
    for i, (jobs, size) in enumerate(((1, 16), (1, 1), (2, 1))):
        sc = loaded.scenario
        spool = Spool(tmp_path)
        sums = run_replications(sc, loaded.world.values, jobs=jobs, batch_size=size,
                                reduce=Reducer(sc, spool.path))
        res = Result(loaded, Reduced(sc, sums[::-1]), 0.0, "", spool)    # order of arrival does not matter
        outs.append(folder_bytes(res.write(tmp_path / f"o{i}", plots=False)))
        spool.close()
    assert outs[0] == outs[1] == outs[2]


def test_every_replication_daily_goes_to_parquet_partitions(tmp_path):
    loaded = load_scenario(SCENARIO, ["horizon=40d", "replications=2", "seed=2", "output.replications=all",
                                      "output.frequency=1d"])
    lean = run_loaded(loaded, progress=False)
    assert lean.spool is not None and partition_path(lean.spool.path, 1).is_file()
    full = run_loaded(loaded, progress=False, keep_daily=True)
    key = next(k for k in lean.info if k not in lean.runs.layout.plot_keys)
    np.testing.assert_array_equal(lean.daily(key), full.daily(key))
    np.testing.assert_array_equal(lean.daily(key, "baseline"), full.daily(key, "baseline"))
    a, b = lean.write(tmp_path / "a", plots=False), full.write(tmp_path / "b", plots=False)
    assert (a / "timeseries" / "replication=0" / "part-0.parquet").is_file()
    assert folder_bytes(a).keys() == folder_bytes(b).keys()
    assert {k: v for k, v in folder_bytes(a).items() if not k.endswith(".parquet")} == \
        {k: v for k, v in folder_bytes(b).items() if not k.endswith(".parquet")}
    np.testing.assert_array_equal(read_series(a, key, "scenario"), full.daily(key))
    back = pd.read_parquet(a / "timeseries")
    assert len(back) == 2 * 2 * loaded.scenario.days and set(back["scenario"]) == {loaded.scenario.name,
                                                                                   "baseline"}
    ts = pd.read_csv(a / "timeseries.csv")
    assert sorted(ts["replication"].unique()) == [0, 1]
    spool = lean.spool.path
    lean.spool.close()
    assert not spool.exists()


def test_spool_removed_when_the_run_fails(loaded, monkeypatch, tmp_path):
    import tempfile

    from simulator import api
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(api, "run_replications", boom)
    with pytest.raises(KeyboardInterrupt):
        run_loaded(loaded, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_spool_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    left = tmp_path / f"simulate-spool-{dead}-abc"
    left.mkdir()
    (left / "r0.buckets.0.npy").write_bytes(b"x")
    mine = Spool(tmp_path)
    assert not left.exists() and mine.path.exists() and mine.path.name.startswith(f"simulate-spool-{os.getpid()}-")
    assert Spool(tmp_path).path.exists() and mine.path.exists()    # a live run's spool stays
    mine.close()


CONSTANT_ROWS = np.array([[0.0, 0.0, 0.0], [-0.0, -0.0, -0.0], [60.0, 60.0, 60.0], [0.0, -0.0, 0.0],
                          [np.nan, np.nan, np.nan], [1 / 3, 1 / 3, 1 / 3], [np.inf, np.inf, np.inf]])


@pytest.mark.parametrize("vals", [np.array([[1.0, np.nan, -0.0], [1e-300, 123456789.123456, np.inf],
                                            [2.5e17, -3.25, 1 / 3]]),
                                  CONSTANT_ROWS,                       # series of one value, formatted once
                                  np.delete(CONSTANT_ROWS, 4, axis=0)],  # and without a NaN anywhere
                         ids=["varying", "constant", "constant-no-nan"])
def test_fast_csv_prints_what_pandas_prints(tmp_path, vals):
    dates = ["2025-01-01", "2025-01-08", "2025-01-15"]
    keys = [("a.b", "m", "t/day"), ('q,"x"', "n", "%"), ("e", "p", "USD"), ("f", "nan", "x"), ("g", "h", "%s"),
            ("i", "j", "k"), ("l", "m", "n")][:len(vals)]
    blocks = [(("sc", "mean"), vals), (("baseline", "mean"), vals * 2)]
    rows = [{"scenario": p[0], "replication": p[1], "date": d, "entity": e, "metric": m, "unit": u,
             "value": v[k, j]} for p, v in blocks for k, (e, m, u) in enumerate(keys) for j, d in enumerate(dates)]
    df = pd.DataFrame(rows, columns=frames.TIMESERIES_COLUMNS)
    for limit in (None, 4, 18):
        a, b = tmp_path / f"a{limit}" / "t.csv", tmp_path / f"b{limit}" / "t.csv"
        a.parent.mkdir(), b.parent.mkdir()
        note_a = write_table(df, a, max_rows=limit)
        note_b = write_tidy(b, frames.TIMESERIES_COLUMNS, dates, keys, lambda: iter(blocks), 2, max_rows=limit)
        assert note_a == note_b
        assert folder_bytes(a.parent) == folder_bytes(b.parent)
    cols = {"date": np.array(dates, dtype=object), "x [u]": vals[0], "baseline: x [u]": vals[1],
            'y, "z" %': vals[2], **{f"c{j} [u]": v for j, v in enumerate(vals[3:])}}
    a, b = tmp_path / "wa.csv", tmp_path / "wb.csv"
    write_table(pd.DataFrame(cols), a)
    write_wide(b, cols)
    assert a.read_bytes() == b.read_bytes()


def test_fast_csv_constant_series():
    rows = np.vstack([CONSTANT_ROWS, [[1.0, 2.0, 1.0]]])
    assert constant(rows, axis=1).tolist() == [True, True, True, False, True, True, True, False]
    assert constant(rows.T, axis=0).tolist() == [True, True, True, False, True, True, True, False]
    assert constant(np.zeros((2, 0)), axis=1).tolist() == [False, False]     # no values: nothing constant


@pytest.mark.parametrize("argv", [["--help"], ["validate", SCENARIO]])
def test_help_and_validate_load_no_pandas(argv):
    code = ("import sys, simulator.cli\n"
            f"code = simulator.cli.main({argv!r})\n"
            "heavy = [m for m in ('pandas', 'matplotlib', 'pyarrow') if m in sys.modules]\n"
            "print(code, heavy)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


@pytest.mark.parametrize("plots, xlsx", [(False, False), (True, True)])
def test_prepare_write_loads_what_writing_will_use_and_no_more(plots, xlsx):
    """What ``simulate`` loads while its workers simulate: the table writers always, matplotlib only for charts,
    pandas (which the workbook's tables are read with) and the workbook writer only for a workbook; openpyxl
    never (the workbook is written by ``report.ooxml``)."""
    code = ("import sys\n"
            "from simulator.api import prepare_write\n"
            "from simulator.scenario.load import load_scenario\n"
            f"prepare_write(load_scenario({SCENARIO!r}, []), xlsx={xlsx}, plots={plots})\n"
            "print([m in sys.modules for m in ('pandas', 'matplotlib.pyplot', 'simulator.report.ooxml', "
            "'openpyxl')])\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == str([xlsx, plots, xlsx, False]), out.stdout + out.stderr


def test_a_run_writes_its_tables_charts_and_report_without_pandas(tmp_path):
    """``simulate`` builds, writes and reads its tables as plain columns (``report.table``): a whole run with
    charts and the report loads neither pandas nor pyarrow (~0.27 CPU-s of import beside the workers)."""
    code = ("import sys, simulator.cli\n"
            f"code = simulator.cli.main([{SCENARIO!r}, '--set', 'horizon=120d', '--replications', '2', "
            f"'--out', {str(tmp_path / 'r')!r}])\n"
            "print(code, [m for m in ('pandas', 'pyarrow') if m in sys.modules])\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
    assert {p.name for p in (tmp_path / "r").iterdir()} >= {"impacts.csv", "summary.csv", "events.csv",
                                                             "metrics_by_replication.csv", "report.html", "plots"}


def test_version_is_the_api_version():
    import simulator
    from simulator.api import VERSION
    assert simulator.__version__ == VERSION and simulator.run is not None and simulator.compare is not None


def test_recorder_matrix_is_the_stacked_series_whatever_their_storage():
    """A run's key × day matrix (what every replication is reduced from) equals stacking its series one by one,
    for series in a block (many or few of its columns wanted), alone, repeated and in any order."""
    import numpy as np
    from simulator.engine.recorder import Recorder
    rec = Recorder(5)
    blk = rec.block([("a", f"m{j}", "t") for j in range(10)])
    blk[:] = np.arange(50, dtype=float).reshape(5, 10) * 1.5
    one = rec.series("b", "x", "t")
    one[:] = [9.0, 8.0, 7.0, 6.0, 5.0]
    for keys in (list(rec.data), ["b.x", "a.m3", "a.m3", "a.m0"], ["a.m7"], []):
        want = np.vstack([rec.data[k] for k in keys]) if keys else np.zeros((0, 5))
        assert np.array_equal(rec.matrix(keys), want)


def test_simulate_and_its_workers_load_no_pandas(tmp_path):
    """The checks before the run (``preflight``, the output folder's), the workers and the writing of the tables
    need no pandas: neither ``simulate`` nor its workers load it."""
    code = ("import sys, simulator.runner as R\n"
            "run = R.run_batch\n"
            "def spy(*a, **k):\n"
            "    sys.stderr.write(f\"worker {'pandas' in sys.modules}\\n\")\n"
            "    return run(*a, **k)\n"
            "R.run_batch = spy\n"
            "import simulator.cli\n"
            f"code = simulator.cli.main([{SCENARIO!r}, '--replications', '2', '--jobs', '2', '--set', "
            f"'horizon=30d', '--no-plots', '--quiet', '--out', {str(tmp_path / 'o')!r}])\n"
            "print('parent', code, 'pandas' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    workers = [line for line in out.stderr.splitlines() if line.startswith("worker ")]
    assert out.stdout.split() == ["parent", "0", "False"] and workers == ["worker False"] * 2, out.stdout + out.stderr


def test_mean_of_replications_is_the_nan_aware_mean_bit_for_bit():
    """``Reduced.mean_buckets`` adds the replications in order and divides by their count: with a single count
    while no replication holds a NaN, per value once one does; either way numpy's NaN-aware formula's bits."""
    from simulator.report.fold import Reduced

    def nan_aware(reps):
        total = count = None
        for m in reps:
            ok = ~np.isnan(m)
            total = np.where(ok, m, 0.0) if total is None else total + np.where(ok, m, 0.0)
            count = ok.astype(float) if count is None else count + ok
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)

    class Folded:                       # what mean_buckets reads of a Reduced
        def __init__(self, reps):
            self.reps, self.n = reps, len(reps)

        def buckets(self, i):
            return self.reps[i]

    rng = np.random.default_rng(4)
    reps = [rng.normal(size=(2, 7, 5)) * 10.0 ** rng.integers(-5, 6, size=(2, 7, 5)) for _ in range(7)]
    for nan_at in (None, 0, 3, 6):
        case = [r.copy() for r in reps]
        if nan_at is not None:
            case[nan_at][0, 2, 1] = np.nan
        if nan_at == 6:                 # and a row of values NaN in the last replication too
            case[-1][1, 0, :] = np.nan
        got, want = Reduced.mean_buckets.func(Folded(case)), nan_aware(case)
        assert got.shape == want.shape and got.tobytes() == want.tobytes(), nan_at
