"""Downstream sectors: production limited by the components and materials they buy, line stops by firm.

A *sector* (Japanese car making, electronics, batteries, GaN/GaAs devices …) plans ``capacity × utilisation``
units a day and buys *items* from the markets of :mod:`simulator.engine.market`: components that embody minerals
(NdFeB magnets, spherical and synthetic anode graphite, mature-node chips) or refined materials. Each input ``m``
has a *dependent share* ``d_m`` of output that cannot be made without it. The sector's users of ``m`` in its region
are spread over holder groups with different days of cover (see :mod:`simulator.engine.market.stocks`): a group that
runs dry stops its lines while others still have stock, so the region serves a share ``served_m = consumption ÷
demand`` of its demand that falls as soon as the thinnest-stocked firms run out, long before the national stock is
empty. The input allows ``(1 − d_m) + d_m × served_m`` of planned output, and

    output = planned × min(1, min over inputs of that share)       (Leontief in the critical inputs)

``firms_stopped_share`` is the largest ``d_m × users_short_share_m``: the share of the sector's output whose lines
stand for lack of an input; the first day it is positive is the *first line stop* (an event, and the
``first_stop`` summary metric). The input with the smallest allowance is the *binding input* (an event when it
changes). Inputs raise unit cost by ``cost_share × (ex-China price ÷ day-0 price − 1)`` whether critical or not.

Chinese fabs' good-wafer output reaches customers through the ``mature_chips`` market item (its Chinese production
follows the fab model); ``china_chip_supply`` also values Chinese good wafers at a value per wafer (USD).
Units: output in the sector's unit per day, values in USD/day, cost change in percent, shares 0..1.

Every lane of a batch is stepped at once: a day's inputs of every lane are gathered into arrays shaped
``(input slot, sector, lane)`` and the sector formulas are evaluated on whole arrays, in the same floating-point
order as a run alone, so each lane's numbers do not depend on its batch. :class:`LaneReader` gathers one day of
many series of many lanes in a few numpy calls when they live in shared lane arrays.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import kernels
from .lane_reader import LaneReader
from .world import LaneMechanism, Lanes

OUTPUT_SUMMARY = ("lost", "max_drop_pct", "time_to_impact", "recovery")


class Industries(LaneMechanism):
    """All downstream sectors of the world, every lane stepped at once after fabs and markets.

    Arrays indexed ``[j, s, l]`` hold input slot ``j`` (the sector's ``j``-th input in world order) of sector
    ``s`` in lane ``l``; an empty slot reads 0 and allows all of planned output."""

    section = "industries"

    def __init__(self, lanes: Lanes):
        super().__init__(lanes)
        cfg = lanes.world["industries"]
        self.n = lanes.n
        self.keys: list[str] = []                  # upstream series read each day, lane by lane
        self.specs: list[tuple] = []               # this part's series, in registration order
        self.sectors: list[dict[str, Any]] = []
        for name, s in cfg.get("sectors", {}).items():
            self.sectors.append(self._sector(name, s))
        self._slots()
        self.chips = self._chips(cfg.get("chip_supply"))
        self._layout()
        self.block = lanes.block(self.specs)        # (days, lanes, series)
        self.reader = LaneReader([rec.get(k) if k else None for k in self.keys
                                  for rec in (ctx.recorder for ctx in lanes.runs)])
        S, L = len(self.sectors), self.n
        self.p0: np.ndarray | None = None           # day-0 ex-China price per input slot (j, s, l), 1 if ≤ 0
        self.priced: np.ndarray | None = None       # slots whose cost follows the price (day-0 price > 0)
        self.stopped = np.zeros((S, L), dtype=bool)  # lines standing yesterday
        self.binding = np.full((S, L), -1)           # yesterday's binding input slot (-1: none)
        # the same numbers in one compiled loop (``kernels.industry_day``) instead of ~15 numpy calls a day
        self._day_k = kernels.compiled("industry_day") \
            if kernels.worth_compiling(lanes.n * lanes.days, lanes, "industries") else None
        if self._day_k is not None:
            self._k_const = (np.ascontiguousarray(self.one_minus_d[:, :, 0]), np.ascontiguousarray(self.d[:, :, 0]),
                             np.ascontiguousarray(self.limit[:, :, 0]), np.ascontiguousarray(self.cost_share[:, :, 0]))
            self._k_chips = (self.chip_rows, np.ascontiguousarray(self.chip_values[:, :, 0])) \
                if self.chips is not None else (np.zeros((0, 2), dtype=np.intp), np.zeros((0, 2)))
            self._k_rows = (np.array(self.price_slots, dtype=np.intp), np.ascontiguousarray(self.planned[:, 0]),
                            np.ascontiguousarray(self.value[:, 0]))
            self._k_buf = np.empty((len(self.take), L))

    # ----- set-up -------------------------------------------------------------------------------------------------
    def _key(self, key: str | None) -> int:
        """Row of an upstream series in a day's reading (row 0 reads 0.0: a missing series)."""
        if not self.keys:
            self.keys.append("")
        if key is None:
            return 0
        if key not in self.keys:
            self.keys.append(key)
        return self.keys.index(key)

    def _col(self, entity: str, metric: str, unit: str, summary: tuple[str, ...] = (),
             headline: bool = False) -> int:
        """Register a series of this part (column of the block)."""
        self.specs.append((entity, metric, unit, summary, headline))
        return len(self.specs) - 1

    def _sector(self, name: str, s: Mapping[str, Any]) -> dict[str, Any]:
        """One sector's constants, its inputs' upstream rows and its series columns."""
        rec = self.lanes.runs[0].recorder                # every lane records the same series
        ent = f"industries.{name}"
        unit = s["unit"]
        planned = s["capacity_per_year"] / 365.25 * s["utilisation"]
        inputs = []
        for m, inp in s.get("inputs", {}).items():
            key = f"{m}.{s['region']}"
            have = rec.has(f"{key}.consumption") and rec.has(f"{key}.demand")
            short, price = f"{key}.users_short_share", f"{m}.price_ex_china"
            dep = float(inp["dependent_share"])
            inputs.append({
                "item": m, "d": dep, "cost": float(inp["cost_share"]),
                "cons": self._key(f"{key}.consumption") if have else None,
                "dem": self._key(f"{key}.demand") if have else None,
                "short": self._key(short) if rec.has(short) else None,
                "price": self._key(price) if rec.has(price) else None,
                "limit": self._col(ent, f"limit_{m}", "share of planned") if dep > 0 else None,
            })
        value = float(s["unit_value_usd"])
        return {"name": name, "entity": ent, "planned": planned, "value": value, "inputs": inputs,
                "planned_value": planned * value,
                "output": self._col(ent, "output", f"{unit}/day", OUTPUT_SUMMARY, True),
                "output_value": self._col(ent, "output_value", "USD/day", ("lost",)),
                "planned_s": self._col(ent, "planned_output", f"{unit}/day"),
                "planned_value_s": self._col(ent, "planned_value", "USD/day"),
                "firms": self._col(ent, "firms_stopped_share", "share of output", ("first_stop", "peak")),
                "cost_s": self._col(ent, "unit_cost_change_pct", "%", ("peak",))}

    def _slots(self) -> None:
        """Input-slot tables ``[j, s]``: upstream rows, masks and coefficients (``[j, s, 1]``, lane axis last).

        A slot that is empty or not critical gets a dependent share of 0, so it allows exactly 1.0 of planned
        output and stops no line: it never binds, as in a run alone where such inputs are skipped."""
        S = len(self.sectors)
        J = max([len(s["inputs"]) for s in self.sectors], default=0)
        rows = np.zeros((4, J, S), dtype=np.intp)            # cons, dem, short, price (row 0 reads 0.0)
        has_price, limit = np.zeros((J, S), dtype=bool), np.zeros((J, S), dtype=bool)
        d, cost = np.zeros((J, S)), np.zeros((J, S))
        self.limit_slots: list[tuple[int, int, int]] = []    # (j, s, column)
        for si, s in enumerate(self.sectors):
            for j, inp in enumerate(s["inputs"]):
                cost[j, si] = inp["cost"]
                for r, k in enumerate(("cons", "dem", "short", "price")):
                    if inp[k] is not None and (k == "price" or inp["limit"] is not None):
                        rows[r, j, si] = inp[k]
                has_price[j, si] = inp["price"] is not None
                if inp["limit"] is not None:
                    limit[j, si], d[j, si] = True, inp["d"]
                    self.limit_slots.append((j, si, inp["limit"]))
        self.J, self.rows = J, rows
        self.has_price, self.limit = has_price[:, :, None], limit[:, :, None]
        self.d, self.one_minus_d = d[:, :, None], (1.0 - d)[:, :, None]
        self.cost_share = cost[:, :, None]
        self.price_slots = [j for j in range(J) if has_price[j].any()]
        self.planned = np.array([s["planned"] for s in self.sectors])[:, None]
        self.value = np.array([s["value"] for s in self.sectors])[:, None]
        lim = self.limit_slots
        self.lim_j = np.array([j for j, _, _ in lim], dtype=np.intp)
        self.lim_s = np.array([s for _, s, _ in lim], dtype=np.intp)

    def _layout(self) -> None:
        """How a day's computed rows (limits, then per-sector output, output value, plan, planned value,
        stopped share, cost change, then chip wafers and value) map to the block's columns, and the
        constant rows (plan and planned value, the same every day)."""
        order = [c for _, _, c in self.limit_slots]
        for k in ("output", "output_value", "planned_s", "planned_value_s", "firms", "cost_s"):
            order += [s[k] for s in self.sectors]
        if self.chips is not None:
            order += [self.chips["wafers"], self.chips["value"]]
            parts = self.chips["parts"]
            self.chip_rows = np.array([[r, r] for r, _ in parts], dtype=np.intp)
            self.chip_values = np.array([[1.0, v] for _, v in parts])[:, :, None]   # wafers × 1 exactly
        self.take = np.argsort(np.array(order, dtype=np.intp))   # block column c ← computed row take[c]
        L = self.n
        self.const = np.concatenate([np.repeat(self.planned, L, axis=1),
                                     np.repeat(np.array([s["planned_value"] for s in self.sectors])[:, None],
                                               L, axis=1)])

    def _chips(self, chip: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Chinese good wafers valued per wafer: upstream rows, values and the two series columns."""
        if not chip:
            return None
        rec = self.lanes.runs[0].recorder

        def wafers(fc: str) -> str:   # good wafers where the fab part records them (line yield)
            good = f"fabs.{fc}.good_wafer_output"
            return good if rec.has(good) else f"fabs.{fc}.wafer_output"
        parts = [(self._key(wafers(fc)), float(v)) for fc, v in chip["wafer_value_usd"].items()
                 if rec.has(wafers(fc))]
        if not parts:
            return None
        return {"parts": parts,
                "value": self._col("industries.china_chip_supply", "output_value", "USD/day", OUTPUT_SUMMARY,
                                   True),
                "wafers": self._col("industries.china_chip_supply", "wafer_output", "wafers/day", ("lost",))}

    @classmethod
    def vocabulary(cls, world: Mapping[str, Any]) -> dict[str, set[str]]:
        return {"sector": set(world["industries"].get("sectors", {}))}

    # ----- the day --------------------------------------------------------------------------------------------------
    def _read(self, day: int) -> np.ndarray:
        """Day ``day`` of every upstream series, ``[row, lane]``."""
        return self.reader.read(self.lanes.row(day)).reshape(len(self.keys), self.n)

    def _price_reference(self) -> None:
        """The first day: prices of day 0 are the reference of the cost change (``p0``; ``priced`` where
        positive)."""
        p0 = self._read(0)[self.rows[3]]
        self.priced = self.has_price & (p0 > 0)
        self.p0 = np.where(self.priced, p0, 1.0)

    def _cost(self, price: np.ndarray) -> np.ndarray:
        """Unit cost change (share, not %) ``[s, l]``: Σ over inputs with a price of ``cost_share × (price ÷
        day-0 price − 1)``, added input by input in world order."""
        if self.p0 is None:
            self._price_reference()
        term = np.where(self.priced, self.cost_share * (price / self.p0 - 1.0), 0.0)
        cost = np.zeros(term.shape[1:])
        for j in self.price_slots:
            cost = cost + term[j]
        return cost

    def _allowances(self, cons: np.ndarray, dem: np.ndarray) -> np.ndarray:
        """Share of planned output each input allows, ``(1 − d) + d × served`` ``[j, s, l]``; served = 1 where
        the region's demand is not positive or not recorded (read as 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            served = np.where(dem > 0, np.fmin(cons / dem, 1.0), 1.0)
        return self.one_minus_d + self.d * served

    def _stopped(self, short: np.ndarray) -> np.ndarray:
        """``firms_stopped_share`` ``[s, l]``: the largest positive ``d × users_short_share`` over critical
        inputs, else 0."""
        if self.J == 0:
            return np.zeros(short.shape[1:])
        v = np.fmax.reduce(self.d * short, axis=0)
        return np.where(v > 0, v, 0.0)

    def _binding(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Allowed share of planned output and binding input slot (-1: none) ``[s, l]``: scanning inputs in
        order, an input binds when it allows more than 1e-12 less than the one binding so far.

        That is the first input with the smallest allowance, if below 1 − 1e-12, unless another allowance
        lies within 2e-12 above the smallest (or one is NaN): those lanes are scanned input by input."""
        if self.J == 0:
            return np.ones(a.shape[1:]), np.full(a.shape[1:], -1)
        m = a.min(axis=0)
        low = m < 1.0 - 1e-12
        allow = np.where(low, m, 1.0)
        binding = np.where(low, a.argmin(axis=0), -1)
        near = (a > m) & (a < m + 2e-12) & low
        if near.any() or np.isnan(m).any():
            return self._scan(a)
        return allow, binding

    def _scan(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_binding` input by input, as a run alone does it."""
        a = np.where(self.limit, a, np.inf)
        allow = np.ones(a.shape[1:])
        binding = np.full(a.shape[1:], -1)
        for j in range(self.J):
            lower = a[j] < allow - 1e-12
            allow = np.where(lower, a[j], allow)
            binding = np.where(lower, j, binding)
        return allow, binding

    def step(self, day: int) -> None:
        """Every lane's sector outputs, limits, stopped shares and cost changes of day ``day``, and their
        events."""
        if self._day_k is not None:
            self._step_compiled(day)
            return
        vals = self._read(day)
        cons, dem, short, price = vals[self.rows]              # [j, s, l] each
        a = self._allowances(cons, dem)
        allow, binding = self._binding(a)
        stopped = self._stopped(short)
        cost = self._cost(price)
        out = self.planned * allow
        parts = [a[self.lim_j, self.lim_s], out, out * self.value, self.const, stopped, cost * 100.0]
        if self.chips is not None:
            parts.append(self._chip_supply(vals))
        self.block[self.lanes.row(day)] = np.concatenate(parts)[self.take].T
        self._events(day, stopped, allow, binding)

    def _step_compiled(self, day: int) -> None:
        """:meth:`step` in one compiled loop (the same numbers; :func:`.kernels.industry_day`)."""
        vals = self._read(day)
        if self.p0 is None:
            self._price_reference()
        S, L = self.stopped.shape
        allow, stopped, binding = np.empty((S, L)), np.empty((S, L)), np.empty((S, L), dtype=self.binding.dtype)
        one_minus_d, d, limit, cost_share = self._k_const
        price_slots, planned, value = self._k_rows
        self._day_k(vals, self.rows, one_minus_d, d, limit, cost_share, self.priced, self.p0, price_slots,
                    planned, value, self.const, self.lim_j, self.lim_s, *self._k_chips, self.take,
                    self.block[self.lanes.row(day)], allow, binding, stopped, self._k_buf)
        self._events(day, stopped, allow, binding)

    def _chip_supply(self, vals: np.ndarray) -> np.ndarray:
        """Chinese good wafers (wafers/day) and their value (USD/day) ``[2, l]``, summed fab class by fab
        class from 0, from the day's upstream rows ``vals``."""
        terms = vals[self.chip_rows] * self.chip_values          # [fab class, wafers|value, l]
        total = np.zeros(terms.shape[1:])
        for t in terms:
            total = total + t
        return total

    def _events(self, day: int, stopped: np.ndarray, allow: np.ndarray, binding: np.ndarray) -> None:
        """Line stops and restarts, and changes of binding input, lane by lane in sector order."""
        now = stopped > 0
        ch_stop, ch_bind = now != self.stopped, binding != self.binding
        changed = ch_stop | ch_bind
        if changed.any():
            for si in np.flatnonzero(changed.any(axis=1)).tolist():        # sectors with a change, in order
                self._sector_events(day, si, np.flatnonzero(changed[si]).tolist(), stopped, allow, binding,
                                    ch_stop, ch_bind)
        self.stopped, self.binding = now, binding

    def _sector_events(self, day: int, si: int, lanes: list[int], stopped: np.ndarray, allow: np.ndarray,
                       binding: np.ndarray, ch_stop: np.ndarray, ch_bind: np.ndarray) -> None:
        """Sector ``si``'s events of the day in ``lanes`` (ascending), where its lines stopped or restarted
        (``ch_stop``) or its binding input changed (``ch_bind``)."""
        s = self.sectors[si]
        for lane in lanes:
            j = int(binding[si, lane])
            item = s["inputs"][j]["item"] if j >= 0 else None
            if ch_stop[si, lane]:
                share = float(stopped[si, lane])
                self.lanes.event(lane, day, s["entity"], "line_stop" if share > 0 else "lines_restarted",
                                 f"{share:.0%} of output stands: its firms ran out of {item or 'an input'}"
                                 if share > 0 else "every firm has its inputs again")
            if ch_bind[si, lane]:
                self.lanes.event(lane, day, s["entity"], "binding_input",
                                 f"{item} allows {float(allow[si, lane]):.1%} of planned output" if item
                                 else "no input binds: full planned output")
