"""Progress on stderr for replications and sweep runs: completed/total, failures, elapsed time and ETA.

It counts work as it *completes* (not as it is submitted), so it reads the same on local processes and on a
Dask cluster. The ETA is the remaining items times the mean time per item completed in this session.

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

    def eta(self) -> float:
        new = self.done - self._start_done
        return (self.total - self.done) * self.elapsed / new if new else float("nan")

    def text(self) -> str:
        fails = f", {self.failed} failed" if self.failed or self.unit == "runs" else ""
        head = f"{self.label}: " if self.label else ""
        eta = eta_text(self.eta()) if self.done < self.total else "0:00"
        return f"{head}{self.done}/{self.total} {self.unit}{fails}, ETA {eta} ({eta_text(self.elapsed)} elapsed)"

    def bar(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        fill = int(round(frac * WIDTH))
        return f"[{'#' * fill}{'.' * (WIDTH - fill)}] " + self.text()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self._min:
            return
        self._last = now
        if self.mode == "bar":
            self.stream.write("\r" + self.bar() + "\x1b[K")
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()

    def update(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        self._draw(force=self.done == self.total and self.mode == "bar")

    def close(self) -> None:
        if not self.enabled or self._closed:
            return
        self._closed = True
        if self.mode == "bar":
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
        else:
            self._draw(force=True)
