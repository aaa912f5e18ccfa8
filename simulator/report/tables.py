"""Writing one result table as CSV a spreadsheet can open: split into parts when it would pass the row limit.

Excel and LibreOffice Calc open at most 1,048,576 rows (header included). A table with more data rows than
``MAX_DATA_ROWS`` (``output.frequency: 1d`` over three years gives ~6.2 million time-series rows) is
written as ``NAME.part1.csv``, ``NAME.part2.csv``, ... each with the header and at most ``MAX_DATA_ROWS``
rows, in the original row order; concatenating the parts (minus repeated headers) gives the whole table.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .table import Table
from .writer import write_csv

if TYPE_CHECKING:
    import pandas as pd

SPREADSHEET_ROWS = 1_048_576          # rows of an Excel / LibreOffice sheet, header included
MAX_DATA_ROWS = SPREADSHEET_ROWS - 1


def part_names(path: Path, parts: int) -> list[Path]:
    """``timeseries.csv`` → ``timeseries.part1.csv`` ... for ``parts`` parts."""
    return [path.with_name(f"{path.stem}.part{i}{path.suffix}") for i in range(1, parts + 1)]


def write_table(df: "pd.DataFrame | Table", path: Path, max_rows: int | None = None) -> str:
    """Write ``df`` (a DataFrame, or a :class:`.table.Table`: the same text) to ``path`` (or to numbered
    parts); returns a note for the user when split, else ``""``."""
    limit = MAX_DATA_ROWS if max_rows is None else max_rows
    if len(df) <= limit:
        if isinstance(df, Table):
            df.write_csv(path)
        else:
            write_csv(df, path)
        return ""
    parts = -(-len(df) // limit)
    names = part_names(path, parts)
    for i, p in enumerate(names):
        if isinstance(df, Table):
            df.write_csv(p, i * limit, (i + 1) * limit)
        else:
            write_csv(df.iloc[i * limit:(i + 1) * limit], p)
    return (f"{path.name} has {len(df):,} rows, more than a spreadsheet opens ({SPREADSHEET_ROWS:,} with the "
            f"header): written as {parts} parts {names[0].name} .. {names[-1].name}")
