"""Result tables as plain columns (``report.table``): the CSV text is pandas' ``to_csv`` text, column kind by
column kind, and the notebook's DataFrame is the one pandas makes of the same columns."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.report import tables
from simulator.report.table import Table
from simulator.report.writer import write_csv

COLUMNS = {
    "text": ["a", 'quote " here', "comma, here", "line\nbreak", "", "ünïcode"],
    "ints": [0, -3, 2**40, np.int64(7), 1, 2],
    "floats": [0.1, np.nan, -0.0, np.inf, 1e-300, np.float64(123456789.123456)],
    "mixed_numbers": [1, 2.5, np.nan, 3, 1e20, -1],
    "bools": [True, False, np.bool_(True), True, False, False],
    "text_and_none": ["x", None, "y", None, "z", "w"],
    "objects": [1, "a", None, 2.5, math.nan, True],
    "dates": ["2025-01-01", "", "2026-12-31", "", "2025-06-30", "2025-02-01"],
}


def pandas_bytes(t: Table, path) -> bytes:
    write_csv(t.frame(), path)
    return path.read_bytes()


def table_bytes(t: Table, path) -> bytes:
    t.write_csv(path)
    return path.read_bytes()


@pytest.mark.parametrize("name", list(COLUMNS))
def test_each_kind_of_column_is_written_as_pandas_writes_it(tmp_path, name):
    t = Table(["key", name], {"key": list(range(6)), name: COLUMNS[name]})
    assert table_bytes(t, tmp_path / "a.csv") == pandas_bytes(t, tmp_path / "b.csv")


def test_a_whole_table_its_parts_and_an_empty_one(tmp_path):
    t = Table(list(COLUMNS), COLUMNS)
    assert table_bytes(t, tmp_path / "a.csv") == pandas_bytes(t, tmp_path / "b.csv")
    empty = Table(list(COLUMNS))
    assert table_bytes(empty, tmp_path / "c.csv") == pandas_bytes(empty, tmp_path / "d.csv") == \
        (",".join(COLUMNS) + "\n").encode()
    (tmp_path / "p").mkdir(), (tmp_path / "q").mkdir()
    note = tables.write_table(t, tmp_path / "p" / "t.csv", max_rows=4)
    assert note and note == tables.write_table(t.frame(), tmp_path / "q" / "t.csv", max_rows=4)
    for part in ("t.part1.csv", "t.part2.csv"):
        assert (tmp_path / "p" / part).read_bytes() == (tmp_path / "q" / part).read_bytes()


def test_rows_selection_and_frame():
    t = Table.from_rows(["e", "v"], [{"e": "a", "v": 1.0}, {"e": "b", "v": -2.0}, {"e": "c", "v": 3.0}])
    rows = list(t.itertuples(index=False))
    assert [r.e for r in rows] == ["a", "b", "c"] and rows[1].v == -2.0
    assert t.where(lambda r: r.v > 0).column("e") == ["a", "c"] and t.head(2).column("e") == ["a", "b"]
    assert Table.concat([t, t.take([2])]).column("e") == ["a", "b", "c", "c"]
    pd.testing.assert_frame_equal(t.frame(), pd.DataFrame({"e": ["a", "b", "c"], "v": [1.0, -2.0, 3.0]}))
    assert list(Table(["x"]).frame().columns) == ["x"] and Table(["x"]).empty
    with pytest.raises(ValueError, match="lengths"):
        Table(["a", "b"], {"a": [1], "b": [1, 2]})


def test_impacts_order_is_pandas_stable_descending_sort():
    """``frames._impact_order`` sorts as the DataFrame code did: named (relevance > 0), then moved, then relevance,
    each descending, ties in their order, a NaN relevance last."""
    from simulator.report.frames import _impact_order
    rng = np.random.default_rng(8)
    rows = [{"i": i, "relevance": float(rng.choice([0.0, 1.0, 2.5, 100.0, np.nan, -1.0])),
             "difference_p05": float(rng.choice([0.0, -0.0, -2.0, np.nan])),
             "difference_p95": float(rng.choice([0.0, 3.0, np.nan]))} for i in range(300)]
    df = pd.DataFrame(rows)
    df = df.assign(_named=df["relevance"] > 0,
                   _moved=(df["difference_p05"].abs() > 0) | (df["difference_p95"].abs() > 0))
    want = df.sort_values(["_named", "_moved", "relevance"], ascending=False, kind="stable")["i"].tolist()
    assert [r["i"] for r in sorted(rows, key=_impact_order)] == want
