"""World data of the mineral markets turned into numpy arrays (helpers of :mod:`simulator.engine.minerals`).

Reads ``world["minerals"]`` (plain values, see ``world/default/minerals.yaml``) and returns a
:class:`MarketData` with one row per mineral and one column per region. Quantities are tonnes, flows tonnes per
day (the YAML's t/year divided by 365.25), prices in the mineral's ``price_unit``. The baseline is made to
balance per region (production + recycling + imports − exports = consumption): a residual up to 15% is put on
primary production (or on consumption where a region has no capacity); a larger one is an error naming it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

REGIONS: tuple[str, ...] = ("China", "Japan", "US", "EU", "South_Korea", "Taiwan", "rest_of_world")
CHINA = 0
DAYS_PER_YEAR = 365.25
BALANCE_TOLERANCE = 0.15
KINDS = ("restart", "new_plant")


def _common(mw: Mapping[str, Any], common: Mapping[str, Any], section: str, key: str) -> float:
    """A behavioural parameter: the mineral's own value if given, else the ``common`` one."""
    own = mw.get(section, {})
    if isinstance(own, Mapping) and key in own:
        return float(own[key])
    try:
        return float(common[section][key])
    except KeyError:
        raise KeyError(f"minerals: no value for {section}.{key} (neither in the mineral nor in 'common')") from None


def split_edge(name: str) -> tuple[str, str]:
    """``China_to_South_Korea`` → ``("China", "South_Korea")``; fails loudly on unknown regions."""
    for exp in REGIONS:
        if name.startswith(exp + "_to_"):
            imp = name[len(exp) + 4:]
            if imp in REGIONS and imp != exp:
                return exp, imp
    raise ValueError(f"edge name {name!r} must be <exporter>_to_<importer> with regions from {REGIONS}")


@dataclass
class MarketData:
    """All minerals as arrays: (M, R) for regions, (E,) for trade edges, (N,) for supply projects."""

    minerals: list[str]
    price_unit: list[str]
    # regions (M, R), tonnes and tonnes/day
    capacity: np.ndarray
    primary0: np.ndarray
    recycling: np.ndarray
    consumption0: np.ndarray
    cover_days: np.ndarray
    strategic0: np.ndarray
    # per mineral (M,)
    p0_ex: np.ndarray
    p0_cn: np.ndarray
    alpha_ex: np.ndarray
    alpha_cn: np.ndarray
    tau_price: np.ndarray
    backstop: np.ndarray
    smoothing: np.ndarray
    el_short: np.ndarray
    el_long: np.ndarray
    demand_days: np.ndarray
    supply_el: np.ndarray
    supply_days: np.ndarray
    restock_days: np.ndarray
    announce_mult: np.ndarray
    keep_share: np.ndarray
    release_ratio: np.ndarray
    release_cover: np.ndarray
    release_days: np.ndarray
    leak_delay: np.ndarray
    edge_cap_multiple: np.ndarray
    persistence: np.ndarray
    spot_el: np.ndarray
    spot_cap: np.ndarray
    spot_transport: np.ndarray
    parity_carry: np.ndarray
    # edges (E,)
    e_m: np.ndarray
    e_x: np.ndarray
    e_i: np.ndarray
    e_flow0: np.ndarray
    e_transport: np.ndarray
    e_names: list[str]
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
    adjustments: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.minerals), len(REGIONS)


def mineral_names(section: Mapping[str, Any]) -> list[str]:
    """Mineral ids of a ``minerals`` world section (every key but ``common``), in file order."""
    return [k for k in section if k != "common"]


def load_market_data(section: Mapping[str, Any]) -> MarketData:
    """Build :class:`MarketData` from the plain ``world["minerals"]`` mapping."""
    common = section.get("common", {})
    names = mineral_names(section)
    if not names:
        raise ValueError("minerals: no mineral defined")
    M, R = len(names), len(REGIONS)
    z = lambda: np.zeros((M, R))  # noqa: E731
    cap, prim, rec_share, cons, cover, strat = z(), z(), z(), z(), z(), z()
    per: dict[str, list[float]] = {k: [] for k in (
        "p0_ex", "p0_cn", "alpha_ex", "alpha_cn", "tau_price", "backstop", "smoothing", "el_short", "el_long",
        "demand_days", "supply_el", "supply_days", "restock_days", "announce_mult", "keep_share",
        "release_ratio", "release_cover", "release_days", "leak_delay", "edge_cap_multiple", "persistence",
        "spot_el", "spot_cap", "spot_transport", "parity_carry")}
    e_rows: list[tuple[int, int, int, float, float, str]] = []
    p_rows: list[tuple] = []
    s_rows: list[tuple] = []
    units: list[str] = []
    for m, name in enumerate(names):
        mw = section[name]
        units.append(str(mw.get("price_unit", "USD/kg")))
        pr = mw["price"]
        per["p0_ex"].append(float(pr["reference_ex_china"]))
        per["p0_cn"].append(float(pr["reference_china"]))
        per["alpha_ex"].append(float(pr["alpha"]))
        per["alpha_cn"].append(float(pr.get("alpha_china", pr["alpha"])))
        per["tau_price"].append(_common(mw, common, "price", "tau_days"))
        per["backstop"].append(_common(mw, common, "price", "backstop_ratio"))
        per["smoothing"].append(_common(mw, common, "price", "smoothing_days"))
        per["el_short"].append(_common(mw, common, "demand", "elasticity_short"))
        per["el_long"].append(_common(mw, common, "demand", "elasticity_long"))
        per["demand_days"].append(_common(mw, common, "demand", "adjustment_days"))
        per["supply_el"].append(_common(mw, common, "supply", "elasticity"))
        per["supply_days"].append(_common(mw, common, "supply", "adjustment_days"))
        per["restock_days"].append(_common(mw, common, "stocks", "restock_days"))
        per["announce_mult"].append(_common(mw, common, "stocks", "announcement_cover_multiplier"))
        per["keep_share"].append(_common(mw, common, "stocks", "exporter_keep_share"))
        per["release_ratio"].append(_common(mw, common, "strategic", "release_price_ratio"))
        per["release_cover"].append(_common(mw, common, "strategic", "release_cover_days"))
        per["release_days"].append(_common(mw, common, "strategic", "release_days"))
        per["leak_delay"].append(_common(mw, common, "trade", "leakage_delay_days"))
        per["edge_cap_multiple"].append(_common(mw, common, "trade", "edge_cap_multiple"))
        per["persistence"].append(_common(mw, common, "investment", "persistence_days"))
        per["spot_el"].append(_common(mw, common, "spot", "release_elasticity"))
        per["spot_cap"].append(_common(mw, common, "spot", "capacity_share"))
        per["spot_transport"].append(_common(mw, common, "spot", "transport_days"))
        per["parity_carry"].append(_common(mw, common, "price", "export_parity_carry_per_year"))
        for rname, rw in mw.get("regions", {}).items():
            if rname not in REGIONS:
                raise ValueError(f"minerals.{name}.regions: unknown region {rname!r} (regions: {', '.join(REGIONS)})")
            r = REGIONS.index(rname)
            cap[m, r] = float(rw.get("capacity", 0.0)) / DAYS_PER_YEAR
            prim[m, r] = cap[m, r] * float(rw.get("utilisation", 0.0))
            rec_share[m, r] = float(rw.get("recycling_share", 0.0))
            cons[m, r] = float(rw.get("consumption", 0.0)) / DAYS_PER_YEAR
            cover[m, r] = float(rw.get("cover_days", 30.0))
            strat[m, r] = float(rw.get("strategic_days", 0.0))
        for ename, ew in mw.get("edges", {}).items():
            x, i = split_edge(ename)
            e_rows.append((m, REGIONS.index(x), REGIONS.index(i), float(ew["flow"]) / DAYS_PER_YEAR,
                           float(ew.get("transport_days", 14.0)), f"{name}.{ename}"))
        for pname, pw in mw.get("projects", {}).items():
            if pw.get("region") not in REGIONS:
                raise ValueError(f"minerals.{name}.projects.{pname}.region: {pw.get('region')!r} is not a region")
            if pw.get("kind") not in KINDS:
                raise ValueError(f"minerals.{name}.projects.{pname}.kind: {pw.get('kind')!r} not in {KINDS}")
            p_rows.append((m, REGIONS.index(pw["region"]), float(pw["capacity"]) / DAYS_PER_YEAR,
                           float(pw["lead_time"]), float(pw.get("lead_time_sd", 0.0)), float(pw["ramp_days"]),
                           float(pw["long_run_cost"]), pw["kind"], pname))
        sub = mw.get("substitute")
        if sub:
            s_rows.append((m, sub["mineral"], float(sub["max_share"]), float(sub["full_at_price_ratio"]),
                           float(sub["adjustment_days"])))
    E = len(e_rows)
    e_m = np.array([r[0] for r in e_rows], dtype=np.int64)
    e_x = np.array([r[1] for r in e_rows], dtype=np.int64)
    e_i = np.array([r[2] for r in e_rows], dtype=np.int64)
    f0 = np.array([r[3] for r in e_rows], dtype=float)
    imports0 = np.bincount(e_m * R + e_i, f0, minlength=M * R).reshape(M, R) if E else z()
    exports0 = np.bincount(e_m * R + e_x, f0, minlength=M * R).reshape(M, R) if E else z()
    # balance: primary + recycling + imports - exports = consumption, recycling = share * consumption
    rec = rec_share * cons
    resid = prim + rec + imports0 - exports0 - cons
    notes: list[str] = []
    for m in range(M):
        for r in range(R):
            b = resid[m, r]
            scale = max(cons[m, r], prim[m, r] + rec[m, r] + imports0[m, r], 1e-12)
            if abs(b) <= 1e-12 * scale:
                continue
            where = f"minerals.{names[m]}.regions.{REGIONS[r]}"
            if abs(b) > BALANCE_TOLERANCE * scale:
                y = DAYS_PER_YEAR
                raise ValueError(
                    f"{where}: baseline does not balance: primary {prim[m, r] * y:.4g} + recycling "
                    f"{rec[m, r] * y:.4g} + imports {imports0[m, r] * y:.4g} - exports {exports0[m, r] * y:.4g} "
                    f"= {(cons[m, r] + b) * y:.4g} t/year vs consumption {cons[m, r] * y:.4g} t/year (> 15%)")
            if cap[m, r] > 0 and prim[m, r] - b >= 0:
                prim[m, r] -= b
                if prim[m, r] > cap[m, r]:
                    raise ValueError(f"{where}: balancing needs primary production above capacity")
                notes.append(f"{where}: primary production adjusted by {-b * DAYS_PER_YEAR:+.4g} t/year to balance")
            else:
                cons[m, r] = (prim[m, r] + imports0[m, r] - exports0[m, r]) / (1.0 - rec_share[m, r])
                rec[m, r] = rec_share[m, r] * cons[m, r]
                notes.append(f"{where}: consumption adjusted by {b * DAYS_PER_YEAR:+.4g} t/year to balance")
    s_from = np.array([s[0] for s in s_rows], dtype=np.int64)
    try:
        s_to = np.array([names.index(s[1]) for s in s_rows], dtype=np.int64)
    except ValueError:
        raise ValueError(f"minerals: a substitute names an unknown mineral (minerals: {', '.join(names)})") from None
    a = lambda k: np.array(per[k], dtype=float)  # noqa: E731
    return MarketData(
        minerals=names, price_unit=units, capacity=cap, primary0=prim, recycling=rec, consumption0=cons,
        cover_days=cover, strategic0=strat * cons,
        p0_ex=a("p0_ex"), p0_cn=a("p0_cn"), alpha_ex=a("alpha_ex"), alpha_cn=a("alpha_cn"),
        tau_price=a("tau_price"), backstop=a("backstop"), smoothing=a("smoothing"), el_short=a("el_short"),
        el_long=a("el_long"), demand_days=a("demand_days"), supply_el=a("supply_el"),
        supply_days=a("supply_days"), restock_days=a("restock_days"), announce_mult=a("announce_mult"),
        keep_share=a("keep_share"), release_ratio=a("release_ratio"), release_cover=a("release_cover"),
        release_days=a("release_days"), leak_delay=a("leak_delay"),
        edge_cap_multiple=a("edge_cap_multiple"), persistence=a("persistence"),
        spot_el=a("spot_el"), spot_cap=a("spot_cap"), spot_transport=a("spot_transport"),
        parity_carry=a("parity_carry"),
        e_m=e_m, e_x=e_x, e_i=e_i, e_flow0=f0, e_transport=np.array([r[4] for r in e_rows]),
        e_names=[r[5] for r in e_rows],
        p_m=np.array([p[0] for p in p_rows], dtype=np.int64), p_r=np.array([p[1] for p in p_rows], dtype=np.int64),
        p_capacity=np.array([p[2] for p in p_rows]), p_lead=np.array([p[3] for p in p_rows]),
        p_lead_sd=np.array([p[4] for p in p_rows]), p_ramp=np.array([p[5] for p in p_rows]),
        p_cost=np.array([p[6] for p in p_rows]), p_kind=[p[7] for p in p_rows], p_names=[p[8] for p in p_rows],
        s_from=s_from, s_to=s_to, s_max=np.array([s[2] for s in s_rows]),
        s_full_ratio=np.array([s[3] for s in s_rows]), s_days=np.array([s[4] for s in s_rows]),
        adjustments=notes)
