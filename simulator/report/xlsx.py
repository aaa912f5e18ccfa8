"""One Excel workbook of a run (openpyxl): ``impacts``, ``summary``, ``timeseries_wide`` and ``events`` sheets.

Spreadsheet-true: dates are real date cells (``yyyy-mm-dd``), numbers carry a number format, the header row is
frozen and bold with an auto-filter, and columns are sized to their content. The ``timeseries_wide`` sheet
holds the series that have impact metrics (the rows of ``impacts``: scenario, baseline and difference
columns); every recorded series is in ``timeseries_wide.csv``.
"""
from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..api import Result

SHEETS = ("impacts", "summary", "timeseries_wide", "events")
MAX_COLUMNS = 16000
MAX_ROWS = 1_048_575
DATE_FORMAT = "yyyy-mm-dd"
NUMBER_FORMAT = "#,##0.####"
INT_FORMAT = "#,##0"
WIDTH_SAMPLE = 200          # rows looked at to size a column


def _cell(v):
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime().date()
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else pd.Timestamp(v).date()
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _kind(dt) -> str:
    if pd.api.types.is_datetime64_any_dtype(dt):
        return "date"
    if pd.api.types.is_bool_dtype(dt):
        return "text"
    if pd.api.types.is_integer_dtype(dt):
        return "int"
    if pd.api.types.is_float_dtype(dt):
        return "float"
    return "text"


def write_sheet(wb, name: str, df: pd.DataFrame) -> None:
    """Append ``df`` as sheet ``name`` (write-only workbook) with typed cells, formats, a bold frozen header,
    a filter and column widths."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    ws = wb.create_sheet(name)
    df = df.iloc[:MAX_ROWS, :MAX_COLUMNS]
    cols = list(df.columns)
    kinds = [_kind(df[c].dtype) for c in cols]
    fmts = [{"date": DATE_FORMAT, "int": INT_FORMAT, "float": NUMBER_FORMAT}.get(k) for k in kinds]
    for j, (c, kind) in enumerate(zip(cols, kinds), start=1):
        sample = df[c].head(WIDTH_SAMPLE).tolist()
        longest = max([len(str(c))] + [10 if kind == "date" else len(f"{v:,.4g}") if kind == "float" and
                                       isinstance(v, float) and not math.isnan(v) else len(str(v))
                                       for v in sample])
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, longest + 2))
    ws.freeze_panes = "B2" if name == "timeseries_wide" else "A2"
    if len(df):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{len(df) + 1}"
    bold = Font(bold=True)
    header = []
    for c in cols:
        cell = WriteOnlyCell(ws, value=str(c))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    # one styled template cell per column; openpyxl shares the style ids, so this stays fast
    for row in df.itertuples(index=False, name=None):
        out = []
        for v, fmt in zip(row, fmts):
            v = _cell(v)
            if fmt is None or v is None:
                out.append(v)
            else:
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = fmt
                out.append(cell)
        ws.append(out)


def impact_columns(res: "Result") -> pd.DataFrame:
    """The wide table cut to the series with impact metrics (those in ``impacts``), keeping its order."""
    keys = {f"{e}.{m}" for e, m in zip(res.impacts["entity"].astype(str), res.impacts["metric"].astype(str))}
    wide = res.timeseries_wide

    def key(col: str) -> str:
        return col.split(": ", 1)[-1].rsplit(" [", 1)[0]
    return wide[[c for c in wide.columns if c == "date" or key(c) in keys]]


def write_xlsx(res: "Result", path: Path) -> None:
    """Write the workbook (sheets in ``SHEETS`` order, impacts first)."""
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    for name in SHEETS:
        df = getattr(res, name)
        if name == "timeseries_wide":
            df = impact_columns(res)
        write_sheet(wb, name, df)
    wb.properties.created = _dt.datetime(2000, 1, 1)    # fixed: same run, same workbook bytes
    wb.properties.modified = _dt.datetime(2000, 1, 1)
    wb.save(path)
