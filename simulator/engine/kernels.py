"""Compiled inner loops (numba), bit for bit the same numbers as the numpy code they replace.

The engine is Python-overhead and memory bound: a day of a batch is a few hundred numpy calls, each streaming
arrays of ``lanes × items × regions × holder groups`` through memory. Where one mechanism runs many such calls on
the same cells (a holder group's day), a compiled loop keeps each cell's numbers in registers instead.

**Same numbers.** A kernel does the same IEEE operations, in the same order, as the numpy expression it stands
for: no fast-math, no fused multiply-add, ``numpy.minimum``/``maximum`` semantics, and sums over a trailing
axis in numpy's own pairwise order (:func:`pairwise_sum`). ``tests/test_kernels.py`` checks every kernel against
its numpy twin on random and real inputs, so results do not depend on whether numba is installed.

numba is optional: without it (or with ``SIMULATOR_NUMBA=0`` in the environment) the numpy code runs. It is
imported only once a process has simulated enough to pay for it (:data:`MIN_LANE_DAYS`). Compiled code is
cached on disk (``cache=True``), so only the first run after an install pays the compile (~1.5 s).
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

#: lane-days a process simulates before compiled loops pay for loading numba (~1.1 s per process: import and
#: cached machine code). Measured: a batch of 10 replications × 3 years (21,920 lane-days) took 5.4–5.9 s with
#: numba, load included, and 6.9–7.2 s without, so the compiled holder day saves ~110 µs a lane-day at that size
#: and breaks even near 10,000 lane-days. Until then the numpy code runs.
MIN_LANE_DAYS = 10_000

_numba = None
_tried = False
_compiled: dict[str, Callable] = {}


def available() -> bool:
    """Whether numba can be used (installed, and not disabled with ``SIMULATOR_NUMBA=0``); imports it once."""
    global _numba, _tried
    if not _tried:
        _tried = True
        if os.environ.get("SIMULATOR_NUMBA", "1") != "0":
            try:
                import numba
                _numba = numba
            except ImportError:  # pragma: no cover - depends on the installation
                _numba = None
    return _numba is not None


_lane_days_seen = 0


def worth_compiling(lane_days: int) -> bool:
    """Compiled loops for a batch of ``lane_days`` (lanes × days): once this process has simulated
    :data:`MIN_LANE_DAYS`, this batch included (a sweep worker switches after its first tasks), or numba is
    loaded already; always with ``SIMULATOR_NUMBA=always``; never without numba."""
    global _lane_days_seen
    _lane_days_seen += lane_days
    always = os.environ.get("SIMULATOR_NUMBA") == "always"
    return (always or _numba is not None or _lane_days_seen >= MIN_LANE_DAYS) and available()


def compiled(name: str) -> Callable:
    """The compiled version of this module's function ``name`` (compiled, or loaded from the disk cache, once)."""
    fn = _compiled.get(name)
    if fn is None:
        if not available():
            raise RuntimeError("numba is not available")
        jit = _numba.njit(cache=True, nogil=True, error_model="numpy")
        for dep in _DEPENDS.get(name, ()):
            globals()[dep] = compiled(dep)        # a compiled function calls compiled helpers
        fn = _compiled[name] = jit(_PY[name])
    return fn


def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """``a[lo:lo+n].sum()`` in numpy's order for a contiguous row of at most 128 elements: a plain loop below 8,
    else eight running sums combined as a tree, then the remainder."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    top = n - n % 8
    while i < top:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


def _fmin(a: float, b: float) -> float:
    """``numpy.minimum`` of two floats (NaN propagates)."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


def _fmax(a: float, b: float) -> float:
    """``numpy.maximum`` of two floats (NaN propagates)."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


def holder_day(S, tot, cn_in, nc_in, ncc, outflow, demand, target, restock, w, f_cn, f_nc, cons, short, held):
    """One day of the holder groups of every cell (see ``market.stocks.HolderGroups.consume`` for the model):
    ``S`` (cells, G) stocks, updated in place; per cell ``tot``, ``cn_in``, ``nc_in``, ``outflow``, ``demand``,
    ``target``; per (item, region) — cell modulo ``ncc.size`` — ``ncc`` (contracted supply), ``restock`` (days),
    ``w``, ``f_cn``, ``f_nc`` (K, G). Writes consumption, short share and the stock left (Σ over groups) per
    cell into ``cons``, ``short`` and ``held``."""
    C, G = S.shape
    K = ncc.shape[0]
    inflow = np.empty(G)
    want = np.empty(G)
    need = np.empty(G)
    used = np.empty(G)
    sw = np.empty(G)
    even = 1.0 / G
    for c in range(C):
        k = c % K
        dem = demand[c]
        base = _fmin(nc_in[c], ncc[k])
        td = target[c] * dem
        rs = restock[k]
        for g in range(G):
            x = cn_in[c] * f_cn[k, g]
            x += base * f_nc[k, g]
            inflow[g] = x
            wa = w[k, g] * dem
            want[g] = wa
            gap = w[k, g] * td
            gap -= S[c, g]
            gap /= rs
            need[g] = _fmax((wa - x) + gap, 0.0)
        tn = pairwise_sum(need, 0, G)
        beyond = nc_in[c] - base
        for g in range(G):
            frac = need[g] / tn if tn > 0 else even
            S[c, g] += inflow[g] + beyond * frac
        avail = (tot[c] + cn_in[c]) + nc_in[c]
        fr = outflow[c] / avail if avail > 0 else 0.0
        keep = 1.0 - _fmin(fr, 1.0)
        for g in range(G):
            s = S[c, g] * keep
            u = _fmax(_fmin(want[g], s), 0.0)
            S[c, g] = s - u
            used[g] = u
            sw[g] = w[k, g] if (u < want[g] * (1.0 - 1e-9)) and want[g] > 0 else 0.0
        cons[c] = pairwise_sum(used, 0, G)
        short[c] = pairwise_sum(sw, 0, G)
        held[c] = pairwise_sum(S[c], 0, G)


_PY = {"pairwise_sum": pairwise_sum, "_fmin": _fmin, "_fmax": _fmax, "holder_day": holder_day}
_DEPENDS = {"holder_day": ("pairwise_sum", "_fmin", "_fmax")}
