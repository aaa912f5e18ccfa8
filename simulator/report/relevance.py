"""What a scenario is about: a score per recorded entity, used to order impacts, the terminal table, the
report page and the charts.

The score is read from the scenario's measures, never from a list of today's entity names, so it keeps working
when the model grows new parts. The words a scenario uses (the minerals of its countermeasures, the regions
they target, the controlling countries, vendor countries, vendors, tool and fab classes of its controls) are
matched against the parts of an entity's name (``industries.japan_cars`` → ``industries``, ``japan``,
``cars``; ``gallium.Japan`` → ``gallium``, ``japan``). Chip-tool controls make the ``fabs`` and ``vendors``
parts relevant; headline series (``SeriesInfo.headline``) always rank first.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from ..scenario.schema import Scenario

HEADLINE = 100.0     # a headline series outranks any word match
MINERAL = 5.0        # entity of a mineral a countermeasure restricts
REGION = 3.0         # entity of a region a measure names (as target or actor, China excepted)
CONTROL_PART = 6.0   # fabs / vendors entities when the scenario has chip-tool controls
SCOPE = 2.0          # vendor, tool class or fab class named in a control's scope


def tokens(name: str) -> set[str]:
    """Lower-case word parts of an entity or metric name (split at dots and underscores)."""
    return {t for t in re.split(r"[._\s-]+", name.lower()) if t}


def _words_of(names: Iterable[str] | None) -> set[str]:
    return {t for n in names or () for t in tokens(n) if t != "all"}


def region_words(sc: Scenario) -> set[str]:
    """The word parts of the regions the scenario's measures name: the targets of its countermeasures, the
    countries of its controls and their vendors' countries; China excepted, the other side of almost every
    measure (naming it says little about which entity matters)."""
    words: set[str] = set()
    for cm in sc.countermeasures:
        words |= _words_of(cm.against)
    for c in sc.controls:
        words |= _words_of([c.by]) | _words_of(c.scope.vendor_countries)
    return words - {"china"}


def scenario_words(sc: Scenario) -> dict[str, float]:
    """Words the scenario's measures use, each with the weight a match adds to an entity's score."""
    words: dict[str, float] = {}

    def add(found: set[str], weight: float) -> None:
        for t in found:
            words[t] = max(words.get(t, 0.0), weight)

    for cm in sc.countermeasures:
        add({m.lower() for m in cm.mineral}, MINERAL)
    add(region_words(sc), REGION)
    for c in sc.controls:
        add(_words_of(c.scope.vendors) | _words_of(c.scope.tool_classes) | _words_of(c.scope.fab_classes), SCOPE)
        add({"fabs", "vendors"}, CONTROL_PART)
    words.pop("china", None)
    return words


def matched(entity: str, words: Mapping[str, float]) -> list[str]:
    """The scenario words found in an entity's name."""
    toks = tokens(entity)
    joined = entity.lower()
    # whole word parts, or a longer word inside the name ('graphite_natural' in 'graphite_natural.Japan')
    return [w for w in words if w in toks or (len(w) > 4 and w in joined)]


def entity_score(entity: str, words: Mapping[str, float], headline: bool = False) -> float:
    """Relevance of one entity: headline bonus plus the weights of the scenario words in its name."""
    return (HEADLINE if headline else 0.0) + sum(words[w] for w in matched(entity, words))


def order_keys(keys: list[str], entity_of: Mapping[str, str], headline: set[str], sc: Scenario) -> list[str]:
    """``keys`` (``entity.metric`` names) sorted most relevant first; ties keep the recorder's order."""
    words = scenario_words(sc)
    pos = {k: i for i, k in enumerate(keys)}
    return sorted(keys, key=lambda k: (-entity_score(entity_of[k], words, k in headline), pos[k]))
