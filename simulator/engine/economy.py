"""The economy: modelled sector losses propagated through a multi-regional input-output table to GDP.

Each downstream sector the industries part records (``industries.<name>``) belongs to one cell of a small
multi-regional table (``economy.sector_map``: Japanese car making is part of Japan's ``motor_vehicles``). On
each day the sector's *direct loss* is what it failed to make beyond what its baseline run also failed to make:

    direct loss (USD/day) = max(0, (planned_value − output_value) − the same in the paired baseline run)

(``planned_value`` is ``planned_output × unit_value_usd`` when the industries part does not record it; for
``china_chip_supply``, which has no plan, it is ``baseline output_value − output_value``). The cell then has a
production capacity of ``1 − Σ direct losses ÷ its output`` that day, and the ARIO model (``io_model.ARIO``)
carries the cut forward (its customers run down their input stocks, then produce less) and backward (its
suppliers lose orders). Value added of every cell is its fixed value-added ratio × actual output, and a
region's GDP is the sum over its cells.

Recorded, per region: ``economy.<region>.gdp`` (USD/day), ``gdp_loss`` (USD/day against the table's
equilibrium, which is the baseline), ``gdp_loss_pct`` (% of baseline GDP); per cell
``economy.<region>.<io_sector>.value_added_lost`` (USD/day); for cells fed by a sector
``economy.<region>.<io_sector>.direct_output_lost`` (USD/day). The baseline run carries no shock, so its
losses are exactly zero.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .io_model import ARIO, ARIOParams, MRIO, build_mrio
from .world import Mechanism, RunContext


def build_table(cfg: Mapping[str, Any]) -> MRIO:
    """The multi-regional table of the ``economy`` world section."""
    return build_mrio(cfg["regions"], cfg["sectors"], cfg["residual_sector"], cfg["gdp_usd"], cfg["va_share"],
                      cfg["va_ratio"], cfg["input_mix"], cfg["domestic_share"], cfg["export_share"],
                      float(cfg.get("min_final_share", 0.0)))


def build_params(cfg: Mapping[str, Any]) -> ARIOParams:
    """ARIO behaviour from ``economy.ario``; ``inventory_days`` is keyed product → buying sector → days."""
    a, sectors = cfg["ario"], list(cfg["sectors"])
    inv = a["inventory_days"]
    days = np.array([[float(inv[p][s]) if isinstance(inv[p], Mapping) else float(inv[p]) for s in sectors]
                     for p in sectors])
    return ARIOParams(days, psi=float(a["psi"]), tau_inventory=float(a["tau_inventory_days"]),
                      alpha_max=float(a.get("alpha_max", 1.0)), tau_alpha=float(a.get("tau_alpha_days", 365.0)))


class Economy(Mechanism):
    """GDP and value added per region from the day's sector losses, stepped after the industries part."""

    section = "economy"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        cfg = ctx.world["economy"]
        rec = ctx.recorder
        try:
            self.table = build_table(cfg)
            self.model = ARIO(self.table, build_params(cfg))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"economy: {exc}") from None
        t = self.table
        self.regions, self.sectors = t.regions, t.sectors
        nr, ns = len(self.regions), len(self.sectors)
        self.va0 = self.model.gdp0                                      # USD/day per cell
        self.gdp0 = self.va0.reshape(nr, ns).sum(axis=1)
        self.feeds = self._feeds(cfg, ctx)
        self.fed_cells = sorted({f["cell"] for f in self.feeds})
        specs: list[tuple] = []
        for r in self.regions:
            ent = f"economy.{r}"
            specs += [(ent, "gdp", "USD/day", ("lost", "max_drop_pct"), True),
                      (ent, "gdp_loss", "USD/day", ("total",)),
                      (ent, "gdp_loss_pct", "%", ("peak",))]
        self.regional = rec.block(specs)                                # (days, 3 × regions)
        self.cells = rec.block([(f"economy.{r}.{s}", "value_added_lost", "USD/day", ("total",))
                                for r, s in t.labels()])
        self.direct = rec.block([(f"economy.{t.labels()[c][0]}.{t.labels()[c][1]}", "direct_output_lost",
                                  "USD/day", ("total",)) for c in self.fed_cells]) if self.fed_cells else None
        self.started = False

    def _feeds(self, cfg: Mapping[str, Any], ctx: RunContext) -> list[dict[str, Any]]:
        """The modelled sectors that feed a table cell, with the arrays to read (scenario and baseline)."""
        rec, base = ctx.recorder, ctx.baseline
        sectors_cfg = ctx.world.get("industries", {}).get("sectors", {})
        feeds = []
        for name, m in (cfg.get("sector_map") or {}).items():
            ent = f"industries.{name}"
            if not rec.has(f"{ent}.output_value"):
                continue                                                # a sector this world does not model
            try:
                cell = self.table.cell(m["region"], m["io_sector"])
            except (KeyError, ValueError):
                raise ValueError(f"economy.sector_map.{name}: region {m.get('region')!r} / io_sector "
                                 f"{m.get('io_sector')!r} is not a cell of the table "
                                 f"(regions {list(self.table.regions)}, sectors {list(self.table.sectors)})") \
                    from None
            unit_value = float(sectors_cfg.get(name, {}).get("unit_value_usd", 1.0))

            def arrays(r):
                if r is None:
                    return None
                out = r.get(f"{ent}.output_value")
                if r.has(f"{ent}.planned_value"):
                    return out, r.get(f"{ent}.planned_value"), 1.0
                if r.has(f"{ent}.planned_output"):
                    return out, r.get(f"{ent}.planned_output"), unit_value
                return out, None, 1.0
            feeds.append({"name": name, "cell": cell, "scen": arrays(rec),
                          "base": arrays(base) if base is not None and base.has(f"{ent}.output_value") else None})
        return feeds

    @staticmethod
    def _shortfall(arrs: tuple, day: int) -> float:
        out, planned, unit = arrs
        if planned is None:
            return 0.0
        v = planned[day] * unit - out[day]
        return float(v) if np.isfinite(v) else 0.0

    def direct_losses(self, day: int) -> np.ndarray:
        """Direct output lost per table cell on ``day`` (USD/day), beyond the baseline run's own shortfall."""
        lost = np.zeros(self.table.n)
        if self.ctx.baseline is None:                                   # the baseline run: no shock
            return lost
        for f in self.feeds:
            if f["base"] is None:
                continue
            s_out, s_plan, _ = f["scen"]
            if s_plan is None:                                          # no plan (chip supply): vs baseline
                v = f["base"][0][day] - s_out[day]
            else:
                v = self._shortfall(f["scen"], day) - self._shortfall(f["base"], day)
            if np.isfinite(v) and v > 0:
                lost[f["cell"]] += v
        return lost

    def step(self, day: int) -> None:
        lost = self.direct_losses(day)
        if self.direct is not None:
            self.direct[day] = lost[self.fed_cells]
        if not self.started and not lost.any():
            self.regional[day] = np.column_stack([self.gdp0, np.zeros_like(self.gdp0),
                                                  np.zeros_like(self.gdp0)]).reshape(-1)
            self.cells[day] = 0.0
            return
        self.started = True
        x0 = self.model.x0
        capacity = np.clip(1.0 - np.where(x0 > 0, lost / np.where(x0 > 0, x0, 1.0), 0.0), 0.0, 1.0)
        x = self.model.step(capacity)
        va_lost = self.va0 - self.model.va_coeff * x
        self.cells[day] = va_lost
        loss = va_lost.reshape(len(self.regions), len(self.sectors)).sum(axis=1)
        self.regional[day] = np.column_stack([self.gdp0 - loss, loss, loss / self.gdp0 * 100.0]).reshape(-1)
