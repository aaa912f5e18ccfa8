"""Stocks of an item in a region: users' stocks spread over groups of firms, the strategic stockpile, the spot market.

**Users' stocks.** A region's industry stock is not one pool: it is held by many firms and their suppliers, each
with its own days of cover and its own suppliers. The model splits each (item, region) into *holder groups*:
``K`` cover quantiles of a lognormal (mean ``cover_days``, coefficient of variation ``holder_cover_spread``) times
two sourcing classes — users who buy mostly Chinese-made material and the others (``sourcing_concentration``).
Chinese-origin arrivals reach the China-sourced users and other supply its contracted buyers, each up to its
no-policy (contracted) level; only what comes beyond the contracts (re-orders, spot purchases, stockpile releases,
Chinese material diverted from a restricted market) goes to whoever needs it: an importer that receives more
Chinese material than its China-sourced users bought before sells it to the users that ran short. A group that
runs dry consumes only what reaches it that day, so the thinnest-stocked China-sourced firms stop while the
national total is still far from empty — the first line stop comes weeks before the average cover is used up.
``users_short_share`` is the demand share of groups that could not meet their demand.

**Origin.** Each region's stock carries its Chinese-origin part. Exports to a buyer that a Chinese measure
restricts may carry only non-Chinese-origin material (third countries do not knowingly re-export Chinese material
to a restricted destination; the countermeasure's ``leakage`` is the explicit exception).

**Strategic stockpile** (JOGMEC's 60-day target, China's state reserve): released when the price a region faces
exceeds ``release_price_ratio`` × its reference, its industry cover falls below ``release_cover_days``, or a
``release_short_share`` of its users' demand went unserved (the agency answers firms that run out, not only the
national average), over ``release_days``; stops at half the trigger premium with cover restored and no user short.

**Spot market** outside China: holders sell stock above a price-dependent desired cover
``cover_days × demand × max(exporter_keep_share, (P/P_ref)^−e)`` to regions whose orders the edges do not fill,
at most ``capacity_share`` × their baseline use a day, rationed proportionally per item; a restricted buyer can only
buy non-Chinese-origin stock, so buyers free to take Chinese-origin stock take it first.
"""
from __future__ import annotations

import numpy as np

from .. import kernels


def sourcing_classes(cover: np.ndarray, cn_share: np.ndarray, concentration: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Holder groups of every (item, region): ``K`` cover quantiles (``cover`` (I, R, K) days, equal demand) ×
    two sourcing classes. The *China-sourced* class holds the region's Chinese-origin share ``s`` of supply
    (``cn_share`` (I, R)) and buys ``s + κ(1 − s)`` of its supply from Chinese-origin material; the other class
    ``s(1 − κ)``, with κ the ``sourcing_concentration`` (1: firms are single-sourced; 0: everyone buys the same
    mix). Returns weights w, China shares c and covers, each (I, R, 2K); Σ w = 1 and Σ w·c = s."""
    I, R, K = cover.shape
    s = cn_share[:, :, None]
    kap = concentration[:, None, None]
    w = np.concatenate([np.broadcast_to(s / K, (I, R, K)), np.broadcast_to((1.0 - s) / K, (I, R, K))], axis=2)
    c = np.concatenate([np.broadcast_to(s + kap * (1.0 - s), (I, R, K)),
                        np.broadcast_to(s * (1.0 - kap), (I, R, K))], axis=2)
    return np.ascontiguousarray(w), np.ascontiguousarray(c), np.concatenate([cover, cover], axis=2)


def _share(amount: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``amount`` (..., I, R) split over groups in proportion to ``weights`` (..., I, R, G); evenly where all
    are 0."""
    tot = weights.sum(axis=-1, keepdims=True)
    G = weights.shape[-1]
    frac = np.divide(weights, tot, out=np.full_like(weights, 1.0 / G), where=tot > 0)
    return amount[..., None] * frac


def _fractions(weights: np.ndarray) -> np.ndarray:
    """Shares (..., G) of each group in ``weights`` (..., G) over its (item, region); even where all are 0."""
    tot = weights.sum(axis=-1, keepdims=True)
    return np.divide(weights, tot, out=np.full_like(weights, 1.0 / weights.shape[-1]), where=tot > 0)


class HolderGroups:
    """The holder groups of every (item, region): demand weights ``w`` and China shares ``c`` (I, R, G), fixed
    for a run, with the shares of Chinese-origin and contracted arrivals that each group receives."""

    def __init__(self, w: np.ndarray, c: np.ndarray, compiled: bool = False):
        """``compiled``: step the day with the compiled loop of :mod:`simulator.engine.kernels` (same numbers)."""
        self.w = w
        self._day = kernels.compiled("holder_day") if compiled else None
        self.f_cn = _fractions(w * c)              # Chinese-origin arrivals go by Chinese purchases w·c
        self.f_nc = _fractions(w * (1.0 - c))      # contracted other supply by w·(1 − c)

    def consume(self, S: np.ndarray, tot: np.ndarray, cn_in: np.ndarray, nc_in: np.ndarray,
                nc_contract: np.ndarray, cn_contract: np.ndarray, outflow: np.ndarray, demand: np.ndarray,
                target: np.ndarray, restock: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One day of the holder groups. ``S`` (I, R, G) stocks (updated in place) and ``tot`` their sum over
        groups; per (I, R) and day: Chinese-origin arrivals ``cn_in``, other arrivals ``nc_in`` (production,
        imports, releases), the contracted parts of both ``cn_contract`` and ``nc_contract`` (their no-policy
        levels), exports ``outflow``, ``demand``, ``target`` cover (days) and ``restock`` (days). For a batch of
        runs, the state and flows carry a leading lane axis ((lanes, I, R, G) and (lanes, I, R)).
        Chinese-origin arrivals up to their contracted level reach groups by their Chinese purchases ``w·c``;
        other supply up to its contracted level by ``w·(1 − c)``; what comes beyond either (re-orders, spot,
        stockpile releases, diverted Chinese material) goes to the groups by need (today's use not covered plus
        the gap to target cover over ``restock``). Exports leave in proportion to the stock held. Returns
        consumption (I, R), the demand share of groups that could not meet their demand, and the stock left
        (I, R) (Σ of ``S`` over groups)."""
        run = self._consume_compiled if self._day is not None else self._consume_numpy
        return run(S, tot, cn_in, nc_in, nc_contract, cn_contract, outflow, demand, target, restock)

    def _consume_numpy(self, S: np.ndarray, tot: np.ndarray, cn_in: np.ndarray, nc_in: np.ndarray,
                       nc_contract: np.ndarray, cn_contract: np.ndarray, outflow: np.ndarray, demand: np.ndarray,
                       target: np.ndarray, restock: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`consume` in numpy calls over all cells at once."""
        w = self.w
        base = np.minimum(nc_in, nc_contract)
        cbase = np.minimum(cn_in, cn_contract)
        inflow = cbase[..., None] * self.f_cn
        inflow += base[..., None] * self.f_nc
        want = w * demand[..., None]
        need = want - inflow
        gap = w * (target * demand)[..., None]
        gap -= S
        gap /= restock[..., None]
        need += gap
        np.maximum(need, 0.0, out=need)
        inflow += ((nc_in - base) + (cn_in - cbase))[..., None] * _fractions(need)
        S += inflow
        avail = tot + cn_in + nc_in
        frac = np.divide(outflow, avail, out=np.zeros_like(avail), where=avail > 0)
        S *= (1.0 - np.minimum(frac, 1.0))[..., None]
        cons_k = np.minimum(want, S)
        np.maximum(cons_k, 0.0, out=cons_k)
        S -= cons_k
        short = (cons_k < want * (1.0 - 1e-9)) & (want > 0)
        return cons_k.sum(axis=-1), np.where(short, w, 0.0).sum(axis=-1), S.sum(axis=-1)

    def _consume_compiled(self, S: np.ndarray, tot: np.ndarray, cn_in: np.ndarray, nc_in: np.ndarray,
                          nc_contract: np.ndarray, cn_contract: np.ndarray, outflow: np.ndarray,
                          demand: np.ndarray, target: np.ndarray, restock: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`consume` as one compiled loop over cells (same numbers, see :mod:`simulator.engine.kernels`)."""
        G = S.shape[-1]
        K = nc_contract.size
        cells = tot.shape
        cons, short, held = np.empty(cells), np.empty(cells), np.empty(cells)
        day = self._day or kernels.compiled("holder_day")
        day(S.reshape(-1, G), _flat(tot), _flat(cn_in), _flat(nc_in), _flat(nc_contract), _flat(cn_contract),
            _flat(outflow), _flat(demand, cells), _flat(target, cells), _flat(restock, nc_contract.shape),
            self.w.reshape(K, G), self.f_cn.reshape(K, G), self.f_nc.reshape(K, G), cons.reshape(-1),
            short.reshape(-1), held.reshape(-1))
        return cons, short, held


def _flat(a: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``a`` (broadcast to ``shape`` if given and different) as a flat C-contiguous float array; no copy where it
    already is one (``np.broadcast_to`` costs ~2 µs a call: only where the shapes differ)."""
    if shape is not None and a.shape != shape:
        a = np.broadcast_to(a, shape)
    return np.ascontiguousarray(a, dtype=float).reshape(-1)


def strategic_release(G: np.ndarray, releasing: np.ndarray, rel: np.ndarray, cover: np.ndarray,
                      short: np.ndarray, ratio: np.ndarray, cover_trigger: np.ndarray, short_trigger: np.ndarray,
                      cover_target: np.ndarray, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Today's release (I, R) per day and the new releasing flags, from the price ratio ``rel`` a region faces, its
    industry ``cover`` (days) and the demand share of its users that ran short yesterday (``short``). Starts on any
    trigger, stops at half the trigger premium with cover restored and no user short, or when the stockpile is
    empty."""
    start = (rel >= ratio) | (cover < cover_trigger) | (short >= short_trigger)
    stop = (rel < 1.0 + (ratio - 1.0) / 2) & (cover >= cover_target) & (short <= 0.0)
    now = (G > 0) & np.where(releasing, ~stop, start)
    return np.where(now, np.minimum(G, rate), 0.0), now


def spot_market(net: np.ndarray, spare: np.ndarray, cap: np.ndarray, cn_share: np.ndarray,
                restricted: np.ndarray, tol: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clear each item's spot market. ``net`` (I, R) is each region's excess demand (positive: wants to buy;
    negative: will sell up to ``spare``), ``cap`` the most a buyer takes a day, ``cn_share`` the Chinese-origin
    share of each seller's stock, ``restricted`` buyers that may not take Chinese-origin material. China takes no
    part (its column is zero in ``cap`` and ``spare``). Returns purchases (I, R), sales (I, R), the
    Chinese-origin part of purchases (I, R) and of sales (I, R). For a batch of runs every (I, R) array carries a
    leading lane axis, and a run with no buyer or no seller trades nothing."""
    buy = np.minimum(net, cap)
    buy *= buy > tol
    sell = np.minimum(-net, spare)
    sell *= sell > tol
    cells = tuple(range(buy.ndim - 2, buy.ndim))
    trading = (np.count_nonzero(buy, axis=cells) > 0) & (np.count_nonzero(sell, axis=cells) > 0)
    if not trading.any():
        z = np.zeros_like(net)
        return z, z.copy(), z.copy(), z.copy()
    sell_cn = sell * cn_share
    sell_nc = sell - sell_cn
    need_r = np.where(restricted, buy, 0.0)
    need_u = buy - need_r
    o_cn, o_nc = sell_cn.sum(-1), sell_nc.sum(-1)
    nu, nr = need_u.sum(-1), need_r.sum(-1)
    u_cn = np.minimum(nu, o_cn)                                  # free buyers take Chinese-origin stock first
    rest_u = nu - u_cn
    f = np.minimum(1.0, np.divide(o_nc, rest_u + nr, out=np.zeros_like(o_nc), where=rest_u + nr > 0))
    share_u_cn = np.divide(u_cn, nu, out=np.zeros_like(nu), where=nu > 0)
    got_u_cn = need_u * share_u_cn[..., None]
    got = got_u_cn + (need_u - got_u_cn) * f[..., None] + need_r * f[..., None]
    sold_cn = sell_cn * np.divide(u_cn, o_cn, out=np.zeros_like(o_cn), where=o_cn > 0)[..., None]
    sold_nc = sell_nc * np.divide((rest_u + nr) * f, o_nc, out=np.zeros_like(o_nc), where=o_nc > 0)[..., None]
    sold = sold_cn + sold_nc
    if not trading.all():                                        # runs with no buyer or no seller: nothing
        on = np.reshape(trading, np.shape(trading) + (1, 1))
        got, sold = np.where(on, got, 0.0), np.where(on, sold, 0.0)
        got_u_cn, sold_cn = np.where(on, got_u_cn, 0.0), np.where(on, sold_cn, 0.0)
    return got, sold, got_u_cn, sold_cn
