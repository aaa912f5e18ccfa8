"""The workbook package written directly (``report.ooxml``): what a spreadsheet reads back from it."""
from __future__ import annotations

import datetime as dt
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from simulator.report import ooxml
from simulator.report.xlsx import sheet


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.to_datetime(["2025-01-01", "2025-01-08", None]),
        "float": [0.1 + 0.2, np.nan, -1.2345678901234567e-9],
        "big": [2510401.5446961364, np.inf, -np.inf],
        "int": np.array([3, -7, 1_000_000], dtype=np.int64),
        "flag": [True, False, True],
        "kind": pd.Categorical(["a & b", "<c>", None]),
        "mixed": [" padded ", np.datetime64("2025-02-03"), pd.Timestamp("2026-03-31")],
        "text": pd.array(["x\x01y", "", "z"], dtype="string"),
        "share": [0.1 + 0.2, 1e-300, -5.5],
    })


def written(tmp_path, df: pd.DataFrame, name: str = "summary"):
    path = tmp_path / "w.xlsx"
    ooxml.write_package([sheet(name, df)], path)
    return path, openpyxl.load_workbook(path)[name]


def test_cells_read_back_with_their_types_values_and_formats(tmp_path, frame):
    _, ws = written(tmp_path, frame)
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == tuple(frame.columns)
    assert rows[1][0] == dt.datetime(2025, 1, 1) and ws["A2"].is_date and ws["A2"].number_format == "yyyy-mm-dd"
    assert rows[3][0] is None                                            # NaT: an empty cell
    assert rows[1][1] == 0.1 + 0.2 and rows[3][1] == -1.2345678901234567e-9   # exact: shortest round trip
    assert rows[2][1] is None                                            # NaN: empty
    assert rows[1][2] == 2510401.5446961364 and (rows[2][2], rows[3][2]) == ("inf", "-inf")
    assert [r[3] for r in rows[1:]] == [3, -7, 1_000_000] and ws["D2"].number_format == "#,##0"
    assert ws["B2"].number_format == "#,##0.####"
    assert [r[4] for r in rows[1:]] == [True, False, True]
    assert [r[5] for r in rows[1:]] == ["a & b", "<c>", None]
    assert rows[1][6] == " padded " and rows[2][6] == dt.datetime(2025, 2, 3) and rows[3][6] == dt.datetime(2026, 3, 31)
    assert ws["G3"].is_date and ws["G4"].is_date
    assert [r[7] for r in rows[1:]] == ["xy", "", "z"]                    # no control characters in XML
    assert [r[8] for r in rows[1:]] == [0.1 + 0.2, 1e-300, -5.5] and ws["I2"].number_format == "#,##0.####"


def test_header_bold_frozen_filtered_and_columns_sized(tmp_path, frame):
    path, ws = written(tmp_path, frame)
    assert ws["A1"].font.b and not ws["A2"].font.b
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:I4"
    assert 'state="frozen"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert ws.column_dimensions["A"].width == 12                         # a date: 10 characters + 2
    assert ws.column_dimensions["D"].width == 9                          # "1000000": 7 characters + 2
    _, wide = written(tmp_path, frame, "timeseries_wide")
    assert wide.freeze_panes == "B2"
    path = tmp_path / "still.xlsx"
    ooxml.write_package([ooxml.Sheet("s", ["a"], [[1.0]], [8], freeze="A1")], path)
    assert openpyxl.load_workbook(path)["s"].freeze_panes is None


def test_dates_are_excel_serial_days(tmp_path):
    df = pd.DataFrame({"date": pd.to_datetime(["2025-01-01 00:00", "2024-02-29 12:00"])})
    path, _ = written(tmp_path, df)
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="A2" s="4"><v>45658</v></c>' in xml and '<v>45351.5</v>' in xml


def test_same_sheets_same_bytes(tmp_path, frame):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    for p in (a, b):
        ooxml.write_package([sheet("impacts", frame), sheet("events", frame.iloc[:0])], p)
    assert a.read_bytes() == b.read_bytes()
    book = pd.read_excel(a, sheet_name=None)
    assert list(book) == ["impacts", "events"] and book["events"].empty
    assert list(book["events"].columns) == list(frame.columns)


@pytest.mark.parametrize("j, name", [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA"), (16383, "XFD")])
def test_column_letters(j, name):
    assert ooxml.column_letter(j) == name


def test_rows_made_a_few_at_a_time_give_the_same_bytes(tmp_path, frame, monkeypatch):
    whole, pieces = tmp_path / "whole.xlsx", tmp_path / "pieces.xlsx"
    ooxml.write_package([sheet("summary", frame)], whole)
    monkeypatch.setattr(ooxml, "ROWS_AT_ONCE", 2)                      # 3 rows: a piece of 2, then 1
    ooxml.write_package([sheet("summary", frame)], pieces)
    assert whole.read_bytes() == pieces.read_bytes()
    xml = zipfile.ZipFile(pieces).read("xl/worksheets/sheet1.xml").decode()
    assert [xml.count(f'<row r="{r}"><c r="{c}{r}"') for r, c in ((1, "A"), (2, "A"), (3, "A"), (4, "B"))] == [1] * 4
