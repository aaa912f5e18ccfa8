"""A result table as plain columns (name → list of values), for writing and reading without pandas.

``simulate`` builds its small tables (impacts, summary, events, metrics by replication, GDP by quarter), writes
them as CSV and reads them for the report, the charts and the terminal as :class:`Table`\\ s: pandas is not
loaded at all (its import, ~0.27 CPU-s with pyarrow's, ran beside the workers and slowed them; measured
2026-12-06). The notebook API turns the same tables into DataFrames (:meth:`Table.frame`).

:meth:`Table.write_csv` writes the bytes ``DataFrame.to_csv(index=False, float_format=FLOAT_FORMAT,
lineterminator="\\n")`` writes for the DataFrame :meth:`Table.frame` makes: each column printed as pandas prints
its type — a column of floats (or of floats and ints) with ``%.10g`` and NaN as an empty field, of ints as
integers, of text as it is, anything else (booleans: ``True``/``False``) with ``str``, None and NaN empty; quoted
as the ``csv`` module quotes (pandas writes through it too). Tested against pandas on every kind.
"""
from __future__ import annotations

import csv
import math
from collections import namedtuple
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .writer import FLOAT_FORMAT

if TYPE_CHECKING:
    import pandas as pd


class Table:
    """Columns in order, each a list of one value a row."""

    def __init__(self, columns: Sequence[str], data: Mapping[str, Sequence[Any]] | None = None):
        self.columns = list(columns)
        self.data: dict[str, list] = {c: list(data[c]) if data is not None else [] for c in self.columns}
        n = {len(v) for v in self.data.values()}
        if len(n) > 1:
            raise ValueError(f"columns of different lengths: {sorted(n)}")
        self._row_type: Any = None

    @classmethod
    def from_rows(cls, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> "Table":
        """The table of ``rows`` (one mapping a row, holding every column)."""
        data: dict[str, list] = {c: [] for c in columns}
        for r in rows:
            for c in columns:
                data[c].append(r[c])
        return cls(columns, data)

    @classmethod
    def concat(cls, tables: Sequence["Table"]) -> "Table":
        """The rows of ``tables`` (same columns) one after the other."""
        out = cls(tables[0].columns)
        for t in tables:
            for c in out.columns:
                out.data[c] += t.data[c]
        return out

    def __len__(self) -> int:
        return len(self.data[self.columns[0]]) if self.columns else 0

    @property
    def empty(self) -> bool:
        return len(self) == 0

    def column(self, name: str) -> list:
        return self.data[name]

    def itertuples(self, index: bool = False) -> Iterator[tuple]:
        """One named tuple a row (fields named as the columns), as ``DataFrame.itertuples(index=False)``."""
        if index:
            raise ValueError("a Table has no index")
        if self._row_type is None:
            self._row_type = namedtuple("Row", self.columns, rename=True)
        make = self._row_type._make
        return (make(r) for r in zip(*(self.data[c] for c in self.columns)))

    def where(self, keep: Callable[[Any], bool]) -> "Table":
        """The rows (named tuples, see :meth:`itertuples`) for which ``keep`` is true, in order."""
        picked = [i for i, r in enumerate(self.itertuples()) if keep(r)]
        return self.take(picked)

    def take(self, rows: Iterable[int]) -> "Table":
        """Rows at these positions, in this order."""
        rows = list(rows)
        return Table(self.columns, {c: [v[i] for i in rows] for c, v in self.data.items()})

    def head(self, n: int) -> "Table":
        return self.take(range(min(n, len(self))))

    def frame(self) -> "pd.DataFrame":
        """The table as a pandas DataFrame (columns in order; each column's type inferred by pandas)."""
        import pandas as pd
        if self.empty:
            return pd.DataFrame([], columns=self.columns)   # object columns, as for any empty table
        return pd.DataFrame(self.data, columns=self.columns)

    def csv_lines(self, start: int = 0, stop: int | None = None) -> Iterator[list[str]]:
        """The text fields of rows ``start .. stop`` (see the module's docstring)."""
        stop = len(self) if stop is None else stop
        cols = [_formatter(self.data[c])(self.data[c][start:stop]) for c in self.columns]
        return (list(r) for r in zip(*cols))

    def write_csv(self, path: Path, start: int = 0, stop: int | None = None) -> None:
        """Rows ``start .. stop`` under the header, as plain CSV (see the module's docstring)."""
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(self.columns)
            w.writerows(self.csv_lines(start, stop))


def _is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not _is_bool(v)


def _is_float(v: Any) -> bool:
    return isinstance(v, (float, np.floating))


def _formatter(values: list) -> Callable[[list], list[str]]:
    """How pandas prints a column holding ``values`` (the type it infers for them)."""
    if values and all(_is_int(v) for v in values):
        return lambda vs: [str(int(v)) for v in vs]
    if values and all(_is_float(v) or _is_int(v) for v in values):
        return lambda vs: ["" if math.isnan(v) else FLOAT_FORMAT % v for v in vs]
    if all(isinstance(v, str) for v in values):
        return lambda vs: vs
    return lambda vs: ["" if v is None or (_is_float(v) and math.isnan(v)) else str(v) for v in vs]   # bools too
