"""Parsed YAML documents kept on disk between commands, keyed by their text.

Every ``simulate`` reads the world's YAML files (~280 KB for the default world) before anything else, on the one
core its start-up runs on: building plain values and the line and column of each of ~30,000 nodes took ~0.11 s
of the ~0.21 s ``load_scenario`` took in a fresh process (2026-12-06). A document parsed once is stored here as
two pickles: its values (~0.3 MB for the default world, read back in ~2 ms) and its positions (read only where
an error message needs one). What is stored is what the parser built from exactly that text (the key is a
SHA-256 of the text, whether it was parsed as trusted, this store's format, PyYAML's and Python's versions), so
a stored document and a fresh parse give the same values; a text that fails to parse is never stored.

Where: ``$SIMULATOR_CACHE_DIR/yaml`` if set (``off`` or empty: no store), else ``$XDG_CACHE_HOME/simulator/yaml``
or ``~/.cache/simulator/yaml``. Files are written whole under a temporary name and renamed, so processes
reading and writing at once see a complete file or none; the store keeps its :data:`KEEP` newest documents.
Anything that goes wrong (no home folder, a read-only disk, a damaged file) makes the reader parse the text as
if there were no store. The pickles are read with an unpickler that builds only plain containers, numbers,
text, dates and positions, never other objects.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

FORMAT = 1
#: texts shorter than this are parsed each time (a scenario file, ~2 KB: ~3 ms); the default world's five files
#: (8–176 KB) are stored
MIN_CHARS = 5_000
#: documents kept (the newest by write time)
KEEP = 32
ENV = "SIMULATOR_CACHE_DIR"


def folder() -> Path | None:
    """The store's folder, or None where it is turned off."""
    env = os.environ.get(ENV)
    if env is not None:
        return Path(env) / "yaml" if env.strip() and env.strip().lower() != "off" else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "simulator" / "yaml"


def _key(text: str, trusted: bool) -> str:
    h = hashlib.sha256(f"{FORMAT}|{yaml.__version__}|{sys.version_info[0]}.{sys.version_info[1]}|{trusted}|"
                       .encode())
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def load(text: str, trusted: bool, mark_type: type) -> tuple[Any, Callable[[], tuple[dict, dict]]] | None:
    """``(values, positions)`` of the stored parse of ``text`` (parsed as ``trusted`` or not: see
    ``yamlsafe.load_text``), ``positions()`` reading ``(marks, key_marks)`` when called (``mark_type``: the class
    of a position); None if it is not stored (or unreadable)."""
    where = folder()
    if where is None or len(text) < MIN_CHARS:
        return None
    key = _key(text, trusted)
    try:
        data = _read(where / f"{key}.data", mark_type)
    except Exception:          # missing, damaged or refused: whatever a crafted file raises, parse the text
        return None
    return data, lambda: _read(where / f"{key}.marks", mark_type)


def save(text: str, trusted: bool, data: Any, marks: dict, key_marks: dict) -> None:
    """Store the parse of ``text`` (nothing where the store is off, the text short, or the disk refuses)."""
    where = folder()
    if where is None or len(text) < MIN_CHARS:
        return
    key = _key(text, trusted)
    try:
        where.mkdir(parents=True, exist_ok=True)
        _write(where / f"{key}.marks", (marks, key_marks))     # a values file always has its positions
        _write(where / f"{key}.data", data)
        _prune(where)
    except (OSError, pickle.PicklingError, RecursionError):
        pass


def _write(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _prune(where: Path) -> None:
    """Keep the :data:`KEEP` newest documents."""
    datas = sorted(where.glob("*.data"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in datas[KEEP:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".marks").unlink(missing_ok=True)


def _read(path: Path, mark_type: type) -> Any:
    return _PlainUnpickler(io.BytesIO(path.read_bytes()), mark_type).load()


class _PlainUnpickler(pickle.Unpickler):
    """Builds containers, numbers, text and what ``find_class`` allows: dates and positions only."""

    def __init__(self, f: io.BytesIO, mark_type: type):
        super().__init__(f)
        self._allowed = {("datetime", "date"): _dt.date, (mark_type.__module__, mark_type.__qualname__): mark_type}

    def find_class(self, module: str, name: str) -> Any:
        got = self._allowed.get((module, name))
        if got is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a stored YAML document")
        return got
