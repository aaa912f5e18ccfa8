"""One simulation run: a ``simpy.Environment`` with the policy board and the model parts of a world.

A *mechanism* is one model part (tool fleets, mineral markets, downstream industries) in its own module. It is
built from a :class:`RunContext`, registers its series with the shared recorder, and advances one day in
:meth:`Mechanism.step` (called at mid-day, after the day's policy steps). Mechanisms run in the order of
``MECHANISMS``; a later one may read what an earlier one recorded for the same day. A mechanism may also start
SimPy processes of its own (``ctx.env.process``) for things that happen at a time (a plant coming online).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np
import simpy

from ..scenario.schema import Scenario
from .policy import PolicyBoard
from .recorder import Recorder
from .streams import Streams


@dataclass
class RunContext:
    """Everything a mechanism may use in one run. ``world`` holds plain resolved values (no provenance)."""

    env: simpy.Environment
    start: _dt.date
    days: int
    world: Mapping[str, Any]
    policy: PolicyBoard
    recorder: Recorder
    streams: Streams
    replication: int
    is_baseline: bool
    baseline: Recorder | None = None


class Mechanism:
    """Base of a model part. ``section`` names its part of the world data (``world[section]``)."""

    section: ClassVar[str] = ""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def step(self, day: int) -> None:  # pragma: no cover - interface
        """Advance the part by day ``day`` (0-based since start) and record that day's values."""
        raise NotImplementedError

    @classmethod
    def vocabulary(cls, world: Mapping[str, Any]) -> dict[str, set[str]]:
        """Names a scenario may use for this part, by kind (``mineral``, ``region``, ``vendor_country``,
        ``vendor``, ``tool_class``, ``fab_class``); the loader checks scenario names against them."""
        return {}


def mechanism_classes() -> list[type[Mechanism]]:
    """Model parts in step order: fabs, then minerals, then industries (which read both)."""
    from .registry import MECHANISMS
    return list(MECHANISMS)


def build(scenario: Scenario, world: Mapping[str, Any], seed_seq: np.random.SeedSequence, replication: int,
          is_baseline: bool, baseline: Recorder | None = None) -> tuple[RunContext, list[Mechanism]]:
    """Build one run (scenario or baseline) without running it."""
    env = simpy.Environment()
    days = scenario.days
    rec = Recorder(days)
    streams = Streams(seed_seq)
    measures = [] if is_baseline else scenario.measures
    board = PolicyBoard(env, scenario.start, measures, rec, streams, baseline)
    ctx = RunContext(env, scenario.start, days, world, board, rec, streams, replication, is_baseline, baseline)
    mechs = [cls(ctx) for cls in mechanism_classes() if cls.section in world]
    return ctx, mechs


def _daily(ctx: RunContext, mechs: list[Mechanism]) -> Iterator:
    env = ctx.env
    yield env.timeout(0.5)
    for day in range(ctx.days):
        for m in mechs:
            m.step(day)
        ctx.policy.check_conditions(day)
        yield env.timeout(1.0)


def simulate(scenario: Scenario, world: Mapping[str, Any], seed_seq: np.random.SeedSequence, replication: int,
             is_baseline: bool, baseline: Recorder | None = None) -> Recorder:
    """Run one simulation to the horizon and return its recorder."""
    ctx, mechs = build(scenario, world, seed_seq, replication, is_baseline, baseline)
    ctx.policy.start_processes()
    ctx.env.process(_daily(ctx, mechs))
    ctx.env.run(until=ctx.days)
    return ctx.recorder
