"""Specification of the tool-fleet mechanism (``simulator/engine/fabs.py``) on the default world data."""
from __future__ import annotations

import copy
import datetime as _dt
from functools import lru_cache

import numpy as np
import pytest

from simulator.engine.fabs import E10_STATES, FabFleets
from simulator.engine.world import simulate
from simulator.scenario.schema import Scenario
from simulator.scenario.world_data import load_world

START = _dt.date(2025, 1, 1)
FABS = ("advanced_logic", "mature_logic", "memory", "foreign_memory")
JAPAN_GROUPS = ["etch", "deposition", "clean", "coat_develop"]


@lru_cache(maxsize=1)
def _default_fabs() -> dict:
    return load_world("default").values["fabs"]


def fabs_world(**params) -> dict:
    """The default fabs world with parameters replaced by name, wherever they live (cutoff, parts, ...);
    ``spares_cover_months`` sets the kit and locked-item cover and scales the module pool alike."""
    w = copy.deepcopy(_default_fabs())
    months = params.pop("spares_cover_months", None)
    if months is not None:
        params.update(kit_cover_months=months, locked_cover_months=months,
                      module_pool_per_100_tools=w["parts"]["module_pool_per_100_tools"] * months / 12)
    for k, v in params.items():
        sec = next(s for s in ("cutoff", "parts", "procurement", "operations", "domestic", "announcement")
                   if k in w[s])
        w[sec][k] = v
    return w


def scenario(controls: list[dict], horizon: str = "2y") -> Scenario:
    return Scenario.model_validate({"name": "t", "start": START.isoformat(), "horizon": horizon,
                                    "controls": controls})


def control(by: str, measures: list[str], countries: list[str], announced: str, effective: str,
            tool_classes: list[str] | None = None, compliance: float = 1.0, cid: str = "c") -> dict:
    scope: dict = {"vendor_countries": countries}
    if tool_classes:
        scope["tool_classes"] = tool_classes
    return {"id": cid, "by": by, "measures": measures, "scope": scope, "announced": announced,
            "effective": effective, "compliance": compliance}


def run_pair(sc: Scenario, world: dict, seed: int = 1):
    base = simulate(sc, {"fabs": world}, np.random.SeedSequence(seed), 0, True)
    scen = simulate(sc, {"fabs": world}, np.random.SeedSequence(seed), 0, False, base)
    return base, scen


def day(date: str) -> int:
    return (_dt.date.fromisoformat(date) - START).days


def total_output(rec) -> np.ndarray:
    return sum(rec.get(f"fabs.{f}.wafer_output") for f in FABS)


JAPAN_BAN = [control("Japan", ["servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01", JAPAN_GROUPS)]


def test_baseline_availability_matches_analytical_mtbf_mttr_less_maintenance():
    w = fabs_world()
    rec = simulate(scenario([], "1y"), {"fabs": w}, np.random.SeedSequence(3), 0, True)
    for fc, cls in w["classes"].items():
        for tc in cls["groups"]:
            p = w["tool_classes"][tc]
            phi = p["pm_duration_h"] / (24 * p["pm_interval_d"])
            expected = (1 - phi) * p["mtbf_h"] / (p["mtbf_h"] + p["mttr_h"])
            got = np.nanmean(rec.get(f"fabs.{fc}.{tc}.availability"))
            assert abs(got - expected) < 0.01, f"{fc}.{tc}: simulated {got:.4f} vs analytical {expected:.4f}"
    lit = np.nanmean(rec.get("fabs.mature_logic.litho.availability"))
    assert 0.855 < lit < 0.88, f"litho availability {lit:.3f} should sit at SMT2020's 86-87%"


def test_baseline_output_is_capacity_times_each_class_utilisation():
    w = fabs_world()
    rec = simulate(scenario([], "1y"), {"fabs": w}, np.random.SeedSequence(4), 0, True)
    utils = {fc: w["classes"][fc]["utilisation"] for fc in FABS}
    assert len(set(utils.values())) > 2, "utilisation differs by fab class (SMIC 85.5%, Hua Hong 103%)"
    for fc in FABS:
        out, cap = rec.get(f"fabs.{fc}.wafer_output"), rec.get(f"fabs.{fc}.capacity")
        planned = cap * utils[fc]
        assert (out <= planned * (1 + 1e-9)).all(), fc
        assert (np.abs(out / planned - 1) < 1e-9).mean() > 0.97, f"{fc}: the baseline fleet meets the plan"
        assert out.mean() > 0.998 * planned.mean(), fc
    cap = rec.get("fabs.mature_logic.capacity")
    assert cap[-1] > cap[0] * 1.13, "capacity grows ~14%/y (SEMI 8.85 -> 10.1 M wpm)"
    fm = rec.get("fabs.foreign_memory.capacity")
    assert fm[-1] < fm[0] * 1.05, "foreign-owned fabs hold capacity nearly flat"


def test_tools_are_sized_from_utilisation_and_overcapacity_so_only_bottlenecks_bind():
    """Litho (5% slack) binds, etch (15%) does not: losing 8% of each group's tools cuts output only via litho."""
    w = fabs_world()
    rec = simulate(scenario([], "30d"), {"fabs": w}, np.random.SeedSequence(4), 0, True)
    e = "fabs.mature_logic"
    util = w["classes"]["mature_logic"]["utilisation"]
    planned = rec.get(f"{e}.capacity")[0] * util
    for tc in ("litho", "etch"):
        oc = w["tool_classes"][tc]["overcapacity"]
        prod = rec.get(f"{e}.{tc}.e10_productive")[:20].mean()
        standby = rec.get(f"{e}.{tc}.e10_standby")[:20].mean()
        assert standby / (prod + standby) == pytest.approx(oc / (1 + oc), abs=0.03), tc
    assert planned > 0


def test_good_wafers_are_output_times_line_yield_lowest_for_advanced_logic():
    w = fabs_world()
    _, s = run_pair(scenario(JAPAN_BAN, "1y"), w)
    for fc in FABS:
        y = w["classes"][fc]["line_yield"]
        np.testing.assert_allclose(s.get(f"fabs.{fc}.good_wafer_output"), s.get(f"fabs.{fc}.wafer_output") * y)
    assert w["classes"]["advanced_logic"]["line_yield"] < min(w["classes"][f]["line_yield"] for f in FABS
                                                                 if f != "advanced_logic")


def test_e10_states_sum_to_fleet_every_day():
    sc = scenario([control("US", ["sales", "servicing", "spare_parts", "software_updates"],
                           ["US", "Japan", "Netherlands"], "2025-02-01", "2025-04-01")], "3y")
    w = fabs_world(spares_cover_months=2)
    _, rec = run_pair(sc, w)
    for fc, cls in w["classes"].items():
        for tc in cls["groups"]:
            e = f"fabs.{fc}.{tc}"
            states = np.vstack([rec.get(f"{e}.{s}") for s in E10_STATES])
            assert np.isfinite(states).all() and (states >= -1e-9).all(), e
            np.testing.assert_allclose(states.sum(axis=0), rec.get(f"{e}.tools"), atol=1e-6, err_msg=e)
    assert any(ev.event == "tools_retired" for ev in rec.events)
    assert any(ev.event == "spares_exhausted" for ev in rec.events)


def test_fab_output_unchanged_before_effective_date_then_falls():
    base, scen = run_pair(scenario(JAPAN_BAN, "3y"), fabs_world())
    eff = day("2025-03-01")
    b, s = total_output(base), total_output(scen)
    np.testing.assert_array_equal(s[:eff], b[:eff])       # common random numbers: identical until effect
    assert s[-180:].mean() < 0.95 * b[-180:].mean(), "a Japan servicing ban should cut output by year 3"
    drop = np.flatnonzero(s < b * 0.999)
    assert drop.size and drop[0] >= eff


def _japan_share(w: dict, share: float) -> dict:
    """Set the Japanese vendors' share of every group covered by the ban to ``share`` (others scaled)."""
    w = copy.deepcopy(w)
    jp = {v for v, d in w["vendors"].items() if d["country"] == "Japan"}
    for cls in w["classes"].values():
        for tc in JAPAN_GROUPS:
            mix = cls["groups"][tc]["vendor_mix"]
            j = sum(v for k, v in mix.items() if k in jp)
            o = sum(v for k, v in mix.items() if k not in jp)
            for k in mix:
                if k in jp:
                    mix[k] = share * (mix[k] / j if j else 1 / len(jp))
                else:
                    mix[k] = (1 - share) * mix[k] / o
            if not j:
                mix.update({k: share / len(jp) for k in jp})
    return w


def test_output_loss_grows_with_japan_vendor_share():
    sc = scenario(JAPAN_BAN, "2y")
    losses = []
    for share in (0.1, 0.4, 0.7, 0.95):
        w = _japan_share(fabs_world(spares_cover_months=3), share)
        base, scen = run_pair(sc, w)
        losses.append(float((total_output(base) - total_output(scen)).sum()))
    assert all(a <= b + 1e-6 for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] > 2 * max(losses[1], 1.0) and losses[-1] > 0, losses


def test_dutch_duv_servicing_cut_bites_advanced_logic_hardest():
    """Advanced logic runs on ASML DUV multipatterning: a litho-only Dutch control hits it most."""
    sc = scenario([control("Netherlands", ["servicing", "spare_parts"], ["Netherlands"], "2025-02-01",
                           "2025-03-01", ["litho"])], "3y")
    base, scen = run_pair(sc, fabs_world(spares_cover_months=3))
    rel = {f: 1 - scen.get(f"fabs.{f}.wafer_output").sum() / base.get(f"fabs.{f}.wafer_output").sum()
           for f in FABS}
    assert rel["advanced_logic"] > 0.02, rel
    assert rel["advanced_logic"] >= max(rel["mature_logic"], rel["memory"]), rel


def test_lower_compliance_leaks_and_loses_less():
    w = fabs_world(spares_cover_months=3)
    loss = {}
    for c in (0.5, 1.0):
        sc = scenario([control("Japan", ["servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01",
                               JAPAN_GROUPS, compliance=c)], "2y")
        base, scen = run_pair(sc, w)
        loss[c] = float((total_output(base) - total_output(scen)).sum())
    assert loss[0.5] < loss[1.0], loss


def test_sales_ban_pulls_purchases_forward_then_stops_growth_and_orders_domestic():
    sc = scenario([control("Netherlands", ["sales"], ["Netherlands"], "2025-01-15", "2025-07-01")], "3y")
    base, scen = run_pair(sc, fabs_world())
    key = "fabs.mature_logic.litho.tools"
    eff = day("2025-07-01")
    b, s = base.get(key), scen.get(key)
    assert s[eff] > b[eff], "announcement should pull litho purchases forward"
    assert s[-1] < b[-1], "after the ban the ASML fleet stops growing"
    assert s[eff + 540 + 30] > s[eff + 400], "domestic substitutes arrive after their lead time"
    lost = scen.get("vendors.ASML.revenue_lost_sales")
    assert (lost[:day("2025-01-15")] == 0).all()
    assert lost[day("2025-03-01")] < 0 < lost[eff + 1], "negative while pulled forward, positive once banned"


def test_spare_parts_cutoff_alone_drains_stock_and_records_exhaustion():
    sc = scenario([control("Japan", ["spare_parts"], ["Japan"], "2025-03-01", "2025-03-01")], "2y")
    median = {}
    for pool in (5, 40):
        _, scen = run_pair(sc, fabs_world(module_pool_per_100_tools=pool, locked_cover_months=pool / 2))
        ev = [e for e in scen.events if e.event == "spares_exhausted"]
        days = sorted(e.day for e in ev)
        assert ev and days[0] >= day("2025-03-01")
        assert all("Tokyo_Electron" in e.cause or "Japan_other" in e.cause for e in ev)
        median[pool] = days[len(days) // 2]
    assert median[40] > median[5] + 30, median


def test_software_updates_cutoff_slowly_lowers_output():
    sc = scenario([control("US", ["software_updates"], ["US", "Japan", "Netherlands"], "2025-03-01",
                           "2025-03-01")], "3y")
    base, scen = run_pair(sc, fabs_world(software_decay_per_y=0.3, software_floor=0.5))
    r = total_output(scen) / total_output(base)
    eff = day("2025-03-01")
    assert r[eff + 30] > 0.99, "decay is slow: no cliff at the effective date"
    assert r[-1] < 0.9


def test_service_revenue_lost_only_after_effective():
    _, scen = run_pair(scenario(JAPAN_BAN, "1y"), fabs_world())
    lost = scen.get("vendors.Tokyo_Electron.revenue_lost_service")
    eff = day("2025-03-01")
    assert (lost[:eff] == 0).all() and (lost[eff:] > 0).all()
    assert (scen.get("vendors.ASML.revenue_lost_service") == 0).all()


def test_same_seed_same_results_other_seed_differs():
    sc = scenario(JAPAN_BAN, "1y")
    a = simulate(sc, {"fabs": fabs_world()}, np.random.SeedSequence(7), 0, False)
    b = simulate(sc, {"fabs": fabs_world()}, np.random.SeedSequence(7), 0, False)
    c = simulate(sc, {"fabs": fabs_world()}, np.random.SeedSequence(8), 0, False)
    for k in a.data:
        np.testing.assert_array_equal(a.data[k], b.data[k], err_msg=k)
    assert not np.array_equal(a.get("fabs.memory.etch.availability"), c.get("fabs.memory.etch.availability"))


def test_series_declare_units_and_summaries():
    rec = simulate(scenario([], "30d"), {"fabs": fabs_world()}, np.random.SeedSequence(1), 0, True)
    out = rec.info["fabs.mature_logic.wafer_output"]
    assert out.unit == "wafers/day" and out.headline and "lost" in out.summary
    assert rec.info["vendors.KLA.revenue_lost_sales"].summary == ("total",)
    assert rec.info["fabs.memory.cmp.e10_unscheduled_down_supplier"].unit == "tools"
    assert all("." not in i.metric for i in rec.info.values())


def test_vocabulary_lists_names_scenarios_may_use():
    voc = FabFleets.vocabulary({"fabs": _default_fabs()})
    assert voc["vendor_country"] == {"China", "Japan", "Netherlands", "US", "South_Korea"}
    assert {"Tokyo_Electron", "ASML", "Applied_Materials", "Lam_Research", "KLA", "domestic"} <= voc["vendor"]
    assert voc["tool_class"] == {"litho", "etch", "deposition", "clean", "coat_develop", "metrology", "implant",
                                 "cmp"}
    assert voc["fab_class"] == set(FABS)
    assert {"US", "Germany", "Japan"} <= voc["content_origin"]


def test_world_data_matches_semi_capacity_and_every_number_has_provenance():
    world = load_world("default")
    fabs = world.values["fabs"]
    cap = sum(c["capacity_wpm"] for c in fabs["classes"].values())
    assert abs(cap - 8.85e6) / 8.85e6 < 0.01, cap
    for path in world.paths():
        if path.startswith("fabs.") and isinstance(world.get(path), (int, float)):
            prov = world.provenance[path]
            assert "source" in prov or ("assumption" in prov and "range" in prov), path


def test_unknown_vendor_in_mix_fails_clearly():
    w = fabs_world()
    w["classes"]["memory"]["groups"]["etch"]["vendor_mix"]["Tokio_Electron"] = 0.1
    with pytest.raises(ValueError, match="Tokio_Electron.*unknown vendor"):
        simulate(scenario([], "10d"), {"fabs": w}, np.random.SeedSequence(1), 0, True)
