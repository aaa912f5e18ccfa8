"""Impact metrics on hand-made series with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.report import metrics as m

B = np.full(10, 100.0)
S = np.array([100, 100, 95, 80, 60, 70, 85, 95, 100, 100], dtype=float)


def test_lost_is_sum_of_shortfall():
    assert m.lost(S, B) == pytest.approx(0 + 0 + 5 + 20 + 40 + 30 + 15 + 5)


def test_max_drop_pct():
    assert m.max_drop_pct(S, B) == pytest.approx(40.0)
    assert m.max_drop_pct(B, B) == 0.0


def test_time_to_impact_first_day_below_90pct():
    assert m.time_to_impact(S, B) == 3.0
    assert math.isnan(m.time_to_impact(B, B))


def test_recovery_day_after_last_day_below():
    assert m.recovery(S, B) == 7.0            # days 3..6 below 90: recovered on day 7
    still_down = S.copy()
    still_down[-1] = 50
    assert math.isnan(m.recovery(still_down, B))
    assert math.isnan(m.recovery(B, B))


def test_peak_and_peak_day():
    p = np.array([1, 3, 7, 7, 2], dtype=float)
    assert m.peak(p) == 7 and m.peak_day(p) == 2.0


def test_days_above_50pct():
    price = np.array([100, 140, 151, 200, 160, 149], dtype=float)
    assert m.days_above_50pct(price, np.full(6, 100.0)) == 3.0


def test_exhaustion_first_empty_day():
    stock = np.array([10, 6, 2, 0, 0, 3], dtype=float)
    assert m.exhaustion(stock, np.full(6, 10.0)) == 3.0
    assert math.isnan(m.exhaustion(np.full(6, 10.0), np.full(6, 10.0)))


def test_total_and_mean():
    assert m.total(S) == S.sum() and m.mean(S) == pytest.approx(S.mean())


def test_wilson_interval_known_values():
    lo, hi = m.wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    lo, hi = m.wilson(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-3)
