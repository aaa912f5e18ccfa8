"""A *zygote*: a process forked as ``simulate`` starts, which loads what a worker needs (the engine's modules,
numba and its compiled loops) on the core the parent leaves idle while it reads the scenario, then forks the
run's workers with all of that loaded (Android's name for the device; CPython's ``forkserver`` is another of
its kind, but starts a fresh interpreter and works through ``multiprocessing``).

Why: each of the headline's two workers spent ~0.35 s of its ~2.4 CPU-s loading numba and its cached loops,
both at once, after the parent had read the scenario on one core with the other idle. Loading numba in the
parent before it forks only moves that time onto the parent's serial path (measured, session 13: no gain). The
zygote loads it once, beside the parent's own work.

Messages on one Unix socket pair: the parent sends ``F`` (a kind byte), a length and a pickle of ``(init,
initargs, fn, args)``; the zygote forks a worker, which unpickles them and runs ``init(*initargs)`` then
``fn(*args)``, and answers with the worker's PID and the read end of a pipe (``SCM_RIGHTS``) on which the
worker writes ``("ok", value)`` or ``("error", exception, traceback text)``, then exits.

Lifetimes: the zygote dies with the parent and its workers with the zygote (``safety.die_with_parent``); they
ignore Ctrl-C (the parent handles it and kills what runs); :meth:`Zygote.close` kills the zygote, so the
workers still running too, and waits for it: no process outlives the command.
"""
from __future__ import annotations

import gc
import importlib
import os
import pickle
import selectors
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any, Callable

_HEAD = struct.Struct("<cQ")        # kind, payload length
_PID = struct.Struct("<q")
_SEND_BUFFER = 4 << 20              # bytes: the run's batches are queued at once without blocking the parent


class WorkerLost(RuntimeError):
    """A worker ended without sending its result (killed, or out of memory)."""


class Zygote:
    """The zygote process of this process (see the module's docstring); ``preload`` ("module:function") is
    called in it first. Use from one thread."""

    def __init__(self, preload: str | None = None):
        parent = os.getpid()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:                                    # the zygote
            ours.close()
            _serve(theirs, preload, parent)             # never returns
        theirs.close()
        try:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        except OSError:                                 # pragma: no cover - a system that refuses it
            pass
        self.pid = pid
        self._sock: socket.socket | None = ours
        self._sel = selectors.DefaultSelector()
        self._sel.register(ours, selectors.EVENT_READ)
        self._asked = 0                                 # forks asked for, in order
        self._answered = 0                              # of which answered (their worker's PID and pipe)
        self._running: dict[int, tuple[int, int, bytearray]] = {}   # pipe fd → (fork index, PID, bytes read)

    # ----- parent side -----------------------------------------------------------------------------------
    def fork(self, init: Callable[..., Any] | None, initargs: tuple, fn: Callable[..., Any], args: tuple) -> int:
        """Ask for a worker running ``init(*initargs)`` then ``fn(*args)``; returns its index (0, 1, ... in
        the order asked), which :meth:`next_result` gives with its result."""
        self._send(b"F", pickle.dumps((init, initargs, fn, args), pickle.HIGHEST_PROTOCOL))
        self._asked += 1
        return self._asked - 1

    def pending(self) -> int:
        """Workers asked for whose result has not been returned yet."""
        return self._asked - self._answered + len(self._running)

    def next_result(self, timeout: float | None = None) -> tuple[int, Any] | None:
        """(index, value) of the next worker to finish (blocking; with ``timeout``, None once that many seconds
        have passed without one); its exception if it raised one, re-raised here; :class:`WorkerLost` if it
        ended without a result or the zygote is gone."""
        if not self.pending():
            raise ValueError("no worker is running")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            events = self._sel.select(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if not events:
                return None
            for key, _ in events:
                if key.fileobj is self._sock:
                    self._answer()
                    continue
                fd = key.fd
                index, pid, buf = self._running[fd]
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    buf += chunk
                    continue
                self._sel.unregister(fd)
                os.close(fd)
                del self._running[fd]
                if not buf:
                    raise WorkerLost(f"worker process {pid} ended without a result (killed, or out of memory?)")
                got = pickle.loads(buf)
                if got[0] == "ok":
                    return index, got[1]
                exc = got[1]
                if got[2]:
                    exc.__cause__ = _RemoteTraceback(got[2])
                raise exc

    def alive(self) -> bool:
        """Whether the zygote is still there to fork workers (it has not ended, nor been closed)."""
        if self._sock is None:
            return False
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:                       # pragma: no cover - reaped elsewhere
            return False

    def close(self) -> None:
        """End the zygote and wait for it (idempotent). Once every worker asked for has sent its result, the
        zygote is let go: it waits for its workers as they exit, so that their CPU time and peak memory count
        in this process's children (``time``, ``getrusage``). Otherwise (an interrupt, an error, no worker
        asked for) it is killed at once, and so every worker still running (they die with it: not killed from
        here by PID, which the system may have given to another process once a worker ended)."""
        if self._sock is None:
            return
        if not self._asked or self.pending():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:                  # pragma: no cover - reaped elsewhere
                pass
        for fd in list(self._running):
            os.close(fd)
        self._running.clear()
        self._sel.close()
        self._sock.close()
        self._sock = None
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:                       # pragma: no cover - reaped elsewhere
            pass

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _send(self, kind: bytes, payload: bytes) -> None:
        if self._sock is None:
            raise ValueError("the zygote is closed")
        try:
            self._sock.sendall(_HEAD.pack(kind, len(payload)) + payload)
        except OSError as exc:
            raise WorkerLost(f"the process {self.pid} that starts the run's workers ended ({exc}; killed, or out of "
                             f"memory?)") from None

    def _answer(self) -> None:
        """Take the zygote's answer to the next fork asked for: its worker's PID and result pipe."""
        msg, fds, _, _ = socket.recv_fds(self._sock, _PID.size, 1)
        if len(msg) < _PID.size or not fds:
            raise WorkerLost(f"the process {self.pid} that starts the run's workers ended (killed, or out of memory?)")
        (pid,) = _PID.unpack(msg)
        fd = fds[0]
        self._running[fd] = (self._answered, pid, bytearray())
        self._answered += 1
        self._sel.register(fd, selectors.EVENT_READ)


class _RemoteTraceback(Exception):
    """A worker's traceback, as text (the cause of the exception re-raised in the parent)."""

    def __str__(self) -> str:
        return self.args[0]


# ----- zygote side -----------------------------------------------------------------------------------------
def _serve(sock: socket.socket, preload: str | None, parent: int) -> None:
    """The zygote's life: set up, preload, then answer the parent's messages until it closes its end.

    The preload runs without cyclic collections, and what is loaded then is frozen (``gc.freeze``): it lives to
    the end, and a full collection would walk all of it, numba's compiler and registries included. Measured on
    the headline, 2026-12-06: the zygote spent 0.05–0.07 s in collections while loading, which its workers wait
    for; frozen, the workers' collections see only what they make (and leave the inherited pages shared)."""
    code = 1
    try:
        from .engine.world import collections_paused
        from .safety import die_with_parent
        signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the parent's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent(parent)
        with collections_paused():                         # loading makes few cycles
            if preload:
                try:
                    mod, name = preload.split(":")
                    getattr(importlib.import_module(mod), name)()
                except Exception:                          # a worker loads for itself what is missing
                    pass
            gc.freeze()         # out of every later collection, here and in workers; frozen before collections
            #                     resume: the first allocation after would walk all that was loaded
        while True:
            head = _read_exactly(sock, _HEAD.size)
            if head is None:                               # the parent closed its end: wait for the workers,
                _reap_all()                                # so that their CPU time and memory count in the
                code = 0                                   # parent's (``time``, ``getrusage``)
                break
            kind, size = _HEAD.unpack(head)
            payload = _read_exactly(sock, size)
            if payload is None:
                break
            if kind == b"F":
                _fork_worker(sock, payload)
    finally:
        os._exit(code)


def _fork_worker(sock: socket.socket, payload: bytes) -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                           # the worker
        sock.close()
        os.close(r)
        _work(w, payload)                                  # never returns
    os.close(w)
    socket.send_fds(sock, [_PID.pack(pid)], [r])
    os.close(r)


def _work(fd: int, payload: bytes) -> None:
    """A worker's life: set up as any pool worker (``safety.worker_init``: Ctrl-C left to the parent, death with
    the zygote, one BLAS thread), run what was asked, send the result down ``fd``, exit."""
    code = 1
    try:
        from .safety import worker_init
        worker_init()
        try:
            init, initargs, fn, args = pickle.loads(payload)
            if init is not None:
                init(*initargs)
            out: tuple = ("ok", fn(*args))
        except BaseException as exc:                       # noqa: B902 - sent to the parent, re-raised there
            out = ("error", exc, traceback.format_exc())
        try:
            data = pickle.dumps(out, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps(("error", RuntimeError(f"a worker's result could not be pickled: {exc}"), ""))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        code = 0
    finally:
        for stream in (sys.stdout, sys.stderr):            # what the worker printed, before its exit skips it
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(code)


def _reap_all() -> None:
    """Wait for every worker this zygote forked."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    """``n`` bytes from ``sock``, or None at its end."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
