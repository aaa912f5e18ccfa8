"""Trade edges under Chinese export measures: licence queues, bans, quotas, leakage links and re-ordering.

A *trade edge* (item, exporter, importer) carries the importer's orders split by baseline shares. A Chinese edge
obeys the countermeasures in force against its importer for its item (a measure names a mineral, which covers
all its stages, or an item list):

- *licensing*: applications wait in a licence queue (lognormal delay) and ``approval_share`` of them is approved;
- *ban*: the edge carries nothing; *quota*: at most ``quota_share`` × its baseline flow.

Blocked orders are treated alike under every kind: a ``leakage`` share of them still arrives from China through
third countries after ``leakage_delay_days`` (the only path by which Chinese material reaches a restricted buyer);
the rest is re-ordered at once from the importer's non-Chinese suppliers by their baseline shares. (Parts qualified
to a single Chinese source have no such suppliers: they are an item of their own whose alternatives are
re-qualification projects with a lead time.) Under licensing
the buyer cannot count on an application, so the whole application is also re-ordered elsewhere and approved
licences come on top. What other suppliers can ship is bounded by their own stock and production (see
:mod:`.stocks`), and a restricted importer can only receive their non-Chinese-origin material.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .data import CHINA, REGIONS, MarketData

H_LICENCE = 512     # ring-buffer length for the licence queue (days); longer delays are clipped
FREE, LICENSING, QUOTA, BAN = 0, 1, 2, 3
RANK = {"licensing": LICENSING, "quota": QUOTA, "ban": BAN}


class TradeRules:
    """The per-edge view of the countermeasures in force and the licence queue of one run."""

    def __init__(self, d: MarketData, days: int, z_licence: np.ndarray):
        self.d = d
        I, R = d.shape
        E = len(d.e_names)
        self.E, self.days = E, days
        self.z_licence = z_licence                  # (E, days) standard normals for licence delays
        self.e_mi = d.e_m * R + d.e_i
        self.e_china = np.flatnonzero(d.e_x == CHINA)
        self.kind = np.zeros(E, dtype=np.int64)
        self.approval = np.ones(E)
        self.quota_cap = np.zeros(E)
        self.leak = np.zeros(E)
        self.lic_mu = np.zeros(E)
        self.lic_sigma = np.zeros(E)
        self.restricted = np.zeros((I, R), dtype=bool)   # a measure in force against this importer for this item
        self.gap_days = np.zeros((I, R))                 # supply gap a buyer expects (front-running)
        self.active = False
        self.queue = np.zeros((H_LICENCE, E))
        self.pending = np.zeros(E)
        self.queue_live = False
        self.lic_edges = np.zeros(0, dtype=np.int64)
        self.lic_qidx = np.zeros((0, days), dtype=np.int64)
        self.approved_today = np.zeros(E)
        # re-ordering weights: each edge's share among its importer's non-Chinese edges
        imp_open = np.bincount(self.e_mi, np.where(d.e_x != CHINA, d.e_flow0, 0.0), minlength=I * R)
        self.alt_w = np.divide(np.where(d.e_x != CHINA, d.e_flow0, 0.0), imp_open[self.e_mi],
                               out=np.zeros(E), where=imp_open[self.e_mi] > 0)
        self.has_alt = imp_open > 0                                    # per flat (item, importer)

    def refresh(self, board: Any) -> None:
        """Rebuild the per-edge restrictions from the board's countermeasures in force and announced."""
        d = self.d
        self.kind[:] = FREE
        self.approval[:] = 1.0
        self.leak[:] = 0.0
        self.quota_cap[:] = 0.0
        self.restricted[:] = False
        self.gap_days[:] = 0.0
        lead = np.full(len(d.items), 365.0)
        for k in range(len(d.p_names)):
            lead[d.p_m[k]] = min(lead[d.p_m[k]], d.p_lead[k])
        for e in self.e_china:
            m, i = d.e_m[e], d.e_i[e]
            item, mineral, imp = d.items[m], d.mineral[m], REGIONS[i]
            active = board.countermeasures_on_item(item, mineral, imp)
            pending = board.countermeasures_on_item(item, mineral, imp, pending=True)
            for st in active + pending:       # the gap a buyer expects: licence wait, or time to alternatives
                spec = st.spec
                gap = spec.licence_delay if spec.kind == "licensing" else lead[m]
                self.gap_days[m, i] = max(self.gap_days[m, i], gap)
            if not active:
                continue
            spec = max(active, key=lambda s: RANK[s.spec.kind]).spec
            self.kind[e] = RANK[spec.kind]
            self.restricted[m, i] = True
            self.leak[e] = max(s.spec.leakage for s in active)
            if spec.kind == "licensing":
                self.approval[e] = min(s.spec.approval_share for s in active if s.spec.kind == "licensing")
                mean, sd = max(1.0, spec.licence_delay), max(0.0, spec.licence_delay_sd)
                s2 = np.log1p((sd / mean) ** 2)
                self.lic_mu[e], self.lic_sigma[e] = np.log(mean) - s2 / 2, np.sqrt(s2)
            elif spec.kind == "quota":
                self.quota_cap[e] = min(s.spec.quota_share for s in active if s.spec.kind == "quota") \
                    * d.e_flow0[e]
        self.active = bool(self.kind.any())
        lic = self.lic_edges = np.flatnonzero(self.kind == LICENSING)
        if lic.size:                               # licence decision slots of every day's applications
            days = np.arange(self.days)
            delay = np.exp(self.lic_mu[lic, None] + self.lic_sigma[lic, None] * self.z_licence[lic])
            delay = np.clip(np.round(delay), 1, H_LICENCE - 1).astype(np.int64)
            self.lic_qidx = ((days + delay) % H_LICENCE) * self.E + lic[:, None]

    def export_netback(self) -> np.ndarray:
        """Per edge, the share of an export sale's value a Chinese holder can expect (export parity): 1 on an
        open edge, ``approval_share`` discounted over the mean licence wait under licensing, the ``leakage``
        share discounted over the detour under a ban or quota (the marginal unit cannot go legally)."""
        d = self.d
        carry = d.per["parity_carry"][d.e_m] / 365.25
        wait = np.exp(self.lic_mu + 0.5 * self.lic_sigma ** 2)
        nb = np.ones(self.E)
        nb = np.where(self.kind == LICENSING, self.approval * np.exp(-carry * wait), nb)
        return np.where(self.kind >= QUOTA, self.leak * np.exp(-carry * d.per["leak_delay"][d.e_m]), nb)

    def apply(self, day: int, req: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Direct and leaked shipments asked of each edge today (before exporters' stock limits), from the
        orders ``req`` per edge. Blocked orders are re-ordered on the importer's non-Chinese edges."""
        if self.approved_today.any():
            self.approved_today[:] = 0.0
        if not self.active and not self.queue_live:
            return req, np.zeros(self.E)
        ship = req.copy()
        blocked = np.zeros(self.E)
        lic = self.lic_edges
        if lic.size:                               # applications wait for a decision, and are re-ordered elsewhere
            r = req[lic]
            flat = self.queue.reshape(-1)
            np.add.at(flat, self.lic_qidx[:, day], r)
            self.pending[lic] += r
            ship[lic] = 0.0
            blocked[lic] = r
            self.queue_live = True
        cap = np.flatnonzero(self.kind >= QUOTA)
        if cap.size:
            allowed = np.where(self.kind[cap] == QUOTA, np.minimum(req[cap], self.quota_cap[cap]), 0.0)
            blocked[cap] = req[cap] - allowed
            ship[cap] = allowed
        leak = self.leak * blocked
        leak[lic] = 0.0                            # licensing leaks only what is refused (below)
        reorder = blocked - leak
        if np.count_nonzero(reorder):
            per_imp = np.bincount(self.e_mi, reorder, minlength=self.restricted.size)
            ship += self.alt_w * per_imp[self.e_mi]
        if self.queue_live:
            decided = self.queue[day % H_LICENCE]
            if np.count_nonzero(decided):
                self.pending -= decided
                self.approved_today = decided * self.approval
                ship += self.approved_today
                leak += self.leak * decided * (1.0 - self.approval)
                decided[:] = 0.0
            elif not self.pending.any():
                self.queue_live = False
        return ship, leak
