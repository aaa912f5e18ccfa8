"""The resumable sweep store: one JSON file per finished run, ``DIR/runs/<run id>.json``.

Each run file is written by the worker that did the run, to a temporary name in the same folder and renamed into
place, so a file either is complete or does not exist; a sweep killed at any moment loses at most the runs in
flight. ``--resume`` skips runs whose file says ``succeeded`` (failed runs are tried again). ``status.csv``
lists every run of the design as pending, succeeded or failed. Tables are written atomically the same way.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any, Iterable

from ..report.writer import FLOAT_FORMAT

RUNS = "runs"
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


def run_path(out: str | Path, run_id: str) -> Path:
    return Path(out) / RUNS / f"{run_id}.json"


def _clean(obj: Any) -> Any:
    """NaN/inf → None so run files are strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a unique temporary sibling, fsync and rename."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_run(out: str | Path, record: dict) -> None:
    """Store one run's record (written by the worker)."""
    path = run_path(out, record["run_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(_clean(record), sort_keys=True, indent=1, allow_nan=False) + "\n")


def read_run(out: str | Path, run_id: str) -> dict | None:
    """The stored record of ``run_id``, or None if the run has not finished (or its file is unreadable)."""
    try:
        return json.loads(run_path(out, run_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def status_of(out: str | Path, run_id: str) -> str:
    rec = read_run(out, run_id)
    return rec.get("status", PENDING) if rec else PENDING


def fmt(value: Any) -> str:
    """One CSV cell in the fixed format of every table: floats ``%.10g``, missing values empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return "" if math.isnan(value) else FLOAT_FORMAT % value
    if isinstance(value, int):
        return str(value)
    return str(value)


class CsvOut:
    """A CSV table streamed row by row into a temporary file, renamed into place on :meth:`close`."""

    def __init__(self, path: Path, columns: list[str]):
        self.path = Path(path)
        self.columns = columns
        self._tmp = self.path.parent / f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        self._fh = open(self._tmp, "w", encoding="utf-8", newline="")
        self._w = csv.writer(self._fh, lineterminator="\n")
        self._w.writerow(columns)

    def row(self, values: dict[str, Any]) -> None:
        self._w.writerow([fmt(values.get(c)) for c in self.columns])

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)

    def __enter__(self) -> "CsvOut":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)


def write_status(out: str | Path, rows: Iterable[tuple[str, int, int, str]]) -> None:
    """``status.csv``: run_id, point, replication, status — one row per run of the design."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run_id", "point", "replication", "status"])
    w.writerows(rows)
    write_text_atomically(Path(out) / "status.csv", buf.getvalue())
