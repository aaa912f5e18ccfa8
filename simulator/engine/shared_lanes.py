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

Where the batch records into a ring that is folded as it runs (``simulate``, sweeps), the other baseline lanes'
days are not even copied while the lanes agree: their recorders read the representative's lane of the block
(``Recorder.read_as``, which the fold reads through), and only the series that a model part or a trigger reads
as the run goes (``Recorder.lent``: the industries read the markets) are copied each day. When the lanes part,
the other baseline lanes take the representative's days of the ring first and read their own from then on.

A model part used this way is built from a :class:`LaneView` (the lanes it steps), writes its day with
``block[view.block_row(day)]``, and has ``part_lanes(position) -> bool`` and ``take_lane(src, position, day) ->
bool``.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from .recorder import series_info
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
    recorded rows of the batch. Its :meth:`block` is the batch's block for its lanes where they are contiguous
    (``direct``), else a one-day staging block (the :class:`SharedBaselines` copies it into the batch's block),
    and its :meth:`event` records in the lanes each view lane stands for."""

    def __init__(self, lanes: Lanes, idx: list[int], register: Callable[[list[tuple]], np.ndarray],
                 fresh_streams: bool = False, direct: bool = False):
        """``fresh_streams``: the lanes' random streams as at their start (a part built again for lanes whose
        streams a first build drew from: the same numbers again, streams being keyed by name). ``direct``: write
        into the batch's block where the lanes ``idx`` are contiguous (``runner.lane_specs`` orders them so)."""
        self.parent, self.idx = lanes, list(idx)
        self.direct = direct and self.idx == list(range(self.idx[0], self.idx[0] + len(self.idx)))
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
        """The row of :meth:`block` a day is written to: the batch's (``direct``), or the staging block's one row
        (the day is copied out as it ends)."""
        return self.parent.row(day) if self.direct else 0

    def has(self, key: str) -> bool:
        return self.parent.has(key)

    def block(self, specs: list[tuple]) -> np.ndarray:
        """Register ``specs`` in every lane of the batch (once, by the first view asking) and return this
        view's lanes of the batch's block (``direct``) or its staging block, ``(1, n, len(specs))``."""
        blk = self._register(specs)
        if self.direct:
            return blk[:, self.idx[0]:self.idx[0] + self.n]
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
        self.rep, self.followers, self.baselines = base[-1], base[:-1], base
        self._followers = np.array(self.followers, dtype=np.intp)
        self._follower_recs = [lanes.runs[f].recorder for f in self.followers]
        self.main_idx = [i for i in range(lanes.n) if i not in set(self.followers)]
        self.rep_pos = self.main_idx.index(self.rep)
        self.block: np.ndarray | None = None
        #: the other baseline lanes' days are read from the representative's (ring recorders: see :meth:`_defer`)
        self.deferred = lanes.window is not None
        self._cols: dict[str, int] = {}                 # the block's column of each series
        self._lent = -1                                 # the other baseline lanes' lent series when last counted
        self._live = np.zeros(0, dtype=np.intp)         # the block's columns of those series
        self.view = LaneView(lanes, self.main_idx, self._register, direct=True)
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

    def _register(self, specs: list[tuple]) -> np.ndarray:
        if self.block is None:
            self.block = self.lanes.block(specs)
            if self.deferred:
                self._defer(specs)
        return self.block

    def _defer(self, specs: list[tuple]) -> None:
        """Ring recorders (a batch folded as it runs): the other baseline lanes' recorders read their days from
        the representative's lane (``Recorder.read_as``) while the lanes agree, so those days are not copied (in
        a headline worker 9 lanes × 2,369 series, ~170 kB a day, into ring rows out of cache). Only the series
        some part or trigger reads as the run goes (``Recorder.lent``) are copied each day. The rest of those
        lanes holds NaN until they part, so a read that bypasses ``read_as`` finds no number rather than a wrong
        one."""
        self._cols = {series_info(spec).key: j for j, spec in enumerate(specs)}
        for f, rec in zip(self.followers, self._follower_recs):
            rec.read_as(self.block[:, f, :], self.block[:, self.rep, :])
        self.block[:, self.followers] = np.nan

    def _live_columns(self) -> np.ndarray:
        """The block's columns of the series that the other baseline lanes' recorders lent (worked out again
        when more are lent)."""
        recs = self._follower_recs
        lent = sum(len(r.lent) for r in recs)
        if lent != self._lent:
            self._lent = lent
            self._live = np.array(sorted({self._cols[k] for r in recs for k in r.lent if k in self._cols}),
                                  dtype=np.intp)
        return self._live

    def _own_days(self) -> None:
        """The other baseline lanes take the representative's recorded days (every ring row: those of the
        window under way matter) and read their own from now on."""
        self.block[:, self.followers] = self.block[:, self.rep][:, None]
        for f, rec in zip(self.followers, self._follower_recs):
            rec.read_as(self.block[:, f, :], None)
        self.deferred = False

    def step(self, day: int) -> None:
        """The day of the scenario lanes and the representative (written into the batch's block, or copied
        there from the staging row), and of the other baseline lanes: the representative's (copied, or only
        its lent series while they are read from its lane: :meth:`_defer`), or once the baseline lanes have
        parted, each from its own run."""
        self.view.echoed.clear()
        self.main.step(day)
        row = self.block[self.lanes.row(day)]
        if not self.view.direct:
            row[self.main_idx] = self.view.stage[0]
        if self.apart is None:
            if not self.main.part_lanes(self.rep_pos):
                if not self.deferred:
                    row[self.followers] = row[self.rep]
                else:
                    live = self._live_columns()
                    if live.size:
                        row[self._followers[:, None], live] = row[self.rep, live]
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
        if self.deferred:
            self._own_days()
        view = LaneView(self.lanes, self.followers, self._register, fresh_streams=True)
        apart = self.part_class(view)
        if apart.take_lane(self.main, self.rep_pos, day):     # the representative's state, their own numbers
            self._echo()                                      # today was theirs too: the same events and row
            row = self.block[self.lanes.row(day)]
            row[self.followers] = row[self.rep]
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
