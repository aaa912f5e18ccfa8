"""Shared helpers for the benchmark scripts: medians of repeated timings and a machine description."""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}")


def table(rows: list[tuple], head: tuple) -> str:
    rows = [tuple(str(x) for x in r) for r in rows]
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{x}}}" for x in w)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * x for x in w))] + [fmt.format(*r) for r in rows])


def bare_simpy(n_events: int = 1_000_000, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds (by ``clock``) for one bare SimPy process yielding ``n_events`` timeouts: the yardstick every
    speed figure is a ratio of, measured in the same run."""
    import simpy
    env = simpy.Environment()

    def proc():
        for _ in range(n_events):
            yield env.timeout(1)
    env.process(proc())
    t0 = clock()
    env.run()
    return clock() - t0
