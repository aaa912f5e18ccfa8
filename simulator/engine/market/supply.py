"""Supply of an item in a region: utilisation of capacity, feed limits between stages, and new capacity.

- **Utilisation** follows the price the region faces, ``Q* = Q0 · (P/P_ref)^ε`` up to capacity (spare capacity is
  used at once), reached over ``supply.adjustment_days``. While a Chinese export restriction on the item is in
  force, Chinese producers also cut output as the domestic price falls (coordinated cuts and quotas).
- **Feed**: a stage that consumes upstream items (refining, separation, magnet making) produces at most what its
  feed allows: output × the smallest share of its feed demand that the region's stock served yesterday. Feed that
  was shipped to China for refining is used up there; it cannot reach a buyer as finished product.
- **Projects** (restarts, new plants) start when the smoothed ex-China price stays above their long-run cost, and
  5% above its no-policy reference, for a persistence window; they come online after their lead time and ramp up
  logistically.
"""
from __future__ import annotations

import numpy as np

from .data import REGIONS

PREMIUM = 1.05    # smoothed price over its reference that counts as a disruption signal for new supply


def china_cut(p_cn_ratio: np.ndarray, restricted: np.ndarray, below: np.ndarray, max_cut: np.ndarray) -> np.ndarray:
    """Share (I,) by which Chinese producers cut output: linear from 0 at ``below`` to ``max_cut`` 20% lower."""
    depth = np.clip((below - p_cn_ratio) / 0.2, 0.0, 1.0)
    return np.where(restricted, depth * max_cut, 0.0)


def feed_allowance(served: np.ndarray, f_down: np.ndarray, f_up: np.ndarray) -> np.ndarray:
    """(I, R) share of planned output each stage can make: the smallest served share of its feeds (1 without);
    ``served`` is (I, R) or, for a batch of runs, (lanes, I, R)."""
    out = np.ones_like(served)
    for k in range(len(f_down)):
        row = out[..., f_down[k], :]
        np.minimum(row, served[..., f_up[k], :], out=row)
    return out


class Projects:
    """Alternative supply projects of all items: start on a persistent price signal, online after lead time."""

    def __init__(self, d, days: int, z: np.ndarray, event):
        self.d = d
        N = len(d.p_names)
        I, R = d.shape
        self.N = N
        self.event = event
        self.lead = np.maximum(30.0, d.p_lead + d.p_lead_sd * z) if N else np.zeros(0)
        self.start = np.full(N, np.nan)
        self.streak = np.zeros(N)
        self.waiting = np.ones(N, dtype=bool)
        self.t_on = np.full(N, np.inf)
        self.online = np.zeros(N, dtype=bool)
        self.frac = np.zeros((N, days))
        self.days_ahead = np.arange(days, dtype=float)
        self.cells = np.zeros((N, I * R))
        self.cells[np.arange(N), d.p_m * R + d.p_r] = d.p_capacity
        self.newcap = np.zeros((N, I))
        self.newcap[np.arange(N), d.p_m] = d.p_capacity * 365.25
        self.p_smooth: np.ndarray | None = None
        self.any_started = False

    def step(self, day: int, p_ex: np.ndarray, p_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Extra capacity (I, R) per day online today and new capacity per item (I,) per year, from today's
        ex-China price ``p_ex`` and its no-policy reference ``p_ref`` (I,)."""
        d = self.d
        I, R = d.shape
        if not self.N:
            return np.zeros((I, R)), np.zeros(I)
        if self.p_smooth is None:
            self.p_smooth = p_ex.copy()
        if self.waiting.any():
            self.p_smooth += (p_ex - self.p_smooth) / d.per["smoothing"]
            # a project answers a disruption: the smoothed price must beat its long-run cost and stand above the
            # no-policy reference (capacity growth at reference prices is already in the world data)
            above = (self.p_smooth[d.p_m] > d.p_cost) & (self.p_smooth[d.p_m] > PREMIUM * p_ref[d.p_m])
            self.streak = (self.streak + 1.0) * above
            new = self.waiting & (self.streak >= d.per["persistence"][d.p_m])
            for k in np.flatnonzero(new):
                self.start[k] = day
                self.t_on[k] = day + self.lead[k]
                self.event(day, f"{d.items[d.p_m[k]]}.{REGIONS[d.p_r[k]]}", f"{d.p_kind[k]}_started",
                           f"{d.p_names[k]}: smoothed ex-China price above long-run cost {d.p_cost[k]:g} for "
                           f"{d.per['persistence'][d.p_m[k]]:g} days")
                x = (self.days_ahead - self.t_on[k] - d.p_ramp[k] / 2) * (8.0 / d.p_ramp[k])
                self.frac[k] = np.where(self.days_ahead >= self.t_on[k], 1.0 / (1.0 + np.exp(-x)), 0.0)
                self.any_started = True
            self.waiting &= ~new
        for k in np.flatnonzero((day >= self.t_on) & ~self.online):
            self.online[k] = True
            self.event(day, f"{d.items[d.p_m[k]]}.{REGIONS[d.p_r[k]]}", f"{d.p_kind[k]}_online",
                       f"{d.p_names[k]}: lead time {self.lead[k]:.0f} days after start on day {self.start[k]:.0f}")
        if not self.any_started:
            return np.zeros((I, R)), np.zeros(I)
        f = self.frac[:, day]
        return (f @ self.cells).reshape(I, R), f @ self.newcap
