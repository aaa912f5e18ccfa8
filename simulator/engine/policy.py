"""The policy timeline: controls and countermeasures as SimPy processes that announce, take effect and end.

Each measure of a scenario becomes one process. A dated measure waits for its ``announced`` and ``effective``
dates; a triggered one first waits for its trigger:

- ``after``: another measure reaches a step (``announced``/``effective``/``ended``), then ``delay`` days pass,
  then one draw from the measure's own random stream decides with ``probability`` whether it fires;
- ``when``: a recorded metric (optionally relative to the paired baseline run) stays below/above a threshold
  for ``for`` consecutive days.

A measure ends on its ``ends`` date, after its ``duration``, or when its ``lift`` fires (by date, after another
measure, or on a metric). Every state change is an event with its cause. Policy steps happen at whole days; the
daily market step runs at mid-day (day + 0.5), so a measure effective on a date binds that date's step.

Mechanisms ask the board what is in force: the fab part reads the controls in force (``PolicyBoard.controls``,
see :mod:`simulator.engine.fab_origin` for how they stop tool flows) and the markets ask
:meth:`PolicyBoard.countermeasures_on_item` (restrictions on one item's exports to an importer).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import simpy

from ..scenario.schema import Condition, Control, Countermeasure, Lift, Trigger, _Measure
from .recorder import Recorder
from .streams import Streams

STEPS = ("announced", "effective", "ended")


@dataclass
class MeasureState:
    """The live state of one measure in one run. Days are engine days since the scenario start."""

    spec: _Measure
    reached: dict[str, simpy.Event]
    status: str = "pending"
    announced_day: float | None = None
    effective_day: float | None = None
    ended_day: float | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def in_force(self) -> bool:
        return self.status == "effective"

    @property
    def pending(self) -> bool:
        """Announced but not yet effective (the window for buying ahead)."""
        return self.status == "announced"

    def targets(self, country: str) -> bool:
        """Whether this measure is aimed at ``country`` (``all`` matches every country)."""
        against = self.spec.against
        return "all" in against or country in against


@dataclass
class _Watch:
    cond: Condition
    series: np.ndarray
    base: np.ndarray | None
    fired: simpy.Event
    streak: int = 0


class Clock:
    """A counter shared by the policy boards of runs stepped together (lanes): it bumps whenever any of them
    changes, so a mechanism stepping every lane asks one number whether to look again at all the boards."""

    def __init__(self) -> None:
        self.version = 0


class PolicyBoard:
    """All measures of one run, their processes, and the questions mechanisms ask about them."""

    def __init__(self, env: simpy.Environment, start: _dt.date, measures: list[_Measure], recorder: Recorder,
                 streams: Streams, baseline: Recorder | None = None, clock: Clock | None = None):
        self.env = env
        self.clock = clock if clock is not None else Clock()
        self.start = start
        self.recorder = recorder
        self.baseline = baseline
        self.streams = streams
        self.states: dict[str, MeasureState] = {
            m.id: MeasureState(m, {s: env.event() for s in STEPS}) for m in measures}
        self.controls = [s for s in self.states.values() if isinstance(s.spec, Control)]
        self.countermeasures = [s for s in self.states.values() if isinstance(s.spec, Countermeasure)]
        self._watches: list[_Watch] = []
        self.version = 0  # bumps on every state change so mechanisms can cache their view

    # ----- processes -------------------------------------------------------------------------------------
    def start_processes(self) -> None:
        """Start one process per measure (call once, after mechanisms registered their series)."""
        for st in self.states.values():
            self.env.process(self._life(st))

    def _day(self, d: _dt.date) -> float:
        return float(max(0, (d - self.start).days))

    def _wait_until(self, t: float):
        if t > self.env.now:
            yield self.env.timeout(t - self.env.now)

    def _wait_trigger(self, trig: Trigger | Lift, owner: str, what: str) -> Iterator:
        """Wait for a trigger; return its cause text, or None when it will not fire (probability draw)."""
        if isinstance(trig, Lift) and trig.on_date is not None:
            yield from self._wait_until(self._day(trig.on_date))
            return f"lift date {trig.on_date}"
        if trig.after is not None:
            other = self.states[trig.after]
            yield other.reached[trig.on]
            cause = f"{trig.on} of {trig.after}"
        else:
            ev = self.env.event()
            self._watches.append(_Watch(trig.when, self.recorder.get(trig.when.metric),
                                        self.baseline.get(trig.when.metric)
                                        if trig.when.relative_to == "baseline" and self.baseline else None, ev))
            yield ev
            yield from self._wait_until(math.ceil(self.env.now))
            c = trig.when
            side = f"below {c.below:g}" if c.below is not None else f"above {c.above:g}"
            rel = " of baseline" if c.relative_to == "baseline" else ""
            cause = f"{c.metric} {side}{rel} for {c.for_:g}d"
        if trig.delay > 0:
            yield self.env.timeout(round(trig.delay))
        if trig.probability < 1.0:
            draw = self.streams.get(f"policy.{owner}.{what}").random()
            if draw >= trig.probability:
                return None
        return cause

    def _set(self, st: MeasureState, step: str, cause: str) -> None:
        day = self.env.now
        st.status = step
        setattr(st, f"{step}_day", day)
        self.version += 1
        self.clock.version += 1
        self.recorder.event(day, st.id, step, cause)
        st.reached[step].succeed()

    def _life(self, st: MeasureState) -> Iterator:
        spec = st.spec
        if spec.trigger is None:
            announced, effective = self._day(spec.announced_date()), self._day(spec.effective)
            cause = "scheduled"
        else:
            cause = yield from self._wait_trigger(spec.trigger, spec.id, "trigger")
            if cause is None:
                self.recorder.event(self.env.now, spec.id, "not_triggered",
                                    f"probability {spec.trigger.probability:g} draw failed")
                return
            announced = self.env.now
            effective = announced + round(spec.notice)
        lifted = self.env.event()
        if spec.lift is not None:
            self.env.process(self._lift_watch(st, lifted))
        yield from self._wait_until(announced)
        self._set(st, "announced", cause)
        if effective > self.env.now:
            yield self.env.timeout(effective - self.env.now) | lifted
        if lifted.triggered:
            self._set(st, "ended", f"lifted before effect: {lifted.value}")
            return
        self._set(st, "effective", cause)
        if spec.ends is not None:
            end_at = self._day(spec.ends)
        elif spec.duration is not None:
            end_at = self.env.now + round(spec.duration)
        else:
            end_at = None
        waits = [lifted] + ([self.env.timeout(max(0.0, end_at - self.env.now))] if end_at is not None else [])
        yield self.env.any_of(waits)
        self._set(st, "ended", f"lifted: {lifted.value}" if lifted.triggered else "scheduled end")

    def _lift_watch(self, st: MeasureState, lifted: simpy.Event) -> Iterator:
        cause = yield from self._wait_trigger(st.spec.lift, st.id, "lift")
        if cause is not None and not lifted.triggered and st.status != "ended":
            lifted.succeed(cause)

    def check_conditions(self, day: int) -> None:
        """Update metric watches with day ``day``'s recorded values (called by the daily step)."""
        if not self._watches:
            return
        for w in self._watches:
            if w.fired.triggered:
                continue
            v = w.series[self.recorder.row(day)]
            if w.base is not None:
                b = w.base[self.baseline.row(day)]
                v = v / b if b else np.nan
            c = w.cond
            hold = (v < c.below) if c.below is not None else (v > c.above)
            w.streak = w.streak + 1 if hold else 0
            if w.streak >= max(1, round(c.for_)):
                w.fired.succeed()
        self._watches = [w for w in self._watches if not w.fired.triggered]

    # ----- questions mechanisms ask ----------------------------------------------------------------------
    def countermeasures_on_item(self, item: str, mineral: str, importer: str,
                                pending: bool = False) -> list[MeasureState]:
        """Countermeasures in force (or, with ``pending=True``, announced and not yet effective) that restrict
        exports of ``item`` (a stage of ``mineral``) from China to ``importer``: the measure names the mineral
        (all its stages) or the item itself in ``mineral``, and its ``items`` list, if given, holds the item."""
        out = []
        for st in self.countermeasures:
            if not (st.pending if pending else st.in_force):
                continue
            spec = st.spec
            if not (mineral in spec.mineral or item in spec.mineral):
                continue
            if spec.items is not None and item not in spec.items:
                continue
            if st.targets(importer):
                out.append(st)
        return out

