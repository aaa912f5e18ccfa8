"""Checks made before a run starts: ``--jobs``, the memory estimate against the limit, the output folder.

Above the runner and the report layer (it asks both), below the CLI; ``safety`` holds the pieces it uses that
depend on nothing of ours (jobs, the estimate, the limit), so the runner can use ``safety`` without a circle.
"""
from __future__ import annotations

from pathlib import Path

from .report.folder_guard import OutputError, check_same_inputs
from .report.writer import check_writable, free_bytes, size_text
from .runner import NUMPY_FOLD_WINDOW, batch_replications, spin_up_days
from .safety import check_jobs, check_size, estimate, max_memory_bytes


class PreflightError(Exception):
    """A run refused before it starts (bad --jobs, too big, output folder unusable): one line, exit 2."""


def preflight(loaded, out, jobs: int | None, force: bool = False, max_memory_gb: float | None = None,
              xlsx: bool = False) -> tuple[int, list[str]]:
    """Everything checked before simulating: ``--jobs``, the size estimate against the memory limit, the
    output folder (replaceable, same inputs unless ``force``, writable, enough free space). Returns the jobs
    to use and notes to print (what will happen to the output folder). Raises PreflightError."""
    notes: list[str] = []
    try:
        jobs, note = check_jobs(jobs)
    except ValueError as exc:
        raise PreflightError(str(exc)) from None
    if note:
        notes.append(note)
    if max_memory_gb is not None and not (max_memory_gb > 0):
        raise PreflightError(f"--max-memory: expected a number of GB > 0, got {max_memory_gb}")
    sc = loaded.scenario
    series, days, every = max(1, getattr(loaded, "series", 0)), sc.days + spin_up_days(sc), \
        sc.output.replications == "all"
    est = estimate(series, days, sc.replications, sc.output.frequency, every, xlsx or sc.output.xlsx, jobs,
                   batch_replications(series, days, every), NUMPY_FOLD_WINDOW)   # the larger ring: a bound
    try:
        check_size(est, max_memory_bytes(max_memory_gb))
    except ValueError as exc:
        raise PreflightError(str(exc)) from None
    out = Path(out)
    try:
        what = check_same_inputs(out, loaded.input_hash, force)
        check_writable(out, need_bytes=est.output)
    except OutputError as exc:
        raise PreflightError(f"--out {exc}") from None
    check_temporary_space(est.spool)
    if what != "new folder":
        notes.append(f"simulate: {out}: {what}")
    return jobs, notes


def check_temporary_space(need_bytes: int) -> None:
    """The temporary folder has room for what the run keeps there (``report.spool``; ``need_bytes``, a lower
    bound: a run that fills it anyway ends with the same kind of line). Raises PreflightError."""
    import tempfile
    folder = tempfile.gettempdir()
    free = free_bytes(folder)
    if free is not None and free < need_bytes:
        raise PreflightError(f"{folder}: only {size_text(free)} free in the temporary folder, where this run keeps "
                             f"about {size_text(need_bytes)} of per-replication numbers while it runs; free some "
                             f"space there, or set TMPDIR to a folder with more room")
