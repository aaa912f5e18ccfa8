"""The tool fleets' daily random draws (``fabs.py``), every lane of a batch at once.

What is drawn, per lane and cohort (identical tools of one vendor in one tool group), each day:

- **failures** (stream ``fabs.failures``): Poisson, mean ``lam`` failures (tools × failures per tool-day);
- **local repairs** (``fabs.local_repairs``), under a ``service`` cut: how many of the failures the fab repairs
  itself, binomial with the cohort's stopped service share;
- **repair time** (``fabs.repair_hours``): Gamma of shape (failures) and scale (repair time of one, days): the
  sum of the failures' exponential repair times, in tool-days; a lane under a cut draws its vendor then its
  local repairs (``2·C`` values), any other lane its ``C`` vendor repairs;
- under a parts cut, at the (lane, cohort) pairs that need them (``fab_parts.py``, ``fabs.py``): the part a
  failure needs (``fabs.oem_parts``, multinomial), refurbishments that succeed (``fabs.refurb``) and tools
  retired for want of a part (``fabs.retire``, binomial), and the days a tool waits for a grey part
  (``fabs.parts_wait``, multinomial). Their numpy versions stay at the call sites; here only the compiled ones
  (``lanes_multinomial``, ``lanes_binomial_rows``), over every lane's pairs at once.

A lane draws from its own generators exactly the numbers it draws alone, whatever its batch (see ``fabs.py``).
Two ways, same numbers: one numpy call per lane and kind of draw (~8 µs each, whatever the size), or, once a
process has simulated enough for numba to pay (:func:`kernels.worth_compiling`), one compiled loop over every lane
per kind (:mod:`kernels`: ``lanes_poisson``, ``lanes_binomial``, ``lanes_gamma``), which draws from the same
generator states.
"""
from __future__ import annotations

import numpy as np

from . import kernels


class FleetDraws:
    """The failure, local-repair and repair-time draws of ``L`` lanes; ``streams[l]`` are lane ``l``'s
    generators by kind (``failures``, ``local_repairs``, ``repair_hours``). ``compiled``: draw with numba."""

    def __init__(self, streams: list[dict[str, np.random.Generator]], compiled: bool):
        kinds = ("failures", "local_repairs", "repair_hours")
        self._streams = streams
        #: the compiled draws' tables (log-gamma of PTRS, gamma constants of whole shapes; see ``kernels``)
        self._loggam = self.gamma_consts = None
        if compiled:
            try:
                self._poisson = kernels.compiled("lanes_poisson")
                self._binomial = kernels.compiled("lanes_binomial")
                self._gamma = kernels.compiled("lanes_gamma")
                self._multinomial = kernels.compiled("lanes_multinomial")
                self._binomial_rows = kernels.compiled("lanes_binomial_rows")
                self._gens = {k: kernels.generator_list([st[k] for st in streams]) for k in kinds}
                self._loggam = kernels.poisson_loggam()
                self.gamma_consts = kernels.gamma_constants()
            except (ImportError, AttributeError):   # a numba without the internals used: numpy, same numbers
                compiled = False
        self.compiled = compiled
        #: the compiled Poisson draw's constants of each lane's and cohort's mean, and that mean
        self._lam_key = self._lam_consts = None
        if not compiled:
            self._gens = {k: [st[k] for st in streams] for k in kinds}

    def failures(self, lam: np.ndarray, out: np.ndarray) -> None:
        """Failures of the day into ``out`` (lanes, cohorts; int64), Poisson of mean ``lam`` (same shape)."""
        gens = self._gens["failures"]
        if self.compiled:
            if self._lam_key is None or self._lam_key.shape != lam.shape:
                self._lam_key = np.full(lam.shape, np.nan)
                self._lam_consts = np.zeros(lam.shape + (6,))
            self._poisson(gens, lam, out, self._lam_key, self._lam_consts, self._loggam)
            return
        for lane, g in enumerate(gens):
            out[lane] = g.poisson(lam[lane])

    def local_repairs(self, fails: np.ndarray, share: np.ndarray,
                      at: list[tuple[int, np.ndarray, np.ndarray]], out: np.ndarray) -> None:
        """Failures repaired locally into ``out`` (lanes, cohorts; untouched where ``share`` is 0): binomial of
        ``fails`` failures with the stopped service ``share`` (lanes, cohorts), which ``at`` also lists as
        (lane, cohorts where ``share > 0``, their shares) for each lane with some."""
        gens = self._gens["local_repairs"]
        if self.compiled:
            self._binomial(gens, fails, share, out)
            return
        for lane, cut, p in at:
            out[lane, cut] = gens[lane].binomial(fails[lane, cut], p)

    def repair_days(self, shape: np.ndarray, scale: np.ndarray, width: np.ndarray, out: np.ndarray) -> None:
        """Repair tool-days into ``out[l, :width[l]]`` for every lane ``l``: Gamma of ``shape`` (failures) and
        ``scale`` (days per repair), arrays (lanes, ≥ width)."""
        gens = self._gens["repair_hours"]
        if self.compiled:
            self._gamma(gens, shape, scale, width, out, self.gamma_consts)
            return
        for lane, (g, w) in enumerate(zip(gens, width.tolist())):
            out[lane, :w] = g.gamma(shape[lane, :w], scale[lane, :w])

    def lane_generators(self, kind: str):
        """The typed list of every lane's ``kind`` generator (made at first use: most runs cut no parts)."""
        gens = self._gens.get(kind)
        if gens is None:
            gens = self._gens[kind] = kernels.generator_list([st[kind] for st in self._streams])
        return gens

    def multinomial(self, kind: str, n: np.ndarray, pvals: np.ndarray, bounds: np.ndarray,
                    out: np.ndarray) -> None:
        """Compiled only: ``out[a:b] = streams[l][kind].multinomial(n[a:b], pvals[a:b])`` with ``a, b =
        bounds[l], bounds[l + 1]`` for every lane ``l`` (rows in lane order; ``pvals`` (rows, d),
        C-contiguous: another layout compiles the loop once more, ~1.5 s on a first run)."""
        self._multinomial(self.lane_generators(kind), n, pvals, bounds, out)

    def binomial(self, kind: str, n: np.ndarray, p: np.ndarray, bounds: np.ndarray, out: np.ndarray) -> None:
        """Compiled only: ``out[a:b] = streams[l][kind].binomial(n[a:b], p[a:b])`` for every lane ``l`` (see
        :meth:`multinomial`); a zero ``n`` draws nothing, as in numpy."""
        self._binomial_rows(self.lane_generators(kind), n, p, bounds, out)
