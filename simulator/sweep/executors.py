"""Where runs execute: any ``concurrent.futures``-style executor (``submit`` → a ``Future``).

- ``local``: ``jobs`` worker processes (``ProcessPoolExecutor``); with ``jobs=1`` runs execute in this process,
  one at a time, through the same interface (:class:`InlineExecutor`).
- ``dask``: a ``dask.distributed`` cluster through ``Client.get_executor()``; ``scheduler`` is the address of a
  running scheduler (``tcp://host:8786``), else a ``LocalCluster`` of ``jobs`` single-threaded worker processes
  is started and stopped here (its workers with glibc's default memory settings, see :func:`_worker_environ`).
  Workers must see the scenario file and the sweep folder at the same paths.

Local workers die with their parent (``PR_SET_PDEATHSIG`` and a watchdog, see ``simulator.safety``) and leave
Ctrl-C and SIGTERM to it, so a killed sweep leaves no orphan processes. The results do not depend on which
executor or how many jobs: every run is seeded by itself and writes its own file.
"""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Callable, Iterator

from .. import safety


class InlineExecutor(Executor):
    """Runs each submitted call at once in the calling process; the futures are already done."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, like a pool would
            fut.set_exception(exc)
        return fut


def default_jobs() -> int:
    """Usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _worker_environ(environ: dict) -> dict:
    """The environment Dask sets in the workers it starts, less ``MALLOC_TRIM_THRESHOLD_``: that setting fixes
    glibc's thresholds (no longer adapting to the sizes freed), so the engine's day-to-day arrays of a few
    hundred KB are mapped and unmapped every time; measured on a 256-run sweep: system time 4.6 → 9.4 s, wall
    +16%. Local process workers run with glibc's defaults; so do these. Plus ``NUMPY_MADVISE_HUGEPAGE=0``: no
    huge pages for numpy's arrays, as local workers inherit from ``simulate sweep``
    (``report.memory.small_pages``; Dask's workers are started afresh, not forked, so they read numpy's
    setting from the environment); measured on a 256-run one-year sweep, 2026-12-06, two alternating runs:
    system time 1.85–2.70 → 1.13–1.16 s, wall 12.29–13.24 → 12.10–12.54 s."""
    out = {k: v for k, v in environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    out.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    return out


#: Dask settings of the local cluster's workers (a nanny hands its config to its worker): no statistical profiler
#: (by default it takes the GIL every 10 ms to walk the running task's stack, ~40 frames deep in a run) and the
#: memory monitor every second instead of every 100 ms (psutil reading /proc under the GIL)
WORKER_CONFIG = {"distributed.worker.profile.enabled": False,
                 "distributed.worker.memory.monitor-interval": "1s"}


@contextlib.contextmanager
def open_executor(kind: str = "local", jobs: int | None = None, scheduler: str | None = None
                  ) -> Iterator[tuple[Executor, int]]:
    """Yield ``(executor, slots)``; ``slots`` is how many runs can execute at once (to size the queue)."""
    jobs = jobs or default_jobs()
    if kind == "local":
        if jobs <= 1:
            yield InlineExecutor(), 1
            return
        from ..safety import stop_pool, worker_init
        ex = ProcessPoolExecutor(max_workers=jobs, initializer=worker_init, initargs=(os.getpid(),))
        try:
            yield ex, jobs
        except BaseException:   # interrupted: stop the workers now instead of waiting for their runs
            stop_pool(ex)
            raise
        ex.shutdown()
        return
    if kind != "dask":
        raise ValueError(f"executor(={kind!r}) must be 'local' or 'dask'")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("--executor dask needs dask.distributed: pip install 'dask[distributed]'") from None
    # Ctrl-C waits while the local cluster starts and while the client and cluster close (~1 s each): cut, their
    # close was left to Python's exit, which printed Dask's traceback (a cluster cut while it started) or waited
    # 10 s for the cluster (Ctrl-C as a sweep's last runs ended), both measured
    with contextlib.ExitStack() as held, contextlib.ExitStack() as stack:   # (``held`` closes last)
        ex = None
        try:
            if scheduler:       # (not held: an unreachable scheduler takes its 20 s to refuse)
                client = stack.enter_context(Client(scheduler, timeout="20s"))
            else:
                import dask
                with safety.uncut(), dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ(
                        dask.config.get("distributed.nanny.pre-spawn-environ", {})), **WORKER_CONFIG}):
                    cluster = stack.enter_context(LocalCluster(n_workers=jobs, threads_per_worker=1,
                                                               processes=True, dashboard_address=None))
                    client = stack.enter_context(Client(cluster))
            threads = sum(client.nthreads().values()) or jobs
            ex = client.get_executor(pure=False)
            yield ex, threads
        finally:
            held.enter_context(safety.uncut())      # from here until the client and cluster are closed
            if ex is not None:
                ex.shutdown(wait=True)
