"""Engine, single-run and horizon benchmarks (issue 7). Prints a table; never asserts on time.

- engine overhead: events per second of our SimPy engine (policy timeline + daily clock, no model parts) on
  the default scenario, and of the full model, against a bare SimPy loop of the same event count;
- single run: one scenario + baseline pair of japan_servicing_ban.yaml (target ≤ 100 ms), and the
  `simulate` command end to end including start-up and writing (target ≤ 3 s);
- horizon scaling: 1, 5 and 20 years (target: linear or better).

Usage: python benchmarks/engine_bench.py [--quick]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

from _common import ROOT, bare_simpy, machine, median_time, table


from simulator.engine import registry
from simulator.engine.streams import replication_seeds
from simulator.engine.world import simulate
from simulator.runner import run_pair
from simulator import load_scenario  # the loader with the model's checks registered

SCENARIO = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")


def engine_events(loaded, parts: list) -> tuple[int, float]:
    """(events, seconds) of one scenario run with the given model parts."""
    saved = registry.MECHANISMS
    registry.MECHANISMS = parts
    try:
        seq = replication_seeds(0, 1)[0]
        import simpy as _s
        counts = []
        orig = _s.Environment.step

        def counting_step(self):
            counts.append(1)
            return orig(self)
        _s.Environment.step = counting_step
        try:
            t0 = time.perf_counter()
            simulate(loaded.scenario, loaded.world.values, seq, 0, False)
            dt = time.perf_counter() - t0
        finally:
            _s.Environment.step = orig
        return len(counts), dt
    finally:
        registry.MECHANISMS = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rep = 3 if args.quick else 7
    loaded = load_scenario(SCENARIO)
    rows = []
    full = list(registry.MECHANISMS)
    for label, parts in (("engine only (policy + daily clock)", []), ("full model", full)):
        n, _ = engine_events(loaded, parts)
        t_ours = median_time(lambda: engine_events(loaded, parts), repeat=rep)
        t_bare = median_time(lambda: bare_simpy(n), repeat=rep)
        rows.append((f"events/s, {label}", f"{n / t_ours:,.0f}", f"bare SimPy {n / t_bare:,.0f}",
                     f"{t_bare / t_ours:.0%} of bare (target >= 50%)"))
    t_pair = median_time(lambda: run_pair(loaded.scenario, loaded.world.values, 0), repeat=rep)
    rows.append(("single run: scenario + baseline, 3y", f"{t_pair * 1000:.0f} ms", "", "target <= 100 ms"))
    with tempfile.TemporaryDirectory() as d:
        def cli():
            subprocess.run([sys.executable, "-m", "simulator", SCENARIO, "--out", f"{d}/r", "--quiet"],
                           check=True, cwd=ROOT)
        t_cli = median_time(cli, repeat=1 if args.quick else 3, warmup=0)
    rows.append((f"simulate end to end ({loaded.scenario.replications} replications, plots)",
                 f"{t_cli:.2f} s", "", "target <= 3 s"))
    base = None
    for years in (1, 5, 20):
        sc = loaded.scenario.model_copy(update={"horizon": years * 365.25})
        t = median_time(lambda: run_pair(sc, loaded.world.values, 0), repeat=max(1, rep // 2))
        base = base or t
        rows.append((f"horizon {years:>2} y (pair)", f"{t * 1000:.0f} ms", f"{t / base:.2f}x of 1 y",
                     f"linear would be {years:.0f}x"))
    print(f"machine: {machine()}")
    print(table(rows, ("benchmark", "value", "reference", "target")))


if __name__ == "__main__":
    main()
