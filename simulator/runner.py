"""Replications of a scenario, each paired with its no-policy baseline under common random numbers.

For every replication ``i`` the baseline (same world, no controls or countermeasures) runs first, then the
scenario with the same seed sequence, so both draw the same random numbers from the same named streams, and
the scenario's ``when`` triggers may compare a metric with the baseline's value on the same day. Replications
are independent and may run in worker processes; the result does not depend on how many.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping

from .engine.recorder import Recorder
from .engine.streams import replication_seeds
from .engine.world import simulate
from .scenario.schema import Scenario


@dataclass
class Pair:
    """One replication: the scenario run and its baseline."""

    replication: int
    seed_entropy: int
    baseline: Recorder
    scenario: Recorder


def run_pair(scenario: Scenario, world: Mapping[str, Any], replication: int) -> Pair:
    """Run replication ``replication`` of ``scenario`` and its baseline."""
    seq = replication_seeds(scenario.seed, replication + 1)[replication]
    base = simulate(scenario, world, seq, replication, True)
    scen = simulate(scenario, world, seq, replication, False, base)
    return Pair(replication, scenario.seed, base, scen)


def _run_pair_args(args: tuple) -> Pair:
    return run_pair(*args)


def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool (no tracebacks from every worker)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_replications(scenario: Scenario, world: Mapping[str, Any], jobs: int = 1) -> list[Pair]:
    """All replications, in replication order, serially (``jobs=1``) or on ``jobs`` processes."""
    n = scenario.replications
    if jobs <= 1 or n == 1:
        return [run_pair(scenario, world, i) for i in range(n)]
    with ProcessPoolExecutor(max_workers=min(jobs, n), initializer=_worker_init) as ex:
        return list(ex.map(_run_pair_args, [(scenario, world, i) for i in range(n)]))
