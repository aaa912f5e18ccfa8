"""``scenario.resolved.yaml``: the scenario as validated, every default filled in, and every world parameter
with its unit and its source (a document, an override, or a labelled assumption)."""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import yaml

from ..scenario.load import LoadedScenario
from ..scenario.schema import DEFAULT_SOURCES
from ..units import format_duration

_DURATION_FIELDS = {"horizon", "notice", "duration", "delay", "for", "licence_delay", "licence_delay_sd",
                    "frequency"}


def _plain(obj: Any, key: str = "") -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v, key) for v in obj]
    if isinstance(obj, (_dt.date,)):
        return obj.isoformat()
    if isinstance(obj, float) and key in _DURATION_FIELDS:
        return format_duration(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def resolved(loaded: LoadedScenario) -> dict:
    """The resolved scenario as plain data, ready for YAML."""
    sc = loaded.scenario
    body = _plain(sc.model_dump(by_alias=True, exclude_none=True))
    params = {}
    for path in loaded.world.paths():
        entry = {"value": _plain(loaded.world.get(path))}
        entry.update(loaded.world.provenance.get(path, {"source": "structure (no number)"}))
        params[path] = _plain(entry)
    return {"scenario": body, "defaults": DEFAULT_SOURCES, "world_files": loaded.world.files,
            "parameters": params}


def dump(data: dict) -> str:
    """YAML text of ``data``; libyaml's emitter where PyYAML has it (same bytes, ~5x faster: 0.06 s against
    0.30 s for a resolved scenario)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=110)
