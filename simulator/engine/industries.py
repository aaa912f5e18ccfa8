"""Downstream industries: production limited by critical mineral inputs, and a Chinese chip-supply metric.

A *sector* (Japanese car making, GaN/GaAs devices, IR optics and fibre, flame retardants and batteries) plans
``capacity × utilisation`` units a day. Each input mineral ``m`` has a *dependent share* ``d_m`` of output that
cannot be made without it, and the sector's region serves a share ``served_m = consumption ÷ demand`` of its
demand for ``m`` that day (the mineral part rations all users of a region in proportion). The input then allows
``(1 − d_m) + d_m × served_m`` of planned output, and

    output = planned × min(1, min over inputs of that share)       (Leontief in the critical inputs)

The input with the smallest allowance is the *binding input* (an event is recorded when it changes). Inputs
raise unit cost by ``cost_share × (ex-China price ÷ baseline price − 1)`` whether critical or not.

The chip-supply metric values Chinese fabs' good-wafer output (wafers/day × line yield) at a value per
shipped wafer (USD).
Units: output in the sector's unit per day, value in USD/day, cost change in percent.
"""
from __future__ import annotations

from typing import Any, Mapping


from .world import Mechanism, RunContext

OUTPUT_SUMMARY = ("lost", "max_drop_pct", "time_to_impact", "recovery")


class Industries(Mechanism):
    """All downstream sectors of the world, stepped together after fabs and minerals."""

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
                cons_key, dem_key = f"{m}.{s['region']}.consumption", f"{m}.{s['region']}.demand"
                price_key = f"{m}.price_ex_china"
                have = rec.has(cons_key) and rec.has(dem_key)
                inputs.append({
                    "mineral": m, "d": float(inp["dependent_share"]), "cost": float(inp["cost_share"]),
                    "cons": rec.get(cons_key) if have else None, "dem": rec.get(dem_key) if have else None,
                    "price": rec.get(price_key) if rec.has(price_key) else None,
                    "limit": rec.series(ent, f"limit_{m}", "share of planned") if inp["dependent_share"] > 0
                    else None,
                })
            self.sectors.append({
                "name": name, "entity": ent, "planned": planned, "value": float(s["unit_value_usd"]),
                "inputs": inputs, "binding": None, "price0": {},
                "output": rec.series(ent, "output", f"{unit}/day", OUTPUT_SUMMARY, headline=True),
                "output_value": rec.series(ent, "output_value", "USD/day", ("lost",)),
                "planned_s": rec.series(ent, "planned_output", f"{unit}/day"),
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
        for s in self.sectors:
            allow, binding, cost = 1.0, None, 0.0
            for inp in s["inputs"]:
                if inp["price"] is not None:
                    p0 = s["price0"].setdefault(inp["mineral"], inp["price"][0])
                    if p0 > 0:
                        cost += inp["cost"] * (inp["price"][day] / p0 - 1.0)
                if inp["limit"] is None:
                    continue
                served = 1.0
                if inp["dem"] is not None:
                    dem = inp["dem"][day]
                    served = min(1.0, inp["cons"][day] / dem) if dem > 0 else 1.0
                a = (1.0 - inp["d"]) + inp["d"] * served
                inp["limit"][day] = a
                if a < allow - 1e-12:
                    allow, binding = a, inp["mineral"]
            out = s["planned"] * allow
            s["output"][day] = out
            s["planned_s"][day] = s["planned"]
            s["output_value"][day] = out * s["value"]
            s["cost"][day] = cost * 100.0
            if binding != s["binding"]:
                self.ctx.recorder.event(day, s["entity"], "binding_input",
                                        f"{binding} allows {allow:.1%} of planned output" if binding
                                        else "no input binds: full planned output")
                s["binding"] = binding
        if self.chips is not None:
            wafers = sum(arr[day] for arr, _ in self.chips["parts"])
            self.chips["wafers"][day] = wafers
            self.chips["value"][day] = sum(arr[day] * v for arr, v in self.chips["parts"])
