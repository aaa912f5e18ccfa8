"""Replications of a scenario, each paired with its no-policy baseline under common random numbers.

For every replication ``i`` the baseline (same world, no controls or countermeasures) runs first, then the
scenario with the same seed sequence, so both draw the same random numbers from the same named streams, and
the scenario's ``when`` triggers may compare a metric with the baseline's value on the same day. Replications
are independent and may run in worker processes; the result does not depend on how many.
"""
from __future__ import annotations

import datetime as _dt
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .engine.recorder import Recorder
from .engine.streams import replication_seeds
from .engine.world import simulate
from .scenario.errors import SimulationError
from .scenario.schema import Scenario


@dataclass
class Pair:
    """One replication: the scenario run and its baseline."""

    replication: int
    seed_entropy: int
    baseline: Recorder
    scenario: Recorder


MAX_SPIN_UP_DAYS = 3653   # ten years


def spin_up_days(scenario: Scenario) -> int:
    """Days before ``start`` from which the run must be played so that measures dated before ``start`` (a
    licensing regime already in force, say) have shaped the state the report starts from; 0 if none."""
    first = min((m.announced_date() for m in scenario.measures if m.announced_date() is not None),
                default=scenario.start)
    return min(MAX_SPIN_UP_DAYS, max(0, (scenario.start - first).days))


def run_pair(scenario: Scenario, world: Mapping[str, Any], replication: int) -> Pair:
    """Run replication ``replication`` of ``scenario`` and its baseline.

    Measures dated before ``start`` are played from their announcement (a *spin-up*, baseline alike), and
    the recorders are then trimmed to the reported period, so the report starts from a state that already
    reflects them instead of switching them all on at day 0."""
    seq = replication_seeds(scenario.seed, replication + 1)[replication]
    lead = spin_up_days(scenario)
    played = scenario
    if lead:
        played = scenario.model_copy(update={"start": scenario.start - _dt.timedelta(days=lead),
                                             "horizon": scenario.horizon + lead})
    base = simulate(played, world, seq, replication, True)
    scen = simulate(played, world, seq, replication, False, base)
    base.trim(lead)
    scen.trim(lead)
    for which, rec in (("baseline", base), ("scenario", scen)):
        check_numbers(rec, scenario, replication, which)
    return Pair(replication, scenario.seed, base, scen)


def check_numbers(rec: Recorder, scenario: Scenario, replication: int, which: str) -> None:
    """Fail the run (SimulationError) if a recorded series holds NaN, naming the series and its first day."""
    hit = rec.first_nan()
    if hit is not None:
        key, day = hit
        date = scenario.start + _dt.timedelta(days=day)
        raise SimulationError(f"{scenario.name}: series {key} is not a number (NaN) from {date} (day {day}) in "
                              f"the {which} of replication {replication}; a world value probably makes the model "
                              f"divide by zero or overflow (check overrides and world data); no results written")


def _run_pair_args(args: tuple) -> Pair:
    return run_pair(*args)


def _worker_init(parent: int) -> None:
    """Workers leave Ctrl-C and SIGTERM to the parent, which stops the pool (no tracebacks from every worker),
    and die with the parent, so a killed run leaves no orphan workers (see ``simulator.safety``)."""
    from .safety import worker_init
    worker_init(parent)


def run_replications(scenario: Scenario, world: Mapping[str, Any], jobs: int = 1,
                     on_done: Callable[[], None] | None = None) -> list[Pair]:
    """All replications, in replication order, serially (``jobs=1``) or on ``jobs`` processes.
    ``on_done()`` is called once as each replication completes (a progress bar)."""
    n = scenario.replications
    tick = on_done or (lambda: None)
    if jobs <= 1 or n == 1:
        out = []
        for i in range(n):
            out.append(run_pair(scenario, world, i))
            tick()
        return out
    import os
    from concurrent.futures import as_completed
    from .safety import stop_pool
    ex = ProcessPoolExecutor(max_workers=min(jobs, n), initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures = [ex.submit(_run_pair_args, (scenario, world, i)) for i in range(n)]
        for f in as_completed(futures):
            f.result()
            tick()
        pairs = [f.result() for f in futures]
    except BaseException:   # Ctrl-C, SIGTERM, a failed replication: stop the workers now, do not wait
        stop_pool(ex)
        raise
    ex.shutdown()
    return pairs
