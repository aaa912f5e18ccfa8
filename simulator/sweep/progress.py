"""Progress on stderr for replications and sweep runs: completed/total, failures, elapsed time and ETA.

It counts work as it *completes* (not as it is submitted), so it reads the same on local processes and on a
Dask cluster. The ETA is the remaining items times the mean time per item completed in this session. Where the
work running can say how far it has got (a run's batches: :mod:`simulator.day_meter`), :meth:`Progress.running`
adds that much (``3/20 replications, 41% simulated``) and the ETA counts it, and a batch compiling the model's
loops (the first run after an install) is named, as it holds everything up for a while. Once a compile has been
seen, the ETA counts the pace from the last moment it was seen: a first run's headline spends ~9 s compiling
before its first day, and a pace taken from the start had it say ``ETA 21:15`` at 0% and ``1:15`` at 16% of a
run that ended 4 s later (seen 2026-12-07).

- On a terminal: one bar redrawn in place (``[#####.....] 12/40 replications, ETA 0:21 (0:07 elapsed)``).
- Elsewhere (a log file, CI, a notebook's captured stderr): plain lines, one when work starts, then at most one
  every ``plain_interval`` seconds (default 10), and one at the end, so a log shows that the run is alive.
- ``enabled=False`` (``--quiet``): nothing.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 28
PLAIN_INTERVAL_S = 10.0
COMPILE_NOTE_S = 2.0    #: seconds the compile note stays after a compile was last seen


def eta_text(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``; ``--:--`` while unknown."""
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """``update(failed=...)`` once per completed item; ``close()`` ends the bar (or prints the last line).

    ``mode``: ``"bar"`` (terminal), ``"lines"`` (plain periodic lines) or ``"off"``; by default ``bar`` on a
    terminal and ``lines`` elsewhere. ``enabled=False`` is ``off``; ``enabled=True`` forces the bar (as before)."""

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None, enabled: bool | None = None,
                 min_interval: float = 0.1, unit: str = "runs", label: str = "",
                 plain_interval: float = PLAIN_INTERVAL_S, mode: str | None = None):
        self.stream = stream or sys.stderr
        if mode is None:
            mode = "off" if enabled is False else "bar" if (enabled or _isatty(self.stream)) else "lines"
        self.mode = mode
        self.enabled = mode != "off"
        self.total, self.done, self.failed = total, done, 0
        self.partial = 0.0                  # items' worth of the work running
        self._ended = 0.0                   # items' worth of work ended but not counted yet (see :meth:`running`)
        self._compiled_at: float | None = None    # when a compile was last seen (see :meth:`running`)
        self._compiling_now = False
        self._partial_compiling = 0.0       # the running share then
        self._progressed_compiling = 0.0    # items' worth done then: the ETA's pace counts from there
        self.unit, self.label = unit, label
        self._start_done = done
        self._t0 = time.monotonic()
        self._last = -1e18
        self._min = min_interval if mode == "bar" else plain_interval
        self._closed = False
        self._draw(force=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def _progressed(self) -> float:
        """Items' worth done: those completed, the running ones' share done, and the share of those ended and
        not counted yet (never beyond the total)."""
        return min(float(self.total), self.done + self.partial + self._ended)

    @property
    def compiling(self) -> bool:
        """A compile is running, or ended less than :data:`COMPILE_NOTE_S` ago with no progress since (one loop's
        compile follows another: the note does not blink between them, nor stay once the work moves on)."""
        if self._compiling_now:
            return True
        return (self._compiled_at is not None and time.monotonic() - self._compiled_at < COMPILE_NOTE_S
                and self.partial <= self._partial_compiling)

    def eta(self) -> float:
        if self.compiling:          # a compile's end is not known
            return float("nan")
        if self._compiled_at is None:
            t0, done0 = self._t0, float(self._start_done)
        else:
            t0, done0 = self._compiled_at, self._progressed_compiling
        new = self._progressed() - done0
        return (self.total - self._progressed()) * (time.monotonic() - t0) / new if new > 0 else float("nan")

    def text(self) -> str:
        fails = f", {self.failed} failed" if self.failed or self.unit == "runs" else ""
        head = f"{self.label}: " if self.label else ""
        eta = eta_text(self.eta()) if self.done < self.total else "0:00"
        share = ""
        if self.partial + self._ended > 0 and self.done < self.total:
            share = f", {int(100 * self._progressed() / self.total)}% simulated"
        compiling = ("; compiling the model's loops for this machine (once after an install)"
                     if self.compiling and self.done < self.total else "")
        return (f"{head}{self.done}/{self.total} {self.unit}{fails}{share}, ETA {eta} "
                f"({eta_text(self.elapsed)} elapsed){compiling}")

    def bar(self) -> str:
        frac = self._progressed() / self.total if self.total else 1.0
        fill = int(round(frac * WIDTH))
        return f"[{'#' * fill}{'.' * (WIDTH - fill)}] " + self.text()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self._min:
            return
        self._last = now
        self._write("\r" + self.bar() + "\x1b[K" if self.mode == "bar" else self.text() + "\n")

    def _write(self, text: str) -> None:
        """Write ``text`` to the stream; a stream that cannot take it any more (stderr piped into ``head``, which
        has ended; a closed stream) ends the progress, not the run: the results are still written."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.mode, self.enabled = "off", False

    def update(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        self._ended = max(0.0, self._ended - 1.0)
        self._draw(force=self.done == self.total and self.mode == "bar")

    def running(self, partial: float, compiling: bool = False) -> None:
        """The items running have done ``partial`` items' worth (replications' worth of days, say) and one of
        them is ``compiling`` or not; redrawn as :meth:`update` redraws, and at once when the first compile is
        seen (a plain line too: it says why nothing moves for a while)."""
        first = compiling and self._compiled_at is None
        ended = partial < self.partial      # some work ended: its items are counted next (:meth:`update`), one by
        if ended:                           # one; until then its share stays on the bar, which never steps back
            self._ended += self.partial - max(0.0, partial)     # (both of the headline's batches ending within
        self.partial = max(0.0, partial)    # one look showed 11/20 at 55% after 93%, seen 2026-12-07)
        self._compiling_now = compiling
        if compiling:
            self._compiled_at, self._partial_compiling = time.monotonic(), self.partial
            self._progressed_compiling = self._progressed()
        if not ended or first:
            self._draw(force=first)

    def close(self) -> None:
        if not self.enabled or self._closed:
            return
        self._closed = True
        self._draw(force=True)
        if self.mode == "bar":
            self._write("\n")
