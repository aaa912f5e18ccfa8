"""Reading a file the user names: only a regular file, and only up to a size (no device, FIFO or socket)."""
from __future__ import annotations

import os
import stat
from pathlib import Path


class _TooBig(Exception):
    pass


class _NotRegular(Exception):
    pass


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes. Devices (``/dev/zero``),
    FIFOs and sockets are refused before they are opened for reading (no hang, no unbounded read), and at
    most ``limit + 1`` bytes are ever read, so a file growing while read cannot exhaust memory."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device" if
                stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file")
        raise _NotRegular(kind)
    if st.st_size > limit:
        raise _TooBig(f"{st.st_size / 1e6:.0f} MB")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):     # swapped between stat and open
            raise _NotRegular("not a regular file")
        chunks, total = [], 0
        while total <= limit:
            b = os.read(fd, min(1 << 20, limit + 1 - total))
            if not b:
                break
            chunks.append(b)
            total += len(b)
    finally:
        os.close(fd)
    if total > limit:
        raise _TooBig(f"over {limit / 1e6:.0f} MB")
    return b"".join(chunks)
