"""Baseline lanes that are the same run, stepped once until their random numbers part them.

The baselines of a batch's replications have no measures, the same world and the same calendar. In a model part
whose only lane-to-lane difference is random numbers it draws *when something happens* (the mineral markets:
an alternative-supply project's lead time when the project starts, a licence delay under licensing) and that
reads nothing lane-specific from other parts in a baseline lane, these lanes hold the very same numbers until one
of them uses a number of its own. Until then the part is stepped for one of them, the *representative*, next to
the scenario lanes, and its day is copied to the other baseline lanes' recorders and events (the headline: 10
baseline lanes in a worker's batch; the markets step 11 lanes instead of 20).

On the day the representative first uses a number of its own (:meth:`part_lanes` of the model part says so),
every baseline lane gets a run of its own: the representative goes on in the main part, and a second copy of
the part is built for the other baseline lanes, with their random streams as at their start, and stepped again
from day 0 to that day without recording or events (their inputs are the world and the calendar only, so the
days replayed are the days already recorded), then records that day and steps them from then on. Each lane's numbers are thus exactly those it would
have stepped alone, which the tests check bit for bit; sharing only saves the work while lanes agree.

A model part used this way is built from a :class:`LaneView` (the lanes it steps), writes its day with
``block[view.block_row(day)]`` and has ``part_lanes(position) -> bool``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from .streams import Streams
from .world import LaneMechanism, Lanes


#: share baseline lanes where a model part can (off: every lane stepped, for the tests' comparison)
ENABLED = True
#: (part, start, days) of batches whose baseline lanes parted in this process: the next batch of the same
#: calendar (a worker's next replications, a sweep's next points) steps them apart from the start, where sharing
#: would cost the replay again. A wrong guess (another world on that calendar) costs time, never numbers.
PARTED: set[tuple] = set()


class LaneView:
    """Some lanes of a batch, seen by a model part as its whole batch: ``runs``, ``n``, the calendar, clock and
    recorded rows of the batch. Its :meth:`block` is a one-day staging block (the :class:`SharedBaselines` copies
    it into the batch's block) and its :meth:`event` records in the lanes each view lane stands for."""

    def __init__(self, lanes: Lanes, idx: list[int], register: Callable[[list[tuple]], None],
                 fresh_streams: bool = False):
        """``fresh_streams``: the lanes' random streams as at their start (a part built again for lanes whose
        streams a first build drew from: the same numbers again, streams being keyed by name)."""
        self.parent, self.idx = lanes, list(idx)
        self.batch = lanes.batch                 # whose lane-days decide compiled loops (counted once)
        self.runs = [replace(lanes.runs[i], streams=Streams(lanes.specs[i].seed_seq)) if fresh_streams
                     else lanes.runs[i] for i in self.idx]
        self.n = len(self.idx)
        self.world, self.start, self.days, self.clock = lanes.world, lanes.start, lanes.days, lanes.clock
        self._register = register
        self.stage: np.ndarray | None = None
        #: ``silent``: events are dropped (days replayed); events of the position ``echo`` are also kept in
        #: ``echoed`` (for the lanes it stands for, see :meth:`SharedBaselines.step`)
        self.silent = False
        self.echo: int | None = None
        self.echoed: list[tuple] = []

    def row(self, day: int) -> int:
        return self.parent.row(day)

    def block_row(self, day: int) -> int:
        """The row of the staging block a day is written to (one row: the day is copied out as it ends)."""
        return 0

    def has(self, key: str) -> bool:
        return self.parent.has(key)

    def block(self, specs: list[tuple]) -> np.ndarray:
        """Register ``specs`` in every lane of the batch (once, by the first view asking) and return this
        view's staging block, ``(1, n, len(specs))``."""
        self._register(specs)
        self.stage = np.zeros((1, self.n, len(specs)))
        return self.stage

    def event(self, lane: int, day: float, entity: str, event: str, cause: str) -> None:
        if self.silent:
            return
        self.parent.event(self.idx[lane], day, entity, event, cause)
        if lane == self.echo:
            self.echoed.append((day, entity, event, cause))


class SharedBaselines(LaneMechanism):
    """A lane model part (``part``: its class) whose baseline lanes share one run while they agree (see the
    module's docstring)."""

    lane_native = True

    def __init__(self, lanes: Lanes, part: type):
        super().__init__(lanes)
        self.part_class = part
        base = [i for i, ctx in enumerate(lanes.runs) if ctx.is_baseline]
        self.rep, self.followers, self.baselines = base[0], base[1:], base
        self.main_idx = [i for i in range(lanes.n) if i not in set(self.followers)]
        self.rep_pos = self.main_idx.index(self.rep)
        self.block: np.ndarray | None = None
        self.view = LaneView(lanes, self.main_idx, self._register)
        self.view.echo = self.rep_pos
        self.main = part(self.view)
        self.apart: Any = None          # the part stepping every baseline lane, once they have parted
        self.apart_view: LaneView | None = None

    @staticmethod
    def wanted(lanes: Lanes, part: type) -> bool:
        """Whether to share a batch's baseline lanes: two or more of them (and :data:`ENABLED`), unless an
        earlier batch of this process with the same calendar had its baseline lanes part (:data:`PARTED`)."""
        return (ENABLED and sum(ctx.is_baseline for ctx in lanes.runs) >= 2
                and (part, lanes.start, lanes.days) not in PARTED)

    def _register(self, specs: list[tuple]) -> None:
        if self.block is None:
            self.block = self.lanes.block(specs)

    def step(self, day: int) -> None:
        """The day of the scenario lanes and the representative, copied to the other baseline lanes; or, once
        the baseline lanes have parted, of every baseline lane from its own run."""
        self.view.echoed.clear()
        self.main.step(day)
        row = self.block[self.lanes.row(day)]
        row[self.main_idx] = self.view.stage[0]
        if self.apart is None:
            if not self.main.part_lanes(self.rep_pos):
                row[self.followers] = self.view.stage[0, self.rep_pos]
                for f in self.followers:
                    for ev in self.view.echoed:
                        self.lanes.event(f, *ev)
                return
            self._part(day)
            return
        self.apart.step(day)
        row[self.followers] = self.apart_view.stage[0]

    def _part(self, day: int) -> None:
        """The representative used a random number of its own on ``day``: build the part for the other baseline
        lanes, replay days ``0 .. day - 1`` silently, then step and record ``day`` (the representative goes on
        in the main part, which has stepped it already)."""
        PARTED.add((self.part_class, self.lanes.start, self.lanes.days))
        self.view.echo = None
        view = LaneView(self.lanes, self.followers, self._register, fresh_streams=True)
        view.silent = True
        apart = self.part_class(view)
        for d in range(day):
            apart.step(d)
        view.silent = False
        apart.step(day)
        self.block[self.lanes.row(day)][self.followers] = view.stage[0]
        self.apart, self.apart_view = apart, view
