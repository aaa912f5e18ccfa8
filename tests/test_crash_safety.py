"""Crash safety (issue 8.3): SIGINT and SIGKILL during a run and during a sweep, in real subprocesses.

A previous result stays byte-for-byte intact, nothing half-written ever sits in place of a result (at most a
hidden ``.<name>.tmp-*`` sibling, cleaned by the next run), and a killed sweep resumes to the same bytes as an
uninterrupted one.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.cli import main

from .conftest import ROOT

SCEN = """\
name: crash
start: 2025-01-01
horizon: {horizon}
seed: 7
replications: {reps}
controls:
  - id: jp_ban
    by: Japan
    measures: [servicing, spare_parts]
    scope: {{vendor_countries: [Japan]}}
    effective: 2025-01-05
countermeasures:
  - id: cn_ga
    mineral: gallium
    kind: ban
    against: [Japan]
    trigger: {{after: jp_ban, delay: 5d}}
"""

# Imports first, then a "ready" line: a signal sent after it lands in simulate's own code, not in an import.
DRIVER = ("import sys, simulator.cli, simulator.api, simulator.runner, simulator.report.frames, "
          "simulator.report.writer, simulator.scenario.load\n"
          "if sys.argv[1:2] == ['sweep']:\n    import simulator.sweep.cli\n"
          "if '--no-plots' not in sys.argv and sys.argv[1:2] != ['sweep']:\n    import simulator.report.plots\n"
          "print('ready', flush=True)\n"
          "sys.exit(simulator.cli.main(sys.argv[1:]))\n")


def start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONFAULTHANDLER="1")      # a crash (seen once in CI: SIGSEGV) shows where it was
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read()
    return proc


def wait_for(cond, timeout: float = 60.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.005)
    return False


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture
def previous(tmp_path):
    """A finished short result in tmp/out, and a long scenario whose run can be interrupted."""
    short = tmp_path / "short.yaml"
    short.write_text(SCEN.format(horizon="30d", reps=1))
    out = tmp_path / "out"
    assert main([str(short), "--out", str(out), "--no-plots", "--quiet", "--force"]) == 0
    long_ = tmp_path / "long.yaml"
    long_.write_text(SCEN.format(horizon="3y", reps=3))
    return out, snapshot(out), long_


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def test_sigint_during_run_keeps_previous_result(previous):
    out, before, long_ = previous
    proc = start(str(long_), "--out", str(out), "--no-plots", "--quiet", "--jobs", "1", "--force")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "simulate: interrupted; earlier results are untouched"
    assert snapshot(out) == before
    assert siblings(out) == []


def test_sigkill_during_run_keeps_previous_result(previous):
    out, before, long_ = previous
    proc = start(str(long_), "--out", str(out), "--no-plots", "--quiet", "--jobs", "1", "--force")
    time.sleep(0.5)
    proc.kill()
    finish(proc)
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(out) == before
    assert all(".tmp-" in s for s in siblings(out))


def _while_writing(previous, sig):
    """Run with plots (a long write phase); send ``sig`` as soon as the temporary result folder appears."""
    out, before, long_ = previous
    scen = long_.with_name("mid.yaml")
    scen.write_text(SCEN.format(horizon="180d", reps=1))
    proc = start(str(scen), "--out", str(out), "--quiet", "--force")
    assert wait_for(lambda: any(".tmp-" in s for s in siblings(out)) or proc.poll() is not None)
    proc.send_signal(sig)
    code, err = finish(proc)
    assert "Traceback" not in err
    if code == 0:   # the write won the race: then the new result is complete
        assert (out / "manifest.json").is_file() and snapshot(out) != before
    else:
        assert snapshot(out) == before
    return out, code, err


def test_sigint_while_writing_leaves_no_temporary_folder(previous):
    out, code, err = _while_writing(previous, signal.SIGINT)
    assert code in (0, 130), err
    assert siblings(out) == [], (code, err)


def test_sigkill_while_writing_then_next_run_cleans_up(previous, tmp_path):
    out, code, _ = _while_writing(previous, signal.SIGKILL)
    assert code in (0, -signal.SIGKILL)
    assert not any(".old-" in s for s in siblings(out)) or not (out / "manifest.json").exists()
    short = tmp_path / "short.yaml"
    assert main([str(short), "--out", str(out), "--no-plots", "--quiet", "--force"]) == 0
    assert siblings(out) == []          # the dead run's .out.tmp-PID is removed
    assert snapshot(out)["manifest.json"]


def test_killed_between_the_two_renames_is_recovered(previous, monkeypatch):
    """The one window where ``out`` is briefly absent: the old result is parked as ``.out.old-PID``."""
    out, before, _ = previous
    from simulator.report import writer
    real = os.replace
    calls = []

    def crash_on_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands in for a kill right between the two renames
        return real(src, dst)
    monkeypatch.setattr(writer.os, "replace", crash_on_second)
    short = out.parent / "short.yaml"
    assert main([str(short), "--out", str(out), "--no-plots", "--quiet", "--seed", "99", "--force"]) == 130
    monkeypatch.setattr(writer.os, "replace", real)
    assert not out.exists() and any(".old-" in s for s in siblings(out))
    writer.recover(out)
    assert snapshot(out) == before and siblings(out) == []


# ------------------------------------------------------------------------------------------------- sweep
def _sweep_available() -> bool:
    try:
        from simulator.sweep import cli as _  # noqa: F401
    except Exception:
        return False
    import contextlib
    import io
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return main(["sweep", "--help"]) == 0
    except SystemExit as exc:  # argparse --help
        return exc.code == 0


SWEEP_ARGS = ["--grid", "controls.jp_ban.compliance=0.4,0.6,0.8,1.0", "--replications", "2", "--jobs", "1",
              "--quiet"]
SWEEP_TABLES = ("runs.csv", "status.csv", "summary.csv", "points.csv", "experiments.csv", "outcomes.csv")


@pytest.mark.skipif(not _sweep_available(), reason="`simulate sweep --help` is not available yet (the sweep is "
                                                    "being built in parallel); crash test of sweeps skipped")
def test_killed_and_interrupted_sweep_resumes_to_the_same_bytes(tmp_path, capsys):
    scen = tmp_path / "sweep.yaml"
    scen.write_text(SCEN.format(horizon="45d", reps=1))
    ref = tmp_path / "ref"
    assert main(["sweep", str(scen), "--out", str(ref), *SWEEP_ARGS]) == 0
    capsys.readouterr()
    expected = {n: (ref / n).read_bytes() for n in SWEEP_TABLES if (ref / n).is_file()}
    assert "runs.csv" in expected and "status.csv" in expected

    out = tmp_path / "crash"

    def done_runs() -> int:
        return len(list((out / "runs").glob("*.json"))) if (out / "runs").is_dir() else 0

    proc = start("sweep", str(scen), "--out", str(out), *SWEEP_ARGS)
    assert wait_for(lambda: done_runs() >= 2 or proc.poll() is not None)
    proc.kill()
    finish(proc)
    for f in (out / "runs").glob("*.json"):            # whatever is in place is whole
        json.loads(f.read_text())
    killed_at = done_runs()

    proc = start("sweep", str(scen), "--out", str(out), *SWEEP_ARGS, "--resume")
    assert wait_for(lambda: done_runs() >= killed_at + 1 or proc.poll() is not None)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert "Traceback" not in err, err
    assert code in (0, 130, 1) or code < 0, err
    for f in (out / "runs").glob("*.json"):
        json.loads(f.read_text())

    assert main(["sweep", str(scen), "--out", str(out), *SWEEP_ARGS, "--resume"]) == 0
    got = {n: (out / n).read_bytes() for n in expected}
    assert got == expected
    leftovers = [p.name for p in out.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_while_charts_are_drawn_prints_one_line(previous, sig):
    """The chart processes are stopped with SIGTERM: they end without a word (they used to inherit the
    parent's SIGTERM handler and each printed a KeyboardInterrupt traceback)."""
    out, before, long_ = previous
    scen = long_.with_name("charts.yaml")
    scen.write_text(SCEN.format(horizon="180d", reps=1))
    proc = start(str(scen), "--out", str(out), "--quiet", "--force")
    assert wait_for(lambda: any(out.parent.glob(f".{out.name}.tmp-*/plots/*.png")) or proc.poll() is not None)
    proc.send_signal(sig)
    code, err = finish(proc)
    assert "Traceback" not in err
    if code == 130:
        assert err.strip().splitlines() == ["simulate: interrupted; earlier results are untouched"]
        assert snapshot(out) == before
    else:   # the charts won the race
        assert code == 0, err
    assert siblings(out) == []


def test_pool_workers_run_one_blas_thread():
    """``safety.worker_init`` (every local pool: ``simulate``'s and the sweep's) leaves OpenBLAS one thread, as
    Dask does for its workers; a process without the initializer keeps its own count."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    import numpy  # noqa: F401  (loads its BLAS)
    from simulator import safety
    if safety.blas_threads() is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS that reports its threads")
    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=safety.worker_init, initargs=(os.getpid(),)) as ex:
        assert ex.submit(safety.blas_threads).result() == 1
    with ProcessPoolExecutor(1, mp_context=ctx) as ex:
        assert ex.submit(safety.blas_threads).result() == safety.blas_threads()


def test_workers_that_inherit_one_blas_thread_start_no_blas_helper_thread():
    """``worker_init`` leaves OpenBLAS alone where the worker inherited one thread (``simulate`` sets it before it
    forks): setting it again in a forked child starts a helper thread that spins ~0.1 s of CPU. Threads counted
    by the kernel, less Python's own (the watchdog), are the BLAS helpers."""
    import numpy  # noqa: F401  (loads its BLAS)
    from simulator import safety
    if safety.blas_threads() is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS that reports its threads")
    code = ("import os, threading, multiprocessing as mp\n"
            "from concurrent.futures import ProcessPoolExecutor\n"
            "import numpy\n"              # loads its BLAS (the package itself imports nothing)
            "from simulator import safety\n"
            "def native():\n    return len(os.listdir('/proc/self/task')) - threading.active_count()\n"
            "safety.one_blas_thread()\n"
            "with ProcessPoolExecutor(1, mp_context=mp.get_context('fork'), initializer=safety.worker_init,\n"
            "                         initargs=(os.getpid(),)) as ex:\n"
            "    print(ex.submit(native).result(), ex.submit(safety.blas_threads).result())\n")
    root = Path(__file__).resolve().parents[1]
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert got.stdout.split() == ["0", "1"], got.stderr


def test_the_simulate_command_runs_one_blas_thread(tmp_path):
    """``simulate`` (a one-shot command: its workers and chart processes share the cores) sets one OpenBLAS
    thread in its own process, so the chart processes forked from it run one too."""
    import numpy  # noqa: F401  (loads its BLAS)
    from simulator import safety
    if safety.blas_threads() is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS that reports its threads")
    code = ("import numpy\nfrom simulator.safety import blas_threads\nfrom simulator.cli import main\n"
            "before = blas_threads()\n"
            f"rc = main(['scenarios/japan_servicing_ban.yaml', '--quiet', '--no-plots', '--replications', '1', "
            f"'--set', 'horizon=20d', '--out', {str(tmp_path / 'out')!r}])\n"
            "print(rc, before, blas_threads())\n")
    root = Path(__file__).resolve().parents[1]
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    rc, before, after = got.stdout.split()
    assert (rc, after) == ("0", "1") and int(before) >= 1


_HUGE_PAGES = ("from numpy._core import multiarray as m\n"
               "def advised():\n    was = m._set_madvise_hugepage(True)\n    m._set_madvise_hugepage(was)\n"
               "    return was\n")


@pytest.mark.parametrize("command", ["simulate", "sweep"])
def test_the_commands_ask_for_no_huge_pages(command, tmp_path):
    """``simulate`` and ``simulate sweep`` stop numpy advising huge pages for big arrays in their own process,
    before they fork workers and chart processes (``report.memory.small_pages``: on the standard VM a fresh huge
    page costs the engine ~10%); a process that did not ask keeps numpy's default."""
    pytest.importorskip("numpy._core.multiarray")
    from numpy._core import multiarray
    if not hasattr(multiarray, "_set_madvise_hugepage"):
        pytest.skip("numpy has no huge page switch")
    out = str(tmp_path / "out")
    argv = (["scenarios/japan_servicing_ban.yaml", "--quiet", "--no-plots", "--replications", "1", "--set",
             "horizon=20d", "--out", out] if command == "simulate" else
            ["sweep", "scenarios/japan_servicing_ban.yaml", "--quiet", "--set", "horizon=20d", "--grid",
             "controls.jp_servicing_ban.compliance=0.5,1", "--replications", "1", "--jobs", "1", "--out", out])
    code = (_HUGE_PAGES + "from simulator.cli import main\nm._set_madvise_hugepage(True)\n"
            f"rc = main({argv!r})\nprint(rc, advised())\n")
    root = Path(__file__).resolve().parents[1]
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert got.stdout.split() == ["0", "False"], got.stderr
    untouched = subprocess.run([sys.executable, "-c", _HUGE_PAGES + "m._set_madvise_hugepage(True)\n"
                                "import simulator.cli\nprint(advised())"],
                               capture_output=True, text=True, cwd=root, check=True)
    assert untouched.stdout.split() == ["True"]


@pytest.mark.parametrize("setting", [True, False])
def test_a_notebook_run_keeping_every_day_asks_for_no_huge_pages_while_it_runs(setting, monkeypatch):
    """``simulator.run`` (every replication's daily series kept: ~1 GB for the headline) makes its arrays in 4 KB
    pages, as the commands do, and gives the notebook's process back numpy's setting as the user had it."""
    from numpy._core import multiarray as m
    if not hasattr(m, "_set_madvise_hugepage"):
        pytest.skip("numpy has no huge page switch")
    import simulator.api as api

    def advised() -> bool:
        was = m._set_madvise_hugepage(True)
        m._set_madvise_hugepage(was)
        return was
    seen = []
    monkeypatch.setattr(api, "run_replications", lambda *a, **k: seen.append(advised()) or [])
    monkeypatch.setattr(api, "Result", lambda *a, **k: None)
    before = m._set_madvise_hugepage(setting)
    try:
        api.run("scenarios/japan_servicing_ban.yaml", replications=1, progress=False)
        assert seen == [False] and advised() is setting
    finally:
        m._set_madvise_hugepage(before)


def test_an_error_an_interrupt_causes_is_reported_as_the_interrupt(monkeypatch, capsys):
    """A KeyboardInterrupt raised inside a C extension's call back into Python can come out as the extension's
    own error (matplotlib's "Invalid bounding box" while the parent drew a chart, seen once in CI): once an
    interrupt was raised, ``main`` reports the interrupt (exit 130, one line); without one, an error is still an
    internal error (exit 1)."""
    from simulator import cli, safety

    def interrupted_inside_an_extension(argv):
        try:
            safety._raise_interrupt(signal.SIGINT, None)
        except KeyboardInterrupt:
            raise ValueError("Invalid bounding box") from None

    def plain_bug(argv):
        raise ValueError("Invalid bounding box")

    monkeypatch.setattr(safety, "_raised", 0)
    monkeypatch.setattr(cli, "_dispatch", plain_bug)
    assert cli.main(["x.yaml"]) == 1
    assert "internal error" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_dispatch", interrupted_inside_an_extension)
    assert cli.main(["x.yaml"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["simulate: interrupted; earlier results are untouched"]


def _swallow_an_interrupt() -> None:
    """What a C extension that clears Python errors does with Ctrl-C landing in its call back into Python (numba's
    dispatcher typing a typed-list argument through a Python property: seen 1 time in ~30 in this file's
    SIGINT test, the run then finished and exited 0)."""
    from simulator import safety
    try:
        safety._raise_interrupt(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass


def test_an_interrupt_swallowed_during_a_day_stops_the_run(monkeypatch):
    """The engine's day loop raises again an interrupt that a model part's step swallowed that day."""
    from simulator import runner, safety
    from simulator.engine.industries import Industries
    from simulator.scenario.load import load_scenario
    monkeypatch.setattr(safety, "_raised", 0)
    step = Industries.step

    def swallowing(self, day):
        if day == 3:
            _swallow_an_interrupt()
        return step(self, day)
    monkeypatch.setattr(Industries, "step", swallowing)
    loaded = load_scenario(str(ROOT / "scenarios" / "japan_servicing_ban.yaml"), ["horizon=20d"])
    with pytest.raises(KeyboardInterrupt):
        runner.run_batch(loaded.scenario, loaded.world.values, [0])


def _days_checked_before_the_interrupt(monkeypatch) -> list[int]:
    """Run the headline's first 20 days (one replication), which must end in KeyboardInterrupt; the days whose
    policy checks ran (after every model part has stepped that day)."""
    from simulator import runner
    from simulator.engine.policy import PolicyBoard
    from simulator.scenario.load import load_scenario
    check = PolicyBoard.check_conditions
    checked: list[int] = []

    def checking(self, day):
        checked.append(day)
        return check(self, day)
    monkeypatch.setattr(PolicyBoard, "check_conditions", checking)
    loaded = load_scenario(str(ROOT / "scenarios" / "japan_servicing_ban.yaml"), ["horizon=20d"])
    with pytest.raises(KeyboardInterrupt):
        runner.run_batch(loaded.scenario, loaded.world.values, [0])
    return checked


def test_an_interrupt_during_a_day_stops_the_run_at_the_end_of_that_day(monkeypatch):
    """Ctrl-C arriving in the middle of a day (here inside a model part's step on day 3) is held until the day
    has ended, so no compiled call is cut in two and none can swallow it: day 3's policy checks still run, then
    the run stops."""
    from simulator import safety
    from simulator.engine.industries import Industries
    monkeypatch.setattr(safety, "_raised", 0)
    step = Industries.step

    def interrupted(self, day):
        if day == 3:
            safety._raise_interrupt(signal.SIGINT, None)    # what Ctrl-C does at this point of the day
        return step(self, day)
    monkeypatch.setattr(Industries, "step", interrupted)
    assert max(_days_checked_before_the_interrupt(monkeypatch)) == 3
    assert safety._held == 0 and not safety._pending


def test_an_interrupt_swallowed_while_a_batch_is_built_stops_the_run_before_its_first_day(monkeypatch):
    """Ctrl-C swallowed while a batch is built (numba loading, first draws) stops the run before any day is
    played on what the build left."""
    from simulator import safety
    from simulator.engine import world
    monkeypatch.setattr(safety, "_raised", 0)
    build = world.build_lanes

    def swallowing(scenario, world_values, specs, *args, **kwargs):
        if len(specs) > 1:          # the run's batch, not the input checks' build of one lane before it
            _swallow_an_interrupt()
        return build(scenario, world_values, specs, *args, **kwargs)
    monkeypatch.setattr(world, "build_lanes", swallowing)
    assert _days_checked_before_the_interrupt(monkeypatch) == []


def test_an_interrupt_swallowed_before_the_write_keeps_previous_result(previous, monkeypatch, capsys):
    """``simulate`` checks for a swallowed interrupt before it writes: exit 130, one line, the previous result
    untouched."""
    from simulator import api, safety
    monkeypatch.setattr(safety, "_raised", 0)
    out, before, _ = previous
    run_loaded = api.run_loaded

    def swallowing(*args, **kwargs):
        res = run_loaded(*args, **kwargs)
        _swallow_an_interrupt()
        return res
    monkeypatch.setattr(api, "run_loaded", swallowing)
    short = out.parent / "short.yaml"
    assert main([str(short), "--out", str(out), "--no-plots", "--quiet", "--force", "--seed", "8"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "simulate: interrupted; earlier results are untouched"
    assert snapshot(out) == before and siblings(out) == []
