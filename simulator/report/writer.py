"""Writing a result folder atomically: everything goes into a temporary sibling, which is renamed into place.

A previous result folder stays untouched until the new one is complete; a run killed mid-write leaves at most
a ``.<name>.tmp-*`` sibling, never a half-written result in place. An existing target that is not a results
folder (no ``manifest.json``) is never replaced.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import pandas as pd

FLOAT_FORMAT = "%.10g"   # fixed formatting: same numbers → same bytes on every machine


class OutputError(Exception):
    """An output location that cannot or must not be written."""


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Plain CSV: header row, no index, ``.`` decimal, ISO dates (already text), LF line ends."""
    df.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n", encoding="utf-8")


def check_target(target: Path) -> None:
    """Refuse targets that are files, or folders that hold something other than a previous result."""
    if target.exists() or target.is_symlink():
        if target.is_symlink() or not target.is_dir():
            raise OutputError(f"{target}: exists and is not a folder; choose another --out")
        if any(target.iterdir()) and not (target / "manifest.json").is_file():
            raise OutputError(f"{target}: folder exists and is not a results folder (no manifest.json); "
                              f"refusing to replace it, choose another --out")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{parent}: is not a folder")


def recover(target: Path) -> None:
    """Restore a previous result left as ``.<name>.old-*`` by a run killed between its two renames."""
    if target.exists():
        return
    olds = sorted(target.parent.glob(f".{target.name}.old-*")) if target.parent.is_dir() else []
    if olds:
        os.replace(olds[-1], target)


def write_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create a temp sibling of ``target``, let ``fill`` write into it, then swap it into place."""
    target = Path(target)
    check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{target.parent}: cannot create folder: {exc.strerror or exc}") from None
    recover(target)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        fill(tmp)
        _fsync_dir(tmp)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except PermissionError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return target


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
