"""How a process's freed memory is handled: given back (a long run's memory stays flat) or kept for reuse (a
one-shot run is faster, :func:`keep_freed_memory`).

glibc's ``malloc`` serves allocations above a threshold with ``mmap`` (returned to the system on ``free``) and
smaller ones from its heap; after a large block is freed it raises that threshold (up to 32 MB), so a worker
that simulates batch after batch keeps the arrays of earlier batches' recorders as fragmented heap. Fixing the
threshold at 1 MB turns that off: a process's memory then follows what it holds (measured: 40 replications of a
year in one process, 900 MB → 757 MB peak). Set in the parent before workers are forked, so they inherit it,
and only for ``output.replications: all`` (mapping and unmapping every array of 1 MB or more costs the engine
about 5%; an 8 MB threshold costs less but does not help).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 20     #: arrays of 1 MB and more are mapped, and unmapped when freed
DEFAULT_TOP_PAD_BYTES = 128 << 10  #: glibc's own heap growth step
KEEP_MMAP_BYTES = 32 << 20         #: one-shot command: arrays below 32 MB (glibc's largest threshold) on the heap,
KEEP_TRIM_BYTES = 1 << 30          #: its free top kept up to 1 GB,
KEEP_TOP_PAD_BYTES = 16 << 20      #: and grown 16 MB at a time


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD_BYTES`` (and trim the heap above it); True when done,
    False where there is no glibc (the call is then a no-op)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_BYTES)
        libc.mallopt(M_TOP_PAD, DEFAULT_TOP_PAD_BYTES)      # undo keep_freed_memory's, if it ran
        return ok
    except (OSError, AttributeError):
        return False


def keep_freed_memory() -> bool:
    """Reuse freed memory instead of handing it back (for a one-shot ``simulate`` run, whose processes end with
    it): arrays below ``KEEP_MMAP_BYTES`` come from the heap, whose free top is kept up to ``KEEP_TRIM_BYTES``.
    glibc otherwise maps some of the day's temporary arrays afresh or trims the heap and grows it again, and
    every page then comes back through the kernel (measured: 40 lanes of the headline in one process, three
    paired runs, system time 8–18 → 3–6 µs per lane-day; the headline's workers 0.35–0.53 → 0.32–0.37 s of
    system time, and the slower one's tail ~0.2 s shorter; the same peak memory). Not in a notebook's process,
    whose memory should shrink after a run, nor with ``output.replications: all`` (:func:`return_freed_memory`
    is set after it). True when done, False where there is no glibc (a no-op)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(M_MMAP_THRESHOLD, KEEP_MMAP_BYTES) == 1
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_TRIM_BYTES)
        libc.mallopt(M_TOP_PAD, KEEP_TOP_PAD_BYTES)
        return ok
    except (OSError, AttributeError):
        return False


def small_pages() -> bool:
    """Stop numpy from asking the kernel for transparent huge pages (2 MB) for its arrays of 4 MB and more
    (numpy's default where the kernel's THP mode is ``madvise``, as on the standard machine). Every array is
    touched whole within days of its allocation, so huge pages save no faults worth their cost here: the
    standard machine is a VM that hands freed memory back to its host, and a huge page taken afresh is zeroed
    at ~5 ms per MB against ~0.4 ms per MB in 4 KB pages (measured: 200 MB touched page by page, 1.07 s against
    0.08 s). Measured 2026-12-06, alternating runs: the headline's system time 1.2–1.6 → 0.8 s, wall 5.36–5.71
    → 5.07–5.47 s; the engine at 20 lanes 92.5–95.0 → 84.3–85.2 µs a lane-day; a 200-run one-year sweep,
    system time 1.0–1.6 → 0.7–0.8 s. Set in ``simulate``'s process before it forks its workers and chart
    processes, which inherit it; not in a notebook's process (numpy's setting is the user's there). Numbers do
    not depend on it. True when done, False where numpy has no such switch (a no-op)."""
    setter = _hugepage_setter()
    if setter is None:  # pragma: no cover - depends on the numpy version
        return False
    setter(False)
    return True


@contextmanager
def small_pages_meanwhile() -> Iterator[None]:
    """:func:`small_pages` for the arrays made inside the block, then numpy's setting as it was: for a run in a
    notebook's process, where the setting is the user's. The run's arrays keep their 4 KB pages afterwards.
    Measured 2026-12-07, the headline through ``simulator.run`` (every replication's daily series kept, ~1 GB,
    one process): 6.4–7.0 → 4.7–5.3 s, system time 2.5 → 0.9 s; the same bytes."""
    setter = _hugepage_setter()
    before = setter(False) if setter is not None else None
    try:
        yield
    finally:
        if setter is not None:
            setter(before)


def _hugepage_setter() -> Callable[[bool], bool] | None:
    """numpy's switch for asking the kernel for huge pages (returns the setting before), if it has one."""
    try:
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    return getattr(multiarray, "_set_madvise_hugepage", None)


def release_arrow_pool() -> None:
    """Give the memory Arrow's allocator keeps for reuse back to the system (after writing a partition)."""
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
