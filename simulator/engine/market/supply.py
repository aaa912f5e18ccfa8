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

from typing import Callable

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
    """Alternative supply projects of all items: start on a persistent price signal, online after lead time.
    State per lane of a batch (each lane draws its own lead times and sees its own prices)."""

    def __init__(self, d, days: int, n: int, lead_normal: Callable[[int, int], float], event,
                 compiled: tuple | None = None):
        """``n`` lanes; ``lead_normal(lane, project)``: the standard normal of that project's lead time in that
        lane, asked for when the project starts there (a stream drawn only then gives the number it would have
        given at the start); ``event(lane, day, entity, event, cause)`` records a state change in one lane;
        ``compiled``: (``kernels.projects_signal``, ``kernels.projects_capacity``) to step with (the same
        numbers), or None for numpy."""
        self.d = d
        N = len(d.p_names)
        I, R = d.shape
        self.N, self.n, self.days = N, n, days
        self.event = event
        self._lead_normal = lead_normal
        #: lead times (days) of the projects started so far in each lane; NaN until a project starts
        self.lead = np.full((n, N), np.nan)
        self.start = np.full((n, N), np.nan)
        self.streak = np.zeros((n, N))
        self.waiting = np.ones((n, N), dtype=bool)
        self.t_on = np.full((n, N), np.inf)
        self.online = np.zeros((n, N), dtype=bool)
        self.frac: np.ndarray | None = None             # (lanes, projects, days) share of capacity online
        self.days_ahead = np.arange(days, dtype=float)
        # bins of every lane's projects: its (item, region) cell and its item, for one bincount over all lanes
        lane = np.arange(n)[:, None]
        self.cell_bins = (lane * (I * R) + (d.p_m * R + d.p_r)[None, :]).ravel()
        self.item_bins = (lane * I + np.asarray(d.p_m)[None, :]).ravel()
        self.cap_day, self.cap_year = np.asarray(d.p_capacity, float), np.asarray(d.p_capacity, float) * 365.25
        self.p_smooth: np.ndarray | None = None
        self.compiled = compiled
        self._new = np.zeros((n, N), dtype=bool)
        self._came = np.zeros((n, N), dtype=bool)
        self._p_cell = np.asarray(d.p_m * R + d.p_r, dtype=np.int64)
        self._p_item = np.asarray(d.p_m, dtype=np.int64)

    def step(self, day: int, p_ex: np.ndarray, p_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Extra capacity (lanes, I, R) per day online today and new capacity per item (lanes, I) per year, from
        today's ex-China price ``p_ex`` (lanes, I) and its no-policy reference ``p_ref`` (I,)."""
        d = self.d
        I, R = d.shape
        n = self.n
        if not self.N:
            return np.zeros((n, I, R)), np.zeros((n, I))
        if self.p_smooth is None:
            self.p_smooth = p_ex.copy()
        if self.compiled is not None:
            return self._step_compiled(day, p_ex, p_ref)
        looking = self.waiting.any(axis=1)
        if looking.any():
            on = looking[:, None]
            self.p_smooth = np.where(on, self.p_smooth + (p_ex - self.p_smooth) / d.per["smoothing"], self.p_smooth)
            # a project answers a disruption: the smoothed price must beat its long-run cost and stand above the
            # no-policy reference (capacity growth at reference prices is already in the world data)
            sm = self.p_smooth[:, d.p_m]
            above = (sm > d.p_cost) & (sm > PREMIUM * p_ref[d.p_m])
            self.streak = np.where(on, (self.streak + 1.0) * above, self.streak)
            new = self.waiting & on & (self.streak >= d.per["persistence"][d.p_m])
            for lane, k in zip(*np.nonzero(new)):
                self._start(lane, k, day)
            self.waiting &= ~new
        self._online(day)
        if self.frac is None:
            return np.zeros((n, I, R)), np.zeros((n, I))
        # each cell's (item's) projects added in project order (the same bits on every machine, where a matrix
        # product's order and fused multiply-adds depend on the BLAS build); a lane with none started adds 0
        f = self.frac[:, :, day]
        extra = np.bincount(self.cell_bins, (f * self.cap_day).ravel(), minlength=n * I * R).reshape(n, I, R)
        newcap = np.bincount(self.item_bins, (f * self.cap_year).ravel(), minlength=n * I).reshape(n, I)
        return extra, newcap

    def _step_compiled(self, day: int, p_ex: np.ndarray, p_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` with the price signal and the capacity sums in compiled loops (the same numbers)."""
        d = self.d
        I, R = d.shape
        signal, capacity = self.compiled
        new = self._new
        if signal(self.waiting, self.p_smooth, p_ex, d.per["smoothing"], self._p_item, d.p_cost,
                  PREMIUM * p_ref[d.p_m], self.streak, d.per["persistence"][d.p_m], new):
            for lane, k in zip(*np.nonzero(new)):
                self._start(lane, k, day)
        extra, newcap = np.zeros((self.n, I * R)), np.zeros((self.n, I))
        if self.frac is not None:          # (none started: none comes online)
            came = self._came
            if capacity(self.frac, day, self.t_on, self.online, came, self.cap_day, self.cap_year, self._p_cell,
                        self._p_item, extra, newcap):
                self._online_events(day, came)
        return extra.reshape(self.n, I, R), newcap

    def _online(self, day: int) -> None:
        """Started projects whose lead time is over come online today (an event each)."""
        came = (day >= self.t_on) & ~self.online
        self.online |= came
        self._online_events(day, came)

    def _online_events(self, day: int, came: np.ndarray) -> None:
        """The events of the projects that came online today (``came``, lanes × projects), lane by lane."""
        d = self.d
        for lane, k in zip(*np.nonzero(came)):
            self.event(lane, day, f"{d.items[d.p_m[k]]}.{REGIONS[d.p_r[k]]}", f"{d.p_kind[k]}_online",
                       f"{d.p_names[k]}: lead time {self.lead[lane, k]:.0f} days after start on day "
                       f"{self.start[lane, k]:.0f}")

    def _start(self, lane: int, k: int, day: int) -> None:
        """Project ``k`` starts in lane ``lane`` today: online after its lead time, then a logistic ramp."""
        d = self.d
        self.event(lane, day, f"{d.items[d.p_m[k]]}.{REGIONS[d.p_r[k]]}", f"{d.p_kind[k]}_started",
                   f"{d.p_names[k]}: smoothed ex-China price above long-run cost {d.p_cost[k]:g} for "
                   f"{d.per['persistence'][d.p_m[k]]:g} days")
        self._schedule(lane, k, day)

    def started_today_own_leads(self, day: int) -> None:
        """Projects started on ``day`` (in lanes whose state was copied from another lane's, see
        ``MineralMarkets.take_lane``) scheduled again with each lane's own lead time."""
        for lane, k in zip(*np.nonzero(self.start == day)):
            self._schedule(lane, k, day)

    def _schedule(self, lane: int, k: int, day: int) -> None:
        """Project ``k`` of lane ``lane``, started on ``day``: its start, the day it comes online and its share of
        capacity online by day."""
        d = self.d
        self.start[lane, k] = day
        if np.isnan(self.lead[lane, k]):
            self.lead[lane, k] = np.maximum(30.0, d.p_lead[k] + d.p_lead_sd[k] * self._lead_normal(lane, k))
        self.t_on[lane, k] = day + self.lead[lane, k]
        if self.frac is None:
            self.frac = np.zeros((self.n, self.N, self.days))
        x = (self.days_ahead - self.t_on[lane, k] - d.p_ramp[k] / 2) * (8.0 / d.p_ramp[k])
        self.frac[lane, k] = np.where(self.days_ahead >= self.t_on[lane, k], 1.0 / (1.0 + np.exp(-x)), 0.0)
