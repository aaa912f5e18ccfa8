"""Which vendor a Chinese fab buys its new and replacement tools from, and when they arrive.

What is modelled (unit: tools per day per cohort):

- **New tools** (capacity growth, ``capacity_growth_per_y`` of the class) are ordered per tool group and split
  by vendor: a domestic share that starts at the group's installed domestic share and rises by
  ``domestic_share_rise_per_y`` (to at most ``domestic_share_max``), and jumps by ``domestic_jump_under_controls``
  in groups where any control bites (fabs de-risk); the foreign rest in the installed foreign mix.
- A control stopping the ``expansion`` flow (a sales ban, or a servicing ban: the vendor no longer installs)
  blocks the vendor's new tools; a share ``domestic_substitution`` of them is ordered from Chinese vendors and
  arrives after the domestic lead time, into the group's *substitute* cohort whose throughput learns.
- Retired tools are replaced like for like after the foreign lead time, unless the ``replacement`` flow is
  stopped; then a share ``domestic_substitution`` is replaced by a domestic tool.
- While servicing or parts are cut, capex buys redundant domestic tools: ``redundant_tools_per_y`` of the
  affected fleet per year.

Orders are per cohort, or per lane and cohort when runs are stepped together (``Procurement(..., lanes=L)``),
each lane jumping with its own controls.
"""
from __future__ import annotations

import numpy as np


class Procurement:
    """Daily tool orders per cohort. ``rows`` are the cohorts (dicts with ``g``, ``vendor``, ``sub``, ``mix``),
    ``n0`` the initial tools per cohort, ``growth_per_y`` per group.

    With ``lanes=None`` it serves one run (orders per cohort, shape ``(C,)``); with ``lanes=L`` it serves ``L``
    runs stepped together (shape ``(L, C)``), each lane with its own controls. Lanes whose groups jumped alike
    share one table of orders (there are few distinct patterns: the baseline's and the scenario's)."""

    def __init__(self, rows: list[dict], n0: np.ndarray, G: int, growth_per_y: np.ndarray, qual_d: int, days: int,
                 cfg: dict, lanes: int | None = None):
        C = len(rows)
        self.g_idx = np.array([r["g"] for r in rows])
        self.G = G
        self.lanes = lanes
        is_dom = np.array([r["vendor"] == "domestic" for r in rows])
        is_sub = np.array([r["sub"] for r in rows])
        mix = np.array([float(r["mix"]) for r in rows])
        n_g = np.bincount(self.g_idx, weights=n0, minlength=G)
        mix_g = np.bincount(self.g_idx, weights=mix, minlength=G)
        dom_g = np.bincount(self.g_idx, weights=np.where(is_dom & ~is_sub, mix, 0.0), minlength=G)
        self.d0 = np.divide(dom_g, mix_g, out=np.zeros(G), where=mix_g > 0)
        foreign = np.where(is_dom, 0.0, mix)
        foreign_g = np.bincount(self.g_idx, weights=foreign, minlength=G)
        self.fmix = np.divide(foreign, foreign_g[self.g_idx], out=np.zeros(C), where=foreign_g[self.g_idx] > 0)
        # the cohort that takes baseline domestic orders: the installed domestic cohort, else the substitute one
        self.dom_take = np.zeros(C)
        for g in range(G):
            cand = [i for i, r in enumerate(rows) if r["g"] == g and r["vendor"] == "domestic" and not r["sub"]]
            if not cand:
                cand = [i for i, r in enumerate(rows) if r["g"] == g and r["sub"]]
            self.dom_take[cand[0]] = 1.0
        self.sub_of_group = np.array([i for i, r in enumerate(rows) if r["sub"]])
        self.rise = float(cfg["domestic_share_rise_per_y"]) / 365.25
        self.dmax = float(cfg["domestic_share_max"])
        self.jump = float(cfg["domestic_jump_under_controls"])
        self.redundant = float(cfg["redundant_tools_per_y"]) / 365.25
        self.jumped = np.zeros(G) if lanes is None else np.zeros((lanes, G))
        # new tools per day per group: n_g × d/dt exp(r t), with t shifted by the qualification time
        r = np.log1p(growth_per_y)
        t = np.arange(-qual_d, days + 1, dtype=float) + qual_d
        self.growth = n_g[:, None] * np.diff(np.exp(r[:, None] * t[None, :] / 365.25), axis=1)
        self.qual = qual_d
        self._growth_c = self.growth[self.g_idx].T                          # day row x cohort column
        self._days = np.maximum(np.arange(self.growth.shape[1]) - qual_d, 0)[:, None].astype(float)
        if lanes is None:
            self.orders = self._orders(self.jumped)
        else:
            self._tables: dict[bytes, int] = {}                   # jumped pattern -> index into self._table
            self._table = np.zeros((0,) + self._growth_c.shape)  # (pattern, day row, cohort)
            self._lane_table = np.zeros(lanes, dtype=np.intp)
            for lane in range(lanes):
                self._lane_table[lane] = self._table_of(self.jumped[lane])
        self._lane_off = None if lanes is None else (np.arange(lanes)[:, None] * G + self.g_idx[None, :]).ravel()

    def domestic_share(self, day: int) -> np.ndarray:
        """Domestic share of new-tool orders per group on ``day`` (days since start, ≥ 0); per lane and group
        with lanes."""
        return np.minimum(np.maximum(self.dmax, self.d0), self.d0 + self.rise * max(day, 0) + self.jump * self.jumped)

    def _orders(self, jumped: np.ndarray) -> np.ndarray:
        """New tools per day row and cohort (before controls) when groups ``jumped`` (0/1 per group): foreign
        cohorts ``fmix × (1 − d)``, the domestic one ``d``, with d the group's domestic share of that day."""
        base = (self.d0 + self.jump * jumped)[self.g_idx]
        d = np.minimum(np.maximum(self.dmax, self.d0)[self.g_idx], base + self.rise * self._days)
        return self._growth_c * (self.fmix + (self.dom_take - self.fmix) * d)

    def _table_of(self, jumped: np.ndarray) -> int:
        """Index of the order table for the jump pattern ``jumped`` (built the first time it is seen)."""
        key = jumped.tobytes()
        i = self._tables.get(key)
        if i is None:
            i = self._tables[key] = len(self._tables)
            self._table = np.concatenate([self._table, self._orders(jumped)[None]])
        return i

    def new_tools(self, day: int) -> np.ndarray:
        """New tools ordered for delivery on ``day`` per cohort (before controls), in the vendor split (a
        read-only row, or with lanes a fresh ``(L, C)`` array; ``day`` may be negative down to −qualification
        for tools installing at the start)."""
        if self.lanes is None:
            return self.orders[day + self.qual]
        return self._table[self._lane_table, day + self.qual]

    def lane_orders(self, day: int) -> tuple[np.ndarray, np.ndarray, int]:
        """With lanes, :meth:`new_tools` as (table, lane_table, row) for compiled code: lane ``l``'s new tools
        on ``day`` are ``table[lane_table[l], row]`` (the table grows as lanes jump to new patterns)."""
        return self._table, self._lane_table, day + self.qual

    def to_groups(self, per_cohort: np.ndarray) -> np.ndarray:
        """Sum a per-cohort flow to its tool groups (for orders to the groups' substitute cohorts); with lanes,
        ``(L, C)`` to ``(L, G)`` (each lane's sums in cohort order, as alone)."""
        if per_cohort.ndim == 1:
            return np.bincount(self.g_idx, weights=per_cohort, minlength=self.G)
        L = per_cohort.shape[0]
        return np.bincount(self._lane_off, weights=per_cohort.ravel(), minlength=L * self.G).reshape(L, self.G)

    def set_controls(self, bites: np.ndarray, lane: int | None = None) -> None:
        """Mark cohorts where some flow is stopped (in lane ``lane`` with lanes); their groups' domestic share
        jumps (once bitten, stays)."""
        hit = np.bincount(self.g_idx, weights=bites.astype(float), minlength=self.G) > 0
        old = self.jumped if lane is None else self.jumped[lane]
        jumped = np.maximum(old, hit.astype(float))
        if (jumped != old).any():
            if lane is None:
                self.jumped = jumped
                self.orders = self._orders(jumped)
            else:
                self.jumped[lane] = jumped
                self._lane_table[lane] = self._table_of(jumped)


def redundant_orders(fleet: np.ndarray, cut: np.ndarray, per_day: float) -> np.ndarray:
    """Redundant domestic tools ordered today per cohort: ``per_day`` of the fleet × its cut share."""
    return fleet * cut * per_day


def lead_days(value: float, name: str, ring_days: int) -> int:
    """A lead time in whole days, checked against the pipeline length."""
    v = int(round(value))
    if not 1 <= v < ring_days - 1:
        raise ValueError(f"fabs {name}(={v}) must be within 1..{ring_days - 2} days")
    return v

