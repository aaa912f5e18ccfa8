"""Reading one day of many recorded series at once (all lanes of a batch, or several series of each lane).

A lane-native part that reads what another part recorded (industries read the markets, the economy reads the
industries, the markets read the fabs) needs one day of the same series in every lane as a vector. Where the
series are columns of one shared array, that is one ``take`` of the day's row.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns the memory of view ``a`` (``a`` itself when it owns its memory)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class LaneReader:
    """Reads day ``d`` of many day-indexed series (``arrays[i][d]``, float64) into one vector.

    A series that is a column of a C-contiguous array whose first axis is the day (a lane's column of the
    ``(days, lanes[, cols])`` arrays of :meth:`Lanes.series` / :meth:`Lanes.block`, or a column of a run's own
    :meth:`Recorder.block`) is read with the other columns of that array in one ``take`` of the day's row; any
    other series item by item. A None entry reads as 0.0."""

    def __init__(self, arrays: Sequence[np.ndarray | None]):
        self.n = len(arrays)
        groups: dict[tuple[int, int, int, int], tuple[np.ndarray, list[int], list[int]]] = {}
        singles: list[tuple[int, np.ndarray]] = []
        zeros: list[int] = []
        roots: dict[int, tuple[np.ndarray, int]] = {}
        for i, a in enumerate(arrays):
            if a is None:
                zeros.append(i)
                continue
            col = self._column(a, roots)
            if col is None:
                singles.append((i, a))
                continue
            key, j = col
            g = groups.get(key)
            if g is None:                      # the owner's rows of these days, one a day
                owner, row, start, n = key
                flat = roots[owner][0]
                g = groups[key] = (flat[start * row:(start + n) * row].reshape(n, row), [], [])
            g[1].append(i)
            g[2].append(j)
        self.groups = [(rows, np.array(cols, dtype=np.intp)) for rows, _, cols in groups.values()]
        self.singles = [a for _, a in singles]
        order = [i for _, pos, _ in groups.values() for i in pos] + [i for i, _ in singles] + zeros
        self.zeros = len(zeros)
        self.perm = np.argsort(np.array(order, dtype=np.intp))       # vector i ← chunk position perm[i]
        self.identity = bool(np.array_equal(self.perm, np.arange(self.n)))

    @staticmethod
    def _column(a: np.ndarray, roots: dict[int, tuple[np.ndarray, int]]
                ) -> tuple[tuple[int, int, int, int], int] | None:
        """``(key, j)`` with ``a[d] == rows[d, j]``, ``key`` = ``(id(owner), row, start, days)``: ``rows`` is the
        2-d view, one row a day, of the C-contiguous array that owns ``a``'s memory, ``roots[id(owner)][0][start
        * row:(start + days) * row]`` shaped ``(days, row)``, the same (same ``key``) for every column of it;
        None if ``a`` is not laid out so. ``roots``: the owners seen so far, flat, with their address (a
        reader of a batch's blocks looks at ~70 columns a lane: 12.7 → 5.0 µs a column, 2026-12-07)."""
        root = _owner(a)
        if (root is a or a.ndim != 1 or a.dtype != np.float64 or root.dtype != np.float64
                or not root.flags.c_contiguous or a.strides[0] <= 0 or a.strides[0] % 8):
            return None
        seen = roots.get(id(root))
        if seen is None:
            seen = roots[id(root)] = (root.reshape(-1), root.__array_interface__["data"][0])
        off = a.__array_interface__["data"][0] - seen[1]
        row = a.strides[0] // 8
        if off % 8:
            return None
        start, j = divmod(off // 8, row)
        if (start + len(a)) * row > root.size:
            return None
        return (id(root), row, start, len(a)), j

    @property
    def whole(self) -> bool:
        """Whether every series is a column of one shared array (one ``take`` a day)."""
        return len(self.groups) == 1 and not self.singles and not self.zeros and self.identity

    def read(self, day: int) -> np.ndarray:
        """Day ``day`` of every series, in the order given (a new array of ``n`` floats)."""
        chunks = [rows[day].take(cols) for rows, cols in self.groups]
        if self.singles:
            chunks.append(np.array([a.item(day) for a in self.singles]))
        if self.zeros:
            chunks.append(np.zeros(self.zeros))
        out = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        return out if self.identity else out.take(self.perm)
