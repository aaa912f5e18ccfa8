"""Validity of world parameter values, generic: by the *kind* of a value (read from its ``unit``), its default
and its ``range:`` — never by the path of one particular mineral or region, so new world data is checked the
same way as today's.

Hard limits (a value outside them is a located error):

- every value is a finite number when its default is a number;
- shares (``unit: share…``) lie in [0, 1];
- durations (``d``, ``h``, ``w``, ``months``, ``y``) lie in [0, 100 years];
- rates per year (``1/y``, ``1/year``) lie in [-1, 10] (no more than a 100% fall, at most ×11 a year);
- counts (``tools``, ``vehicles``…) are whole numbers;
- *sign*: a parameter whose default is > 0 must stay > 0 unless its ``range:`` reaches down to 0 (time
  constants that divide, reference prices, consumption, intervals: zero is not a smaller value of them but a
  different model); a default < 0 must stay <= 0 (elasticities);
- *magnitude*: at most a million times the default (or the range's end), which stops overflows such as a
  growth of 1e300.

A value inside the hard limits but outside the parameter's plausible ``range:`` is only a warning.
"""
from __future__ import annotations

import math
from typing import Any

DURATION_DAYS = {"d": 1.0, "day": 1.0, "days": 1.0, "h": 1 / 24, "s": 1 / 86400, "min": 1 / 1440, "w": 7.0, "week": 7.0, "weeks": 7.0,
                 "months": 30.4375, "month": 30.4375, "mo": 30.4375, "y": 365.25, "year": 365.25,
                 "years": 365.25}
MAX_DURATION_DAYS = 100 * 365.25
RATE_UNITS = {"1/y", "1/year", "1/yr"}
COUNT_UNITS = {"tools", "vehicles", "plants", "units", "count", "fabs"}
MAX_MAGNITUDE = 1e6


def kind_of_unit(unit: str | None) -> str:
    """``share``, ``duration``, ``rate``, ``count`` or ``other``."""
    u = (unit or "").strip()
    if u.startswith("share"):
        return "share"
    if u in DURATION_DAYS:
        return "duration"
    if u in RATE_UNITS:
        return "rate"
    if u in COUNT_UNITS:
        return "count"
    return "other"


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def check_value(value: Any, default: Any, unit: str | None, rng: Any) -> tuple[str, str]:
    """``(error, warning)`` for a new ``value`` of a parameter with ``default``, ``unit`` and ``range``; each
    is "" when there is nothing to say. The error says what was expected and suggests a value."""
    if default is None or not _num(default):
        return "", ""
    if not _num(value) or not _finite(value):
        return f"expected a finite number like {default!r}, got {value!r}", ""
    lo, hi = _range(rng)
    kind = kind_of_unit(unit)
    u = f" {unit}" if unit else ""
    if kind == "share" and not 0 <= value <= 1:
        return f"expected a share >= 0 and <= 1 (unit {unit!r}), got {value!r}; e.g. {default!r}", ""
    if kind == "duration":
        days = value * DURATION_DAYS[unit.strip()]
        if days < 0 or days > MAX_DURATION_DAYS:
            return (f"expected a duration between 0 and 100 years (unit {unit!r}), got {value!r}; "
                    f"e.g. {default!r}"), ""
    if kind == "rate" and not -1 <= value <= 10:
        return f"expected a rate per year between -1 and 10 (unit {unit!r}), got {value!r}; e.g. {default!r}", ""
    if kind == "count" and float(value) != int(value):
        return f"expected a whole number of {unit}, got {value!r}", ""
    floor0 = lo is not None and lo <= 0
    if default > 0 and value <= 0 and not (floor0 and value == 0):
        need = "> 0" if not floor0 else ">= 0"
        return (f"expected a value {need}{u} (default {default!r}"
                + (f", plausible range [{lo:g}, {hi:g}]" if lo is not None else "")
                + f"): zero or less is not a smaller value of this parameter; got {value!r}"), ""
    if default < 0 and value > 0:
        return f"expected a value <= 0{u} (default {default!r}), got {value!r}", ""
    scale = max(abs(default), abs(lo or 0), abs(hi or 0))
    if scale > 0 and abs(value) > MAX_MAGNITUDE * scale:
        return (f"expected at most {MAX_MAGNITUDE * scale:g}{u} (a million times the default {default!r}), "
                f"got {value!r}"), ""
    if lo is not None and not lo <= value <= hi:
        return "", f"{value!r}{u} is outside the plausible range [{lo:g}, {hi:g}] given in the world data"
    return "", ""


def check_own_value(value: Any, unit: str | None, rng: Any) -> str:
    """Hard limits of a value written in a world file itself (no default to compare with): finite, shares
    in [0, 1], durations in [0, 100 y], rates in [-1, 10], whole counts, a well-formed ``range``."""
    if isinstance(value, bool) or not _num(value):
        return ""
    if rng is not None and _range(rng) == (None, None):
        return f"range: expected [low, high] with low <= high, got {rng!r}"
    err, _ = check_value(value, value if value != 0 else 1, unit, None)
    if err and value == 0 and "zero or less" in err:
        return ""
    return err


def _range(rng: Any) -> tuple[float | None, float | None]:
    if isinstance(rng, (list, tuple)) and len(rng) == 2 and all(_num(x) and _finite(x) for x in rng) \
            and rng[0] <= rng[1]:
        return float(rng[0]), float(rng[1])
    return None, None
