"""Typed model of a scenario file: chip-tool controls, Chinese countermeasures, triggers and output options.

A scenario is validated into frozen pydantic models; durations become floats in days, dates stay
``datetime.date``. Defaults that are numbers carry their source in ``DEFAULT_SOURCES`` (written into
``scenario.resolved.yaml``). Field names are the words of the YAML, the engine and the CSV outputs.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

from ..units import parse_duration

MEASURES = ("sales", "servicing", "spare_parts", "software_updates")
KINDS = ("licensing", "ban", "quota")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


def _to_days(v: Any) -> float:
    return parse_duration(v)


def _to_date(v: Any) -> _dt.date:
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    if isinstance(v, str):
        try:
            return _dt.date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date like 2025-03-01, got {v!r}")


def _finite(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {v!r}")
    if isinstance(v, int) and abs(v) > 2**1023:  # too large for a float: would overflow further on
        raise ValueError(f"expected a finite number, got an integer of {len(str(abs(v)))} digits")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"expected a finite number, got {v!r}")
    return v


def _str_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


Days = Annotated[float, BeforeValidator(_to_days)]
IsoDate = Annotated[_dt.date, BeforeValidator(_to_date)]
Share = Annotated[float, BeforeValidator(_finite), Field(ge=0.0, le=1.0)]
Ident = Annotated[str, Field(pattern=_ID.pattern)]
Names = Annotated[list[str], BeforeValidator(_str_list)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Model):
    """A recorded metric crossing a threshold for a duration, e.g. Chinese mature-logic wafer output below 90%
    of its baseline for 30 days. ``metric`` is ``entity.metric`` as in ``timeseries.csv``."""

    metric: str
    below: Annotated[float, BeforeValidator(_finite)] | None = None
    above: Annotated[float, BeforeValidator(_finite)] | None = None
    relative_to: Literal["level", "baseline"] = "level"
    for_: Days = Field(default=1.0, alias="for")

    @model_validator(mode="after")
    def _one_side(self) -> "Condition":
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of 'below' or 'above'")
        return self


class Trigger(_Model):
    """What starts (or lifts) a measure: another measure's step (``after``) or a metric condition (``when``),
    then a ``delay``; it fires with ``probability`` (one draw per replication)."""

    after: str | None = None
    on: Literal["announced", "effective", "ended"] = "effective"
    when: Condition | None = None
    delay: Days = 0.0
    probability: Share = 1.0

    @model_validator(mode="after")
    def _one_cause(self) -> "Trigger":
        if (self.after is None) == (self.when is None):
            raise ValueError("give exactly one of 'after' or 'when'")
        return self


class Lift(Trigger):
    """How a measure ends early: on a ``date``, after another measure's step, or when a metric crosses."""

    on_date: IsoDate | None = Field(default=None, alias="date")

    @model_validator(mode="after")
    def _one_cause(self) -> "Lift":
        if sum(x is not None for x in (self.on_date, self.after, self.when)) != 1:
            raise ValueError("give exactly one of 'date', 'after' or 'when'")
        return self


class _Measure(_Model):
    id: Ident
    by: str
    against: Names
    description: str = ""
    announced: IsoDate | None = None
    effective: IsoDate | None = None
    ends: IsoDate | None = None
    notice: Days = 0.0
    duration: Days | None = None
    trigger: Trigger | None = None
    lift: Lift | None = None

    @model_validator(mode="after")
    def _timing(self) -> "_Measure":
        if self.trigger is None and self.effective is None:
            raise ValueError("give 'effective' (a date) or a 'trigger'")
        if self.trigger is not None and (self.announced or self.effective):
            raise ValueError("a triggered measure takes 'notice' and 'duration', not fixed dates "
                             "'announced'/'effective'")
        if self.effective is not None and self.announced is not None and self.effective < self.announced:
            raise ValueError(f"effective {self.effective} is before announced {self.announced}")
        if self.ends is not None and self.effective is not None and self.ends <= self.effective:
            raise ValueError(f"ends {self.ends} is not after effective {self.effective}")
        return self

    def announced_date(self) -> _dt.date | None:
        """The announcement date (defaults to ``effective`` when not given)."""
        return self.announced or self.effective


class Scope(_Model):
    """Which installed tools a control reaches: by vendor country, optionally narrowed to vendors, tool
    classes and fab classes (omitted = all); or by origin of content: ``content_origin`` (countries) reaches
    tools whose key modules come at least ``min_share`` from those countries, whatever the vendor's country
    (a foreign-direct-product rule), and below that share the spare parts of that origin. Give
    ``vendor_countries``, ``content_origin`` or both (both must hold)."""

    vendor_countries: Names | None = None
    vendors: Names | None = None
    tool_classes: Names | None = None
    fab_classes: Names | None = None
    content_origin: Names | None = None
    min_share: Share = 0.0

    @model_validator(mode="after")
    def _reach(self) -> "Scope":
        if not self.vendor_countries and not self.content_origin:
            raise ValueError("give 'vendor_countries' or 'content_origin' (or both)")
        if self.min_share > 0 and not self.content_origin:
            raise ValueError("'min_share' applies with 'content_origin' only")
        return self


class Control(_Measure):
    """An export control on chipmaking tools by Japan, the Netherlands, the US... against Chinese fabs.

    ``measures`` ⊂ {sales, servicing, spare_parts, software_updates}; ``compliance`` is the share of the
    restricted flow actually stopped (the rest leaks through third parties), applied once per flow (sales,
    service, parts, software), not once per measure. ``licensed_for`` lists purposes still licensed under the
    control: ``operation`` (servicing, parts, software and like-for-like replacements of the installed fleet)
    and/or ``expansion`` (new tools that add capacity), as for foreign-owned fabs after their validated
    end-user status ends."""

    against: Names = Field(default_factory=lambda: ["China"])
    measures: list[Literal["sales", "servicing", "spare_parts", "software_updates"]] = Field(min_length=1)
    scope: Scope
    compliance: Share = 1.0
    licensed_for: list[Literal["operation", "expansion"]] = Field(default_factory=list)


class Countermeasure(_Measure):
    """A Chinese export restriction on minerals against named importer regions (or ``all``).

    ``mineral`` names minerals (every stage of each) or single items; ``items``, if given, narrows the measure to
    those stages (``items: [graphite_spherical, graphite_flake]``).
    ``kind``: ``licensing`` (shipments wait ``licence_delay`` days, ``approval_share`` of them approved at each
    review; ``resubmit_share`` of the refused ones are filed again and reviewed again),
    ``ban`` (cap 0) or ``quota`` (cap ``quota_share`` × baseline flow). ``leakage`` is the share of the
    blocked flow (under licensing: of the applications refused for good) that still arrives through third
    countries."""

    by: str = "China"
    mineral: Names = Field(min_length=1)
    items: Names | None = None
    kind: Literal["licensing", "ban", "quota"]
    approval_share: Share = 0.7
    resubmit_share: Share = 0.8
    licence_delay: Days = 90.0
    licence_delay_sd: Days = 30.0
    quota_share: Share | None = None
    leakage: Share = 0.0

    @model_validator(mode="after")
    def _kind_fields(self) -> "Countermeasure":
        if self.kind == "quota" and self.quota_share is None:
            raise ValueError("kind 'quota' needs 'quota_share' (share of the baseline flow allowed, 0..1)")
        if self.kind != "quota" and self.quota_share is not None:
            raise ValueError(f"'quota_share' applies to kind 'quota' only, not {self.kind!r}")
        return self


class Output(_Model):
    """What a run writes. ``frequency``: spacing of rows in the time series (``1d`` for daily);
    ``replications``: ``mean`` writes the replication mean, ``all`` every replication."""

    frequency: Days = 7.0
    replications: Literal["mean", "all"] = "mean"
    xlsx: bool = False
    plots: bool = True


class Scenario(_Model):
    """One what-if: a world, controls, countermeasures, a horizon and how many replications."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-\.]{0,79}$")]
    description: str = ""
    start: IsoDate
    horizon: Days
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    replications: Annotated[int, Field(ge=1, le=10_000)] = 10
    world: str = "default"
    overrides: dict[str, Any] = Field(default_factory=dict)
    controls: list[Control] = Field(default_factory=list)
    countermeasures: list[Countermeasure] = Field(default_factory=list)
    output: Output = Field(default_factory=Output)
    sweep: dict[str, Any] | None = None

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, v: float, info: ValidationInfo) -> float:
        if not 1 <= v <= 50 * 365.25:
            raise ValueError(f"expected a horizon between 1d and 50y, got {v:g} days")
        start = info.data.get("start")
        if start is not None and (_dt.date.max - start).days < v + 1:
            raise ValueError(f"start {start} plus a horizon of {v:g} days runs past {_dt.date.max}")
        return v

    @property
    def days(self) -> int:
        """Horizon in whole days."""
        return int(round(self.horizon))

    @property
    def measures(self) -> list[_Measure]:
        """Controls then countermeasures, in file order."""
        return [*self.controls, *self.countermeasures]


#: Source of every numeric default above, written into scenario.resolved.yaml.
DEFAULT_SOURCES: dict[str, str] = {
    "countermeasures[].licence_delay": "90d mean (lognormal): MOFCOM review ~45 working days ≈ 63 calendar days "
                                       "(Announcement 23 [2023]); first Ga/Ge licences 2023-09-21, 51 days after "
                                       "2023-08-01 (Fastmarkets, B), i.e. the early tail; fitted on the 2023 "
                                       "gallium case within 50-120d (benchmarks/calibrate_gallium_2023.py; 100d "
                                       "until buyers' licensing orders were mended, 2026-12-08; 80d and 100d "
                                       "fail it now)",
    "countermeasures[].licence_delay_sd": "30d: assumption, range 10-40d; spread of licence decisions (fitted with "
                                          "licence_delay on the 2023 gallium case)",
    "countermeasures[].approval_share": "0.7: assumption, range 0.3-1.0; 'not a ban' (MOFCOM 2023); Chinese Ga "
                                        "exports back to 7 t/month by Dec 2023 (customs, B); Japanese imports of Ga "
                                        "from China -85% in the year after Aug 2023 (B/C); fitted on the 2023 case",
    "countermeasures[].resubmit_share": "0.8: assumption, range 0.5-1.0; share of refused licence applications "
                                        "filed again (returned for missing end-use papers, not denied): 'it took "
                                        "some time for suppliers to learn about the regulations and get files "
                                        "right' (graphite traders, Fastmarkets 2024-01, B); 'as long as "
                                        "applications are for civilian use, the government has given timely "
                                        "approval' (MOFCOM, 2025-12-04, via Reuters, B); refusals for military "
                                        "end users stay refused. With approval 0.7, 0.7 / (1 - 0.3 x 0.8) = 92% of "
                                        "applications are approved in the end, most at the first review",
    "countermeasures[].leakage": "assumption: 0 unless given; re-routing via third countries, range 0-0.3",
    "controls[].compliance": "assumption: 1 unless given; share of the restricted flow actually stopped",
    "controls[].scope.min_share": "0: any content from content_origin counts unless given (BIS de minimis "
                                  "thresholds are 25% or 0% depending on the rule; assumption)",
    "output.frequency": "7d: weekly rows keep timeseries.csv spreadsheet-sized; use 1d for daily",
}
