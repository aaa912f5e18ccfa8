"""Where each number of a reduced replication sits: the fixed layout of a :class:`~.reduce.PairSummary`.

A layout follows from the scenario and the recorded series alone (their :class:`SeriesInfo`, the same in every
replication), so the worker that reduces a replication and the parent that folds replications agree on it
without sending it along. Everything is in recording order, which is also the order of the tables.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np

from ..engine.recorder import SeriesInfo
from ..scenario.schema import Scenario
from .metrics import METRICS

#: impact metrics that expand into several columns of the summary (``peak`` gives the peak and its day)
EXPANDED = {"peak": ("peak", "peak_day")}


def impact_statistic(info: SeriesInfo) -> str:
    """Which one number sums up a series in ``impacts.csv``: a flow's total, a price's peak, a stock's low."""
    s = set(info.summary)
    if s & {"lost", "total"} or info.unit.endswith("/day"):
        return "total"
    if "peak" in s:
        return "peak"
    if "exhaustion" in s:
        return "low"
    return "mean"


def quarter_labels(start: _dt.date, days: int) -> np.ndarray:
    """``YYYYQn`` of every day of the run."""
    out = []
    for d in range(days):
        day = start + _dt.timedelta(days=d)
        out.append(f"{day.year}Q{(day.month - 1) // 3 + 1}")
    return np.array(out, dtype=object)


def gdp_regions(keys) -> list[str]:
    """Regions with a recorded ``economy.<region>.gdp`` series, in recording order."""
    return [k[len("economy."):-len(".gdp")] for k in keys
            if k.startswith("economy.") and k.endswith(".gdp") and k.count(".") == 2]


@dataclass
class Layout:
    """The shape of a reduced replication: scenario ``sc`` and the series ``info`` (key → SeriesInfo)."""

    sc: Scenario
    info: Mapping[str, SeriesInfo]

    @cached_property
    def keys(self) -> list[str]:
        """Every recorded ``entity.metric``, in recording order (rows of the bucketed series)."""
        return list(self.info)

    @cached_property
    def step(self) -> int:
        """Days per row of the time series (``output.frequency`` rounded, at least 1)."""
        return max(1, int(round(self.sc.output.frequency)))

    @cached_property
    def periods(self) -> np.ndarray:
        """First day (0-based) of every period of ``step`` days; the last period may be shorter."""
        return np.arange(0, self.sc.days, self.step)

    @cached_property
    def dates(self) -> list[str]:
        """ISO date of the first day of every period."""
        return [(self.sc.start + _dt.timedelta(days=int(d))).isoformat() for d in self.periods]

    @cached_property
    def metric_slots(self) -> list[tuple[str, str, str]]:
        """``(key, metric name, kind)`` of every impact metric of every series, summary order."""
        out = []
        for key, info in self.info.items():
            for name in info.summary:
                for m in EXPANDED.get(name, (name,)):
                    out.append((key, m, METRICS[m][1]))
        return out

    @cached_property
    def impact_keys(self) -> list[str]:
        """Series with impact metrics (one row each in ``impacts.csv``), recording order."""
        return [k for k, i in self.info.items() if i.summary]

    @cached_property
    def plot_keys(self) -> list[str]:
        """Series a chart may draw (see ``report.plots.chart_groups``): headline series, the ``price_china``
        sibling of a headline ``price_ex_china``, and days of cover of entities the scenario names."""
        from .relevance import entity_score, scenario_words
        words = scenario_words(self.sc)
        named = {i.entity for i in self.info.values() if i.summary and entity_score(i.entity, words, i.headline) > 0}
        out = []
        for k, i in self.info.items():
            if i.headline or (i.metric == "days_of_cover" and i.entity in named and "." in i.entity):
                out.append(k)
                sib = f"{i.entity}.price_china"
                if i.headline and i.metric == "price_ex_china" and sib in self.info:
                    out.append(sib)
        return list(dict.fromkeys(out))

    @cached_property
    def regions(self) -> list[str]:
        """Regions whose daily GDP is summed to quarters."""
        return gdp_regions(self.keys)

    @cached_property
    def quarter_masks(self) -> list[tuple[str, np.ndarray]]:
        """``(YYYYQn, day mask)`` of every calendar quarter the run touches, in time order."""
        labels = quarter_labels(self.sc.start, self.sc.days)
        return [(q, labels == q) for q in dict.fromkeys(labels)]
