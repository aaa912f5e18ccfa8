"""The summary table built column by column (``frames._plain_columns``) holds, bit for bit, the rows that
``frames._row`` builds one metric slot at a time: for several replications, for one (a sweep run), and where
some scenario values are NaN (those slots go row by row)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import simulator
from simulator.report import frames
from simulator.report.fold import Reduced


@pytest.fixture(scope="module")
def red() -> tuple:
    res = simulator.run("scenarios/japan_servicing_ban.yaml", sets=["horizon=200d"], replications=4,
                        progress=False, keep_daily=False)
    return res.loaded.scenario, res.runs


def _rows(sc, red: Reduced) -> dict[str, list]:
    """The summary as it was built before the columns: ``_row`` for every slot, given the plain statistics."""
    M, B = red.metrics[0], red.metrics[1]
    plain = frames._plain_stats(M, B)
    rows = [frames._row(sc, red.info[key], name, kind, M[j], B[j], red.n,
                        None if plain is None or not plain[0][j] else tuple(a[j] for a in plain[1:]))
            for j, (key, name, kind) in enumerate(red.layout.metric_slots)]
    return {c: [r[c] for r in rows] for c in frames.SUMMARY_COLUMNS}


def _same(a: list, b: list) -> bool:
    """Equal value for value, NaN equal to NaN, the same Python types (a CSV or JSON writer sees these)."""
    return len(a) == len(b) and all(
        type(x) is type(y) and (x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)))
        for x, y in zip(a, b))


def _subset(red: Reduced, reps: list[int]) -> Reduced:
    out = object.__new__(Reduced)
    out.__dict__.update(red.__dict__)
    out.summaries = [red.summaries[r] for r in reps]     # ``n`` counts them
    out.metrics = red.metrics[:, :, reps].copy()
    return out


@pytest.mark.parametrize("reps", [[0, 1, 2, 3], [2]])
def test_columns_equal_the_row_by_row_summary(red, reps):
    sc, runs = red
    sub = _subset(runs, reps)
    got = frames.summary_table(sc, sub).data
    want = _rows(sc, sub)
    kinds = {k for _, _, k in sub.layout.metric_slots}
    assert {"day", "days", "level", "amount", "pct"} <= kinds
    changed = [c for c in frames.SUMMARY_COLUMNS if not _same(got[c], want[c])]
    assert not changed
    assert any(isinstance(v, float) and not math.isnan(v) for v in got["change_pct"])
    assert any(d for d in got["p50_date"]) and any(0 < p < 1 for p in got["probability"] if not math.isnan(p)) \
        or len(reps) == 1


def test_slots_with_nan_values_are_built_row_by_row(red):
    sc, runs = red
    sub = _subset(runs, [0, 1, 2, 3])
    slots = sub.layout.metric_slots
    day = [j for j, (_, _, k) in enumerate(slots) if k == "day" and np.isfinite(sub.metrics[0, j]).all()][:3]
    assert day
    level = [j for j, (_, _, k) in enumerate(slots) if k == "level"][:4]
    sub.metrics[0, day + level[:3], 1] = np.nan      # an event that did not happen in one replication, a gap
    sub.metrics[1, level[:1], :] = np.nan              # no baseline at all
    sub.metrics[1, level[3], :] *= -1                  # a negative baseline: a change against its size
    got = frames.summary_table(sc, sub).data
    want = _rows(sc, sub)
    assert not [c for c in frames.SUMMARY_COLUMNS if not _same(got[c], want[c])]
    assert any(0 < p < 1 for p in (got["probability"][j] for j in day))
    assert got["change_pct"][level[3]] > 0 and got["baseline"][level[3]] < 0


@pytest.mark.parametrize("reps", [[0, 1, 2, 3], [1]])
def test_slots_whose_event_came_in_no_replication_are_built_as_columns(red, reps, monkeypatch):
    """Slots whose scenario values are all NaN (``frames._empty_columns``) hold what ``_row`` gives them, for
    ``day``, ``days`` and level slots, with and without a baseline; only slots with some NaN go row by row."""
    sc, runs = red
    sub = _subset(runs, reps)
    slots = sub.layout.metric_slots
    by_kind = {k: [j for j, (_, _, kk) in enumerate(slots) if kk == k and np.isfinite(sub.metrics[0, j]).all()][:3]
               for k in ("day", "days", "level")}
    assert all(by_kind.values())
    empty = [j for js in by_kind.values() for j in js]
    sub.metrics[0, empty, :] = np.nan
    sub.metrics[1, by_kind["level"][:1] + by_kind["day"][:1], :] = np.nan     # no baseline either
    partial = by_kind["days"][0] + 1 if len(reps) > 1 else None
    if partial is not None:
        sub.metrics[0, partial, 0] = np.nan                                  # one replication without it
    want = _rows(sc, sub)
    calls = []
    real = frames._row
    monkeypatch.setattr(frames, "_row", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    got = frames.summary_table(sc, sub).data
    assert not [c for c in frames.SUMMARY_COLUMNS if not _same(got[c], want[c])]
    plain = frames._plain_stats(sub.metrics[0], sub.metrics[1])[0]
    all_nan = np.isnan(sub.metrics[0]).all(axis=1)
    assert all_nan[empty].all() and len(calls) == np.count_nonzero(~plain & ~all_nan) < len(slots) / 4
    assert [got["probability"][j] for j in by_kind["day"] + by_kind["days"]] == [0.0] * 6
    assert all(math.isnan(got["baseline"][j]) for j in by_kind["level"][:1] + by_kind["day"][:1])
    assert all(got["p50_date"][j] == "" and math.isnan(got["mean"][j]) for j in empty)
