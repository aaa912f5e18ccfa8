"""Which existing folders a run may replace, and with which settings (no silent loss of results).

A result folder of this tool holds a ``manifest.json`` signed ``"tool": TOOL`` with a ``kind`` (``run`` or
``sweep``) and the list of ``files`` the tool wrote. ``--out DIR`` replaces ``DIR`` only when:

1. it is a *run* result folder of this tool (a signed manifest of kind ``run``, or a v0.1 run manifest) — never
   a sweep store, never a folder with a made-up ``manifest.json``;
2. it holds nothing the tool did not write (a note or a thesis saved inside a result folder is never deleted);
3. (command line) it was made from the same scenario text and settings (same input hash), unless ``--force``.
   A re-run with the same inputs replaces its own result without asking; different inputs are refused with
   exit 2 and a suggestion (``--force``, or another ``--out``). We chose refusal over writing to a new folder
   with a generated name: the analyst keeps control of where results go, and nothing is silently multiplied.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

TOOL = "retaliation-scenario-simulator"
MANIFEST = "manifest.json"
# What a v0.1 run folder holds (folders written before manifests listed their files).
V01_FILES = {"summary.csv", "timeseries.csv", "timeseries_wide.csv", "events.csv", "metrics_by_replication.csv",
             "scenario.resolved.yaml", MANIFEST, "plots"}


class OutputError(Exception):
    """An output location that cannot or must not be written."""


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest as a dict, or None (missing, not a regular file, unreadable, not a JSON object)."""
    path = Path(folder) / MANIFEST
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 10_000_000:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def kind_of(folder: Path) -> str | None:
    """``run``, ``sweep`` or None (not a result folder of this tool)."""
    folder = Path(folder)
    if (folder / "runs").exists():
        return "sweep"
    m = read_manifest(folder)
    if m is None:
        return None
    if m.get("tool") == TOOL:
        return m.get("kind") if m.get("kind") in ("run", "sweep") else None
    if "simulator_version" in m and "input_sha256" in m:      # v0.1 manifests carry no signature
        return "sweep" if "points" in m or "runs" in m else "run"
    return None


def foreign_files(folder: Path) -> list[str]:
    """Entries of ``folder`` that its manifest does not list (so this tool did not write them)."""
    m = read_manifest(folder) or {}
    listed = set(m.get("files") or []) if m.get("tool") == TOOL else set(V01_FILES)
    listed |= V01_FILES
    out = []
    for p in Path(folder).iterdir():
        name = p.name
        if name in listed or (m.get("tool") != TOOL and name.endswith(".xlsx")):
            continue
        out.append(name)
    return sorted(out)


def check_target(target: Path) -> None:
    """Refuse targets that are files, sweep stores, or folders that are not (only) a previous run result."""
    target = Path(target)
    try:   # one stat: another writer may swap the folder between two separate looks (checked again under lock)
        st = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):     # absent, or under a file (refused below)
        st = None
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{target}: exists and is not a folder; choose another --out")
        try:
            empty = not any(target.iterdir())
        except FileNotFoundError:       # swapped away by another writer meanwhile: as if absent
            empty = True
        except OSError as exc:
            raise OutputError(f"{target}: cannot read the folder: {exc.strerror or exc}") from None
        if not empty:
            kind = kind_of(target)
            if kind == "sweep":
                raise OutputError(f"{target}: holds a sweep (run store and tables); a single run never replaces "
                                  f"it, choose another --out")
            if kind != "run":
                raise OutputError(f"{target}: folder exists and is not a results folder of this tool (no signed "
                                  f"manifest.json); refusing to replace it, choose another --out")
            extra = foreign_files(target)
            if extra:
                shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
                raise OutputError(f"{target}: holds files this tool did not write ({shown}); refusing to "
                                  f"replace it, move them or choose another --out")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{parent}: is not a folder")


def check_same_inputs(target: Path, input_hash: str, force: bool = False) -> str:
    """Refuse (OutputError) to replace a run made from other inputs unless ``force``. Returns what will
    happen, as a short phrase for the terminal: ``new folder``, ``replacing the previous run of the same
    inputs``, or ``replacing a run of different inputs (--force)``."""
    target = Path(target)
    check_target(target)
    if not target.is_dir() or not any(target.iterdir()):
        return "new folder"
    m = read_manifest(target) or {}
    old = m.get("input_sha256")
    if old == input_hash:
        return "replacing the previous run of the same scenario and settings"
    if force:
        return "replacing a run of a different scenario or settings (--force)"
    what = f"scenario {m.get('scenario')!r}" if m.get("scenario") else "another scenario"
    sets = m.get("sets") or []
    if sets:
        what += " with " + " ".join(f"--set {s}" for s in sets[:4]) + (" ..." if len(sets) > 4 else "")
    raise OutputError(f"{target}: holds a run of {what} (different scenario or settings); add --force to "
                      f"replace it, or choose another --out")


def stamp(folder: Path, kind: str) -> None:
    """Sign ``folder/manifest.json`` (created if missing) with the tool, the kind and the files written."""
    folder = Path(folder)
    m = read_manifest(folder) or {}
    m["tool"] = TOOL
    m["kind"] = kind
    m["files"] = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST) + [MANIFEST]
    (folder / MANIFEST).write_text(json.dumps(m, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
