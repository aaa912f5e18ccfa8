"""Cost of one daily step of the mineral markets (every item of every mineral), in µs/day.

Times ``MineralMarkets.step`` alone over a 3-year run, once with no countermeasure and once with China licensing
gallium and germanium against all importers plus a ban of natural graphite and antimony against Japan (the spot
market, the licence queue and the ban re-routing all at work). Prints the median over ``--repeats`` runs::

    python benchmarks/minerals_step.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.engine.market import MineralMarkets  # noqa: E402
from simulator.engine.world import LaneSpec, build_lanes, run_lanes  # noqa: E402
from simulator.scenario.schema import Scenario  # noqa: E402
from simulator.scenario.world_data import load_world  # noqa: E402

MEASURES = [
    {"id": "lic", "against": ["all"], "mineral": ["gallium", "germanium"], "kind": "licensing",
     "announced": "2026-01-06", "effective": "2026-02-01", "licence_delay": "90d", "licence_delay_sd": "30d",
     "approval_share": 0.7},
    {"id": "ban", "against": ["Japan"], "mineral": ["graphite", "antimony"], "kind": "ban",
     "announced": "2026-01-06", "effective": "2026-02-01", "leakage": 0.1},
]


def time_step(sc: Scenario, world: dict, seed: int, repeats: int) -> list[float]:
    """µs per simulated day spent in ``MineralMarkets.step`` over a whole run of ``sc`` (a batch of one
    lane), once per repeat."""
    out = []
    for _ in range(repeats):
        lanes, mechs = build_lanes(sc, world, [LaneSpec(0, np.random.SeedSequence(seed), False)])
        mm = next(m for m in mechs if isinstance(m, MineralMarkets))
        spent = [0.0]
        inner = mm.step

        def timed(day: int, _inner=inner) -> None:
            t0 = time.perf_counter()
            _inner(day)
            spent[0] += time.perf_counter() - t0
        mm.step = timed  # type: ignore[method-assign]
        run_lanes(lanes, mechs)
        out.append(spent[0] / lanes.days * 1e6)
    return out


def step_us(measures: list[dict], repeats: int) -> float:
    """Median over ``repeats`` runs of the mean wall time of one minerals step, in µs."""
    sc = Scenario.model_validate({"name": "bench", "start": "2026-01-01", "horizon": "3y",
                                  "countermeasures": measures})
    world = {"minerals": load_world("default").values["minerals"]}
    return statistics.median(time_step(sc, world, 1, repeats))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"minerals step, no measure:   {step_us([], args.repeats):6.1f} µs/day (median of {args.repeats})")
    print(f"minerals step, with measures: {step_us(MEASURES, args.repeats):6.1f} µs/day (median of {args.repeats})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
