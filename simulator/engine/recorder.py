"""The shared recorder: every mechanism writes its daily values here, triggers and other mechanisms read them.

A *series* is one ``entity.metric`` with a unit, held as a preallocated float array indexed by day (NaN until
written). Mechanisms keep the array returned by :meth:`Recorder.series` and write ``arr[day] = value``, which
costs almost nothing per day. ``summary`` names the impact metrics (see ``simulator.report.metrics``) that
apply to the series, e.g. ``("lost", "max_drop_pct")`` for an output or ``("peak", "days_above_50pct")`` for a
price. Events (a measure taking effect, a stock running out) are rows with a day, an entity and a cause.
"""
from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np


@dataclass(frozen=True)
class SeriesInfo:
    """What a recorded series is: who, what, in which unit, and which summary metrics apply."""

    entity: str
    metric: str
    unit: str
    summary: tuple[str, ...] = ()
    headline: bool = False

    @property
    def key(self) -> str:
        return f"{self.entity}.{self.metric}"


@dataclass
class Event:
    """One state change: ``day`` since start, ``entity`` (a measure id or a model part), ``event``, ``cause``."""

    day: float
    entity: str
    event: str
    cause: str


def refuse_twice(keys: list[str], registered: Iterable[str]) -> None:
    """ValueError naming the first of ``keys`` (in order) that is in ``registered`` or earlier in ``keys``, if
    any."""
    seen = set(registered)
    dup = next((k for k in keys if k in seen or seen.add(k)), None)
    if dup is not None:
        raise ValueError(f"series {dup!r} registered twice")


def series_info(spec: tuple) -> SeriesInfo:
    """The :class:`SeriesInfo` of ``(entity, metric, unit[, summary[, headline]])``, its name checked."""
    entity, metric, unit, *rest = spec
    summary = tuple(rest[0]) if rest else ()
    headline = bool(rest[1]) if len(rest) > 1 else False
    if "." in entity and entity.count(".") > 3 or not metric or "." in metric:
        raise ValueError(f"bad series name entity={entity!r} metric={metric!r} (no dots in metric)")
    return SeriesInfo(entity, metric, unit, summary, headline)


def _mapped(mm: mmap.mmap | None, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    """The float64 array of ``shape`` at ``offset`` bytes into the mapping ``mm`` (writable: copy on write)."""
    n = int(np.prod(shape))
    if mm is None or n == 0:
        return np.empty(shape)
    return np.frombuffer(mm, np.float64, count=n, offset=offset).reshape(shape)


class Recorder:
    """Daily series and events of one simulation run (a scenario or its baseline)."""

    def __init__(self, days: int, rows: int | None = None, offset: int = 0):
        if days < 1:
            raise ValueError(f"days(={days}) must be >= 1")
        self.days = days
        #: a ring recorder (``rows`` given) keeps only its last ``rows`` days, day ``d`` in row ``(d - offset) %
        #: rows``: a batch whose days are folded as they are recorded (``world.Lanes``); else every day, in row d
        self.ring = rows is not None
        self.rows = days if rows is None else rows
        self.offset = offset
        self.info: dict[str, SeriesInfo] = {}
        self.data: dict[str, np.ndarray] = {}
        self.events: list[Event] = []
        self._blocks: list[tuple[np.ndarray, list[str]]] = []
        self._parts: tuple[int, list[tuple[np.ndarray, int]]] | None = None
        #: keys whose arrays :meth:`get` handed out (a model part or a trigger reading the series as the run goes)
        self.lent: set[str] = set()
        #: blocks (by position in ``_blocks``) whose days :meth:`parts` and :meth:`matrix` read from another
        #: array (:meth:`read_as`)
        self._read: dict[int, np.ndarray] = {}
        #: where :meth:`move_to` wrote the blocks' days: ``(file, [(offset in bytes, shape) a block])``
        self._moved: tuple[str, list[tuple[int, tuple[int, ...]]]] | None = None

    def series(self, entity: str, metric: str, unit: str, summary: tuple[str, ...] = (),
               headline: bool = False, arr: np.ndarray | None = None) -> np.ndarray:
        """Register ``entity.metric`` (unit ``unit``) and return its day-indexed array to write into
        (``arr``, a lane's column of a series shared by many runs, if given)."""
        info = series_info((entity, metric, unit, summary, headline))
        if info.key in self.data:
            raise ValueError(f"series {info.key!r} registered twice")
        if arr is None:
            arr = np.full(self.rows, np.nan)
        self.info[info.key] = info
        self.data[info.key] = arr
        return arr

    def block(self, specs: list[tuple], arr: np.ndarray | None = None,
              infos: list[SeriesInfo] | None = None, keys: list[str] | None = None) -> np.ndarray:
        """Register many series at once and return one ``(days, len(specs))`` array whose column ``j`` is
        series ``j`` (``specs[j] = (entity, metric, unit[, summary[, headline]])``). A mechanism then writes a
        whole day with ``block[day] = values`` instead of one call per series. ``arr`` (optional) is the
        ``(days, len(specs))`` array to use, a lane's view of a block shared by many runs (see ``lanes``), and
        ``infos`` the specs already checked by :func:`series_info` (when many runs register the same block), with
        ``keys`` their keys, known to be distinct (a batch of 65 lanes registers 2,800 series in each)."""
        if arr is None:
            arr = np.full((self.rows, len(specs)), np.nan)   # C order: a day is one contiguous row
        elif arr.shape != (self.rows, len(specs)):
            raise ValueError(f"block array of shape {arr.shape}, expected {(self.rows, len(specs))}")
        if infos is None:
            infos = [series_info(spec) for spec in specs]
        if keys is None:
            keys = [i.key for i in infos]
            if len(set(keys)) != len(keys):
                refuse_twice(keys, self.data)
        if not self.data.keys().isdisjoint(keys):
            refuse_twice(keys, self.data)
        self.info.update(zip(keys, infos))
        self.data.update(zip(keys, arr.T))
        self._blocks.append((arr, keys))
        return arr

    def matrix(self, keys: list[str], start: int = 0, stop: int | None = None) -> np.ndarray:
        """key × day matrix of the series ``keys`` over rows ``start .. stop`` (default: every day), one row per
        key in order. Series of a block are copied with one transposing copy of the block where many of its
        columns are wanted (a market block of 2,000+ series in 6.5 ms where a strided copy per series takes
        29 ms)."""
        stop = self.rows if stop is None else stop
        out = np.empty((len(keys), stop - start))
        where = {k: i for i, k in enumerate(keys)}
        done = np.zeros(len(keys), dtype=bool)
        for arr, bkeys in self._blocks_read():
            rows, cols = [], []
            for j, k in enumerate(bkeys):
                i = where.get(k)
                if i is not None:
                    rows.append(i)
                    cols.append(j)
            if not rows:
                continue
            r0, n = rows[0], len(rows)
            part = arr[start:stop]
            if n == len(bkeys) and rows == list(range(r0, r0 + n)) and cols == list(range(n)):
                out[r0:r0 + n] = part.T               # the whole block, in order: one transposing copy
            else:
                out[rows] = np.ascontiguousarray(part.T)[cols] if 4 * len(cols) > len(bkeys) else part[:, cols].T
            done[rows] = True
        for i in np.flatnonzero(~done):
            out[i] = self.data[keys[i]][start:stop]
        return out

    def parts(self) -> list[tuple[np.ndarray, int]]:
        """Every series as columns of 2-D ``(rows, columns)`` arrays, each with the registration index of its
        first series: the blocks as they are, a series registered alone as one column (worked out once)."""
        if self._parts is None or self._parts[0] != len(self.info):
            pos = {k: i for i, k in enumerate(self.info)}
            in_blocks = {k for _, keys in self._blocks for k in keys}
            out = [(arr, pos[keys[0]]) for arr, keys in self._blocks_read() if keys]
            out += [(arr[:, None], pos[k]) for k, arr in self.data.items() if k not in in_blocks]
            self._parts = (len(self.info), out)
        return self._parts[1]

    def _blocks_read(self) -> list[tuple[np.ndarray, list[str]]]:
        """``(days, keys)`` of every block in registration order, its days as :meth:`parts` and :meth:`matrix` read
        them (another run's, see :meth:`read_as`)."""
        return [(self._read.get(b, arr), keys) for b, (arr, keys) in enumerate(self._blocks)]

    def read_as(self, own: np.ndarray, other: np.ndarray | None) -> None:
        """Read the days of the block registered as ``own`` (the array :meth:`block` was given) from ``other``
        (the same shape) in :meth:`parts` and :meth:`matrix`, or from ``own`` again (``other`` None): a ring's
        days, which a sink reads through those two, held by another run's block while the two runs record the
        same numbers there (``shared_lanes``). :meth:`get` and ``data`` still give ``own``'s columns."""
        at = own.__array_interface__["data"][0]
        b = next(i for i, (arr, _) in enumerate(self._blocks)
                 if arr.shape == own.shape and arr.__array_interface__["data"][0] == at)
        if other is None:
            self._read.pop(b, None)
        elif other.shape != own.shape:
            raise ValueError(f"block read from an array of shape {other.shape}, expected {own.shape}")
        else:
            self._read[b] = other
        self._parts = None

    def row(self, day: int) -> int:
        """The row of day ``day`` in the recorder's arrays."""
        return (day - self.offset) % self.rows if self.ring else day

    def trim(self, days: int) -> None:
        """Drop the first ``days`` days (a spin-up before the reporting start): series start later, event
        days shift so that day 0 is the new first day (spin-up events keep negative days). A ring recorder
        only shifts its events (its days were folded from the reporting start on)."""
        if days <= 0:
            return
        if days >= self.days:
            raise ValueError(f"trim(days={days}) must be < the recorded {self.days} days")
        self.days -= days
        self._parts = None
        if not self.ring:
            self.rows = self.days
            self.data = {k: v[days:] for k, v in self.data.items()}
            self._blocks = [(arr[days:], keys) for arr, keys in self._blocks]
            self._read = {b: arr[days:] for b, arr in self._read.items()}
        for e in self.events:
            e.day -= days

    @property
    def nbytes(self) -> int:
        """Bytes of the blocks' days (what :meth:`move_to` writes)."""
        return sum(a.nbytes for a, _ in self._blocks_read())

    def move_to(self, path: str) -> None:
        """Write every block's days to a new file ``path`` (float64, block after block, each in C order) and pickle
        from now on where they are in it instead of the days: the process that unpickles the recorder maps the
        file copy-on-write and removes its name (:meth:`__setstate__`), so a worker's days reach its parent
        without being pickled, piped and copied (``runner``: a notebook's run keeping every day, ~50 MB a
        replication of the headline). Afterwards this recorder is only to be pickled. OSError (a full disk, say)
        leaves it as it was and no file."""
        where = []
        at = 0
        try:
            with open(path, "xb") as fh:
                for a, _ in self._blocks_read():
                    for r in range(0, a.shape[0], 256):             # a strided lane's rows copied a piece at a time
                        fh.write(np.ascontiguousarray(a[r:r + 256], dtype=np.float64).data)
                    where.append((at, a.shape))
                    at += a.size * 8
        except OSError:
            if os.path.exists(path):
                os.unlink(path)
            raise
        self._moved = (path, where)

    def __getstate__(self) -> dict:
        """Pickle each block once as a whole (a worker process sends its recorder back to the parent), or only
        where it is (:meth:`move_to`)."""
        state = dict(self.__dict__)
        state["_parts"] = None
        in_blocks = {k for _, keys in self._blocks for k in keys}
        state["data"] = {k: (None if k in in_blocks else v) for k, v in self.data.items()}
        if getattr(self, "_moved", None) is not None:
            state["_blocks"] = [(None, keys) for _, keys in self._blocks]
            state["_read"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        moved = state.get("_moved")
        if moved is not None:
            path, where = moved
            with open(path, "rb") as fh:
                mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY) if where and os.path.getsize(path) else None
            os.unlink(path)                  # the mapping keeps the days until the arrays are gone
            self._blocks = [(_mapped(mm, off, shape), keys) for (off, shape), (_, keys) in zip(where, self._blocks)]
            self._moved = None
        for arr, keys in self._blocks:
            for j, k in enumerate(keys):
                self.data[k] = arr[:, j]

    def first_nan(self) -> tuple[str, int] | None:
        """``(series, day)`` of the first day a recorded series holds NaN (not a number), series in
        registration order; None when every value is a number. Series are written every day, so a NaN means
        a division by zero or an overflow upstream, never a day left unwritten."""
        in_blocks = {k for _, keys in self._blocks for k in keys}
        if not any(np.isnan(arr).any() for arr, _ in self._blocks) and \
                not any(np.isnan(v).any() for k, v in self.data.items() if k not in in_blocks):
            return None
        for key, arr in self.data.items():
            bad = np.isnan(arr)
            if bad.any():
                return key, int(np.argmax(bad))
        return None

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> np.ndarray:
        """The array of ``entity.metric`` (noted in :attr:`lent`); KeyError names close matches."""
        try:
            arr = self.data[key]
            self.lent.add(key)
            return arr
        except KeyError:
            import difflib
            near = difflib.get_close_matches(key, list(self.data), n=3)
            raise KeyError(f"no series {key!r}" + (f" (did you mean {', '.join(near)}?)" if near else "")) from None

    def event(self, day: float, entity: str, event: str, cause: str) -> None:
        """Record a state change."""
        self.events.append(Event(float(day), entity, event, cause))
