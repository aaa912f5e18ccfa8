"""Progress within a batch (``simulator.day_meter``): a worker's days folded so far and its compiles, read by
the parent while it waits, for batches run in this process, in a worker forked from a zygote or from a pool."""
from __future__ import annotations

import io
import multiprocessing
import time
from pathlib import Path

import pytest

from simulator import day_meter, runner
from simulator.report.reduce import Reducer
from simulator.scenario.load import load_scenario
from simulator.sweep.progress import Progress
from simulator.zygote import Zygote

ROOT = Path(__file__).resolve().parents[1]
fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")


def _write_slot(batch: int, run_days: int, compiling: bool) -> None:
    day_meter.begin(batch)
    day_meter.advance(run_days)
    day_meter.compiling(compiling)
    day_meter.end()


@fork
def test_a_forked_process_writes_its_batchs_slot_and_the_parent_reads_it():
    day_meter.open_board()
    day_meter.clear(3)
    day_meter.clear(4)
    proc = multiprocessing.get_context("fork").Process(target=_write_slot, args=(3, 150, True))
    proc.start()
    proc.join()
    assert proc.exitcode == 0
    # batch 3: 2 replications × 100 days, 150 run-days folded (the worker wrote it, not this process)
    assert day_meter.progress([(3, 2)], 100) == (1.5, True)
    assert day_meter.progress([(4, 2)], 100) == (0.0, False)       # another batch's slot is its own
    _write_slot(3, 900, False)                                      # more than the batch holds: capped
    assert day_meter.progress([(3, 2), (4, 2)], 100) == (2.0, False)
    day_meter.clear(3)
    assert day_meter.progress([(3, 2)], 100) == (0.0, False)
    day_meter.advance(10)                   # outside a batch: nothing written
    assert day_meter.progress([(3, 2)], 100) == (0.0, False)


def _small_run(horizon: str = "1y", replications: int = 2):
    loaded = load_scenario(str(ROOT / "scenarios" / "japan_servicing_ban.yaml"),
                           [f"replications={replications}", f"horizon={horizon}"])
    return loaded.scenario, loaded.world.values


def test_a_batch_run_here_reports_its_days_as_it_folds_them(tmp_path):
    sc, world = _small_run()
    seen: list[tuple[float, bool]] = []
    runs = runner.run_replications(sc, world, jobs=1, reduce=Reducer(sc, str(tmp_path)),
                                   watch=lambda partial, compiling: seen.append((partial, compiling)))
    assert len(runs) == 2
    partial = [p for p, _ in seen]
    # every fold window of the batch's one-year run: days folded so far, in replications' worth, up to its 2
    assert len(partial) > 5 and any(0 < p < 0.5 for p in partial)
    assert partial[:-1] == sorted(partial[:-1]) and partial[-2] == pytest.approx(2.0)
    assert partial[-1] == 0.0                   # the batch has ended: its replications are counted as done


def test_a_batch_keeping_every_day_reports_its_days_too():
    """Without a fold as it runs (``simulator.run``'s default: every day kept), the days played are reported."""
    sc, world = _small_run()
    seen: list[float] = []
    pairs = runner.run_replications(sc, world, jobs=1, watch=lambda partial, compiling: seen.append(partial))
    assert len(pairs) == 2
    assert any(0 < p < 0.5 for p in seen) and max(seen) == pytest.approx(2.0) and seen[-1] == 0.0
    # a spin-up (measures dated before the start: 182 days played first) is not reported as simulated days
    loaded = load_scenario(str(ROOT / "scenarios" / "replay_antimony_2024.yaml"), ["replications=1", "horizon=90d"])
    assert runner.spin_up_days(loaded.scenario) == 182
    seen.clear()
    runner.run_replications(loaded.scenario, loaded.world.values, jobs=1,
                            watch=lambda partial, compiling: seen.append(partial))
    reported = [p for p in seen[:-1] if p > 0]
    assert seen[0] == 0.0 and reported == sorted(reported) and 0 < reported[0] < 0.2
    assert reported.count(1.0) == 1 and reported[-1] == 1.0       # the whole reported period, at its last day


@fork
@pytest.mark.parametrize("how", ["zygote", "pool"])
def test_a_batch_in_a_worker_reports_its_days_while_the_parent_waits(tmp_path, monkeypatch, how):
    monkeypatch.setattr(runner, "WATCH_S", 0.01)
    sc, world = _small_run("3y", 4)
    seen: list[float] = []
    day_meter.open_board()                                # before the zygote is forked: it and its workers share it
    zygote = Zygote() if how == "zygote" else None
    try:
        runs = runner.run_replications(sc, world, jobs=2, batch_size=2, reduce=Reducer(sc, str(tmp_path)),
                                       zygote=zygote, watch=lambda partial, compiling: seen.append(partial))
    finally:
        if zygote is not None:
            zygote.close()
    assert len(runs) == 4
    # looked at while the two batches of 2 ran: days folded in the workers, short of their 4 replications
    assert any(0 < p < 4 for p in seen), seen
    assert seen[-1] == 0.0


def test_the_zygote_answers_none_when_no_worker_ends_in_time():
    with Zygote() as z:
        z.fork(None, (), time.sleep, (0.5,))
        t0 = time.monotonic()
        assert z.next_result(timeout=0.05) is None
        assert time.monotonic() - t0 < 0.4
        got = None
        while got is None:
            got = z.next_result(timeout=0.05)
        assert got == (0, None)


def test_progress_counts_the_running_share_and_says_when_it_compiles(monkeypatch):
    from simulator.sweep import progress
    s = io.StringIO()
    p = Progress(20, stream=s, unit="replications", label="x", mode="lines", plain_interval=3600)
    p.running(5.0)
    assert "25% simulated" in p.text() and "ETA --:--" not in p.text()
    assert "compiling" not in p.text()
    lines = s.getvalue().count("\n")
    p.running(5.0, compiling=True)              # a compile starts: said at once, even between periodic lines
    assert s.getvalue().count("\n") == lines + 1
    assert "compiling the model's loops" in p.text() and "ETA --:--" in p.text()
    p.running(5.0, compiling=False)             # between two loops' compiles: the note stays a moment
    assert "compiling the model's loops" in p.text()
    p.running(5.5, compiling=False)             # unless the work moves on
    assert "compiling" not in p.text() and "ETA --:--" not in p.text()
    p.running(5.5, compiling=True)
    p.running(5.5, compiling=False)
    monkeypatch.setattr(progress, "COMPILE_NOTE_S", 0.0)    # or the moment has passed (the ETA waits for a
    assert "compiling" not in p.text() and "ETA --:--" in p.text()   # pace since the compile)
    p.running(6.0)
    assert "ETA --:--" not in p.text()
    for _ in range(20):
        p.update()
    assert "simulated" not in p.text() and "compiling" not in p.text()


def test_a_compile_is_on_the_board_while_it_runs():
    from simulator.engine import kernels
    if not kernels.available():
        pytest.skip("numba not installed")
    import numba
    from numba.core import event
    kernels.compiled("lanes_poisson")        # numba loaded, with the simulator's listeners
    saw: list[int] = []

    class Probe(event.Listener):             # registered after the simulator's: sees the board it wrote
        def on_start(self, ev):
            saw.append(int(day_meter.open_board()[day_meter.COMPILING, day_meter.slot_of(9)]))

        def on_end(self, ev):
            pass
    probe = Probe()
    event.register("numba:compile", probe)
    day_meter.open_board()
    day_meter.clear(9)
    day_meter.begin(9)
    try:
        numba.njit(cache=False)(lambda x: x + 1)(1)         # a fresh function: a compile, not a cache load
    finally:
        day_meter.end()
        event.unregister("numba:compile", probe)
    assert saw and saw[0] == 1
    assert day_meter.progress([(9, 1)], 10) == (0.0, False)   # over once the compile ended


def test_progress_does_not_step_back_as_a_batch_ends():
    """A batch's end drops its days from the running share before its replications are counted: the bar is
    drawn once they are, not in between (where it would step back)."""
    s = io.StringIO()
    p = Progress(20, stream=s, unit="replications", mode="bar", min_interval=0.0)
    p.running(9.0)
    assert "45% simulated" in s.getvalue().rsplit("\r", 1)[-1]
    drawn = s.getvalue()
    p.running(4.0)                  # the batch of 5 done so far ended: not drawn (it would read 20%)
    assert s.getvalue() == drawn
    for _ in range(5):
        p.update()
    assert "5/20 replications, 45% simulated" in s.getvalue().rsplit("\r", 1)[-1]


class _GoneStream(io.StringIO):
    """stderr piped into a reader that ends after the first line (``simulate ... 2>&1 | head -1``)."""

    def write(self, text):
        if self.getvalue():
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_progress_on_a_stream_that_is_gone_stops_itself_not_the_run():
    for mode in ("bar", "lines"):
        p = Progress(4, stream=_GoneStream(), unit="replications", mode=mode)   # its first line is read
        assert p.enabled
        p.running(1.5, compiling=True)          # then the reader has gone
        p.update()
        p.close()
        assert not p.enabled and p.mode == "off"


def test_a_run_whose_stderr_reader_has_gone_still_writes_its_results(tmp_path):
    """``simulate ... 2>&1 | head -1`` once ``head`` has ended: the warnings, notes and progress meet a closed
    pipe; the run goes on and writes its result folder (it used to stop at once, exit 0, nothing written)."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "res"
    r, w = os.pipe()
    os.close(r)                             # the reader has gone before the first line: every write fails
    try:
        got = subprocess.run([sys.executable, "-m", "simulator", "scenarios/replay_gallium_germanium_2023.yaml",
                              "--out", str(out), "--replications", "2", "--set", "horizon=90d", "--no-plots"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=w, timeout=120)
    finally:
        os.close(w)
    assert got.returncode == 0
    assert (out / "summary.csv").is_file() and (out / "timeseries.csv").is_file()


def test_a_slot_that_runs_batch_after_batch_counts_on():
    """A sweep's task steps its runs that share a world as one batch, then the next such group: the next batch's
    days add to the slot's (``settle``) instead of starting again from 0; a new task starts from 0."""
    day_meter.open_board()
    day_meter.clear(7)
    day_meter.begin(7)
    day_meter.advance(300)
    day_meter.settle()
    day_meter.advance(50)
    assert day_meter.progress([(7, 4)], 100) == (3.5, False)
    day_meter.end()
    day_meter.clear(7)
    day_meter.begin(7)
    day_meter.advance(20)
    assert day_meter.progress([(7, 4)], 100) == (0.2, False)
    day_meter.end()


SWEEP_ARGS = ["--grid", "controls.jp_servicing_ban.compliance=0.5,0.9", "--replications", "2",
              "--set", "horizon=2y"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_sweep_counts_the_days_of_its_running_tasks(jobs, tmp_path, monkeypatch):
    """Tasks run in this process (``--jobs 1``) or in local workers forked from it report their days on the board
    while they run, so a sweep's progress moves within a task, not only as its runs end; the tables are those of
    a sweep without progress."""
    from simulator.cli import main
    if jobs == 2 and "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs fork")
    seen: list[tuple[float, int]] = []
    real = Progress.running

    def running(self, partial, compiling=False):
        seen.append((partial, self.done))
        real(self, partial, compiling)
    monkeypatch.setattr(Progress, "running", running)
    monkeypatch.setattr(Progress, "_write", lambda self, text: None)       # the bar itself: not needed here
    scen = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")
    code = main(["sweep", scen, "--out", str(tmp_path / "shown"), "--jobs", str(jobs), *SWEEP_ARGS])
    assert code == 0
    # some look while a task was under way: part of a run's days counted, before its runs were (with two workers
    # two tasks run at once, so the sum may be past 1: a fraction of a run is the sign, not a sum below 1)
    assert any(partial != int(partial) for partial, _ in seen), seen
    assert any(partial > 0 and done == 0 for partial, done in seen), seen
    assert main(["sweep", scen, "--out", str(tmp_path / "quiet"), "--jobs", str(jobs), "--quiet", *SWEEP_ARGS]) == 0
    for table in ("runs.csv", "summary.csv", "outcomes.csv"):
        assert (tmp_path / "shown" / table).read_bytes() == (tmp_path / "quiet" / table).read_bytes()


def test_after_a_compile_the_eta_counts_the_pace_from_its_end(monkeypatch):
    """A first run compiles for seconds before its first day: the ETA is then the pace since the compile, not
    since the start (which said ``ETA 21:15`` for a run that ended in 20 s)."""
    from simulator.sweep import progress
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    p = Progress(20, stream=io.StringIO(), unit="replications", mode="lines", plain_interval=3600)
    p.running(0.0, compiling=True)
    clock[0] = 109.0                            # 9 s of compiling, 0.1 replication done meanwhile
    p.running(0.1, compiling=True)
    p.running(0.1, compiling=False)
    assert "ETA --:--" in p.text()              # the compile's end: no pace yet
    clock[0] = 111.0                            # then 4 replications' worth in 2 s: 15.9 left at 2 a second
    p.running(4.1)
    assert "ETA 0:08" in p.text(), p.text()     # (from the start: 15.9 × 11 / 4.1 s, "ETA 0:43")
    p.running(0.1)                              # 4 replications end, then are counted: the same pace
    for _ in range(4):
        p.update()
    assert "4/20 replications" in p.text() and "ETA 0:08" in p.text(), p.text()


def test_work_ended_keeps_its_share_until_its_items_are_counted():
    """Two batches of 10 ending within one look: the bar keeps their share while their replications are counted
    one by one (it showed 11/20 at 55% after 93%)."""
    p = Progress(20, stream=io.StringIO(), unit="replications", mode="lines", plain_interval=3600)
    p.running(18.6)
    assert "93% simulated" in p.text()
    p.running(0.0)                              # both end; their 20 replications are counted next
    for k in range(11):
        p.update()
        assert p._progressed() >= 18.6, (k, p.text())
    assert "11/20 replications, 93% simulated" in p.text(), p.text()
    for _ in range(9):
        p.update()
    assert p._progressed() == 20 and "simulated" not in p.text()
