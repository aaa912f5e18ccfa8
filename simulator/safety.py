"""Process safety of a run: SIGTERM handled like Ctrl-C, worker processes that die with their parent, sane
``--jobs``, and an estimate of memory and output size checked against a limit before anything is simulated.

- ``timeout``, job schedulers and ``kill`` send SIGTERM: :func:`handle_sigterm` turns it into the same
  ``KeyboardInterrupt`` as Ctrl-C, so pools are shut down, temporary folders removed, earlier results kept. An
  interrupt that lands in a callback (where Python would drop it) is raised again; one that lands in a numba
  compile waits until the compile ends.
- A worker process calls :func:`die_with_parent` first: ``PR_SET_PDEATHSIG`` (Linux) sends it SIGKILL when the
  parent dies, and a watchdog thread (any POSIX) exits it when its parent PID changes (re-parented to PID 1),
  so a ``kill -9`` of the parent never leaves workers blocked for ever holding the caller's stdout open.
- :func:`estimate` sizes a run in bytes (recorded arrays in memory, the tidy time series table, the CSVs) from
  the number of recorded series, days (spin-up included), replications and output options.
"""
from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

DEFAULT_MAX_MEMORY_GB = 4.0
ENV_MAX_MEMORY = "SIMULATE_MAX_MEMORY_GB"
WATCHDOG_PERIOD_S = 0.5
CSV_BYTES_PER_TIDY_ROW = 75   # one line of timeseries.csv, measured 60-80


#: how long after an interrupt was swallowed (raised inside a finaliser or callback) it is raised again, in s
REARM_S = 0.002

_held = 0            # depth of sections that must not be interrupted (numba compiling: see hold_interrupts)
_pending = False     # an interrupt arrived while held
_raised = 0          # interrupts raised in this process (see interrupted)


def _raise_interrupt(signum, frame) -> None:
    """Handler of SIGINT, SIGTERM (and the re-arming SIGALRM) in the main process: Ctrl-C's KeyboardInterrupt,
    kept for later while a section holds interrupts."""
    global _pending, _raised
    if _held:
        _pending = True
        return
    _raised += 1
    raise KeyboardInterrupt


def interrupted() -> bool:
    """Whether an interrupt (Ctrl-C, SIGTERM) has been raised in this process. An error that follows one may be
    its consequence: raised inside a C extension's call back into Python, a KeyboardInterrupt can come out as
    that extension's own error (matplotlib's "Invalid bounding box" while a chart is drawn, seen once in CI)."""
    return _raised > 0


def raise_swallowed(before: int) -> None:
    """Raise KeyboardInterrupt if this process raised an interrupt since its count was ``before``
    (:func:`interrupts_raised`) and yet the code in between returned normally: the interrupt was swallowed by a
    C extension that clears Python errors (seen: numba's dispatcher typing an argument through a Python
    property, where Ctrl-C landed 1 time in ~30, and the run went on to exit 0)."""
    if _raised != before:
        raise KeyboardInterrupt


def interrupts_raised() -> int:
    """How many interrupts this process has raised so far (see :func:`raise_swallowed`)."""
    return _raised


def hold_interrupts() -> None:
    """Enter a section that an interrupt must not cut in two (a numba compile: cut inside llvmlite's callbacks
    it is swallowed, or leaves the compiler's state broken for the rest of the process). Sections nest; an
    interrupt arriving meanwhile is raised when the outermost one ends (:func:`release_interrupts`)."""
    global _held
    _held += 1


def release_interrupts() -> None:
    """Leave a section entered with :func:`hold_interrupts`; raise the interrupt that arrived meanwhile (in
    the main thread, where Ctrl-C belongs)."""
    global _held, _pending, _raised
    _held = max(0, _held - 1)
    if not _held and _pending:
        _pending = False
        if threading.current_thread() is threading.main_thread():
            _raised += 1
            raise KeyboardInterrupt
        _thread.interrupt_main(signal.SIGINT)    # a compile in another thread: the interrupt is the main one's


@contextmanager
def uncut() -> Iterator[None]:
    """A stretch that an interrupt must not cut at any point (the engine's days, a local Dask cluster's start and
    close): Ctrl-C and SIGTERM arriving inside are held and raised at the next :func:`cut_point` (the end of a
    day) or at the end of the stretch, in a few milliseconds for a day. Cut anywhere, an interrupt can land inside
    a C extension's call back into Python, which may swallow it (numba's dispatcher typing an argument: seen 1
    time in ~30 in ``tests/test_crash_safety.py``) and let the day go on with a call half made; the same test once
    ended with a segmentation fault instead of exit 130 in CI (2026-12-07; not reproduced in 400 tries here).
    Only the main thread, where Python runs signal handlers, holds anything."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hold_interrupts()
    try:
        yield
    finally:
        release_interrupts()


def cut_point(before: int) -> None:
    """A point where an :func:`uncut` stretch may stop: raise the interrupt held since it began, or one raised
    since the count was ``before`` (:func:`interrupts_raised`) and swallowed (:func:`raise_swallowed`)."""
    global _pending, _raised
    if _pending and threading.current_thread() is threading.main_thread():
        _pending = False
        _raised += 1
        raise KeyboardInterrupt
    raise_swallowed(before)


def _quiet_unraisable(unraisable) -> None:
    """An interrupt that lands inside a finaliser, weakref callback or ctypes callback cannot propagate: Python
    would print "Exception ignored in ..." with a traceback and carry on as if nothing happened, so the run
    would finish and exit 0. Say nothing, and raise it again :data:`REARM_S` later, out of the callback (a
    one-shot SIGALRM timer; should it land in another callback, it is re-armed again). Any other unraisable
    error keeps Python's report."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, _raise_interrupt)
            signal.setitimer(signal.ITIMER_REAL, REARM_S)
        return
    sys.__unraisablehook__(unraisable)


def handle_sigterm() -> None:
    """Make SIGTERM behave like Ctrl-C in this (main) process, keep interrupts free of tracebacks, and never
    lose one to a callback or a compile (see :func:`hold_interrupts`)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, _raise_interrupt)
        sys.unraisablehook = _quiet_unraisable


def die_with_parent(parent: int | None = None) -> None:
    """In a worker: be killed when the parent dies (PR_SET_PDEATHSIG on Linux, plus a watchdog thread)."""
    parent = os.getppid() if parent is None else parent
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:          # the parent died before the call took effect
        os._exit(1)

    def watch() -> None:
        import time
        while True:
            time.sleep(WATCHDOG_PERIOD_S)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def worker_init(parent: int | None = None) -> None:
    """Initializer of pool workers: Ctrl-C and SIGTERM are the parent's to handle; die with the parent; one
    BLAS thread (:func:`one_blas_thread`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    if blas_threads() != 1:    # not inherited already: setting it starts OpenBLAS's helper thread, which spins
        one_blas_thread()      # ~0.1 s of CPU (measured in a forked child), so only where needed


#: functions that set and get an OpenBLAS build's thread count (numpy's wheels carry scipy-openblas, 64-bit ints)
BLAS_THREAD_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                       "openblas_set_num_threads64_", "openblas_set_num_threads")
BLAS_THREAD_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                       "openblas_get_num_threads64_", "openblas_get_num_threads")


def _openblas(names: tuple[str, ...]) -> list:
    """The first of ``names`` in each OpenBLAS this process has loaded (numpy's), as ctypes functions."""
    import ctypes
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line})
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        fn = next((getattr(lib, name) for name in names if hasattr(lib, name)), None)
        if fn is not None:
            found.append(fn)
    return found


def one_blas_thread() -> bool:
    """One thread for the OpenBLAS this process has loaded (numpy's): in a pool worker the pool is the
    parallelism, as Dask sets ``OPENBLAS_NUM_THREADS=1`` for the workers it starts, and the one-shot
    ``simulate`` sets it in its own process, whose chart processes fork from it. Otherwise OpenBLAS's helper
    threads spin between small matrix products and take CPU from the other processes: measured on the
    headline, 5 alternating runs, CPU of all processes 13.1 → 12.8 s, wall 7.18 → 6.99 s. A matrix product
    gives the same numbers on any thread count (OpenBLAS splits the output, not the sums; the golden outputs
    are unchanged). True when set; False without OpenBLAS or ``/proc`` (nothing to do)."""
    setters = _openblas(BLAS_THREAD_SETTERS)
    for setter in setters:
        setter(1)
    return bool(setters)


def blas_threads() -> int | None:
    """The thread count of the OpenBLAS this process has loaded (None without one that says)."""
    getters = _openblas(BLAS_THREAD_GETTERS)
    return int(getters[0]()) if getters else None


def stop_pool(ex) -> None:
    """Stop a ``ProcessPoolExecutor`` at once: cancel what is queued and terminate the workers (an interrupted
    run does not wait for replications still running)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.terminate()
        except (OSError, AttributeError):
            pass
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.join(timeout=5)
        except (OSError, AttributeError, AssertionError):
            pass


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def check_jobs(jobs: int | None, option: str = "--jobs") -> tuple[int, str]:
    """``(jobs to use, warning or "")``; jobs < 1 raises ValueError (a usage error, exit 2); more jobs than
    usable cores are capped at the cores (more would only add memory and switching, not speed)."""
    cores = usable_cores()
    if jobs is None:
        return cores, ""
    if jobs < 1:
        raise ValueError(f"{option}: expected a whole number >= 1, got {jobs}")
    if jobs > cores:
        return cores, f"simulate: note: {option} {jobs} is more than the {cores} usable core(s); using {cores}"
    return jobs, ""


@dataclass(frozen=True)
class Estimate:
    """Size of a run before it starts, in bytes."""

    memory: int
    output: int
    series: int
    days: int
    replications: int
    #: the temporary folder while the run runs (``report.spool``): at least every replication's period means,
    #: scenario and baseline (the charted days and, for ``output.replications: all``, Parquet partitions come on
    #: top: the headline keeps 206 MB there, this says 141)
    spool: int = 0

    def text(self) -> str:
        return (f"about {self.memory / 1e9:.2f} GB of memory and {self.output / 1e9:.2f} GB of files "
                f"({self.series} series x {self.days} days x {self.replications} replication(s) x 2)")


def estimate(series: int, days: int, replications: int, frequency_days: float, all_replications: bool,
             xlsx: bool = False, jobs: int = 1, batch: int = 16, window: int = 128) -> Estimate:
    """Memory: the arrays (float64) of the batches in flight — each worker's batch of at most ``batch``
    replications, scenario and baseline, records its last ``window`` days (a ring, folded as it fills) and
    keeps every replication's period sums at ``frequency_days`` until it ends — plus the parent's means; every
    replication's series are streamed to disk, not held. Output: the tidy and wide CSVs (xlsx doubles the wide
    part)."""
    step = max(1, int(round(frequency_days)))
    periods = -(-days // step)
    n_batches = max(-(-replications // batch), min(jobs, replications))
    per_batch = -(-replications // n_batches)
    arrays = min(jobs, n_batches) * per_batch * 2 * series * (min(days, window) + periods) * 8
    means = 2 * series * periods * 8 * 3                             # mean, running sums, one replication's
    memory = arrays + means + 200_000_000                            # + the interpreter and libraries
    tidy_rows = 2 * series * periods * (replications if all_replications else 1)
    wide = 2 * series * periods * 14
    output = tidy_rows * CSV_BYTES_PER_TIDY_ROW + wide * (2 if xlsx else 1) + replications * series * 40
    spool = replications * 2 * series * periods * 8
    return Estimate(int(memory), int(output), series, days, replications, int(spool))


def max_memory_bytes(cli_gb: float | None = None) -> float:
    """The memory limit: ``--max-memory GB``, else ``$SIMULATE_MAX_MEMORY_GB``, else 4 GB."""
    if cli_gb is not None:
        return cli_gb * 1e9
    env = os.environ.get(ENV_MAX_MEMORY)
    if env:
        try:
            return float(env) * 1e9
        except ValueError:
            print(f"simulate: warning: ${ENV_MAX_MEMORY}={env!r} is not a number; using "
                  f"{DEFAULT_MAX_MEMORY_GB:g}", file=sys.stderr)
    return DEFAULT_MAX_MEMORY_GB * 1e9


def check_size(est: Estimate, limit_bytes: float) -> None:
    """Raise ValueError (exit 2) with the estimate and how to reduce it when the run is above the limit."""
    if est.memory > limit_bytes:
        raise ValueError(f"this run needs {est.text()}, above the limit of {limit_bytes / 1e9:g} GB; reduce "
                         f"replications or horizon, use output.replications: mean and a coarser "
                         f"output.frequency, or raise the limit with --max-memory GB (or ${ENV_MAX_MEMORY})")
