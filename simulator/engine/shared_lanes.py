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
the part is built for the other baseline lanes, with their random streams as at their start. It takes the
representative's state at the end of that day, with each lane's own random numbers (``take_lane`` of the model
part, through :func:`copy_lane_state`: every array whose shape follows the lane count is copied from the
representative's lane, but for what the part names as its lanes' own); where it cannot, the days up to that
one are replayed instead, without recording or events (the lanes' inputs are the world and the calendar only,
so the days replayed are the days already recorded). Each lane's numbers are thus exactly those it would have
stepped alone, which the tests check bit for bit, both ways; sharing only saves the work while lanes agree.

A model part used this way is built from a :class:`LaneView` (the lanes it steps), writes its day with
``block[view.block_row(day)]``, and has ``part_lanes(position) -> bool`` and ``take_lane(src, position, day) ->
bool``.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from .streams import Streams
from .world import LaneMechanism, Lanes


#: share baseline lanes where a model part can (off: every lane stepped, for the tests' comparison)
ENABLED = True
#: (part, start, days) of batches whose baseline lanes parted by a replay in this process: the next batch of
#: the same calendar (a worker's next replications, a sweep's next points) steps them apart from the start,
#: where sharing would cost the replay again. A wrong guess (another world on that calendar) costs time, never
#: numbers.
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
        self.apart: Any = None          # the part stepping the other baseline lanes, once they have parted
        self.apart_view: LaneView | None = None

    @staticmethod
    def wanted(lanes: Lanes, part: type) -> bool:
        """Whether to share a batch's baseline lanes: two or more of them (and :data:`ENABLED`), unless an
        earlier batch of this process with the same calendar had to replay its baseline lanes (:data:`PARTED`)."""
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
                self._echo()
                return
            self._part(day)
            return
        self.apart.step(day)
        row[self.followers] = self.apart_view.stage[0]

    def _echo(self) -> None:
        """The representative's events of the day, recorded in the other baseline lanes too (in its order)."""
        for f in self.followers:
            for ev in self.view.echoed:
                self.lanes.event(f, *ev)

    def _part(self, day: int) -> None:
        """The representative used a random number of its own on ``day`` (it goes on in the main part, which has
        stepped it already): build the part for the other baseline lanes with their own streams; they take the
        representative's state at the end of ``day`` with their own numbers, its day and its events, or else
        replay days ``0 .. day - 1`` silently and step ``day``."""
        view = LaneView(self.lanes, self.followers, self._register, fresh_streams=True)
        apart = self.part_class(view)
        if apart.take_lane(self.main, self.rep_pos, day):     # the representative's state, their own numbers
            self._echo()                                      # today was theirs too: the same events and row
            self.block[self.lanes.row(day)][self.followers] = self.view.stage[0, self.rep_pos]
        else:                                                 # replayed: the same state, step by step
            PARTED.add((self.part_class, self.lanes.start, self.lanes.days))
            view.silent = True
            for d in range(day):
                apart.step(d)
            view.silent = False
            apart.step(day)
            self.block[self.lanes.row(day)][self.followers] = view.stage[0]
        self.view.echo = None
        self.apart, self.apart_view = apart, view


def copy_lane_state(dst: Any, src: Any, pos: int, keep: frozenset[str], path: str = "") -> bool:
    """Give every lane of ``dst`` (a part just built for ``dst.n`` lanes) the state of lane ``pos`` of ``src``
    (the same part, stepped, for ``src.n`` lanes): each array whose shape differs between the two is copied
    from ``src``'s lane along the axis that differs (lists of one entry per lane too), recursively through the
    part's sub-objects that have its lane count as ``n``, except the attributes named in ``keep`` (``"name"`` or
    ``"sub.name"``: what ``dst`` built for its own lanes, such as their random numbers and lane-indexed bins).
    Lane-free values are left as ``dst`` built them. False, copying nothing, when the lane counts are equal (no
    axis to tell by), an array's lane axis cannot be told, or ``src`` has attributes ``dst`` was not built with."""
    if src.n == dst.n:
        return False
    plan: list[tuple[Any, str, Any]] = []
    if not _plan_copy(dst, src, pos, keep, path, plan):
        return False
    for obj, name, value in plan:
        setattr(obj, name, value)
    return True


def _plan_copy(dst: Any, src: Any, pos: int, keep: frozenset[str], path: str, plan: list) -> bool:
    n_src, n_dst = src.n, dst.n
    if not vars(src).keys() <= vars(dst).keys():      # state made while stepping, which a build has not: unknown
        return False
    for name, mine in vars(dst).items():
        key = f"{path}{name}"
        theirs = getattr(src, name, None)
        if key in keep or name in ("lanes", "d", "n"):
            continue
        if isinstance(theirs, np.ndarray):
            if isinstance(mine, np.ndarray) and mine.shape == theirs.shape:
                continue
            axes = [a for a in range(theirs.ndim) if theirs.shape[a] == n_src
                    and (not isinstance(mine, np.ndarray) or mine.shape[a] == n_dst)]
            if len(axes) != 1:
                return False
            lane = np.take(theirs, [pos], axis=axes[0])
            reps = [1] * theirs.ndim
            reps[axes[0]] = n_dst
            plan.append((dst, name, np.tile(lane, reps)))
        elif isinstance(theirs, list) and isinstance(mine, list) and len(theirs) == n_src != len(mine):
            plan.append((dst, name, [copy.copy(theirs[pos]) for _ in range(n_dst)]))
        elif hasattr(mine, "__dict__") and getattr(mine, "n", None) == n_dst and getattr(theirs, "n", None) == n_src:
            if not _plan_copy(mine, theirs, pos, keep, f"{key}.", plan):   # a sub-part with the part's lanes
                return False
    return True
