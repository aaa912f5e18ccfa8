"""A damaged file in numba's disk cache of a compiled loop: the loop is compiled again, the run goes on
(``simulator.engine.kernel_cache``)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from simulator.engine import kernels

pytestmark = pytest.mark.skipif(not kernels.available(), reason="numba is not installed")

SOURCE = '''
def scaled(x, k):
    """a loop small enough to compile in well under a second"""
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * k
    return total
'''


def _loop(folder: Path, name: str):
    """A fresh dispatcher, made as every kernel is (``kernels._jit``), of a function in a module of ``folder``:
    its cache lives where numba puts it (``folder/__pycache__``, or under ``NUMBA_CACHE_DIR``), and a fresh
    dispatcher reads it from disk."""
    path = folder / f"{name}.py"
    if not path.exists():
        path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return kernels._jit(mod.scaled)


def _damage(loop, name: str, suffix: str, how: str) -> Path:
    """Damage the index (``nbi``) or data (``nbc``) file that ``loop`` (of module ``name``) was cached in."""
    (path,) = Path(loop.stats.cache_path).glob(f"{name}.*.{suffix}")
    if how == "cut":                 # a file cut short (a full disk, an interrupted copy)
        path.write_bytes(path.read_bytes()[:40])
    else:                            # a file overwritten with something else
        path.write_bytes(b"not a pickle at all")
    return path


@pytest.mark.parametrize("suffix,how", [("nbc", "cut"), ("nbi", "cut"), ("nbc", "garbage"), ("nbi", "garbage")])
def test_a_damaged_cache_file_is_compiled_again_and_rewritten(tmp_path, suffix, how):
    import numpy as np
    x = np.arange(5.0)
    first = _loop(tmp_path, f"loop_{suffix}_{how}")
    assert first(x, 2.0) == 20.0
    assert sum(first.stats.cache_misses.values()) == 1          # compiled, and saved to disk

    cached = _loop(tmp_path, f"loop_{suffix}_{how}")
    assert cached(x, 2.0) == 20.0
    assert sum(cached.stats.cache_hits.values()) == 1           # the test's premise: read back from disk

    _damage(first, f"loop_{suffix}_{how}", suffix, how)

    again = _loop(tmp_path, f"loop_{suffix}_{how}")
    assert again(x, 2.0) == 20.0                                # the damaged file does not fail the call
    assert sum(again.stats.cache_misses.values()) == 1          # it was compiled again

    healed = _loop(tmp_path, f"loop_{suffix}_{how}")
    assert healed(x, 2.0) == 20.0
    assert sum(healed.stats.cache_hits.values()) == 1           # and the cache is whole again


def test_every_kernel_gets_the_repairing_cache():
    from simulator.engine import kernel_cache
    disp = kernels.compiled("holder_day")
    assert type(disp._cache) is kernel_cache._repairing_class()
    assert disp.stats.cache_path == kernel_cache._repairing_class().__base__(disp.py_func).cache_path   # numba's


def test_a_cache_that_cannot_be_written_leaves_the_loop_uncached(tmp_path, monkeypatch):
    import errno

    import numpy as np
    from numba.core import caching

    def full(self, name, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(caching.IndexDataCacheFile, "_save_data", full)
    x = np.arange(5.0)
    loop = _loop(tmp_path, "loop_full_disk")
    assert loop(x, 2.0) == 20.0                                 # the run goes on
    assert not list(Path(loop.stats.cache_path).glob("loop_full_disk.*.nbc"))   # nothing cached
    assert _loop(tmp_path, "loop_full_disk")(x, 2.0) == 20.0
