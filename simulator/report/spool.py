"""A run's per-replication bulk numbers kept on disk instead of in memory or in pipes between processes.

A spool is a temporary folder. For replication ``i`` the reducer (in the worker that ran it) writes
``r{i}.buckets.{w}.npy`` (series × periods: period means at ``output.frequency``) and ``r{i}.plot.{w}.npy``
(plotted series × days: the daily values the charts draw) of the scenario (``w`` = 0) and its baseline (1), and, for
``output.replications: all``, ``timeseries/replication={i}/part-0.parquet`` (see :mod:`.parquet`). The parent
reads them back one replication at a time, so its memory does not grow with the number of replications.
The folder is removed when the run's :class:`Spool` is closed or garbage-collected, or at exit; one left by a
killed run (SIGKILL: no cleanup possible) is removed by the next run that finds its process gone.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .folder_guard import OutputError
from .writer import free_bytes, os_error_text, process_alive, size_text

PREFIX = "simulate-spool-"


def array_path(folder: str | Path, replication: int, part: str, which: int) -> Path:
    """File of one array (``buckets`` or ``plot``) of one replication, scenario (0) or baseline (1)."""
    return Path(folder) / f"r{replication}.{part}.{which}.npy"


def save_arrays(folder: str | Path, replication: int, part: str, arrays: Sequence[np.ndarray]) -> None:
    """Write one array per run (scenario, baseline) of one replication, each straight to its name (a failed
    run discards the whole spool), without stacking them first (no extra copy in memory)."""
    with writing(folder):
        for w, arr in enumerate(arrays):
            with open(array_path(folder, replication, part, w), "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)


@contextmanager
def writing(folder: str | Path) -> Iterator[None]:
    """Writes into the spool ``folder``: one that fails (the temporary folder full, most likely) ends the run
    with an :class:`OutputError` that says where and what to do (exit 2 at the command line, nothing written),
    instead of an internal error (numpy's short write says only "440228 requested and 34800 written")."""
    try:
        yield
    except OSError as exc:
        raise full(folder, exc) from None


def full(folder: str | Path, exc: OSError) -> OutputError:
    """The error of a failed write into the spool ``folder``: the temporary folder, why (the OS's reason, or the
    space left there), and the way out."""
    base = Path(folder).parent
    free = free_bytes(base)
    why = os_error_text(exc) if getattr(exc, "errno", None) else \
        (f"{size_text(free)} free there" if free is not None else "its free space unknown")
    return OutputError(f"{base}: cannot keep the run's per-replication numbers in this temporary folder ({why}); "
                       f"free some space there, or set TMPDIR to a folder with more room")


def load_array(folder: str | Path, replication: int, part: str,
               out: np.ndarray | None = None) -> np.ndarray:
    """The arrays of one replication back, stacked: (2, ...) scenario and baseline, into ``out`` when given.
    Each file is mapped and copied once into place (reading it into an array of its own and stacking the two
    copied every byte twice)."""
    runs = [np.load(array_path(folder, replication, part, w), mmap_mode="r", allow_pickle=False) for w in (0, 1)]
    if out is None:
        out = np.empty((2,) + runs[0].shape, dtype=runs[0].dtype)
    for w, arr in enumerate(runs):
        out[w] = arr
    return out


def remove_stale(parent: str | Path | None = None) -> list[Path]:
    """Remove spools (``simulate-spool-PID-*``) in ``parent`` (default: the temporary folder) whose process
    is gone; returns them."""
    gone = []
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    try:
        entries = list(base.glob(PREFIX + "*"))
    except OSError:
        return gone
    for p in entries:
        pid = p.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p)
    return gone


class Spool:
    """A temporary folder holding one run's bulk numbers; removed on :meth:`close`, collection or exit."""

    def __init__(self, parent: str | Path | None = None):
        remove_stale(parent)
        self.path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def close(self) -> None:
        """Remove the folder now."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"
