"""A SpreadsheetML (.xlsx) package written directly: typed cells, a few fixed styles, frozen header, filter.

What :mod:`.xlsx` puts in a run's workbook is plain tables, so the package is small and fixed: one worksheet part
per table, one styles part, the workbook and its relationships, and core properties with fixed dates (same
tables, same bytes). Cells are written column by column as text: numbers as their shortest round-trip decimal
(``repr``), dates as Excel serial days (days since 1899-12-30) with a date format, booleans as boolean cells,
text as inline strings. This is what openpyxl's write-only mode wrote for these tables, without building a Python
object and an XML element for every cell: openpyxl took ~17 µs a cell (7.2 s for a 6-replication run's 425,000
cells, measured 2026-12-07), which is most of the time of a run with ``--xlsx``.

Spreadsheets cannot hold NaN or infinities: NaN and NaT are empty cells, ±inf the text ``inf``/``-inf``.
The layout follows ECMA-376 Part 1 (§18.3 worksheets, §18.8 styles); the tests read the files back with openpyxl
and pandas.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np

__all__ = ["Sheet", "column_letter", "write_package", "BOLD", "NUMBER", "INT", "DATE"]

#: cell styles (indices into ``cellXfs`` of :data:`STYLES`): plain, bold header, number, integer, date
PLAIN, BOLD, NUMBER, INT, DATE = 0, 1, 2, 3, 4
NUMBER_FORMAT = "#,##0.####"
DATE_FORMAT = "yyyy-mm-dd"
#: Excel's day 0 of the 1900 date system as its serial days count them (1900-03-01 onward is exact)
EPOCH = np.datetime64("1899-12-30", "D")
#: rows whose cells are made at once (a day-by-day wide sheet of 2,500 columns: ~60 MB of text at a time)
ROWS_AT_ONCE = 256
#: the longest text a cell holds (Excel's limit)
MAX_TEXT = 32767
#: a zip entry's fixed time (the earliest a zip file can state): same tables, same bytes
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")   # not allowed in XML 1.0

STYLES = (_HEAD + f'<styleSheet xmlns="{_MAIN}">'
          f'<numFmts count="2"><numFmt numFmtId="164" formatCode="{NUMBER_FORMAT}"/>'
          f'<numFmt numFmtId="165" formatCode="{DATE_FORMAT}"/></numFmts>'
          '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
          '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
          '<fills count="2"><fill><patternFill patternType="none"/></fill>'
          '<fill><patternFill patternType="gray125"/></fill></fills>'
          '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
          '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
          '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
          '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
          '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
          '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
          '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
          '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
          '</styleSheet>')


@dataclass
class Sheet:
    """One worksheet: ``name``; ``header`` (the first row, bold); ``columns``, one sequence of values each (all of
    one length; see :func:`column_cells` for what a value may be); ``widths`` in characters; ``freeze``: the
    top-left cell of the scrolling part, in columns A–Z (``"A2"``: the header row frozen; ``"B2"``: also the
    first column; ``"A1"``: nothing frozen)."""

    name: str
    header: Sequence[str]
    columns: Sequence[Any]
    widths: Sequence[float]
    freeze: str = "A2"

    @property
    def rows(self) -> int:
        """Data rows (the header not counted)."""
        return len(self.columns[0]) if len(self.columns) else 0


def column_letter(j: int) -> str:
    """Excel's name of the ``j``-th column, from 0 (``A``, ``Z``, ``AA``…)."""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _text(v: str) -> str:
    """An inline-string cell's content (``<is>`` element) of ``v``."""
    v = _ILLEGAL.sub("", v[:MAX_TEXT])
    space = ' xml:space="preserve"' if v != v.strip() else ""
    return f"<is><t{space}>{escape(v)}</t></is>"


def _value(v: Any, ref: str) -> str:
    """The cell of one value of a mixed column (text, numbers, booleans, dates, None/NaN) at ``ref``."""
    if v is None or type(v).__name__ == "NAType":                # pandas' NA
        return ""
    if isinstance(v, (bool, np.bool_)):
        return f'<c r="{ref}" t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (int, np.integer)):
        return f'<c r="{ref}" s="{INT}"><v>{int(v)}</v></c>'
    if isinstance(v, (float, np.floating)):
        return _number(float(v), ref, NUMBER)
    if isinstance(v, str):
        return f'<c r="{ref}" t="inlineStr">{_text(v)}</c>'
    if isinstance(v, np.datetime64):
        return "" if np.isnat(v) else _serial(v, ref)
    if hasattr(v, "year") and hasattr(v, "month"):               # date, datetime, pandas Timestamp
        d = np.datetime64(v if not hasattr(v, "to_datetime64") else v.to_datetime64())
        return "" if np.isnat(d) else _serial(d, ref)
    return f'<c r="{ref}" t="inlineStr">{_text(str(v))}</c>'


def _number(x: float, ref: str, style: int) -> str:
    if x != x:
        return ""
    if x in (np.inf, -np.inf):
        return f'<c r="{ref}" t="inlineStr"><is><t>{"inf" if x > 0 else "-inf"}</t></is></c>'
    return f'<c r="{ref}" s="{style}"><v>{x!r}</v></c>'


def _serial(d: np.datetime64, ref: str) -> str:
    days = (d - EPOCH) / np.timedelta64(1, "D")
    return f'<c r="{ref}" s="{DATE}"><v>{int(days) if days == int(days) else repr(float(days))}</v></c>'


def _array(values: Any) -> np.ndarray:
    """``values`` as a numpy array (a list as an array of objects, read value by value)."""
    if hasattr(values, "to_numpy"):
        return values.to_numpy()
    return np.asarray(values, dtype=object) if isinstance(values, list) else values


def column_cells(values: Any, letter: str, first_row: int = 2) -> list[str]:
    """The cells of one column (``letter``) from row ``first_row`` on, one string a row ("" for an empty cell).

    ``values``: a numpy array or anything with ``to_numpy`` (a pandas Series) or a list. Float columns are
    numbers (format ``#,##0.####``), integer columns integers (``#,##0``), datetime64 columns dates
    (``yyyy-mm-dd``), boolean columns booleans; any other column is read value by value (:func:`_value`)."""
    a = _array(values)
    rows = range(first_row, first_row + len(a))
    kind = a.dtype.kind
    if kind == "f":
        if np.isfinite(a).all():
            return [f'<c r="{letter}{r}" s="{NUMBER}"><v>{x!r}</v></c>' for x, r in zip(a.tolist(), rows)]
        return [_number(x, f"{letter}{r}", NUMBER) for x, r in zip(a.tolist(), rows)]
    if kind in "iu":
        return [f'<c r="{letter}{r}" s="{INT}"><v>{x}</v></c>' for x, r in zip(a.tolist(), rows)]
    if kind == "b":
        return [f'<c r="{letter}{r}" t="b"><v>{int(x)}</v></c>' for x, r in zip(a.tolist(), rows)]
    refs = [f"{letter}{r}" for r in rows]
    if kind == "M":
        return ["" if np.isnat(d) else _serial(d, ref) for d, ref in zip(a.astype("datetime64[us]"), refs)]
    return [_value(v, ref) for v, ref in zip(a.tolist() if kind != "O" else a, refs)]


def _sheet_xml(sheet: Sheet) -> Iterable[str]:
    """The worksheet part of ``sheet``, in pieces."""
    ncol, nrow = len(sheet.header), sheet.rows
    last = f"{column_letter(max(ncol, 1) - 1)}{nrow + 1}"
    yield _HEAD + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><dimension ref="A1:{last}"/>'
    col = "".join(c for c in sheet.freeze if c.isalpha())
    row = int("".join(c for c in sheet.freeze if c.isdigit()))
    xs, ys = ord(col) - 65, row - 1
    pane = "bottomRight" if xs and ys else "bottomLeft" if ys else "topRight"
    split = (f' xSplit="{xs}"' if xs else "") + (f' ySplit="{ys}"' if ys else "")
    view = (f'<pane{split} topLeftCell="{sheet.freeze}" activePane="{pane}" state="frozen"/><selection '
            f'pane="{pane}" activeCell="{sheet.freeze}" sqref="{sheet.freeze}"/>') if xs or ys else ""
    yield (f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>'
           '<sheetFormatPr defaultRowHeight="15"/>')
    if ncol:
        yield "<cols>" + "".join(f'<col min="{j}" max="{j}" width="{w:g}" customWidth="1"/>'
                                 for j, w in enumerate(sheet.widths, start=1)) + "</cols>"
    letters = [column_letter(j) for j in range(ncol)]
    yield ('<sheetData><row r="1">'
           + "".join(f'<c r="{x}1" s="{BOLD}" t="inlineStr">{_text(str(h))}</c>'
                     for x, h in zip(letters, sheet.header)) + "</row>")
    columns = [_array(c) for c in sheet.columns]
    for r0 in range(0, nrow, ROWS_AT_ONCE):        # the cells of a few rows at a time: memory stays small
        cells = [column_cells(a[r0:r0 + ROWS_AT_ONCE], x, r0 + 2) for a, x in zip(columns, letters)]
        yield "".join(f'<row r="{r}">{"".join(row_cells)}</row>'
                      for r, row_cells in enumerate(zip(*cells), start=r0 + 2))
    yield "</sheetData>"
    if ncol and nrow:
        yield f'<autoFilter ref="A1:{last}"/>'
    yield "</worksheet>"


def _workbook_xml(sheets: Sequence[Sheet]) -> str:
    names = "".join(f'<sheet name={quoteattr(s.name)} sheetId="{i}" r:id="rId{i}"/>'
                    for i, s in enumerate(sheets, start=1))
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{escape(_quoted(s.name))}!$A$1:${column_letter(len(s.header) - 1)}${s.rows + 1}</definedName>"
        for i, s in enumerate(sheets) if s.header and s.rows)
    return (_HEAD + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><workbookPr/>'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{names}</sheets>'
            + (f"<definedNames>{filters}</definedNames>" if filters else "")
            + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')


def _quoted(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _parts(sheets: Sequence[Sheet], created: str) -> list[tuple[str, Callable[[], Iterable[str]]]]:
    """(part name, its text in pieces) of the whole package, in the order they are zipped."""
    n = len(sheets)
    ws_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    types = (_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             '<Override PartName="/xl/workbook.xml" '
             'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
             + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{ws_type}"/>'
                       for i in range(1, n + 1))
             + '<Override PartName="/xl/styles.xml" '
             'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
             '<Override PartName="/docProps/core.xml" '
             'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
             '<Override PartName="/docProps/app.xml" '
             'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>')
    rels = (_HEAD + f'<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
            'metadata/core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>")
    wb_rels = (_HEAD + f'<Relationships xmlns="{_PKG_REL}">'
               + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                         for i in range(1, n + 1))
               + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
    core = (_HEAD + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>simulator</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified></cp:coreProperties>')
    app = (_HEAD + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
           "<Application>simulator</Application></Properties>")
    fixed = [("[Content_Types].xml", types), ("_rels/.rels", rels), ("docProps/core.xml", core),
             ("docProps/app.xml", app), ("xl/workbook.xml", _workbook_xml(sheets)),
             ("xl/_rels/workbook.xml.rels", wb_rels), ("xl/styles.xml", STYLES)]
    parts: list[tuple[str, Callable[[], Iterable[str]]]] = [(name, lambda t=text: (t,)) for name, text in fixed]
    parts += [(f"xl/worksheets/sheet{i}.xml", lambda s=s: _sheet_xml(s)) for i, s in enumerate(sheets, start=1)]
    return parts


def write_package(sheets: Sequence[Sheet], path: Path, created: str = "2000-01-01T00:00:00Z") -> None:
    """Write the workbook of ``sheets`` (in this order, the first one shown) to ``path``; ``created``: the
    core properties' creation and modification time (fixed by default: same sheets, same bytes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, pieces in _parts(sheets, created):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w") as fh:
                for piece in pieces():
                    fh.write(piece.encode("utf-8"))
