"""numba's disk cache of the compiled loops, made to survive a damaged file.

numba keeps each compiled loop in two files next to its module (``__pycache__``): an index (``NAME.nbi``: the
signatures compiled, for which machine and source) and one data file per signature (``NAME.N.nbc``: the machine
code, pickled). It reads them back on the first call of a process and trusts them: an index or data file that
cannot be unpickled (cut short by a full disk or an interrupted copy of the folder, overwritten by hand) raises
``UnpicklingError`` out of that call, and then out of every run, until the user finds and deletes the file.
Measured on the headline with one truncated data file (2026-12-07): ``simulate: internal error: UnpicklingError:
pickle data was truncated``, exit 1, every time.

Here such a loop is compiled again instead, as on a first run, and the rewritten files replace the damaged ones:
the run goes on (slower by that loop's compile, ~0.1–4 s) and the next run loads it from the cache again. A cache
that cannot be written (a full disk) leaves the loop uncached instead of failing the run. Only the cache's files
are guarded: a loop that fails to compile still fails as before. numba gives no switch for this: its dispatcher
takes its cache object from ``Dispatcher.enable_caching`` (``numba.core.caching``, numba 0.58–0.68), whose
``FunctionCache`` is subclassed here and put in its place (``tests/test_kernel_cache.py`` fails if that changes).
"""
from __future__ import annotations

import functools
import os
from typing import Any


def repairing(dispatcher: Any) -> Any:
    """``dispatcher`` (a numba dispatcher made with ``cache=True``) with a cache that compiles a loop again where
    its cached files cannot be read (see the module's docstring); returned for chaining. Unchanged where its
    numba has no such cache object."""
    cls = _repairing_class()
    if cls is None or type(getattr(dispatcher, "_cache", None)) is not cls.__base__:   # numba's own, as made
        return dispatcher
    dispatcher._cache = cls(dispatcher.py_func)
    return dispatcher


@functools.cache
def _repairing_class() -> type | None:
    """numba's ``FunctionCache`` with the repairs (made once, on the first kernel: numba is imported by then)."""
    try:
        from numba.core.caching import FunctionCache
    except ImportError:  # pragma: no cover - depends on the numba version
        return None

    class RepairingCache(FunctionCache):
        """numba's per-function cache; a load that fails on a damaged file answers "not cached", so numba
        compiles the loop and saves it: over the damaged data file, or, where the index is the damaged file
        (the save reads it first), into a new index. What reading such a file raises varies
        (``UnpicklingError``, ``EOFError``, ``ValueError``, llvmlite's ``RuntimeError``, ``OSError``...):
        any exception counts."""

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            try:
                return super().load_overload(sig, target_context)
            except Exception:  # noqa: BLE001 - see above
                return None

        def save_overload(self, sig: Any, data: Any) -> None:
            try:
                super().save_overload(sig, data)
            except Exception:  # noqa: BLE001 - a damaged index, or a full disk
                forget(self)
                try:
                    super().save_overload(sig, data)
                except Exception:  # noqa: BLE001 - the loop runs, uncached: the next run compiles it
                    pass

    return RepairingCache


def forget(cache: Any) -> None:
    """Remove the index file of ``cache`` (a ``numba.core.caching.Cache``): its function has no cached signature
    until one is saved again (the data files are then written afresh, from number 1, over the old ones)."""
    try:
        os.remove(cache._cache_file._index_path)
    except OSError:       # removed by another process first, or not ours to remove: the save then fails too
        pass
