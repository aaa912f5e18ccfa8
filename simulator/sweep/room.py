"""Room on the ``--out`` disk for a sweep's runs still to store: the bytes a stored run takes, learnt from the
runs stored so far, times the runs left, against the free space there.

A run's file (``runs/<id>.json``: its headline metrics and its whole summary table) takes about the same bytes for
every run of a sweep: ~160 KB for a one-year run of the headline scenario (measured 2026-12-07), so 10,000 runs
need ~1.6 GB. A sweep on a disk too small used to run every run and fail each one it could not store (``OSError:
[Errno 28] No space left on device``), their CPU lost. Now it stops handing out runs as soon as the runs left no
longer fit: the runs in flight end and are stored, the tables are written, and the command says how much room the
rest needs (exit 2); ``--resume`` goes on from there. A resumed sweep knows the size from its stored runs before
it starts anything; a new one learns it from its first task.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..report.writer import free_bytes, size_text

#: the tables written at the end (``runs.csv``, ``outcomes.csv``, ``summary.csv``...), as a share of the bytes of
#: all the design's run files: 3% for the headline (4.8 KB of ``runs.csv`` and ``outcomes.csv`` rows against a
#: 160 KB run file, 2026-12-07), counted as 5%
TABLES_SHARE = 0.05
#: stored runs whose files are measured when a resumed sweep starts (a sample: their sizes hardly differ)
SAMPLE_RUNS = 64


class Room:
    """What the sweep in ``out`` still needs on its disk, for ``runs`` runs in all."""

    def __init__(self, out: Path, runs: int):
        self.out, self.runs = Path(out), runs
        self._files = self._bytes = 0

    def learn(self, files: Iterable[Path]) -> None:
        """Count the sizes of these stored run files (of succeeded runs: a failed run's file holds no
        summary table); files that are gone are skipped."""
        for f in files:
            try:
                size = os.stat(f).st_size
            except OSError:
                continue
            self._files += 1
            self._bytes += size

    @property
    def per_run(self) -> float | None:
        """Bytes a stored run takes (the mean of those learnt), None before any."""
        return self._bytes / self._files if self._files else None

    def need(self, left: int) -> float:
        """Bytes for ``left`` more run files and the tables (0 before any run is known)."""
        per_run = self.per_run or 0.0
        return left * per_run + self.runs * per_run * TABLES_SHARE

    def fits(self, left: int) -> bool:
        """Whether ``left`` more runs fit; also where nothing is known yet (no run stored, free space
        unreadable)."""
        free = free_bytes(self.out)
        return self.per_run is None or left <= 0 or free is None or free >= self.need(left)

    def shortfall(self, left: int) -> str:
        """The message for ``left`` runs that do not fit: the room they need, the room free, what to do."""
        free = free_bytes(self.out) or 0
        return (f"--out {self.out}: the {left:,} run(s) still to do need about {size_text(self.need(left))} "
                f"there (~{size_text(self.per_run or 0)} a run file) and only {size_text(free)} is free; free "
                f"some space, then run the same command with --resume")
