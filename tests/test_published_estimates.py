"""The published-estimate comparison (benchmarks/published_estimates.py) and the US gallium and germanium users
it brought in: a Chinese gallium stop must cost the US something, through the US makers of GaAs/GaN devices."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import simulator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import published_estimates as pe  # noqa: E402

GA_BAN = str(ROOT / "benchmarks" / "estimates" / "usgs_ga_ge_2024.yaml")


@pytest.fixture(scope="module")
def ga_ban():
    """The USGS set-up, gallium alone, one replication, 15 months (the year and the refill after it)."""
    return simulator.run(GA_BAN, sets=list(pe.GA_ONLY) + ["horizon=456d"], replications=1, progress=False)


def test_a_year_without_chinese_gallium_costs_the_us_billions(ga_ban):
    """Without US users of gallium in the world the US lost ~USD 2 million of GDP (2026-12-07), three orders
    below USGS's 1.7-8.2 bn. Now its device makers run short once their ~2 months of stock are gone."""
    dev = ga_ban.daily("industries.us_compound_semiconductors.output_value")[0]
    base = ga_ban.daily("industries.us_compound_semiconductors.output_value", "baseline")[0]
    assert dev[:30].sum() == pytest.approx(base[:30].sum())          # stocks carry the first month
    assert dev[240:366].sum() < 0.6 * base[240:366].sum()            # the year's last months: deep cuts
    lost_gdp = ga_ban.daily("economy.US.gdp_loss")[0].sum()
    assert lost_gdp > 0.5e9
    ge = ga_ban.daily("industries.us_germanium_optics_fibre.output_value")[0]
    assert ge.sum() == pytest.approx(ga_ban.daily("industries.us_germanium_optics_fibre.output_value",
                                                  "baseline")[0].sum())  # germanium users untouched


def test_the_us_device_makers_are_part_of_us_electronics(ga_ban):
    """Their lost output is a cut of the US electronics cell, whose value added is part of US GDP."""
    va = ga_ban.daily("economy.US.electronics_semiconductors.value_added_lost")[0].sum()
    assert va > 0.2e9
    assert va < ga_ban.daily("economy.US.gdp_loss")[0].sum()         # the rest: its suppliers and customers


def test_bounds_are_the_studys_range_or_half_to_twice_a_single_figure():
    e = pe.Estimate("s", "w", "f.yaml", (), "gdp_pct", "Japan", 0.4, None, None)
    assert pe.bounds(e) == (0.2, 0.8)
    assert pe.bounds(pe.Estimate("s", "w", "f.yaml", (), "gdp_usd_bn", "US", 3.4, 1.7, 9.0)) == (1.7, 9.0)
    assert pe.bounds(pe.Estimate("s", "w", "f.yaml", (), "price_pct", "x", 150, 150, None)) == (150, np.inf)


def test_verdict_names_the_side_and_the_factor_to_the_central_figure():
    e = pe.Estimate("s", "w", "f.yaml", (), "gdp_usd_bn", "US", 3.4, 1.7, 9.0)
    assert pe.verdict(e, 2.0) == "in range"
    assert pe.verdict(e, 1.0) == "below (×3.4)"
    assert pe.verdict(e, 17.0) == "above (×5.0)"
    assert pe.verdict(e, 0.0) == "below"


def test_every_estimate_names_a_shipped_set_up_and_a_known_kind():
    for e in pe.ESTIMATES:
        assert (pe.HERE / e.scenario).is_file()
        assert e.kind in pe.UNITS
        lo, hi = pe.bounds(e)
        assert lo <= e.central <= hi


def test_a_loss_over_a_measure_that_is_not_a_year_is_a_share_of_that_measures_gdp():
    """The ECB states an 18-month loss of output: the model's loss over the run is set against the baseline's GDP
    over the measure's days (a steady 1% shortfall for 100 days reads 1%), not against a year's GDP (which would
    read 0.27%)."""
    start = dt.date(2026, 1, 1)
    m = SimpleNamespace(effective=start + dt.timedelta(days=10), ends=start + dt.timedelta(days=110))
    gdp = np.full((2, 200), 100.0)
    loss = np.zeros((2, 200))
    loss[:, 10:110] = 1.0
    res = SimpleNamespace(scenario=SimpleNamespace(start=start, days=200, countermeasures=[m]),
                          daily=lambda key, which="scenario": loss if key.endswith("gdp_loss") else gdp)
    e = pe.Estimate("s", "w", "x.yaml", (), "gdp_pct_measure", "US", 1.0, None, None)
    assert pe.model_value(e, res)[0] == pytest.approx(1.0)
    assert pe.model_value(pe.Estimate("s", "w", "x.yaml", (), "gdp_pct", "US", 1.0, None, None), res)[0] \
        == pytest.approx(100.0 / 365.0)
