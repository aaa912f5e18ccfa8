"""Commodity markets by stage: every item (a mineral at one stage, or a component) in every region, day by day.

The picture, in the item's unit (tonnes for minerals) and per day: each region produces (primary output up to
capacity, limited by its feed; plus recycling), imports along trade edges, exports, holds users' stocks spread over
holder groups and a strategic stockpile, and consumes (final use and feed for the next stage in the same region).
Chinese countermeasures cut Chinese edges (:mod:`.trade`); stocks, the stockpile release and the ex-China spot
market absorb the shock (:mod:`.stocks`); two prices per item follow inventory cover (:mod:`.prices`); supply
responds through utilisation, feed limits and new capacity (:mod:`.supply`).

Daily order: arrivals → demand → production → strategic release and state-reserve buying → orders → measures →
exporters' limits (stock, origin) → spot market → consumption by holder group → prices → new capacity → record.

All runs of a batch (lanes) are stepped together: every state array carries a leading lane axis, each lane has
its own trade rules (its own policy board) and project lead times (its own random streams), and a lane's numbers
are exactly those it would have alone. The day's sections (arrivals to strategic release, exporters' shipments, the
spot market, stocks after consumption) are each a method pair: ``_<section>_numpy`` and ``_<section>_compiled``,
the latter one compiled loop of :mod:`..kernels` giving the same bits, used when the batch is large enough; both
write into arrays allocated once.

Mass balance per item, region and day: production + imports − exports − consumption − stock_change = 0, where
stock_change counts users' and strategic stocks (goods in transit belong to neither region) and consumption counts
final use and feed use.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .. import kernels
from ..lane_reader import LaneReader
from ..shared_lanes import SharedBaselines, copy_lane_state
from ..world import LaneMechanism, Lanes
from .data import CHINA, REGIONS, item_groups, item_sections, load_market_data
from .prices import cover_power, price_step, reserve_purchases
from .stocks import HolderGroups, sourcing_classes, spot_market, strategic_release
from .supply import Projects, china_cut, feed_allowance
from .trade import LICENSING, TradeRules

#: longest transport, leakage or spot delay (days) the transit rings take; each markets' rings are only as long as
#: its own longest delay + 1 (the headline's: 71 days), so the rows a day writes stay near in memory (markets
#: 28.0 → 26.7 µs a lane-day at 20 lanes, 2026-12-06) — any length past the longest delay gives the same numbers
H_TRANSIT = 256
HOLDER_GROUPS = 8   # holder groups per (item, region)
HEADLINE_REGIONS = ("Japan", "South_Korea", "Taiwan", "US", "EU")   # importers whose shortfalls lead the tables
#: what markets built for some lanes keep when they take another lane's state (``take_lane``): their recorded
#: block, the lane-offset bins of their flat arrays, and their own random numbers (lead times, licence delays).
#: A new array holding a lane's own random numbers or lane-indexed bins belongs here; everything else with a lane
#: axis is copied (``tests/test_shared_lanes.py`` compares every lane after the baselines part)
_OWN_PER_LANE = frozenset({"block", "l_mi", "l_mx", "trade._l_mi", "trade.z_licence", "trade.lic_qidx",
                           "projects.lead", "projects.cell_bins", "projects.item_bins"})


def ring_days(*delays: np.ndarray) -> int:
    """Length (days) of the transit and spot rings for these delays (days): the longest + 1."""
    return int(max(d.max(initial=0) for d in delays)) + 1


class MineralMarkets(LaneMechanism):
    """Producers, trade edges, stocks, prices and alternative supply of every item, stepped together, in every
    lane of a batch."""

    section = "minerals"

    @classmethod
    def vocabulary(cls, world: Mapping[str, Any]) -> dict[str, set[str]]:
        items = set(item_sections(world))
        return {"mineral": set(item_groups(world)) | items, "item": items, "region": set(REGIONS) | {"all"}}

    @classmethod
    def for_lanes(cls, lanes: Lanes) -> LaneMechanism:
        """The markets of a batch: with its baseline lanes sharing one run while they agree
        (:class:`..shared_lanes.SharedBaselines`: a baseline lane's markets read nothing lane-specific, and its
        only numbers of its own are project lead times and licence delays, see :meth:`part_lanes`)."""
        return SharedBaselines(lanes, cls) if SharedBaselines.wanted(lanes, cls) else cls(lanes)

    def take_lane(self, src: "MineralMarkets", lane: int, day: int) -> bool:
        """Make every lane of these markets (built, not stepped, for other lanes) hold lane ``lane`` of ``src`` as
        it ended ``day`` (:func:`..shared_lanes.copy_lane_state`), each with its own random numbers: the lead
        times (projects started on ``day`` are scheduled again with them) and licence delays stay as built here.
        False, changing nothing, where licence delays were drawn already (the caller then replays the days)."""
        if src.trade.lic_edges[lane].size:
            return False
        if not copy_lane_state(self, src, lane, _OWN_PER_LANE):   # (its first step looks at the lanes' policy
            return False                                           # boards again: no measures, the same state)
        self.projects.started_today_own_leads(day)
        return True

    def part_lanes(self, lane: int) -> bool:
        """Whether lane ``lane`` has used a random number of its own: a project's lead time (drawn when it
        starts) or licence delays (drawn when licensing applies to one of its edges)."""
        return bool(self.trade.lic_edges[lane].size) or (self.projects.N > 0
                                                         and not np.isnan(self.projects.start[lane]).all())

    def __init__(self, lanes: Lanes):
        super().__init__(lanes)
        d = self.d = load_market_data(lanes.world, lanes.start, lanes.days, HOLDER_GROUPS)
        I, R = d.shape
        E = len(d.e_names)
        n = self.n = lanes.n
        self.I, self.R, self.E = I, R, E
        self.e_mi = d.e_m * R + d.e_i
        self.e_mx = d.e_m * R + d.e_x
        # flat (lane, item, region) bins of every lane's edges, for one bincount over all lanes
        off = (np.arange(n) * (I * R))[:, None]
        self.l_mi, self.l_mx = (off + self.e_mi).ravel(), (off + self.e_mx).ravel()
        self.from_china = d.e_x == CHINA
        self.imports0 = np.bincount(self.e_mi, d.e_flow0, minlength=I * R).reshape(I, R)
        self.exports0 = np.bincount(self.e_mx, d.e_flow0, minlength=I * R).reshape(I, R)
        self.tau_e = np.maximum(1, np.round(d.e_transport)).astype(np.int64)
        self.tau_leak = self.tau_e + np.round(d.per["leak_delay"][d.e_m]).astype(np.int64)
        self.tau_spot = np.maximum(1, np.round(d.per["spot_transport"])).astype(np.int64)
        self.H = ring_days(self.tau_e, self.tau_leak, self.tau_spot)
        if self.H > H_TRANSIT:
            raise ValueError(f"transport, leakage and spot delays must be < {H_TRANSIT} days")
        col = lambda v: np.asarray(v, float)[:, None]  # noqa: E731
        p = d.per
        self.el_s, self.el_d = col(p["el_short"]), col(p["el_long"] - p["el_short"])
        self.supply_el = col(p["supply_el"])
        # restock days of every (item, region) cell, made once: a broadcast view a day costs the holders ~3 µs
        self.restock_cells = np.ascontiguousarray(np.broadcast_to(col(p["restock_days"]), d.shape))
        self.feed0 = d.feed_use0()
        self.demand0 = d.final0 + self.feed0
        self.prod0 = d.primary0 + d.recycling
        self.sl0 = np.bincount(self.e_mi, d.e_flow0 * (self.tau_e - 1), minlength=I * R).reshape(I, R)
        self.const0 = self.imports0 - self.demand0 + self.prod0 - self.exports0 + self.sl0 / col(p["restock_days"])
        # state: every lane starts from the same steady state
        share0 = self._origin_share0()
        cn_in0 = np.bincount(self.e_mi, d.e_flow0 * share0.ravel()[self.e_mx], minlength=I * R).reshape(I, R)
        cn_in0[:, CHINA] += self.prod0[:, CHINA]
        self.nc_contract = self.prod0 + self.imports0 - cn_in0          # contracted non-Chinese supply, per day
        self.cn_contract = cn_in0                                       # and Chinese-origin supply
        inflow0 = np.maximum(self.prod0 + self.imports0, 1e-300)
        hw, hc, cover = sourcing_classes(d.holder_cover, np.clip(cn_in0 / inflow0, 0.0, 1.0),
                                                   p["sourcing_concentration"])
        S0 = hw * cover * self.demand0[:, :, None]
        fast = kernels.worth_compiling(n * lanes.days, lanes, "markets")   # compiled sections of the day (same numbers)
        self.holders = HolderGroups(hw, hc, fast)
        self.S = _lanes(S0, n)
        self.Stot = self.S.sum(axis=3)
        self.Scn = _lanes(S0.sum(axis=2) * share0, n)
        self.G = _lanes(d.strategic0, n)
        self.releasing = np.zeros((n, I, R), dtype=bool)
        self.Q = _lanes(d.primary0, n)
        self.L = np.ones((n, I, R))
        self.sigma = np.zeros((n, len(d.s_from), R))
        self.served = np.ones((n, I, R))
        self.short_prev = np.zeros((n, I, R))
        self.x_prev = _lanes(self.exports0, n)
        # a day's results (lanes, I, R) unless noted, written in place by its sections (see step)
        cells = lambda: np.zeros((n, I, R))  # noqa: E731
        self.rel, self.imports, self.imports_cn, self.spot_in = cells(), cells(), cells(), cells()
        self.final, self.qt, self.allow, self.production, self.feed = cells(), cells(), cells(), cells(), cells()
        self.demand, self.dem_safe, self.cover_now, self.release = cells(), cells(), cells(), cells()
        self.releasing_now = np.zeros((n, I, R), dtype=bool)
        self.physical, self.flow_need = cells(), cells()
        self.avail, self.cn_share, self.exports, self.exports_cn = cells(), cells(), cells(), cells()
        self.ship_cn = np.zeros((n, E))
        self.spot_out = cells()
        self.unmet, self.cover, self.stock_change, self.feed_used = cells(), cells(), cells(), cells()
        self.held, self.target, self.cov = np.zeros((n, 2, I)), np.zeros((n, 2, I)), np.zeros((n, 2, I))
        self.floor = np.zeros((n, I))
        # scratch of the compiled sections (see kernels.market_*)
        self._scratch_a, self._scratch_b, self._scratch_r = np.zeros((I, R)), np.zeros((I, R)), np.zeros(R)
        self._spot_scratch = ([cells() for _ in range(5)] + [np.zeros(n, dtype=bool) for _ in range(2)]
                              + [np.zeros(R) for _ in range(4)])
        # fixed inputs, worked out once
        self.ref_days = np.ascontiguousarray(np.stack([d.p_ref_cn, d.p_ref_ex]).transpose(2, 0, 1))  # (days, 2, I)
        self.release_rate = d.strategic0 / p["release_days"][:, None]
        self.neg_spot_el = -p["spot_el"][:, None]
        # the day's powers of the price ratio (see step): all ex-China regions of an item face one ratio, so each
        # power is taken once a lane, item and side [ex-China, China] (numpy's power, the same bits element by
        # element) and spread over the regions
        self._exponents = np.stack([self.el_d, self.el_s, self.supply_el, self.neg_spot_el])[:, None]  # (4,1,I,1)
        self._sides = np.zeros((n, I, 2))
        self._side_powers = np.zeros((4, n, I, 2))
        self._powers = np.zeros((4, n, I, R))          # rel ** el: (4, lanes, I, R), today's, spread over regions
        self.neg_alpha = -np.stack([p["alpha_cn"], p["alpha_ex"]])
        self.inv_tau = 1.0 / p["tau_price"]
        self._s_from, self._s_to = np.asarray(d.s_from, np.int64), np.asarray(d.s_to, np.int64)
        self._f_down, self._f_up = np.asarray(d.f_down, np.int64), np.asarray(d.f_up, np.int64)
        self.cap_now = _lanes(d.capacity, n)
        self.extra = np.zeros((n, I, R))
        self.P = _lanes(np.stack([d.p_ref_cn[:, 0], d.p_ref_ex[:, 0]]), n)
        self.T = _lanes(d.cover_days, n)
        # goods in transit: a ring of days × lanes × edges, so a day's arrivals in every lane are one block
        self.transit = np.zeros((self.H, n, E))
        self.transit_cn = np.zeros((self.H, n, E))
        share0_e = share0.ravel()[self.e_mx]
        for e in range(E):                         # the baseline pipeline already on its way at day 0
            self.transit[:self.tau_e[e], :, e] = d.e_flow0[e]
            self.transit_cn[:self.tau_e[e], :, e] = d.e_flow0[e] * share0_e[e]
        self.in_transit = _lanes(d.e_flow0 * self.tau_e, n)
        self.spot = np.zeros((self.H, n, I, R))
        self.spot_cn = np.zeros((self.H, n, I, R))
        self.spot_pipe = np.zeros((n, I, R))
        self.spot_on = np.zeros(n, dtype=bool)
        self.spot_cap = col(p["spot_cap"]) * self.demand0
        self.spot_cap[:, CHINA] = 0.0
        self.spot_tol = col(1e-9 * np.maximum(self.demand0.max(1), 1e-300))
        self.exhausted = np.zeros((n, I, R), dtype=bool)
        self.short_seen = np.zeros((n, I, R), dtype=bool)
        self.reserve_on = np.zeros((n, I), dtype=bool)
        self.licensed_once = np.zeros((n, I), dtype=bool)
        self.licence_waiting = np.zeros((n, I), dtype=bool)   # licensed items of a lane without approvals yet
        # random numbers, lane by lane, each from a named stream of its own, drawn when first used: a Chinese
        # edge's licence delays when licensing first applies to it, a project's lead time when it starts
        # (building the ~120 streams of a lane up front, most never used, cost ~5 ms a lane)
        runs, days = lanes.runs, lanes.days

        def licence_normals(lane: int, e: int) -> np.ndarray:
            return runs[lane].streams.get(f"minerals.{d.e_names[e]}.licence").standard_normal(days)

        def lead_normal(lane: int, k: int) -> float:
            return runs[lane].streams.get(f"minerals.{d.items[d.p_m[k]]}.project.{d.p_names[k]}").standard_normal()

        self.trade = TradeRules(d, days, n, licence_normals, kernels.compiled("trade_apply") if fast else None)
        self.share = self.trade.share               # each edge's share of its importer's baseline imports
        self.projects = Projects(d, days, n, lead_normal, lanes.event,
                                 (kernels.compiled("projects_signal"), kernels.compiled("projects_capacity"))
                                 if fast else None)
        self.restricted = np.zeros((n, I, R), dtype=bool)
        self.restricted_item = np.zeros((n, I), dtype=bool)
        self.parity = np.zeros((n, I))
        self._pv = [-1] * n
        self._clock = -1
        self._register()
        sections = ("market_supply", "market_ship", "market_spot", "market_stocks", "market_orders", "market_flows",
                    "market_reserve", "market_short", "market_price")
        self._order_cells = np.zeros(I * R)
        self._flows_out = tuple(np.zeros((n, I, R)) for _ in range(5))   # inflow, outflow, base, cn_in, nc_in
        self._short_out = tuple(np.zeros((n, I, R), dtype=bool) for _ in range(2))   # first, new
        self._kernels = {k: kernels.compiled(k) for k in sections} if fast else {}
        self._supply = self._supply_compiled if fast else self._supply_numpy
        self._ship = self._ship_compiled if fast else self._ship_numpy
        self._spot = self._spot_compiled if fast else self._spot_numpy
        self._stocks = self._stocks_compiled if fast else self._stocks_numpy
        self._record = kernels.compiled("market_record") if fast else None
        # items whose production in a region follows another model part (Chinese chips follow the fab model):
        # capacity × today's value of the series ÷ the paired baseline run's value (1 in the baseline itself)
        self.follow = []
        for m, r, key in d.follows:
            if not lanes.has(key):
                continue
            own = [ctx.recorder.get(key) for ctx in lanes.runs]
            base = [ctx.baseline.get(key) if ctx.baseline is not None and ctx.baseline.has(key) else None
                    for ctx in lanes.runs]
            paired = np.array([b is not None for b in base])
            self.follow.append((m, r, LaneReader(own),
                                LaneReader([b if b is not None else o for b, o in zip(base, own)]), paired))
        F = len(self.follow)
        self.follow_own, self.follow_base = np.zeros((n, F)), np.ones((n, F))
        self.follow_on = np.zeros((n, F), dtype=bool)
        self._follow_m = np.array([f[0] for f in self.follow], dtype=np.int64)
        self._follow_r = np.array([f[1] for f in self.follow], dtype=np.int64)

    def _origin_share0(self) -> np.ndarray:
        """Steady-state Chinese-origin share (I, R) of each region's stock: what flows in is Chinese (imports from
        China, and the Chinese part of third countries' exports), over all that flows in (production, recycling,
        imports). Solved by fixed-point iteration over the trade graph; China's own stock is all Chinese."""
        d = self.d
        I, R = d.shape
        inflow = np.maximum(self.prod0 + self.imports0, 1e-300)
        share = np.zeros((I, R))
        share[:, CHINA] = 1.0
        for _ in range(100):
            cn_in = np.bincount(self.e_mi, d.e_flow0 * share.ravel()[self.e_mx], minlength=I * R).reshape(I, R)
            new = cn_in / inflow
            new[:, CHINA] = 1.0
            if np.allclose(new, share, rtol=0, atol=1e-14):
                break
            share = new
        return share

    def _per_cell(self, bins: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Per (lane, item, region), the sum of edge values ``w`` (lanes, E) at flat bins ``bins`` (``l_mi`` for
        the importer, ``l_mx`` for the exporter); each bin adds its edges in edge order, as one run alone would."""
        return np.bincount(bins, w.ravel(), minlength=self.n * self.I * self.R).reshape(self.n, self.I, self.R)

    # ----- outputs ---------------------------------------------------------------------------------------
    CELL_METRICS = (("production", ()), ("imports", ()), ("exports", ()), ("consumption", ("lost", "max_drop_pct")),
                    ("demand", ()), ("feed_use", ()), ("unmet_demand", ("total",)),
                    ("industry_stock", ("exhaustion",)), ("days_of_cover", None), ("strategic_stock", ()),
                    ("stock_change", ()), ("spot_imports", ("total",)), ("spot_exports", ("total",)),
                    ("imports_chinese_origin", ()), ("users_short_share", None))

    def _register(self) -> None:
        """Register the series of every active (item, region) cell as columns of one block written once a day."""
        d = self.d
        I, R = d.shape
        active = (self.demand0 > 0) | (d.capacity > 0) | (self.imports0 > 0) | (self.exports0 > 0)
        for k in range(len(d.p_names)):
            active[d.p_m[k], d.p_r[k]] = True
        self.cells = np.flatnonzero(active.ravel())
        self.cell_item, self.cell_region = divmod(self.cells, R)
        specs: list[tuple] = []
        for m, name in enumerate(d.items):
            specs.append((name, "price_china", d.price_unit[m], ("peak", "days_above_50pct"), False))
        for m, name in enumerate(d.items):
            specs.append((name, "price_ex_china", d.price_unit[m], ("peak", "days_above_50pct"), True))
        for m, name in enumerate(d.items):
            specs.append((name, "china_exports", f"{d.unit[m]}/day", ("total",), False))
        for m, name in enumerate(d.items):
            specs.append((name, "new_capacity_online", f"{d.unit[m]}/year", (), False))
        for metric, summ in self.CELL_METRICS:
            for c in self.cells:
                m, r = divmod(int(c), R)
                unit = {"days_of_cover": "days", "users_short_share": "share", "industry_stock": d.unit[m],
                        "strategic_stock": d.unit[m]}.get(metric, f"{d.unit[m]}/day")
                head = metric == "unmet_demand" and REGIONS[r] in HEADLINE_REGIONS and self.demand0[m, r] > 0
                specs.append((f"{d.items[m]}.{REGIONS[r]}", metric, unit, summ or (), head))
        for metric in ("flow", "leakage"):
            for e, ename in enumerate(d.e_names):
                specs.append((ename, metric, f"{d.unit[d.e_m[e]]}/day", (), False))
        self.block = self.lanes.block(specs)
        self.n_cells = len(self.cells)

    def _write(self, day: int, vals: dict[str, np.ndarray], flow: np.ndarray, leak: np.ndarray) -> None:
        """Today's row of every lane, written straight into the recorder's block."""
        I, n, k = self.I, self.n, self.n_cells
        row = self.block[self.lanes.block_row(day)]
        row[:, :I] = self.P[:, 0]
        row[:, I:2 * I] = self.P[:, 1]
        row[:, 2 * I:3 * I] = vals["china_exports"]
        row[:, 3 * I:4 * I] = vals["newcap"]
        o = 4 * I
        dst = row[:, o:o + k * len(self.CELL_METRICS)].reshape(n, -1, k)
        if self._record is not None:
            self._record(dst, self.cell_item, self.cell_region,
                         tuple(vals[metric] for metric, _ in self.CELL_METRICS))
        else:
            for j, (metric, _) in enumerate(self.CELL_METRICS):
                dst[:, j] = vals[metric].reshape(n, -1)[:, self.cells]
        o += k * len(self.CELL_METRICS)
        row[:, o:o + self.E] = flow
        row[:, o + self.E:o + 2 * self.E] = leak

    # ----- policy ----------------------------------------------------------------------------------------
    def _refresh_policy(self) -> None:
        """Look again at the policy boards of the lanes that changed since the last look."""
        for lane, ctx in enumerate(self.lanes.runs):
            if ctx.policy.version != self._pv[lane]:
                self._refresh_lane(lane, ctx.policy)
        self._clock = self.lanes.clock.version

    def _refresh_lane(self, lane: int, board: Any) -> None:
        d, tr = self.d, self.trade
        tr.refresh(lane, board)
        I, R = d.shape
        gap = tr.gap_days[lane]
        mult = np.minimum(d.per["front_max"][:, None],
                          1.0 + d.per["front_share"][:, None] * np.divide(gap, d.cover_days, out=np.zeros_like(gap),
                                                                          where=d.cover_days > 0))
        self.T[lane] = d.cover_days * np.where(gap > 0, mult, 1.0)
        self.restricted[lane] = tr.restricted[lane]
        self.restricted_item[lane] = tr.restricted[lane].any(axis=1)
        ec = tr.e_china
        nb = tr.export_netback(lane)
        w = np.bincount(d.e_m[ec], d.e_flow0[ec], minlength=I)
        paid = np.bincount(d.e_m[ec], d.e_flow0[ec] * nb[ec], minlength=I)
        self.parity[lane] = np.divide(paid, w, out=np.zeros(I), where=w > 0)
        self.spot_on[lane] = self.spot_on[lane] or tr.active[lane] or bool((gap > 0).any())
        licensed = np.unique(d.e_m[tr.kind[lane] == LICENSING])
        self.licence_waiting[lane] = False
        self.licence_waiting[lane, licensed] = ~self.licensed_once[lane, licensed]
        self._pv[lane] = board.version

    def _orders(self, day: int, demand: np.ndarray, Stot: np.ndarray, physical: np.ndarray,
                flow_need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Orders closing the gap to target cover, counting the supply line and the licences pending before
        today's applications beyond the pipeline a licence wait needs, as far as buyers trust them (see
        :mod:`.trade`), split over edges by baseline shares and passed through each lane's trade rules:
        direct and leaked shipments (lanes, E) asked of each edge today."""
        n, I, R, tr = self.n, self.I, self.R, self.trade
        if self._kernels:                           # the same numbers in one compiled loop
            req = np.empty((n, self.E))
            self._kernels["market_orders"](self.T, demand, Stot, physical, bool(tr.trust.any()), tr.pending,
                                           tr.trust, tr.lic_wait, self.e_mi, self.d.per["restock_days"], flow_need,
                                           self.share, self._order_cells, req)
            return tr.apply(day, req, demand)
        want = self.T * demand - Stot - physical
        if tr.trust.any():                          # (subtracting what nobody counts on would change no bit)
            fn = np.maximum(flow_need, 0.0).reshape(n, I * R)[:, self.e_mi]
            want = want - self._per_cell(self.l_mi, tr.trust * (tr.pending - tr.lic_wait * self.share * fn))
        want = want / self.d.per["restock_days"][:, None] + flow_need
        np.maximum(want, 0.0, out=want)
        req = want.reshape(n, I * R)[:, self.e_mi] * self.share
        return tr.apply(day, req, demand)

    def _ship_numpy(self, slot: int, demand: np.ndarray, production: np.ndarray, imports: np.ndarray,
                    ship: np.ndarray, leak: np.ndarray) -> None:
        """Exporters ship what their stock allows beyond what they keep: the orders ``ship`` and ``leak``
        (lanes, E) per day, scaled in place to each exporter's available stock (goods that arrived today can
        leave today), then, on edges to restricted buyers, to its non-Chinese-origin part (restricted buyers get
        no Chinese origin except by leakage); puts them in transit. Writes the available stock ``avail``, the
        Chinese-origin share of stock ``cn_share``, ``exports`` and their Chinese-origin part ``exports_cn``
        (lanes, I, R) per day, ``x_prev`` (today's exports, for tomorrow) and ``ship_cn`` (lanes, E)."""
        n, I, R = self.n, self.I, self.R
        Stot = self.Stot
        keep = self.d.per["keep_share"][:, None] * self.T * demand
        avail = np.maximum(Stot + production + imports - keep, 0.0, out=self.avail)
        cn_share = self.cn_share
        cn_share.fill(0.0)
        np.divide(self.Scn, Stot, out=cn_share, where=Stot > 0)
        cn_share[:, :, CHINA] = 1.0
        cn_share[cn_share > 1.0 - 1e-9] = 1.0          # rounding must not make all-Chinese stock re-exportable
        cn_flat = cn_share.reshape(n, I * R)
        avail_flat = avail.reshape(n, I * R)
        asked = np.bincount(self.l_mx, (ship + leak).ravel(), minlength=n * I * R).reshape(n, I * R)
        sc = np.minimum(1.0, np.divide(avail_flat, asked, out=np.ones((n, I * R)), where=asked > 0))[:, self.e_mx]
        ship *= sc
        leak *= sc
        r_edge = self.restricted.reshape(n, I * R)[:, self.e_mi] & ~self.from_china
        if r_edge.any():
            asked_r = np.bincount(self.l_mx, (ship * r_edge).ravel(), minlength=n * I * R).reshape(n, I * R)
            avail_nc = avail_flat * (1.0 - cn_flat)
            sr = np.minimum(1.0, np.divide(avail_nc, asked_r, out=np.ones((n, I * R)),
                                           where=asked_r > 0))[:, self.e_mx]
            np.multiply(ship, sr, out=ship, where=r_edge)
        ship_cn = self.ship_cn
        ship_cn[:] = np.where(self.from_china, ship, np.where(r_edge, 0.0, ship * cn_flat[:, self.e_mx]))
        idx = np.arange(self.E)
        rows = (slot + self.tau_e) % self.H
        self.transit[rows, :, idx] += ship.T
        self.transit_cn[rows, :, idx] += ship_cn.T
        if leak.any():
            rows = (slot + self.tau_leak) % self.H
            self.transit[rows, :, idx] += leak.T
            self.transit_cn[rows, :, idx] += leak.T
        out = ship + leak
        self.in_transit += out
        self.exports[:] = self._per_cell(self.l_mx, out)
        self.exports_cn[:] = self._per_cell(self.l_mx, ship_cn + leak)
        self.x_prev[:] = self.exports

    def _ship_compiled(self, slot: int, demand: np.ndarray, production: np.ndarray, imports: np.ndarray,
                       ship: np.ndarray, leak: np.ndarray) -> None:
        """:meth:`_ship_numpy` as one compiled loop (same numbers, see :mod:`simulator.engine.kernels`)."""
        self._kernels["market_ship"](
            slot, self.d.per["keep_share"], self.T, demand, self.Stot, production, imports, self.Scn, ship, leak,
            self.restricted, self.from_china, self.d.e_m, self.d.e_x, self.d.e_i, self.tau_e, self.tau_leak, CHINA,
            self.transit, self.transit_cn, self.in_transit, self.avail, self.cn_share, self.ship_cn, self.exports,
            self.exports_cn, self.x_prev, self._scratch_a, self._scratch_b)

    def _stocks_numpy(self, S_new: np.ndarray, buy_cn: np.ndarray, release: np.ndarray, imports_cn: np.ndarray,
                      base: np.ndarray, consumption: np.ndarray, demand: np.ndarray, dem_safe: np.ndarray,
                      feed: np.ndarray, ref: np.ndarray) -> None:
        """After the holder groups' day (users' stocks ``self.Stot`` → ``S_new``): the strategic stock ``G`` buys
        ``buy_cn`` and releases ``release``; the Chinese-origin stock ``Scn`` gains its arrivals ``imports_cn``,
        loses its exports and its share (of the stock ``base`` before outflows) of consumption and reserve
        buying, within [0, stock] (all of China's own stock); the ``served`` share of demand (feeds tomorrow's
        allowance). Writes the recorded ``unmet`` demand (rounding is not a shortage), days of ``cover``,
        ``stock_change`` and ``feed_used`` (lanes, I, R), and the inputs of the price step (lanes, 2, I) [China;
        ex-China pool]: ``held`` stock where there are users, buyers' ``target`` (target cover × demand), their
        ratio ``cov`` — 1 for a side without users of the item, whose price follows the other side's through
        export parity — and China's export-parity price ``floor`` (lanes, I): the netback of an export sale in
        China-price terms (``ref`` (2, I) today's references) lifts it only by the pass-through share of its
        premium over China's reference (licences ration quantities, not prices)."""
        p = self.d.per
        self.G += buy_cn - release
        cn_tmp = self.Scn + imports_cn
        share_tmp = np.divide(cn_tmp, base, out=np.zeros_like(base), where=base > 0)
        np.clip(cn_tmp - self.exports_cn - share_tmp * (consumption + buy_cn), 0.0, S_new, out=self.Scn)
        self.Scn[:, :, CHINA] = S_new[:, :, CHINA]
        users = demand > 0                      # stocks passing through a region with no users are not cover
        self.served[:] = np.where(users, consumption / dem_safe, 1.0)
        unmet = np.subtract(demand, consumption, out=self.unmet)
        unmet[unmet <= 1e-9 * demand] = 0.0
        self.cover[:] = np.where(users, S_new / dem_safe, 0.0)
        self.stock_change[:] = S_new - self.Stot + buy_cn - release
        np.multiply(feed, self.served, out=self.feed_used)
        Td = self.T * demand
        held_ex = np.where(users, S_new, 0.0)
        self.held[:] = np.stack([S_new[:, :, CHINA], held_ex.sum(2) - held_ex[:, :, CHINA]], axis=1)
        target = self.target
        target[:] = np.stack([Td[:, :, CHINA], Td.sum(2) - Td[:, :, CHINA]], axis=1)
        big = np.maximum(target.max(axis=(1, 2), keepdims=True), 1e-300)
        self.cov.fill(1.0)
        np.divide(self.held, target, out=self.cov, where=target > 1e-12 * big)
        netback = self.parity * self.P[:, 1] * ref[0] / ref[1]
        self.floor[:] = np.where(netback > ref[0], ref[0] + p["parity_pass"] * (netback - ref[0]), netback)

    def _stocks_compiled(self, S_new: np.ndarray, buy_cn: np.ndarray, release: np.ndarray, imports_cn: np.ndarray,
                         base: np.ndarray, consumption: np.ndarray, demand: np.ndarray, dem_safe: np.ndarray,
                         feed: np.ndarray, ref: np.ndarray) -> None:
        """:meth:`_stocks_numpy` as one compiled loop (same numbers, see :mod:`simulator.engine.kernels`)."""
        self._kernels["market_stocks"](
            CHINA, self.Stot, S_new, buy_cn, release, imports_cn, self.exports_cn, base, consumption, demand,
            dem_safe, feed, self.T, self.parity, self.P, ref, self.d.per["parity_pass"], self.G, self.Scn,
            self.served, self.unmet, self.cover, self.stock_change, self.feed_used, self.held, self.target,
            self.cov, self.floor, self._scratch_r)

    def _follow_today(self, day: int) -> None:
        """Today's values of the series that Chinese output follows (see ``follow``), per lane: the lane's own
        ``follow_own`` and its paired baseline's ``follow_base``; ``follow_on`` where paired and the baseline's
        value is positive."""
        row = self.lanes.row(day)
        for f, (m, r, own, base, paired) in enumerate(self.follow):
            self.follow_own[:, f] = own.read(row)
            b = self.follow_base[:, f] = base.read(row)
            self.follow_on[:, f] = paired & (b > 0)

    def _supply_numpy(self, slot: int, ratio: np.ndarray, rel: np.ndarray, p_dem: np.ndarray, p_fin: np.ndarray,
                      p_sup: np.ndarray) -> None:
        """Today's arrivals, demand, production and strategic release, from the price ratios ``ratio`` (lanes,
        2, I) [China; ex-China] to today's references, the ratio ``rel`` (lanes, I, R) each region faces and its
        powers ``rel ** el``: ``p_dem`` (long-run demand elasticity), ``p_fin`` (short-run), ``p_sup`` (supply).
        Arrivals: goods due today leave the transit and spot rings (in ``imports``, ``imports_cn``, ``spot_in``).
        Demand: the long-run level ``L`` follows prices over ``adjustment_days``, final use responds at once, and
        substitution shifts demand ``sigma`` from an item to its substitute as their price ratio rises. Supply:
        utilisation ``qt`` follows price up to capacity (times the model part Chinese output follows, cut by
        Chinese producers under a restriction as the domestic price falls); output ``Q`` follows it over
        ``adjustment_days``, limited by the share of its feeds served yesterday (``allow``). Writes
        ``production``, ``feed`` use, ``demand``, ``dem_safe`` (demand, at least 1e-300), industry
        ``cover_now`` (days), the strategic ``release`` and ``releasing_now`` (see :func:`.stocks.strategic_release`),
        the ``physical`` supply line (in transit and spot pipeline) and ``flow_need`` (the flow that keeps stocks
        level), all (lanes, I, R) per day."""
        d, p = self.d, self.d.per
        arr, arr_cn = self.transit[slot].copy(), self.transit_cn[slot].copy()
        self.transit[slot] = 0.0
        self.transit_cn[slot] = 0.0
        self.in_transit -= arr
        imports = self.imports
        imports[:] = self._per_cell(self.l_mi, arr)
        self.imports_cn[:] = self._per_cell(self.l_mi, arr_cn)
        spot_in = self.spot_in
        spot_in[:] = self.spot[slot]
        imports += spot_in
        self.imports_cn += self.spot_cn[slot]
        self.spot_pipe -= spot_in
        self.spot[slot] = 0.0
        self.spot_cn[slot] = 0.0
        self.L += (p_dem - self.L) / p["demand_days"][:, None]
        final = np.multiply(d.final0 * self.L, p_fin, out=self.final)
        for k in range(len(d.s_from)):
            i, j = d.s_from[k], d.s_to[k]
            target = d.s_max[k] * np.clip((ratio[:, 1, i] / ratio[:, 1, j] - 1.0) / (d.s_full_ratio[k] - 1.0),
                                          0.0, 1.0)
            sig = self.sigma[:, k]
            sig += (target[:, None] - sig) / d.s_days[k]
            shift = sig * final[:, i]
            final[:, i] -= shift
            final[:, j] += shift
        qt = np.minimum(d.primary0 * p_sup + self.extra, self.cap_now, out=self.qt)
        for f, (m, r, *_) in enumerate(self.follow):
            on = self.follow_on[:, f]
            if on.any():
                qt[on, m, r] *= self.follow_own[on, f] / self.follow_base[on, f]
        cut = china_cut(ratio[:, 0], self.restricted_item, p["cut_below"], p["cut_max"])
        qt[:, :, CHINA] *= 1.0 - cut
        self.Q += (qt - self.Q) / p["supply_days"][:, None]
        allow = self.allow
        allow[:] = feed_allowance(self.served, d.f_down, d.f_up)
        production = np.add(self.Q * allow, d.recycling, out=self.production)
        self.feed[:] = d.feed_use0(self.Q)
        demand = np.add(final, self.feed, out=self.demand)
        dem_safe = np.maximum(demand, 1e-300, out=self.dem_safe)
        cover_now = np.divide(self.Stot, dem_safe, out=self.cover_now)
        self.release[:], self.releasing_now[:] = strategic_release(
            self.G, self.releasing, rel, cover_now, self.short_prev, p["release_ratio"][:, None],
            p["release_cover"][:, None], p["release_short"][:, None], d.cover_days, self.release_rate)
        np.add(self._per_cell(self.l_mi, self.in_transit), self.spot_pipe, out=self.physical)
        self.flow_need[:] = demand - production + self.x_prev + self.const0 - self.release

    def _supply_compiled(self, slot: int, ratio: np.ndarray, rel: np.ndarray, p_dem: np.ndarray,
                         p_fin: np.ndarray, p_sup: np.ndarray) -> None:
        """:meth:`_supply_numpy` as one compiled loop (same numbers, see :mod:`simulator.engine.kernels`)."""
        d, p = self.d, self.d.per
        self._kernels["market_supply"](
            slot, CHINA, d.e_m, d.e_x, d.e_i, self.transit, self.transit_cn, self.in_transit, self.spot,
            self.spot_cn, self.spot_pipe, ratio, rel, p_dem, p_fin, p_sup, p["demand_days"], d.final0, self.L,
            self._s_from, self._s_to, d.s_max, d.s_full_ratio, d.s_days, self.sigma, d.primary0, self.extra,
            self.cap_now, self._follow_m, self._follow_r, self.follow_on, self.follow_own, self.follow_base,
            self.restricted_item, p["cut_below"], p["cut_max"], p["supply_days"], self.Q, self.served,
            self._f_down, self._f_up, d.f_ratio, d.recycling, self.Stot, self.G, self.releasing, self.short_prev,
            p["release_ratio"], p["release_cover"], p["release_short"], d.cover_days, self.release_rate,
            self.x_prev, self.const0, p["restock_days"], self.imports, self.imports_cn, self.spot_in, self.final,
            self.qt, self.allow, self.production, self.feed, self.demand, self.dem_safe, self.cover_now,
            self.release, self.releasing_now, self.physical, self.flow_need)

    # ----- one day ---------------------------------------------------------------------------------------
    def step(self, day: int) -> None:
        d = self.d
        I, R = d.shape
        n = self.n
        p = d.per
        if self.lanes.clock.version != self._clock:
            self._refresh_policy()
        Stot = self.Stot
        # 1.–4. arrivals; demand at the prices each region faces (China domestic in China, ex-China elsewhere);
        # production; strategic release
        slot = day % self.H
        ref = self.ref_days[day]
        ratio = self.P / ref
        rel = self.rel
        rel[:] = ratio[:, 1, :, None]
        rel[:, :, CHINA] = ratio[:, 0]
        self._follow_today(day)
        sides = self._sides
        sides[:, :, 0] = ratio[:, 1]
        sides[:, :, 1] = ratio[:, 0]
        side_powers, powers = self._side_powers, self._powers
        np.power(sides, self._exponents, out=side_powers)
        powers[...] = side_powers[..., :1]          # ex-China everywhere, then China's own (two copies: ~13 µs
        powers[..., CHINA] = side_powers[..., 1]    # a day at 20 lanes where ``take`` cost ~21)
        self._supply(slot, ratio, rel, powers[0], powers[1], powers[2])
        imports, imports_cn, spot_in = self.imports, self.imports_cn, self.spot_in
        production, feed, demand, dem_safe = self.production, self.feed, self.demand, self.dem_safe
        release, physical, flow_need = self.release, self.physical, self.flow_need
        was, self.releasing, self.releasing_now = self.releasing, self.releasing_now, self.releasing
        if (self.releasing != was).any():
            self._release_events(day, was, rel, self.cover_now)
        buy_cn = np.zeros((n, I, R))
        restricting = self.restricted_item.any()
        if restricting and self._kernels:          # the same numbers in one compiled loop
            self._kernels["market_reserve"](CHINA, ratio, self.restricted_item, p["reserve_below"],
                                            p["reserve_rate"], production, Stot, buy_cn)
        elif restricting:
            buy_cn[:, :, CHINA] = reserve_purchases(ratio[:, 0], self.restricted_item, p["reserve_below"],
                                                    p["reserve_rate"], production[:, :, CHINA], Stot[:, :, CHINA])
        if restricting or self.reserve_on.any():        # started, or stopped (the restriction too)
            self._reserve_events(day, buy_cn[:, :, CHINA] > 0)
        # 5. orders: close the gap to target cover, counting the supply line and pending licences
        ship, leak = self._orders(day, demand, Stot, physical, flow_need)
        # 6. exporters ship what their stock allows beyond what they keep; restricted buyers get no Chinese origin
        self._ship(slot, demand, production, imports, ship, leak)
        exports = self.exports
        out = ship + leak
        # 6b. ex-China spot market for what the edges did not deliver
        spot_out = self.spot_out
        if self.spot_on.any():
            self._spot(slot, powers[3], demand, Stot, physical, flow_need, out)
        else:
            spot_out.fill(0.0)
        # 7. consumption by holder group; stocks; origin
        if self._kernels:                          # the same numbers in one compiled loop
            inflow, outflow, base, cn_in, nc_in = self._flows_out
            self._kernels["market_flows"](CHINA, production, imports, release, exports, buy_cn, Stot, imports_cn,
                                          inflow, outflow, base, cn_in, nc_in)
        else:
            inflow = production + imports + release
            outflow = exports + buy_cn
            base = Stot + inflow
            cn_in = imports_cn.copy()
            cn_in[:, :, CHINA] += production[:, :, CHINA] + release[:, :, CHINA]
            nc_in = inflow - cn_in
        consumption, short_share, S_new = self.holders.consume(self.S, Stot, cn_in, nc_in, self.nc_contract,
                                                               self.cn_contract, outflow, demand, self.T,
                                                               self.restock_cells)
        self._stocks(S_new, buy_cn, release, imports_cn, base, consumption, demand, dem_safe, feed, ref)
        self.Stot = S_new                          # users' stocks (Σ over holder groups) for tomorrow
        self.short_prev = short_share
        # 8. prices from cover relative to buyers' target cover, China and the ex-China pool
        if self._kernels:     # numpy's power (its SIMD power may round differently), then one compiled loop
            self._kernels["market_price"](cover_power(self.cov, self.neg_alpha), ref, d.ceiling, self.floor,
                                          self.inv_tau, self.P)
        else:
            price_step(self.P, ref, self.cov, self.neg_alpha, d.ceiling, self.inv_tau, self.floor)
        # 9. alternative supply
        self.extra, newcap = self.projects.step(day, self.P[:, 1], ref[1])
        self.cap_now = d.capacity + self.extra
        # 10. events and record
        unmet = self.unmet
        self._short_events(day, unmet, demand, short_share)
        self._licence_events(day)
        vals = {"production": production, "imports": imports, "exports": exports, "consumption": consumption,
                "demand": demand, "feed_use": self.feed_used, "unmet_demand": unmet, "industry_stock": S_new,
                "days_of_cover": self.cover, "strategic_stock": self.G, "stock_change": self.stock_change,
                "spot_imports": spot_in, "spot_exports": spot_out,
                "imports_chinese_origin": imports_cn, "users_short_share": short_share,
                "china_exports": exports[:, :, CHINA], "newcap": newcap}
        self._write(day, vals, ship, leak)

    def _spot_numpy(self, slot: int, p_spot: np.ndarray, demand: np.ndarray, Stot: np.ndarray,
                    physical: np.ndarray, flow_need: np.ndarray, out: np.ndarray) -> None:
        """The ex-China spot market in the lanes where it is open (see :func:`.stocks.spot_market`): a region
        buys what keeps its stock at a price-dependent desired cover (``p_spot`` = ``rel ** −spot_el``, lanes, I,
        R), counting its supply line ``physical``, ``flow_need`` and today's edge shipments ``out`` (lanes, E);
        holders sell their ``avail``able stock beyond today's ``exports``. Purchases go into the spot ring and
        pipeline, sales into ``exports``/``exports_cn`` (in place). Writes spot sales ``spot_out`` (lanes, I, R)
        per day; zero in closed lanes."""
        d, n, I = self.d, self.n, self.I
        p = d.per
        desired = np.maximum(p["keep_share"][:, None], p_spot) * d.cover_days * demand
        net = (desired - Stot - physical) / p["restock_days"][:, None] + flow_need
        net -= self._per_cell(self.l_mi, out)
        net[:, :, CHINA] = 0.0
        spare = np.maximum(self.avail - self.exports, 0.0)
        spare[:, :, CHINA] = 0.0
        got, sold, got_cn, sold_cn = spot_market(net, spare, self.spot_cap, self.cn_share, self.restricted,
                                                 self.spot_tol)
        open_ = self.spot_on[:, None, None]
        self.spot_out[:] = np.where(open_, sold, 0.0)
        bought = self.spot_on & (np.count_nonzero(got.reshape(n, -1), axis=1) > 0)
        if bought.any():
            g = bought[:, None, None]
            got, got_cn = np.where(g, got, 0.0), np.where(g, got_cn, 0.0)
            s2 = (slot + self.tau_spot) % self.H
            ii = np.arange(I)
            self.spot[s2, :, ii] += got.transpose(1, 0, 2)
            self.spot_cn[s2, :, ii] += got_cn.transpose(1, 0, 2)
            self.spot_pipe += got
            self.exports += np.where(g, self.spot_out, 0.0)
            self.exports_cn += np.where(g, sold_cn, 0.0)

    def _spot_compiled(self, slot: int, p_spot: np.ndarray, demand: np.ndarray, Stot: np.ndarray,
                       physical: np.ndarray, flow_need: np.ndarray, out: np.ndarray) -> None:
        """:meth:`_spot_numpy` as one compiled loop (same numbers, see :mod:`simulator.engine.kernels`)."""
        d, p, sc = self.d, self.d.per, self._spot_scratch
        self._kernels["market_spot"](
            slot, CHINA, p["keep_share"], p_spot, d.cover_days, demand, Stot, physical, p["restock_days"],
            flow_need, out, d.e_m, d.e_i, self.avail, self.spot_cap, self.cn_share, self.restricted, self.spot_tol,
            self.spot_on, self.tau_spot, self.spot, self.spot_cn, self.spot_pipe, self.exports, self.exports_cn,
            self.spot_out, *sc)

    # ----- events ----------------------------------------------------------------------------------------
    def _release_events(self, day: int, was: np.ndarray, rel: np.ndarray, cover: np.ndarray) -> None:
        changed = self.releasing != was
        for lane, m, r in zip(*np.nonzero(changed)):
            ent = f"{self.d.items[m]}.{REGIONS[r]}"
            if self.releasing[lane, m, r]:
                self.lanes.event(lane, day, ent, "strategic_release_started",
                                 f"price {rel[lane, m, r]:.2f}x reference, cover {cover[lane, m, r]:.0f} days")
            else:
                self.lanes.event(lane, day, ent, "strategic_release_stopped",
                                 "stockpile empty" if self.G[lane, m, r] <= 0 else "price and cover restored")

    def _reserve_events(self, day: int, on: np.ndarray) -> None:
        """China's reserve buying (``on``: lanes × items buying today) starting or stopping: it stops when the
        domestic price recovers or when the item's last export restriction ends."""
        changed = on != self.reserve_on
        if changed.any():
            for lane, m in zip(*np.nonzero(changed)):
                if on[lane, m]:
                    event, cause = ("state_reserve_buying_started",
                                    "domestic price below the reserve's buying level under an export restriction")
                else:
                    event = "state_reserve_buying_stopped"
                    cause = ("domestic price recovered" if self.restricted_item[lane, m]
                             else "export restriction ended")
                self.lanes.event(lane, day, f"{self.d.items[m]}.China", event, cause)
            self.reserve_on[changed] = on[changed]

    def _short_events(self, day: int, unmet: np.ndarray, demand: np.ndarray, short_share: np.ndarray) -> None:
        if self._kernels:                          # the same flags in one compiled loop, which also marks them
            first, new = self._short_out
            if not self._kernels["market_short"](short_share, unmet, demand, self.short_seen, self.exhausted,
                                                 first, new):
                return
        else:
            first = (short_share > 0) & ~self.short_seen
            short = unmet > 1e-6 * demand
            new = short & ~self.exhausted
            self.short_seen |= first
            self.exhausted |= short
        if first.any() or new.any():
            for lane in np.flatnonzero(first.any(axis=(1, 2)) | new.any(axis=(1, 2))):
                for m, r in zip(*np.nonzero(first[lane])):
                    self.lanes.event(lane, day, f"{self.d.items[m]}.{REGIONS[r]}", "first_users_short",
                                     f"the thinnest-stocked users ran out: {short_share[lane, m, r]:.0%} of demand "
                                     f"short")
                for m, r in zip(*np.nonzero(new[lane])):
                    self.lanes.event(lane, day, f"{self.d.items[m]}.{REGIONS[r]}", "stock_exhausted",
                                     f"users' stocks short: {unmet[lane, m, r]:.4g} {self.d.unit[m]}/day of demand "
                                     f"unmet")

    def _licence_events(self, day: int) -> None:
        """Event on the first day a licensed item's exports are approved (nothing to look at once every licensed
        item of every lane has had its first approval: the days after, under licensing, cost one test)."""
        d, tr = self.d, self.trade
        if not self.licence_waiting.any() or not tr.approved_today.any():
            return
        for lane in np.flatnonzero(tr.approved_today.any(axis=1)):
            for m in np.flatnonzero(self.licence_waiting[lane]):
                if tr.approved_today[lane, d.e_m == m].any():
                    self.licensed_once[lane, m] = True
                    self.licence_waiting[lane, m] = False
                    self.lanes.event(lane, day, d.items[m], "licences_granted",
                                     "first export licences decided after the review delay")


def _lanes(a: np.ndarray, n: int) -> np.ndarray:
    """``n`` copies of ``a`` along a new leading lane axis (every lane starts from the same state)."""
    return np.repeat(a[None], n, axis=0)
