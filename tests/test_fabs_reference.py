"""A per-tool SimPy reference model of one tool cohort, and the statistical check that the cohort model in
``simulator.engine.fabs`` gives the same availability distribution, in the baseline and under a servicing and
spare-parts cutoff.

The reference simulates every tool as its own SimPy process in continuous time (hours as fractions of days):
up for an exponential operating time (MTBF / hazard, thinned against the day's skipped-PM hazard), preventive
maintenance every ``pm_interval_d`` days for ``pm_duration_h`` hours, exponential repairs (MTTR, × the local
multiplier when vendor service is cut); under the cutoff a share ``p_oem`` of failures takes a spare kit from
the shared stock, or, with none left, is retired (adding cannibalised kits) or waits a lognormal time for parts.
The compared statistic is each run's mean share of the initial fleet that is up (tool-days up ÷ tool-days).
"""
from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pytest
import simpy
from scipy import stats

from simulator.engine.fabs import failure_rate_per_day, spare_stock
from simulator.engine.world import simulate
from simulator.scenario.schema import Scenario

START = _dt.date(2025, 1, 1)



def tiny_world(tools: int = 30, tool_class: str = "etch", mtbf_h: float = 168.0, mttr_h: float = 4.0,
               pm_interval_d: float = 14.0, pm_duration_h: float = 12.0, p_oem: float = 0.5,
               local_mult: float = 3.0, cover_months: float = 0.5, wait_median_d: float = 40.0,
               wait_sigma: float = 0.5, retire_share: float = 0.2, cannibal: float = 3.0,
               hazard: float = 1.5, vendor_mix: dict | None = None, growth: float = 0.0) -> dict:
    """A one-class, one-group fabs world section (plain values) for tests."""
    tc = dict(mtbf_h=mtbf_h, mttr_h=mttr_h, pm_interval_d=pm_interval_d, pm_duration_h=pm_duration_h,
              p_oem=p_oem, local_repair_multiplier=local_mult, domestic_substitution=0.5)
    return {
        "vendors": {"Tokyo_Electron": {"country": "Japan", "china_revenue_usd_per_y": 7e9, "service_share": 0.25},
                    "Lam_Research": {"country": "US", "china_revenue_usd_per_y": 6.7e9, "service_share": 0.335},
                    "domestic": {"country": "China"}},
        "tool_classes": {tool_class: tc},
        "classes": {"mature_logic": {"capacity_wpm": 100_000, "groups": {tool_class: {
            "tools": tools, "wafers_per_tool_day": 100_000 * 12 / 365.25 / (tools * 0.9),
            "vendor_mix": vendor_mix or {"Tokyo_Electron": 1.0}}}}},
        "operations": {"loading": 0.855, "engineering_share": 0.02, "capacity_growth_per_y": growth,
                       "foreign_lead_time_d": 426, "qualification_d": 60},
        "cutoff": {"learning_rate": 0.2, "learning_base_repairs_per_tool": 4, "spares_cover_months": cover_months,
                   "parts_wait_median_d": wait_median_d, "parts_wait_sigma": wait_sigma,
                   "retire_share": retire_share, "cannibalised_spares": cannibal, "skipped_pm_hazard": hazard,
                   "software_decay_per_y": 0.1, "software_floor": 0.7, "spares_service_share": 0.5},
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
    return float(up.mean() / world["classes"]["mature_logic"]["groups"][tool_class]["tools"])


def reference_up_share(world: dict, days: int, effective_day: int | None, seed: int, tool_class: str = "etch",
                       wait_scale: float = 1.0, mttr_scale: float = 1.0) -> float:
    """The same statistic from the per-tool SimPy reference (``*_scale`` perturb it for negative controls)."""
    tc = world["tool_classes"][tool_class]
    cut = world["cutoff"]
    n = int(world["classes"]["mature_logic"]["groups"][tool_class]["tools"])
    mtbf, mttr = tc["mtbf_h"], tc["mttr_h"] * mttr_scale
    pmi, pmh = tc["pm_interval_d"], tc["pm_duration_h"]
    phi = pmh / (24 * pmi)
    s_serv = np.array([1.0 if effective_day is not None and d >= effective_day else 0.0 for d in range(days + 1)])
    e = np.zeros(days + 1)
    prev = 0.0
    for d in range(days + 1):
        prev = prev + (s_serv[d] - prev) / pmi
        e[d] = prev
    hmax = cut["skipped_pm_hazard"]
    hz = 1.0 + (hmax - 1.0) * e
    lam_max = 24.0 * hmax / mtbf
    b = -math.log2(1 - cut["learning_rate"])
    base = n * cut["learning_base_repairs_per_tool"]
    rate0 = failure_rate_per_day(mtbf, tc["mttr_h"], phi)
    state = {"stock": math.floor(spare_stock(n, rate0, tc["p_oem"], cut["spares_cover_months"]) + 1e-9),
             "cum_local": 0.0, "up": 0.0}
    rng = np.random.default_rng(seed)
    env = simpy.Environment()

    def add_up(a: float, b_: float) -> None:
        state["up"] += max(0.0, min(b_, days) - min(a, days))

    def tool(env: simpy.Environment):
        next_pm = rng.uniform(0, pmi)
        while True:
            t, failed = env.now, False
            while True:
                t += rng.exponential(1.0 / lam_max)
                if t >= next_pm or t >= days:
                    break
                if rng.random() < hz[int(t)] / hmax:
                    failed = True
                    break
            if not failed:
                stop = min(next_pm, days)
                add_up(env.now, stop)
                if stop >= days:
                    return
                yield env.timeout(next_pm - env.now)
                yield env.timeout(pmh / 24.0)
                next_pm += pmi
                continue
            add_up(env.now, t)
            yield env.timeout(t - env.now)
            d = int(env.now)
            sv = s_serv[d]
            learn = (1.0 + state["cum_local"] / base) ** (-b)
            if rng.random() < tc["p_oem"] * learn * sv:
                if state["stock"] >= 1:
                    state["stock"] -= 1
                else:
                    if rng.random() < cut["retire_share"]:
                        state["stock"] += cut["cannibalised_spares"]
                        return
                    wait = cut["parts_wait_median_d"] * wait_scale * math.exp(cut["parts_wait_sigma"]
                                                                              * rng.standard_normal())
                    yield env.timeout(wait)
                    next_pm = env.now + rng.uniform(0, pmi)
                    continue
            if rng.random() < sv:
                state["cum_local"] += 1
                dur = rng.exponential(mttr * (1.0 + (tc["local_repair_multiplier"] - 1.0) * learn))
            else:
                dur = rng.exponential(mttr)
            yield env.timeout(dur / 24.0)
            next_pm = max(next_pm, env.now)

    for _ in range(n):
        env.process(tool(env))
    env.run(until=days)
    return state["up"] / (n * days)


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


def test_comparison_detects_a_wrong_parts_wait(cutoff_samples):
    """Negative control: a reference whose parts wait is 60% longer must be told apart under the cutoff."""
    w, cohort, _ = cutoff_samples
    wrong = np.array([reference_up_share(w, DAYS_CUT, EFFECTIVE, 40_000 + s, wait_scale=1.6)
                      for s in range(SEEDS)])
    ok, msg = _same_distribution(cohort, wrong)
    assert not ok, msg
