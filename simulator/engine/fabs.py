"""Tool fleets at Chinese fabs under sales, servicing, spare-parts and software-update cutoffs.

What is modelled, in everyday terms: a fab class (``advanced_logic``, ``mature_logic``, ``memory``,
``foreign_memory`` — Samsung and SK hynix fabs in China, with their own licence regime) is a line with a
capacity in wafers per day (8-inch equivalent), run at its own utilisation, fed by tool *groups* (``litho``,
``etch`` …). A group is made of *cohorts*: identical tools of one vendor (``Tokyo_Electron``, ``ASML`` …,
``domestic``), plus one cohort of Chinese *substitute* tools ordered when foreign tools are blocked. Tools fail
(MTBF, operating hours), are repaired (MTTR, hours) by the vendor's field service, and go down for preventive
maintenance (PM). Each group holds its tool class's ``overcapacity`` over what the class's output needs, so
lost tools cut output only in the groups where they bind (litho is the bottleneck by design).

Cohorts, not tools: every day each cohort draws its number of failures (Poisson, rate per calendar tool-day
``24·(1−φ)/(MTBF/h + MTTR_eff)`` with φ the PM share, so availability is ``(1−φ)·MTBF/(MTBF+MTTR)``), and
the repair hours of those failures (a Gamma sum of exponential repair times). Downtime is booked as tool-days
on the day of the failure. All draws are numpy calls over arrays of cohorts, so run time grows with the number
of cohorts, not of tools.

Which flows the controls stop, per cohort, is in ``fab_origin.py`` (compliance applied once per flow; scope by
vendor country or by origin of content; ``operation``/``expansion`` licences). Under a ``service`` cut a
failure is repaired locally, ``local_repair_multiplier`` times slower, falling with Wright's law
(``learning_rate`` per doubling of the cohort's local repairs). Under a ``parts`` cut the three parts classes
of ``fab_parts.py`` apply: PM kits (third-party copies, kit stock), repairable modules (rotable pool and
refurbishment loop) and OEM-locked items (stock only); a failure short of a part either waits for a
grey-market or domestic part (lognormal wait, days) or retires the tool, which is cannibalised for parts.
The PM deficit (no kit, third-party kit, vendor-only PM steps undone) raises the failure rate
(``skipped_pm_hazard`` at a full deficit, reached over one PM interval). A ``software`` cut slowly lowers the
cohort's throughput/yield factor. New and replacement tools are bought as in ``fab_procurement.py``. Between
announcement and effect (``pending``) fabs pull tool and spare purchases forward.

Random numbers: one named stream per kind of draw (``fabs.failures``, ``fabs.repair_hours``, ``fabs.oem_parts``,
``fabs.parts_class``, ``fabs.refurb``, ``fabs.local_repairs``, ``fabs.retire``, ``fabs.parts_wait``) per run,
each drawing one array over the run's cohorts (or its cut cohorts) a day, so a scenario and its baseline draw
identical numbers until their states differ (common random numbers), and the step needs no Python loop over
cohorts.

Lanes: the runs of a batch (see ``world.py``) are stepped at once. State arrays carry a leading lane axis
(``(L, C)``: lanes × cohorts; pipelines ``(days ahead, L, C)``) and every computation is one numpy call over all
lanes; only the random draws loop over lanes: one call per lane and kind of draw, with exactly the arguments
(sizes, shapes, parameters) that run alone would pass, and only in the lanes whose own state calls for it. So a
lane's numbers do not depend on its batch. A lane outside a branch (a baseline while its scenario lane is under
a cut) goes through the branch's array operations with stopped shares of 0, which leave its numbers exactly
as they are (adding 0, multiplying by 1); updates for which that does not hold are masked to the lanes
concerned. Per-lane sums (tools per group) keep each lane's summation order.

Fab output (wafers/day) = ``min(capacity × utilisation, min over groups of usable tool throughput)``, and
good-wafer output = output × the class's ``line_yield``; a group's throughput is Σ cohorts ``up tools ×
(1 − engineering) × factors × wafers_per_tool_day``. Tool counts are sized in the engine so that the baseline
fleet meets ``capacity × utilisation × (1 + overcapacity)`` at baseline availability.

Recorded per day: ``fabs.<fab_class>`` wafer_output, good_wafer_output and capacity (wafers/day);
``fabs.<fab_class>.<tool_class>`` availability (share of scheduled tool-time up), tools, and the SEMI E10
states in tool-equivalents (time-averaged tools in each state, summing to the group's fleet);
``vendors.<vendor>`` revenue lost from China (USD/day).
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Mapping

import numpy as np

from . import kernels
from .fab_draws import FleetDraws
from .fab_origin import flow_shares, origin_bill
from .fab_parts import (RING_DAYS, PartsLedger, lane_bounds, lane_slices, small_binomial, small_multinomial,
                        spare_stock, wright)
from .fab_procurement import Procurement, lead_days
from .world import LaneMechanism, Lanes

TOOL_CLASSES = ("litho", "etch", "deposition", "clean", "coat_develop", "metrology", "implant", "cmp")
MEASURE_NAMES = ("sales", "servicing", "spare_parts", "software_updates")
E10_STATES = ("e10_productive", "e10_standby", "e10_engineering", "e10_scheduled_down",
              "e10_unscheduled_down_user", "e10_unscheduled_down_supplier", "e10_non_scheduled")
GROUP_METRICS = ("availability", "tools") + E10_STATES
WAIT_BINS = 16            # equal-probability bins of the lognormal parts wait
DAYS_PER_MONTH = 365.25 / 12
#: the cause of each event of a cohort short of parts, with its vendor and country
SHORTFALL_CAUSES = {
    "tools_retired": "{vendor} tools cannibalised for parts: spares exhausted",
    "spares_exhausted": ("{vendor} ({country}) spare modules or locked items used up "
                         "under a servicing/spare_parts cutoff"),
}

__all__ = ["FabFleets", "E10_STATES", "GROUP_METRICS", "failure_rate_per_day", "availability", "group_tools",
           "spare_stock", "wright"]


def failure_rate_per_day(mtbf_h: np.ndarray | float, mttr_h: np.ndarray | float, pm_share: np.ndarray | float,
                         hazard: np.ndarray | float = 1.0) -> np.ndarray | float:
    """Failures per calendar tool-day of a renewal process: up (MTBF/hazard, h) then repair (MTTR, h), with
    ``pm_share`` of calendar time in preventive maintenance."""
    return 24.0 * (1.0 - pm_share) / (mtbf_h / hazard + mttr_h)


def availability(tc: Mapping[str, Any]) -> float:
    """Baseline share of calendar time a tool of class ``tc`` is up: ``(1 − φ)·MTBF/(MTBF + MTTR)``."""
    phi = float(tc["pm_duration_h"]) / (24.0 * float(tc["pm_interval_d"]))
    return (1.0 - phi) * float(tc["mtbf_h"]) / (float(tc["mtbf_h"]) + float(tc["mttr_h"]))


def group_tools(capacity_wpm: float, utilisation: float, overcapacity: float, wafers_per_tool_day: float,
                avail: float, engineering: float) -> int:
    """Tools a group needs so its baseline throughput is ``capacity × utilisation × (1 + overcapacity)``."""
    need = capacity_wpm * 12 / 365.25 * utilisation * (1.0 + overcapacity)
    return int(math.ceil(need / (wafers_per_tool_day * avail * (1.0 - engineering)) - 1e-9))


def _split(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Whole tools per vendor from group ``total`` and shares (normalised), largest remainder first."""
    s = sum(shares.values())
    if s <= 0:
        raise ValueError(f"vendor_mix shares sum to {s}; need > 0")
    raw = {k: total * v / s for k, v in shares.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    rest = total - sum(out.values())
    for k in sorted(raw, key=lambda k: out[k] - raw[k])[:rest]:
        out[k] += 1
    return out


class FabFleets(LaneMechanism):
    """Cohorts of tools at Chinese fab classes; see the module docstring for what is modelled.

    Every lane of the batch is stepped at once: state arrays are ``(L, C)`` (lanes × cohorts), pipelines
    ``(ring days, L, C)``; a lane's policy view (stopped shares, which cohorts are cut) is its own row. Random
    draws are one call per lane and kind, with the arguments that lane alone would pass."""

    section = "fabs"

    @classmethod
    def vocabulary(cls, world: Mapping[str, Any]) -> dict[str, set[str]]:
        fabs = world["fabs"]
        vendors = fabs["vendors"]
        origins = {o for vc in (fabs.get("module_origin") or {}).values() for b in vc.values() for o in b}
        return {"vendor_country": {v["country"] for v in vendors.values()},
                "vendor": set(vendors),
                "tool_class": set(fabs["tool_classes"]),
                "fab_class": set(fabs["classes"]),
                "content_origin": origins | {v["country"] for v in vendors.values()}}

    # ----- building ----------------------------------------------------------------------------------------
    def __init__(self, lanes: Lanes):
        super().__init__(lanes)
        L = self.L = lanes.n
        w = lanes.world["fabs"]
        self._vendors: dict[str, dict] = w["vendors"]
        ops, cut, dom, ann = w["operations"], w["cutoff"], w["domestic"], w["announcement"]
        parts_cfg, proc_cfg = w["parts"], w["procurement"]
        bills = w.get("module_origin") or {}
        self.days = lanes.days
        self.eng = float(ops["engineering_share"])
        if "domestic" not in self._vendors:
            raise ValueError("fabs.vendors needs a 'domestic' vendor (country China) for substitutes")
        rows: list[dict] = []
        self.fab_names = list(w["classes"])
        self.group_names: list[tuple[str, str]] = []
        fab_starts, group_wpt, group_growth = [], [], []
        self.utilisation = np.array([float(w["classes"][f]["utilisation"]) for f in self.fab_names])
        for fi, fc in enumerate(self.fab_names):
            fab_starts.append(len(self.group_names))
            fcd = w["classes"][fc]
            growth = float(fcd.get("capacity_growth_per_y", ops["capacity_growth_per_y"]))
            for tc, g in fcd["groups"].items():
                if tc not in w["tool_classes"]:
                    raise ValueError(f"fabs.classes.{fc}.groups.{tc}: unknown tool class (have "
                                     f"{', '.join(w['tool_classes'])})")
                gi = len(self.group_names)
                self.group_names.append((fc, tc))
                group_wpt.append(float(g["wafers_per_tool_day"]))
                group_growth.append(growth)
                tcp = w["tool_classes"][tc]
                mix = {k: float(v) for k, v in g["vendor_mix"].items()}
                for v in mix:
                    if v not in self._vendors:
                        raise ValueError(f"fabs.classes.{fc}.groups.{tc}.vendor_mix.{v}: unknown vendor "
                                         f"(have {', '.join(self._vendors)})")
                over = float(g.get("overcapacity", tcp["overcapacity"]))
                total = group_tools(float(fcd["capacity_wpm"]), float(self.utilisation[fi]), over,
                                    float(g["wafers_per_tool_day"]), availability(tcp), self.eng)
                for v, n in _split(total, mix).items():
                    country = self._vendors[v]["country"]
                    rows.append(dict(fab=fc, tc=tc, g=gi, vendor=v, country=country, n=n, sub=False, mix=mix[v],
                                     bill=origin_bill(bills, country, tc), **tcp))
                country = self._vendors["domestic"]["country"]
                rows.append(dict(fab=fc, tc=tc, g=gi, vendor="domestic", country=country, n=0, sub=True, mix=0.0,
                                 bill=origin_bill(bills, country, tc), **tcp))
        C, G = len(rows), len(self.group_names)
        self.rows = rows
        #: the coverage of the cohorts by each control's scope and flow (``fab_origin.flow_shares``)
        self._coverage: dict[tuple[int, str], tuple[Any, np.ndarray]] = {}
        self.C, self.G = C, G
        arr = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
        self.g_idx = np.array([r["g"] for r in rows])
        self.sub_of_group = np.array([i for i, r in enumerate(rows) if r["sub"]])
        self.mtbf, self.mttr = arr("mtbf_h"), arr("mttr_h")
        self.pm_interval = arr("pm_interval_d")
        self.phi = arr("pm_duration_h") / (24.0 * self.pm_interval)
        self.local_mult = arr("local_repair_multiplier")
        self.dom_sub = arr("domestic_substitution")
        self.n0 = np.array([r["n"] for r in rows], dtype=float)
        self._members = group_members(self.g_idx, G)
        self.fab_starts = np.array(fab_starts)
        self.wpt = np.array(group_wpt)
        self.wpt_net = self.wpt * (1.0 - self.eng)     # wafers/day one up tool yields after engineering time
        self.lead_foreign = lead_days(ops["foreign_lead_time_d"], "foreign_lead_time_d", RING_DAYS)
        self.qual = lead_days(ops["qualification_d"], "qualification_d", RING_DAYS)
        self.lead_dom = lead_days(dom["lead_time_d"], "domestic.lead_time_d", RING_DAYS)
        self.learn_rate = float(cut["learning_rate"])
        self.learn_base = np.maximum(self.n0, 1.0) * float(cut["learning_base_repairs_per_tool"])
        self.retire_share = float(cut["retire_share"])
        self.hazard_max = float(cut["skipped_pm_hazard"])
        self.sw_decay, self.sw_floor = float(cut["software_decay_per_y"]) / 365.25, float(cut["software_floor"])
        self.spares_service = float(cut["spares_service_share"])
        self.q0, self.q_base = float(dom["initial_throughput"]), float(dom["learning_base_units"])
        self.pull_forward = float(ann["pull_forward"])
        self.spares_pf = float(ann["spares_pull_forward_months_per_month"])
        # parts wait: lognormal in equal-probability bins, duplicates merged
        med, sig = float(cut["parts_wait_median_d"]), float(cut["parts_wait_sigma"])
        z = np.array([NormalDist().inv_cdf((i + 0.5) / WAIT_BINS) for i in range(WAIT_BINS)])
        offs = np.clip(np.rint(med * np.exp(sig * z)), 1, RING_DAYS - 1).astype(int)
        self.wait_offs, counts = np.unique(offs, return_counts=True)
        self.wait_p = counts / counts.sum()
        self._wait_rows = np.zeros((0, self.wait_p.size))    # wait_p repeated in rows (a C-contiguous prefix)
        # pipelines, each as long as its longest delay needs (row = day mod its length): deliveries, tools in
        # qualification, tools back from a parts wait
        self.R_deliv = max(self.lead_foreign, self.lead_dom) + 1
        self.R_qual = self.qual + 1
        self.R_back = int(self.wait_offs.max()) + 1
        # baseline rates, parts, procurement and state
        self.rate0 = failure_rate_per_day(self.mtbf, self.mttr, self.phi)
        self.parts = PartsLedger(self.n0, self.rate0, self.pm_interval, arr("p_locked"), arr("p_module"),
                                 arr("third_party_kit_share"), parts_cfg, lanes=L,
                                 ring_days=int(round(parts_cfg["refurb_d"])) + 1)
        self.proc = Procurement(rows, self.n0, G, np.array(group_growth), self.qual, lanes.days, proc_cfg, lanes=L)
        self.fleet = np.broadcast_to(self.n0.astype(np.int64), (L, C)).copy()
        self.installing = np.zeros((L, C), dtype=np.int64)
        self.waiting = np.zeros((L, C), dtype=np.int64)
        self.e_pm = np.zeros((L, C))
        self.cum_local = np.zeros((L, C))
        #: the local repair skill's Wright factor of ``cum_local`` (:meth:`_learning`), and the ``cum_local`` it
        #: was worked out from (flat)
        self._learn = wright(self.cum_local, self.learn_base, self.learn_rate)
        self._learn_of = self.cum_local.ravel().copy()
        self._learn_base = np.broadcast_to(self.learn_base, (L, C)).ravel().copy()
        self.cum_sub = np.zeros((L, C))
        self.sw = np.ones((L, C))
        self.q = np.ones((L, C))
        self.kit_q = np.ones((L, C))
        self.carry = np.zeros((L, C))
        # pipelines: (day mod length, lane, cohort), so a day's arrivals of every lane are one contiguous block
        self.ring_deliv = np.zeros((self.R_deliv, L, C))
        self.ring_qual = np.zeros((self.R_qual, L, C), dtype=np.int64)
        self.ring_back = np.zeros((self.R_back, L, C), dtype=np.int64)
        for d in range(-self.qual, 0):                                 # tools already installing at the start
            n = self._whole(self.proc.new_tools(d))
            self.fleet += n
            self.installing += n
            self.ring_qual[(d + self.qual) % self.R_qual] += n
        cap_wpd = np.array([float(w["classes"][f]["capacity_wpm"]) * 12 / 365.25 for f in self.fab_names])
        self.line_yield = np.array([float(w["classes"][f].get("line_yield", 1.0)) for f in self.fab_names])
        r_fab = np.log1p(np.array([float(w["classes"][f].get("capacity_growth_per_y", ops["capacity_growth_per_y"]))
                                   for f in self.fab_names]))
        self.capacity = cap_wpd[:, None] * np.exp(r_fab[:, None] * np.arange(lanes.days)[None, :] / 365.25)
        self.planned = self.capacity * self.utilisation[:, None]
        self.capacity_t = np.ascontiguousarray(self.capacity.T)      # day row × fab column
        self.planned_t = np.ascontiguousarray(self.planned.T)
        self.fab_of_group = np.repeat(np.arange(len(self.fab_names)), np.diff(np.r_[self.fab_starts, G]))
        self.streams = [{k: ctx.streams.get(f"fabs.{k}") for k in
                         ("failures", "repair_hours", "oem_parts", "parts_class", "refurb", "local_repairs",
                          "retire", "parts_wait")} for ctx in lanes.runs]
        self.draws = FleetDraws(self.streams, kernels.worth_compiling(L * lanes.days, lanes, "fabs"))
        # failures short of parts as one compiled loop (kernels.fab_parts_day), with its buffers
        self._parts_day = kernels.compiled("fab_parts_day") if self.draws.compiled else None
        self._account_k = ((kernels.compiled("fab_account_states"), kernels.compiled("fab_account_output"))
                           if self.draws.compiled else None)
        self._arrive_k = kernels.compiled("fab_arrivals") if self.draws.compiled else None
        self._hazard_k = kernels.compiled("fab_hazard") if self.draws.compiled else None
        self._sub_k = ((kernels.compiled("fab_sub_cum"), kernels.compiled("fab_sub_set"))
                       if self.draws.compiled and self.sub_of_group.size else None)
        self._sub_buf = (np.zeros(L, dtype=np.int64), np.zeros((L, self.sub_of_group.size)))
        self._repairs_k = kernels.compiled("fab_cut_repairs") if self.draws.compiled else None
        self._lam = np.zeros((L, C))
        self._deliv = np.zeros((L, C), dtype=np.int64)
        self._groups = np.zeros((L, G))
        self._parts_buf = tuple(np.zeros(0, dtype=np.int64) for _ in range(5))
        self._subs = np.zeros((L, G))
        self._cnt4 = np.zeros(4, dtype=np.int64)
        self._back = np.zeros(self.wait_p.size, dtype=np.int64)
        self.mttr_d = self.mttr / 24.0                           # repair time in days
        self.c_loc_d = self.mttr_d * (self.local_mult - 1.0)     # extra local repair days before learning
        self.rate_num = 24.0 * (1.0 - self.phi)                  # numerator of failure_rate_per_day
        self.inv_pmi = 1.0 / self.pm_interval
        self._shape = np.zeros((L, 2 * C))      # gamma shapes of a lane under a cut: vendor | local repairs
        self._scale = np.zeros((L, 2 * C))
        self._scale[:, :C] = self.mttr_d
        self._down = np.zeros((L, 2 * C))       # repair tool-days: vendor | local
        self._width = np.full(L, C)             # repair times drawn per lane: 2·C under a cut, else C
        self._S = np.zeros((L, 7, C))
        self._SG = np.zeros((L, 7, G))
        self._exhausted = np.zeros((L, C), dtype=bool)
        self._retired_any = np.zeros((L, C), dtype=bool)
        self._policy_version = [-1] * L
        self._clock_version = -1
        # policy view per lane (rows set by _refresh_lane)
        z = lambda: np.zeros((L, C))  # noqa: E731
        self.s_exp, self.s_rep, self.s_serv, self.s_parts, self.s_sw = z(), z(), z(), z(), z()
        self.pend_exp, self.pend_parts = z(), z()
        self.deliv_factor, self.redundant_week = np.ones((L, C)), z()
        self.requal_rate_h, self.c_pm, self.c_mttr_serv = z(), z(), z()
        self.mttr_cut = np.broadcast_to(self.mttr, (L, C)).copy()
        self.idx_serv: list[np.ndarray] = [np.zeros(0, dtype=np.intp)] * L
        self.serv_isv: list[np.ndarray] = [np.zeros(0)] * L
        flag = lambda: np.zeros(L, dtype=bool)  # noqa: E731
        self.any_cut, self.has_part, self.has_serv, self.hazard_live = flag(), flag(), flag(), flag()
        self.any_sw, self.any_exp, self.any_pend_parts, self.any_redundant = flag(), flag(), flag(), flag()
        self._register(lanes)

    def _whole(self, x: np.ndarray) -> np.ndarray:
        """Whole tools from fractional flows per cohort, carrying remainders to the next day."""
        self.carry += x
        n = np.floor(self.carry + 1e-9)
        self.carry -= n
        return n.astype(np.int64)

    def _register(self, lanes: Lanes) -> None:
        """Register every series as columns of one block per lane, so a day of every lane is written in one
        call; ``vals`` (lanes × columns) holds the day's values."""
        specs: list[tuple] = []
        for f in self.fab_names:
            specs.append((f"fabs.{f}", "wafer_output", "wafers/day",
                          ("lost", "max_drop_pct", "time_to_impact", "recovery"), True))
        for f in self.fab_names:
            specs.append((f"fabs.{f}", "capacity", "wafers/day"))
        for f in self.fab_names:
            specs.append((f"fabs.{f}", "good_wafer_output", "wafers/day", ("lost", "max_drop_pct")))
        for m in GROUP_METRICS:          # metric-major order matches the (metric, group) value matrix
            unit = "share" if m == "availability" else "tools"
            for fc, tc in self.group_names:
                specs.append((f"fabs.{fc}.{tc}", m, unit))
        self.rev_vendors = [v for v, d in self._vendors.items() if "china_revenue_usd_per_y" in d]
        #: each such vendor's cohorts and their weights in its revenue (fleet shares; None without a fleet)
        self._vendor_wts: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        for v in self.rev_vendors:
            mask = np.array([r["vendor"] == v for r in self.rows], dtype=bool)
            wts = self.n0[mask]
            self._vendor_wts[v] = (np.flatnonzero(mask), wts / wts.sum() if wts.sum() > 0 else None)
        for what in ("revenue_lost_sales", "revenue_lost_service"):
            for v in self.rev_vendors:
                specs.append((f"vendors.{v}", what, "USD/day", ("total",)))
        self.block = lanes.block(specs)
        F, V, L = len(self.fab_names), len(self.rev_vendors), self.L
        self.vals = np.zeros((L, len(specs)))
        self.v_out, self.v_cap, self.v_good = self.vals[:, :F], self.vals[:, F:2 * F], self.vals[:, 2 * F:3 * F]
        self.v_group = self.vals[:, 3 * F:3 * F + len(GROUP_METRICS) * self.G].reshape(L, len(GROUP_METRICS), self.G)
        assert np.shares_memory(self.v_group, self.vals)
        self.v_rev = self.vals[:, 3 * F + len(GROUP_METRICS) * self.G:]
        assert self.v_rev.shape[1] == 2 * V

    # ----- policy view (recomputed only for lanes whose board changed) -------------------------------------
    def _refresh_policy(self) -> None:
        for lane, ctx in enumerate(self.lanes.runs):
            if ctx.policy.version != self._policy_version[lane]:
                self._refresh_lane(lane)
        self.serv_lanes = np.flatnonzero(self.has_serv).tolist()
        self._serv_at = [(lane, self.idx_serv[lane], self.serv_isv[lane]) for lane in self.serv_lanes]
        self._any = {k: bool(getattr(self, k).any()) for k in
                     ("any_cut", "has_part", "hazard_live", "any_sw", "any_exp", "any_pend_parts", "any_redundant")}
        self._width = np.where(self.any_cut, 2 * self.C, self.C)
        self._uncut = np.flatnonzero(~self.any_cut)
        self._clock_version = self.lanes.clock.version

    def _refresh_lane(self, lane: int) -> None:
        """Lane ``lane``'s view of its policy board: stopped shares per flow and cohort, and what follows."""
        pb = self.lanes.runs[lane].policy
        now = flow_shares(pb, self.rows, seen=self._coverage)
        pend = flow_shares(pb, self.rows, pending=True, seen=self._coverage)
        s_exp, s_serv, s_parts, s_sw = now["expansion"], now["service"], now["parts"], now["software"]
        self.s_exp[lane], self.s_rep[lane], self.s_serv[lane] = s_exp, now["replacement"], s_serv
        self.s_parts[lane], self.s_sw[lane] = s_parts, s_sw
        self.pend_exp[lane] = pend_exp = pend["expansion"]
        self.pend_parts[lane] = pend_parts = pend["parts"]
        idx_part = np.flatnonzero(s_parts > 0)
        parts_cut = (s_parts > 0).astype(float)
        self.parts.set_need((self.parts.p_part * s_parts)[idx_part], idx_part, lane)
        self.idx_serv[lane] = isv = np.flatnonzero(s_serv > 0)
        self.serv_isv[lane] = s_serv[isv]
        self.has_part[lane], self.has_serv[lane] = bool(idx_part.size), bool(isv.size)
        self.any_cut[lane] = bool(idx_part.size or isv.size)
        self.hazard_live[lane] = self.hazard_live[lane] or self.any_cut[lane]
        self.any_sw[lane] = bool((s_sw > 0).any())
        self.any_exp[lane] = bool((s_exp > 0).any() or (pend_exp > 0).any())
        self.any_pend_parts[lane] = bool((pend_parts > 0).any())
        self.deliv_factor[lane] = deliv_factor = (1.0 - s_exp) * (1.0 + (self.pull_forward - 1.0) * pend_exp)
        self.redundant_week[lane] = np.maximum(s_serv, s_parts) * self.proc.redundant * 7
        self.any_redundant[lane] = bool(self.redundant_week[lane].any())
        self.parts.set_cut(parts_cut, lane)
        # expected requalification hours per failure (module swaps without vendor sign-off) lengthen the cycle
        self.requal_rate_h[lane] = requal = self.parts.p_module * s_parts * self.parts.requal_h
        self.c_pm[lane] = s_serv * self.parts.vendor_pm            # vendor-only PM steps undone, before learning
        self.c_mttr_serv[lane] = self.mttr * s_serv * (self.local_mult - 1.0)
        self.mttr_cut[lane] = self.mttr + requal
        self.kit_q[lane] = 1.0
        self.proc.set_controls((s_exp > 0) | (s_serv > 0) | (s_parts > 0), lane)
        # vendor revenue lost per day (negative when purchases are pulled forward): each vendor's share of sales
        # and of service stopped, over its cohorts weighted by fleet (both elementwise over every cohort first)
        out = []
        sales_gone = 1.0 - deliv_factor
        serv_gone = s_serv + (1 - s_serv) * self.spares_service * s_parts
        for v in self.rev_vendors:
            d = self._vendors[v]
            at, wts = self._vendor_wts[v]
            if wts is None:
                out.append((0.0, 0.0))
                continue
            rate = float(d["china_revenue_usd_per_y"]) / 365.25
            svc = float(d["service_share"])
            sales_lost = float(wts @ sales_gone[at])
            serv_lost = float(wts @ serv_gone[at])
            out.append((rate * (1 - svc) * sales_lost, rate * svc * serv_lost))
        self.v_rev[lane] = np.array(out).T.ravel() if out else []
        self._policy_version[lane] = pb.version

    # ----- the daily step ---------------------------------------------------------------------------------
    def step(self, day: int) -> None:
        """Advance every lane by day ``day``. A lane without a cut (say a baseline) goes through the same array
        operations as a lane under one with shares of 0, which leave its numbers exactly as its own branch
        would; only its random draws follow its own branch."""
        if self.lanes.clock.version != self._clock_version:
            self._refresh_policy()
        self._arrivals(day)
        active = self.fleet - self.installing - self.waiting
        if self._hazard_k is not None and self._any["any_cut"]:
            learn, lam = self._hazard_compiled(day, active)
        else:
            learn, deficit = self._pm_deficit(day, active)
            rate = self._failure_rate(day, deficit, learn)
            lam = active * rate
        fails = np.empty((self.L, self.C), dtype=np.int64)
        self.draws.failures(lam, fails)
        if self._any["any_cut"]:
            active = self._cut_failures(day, fails, active, learn)
        else:
            self._shape[:, :self.C] = fails
            self.draws.repair_days(self._shape, self._scale, self._width, self._down)
            self._down[:, self.C:] = 0.0
        if self._any["any_sw"]:
            sw = self.sw - self.s_sw * self.sw_decay
            np.maximum(sw, self.sw_floor, out=sw)
            self.sw[self.any_sw] = sw[self.any_sw]
        self._account(day, active, self._down[:, :self.C], self._down[:, self.C:])

    def _arrivals(self, day: int) -> None:
        """Deliveries (into qualification), qualified tools and tools back from a parts wait, of every lane."""
        if self._arrive_k is not None:         # the same numbers in one compiled loop
            deliv = self._deliv
            self._arrive_k(*self.proc.lane_orders(day), self._any["any_exp"], self.s_exp, self.dom_sub,
                           self.deliv_factor, self.g_idx, self.sub_of_group, self._groups, self.ring_deliv,
                           day % self.R_deliv, (day + self.lead_dom) % self.R_deliv, self.carry, self.fleet,
                           self.installing, self.ring_qual, day % self.R_qual, (day + self.qual) % self.R_qual,
                           self.waiting, self.ring_back, day % self.R_back, deliv)
        else:
            deliv = self._arrivals_numpy(day)
        self._substitutes_learn(deliv)
        if self._any["any_pend_parts"]:   # lanes without a pending parts cut buy 0 extra
            self.parts.buy_ahead(self.pend_parts, self.spares_pf)

    def _arrivals_numpy(self, day: int) -> np.ndarray:
        """:meth:`_arrivals` up to the substitutes' learning, in numpy; returns the tools delivered today."""
        growth = self.proc.new_tools(day)
        if self._any["any_exp"]:          # lanes without a stopped expansion flow block 0 tools at factor 1
            blocked = growth * self.s_exp * self.dom_sub
            if blocked.any():
                self.ring_deliv[(day + self.lead_dom) % self.R_deliv][:, self.sub_of_group] += \
                    self.proc.to_groups(blocked)
            growth = growth * self.deliv_factor
        ring = self.ring_deliv[day % self.R_deliv]
        ring += growth
        deliv = self._whole(ring)
        ring[:] = 0.0
        self.fleet += deliv
        qual = self.ring_qual[day % self.R_qual]
        self.installing += deliv
        self.installing -= qual
        qual[:] = 0
        self.ring_qual[(day + self.qual) % self.R_qual] += deliv
        back = self.ring_back[day % self.R_back]
        self.waiting -= back
        back[:] = 0
        return deliv

    def _substitutes_learn(self, deliv: np.ndarray) -> None:
        """Domestic substitutes' yield and throughput learn with the tools delivered (Wright's law)."""
        if self._sub_k is not None:       # the same numbers: compiled loops around numpy's power
            cum_k, set_k = self._sub_k
            lanes, cum = self._sub_buf
            k = cum_k(deliv, self.sub_of_group, self.cum_sub, lanes, cum)
            if k:
                set_k(self.q, lanes, self.sub_of_group,
                      1.0 - (1.0 - self.q0) * wright(cum[:k], self.q_base, self.learn_rate))
            return
        d_sub = deliv[:, self.sub_of_group]
        got = d_sub.any(axis=1)
        if got.any():                     # substitutes learn in the lanes that received some
            lanes = np.flatnonzero(got)
            cum = self.cum_sub[lanes][:, self.sub_of_group] + d_sub[lanes]
            self.cum_sub[np.ix_(lanes, self.sub_of_group)] = cum
            self.q[np.ix_(lanes, self.sub_of_group)] = 1.0 - (1.0 - self.q0) * wright(cum, self.q_base,
                                                                                       self.learn_rate)

    def _pm_deficit(self, day: int, active: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | float]:
        """Local repair learning factor and the day's PM deficit (share of PM not done properly) per lane and
        cohort; redundant tools ordered (weekly). (None, 0) when no lane has a cut."""
        if not self._any["any_cut"]:
            return None, 0.0
        learn = self._learning()                                          # local skill learns
        deficit = self.c_pm * learn                                       # 0 in lanes without a cut
        if self._any["has_part"]:
            short_kit, tp = self.parts.pm_kits(active, self.s_parts)      # 0, 0 where parts are not cut
            deficit += short_kit
            deficit += tp * self.parts.kit_penalty
            self.kit_q = 1.0 - self.parts.kit_yield_loss * tp
        np.minimum(deficit, 1.0, out=deficit)
        self._redundant(day)
        return learn, deficit

    def _learning(self) -> np.ndarray:
        """The local repair skill's Wright factor per lane and cohort, ``wright(cum_local, learn_base,
        learn_rate)`` (1 before any local repair, → 0 with experience; read-only for the caller), worked out
        again only where the cumulative local repairs moved since it last was: a cohort repairs locally only under
        a service cut, so on most days most of the ~7,000 elements of 40 lanes keep theirs, and each element is the
        same numpy expression of the same numbers whichever others are worked out with it."""
        cum = self.cum_local.ravel()
        moved = np.flatnonzero(cum != self._learn_of)
        if moved.size:
            now = cum[moved]
            self._learn_of[moved] = now
            self._learn.reshape(-1)[moved] = wright(now, self._learn_base[moved], self.learn_rate)
        return self._learn

    def _redundant(self, day: int) -> None:
        """Redundant tools ordered from domestic substitutes, weekly, where a lane has a cut."""
        if day % 7 == 0 and self._any["any_redundant"]:
            red = self.redundant_week * self.fleet
            self.ring_deliv[(day + self.lead_dom) % self.R_deliv][:, self.sub_of_group] += self.proc.to_groups(red)

    def _hazard_compiled(self, day: int, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_pm_deficit` then :meth:`_failure_rate` × active tools, with some lane under a cut: the
        elementwise part in one compiled loop (``kernels.fab_hazard``), the same numbers. Returns (local repair
        learning factor, expected failures) per lane and cohort."""
        learn = self._learning()
        self._redundant(day)
        self.parts.refurbished(day)            # (modules back from refurbishment: no part of the hazard)
        pa, lam = self.parts, self._lam
        self._hazard_k(learn, self.c_pm, bool(self._any["has_part"]), pa.decay, pa.decay_day, pa.tp_max, pa.tp_b,
                       pa.tp_avail, self.s_parts, active, pa.pm_interval, pa.kits, pa.kit_penalty,
                       pa.kit_yield_loss, self.kit_q, self.e_pm, self.inv_pmi, self.mtbf, self.hazard_max,
                       self.mttr_cut, self.c_mttr_serv, self.rate_num, lam)
        return learn, lam

    def _failure_rate(self, day: int, deficit: np.ndarray | float, learn: np.ndarray | None) -> np.ndarray:
        """Failures per tool-day per lane and cohort: PM not done properly raises the hazard over one PM
        interval; a cut lengthens the repair cycle."""
        if not self._any["hazard_live"]:
            return self.rate0
        self.parts.refurbished(day)
        step_e = deficit - self.e_pm
        step_e *= self.inv_pmi
        self.e_pm += step_e
        up_h = self.mtbf / (1.0 + (self.hazard_max - 1.0) * self.e_pm)      # MTBF / hazard
        if learn is not None:             # failure_rate_per_day with the local repair time (+0 without a cut)
            up_h += self.mttr_cut
            up_h += self.c_mttr_serv * learn
        else:
            up_h += self.mttr
        return np.divide(self.rate_num, up_h, out=up_h)

    def _cut_failures(self, day: int, fails: np.ndarray, active: np.ndarray, learn: np.ndarray) -> np.ndarray:
        """Failures when some lane has a cut: parts needed under a parts cut, local repairs under a service
        cut, then the repair times (two gamma arrays, vendor | local, in a lane under a cut). Returns the
        active tools (less those retired or waiting for a part)."""
        C = self.C
        swapped = None
        if self._any["has_part"]:
            parts_cut = self._parts_cut_compiled if self._parts_day is not None else self._parts_cut_numpy
            swapped, short_any = parts_cut(day, fails, active, learn)
            if short_any:
                active = self.fleet - self.installing - self.waiting     # less retired and waiting
        shape, scale, down = self._shape, self._scale, self._down
        if self._repairs_k is not None:          # the same numbers in one compiled loop
            self._repairs_k(self.draws.lane_generators("local_repairs"), self.draws.lane_generators("repair_hours"),
                            fails, self.s_serv, self.cum_local, bool(self.serv_lanes), self.c_loc_d, learn,
                            self.mttr_d, self._width, self._uncut, shape, scale, down, self.draws.gamma_consts)
        else:
            local = shape[:, C:]
            local[:] = 0.0
            self.draws.local_repairs(fails, self.s_serv, self._serv_at, local)
            if self.serv_lanes:
                self.cum_local += local
            np.subtract(fails, local, out=shape[:, :C])
            np.multiply(self.c_loc_d, learn, out=scale[:, C:])
            scale[:, C:] += self.mttr_d
            self.draws.repair_days(shape, scale, self._width, down)   # under a cut: vendor | local repairs
            down[self._uncut, C:] = 0.0          # no local repairs in lanes without a cut
        if swapped is not None:                  # module swaps without vendor sign-off: requalification
            sl, sc, swaps = swapped
            down[sl, C + sc] += swaps * (self.parts.requal_h / 24.0)
        return active

    def _parts_cut_numpy(self, day: int, fails: np.ndarray, active: np.ndarray, learn: np.ndarray
                         ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, bool]:
        """Failures needing a part where the parts flow is cut (:meth:`PartsLedger.failures`), then those short
        of one (:meth:`_shortfall`). Returns (lane, cohort, module swaps) of the pairs where some failure needed
        a part (None where none did) and whether some failure went short of one."""
        got = self.parts.failures(fails, active, None, learn, day, self.streams, self.draws)
        if got is None:
            return None, False
        ip, short, swaps = got
        fails[ip] -= short                   # the rest are repaired
        m = short > 0
        if m.any():
            self._shortfall(day, tuple(a[m] for a in ip), short[m], self.parts.hit_lanes[m])
        return (ip[0], ip[1], swaps), bool(m.any())

    def _parts_cut_compiled(self, day: int, fails: np.ndarray, active: np.ndarray, learn: np.ndarray
                            ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, bool]:
        """:meth:`_parts_cut_numpy` as one compiled loop over the cut pairs (``kernels.fab_parts_day``): the
        same draws from the same streams, the same numbers."""
        pa = self.parts
        pc = pa.cut_at[1]
        buf = self._parts_buf
        if buf[0].size < pc.size:
            buf = self._parts_buf = tuple(np.zeros(2 * pc.size, dtype=np.int64) for _ in range(5))
        hit_l, hit_c, swaps, short_k, ret = buf
        subs = self._subs
        subs.fill(0.0)
        n_hit, n_short, n_new = self._parts_day(
            fails, active, learn, pc, pa.bounds, pa.p_fix, pa.p_mod, pa.tp_module, pa.tp_avail, pa.stock2,
            pa.refurb0, pa.refurb_best, pa.refurb_ring, (day + pa.refurb_d) % pa.ring_days, pa.in_refurb,
            self.retire_share, pa.cannibal, self.fleet, self.s_rep, self.dom_sub, self.g_idx, self.sub_of_group,
            self.ring_deliv, (day + self.lead_foreign) % self.R_deliv, (day + self.lead_dom) % self.R_deliv,
            self.waiting, self.wait_p, self.ring_back, (day + self.wait_offs) % self.R_back, self._retired_any,
            self._exhausted, *(self.draws.lane_generators(k) for k in ("oem_parts", "refurb", "retire", "parts_wait")),
            hit_l, hit_c, swaps, short_k, ret, subs, self._cnt4, self._back)
        if not n_hit:
            return None, False
        if n_new:
            k = short_k[:n_short]
            lane_of = hit_l[k]
            self._shortfall_events(day, (lane_of, hit_c[k]), ret[:n_short], lane_of)
        return (hit_l[:n_hit], hit_c[:n_hit], swaps[:n_hit]), n_short > 0

    def _shortfall(self, day: int, at: tuple[np.ndarray, np.ndarray], short: np.ndarray,
                   lane_of: np.ndarray) -> None:
        """Failures short of a part (``short`` at (lane, cohort) pairs ``at``, lanes ascending): retire and
        cannibalise some, the others wait for a grey/domestic part."""
        pl, pc = at
        ret = np.zeros(short.size, dtype=np.int64)
        fast = self.draws.compiled            # the same draws, every lane in one compiled loop
        bounds = lane_bounds(lane_of, self.L)
        if fast:
            self.draws.binomial("retire", short, np.full(short.size, self.retire_share), bounds, ret)
        slices = None if fast else list(lane_slices(lane_of, self.L, bounds))   # numpy draws lane by lane
        if slices is not None:
            for lane, sl in slices:
                ret[sl] = small_binomial(self.streams[lane]["retire"], short[sl], self.retire_share)
        wait = short - ret
        if ret.any():                     # lanes retiring none add 0 below
            self.fleet[at] -= ret
            self.parts.cannibalise(at, ret)
            keep = (ret * (1.0 - self.s_rep[at])).astype(float)
            self.ring_deliv[(day + self.lead_foreign) % self.R_deliv][at] += keep
            subs = np.bincount(pl * self.G + self.g_idx[pc], weights=ret * self.s_rep[at] * self.dom_sub[pc],
                               minlength=self.L * self.G).reshape(self.L, self.G)
            if subs.any():
                self.ring_deliv[(day + self.lead_dom) % self.R_deliv][:, self.sub_of_group] += subs
        if wait.any():
            self.waiting[at] += wait
            back = np.zeros((short.size, self.wait_offs.size), dtype=np.int64)
            if fast:                      # a lane without waiting tools draws nothing (n = 0)
                if self._wait_rows.shape[0] < short.size:                 # contiguous: one compiled kind
                    self._wait_rows = np.repeat(self.wait_p[None], 2 * short.size, axis=0)
                p = self._wait_rows[:short.size]
                self.draws.multinomial("parts_wait", wait, p, bounds, back)
            else:
                for lane, sl in slices:
                    if wait[sl].any():
                        back[sl] = small_multinomial(self.streams[lane]["parts_wait"], wait[sl], self.wait_p)
            rows = (day + self.wait_offs) % self.R_back
            self.ring_back[rows[:, None], pl[None, :], pc[None, :]] += back.T
        self._shortfall_events(day, at, ret, lane_of)

    def _shortfall_events(self, day: int, at: tuple[np.ndarray, np.ndarray], ret: np.ndarray,
                          lane_of: np.ndarray) -> None:
        """Events of the pairs ``at`` short of a part (``ret`` tools retired at each; ``lane_of``: their lanes,
        ascending): the first tool a cohort retires, the first time its spares run out. A lane's events come in
        the order it records them alone: its retirements, then its exhausted spares, each in pair order. Only the
        pairs with a new event are looked at (a cohort short for weeks has one of each)."""
        pc = at[1]
        new_ret = (ret > 0) & ~self._retired_any[at]
        new_exh = ~self._exhausted[at]
        new = np.flatnonzero(new_ret | new_exh)
        if not new.size:
            return
        lanes, cohorts = lane_of[new].tolist(), pc[new].tolist()
        rets, exhs = new_ret[new].tolist(), new_exh[new].tolist()
        a = 0
        while a < len(new):
            lane = lanes[a]
            b = a + 1
            while b < len(new) and lanes[b] == lane:
                b += 1
            for flags, seen, event in ((rets, self._retired_any, "tools_retired"),
                                       (exhs, self._exhausted, "spares_exhausted")):
                for k in range(a, b):
                    if flags[k]:
                        i = cohorts[k]
                        seen[lane, i] = True
                        r = self.rows[i]
                        self.lanes.event(lane, day, f"fabs.{r['fab']}.{r['tc']}", event,
                                         SHORTFALL_CAUSES[event].format(vendor=r["vendor"], country=r["country"]))
            a = b

    def _account(self, day: int, elig: np.ndarray, down_v: np.ndarray, down_l: np.ndarray) -> None:
        """Book the day's tool-time into SEMI E10 states per lane and cohort (repairs by the vendor ``down_v``
        and by the fab ``down_l``, tool-days), sum to groups, compute output, record every lane."""
        if self._account_k is not None:      # the same numbers in two compiled loops (group sums in the first)
            states, output = self._account_k
            states(elig, self.phi, down_v, down_l, self.fleet, self.installing, self.waiting, self.q, self.sw,
                   self.kit_q, self.g_idx, self._S, self._SG)
            output(self._SG, self.wpt_net, self.fab_starts, self.planned_t[day], self.capacity_t[day], self.line_yield,
                   self.fab_of_group, self.eng, self.v_out, self.v_cap, self.v_good, self.v_group)
            self.block[self.lanes.row(day)] = self.vals
            return
        S = self._S
        pm = elig * self.phi
        room = elig - pm
        over = down_v + down_l
        if (over > room).any():       # more repair time booked than the day holds: cap at the up tools
            f = np.minimum(1.0, room / np.maximum(over, 1e-12))   # exactly 1 where it fits (room is 0 or ≥ 1 − φ)
            down_v *= f
            down_l *= f
            over = down_v + down_l
        S[:, 0] = self.fleet
        S[:, 1] = self.installing
        np.subtract(room, over, out=S[:, 2])
        S[:, 3] = pm
        S[:, 4] = down_l
        np.add(down_v, self.waiting, out=S[:, 5])
        factor = self.q * self.sw         # throughput/yield factor: substitutes' learning × software × kits
        factor *= self.kit_q
        np.multiply(S[:, 2], factor, out=S[:, 6])
        SG = group_sums(S, self._members, self._SG)
        fleet_g, inst_g, up_g, pm_g, user_g, supp_g, eff_g = SG.transpose(1, 0, 2)
        supply = eff_g * self.wpt_net
        potential = np.minimum.reduceat(supply, self.fab_starts, axis=1)
        out = np.minimum(self.planned_t[day], potential, out=self.v_out)
        self.v_cap[:] = self.capacity_t[day]
        np.multiply(out, self.line_yield, out=self.v_good)
        use = np.minimum(out[:, self.fab_of_group] / np.maximum(supply, 1e-12), 1.0)
        g = self.v_group
        sched = fleet_g - inst_g
        np.divide(up_g, sched, out=g[:, 0], where=sched > 0)
        g[:, 0][sched <= 0] = np.nan
        g[:, 1] = fleet_g
        prod_cap = up_g * (1.0 - self.eng)
        np.multiply(prod_cap, use, out=g[:, 2])
        np.subtract(prod_cap, g[:, 2], out=g[:, 3])
        np.multiply(up_g, self.eng, out=g[:, 4])
        g[:, 5] = pm_g
        g[:, 6] = user_g
        g[:, 7] = supp_g
        g[:, 8] = inst_g
        self.block[self.lanes.row(day)] = self.vals


def group_members(g_idx: np.ndarray, groups: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The cohorts of each group by rank: entry ``j`` is ``(groups, cohorts)``, the ``j``-th cohort (in cohort
    order) of every group that has more than ``j`` (see :func:`group_sums`)."""
    ranks = np.zeros(g_idx.size, dtype=np.intp)
    seen = np.zeros(groups, dtype=np.intp)
    for c, g in enumerate(g_idx):
        ranks[c], seen[g] = seen[g], seen[g] + 1
    return [(g_idx[ranks == j], np.flatnonzero(ranks == j)) for j in range(int(seen.max(initial=0)))]


def group_sums(S: np.ndarray, members: list[tuple[np.ndarray, np.ndarray]], out: np.ndarray) -> np.ndarray:
    """Sums of ``S`` (..., cohorts) over each group's cohorts into ``out`` (..., groups): from 0, adding a group's
    cohorts one after the other in cohort order (``members``: :func:`group_members`), as
    ``kernels.fab_account_states`` does. (A matrix product with a 0/1 cohort-to-group matrix gave these bits
    with this machine's OpenBLAS, but its order of additions is the BLAS build's to choose.)"""
    out.fill(0.0)
    for groups, cohorts in members:
        out[..., groups] += S[..., cohorts]
    return out
