"""A per-tool SimPy reference model of one tool cohort, and the statistical check that the cohort model in
``simulator.engine.fabs`` gives the same availability distribution, in the baseline and under a servicing and
spare-parts cutoff.

The reference simulates every tool as its own SimPy process in continuous time (hours as fractions of days):
up for an exponential operating time (MTBF / hazard, thinned against the day's hazard), preventive maintenance
every ``pm_interval_d`` days for ``pm_duration_h`` hours, exponential repairs (MTTR, × the local multiplier when
vendor service is cut). Under the cutoff, with the three parts classes of ``fab_parts.py``:

- each PM event takes a kit: a third-party kit (share ramping with the domestic parts industry), else one from
  the shared kit stock, else none; a daily process turns the day's kit shortfall, third-party kits and undone
  vendor PM steps into the PM deficit that drives the hazard;
- a share ``p_locked`` of failures takes a locked item from its stock; a share ``p_module`` takes a module from a
  third party or from the rotable pool, sending the failed module to refurbishment (back after ``refurb_d``
  days with a success probability that learns) and adding requalification hours;
- with no part left the tool is retired (adding cannibalised parts) or waits a lognormal time for a part.

The compared statistic is each run's mean share of the initial fleet that is up (tool-days up ÷ tool-days).
"""
from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pytest
import simpy
from scipy import stats

from simulator.engine.fab_parts import refurb_success, third_party_share
from simulator.engine.fabs import availability, failure_rate_per_day, spare_stock
from simulator.engine.world import simulate
from simulator.scenario.schema import Scenario

START = _dt.date(2025, 1, 1)
UTIL, ENG = 0.855, 0.02


def tiny_world(tools: int = 30, tool_class: str = "etch", mtbf_h: float = 168.0, mttr_h: float = 4.0,
               pm_interval_d: float = 14.0, pm_duration_h: float = 12.0, p_locked: float = 0.15,
               p_module: float = 0.35, local_mult: float = 3.0, kit_cover: float = 1.0, locked_cover: float = 1.0,
               pool: float = 20.0, tp_kits: float = 0.5, wait_median_d: float = 40.0, wait_sigma: float = 0.5,
               retire_share: float = 0.2, cannibal: float = 3.0, hazard: float = 1.5,
               vendor_mix: dict | None = None, growth: float = 0.0) -> dict:
    """A one-class, one-group fabs world section (plain values) for tests."""
    tc = dict(mtbf_h=mtbf_h, mttr_h=mttr_h, pm_interval_d=pm_interval_d, pm_duration_h=pm_duration_h,
              p_locked=p_locked, p_module=p_module, third_party_kit_share=tp_kits, overcapacity=0.0,
              local_repair_multiplier=local_mult, domestic_substitution=0.5)
    need = 100_000 * 12 / 365.25 * UTIL
    wpt = need / (tools * availability(tc) * (1 - ENG)) * (1 + 1e-7)     # sized to exactly ``tools`` tools
    return {
        "vendors": {"Tokyo_Electron": {"country": "Japan", "china_revenue_usd_per_y": 7e9, "service_share": 0.25},
                    "Lam_Research": {"country": "US", "china_revenue_usd_per_y": 6.7e9, "service_share": 0.335},
                    "domestic": {"country": "China"}},
        "tool_classes": {tool_class: tc},
        "classes": {"mature_logic": {"capacity_wpm": 100_000, "utilisation": UTIL, "groups": {tool_class: {
            "wafers_per_tool_day": wpt, "vendor_mix": vendor_mix or {"Tokyo_Electron": 1.0}}}}},
        "operations": {"engineering_share": ENG, "capacity_growth_per_y": growth,
                       "foreign_lead_time_d": 426, "qualification_d": 60},
        "cutoff": {"learning_rate": 0.2, "learning_base_repairs_per_tool": 4,
                   "parts_wait_median_d": wait_median_d, "parts_wait_sigma": wait_sigma,
                   "retire_share": retire_share, "skipped_pm_hazard": hazard,
                   "software_decay_per_y": 0.1, "software_floor": 0.7, "spares_service_share": 0.5},
        "parts": {"kit_cover_months": kit_cover, "locked_cover_months": locked_cover,
                  "module_pool_per_100_tools": pool, "refurb_d": 20, "refurb_success_initial": 0.5,
                  "refurb_success_max": 0.9, "third_party_initial": 0.4, "third_party_ramp_y": 0.3,
                  "third_party_module_factor": 0.4, "kit_quality_penalty": 0.3, "kit_yield_loss": 0.02,
                  "requalification_h": 8, "vendor_pm_share": 0.3, "cannibalised_parts_per_tool": cannibal},
        "procurement": {"domestic_share_rise_per_y": 0.0, "domestic_share_max": 0.8,
                        "domestic_jump_under_controls": 0.0, "redundant_tools_per_y": 0.0},
        "domestic": {"lead_time_d": 540, "initial_throughput": 0.7, "learning_base_units": 20},
        "announcement": {"pull_forward": 2.26, "spares_pull_forward_months_per_month": 2.0},
    }


def cutoff_scenario(days: int, effective_day: int | None, measures=("servicing", "spare_parts"),
                    compliance: float = 1.0) -> Scenario:
    controls = []
    if effective_day is not None:
        eff = (START + _dt.timedelta(days=effective_day)).isoformat()
        controls = [{"id": "cut", "by": "Japan", "measures": list(measures), "scope": {"vendor_countries": ["Japan"]},
                     "announced": eff, "effective": eff, "compliance": compliance}]
    return Scenario.model_validate({"name": "ref", "start": START.isoformat(), "horizon": f"{days}d",
                                    "controls": controls})


def cohort_up_share(world: dict, days: int, effective_day: int | None, seed: int, tool_class: str = "etch") -> float:
    """Mean over days of up tools (E10 productive + standby + engineering) ÷ initial fleet, cohort model."""
    sc = cutoff_scenario(days, effective_day)
    rec = simulate(sc, {"fabs": world}, np.random.SeedSequence(seed), 0, effective_day is None)
    e = f"fabs.mature_logic.{tool_class}"
    up = rec.get(f"{e}.e10_productive") + rec.get(f"{e}.e10_standby") + rec.get(f"{e}.e10_engineering")
    return float(up.mean() / rec.get(f"{e}.tools")[0])


def reference_up_share(world: dict, days: int, effective_day: int | None, seed: int, tool_class: str = "etch",
                       wait_scale: float = 1.0, mttr_scale: float = 1.0, refurb_scale: float = 1.0,
                       parts: bool = True) -> float:
    """The same statistic from the per-tool SimPy reference (``*_scale`` perturb it and ``parts=False`` drops
    the parts classes, for negative controls)."""
    tc = world["tool_classes"][tool_class]
    cut, pc = world["cutoff"], world["parts"]
    g = world["classes"]["mature_logic"]["groups"][tool_class]
    n = int(math.ceil(100_000 * 12 / 365.25 * UTIL / (g["wafers_per_tool_day"] * availability(tc) * (1 - ENG))
                      - 1e-9))
    mtbf, mttr = tc["mtbf_h"], tc["mttr_h"] * mttr_scale
    pmi, pmh = tc["pm_interval_d"], tc["pm_duration_h"]
    phi = pmh / (24 * pmi)
    eff = effective_day if effective_day is not None else days + 10
    hmax = cut["skipped_pm_hazard"]
    lam_max = 24.0 * hmax / mtbf
    b = -math.log2(1 - cut["learning_rate"])
    base = n * cut["learning_base_repairs_per_tool"]
    rate0 = failure_rate_per_day(mtbf, tc["mttr_h"], phi)
    p_part = (tc["p_locked"] + tc["p_module"]) if parts else 0.0
    st = {"kits": math.floor(spare_stock(n, 1.0 / pmi, pc["kit_cover_months"]) + 1e-9),
          "locked": math.floor(spare_stock(n, rate0 * tc["p_locked"], pc["locked_cover_months"]) + 1e-9),
          "pool": math.floor(n * pc["module_pool_per_100_tools"] / 100 + 1e-9),
          "cum_local": 0.0, "up": 0.0, "e": 0.0, "hz": 1.0, "events": 0, "bad": 0.0, "kit_def": 0.0}
    rng = np.random.default_rng(seed)
    env = simpy.Environment()

    def learn() -> float:
        return (1.0 + st["cum_local"] / base) ** (-b)

    def tp_avail(t: float) -> float:
        return float(third_party_share(tc["third_party_kit_share"], pc["third_party_initial"],
                                       pc["third_party_ramp_y"], int(t) - eff + 1))

    def add_up(a: float, b_: float) -> None:
        st["up"] += max(0.0, min(b_, days) - min(a, days))

    def daily(env: simpy.Environment):
        """Once a day: the PM deficit of the day's kits and vendor PM, smoothed over one PM interval."""
        while True:
            d = int(env.now)
            if d >= eff:
                if st["events"]:             # a day without PM events keeps the last kit shortfall
                    st["kit_def"] = st["bad"] / st["events"]
                deficit = st["kit_def"] + pc["vendor_pm_share"] * learn()
                st["e"] += (min(deficit, 1.0) - st["e"]) / pmi
                st["hz"] = 1.0 + (hmax - 1.0) * st["e"]
            st["events"], st["bad"] = 0, 0.0
            yield env.timeout(1.0)

    def pm_kit(t: float) -> None:
        if int(t) < eff:
            return
        st["events"] += 1
        if not parts:
            return
        if rng.random() < tp_avail(t):
            st["bad"] += pc["kit_quality_penalty"]
        elif st["kits"] >= 1:
            st["kits"] -= 1
        else:
            st["bad"] += 1.0

    def refurb_back(env: simpy.Environment, at: float):
        yield env.timeout(at - env.now)
        st["pool"] += 1

    def tool(env: simpy.Environment):
        next_pm = rng.uniform(0, pmi)
        while True:
            start, failed = env.now, False
            while True:                      # thinning against the day's hazard
                t = env.now + rng.exponential(1.0 / lam_max)
                if t >= next_pm or t >= days:
                    break
                yield env.timeout(t - env.now)
                if rng.random() < st["hz"] / hmax:
                    failed = True
                    break
            if not failed:
                stop = min(next_pm, days)
                add_up(start, stop)
                if stop >= days:
                    return
                yield env.timeout(next_pm - env.now)
                pm_kit(env.now)
                yield env.timeout(pmh / 24.0)
                next_pm += pmi
                continue
            add_up(start, env.now)
            d = int(env.now)
            sv = 1.0 if d >= eff else 0.0
            lrn = learn()
            extra = 0.0
            if sv and rng.random() < p_part:
                short = False
                if rng.random() < tc["p_locked"] / (tc["p_locked"] + tc["p_module"]):
                    if st["locked"] >= 1:
                        st["locked"] -= 1
                    else:
                        short = True
                elif rng.random() < pc["third_party_module_factor"] * tp_avail(env.now):
                    extra = pc["requalification_h"]
                elif st["pool"] >= 1:
                    st["pool"] -= 1
                    extra = pc["requalification_h"]
                    if rng.random() < float(refurb_success(pc["refurb_success_initial"], pc["refurb_success_max"],
                                                           np.array(lrn))):
                        env.process(refurb_back(env, d + round(pc["refurb_d"] * refurb_scale)))
                else:
                    short = True
                if short:
                    if rng.random() < cut["retire_share"]:
                        st["locked"] += pc["cannibalised_parts_per_tool"]
                        st["pool"] += pc["cannibalised_parts_per_tool"]
                        return
                    wait = cut["parts_wait_median_d"] * wait_scale * math.exp(cut["parts_wait_sigma"]
                                                                              * rng.standard_normal())
                    yield env.timeout(wait)
                    next_pm = env.now + rng.uniform(0, pmi)
                    continue
            if sv:
                st["cum_local"] += 1
                dur = rng.exponential(mttr * (1.0 + (tc["local_repair_multiplier"] - 1.0) * lrn))
            else:
                dur = rng.exponential(mttr)
            yield env.timeout((dur + extra) / 24.0)
            next_pm = max(next_pm, env.now)

    env.process(daily(env))
    for _ in range(n):
        env.process(tool(env))
    env.run(until=days)
    return st["up"] / (n * days)


def _same_distribution(a: np.ndarray, b: np.ndarray) -> tuple[bool, str]:
    """KS two-sample test at 1% and means within 3 standard errors of their difference (or within 0.1 pp, a
    practical margin: the two models differ by ~0.02 pp in the baseline, far below the 1 pp availability check)."""
    ks = stats.ks_2samp(a, b)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    diff = a.mean() - b.mean()
    ok = ks.pvalue > 0.01 and abs(diff) < max(3 * se, 0.001)
    return ok, f"KS p={ks.pvalue:.3g}, means {a.mean():.4f} vs {b.mean():.4f} (diff {diff:.4f}, se {se:.4f})"


SEEDS = 60
DAYS_BASE, DAYS_CUT, EFFECTIVE = 200, 200, 30


@pytest.fixture(scope="module")
def baseline_samples():
    w = tiny_world()
    cohort = np.array([cohort_up_share(w, DAYS_BASE, None, s) for s in range(SEEDS)])
    ref = np.array([reference_up_share(w, DAYS_BASE, None, 10_000 + s) for s in range(SEEDS)])
    return w, cohort, ref


@pytest.fixture(scope="module")
def cutoff_samples():
    w = tiny_world()
    cohort = np.array([cohort_up_share(w, DAYS_CUT, EFFECTIVE, s) for s in range(SEEDS)])
    ref = np.array([reference_up_share(w, DAYS_CUT, EFFECTIVE, 20_000 + s) for s in range(SEEDS)])
    return w, cohort, ref


def test_cohort_matches_per_tool_reference_in_baseline(baseline_samples):
    _, cohort, ref = baseline_samples
    ok, msg = _same_distribution(cohort, ref)
    assert ok, msg


def test_cohort_matches_per_tool_reference_under_cutoff(cutoff_samples):
    w, cohort, ref = cutoff_samples
    ok, msg = _same_distribution(cohort, ref)
    assert ok, msg
    base = np.array([cohort_up_share(w, DAYS_CUT, None, s) for s in range(10)])
    assert cohort.mean() < base.mean() - 0.05, "the cutoff should visibly lower availability in this setup"


def test_comparison_detects_a_wrong_repair_time(baseline_samples):
    """Negative control: a reference with MTTR × 2 must be told apart from the cohort model."""
    w, cohort, _ = baseline_samples
    wrong = np.array([reference_up_share(w, DAYS_BASE, None, 30_000 + s, mttr_scale=2.0) for s in range(SEEDS)])
    ok, msg = _same_distribution(cohort, wrong)
    assert not ok, msg


def test_comparison_detects_missing_parts_classes(cutoff_samples):
    """Negative control: a reference without the parts classes (no kits, modules or locked items needed) must
    be told apart under the cutoff."""
    w, cohort, _ = cutoff_samples
    wrong = np.array([reference_up_share(w, DAYS_CUT, EFFECTIVE, 50_000 + s, parts=False) for s in range(SEEDS)])
    ok, msg = _same_distribution(cohort, wrong)
    assert not ok, msg


def test_comparison_detects_a_wrong_parts_wait(cutoff_samples):
    """Negative control: a reference whose parts wait is 60% longer must be told apart under the cutoff."""
    w, cohort, _ = cutoff_samples
    wrong = np.array([reference_up_share(w, DAYS_CUT, EFFECTIVE, 40_000 + s, wait_scale=1.6)
                      for s in range(SEEDS)])
    ok, msg = _same_distribution(cohort, wrong)
    assert not ok, msg
