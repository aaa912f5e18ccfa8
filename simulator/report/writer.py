"""Writing a result folder atomically: everything goes into a temporary sibling, which is renamed into place.

A previous result folder stays untouched until the new one is complete; a run killed mid-write leaves at most
a ``.<name>.tmp-*`` sibling, never a half-written result in place. An existing folder is only ever replaced
when it is a result folder *of this tool* (see :mod:`simulator.report.folder_guard`): a ``manifest.json``
with the tool's signature and kind ``run`` (or a v0.1 run manifest) and nothing in it the tool did not write.
A sweep store is never replaced.

Concurrent writers of one target (two runs started at once) each fill their own uniquely named temporary
folder and swap it in under an exclusive lock on the parent folder, so the last one to finish wins and no
``.old-*`` folder is left behind. Full, read-only or otherwise failing file systems become
:class:`OutputError` (one line, exit 2 at the command line), never a traceback.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from .folder_guard import OutputError, check_target, stamp

if TYPE_CHECKING:   # pandas only where a DataFrame is written (the notebook API, compare, the workbook): the
    import pandas as pd   # pre-run checks (preflight) and ``simulate``'s own tables do without it

FLOAT_FORMAT = "%.10g"   # fixed formatting: same numbers → same bytes on every machine

__all__ = ["FLOAT_FORMAT", "FOLDER_ERRNOS", "OutputError", "check_folder_writable", "check_target", "check_writable",
           "free_bytes", "recover", "size_text", "write_atomically", "write_csv", "write_json"]


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Plain CSV: header row, no index, ``.`` decimal, ISO dates (already text), LF line ends."""
    df.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n", encoding="utf-8")


#: errors of the folder written to (full, read-only, not allowed, not a folder...), not of the program: a message
#: naming the folder, not an internal error
FOLDER_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                           errno.EFBIG, errno.ENOTDIR, errno.EEXIST, errno.ENOTEMPTY, errno.ENAMETOOLONG})


def os_error_text(exc: OSError) -> str:
    """A short reason for an OS error (``no space left on device``, ``read-only file system``)."""
    return (exc.strerror or str(exc)).lower() if isinstance(exc, OSError) else str(exc)


def size_text(n_bytes: float) -> str:
    """A size for a message: ``64 KB``, ``3.2 MB``, ``141 MB``, ``1.2 GB`` (decimal units, two digits at least)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= scale:
            x = n_bytes / scale
            return f"{x:.1f} {unit}" if x < 10 else f"{x:.0f} {unit}"
    return f"{n_bytes:.0f} bytes"


def free_bytes(folder: Path | str) -> int | None:
    """Free space of the file system that holds ``folder``, in bytes; None where it cannot be read."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_folder_writable(folder: Path, tag: str = "") -> None:
    """``folder`` can be created (parents included) and a folder and a file written in it (a probe, removed
    again; ``tag`` names it). Raises OutputError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create folder: {os_error_text(exc)}") from None
    probe = folder / f".{tag}.probe-{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
        (probe / "probe").write_bytes(b"x" * 4096)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write results there: {os_error_text(exc)}") from None
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def check_writable(target: Path, need_bytes: int = 0) -> None:
    """Before simulating: the folder ``target`` can be created (parents included), a file can be written next
    to it, and (when ``need_bytes`` is given) the file system has that much free space. Raises OutputError."""
    target = Path(target)
    check_target(target)
    parent = target.parent
    check_folder_writable(parent, target.name)
    free = free_bytes(parent) if need_bytes else None
    if free is not None and free < need_bytes:
        raise OutputError(f"{parent}: only {size_text(free)} free, the results need about "
                          f"{size_text(need_bytes)}; free some space or choose another --out")


def _pid_of(name: str, tag: str) -> int | None:
    """PID in ``.<target>.<tag>-PID[.token]``, or None."""
    tail = name.rsplit(f".{tag}-", 1)[-1]
    pid = tail.split(".", 1)[0]
    return int(pid) if pid.isdigit() else None


def recover(target: Path) -> None:
    """Restore a previous result left as ``.<name>.old-*`` by a run killed between its two renames (only
    when no living process owns that folder: a concurrent writer's parked folder is left to it)."""
    target = Path(target)
    if target.exists():
        return
    olds = sorted(target.parent.glob(f".{target.name}.old-*")) if target.parent.is_dir() else []
    olds = [o for o in olds if not process_alive(_pid_of(o.name, "old") or 0) or _pid_of(o.name, "old") == os.getpid()]
    if olds:
        os.replace(olds[-1], target)


@contextlib.contextmanager
def _parent_lock(parent: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the parent folder itself (no lock file is left behind)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # closing releases the lock


def write_atomically(target: Path, fill: Callable[[Path], None], kind: str = "run") -> Path:
    """Create a temp sibling of ``target``, let ``fill`` write into it, sign its manifest, swap it into place."""
    target = Path(target)
    if target.parent.is_dir():
        with _parent_lock(target.parent):    # not halfway through another writer's swap
            check_target(target)
    else:
        check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{target.parent}: cannot create folder: {os_error_text(exc)}") from None
    token = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp = target.parent / f".{target.name}.tmp-{token}"
    try:
        with _parent_lock(target.parent):
            recover(target)
        tmp.mkdir()
        fill(tmp)
        stamp(tmp, kind)
        _fsync_dir(tmp)
        with _parent_lock(target.parent):
            check_target(target)          # another writer may have put something else there meanwhile
            old = None
            if target.exists():
                old = target.parent / f".{target.name}.old-{token}"
                os.replace(target, old)
            os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in FOLDER_ERRNOS or isinstance(exc, PermissionError):
            raise OutputError(f"{target}: cannot write the results: {os_error_text(exc)}; the previous result "
                              f"(if any) is untouched") from None
        raise
    except BaseException:
        remove_surely(tmp)
        raise
    _clean_stale(target)
    return target


def remove_surely(folder: Path, tries: int = 20) -> None:
    """Remove ``folder`` even while Ctrl-C or SIGTERM arrive (they wait until it is gone) and while a chart
    process that is being stopped may still drop a file into it (retried briefly)."""
    import signal
    import time
    blocked = {signal.SIGINT, signal.SIGTERM}
    masked = threading.current_thread() is threading.main_thread()
    if masked:
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        for _ in range(tries):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                break
            time.sleep(0.05)
    finally:
        if masked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)


def _clean_stale(target: Path) -> None:
    """Remove ``.<name>.tmp-PID*`` / ``.<name>.probe-PID*`` folders of processes that no longer exist."""
    for tag in ("tmp", "probe"):
        for stale in target.parent.glob(f".{target.name}.{tag}-*"):
            pid = _pid_of(stale.name, tag)
            if pid is not None and not process_alive(pid):
                shutil.rmtree(stale, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a folder it left behind may still be in use). A zombie does not: a
    killed run's worker that exited is left unreaped where the container's first process does not reap orphans
    (seen on the CI machine), and its temporary files would otherwise never be cleaned up."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):   # no /proc (not Linux), or gone meanwhile: kill(pid, 0) said it exists
        return True
    return state not in (b"Z", b"X")


def sync_soon(path: Path) -> threading.Thread:
    """Start writing ``path`` (a file just written and closed) to disk on a thread of its own, while the command
    goes on with other work: the folder's final :func:`_fsync_dir`, which makes the result durable before it is
    swapped into place, then finds it on disk already (the headline's ``timeseries.csv``, 81 MB: that final step
    0.07–0.08 → 0.02–0.03 s, measured). A failure here is left to that step, which syncs every file again."""
    def run() -> None:
        try:
            _fsync_file(path)
        except OSError:
            pass
    thread = threading.Thread(target=run, name="sync-soon", daemon=True)
    thread.start()
    return thread


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            _fsync_file(f)


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
