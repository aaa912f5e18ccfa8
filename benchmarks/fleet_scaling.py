"""Fleet scaling benchmark: run time of the cohort fab model for 1,000 vs 100,000 tools.

The default world's tool counts (and capacities, so the fleet still meets them) are scaled to the target fleet
size; the run is a 3-year baseline and a Japan servicing + spare-parts cutoff. Because tools are handled as
cohorts (numpy draws over arrays of cohorts), run time should depend on the number of cohorts, not of tools:
the target ratio is ≤ 1.5×. Also prints the per-day cost of the fab step alone.

Usage: ``python benchmarks/fleet_scaling.py [--repeats 5]``
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.engine.fabs import availability, group_tools  # noqa: E402
from simulator.engine.world import build, simulate  # noqa: E402
from simulator.scenario.schema import Scenario  # noqa: E402
from simulator.scenario.world_data import load_world  # noqa: E402

SCENARIO = Scenario.model_validate({
    "name": "bench", "start": "2025-01-01", "horizon": "3y",
    "controls": [{"id": "jp", "by": "Japan", "measures": ["servicing", "spare_parts"],
                  "scope": {"vendor_countries": ["Japan"]}, "announced": "2025-02-01", "effective": "2025-03-01"}]})


def fleet_size(fabs: dict) -> int:
    """Tools the engine sizes for this fabs section (capacity x utilisation x (1 + overcapacity))."""
    eng = fabs["operations"]["engineering_share"]
    return sum(group_tools(c["capacity_wpm"], c["utilisation"], fabs["tool_classes"][tc]["overcapacity"],
                           g["wafers_per_tool_day"], availability(fabs["tool_classes"][tc]), eng)
               for c in fabs["classes"].values() for tc, g in c["groups"].items())


def scaled_fabs(target_tools: int) -> dict:
    """The default fabs section with every class's capacity scaled so the engine sizes ``target_tools``."""
    fabs = copy.deepcopy(load_world("default").values["fabs"])
    f = target_tools / fleet_size(fabs)
    for c in fabs["classes"].values():
        c["capacity_wpm"] *= f
    return fabs


def time_pair(fabs: dict, repeats: int) -> float:
    """Best wall time (s) of one baseline + scenario pair over ``repeats``."""
    best = float("inf")
    for r in range(repeats):
        t = time.perf_counter()
        base = simulate(SCENARIO, {"fabs": fabs}, np.random.SeedSequence(r), 0, True)
        simulate(SCENARIO, {"fabs": fabs}, np.random.SeedSequence(r), 0, False, base)
        best = min(best, time.perf_counter() - t)
    return best


def step_us(fabs: dict, repeats: int) -> float:
    """Best per-day cost (µs) of the fab step alone in a baseline run."""
    best = float("inf")
    for r in range(repeats):
        ctx, mechs = build(SCENARIO, {"fabs": fabs}, np.random.SeedSequence(r), 0, True)
        m = mechs[0]
        t = time.perf_counter()
        for d in range(ctx.days):
            m.step(d)
        best = min(best, (time.perf_counter() - t) / ctx.days * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for n in (1_000, 100_000):
        fabs = scaled_fabs(n)
        tools = fleet_size(fabs)
        rows.append((n, tools, time_pair(fabs, args.repeats), step_us(fabs, args.repeats)))
    for n, tools, secs, us in rows:
        print(f"{tools:>7,d} tools: baseline+scenario 3y {secs:6.3f} s   fab step {us:6.1f} us/day")
    ratio = rows[1][2] / rows[0][2]
    print(f"ratio 100k/1k tools: {ratio:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
