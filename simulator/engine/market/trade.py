"""Trade edges under Chinese export measures: licence queues, bans, quotas, leakage links and re-ordering.

A *trade edge* (item, exporter, importer) carries the importer's orders split by baseline shares. A Chinese edge
obeys the countermeasures in force against its importer for its item (a measure names a mineral, which covers
all its stages, or an item list):

- *licensing*: applications wait in a licence queue (lognormal delay) and ``approval_share`` of them is approved;
  ``resubmit_share`` of the refused ones are filed again on the day of the refusal (papers completed) and wait
  another review, so an edge's approvals grow over a control's life towards ``approval_share / (1 − (1 −
  approval_share) × resubmit_share)`` of its applications; the rest is refused for good;
- *ban*: the edge carries nothing; *quota*: at most ``quota_share`` × its baseline flow.

Blocked orders are treated alike under every kind: a ``leakage`` share of them still arrives from China through
third countries after ``leakage_delay_days`` (the only path by which Chinese material reaches a restricted buyer);
the rest is re-ordered at once from the importer's non-Chinese suppliers by their baseline shares. No edge carries
more than ``edge_cap_multiple`` × its baseline flow a day (traders, freight and contracts of an existing trade
relationship; licence approvals come on top): a supplier that sold little to a buyer before cannot become its
main source within a run, nor can China's open edges carry everything a third country re-exports. (Parts qualified
to a single Chinese source have no such suppliers: they are an item of their own whose alternatives are
re-qualification projects with a lead time.)

Under licensing a buyer applies for at most the edge's share of its own use (an application names its end use and
end user, which MOFCOM reviews: Export Control Law of the PRC, 2020; the licensing announcements 23 [2023] and
18 [2025]); the rest of an order goes elsewhere at once. It counts on an application as far as the licences it has
seen decided on that edge were granted: its *trust* is the approved share of the applications decided for good
there (granted, or refused and not filed again), starting from one day of the edge's baseline flow each way (trust
0.5, a labelled assumption: Laplace's rule of succession with a day's flow as the unit of evidence), and back to
that start when the edge's licensing terms change. It re-orders ``1 − trust`` of each application elsewhere at once
and counts ``trust`` × its pending applications in its supply line, against a desired supply line that grows by
the licence wait: ``trust`` × the mean wait till an application's last review (``licence_delay / (1 − (1 −
approval_share) × resubmit_share)``) × the edge's share of today's flow need (see
:meth:`.markets.MineralMarkets._orders`; a supply line counted at its expected arrivals against the lead time
expected, Sterman, *Business Dynamics*, 2000, ch. 17). Approvals beyond that come on top. Once licences are seen
granted, buyers go back to their Chinese suppliers (graphite traders to Fastmarkets, January 2024: early
refusals were files to complete; China's graphite exports rising again from January to February 2024 in
``benchmarks/episodes/observed.csv``). What other suppliers can ship is bounded by their own stock and production
(see :mod:`.stocks`), and a restricted importer can only receive their non-Chinese-origin material.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from .data import CHINA, REGIONS, MarketData

H_LICENCE = 512     # ring-buffer length for the licence queue (days); longer delays are clipped
FREE, LICENSING, QUOTA, BAN = 0, 1, 2, 3
RANK = {"licensing": LICENSING, "quota": QUOTA, "ban": BAN}


def import_shares(d: MarketData) -> np.ndarray:
    """Each edge's share (E,) of its importer's baseline imports of its item (0 where the importer imports
    nothing)."""
    e_mi = d.e_m * d.shape[1] + d.e_i
    m0 = np.bincount(e_mi, d.e_flow0, minlength=d.shape[0] * d.shape[1])[e_mi]
    return np.divide(d.e_flow0, m0, out=np.zeros(len(d.e_names)), where=m0 > 0)


class TradeRules:
    """The per-edge view of the countermeasures in force and the licence queue, for every lane of a batch: each
    state array is (lanes, E) — a lane's own board decides its restrictions."""

    def __init__(self, d: MarketData, days: int, n: int, licence_normals: Callable[[int, int], np.ndarray],
                 kernel: Any = None):
        """``n`` lanes; ``licence_normals(lane, edge)``: the ``days`` standard normals of that lane's licence
        delays on that edge, asked for the first time licensing applies to the edge in the lane (a stream
        drawn only then gives the numbers it would have given at the start). ``kernel``: the compiled day
        (``kernels.trade_apply``, same numbers as :meth:`apply`'s numpy code), or None."""
        self.d = d
        I, R = d.shape
        E = len(d.e_names)
        self.n, self.E, self.days = n, E, days
        self._licence_normals = licence_normals
        #: per lane, the licence-delay normals (days,) of each edge licensing has applied to so far
        self.z_licence: list[dict[int, np.ndarray]] = [{} for _ in range(n)]
        self.e_mi = d.e_m * R + d.e_i
        self.e_china = np.flatnonzero(d.e_x == CHINA)
        self.kind = np.zeros((n, E), dtype=np.int64)
        self.approval = np.ones((n, E))
        self.resubmit = np.zeros((n, E))                # share of refused applications filed again
        self.quota_cap = np.zeros((n, E))
        self.leak = np.zeros((n, E))
        self.lic_mu = np.zeros((n, E))
        self.lic_sigma = np.zeros((n, E))
        self.restricted = np.zeros((n, I, R), dtype=bool)   # a measure in force against this importer and item
        self.gap_days = np.zeros((n, I, R))                 # supply gap a buyer expects (front-running)
        self.active = np.zeros(n, dtype=bool)
        self.queue = np.zeros((n, H_LICENCE, E))
        self.pending = np.zeros((n, E))
        self.queue_live = np.zeros(n, dtype=bool)
        self.lic_edges: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n
        self.lic_qidx: list[np.ndarray] = [np.zeros((0, days), dtype=np.int64)] * n
        self._lic_all: tuple | None = None              # see _licensing
        self.approved_today = np.zeros((n, E))
        # buyers' trust in an edge's licences: the approved share of the applications decided for good there
        self.trust = np.zeros((n, E))
        self.seen_ok, self.seen_no = np.zeros((n, E)), np.zeros((n, E))     # approved, refused for good
        self.lic_wait = np.zeros((n, E))     # days an application waits on average till its last review
        # re-ordering weights: each edge's share among its importer's non-Chinese edges
        imp_open = np.bincount(self.e_mi, np.where(d.e_x != CHINA, d.e_flow0, 0.0), minlength=I * R)
        self.alt_w = np.divide(np.where(d.e_x != CHINA, d.e_flow0, 0.0), imp_open[self.e_mi],
                               out=np.zeros(E), where=imp_open[self.e_mi] > 0)
        self.has_alt = imp_open > 0                                    # per flat (item, importer)
        self.edge_cap = d.per["edge_cap"][d.e_m] * d.e_flow0          # most an edge carries a day
        off = (np.arange(n) * (I * R))[:, None]
        self._l_mi = (off + self.e_mi).ravel()
        self._kernel = kernel
        self._blocked, self._per_imp = np.zeros(E), np.zeros(I * R)      # the kernel's scratch
        self._refiled = np.zeros((n, E))            # the kernel's refused applications filed again, day by day
        self._applied = np.zeros((n, E))            # and today's licence applications
        self.share = import_shares(d)

    def refresh(self, lane: int, board: Any) -> None:
        """Rebuild lane ``lane``'s per-edge restrictions from its board's countermeasures in force and
        announced."""
        d = self.d
        kind, approval, leak, quota = self.kind[lane], self.approval[lane], self.leak[lane], self.quota_cap[lane]
        resubmit = self.resubmit[lane]
        terms = (kind.copy(), approval.copy(), resubmit.copy())
        restricted, gap_days = self.restricted[lane], self.gap_days[lane]
        kind[:] = FREE
        approval[:] = 1.0
        resubmit[:] = 0.0
        wait = self.lic_wait[lane]
        wait[:] = 0.0
        leak[:] = 0.0
        quota[:] = 0.0
        restricted[:] = False
        gap_days[:] = 0.0
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
                gap_days[m, i] = max(gap_days[m, i], gap)
            if not active:
                continue
            spec = max(active, key=lambda s: RANK[s.spec.kind]).spec
            kind[e] = RANK[spec.kind]
            restricted[m, i] = True
            leak[e] = max(s.spec.leakage for s in active)
            if spec.kind == "licensing":
                strict = min((s.spec for s in active if s.spec.kind == "licensing"),
                             key=lambda c: (c.approval_share, c.resubmit_share))
                approval[e], resubmit[e] = strict.approval_share, strict.resubmit_share
                mean, sd = max(1.0, spec.licence_delay), max(0.0, spec.licence_delay_sd)
                s2 = np.log1p((sd / mean) ** 2)
                self.lic_mu[lane, e], self.lic_sigma[lane, e] = np.log(mean) - s2 / 2, np.sqrt(s2)
                again = (1.0 - approval[e]) * resubmit[e]         # reviews per application: 1 / (1 − again)
                wait[e] = mean / (1.0 - again) if again < 1.0 else 0.0
            elif spec.kind == "quota":
                quota[e] = min(s.spec.quota_share for s in active if s.spec.kind == "quota") * d.e_flow0[e]
        self.active[lane] = bool(kind.any())
        new = (kind == LICENSING) & ((terms[0] != LICENSING) | (terms[1] != approval) | (terms[2] != resubmit))
        if new.any():       # new licensing terms: what buyers saw no longer tells; one day's flow each way
            self.seen_ok[lane, new] = self.seen_no[lane, new] = d.e_flow0[new]
            self.trust[lane, new] = 0.5
        lic = self.lic_edges[lane] = np.flatnonzero(kind == LICENSING)
        if lic.size:                               # licence decision slots of every day's applications
            days = np.arange(self.days)
            mu, sig = self.lic_mu[lane, lic, None], self.lic_sigma[lane, lic, None]
            delay = np.exp(mu + sig * self._normals(lane, lic))
            delay = np.clip(np.round(delay), 1, H_LICENCE - 1).astype(np.int64)
            self.lic_qidx[lane] = lane * (H_LICENCE * self.E) + ((days + delay) % H_LICENCE) * self.E + lic[:, None]
        else:
            self.lic_qidx[lane] = np.zeros((0, self.days), dtype=np.int64)

    def _normals(self, lane: int, edges: np.ndarray) -> np.ndarray:
        """The licence-delay normals (len(edges), days) of lane ``lane`` on ``edges``, drawn where first asked."""
        own = self.z_licence[lane]
        for e in edges.tolist():
            if e not in own:
                own[e] = self._licence_normals(lane, e)
        return np.array([own[e] for e in edges.tolist()]).reshape(len(edges), self.days)

    def export_netback(self, lane: int) -> np.ndarray:
        """Per edge of lane ``lane``, the share of an export sale's value a Chinese holder can expect (export
        parity): 1 on an open edge; under licensing, the sale approved at the first review discounted over the mean
        licence wait, plus at the second (after a refusal and a new application) discounted over two waits, and so
        on: ``a·δ / (1 − (1 − a)·r·δ)`` with approval share ``a``, resubmitted share ``r`` and ``δ`` the discount of
        one wait; the ``leakage`` share discounted over the detour under a ban or quota (the marginal unit cannot go
        legally)."""
        d = self.d
        kind = self.kind[lane]
        carry = d.per["parity_carry"][d.e_m] / 365.25
        wait = np.exp(self.lic_mu[lane] + 0.5 * self.lic_sigma[lane] ** 2)
        nb = np.ones(self.E)
        a, disc = self.approval[lane], np.exp(-carry * wait)
        den = 1.0 - (1.0 - a) * self.resubmit[lane] * disc          # 0 only where nothing is ever approved
        lic = np.divide(a * disc, den, out=np.zeros(self.E), where=den > 0)
        nb = np.where(kind == LICENSING, lic, nb)
        return np.where(kind >= QUOTA, self.leak[lane] * np.exp(-carry * d.per["leak_delay"][d.e_m]), nb)

    def _queue_applications(self, day: int, req: np.ndarray) -> list[int]:
        """Today's licence applications (the orders ``req`` on licensing edges) into the queue slot of the day
        each will be decided (never today's: delays are ≥ 1 day); returns the lanes with licensing edges."""
        lanes, at, slots = self._licensing()
        if lanes:      # one slot per (lane, edge): a plain indexed add is ``np.add.at``'s sum here
            self.queue.reshape(-1)[slots[day]] += req.reshape(-1)[at]
        return lanes

    def _licensing(self) -> tuple[list[int], np.ndarray, np.ndarray]:
        """``(lanes with licensing edges, their (lane, edge) positions in a flat (lanes, E) array, each day's
        queue slots (days, pairs))``: every lane's ``lic_edges`` and ``lic_qidx`` side by side, made again when
        any lane's arrays are new ones (:meth:`refresh`, or whoever sets them; the arrays are held, so their
        identity says so). Gathering them every day cost 24–26 µs a day at 20 lanes, this 11–14 (in the engine)."""
        got = self._lic_all
        if (got is None or not all(map(operator.is_, got[0], self.lic_edges))
                or not all(map(operator.is_, got[1], self.lic_qidx))):
            lanes = [k for k in range(self.n) if self.lic_edges[k].size]
            at = np.concatenate([k * self.E + self.lic_edges[k] for k in lanes]) if lanes \
                else np.zeros(0, dtype=np.int64)
            slots = np.ascontiguousarray(np.concatenate([self.lic_qidx[k] for k in lanes]).T) if lanes \
                else np.zeros((self.days, 0), dtype=np.int64)
            got = self._lic_all = (list(self.lic_edges), list(self.lic_qidx), lanes, at, slots)
        return got[2], got[3], got[4]

    def _refile(self, day: int, refiled: np.ndarray) -> None:
        """Applications refused today and filed again (``refiled``, lanes × E, nonzero only on licensing edges):
        back into the queue, decided after the review time of an application filed today, and pending again."""
        if refiled.any():
            lanes, at, slots = self._licensing()
            again = refiled.reshape(-1)[at]
            self.queue.reshape(-1)[slots[day]] += again
            self.pending.reshape(-1)[at] += again

    def _learn(self, where: np.ndarray, approved: np.ndarray, final: np.ndarray) -> None:
        """Buyers' trust after today's decisions: ``approved`` and refused for good ``final`` (lanes, E) added to
        what they have seen on each edge of the lanes ``where`` (lanes, 1)."""
        np.add(self.seen_ok, approved, out=self.seen_ok, where=where)
        np.add(self.seen_no, final, out=self.seen_no, where=where)
        seen = self.seen_ok + self.seen_no
        np.divide(self.seen_ok, seen, out=self.trust, where=where & (seen > 0))

    @property
    def busy(self) -> np.ndarray:
        """Lanes (bool per lane) whose edges a measure restricts or whose licence queue still holds decisions."""
        return self.active | self.queue_live

    def apply(self, day: int, req: np.ndarray, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Direct and leaked shipments (lanes, E) asked of each edge today (before exporters' stock limits),
        from the orders ``req`` (lanes, E). A licence application is at most the edge's baseline share of its
        importer's own use today (``demand``, lanes × items × regions: an application names its end use), the
        rest of the order goes elsewhere. Blocked orders are re-ordered on the importer's non-Chinese edges;
        every edge carries at most its cap, then today's licence approvals."""
        n, E = self.n, self.E
        if self.approved_today.any():
            self.approved_today[:] = 0.0
        busy = self.busy
        if not busy.any():
            return np.minimum(req, self.edge_cap, out=req), np.zeros((n, E))
        if self._kernel is not None:               # the same day, one compiled loop over lanes and edges
            ship, leak = np.empty((n, E)), np.empty((n, E))
            self._kernel(day % H_LICENCE, req, demand, self.share, self.kind, self.quota_cap, self.leak,
                         self.approval, self.resubmit, self.alt_w, self.e_mi, self.edge_cap, busy, self.queue_live,
                         self.queue, self.pending,
                         self.approved_today, self.trust, self.seen_ok, self.seen_no, ship, leak, self._refiled,
                         self._blocked, self._per_imp, self._applied)
            self._queue_applications(day, self._applied)
            self._refile(day, self._refiled)
            return ship, leak
        ship = req.copy()
        blocked = np.zeros((n, E))
        lic = self.kind == LICENSING
        if lic.any():            # applications wait for a decision; what buyers do not count on goes elsewhere
            use = demand.reshape(n, -1)[:, self.e_mi] * self.share
            applied = np.where(lic, np.minimum(req, use), 0.0)
            lanes = self._queue_applications(day, applied)
            np.add(self.pending, applied, out=self.pending, where=lic)
            ship[lic] = 0.0
            blocked[lic] = (req[lic] - applied[lic]) + applied[lic] * (1.0 - self.trust[lic])
            self.queue_live[lanes] = True
        cap = self.kind >= QUOTA
        if cap.any():
            allowed = np.where(self.kind == QUOTA, np.minimum(req, self.quota_cap), 0.0)
            blocked = np.where(cap, req - allowed, blocked)
            ship = np.where(cap, allowed, ship)
        leak = self.leak * blocked
        leak[lic] = 0.0                            # licensing leaks only what is refused (below)
        reorder = blocked - leak
        some = np.count_nonzero(reorder, axis=1) > 0
        if some.any():
            per_imp = np.bincount(self._l_mi, reorder.ravel(), minlength=n * self.restricted[0].size)
            per_imp = per_imp.reshape(n, -1)[:, self.e_mi]
            ship = np.where(some[:, None], ship + self.alt_w * per_imp, ship)
        np.minimum(ship, self.edge_cap, out=ship)
        live = self.queue_live.copy()
        if live.any():
            decided = self.queue[:, day % H_LICENCE]              # (lanes, E), a view into the queue
            got = live & (np.count_nonzero(decided, axis=1) > 0)
            if got.any():
                g = got[:, None]
                np.subtract(self.pending, decided, out=self.pending, where=g)
                self.approved_today = np.where(g, decided * self.approval, 0.0)
                ship = np.where(g, ship + self.approved_today, ship)
                refused = decided * (1.0 - self.approval)
                refiled = np.where(g, refused * self.resubmit, 0.0)
                final = refused - refiled
                leak = np.where(g, leak + self.leak * final, leak)
                self._learn(g, self.approved_today, final)
                decided[got] = 0.0
                self._refile(day, refiled)
            idle = live & ~got & ~self.pending.any(axis=1)
            self.queue_live[idle] = False
        if not busy.all():                         # lanes without restrictions ship what was asked, up to the cap
            b = busy[:, None]
            ship, leak = np.where(b, ship, np.minimum(req, self.edge_cap)), np.where(b, leak, 0.0)
        return ship, leak
