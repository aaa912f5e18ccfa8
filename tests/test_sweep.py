"""Batch parameter sweeps: designs expand as specified, results do not depend on the executor, a killed sweep
resumes to the same bytes, and a failing run is recorded without stopping the sweep.

The sweeps here run a *test-only* toy world (a folder written per test) with one toy mechanism registered below,
so the numbers vary with the seed and the swept parameters whatever the real model parts currently record. The
toy raises when ``toy_sweep.level`` exceeds ``toy_sweep.fail_above`` — the failure injection for the tests — and
can sleep per run so a sweep can be killed midway. Dask workers load this file with ``--preload``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulator.engine import registry  # noqa: E402
from simulator.engine.world import Mechanism  # noqa: E402


class ToySweepPlant(Mechanism):
    """Test-only: daily output 100 t/day minus a cut of ``level`` (scenario only) plus seeded noise."""

    section = "toy_sweep"

    def __init__(self, ctx):
        super().__init__(ctx)
        w = ctx.world["toy_sweep"]
        self.level, self.sleep_s = float(w["level"]), float(w["sleep_s"])
        if not ctx.is_baseline and self.level > float(w["fail_above"]):
            raise RuntimeError(f"toy level {self.level:g} above fail_above (test-only failure)")
        self.rng = ctx.streams.get("toy_sweep.noise")
        self.out = ctx.recorder.series("toy_plant", "output", "t/day", summary=("lost", "max_drop_pct"),
                                       headline=True)

    def step(self, day: int) -> None:
        if day == 0 and self.sleep_s:
            time.sleep(self.sleep_s)
        cut = 0.0 if self.ctx.is_baseline else self.level * (1.0 + day / 60.0)
        self.out[day] = 100.0 * (1.0 - 0.5 * cut) + 5.0 * self.rng.normal()


if not any(getattr(m, "section", None) == "toy_sweep" for m in registry.MECHANISMS):
    registry.MECHANISMS.append(ToySweepPlant)

from simulator.cli import main as simulate  # noqa: E402
from simulator.sweep import design as dz  # noqa: E402
from simulator.sweep.runspec import replication_seed  # noqa: E402

WORLD = """toy_sweep:
  level: {value: 0.2, unit: share, assumption: "test-only toy", range: [0, 1]}
  unused: {value: 1.0, unit: x, assumption: "test-only toy: swept but has no effect", range: [0, 2]}
  fail_above: {value: 10.0, unit: x, assumption: "test-only failure injection"}
  sleep_s: {value: 0.0, unit: s, assumption: "test-only: slow runs down to kill a sweep midway"}
"""
SCENARIO = """name: toy_sweep
description: test-only toy scenario
start: 2025-01-01
horizon: 60d
seed: 7
replications: 2
world: world
"""
CSVS = ("runs.csv", "summary.csv", "experiments.csv", "outcomes.csv", "status.csv", "points.csv")


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    (tmp_path / "world").mkdir()
    (tmp_path / "world" / "toy.yaml").write_text(WORLD)
    f = tmp_path / "toy.yaml"
    f.write_text(SCENARIO)
    return f


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    return env


def _tables(out: Path) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in CSVS}


GRID = ["--grid", "toy_sweep.level=0,0.1,0.3", "--link", "toy_sweep.unused=1,2;toy_sweep.sleep_s=0,0",
        "--replications", "2", "--quiet"]


# ------------------------------------------------------------------------------------------- expansions
def test_grid_is_full_factorial_last_factor_fastest():
    spec = dz.from_cli(["a=1,2", "b=x,y,z"], [], [], None, None, None)
    d = dz.expand(spec, seed=1)
    assert d.keys == ("a", "b")
    assert d.points == ((1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z"))


def test_link_moves_keys_together_as_one_factor():
    spec = dz.from_cli(["g=0.5,1e-5"], ["a=1,2,3;b=10,20,30"], [], None, None, None)
    d = dz.expand(spec, seed=1)
    assert d.keys == ("g", "a", "b")
    assert len(d) == 6
    assert d.point(1) == {"g": 0.5, "a": 2, "b": 20}
    assert d.point(5) == {"g": 1e-5, "a": 3, "b": 30}


def test_link_with_unequal_lengths_is_an_error():
    with pytest.raises(dz.ScenarioError, match="same number of values"):
        dz.link_factor("a=1,2;b=1,2,3")


def test_lhs_hits_every_stratum_once_within_bounds_and_is_seeded():
    spec = dz.from_cli(["g=1,2"], [], ["x=0.0:10", "y=-1.0:1", "n=1:4"], 8, None, None)
    d = dz.expand(spec, seed=3)
    assert len(d) == 16 and d.keys == ("g", "x", "y", "n")
    x = np.array([p[1] for p in d.points[:8]])
    y = np.array([p[2] for p in d.points[:8]])
    assert sorted(np.floor(x / 10 * 8).astype(int)) == list(range(8))
    assert sorted(np.floor((y + 1) / 2 * 8).astype(int)) == list(range(8))
    assert all(isinstance(p[3], int) and 1 <= p[3] <= 4 for p in d.points)
    assert [p[1:] for p in d.points[:8]] == [p[1:] for p in d.points[8:]]   # LHS block crossed with grid
    assert dz.expand(spec, seed=3).points == d.points
    assert dz.expand(spec, seed=4).points != d.points


def test_salib_designs_have_the_expected_sizes():
    sobol = dz.expand(dz.from_cli([], [], ["x=0:1", "y=0:2"], 8, None, "sobol"), seed=1)
    morris = dz.expand(dz.from_cli([], [], ["x=0:1", "y=0:2"], 5, None, "morris"), seed=1)
    assert len(sobol) == 8 * (2 + 2) and len(morris) == 5 * (2 + 1)
    with pytest.raises(dz.ScenarioError, match="no --grid"):
        dz.expand(dz.from_cli(["g=1,2"], [], ["x=0:1"], 8, None, "sobol"), seed=1)


def test_set_text_round_trips_through_the_loader():
    for v in (0.1, 1e-05, 1e20, 3, True, "30d", "0.5", -2.5e-300):
        assert dz.parse_value(dz.set_text(v)) == v


def test_replication_seeds_are_shared_by_points_and_independent_of_count():
    seeds = [replication_seed(7, r) for r in range(4)]
    assert len(set(seeds)) == 4 and all(0 <= s < 2**63 for s in seeds)
    assert replication_seed(7, 2) == seeds[2]


def test_file_block_is_merged_with_the_command_line(toy: Path):
    toy.write_text(SCENARIO + "sweep:\n  replications: 1\n  grid: {toy_sweep.level: [0.1, 0.2]}\n"
                   "  link: [{toy_sweep.unused: [1, 2], toy_sweep.sleep_s: [0, 0]}]\n")
    from simulator.sweep.batch import make_plan
    plan = make_plan(toy, dz.from_cli(["toy_sweep.level=0.3"], [], [], None, None, None))
    assert plan.design.keys == ("toy_sweep.unused", "toy_sweep.sleep_s", "toy_sweep.level")
    assert len(plan.specs) == 2 and plan.replications == 1


# ----------------------------------------------------------------------------------------------- errors
def test_misspelt_key_is_reported_once_with_a_suggestion(toy: Path, tmp_path: Path, capsys):
    code = simulate(["sweep", str(toy), "--out", str(tmp_path / "o"), "--grid", "toy_sweep.levl=0.1,0.2,0.3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("--grid: toy_sweep.levl:") and "did you mean 'toy_sweep.level'" in err[0]
    assert not (tmp_path / "o").exists()


def test_bad_value_at_one_point_is_reported_before_running(toy: Path, tmp_path: Path, capsys):
    code = simulate(["sweep", str(toy), "--out", str(tmp_path / "o"), "--grid", "toy_sweep.level=0.1,-1"])
    err = capsys.readouterr().err
    assert code == 2 and "sweep point 1 (toy_sweep.level=-1)" in err and ">= 0" in err
    assert not (tmp_path / "o" / "runs").exists()


def test_bad_link_and_range_syntax_exit_2(toy: Path, tmp_path: Path, capsys):
    assert simulate(["sweep", str(toy), "--out", str(tmp_path / "o"), "--link", "toy_sweep.level"]) == 2
    assert simulate(["sweep", str(toy), "--out", str(tmp_path / "o"), "--lhs", "toy_sweep.level=1:0"]) == 2
    err = capsys.readouterr().err
    assert "expected KEY=" in err and "LO < HI" in err


# ------------------------------------------------------------------------------------ runs and outputs
def test_sweep_writes_one_row_per_run_with_headline_metrics(toy: Path, tmp_path: Path):
    out = tmp_path / "o"
    assert simulate(["sweep", str(toy), "--out", str(out), "--jobs", "1", *GRID]) == 0
    import pandas as pd
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 3 * 2 * 2 and set(runs.status) == {"succeeded"}
    assert list(runs.columns[:4]) == ["run_id", "point", "toy_sweep.level", "toy_sweep.unused"]
    assert "toy_plant.output.lost" in runs.columns
    # same replication index → same seed at every point (common random numbers)
    assert runs.groupby("replication").seed.nunique().tolist() == [1, 1]
    assert runs.run_id.is_unique
    lost = runs.groupby("toy_sweep.level")["toy_plant.output.lost"].mean()
    assert lost.loc[0.0] == pytest.approx(0.0, abs=1e-9) and lost.loc[0.3] > lost.loc[0.1] > 0
    summ = pd.read_csv(out / "summary.csv")
    assert len(summ) == 6 * 2 and {"mean", "p05", "p50", "p95"} <= set(summ.columns)
    exps, outs = pd.read_csv(out / "experiments.csv"), pd.read_csv(out / "outcomes.csv")
    assert len(exps) == len(outs) == 12 and {"scenario", "policy", "model"} <= set(exps.columns)
    assert sorted(os.listdir(out / "runs")) == sorted(f"{i}.json" for i in runs.run_id)


def test_identical_tables_for_jobs_1_and_jobs_2(toy: Path, tmp_path: Path):
    assert simulate(["sweep", str(toy), "--out", str(tmp_path / "a"), "--jobs", "1", *GRID]) == 0
    assert simulate(["sweep", str(toy), "--out", str(tmp_path / "b"), "--jobs", "2", *GRID]) == 0
    assert _tables(tmp_path / "a") == _tables(tmp_path / "b")


def test_failing_run_is_recorded_and_the_sweep_goes_on(toy: Path, tmp_path: Path, capsys):
    out = tmp_path / "o"
    code = simulate(["sweep", str(toy), "--out", str(out), "--jobs", "2", "--set", "toy_sweep.fail_above=0.2",
                     "--grid", "toy_sweep.level=0.1,0.3,0.2", "--replications", "2", "--quiet"])
    assert code == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == ["simulate sweep: 2 run(s) failed, the first with RuntimeError: toy level 0.3 above fail_above "
                   "(test-only failure); each run's error is in runs.csv (column error). Once the cause is fixed, the same command "
                   "with --resume runs them again"], err      # why, even with --quiet
    import pandas as pd
    runs = pd.read_csv(out / "runs.csv")
    failed = runs[runs.status == "failed"]
    assert list(failed.point) == [1, 1] and (runs.status == "succeeded").sum() == 4
    assert failed.error.str.contains("RuntimeError: toy level 0.3 above fail_above").all()
    rec = json.loads((out / "runs" / f"{failed.run_id.iloc[0]}.json").read_text())
    assert rec["status"] == "failed" and "Traceback" in rec["traceback"]
    status = pd.read_csv(out / "status.csv")
    assert status.status.value_counts().to_dict() == {"succeeded": 4, "failed": 2}
    summ = pd.read_csv(out / "summary.csv").query("point == 1")
    assert (summ.failed == 2).all() and (summ.succeeded == 0).all()


def test_a_sweep_whose_every_run_fails_still_writes_its_tables(toy: Path, tmp_path: Path, capsys):
    """No run succeeded, so no metric is known: the tables still hold every run (status failed, the error) and
    the command says why, instead of ending in an internal error while writing them."""
    out = tmp_path / "o"
    code = simulate(["sweep", str(toy), "--out", str(out), "--jobs", "1", "--set", "toy_sweep.fail_above=0.05",
                     "--grid", "toy_sweep.level=0.1,0.3", "--replications", "2", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "simulate sweep: 4 run(s) failed, the first with RuntimeError: toy level 0.1 above" in err, err
    assert "internal error" not in err
    import pandas as pd
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.status) == ["failed"] * 4 and runs.error.str.contains("above fail_above").all()
    summ = (out / "summary.csv").read_text().splitlines()
    assert summ == ["point,toy_sweep.level,metric,succeeded,failed,mean,p05,p50,p95"]   # no metric to summarise
    assert (out / "outcomes.csv").read_text() == "\n" and len((out / "experiments.csv").read_text().splitlines()) == 1


def test_a_sweep_stops_handing_out_runs_when_the_rest_would_not_fit_on_its_disk(toy: Path, tmp_path: Path,
                                                                               capsys, monkeypatch):
    """Runs left that do not fit on the --out disk (by the size of the run files stored so far) are not started:
    the runs done are kept, the tables written, the command says how much room the rest needs (exit 2); a
    --resume refuses before running anything while there is still no room, and once there is, finishes with the
    tables of a sweep done in one go."""
    from simulator.sweep import room
    grid = ["--grid", "toy_sweep.level=0,0.05,0.1,0.15,0.2,0.25", "--replications", "2", "--quiet"]
    cmd = ["sweep", str(toy), "--out", str(tmp_path / "o"), "--jobs", "1", *grid]
    monkeypatch.setattr(room, "free_bytes", lambda folder: 1000)     # a full disk
    assert simulate(cmd) == 2
    err = capsys.readouterr().err
    assert "simulate sweep: stopped after 6 of 12 runs: --out " in err, err   # 12 runs in tasks of 3, two run
    assert "the 6 run(s) still to do need about" in err and "only 1.0 KB is free" in err and "--resume" in err
    import pandas as pd
    status = pd.read_csv(tmp_path / "o" / "status.csv")
    assert status.status.value_counts().to_dict() == {"succeeded": 6, "pending": 6}
    assert len(list((tmp_path / "o" / "runs").glob("*.json"))) == 6
    before = _tables(tmp_path / "o")
    assert simulate([*cmd, "--resume"]) == 2                           # still full: refused, nothing run
    assert "simulate sweep: --out " in capsys.readouterr().err and _tables(tmp_path / "o") == before
    monkeypatch.undo()                                                 # room made
    assert simulate([*cmd, "--resume"]) == 0
    assert simulate(["sweep", str(toy), "--out", str(tmp_path / "whole"), "--jobs", "1", *grid]) == 0
    assert _tables(tmp_path / "o") == _tables(tmp_path / "whole")


def test_tables_that_cannot_be_written_end_the_sweep_with_one_line_and_no_temporary_file(toy: Path,
                                                                                        tmp_path: Path, capsys,
                                                                                        monkeypatch):
    """A disk that fills while the tables are written: one line naming --out and the reason (exit 2), not an
    internal error; no half-written table or temporary file left; the runs stored are kept for --resume."""
    import errno
    from simulator.sweep import store

    row = store.CsvOut.row

    def full(self, values):              # the disk fills as the tables are written, after the runs are stored
        if self.path.name == "summary.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        row(self, values)
    monkeypatch.setattr(store.CsvOut, "row", full)
    out = tmp_path / "o"
    cmd = ["sweep", str(toy), "--out", str(out), "--jobs", "1", *GRID]
    assert simulate(cmd) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"simulate sweep: --out {out}: cannot write there (no space left on device); the runs "
                          f"stored so far are kept"), err
    assert "internal error" not in err and not list(out.glob(".*.tmp"))
    assert not (out / "runs.csv").exists() and len(list((out / "runs").glob("*.json"))) == 12   # 6 points x 2
    monkeypatch.undo()
    assert simulate([*cmd, "--resume"]) == 0 and (out / "runs.csv").exists()


def test_a_table_whose_last_write_fails_leaves_no_temporary_file(tmp_path: Path, monkeypatch):
    import errno
    from simulator.sweep import store
    table = store.CsvOut(tmp_path / "t.csv", ["a"])
    table.row({"a": 1.0})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(store.os, "fsync", full)
    with pytest.raises(OSError):
        table.close()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    other = store.CsvOut(tmp_path / "u.csv", ["a"])        # given up after an error, its rows unflushable
    real = other._fh

    class Full:
        def close(self):
            real.close()
            raise OSError(errno.ENOSPC, "No space left on device")
    other._fh = Full()
    other.__exit__(OSError, None, None)
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_into_a_folder_that_cannot_be_written_is_refused_before_any_run(toy: Path, tmp_path: Path,
                                                                               capsys):
    blocker = tmp_path / "a_file"           # --out under a file: its folder cannot be made (as root too)
    blocker.write_text("not a folder")
    assert simulate(["sweep", str(toy), "--out", str(blocker / "sw"), "--jobs", "1", *GRID]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simulate sweep: --out {blocker}: cannot create folder: ") \
        and err[0].endswith("; choose another --out"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "toy.yaml", "world"]


def test_sweep_refuses_existing_sweep_without_resume(toy: Path, tmp_path: Path, capsys):
    out = tmp_path / "o"
    assert simulate(["sweep", str(toy), "--out", str(out), "--jobs", "1", *GRID]) == 0
    assert simulate(["sweep", str(toy), "--out", str(out), "--jobs", "1", *GRID]) == 2
    assert "--resume" in capsys.readouterr().err


def test_sobol_sensitivity_ranks_the_parameter_that_matters(toy: Path, tmp_path: Path):
    out = tmp_path / "o"
    assert simulate(["sweep", str(toy), "--out", str(out), "--jobs", "1", "--replications", "1", "--quiet",
                     "--lhs", "toy_sweep.level=0:0.5", "--lhs", "toy_sweep.unused=0:2", "--samples", "16",
                     "--sensitivity", "sobol"]) == 0
    import pandas as pd
    s = pd.read_csv(out / "sensitivity.csv").query("metric == 'toy_plant.output.lost' and index == 'ST'")
    st = dict(zip(s.parameter, s.value))
    assert st["toy_sweep.level"] > 0.8 and abs(st["toy_sweep.unused"]) < 0.1


# ----------------------------------------------------------------------------------------------- resume
def test_killed_sweep_resumes_to_the_same_bytes(toy: Path, tmp_path: Path):
    args = ["--grid", "toy_sweep.level=0,0.1,0.2,0.3,0.4", "--replications", "4", "--set", "toy_sweep.sleep_s=0.04",
            "--quiet"]
    ref = tmp_path / "ref"
    assert simulate(["sweep", str(toy), "--out", str(ref), "--jobs", "2", *args]) == 0
    out = tmp_path / "killed"
    code = ("import sys, test_sweep; from simulator.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "sweep", str(toy), "--out", str(out), "--jobs", "1",
                             *args], env=_env(), cwd=str(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = list((out / "runs").glob("*.json")) if (out / "runs").is_dir() else []
        if len(runs) >= 6:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert 6 <= len(before) < 20 and not (out / "runs.csv").exists()
    assert simulate(["sweep", str(toy), "--out", str(out), "--jobs", "2", "--resume", *args]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert len(after) == 20 and all(after[n] == t for n, t in before.items())   # finished runs skipped
    assert _tables(out) == _tables(ref)
    assert not list((out / "runs").glob(".*.tmp"))


# ------------------------------------------------------------------------------------------------- dask
def _start(cmd: list[str], procs: list) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", *cmd], env=_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=str(ROOT))
    procs.append(p)
    return p


def test_dask_cluster_of_separate_processes_gives_the_same_tables(toy: Path, tmp_path: Path):
    pytest.importorskip("distributed")
    from distributed import Client
    sched_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    try:
        _start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(sched_file)], procs)
        deadline = time.monotonic() + 30
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for _ in range(2):
            _start(["distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                    "--no-nanny", "--no-dashboard", "--preload", str(Path(__file__).resolve())], procs)
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
            assert len(c.scheduler_info()["workers"]) == 2
        assert simulate(["sweep", str(toy), "--out", str(tmp_path / "local"), "--jobs", "1", *GRID]) == 0
        assert simulate(["sweep", str(toy), "--out", str(tmp_path / "dask"), "--executor", "dask",
                         "--scheduler", address, *GRID]) == 0
        assert _tables(tmp_path / "dask") == _tables(tmp_path / "local")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_progress_counts_completions_and_failures_and_writes_plain_lines_off_a_terminal():
    import io
    from simulator.sweep.progress import Progress
    s = io.StringIO()
    p = Progress(4, done=1, stream=s, enabled=True)
    p.update()
    p.update(failed=True)
    assert "3/4 runs, 1 failed, ETA" in p.text()
    p.close()
    assert s.getvalue().endswith("\n")
    plain = io.StringIO()                      # StringIO is not a terminal: plain lines, no bar redraws
    q = Progress(2, stream=plain)
    q.update()
    q.close()
    assert "\r" not in plain.getvalue() and plain.getvalue().splitlines()[-1].startswith("1/2 runs")
    off = io.StringIO()
    Progress(2, stream=off, enabled=False).close()   # --quiet
    assert off.getvalue() == ""


def _huge_pages_advised() -> bool:
    from numpy._core import multiarray as m
    was = m._set_madvise_hugepage(True)
    m._set_madvise_hugepage(was)
    return was


def _worker_settings() -> tuple:
    import dask
    from distributed import get_worker
    return (dask.config.get("distributed.worker.profile.enabled"),
            dask.config.get("distributed.worker.memory.monitor-interval"),
            sorted(get_worker().periodic_callbacks))


def test_dask_local_workers_ask_for_no_huge_pages_and_no_profiler():
    """The local Dask cluster's workers (started afresh, not forked) get numpy's huge pages off through their
    environment, as ``simulate sweep``'s local workers inherit it (``report.memory.small_pages``); and they run
    without Dask's statistical profiler, its memory monitor once a second (``executors.WORKER_CONFIG``)."""
    pytest.importorskip("distributed")
    from numpy._core import multiarray
    if not hasattr(multiarray, "_set_madvise_hugepage"):
        pytest.skip("numpy has no huge page switch")
    from simulator.sweep.executors import open_executor
    with open_executor("dask", jobs=1) as (ex, _):
        assert ex.submit(_huge_pages_advised).result(timeout=60) is False
        profile, monitor, callbacks = ex.submit(_worker_settings).result(timeout=60)
    assert profile is False and monitor == "1s"
    assert "profile" not in callbacks and "profile-cycle" not in callbacks


def test_an_interrupted_sweep_says_how_many_runs_are_kept_and_how_to_go_on(tmp_path, capsys, monkeypatch):
    """Ctrl-C while a sweep's runs run: exit 130, one line saying how many runs are stored and that --resume does
    the rest; ``status.csv`` counts the stored runs; the same command with --resume finishes the sweep."""
    import csv

    from simulator.sweep import room
    scen = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")
    args = ["sweep", scen, "--out", str(tmp_path / "sw"), "--jobs", "1", "--quiet", "--set", "horizon=20d",
            "--grid", "controls.jp_servicing_ban.compliance=0.5,0.9", "--replications", "2"]
    learn = room.Room.learn
    calls = []

    def interrupted_after_two(self, paths):      # the sweep records each task's runs, then Ctrl-C
        learn(self, paths)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(room.Room, "learn", interrupted_after_two)
    assert simulate(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"simulate sweep: interrupted after 2 of 4 runs; the runs done are kept in {tmp_path / 'sw'}: "
                   f"run the same command with --resume to do the rest"]
    with open(tmp_path / "sw" / "status.csv", newline="") as fh:
        assert sorted(r["status"] for r in csv.DictReader(fh)) == ["pending", "pending", "succeeded", "succeeded"]
    monkeypatch.setattr(room.Room, "learn", learn)
    assert simulate([*args, "--resume"]) == 0
    with open(tmp_path / "sw" / "status.csv", newline="") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["succeeded"] * 4


def _fake_dask(monkeypatch, events: list[str], interrupt_in: str) -> None:
    """``distributed``'s LocalCluster and Client replaced by stand-ins that note their start and close in
    ``events``, Ctrl-C (the handler, as the signal would run it) landing in the middle of ``interrupt_in``:
    ``"start"`` (the cluster's) or ``"close"`` (the client's, the first to close)."""
    distributed = pytest.importorskip("distributed")
    from simulator import safety
    from simulator.sweep.executors import InlineExecutor

    class Cluster:
        def __init__(self, **kwargs):
            if interrupt_in == "start":
                safety._raise_interrupt(signal.SIGINT, None)
            events.append("cluster started")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            events.append("cluster closed")

    class Client:
        def __init__(self, cluster):
            events.append("client started")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            if interrupt_in == "close":
                safety._raise_interrupt(signal.SIGINT, None)
            events.append("client closed")

        def nthreads(self):
            return {"a": 1, "b": 1}

        def get_executor(self, pure):
            return InlineExecutor()
    monkeypatch.setattr(safety, "_raised", 0)
    monkeypatch.setattr(distributed, "LocalCluster", Cluster)
    monkeypatch.setattr(distributed, "Client", Client)


@pytest.mark.parametrize("interrupt_in", ["start", "close"])
def test_ctrl_c_while_a_local_dask_cluster_starts_or_closes_waits_for_it(interrupt_in, monkeypatch):
    """A local Dask cluster's start and close are not cut by Ctrl-C (cut, the half-done close was left to
    Python's exit, which printed Dask's traceback or waited 10 s): the interrupt is raised once they are done,
    and the cluster is closed either way."""
    from simulator import safety
    from simulator.sweep.executors import open_executor
    events: list[str] = []
    _fake_dask(monkeypatch, events, interrupt_in)
    with pytest.raises(KeyboardInterrupt):
        with open_executor("dask", 2) as (ex, slots):
            assert slots == 2
            events.append("ran")
    ran = [] if interrupt_in == "start" else ["ran"]
    assert events == ["cluster started", "client started", *ran, "client closed", "cluster closed"]
    assert safety._held == 0 and not safety._pending
