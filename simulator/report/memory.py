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


def release_arrow_pool() -> None:
    """Give the memory Arrow's allocator keeps for reuse back to the system (after writing a partition)."""
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
