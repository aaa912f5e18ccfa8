"""Invariants on random valid scenarios (issue 8.4), checked on the recorder of ``simulator.runner.run_pair``.

- minerals: per mineral, region and day, production + imports − exports − consumption = stock_change;
- fabs: per fab class and tool class, the E10 states add up to the tool count, every day;
- prices positive and at most their ceiling (backstop_ratio × reference price);
- stocks never negative;
- the baseline equals the scenario until the first measure is announced (announcement effects aside: we
  compare up to the first announcement, the earliest day any measure can act);
- same seed → same bytes (the series arrays and the written CSVs).

An invariant is skipped, with its reason, only when the series it needs are absent from the recorder.
"""
from __future__ import annotations

import datetime as _dt
import functools
import re

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.runner import run_pair
from simulator.scenario.load import load_scenario

EXAMPLES = 6
START = _dt.date(2025, 1, 1)
VENDOR_COUNTRIES = ["Japan", "Netherlands", "US", "South_Korea"]
TOOL_CLASSES = ["clean", "cmp", "coat_develop", "deposition", "etch", "implant", "litho", "metrology"]
MINERALS = ["antimony", "gallium", "germanium", "graphite", "rare_earths", "graphite_spherical", "ndfeb_magnets",
            "chips"]
REGIONS = ["Japan", "US", "EU", "South_Korea", "Taiwan", "all"]
E10 = ("e10_productive", "e10_standby", "e10_engineering", "e10_scheduled_down", "e10_unscheduled_down_user",
       "e10_unscheduled_down_supplier", "e10_non_scheduled")
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@st.composite
def valid_scenarios(draw) -> str:
    horizon = draw(st.integers(45, 90))
    day = st.integers(5, horizon - 5)
    controls, counters = [], []
    for i in range(draw(st.integers(0, 2))):
        eff = draw(day)
        c = {"id": f"c{i}", "by": "Japan", "measures": draw(st.lists(st.sampled_from(
                 ["sales", "servicing", "spare_parts", "software_updates"]), min_size=1, max_size=4, unique=True)),
             "scope": {"vendor_countries": draw(st.lists(st.sampled_from(VENDOR_COUNTRIES), min_size=1,
                                                         max_size=3, unique=True))},
             "effective": START + _dt.timedelta(days=eff),
             "announced": START + _dt.timedelta(days=draw(st.integers(0, eff))),
             "compliance": draw(st.floats(0, 1))}
        if draw(st.booleans()):
            c["scope"]["tool_classes"] = draw(st.lists(st.sampled_from(TOOL_CLASSES), min_size=1, max_size=4,
                                                       unique=True))
        controls.append(c)
    for i in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["ban", "quota", "licensing"]))
        m = {"id": f"m{i}", "mineral": draw(st.lists(st.sampled_from(MINERALS), min_size=1, max_size=3,
                                                     unique=True)),
             "kind": kind, "against": draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True)),
             "leakage": draw(st.floats(0, 0.5))}
        if kind == "quota":
            m["quota_share"] = draw(st.floats(0, 1))
        if kind == "licensing":
            m["approval_share"] = draw(st.floats(0, 1))
            m["licence_delay"] = f"{draw(st.integers(1, 80))}d"
        if controls and draw(st.booleans()):
            m["trigger"] = {"after": controls[0]["id"], "delay": f"{draw(st.integers(0, 20))}d",
                            "probability": draw(st.sampled_from([0.0, 0.5, 1.0]))}
        else:
            m["effective"] = START + _dt.timedelta(days=draw(day))
        counters.append(m)
    sc = {"name": "inv", "start": START, "horizon": f"{horizon}d", "seed": draw(st.integers(0, 2**32)),
          "replications": 1, "controls": controls, "countermeasures": counters}
    return yaml.safe_dump(sc, sort_keys=False)


@functools.lru_cache(maxsize=32)
def _run(text: str, tmpdir: str):
    from pathlib import Path
    f = Path(tmpdir) / f"inv_{abs(hash(text))}.yaml"
    f.write_text(text, encoding="utf-8")
    loaded = load_scenario(f)
    return loaded, run_pair(loaded.scenario, loaded.world.values, 0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("inv"))
    return lambda text: _run(text, d)


def _need(rec, pattern: str, what: str) -> list[str]:
    keys = [k for k in rec.data if re.fullmatch(pattern, k)]
    if not keys:
        pytest.skip(f"no {what} series ({pattern}) recorded yet")
    return keys


def _tol(*arrays) -> float:
    return 1e-7 * max(1.0, *(float(np.nanmax(np.abs(a))) for a in arrays))


@SETTINGS
@given(text=valid_scenarios())
def test_mineral_mass_balance_per_day(text, run):
    _, pair = run(text)
    for rec in (pair.baseline, pair.scenario):
        for key in _need(rec, r"[a-z_]+\.[A-Za-z_]+\.stock_change", "minerals <mineral>.<region>.stock_change"):
            base = key.removesuffix(".stock_change")
            parts = {m: rec.data.get(f"{base}.{m}") for m in ("production", "imports", "exports", "consumption")}
            if any(v is None for v in parts.values()):
                pytest.skip(f"{base}: not every flow series of the balance is recorded")
            lhs = parts["production"] + parts["imports"] - parts["exports"] - parts["consumption"]
            rhs = rec.data[key]
            tol = _tol(*parts.values())
            bad = np.flatnonzero(np.abs(lhs - rhs) > tol)
            assert bad.size == 0, (f"{base}: production+imports-exports-consumption != stock_change on day "
                                   f"{bad[0]}: {lhs[bad[0]]!r} vs {rhs[bad[0]]!r}")


@SETTINGS
@given(text=valid_scenarios())
def test_tool_counts_conserved_across_e10_states(text, run):
    _, pair = run(text)
    for rec in (pair.baseline, pair.scenario):
        for key in _need(rec, r"fabs\.[a-z_]+\.[a-z_]+\.tools", "fabs.<fab_class>.<tool_class>.tools"):
            base = key.removesuffix(".tools")
            states = [rec.data[f"{base}.{s}"] for s in E10 if f"{base}.{s}" in rec.data]
            if not states:
                pytest.skip(f"{base}: no e10_* state series recorded")
            total, tools = np.sum(states, axis=0), rec.data[key]
            assert np.all(np.abs(total - tools) <= _tol(tools)), f"{base}: E10 states do not add up to tools"
            assert np.all(np.stack(states) >= -_tol(tools)), f"{base}: a negative E10 state"


def _ceiling(world: dict, mineral: str, which: str) -> float | None:
    m = world.get("minerals", {})
    price = (m.get(mineral) or {}).get("price") or {}
    ref = price.get("reference_china" if which == "price_china" else "reference_ex_china")
    ratio = price.get("backstop_ratio", ((m.get("common") or {}).get("price") or {}).get("backstop_ratio"))
    if ref is None or ratio is None:
        return None
    return float(ref) * float(ratio)


@SETTINGS
@given(text=valid_scenarios())
def test_prices_positive_and_under_their_ceiling(text, run):
    loaded, pair = run(text)
    for rec in (pair.baseline, pair.scenario):
        for key in _need(rec, r"[a-z_]+\.price_(ex_)?china", "<mineral>.price_china/price_ex_china"):
            mineral, which = key.split(".")
            p = rec.data[key]
            assert np.all(np.isfinite(p)) and np.all(p > 0), f"{key}: non-positive or non-finite price"
            cap = _ceiling(loaded.world.values, mineral, which)
            if cap is not None:
                assert np.all(p <= cap * (1 + 1e-9)), f"{key}: price {p.max():g} above its ceiling {cap:g}"


@SETTINGS
@given(text=valid_scenarios())
def test_stocks_never_negative(text, run):
    _, pair = run(text)
    for rec in (pair.baseline, pair.scenario):
        keys = _need(rec, r"[a-z_]+\.[A-Za-z_]+\.(industry_stock|strategic_stock)|.*spares?_stock.*|.*\.stock",
                     "stock")
        for key in keys:
            v = rec.data[key]
            assert np.all(v >= -_tol(v)), f"{key}: negative stock {v.min():g}"


@SETTINGS
@given(text=valid_scenarios())
def test_baseline_equals_scenario_until_the_first_announcement(text, run):
    loaded, pair = run(text)
    sc = loaded.scenario
    dates = [m.announced_date() for m in sc.measures if m.trigger is None and m.announced_date()]
    if not dates and not sc.measures:
        first = sc.days
    elif not dates:
        pytest.skip("only triggered measures: their start depends on another measure's")
    else:
        first = (min(dates) - sc.start).days
    triggered = [m for m in sc.measures if m.trigger is not None]
    assert triggered == [] or dates, "triggered measures need an untriggered first measure"
    if first <= 0:
        return
    for key, base in pair.baseline.data.items():
        scen = pair.scenario.data[key]
        assert np.array_equal(base[:first], scen[:first], equal_nan=True), \
            f"{key}: scenario differs from baseline before the first announcement (day {first})"


def test_same_seed_same_bytes(tmp_path):
    from simulator.cli import main
    src = ("name: inv\nstart: 2025-01-01\nhorizon: 60d\nseed: 42\nreplications: 2\n"
           "controls: [{id: c, by: Japan, measures: [servicing, spare_parts], scope: {vendor_countries: [Japan]}, "
           "effective: 2025-01-10}]\n"
           "countermeasures: [{id: m, mineral: [gallium, germanium], kind: licensing, against: [Japan], "
           "trigger: {after: c, delay: 5d, probability: 0.5}}]\n")
    f = tmp_path / "s.yaml"
    f.write_text(src)
    outs = []
    for i, jobs in enumerate(("1", "2")):
        out = tmp_path / f"o{i}"
        assert main([str(f), "--out", str(out), "--no-plots", "--quiet", "--jobs", jobs]) == 0
        outs.append(out)
    for name in ("summary.csv", "timeseries.csv", "timeseries_wide.csv", "events.csv",
                 "metrics_by_replication.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


@SETTINGS
@given(text=valid_scenarios())
def test_same_seed_same_series(text, run, tmp_path_factory):
    loaded, pair = run(text)
    again = run_pair(loaded.scenario, loaded.world.values, 0)
    for key, v in pair.scenario.data.items():
        assert np.asarray(v).tobytes() == np.asarray(again.scenario.data[key]).tobytes(), key
    assert [e for e in pair.scenario.events] == [e for e in again.scenario.events]
