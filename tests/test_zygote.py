"""The zygote (``simulator.zygote``): workers forked from a process that loaded the engine's libraries first,
their results and errors back in the parent, and no process of it outliving the parent or its ``close``."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.zygote import WorkerLost, Zygote

from .conftest import ROOT, run_cli
from .test_reliability_faults import SCEN, _start, no_orphans_within, session_pids, wait_workers

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")

LOADED: list[str] = []


def preload() -> None:
    """What the tests' zygote loads: a mark its workers should see."""
    LOADED.append(f"loaded in {os.getpid()}")


def slow_preload() -> None:
    time.sleep(60)


def where() -> tuple[int, list[str]]:
    return os.getppid(), list(LOADED)


def square(x: int) -> int:
    return x * x


def fail() -> None:
    raise ValueError("a replication failed")


def die() -> None:
    os._exit(3)


def sleep_then(path: str) -> None:
    """Leave this worker's PID in ``path`` (whole: renamed into place, so a test polling for the file never
    reads it empty; a slow machine once did), then sleep."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, path)
    time.sleep(60)


def say(text: str) -> None:
    sys.stdout.write(text)          # no newline: still in the worker's buffer when it ends


def compiled_loaded() -> bool:
    from simulator.engine import kernels
    return kernels._numba is not None and bool(kernels._compiled)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_are_forked_from_the_zygote_after_its_preload():
    with Zygote(f"{__name__}:preload") as z:
        z.fork(None, (), where, ())
        idx, (ppid, loaded) = z.next_result()
    assert idx == 0 and ppid == z.pid
    assert loaded == [f"loaded in {z.pid}"]      # loaded once, in the zygote, not in the worker or here
    assert LOADED == []


def collection_state() -> tuple[bool, int, bool]:
    import gc
    return gc.isenabled(), gc.get_freeze_count(), bool(LOADED)


def preload_reporting_collections() -> None:
    import gc
    LOADED.append("collections enabled while loading" if gc.isenabled() else "no collections while loading")


def test_what_the_zygote_loaded_is_frozen_out_of_its_workers_collections():
    """The zygote loads without cyclic collections and freezes what it loaded (``gc.freeze``): its workers'
    collections walk only what they make; collections are on again in them; this process is untouched."""
    import gc
    with Zygote(f"{__name__}:preload_reporting_collections") as z:
        z.fork(None, (), collection_state, ())
        _, (enabled, frozen, loaded) = z.next_result()
        z.fork(None, (), where, ())
        _, (_, marks) = z.next_result()
    assert enabled and frozen > 1000 and loaded
    assert marks == ["no collections while loading"]
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_results_come_back_with_their_index_and_more_can_be_asked_for_meanwhile():
    with Zygote() as z:
        for x in (3, 4):
            z.fork(None, (), square, (x,))
        got = {}
        while z.pending():
            idx, value = z.next_result()
            got[idx] = value
            if idx == 0:
                z.fork(None, (), square, (5,))
    assert got == {0: 9, 1: 16, 2: 25}


def spin(seconds: float) -> float:
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        pass
    return time.process_time() - t0


def test_the_workers_cpu_time_counts_in_the_parents_children():
    """``time simulate ...`` and ``getrusage`` see the workers' CPU time: the zygote waits for them."""
    def children_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime
    before = children_cpu()
    with Zygote() as z:
        z.fork(None, (), spin, (0.4,))
        assert z.next_result()[1] >= 0.4
    assert children_cpu() - before >= 0.38


SAY = """
import sys
sys.path.insert(0, {root!r})
from tests.test_zygote import say
from simulator.zygote import Zygote
with Zygote() as z:
    z.fork(None, (), say, ("printed by a worker",))
    z.next_result()
"""


def test_what_a_worker_prints_is_not_lost():
    """Output to a pipe is buffered: a worker's last words are flushed before its exit, which skips Python's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    got = subprocess.run([sys.executable, "-c", SAY.format(root=str(ROOT))], capture_output=True, text=True,
                         timeout=60, env=env)
    assert got.returncode == 0 and got.stdout == "printed by a worker", got.stderr


def test_a_worker_error_is_raised_in_the_parent_with_its_type_and_traceback():
    with Zygote() as z:
        z.fork(None, (), fail, ())
        with pytest.raises(ValueError, match="a replication failed") as exc:
            z.next_result()
    assert "in fail" in str(exc.value.__cause__)


def test_a_worker_that_dies_without_a_result_is_reported():
    with Zygote() as z:
        z.fork(None, (), die, ())
        with pytest.raises(WorkerLost, match="ended without a result"):
            z.next_result()


def test_close_kills_the_zygote_and_its_running_workers(tmp_path):
    z = Zygote()
    mark = tmp_path / "pid"
    z.fork(None, (), sleep_then, (str(mark),))
    t0 = time.monotonic()
    while not mark.exists() and time.monotonic() - t0 < 20:
        time.sleep(0.01)
    worker = int(mark.read_text())
    assert alive(worker) and alive(z.pid)
    z.close()
    t0 = time.monotonic()
    while (alive(worker) or alive(z.pid)) and time.monotonic() - t0 < 5:
        time.sleep(0.02)
    assert not alive(worker) and not alive(z.pid)


DRIVER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.test_zygote import sleep_then
from simulator.zygote import Zygote
z = Zygote()
z.fork(None, (), sleep_then, ({mark!r},))
print(z.pid, flush=True)
time.sleep(60)
"""
BUSY = """
import sys, time
sys.path.insert(0, {root!r})
from simulator.zygote import Zygote
z = Zygote("tests.test_zygote:slow_preload")
print(z.pid, flush=True)
time.sleep(60)
"""


def test_a_zygote_still_loading_dies_with_the_parent():
    """Killed while it loads (not reading its socket, so it cannot see the parent's end close): it dies with
    the parent all the same."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        zpid = int(proc.stdout.readline())
        assert alive(zpid)
        proc.kill()
        proc.wait(timeout=10)
        assert no_orphans_within(proc.pid) == []
    finally:
        for pid in session_pids(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_c_to_the_whole_process_group_stops_a_run_with_a_zygote(tmp_path):
    """A terminal's Ctrl-C reaches the parent, the zygote and the workers at once: one line, exit 130, no
    process left."""
    scen = tmp_path / "long.yaml"
    scen.write_text(SCEN.format(horizon="5y", reps=4))
    proc = _start(str(scen), "--out", str(tmp_path / "out"), "--no-plots", "--quiet", "--jobs", "2")
    assert wait_workers(proc, 3), proc.stderr.read()          # the zygote and its two workers
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines() == ["simulate: interrupted; earlier results are "
                                                                   "untouched"]
    assert no_orphans_within(proc.pid) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_zygote_and_its_workers_die_with_the_parent(sig, tmp_path):
    mark = tmp_path / "pid"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER.format(root=str(ROOT), mark=str(mark))],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        zpid = int(proc.stdout.readline())
        t0 = time.monotonic()
        while not mark.exists() and time.monotonic() - t0 < 20:
            time.sleep(0.01)
        assert alive(zpid) and alive(int(mark.read_text()))
        assert len(session_pids(proc.pid)) == 3                # the parent, the zygote, the worker
        proc.send_signal(sig)
        proc.wait(timeout=10)
        assert no_orphans_within(proc.pid) == []
    finally:
        for pid in session_pids(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_simulate_forks_its_workers_from_a_zygote_with_the_same_bytes(tmp_path, monkeypatch):
    """``simulate`` with two jobs runs its batches in workers forked from the zygote (counted here), which
    loaded numba, and writes the bytes of a serial run."""
    from simulator import cli, runner
    forks: list[int] = []
    real = runner._on_zygote

    def spy(zygote, tasks, *args):
        forks.append(len(tasks))
        return real(zygote, tasks, *args)
    monkeypatch.setattr(runner, "_on_zygote", spy)
    args = ["scenarios/japan_servicing_ban.yaml", "--replications", "3", "--set", "horizon=60d", "--no-plots",
            "--quiet"]
    monkeypatch.chdir(ROOT)
    assert cli.main([*args, "--out", str(tmp_path / "two"), "--jobs", "2"]) == 0
    assert forks == [2]
    serial = run_cli(*args, "--out", str(tmp_path / "one"), "--jobs", "1")
    assert serial.returncode == 0, serial.stderr
    for name in ("summary.csv", "timeseries.csv", "events.csv", "impacts.csv"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


def test_the_zygote_preload_loads_numba_for_the_workers():
    pytest.importorskip("numba")
    with Zygote("simulator.api:load_for_workers") as z:
        z.fork(None, (), compiled_loaded, ())
        assert z.next_result() == (0, True)


@pytest.mark.parametrize("case", ["one job", "every replication written"])
def test_a_zygote_the_run_does_not_use_is_closed_before_it_runs(case):
    """Runs that fork no worker from it (one job; every replication's days written, whose workers inherit a
    memory setting made after the zygote was forked) close it at once: it holds no memory through the run."""
    from simulator.runner import run_replications
    from simulator.scenario.load import load_scenario
    sets = ["replications=2", "horizon=10d"] + (["output.replications=all"] if case != "one job" else [])
    loaded = load_scenario(str(ROOT / "scenarios" / "japan_servicing_ban.yaml"), sets)
    z = Zygote()
    seen: list[bool] = []
    pairs = run_replications(loaded.scenario, loaded.world.values, jobs=1 if case == "one job" else 2,
                             on_done=lambda: seen.append(z.alive()), zygote=z)
    assert len(pairs) == 2 and seen == [False, False] and not z.alive()
