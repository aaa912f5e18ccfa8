"""Days simulated so far by the batches of a run, counted where the parent can read them while it waits.

Progress counted replications as their batch ended: the headline's 20 replications run as two batches of ten,
so its bar read 0/20 until both ended together, and the first run after an install (its workers compiling the
model's loops for ~15 s first) looked stuck. Here each batch has a *slot* of a board in memory shared with its
worker: the run-days its fold has taken in so far (``runner``'s sink, every ring of 16 days, so each run's day
counts once the day is checked and folded; a batch that keeps every day reports the days played instead) and
whether its process is compiling loops right now (numba's ``numba:compile`` event, which fires for a compile, not
for a kernel loaded from the disk cache). The parent reads the slots of the batches running while it waits for
their results, and progress moves within a batch. A sweep's task has a slot too (``sweep.batch``): its groups of
runs that share a world run as batches one after the other, each counting on from the last (:func:`settle`).

The board is an anonymous shared mapping (``mmap``) made by :func:`open_board` in the parent before it forks
its workers (or the zygote that forks them): every worker finds it where the parent has it, and nothing of it
is pickled. A worker is told its batch's slot with the batch (:func:`begin`); it writes whole 8-byte words
of its own slot only (no lock), and the parent zeroes a slot before a batch takes it. A batch run in the
parent's own process writes the same board and calls the parent's ``listener`` after each write, so a serial
run redraws its progress too. Where a worker does not come from this process by ``fork`` (``spawn``, a Dask
cluster) it writes its own board: the parent reads zeros and its progress moves by batch, as before. Numbers
do not depend on any of this.
"""
from __future__ import annotations

import mmap
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import numpy as np

#: batches with a slot of their own: a run's batch ``k`` uses slot ``k % SLOTS`` (at most a worker per core runs
#: at once, so two running batches never share a slot)
SLOTS = 1024
DAYS, COMPILING = 0, 1          # the board's rows: run-days folded, compiling now (1) or not (0)

_board: np.ndarray | None = None
_map: mmap.mmap | None = None
_slot: int | None = None        # this process's batch's slot, while it runs one
_listener: Callable[[], None] | None = None
_base = 0                       # run-days of the slot's earlier batches (a sweep's task runs one or more)


def open_board() -> np.ndarray:
    """The board of this process (made at the first call): ``(2, SLOTS)`` int64, shared with the processes
    forked after the call."""
    global _board, _map
    if _board is None:
        _map = mmap.mmap(-1, 2 * SLOTS * 8)      # anonymous and shared (MAP_SHARED) where there is fork
        _board = np.frombuffer(_map, dtype=np.int64).reshape(2, SLOTS)
    return _board


def slot_of(batch: int) -> int:
    """The slot of a run's batch ``batch`` (0, 1, ...)."""
    return batch % SLOTS


def clear(batch: int) -> None:
    """Zero the slot of batch ``batch`` (the parent, before the batch starts)."""
    board = open_board()
    board[:, slot_of(batch)] = 0


def begin(batch: int, listener: Callable[[], None] | None = None) -> None:
    """This process runs batch ``batch`` now: :func:`advance` and :func:`compiling` write its slot, and call
    ``listener()`` after each write (a batch run in the parent's own process)."""
    global _slot, _listener, _base
    _slot, _listener, _base = slot_of(batch), listener, 0


def end() -> None:
    """This process's batch has ended (its slot is left as it is, for the parent to read)."""
    global _slot, _listener
    _slot, _listener = None, None


@contextmanager
def counting(batch: int, listener: Callable[[], None] | None = None) -> Iterator[None]:
    """:func:`begin` batch ``batch`` (with ``listener``) for the ``with`` block, then :func:`end`, however the
    block ends."""
    begin(batch, listener)
    try:
        yield
    finally:
        end()


def advance(run_days: int) -> None:
    """The batch of this process has folded (or played) ``run_days`` run-days so far: its runs × the days from the
    reported start (added to the days of the slot's earlier batches, :func:`settle`)."""
    _write(DAYS, _base + run_days)


def settle() -> None:
    """The batch of this process has ended and another follows in the same slot (a sweep's task: its runs that
    share a world step as one batch, then the next such group): the next batch's days add to this one's."""
    global _base
    if _slot is not None and _board is not None:
        _base = int(_board[DAYS, _slot])


def compiling(on: bool) -> None:
    """The batch of this process starts (``on``) or ends compiling a loop."""
    _write(COMPILING, int(on))


def _write(row: int, value: int) -> None:
    """``value`` into row ``row`` of this process's batch's slot, then the listener; nothing outside a batch, or
    without a board."""
    if _slot is None or _board is None:
        return
    _board[row, _slot] = value
    if _listener is not None:
        _listener()


def progress(running: Iterable[tuple[int, int]], days: int) -> tuple[float, bool]:
    """(replications' worth of days simulated, whether one of them is compiling) of the batches ``running``,
    each ``(batch, replications)`` of ``days`` reported days; a slot's count is capped at its batch's size."""
    board = open_board()
    done, comp = 0.0, False
    for batch, reps in running:
        s = slot_of(batch)
        done += min(int(board[DAYS, s]), reps * days) / days
        comp = comp or bool(board[COMPILING, s])
    return done, comp
