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
``fabs.parts_class``, ``fabs.refurb``, ``fabs.local_repairs``, ``fabs.retire``, ``fabs.parts_wait``), each drawing
one array over all cohorts a day, so a scenario and its baseline draw identical numbers until their states
differ (common random numbers), and the step needs no Python loop over cohorts.

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

from .fab_origin import flow_shares, origin_bill
from .fab_parts import RING_DAYS, PartsLedger, small_binomial, small_multinomial, spare_stock, wright
from .fab_procurement import Procurement, lead_days
from .world import Mechanism, RunContext

TOOL_CLASSES = ("litho", "etch", "deposition", "clean", "coat_develop", "metrology", "implant", "cmp")
MEASURE_NAMES = ("sales", "servicing", "spare_parts", "software_updates")
E10_STATES = ("e10_productive", "e10_standby", "e10_engineering", "e10_scheduled_down",
              "e10_unscheduled_down_user", "e10_unscheduled_down_supplier", "e10_non_scheduled")
GROUP_METRICS = ("availability", "tools") + E10_STATES
WAIT_BINS = 16            # equal-probability bins of the lognormal parts wait
DAYS_PER_MONTH = 365.25 / 12

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


class FabFleets(Mechanism):
    """Cohorts of tools at Chinese fab classes; see the module docstring for what is modelled."""

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
    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        w = ctx.world["fabs"]
        self._vendors: dict[str, dict] = w["vendors"]
        ops, cut, dom, ann = w["operations"], w["cutoff"], w["domestic"], w["announcement"]
        parts_cfg, proc_cfg = w["parts"], w["procurement"]
        bills = w.get("module_origin") or {}
        self.days = ctx.days
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
        self.ind = np.zeros((C, G))
        self.ind[np.arange(C), self.g_idx] = 1.0
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
        # baseline rates, parts, procurement and state
        self.rate0 = failure_rate_per_day(self.mtbf, self.mttr, self.phi)
        self.parts = PartsLedger(self.n0, self.rate0, self.pm_interval, arr("p_locked"), arr("p_module"),
                                 arr("third_party_kit_share"), parts_cfg)
        self.proc = Procurement(rows, self.n0, G, np.array(group_growth), self.qual, ctx.days, proc_cfg)
        self.fleet = self.n0.astype(np.int64)
        self.installing = np.zeros(C, dtype=np.int64)
        self.waiting = np.zeros(C, dtype=np.int64)
        self.e_pm = np.zeros(C)
        self.cum_local = np.zeros(C)
        self.cum_sub = np.zeros(C)
        self.sw = np.ones(C)
        self.q = np.ones(C)
        self.kit_q = np.ones(C)
        self.factor = np.ones(C)       # throughput/yield factor: substitutes' learning × software × kits
        self.carry = np.zeros(C)
        # pipelines: row = day (mod RING_DAYS), column = cohort, so a day's arrivals are one contiguous row
        self.ring_deliv = np.zeros((RING_DAYS, C))
        self.ring_qual = np.zeros((RING_DAYS, C), dtype=np.int64)
        self.ring_back = np.zeros((RING_DAYS, C), dtype=np.int64)
        for d in range(-self.qual, 0):                                 # tools already installing at the start
            n = self._whole(self.proc.new_tools(d))
            self.fleet += n
            self.installing += n
            self.ring_qual[(d + self.qual) % RING_DAYS] += n
        cap_wpd = np.array([float(w["classes"][f]["capacity_wpm"]) * 12 / 365.25 for f in self.fab_names])
        self.line_yield = np.array([float(w["classes"][f].get("line_yield", 1.0)) for f in self.fab_names])
        r_fab = np.log1p(np.array([float(w["classes"][f].get("capacity_growth_per_y", ops["capacity_growth_per_y"]))
                                   for f in self.fab_names]))
        self.capacity = cap_wpd[:, None] * np.exp(r_fab[:, None] * np.arange(ctx.days)[None, :] / 365.25)
        self.planned = self.capacity * self.utilisation[:, None]
        self.fab_of_group = np.repeat(np.arange(len(self.fab_names)), np.diff(np.r_[self.fab_starts, G]))
        self.streams = {k: ctx.streams.get(f"fabs.{k}") for k in
                        ("failures", "repair_hours", "oem_parts", "parts_class", "refurb", "local_repairs",
                         "retire", "parts_wait")}
        self._shape = np.zeros(2 * C)
        self._scale = np.zeros(2 * C)
        self._zeros = np.zeros(C)
        self.mttr_d = self.mttr / 24.0                           # repair time in days
        self._scale[:C] = self.mttr_d
        self.c_loc_d = self.mttr_d * (self.local_mult - 1.0)     # extra local repair days before learning
        self.rate_num = 24.0 * (1.0 - self.phi)                  # numerator of failure_rate_per_day
        self.inv_pmi = 1.0 / self.pm_interval
        self._S = np.zeros((7, C))
        self._SG = np.zeros((7, G))
        self._exhausted = np.zeros(C, dtype=bool)
        self._retired_any = np.zeros(C, dtype=bool)
        self._policy_version = -1
        self.hazard_live = False
        self._register(ctx)

    def _whole(self, x: np.ndarray) -> np.ndarray:
        """Whole tools from fractional flows per cohort, carrying remainders to the next day."""
        self.carry += x
        n = np.floor(self.carry + 1e-9)
        self.carry -= n
        return n.astype(np.int64)

    def _register(self, ctx: RunContext) -> None:
        """Register every series as columns of one recorder block, so a day is written in one call."""
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
        for what in ("revenue_lost_sales", "revenue_lost_service"):
            for v in self.rev_vendors:
                specs.append((f"vendors.{v}", what, "USD/day", ("total",)))
        self.block = ctx.recorder.block(specs)
        F, V = len(self.fab_names), len(self.rev_vendors)
        self.vals = np.zeros(len(specs))
        self.v_out, self.v_cap, self.v_good = self.vals[:F], self.vals[F:2 * F], self.vals[2 * F:3 * F]
        self.v_group = self.vals[3 * F:3 * F + len(GROUP_METRICS) * self.G].reshape(len(GROUP_METRICS), self.G)
        self.v_rev = self.vals[3 * F + len(GROUP_METRICS) * self.G:]
        assert self.v_rev.size == 2 * V

    # ----- policy view (recomputed only when the board changes) -------------------------------------------
    def _refresh_policy(self) -> None:
        pb = self.ctx.policy
        now, pend = flow_shares(pb, self.rows), flow_shares(pb, self.rows, pending=True)
        self.s_exp, self.s_rep, self.s_serv = now["expansion"], now["replacement"], now["service"]
        self.s_parts, self.s_sw = now["parts"], now["software"]
        self.pend_exp = pend["expansion"]
        self.pend_parts = pend["parts"]
        self.idx_part = np.flatnonzero(self.s_parts > 0)
        self.parts_cut = (self.s_parts > 0).astype(float)
        self.parts.set_need((self.parts.p_part * self.s_parts)[self.idx_part], self.idx_part)
        self.idx_serv = np.flatnonzero(self.s_serv > 0)
        self.serv_isv = self.s_serv[self.idx_serv]
        self.any_cut = bool(self.idx_part.size or self.idx_serv.size)
        self.hazard_live = self.hazard_live or self.any_cut
        self.any_sw = bool((self.s_sw > 0).any())
        self.any_exp = bool((self.s_exp > 0).any() or (self.pend_exp > 0).any())
        self.any_pend_parts = bool((self.pend_parts > 0).any())
        self.deliv_factor = (1.0 - self.s_exp) * (1.0 + (self.pull_forward - 1.0) * self.pend_exp)
        self.redundant_week = np.maximum(self.s_serv, self.s_parts) * self.proc.redundant * 7
        self.any_redundant = bool(self.redundant_week.any())
        self.parts.set_cut(self.parts_cut)
        # expected requalification hours per failure (module swaps without vendor sign-off) lengthen the cycle
        self.requal_rate_h = self.parts.p_module * self.s_parts * self.parts.requal_h
        self.c_pm = self.s_serv * self.parts.vendor_pm            # vendor-only PM steps undone, before learning
        self.c_mttr_serv = self.mttr * self.s_serv * (self.local_mult - 1.0)
        self.mttr_cut = self.mttr + self.requal_rate_h
        self.kit_q = np.ones(self.C)
        self.factor = self.q * self.sw
        self.proc.set_controls((self.s_exp > 0) | (self.s_serv > 0) | (self.s_parts > 0))
        # vendor revenue lost per day (negative when purchases are pulled forward)
        out = []
        for v in self.rev_vendors:
            d = self._vendors[v]
            mask = np.array([r["vendor"] == v for r in self.rows])
            wts = self.n0[mask]
            if wts.sum() <= 0:
                out.append((0.0, 0.0))
                continue
            wts = wts / wts.sum()
            rate = float(d["china_revenue_usd_per_y"]) / 365.25
            svc = float(d["service_share"])
            sales_lost = float(wts @ (1.0 - self.deliv_factor[mask]))
            serv_lost = float(wts @ (self.s_serv[mask] + (1 - self.s_serv[mask]) * self.spares_service
                                     * self.s_parts[mask]))
            out.append((rate * (1 - svc) * sales_lost, rate * svc * serv_lost))
        self.v_rev[:] = np.array(out).T.ravel() if out else []
        self._policy_version = pb.version

    # ----- the daily step ---------------------------------------------------------------------------------
    def step(self, day: int) -> None:
        if self.ctx.policy.version != self._policy_version:
            self._refresh_policy()
        C, k = self.C, day % RING_DAYS
        # arrivals: deliveries (into qualification), qualified tools, tools back from a parts wait
        growth = self.proc.new_tools(day)
        if self.any_exp:
            blocked = growth * self.s_exp * self.dom_sub
            if blocked.any():
                self.ring_deliv[(day + self.lead_dom) % RING_DAYS, self.sub_of_group] += self.proc.to_groups(blocked)
            growth = growth * self.deliv_factor
        ring = self.ring_deliv[k]
        ring += growth
        deliv = self._whole(ring)
        ring[:] = 0.0
        self.fleet += deliv
        qual = self.ring_qual[k]
        self.installing += deliv
        self.installing -= qual
        qual[:] = 0
        self.ring_qual[(day + self.qual) % RING_DAYS] += deliv
        back = self.ring_back[k]
        self.waiting -= back
        back[:] = 0
        if deliv[self.sub_of_group].any():
            self.cum_sub[self.sub_of_group] += deliv[self.sub_of_group]
            self.q[self.sub_of_group] = 1.0 - (1.0 - self.q0) * wright(self.cum_sub[self.sub_of_group],
                                                                        self.q_base, self.learn_rate)
            self.factor = self.q * self.sw * self.kit_q
        if self.any_pend_parts:
            self.parts.buy_ahead(self.pend_parts, self.spares_pf)
        # failures
        active = self.fleet - self.installing - self.waiting
        if self.any_cut:
            learn = wright(self.cum_local, self.learn_base, self.learn_rate)   # local skill learns
            deficit = self.c_pm * learn
            if self.idx_part.size:
                short_kit, tp = self.parts.pm_kits(active, self.s_parts)
                deficit += short_kit
                deficit += tp * self.parts.kit_penalty
                self.kit_q = 1.0 - self.parts.kit_yield_loss * tp
                self.factor = self.q * self.sw * self.kit_q
            np.minimum(deficit, 1.0, out=deficit)
            if day % 7 == 0 and self.any_redundant:    # redundant tools are ordered weekly
                red = self.redundant_week * self.fleet
                self.ring_deliv[(day + self.lead_dom) % RING_DAYS, self.sub_of_group] += self.proc.to_groups(red)
        else:
            deficit = 0.0
        if self.hazard_live:          # PM not done properly raises the hazard over one PM interval
            self.parts.refurbished(day)
            step_e = deficit - self.e_pm
            step_e *= self.inv_pmi
            self.e_pm += step_e
            up_h = self.mtbf / (1.0 + (self.hazard_max - 1.0) * self.e_pm)      # MTBF / hazard
            if self.any_cut:                  # failure_rate_per_day with the local repair time
                up_h += self.mttr_cut
                up_h += self.c_mttr_serv * learn
            else:
                up_h += self.mttr
            rate = np.divide(self.rate_num, up_h, out=up_h)
        else:
            rate = self.rate0
        fails = self.streams["failures"].poisson(active * rate)
        shape, scale = self._shape, self._scale
        if self.any_cut:
            got = self.parts.failures(fails, active, self.idx_part, learn, day, self.streams) \
                if self.idx_part.size else None
            if got is not None:
                ip, short, swaps = got
                fails[ip] -= short                   # the rest are repaired
                m = short > 0
                if m.any():
                    self._shortfall(day, ip[m], short[m])
                    active = self.fleet - self.installing - self.waiting     # less retired and waiting
            local = shape[C:]
            local[:] = 0.0
            isv = self.idx_serv
            if isv.size:
                local[isv] = self.streams["local_repairs"].binomial(fails[isv], self.serv_isv)
                self.cum_local += local
            np.subtract(fails, local, out=shape[:C])
            np.multiply(self.c_loc_d, learn, out=scale[C:])
            scale[C:] += self.mttr_d
            days_down = self.streams["repair_hours"].gamma(shape, scale)
            down_v, down_l = days_down[:C], days_down[C:]
            if got is not None:
                down_l[ip] += swaps * (self.parts.requal_h / 24.0)
        else:
            down_v = self.streams["repair_hours"].gamma(fails, self.mttr_d)
            down_l = self._zeros
        if self.any_sw:
            self.sw -= self.s_sw * self.sw_decay
            np.maximum(self.sw, self.sw_floor, out=self.sw)
            self.factor = self.q * self.sw * self.kit_q
        self._account(day, active, down_v, down_l)

    def _shortfall(self, day: int, idx: np.ndarray, short: np.ndarray) -> None:
        """Failures short of a part (``short`` at cohorts ``idx``): retire and cannibalise some, the others wait
        for a grey/domestic part."""
        ret = small_binomial(self.streams["retire"], short, self.retire_share)
        wait = short - ret
        if ret.any():
            self.fleet[idx] -= ret
            self.parts.cannibalise(idx, ret)
            keep = (ret * (1.0 - self.s_rep[idx])).astype(float)
            self.ring_deliv[(day + self.lead_foreign) % RING_DAYS, idx] += keep
            subs = np.bincount(self.g_idx[idx], weights=ret * self.s_rep[idx] * self.dom_sub[idx],
                               minlength=self.G)
            if subs.any():
                self.ring_deliv[(day + self.lead_dom) % RING_DAYS, self.sub_of_group] += subs
            for i in idx[(ret > 0) & ~self._retired_any[idx]] if not self._retired_any[idx].all() else ():
                self._retired_any[i] = True
                r = self.rows[i]
                self.ctx.recorder.event(day, f"fabs.{r['fab']}.{r['tc']}", "tools_retired",
                                        f"{r['vendor']} tools cannibalised for parts: spares exhausted")
        if wait.any():
            self.waiting[idx] += wait
            back = small_multinomial(self.streams["parts_wait"], wait, self.wait_p)
            self.ring_back[np.ix_((day + self.wait_offs) % RING_DAYS, idx)] += back.T
        if self._exhausted[idx].all():
            return
        for i in idx[~self._exhausted[idx]]:
            self._exhausted[i] = True
            r = self.rows[i]
            self.ctx.recorder.event(day, f"fabs.{r['fab']}.{r['tc']}", "spares_exhausted",
                                    f"{r['vendor']} ({r['country']}) spare modules or locked items used up "
                                    f"under a servicing/spare_parts cutoff")

    def _account(self, day: int, elig: np.ndarray, down_v: np.ndarray, down_l: np.ndarray) -> None:
        """Book the day's tool-time into SEMI E10 states per cohort (repairs by the vendor ``down_v`` and by the
        fab ``down_l``, tool-days), sum to groups, compute output, record."""
        S = self._S
        inst = self.installing
        pm = elig * self.phi
        room = elig - pm
        over = down_v + down_l
        if (over > room).any():       # more repair time booked than the day holds: cap at the up tools
            f = np.minimum(1.0, room / np.maximum(over, 1e-12))
            down_v *= f
            down_l *= f
            over = down_v + down_l
        S[0] = self.fleet
        S[1] = inst
        np.subtract(room, over, out=S[2])
        S[3] = pm
        S[4] = down_l
        np.add(down_v, self.waiting, out=S[5])
        np.multiply(S[2], self.factor, out=S[6])
        SG = np.matmul(S, self.ind, out=self._SG)
        fleet_g, inst_g, up_g, pm_g, user_g, supp_g, eff_g = SG
        supply = eff_g * self.wpt_net
        potential = np.minimum.reduceat(supply, self.fab_starts)
        out = np.minimum(self.planned[:, day], potential, out=self.v_out)
        self.v_cap[:] = self.capacity[:, day]
        np.multiply(out, self.line_yield, out=self.v_good)
        use = np.minimum(out[self.fab_of_group] / np.maximum(supply, 1e-12), 1.0)
        g = self.v_group
        sched = fleet_g - inst_g
        np.divide(up_g, sched, out=g[0], where=sched > 0)
        g[0][sched <= 0] = np.nan
        g[1] = fleet_g
        prod_cap = up_g * (1.0 - self.eng)
        np.multiply(prod_cap, use, out=g[2])
        np.subtract(prod_cap, g[2], out=g[3])
        np.multiply(up_g, self.eng, out=g[4])
        g[5] = pm_g
        g[6] = user_g
        g[7] = supp_g
        g[8] = inst_g
        self.block[day] = self.vals
