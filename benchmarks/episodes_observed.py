"""Observed mineral-episode series: check the table and summarise each series against its pre-episode level.

The table ``benchmarks/episodes/observed.csv`` holds what was observed in China's mineral export-control
episodes (2010 rare earths to Japan, germanium 2023, graphite 2023, antimony 2024, the December 2024 US ban,
rare earths 2025): Chinese exports (t/month), ex-China and China prices, each row with a source and a grade
(A official, B price agency or wire as quoted by a named outlet, C secondary). See
``benchmarks/episodes/README.md``.

This script does two things and runs no model:

1. **Checks the table**: the columns; one unit per series; ``low <= high``; grade in A/B/C; a source on every
   row; dates as ``YYYY-MM-DD`` (a price on a day), ``YYYY-MM`` (a monthly total) or ``YYYY-MM/YYYY-MM`` (an
   average over months). Every problem is printed as ``observed.csv:LINE: message``; exit code 1 if any.
2. **Summarises**: per episode and series, the number of rows, the pre-episode level (the last observation
   whose period ends on or before the announcement, ``ANNOUNCED``) and the largest change within 12 months
   of the announcement as a ratio of it (mids of low/high), so the direction and rough size of the change
   can be read at a glance and compared with a model run.

Usage::

    python benchmarks/episodes_observed.py [--csv PATH] [--quiet]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CSV = HERE / "episodes" / "observed.csv"
COLUMNS = ["episode", "series", "date", "low", "high", "unit", "source", "grade"]
#: Announcement date of each episode (timeline.md); the pre-episode level is the last observation whose
#: period ends on or before it, and "the first 12 months" start on it.
ANNOUNCED = {
    "ree_2010": dt.date(2010, 9, 21),    # informal halt of rare-earth shipments to Japan
    "ga_2023": dt.date(2023, 7, 3),      # MOFCOM/GAC Announcement 23 [2023] (gallium; see gallium_2023.csv)
    "ge_2023": dt.date(2023, 7, 3),      # same announcement, germanium items
    "gr_2023": dt.date(2023, 10, 20),    # graphite licensing, effective 2023-12-01
    "sb_2024": dt.date(2024, 8, 15),     # antimony licensing, effective 2024-09-15
    "usban_2024": dt.date(2024, 12, 3),  # MOFCOM Announcement 46 [2024]: Ga, Ge, Sb to the US not permitted
    "ree_2025": dt.date(2025, 4, 4),     # Announcement 18 [2025]: 7 medium/heavy REE and magnets
}
GRADES = {"A", "B", "C"}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_SPAN = re.compile(r"^(\d{4}-\d{2})/(\d{4}-\d{2})$")


@dataclass(frozen=True)
class Row:
    """One observation: a value range on a date (or month, or span of months) for one series."""
    line: int
    episode: str
    series: str
    date: str
    low: float
    high: float
    unit: str
    source: str
    grade: str

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2.0

    @property
    def sort_key(self) -> dt.date:
        """The first day the observation covers (a month or span starts on its first day)."""
        return parse_date(self.date)[0]

    @property
    def end(self) -> dt.date:
        """The last day the observation covers."""
        return period_end(self.date)


def parse_date(text: str) -> tuple[dt.date, str]:
    """``(first day covered, kind)`` with kind ``day``, ``month`` or ``span``; ValueError if malformed."""
    if _DAY.match(text):
        return dt.date.fromisoformat(text), "day"
    if _MONTH.match(text):
        return dt.date.fromisoformat(text + "-01"), "month"
    m = _SPAN.match(text)
    if m:
        a, b = (dt.date.fromisoformat(x + "-01") for x in m.groups())
        if b < a:
            raise ValueError(f"span {text!r} ends before it starts")
        return a, "span"
    raise ValueError(f"date {text!r} is not YYYY-MM-DD, YYYY-MM or YYYY-MM/YYYY-MM")


def period_end(text: str) -> dt.date:
    """Last day covered by a date, a month or a span of months."""
    start, kind = parse_date(text)
    if kind == "day":
        return start
    last = text.split("/")[-1] if kind == "span" else text
    y, m = (int(x) for x in last.split("-"))
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def load(path: Path) -> tuple[list[Row], list[str]]:
    """Read and check the table; returns the good rows and one located message per problem."""
    errors: list[str] = []
    rows: list[Row] = []
    name = path.name
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != COLUMNS:
            return [], [f"{name}:1: header must be {','.join(COLUMNS)}, got {header}"]
        for line, rec in enumerate(reader, start=2):
            if not rec:
                continue
            if len(rec) != len(COLUMNS):
                errors.append(f"{name}:{line}: {len(rec)} fields, expected {len(COLUMNS)}")
                continue
            d = dict(zip(COLUMNS, (x.strip() for x in rec)))
            try:
                parse_date(d["date"])
            except ValueError as exc:
                errors.append(f"{name}:{line}: bad date {d['date']!r}: {exc}")
                continue
            try:
                low, high = float(d["low"]), float(d["high"])
            except ValueError:
                errors.append(f"{name}:{line}: low/high must be numbers, got {d['low']!r}/{d['high']!r}")
                continue
            if low > high:
                errors.append(f"{name}:{line}: low {low} > high {high}")
            if low < 0:
                errors.append(f"{name}:{line}: negative value {low}")
            if d["grade"] not in GRADES:
                errors.append(f"{name}:{line}: grade {d['grade']!r} is not one of A, B, C")
            if not d["source"]:
                errors.append(f"{name}:{line}: no source")
            if d["episode"] not in ANNOUNCED:
                errors.append(f"{name}:{line}: unknown episode {d['episode']!r}; known: {', '.join(ANNOUNCED)}")
            if "." not in d["series"]:
                errors.append(f"{name}:{line}: series {d['series']!r} is not <item>.<measure>")
            rows.append(Row(line, d["episode"], d["series"], d["date"], low, high, d["unit"], d["source"],
                            d["grade"]))
    units: dict[tuple[str, str], tuple[str, int]] = {}
    for r in rows:
        key = (r.episode, r.series)
        if key in units and units[key][0] != r.unit:
            errors.append(f"{name}:{r.line}: unit {r.unit!r} differs from {units[key][0]!r} "
                          f"(line {units[key][1]}) for {r.episode} {r.series}")
        units.setdefault(key, (r.unit, r.line))
    return rows, errors


def pre_episode(rows: list[Row], announced: dt.date) -> Row | None:
    """The last observation whose period ends on or before ``announced``.

    If there is none, the latest observation whose period starts before ``announced`` (an average or a
    month that overlaps the announcement); None if there is not even that.
    """
    before = [r for r in rows if r.end <= announced]
    if before:
        return max(before, key=lambda r: r.end)
    overlapping = [r for r in rows if r.sort_key < announced]
    return max(overlapping, key=lambda r: r.sort_key) if overlapping else None


def summarise(rows: list[Row]) -> list[tuple]:
    """Per (episode, series): rows, pre-episode point, and the largest change in the first 12 months.

    The change is the mid of the observation farthest from the pre-episode mid (as a ratio), among those
    starting within 366 days of the announcement; "-" where there is no pre-episode point to compare with.
    """
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r.episode, r.series)].append(r)
    out = []
    for (ep, series), rs in sorted(groups.items()):
        announced = ANNOUNCED[ep]
        pre = pre_episode(rs, announced)
        window = [r for r in rs if announced <= r.sort_key <= announced + dt.timedelta(days=366)
                  or (r.sort_key < announced < r.end)]
        window = [r for r in window if r is not pre]
        if pre is not None and pre.mid > 0 and window:
            ext = max(window, key=lambda r: abs(r.mid / pre.mid - 1.0))
            change = f"{ext.mid / pre.mid:.2f}x @ {ext.date}"
        else:
            change = "-"
        pre_txt = f"{pre.mid:g} {pre.unit} @ {pre.date}" if pre else "none found"
        out.append((ep, series, len(rs), len(window), pre_txt, change))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--quiet", action="store_true", help="only report problems")
    args = ap.parse_args(argv)
    if not args.csv.is_file():
        print(f"{args.csv}: no such file", file=sys.stderr)
        return 2
    rows, errors = load(args.csv)
    for e in errors:
        print(e, file=sys.stderr)
    if not args.quiet:
        sys.path.insert(0, str(HERE))
        from _common import table
        print(table(summarise(rows), ("episode", "series", "rows", "in 12 m", "pre-episode", "largest change in 12 m")))
        print(f"\n{len(rows)} rows, {len({(r.episode, r.series) for r in rows})} series, "
              f"grades: " + ", ".join(f"{g} {sum(r.grade == g for r in rows)}" for g in sorted(GRADES)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
