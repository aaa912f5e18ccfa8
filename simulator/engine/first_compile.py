"""A first run's compile shared out among its workers.

The compiled loops (:mod:`.kernels`) are compiled once and cached on disk; until then each process that needs one
compiles it. On the first run after an install (or after ``kernels.py`` changed) the headline's two workers
both compiled the same 35 kernels at the same time, ~19 s each of the run's 22.7 s (the next run: 4.5 s).

Here the model parts whose kernels are not cached yet are shared out among the workers a run starts together,
as whole parts, the heaviest first, each to the worker with the least compile time so far (compile seconds
measured on the headline in one process, 2026-12-06: :data:`PARTS`). A worker compiles its own share and runs the
other cold parts on their numpy twins for its whole batch: the same numbers, bit for bit (``kernels``' module
docstring; ``tests/test_kernels.py``), only slower (the headline's numpy parts cost a worker ~3 s against ~9 s of
compiling saved). Every batch's run (``world.run_lanes``) leaves a *mark* for each part it ran compiled, so the
next run finds those parts cached and compiles nothing. Measured on the headline's first run, two alternating
pairs, 2026-12-06: 22.7 s (CPU 44.7 s) → 15.6–15.9 s (CPU 29.7–30.1 s), the same bytes.

A mark is an empty file in numba's cache folder of the kernels, named for the part and for a key: the size and
modification time of the part's source file (numba's own test of a cached kernel's freshness), numba's version
and Python's. Where that folder cannot be written no part counts as cold (each worker compiles what it needs,
as before this module), so a read-only install is never stuck sharing. A mark that outlives numba's cache (the
cache files deleted by hand) only costs the next run the old way of compiling; a cache filled before marks
existed is taken for cold once (that run shares needlessly: 6.8 s instead of 4.7 on the headline). Parts a run
does not use never get a mark and are shared out at no cost: a worker without fabs compiles no fab kernels.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

#: model parts whose kernels a worker compiles together → (compile seconds in a cold cache on the standard
#: machine, the headline at one replication in one process, 2026-12-06 (numba 0.62); module holding its loops)
PARTS: dict[str, tuple[float, str]] = {
    "markets": (8.9, "simulator.engine.kernels"),      # market sections, holder day, trade rules, projects
    "fabs": (5.9, "simulator.engine.kernels"),         # fleet draws, parts day, accounts, arrivals, hazards
    "fold": (2.0, "simulator.report.day_fold"),        # the report's fold of a batch's days
    "economy": (1.5, "simulator.engine.kernels"),      # ARIO serve and restock, capacity, records
    "industries": (0.6, "simulator.engine.kernels"),   # industries' day
}


def shares(cold: list[str], slots: int) -> list[set[str]]:
    """The cold parts each of ``slots`` workers compiles: each part to exactly one worker, the heaviest part
    first, to the worker with the least compile time so far (the lowest slot on a tie)."""
    if slots < 1:
        raise ValueError(f"slots (={slots}) must be at least 1")
    load = [0.0] * slots
    out: list[set[str]] = [set() for _ in range(slots)]
    for part in sorted(cold, key=lambda p: (-PARTS[p][0], p)):
        k = min(range(slots), key=lambda i: (load[i], i))
        out[k].add(part)
        load[k] += PARTS[part][0]
    return out


def source_of(part: str) -> Path | None:
    """The file holding ``part``'s compiled loops (found without importing it), or None."""
    try:
        spec = importlib.util.find_spec(PARTS[part][1])
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def mark_key(source: Path, numba_version: str) -> str:
    """The key of a part's mark: its source file's size and modification time, numba's and Python's versions."""
    st = source.stat()
    text = f"{st.st_size}:{st.st_mtime_ns}:{numba_version}:{sys.version_info[0]}.{sys.version_info[1]}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Marks:
    """The marks of cached parts in ``folder`` (numba's cache folder of the kernels)."""

    def __init__(self, folder: Path, numba_version: str):
        self.folder = Path(folder)
        self.numba_version = numba_version

    def writable(self) -> bool:
        return os.access(self.folder, os.W_OK)

    def path(self, part: str) -> Path | None:
        source = source_of(part)
        if source is None:
            return None
        try:
            return self.folder / f"simulator-compiled-{part}-{mark_key(source, self.numba_version)}"
        except OSError:
            return None

    def cached(self, part: str) -> bool:
        """Whether ``part``'s kernels are marked as cached (a part whose source cannot be found counts as
        cached: nothing to share)."""
        p = self.path(part)
        return p is None or p.exists()

    def mark(self, part: str) -> None:
        """Leave ``part``'s mark, removing its marks for other versions (silently not, where the folder cannot
        be written)."""
        p = self.path(part)
        if p is None or p.exists():
            return
        try:
            for old in self.folder.glob(f"simulator-compiled-{part}-*"):
                old.unlink()
            p.touch()
        except OSError:
            pass


class Share:
    """This process's share of a first compile: it is worker ``slot`` of ``slots`` started together. Which
    parts it leaves to the others is worked out at the first question, from the marks as they are then (the
    workers start together and leave marks only after their batch, so they all see the same cold parts)."""

    def __init__(self, slot: int, slots: int):
        if not 0 <= slot < slots:
            raise ValueError(f"slot (={slot}) must be in 0 .. {slots - 1}")
        self.slot, self.slots = slot, slots
        self._left: frozenset[str] | None = None

    def leaves(self, part: str, marks: Marks | None) -> bool:
        """Whether this worker runs ``part`` on its numpy twins, leaving its compile to another worker."""
        if self._left is None:
            self._left = self._work_out(marks)
        return part in self._left

    def _work_out(self, marks: Marks | None) -> frozenset[str]:
        if marks is None or self.slots < 2 or not marks.writable():
            return frozenset()
        cold = [p for p in PARTS if not marks.cached(p)]
        mine = shares(cold, self.slots)[self.slot]
        return frozenset(p for p in cold if p not in mine)
