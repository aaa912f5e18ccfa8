"""Fab part stepped over lanes: µs per lane-day of ``FabFleets.step`` alone, at 1, 2, 10 and 40 lanes.

The headline scenario (japan_servicing_ban.yaml) on a fab-only world: a batch of ``n`` lanes (replications
× baseline/scenario pairs) is built with ``build_lanes`` and played to the horizon with the policy processes
running; only the time spent inside the fab mechanism's daily ``step`` is counted, divided by lanes × days.
One million bare SimPy timeouts are timed in the same run as a machine reference. The step is timed with its
failure, local-repair and repair-time draws as numpy calls per lane and as compiled loops over the lanes
(``fab_draws.py``; when numba is available), whatever this process has simulated before. A third run times the
numpy path's random draws alone (each lane's generators wrapped in a timer): every lane must make exactly the
calls it makes alone. Prints a table; never asserts on time.

Times are CPU times of the process (``time.process_time``, so that other processes on a shared machine
disturb them less), the least of ``--repeat`` runs. The draw timer's own clock reads (about 1 µs a call) count
as draw time.

Usage: python benchmarks/fab_lanes_bench.py [--lanes 1,2,10,40] [--repeat 3]
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Callable
from unittest import mock

from _common import ROOT, bare_simpy, machine, table


from simulator.engine import fabs, kernels
from simulator.engine.streams import Streams, replication_seeds
from simulator.engine.world import LaneSpec, build_lanes, run_lanes
from simulator import load_scenario  # the loader with the model's checks registered

SCENARIO = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")


def lane_specs(n: int, seed: int) -> list[LaneSpec]:
    """``n`` lanes: baseline then scenario lane per replication (an odd ``n`` ends with a lone baseline); one
    lane is a scenario lane alone (no paired baseline: the headline scenario has no ``when`` trigger)."""
    seeds = replication_seeds(seed, n // 2 + 1)
    if n == 1:
        return [LaneSpec(0, seeds[0], False)]
    specs: list[LaneSpec] = []
    for i in range(n):
        rep = i // 2
        if i % 2 == 0:
            specs.append(LaneSpec(rep, seeds[rep], True))
        else:
            specs.append(LaneSpec(rep, seeds[rep], False, i - 1))
    return specs


class TimedGenerator:
    """A random generator whose method calls add their CPU time to ``spent[0]`` and count in ``spent[1]``."""

    def __init__(self, gen: Any, spent: list[float]):
        self._gen, self._spent = gen, spent

    def __getattr__(self, name: str) -> Callable:
        method = getattr(self._gen, name)

        def timed(*args: Any, **kw: Any) -> Any:
            t0 = time.process_time()
            out = method(*args, **kw)
            self._spent[0] += time.process_time() - t0
            self._spent[1] += 1
            return out
        return timed


def timed_streams(spent: list) -> Callable:
    """A replacement for ``Streams.get`` whose ``fabs.*`` generators time their calls into ``spent``."""
    plain = Streams.get

    def get(self: Streams, name: str) -> Any:
        gen = plain(self, name)
        return TimedGenerator(gen, spent) if name.startswith("fabs.") else gen
    return get


def fab_step_seconds(n: int, draws: bool = False, compiled: bool = False) -> tuple[float, int, int]:
    """Seconds spent in the fab part's ``step`` over the horizon for a batch of ``n`` lanes (with ``draws``: in
    its random draws only, numpy path), the days, and the number of generator calls (with ``draws``).
    ``compiled``: the failure, local-repair and repair-time draws as compiled loops (else numpy calls)."""
    ld = load_scenario(SCENARIO, [])
    world = {"fabs": ld.world.values["fabs"]}
    spent_draws = [0.0, 0]
    with mock.patch.object(fabs.kernels, "worth_compiling", lambda *a, **k: compiled):
        if draws:
            with mock.patch.object(Streams, "get", timed_streams(spent_draws)):
                lanes, mechs = build_lanes(ld.scenario, world, lane_specs(n, ld.scenario.seed))
            run_lanes(lanes, mechs)
            return spent_draws[0], lanes.days, spent_draws[1]
        lanes, mechs = build_lanes(ld.scenario, world, lane_specs(n, ld.scenario.seed))
    (fab,) = mechs
    inner = fab.step
    spent = [0.0]

    def timed(day: int) -> None:
        t0 = time.process_time()
        inner(day)
        spent[0] += time.process_time() - t0
    fab.step = timed
    run_lanes(lanes, mechs)
    return spent[0], lanes.days, 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", default="1,2,10,40")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ref = min(bare_simpy(clock=time.process_time) for _ in range(args.repeat))
    rows = []
    per1 = None
    can_compile = kernels.available()
    for n in (int(x) for x in args.lanes.split(",")):
        runs = [fab_step_seconds(n) for _ in range(args.repeat)]
        sec, days = min(r[0] for r in runs), runs[0][1]         # the least disturbed run of a shared machine
        draw_runs = [fab_step_seconds(n, draws=True) for _ in range(args.repeat)]
        drawn, calls = min(r[0] for r in draw_runs), draw_runs[0][2]
        us = sec / (n * days) * 1e6
        per1 = per1 or us
        if can_compile:
            fab_step_seconds(1, compiled=True)                  # compile, or load from the disk cache
            csec = min(fab_step_seconds(n, compiled=True)[0] for _ in range(args.repeat))
            cus = f"{csec / (n * days) * 1e6:.1f}"
        else:
            cus = "-"
        rows.append((n, days, f"{sec * 1e3:.0f}", f"{us:.1f}", f"{drawn / (n * days) * 1e6:.1f}",
                     f"{calls / (n * days):.1f}", cus,
                     f"{per1 / us:.2f}", f"{us * 1e-6 / (ref / 1e6):.1f}"))
    print(f"machine: {machine()}")
    print(f"1,000,000 bare SimPy timeouts: {ref:.3f} s ({ref:.3f} µs per timeout)")
    print("1 lane: the scenario lane alone; 2+: baseline and scenario lanes of n/2 replications")
    print("numpy draws unless stated; compiled: the failure, local-repair and repair-time draws in numba")
    print(table(rows, ("lanes", "days", "fab step ms", "µs/lane-day", "of which draws", "draw calls/lane-day",
                       "µs/lane-day compiled", "speed-up vs 1 lane",
                       "lane-day in SimPy timeouts")))


if __name__ == "__main__":
    main()
