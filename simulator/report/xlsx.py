"""One Excel workbook of a run: ``impacts``, ``summary``, ``timeseries_wide`` and ``events`` sheets.

Spreadsheet-true: dates are real date cells (``yyyy-mm-dd``), numbers carry a number format, the header row is
frozen and bold with an auto-filter, and columns are sized to their content. The ``timeseries_wide`` sheet
holds the series that have impact metrics (the rows of ``impacts``: scenario, baseline and difference
columns); every recorded series is in ``timeseries_wide.csv``. The package itself is written by :mod:`.ooxml`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .ooxml import Sheet, write_package

if TYPE_CHECKING:
    from ..api import Result

SHEETS = ("impacts", "summary", "timeseries_wide", "events")
MAX_COLUMNS = 16000
MAX_ROWS = 1_048_575
WIDTH_SAMPLE = 200          # rows looked at to size a column


def column_width(name: str, values: pd.Series) -> float:
    """A column's width in characters: its header's or its first :data:`WIDTH_SAMPLE` values' longest text
    (floats as ``1,234``-style with four significant digits, dates as ten characters), plus 2, in 8 .. 60."""
    kind = values.dtype.kind
    sample = set(values.head(WIDTH_SAMPLE).tolist())
    longest = max([len(str(name))] + [10 if kind == "M" else len(f"{v:,.4g}") if kind == "f" and
                                      isinstance(v, float) and not math.isnan(v) else len(str(v))
                                      for v in sample])
    return min(60, max(8, longest + 2))


def sheet(name: str, df: pd.DataFrame) -> Sheet:
    """The worksheet of ``df`` (cut to Excel's rows and :data:`MAX_COLUMNS`): the first column frozen too in
    ``timeseries_wide``, whose first column is the date."""
    df = df.iloc[:MAX_ROWS, :MAX_COLUMNS]
    cols = [str(c) for c in df.columns]
    series = [df.iloc[:, j] for j in range(len(cols))]
    return Sheet(name, cols, series, [column_width(c, s) for c, s in zip(cols, series)],
                 "B2" if name == "timeseries_wide" else "A2")


def impact_columns(res: "Result") -> pd.DataFrame:
    """The wide table cut to the series with impact metrics (those in ``impacts``), keeping its order."""
    keys = {f"{e}.{m}" for e, m in zip(res.impacts["entity"].astype(str), res.impacts["metric"].astype(str))}
    wide = res.timeseries_wide

    def key(col: str) -> str:
        return col.split(": ", 1)[-1].rsplit(" [", 1)[0]
    return wide[[c for c in wide.columns if c == "date" or key(c) in keys]]


def write_xlsx(res: "Result", path: Path) -> None:
    """Write the workbook (sheets in ``SHEETS`` order, impacts first)."""
    frames = {name: impact_columns(res) if name == "timeseries_wide" else getattr(res, name) for name in SHEETS}
    write_package([sheet(name, df) for name, df in frames.items()], path)
