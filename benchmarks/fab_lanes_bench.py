"""Fab part stepped over lanes: µs per lane-day of ``FabFleets.step`` alone, at 1, 2, 10 and 40 lanes.

The headline scenario (japan_servicing_ban.yaml) on a fab-only world: a batch of ``n`` lanes (replications
× baseline/scenario pairs) is built with ``build_lanes`` and played to the horizon with the policy processes
running; only the time spent inside the fab mechanism's daily ``step`` is counted, divided by lanes × days.
One million bare SimPy timeouts are timed in the same run as a machine reference. Prints a table; never
asserts on time.

Usage: python benchmarks/fab_lanes_bench.py [--lanes 1,2,10,40] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

from _common import ROOT, machine, table

import simpy

from simulator.engine.streams import replication_seeds
from simulator.engine.world import LaneSpec, build_lanes, run_lanes
from simulator.scenario.load import load_scenario

SCENARIO = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")


def bare_simpy(n_events: int = 1_000_000) -> float:
    """Seconds for a bare SimPy process yielding ``n_events`` timeouts."""
    env = simpy.Environment()

    def proc():
        for _ in range(n_events):
            yield env.timeout(1)
    env.process(proc())
    t0 = time.perf_counter()
    env.run()
    return time.perf_counter() - t0


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


def fab_step_seconds(n: int) -> tuple[float, int]:
    """Seconds spent in the fab part's ``step`` over the horizon for a batch of ``n`` lanes, and the days."""
    ld = load_scenario(SCENARIO, [])
    world = {"fabs": ld.world.values["fabs"]}
    lanes, mechs = build_lanes(ld.scenario, world, lane_specs(n, ld.scenario.seed))
    (fab,) = mechs
    inner = fab.step
    spent = [0.0]

    def timed(day: int) -> None:
        t0 = time.perf_counter()
        inner(day)
        spent[0] += time.perf_counter() - t0
    fab.step = timed
    run_lanes(lanes, mechs)
    return spent[0], lanes.days


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", default="1,2,10,40")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ref = statistics.median(bare_simpy() for _ in range(args.repeat))
    rows = []
    per1 = None
    for n in (int(x) for x in args.lanes.split(",")):
        runs = [fab_step_seconds(n) for _ in range(args.repeat)]
        sec, days = statistics.median(r[0] for r in runs), runs[0][1]
        us = sec / (n * days) * 1e6
        per1 = per1 or us
        rows.append((n, days, f"{sec * 1e3:.0f}", f"{us:.1f}", f"{per1 / us:.2f}",
                     f"{us * 1e-6 / (ref / 1e6):.2f}"))
    print(f"machine: {machine()}")
    print(f"1,000,000 bare SimPy timeouts: {ref:.3f} s ({ref:.3f} µs per timeout)")
    print(table(rows, ("lanes", "days", "fab step ms", "µs/lane-day", "speed-up vs 1 lane",
                       "lane-day / SimPy timeout")))


if __name__ == "__main__":
    main()
