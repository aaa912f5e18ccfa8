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
- An **ex-China spot market** (no baseline flow) serves what the edges do not deliver: every region outside China
  has a desired stock ``cover_days × demand × max(exporter_keep_share, (P_ex/P_ref)^−e)`` (the supply of storage:
  holders keep less the dearer it is). Its spot excess demand is its order rule towards that stock, counting only
  goods physically on their way (licence applications are not supply), less what its edges carry today. Buyers
  (at most ``spot.capacity_share`` × baseline consumption a day) and sellers (at most their stock above what they
  keep for their own users) are rationed proportionally per mineral; goods arrive after ``spot.transport_days``.
  At the reference price nobody sells below normal cover, so spot supply comes only at a premium. Recorded as
  ``<mineral>.<region>`` ``spot_imports`` (arrivals) and ``spot_exports`` (shipments), parts of imports/exports.
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

from .mineral_data import CHINA, REGIONS, load_market_data, mineral_names
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
        MR = M * R
        E = len(d.e_names)
        self.MR, self.E = MR, E
        col = lambda v: np.ascontiguousarray(v[:, None])  # noqa: E731
        # edges as 0/1 matrices (edges x flat (mineral, region) cells): sums per importer/exporter are products
        self.e_mi = d.e_m * R + d.e_i          # flat (mineral, importer) index of each edge
        self.e_mx = d.e_m * R + d.e_x          # flat (mineral, exporter) index
        self.e_china = np.flatnonzero(d.e_x == CHINA)
        self.A_mi = np.zeros((E, MR))
        self.A_mi[np.arange(E), self.e_mi] = 1.0
        self.A_mx = np.zeros((E, MR))
        self.A_mx[np.arange(E), self.e_mx] = 1.0
        self.imports0 = (d.e_flow0 @ self.A_mi).reshape(M, R)
        self.exports0 = (d.e_flow0 @ self.A_mx).reshape(M, R)
        m0 = self.imports0.ravel()[self.e_mi]
        self.share = np.divide(d.e_flow0, m0, out=np.zeros(E), where=m0 > 0)
        self.edge_cap = d.edge_cap_multiple[d.e_m] * d.e_flow0
        self.tau_e = np.maximum(1, np.round(d.e_transport)).astype(np.int64)
        self.tau_leak = self.tau_e + np.round(d.leak_delay[d.e_m]).astype(np.int64)
        if self.tau_leak.max(initial=0) >= H_TRANSIT:
            raise ValueError(f"transport plus leakage delay must be < {H_TRANSIT} days")
        self.tau_spot = np.maximum(1, np.round(d.spot_transport)).astype(np.int64)
        if self.tau_spot.max(initial=0) >= H_TRANSIT:
            raise ValueError(f"spot transport delay must be < {H_TRANSIT} days")
        self.sl0 = ((d.e_flow0 * (self.tau_e - 1)) @ self.A_mi).reshape(M, R)  # supply line at order time
        # flat ring-buffer positions (slot * width + column) of today's shipments, before adding today's slot
        self.tr_ship = self.tau_e * E + np.arange(E)
        self.tr_leak = self.tau_leak * E + np.arange(E)
        self.tr_spot = (self.tau_spot[:, None] * MR + np.arange(MR).reshape(M, R)).ravel()
        # prices as (M, 2): column 0 China domestic, column 1 ex-China; region r faces column min(r, 1)
        self.P = np.stack([d.p0_cn, d.p0_ex], axis=1)
        self.P0 = self.P.copy()
        self.inv_P0 = 1.0 / self.P0
        self.P_cap = d.backstop[:, None] * self.P0
        self.neg_alpha = -np.stack([d.alpha_cn, d.alpha_ex], axis=1)
        # flat cells (mineral, region) <-> flat prices [China (M); ex-China (M)]
        face = np.minimum(np.arange(R), 1)
        cell_price = (face[None, :] * M + np.arange(M)[:, None]).ravel()
        self.face = np.zeros((2 * M, MR))          # price -> cells facing it
        self.face[cell_price, np.arange(MR)] = 1.0
        self.pool = self.face.T.copy()             # cells -> (China, ex-China) pools per mineral
        self.P = self.P.T.copy().ravel()
        self.P0, self.inv_P0, self.P_cap = self.P0.T.ravel(), self.inv_P0.T.ravel(), self.P_cap.T.ravel()
        self.neg_alpha = self.neg_alpha.T.ravel()
        self.inv_tau_p = np.concatenate([1.0 / d.tau_price] * 2)
        self.p_cn, self.p_ex = self.P[:M], self.P[M:]
        self.subs = [(int(d.s_from[k]), int(d.s_to[k]), float(d.s_max[k]), float(d.s_full_ratio[k]),
                      float(d.s_days[k])) for k in range(len(d.s_from))]
        self.el_s, self.el_d = col(d.el_short), col(d.el_long - d.el_short)
        self.inv_dd = col(1.0 / d.demand_days)
        self.supply_el, self.inv_sd = col(d.supply_el), col(1.0 / d.supply_days)
        self.inv_restock = col(1.0 / d.restock_days)
        self.keep = col(d.keep_share)
        self.ratio_r, self.release_cover = col(d.release_ratio), col(d.release_cover)
        self.release_stop = 1.0 + (self.ratio_r - 1.0) / 2
        self.release_rate = d.strategic0 / d.release_days[:, None]
        # ex-China spot market
        self.spot_neg_el = col(-d.spot_el)
        self.spot_cap = d.spot_cap[:, None] * d.consumption0
        self.spot_cap[:, CHINA] = 0.0                 # China neither buys nor sells on the ex-China spot market
        self.spot_tol = col(1e-9 * np.maximum(d.consumption0.max(1), 1e-300))
        # state
        self.prod0 = d.primary0 + d.recycling
        # orders = const0 + demand - production - release + last exports + (target - stock - supply line)/restock
        self.const0 = self.imports0 - d.consumption0 + self.prod0 - self.exports0 + self.sl0 * self.inv_restock
        self.Q = d.primary0.copy()
        self.S = d.cover_days * d.consumption0
        self.G = d.strategic0.copy()
        self.L = np.ones((M, R))
        self.sigma = np.zeros((len(d.s_from), R))
        self.releasing = np.zeros((M, R), dtype=bool)
        self.x_prev = self.exports0.copy()
        self.p_smooth = d.p0_ex.copy()
        self.extra = np.zeros((M, R))
        self.cap_now = d.capacity.copy()
        self.transit = np.zeros((H_TRANSIT, E))
        for e in range(E):                      # baseline pipeline already on its way at day 0
            self.transit[:self.tau_e[e], e] = d.e_flow0[e]
        self.tr_flat = self.transit.reshape(-1)
        self.in_transit = d.e_flow0 * self.tau_e
        self.spot_transit = np.zeros((H_TRANSIT, M, R))
        self.sp_flat = self.spot_transit.reshape(-1)
        self.spot_pipe = np.zeros((M, R))           # spot purchases on their way, per importer
        self.queue = np.zeros((H_LICENCE, E))
        self.q_flat = self.queue.reshape(-1)
        self.pending = np.zeros(E)
        self.queue_live = False
        self.spot_on = False
        self.spot_live = False                      # spot goods have been bought (the spot ring is in use)
        self.spot_selling = False
        self.leak_recorded = False
        self.n_releasing = 0
        self.has_G = self.G > 0
        self.exhausted = np.zeros((M, R), dtype=bool)
        self.licensed_once = np.zeros(M, dtype=bool)
        self.zero_E = np.zeros(E)
        self.zero_MR = np.zeros((M, R))
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
        self.T = d.cover_days.copy()
        self.keepT = self.keep * self.T
        self.any_cap = False
        self.restricted = False
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
        self.p_pers = d.persistence[d.p_m] if N else np.zeros(0)
        self.p_waiting = np.ones(N, dtype=bool)
        self.n_waiting = N
        self.t_on = np.full(N, np.inf)
        self.next_on = np.inf
        self.days_ahead = np.arange(days, dtype=float)
        self.frac = np.zeros((N, days))             # share of each project's capacity online, by day
        self.p_cells = np.zeros((N, M * R))         # project -> its (mineral, region) cell, t/day
        self.p_cells[np.arange(N), d.p_m * R + d.p_r] = d.p_capacity
        self.p_newcap = np.zeros((N, M))            # project -> its mineral, t/year
        self.p_newcap[np.arange(N), d.p_m] = d.p_capacity * 365.25
        self.inv_smoothing = 1.0 / d.smoothing
        self.any_started = False                    # some project produces (extra capacity is non-zero)
        self._register()
        self.v_strat[:] = self.G

    # ----- outputs ---------------------------------------------------------------------------------------
    def _register(self) -> None:
        """Register every series; their arrays are columns of one Fortran-ordered block written once a day.

        The day's values are assembled in ``self.row`` (contiguous), whose slices the step writes into with
        ``out=``; slices that did not change since yesterday keep their value."""
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
                          ("days_of_cover", "days", ()), ("strategic_stock", "t", ()), ("stock_change", "t/day", ()),
                          ("spot_imports", "t/day", ("total",)), ("spot_exports", "t/day", ("total",))]
        for metric, unit, summ in region_metrics:
            for m, name in enumerate(d.minerals):
                for r, reg in enumerate(REGIONS):
                    head = metric == "unmet_demand" and bool(importer[m, r])
                    specs.append((f"{name}.{reg}", metric, unit, summ, head))
        for metric in ("flow", "leakage"):
            for e, ename in enumerate(d.e_names):
                specs.append((ename, metric, "t/day", (), False))
        self.block = rec.block(specs)   # column j is series j: one write per day
        self.n_series = len(specs)
        row = self.row = np.zeros(len(specs))
        MR, E = M * R, self.E
        self.v_price = row[:2 * M]                         # [China (M); ex-China (M)]
        self.v_cx = row[2 * M:3 * M]
        self.v_newcap = row[3 * M:4 * M]
        o = 4 * M
        views = []
        for _ in region_metrics:
            views.append(row[o:o + MR].reshape(M, R))
            o += MR
        (self.v_prod, self.v_imp, self.v_exp, self.v_cons, self.v_dem, self.v_unmet, self.v_stock, self.v_cover,
         self.v_strat, self.v_dS, self.v_spot_in, self.v_spot_out) = views
        self.v_flow, self.v_leak = row[o:o + E], row[o + E:o + 2 * E]
        self.v_imp_flat = self.v_imp.reshape(-1)
        self.v_stock_flat = self.v_stock.reshape(-1)
        assert o + 2 * E == len(specs)

    # ----- policy ----------------------------------------------------------------------------------------
    def _refresh_parity(self) -> None:
        """Export parity per mineral: the share of the ex-China price (in China-price terms) that a Chinese
        holder can expect from selling abroad, averaged over China's export edges by baseline flow. An open
        edge pays in full; a licensed one ``approval_share`` discounted over the mean licence wait; a banned
        or quota-bound one only its ``leakage`` share, discounted over the detour (the marginal unit cannot go
        legally). Traders buy at home to export whenever the domestic price is below this netback, so it
        floors China's domestic price: with no measure the floor is the baseline price ratio itself."""
        d = self.d
        carry = d.parity_carry[d.e_m] / 365.25
        lic_wait = np.exp(self.lic_mu + 0.5 * self.lic_sigma ** 2)      # mean of the lognormal wait
        netback = np.ones(self.E)
        netback = np.where(self.kind == LICENSING, self.approval * np.exp(-carry * lic_wait), netback)
        netback = np.where(self.kind >= BAN, self.leak * np.exp(-carry * d.leak_delay[d.e_m]), netback)
        ec = self.e_china
        M = d.shape[0]
        w = np.bincount(d.e_m[ec], d.e_flow0[ec], minlength=M)
        paid = np.bincount(d.e_m[ec], d.e_flow0[ec] * netback[ec], minlength=M)
        share = np.divide(paid, w, out=np.zeros(M), where=w > 0)
        self.parity = share * d.p0_cn / d.p0_ex

    def _refresh_policy(self) -> None:
        """Edge restrictions and buyers' target-cover multipliers from the countermeasures now in force."""
        d, board = self.d, self.ctx.policy
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
        self._refresh_parity()
        self.any_cap = bool(np.any(self.kind >= BAN))
        self.restricted = bool(self.kind.any())
        self.any_leak = bool(self.leak.any())
        lic = self.lic_edges = np.flatnonzero(self.kind == LICENSING)
        if lic.size:                               # licence decision slots of today's applications, every day
            days = np.arange(self.ctx.days)
            delay = np.exp(self.lic_mu[lic, None] + self.lic_sigma[lic, None] * self.z_licence[lic])
            delay = np.clip(np.round(delay), 1, H_LICENCE - 1).astype(np.int64)
            self.lic_qidx = ((days + delay) % H_LICENCE) * self.E + lic[:, None]
        lm = np.unique(d.e_m[lic])
        self.lic_news = lm[~self.licensed_once[lm]]
        # capped edges: the allowed part (quota, 0 for a ban), leaked share of the blocked part, and the matrix
        # re-ordering the rest over the importer's open edges by their baseline shares
        cap = self.cap_edges = np.flatnonzero(self.kind >= BAN)
        self.cap_quota = np.where(self.kind[cap] == QUOTA, self.quota_cap[cap], 0.0)
        self.cap_leak = self.leak[cap]
        self.cap_leaky = bool(self.cap_leak.any())
        open_w = np.where(self.kind == FREE, self.share, 0.0)
        w_sum = (open_w @ self.A_mi)[self.e_mi]
        w = np.divide(open_w, w_sum, out=np.zeros(self.E), where=w_sum > 0)
        same = self.e_mi[cap][:, None] == self.e_mi[None, :]
        self.reroute = (1.0 - self.cap_leak)[:, None] * same * w[None, :]
        self.T = d.cover_days * self.mult
        self.keepT = self.keep * self.T
        # once a measure has been announced the market is out of its baseline: the spot market opens (and stays)
        self.spot_on = self.spot_on or self.restricted or bool((self.mult != 1.0).any())
        self._pv = board.version

    # ----- one day ---------------------------------------------------------------------------------------
    def step(self, day: int) -> None:
        d = self.d
        if self.ctx.policy.version != self._pv:
            self._refresh_policy()
        S = self.S
        # 1. arrivals (primary edges by their transport delay, spot purchases by the spot delay)
        slot = day % H_TRANSIT
        arrived = self.transit[slot]
        self.in_transit -= arrived
        imports = self.v_imp
        np.matmul(arrived, self.A_mi, out=self.v_imp_flat)
        arrived[:] = 0.0
        if self.spot_live:
            spot_arr = self.spot_transit[slot]
            self.v_spot_in[:] = spot_arr
            imports += spot_arr
            self.spot_pipe -= spot_arr
            spot_arr[:] = 0.0
        # 2. demand (prices faced: China domestic in China, ex-China elsewhere)
        rel = ((self.P * self.inv_P0) @ self.face).reshape(S.shape)
        tmp = rel ** self.el_d
        tmp -= self.L
        tmp *= self.inv_dd
        self.L += tmp
        demand = self.v_dem
        np.power(rel, self.el_s, out=demand)
        demand *= self.L
        demand *= d.consumption0
        for k, (i, j, smax, full, sdays) in enumerate(self.subs):
            ratio = float(rel[i, 1]) / float(rel[j, 1])
            target = smax * min(max((ratio - 1.0) / (full - 1.0), 0.0), 1.0)
            sig = self.sigma[k]
            if target == 0.0 and not np.count_nonzero(sig):
                continue
            sig += (target - sig) / sdays
            shift = sig * demand[i]
            demand[i] -= shift
            demand[j] += shift
        dem_safe = np.maximum(demand, 1e-300)
        # 3. production: utilisation follows price up to capacity; online projects run full
        q = rel ** self.supply_el
        q *= d.primary0
        if self.any_started:
            q += self.extra
        np.minimum(q, self.cap_now, out=q)
        q -= self.Q
        q *= self.inv_sd
        self.Q += q
        production = np.add(self.Q, d.recycling, out=self.v_prod)
        # 4. strategic release on a price or cover trigger (hysteresis: stops at half the trigger premium)
        release = self._release(day, rel, S / dem_safe)
        # 5. orders: close the gap to target cover, counting the supply line
        flow_need = demand - production                # orders' flow part (const0 holds the baseline terms)
        flow_need += self.x_prev
        flow_need += self.const0
        if release is not None:
            flow_need -= release
        physical = (self.in_transit @ self.A_mi).reshape(S.shape)
        if self.spot_on:
            physical += self.spot_pipe
        Td = self.T * demand
        want = Td - S
        want -= physical
        if self.queue_live:
            want -= (self.pending @ self.A_mi).reshape(S.shape)
        want *= self.inv_restock
        want += flow_need
        np.maximum(want, 0.0, out=want)
        req = np.take(want, self.e_mi)
        req *= self.share
        ship, leak = self._apply_measures(day, req)
        # 6. exporters ship what their stock allows beyond what they keep for their own users
        avail = S + production
        avail -= self.keepT * demand
        np.maximum(avail, 0.0, out=avail)
        out = ship + leak if leak is not self.zero_E else ship
        asked = (out @ self.A_mx).reshape(S.shape)
        if np.count_nonzero(asked > avail):
            scale = np.divide(avail, asked, out=np.ones_like(avail), where=asked > avail).ravel()[self.e_mx]
            ship *= scale
            if leak is not self.zero_E:
                leak *= scale
            out = ship + leak if leak is not self.zero_E else ship
            asked = (out @ self.A_mx).reshape(S.shape)
        base = slot * self.E
        self.tr_flat[(self.tr_ship + base) % self.tr_flat.size] += ship
        if leak is not self.zero_E:
            self.tr_flat[(self.tr_leak + base) % self.tr_flat.size] += leak
        self.in_transit += out
        self.x_prev = asked
        exports = self.v_exp
        exports[:] = asked
        # 6b. ex-China spot market for what the edges did not deliver
        if self.spot_on or self.spot_live:
            self._spot(slot, rel, demand, S, physical, flow_need, out, avail - asked, exports)
        # 7. consumption from what is on hand; stocks
        on_hand = S + production
        on_hand += imports
        on_hand -= exports
        if release is not None:
            on_hand += release
        consumption = np.minimum(demand, on_hand, out=self.v_cons)
        np.maximum(consumption, 0.0, out=consumption)
        s_new = np.subtract(on_hand, consumption, out=self.v_stock)
        dS = np.subtract(s_new, S, out=self.v_dS)
        S[:] = s_new
        if release is not None:
            self.G -= release
            dS -= release
            self.v_strat[:] = self.G
        # 8. prices from cover relative to buyers' target cover, China and the ex-China pool
        cov = self.v_stock_flat @ self.pool
        cov /= np.maximum(Td.reshape(-1) @ self.pool, 1e-300)
        np.maximum(cov, 1e-9, out=cov)
        np.power(cov, self.neg_alpha, out=cov)
        cov *= self.P0
        np.minimum(cov, self.P_cap, out=cov)
        M = self.d.shape[0]
        np.maximum(cov[:M], self.parity * self.P[M:], out=cov[:M])   # export parity floors China's price
        cov -= self.P
        cov *= self.inv_tau_p
        self.P += cov
        # 9. alternative supply
        self._invest(day)
        # 10. record
        unmet = np.subtract(demand, consumption, out=self.v_unmet)
        if np.count_nonzero(unmet):
            self._events_exhaustion(day, unmet, demand)
        np.divide(s_new, dem_safe, out=self.v_cover)
        self.v_price[:] = self.P
        self.v_cx[:] = exports[:, CHINA]
        self.v_flow[:] = out
        if leak is not self.zero_E or self.leak_recorded:
            self.leak_recorded = leak is not self.zero_E
            self.v_leak[:] = leak
        self.block[day] = self.row

    def _release(self, day: int, rel: np.ndarray, cover_now: np.ndarray) -> np.ndarray | None:
        """Strategic stock released today (t/day), or None when no stockpile releases."""
        start = rel >= self.ratio_r
        start |= cover_now < self.release_cover
        was = self.releasing
        if not self.n_releasing:
            start &= self.has_G
            if not np.count_nonzero(start):
                return None
            now = start
        else:
            stop = (rel < self.release_stop) & (cover_now >= self.d.cover_days)
            now = (self.G > 0) & np.where(was, ~stop, start)
        self.releasing = now
        self.n_releasing = np.count_nonzero(now)
        self._events_release(day, was, rel, cover_now)
        if not self.n_releasing:
            return None
        rel_now = np.where(now, np.minimum(self.G, self.release_rate), 0.0)
        self.has_G = self.G - rel_now > 0
        return rel_now

    def _spot(self, slot: int, rel: np.ndarray, demand: np.ndarray, S: np.ndarray, physical: np.ndarray,
              flow_need: np.ndarray, out: np.ndarray, spare: np.ndarray, exports: np.ndarray) -> None:
        """Ex-China spot market: what the edges do not deliver is bought from holders outside China.

        Every region outside China has a *desired stock* at today's ex-China price, its normal cover
        ``cover_days × demand × max(keep_share, (P_ex/P_ref)^−e)`` (holders keep less stock the dearer it is: the
        supply of storage). Its spot excess demand is its order rule towards that stock with only goods physically
        on their way counted (applications waiting for a licence are not supply), less what its edges carry
        today. Positive: it buys, at most ``capacity_share`` × its baseline consumption a day. Negative: it sells,
        at most its stock above what it keeps for its own users. Each mineral's market is rationed
        proportionally: buyers get need × min(1, supply/need), sellers sell offer × min(1, need/supply). The
        goods arrive after ``transport_days``. At the reference price the desired stock is the normal cover, so
        holders only sell when the ex-China price is above its reference (or they hold more than their cover)."""
        d = self.d
        desired = rel ** self.spot_neg_el
        np.maximum(desired, self.keep, out=desired)
        desired *= d.cover_days
        desired *= demand
        net = desired - S
        net -= physical
        net *= self.inv_restock
        net += flow_need
        net -= (out @ self.A_mi).reshape(S.shape)
        net[:, CHINA] = 0.0
        buy = np.minimum(net, self.spot_cap)
        buy *= buy > self.spot_tol
        np.negative(net, out=net)
        sell = np.minimum(net, spare, out=net)
        sell *= sell > self.spot_tol
        spot_out = self.v_spot_out
        if not (np.count_nonzero(buy) and np.count_nonzero(sell)):
            if self.spot_selling:
                spot_out[:] = 0.0
                self.spot_selling = False
            return
        need, offer = buy.sum(1), sell.sum(1)
        self.spot_selling = self.spot_live = True
        inv = 1.0 / np.maximum(np.maximum(need, offer), 1e-300)
        buy *= (offer * inv)[:, None]
        np.multiply(sell, (need * inv)[:, None], out=spot_out)
        self.sp_flat[(self.tr_spot + slot * self.MR) % self.sp_flat.size] += buy.ravel()
        self.spot_pipe += buy
        exports += spot_out

    def _apply_measures(self, day: int, req: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Direct shipments and leaked shipments per edge today, from the orders ``req`` (t/day).

        Open edges carry the orders (plus what is re-ordered away from banned or capped Chinese edges) up to
        ``edge_cap_multiple`` × their baseline flow; licensed edges carry what is approved today. The leaked
        shipments are ``self.zero_E`` (not to be written to) when nothing leaks. The per-edge matrices used here
        are built by :meth:`_refresh_policy` when the board changes."""
        if not self.restricted and not self.queue_live:
            return np.minimum(req, self.edge_cap, out=req), self.zero_E
        ship = req
        leak = None
        lic = self.lic_edges
        if lic.size:                               # applications wait for a licence decision
            r = req[lic]
            self.q_flat[self.lic_qidx[:, day]] += r
            self.pending[lic] += r
            ship[lic] = 0.0
            self.queue_live = True
        if self.any_cap:                           # bans and quotas cap the edge; the rest is re-ordered
            capped = self.cap_edges
            rc = req[capped]
            allowed = np.minimum(rc, self.cap_quota)
            rc -= allowed                          # blocked
            ship[capped] = allowed
            ship += rc @ self.reroute
            if self.cap_leaky:
                leak = np.zeros(self.E)
                leak[capped] = self.cap_leak * rc
        np.minimum(ship, self.edge_cap, out=ship)
        if self.queue_live:
            decided = self.queue[day % H_LICENCE]
            if np.count_nonzero(decided):
                self.pending -= decided
                approved = decided * self.approval
                ship += approved
                if self.any_leak:
                    lk = self.leak * (decided - approved)
                    leak = lk if leak is None else leak + lk
                decided[:] = 0.0
                if self.lic_news.size:
                    self._licence_event(day, approved)
        if leak is None or not np.count_nonzero(leak):
            return ship, self.zero_E
        return ship, leak

    def _licence_event(self, day: int, approved: np.ndarray) -> None:
        """Event on the first day a licensed mineral's exports are approved."""
        d = self.d
        for m in self.lic_news:
            if approved[d.e_m == m].any():
                self.licensed_once[m] = True
                self.ctx.recorder.event(day, d.minerals[m], "licences_granted",
                                        "first export licences decided after the review delay")
        self.lic_news = self.lic_news[~self.licensed_once[self.lic_news]]

    def _invest(self, day: int) -> None:
        """Start projects on a persistent price signal; bring them online after their lead time."""
        d = self.d
        N = len(d.p_names)
        if not N:
            return
        if self.n_waiting:
            self.p_smooth += (self.p_ex - self.p_smooth) * self.inv_smoothing
            above = self.p_smooth[d.p_m] > d.p_cost
            self.p_streak += 1.0
            self.p_streak *= above
            new = self.p_waiting & (self.p_streak >= self.p_pers)
            if np.count_nonzero(new):
                for k in np.flatnonzero(new):
                    self.p_start[k] = day
                    self.ctx.recorder.event(day, f"{d.minerals[d.p_m[k]]}.{REGIONS[d.p_r[k]]}",
                                            f"{d.p_kind[k]}_started",
                                            f"{d.p_names[k]}: smoothed ex-China price above long-run cost "
                                            f"{d.p_cost[k]:g} for {d.persistence[d.p_m[k]]:g} days")
                self.p_waiting &= ~new
                self.n_waiting = int(np.count_nonzero(self.p_waiting))
                self.t_on = np.where(np.isnan(self.p_start), np.inf, self.p_start + self.p_lead)
                self.next_on = float(self.t_on[~self.p_online].min(initial=np.inf))
                for k in np.flatnonzero(new):     # capacity share online on each later day (logistic ramp)
                    x = (self.days_ahead - self.t_on[k] - d.p_ramp[k] / 2) * (8.0 / d.p_ramp[k])
                    self.frac[k] = np.where(self.days_ahead >= self.t_on[k], 1.0 / (1.0 + np.exp(-x)), 0.0)
        if day < self.next_on:                     # nothing (more) comes online today
            if not self.any_started:
                return
        else:
            for k in np.flatnonzero((day >= self.t_on) & ~self.p_online):
                self.p_online[k] = True
                self.ctx.recorder.event(day, f"{d.minerals[d.p_m[k]]}.{REGIONS[d.p_r[k]]}",
                                        f"{d.p_kind[k]}_online", f"{d.p_names[k]}: lead time "
                                        f"{self.p_lead[k]:.0f} days after start on day {self.p_start[k]:.0f}")
            self.next_on = float(self.t_on[~self.p_online].min(initial=np.inf))
            self.any_started = True
        f = self.frac[:, day]
        self.extra = (f @ self.p_cells).reshape(self.S.shape)
        np.add(d.capacity, self.extra, out=self.cap_now)
        np.matmul(f, self.p_newcap, out=self.v_newcap)

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
