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

Every lane of a batch is stepped at once. A lane's economy stays at the table's equilibrium until its first
day with a direct loss; from then on its ARIO model runs, stepped together with those of the other lanes that
have started (:meth:`io_model.ARIO.step_runs`), each lane's numbers exactly those of the lane alone.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .lane_reader import LaneReader
from . import kernels
from .io_model import ARIO, ARIOParams, MRIO, build_mrio
from .recorder import Recorder
from .world import LaneMechanism, Lanes


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


class Economy(LaneMechanism):
    """GDP and value added per region from the day's sector losses, every lane stepped at once after the
    industries part. A lane runs the ARIO model from the first day it has a direct loss (``started``); before
    that its economy is the table's equilibrium. Lanes that have started are stepped together."""

    section = "economy"

    def __init__(self, lanes: Lanes):
        super().__init__(lanes)
        cfg = lanes.world["economy"]
        try:
            self.table = build_table(cfg)
            self.model = ARIO(self.table, build_params(cfg))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"economy: {exc}") from None
        # the same numbers, fewer numpy calls
        fast = kernels.worth_compiling(lanes.n * lanes.days, lanes, "economy")
        if fast:
            self.model.kernels = (kernels.compiled("ario_serve"), kernels.compiled("ario_restock"))
        self._direct_k = kernels.compiled("economy_direct") if fast else None
        self._day_k = (kernels.compiled("economy_capacity"), kernels.compiled("economy_record")) if fast else None
        t = self.table
        self.regions, self.sectors = t.regions, t.sectors
        nr, ns = len(self.regions), len(self.sectors)
        self.va0 = self.model.gdp0                                      # USD/day per cell
        self.gdp0 = self.va0.reshape(nr, ns).sum(axis=1)
        self.feeds = self._feeds(cfg)
        self.fed_cells = sorted({f["cell"] for f in self.feeds})
        specs: list[tuple] = []
        for r in self.regions:
            ent = f"economy.{r}"
            specs += [(ent, "gdp", "USD/day", ("lost", "max_drop_pct"), True),
                      (ent, "gdp_loss", "USD/day", ("total",)),
                      (ent, "gdp_loss_pct", "%", ("peak",))]
        self.regional = lanes.block(specs)                              # (days, lanes, 3 × regions)
        self.cells = lanes.block([(f"economy.{r}.{s}", "value_added_lost", "USD/day", ("total",))
                                  for r, s in t.labels()])
        self.direct = lanes.block([(f"economy.{t.labels()[c][0]}.{t.labels()[c][1]}", "direct_output_lost",
                                    "USD/day", ("total",)) for c in self.fed_cells]) if self.fed_cells else None
        self._losses_setup()
        # a lane's economy is the table's equilibrium until it first has a direct loss: written for every
        # day now, overwritten from that day on (baseline lanes never have one)
        quiet = np.column_stack([self.gdp0, np.zeros_like(self.gdp0), np.zeros_like(self.gdp0)]).reshape(-1)
        self.regional[:] = quiet
        self.cells[:] = 0.0
        if self.direct is not None:
            self.direct[:] = 0.0
        self.started = np.zeros(len(self.shocked), dtype=bool)        # shocked lanes whose ARIO model runs
        self.order = np.zeros(0, dtype=np.intp)                        # those (index in shocked), in ARIO state order
        self.active = np.zeros(0, dtype=np.intp)                       # the same as lane numbers
        self.state = self.model.start(0)

    def _feeds(self, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The modelled sectors that feed a table cell, with, lane by lane, the arrays to read (scenario and
        paired baseline run) as ``(output_value, plan or None, USD per unit of plan)``."""
        rec0 = self.lanes.runs[0].recorder                            # every lane records the same series
        sectors_cfg = self.lanes.world.get("industries", {}).get("sectors", {})
        feeds = []
        for name, m in (cfg.get("sector_map") or {}).items():
            ent = f"industries.{name}"
            if not rec0.has(f"{ent}.output_value"):
                continue                                                # a sector this world does not model
            try:
                cell = self.table.cell(m["region"], m["io_sector"])
            except (KeyError, ValueError):
                raise ValueError(f"economy.sector_map.{name}: region {m.get('region')!r} / io_sector "
                                 f"{m.get('io_sector')!r} is not a cell of the table "
                                 f"(regions {list(self.table.regions)}, sectors {list(self.table.sectors)})") \
                    from None
            unit_value = float(sectors_cfg.get(name, {}).get("unit_value_usd", 1.0))

            def arrays(r: Recorder | None) -> tuple | None:
                if r is None or not r.has(f"{ent}.output_value"):
                    return None
                out = r.get(f"{ent}.output_value")
                if r.has(f"{ent}.planned_value"):
                    return out, r.get(f"{ent}.planned_value"), 1.0
                if r.has(f"{ent}.planned_output"):
                    return out, r.get(f"{ent}.planned_output"), unit_value
                return out, None, 1.0
            feeds.append({"name": name, "cell": cell,
                          "scen": [arrays(ctx.recorder) for ctx in self.lanes.runs],
                          "base": [arrays(ctx.baseline) for ctx in self.lanes.runs]})
        return feeds

    def _losses_setup(self) -> None:
        """Tables ``[feed, lane]`` for :meth:`direct_losses`: what each lane reads and how it compares.

        ``kind`` is 0 where the lane takes no loss from the feed (a baseline lane, or a paired baseline that
        does not record the sector), 1 where the scenario has no plan (loss = baseline output − output), 2
        where it has (loss = its shortfall − the baseline's)."""
        runs = self.lanes.runs
        # the lanes that may have a loss: a scenario lane whose paired baseline records a fed sector
        self.shocked = np.array([lane for lane, ctx in enumerate(runs) if ctx.baseline is not None
                                 and any(f["base"][lane] is not None for f in self.feeds)], dtype=np.intp)
        F, L = len(self.feeds), len(self.shocked)
        arrays: list[np.ndarray | None] = []
        self.kind = np.zeros((F, L), dtype=np.int8)
        self.s_unit, self.b_unit = np.ones((F, L)), np.ones((F, L))
        self.b_plan = np.zeros((F, L), dtype=bool)
        for i, f in enumerate(self.feeds):
            for li, lane in enumerate(self.shocked):
                scen, base = f["scen"][lane], f["base"][lane]
                if base is not None:
                    self.kind[i, li] = 1 if scen[1] is None else 2
                    self.s_unit[i, li], self.b_unit[i, li] = scen[2], base[2]
                    self.b_plan[i, li] = base[1] is not None
                    arrays += [scen[0], scen[1], base[0], base[1]]
                else:
                    arrays += [None] * 4
        self.reader = LaneReader(arrays)                  # [feed, shocked lane, (s_out, s_plan, b_out, b_plan)]
        # feeds sharing a cell add up in feed order: rank r holds each cell's r-th feed
        ranks: list[list[int]] = []
        seen: dict[int, int] = {}
        for i, f in enumerate(self.feeds):
            r = seen.get(f["cell"], 0)
            seen[f["cell"]] = r + 1
            if r == len(ranks):
                ranks.append([])
            ranks[r].append(i)
        self.ranks = [(np.array(r, dtype=np.intp), np.array([self.feeds[i]["cell"] for i in r], dtype=np.intp))
                      for r in ranks]
        self._feed_cell = np.array([f["cell"] for f in self.feeds], dtype=np.int64)

    def direct_losses(self, day: int) -> np.ndarray:
        """Direct output lost per shocked lane (``self.shocked``) and table cell on ``day`` (USD/day), beyond the
        paired baseline run's own shortfall (every other lane, a baseline among them, has none: no shock)."""
        L = len(self.shocked)
        lost = np.zeros((L, self.table.n))
        if not self.feeds:
            return lost
        v = self.reader.read(self.lanes.row(day)).reshape(len(self.feeds), L, 4)
        if self._direct_k is not None:        # the same numbers in one compiled loop
            self._direct_k(v, self.kind, self.s_unit, self.b_unit, self.b_plan, self._feed_cell, lost)
            return lost
        s_out, s_plan, b_out, b_plan = v[..., 0], v[..., 1], v[..., 2], v[..., 3]
        with np.errstate(invalid="ignore", over="ignore"):
            s_short = s_plan * self.s_unit - s_out
            s_short = np.where(np.isfinite(s_short), s_short, 0.0)
            b_short = b_plan * self.b_unit - b_out
            b_short = np.where(self.b_plan & np.isfinite(b_short), b_short, 0.0)
            loss = np.where(self.kind == 1, b_out - s_out, s_short - b_short)
            loss = np.where((self.kind > 0) & np.isfinite(loss) & (loss > 0), loss, 0.0)
        for feeds, cells in self.ranks:
            lost[:, cells] = lost[:, cells] + loss[feeds].T
        return lost

    def step(self, day: int) -> None:
        """Record day ``day``'s direct losses, start the ARIO model of lanes with their first loss and step
        the started ones."""
        if not self.shocked.size:
            return
        lost = self.direct_losses(day)
        if self.direct is not None:
            self.direct[self.lanes.row(day), self.shocked] = lost[:, self.fed_cells]
        if not self.started.all():
            new = np.flatnonzero(~self.started & lost.any(axis=1))
            if new.size:
                self.started[new] = True
                self.order = np.concatenate([self.order, new])
                self.active = self.shocked[self.order]
                self.state = self.state.take(self.model.start(new.size))
        if self.active.size:
            self._run(day, lost[self.order])

    def _run(self, day: int, lost: np.ndarray) -> None:
        """Step the ARIO model of the started lanes with capacities cut by their direct losses ``lost``
        (started lanes × cells, USD/day) and record value added lost and GDP."""
        x0 = self.model.x0
        row = self.lanes.row(day)
        if self._day_k is not None:              # the same numbers in two compiled loops around the model's day
            capacity_k, record_k = self._day_k
            capacity = np.empty(lost.shape)
            capacity_k(lost, x0, capacity)
            x = self.model.step_runs(self.state, capacity)
            record_k(self.va0, self.model.va_coeff, x, self.active, self.gdp0, self.cells[row], self.regional[row],
                     np.empty(x.shape[1]))
            return
        capacity = np.clip(1.0 - np.where(x0 > 0, lost / np.where(x0 > 0, x0, 1.0), 0.0), 0.0, 1.0)
        x = self.model.step_runs(self.state, capacity)
        va_lost = self.va0 - self.model.va_coeff * x
        self.cells[row, self.active] = va_lost
        k, nr, ns = len(self.active), len(self.regions), len(self.sectors)
        loss = va_lost.reshape(k, nr, ns).sum(axis=-1)
        self.regional[row, self.active] = np.stack([self.gdp0 - loss, loss, loss / self.gdp0 * 100.0],
                                                   axis=-1).reshape(k, -1)
