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
        self.locked = spare_stock(n0, fail_rate0 * p_locked, float(cfg["locked_cover_months"]))
        self.modules = n0 * float(cfg["module_pool_per_100_tools"]) / 100.0
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
        self.refurb_ring = np.zeros((C, RING_DAYS))
        self.days_cut = np.zeros(C)
        self.tp_used = np.zeros(C)

    def buy_ahead(self, pend: np.ndarray, months_per_month: float) -> None:
        """One day between announcement and effect: buy ``months_per_month`` extra months of kits, locked items
        and modules (at baseline failure use) per month of waiting, for cohorts whose parts flow will be cut."""
        f = months_per_month * pend
        self.kits += self.kit_day * f
        self.locked += self.locked_day * f
        self.modules += self.module_day * f

    def pm_kits(self, active: np.ndarray, s_parts: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kit use of one day for cohorts ``cut`` (indices); returns (share of PM events without a kit, share
        done with a third-party kit) over those cohorts."""
        self.days_cut[cut] += 1.0
        events = active[cut] / self._pm_interval[cut]
        sp = s_parts[cut]
        avail = third_party_share(self.tp_max[cut], self.tp0, self.tp_ramp, self.days_cut[cut])
        self.tp_avail[cut] = avail
        tp = avail * sp
        need = events * (sp - tp)
        have = self.kits[cut]
        used = np.minimum(need, have)
        self.kits[cut] = have - used
        short = np.divide(need - used, events, out=np.zeros(cut.size), where=events > 0)
        self.tp_used[cut] = tp
        return short, tp

    def failures(self, fails: np.ndarray, active: np.ndarray, s_parts: np.ndarray, learn: np.ndarray,
                 idx: np.ndarray, day: int, streams: dict) -> tuple[np.ndarray, np.ndarray]:
        """Failures at cohorts ``idx`` that need a vendor part under the cut: take modules from the pool
        (sending the failed one to refurbishment) and locked items from stock. Returns (failures short of a
        part, module swaps from the pool or third parties) over all cohorts."""
        C = fails.size
        short = np.zeros(C, dtype=np.int64)
        swaps = np.zeros(C, dtype=np.int64)
        need = streams["oem_parts"].binomial(fails[idx], self.p_part[idx] * s_parts[idx])
        np.minimum(need, active[idx], out=need)      # a tool can go down for parts only once
        n_locked = streams["parts_class"].binomial(need, self.locked_frac[idx])
        n_mod = need - n_locked
        n_tp = streams["parts_class"].binomial(n_mod, self.tp_module * self.tp_avail[idx])
        n_mod = n_mod - n_tp
        have_l = np.floor(self.locked[idx] + 1e-9).astype(np.int64)
        have_m = np.floor(self.modules[idx] + 1e-9).astype(np.int64)
        use_l = np.minimum(n_locked, have_l)
        use_m = np.minimum(n_mod, have_m)
        self.locked[idx] -= use_l
        self.modules[idx] -= use_m
        short[idx] = (n_locked - use_l) + (n_mod - use_m)
        swaps[idx] = use_m + n_tp
        if use_m.any():
            ok = streams["refurb"].binomial(use_m, refurb_success(self.refurb0, self.refurb_best, learn[idx]))
            self.refurb_ring[idx, (day + self.refurb_d) % RING_DAYS] += ok
        return short, swaps

    def refurbished(self, day: int) -> None:
        """Modules back from refurbishment today join the pool."""
        col = self.refurb_ring[:, day % RING_DAYS]
        self.modules += col
        col[:] = 0.0

    def cannibalise(self, idx: np.ndarray, retired: np.ndarray) -> None:
        """Retired tools give ``cannibalised_parts_per_tool`` locked items and as many modules each."""
        self.locked[idx] += retired * self.cannibal
        self.modules[idx] += retired * self.cannibal
