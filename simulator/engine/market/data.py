"""World data of the commodity markets turned into numpy arrays (items × regions, edges, projects, feed links).

An *item* is one mineral at one stage of its supply chain where trade really happens (``ree_heavy_oxide``,
``graphite_spherical``, ``ndfeb_magnets`` …), or a component such as ``mature_chips``. Items of one mineral form a
chain: a stage that names ``feeds`` consumes its upstream items in the same region, ``ratio`` tonnes of feed per
tonne of output, so refining capacity binds where it stands and feed shipped to a refining region is used up there.

Reads the plain ``world["minerals"]`` (and ``world["components"]`` if present) mapping: a ``common`` section of
behavioural parameters and one key per item (see ``world/default/minerals.yaml``). Quantities are in the item's
``unit`` (tonnes for minerals), flows per day (the YAML's per-year figures divided by 365.25), prices in the item's
``price_unit``. The baseline is made to balance per item and region::

    primary production + recycling + imports − exports = final consumption + feed use by downstream stages

a residual up to 15% is put on primary production (or on final consumption where a region has no capacity); a
larger one is an error naming the item, the region and the numbers. Volumes are those of ``common.reference_year``
and are scaled to the scenario's start year by each item's ``consumption_growth``; reference prices are dated
(``price.reference: {year: {ex_china, china}}``) and interpolated to every day of the run.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Mapping

import numpy as np

#: Supply and demand regions. No region is a transit hub: Chinese material reaches a restricted buyer only
#: through a countermeasure's explicit ``leakage`` share.
REGIONS: tuple[str, ...] = ("China", "Japan", "South_Korea", "Taiwan", "US", "EU", "Southeast_Asia", "India",
                            "Russia_Central_Asia", "Africa", "Australia_Canada", "Latin_America", "rest_of_world")
CHINA = 0
DAYS_PER_YEAR = 365.25
BALANCE_TOLERANCE = 0.15
KINDS = ("restart", "new_plant")
SECTIONS = ("minerals", "components")


def _common(iw: Mapping[str, Any], common: Mapping[str, Any], section: str, key: str) -> float:
    """A behavioural parameter: the item's own value if given, else the ``common`` one."""
    own = iw.get(section, {})
    if isinstance(own, Mapping) and key in own:
        return float(own[key])
    try:
        return float(common[section][key])
    except KeyError:
        raise KeyError(f"minerals: no value for {section}.{key} (neither in the item nor in 'common')") from None


def split_edge(name: str) -> tuple[str, str]:
    """``China_to_South_Korea`` → ``("China", "South_Korea")``; fails loudly on unknown regions."""
    for exp in REGIONS:
        if name.startswith(exp + "_to_"):
            imp = name[len(exp) + 4:]
            if imp in REGIONS and imp != exp:
                return exp, imp
    raise ValueError(f"edge name {name!r} must be <exporter>_to_<importer> with regions from {', '.join(REGIONS)}")


def item_sections(world: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every item of the world's market sections (``minerals``, ``components``), id → its mapping."""
    out: dict[str, Mapping[str, Any]] = {}
    for sec in SECTIONS:
        for k, v in (world.get(sec) or {}).items():
            if k != "common" and isinstance(v, Mapping):
                out[k] = v
    return out


def item_groups(world: Mapping[str, Any]) -> dict[str, list[str]]:
    """Mineral (or component family) → its item ids, in file order; what a countermeasure's ``mineral`` names."""
    groups: dict[str, list[str]] = {}
    for k, v in item_sections(world).items():
        groups.setdefault(str(v.get("mineral", k)), []).append(k)
    return groups


def holder_covers(mean_days: float, spread: float, bins: int) -> np.ndarray:
    """Days of cover of ``bins`` equal-demand groups of users (firms and their suppliers): the midpoints of equal
    probability slices of a lognormal with mean ``mean_days`` and coefficient of variation ``spread``, rescaled to
    that mean exactly. ``spread`` 0 gives every group the mean (one pooled stock)."""
    if bins < 1:
        raise ValueError(f"bins(={bins}) must be >= 1")
    if spread <= 0 or bins == 1:
        return np.full(bins, float(mean_days))
    s2 = np.log1p(spread ** 2)
    nd = NormalDist()
    z = np.array([nd.inv_cdf((k + 0.5) / bins) for k in range(bins)])
    c = np.exp(np.sqrt(s2) * z)
    return c * (mean_days / c.mean())


def dated_path(points: Mapping[Any, Mapping[str, Any]], key: str, start: _dt.date, days: int) -> np.ndarray:
    """A daily reference path interpolated linearly between dated points (``{year or date: {key: value}}``,
    a year standing for its 1 July), flat before the first and after the last point."""
    xs, ys = [], []
    for when, row in points.items():
        if key not in row:
            continue
        if isinstance(when, (_dt.date, _dt.datetime)):
            d = when if isinstance(when, _dt.date) else when.date()
        else:
            d = _dt.date(int(when), 7, 1)
        xs.append((d - start).days)
        ys.append(float(row[key]))
    if not xs:
        raise ValueError(f"no dated '{key}' reference price")
    order = np.argsort(xs)
    return np.interp(np.arange(days, dtype=float), np.asarray(xs, float)[order], np.asarray(ys)[order])


@dataclass
class MarketData:
    """All items as arrays: (I, R) for regions, (E,) for trade edges, (N,) projects, (F,) feed links."""

    items: list[str]
    mineral: list[str]
    unit: list[str]
    price_unit: list[str]
    # regions (I, R), flows per day
    capacity: np.ndarray
    primary0: np.ndarray
    recycling: np.ndarray
    final0: np.ndarray
    cover_days: np.ndarray
    strategic0: np.ndarray
    # per item (I,)
    p_ref_ex: np.ndarray          # (I, days) dated reference path, ex-China
    p_ref_cn: np.ndarray          # (I, days) dated reference path, China
    ceiling: np.ndarray
    per: dict[str, np.ndarray]
    # holder groups: (K,) demand weights and (I, R, K) days of cover
    holder_w: np.ndarray
    holder_cover: np.ndarray
    # edges (E,)
    e_m: np.ndarray
    e_x: np.ndarray
    e_i: np.ndarray
    e_flow0: np.ndarray
    e_transport: np.ndarray
    e_names: list[str]
    # feed links (F,): downstream item, upstream item, t feed per t output
    f_down: np.ndarray
    f_up: np.ndarray
    f_ratio: np.ndarray
    # projects (N,)
    p_m: np.ndarray
    p_r: np.ndarray
    p_capacity: np.ndarray
    p_lead: np.ndarray
    p_lead_sd: np.ndarray
    p_ramp: np.ndarray
    p_cost: np.ndarray
    p_kind: list[str]
    p_names: list[str]
    # substitution pairs (S,)
    s_from: np.ndarray
    s_to: np.ndarray
    s_max: np.ndarray
    s_full_ratio: np.ndarray
    s_days: np.ndarray
    volume_scale: np.ndarray
    follows: list[tuple[int, int, str]] = field(default_factory=list)   # (item, region, recorded series)
    adjustments: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.items), len(REGIONS)

    def feed_use0(self, primary: np.ndarray | None = None) -> np.ndarray:
        """Feed use (I, R) per day of every upstream item by its downstream stages producing ``primary`` (I, R)
        or, for a batch of runs, (lanes, I, R)."""
        q = self.primary0 if primary is None else primary
        out = np.zeros(q.shape)                     # (I, R), or (lanes, I, R) for a batch of runs
        for k in range(len(self.f_down)):
            out[..., self.f_up[k], :] += self.f_ratio[k] * q[..., self.f_down[k], :]
        return out


PER_ITEM = {   # array name -> (section, key) of a behavioural parameter (item's own value, else common)
    "tau_price": ("price", "tau_days"), "smoothing": ("price", "smoothing_days"),
    "parity_carry": ("price", "export_parity_carry_per_year"),
    "parity_pass": ("price", "export_parity_pass_through"),
    "el_short": ("demand", "elasticity_short"), "el_long": ("demand", "elasticity_long"),
    "demand_days": ("demand", "adjustment_days"), "supply_el": ("supply", "elasticity"),
    "supply_days": ("supply", "adjustment_days"), "restock_days": ("stocks", "restock_days"),
    "front_share": ("stocks", "front_running_share"), "front_max": ("stocks", "front_running_max_ratio"),
    "keep_share": ("stocks", "exporter_keep_share"), "cover_spread": ("stocks", "holder_cover_spread"),
    "sourcing_concentration": ("stocks", "sourcing_concentration"),
    "release_ratio": ("strategic", "release_price_ratio"), "release_cover": ("strategic", "release_cover_days"),
    "release_short": ("strategic", "release_short_share"),
    "release_days": ("strategic", "release_days"), "leak_delay": ("trade", "leakage_delay_days"),
    "edge_cap": ("trade", "edge_cap_multiple"),
    "persistence": ("investment", "persistence_days"), "spot_el": ("spot", "release_elasticity"),
    "spot_cap": ("spot", "capacity_share"), "spot_transport": ("spot", "transport_days"),
    "reserve_below": ("china_reserve", "buy_below_price_ratio"),
    "reserve_rate": ("china_reserve", "max_purchase_share"),
    "cut_below": ("china_output", "cut_below_price_ratio"), "cut_max": ("china_output", "max_cut_share"),
}


def _order(items: list[str], feeds: dict[str, dict[str, float]]) -> list[str]:
    """Items with every upstream stage before its downstream stages (file order otherwise)."""
    out: list[str] = []
    seen: set[str] = set()

    def visit(i: str, path: tuple[str, ...]) -> None:
        if i in seen:
            return
        if i in path:
            raise ValueError(f"minerals: feed cycle {' -> '.join(path + (i,))}")
        for up in feeds.get(i, {}):
            if up not in feeds:
                raise ValueError(f"minerals.{i}.feeds: unknown item {up!r} (items: {', '.join(feeds)})")
            visit(up, path + (i,))
        seen.add(i)
        out.append(i)
    for i in items:
        visit(i, ())
    return out


def volume_scales(secs: Mapping[str, Mapping[str, Any]], names: list[str], start: _dt.date,
                  ref_year: float) -> dict[str, float]:
    """Factor per mineral (chain) that takes its volumes from their reference year to the scenario's start:
    ``(1 + g)^years`` with ``g`` the ``consumption_growth`` of the chain's most downstream stage (the chain grows
    with its end use) and the year from any stage's ``reference_year`` (else ``common.reference_year``). One
    factor for every stage keeps a balanced chain balanced."""
    out: dict[str, float] = {}
    for n in names:                       # upstream first: the last stage seen wins the growth rate
        iw = secs[n]
        mineral = str(iw.get("mineral", n))
        g, y = out.get(mineral + "#g", 0.0), out.get(mineral + "#y", ref_year)
        if "consumption_growth" in iw:
            g = float(iw["consumption_growth"])
        if "reference_year" in iw:
            y = float(iw["reference_year"])
        out[mineral + "#g"], out[mineral + "#y"] = g, y
    return {m: (1.0 + out[m + "#g"]) ** ((start - _dt.date(int(out[m + "#y"]), 7, 1)).days / DAYS_PER_YEAR)
            for m in {str(secs[n].get("mineral", n)) for n in names}}


def load_market_data(world: Mapping[str, Any], start: _dt.date, days: int, bins: int = 8) -> MarketData:
    """Build :class:`MarketData` from a world's market sections for a run starting on ``start``."""
    common: Mapping[str, Any] = {**((world.get("components") or {}).get("common") or {}),
                                 **((world.get("minerals") or {}).get("common") or {})}
    secs = item_sections(world)
    if not secs:
        raise ValueError("minerals: no item defined")
    feeds = {k: {u: float(r) for u, r in (v.get("feeds") or {}).items()} for k, v in secs.items()}
    names = _order(list(secs), feeds)
    idx = {n: i for i, n in enumerate(names)}
    I, R = len(names), len(REGIONS)
    ref_year = float(common.get("reference_year", start.year))
    z = lambda: np.zeros((I, R))  # noqa: E731
    cap, prim, rec_share, final, cover, strat = z(), z(), z(), z(), z(), z()
    per: dict[str, list[float]] = {k: [] for k in PER_ITEM}
    e_rows: list[tuple] = []
    p_rows: list[tuple] = []
    s_rows: list[tuple] = []
    f_rows: list[tuple] = []
    chain_scale = volume_scales(secs, names, start, ref_year)
    units, punits, minerals = [], [], []
    follows: list[tuple[int, int, str]] = []
    p_ex, p_cn, ceiling, scale = [], [], [], []
    for m, name in enumerate(names):
        iw = secs[name]
        minerals.append(str(iw.get("mineral", name)))
        units.append(str(iw.get("unit", "t")))
        punits.append(str(iw.get("price_unit", "USD/kg")))
        sc = chain_scale[minerals[-1]]
        scale.append(sc)
        pr = iw["price"]
        refs = pr.get("reference")
        if refs is None:   # one undated reference
            refs = {int(ref_year): {"ex_china": pr["reference_ex_china"], "china": pr["reference_china"]}}
        p_ex.append(dated_path(refs, "ex_china", start, days))
        p_cn.append(dated_path(refs, "china", start, days))
        ceiling.append(float(pr.get("ceiling_ratio", common.get("price", {}).get("ceiling_ratio", 4.0))))
        for k, (sec, key) in PER_ITEM.items():
            per[k].append(_common(iw, common, sec, key))
        per.setdefault("alpha_ex", []).append(float(pr["alpha"]))
        per.setdefault("alpha_cn", []).append(float(pr.get("alpha_china", pr["alpha"])))
        for up, ratio in feeds[name].items():
            f_rows.append((m, idx[up], ratio))
        for rname, rw in (iw.get("regions") or {}).items():
            if rname not in REGIONS:
                raise ValueError(f"minerals.{name}.regions: unknown region {rname!r} (regions: {', '.join(REGIONS)})")
            r = REGIONS.index(rname)
            cap[m, r] = float(rw.get("capacity", 0.0)) / DAYS_PER_YEAR * sc
            prim[m, r] = cap[m, r] * float(rw.get("utilisation", 0.0))
            rec_share[m, r] = float(rw.get("recycling_share", 0.0))
            final[m, r] = float(rw.get("consumption", 0.0)) / DAYS_PER_YEAR * sc
            cover[m, r] = float(rw.get("cover_days", 30.0))
            strat[m, r] = float(rw.get("strategic_days", 0.0))
            if rw.get("follows"):
                follows.append((m, r, str(rw["follows"])))
        for ename, ew in (iw.get("edges") or {}).items():
            x, i = split_edge(ename)
            e_rows.append((m, REGIONS.index(x), REGIONS.index(i), float(ew["flow"]) / DAYS_PER_YEAR * sc,
                           float(ew.get("transport_days", 14.0)), f"{name}.{ename}"))
        for pname, pw in (iw.get("projects") or {}).items():
            if pw.get("region") not in REGIONS:
                raise ValueError(f"minerals.{name}.projects.{pname}.region: {pw.get('region')!r} is not a region")
            if pw.get("kind") not in KINDS:
                raise ValueError(f"minerals.{name}.projects.{pname}.kind: {pw.get('kind')!r} not in {KINDS}")
            p_rows.append((m, REGIONS.index(pw["region"]), float(pw["capacity"]) / DAYS_PER_YEAR * sc,
                           float(pw["lead_time"]), float(pw.get("lead_time_sd", 0.0)), float(pw["ramp_days"]),
                           float(pw["long_run_cost"]), pw["kind"], pname))
        sub = iw.get("substitute")
        if sub:
            if sub["item"] not in idx:
                raise ValueError(f"minerals.{name}.substitute.item: unknown item {sub['item']!r}")
            s_rows.append((m, idx[sub["item"]], float(sub["max_share"]), float(sub["full_at_price_ratio"]),
                           float(sub["adjustment_days"])))
    E = len(e_rows)
    e_m = np.array([r[0] for r in e_rows], dtype=np.int64)
    e_x = np.array([r[1] for r in e_rows], dtype=np.int64)
    e_i = np.array([r[2] for r in e_rows], dtype=np.int64)
    f0 = np.array([r[3] for r in e_rows], dtype=float)
    imports0 = np.bincount(e_m * R + e_i, f0, minlength=I * R).reshape(I, R) if E else z()
    exports0 = np.bincount(e_m * R + e_x, f0, minlength=I * R).reshape(I, R) if E else z()
    f_down = np.array([f[0] for f in f_rows], dtype=np.int64)
    f_up = np.array([f[1] for f in f_rows], dtype=np.int64)
    f_ratio = np.array([f[2] for f in f_rows], dtype=float)
    notes = _balance(names, prim, cap, final, rec_share, imports0, exports0, f_down, f_up, f_ratio)
    rec = rec_share * final
    s_from = np.array([s[0] for s in s_rows], dtype=np.int64)
    s_to = np.array([s[1] for s in s_rows], dtype=np.int64)
    a = {k: np.array(v, dtype=float) for k, v in per.items()}
    K = max(1, int(bins))
    hw = np.full(K, 1.0 / K)
    hc = np.zeros((I, R, K))
    for m in range(I):
        for r in range(R):
            hc[m, r] = holder_covers(cover[m, r], a["cover_spread"][m], K)
    feed0 = np.zeros((I, R))
    for k in range(len(f_down)):
        feed0[f_up[k]] += f_ratio[k] * prim[f_down[k]]
    return MarketData(
        items=names, mineral=minerals, unit=units, price_unit=punits, capacity=cap, primary0=prim,
        recycling=rec, final0=final, cover_days=cover, strategic0=strat * (final + feed0),
        p_ref_ex=np.array(p_ex), p_ref_cn=np.array(p_cn), ceiling=np.array(ceiling), per=a,
        holder_w=hw, holder_cover=hc,
        e_m=e_m, e_x=e_x, e_i=e_i, e_flow0=f0, e_transport=np.array([r[4] for r in e_rows], dtype=float),
        e_names=[r[5] for r in e_rows], f_down=f_down, f_up=f_up, f_ratio=f_ratio,
        p_m=np.array([p[0] for p in p_rows], dtype=np.int64), p_r=np.array([p[1] for p in p_rows], dtype=np.int64),
        p_capacity=np.array([p[2] for p in p_rows], dtype=float), p_lead=np.array([p[3] for p in p_rows], dtype=float),
        p_lead_sd=np.array([p[4] for p in p_rows], dtype=float), p_ramp=np.array([p[5] for p in p_rows], dtype=float),
        p_cost=np.array([p[6] for p in p_rows], dtype=float), p_kind=[p[7] for p in p_rows],
        p_names=[p[8] for p in p_rows], s_from=s_from, s_to=s_to,
        s_max=np.array([s[2] for s in s_rows], dtype=float), s_full_ratio=np.array([s[3] for s in s_rows], dtype=float),
        s_days=np.array([s[4] for s in s_rows], dtype=float), volume_scale=np.array(scale), follows=follows,
        adjustments=notes)


def _balance(names: list[str], prim: np.ndarray, cap: np.ndarray, final: np.ndarray, rec_share: np.ndarray,
             imports0: np.ndarray, exports0: np.ndarray, f_down: np.ndarray, f_up: np.ndarray,
             f_ratio: np.ndarray) -> list[str]:
    """Close each item's baseline balance in place, downstream stages first (their output sets their feed use).

    A residual within the tolerance goes on final use (which changes nothing upstream) where that stays ≥ 0;
    else on primary production within capacity; a stage that has neither and is short of feed makes its
    downstream stages produce less (they are balanced again in the next pass)."""
    I, R = prim.shape
    notes: list[str] = []
    for _ in range(20):
        changed = False
        for m in reversed(range(I)):        # items are ordered upstream first
            feed = np.zeros(R)
            for k in np.flatnonzero(f_up == m):
                feed += f_ratio[k] * prim[f_down[k]]
            for r in range(R):
                supply = prim[m, r] + rec_share[m, r] * final[m, r] + imports0[m, r] - exports0[m, r]
                use = final[m, r] + feed[r]
                b = supply - use
                scale = max(use, prim[m, r] + rec_share[m, r] * final[m, r] + imports0[m, r], 1e-12)
                if abs(b) <= 1e-12 * scale:
                    continue
                where = f"minerals.{names[m]}.regions.{REGIONS[r]}"
                if abs(b) > BALANCE_TOLERANCE * scale:
                    y = DAYS_PER_YEAR
                    raise ValueError(
                        f"{where}: baseline does not balance: primary {prim[m, r] * y:.4g} + recycling "
                        f"{rec_share[m, r] * final[m, r] * y:.4g} + imports {imports0[m, r] * y:.4g} - exports "
                        f"{exports0[m, r] * y:.4g} = {supply * y:.4g} t/year vs final consumption "
                        f"{final[m, r] * y:.4g} + feed use {feed[r] * y:.4g} t/year (> 15%)")
                changed = True
                new_final = (prim[m, r] + imports0[m, r] - exports0[m, r] - feed[r]) / (1.0 - rec_share[m, r])
                if new_final >= 0 and (final[m, r] > 0 or cap[m, r] == 0 or b > 0):
                    final[m, r] = new_final
                    notes.append(f"{where}: final consumption adjusted by {b * DAYS_PER_YEAR:+.4g} t/year to balance")
                elif cap[m, r] > 0 and 0 <= prim[m, r] - b <= cap[m, r]:
                    prim[m, r] -= b
                    notes.append(f"{where}: primary production adjusted by {-b * DAYS_PER_YEAR:+.4g} t/year to "
                                 "balance")
                elif feed[r] > 0:
                    f = max(0.0, (feed[r] + b) / feed[r])
                    for k in np.flatnonzero(f_up == m):
                        prim[f_down[k], r] *= f
                    notes.append(f"{where}: downstream production scaled by {f:.4f} to the feed available")
                else:
                    raise ValueError(f"{where}: baseline cannot be balanced by final consumption, primary "
                                     "production or feed use")
        if not changed:
            return notes
    raise ValueError("minerals: the baseline balance did not settle in 20 passes")
