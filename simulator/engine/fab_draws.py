"""The tool fleets' daily random draws (``fabs.py``), every lane of a batch at once.

What is drawn, per lane and cohort (identical tools of one vendor in one tool group), each day:

- **failures** (stream ``fabs.failures``): Poisson, mean ``lam`` failures (tools × failures per tool-day);
- **local repairs** (``fabs.local_repairs``), under a ``service`` cut: how many of the failures the fab repairs
  itself, binomial with the cohort's stopped service share;
- **repair time** (``fabs.repair_hours``): Gamma of shape (failures) and scale (repair time of one, days): the
  sum of the failures' exponential repair times, in tool-days; a lane under a cut draws its vendor then its
  local repairs (``2·C`` values), any other lane its ``C`` vendor repairs.

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
        if compiled:
            try:
                self._poisson = kernels.compiled("lanes_poisson")
                self._binomial = kernels.compiled("lanes_binomial")
                self._gamma = kernels.compiled("lanes_gamma")
                self._gens = {k: kernels.generator_list([st[k] for st in streams]) for k in kinds}
            except (ImportError, AttributeError):   # a numba without the internals used: numpy, same numbers
                compiled = False
        self.compiled = compiled
        if not compiled:
            self._gens = {k: [st[k] for st in streams] for k in kinds}

    def failures(self, lam: np.ndarray, out: np.ndarray) -> None:
        """Failures of the day into ``out`` (lanes, cohorts; int64), Poisson of mean ``lam`` (same shape)."""
        gens = self._gens["failures"]
        if self.compiled:
            self._poisson(gens, lam, out)
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
            self._gamma(gens, shape, scale, width, out)
            return
        for lane, (g, w) in enumerate(zip(gens, width.tolist())):
            out[lane, :w] = g.gamma(shape[lane, :w], scale[lane, :w])
