"""Compiled inner loops (numba), bit for bit the same numbers as the numpy code they replace.

The engine is Python-overhead and memory bound: a day of a batch is a few hundred numpy calls, each streaming
arrays of ``lanes × items × regions × holder groups`` through memory. Where one mechanism runs many such calls on
the same cells (a holder group's day), a compiled loop keeps each cell's numbers in registers instead.

**Same numbers.** A kernel does the same IEEE operations, in the same order, as the numpy expression it stands
for: no fast-math, no fused multiply-add, ``numpy.minimum``/``maximum`` semantics, and sums over a trailing
axis in numpy's own pairwise order (:func:`pairwise_sum`). Matrix products stay numpy (their summation order
depends on the BLAS build): a kernel stops before one and another takes over after it. ``tests/test_kernels.py``,
``tests/test_fab_lanes.py`` and ``tests/test_economy.py`` check every kernel against its numpy twin on random and
real inputs, so results do not depend on whether numba is installed.

**Same random numbers.** The ``lanes_*`` kernels draw every lane's numbers from its own ``numpy.random.Generator``
in one call (numpy needs one call per lane, ~8 µs each whatever the size), consuming its stream exactly as the
numpy calls would (see the section below).

numba is optional: without it (or with ``SIMULATOR_NUMBA=0`` in the environment) the numpy code runs. It is
imported only once a process has simulated enough to pay for it (:data:`MIN_LANE_DAYS`). Compiled code is
cached on disk (``cache=True``), so only the first run after an install pays the compile (~1.5 s for the holder day,
~3–5 s for the fab draws, ~1.8 s for the spare-parts draws, ~5.7 s for the four market sections, ~0.9 s for the
trade rules, a few more for the fab fleets' day, the projects and the economy: ~19 s in all; the workers of a
first run share it out by model part, :mod:`.first_compile`); then ~0.35 s a process, numba's own start-up
included (its import-time probe for scipy's BLAS skipped, :func:`_no_scipy_blas_probe`; ~9 ms a kernel). Editing
this file invalidates the cache of every kernel in it.
Ctrl-C and SIGTERM wait while numba compiles or loads (:func:`_guard_compiles`).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import day_meter, safety
from . import kernel_cache
from .first_compile import Marks, Share

#: lane-days a process simulates before compiled loops pay for loading numba (~0.35 s per process since numba's
#: BLAS probe no longer imports scipy: import and cached machine code). Measured 2026-12-06 end to end,
#: `simulate scenarios/japan_servicing_ban.yaml --no-plots` with numba forced against numpy, three runs each:
#: 1 replication × 250 days (500 lane-days) 1.71–1.77 s against 1.68–1.73 s; × 500 days (1,000) 2.02–2.10 s
#: against 2.30–2.34 s; × 3 years (2,192) 2.69–2.72 s against 3.56–3.60 s; 4 replications × 3 years on two
#: workers (4,384 each) 2.87–3.04 s against 4.23–4.48 s. It breaks even near 550 lane-days; until 1,000 the
#: numpy code runs. (It was 10,000 when loading numba took ~1.1 s and fewer parts were compiled.)
MIN_LANE_DAYS = 1_000

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
                with _no_scipy_blas_probe():
                    import numba
                    import numba.np.arraymath  # noqa: F401
                _numba = numba
            except ImportError:  # pragma: no cover - depends on the installation
                _numba = None
            else:
                _guard_compiles(numba)
    return _numba is not None


@contextmanager
def _no_scipy_blas_probe() -> Iterator[None]:
    """Hide ``scipy.linalg`` (where this process has not imported it) while numba loads its array functions.
    On import, ``numba.np.arraymath`` probes for scipy's BLAS (``import scipy.linalg.cython_blas``) only to
    choose the inner loop of ``np.correlate`` and ``np.convolve``, which no kernel here calls; the probe costs
    each worker process 0.11–0.16 s of importing ``scipy.linalg`` (measured: ``import numba.np.arraymath``
    0.28–0.33 s → 0.17 s). A ``None`` in ``sys.modules`` makes the probe's import fail at once (the import
    system's documented meaning of ``None``); the entry is removed after, so anything that needs
    ``scipy.linalg`` later, numba's linear algebra included, imports it as usual."""
    import sys
    hide = "scipy.linalg" not in sys.modules
    if hide:
        sys.modules["scipy.linalg"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if hide and sys.modules.get("scipy.linalg", 0) is None:
            del sys.modules["scipy.linalg"]


def _guard_compiles(numba: Any) -> None:
    """Hold Ctrl-C and SIGTERM while numba compiles or loads cached code (its global compiler lock is held): an
    interrupt inside llvmlite's callbacks is swallowed, elsewhere it can leave a kernel half-registered ("no
    compiled object yet" for the rest of the process). The interrupt is raised when the compile ends, ≤ ~6 s
    on the first run after an install, milliseconds later on. A compile (not a load from the cache) is also
    shown on the board of the run's progress (:mod:`simulator.day_meter`). Uses numba's event API; without
    it, no guard."""
    try:
        from numba.core import event
    except ImportError:  # pragma: no cover - depends on the numba version
        return

    class _HoldInterrupts(event.Listener):
        def on_start(self, ev: Any) -> None:
            safety.hold_interrupts()

        def on_end(self, ev: Any) -> None:
            safety.release_interrupts()

    class _Compiling(event.Listener):      # a compile, not a kernel loaded from the cache: the run's progress says so
        depth = 0                          # (a kernel's compile compiles the helpers it calls inside it)

        def on_start(self, ev: Any) -> None:
            self.depth += 1
            day_meter.compiling(True)

        def on_end(self, ev: Any) -> None:
            self.depth -= 1
            day_meter.compiling(self.depth > 0)

    event.register("numba:compiler_lock", _HoldInterrupts())
    event.register("numba:compile", _Compiling())


_lane_days_seen = 0
_batches_seen: weakref.WeakSet = weakref.WeakSet()
_checking = 0


@contextmanager
def checks_only() -> Iterator[None]:
    """Models built inside only to check their input (``model_checks``: the scenario's whole horizon, a few
    days played at most) use the numpy code and count no lane-days: loading numba there would cost every
    ``simulate`` and ``simulate validate`` ~0.3 s in the parent, before any worker starts."""
    global _checking
    _checking += 1
    try:
        yield
    finally:
        _checking -= 1


def worth_compiling(lane_days: int, batch: object | None = None, part: str | None = None) -> bool:
    """Compiled loops for a batch of ``lane_days`` (lanes × days): once this process has simulated
    :data:`MIN_LANE_DAYS`, this batch included (a sweep worker switches after its first tasks), or numba is
    loaded already; always with ``SIMULATOR_NUMBA=always``; never without numba, nor inside
    :func:`checks_only`. ``batch`` (its ``Lanes``, or a view of some of them: the batch it views): its lane-days
    count once however many of its mechanisms ask (without it, every call counts). ``part`` (a name of
    ``first_compile.PARTS``): not while another worker of a first run compiles that part's loops
    (:func:`share_first_compile`); a part that runs compiled is marked as cached after the batch
    (:func:`mark_compiled`)."""
    global _lane_days_seen
    if _checking:
        return False
    batch = getattr(batch, "batch", batch)
    if batch is None or batch not in _batches_seen:
        _lane_days_seen += lane_days
        if batch is not None:
            _batches_seen.add(batch)
    return _wanted(0) and available() and _compiles(part)


def _wanted(more: int) -> bool:
    """Compiled loops are asked for: forced, numba loaded already, or this process will have simulated
    :data:`MIN_LANE_DAYS` after ``more`` lane-days."""
    return (os.environ.get("SIMULATOR_NUMBA") == "always" or _numba is not None
            or _lane_days_seen + more >= MIN_LANE_DAYS)


def would_compile(lane_days: int, part: str | None = None) -> bool:
    """Whether :func:`worth_compiling` would say yes to a new batch of ``lane_days`` (for ``part``), without
    counting them: what a caller sizing the batch's buffers before it is built needs to know (``runner``'s fold
    window)."""
    if not _wanted(lane_days):
        return False
    if part is not None and _share is not None:     # a worker of a first run (numba loaded: ``simulator.zygote``)
        return available() and not _leaves(part)
    if _tried:
        return _numba is not None
    # not imported here: the batch's build loads numba, with collections paused (``engine.world``)
    return installed()


def installed() -> bool:
    """Whether numba is installed and not turned off (``SIMULATOR_NUMBA=0``), found without importing it."""
    return os.environ.get("SIMULATOR_NUMBA", "1") != "0" and importlib.util.find_spec("numba") is not None


def in_use(part: str | None = None) -> bool:
    """Whether this process runs compiled loops already (numba loaded for the engine, or forced with
    ``SIMULATOR_NUMBA=always``): what a part outside the engine (the report's fold) follows; ``part`` as for
    :func:`worth_compiling`."""
    return (_numba is not None or os.environ.get("SIMULATOR_NUMBA") == "always") and available() \
        and _compiles(part)


# ----- a first run's compile shared among its workers (``first_compile``) -------------------------------------
_share: Share | None = None
_marks_folder: Path | None = None
_ran_compiled: set[str] = set()


def share_first_compile(slot: int, slots: int, folder: str | os.PathLike | None = None) -> None:
    """This process is worker ``slot`` of ``slots`` that a run starts together: model parts whose loops are not
    cached yet are compiled by one worker each, the others running them on their numpy twins (same numbers; see
    :mod:`.first_compile`). ``folder``: where the marks of cached parts are (default: numba's cache folder of
    this module)."""
    global _share, _marks_folder
    _share = Share(slot, slots)
    _marks_folder = Path(folder) if folder is not None else None


def _marks() -> Marks | None:
    if not available():
        return None
    folder = _marks_folder
    if folder is None:
        try:            # where numba caches this module's kernels (its dispatcher finds it without compiling)
            folder = Path(compiled("industry_day").stats.cache_path)
        except (AttributeError, OSError, RuntimeError):
            return None
    return Marks(folder, str(getattr(_numba, "__version__", "")))


def _leaves(part: str | None) -> bool:
    return part is not None and _share is not None and _share.leaves(part, _marks())


def _compiles(part: str | None) -> bool:
    """Whether ``part`` runs compiled here (it is not left to another worker); noted for :func:`mark_compiled`."""
    if _leaves(part):
        return False
    if part is not None:
        _ran_compiled.add(part)
    return True


def mark_compiled() -> None:
    """After a batch: mark the parts this process ran compiled as cached (their loops are on disk now), for the
    next run. A first run's share (:func:`share_first_compile`) ends with it: a batch after it compiles, or
    loads, whatever it needs."""
    global _share
    _share = None
    if not _ran_compiled:
        return
    marks = _marks()
    if marks is None:
        return
    for part in sorted(_ran_compiled):
        marks.mark(part)


def _jit(fn: Callable, inline: bool = False) -> Callable:
    """``fn`` compiled with the options of every kernel (cached on disk, :mod:`.kernel_cache`); ``inline``: a
    helper whose body is copied into each compiled caller (numba's ``inline="always"``)."""
    if not available():
        raise RuntimeError("numba is not available")
    jitted = _numba.njit(cache=True, nogil=True, error_model="numpy", inline="always" if inline else "never")(fn)
    return kernel_cache.repairing(jitted)      # a damaged cache file: compiled again, not a failed run


def compile_external(fn: Callable, helpers: tuple[Callable, ...] = ()) -> Callable:
    """``fn`` (a plain function of another module, numbers and arrays only) compiled like this module's
    kernels, once per process (cached on disk). ``helpers``: functions of its module that it calls, compiled
    into it (their module name becomes their compiled version, as this module does with its own helpers)."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    got = _compiled.get(key)
    if got is None:
        for h in helpers:
            py = getattr(h, "py_func", h)
            fn.__globals__[py.__name__] = _jit(py, inline=True)
        got = _compiled[key] = _jit(fn)
    return got


def compiled(name: str) -> Callable:
    """The compiled version of this module's function ``name`` (compiled, or loaded from the disk cache, once)."""
    fn = _compiled.get(name)
    if fn is None:
        if not available():
            raise RuntimeError("numba is not available")
        for dep in _DEPENDS.get(name, ()):       # a compiled function calls compiled helpers or numba's own
            globals()[dep] = compiled(dep) if dep in _PY else getattr(importlib.import_module(_NUMBA[dep]), dep)
        fn = _compiled[name] = _jit(_PY[name], name in _INLINE)
    return fn


#: helpers that take arrays, called in kernels' inner loops: copied into their callers, since a call of a compiled
#: function counts a reference to each array argument in and out (two atomic operations each)
_INLINE = {"pairwise_sum", "_allowance", "multinomial_row"}


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
    """``numpy.minimum`` of two floats bit for bit: NaN propagates (the first), and of two equal values the
    second (``minimum(0.0, -0.0)`` is ``-0.0``, as numpy's loops give on every path)."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a < b else b


def _fmax(a: float, b: float) -> float:
    """``numpy.maximum`` of two floats bit for bit (``maximum(-0.0, 0.0)`` is ``0.0``); also ``numpy.clip``'s
    lower bound, whose upper bound is :func:`_fmin`."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a > b else b


def holder_day(S, tot, cn_in, nc_in, ncc, cnc, outflow, demand, target, restock, w, f_cn, f_nc, cons, short,
               held):
    """One day of the holder groups of every cell (see ``market.stocks.HolderGroups.consume`` for the model):
    ``S`` (cells, G) stocks, updated in place; per cell ``tot``, ``cn_in``, ``nc_in``, ``outflow``, ``demand``,
    ``target``; per (item, region) — cell modulo ``ncc.size`` — ``ncc`` and ``cnc`` (contracted other and
    Chinese-origin supply), ``restock`` (days),
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
        td = target[c] * dem
        if dem == 0.0 and td == 0.0 and cn_in[c] == 0.0 and nc_in[c] == 0.0 and outflow[c] == 0.0:
            empty = True                # a cell without demand, flows or stock (no users, no trade): all zero
            for g in range(G):
                if S[c, g] != 0.0:
                    empty = False
                    break
            if empty:                   # what the loop below gives: +0.0 everywhere (a -0.0 stock gains +0.0)
                for g in range(G):
                    S[c, g] = 0.0
                cons[c] = 0.0
                short[c] = 0.0
                held[c] = 0.0
                continue
        base = _fmin(nc_in[c], ncc[k])
        cbase = _fmin(cn_in[c], cnc[k])
        rs = restock[k]
        for g in range(G):
            x = cbase * f_cn[k, g]
            x += base * f_nc[k, g]
            inflow[g] = x
            wa = w[k, g] * dem
            want[g] = wa
            gap = w[k, g] * td
            gap -= S[c, g]
            gap /= rs
            need[g] = _fmax((wa - x) + gap, 0.0)
        tn = pairwise_sum(need, 0, G)
        beyond = (nc_in[c] - base) + (cn_in[c] - cbase)
        if tn > 0:                      # (the test outside the loops: each loop runs branch-free)
            for g in range(G):
                S[c, g] += inflow[g] + beyond * (need[g] / tn)
        else:
            for g in range(G):
                S[c, g] += inflow[g] + beyond * even
        avail = (tot[c] + cn_in[c]) + nc_in[c]
        fr = outflow[c] / avail if avail > 0 else 0.0
        keep = 1.0 - _fmin(fr, 1.0)
        for g in range(G):
            s = S[c, g] * keep
            u = _fmax(_fmin(want[g], s), 0.0)
            S[c, g] = s - u
            used[g] = u
            sw[g] = w[k, g] if (u < want[g] * (1.0 - 1e-9)) & (want[g] > 0) else 0.0
        cons[c] = pairwise_sum(used, 0, G)
        short[c] = pairwise_sum(sw, 0, G)
        held[c] = pairwise_sum(S[c], 0, G)


# ----- random draws of many lanes ------------------------------------------------------------------------------
# A lane's ``numpy.random.Generator`` enters compiled code as numba's model of it, which points at the same
# bit-generator state: a compiled draw advances the stream exactly as the numpy call would. numba's
# ``Generator.gamma`` and ``.binomial`` are ports of numpy's C code and give its numbers; its ``.poisson`` does not
# (it truncates where numpy floors, so PTRS accepts some draws numpy rejects), hence :func:`lanes_poisson` below.
# The kernels call the distributions behind those methods (``random_gamma``, :func:`binomial`) on each lane's bit
# generator, taken once per lane: a method call on the Generator counts a reference to it in and out, two atomic
# operations a draw (measured: 22 → 14 ns a gamma draw, 78 → 65 ns a binomial draw, the same numbers).
# Unboxing a Generator costs ~6 µs a call, so the lanes' generators are unboxed once into a typed list
# (:func:`generator_list`) that a compiled call takes for ~2 µs whatever the number of lanes.

def binomial(bitgen: Any, n: Any, p: float) -> int:
    """``g.binomial(n, p)`` of the generator whose bit generator is ``bitgen`` (what numba's method does)."""
    return np.int64(random_binomial(bitgen, n, p))


#: Poisson means at or above which numpy draws by PTRS (below: multiplied uniforms)
PTRS_FROM = 10.0
#: ``loggam(k)`` kept for ``k`` below this (PTRS's slow test of a draw ``k`` needs ``loggam(k + 1)``)
LOGGAM_TABLE = 2048


def loggam_table(n: int) -> np.ndarray:
    """``random_loggam(k)`` (numpy's log-gamma of PTRS) for ``k = 1 .. n - 1``, 0 at 0: what PTRS would compute
    for each draw, computed once."""
    t = np.zeros(n)
    for k in range(1, n):
        t[k] = random_loggam(k)
    return t


def lanes_poisson(gens: Any, lam: np.ndarray, out: np.ndarray, key: np.ndarray, consts: np.ndarray,
                  loggam: np.ndarray) -> None:
    """``out[l] = gens[l].poisson(lam[l])`` for every lane ``l`` of ``lam`` (lanes, n): exactly numpy's
    ``random_poisson`` (0 at 0, multiplied uniforms below 10, else PTRS (Hörmann 1993) with ``floor``).

    What a draw computes from its mean alone (``exp(−λ)``; PTRS's ``log λ``, ``b``, ``a``, ``log(1/α)``,
    ``v_r``) is kept in ``consts[l, i]`` (lanes, n, 6) for the mean ``key[l, i]`` it was computed from, and
    computed again when the mean changes (a fleet's failure rates hold for weeks: 84% of the headline's draws
    reuse them); ``loggam`` (:func:`loggam_table`) holds PTRS's log-gamma of small counts. Same expressions,
    same order: the same numbers as computing them at every draw."""
    L, n = lam.shape
    for lane in range(L):
        bitgen = gens[lane].bit_generator
        for i in range(n):
            x = lam[lane, i]
            c = consts[lane, i]
            if not x >= PTRS_FROM:
                if x < 0:
                    raise ValueError("lam < 0")
                if x == 0:
                    out[lane, i] = 0
                    continue
                if key[lane, i] != x:
                    key[lane, i] = x
                    c[0] = np.exp(-x)
                enlam = c[0]
                k = 0
                prod = 1.0
                while True:
                    prod *= next_double(bitgen)
                    if prod > enlam:
                        k += 1
                    else:
                        break
                out[lane, i] = k
                continue
            if key[lane, i] != x:
                key[lane, i] = x
                slam = np.sqrt(x)
                c[0] = np.log(x)
                b = 0.931 + 2.53 * slam
                c[1] = b
                a = -0.059 + 0.02483 * b
                c[2] = a
                invalpha = 1.1239 + 1.1328 / (b - 3.4)
                c[3] = np.log(invalpha)
                c[4] = 0.9277 - 3.6224 / (b - 2)
            loglam, b, a, log_invalpha, vr = c[0], c[1], c[2], c[3], c[4]
            while True:
                U = next_double(bitgen) - 0.5
                V = next_double(bitgen)
                us = 0.5 - np.fabs(U)
                k = np.int64(np.floor((2 * a / us + b) * U + x + 0.43))
                if us >= 0.07 and V <= vr:
                    break
                if k < 0 or (us < 0.013 and V > us):
                    continue
                lg = loggam[k + 1] if k + 1 < loggam.size else random_loggam(k + 1)
                if np.log(V) + log_invalpha - np.log(a / (us * us) + b) <= -x + k * loglam - lg:
                    break
            out[lane, i] = k


def lanes_binomial(gens: Any, n: np.ndarray, p: np.ndarray, out: np.ndarray) -> None:
    """``out[l, i] = gens[l].binomial(n[l, i], p[l, i])`` where ``p[l, i] > 0`` (lane by lane, ``i``
    ascending: numpy's ``gens[l].binomial(n[l, at], p[l, at])`` with ``at = flatnonzero(p[l] > 0)``); ``out``
    untouched elsewhere."""
    L, m = n.shape
    for lane in range(L):
        bitgen = gens[lane].bit_generator
        for i in range(m):
            if p[lane, i] > 0:
                out[lane, i] = binomial(bitgen, n[lane, i], p[lane, i])


#: whole shapes below this have their gamma constants in :func:`gamma_table` (a repair-time draw's shape is a
#: count of failures: 2 to a few hundred in the headline)
GAMMA_TABLE = 1024


def gamma_table(n: int) -> np.ndarray:
    """``(b, c)`` of numpy's gamma draw (Marsaglia and Tsang) for each whole shape ``k = 2 .. n - 1``:
    ``b = k − 1/3``, ``c = 1/√(9b)``, computed as the draw computes them (rows 0 and 1 unused)."""
    t = np.zeros((n, 2))
    for k in range(2, n):
        shape = float(k)
        b = shape - 1. / 3.
        t[k, 0] = b
        t[k, 1] = 1. / np.sqrt(9 * b)
    return t


def lanes_gamma(gens: Any, shape: np.ndarray, scale: np.ndarray, width: np.ndarray, out: np.ndarray,
                table: np.ndarray) -> None:
    """``out[l, :w] = gens[l].gamma(shape[l, :w], scale[l, :w])`` with ``w = width[l]``, for every lane ``l``:
    numpy's ``random_gamma``, whose constants for a whole shape from 2 on come from ``table``
    (:func:`gamma_table`; the same numbers, without a square root and a division per draw)."""
    for lane in range(shape.shape[0]):
        bitgen = gens[lane].bit_generator
        for i in range(width[lane]):
            sh = shape[lane, i]
            k = np.int64(sh) if sh >= 2.0 and sh < table.shape[0] else 0
            if k == 0 or k != sh:
                out[lane, i] = random_gamma(bitgen, sh, scale[lane, i])
                continue
            b = table[k, 0]
            c = table[k, 1]
            while True:
                while True:
                    X = random_standard_normal(bitgen)
                    V = 1.0 + c * X
                    if V > 0.0:
                        break
                V = V * V * V
                U = next_double(bitgen)
                if U < 1.0 - 0.0331 * (X * X) * (X * X):
                    break
                if np.log(U) < 0.5 * X * X + b * (1. - V + np.log(V)):
                    break
            out[lane, i] = scale[lane, i] * (b * V)


def multinomial_row(bitgen: Any, n: int, pvals: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = g.multinomial(n, pvals)`` for the generator whose bit generator is ``bitgen``: numpy's
    algorithm (``random_multinomial``), one binomial per category but the last, of the failures not yet placed
    with the category's share of what is left."""
    d = pvals.size
    for j in range(d):
        out[j] = 0
    remaining = 1.0
    dn = n
    for j in range(d - 1):
        out[j] = binomial(bitgen, dn, pvals[j] / remaining)
        dn -= out[j]
        if dn <= 0:
            break
        remaining -= pvals[j]
    if dn > 0:
        out[d - 1] = dn


def lanes_multinomial(gens: Any, n: np.ndarray, pvals: np.ndarray, bounds: np.ndarray, out: np.ndarray) -> None:
    """``out[a:b] = gens[l].multinomial(n[a:b], pvals[a:b])`` with ``a, b = bounds[l], bounds[l + 1]``, for
    every lane ``l`` (rows of ``n`` (k,), ``pvals`` and ``out`` (k, d) in lane order)."""
    for lane in range(bounds.size - 1):
        bitgen = gens[lane].bit_generator
        for r in range(bounds[lane], bounds[lane + 1]):
            multinomial_row(bitgen, n[r], pvals[r], out[r])


def lanes_binomial_rows(gens: Any, n: np.ndarray, p: np.ndarray, bounds: np.ndarray, out: np.ndarray) -> None:
    """``out[a:b] = gens[l].binomial(n[a:b], p[a:b])`` with ``a, b = bounds[l], bounds[l + 1]``, for every
    lane ``l`` (entries in lane order). A zero ``n`` or ``p`` draws nothing, as in numpy."""
    for lane in range(bounds.size - 1):
        bitgen = gens[lane].bit_generator
        for r in range(bounds[lane], bounds[lane + 1]):
            out[r] = binomial(bitgen, n[r], p[r])


_tables: dict[str, np.ndarray] = {}


def poisson_loggam() -> np.ndarray:
    """The :func:`loggam_table` of :func:`lanes_poisson` (computed by the compiled function, once a process)."""
    return _table("loggam_table", LOGGAM_TABLE)


def gamma_constants() -> np.ndarray:
    """The :func:`gamma_table` of :func:`lanes_gamma` (computed by the compiled function, once a process)."""
    return _table("gamma_table", GAMMA_TABLE)


def _table(name: str, n: int) -> np.ndarray:
    got = _tables.get(name)
    if got is None:
        got = _tables[name] = compiled(name)(n)
        got.flags.writeable = False
    return got


def _new_generator_list(gen: Any) -> Any:
    """A typed list holding ``gen``."""
    gens = List()
    gens.append(gen)
    return gens


def _append_generator(gens: Any, gen: Any) -> None:
    gens.append(gen)


def generator_list(gens: list[np.random.Generator]) -> Any:
    """``gens`` (one generator per lane, at least one) as a numba typed list for the ``lanes_*`` draws: each
    generator is unboxed once, here (through compiled, disk-cached helpers: ~10 ms, where building the list
    from Python compiles numba's list methods anew in every process, ~0.4 s)."""
    out = compiled("_new_generator_list")(gens[0])
    append = compiled("_append_generator")
    for g in gens[1:]:
        append(out, g)
    return out


_PY = {"pairwise_sum": pairwise_sum, "_fmin": _fmin, "_fmax": _fmax, "holder_day": holder_day,
       "loggam_table": loggam_table, "gamma_table": gamma_table, "binomial": binomial, "lanes_poisson": lanes_poisson, "lanes_binomial": lanes_binomial,
       "lanes_gamma": lanes_gamma, "multinomial_row": multinomial_row, "lanes_multinomial": lanes_multinomial,
       "lanes_binomial_rows": lanes_binomial_rows, "_new_generator_list": _new_generator_list,
       "_append_generator": _append_generator}
_DEPENDS = {"holder_day": ("pairwise_sum", "_fmin", "_fmax"),
            "loggam_table": ("random_loggam",),
            "lanes_poisson": ("next_double", "random_loggam"),
            "binomial": ("random_binomial",),
            "multinomial_row": ("binomial",),
            "lanes_binomial": ("binomial",),
            "lanes_binomial_rows": ("binomial",),
            "lanes_gamma": ("random_gamma", "random_standard_normal", "next_double"),
            "lanes_multinomial": ("multinomial_row",),
            "_new_generator_list": ("List",)}
#: numba's own functions a kernel calls, by the module that defines them
_NUMBA = {"next_double": "numba.np.random.generator_core",
          "random_binomial": "numba.np.random.distributions", "random_gamma": "numba.np.random.distributions",
          "random_standard_normal": "numba.np.random.distributions",
          "random_loggam": "numba.np.random.distributions", "List": "numba.typed"}


# ----- a day of the mineral markets ----------------------------------------------------------------------------
# Sections of ``market.markets.MineralMarkets.step``, each one loop over lanes and cells (item, region) or trade
# edges, writing into arrays the markets allocate once. Each has a numpy twin in ``MineralMarkets``
# (``_<section>_numpy``, same arguments) that gives the same bits. Powers (``rel ** el``), exponentials and
# logarithms stay in numpy (its SIMD versions may round differently from the compiled ones); the kernels only add,
# multiply, divide, compare and select. ``np.bincount(bins, w)`` adds each bin's weights in index order, from 0.

def market_ship(slot, keep_share, T, demand, Stot, production, imports, Scn, ship, leak, restricted, from_china,
                e_m, e_x, e_i, tau_e, tau_leak, china, transit, transit_cn, in_transit, avail, cn_share, ship_cn,
                exports, exports_cn, x_prev, asked, scale):
    """Exporters ship what their stock allows (see ``MineralMarkets._ship_numpy`` for the model): per lane,
    cells (I, R) and edges E (item ``e_m``, exporter ``e_x``, importer ``e_i``). Scales ``ship`` and ``leak``
    (lanes, E) in place, puts them on the transit rings (H, lanes, E) and adds them to ``in_transit``; writes
    ``avail``, ``cn_share`` (lanes, I, R), ``ship_cn`` (lanes, E), ``exports``, ``exports_cn`` and ``x_prev``
    (lanes, I, R). ``asked``, ``scale`` (I, R) scratch."""
    n, I, R = T.shape
    E = e_m.shape[0]
    H = transit.shape[0]
    any_leak = False
    for lane in range(n):
        for i in range(I):
            for r in range(R):
                keep = keep_share[i] * T[lane, i, r]
                keep *= demand[lane, i, r]
                a = (Stot[lane, i, r] + production[lane, i, r]) + imports[lane, i, r]
                avail[lane, i, r] = _fmax(a - keep, 0.0)
                s = Stot[lane, i, r]
                c = Scn[lane, i, r] / s if s > 0 else 0.0
                if r == china or c > 1.0 - 1e-9:
                    c = 1.0
                cn_share[lane, i, r] = c
                asked[i, r] = 0.0
        for e in range(E):
            asked[e_m[e], e_x[e]] += ship[lane, e] + leak[lane, e]
        for i in range(I):
            for r in range(R):
                q = asked[i, r]
                scale[i, r] = _fmin(1.0, avail[lane, i, r] / q if q > 0 else 1.0)
                asked[i, r] = 0.0
        for e in range(E):
            f = scale[e_m[e], e_x[e]]
            ship[lane, e] *= f
            leak[lane, e] *= f
            if leak[lane, e] != 0:
                any_leak = True
            cut = restricted[lane, e_m[e], e_i[e]] and not from_china[e]
            asked[e_m[e], e_x[e]] += ship[lane, e] * (1.0 if cut else 0.0)
        for i in range(I):
            for r in range(R):
                q = asked[i, r]
                a = avail[lane, i, r] * (1.0 - cn_share[lane, i, r])
                scale[i, r] = _fmin(1.0, a / q if q > 0 else 1.0)
        for e in range(E):
            m, x = e_m[e], e_x[e]
            cut = restricted[lane, m, e_i[e]] and not from_china[e]
            if cut:
                ship[lane, e] *= scale[m, x]
            s = ship[lane, e]
            ship_cn[lane, e] = s if from_china[e] else (0.0 if cut else s * cn_share[lane, m, x])
    for e in range(E):              # the rings: edge by edge, so that a day's row of an edge is one run of lanes
        row = (slot + tau_e[e]) % H
        for lane in range(n):
            transit[row, lane, e] += ship[lane, e]
            transit_cn[row, lane, e] += ship_cn[lane, e]
        if any_leak:
            row = (slot + tau_leak[e]) % H
            for lane in range(n):
                transit[row, lane, e] += leak[lane, e]
                transit_cn[row, lane, e] += leak[lane, e]
    for lane in range(n):
        for i in range(I):
            for r in range(R):
                exports[lane, i, r] = 0.0
                exports_cn[lane, i, r] = 0.0
        for e in range(E):
            m, x = e_m[e], e_x[e]
            lk = leak[lane, e]
            o = ship[lane, e] + lk
            in_transit[lane, e] += o
            exports[lane, m, x] += o
            exports_cn[lane, m, x] += ship_cn[lane, e] + lk
        for i in range(I):
            for r in range(R):
                x_prev[lane, i, r] = exports[lane, i, r]


def market_stocks(china, Stot, S_new, buy_cn, release, imports_cn, exports_cn, base, consumption, demand, dem_safe,
                  feed, T, parity, P, ref, parity_pass, G, Scn, served, unmet, cover, stock_change, feed_used,
                  held, target, cov, floor, row):
    """Stocks, origin and the inputs of the price step after the holder groups' day (see
    ``MineralMarkets._stocks_numpy`` for the model): per lane and cell (I, R). Updates ``G``, ``Scn`` and
    ``served`` (lanes, I, R) in place; writes the recorded ``unmet``, ``cover``, ``stock_change``, ``feed_used``
    (lanes, I, R), the stock ``held`` and ``target`` (lanes, 2, I), their ratio ``cov`` and China's price
    ``floor`` (lanes, I). ``row`` (R,) scratch."""
    n, I, R = Stot.shape
    for lane in range(n):
        for i in range(I):
            for r in range(R):
                b, s = buy_cn[lane, i, r], release[lane, i, r]
                G[lane, i, r] += b - s
                ct = Scn[lane, i, r] + imports_cn[lane, i, r]
                sh = ct / base[lane, i, r] if base[lane, i, r] > 0 else 0.0
                c = consumption[lane, i, r]
                sn = S_new[lane, i, r]
                x = ct - exports_cn[lane, i, r]
                x -= sh * (c + b)
                Scn[lane, i, r] = sn if r == china else _fmin(_fmax(x, 0.0), sn)
                d = demand[lane, i, r]
                sv = c / dem_safe[lane, i, r] if d > 0 else 1.0
                served[lane, i, r] = sv
                u = d - c
                unmet[lane, i, r] = 0.0 if u <= 1e-9 * d else u
                cover[lane, i, r] = sn / dem_safe[lane, i, r] if d > 0 else 0.0
                stock_change[lane, i, r] = ((sn - Stot[lane, i, r]) + b) - s
                feed_used[lane, i, r] = feed[lane, i, r] * sv
            for r in range(R):
                row[r] = S_new[lane, i, r] if demand[lane, i, r] > 0 else 0.0
            held[lane, 0, i] = S_new[lane, i, china]
            held[lane, 1, i] = pairwise_sum(row, 0, R) - row[china]
            for r in range(R):
                row[r] = T[lane, i, r] * demand[lane, i, r]
            target[lane, 0, i] = row[china]
            target[lane, 1, i] = pairwise_sum(row, 0, R) - row[china]
        big = target[lane, 0, 0]
        for j in range(2):
            for i in range(I):
                t = target[lane, j, i]
                if big == big and (t != t or t > big):
                    big = t
        big = _fmax(big, 1e-300)
        for j in range(2):
            for i in range(I):
                t = target[lane, j, i]
                cov[lane, j, i] = held[lane, j, i] / t if t > 1e-12 * big else 1.0
        for i in range(I):
            nb = parity[lane, i] * P[lane, 1, i]
            nb *= ref[0, i]
            nb /= ref[1, i]
            r0 = ref[0, i]
            floor[lane, i] = r0 + parity_pass[i] * (nb - r0) if nb > r0 else nb


def market_supply(slot, china, e_m, e_x, e_i, transit, transit_cn, in_transit, spot, spot_cn, spot_pipe, ratio, rel,
                  p_dem, p_fin, p_sup, demand_days, final0, L, s_from, s_to, s_max, s_full, s_days, sigma,
                  primary0, extra, cap_now, follow_m, follow_r, follow_on, follow_own, follow_base, restricted_item,
                  cut_below, cut_max, supply_days, Q, served, f_down, f_up, f_ratio, recycling, Stot, G, releasing,
                  short_prev, rel_trigger, cover_trigger, short_trigger, cover_target, release_rate, x_prev,
                  const0, restock_days, imports, imports_cn, spot_in, final, qt, allow, production, feed, demand,
                  dem_safe, cover_now, release, releasing_now, physical, flow_need):
    """Arrivals, demand, production and strategic release of a day (see ``MineralMarkets._supply_numpy`` for
    the model), per lane and cell (I, R): takes today's arrivals off the rings (H, lanes, E) and (H, lanes, I, R)
    and out of ``in_transit``/``spot_pipe``; updates ``L``, ``sigma``, ``Q`` in place; writes ``imports``,
    ``imports_cn``, ``spot_in``, ``final``, ``qt``, ``allow``, ``production``, ``feed``, ``demand``,
    ``dem_safe``, ``cover_now``, ``release``, ``releasing_now``, ``physical`` and ``flow_need`` (lanes, I, R).
    ``p_dem``, ``p_fin``, ``p_sup`` are numpy's powers ``rel ** el`` (lanes, I, R)."""
    n, I, R = L.shape
    E = e_m.shape[0]
    for lane in range(n):
        for i in range(I):
            for r in range(R):
                imports[lane, i, r] = 0.0
                imports_cn[lane, i, r] = 0.0
                physical[lane, i, r] = 0.0
        for e in range(E):
            a = transit[slot, lane, e]
            acn = transit_cn[slot, lane, e]
            transit[slot, lane, e] = 0.0
            transit_cn[slot, lane, e] = 0.0
            in_transit[lane, e] -= a
            imports[lane, e_m[e], e_i[e]] += a
            imports_cn[lane, e_m[e], e_i[e]] += acn
        for e in range(E):
            physical[lane, e_m[e], e_i[e]] += in_transit[lane, e]
        for i in range(I):
            for r in range(R):
                si = spot[slot, lane, i, r]
                spot_in[lane, i, r] = si
                imports[lane, i, r] += si
                imports_cn[lane, i, r] += spot_cn[slot, lane, i, r]
                spot_pipe[lane, i, r] -= si
                spot[slot, lane, i, r] = 0.0
                spot_cn[slot, lane, i, r] = 0.0
                physical[lane, i, r] += spot_pipe[lane, i, r]
                # demand: long-run level L, short-run response, at the price the region faces
                lv = L[lane, i, r]
                lv += (p_dem[lane, i, r] - lv) / demand_days[i]
                L[lane, i, r] = lv
                final[lane, i, r] = (final0[i, r] * lv) * p_fin[lane, i, r]
                qt[lane, i, r] = _fmin(primary0[i, r] * p_sup[lane, i, r] + extra[lane, i, r], cap_now[lane, i, r])
                allow[lane, i, r] = 1.0
                feed[lane, i, r] = 0.0
        for k in range(s_from.shape[0]):
            i, j = s_from[k], s_to[k]
            x = (ratio[lane, 1, i] / ratio[lane, 1, j] - 1.0) / (s_full[k] - 1.0)
            tgt = s_max[k] * _fmin(_fmax(x, 0.0), 1.0)
            for r in range(R):
                sg = sigma[lane, k, r]
                sg += (tgt - sg) / s_days[k]
                sigma[lane, k, r] = sg
                shift = sg * final[lane, i, r]
                final[lane, i, r] -= shift
                final[lane, j, r] += shift
        for f in range(follow_m.shape[0]):
            if follow_on[lane, f]:
                qt[lane, follow_m[f], follow_r[f]] *= follow_own[lane, f] / follow_base[lane, f]
        for i in range(I):
            if restricted_item[lane, i]:
                depth = _fmin(_fmax((cut_below[i] - ratio[lane, 0, i]) / 0.2, 0.0), 1.0)
                cut = depth * cut_max[i]
            else:
                cut = 0.0
            qt[lane, i, china] *= 1.0 - cut
            for r in range(R):
                q = Q[lane, i, r]
                q += (qt[lane, i, r] - q) / supply_days[i]
                Q[lane, i, r] = q
        for k in range(f_down.shape[0]):
            for r in range(R):
                allow[lane, f_down[k], r] = _fmin(allow[lane, f_down[k], r], served[lane, f_up[k], r])
                feed[lane, f_up[k], r] += f_ratio[k] * Q[lane, f_down[k], r]
        for i in range(I):
            for r in range(R):
                prod = Q[lane, i, r] * allow[lane, i, r]
                prod += recycling[i, r]
                production[lane, i, r] = prod
                dm = final[lane, i, r] + feed[lane, i, r]
                demand[lane, i, r] = dm
                ds = _fmax(dm, 1e-300)
                dem_safe[lane, i, r] = ds
                cv = Stot[lane, i, r] / ds
                cover_now[lane, i, r] = cv
                # strategic release: starts on any trigger, stops at half the premium with cover restored
                rl, sh = rel[lane, i, r], short_prev[lane, i, r]
                rt = rel_trigger[i]
                if releasing[lane, i, r]:
                    on = not ((rl < 1.0 + (rt - 1.0) / 2) and (cv >= cover_target[i, r]) and (sh <= 0.0))
                else:
                    on = (rl >= rt) or (cv < cover_trigger[i]) or (sh >= short_trigger[i])
                g = G[lane, i, r]
                on = on and g > 0
                releasing_now[lane, i, r] = on
                rs = _fmin(g, release_rate[i, r]) if on else 0.0
                release[lane, i, r] = rs
                fn = dm - prod
                fn += x_prev[lane, i, r]
                fn += const0[i, r]
                flow_need[lane, i, r] = fn - rs


def market_spot(slot, china, keep_share, p_spot, cover_days, demand, Stot, physical, restock_days, flow_need, out,
                e_m, e_i, avail, spot_cap, cn_share, restricted, spot_tol, spot_on, tau_spot, spot, spot_cn,
                spot_pipe, exports, exports_cn, sold, buy, sell, got, got_cn, sold_cn, trading, bought, row_a, row_b,
                row_c, row_d):
    """The ex-China spot market of a day (see ``MineralMarkets._spot_numpy`` and ``stocks.spot_market`` for the
    model): per lane, item and region. ``p_spot`` is numpy's power ``rel ** −spot_el`` (lanes, I, R). Writes
    spot sales ``sold`` (lanes, I, R); in lanes that bought, puts purchases on the spot rings (H, lanes, I, R)
    and in ``spot_pipe``, sales in ``exports``/``exports_cn``. ``buy`` … ``sold_cn`` (lanes, I, R), ``trading``,
    ``bought`` (lanes,) and ``row_*`` (R,) scratch."""
    n, I, R = demand.shape
    E = e_m.shape[0]
    H = spot.shape[0]
    any_trading = False
    for lane in range(n):
        net = buy[lane]                         # holds net until buy is known
        for i in range(I):
            for r in range(R):
                net[i, r] = 0.0
        for e in range(E):
            net[e_m[e], e_i[e]] += out[lane, e]
        nb, ns = 0, 0
        for i in range(I):
            tol = spot_tol[i, 0]
            for r in range(R):
                des = _fmax(keep_share[i], p_spot[lane, i, r]) * cover_days[i, r]
                des *= demand[lane, i, r]
                x = (des - Stot[lane, i, r]) - physical[lane, i, r]
                x = x / restock_days[i] + flow_need[lane, i, r]
                x -= net[i, r]
                sp = _fmax(avail[lane, i, r] - exports[lane, i, r], 0.0)
                if r == china:
                    x = 0.0
                    sp = 0.0
                b = _fmin(x, spot_cap[i, r])
                b *= 1.0 if b > tol else 0.0
                sl = _fmin(-x, sp)
                sl *= 1.0 if sl > tol else 0.0
                buy[lane, i, r] = b
                sell[lane, i, r] = sl
                if b != 0:
                    nb += 1
                if sl != 0:
                    ns += 1
        trading[lane] = nb > 0 and ns > 0
        any_trading = any_trading or trading[lane]
    any_bought = False
    for lane in range(n):
        nz = False
        for i in range(I):
            if any_trading and trading[lane]:
                for r in range(R):
                    sl, b = sell[lane, i, r], buy[lane, i, r]
                    scn = sl * cn_share[lane, i, r]
                    row_a[r] = scn
                    row_b[r] = sl - scn
                    nr_ = b if restricted[lane, i, r] else 0.0
                    row_c[r] = b - nr_
                    row_d[r] = nr_
                o_cn, o_nc = pairwise_sum(row_a, 0, R), pairwise_sum(row_b, 0, R)
                nu, nr = pairwise_sum(row_c, 0, R), pairwise_sum(row_d, 0, R)
                u_cn = _fmin(nu, o_cn)
                rest_u = nu - u_cn
                den = rest_u + nr
                f = _fmin(1.0, o_nc / den if den > 0 else 0.0)
                share_u_cn = u_cn / nu if nu > 0 else 0.0
                k_cn = u_cn / o_cn if o_cn > 0 else 0.0
                k_nc = (den * f) / o_nc if o_nc > 0 else 0.0
                for r in range(R):
                    nu_r = row_c[r]
                    g_cn = nu_r * share_u_cn
                    g = g_cn + (nu_r - g_cn) * f
                    g += row_d[r] * f
                    s_cn = row_a[r] * k_cn
                    got[lane, i, r] = g
                    got_cn[lane, i, r] = g_cn
                    sold_cn[lane, i, r] = s_cn
                    sold[lane, i, r] = s_cn + row_b[r] * k_nc if spot_on[lane] else 0.0
                    if g != 0:
                        nz = True
            else:
                for r in range(R):
                    got[lane, i, r] = 0.0
                    got_cn[lane, i, r] = 0.0
                    sold_cn[lane, i, r] = 0.0
                    sold[lane, i, r] = 0.0
        bought[lane] = spot_on[lane] and nz
        any_bought = any_bought or bought[lane]
    if not any_bought:
        return
    for lane in range(n):
        for i in range(I):
            row = (slot + tau_spot[i]) % H
            for r in range(R):
                if bought[lane]:
                    g, gc, s, sc = got[lane, i, r], got_cn[lane, i, r], sold[lane, i, r], sold_cn[lane, i, r]
                else:
                    g, gc, s, sc = 0.0, 0.0, 0.0, 0.0
                spot[row, lane, i, r] += g
                spot_cn[row, lane, i, r] += gc
                spot_pipe[lane, i, r] += g
                exports[lane, i, r] += s
                exports_cn[lane, i, r] += sc


def trade_apply(slot, req, demand, share, kind, quota_cap, leak_share, approval, resubmit, alt_w, e_mi, edge_cap,
                busy, queue_live, queue, pending, approved_today, trust, seen_ok, seen_no, ship, leak, refiled, blocked,
                per_imp, applied):
    """The trade rules of a day for every lane (``market.trade.TradeRules.apply``, whose numpy code is the model
    and the reference): orders ``req`` (lanes, E) become direct shipments ``ship`` and leaked ones ``leak`` (lanes,
    E), written here, today's licence applications ``applied`` (at most ``share`` × the importer's ``demand``,
    lanes × items × regions) and the refused applications filed again ``refiled`` (lanes, E; the caller queues
    both). Edge kinds: 0 free, 1 licensing, 2 quota, 3 ban. Every edge carries at most ``edge_cap`` (E) before
    today's approvals; a licence application is re-ordered elsewhere but for the buyers' ``trust`` in the edge's
    licences. Updates ``pending``, ``queue_live``, ``approved_today``,
    today's slot ``slot`` of ``queue`` (lanes, H, E), and ``trust`` with what it is learnt from (``seen_ok``
    approved, ``seen_no`` refused for good; lanes, E) in place.
    ``blocked`` (E), ``per_imp`` (cells) scratch."""
    n, E = req.shape
    R = demand.shape[2]
    for k in range(n):
        for e in range(E):
            approved_today[k, e] = 0.0
            refiled[k, e] = 0.0
            applied[k, e] = 0.0
        if not busy[k]:
            for e in range(E):
                ship[k, e] = _fmin(req[k, e], edge_cap[e])
                leak[k, e] = 0.0
            continue
        any_lic = False
        for e in range(E):                     # licensing: applied for, re-ordered elsewhere; quota and ban: capped
            r = req[k, e]
            kd = kind[k, e]
            if kd == 1:
                c = e_mi[e]
                a = _fmin(r, demand[k, c // R, c % R] * share[e])
                applied[k, e] = a
                pending[k, e] += a
                ship[k, e] = 0.0
                blocked[e] = (r - a) + a * (1.0 - trust[k, e])
                any_lic = True
            elif kd >= 2:
                allowed = _fmin(r, quota_cap[k, e]) if kd == 2 else 0.0
                blocked[e] = r - allowed
                ship[k, e] = allowed
            else:
                ship[k, e] = r
                blocked[e] = 0.0
        if any_lic:
            queue_live[k] = True
        some = False
        for e in range(E):
            lk = leak_share[k, e] * blocked[e]
            if kind[k, e] == 1:
                lk = 0.0
            leak[k, e] = lk
            blocked[e] = blocked[e] - lk       # now what is re-ordered
            if blocked[e] != 0.0:
                some = True
        if some:                               # re-ordered on the importer's other edges by baseline shares
            for c in range(per_imp.size):
                per_imp[c] = 0.0
            for e in range(E):
                per_imp[e_mi[e]] += blocked[e]
            for e in range(E):
                ship[k, e] = ship[k, e] + alt_w[e] * per_imp[e_mi[e]]
        for e in range(E):
            ship[k, e] = _fmin(ship[k, e], edge_cap[e])
        if queue_live[k]:                      # licence decisions due today
            got = False
            for e in range(E):
                if queue[k, slot, e] != 0.0:
                    got = True
            if got:
                for e in range(E):
                    dec = queue[k, slot, e]
                    pending[k, e] = pending[k, e] - dec
                    a = dec * approval[k, e]
                    approved_today[k, e] = a
                    ship[k, e] = ship[k, e] + a
                    refused = dec * (1.0 - approval[k, e])
                    again = refused * resubmit[k, e]
                    refiled[k, e] = again
                    final = refused - again
                    leak[k, e] = leak[k, e] + leak_share[k, e] * final
                    ok = seen_ok[k, e] + a
                    no = seen_no[k, e] + final
                    seen_ok[k, e] = ok
                    seen_no[k, e] = no
                    if ok + no > 0:
                        trust[k, e] = ok / (ok + no)
                    queue[k, slot, e] = 0.0
            else:
                left = False
                for e in range(E):
                    if pending[k, e] != 0.0:
                        left = True
                if not left:
                    queue_live[k] = False


def market_record(dst, ci, cr, arrays):
    """Today's values of the recorded (item, region) cells into the recorder's row: ``dst`` (lanes, metrics,
    cells) a view of the row, ``arrays`` the metrics' (lanes, I, R) arrays in order, ``ci`` and ``cr`` the item
    and region of each recorded cell. Only copies: ``dst[:, j, k] = arrays[j][:, ci[k], cr[k]]``."""
    n, J, K = dst.shape
    for lane in range(n):
        for j in range(J):
            a = arrays[j]
            for k in range(K):
                dst[lane, j, k] = a[lane, ci[k], cr[k]]


def market_flows(china, production, imports, release, exports, buy_cn, Stot, imports_cn, inflow, outflow, base,
                 cn_in, nc_in):
    """The day's flows into and out of users' stocks per (lane, item, region) (``MineralMarkets.step``, whose
    numpy lines are the twin): ``inflow`` production + imports + release, ``outflow`` exports + reserve buying
    ``buy_cn``, ``base`` = ``Stot`` + inflow, Chinese-origin arrivals ``cn_in`` (imports of Chinese origin, and
    in China its production and release too) and the rest ``nc_in`` = inflow − cn_in."""
    n, I, R = production.shape
    for l in range(n):
        for m in range(I):
            for r in range(R):
                x = production[l, m, r] + imports[l, m, r]
                x += release[l, m, r]
                inflow[l, m, r] = x
                outflow[l, m, r] = exports[l, m, r] + buy_cn[l, m, r]
                base[l, m, r] = Stot[l, m, r] + x
                c = imports_cn[l, m, r]
                if r == china:
                    c += production[l, m, r] + release[l, m, r]
                cn_in[l, m, r] = c
                nc_in[l, m, r] = x - c


def market_reserve(china, ratio, restricted, below, rate, production, Stot, buy_cn):
    """China's state reserve purchases of the day into ``buy_cn[:, :, china]`` (``market.prices.
    reserve_purchases``, the numpy twin): where an export restriction on the item is in force, the depth of
    China's price ratio ``ratio[:, 0]`` below ``below`` over 0.1, clipped to [0, 1], × ``rate`` × Chinese
    production, at most a tenth of China's stock on hand (``Stot``, at least 0); 0 elsewhere."""
    n, I = restricted.shape
    for l in range(n):
        for m in range(I):
            if restricted[l, m]:
                depth = _fmin(_fmax((below[m] - ratio[l, 0, m]) / 0.1, 0.0), 1.0)
                buy = depth * rate[m] * production[l, m, china]
            else:
                buy = 0.0
            buy_cn[l, m, china] = _fmin(buy, 0.1 * _fmax(Stot[l, m, china], 0.0))


def market_short(short_share, unmet, demand, short_seen, exhausted, first, new):
    """Which (lane, item, region) cells start to run short today (``MineralMarkets._short_events``, whose numpy
    lines are the twin): ``first`` where some users are short (``short_share`` > 0) for the first time, ``new``
    where unmet demand exceeds 1e-6 of demand and did not yesterday; then marks them in ``short_seen`` and
    ``exhausted`` (short today). Returns whether any cell is ``first`` or ``new``."""
    n, I, R = unmet.shape
    hit = False
    for l in range(n):
        for m in range(I):
            for r in range(R):
                f = short_share[l, m, r] > 0 and not short_seen[l, m, r]
                s = unmet[l, m, r] > 1e-6 * demand[l, m, r]
                w = s and not exhausted[l, m, r]
                first[l, m, r] = f
                new[l, m, r] = w
                hit = hit or f or w
                if f:
                    short_seen[l, m, r] = True
                if s:
                    exhausted[l, m, r] = True
    return hit


def market_price(powd, ref, ceiling, floor_cn, inv_tau, P):
    """``market.prices.price_step`` (the numpy twin) after its power: ``powd`` = max(cover ratio, 1e-9) ** −α
    (lanes, 2, I), computed by numpy, times today's reference ``ref`` (2, I) is the indicated price, at most
    ``ceiling`` × the reference, in China at least its export-parity floor ``floor_cn`` (lanes, I); prices
    ``P`` (lanes, 2, I) move a ``inv_tau`` share of the way to it."""
    n, S, I = P.shape
    for l in range(n):
        for s in range(S):
            for i in range(I):
                x = powd[l, s, i] * ref[s, i]
                x = _fmin(x, ceiling[i] * ref[s, i])
                if s == 0:
                    x = _fmax(x, floor_cn[l, i])
                P[l, s, i] += (x - P[l, s, i]) * inv_tau[i]


_PY.update({"market_ship": market_ship, "market_record": market_record,
            "market_stocks": market_stocks, "market_supply": market_supply,
            "market_spot": market_spot, "trade_apply": trade_apply, "market_flows": market_flows,
            "market_reserve": market_reserve, "market_short": market_short, "market_price": market_price})
_DEPENDS.update({"market_ship": ("_fmin", "_fmax"),
                 "market_stocks": ("_fmin", "_fmax", "pairwise_sum"),
                 "market_supply": ("_fmin", "_fmax"),
                 "market_spot": ("_fmin", "_fmax", "pairwise_sum"),
                 "trade_apply": ("_fmin",), "market_reserve": ("_fmin", "_fmax"),
                 "market_price": ("_fmin", "_fmax")})


# ----- the fab fleets: orders to domestic substitutes -----------------------------------------------------------

def _order_substitutes(ring_deliv, row, sub_of_group, groups):
    """Tools ordered per (lane, tool group), ``groups``, added to the deliveries due in ``row`` of ``ring_deliv``
    at each group's domestic substitute cohort (``ring_deliv[row][:, sub_of_group] += groups`` in numpy)."""
    for lane in range(groups.shape[0]):
        for g in range(groups.shape[1]):
            ring_deliv[row, lane, sub_of_group[g]] += groups[lane, g]


# ----- failures short of parts in the fab fleets ---------------------------------------------------------------
# ``fabs.FabFleets`` under a parts cut: :meth:`fab_parts.PartsLedger.failures` then ``FabFleets._shortfall``
# (their numpy code is the twin), as one loop over the (lane, cohort) pairs whose parts flow is cut. Each kind of
# draw has its own stream, so drawing a pair's four kinds together consumes each stream exactly as the numpy code
# does kind by kind: per lane, the pairs in order, and no draw where the count is 0.

def fab_parts_day(fails, active, learn, pc, bounds, p_fix, p_mod, tp_module, tp_avail, stock2, refurb0,
                  refurb_best, refurb_ring, refurb_row, in_refurb, retire_share, cannibal, fleet, s_rep, dom_sub,
                  g_idx, sub_of_group, ring_deliv, row_foreign, row_dom, waiting, wait_p, ring_back, back_rows,
                  retired_any, exhausted, g_oem, g_refurb, g_retire, g_wait, hit_l, hit_c, swaps, short_k, ret_out,
                  subs, cnt, back):
    """Failures needing a part at the cut (lane, cohort) pairs, in place: lane ``l``'s are its cohorts
    ``pc[bounds[l]:bounds[l + 1]]``. In order: the part each failure needs (multinomial over locked item,
    third-party module, pool module, none; ``p_fix`` holds the fixed columns 0 and 3, ``p_mod`` the module share
    that columns 1 and 2 split by ``tp_module × tp_avail``), at most one part per active tool, parts from
    ``stock2`` (locked items, pool modules), pool modules to refurbishment (back in ``refurb_row`` if they can be
    saved: binomial with the skill ``learn``), then failures short of a part: some retired and cannibalised
    (replacements ordered: foreign, or for the replaced share domestic substitutes into ``subs`` (lanes, groups),
    added after every pair), the others wait for a part (``wait_p`` over the rows ``back_rows`` of
    ``ring_back``). Fills ``hit_l``, ``hit_c``, ``swaps`` at the pairs where some failure needs a part, and
    ``short_k`` (index into those) and ``ret_out`` (tools retired) at the pairs short of one. Returns the two
    counts and the number of short pairs whose events are due: a tool retired for the first time, or spares
    run out for the first time."""
    n_hit = 0
    n_short = 0
    n_new = 0
    any_subs = False
    for lane in range(bounds.size - 1):
        got_back = 0.0
        oem, refurb = g_oem[lane].bit_generator, g_refurb[lane].bit_generator
        retire, parts_wait = g_retire[lane].bit_generator, g_wait[lane].bit_generator
        for k in range(bounds[lane], bounds[lane + 1]):
            c = pc[k]
            p_fix[k, 1] = p_mod[k] * (tp_module * tp_avail[lane, c])
            p_fix[k, 2] = p_mod[k] - p_fix[k, 1]
            multinomial_row(oem, fails[lane, c], p_fix[k], cnt)
            need = cnt[0] + cnt[1] + cnt[2]
            if need == 0:
                continue
            over = need - active[lane, c]
            for r in (2, 1, 0):                       # a tool can go down for parts only once
                cut = min(max(over, 0), cnt[r])
                cnt[r] -= cut
                over -= cut
            u0 = min(cnt[0], np.int64(np.floor(stock2[0, lane, c] + 1e-9)))
            u1 = min(cnt[2], np.int64(np.floor(stock2[1, lane, c] + 1e-9)))
            stock2[0, lane, c] = stock2[0, lane, c] - u0
            stock2[1, lane, c] = stock2[1, lane, c] - u1
            short = (cnt[0] - u0) + (cnt[2] - u1)
            hit_l[n_hit] = lane
            hit_c[n_hit] = c
            swaps[n_hit] = u1 + cnt[1]
            if u1 > 0:
                ok = binomial(refurb, u1, refurb_best - (refurb_best - refurb0) * learn[lane, c])
                refurb_ring[refurb_row, lane, c] += ok
                got_back += ok
            if short > 0:
                fails[lane, c] -= short
                ret = binomial(retire, short, retire_share)
                wait = short - ret
                if ret > 0:
                    fleet[lane, c] -= ret
                    stock2[0, lane, c] += ret * cannibal
                    stock2[1, lane, c] += ret * cannibal
                    ring_deliv[row_foreign, lane, c] += ret * (1.0 - s_rep[lane, c])
                    w = ret * s_rep[lane, c] * dom_sub[c]
                    subs[lane, g_idx[c]] += w
                    any_subs = any_subs or w != 0.0
                if wait > 0:
                    waiting[lane, c] += wait
                    multinomial_row(parts_wait, wait, wait_p, back)
                    for j in range(back.size):
                        ring_back[back_rows[j], lane, c] += back[j]
                if (ret > 0 and not retired_any[lane, c]) or not exhausted[lane, c]:
                    n_new += 1
                short_k[n_short] = n_hit
                ret_out[n_short] = ret
                n_short += 1
            n_hit += 1
        in_refurb[lane] += got_back
    if any_subs:
        _order_substitutes(ring_deliv, row_dom, sub_of_group, subs)
    return n_hit, n_short, n_new


_PY.update({"_order_substitutes": _order_substitutes, "fab_parts_day": fab_parts_day})
_DEPENDS["fab_parts_day"] = ("multinomial_row", "binomial", "_order_substitutes")


# ----- the fab fleets' day of tool-time ------------------------------------------------------------------------
# ``fabs.FabFleets._account`` (its numpy code is the twin): booking each cohort's tool-day into SEMI E10 states
# and summing them per group, then output per fab and the group series.

def fab_account_states(elig, phi, down_v, down_l, fleet, installing, waiting, q, sw, kit_q, g_idx, S, SG):
    """The states of every (lane, cohort) into ``S`` (lanes, 7, cohorts): fleet, installing, productive up
    time, preventive maintenance (``elig × phi``), repairs by the fab (``down_l``), by the vendor or waiting
    for a part (``down_v + waiting``), and up time × throughput factor (``q × sw × kit_q``), tool-days. Repair
    time booked beyond the day's room (``elig − pm``) anywhere scales every cohort's repairs by
    ``min(1, room / over)`` (1 where it fits), ``down_v`` and ``down_l`` in place. Their sums per group
    (``g_idx``: each cohort's) into ``SG`` (lanes, 7, groups): from 0, cohort after cohort (``fabs.group_sums``)."""
    L, C = elig.shape
    SG[:] = 0.0
    capped = False
    for l in range(L):
        for c in range(C):
            e = np.float64(elig[l, c])
            if down_v[l, c] + down_l[l, c] > e - e * phi[c]:
                capped = True
    for l in range(L):
        for c in range(C):
            e = np.float64(elig[l, c])
            pm = e * phi[c]
            room = e - pm
            dv = down_v[l, c]
            dl = down_l[l, c]
            if capped:
                f = _fmin(1.0, room / _fmax(dv + dl, 1e-12))
                dv *= f
                dl *= f
                down_v[l, c] = dv
                down_l[l, c] = dl
            up = room - (dv + dl)
            S[l, 0, c] = fleet[l, c]
            S[l, 1, c] = installing[l, c]
            S[l, 2, c] = up
            S[l, 3, c] = pm
            S[l, 4, c] = dl
            S[l, 5, c] = dv + np.float64(waiting[l, c])
            factor = q[l, c] * sw[l, c]
            factor *= kit_q[l, c]
            S[l, 6, c] = up * factor
            g = g_idx[c]
            for k in range(7):
                SG[l, k, g] += S[l, k, c]


def fab_account_output(SG, wpt_net, fab_starts, planned, capacity, line_yield, fab_of_group, eng, v_out, v_cap,
                       v_good, g):
    """From the group sums ``SG`` (lanes, 7, groups): each fab's output (the least of its groups' effective
    supply ``SG[:, 6] × wpt_net``, and its plan) into ``v_out``, its capacity and good output, and per group
    (``g``, lanes × 9 × groups) availability (NaN with no tool scheduled), fleet, productive and idle capacity
    (the output's share of supply), engineering time, PM, repairs by the fab and by the vendor, tools
    installing."""
    L = SG.shape[0]
    G = SG.shape[2]
    F = fab_starts.size
    for l in range(L):
        for f in range(F):
            a = fab_starts[f]
            b = fab_starts[f + 1] if f + 1 < F else G
            pot = SG[l, 6, a] * wpt_net[a]
            for j in range(a + 1, b):
                pot = _fmin(pot, SG[l, 6, j] * wpt_net[j])
            o = _fmin(planned[f], pot)
            v_out[l, f] = o
            v_cap[l, f] = capacity[f]
            v_good[l, f] = o * line_yield[f]
        for j in range(G):
            fleet_g = SG[l, 0, j]
            inst_g = SG[l, 1, j]
            up_g = SG[l, 2, j]
            use = _fmin(v_out[l, fab_of_group[j]] / _fmax(SG[l, 6, j] * wpt_net[j], 1e-12), 1.0)
            sched = fleet_g - inst_g
            g[l, 0, j] = up_g / sched if sched > 0 else np.nan
            g[l, 1, j] = fleet_g
            prod_cap = up_g * (1.0 - eng)
            busy = prod_cap * use
            g[l, 2, j] = busy
            g[l, 3, j] = prod_cap - busy
            g[l, 4, j] = up_g * eng
            g[l, 5, j] = SG[l, 3, j]
            g[l, 6, j] = SG[l, 4, j]
            g[l, 7, j] = SG[l, 5, j]
            g[l, 8, j] = inst_g


_PY.update({"fab_account_states": fab_account_states, "fab_account_output": fab_account_output})
_DEPENDS.update({"fab_account_states": ("_fmin", "_fmax"), "fab_account_output": ("_fmin", "_fmax")})


# ----- the fab fleets' arrivals ---------------------------------------------------------------------------------
# ``fabs.FabFleets._arrivals`` up to the substitutes' learning (its numpy code is the twin).

def fab_arrivals(table, lane_table, row, any_exp, s_exp, dom_sub, deliv_factor, g_idx, sub_of_group, groups,
                 ring_deliv, row_now, row_dom, carry, fleet, installing, ring_qual, q_now, q_later, waiting,
                 ring_back, b_now, deliv):
    """One day's tools arriving in every lane, in place: the tools ordered for today (``table[lane_table[l],
    row]``, per cohort), of which with a stopped expansion flow (``any_exp``) the share ``s_exp × dom_sub`` is
    ordered from the group's domestic substitute instead (summed per group in cohort order into ``groups``, due
    in ``row_dom`` of ``ring_deliv``; added in every lane if some lane has any) and the rest scaled by
    ``deliv_factor``; today's deliveries (row ``row_now``) made whole tools with the remainder carried
    (``carry``), into ``deliv`` (lanes, cohorts); added to the fleet and to qualification (out in row
    ``q_later`` of ``ring_qual``) while the tools of row ``q_now`` finish it; tools back from a parts wait (row
    ``b_now`` of ``ring_back``) leave the waiting. Rows read today are zeroed."""
    L, C = fleet.shape
    G = groups.shape[1]
    if any_exp:
        blocked_any = False
        for l in range(L):
            for j in range(G):
                groups[l, j] = 0.0
            t = lane_table[l]
            for c in range(C):
                b = table[t, row, c] * s_exp[l, c]
                b *= dom_sub[c]
                groups[l, g_idx[c]] += b
                if b != 0.0:
                    blocked_any = True
        if blocked_any:
            _order_substitutes(ring_deliv, row_dom, sub_of_group, groups)
    for l in range(L):
        t = lane_table[l]
        for c in range(C):
            grow = table[t, row, c]
            if any_exp:
                grow = grow * deliv_factor[l, c]
            x = ring_deliv[row_now, l, c] + grow
            ring_deliv[row_now, l, c] = 0.0
            cy = carry[l, c] + x
            n = np.floor(cy + 1e-9)
            carry[l, c] = cy - n
            d = np.int64(n)
            deliv[l, c] = d
            fleet[l, c] += d
            installing[l, c] += d
            installing[l, c] -= ring_qual[q_now, l, c]
            ring_qual[q_now, l, c] = 0
            ring_qual[q_later, l, c] += d
            waiting[l, c] -= ring_back[b_now, l, c]
            ring_back[b_now, l, c] = 0


_PY["fab_arrivals"] = fab_arrivals


def fab_sub_cum(deliv, sub_cols, cum_sub, lanes, cum):
    """The substitutes' cumulative deliveries (``FabFleets._substitutes_learn``, whose numpy lines are the twin):
    in each lane that received some of its substitute cohorts ``sub_cols`` today (``deliv``, lanes × cohorts),
    adds them to ``cum_sub`` and lists the lane in ``lanes`` and its new totals in the same row of ``cum``
    (lanes × substitutes). Returns the number of such lanes."""
    L = deliv.shape[0]
    k = 0
    for l in range(L):
        got = False
        for j in range(sub_cols.size):
            if deliv[l, sub_cols[j]] != 0:
                got = True
                break
        if not got:
            continue
        for j in range(sub_cols.size):
            c = sub_cols[j]
            x = cum_sub[l, c] + deliv[l, c]
            cum_sub[l, c] = x
            cum[k, j] = x
        lanes[k] = l
        k += 1
    return k


def fab_sub_set(q, lanes, sub_cols, vals):
    """``q[lanes[j], sub_cols] = vals[j]`` for each row ``j`` of ``vals``."""
    for j in range(vals.shape[0]):
        for i in range(sub_cols.size):
            q[lanes[j], sub_cols[i]] = vals[j, i]


_PY.update({"fab_sub_cum": fab_sub_cum, "fab_sub_set": fab_sub_set})
_DEPENDS["fab_arrivals"] = ("_order_substitutes",)


# ----- the fab fleets' failure hazard ---------------------------------------------------------------------------
# ``fabs.FabFleets._pm_deficit`` (with ``fab_parts.PartsLedger.pm_kits``) and ``_failure_rate`` in a lane under a
# cut, to the day's expected failures (their numpy code is the twin).

def fab_hazard(learn, c_pm, has_part, decay, decay_day, tp_max, tp_b, tp_avail, s_parts, active, pm_interval,
               kits, kit_penalty, kit_yield_loss, kit_q, e_pm, inv_pmi, mtbf, hazard_max, mttr_cut, c_mttr_serv,
               rate_num, lam):
    """Expected failures per (lane, cohort) today into ``lam``, tools × failures per tool-day. The share of PM
    not done properly (``c_pm × learn``; with a parts cut, ``has_part``, plus PM events without a kit from the
    stock ``kits`` and the third-party kit share × ``kit_penalty``; at most 1) moves the PM debt ``e_pm`` toward
    it over one PM interval; the hazard rises with the debt to ``hazard_max`` × the baseline (MTBF ``mtbf``,
    hours) and the repair cycle is longer by ``mttr_cut + c_mttr_serv × learn`` hours. In place: ``e_pm``, and
    with a parts cut the kit stock, the third-party kits' running decay and availability ``tp_avail`` and the
    kit yield factor ``kit_q``."""
    L, C = lam.shape
    hm1 = hazard_max - 1.0
    for l in range(L):
        for c in range(C):
            d = c_pm[l, c] * learn[l, c]
            if has_part:
                dec = decay[l, c] * decay_day[l, c]
                decay[l, c] = dec
                ta = tp_max[c] - tp_b[c] * dec
                tp_avail[l, c] = ta
                tp = ta * s_parts[l, c]
                events = np.float64(active[l, c]) / pm_interval[c]
                need = events * (s_parts[l, c] - tp)
                used = _fmin(need, kits[l, c])
                kits[l, c] -= used
                need -= used
                d += need / _fmax(events, 1e-12)
                d += tp * kit_penalty
                kit_q[l, c] = 1.0 - kit_yield_loss * tp
            d = _fmin(d, 1.0)
            step = d - e_pm[l, c]
            step *= inv_pmi[c]
            e = e_pm[l, c] + step
            e_pm[l, c] = e
            up_h = mtbf[c] / (1.0 + hm1 * e)
            up_h += mttr_cut[l, c]
            up_h += c_mttr_serv[l, c] * learn[l, c]
            lam[l, c] = np.float64(active[l, c]) * (rate_num[c] / up_h)


_PY["fab_hazard"] = fab_hazard
_DEPENDS["fab_hazard"] = ("_fmin", "_fmax")


def fab_cut_repairs(g_local, g_repair, fails, share, cum_local, add_cum, c_loc_d, learn, mttr_d, width, uncut,
                    shape, scale, down, gamma_consts):
    """The repairs of a day with some lane under a cut (``FabFleets._cut_failures`` after its parts step, whose
    numpy code is the twin): local repairs (lane by lane, binomial of the failures with the stopped service
    ``share`` where it is above 0, from ``g_local``) into ``shape[:, C:]`` and, with ``add_cum``, the
    cumulative local repairs; the vendor repairs ``fails`` − local into ``shape[:, :C]``; local repair days
    ``c_loc_d × learn + mttr_d`` into ``scale[:, C:]``; then repair tool-days, gamma of ``shape`` and ``scale``
    over the first ``width[l]`` columns of each lane from ``g_repair`` (``gamma_consts``: :func:`gamma_table`),
    into ``down``, whose local half is 0 in the ``uncut`` lanes."""
    L, C = fails.shape
    local = shape[:, C:]
    local[:] = 0.0
    lanes_binomial(g_local, fails, share, local)
    for l in range(L):
        for i in range(C):
            if add_cum:
                cum_local[l, i] += shape[l, C + i]
            shape[l, i] = fails[l, i] - shape[l, C + i]
            x = c_loc_d[i] * learn[l, i]
            x += mttr_d[i]
            scale[l, C + i] = x
    lanes_gamma(g_repair, shape, scale, width, down, gamma_consts)
    for u in uncut:
        for i in range(C):
            down[u, C + i] = 0.0


_PY["fab_cut_repairs"] = fab_cut_repairs
_DEPENDS["fab_cut_repairs"] = ("lanes_binomial", "lanes_gamma")


# ----- the economy's input-output day (ARIO) --------------------------------------------------------------------
# ``io_model.ARIO.step_runs`` before and after its one BLAS product (the products' receipts), with the inventory
# limit of ψ × target days covering the physical one (the numpy code is the twin, and runs otherwise).

def ario_serve(orders, y, alpha, capacity, x0, x0_pos, x0_safe, ZS, psi_days_z, inv, need, x_a, demand,
               shortage):
    """Production and distribution of one day for every run (leading axis): demand (yesterday's orders to each
    cell, summed in numpy's order, + final demand), production at the least of demand, capacity × α and what
    the input stocks allow (``need`` per product at that output into ``need``), into ``x_a``; each cell serves
    its own orders to itself first and every other client the same share (``shortage``: 1 − that share).
    ``orders`` (runs × sellers × buyers) becomes what each buyer receives, in place."""
    k, n = x_a.shape
    ns = ZS.shape[0]
    for r in range(k):
        for j in range(n):
            dem = pairwise_sum(orders[r, j], 0, n) + y[j]
            demand[r, j] = dem
            xc = alpha[r, j] * capacity[r, j]
            xc *= x0[j]
            xo = _fmin(dem, xc)
            ratio0 = xo / x0_safe[j] if x0_pos[j] else 0.0
            lim = np.inf
            for s in range(ns):
                nd = ZS[s, j] * ratio0
                need[r, s, j] = nd
                cons = psi_days_z[s, j] * nd
                v = inv[r, s, j] / cons if cons > 0 else np.inf
                lim = v if s == 0 else _fmin(lim, v)
            factor = _fmax(_fmin(1.0, lim), 0.0)
            x_a[r, j] = xo * factor if factor < 1.0 else xo
        for i in range(n):
            own = orders[r, i, i]
            own_served = _fmin(own, x_a[r, i])
            rest = demand[r, i] - own
            served = _fmin(1.0, (x_a[r, i] - own_served) / rest) if rest > 0 else 1.0
            shortage[r, i] = 1.0 - served
            if served != 1.0:
                for j in range(n):
                    orders[r, i, j] *= served
            orders[r, i, i] = own_served


def ario_restock(recv_g, x_a, x0_pos, x0_safe, ZS, finite, inv, goal_days_z, need, tau_inventory, zs_pos, zs_safe,
                 Z4, orders, demand, alpha, alpha_max, tau_alpha):
    """After the receipts per product ``recv_g`` (runs × products × cells): input stocks (``inv``, in place)
    gain receipts and lose what today's output used; tomorrow's orders (into ``orders``, in the table's
    supplier shares) replace what was used plus 1/τ of the gap to target stocks at today's planned output; with
    ``alpha_max`` > 1 the overproduction factors ``alpha`` move toward it where demand went unserved, back to 1
    elsewhere."""
    k, n = x_a.shape
    ns = ZS.shape[0]
    R = Z4.shape[0]
    for r in range(k):
        for j in range(n):
            ratio = x_a[r, j] / x0_safe[j] if x0_pos[j] else 0.0
            for s in range(ns):
                used = ZS[s, j] * ratio
                iv = inv[r, s, j] + (recv_g[r, s, j] - used) if finite[s, j] else 0.0
                inv[r, s, j] = iv
                gap = goal_days_z[s, j] * need[r, s, j]
                gap -= iv
                gap = _fmax(0.0, gap)
                total = used + gap / tau_inventory
                sc = total / zs_safe[s, j] if zs_pos[s, j] else 0.0
                for g in range(R):
                    orders[r, g * ns + s, j] = Z4[g, s, j] * sc
            if alpha_max > 1.0:
                dem = demand[r, j]
                scarce = (dem - x_a[r, j]) / dem if dem > 0 else 0.0
                a = alpha[r, j]
                alpha[r, j] = a + (alpha_max - a) * scarce / tau_alpha if scarce > 0 else a + (1.0 - a) / tau_alpha


_PY.update({"ario_serve": ario_serve, "ario_restock": ario_restock})
_DEPENDS.update({"ario_serve": ("pairwise_sum", "_fmin", "_fmax"), "ario_restock": ("_fmax",)})


# ----- alternative supply projects ------------------------------------------------------------------------------
# ``market.supply.Projects.step`` (its numpy code is the twin): the price signal, and the capacity online.

def projects_signal(waiting, p_smooth, p_ex, smoothing, p_m, p_cost, prem_ref, streak, persist, new):
    """Where some lane still has projects waiting: its smoothed ex-China price per item (``p_smooth``, in
    place) follows today's ``p_ex`` by 1/``smoothing``, and each project's run of days with the smoothed price
    above its long-run cost and above ``prem_ref`` (premium × reference) grows or resets (``streak``); a waiting
    project whose run reached ``persist`` days starts (``new`` True, no longer ``waiting``). Returns the number
    started (``new`` False in lanes with none waiting)."""
    n, N = waiting.shape
    I = p_smooth.shape[1]
    count = 0
    for l in range(n):
        on = False
        for k in range(N):
            if waiting[l, k]:
                on = True
                break
        if not on:
            for k in range(N):
                new[l, k] = False
            continue
        for i in range(I):
            p_smooth[l, i] = p_smooth[l, i] + (p_ex[l, i] - p_smooth[l, i]) / smoothing[i]
        for k in range(N):
            sm = p_smooth[l, p_m[k]]
            above = 1.0 if (sm > p_cost[k] and sm > prem_ref[k]) else 0.0
            st = (streak[l, k] + 1.0) * above
            streak[l, k] = st
            go = waiting[l, k] and st >= persist[k]
            new[l, k] = go
            if go:
                waiting[l, k] = False
                count += 1
    return count


def projects_capacity(frac, day, t_on, online, came, cap_day, cap_year, p_cell, p_m, extra, newcap):
    """Started projects whose lead time is over (``day >= t_on``) come online (``online``; those of today in
    ``came``, their number returned), and the capacity online today (``frac[lane, project, day]`` of each one's
    capacity), summed per lane in project order: per day into ``extra`` (lanes, cells) and per year into
    ``newcap`` (lanes, items)."""
    n, N = frac.shape[0], frac.shape[1]
    count = 0
    for l in range(n):
        for k in range(N):
            c = day >= t_on[l, k] and not online[l, k]
            came[l, k] = c
            if c:
                online[l, k] = True
                count += 1
            f = frac[l, k, day]
            extra[l, p_cell[k]] += f * cap_day[k]
            newcap[l, p_m[k]] += f * cap_year[k]
    return count


_PY.update({"projects_signal": projects_signal, "projects_capacity": projects_capacity})


# ----- the economy's direct losses ------------------------------------------------------------------------------

def economy_direct(v, kind, s_unit, b_unit, b_plan, cell, lost):
    """Direct output lost per shocked lane and table cell today into ``lost`` (lanes, cells; zeros in),
    ``economy.Economy.direct_losses`` (its numpy code is the twin): per feed and lane, from ``v`` (feeds, lanes,
    4: the scenario's output and plan, the baseline's output and plan), the scenario's shortfall against its
    plan beyond the baseline's (``kind`` 2) or the baseline's output beyond the scenario's (``kind`` 1), where
    positive and finite; feeds of one cell added in feed order."""
    F, L = kind.shape
    for i in range(F):
        for l in range(L):
            k = kind[i, l]
            if k == 0:
                continue
            s_out = v[i, l, 0]
            b_out = v[i, l, 2]
            if k == 1:
                loss = b_out - s_out
            else:
                s_short = v[i, l, 1] * s_unit[i, l] - s_out
                if not np.isfinite(s_short):
                    s_short = 0.0
                b_short = v[i, l, 3] * b_unit[i, l] - b_out
                if not (b_plan[i, l] and np.isfinite(b_short)):
                    b_short = 0.0
                loss = s_short - b_short
            if np.isfinite(loss) and loss > 0:      # (numpy adds 0.0 elsewhere: no bit changes)
                lost[l, cell[i]] += loss


_PY["economy_direct"] = economy_direct


def economy_capacity(lost, x0, out):
    """Productive capacity of each started lane's table cells (``economy.Economy._run``, whose numpy line is the
    twin): 1 − direct loss ``lost`` / equilibrium output ``x0`` (0 loss where ``x0`` is 0), within [0, 1]."""
    k, c = lost.shape
    for j in range(k):
        for i in range(c):
            v = lost[j, i] / x0[i] if x0[i] > 0 else 0.0
            out[j, i] = _fmin(_fmax(1.0 - v, 0.0), 1.0)


def economy_record(va0, va_coeff, x, active, gdp0, cells_row, regional_row, va):
    """A day of the started lanes' economy records (``economy.Economy._run``'s numpy lines are the twin): value
    added lost per cell, ``va0`` − ``va_coeff`` × output ``x`` (started lanes × cells), into ``cells_row`` at
    the lanes ``active``; per region (cells region-major) the loss summed over its sectors as numpy sums,
    and GDP, loss and loss in % of ``gdp0`` into ``regional_row`` (3 per region). ``va`` is scratch (cells)."""
    k, c = x.shape
    nr = gdp0.size
    ns = c // nr
    for j in range(k):
        lane = active[j]
        for i in range(c):
            v = va0[i] - va_coeff[i] * x[j, i]
            va[i] = v
            cells_row[lane, i] = v
        for r in range(nr):
            loss = pairwise_sum(va, r * ns, ns)
            regional_row[lane, 3 * r] = gdp0[r] - loss
            regional_row[lane, 3 * r + 1] = loss
            regional_row[lane, 3 * r + 2] = loss / gdp0[r] * 100.0


_PY.update({"economy_capacity": economy_capacity, "economy_record": economy_record})
_DEPENDS.update({"economy_capacity": ("_fmin", "_fmax"), "economy_record": ("pairwise_sum",)})


# ----- the mineral markets' orders ------------------------------------------------------------------------------

def market_orders(T, demand, Stot, physical, with_pending, pending, trust, lic_wait, e_mi, restock_days, flow_need,
                  share, cell, req):
    """Orders of one day per lane and edge into ``req`` (``market.markets.MineralMarkets._orders`` before the
    trade rules; its numpy code is the twin): each importing cell's gap to target cover (``T × demand``, less
    its stock, what is in transit and, ``with_pending``, licences pending on its edges beyond the desired pipeline
    ``lic_wait`` × share × flow need, times the buyers' ``trust`` in them, summed in edge order),
    closed over ``restock_days`` on top of today's flow need, at least 0, split over its edges by the baseline
    shares ``share``. ``cell`` is scratch (items × regions)."""
    n, I, R = T.shape
    E = e_mi.size
    for l in range(n):
        for c in range(I * R):
            cell[c] = 0.0
        if with_pending:
            for e in range(E):
                c = e_mi[e]
                fn = _fmax(flow_need[l, c // R, c % R], 0.0)
                cell[c] += trust[l, e] * (pending[l, e] - lic_wait[l, e] * share[e] * fn)
        for i in range(I):
            for r in range(R):
                w = T[l, i, r] * demand[l, i, r] - Stot[l, i, r] - physical[l, i, r]
                if with_pending:
                    w = w - cell[i * R + r]
                w = w / restock_days[i] + flow_need[l, i, r]
                cell[i * R + r] = _fmax(w, 0.0)
        for e in range(E):
            req[l, e] = cell[e_mi[e]] * share[e]


_PY["market_orders"] = market_orders
_DEPENDS["market_orders"] = ("_fmax",)


# ----- downstream industries ------------------------------------------------------------------------------------

def _allowance(vals, rows, one_minus_d, d, j, s, l):
    """Share of planned output input slot ``j`` of sector ``s`` allows in lane ``l``: ``(1 − d) + d × served``,
    ``served = fmin(consumption ÷ demand, 1)`` where demand is positive, else 1."""
    dem = vals[rows[1, j, s], l]
    served = 1.0
    if dem > 0:
        x = vals[rows[0, j, s], l] / dem
        served = x if x < 1.0 else 1.0
    return one_minus_d[j, s] + d[j, s] * served


def industry_day(vals, rows, one_minus_d, d, limit, cost_share, priced, p0, price_slots, planned, value, const,
                 lim_j, lim_s, chip_rows, chip_values, take, out, allow, binding, stopped, buf):
    """One day of every sector in every lane (``industries.Industries.step``; its numpy code is the twin), from
    the day's upstream readings ``vals`` (series, lanes; ``rows`` (4, slots, sectors): consumption, demand,
    users' short share, ex-China price): each input slot's allowance ``(1 − d) + d × served`` with ``served =
    fmin(consumption ÷ demand, 1)`` where demand is positive, else 1; the binding slot scanned in slot order
    among the limiting ones (a slot binds when it allows more than 1e-12 less than the one binding so far) into
    ``allow`` and ``binding`` (-1: none); the largest positive ``d × short share`` (NaN ignored) into
    ``stopped``; the cost change summed over ``price_slots`` in order. The day's rows (limits, output, output
    value, the constant plan rows ``const``, stopped share, cost change in %, then Chinese chip wafers and
    value summed over ``chip_rows`` from 0) go to ``buf`` and, reordered by ``take``, to the block row
    ``out`` (lanes, columns)."""
    n = vals.shape[1]
    J, S = d.shape
    nl = lim_j.size
    for l in range(n):
        for s in range(S):
            a_min = 1.0
            b = -1
            v = np.nan
            for j in range(J):
                if limit[j, s]:
                    a = _allowance(vals, rows, one_minus_d, d, j, s, l)
                    if a < a_min - 1e-12:
                        a_min = a
                        b = j
                y = d[j, s] * vals[rows[2, j, s], l]
                if v != v or (y == y and y > v):
                    v = y
            allow[s, l] = a_min
            binding[s, l] = b
            stopped[s, l] = v if v > 0 else 0.0
        for k in range(nl):                        # the limits, recomputed for their rows
            buf[k, l] = _allowance(vals, rows, one_minus_d, d, lim_j[k], lim_s[k], l)
        o = nl
        for s in range(S):
            q = planned[s] * allow[s, l]
            buf[o + s, l] = q
            buf[o + S + s, l] = q * value[s]
        o += 2 * S
        for r in range(2 * S):
            buf[o + r, l] = const[r, l]
        o += 2 * S
        for s in range(S):
            buf[o + s, l] = stopped[s, l]
            c = 0.0
            for j in price_slots:
                t = 0.0
                if priced[j, s, l]:
                    t = cost_share[j, s] * (vals[rows[3, j, s], l] / p0[j, s, l] - 1.0)
                c = c + t
            buf[o + S + s, l] = c * 100.0
        o += 2 * S
        if chip_rows.shape[0] > 0:
            w = 0.0
            val = 0.0
            for f in range(chip_rows.shape[0]):
                w = w + vals[chip_rows[f, 0], l] * chip_values[f, 0]
                val = val + vals[chip_rows[f, 1], l] * chip_values[f, 1]
            buf[o, l] = w
            buf[o + 1, l] = val
        for c in range(take.size):
            out[l, c] = buf[take[c], l]


_PY.update({"_allowance": _allowance, "industry_day": industry_day})
_DEPENDS["industry_day"] = ("_allowance",)
