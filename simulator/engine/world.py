"""Simulation runs stepped together: one ``simpy.Environment``, one policy board per run, the model parts.

A *lane* is one run (a replication's scenario or its no-policy baseline). Runs of the same world and calendar
(the replications of a scenario; sweep points that differ only in their measures, which a lane may carry) are
stepped together, day by day, in one environment: each lane has its own policy board, recorder and random
streams, so its numbers are exactly those it would have alone, whatever the batch (1, 2 or 40 lanes). Lanes only meet
where the model says so: a scenario lane's ``when`` triggers and "follow the baseline" reads look at its paired
baseline lane's recorder, which the same day's step has already written.

A *mechanism* is one model part (tool fleets, mineral markets, downstream industries) in its own module,
advanced one day in ``step(day)`` at mid-day, after the day's policy steps, in the order of ``MECHANISMS``; a
later one may read what an earlier one recorded for the same day. Two kinds:

- a :class:`LaneMechanism` steps every lane at once, its state arrays carrying a leading lane axis (built from
  :class:`Lanes`, it registers series with :meth:`Lanes.block` / :meth:`Lanes.series`);
- a :class:`Mechanism` models one run (built from its lane's :class:`RunContext`); the engine keeps one per
  lane and steps them in turn.

A mechanism may also start SimPy processes of its own (``ctx.env.process``) for things that happen at a time.
"""
from __future__ import annotations

import datetime as _dt
import gc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np
import simpy

from .. import safety
from ..scenario.schema import Scenario
from . import kernels
from .policy import Clock, PolicyBoard
from .recorder import Recorder, refuse_twice, series_info
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


class LaneMechanism:
    """Base of a model part that steps every lane at once (state arrays with a leading lane axis)."""

    section: ClassVar[str] = ""
    lane_native: ClassVar[bool] = True

    def __init__(self, lanes: "Lanes"):
        self.lanes = lanes

    def step(self, day: int) -> None:  # pragma: no cover - interface
        """Advance every lane by day ``day`` and record that day's values of every lane."""
        raise NotImplementedError


class PerLane:
    """One single-run :class:`Mechanism` per lane, stepped in lane order."""

    def __init__(self, cls: type[Mechanism], lanes: "Lanes"):
        self.parts = [cls(ctx) for ctx in lanes.runs]

    def step(self, day: int) -> None:
        for part in self.parts:
            part.step(day)


@dataclass(frozen=True)
class LaneSpec:
    """One lane of a batch: its replication, seed sequence, whether it is a baseline, (for a scenario lane) the
    index of its paired baseline lane, which must come earlier in the batch, and the lane's own measures when
    they differ from the scenario's (a sweep over a measure's values runs its points as lanes of one batch)."""

    replication: int
    seed_seq: np.random.SeedSequence
    is_baseline: bool
    baseline_lane: int | None = None
    measures: tuple | None = None


class Lanes:
    """The runs of one batch: a shared environment, clock and calendar, and one :class:`RunContext` per lane.

    A lane's paired baseline is ``runs[l].baseline`` (a :class:`Recorder`, or None for a baseline): the
    recorder of an earlier lane of the batch, or of a run that already ended (``simulate(..., baseline=)``)."""

    def __init__(self, scenario: Scenario, world: Mapping[str, Any], specs: list[LaneSpec],
                 window: int | None = None, offset: int = 0):
        if not specs:
            raise ValueError("a batch needs at least one lane")
        self.env = simpy.Environment()
        self.start = scenario.start
        self.days = scenario.days
        #: rows of the recorded arrays: every day, or (``window``) a ring of the last ``window`` days from day
        #: ``offset`` on, handed over to a sink as each window fills (see :func:`run_lanes`)
        self.window, self.offset = window, offset
        self.rows = self.days if window is None else window
        self.world = world
        self.clock = Clock()
        self.specs = list(specs)
        self.runs: list[RunContext] = []
        for i, sp in enumerate(self.specs):
            rec = Recorder(self.days, window, offset)
            streams = Streams(sp.seed_seq)
            base = None
            if sp.baseline_lane is not None:
                if not 0 <= sp.baseline_lane < i or not self.specs[sp.baseline_lane].is_baseline:
                    raise ValueError(f"lane {i}: baseline_lane {sp.baseline_lane} is not an earlier baseline lane")
                base = self.runs[sp.baseline_lane].recorder
            measures = [] if sp.is_baseline else list(scenario.measures if sp.measures is None else sp.measures)
            board = PolicyBoard(self.env, scenario.start, measures, rec, streams, base, self.clock)
            self.runs.append(RunContext(self.env, scenario.start, self.days, world, board, rec, streams,
                                        sp.replication, sp.is_baseline, base))
        self.n = len(self.runs)

    @property
    def batch(self) -> "Lanes":
        """The batch these lanes are (itself; ``shared_lanes.LaneView`` gives the batch it views): what compiled
        loops are decided for, once (``kernels.worth_compiling``)."""
        return self

    @property
    def boards(self) -> list[PolicyBoard]:
        return [ctx.policy for ctx in self.runs]

    def row(self, day: int) -> int:
        """The row of day ``day`` in the recorded arrays (``day`` itself unless they are a ring): the same in
        every lane's recorder."""
        return self.runs[0].recorder.row(day)

    def block(self, specs: list[tuple]) -> np.ndarray:
        """Register ``specs`` (see :meth:`Recorder.block`) in every lane's recorder; returns one
        ``(days, lanes, len(specs))`` array whose ``[:, l, :]`` is lane ``l``'s block, so a mechanism writes a
        day of every lane with ``block[lanes.row(day)] = values`` (``values`` of shape ``(lanes, len(specs))``;
        a ring of ``window`` rows instead of ``days`` when the batch is folded as it runs). The
        mechanism writes every column every day; the block starts at zero, not NaN, because a zeroed block of
        hundreds of MB is ~20× faster to fill day by day than a NaN-filled or uninitialised one (measured: 0.15
        s against 2.7–3.8 s for 40 lanes × 3 years of the market block; the kernel hands out zeroed pages)."""
        arr = np.zeros((self.rows, self.n, len(specs)))
        infos = [series_info(spec) for spec in specs]
        keys = [i.key for i in infos]
        if len(set(keys)) != len(keys):
            refuse_twice(keys, self.runs[0].recorder.data)
        for i, ctx in enumerate(self.runs):
            ctx.recorder.block(specs, arr[:, i, :], infos, keys)
        return arr

    def series(self, entity: str, metric: str, unit: str, summary: tuple[str, ...] = (),
               headline: bool = False) -> np.ndarray:
        """Register one series in every lane; returns a ``(days, lanes)`` array (column ``l`` is lane ``l``'s;
        ``window`` rows for a ring)."""
        arr = np.full((self.rows, self.n), np.nan)
        for i, ctx in enumerate(self.runs):
            ctx.recorder.series(entity, metric, unit, summary, headline, arr[:, i])
        return arr

    def block_row(self, day: int) -> int:
        """The row of a :meth:`block` that day ``day`` is written to (:meth:`row`)."""
        return self.row(day)

    def has(self, key: str) -> bool:
        """Whether the lanes record ``entity.metric`` (every lane records the same series)."""
        return self.runs[0].recorder.has(key)

    def event(self, lane: int, day: float, entity: str, event: str, cause: str) -> None:
        """Record a state change in lane ``lane``."""
        self.runs[lane].recorder.event(day, entity, event, cause)


def mechanism_classes() -> list[type]:
    """Model parts in step order: fabs, then minerals, then industries (which read both), then the economy."""
    from .registry import MECHANISMS
    return list(MECHANISMS)


def lane_native(world: Mapping[str, Any]) -> bool:
    """Whether every model part of ``world`` steps all lanes at once (a batch of them can record into a ring
    and be folded as it runs; a single-run :class:`Mechanism` writes every day of its own arrays)."""
    return all(getattr(cls, "lane_native", False) for cls in mechanism_classes() if cls.section in world)


def build_lanes(scenario: Scenario, world: Mapping[str, Any], specs: list[LaneSpec],
                baseline: Recorder | None = None, window: int | None = None, offset: int = 0
                ) -> tuple[Lanes, list]:
    """Build a batch of runs without running it: the lanes and the model parts in step order (each one a
    :class:`LaneMechanism` or a :class:`PerLane` of single-run mechanisms). ``baseline``, for a batch of one
    scenario lane, is the recorder of its baseline run that already ended. ``window``: record into a ring of
    that many days from day ``offset`` on (see :func:`run_lanes`; lane-native worlds only)."""
    if window is not None and (baseline is not None or not lane_native(world)):
        raise ValueError("a ring of recorded days needs lane-native model parts and every baseline in the batch")
    with collections_paused():
        lanes = Lanes(scenario, world, specs, window, offset)
        if baseline is not None:
            if lanes.n != 1 or specs[0].is_baseline:
                raise ValueError("an ended baseline run pairs with a batch of one scenario lane")
            ctx = lanes.runs[0]
            ctx.baseline = baseline
            ctx.policy.baseline = baseline
        mechs: list = []
        for cls in mechanism_classes():
            if cls.section not in world:
                continue
            if getattr(cls, "lane_native", False):   # ``for_lanes``: a part that picks how it steps the batch
                mechs.append(getattr(cls, "for_lanes", cls)(lanes))
            else:
                mechs.append(PerLane(cls, lanes))
    return lanes, mechs


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (``gc.disable``; as before on exit). A build makes objects that live
    as long as its batch, and the first build of a worker also loads numba and its compiled loops (~0.5 M
    objects): the collections that triggers find almost no garbage but walk the whole heap, and in a forked
    worker they write to every inherited object's header, copying its pages (measured in the headline's
    workers: 0.11–0.13 s of collections in a 0.64–0.74 s build)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_lanes(lanes: Lanes, mechs: list, sink: Callable[[int, int], None] | None = None,
              on_days: Callable[[int], None] | None = None) -> list[Recorder]:
    """Play built lanes to the horizon; returns their recorders in lane order. For lanes recording into a ring
    (``window``), ``sink(first, n)`` is called each time the ring is full and at the last day: rows ``0 .. n``
    then hold days ``offset + first .. offset + first + n`` of every lane, to be used before the next day
    overwrites them. ``on_days(n)``: the first ``n`` days from ``offset`` on are played, every
    :data:`PROGRESS_DAYS` days and at the last (a run's progress, where no sink reports it)."""
    for b in lanes.boards:
        b.start_processes()
    lanes.env.process(_daily(lanes, mechs, sink if lanes.window is not None else None, on_days))
    with frozen_heap(), safety.uncut():      # Ctrl-C stops the run between two days (``safety.cut_point``)
        lanes.env.run(until=lanes.days)
    kernels.mark_compiled()      # the parts run compiled have their loops on disk now: the next run finds them
    return [ctx.recorder for ctx in lanes.runs]


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects alive on entry (the libraries, numba's compiler, the built batch) out of cyclic
    collections until the exit (``gc.freeze``), so the collections the days' temporary objects trigger walk
    only what the run made (measured in a headline worker's run: 28 ms of collections → 1 ms). On exit the
    frozen objects join the oldest generation again, so a batch dropped afterwards is collected as before (a
    sweep worker's memory stays flat). A no-op where something else froze objects already."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


#: days between two reports of ``run_lanes``' ``on_days``
PROGRESS_DAYS = 16


def _daily(lanes: Lanes, mechs: list, sink: Callable[[int, int], None] | None,
           on_days: Callable[[int], None] | None = None) -> Iterator:
    env = lanes.env
    boards = lanes.boards
    window, offset, last = lanes.window or 0, lanes.offset, lanes.days - 1
    interrupts = safety.interrupts_raised()
    yield env.timeout(0.5)
    for day in range(lanes.days):
        for m in mechs:
            m.step(day)
        for b in boards:
            b.check_conditions(day)
        if sink is not None and day >= offset:
            k = day - offset
            if (k + 1) % window == 0 or day == last:
                sink(k - k % window, k % window + 1)
        if on_days is not None and day >= offset and ((day - offset + 1) % PROGRESS_DAYS == 0 or day == last):
            on_days(day - offset + 1)
        safety.cut_point(interrupts)        # Ctrl-C held today, or one that a compiled call's dispatch swallowed
        yield env.timeout(1.0)


#: lane-days from which a batch's model is collected as soon as its run ends (~100 MB of day arrays and more)
COLLECT_LANE_DAYS = 5_000

#: ``defer``: collect a big batch's model just before this process builds its next batch, not as its run ends
#: (:func:`defer_collections`); ``pending``: a dropped batch waits for that collection
_COLLECTION = {"defer": False, "pending": False}


def defer_collections(on: bool = True) -> None:
    """For pool workers (``runner``): a big batch's model is collected just before the worker builds its next
    batch instead of as its run ends, so a worker's last batch hands its summaries back without waiting for a
    full collection (~70 ms in each of the headline's workers), and a worker that gets no other batch never
    pays for it. The old batch is gone before the next is built, but it is still held while the worker turns
    its recorders into results: not for runs that write every replication's days (measured, 100 replications
    × 3 years: peak 552–567 MB collected at once, 611–614 MB deferred)."""
    _COLLECTION["defer"] = on
    if not on:
        _collect_pending()


def _collect_pending() -> None:
    """Collect the dropped batch a deferred collection is waiting for, if any."""
    if _COLLECTION["pending"]:
        _COLLECTION["pending"] = False
        gc.collect()


def simulate_lanes(scenario: Scenario, world: Mapping[str, Any], specs: list[LaneSpec], window: int | None = None,
                   offset: int = 0, sink_for: Callable[[Lanes], Callable[[int, int], None]] | None = None,
                   on_days: Callable[[int], None] | None = None) -> list[Recorder]:
    """Run a batch of lanes to the horizon; returns their recorders in lane order. The batch's model (SimPy
    processes, mechanisms, their day arrays: hundreds of MB for a big batch) holds reference cycles, so a big
    batch's is collected here, as its run ends (or, with :func:`defer_collections`, at the start of the next
    call), before the next batch of a worker is built: without it a worker held two batches at its peak (a
    sweep worker: 1.9 GB instead of 1.2 GB for tasks of 64 one-year runs). A collection costs ~25 ms or more,
    so small batches leave it to Python's own schedule. With ``window``, the lanes record into a
    ring of that many days from day ``offset`` on, and ``sink_for(lanes)`` gives the sink that takes each
    ring's days (see :func:`run_lanes`, as for ``on_days``)."""
    _collect_pending()
    interrupts = safety.interrupts_raised()
    lanes, mechs = build_lanes(scenario, world, specs, window=window, offset=offset)
    safety.raise_swallowed(interrupts)      # a Ctrl-C the build swallowed: no day is played on what it left
    big = lanes.n * lanes.days >= COLLECT_LANE_DAYS
    recs = run_lanes(lanes, mechs, sink_for(lanes) if sink_for is not None else None, on_days)
    del lanes, mechs
    if big:
        if _COLLECTION["defer"]:
            _COLLECTION["pending"] = True
        else:
            gc.collect()
    return recs


def build(scenario: Scenario, world: Mapping[str, Any], seed_seq: np.random.SeedSequence, replication: int,
          is_baseline: bool, baseline: Recorder | None = None) -> tuple[RunContext, list]:
    """Build one run (scenario or baseline) without running it (a batch of one lane)."""
    lanes, mechs = build_lanes(scenario, world, [LaneSpec(replication, seed_seq, is_baseline)], baseline)
    return lanes.runs[0], mechs


def simulate(scenario: Scenario, world: Mapping[str, Any], seed_seq: np.random.SeedSequence, replication: int,
             is_baseline: bool, baseline: Recorder | None = None) -> Recorder:
    """Run one simulation to the horizon and return its recorder (a batch of one lane; a scenario run may be
    paired with the ``baseline`` recorder of a run that already ended)."""
    lanes, mechs = build_lanes(scenario, world, [LaneSpec(replication, seed_seq, is_baseline)], baseline)
    return run_lanes(lanes, mechs)[0]
