"""Spare parts at Chinese fabs when the vendor's parts flow is cut: three classes, each with its own stock.

What is modelled, per tool cohort (identical tools of one vendor in one tool group):

- **PM kits and consumables** (chamber kits, focus rings, quartz, lamps; unit: kits) are used by preventive
  maintenance, one kit per PM event (every ``pm_interval_d`` days a tool). With the parts flow cut, a share of
  the kits comes from Chinese third-party copies, up to ``third_party_kit_share`` of the tool class, reached
  along the domestic parts industry's own ramp (``third_party_ramp_y``, from ``third_party_initial`` of that
  share when the cut starts); a third-party kit counts ``kit_quality_penalty`` of a skipped PM towards the
  failure hazard and costs ``kit_yield_loss`` of the tool's good output. The other kits come from the fab's
  kit stock (sized in months of kit use); with none left the PM is done without a kit (a skipped PM).
- **Repairable modules** (RF generators, robots, pumps, stages; unit: modules) are needed by a share
  ``p_module`` of failures. The fab keeps a rotable pool (``module_pool_per_100_tools``); a failed module goes
  into a local refurbishment loop and comes back after ``refurb_d`` days with probability ``refurb_success``,
  which rises with local repair experience. Chinese third parties also supply modules, ``third_party_module_factor``
  of the kit share at the same point of their ramp (modules are harder to copy than kits). A swap without vendor
  sign-off adds ``requalification_h`` of downtime.
- **OEM- or software-locked items** (laser modules, licensed controllers; unit: items) are needed by a share
  ``p_locked`` of failures; only the vendor makes them, so learning does not reduce that share: they come from
  the fab's stock (sized in months of use) or from cannibalised tools.

A failure short of a module or locked item is handed back to the fleet (wait for a grey-market or domestic part,
or retire the tool and cannibalise it). The PM deficit (share of PM not done properly: no kit, a third-party
kit, or vendor-only PM steps without the vendor) drives the failure hazard in ``fabs.py``.

Stocks are arrays over cohorts, or over lanes × cohorts when runs are stepped together (``PartsLedger(...,
lanes=L)``); the random draws stay one call per lane, with that lane's own generators and arguments.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

RING_DAYS = 2048          # longest delay the pipelines hold (days)
DAYS_PER_MONTH = 365.25 / 12


def spare_stock(tools: float | np.ndarray, use_per_tool_day: float | np.ndarray,
                cover_months: float) -> float | np.ndarray:
    """Units covering ``cover_months`` of baseline use (``use_per_tool_day`` units per tool-day)."""
    return tools * use_per_tool_day * cover_months * DAYS_PER_MONTH


def wright(cum: np.ndarray | float, base: np.ndarray | float, rate: float) -> np.ndarray | float:
    """Wright's-law factor: 1 at ``cum`` = 0, × (1 − ``rate``) per doubling of (1 + cum/base)."""
    b = -math.log2(1.0 - rate)
    return (1.0 + cum / base) ** (-b)


def third_party_share(share_max: np.ndarray | float, initial: float, ramp_y: float,
                      days_cut: np.ndarray | float) -> np.ndarray | float:
    """Share of PM kits Chinese third parties supply ``days_cut`` days after the parts flow was cut: from
    ``initial`` × max to the max, exponential ramp with time constant ``ramp_y`` years."""
    grown = 1.0 - np.exp(-np.asarray(days_cut, dtype=float) / (365.25 * ramp_y))
    return share_max * (initial + (1.0 - initial) * grown)


def refurb_success(initial: float, best: float, learn: np.ndarray) -> np.ndarray:
    """Share of failed modules the fab refurbishes successfully; ``learn`` is the Wright factor (1 → 0)."""
    return best - (best - initial) * learn


def small_binomial(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``rng.binomial(n, p)`` for the few cohorts a day that need it: scalar draws below 8 entries (an array
    call has a fixed cost of several scalar ones)."""
    if n.size < 8:
        ps = [float(p)] * n.size if np.ndim(p) == 0 else np.broadcast_to(p, n.shape).tolist()
        return np.array([rng.binomial(a, b) for a, b in zip(n.tolist(), ps)], dtype=np.int64)
    return rng.binomial(n, p)


def small_multinomial(rng: np.random.Generator, n: np.ndarray, pvals: np.ndarray) -> np.ndarray:
    """``rng.multinomial(n, pvals)`` for a few rows: scalar draws below 8 rows."""
    if n.size < 8:
        return np.array([rng.multinomial(a, pvals) for a in n.tolist()], dtype=np.int64).reshape(n.size, -1)
    return rng.multinomial(n, pvals)


def lane_bounds(lane_of: np.ndarray, lanes: int) -> np.ndarray:
    """Where each lane's entries start and end in ``lane_of`` (lane of each entry, ascending): ``lanes + 1``
    bounds, lane ``l``'s entries being ``bounds[l]:bounds[l + 1]``."""
    return np.searchsorted(lane_of, np.arange(lanes + 1))


class PartsLedger:
    """Stocks of the three parts classes per cohort and the refurbishment pipeline (arrays over cohorts).

    With ``lanes=None`` it serves one run: stocks have shape ``(C,)``, cohorts are addressed by an index array
    and ``streams`` is one run's dict of generators. With ``lanes=L`` it serves ``L`` runs stepped together:
    stocks have shape ``(L, C)``, cohorts are addressed by (lane, cohort) pairs in lane order and ``streams``
    is a list of dicts, one per lane; every random draw is still one call per lane with the arguments that
    lane alone would pass. ``ring_days`` is the length of the refurbishment pipeline (more than ``refurb_d``)."""

    def __init__(self, n0: np.ndarray, fail_rate0: np.ndarray, pm_interval_d: np.ndarray, p_locked: np.ndarray,
                 p_module: np.ndarray, tp_max: np.ndarray, cfg: dict, lanes: int | None = None,
                 ring_days: int | None = None):
        C = n0.size
        self.lanes = lanes
        shape = (C,) if lanes is None else (lanes, C)
        self.p_locked, self.p_module = p_locked, p_module
        self.p_part = p_locked + p_module
        self.locked_frac = np.divide(p_locked, self.p_part, out=np.zeros(C), where=self.p_part > 0)
        self.tp_max = tp_max
        self.kit_day = n0 / pm_interval_d                     # baseline kit use per day (kits/day)
        self.locked_day = n0 * fail_rate0 * p_locked          # baseline locked-item use (items/day)
        self.module_day = n0 * fail_rate0 * p_module          # baseline module use (modules/day)
        self.pm_interval = pm_interval_d
        self.kits = np.broadcast_to(spare_stock(n0, 1.0 / pm_interval_d, float(cfg["kit_cover_months"])),
                                    shape).copy()
        stock2 = np.vstack([spare_stock(n0, fail_rate0 * p_locked, float(cfg["locked_cover_months"])),
                            n0 * float(cfg["module_pool_per_100_tools"]) / 100.0])
        self.stock2 = np.broadcast_to(stock2[(slice(None),) + (None,) * (len(shape) - 1)], (2,) + shape).copy()
        self.locked, self.modules = self.stock2[0], self.stock2[1]      # views: items, modules
        self.refurb_d = int(round(cfg["refurb_d"]))
        if not 1 <= self.refurb_d < RING_DAYS - 1:
            raise ValueError(f"fabs.parts.refurb_d(={self.refurb_d}) must be within 1..{RING_DAYS - 2} days")
        self.ring_days = RING_DAYS if ring_days is None else ring_days
        if self.ring_days <= self.refurb_d:
            raise ValueError(f"refurbishment pipeline of {self.ring_days} days is shorter than refurb_d")
        self.refurb0, self.refurb_best = float(cfg["refurb_success_initial"]), float(cfg["refurb_success_max"])
        self.tp0, self.tp_ramp = float(cfg["third_party_initial"]), float(cfg["third_party_ramp_y"])
        self.tp_module = float(cfg["third_party_module_factor"])
        self.tp_avail = np.zeros(shape)
        self.kit_penalty, self.kit_yield_loss = float(cfg["kit_quality_penalty"]), float(cfg["kit_yield_loss"])
        self.requal_h = float(cfg["requalification_h"])
        self.vendor_pm = float(cfg["vendor_pm_share"])
        self.cannibal = float(cfg["cannibalised_parts_per_tool"])
        self.refurb_ring = np.zeros((self.ring_days,) + shape)       # row = day mod ring_days
        self.in_refurb = np.zeros(1 if lanes is None else lanes)     # modules in refurbishment, per lane
        self.decay = np.ones(shape)            # exp(−days cut / ramp): the third parties' ramp still to go
        self.decay_day = np.ones(shape)        # its factor per day, set by set_cut
        self.tp_b = tp_max * (1.0 - self.tp0)
        self._need: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # lane -> (cohorts, p_need), with lanes
        self._need_dirty = False

    def buy_ahead(self, pend: np.ndarray, months_per_month: float) -> None:
        """One day between announcement and effect: buy ``months_per_month`` extra months of kits, locked items
        and modules (at baseline failure use) per month of waiting, for cohorts whose parts flow will be cut."""
        f = months_per_month * pend
        self.kits += self.kit_day * f
        self.locked += self.locked_day * f
        self.modules += self.module_day * f

    def set_cut(self, cut: np.ndarray, lane: int | None = None) -> None:
        """Cohorts whose parts flow is cut (1) or not (0) (in lane ``lane`` with lanes): their third-party ramp
        advances one day a day."""
        if lane is None:
            self.decay_day = np.exp(-cut / (365.25 * self.tp_ramp))
        else:
            self.decay_day[lane] = np.exp(-cut / (365.25 * self.tp_ramp))

    def pm_kits(self, active: np.ndarray, s_parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kit use of one day (arrays over all cohorts, and lanes); returns (share of PM events without a kit,
        share done with a third-party kit). The third-party share is :func:`third_party_share` kept as a running
        product. A cohort whose parts flow is not cut (``s_parts`` 0) uses no kit from the stock and gets 0, 0."""
        self.decay *= self.decay_day
        self.tp_avail = self.tp_max - self.tp_b * self.decay
        tp = self.tp_avail * s_parts
        events = active / self.pm_interval
        need = events * (s_parts - tp)
        used = np.minimum(need, self.kits)
        self.kits -= used
        need -= used
        short = np.divide(need, np.maximum(events, 1e-12), out=need)
        return short, tp

    def set_need(self, p_need: np.ndarray, idx: np.ndarray, lane: int | None = None) -> None:
        """Cohorts ``idx`` whose parts flow is cut (in lane ``lane`` with lanes) and their part share × stopped
        share ``p_need``: the fixed columns of the daily category probabilities (locked item, module, no part)."""
        if lane is not None:
            self._need[lane] = (idx, p_need)
            self._need_dirty = True
            return
        self._at = (idx,)
        self._lane_of = np.zeros(idx.size, dtype=np.intp)
        self._fill_need(p_need, idx)

    def _fill_need(self, p_need: np.ndarray, idx: np.ndarray) -> None:
        """The category probabilities' fixed columns for cohorts ``idx`` (one row each)."""
        lf = self.locked_frac[idx]
        self.p_fix = np.zeros((idx.size, 4))
        self.p_fix[:, 0] = p_need * lf
        self.p_mod = p_need * (1.0 - lf)
        self.p_fix[:, 3] = 1.0 - p_need

    def _gather_need(self) -> None:
        """With lanes: the (lane, cohort) pairs of every lane's cut cohorts, in lane order, and their columns."""
        have = [(lane, *self._need[lane]) for lane in sorted(self._need) if self._need[lane][0].size]
        if have:
            pl = np.concatenate([np.full(i.size, lane, dtype=np.intp) for lane, i, _ in have])
            pc = np.concatenate([i for _, i, _ in have])
            self._fill_need(np.concatenate([p for _, _, p in have]), pc)
        else:
            pl = pc = np.zeros(0, dtype=np.intp)
            self._fill_need(np.zeros(0), pc)
        self._at = (pl, pc)
        self._lane_of = pl
        self.bounds = lane_bounds(pl, self.lanes)
        self._need_dirty = False

    @property
    def cut_at(self) -> tuple[np.ndarray, ...]:
        """Index of the cohorts whose parts flow is cut (with lanes, (lane, cohort) pairs in lane order)."""
        if self._need_dirty:
            self._gather_need()
        return self._at

    def failures(self, fails: np.ndarray, active: np.ndarray, idx: np.ndarray | None, learn: np.ndarray,
                 day: int, streams: dict | list[dict], draws: Any = None
                 ) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray] | None:
        """Failures that need a vendor part under the cut, at the cohorts whose parts flow is cut (see
        :meth:`set_need`; for one run ``idx`` are those cohorts, None to take them from there; with lanes the
        (lane, cohort) pairs come from there and ``idx`` is ignored): take locked items from stock and
        modules from third parties or the pool (sending the failed one to refurbishment). One multinomial draw
        per cohort splits its failures into locked item / third-party module / pool module / no part. Returns
        None when no failure needs a part, else (index of those cohorts — a tuple, ``arr[i]`` picks them —, failures
        short of a part, module swaps from the pool or third parties) at those cohorts; with lanes,
        :attr:`hit_lanes` is then the lane of each."""
        at = self.cut_at if self.lanes is not None or idx is None else (idx,)
        gens = [streams] if self.lanes is None else streams
        P = self.p_fix
        np.multiply(self.p_mod, self.tp_module * self.tp_avail[at], out=P[:, 1])
        np.subtract(self.p_mod, P[:, 1], out=P[:, 2])
        f_at = fails[at]
        if self.lanes is None:
            cnt = gens[0]["oem_parts"].multinomial(f_at, P)
        elif draws is not None and draws.compiled:       # the same draws, every lane in one compiled loop
            cnt = np.empty((f_at.size, 4), dtype=np.int64)
            draws.multinomial("oem_parts", f_at, P, self.bounds, cnt)
        else:
            b = self.bounds
            cnt = np.concatenate([gens[lane]["oem_parts"].multinomial(f_at[b[lane]:b[lane + 1]], P[b[lane]:b[lane + 1]])
                                  for lane in range(self.lanes) if b[lane + 1] > b[lane]] or [np.zeros((0, 4), np.int64)])
        cnt = cnt[:, :3].T                                    # rows: locked, third party, pool
        need = cnt.sum(axis=0)
        hit = np.flatnonzero(need)
        if not hit.size:
            return None
        i = tuple(a[hit] for a in at)
        lane_of = self.hit_lanes = self._lane_of[hit]
        cnt, need = cnt[:, hit], need[hit]
        over = need - active[i]
        if (over > 0).any():                     # a tool can go down for parts only once
            for r in (2, 1, 0):
                cut = np.minimum(np.maximum(over, 0), cnt[r])
                cnt[r] -= cut
                over -= cut
        n_tp = cnt[1]
        want = cnt[[0, 2]]                                       # rows: locked items, pool modules
        at2 = (slice(None),) + i
        stock = self.stock2[at2]
        use = np.minimum(want, np.floor(stock + 1e-9).astype(np.int64))
        self.stock2[at2] = stock - use
        short = (want - use).sum(axis=0)
        if use[1].any():
            p_ok = refurb_success(self.refurb0, self.refurb_best, learn[i])
            ok = np.zeros(hit.size, dtype=np.int64)
            if draws is not None and draws.compiled:   # a lane without swaps draws nothing (n = 0)
                draws.binomial("refurb", use[1], p_ok, lane_bounds(lane_of, len(gens)), ok)
            else:
                for lane, sl in lane_slices(lane_of, len(gens)):
                    if use[1][sl].any():              # as alone: a lane draws only when its own swaps need it
                        ok[sl] = small_binomial(gens[lane]["refurb"], use[1][sl], p_ok[sl])
            self.refurb_ring[((day + self.refurb_d) % self.ring_days,) + i] += ok
            self.in_refurb += np.bincount(lane_of, weights=ok, minlength=self.in_refurb.size)
        return i, short, use[1] + n_tp

    def refurbished(self, day: int) -> None:
        """Modules back from refurbishment today join the pool."""
        if not (self.in_refurb > 0).any():
            return
        row = self.refurb_ring[day % self.ring_days]
        back = row.sum(axis=-1)                 # whole modules: the sum is exact in any order
        if back.any():
            self.modules += row
            row[...] = 0.0
            self.in_refurb -= back

    def cannibalise(self, idx: np.ndarray | tuple[np.ndarray, ...], retired: np.ndarray) -> None:
        """Retired tools give ``cannibalised_parts_per_tool`` locked items and as many modules each (``idx``:
        cohorts, or with lanes (lane, cohort) pairs)."""
        self.locked[idx] += retired * self.cannibal
        self.modules[idx] += retired * self.cannibal


def lane_slices(lane_of: np.ndarray, lanes: int, bounds: np.ndarray | None = None):
    """``(lane, slice)`` of each lane with entries in ``lane_of`` (lanes ascending); ``bounds``: its
    :func:`lane_bounds`, when the caller has them already."""
    if lanes == 1:
        yield 0, slice(0, lane_of.size)
        return
    b = lane_bounds(lane_of, lanes) if bounds is None else bounds
    for lane in np.flatnonzero(np.diff(b)).tolist():
        yield lane, slice(int(b[lane]), int(b[lane + 1]))
