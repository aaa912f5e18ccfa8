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


def _run_script(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_an_interrupt_that_lands_in_a_callback_is_raised_again():
    """Python drops an exception raised inside a weakref callback; a SIGTERM handled there used to be lost, and
    the run finished with exit 0 (seen in CI: the signal arrived while a WeakSet entry was being removed)."""
    code = ("import os, signal, time, weakref\n"
            "from simulator.safety import handle_sigterm\n"
            "handle_sigterm()\n"
            "class A: pass\n"
            "a = A()\n"
            "def cb(_):\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    for _ in range(1000): pass\n"
            "r = weakref.ref(a, cb)\n"
            "try:\n"
            "    del a\n"
            "    t = time.monotonic()\n"
            "    while time.monotonic() - t < 3: time.sleep(0.001)\n"
            "    print('lost')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted')\n")
    out = _run_script(code)
    assert out.stdout.strip() == "interrupted", out.stderr
    assert out.stderr == ""


def test_an_interrupt_during_a_numba_compile_waits_for_the_compile():
    """A SIGTERM while numba compiles is raised once the compile ends, and the compiled function stays usable
    (cut inside llvmlite's callbacks it was swallowed, or left numba's state broken: exit 1, "no compiled
    object yet")."""
    pytest.importorskip("numba")
    if os.environ.get("SIMULATOR_NUMBA") == "0":
        pytest.skip("numba turned off")
    code = ("import os, signal\n"
            "from simulator.safety import handle_sigterm\n"
            "from simulator.engine import kernels\n"
            "handle_sigterm()\n"
            "assert kernels.available()\n"
            "import numba\n"
            "from numba.core import event\n"
            "f = numba.njit(lambda x: x + 1)\n"
            "class Kill(event.Listener):\n"
            "    sent = False\n"
            "    def on_start(self, ev):\n"
            "        if not self.sent: self.sent = True; os.kill(os.getpid(), signal.SIGTERM)\n"
            "    def on_end(self, ev): pass\n"
            "event.register('numba:compiler_lock', Kill())\n"
            "try:\n"
            "    f(1)\n"
            "    print('not interrupted')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted', len(f.signatures))\n"
            "print(f(2))\n")
    out = _run_script(code)
    assert out.stdout.split() == ["interrupted", "1", "3"], out.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_zombie_counts_as_gone_and_its_temporary_files_are_cleaned(tmp_path):
    """A worker of a killed run that exited but was never reaped (a container whose first process does not reap
    orphans) is not a live process: the temporary files it left are removed (sweep store, spools, folders)."""
    from simulator.report.writer import process_alive
    from simulator.sweep.store import clean_stale_tmp
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.time() + 10
        while open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0] != "Z" and time.time() < deadline:
            time.sleep(0.01)
        assert process_alive(os.getpid()) and not process_alive(pid)
        left = tmp_path / f".abc.json.{pid}.0123abcd.tmp"
        left.write_text("{")
        assert clean_stale_tmp(tmp_path) == 1 and not left.exists()
    finally:
        os.waitpid(pid, 0)


@pytest.mark.parametrize("workers", ["zygote", "pool"])
def test_a_worker_killed_from_outside_ends_the_run_with_one_line(workers, tmp_path, capsys, monkeypatch):
    """A worker killed by the system (out of memory) or by hand: not an internal error, not bad input: one line
    saying what happened and what to do, exit 1, no result folder. From a zygote's worker or a process pool's."""
    import re

    from simulator import runner
    from simulator.safety import usable_cores
    if usable_cores() < 2:
        pytest.skip("needs two cores: with one the batches would run (and be killed) in this process")
    if workers == "pool":
        monkeypatch.setenv("SIMULATOR_NUMBA", "0")      # no numba, no zygote: a pool forked from this process

    def killed(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)
    monkeypatch.setattr(runner, "run_batch", killed)
    scen = tmp_path / "s.yaml"
    scen.write_text(SCEN.format(horizon="20d", reps=2))
    out = tmp_path / "o"
    code = main([str(scen), "--out", str(out), "--jobs", "2", "--quiet", "--no-plots"])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1, lines
    assert re.fullmatch(r"simulate: (worker process \d+|a worker process) ended without a result \(killed, or out "
                        r"of memory\?\); nothing was written, earlier results are untouched\. Run it again; if "
                        r"memory was short, use fewer --jobs or replications", lines[0]), lines[0]
    assert not out.exists()
