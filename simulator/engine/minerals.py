"""Mineral markets under Chinese export licensing, bans and quotas; all quantities in tonnes, flows in t/day.

The picture: each mineral (gallium, germanium, natural and synthetic graphite, antimony, rare-earth magnet
materials) is held in one *industry stock* per region (China, Japan, US, EU, South_Korea, Taiwan,
rest_of_world) — the warehouses of producers, traders and users — fed by the region's production (primary up to
capacity, plus recycling) and by imports, and drawn by exports and consumption. Beside it sits a *strategic
stockpile* (JOGMEC's 60-day target) that is only released when the price or the cover crosses a trigger.

- A **trade edge** (exporter, importer, mineral) carries the importer's orders split by baseline shares, after a
  transport delay. Chinese edges obey the countermeasures in force: *licensing* sends orders into a licence queue
  (decided after a lognormal delay, ``approval_share`` approved), a *ban* caps the edge at 0, a *quota* at
  ``quota_share`` × baseline. ``leakage`` of what is blocked still arrives via third countries, later; the rest
  of a ban/quota is re-ordered from the importer's other suppliers.
- **Orders** close the gap between target and actual cover (with the supply line of goods in transit and
  licences pending counted). While a measure against a buyer is announced or in force, that buyer raises its
  target cover: exports surge before the effective date (front-running).
- **Two prices**: China domestic from China's cover, ex-China from the pooled cover of the other regions:
  ``P_ind = min(P_backstop, P_ref · (cover/cover_target)^(−α))``, ``P += (P_ind − P)/τ_P``. Blocked exports stay
  in China's stock and push the domestic price down while the ex-China price rises.
- **Supply**: utilisation follows price up to capacity (spare capacity at once); restarts and new plants start
  when the smoothed ex-China price stays above their long-run cost for a persistence window, come online after
  their lead time and ramp up logistically. For gallium and germanium capacity is refinery capacity.
- **Demand**: short-run price elasticity at once, long-run by partial adjustment; natural graphite demand can
  switch to synthetic when natural gets dearer.

Mass balance per mineral, region and day: production + imports − exports − consumption − stock_change = 0,
where stock_change counts industry and strategic stocks (goods in transit belong to neither region).
All minerals are stepped together as (mineral × region) arrays; see :mod:`mineral_data` for the inputs.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .mineral_data import CHINA, REGIONS, MarketData, load_market_data, mineral_names
from .world import Mechanism, RunContext

H_TRANSIT = 256     # ring-buffer length for goods in transit (days)
H_LICENCE = 512     # ring-buffer length for the licence queue (days); longer delays are clipped
FREE, LICENSING, BAN, QUOTA = 0, 1, 2, 3
_RANK = {"licensing": LICENSING, "quota": QUOTA, "ban": BAN}


class MineralMarkets(Mechanism):
    """Producers, trade edges, industry and strategic stocks, prices and alternative supply of all minerals."""

    section = "minerals"

    @classmethod
    def vocabulary(cls, world: Mapping[str, Any]) -> dict[str, set[str]]:
        sec = world.get("minerals", {})
        regions = {r for m in mineral_names(sec) for r in sec[m].get("regions", {})}
        return {"mineral": set(mineral_names(sec)), "region": regions | set(REGIONS) | {"all"}}

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        d = load_market_data(ctx.world["minerals"])
        self.d = d
        M, R = d.shape
        E = len(d.e_names)
        self.china = np.zeros((M, R), dtype=bool)
        self.china[:, CHINA] = True
        self.e_mi = d.e_m * R + d.e_i          # flat (mineral, importer) index of each edge
        self.e_mx = d.e_m * R + d.e_x          # flat (mineral, exporter) index
        self.e_china = np.flatnonzero(d.e_x == CHINA)
        self.imports0 = np.bincount(self.e_mi, d.e_flow0, minlength=M * R).reshape(M, R)
        self.exports0 = np.bincount(self.e_mx, d.e_flow0, minlength=M * R).reshape(M, R)
        m0 = self.imports0.ravel()[self.e_mi]
        self.share = np.divide(d.e_flow0, m0, out=np.zeros(E), where=m0 > 0)
        self.edge_cap = d.edge_cap_multiple[d.e_m] * d.e_flow0
        self.tau_e = np.maximum(1, np.round(d.e_transport)).astype(np.int64)
        self.tau_leak = self.tau_e + np.round(d.leak_delay[d.e_m]).astype(np.int64)
        if self.tau_leak.max(initial=0) >= H_TRANSIT:
            raise ValueError(f"transport plus leakage delay must be < {H_TRANSIT} days")
        self.sl0 = np.bincount(self.e_mi, d.e_flow0 * (self.tau_e - 1), minlength=M * R).reshape(M, R)  # at order time
        col = lambda v: v[:, None]  # noqa: E731
        self.p0f = np.where(self.china, col(d.p0_cn), col(d.p0_ex))
        self.el_s, self.el_l = col(d.el_short), col(d.el_long)
        # state
        self.prod0 = d.primary0 + d.recycling
        self.Q = d.primary0.copy()
        self.S = d.cover_days * d.consumption0
        self.G = d.strategic0.copy()
        self.L = np.ones((M, R))
        self.sigma = np.zeros((len(d.s_from), R))
        self.releasing = np.zeros((M, R), dtype=bool)
        self.x_prev = self.exports0.copy()
        self.p_ex, self.p_cn = d.p0_ex.copy(), d.p0_cn.copy()
        self.p_smooth = d.p0_ex.copy()
        self.extra = np.zeros((M, R))
        self.transit = np.zeros((H_TRANSIT, E))
        for e in range(E):                      # baseline pipeline already on its way at day 0
            self.transit[:self.tau_e[e], e] = d.e_flow0[e]
        self.in_transit = d.e_flow0 * self.tau_e
        self.queue = np.zeros((H_LICENCE, E))
        self.pending = np.zeros(E)
        self.exhausted = np.zeros((M, R), dtype=bool)
        self.licensed_once = np.zeros(M, dtype=bool)
        # policy view per edge (refreshed when the board changes)
        self._pv = -1
        self.kind = np.zeros(E, dtype=np.int64)
        self.approval = np.ones(E)
        self.quota_cap = np.zeros(E)
        self.lic_edges = np.zeros(0, dtype=np.int64)
        self.leak = np.zeros(E)
        self.lic_mu = np.zeros(E)
        self.lic_sigma = np.zeros(E)
        self.mult = np.ones((M, R))
        self.any_cap = False
        # random numbers: one named stream per Chinese edge (licence delays), one per project (lead time)
        days = ctx.days
        self.z_licence = np.zeros((E, days))
        for e in self.e_china:
            self.z_licence[e] = ctx.streams.get(f"minerals.{d.e_names[e]}.licence").standard_normal(days)
        N = len(d.p_names)
        z = np.array([ctx.streams.get(f"minerals.{d.minerals[d.p_m[k]]}.project.{d.p_names[k]}").standard_normal()
                      for k in range(N)])
        self.p_lead = np.maximum(30.0, d.p_lead + d.p_lead_sd * z) if N else np.zeros(0)
        self.p_start = np.full(N, np.nan)
        self.p_streak = np.zeros(N)
        self.p_online = np.zeros(N, dtype=bool)
        self.p_mr = d.p_m * R + d.p_r
        self._register()

    # ----- outputs ---------------------------------------------------------------------------------------
    def _register(self) -> None:
        """Register every series; their arrays are columns of one Fortran-ordered block written once a day."""
        d, rec = self.d, self.ctx.recorder
        M, R = d.shape
        specs: list[tuple[str, str, str, tuple[str, ...], bool]] = []
        for m, name in enumerate(d.minerals):
            pu = d.price_unit[m]
            specs.append((name, "price_china", pu, ("peak", "days_above_50pct"), False))
        for m, name in enumerate(d.minerals):
            specs.append((name, "price_ex_china", d.price_unit[m], ("peak", "days_above_50pct"), True))
        for name in d.minerals:
            specs.append((name, "china_exports", "t/day", ("total",), False))
        for name in d.minerals:
            specs.append((name, "new_capacity_online", "t/year", (), False))
        importer = self.imports0 > 0
        region_metrics = [("production", "t/day", ()), ("imports", "t/day", ()), ("exports", "t/day", ()),
                          ("consumption", "t/day", ("lost", "max_drop_pct")), ("demand", "t/day", ()),
                          ("unmet_demand", "t/day", ("total",)), ("industry_stock", "t", ("exhaustion",)),
                          ("days_of_cover", "days", ()), ("strategic_stock", "t", ()), ("stock_change", "t/day", ())]
        for metric, unit, summ in region_metrics:
            for m, name in enumerate(d.minerals):
                for r, reg in enumerate(REGIONS):
                    head = metric == "unmet_demand" and bool(importer[m, r])
                    specs.append((f"{name}.{reg}", metric, unit, summ, head))
        for metric in ("flow", "leakage"):
            for e, ename in enumerate(d.e_names):
                specs.append((ename, metric, "t/day", (), False))
        self.block = np.full((self.ctx.days, len(specs)), np.nan, order="F")
        for j, (ent, met, unit, summ, head) in enumerate(specs):
            rec.series(ent, met, unit, summary=summ, headline=head)
            rec.data[f"{ent}.{met}"] = self.block[:, j]   # a contiguous column view: one write per day
        self.n_series = len(specs)

    # ----- policy ----------------------------------------------------------------------------------------
    def _refresh_policy(self) -> None:
        """Edge restrictions and buyers' target-cover multipliers from the countermeasures now in force."""
        d, board = self.d, self.ctx.policy
        M, R = d.shape
        self.kind[:] = FREE
        self.approval[:] = 1.0
        self.leak[:] = 0.0
        self.quota_cap[:] = 0.0
        self.mult[:] = 1.0
        for e in self.e_china:
            mineral, imp = d.minerals[d.e_m[e]], REGIONS[d.e_i[e]]
            active = board.countermeasures_on(mineral, imp)
            if active or board.countermeasures_on(mineral, imp, pending=True):
                self.mult[d.e_m[e], d.e_i[e]] = d.announce_mult[d.e_m[e]]
            if not active:
                continue
            spec = max(active, key=lambda s: _RANK[s.spec.kind]).spec
            self.kind[e] = _RANK[spec.kind]
            self.leak[e] = spec.leakage
            if spec.kind == "licensing":
                self.approval[e] = min(s.spec.approval_share for s in active if s.spec.kind == "licensing")
                mean, sd = max(1.0, spec.licence_delay), max(0.0, spec.licence_delay_sd)
                s2 = np.log1p((sd / mean) ** 2)
                self.lic_mu[e], self.lic_sigma[e] = np.log(mean) - s2 / 2, np.sqrt(s2)
            elif spec.kind == "quota":
                self.quota_cap[e] = min(s.spec.quota_share for s in active if s.spec.kind == "quota") \
                    * d.e_flow0[e]
        self.any_cap = bool(np.any(self.kind >= BAN))
        self.lic_edges = np.flatnonzero(self.kind == LICENSING)
        self._pv = board.version

    # ----- one day ---------------------------------------------------------------------------------------
    def step(self, day: int) -> None:
        d = self.d
        M, R = d.shape
        if self.ctx.policy.version != self._pv:
            self._refresh_policy()
        # 1. arrivals
        slot = day % H_TRANSIT
        arrived = self.transit[slot].copy()
        self.transit[slot] = 0.0
        self.in_transit -= arrived
        imports = np.bincount(self.e_mi, arrived, minlength=M * R).reshape(M, R)
        # 2. demand (prices faced: China domestic in China, ex-China elsewhere)
        price = np.where(self.china, self.p_cn[:, None], self.p_ex[:, None])
        rel = price / self.p0f
        self.L += (rel ** (self.el_l - self.el_s) - self.L) / d.demand_days[:, None]
        demand = d.consumption0 * self.L * rel ** self.el_s
        if len(d.s_from):
            ratio = (self.p_ex[d.s_from] / d.p0_ex[d.s_from]) / (self.p_ex[d.s_to] / d.p0_ex[d.s_to])
            target = d.s_max * np.clip((ratio - 1.0) / (d.s_full_ratio - 1.0), 0.0, 1.0)
            self.sigma += (target[:, None] - self.sigma) / d.s_days[:, None]
            shift = self.sigma * demand[d.s_from]
            demand[d.s_from] -= shift
            demand[d.s_to] += shift
        # 3. production: utilisation follows price up to capacity; online projects run full
        capacity = d.capacity + self.extra
        q_target = np.minimum(capacity, d.primary0 * rel ** d.supply_el[:, None] + self.extra)
        self.Q += (q_target - self.Q) / d.supply_days[:, None]
        production = self.Q + d.recycling
        # 4. strategic release on a price or cover trigger (hysteresis: stops at half the trigger premium)
        cover_now = self.S / np.maximum(demand, 1e-300)
        ratio_r = d.release_ratio[:, None]
        start = (rel >= ratio_r) | (cover_now < d.release_cover[:, None])
        stop = (rel < 1.0 + (ratio_r - 1.0) / 2) & (cover_now >= d.cover_days)
        was = self.releasing
        self.releasing = (self.G > 0) & np.where(was, ~stop, start)
        release = np.where(self.releasing, np.minimum(self.G, d.strategic0 / d.release_days[:, None]), 0.0)
        self._events_release(day, was, rel, cover_now)
        # 5. orders: close the gap to target cover, counting the supply line
        target_cover = d.cover_days * self.mult
        supply_line = np.bincount(self.e_mi, self.in_transit + self.pending, minlength=M * R).reshape(M, R)
        want = (self.imports0 + (demand - d.consumption0) - (production - self.prod0) - release
                + (self.x_prev - self.exports0)
                + (target_cover * demand - self.S + self.sl0 - supply_line) / d.restock_days[:, None])
        want = np.maximum(want, 0.0)
        req = self.share * want.ravel()[self.e_mi]
        ship, leak = self._apply_measures(day, req)
        # 6. exporters ship what their stock allows beyond what they keep for their own users
        avail = np.maximum(0.0, self.S + production - d.keep_share[:, None] * target_cover * demand).ravel()
        asked = np.bincount(self.e_mx, ship + leak, minlength=M * R)
        scale = np.where(asked > avail, avail / np.maximum(asked, 1e-300), 1.0)[self.e_mx]
        ship *= scale
        leak *= scale
        out = ship + leak
        exports = np.bincount(self.e_mx, out, minlength=M * R).reshape(M, R)
        e_idx = np.arange(len(out))
        self.transit[(day + self.tau_e) % H_TRANSIT, e_idx] += ship
        self.transit[(day + self.tau_leak) % H_TRANSIT, e_idx] += leak
        self.in_transit += out
        self.x_prev = exports
        # 7. consumption from what is on hand; stocks
        on_hand = self.S + production + imports - exports + release
        consumption = np.minimum(demand, np.maximum(on_hand, 0.0))
        s_new = on_hand - consumption
        g_new = self.G - release
        stock_change = (s_new - self.S) + (g_new - self.G)
        self.S, self.G = s_new, g_new
        # 8. prices from cover relative to buyers' target cover
        dem_safe = np.maximum(demand, 1e-300)
        cov_cn = s_new[:, CHINA] / dem_safe[:, CHINA] / target_cover[:, CHINA]
        ex = ~self.china[0]
        cov_ex = s_new[:, ex].sum(1) / np.maximum((target_cover * demand)[:, ex].sum(1), 1e-300)
        self.p_cn += (self._indicated(d.p0_cn, cov_cn, d.alpha_cn) - self.p_cn) / d.tau_price
        self.p_ex += (self._indicated(d.p0_ex, cov_ex, d.alpha_ex) - self.p_ex) / d.tau_price
        # 9. alternative supply
        self._invest(day)
        # 10. record
        unmet = demand - consumption
        self._events_exhaustion(day, unmet, demand)
        new_cap = self.extra.sum(1) * 365.25
        row = np.concatenate((self.p_cn, self.p_ex, exports[:, CHINA], new_cap, production.ravel(), imports.ravel(), exports.ravel(), consumption.ravel(),
                              demand.ravel(), unmet.ravel(), s_new.ravel(), (s_new / dem_safe).ravel(),
                              g_new.ravel(), stock_change.ravel(), out, leak))
        self.block[day] = row

    def _indicated(self, p0: np.ndarray, cover_ratio: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Indicated price from cover ÷ target cover, capped at the backstop."""
        with np.errstate(divide="ignore"):
            p = p0 * np.maximum(cover_ratio, 1e-9) ** (-alpha)
        return np.minimum(p, self.d.backstop * p0)

    def _apply_measures(self, day: int, req: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Direct shipments and leaked shipments per edge today, from the orders ``req`` (t/day).

        Open edges carry the orders (plus what is re-ordered away from banned or capped Chinese edges) up to
        ``edge_cap_multiple`` × their baseline flow; licensed edges carry what is approved today."""
        d = self.d
        ship = req.copy()
        leak = np.zeros_like(req)
        lic = self.lic_edges
        if lic.size:                               # applications wait for a licence decision
            delay = np.exp(self.lic_mu[lic] + self.lic_sigma[lic] * self.z_licence[lic, day])
            delay = np.clip(np.round(delay), 1, H_LICENCE - 1).astype(np.int64)
            self.queue[(day + delay) % H_LICENCE, lic] += req[lic]
            self.pending[lic] += req[lic]
            ship[lic] = 0.0
        if self.any_cap:                           # bans and quotas cap the edge; the rest is re-ordered
            capped = self.kind >= BAN
            allowed = np.where(self.kind == QUOTA, np.minimum(req, self.quota_cap), 0.0)
            blocked = np.where(capped, req - allowed, 0.0)
            ship = np.where(capped, allowed, ship)
            leak += self.leak * blocked
            M, R = d.shape
            rest = np.bincount(self.e_mi, (1.0 - self.leak) * blocked, minlength=M * R)
            open_w = np.where(self.kind == FREE, self.share, 0.0)
            w_sum = np.bincount(self.e_mi, open_w, minlength=M * R)
            ship += np.divide(open_w * rest[self.e_mi], w_sum[self.e_mi], out=np.zeros_like(req),
                              where=w_sum[self.e_mi] > 0)
        np.minimum(ship, self.edge_cap, out=ship)
        slot = day % H_LICENCE
        decided = self.queue[slot].copy()
        if decided.any():
            self.queue[slot] = 0.0
            self.pending -= decided
            approved = decided * self.approval
            ship += approved
            leak += self.leak * (decided - approved)
            if approved.any():
                for m in np.unique(d.e_m[approved > 0]):
                    if not self.licensed_once[m] and np.any(self.kind[d.e_m == m] == LICENSING):
                        self.licensed_once[m] = True
                        self.ctx.recorder.event(day, d.minerals[m], "licences_granted",
                                                "first export licences decided after the review delay")
        return ship, leak

    def _invest(self, day: int) -> None:
        """Start projects on a persistent price signal; bring them online after their lead time."""
        d = self.d
        self.p_smooth += (self.p_ex - self.p_smooth) / d.smoothing
        N = len(d.p_names)
        if not N:
            return
        above = self.p_smooth[d.p_m] > d.p_cost
        self.p_streak = np.where(above, self.p_streak + 1, 0)
        new = np.isnan(self.p_start) & (self.p_streak >= d.persistence[d.p_m])
        for k in np.flatnonzero(new):
            self.p_start[k] = day
            self.ctx.recorder.event(day, f"{d.minerals[d.p_m[k]]}.{REGIONS[d.p_r[k]]}", f"{d.p_kind[k]}_started",
                                    f"{d.p_names[k]}: smoothed ex-China price above long-run cost "
                                    f"{d.p_cost[k]:g} for {d.persistence[d.p_m[k]]:g} days")
        t_on = self.p_start + self.p_lead
        on = day >= t_on                           # NaN start compares False
        frac = np.zeros(N)
        if on.any():
            x = (day - t_on[on] - d.p_ramp[on] / 2) * (8.0 / d.p_ramp[on])
            frac[on] = 1.0 / (1.0 + np.exp(-x))
            for k in np.flatnonzero(on & ~self.p_online):  # noqa: B007
                self.p_online[k] = True
                self.ctx.recorder.event(day, f"{d.minerals[d.p_m[k]]}.{REGIONS[d.p_r[k]]}",
                                        f"{d.p_kind[k]}_online", f"{d.p_names[k]}: lead time "
                                        f"{self.p_lead[k]:.0f} days after start on day {self.p_start[k]:.0f}")
        M, R = d.shape
        self.extra = np.bincount(self.p_mr, d.p_capacity * frac, minlength=M * R).reshape(M, R)

    def _events_release(self, day: int, was: np.ndarray, rel: np.ndarray, cover: np.ndarray) -> None:
        changed = self.releasing != was
        if not changed.any():
            return
        for m, r in zip(*np.nonzero(changed)):
            ent = f"{self.d.minerals[m]}.{REGIONS[r]}"
            if self.releasing[m, r]:
                self.ctx.recorder.event(day, ent, "strategic_release_started",
                                        f"price {rel[m, r]:.2f}x reference, cover {cover[m, r]:.0f} days")
            else:
                self.ctx.recorder.event(day, ent, "strategic_release_stopped",
                                        "stockpile empty" if self.G[m, r] <= 0 else "price and cover restored")

    def _events_exhaustion(self, day: int, unmet: np.ndarray, demand: np.ndarray) -> None:
        short = unmet > 1e-6 * demand
        new = short & ~self.exhausted
        if new.any():
            for m, r in zip(*np.nonzero(new)):
                self.ctx.recorder.event(day, f"{self.d.minerals[m]}.{REGIONS[r]}", "stock_exhausted",
                                        f"industry stock empty: {unmet[m, r]:.4g} t/day of demand unmet")
        self.exhausted |= short
