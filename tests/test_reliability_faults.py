"""Fault injection (issue 15): runs and sweeps killed with SIGKILL or SIGTERM at seeded random moments.

After every kill: no process of the run is left after 5 s (workers die with their parent), the previous result
is byte-for-byte intact, and a resumed sweep gives the same bytes as one that was never interrupted. A SIGTERM
(what ``timeout`` and job schedulers send) is handled like Ctrl-C: exit 130, one line, no temporary folder.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.cli import main

from .conftest import ROOT

SCEN = """\
name: faults
start: 2025-01-01
horizon: {horizon}
seed: 11
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
SWEEP = ["--grid", "controls.jp_ban.compliance=0.4,0.7,1.0", "--replications", "1", "--jobs", "2", "--quiet"]
TABLES = ("runs.csv", "status.csv", "summary.csv", "points.csv", "experiments.csv", "outcomes.csv")
DRIVER = ("import sys, simulator.cli, simulator.api, simulator.runner, simulator.report.frames, "
          "simulator.report.writer, simulator.scenario.load, simulator.sweep.cli, simulator.sweep.batch\n"
          "print('ready', flush=True)\n"
          "sys.exit(simulator.cli.main(sys.argv[1:]))\n")


_SESSIONS: list[int] = []


@pytest.fixture(autouse=True)
def _kill_leftovers():
    """Whatever a test asserts, no process it started outlives it."""
    yield
    while _SESSIONS:
        for pid in session_pids(_SESSIONS.pop()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    _SESSIONS.append(proc.pid)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def session_pids(sid: int) -> list[int]:
    """Living processes of session ``sid`` (the run and every worker it started)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:    # state, ppid, pgrp, session
            out.append(int(d.name))
    return out


def no_orphans_within(sid: int, seconds: float = 5.0) -> list[int]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        left = session_pids(sid)
        if not left:
            return []
        time.sleep(0.05)
    left = session_pids(sid)
    for pid in left:     # do not leave them to the next test
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def wait_workers(proc: subprocess.Popen, n: int, timeout: float = 30) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        if len(session_pids(proc.pid)) >= 1 + n:
            return True
        time.sleep(0.02)
    return False


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_with_workers_leaves_no_orphans_and_keeps_the_previous_result(sig, tmp_path):
    short = tmp_path / "short.yaml"
    short.write_text(SCEN.format(horizon="20d", reps=1))
    out = tmp_path / "out"
    assert main([str(short), "--out", str(out), "--no-plots", "--quiet"]) == 0
    before = snapshot(out)
    long_ = tmp_path / "long.yaml"
    long_.write_text(SCEN.format(horizon="5y", reps=4))
    proc = _start(str(long_), "--out", str(out), "--no-plots", "--quiet", "--jobs", "2", "--force")
    assert wait_workers(proc, 2), proc.stderr.read()
    rng = random.Random(15 + sig)
    time.sleep(rng.uniform(0.05, 0.6))          # seeded random moment while the workers simulate
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert no_orphans_within(proc.pid) == []
    assert snapshot(out) == before
    if sig == signal.SIGTERM:
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("simulate: interrupted")
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    scen = d / "sweep.yaml"
    scen.write_text(SCEN.format(horizon="40d", reps=1))
    ref = d / "ref"
    assert main(["sweep", str(scen), "--out", str(ref), *SWEEP]) == 0
    return scen, {n: (ref / n).read_bytes() for n in TABLES}


@pytest.mark.parametrize("sig, seed", [(signal.SIGKILL, 1), (signal.SIGTERM, 2)])
def test_killed_sweep_leaves_no_orphans_and_resumes_to_the_same_bytes(sig, seed, reference_sweep, tmp_path,
                                                                       capsys):
    scen, expected = reference_sweep
    out = tmp_path / "crash"
    proc = _start("sweep", str(scen), "--out", str(out), *SWEEP)
    assert wait_workers(proc, 1), proc.stderr.read()
    time.sleep(random.Random(seed).uniform(0.0, 0.8))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert no_orphans_within(proc.pid) == []
    if out.is_dir():
        assert main(["sweep", str(scen), "--out", str(out), *SWEEP, "--resume"]) == 0
    else:       # killed before the folder was made
        assert main(["sweep", str(scen), "--out", str(out), *SWEEP]) == 0
    capsys.readouterr()
    assert {n: (out / n).read_bytes() for n in TABLES} == expected
    leftovers = [p.name for p in out.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []


def test_sigterm_is_handled_like_ctrl_c_in_a_serial_run(tmp_path):
    long_ = tmp_path / "long.yaml"
    long_.write_text(SCEN.format(horizon="5y", reps=3))
    proc = _start(str(long_), "--out", str(tmp_path / "o"), "--no-plots", "--quiet", "--jobs", "1")
    time.sleep(0.4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["simulate: interrupted; earlier results are untouched"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.yaml"]
