"""A one-line progress bar on stderr: completed/total, failures, rate and ETA.

It counts runs as they *complete* (not as they are submitted), so it reads the same on local processes and on a
Dask cluster. The ETA is the remaining runs times the mean time per run completed in this session. When stderr
is not a terminal (a log file, CI, a pipe) it stays quiet.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 28


def eta_text(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``update(failed=...)`` once per completed run; ``close()`` ends the line."""

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None, enabled: bool | None = None,
                 min_interval: float = 0.1):
        self.stream = stream or sys.stderr
        self.enabled = (self.stream.isatty() if hasattr(self.stream, "isatty") else False) \
            if enabled is None else enabled
        self.total, self.done, self.failed = total, done, 0
        self._start_done = done
        self._t0 = time.monotonic()
        self._last = 0.0
        self._min = min_interval
        self._draw(force=True)

    def text(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        fill = int(round(frac * WIDTH))
        new = self.done - self._start_done
        elapsed = time.monotonic() - self._t0
        eta = (self.total - self.done) * elapsed / new if new else float("nan")
        return (f"[{'#' * fill}{'.' * (WIDTH - fill)}] {self.done}/{self.total} runs, {self.failed} failed, "
                f"ETA {eta_text(eta)}")

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self._last >= self._min:
            self._last = now
            self.stream.write("\r" + self.text() + "\x1b[K")
            self.stream.flush()

    def update(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        self._draw(force=self.done == self.total)

    def close(self) -> None:
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
