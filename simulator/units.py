"""Durations and calendar dates as the scenario files write them.

A duration is a number with a unit: ``30d`` (days), ``6w`` (weeks), ``18mo`` (months of 30.4375 days),
``3y`` (years of 365.25 days). Inside the engine every time is a float number of days from the scenario's
``start``; calendar dates appear only at the edges (YAML in, CSV out).
"""
from __future__ import annotations

import datetime as _dt
import re

DAYS_PER_UNIT: dict[str, float] = {"d": 1.0, "w": 7.0, "mo": 30.4375, "y": 365.25}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|w|mo|y)\s*$")


def parse_duration(text: str | int | float) -> float:
    """Return the duration ``text`` (e.g. ``'18mo'``) in days.

    Raises ``ValueError`` with a message fit for a user when the text is not a duration with a unit.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected a duration like 30d, 6w, 18mo or 3y, got {text!r}")
    if isinstance(text, (int, float)):
        raise ValueError(f"expected a duration with a unit like 30d, 6w, 18mo or 3y, got {text!r} (add a unit)")
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"expected a duration like 30d, 6w, 18mo or 3y, got {text!r}")
    return float(m.group(1)) * DAYS_PER_UNIT[m.group(2)]


def format_duration(days: float) -> str:
    """Write a number of days back as a duration string (whole days)."""
    return f"{round(days)}d"


def day_of(start: _dt.date, when: _dt.date) -> int:
    """Whole days from ``start`` to the date ``when`` (negative when before)."""
    return (when - start).days


def date_of(start: _dt.date, day: float) -> _dt.date:
    """Calendar date of engine time ``day`` (days since ``start``; fractions belong to that day)."""
    return start + _dt.timedelta(days=int(day // 1))
