"""Drawing a result's charts in forked processes while the parent writes the tables.

The parent loads matplotlib and decides the figures (:func:`.plots.plan`) once, then forks ``PLOT_PROCESSES``
chart processes that share both. The figures sit in a :class:`ChartQueue`, slowest first: each process takes
the next one when it is free, and the parent joins in once its tables are written, so all of them finish
close together whatever the figures cost. A figure is marked done only once both its files are written; any
figure a failed process left undone is drawn again by the parent.

Every figure is drawn the same way whichever process draws it, so the files do not depend on the schedule.
"""
from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..api import Result
    from .plots import Chart

#: chart processes drawing in parallel with the parent, at most the usable cores
PLOT_PROCESSES = 2


class ChartQueue:
    """Figure numbers ``0 .. n-1`` handed out once each, across forked processes (shared memory)."""

    def __init__(self, n: int, ctx):
        self.n = n
        self._next = ctx.Value("i", 0)
        self._done = ctx.Array("b", n)

    def take(self) -> int | None:
        """The next figure to draw, or ``None`` when every figure has been handed out."""
        with self._next.get_lock():
            i = self._next.value
            if i >= self.n:
                return None
            self._next.value = i + 1
        return i

    def finish(self, i: int) -> None:
        """Figure ``i`` is written (both files)."""
        self._done[i] = 1

    def undone(self) -> list[int]:
        """Figures handed out but not finished (their process failed), and those never handed out."""
        return [i for i in range(self.n) if not self._done[i]]


class Painters:
    """The chart processes of one result folder (empty where fork is unavailable: the parent draws alone)."""

    def __init__(self, res: "Result", folder: Path, charts: "list[Chart]", queue: ChartQueue | None):
        self.res, self.folder, self.charts, self.queue = res, folder, charts, queue
        self.procs: list = []

    def finish(self) -> None:
        """Draw figures alongside the chart processes until none is left, wait for them, and draw again any
        figure a failed process left undone."""
        from . import plots
        if self.queue is None:
            plots.write_plots(self.res, self.folder, charts=self.charts)
            return
        plots.write_plots(self.res, self.folder, charts=self.charts, queue=self.queue)
        failed = []
        for proc in self.procs:
            proc.join()
            if proc.exitcode != 0:
                failed.append(proc.exitcode)
        undone = self.queue.undone()
        if not undone:
            return
        print(f"simulate: warning: chart process failed (exit {failed[0] if failed else '?'}); drawing inline",
              file=sys.stderr)
        self.queue = None
        plots.write_plots(self.res, self.folder, charts=[self.charts[i] for i in undone])

    def stop(self) -> None:
        """Interrupted: stop the chart processes (before the folder is removed)."""
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()


def _chart_process(res: "Result", folder: Path, charts: "list[Chart]", queue: ChartQueue, parent: int) -> None:
    """A forked chart process: Ctrl-C is the parent's to handle (it stops this process with SIGTERM, which
    ends it without a word, and cleans up), and it dies with its parent, so a killed run leaves no orphan
    writing into its temporary folder."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # the parent's terminate(): end now, no traceback
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    # Everything inherited from the parent (libraries, the run's results) lives as long as this process: frozen,
    # its collections walk only the figures it makes. Measured on the headline, 2026-12-06: the two chart
    # processes' first full collections walked the parent's heap, 0.07 and 0.15 CPU-s (and copied its pages).
    gc.freeze()
    # the parent blocked both around the fork; SIGTERM left blocked, its terminate() waited for this process to
    # draw every figure left in the queue (a Ctrl-C while the headline's charts were drawn: 0.45–0.6 s, measured)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    from . import plots
    plots.write_plots(res, folder, charts=charts, queue=queue)


def start(res: "Result", folder: Path, painters_out: list) -> Painters:
    """Plan the figures and start the chart processes; the :class:`Painters` is appended to ``painters_out``
    before any process starts, and each process is registered before a Ctrl-C can interrupt, so the caller
    can always stop them."""
    import multiprocessing as mp
    from . import plots
    res.table("impacts"), res.table("events")      # built once here, shared with the children
    charts = plots.plan(res)
    if "fork" not in mp.get_all_start_methods():
        painters = Painters(res, folder, charts, None)
        painters_out.append(painters)
        return painters
    import signal
    plots.prepare()
    res.runs.prepare_plots()
    folder.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("fork")
    painters = Painters(res, folder, charts, ChartQueue(len(charts), ctx))
    painters_out.append(painters)
    n = min(PLOT_PROCESSES, os.cpu_count() or 1, len(charts))
    for _ in range(n):
        proc = ctx.Process(target=_chart_process, args=(res, folder, charts, painters.queue, os.getpid()),
                           daemon=True)
        # A Ctrl-C or SIGTERM inside fork()'s bookkeeping would be swallowed: hold them until after.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            proc.start()
            painters.procs.append(proc)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return painters
