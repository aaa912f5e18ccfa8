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
"""
from __future__ import annotations

import math

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
        return np.array([rng.binomial(a, b) for a, b in zip(n.tolist(), np.broadcast_to(p, n.shape).tolist())],
                        dtype=np.int64)
    return rng.binomial(n, p)


def small_multinomial(rng: np.random.Generator, n: np.ndarray, pvals: np.ndarray) -> np.ndarray:
    """``rng.multinomial(n, pvals)`` for a few rows: scalar draws below 8 rows."""
    if n.size < 8:
        return np.array([rng.multinomial(a, pvals) for a in n.tolist()], dtype=np.int64).reshape(n.size, -1)
    return rng.multinomial(n, pvals)


class PartsLedger:
    """Stocks of the three parts classes per cohort and the refurbishment pipeline (arrays over cohorts)."""

    def __init__(self, n0: np.ndarray, fail_rate0: np.ndarray, pm_interval_d: np.ndarray, p_locked: np.ndarray,
                 p_module: np.ndarray, tp_max: np.ndarray, cfg: dict):
        C = n0.size
        self.p_locked, self.p_module = p_locked, p_module
        self.p_part = p_locked + p_module
        self.locked_frac = np.divide(p_locked, self.p_part, out=np.zeros(C), where=self.p_part > 0)
        self.tp_max = tp_max
        self.kit_day = n0 / pm_interval_d                     # baseline kit use per day (kits/day)
        self.locked_day = n0 * fail_rate0 * p_locked          # baseline locked-item use (items/day)
        self.module_day = n0 * fail_rate0 * p_module          # baseline module use (modules/day)
        self._pm_interval = pm_interval_d
        self.kits = spare_stock(n0, 1.0 / pm_interval_d, float(cfg["kit_cover_months"]))
        self.stock2 = np.vstack([spare_stock(n0, fail_rate0 * p_locked, float(cfg["locked_cover_months"])),
                                 n0 * float(cfg["module_pool_per_100_tools"]) / 100.0])
        self.locked, self.modules = self.stock2[0], self.stock2[1]      # views: items, modules
        self.refurb_d = int(round(cfg["refurb_d"]))
        if not 1 <= self.refurb_d < RING_DAYS - 1:
            raise ValueError(f"fabs.parts.refurb_d(={self.refurb_d}) must be within 1..{RING_DAYS - 2} days")
        self.refurb0, self.refurb_best = float(cfg["refurb_success_initial"]), float(cfg["refurb_success_max"])
        self.tp0, self.tp_ramp = float(cfg["third_party_initial"]), float(cfg["third_party_ramp_y"])
        self.tp_module = float(cfg["third_party_module_factor"])
        self.tp_avail = np.zeros(C)
        self.kit_penalty, self.kit_yield_loss = float(cfg["kit_quality_penalty"]), float(cfg["kit_yield_loss"])
        self.requal_h = float(cfg["requalification_h"])
        self.vendor_pm = float(cfg["vendor_pm_share"])
        self.cannibal = float(cfg["cannibalised_parts_per_tool"])
        self.refurb_ring = np.zeros((RING_DAYS, C))       # row = day mod RING_DAYS
        self.in_refurb = 0.0
        self.decay = np.ones(C)            # exp(−days cut / ramp): the third parties' ramp still to go
        self.decay_day = np.ones(C)        # its factor per day, set by set_cut
        self._tp_b = tp_max * (1.0 - self.tp0)

    def buy_ahead(self, pend: np.ndarray, months_per_month: float) -> None:
        """One day between announcement and effect: buy ``months_per_month`` extra months of kits, locked items
        and modules (at baseline failure use) per month of waiting, for cohorts whose parts flow will be cut."""
        f = months_per_month * pend
        self.kits += self.kit_day * f
        self.locked += self.locked_day * f
        self.modules += self.module_day * f

    def set_cut(self, cut: np.ndarray) -> None:
        """Cohorts whose parts flow is cut (1) or not (0): their third-party ramp advances one day a day."""
        self.decay_day = np.exp(-cut / (365.25 * self.tp_ramp))

    def pm_kits(self, active: np.ndarray, s_parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kit use of one day (arrays over all cohorts); returns (share of PM events without a kit, share done
        with a third-party kit). The third-party share is :func:`third_party_share` kept as a running product."""
        self.decay *= self.decay_day
        self.tp_avail = self.tp_max - self._tp_b * self.decay
        tp = self.tp_avail * s_parts
        events = active / self._pm_interval
        need = events * (s_parts - tp)
        used = np.minimum(need, self.kits)
        self.kits -= used
        need -= used
        short = np.divide(need, np.maximum(events, 1e-12), out=need)
        return short, tp

    def set_need(self, p_need: np.ndarray, idx: np.ndarray) -> None:
        """Cohorts ``idx`` whose parts flow is cut and their part share × stopped share ``p_need``: the fixed
        columns of the daily category probabilities (locked item, module, no part)."""
        lf = self.locked_frac[idx]
        self._P = np.zeros((idx.size, 4))
        self._P[:, 0] = p_need * lf
        self._P_mod = p_need * (1.0 - lf)
        self._P[:, 3] = 1.0 - p_need

    def failures(self, fails: np.ndarray, active: np.ndarray, idx: np.ndarray, learn: np.ndarray, day: int,
                 streams: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Failures that need a vendor part under the cut, at cohorts ``idx`` whose parts flow is cut (see
        :meth:`set_need`): take locked items from stock and modules from third parties or the pool (sending the
        failed one to refurbishment). One multinomial draw per cohort splits its failures into locked item /
        third-party module / pool module / no part. Returns None when no failure needs a part, else (cohorts,
        failures short of a part, module swaps from the pool or third parties) at those cohorts."""
        P = self._P
        np.multiply(self._P_mod, self.tp_module * self.tp_avail[idx], out=P[:, 1])
        np.subtract(self._P_mod, P[:, 1], out=P[:, 2])
        cnt = streams["oem_parts"].multinomial(fails[idx], P)[:, :3].T      # rows: locked, third party, pool
        need = cnt.sum(axis=0)
        hit = np.flatnonzero(need)
        if not hit.size:
            return None
        i, cnt, need = idx[hit], cnt[:, hit], need[hit]
        over = need - active[i]
        if (over > 0).any():                     # a tool can go down for parts only once
            for r in (2, 1, 0):
                cut = np.minimum(np.maximum(over, 0), cnt[r])
                cnt[r] -= cut
                over -= cut
        n_tp = cnt[1]
        want = cnt[[0, 2]]                                       # rows: locked items, pool modules
        stock = self.stock2[:, i]
        use = np.minimum(want, np.floor(stock + 1e-9).astype(np.int64))
        self.stock2[:, i] = stock - use
        short = (want - use).sum(axis=0)
        if use[1].any():
            ok = small_binomial(streams["refurb"], use[1],
                                refurb_success(self.refurb0, self.refurb_best, learn[i]))
            self.refurb_ring[(day + self.refurb_d) % RING_DAYS, i] += ok
            self.in_refurb += float(ok.sum())
        return i, short, use[1] + n_tp

    def refurbished(self, day: int) -> None:
        """Modules back from refurbishment today join the pool."""
        if self.in_refurb <= 0:
            return
        row = self.refurb_ring[day % RING_DAYS]
        back = float(row.sum())
        if back:
            self.modules += row
            row[:] = 0.0
            self.in_refurb -= back

    def cannibalise(self, idx: np.ndarray, retired: np.ndarray) -> None:
        """Retired tools give ``cannibalised_parts_per_tool`` locked items and as many modules each."""
        self.locked[idx] += retired * self.cannibal
        self.modules[idx] += retired * self.cannibal
