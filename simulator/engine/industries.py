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
"""
from __future__ import annotations

from typing import Any, Mapping

from .world import Mechanism, RunContext

OUTPUT_SUMMARY = ("lost", "max_drop_pct", "time_to_impact", "recovery")


class Industries(Mechanism):
    """All downstream sectors of the world, stepped together after fabs and markets."""

    section = "industries"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        rec = ctx.recorder
        cfg = ctx.world["industries"]
        self.sectors: list[dict[str, Any]] = []
        for name, s in cfg.get("sectors", {}).items():
            ent = f"industries.{name}"
            unit = s["unit"]
            planned = s["capacity_per_year"] / 365.25 * s["utilisation"]
            inputs = []
            for m, inp in s.get("inputs", {}).items():
                key = f"{m}.{s['region']}"
                have = rec.has(f"{key}.consumption") and rec.has(f"{key}.demand")
                dep = float(inp["dependent_share"])
                inputs.append({
                    "item": m, "d": dep, "cost": float(inp["cost_share"]),
                    "cons": rec.get(f"{key}.consumption") if have else None,
                    "dem": rec.get(f"{key}.demand") if have else None,
                    "short": rec.get(f"{key}.users_short_share") if rec.has(f"{key}.users_short_share") else None,
                    "price": rec.get(f"{m}.price_ex_china") if rec.has(f"{m}.price_ex_china") else None,
                    "limit": rec.series(ent, f"limit_{m}", "share of planned") if dep > 0 else None,
                })
            value = float(s["unit_value_usd"])
            self.sectors.append({
                "name": name, "entity": ent, "planned": planned, "value": value, "inputs": inputs,
                "binding": None, "price0": {}, "stopped": False,
                "output": rec.series(ent, "output", f"{unit}/day", OUTPUT_SUMMARY, headline=True),
                "output_value": rec.series(ent, "output_value", "USD/day", ("lost",)),
                "planned_s": rec.series(ent, "planned_output", f"{unit}/day"),
                "planned_value": rec.series(ent, "planned_value", "USD/day"),
                "firms": rec.series(ent, "firms_stopped_share", "share of output", ("first_stop", "peak")),
                "cost": rec.series(ent, "unit_cost_change_pct", "%", ("peak",)),
            })
        self.chips = None
        chip = cfg.get("chip_supply")
        if chip:
            def wafers(fc: str) -> str:   # good wafers where the fab part records them (line yield)
                good = f"fabs.{fc}.good_wafer_output"
                return good if rec.has(good) else f"fabs.{fc}.wafer_output"
            parts = [(rec.get(wafers(fc)), float(v)) for fc, v in chip["wafer_value_usd"].items()
                     if rec.has(wafers(fc))]
            if parts:
                self.chips = {"parts": parts,
                              "value": rec.series("industries.china_chip_supply", "output_value", "USD/day",
                                                  OUTPUT_SUMMARY, headline=True),
                              "wafers": rec.series("industries.china_chip_supply", "wafer_output",
                                                   "wafers/day", ("lost",))}

    @classmethod
    def vocabulary(cls, world: Mapping[str, Any]) -> dict[str, set[str]]:
        return {"sector": set(world["industries"].get("sectors", {}))}

    def step(self, day: int) -> None:
        event = self.ctx.recorder.event
        for s in self.sectors:
            allow, binding, cost, stopped = 1.0, None, 0.0, 0.0
            for inp in s["inputs"]:
                if inp["price"] is not None:
                    p0 = s["price0"].setdefault(inp["item"], inp["price"][0])
                    if p0 > 0:
                        cost += inp["cost"] * (inp["price"][day] / p0 - 1.0)
                if inp["limit"] is None:
                    continue
                served = 1.0
                if inp["dem"] is not None:
                    dem = inp["dem"][day]
                    served = min(1.0, inp["cons"][day] / dem) if dem > 0 else 1.0
                if inp["short"] is not None:
                    stopped = max(stopped, inp["d"] * float(inp["short"][day]))
                a = (1.0 - inp["d"]) + inp["d"] * served
                inp["limit"][day] = a
                if a < allow - 1e-12:
                    allow, binding = a, inp["item"]
            out = s["planned"] * allow
            s["output"][day] = out
            s["planned_s"][day] = s["planned"]
            s["output_value"][day] = out * s["value"]
            s["planned_value"][day] = s["planned"] * s["value"]
            s["firms"][day] = stopped
            s["cost"][day] = cost * 100.0
            if (stopped > 0) != s["stopped"]:
                s["stopped"] = stopped > 0
                event(day, s["entity"], "line_stop" if stopped > 0 else "lines_restarted",
                      f"{stopped:.0%} of output stands: its firms ran out of {binding or 'an input'}"
                      if stopped > 0 else "every firm has its inputs again")
            if binding != s["binding"]:
                event(day, s["entity"], "binding_input",
                      f"{binding} allows {allow:.1%} of planned output" if binding
                      else "no input binds: full planned output")
                s["binding"] = binding
        if self.chips is not None:
            wafers = sum(arr[day] for arr, _ in self.chips["parts"])
            self.chips["wafers"][day] = wafers
            self.chips["value"][day] = sum(arr[day] * v for arr, v in self.chips["parts"])
