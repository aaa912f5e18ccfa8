"""A tiny hand-made world for the market and industry mechanism tests: one mineral, ``testium``, in three stages.

``testium_ore`` is mined in Africa and China; Africa ships ore to China (refined there) and a little to
Southeast_Asia. ``testium_metal`` (1.1 t ore per t metal) is refined in China and, with a small refinery, in
Southeast_Asia; China ships metal to Japan and the US, Southeast_Asia to Japan, and the US re-exports some of its
Chinese metal to Japan (the path origin tracing must close under a ban). ``testium_magnet`` (0.3 t metal per t
magnet) is made in China and Japan; China ships magnets to Japan and the US, Japan to the US. Two sectors buy
them: Japanese motors (magnets critical, metal only a cost) and US motors.

Volumes are in t/year, chosen so every item and region balances exactly (no loader adjustment); the behavioural
parameters are the default world's ``minerals.common``. ``world()`` returns a fresh deep copy to modify.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from simulator.engine.recorder import Recorder
from simulator.engine.world import simulate
from simulator.scenario.schema import Scenario
from simulator.scenario.world_data import load_world

START = "2026-01-01"
ANNOUNCED_DAY = 5           # 2026-01-06
EFFECTIVE_DAY = 31          # 2026-02-01
Y = 365.25


def _edge(flow: float, days: float) -> dict[str, float]:
    return {"flow": flow, "transport_days": days}


def _ore() -> dict[str, Any]:
    return {
        "mineral": "testium", "stage": "ore", "unit": "t", "price_unit": "USD/kg",
        "price": {"reference": {2024: {"ex_china": 10.0, "china": 9.0}}, "alpha": 1.0},
        "regions": {
            # 1120 mined = 900 to China + 99 to Southeast_Asia + 121 final
            "Africa": {"capacity": 1400.0, "utilisation": 0.8, "consumption": 121.0, "cover_days": 60.0},
            # 1200 mined + 900 imported = 1.1 x 1760 metal (1936) + 164 final
            "China": {"capacity": 1500.0, "utilisation": 0.8, "consumption": 164.0, "cover_days": 30.0},
            # 99 imported = 1.1 x 90 metal
            "Southeast_Asia": {"cover_days": 60.0},
        },
        "edges": {"Africa_to_China": _edge(900.0, 20.0), "Africa_to_Southeast_Asia": _edge(99.0, 15.0)},
    }


def _metal() -> dict[str, Any]:
    return {
        "mineral": "testium", "stage": "metal", "unit": "t", "price_unit": "USD/kg",
        "feeds": {"testium_ore": 1.1},
        "price": {"reference": {2020: {"ex_china": 100.0, "china": 95.0}, 2024: {"ex_china": 150.0, "china": 140.0}},
                  "alpha": 1.2, "alpha_china": 1.5, "ceiling_ratio": 5.0},
        "regions": {
            # 1760 refined = 700 exported + 0.3 x 2400 magnets (720) + 340 final
            "China": {"capacity": 2200.0, "utilisation": 0.8, "consumption": 340.0, "cover_days": 30.0},
            # 90 refined = 60 to Japan + 30 final
            "Southeast_Asia": {"capacity": 100.0, "utilisation": 0.9, "consumption": 30.0, "cover_days": 60.0},
            # 400 + 60 + 50 imported + 0.1 x 300 recycled = 300 final + 0.3 x 800 magnets (240)
            "Japan": {"consumption": 300.0, "recycling_share": 0.1, "cover_days": 90.0, "strategic_days": 60.0},
            # 300 imported = 50 re-exported to Japan + 250 final
            "US": {"consumption": 250.0, "cover_days": 60.0},
        },
        "edges": {"China_to_Japan": _edge(400.0, 10.0), "China_to_US": _edge(300.0, 30.0),
                  "Southeast_Asia_to_Japan": _edge(60.0, 10.0), "US_to_Japan": _edge(50.0, 20.0)},
        "projects": {
            "Southeast_Asia_restart": {"region": "Southeast_Asia", "kind": "restart", "capacity": 200.0,
                                       "lead_time": 120.0, "lead_time_sd": 0.0, "ramp_days": 60.0,
                                       "long_run_cost": 180.0},
        },
    }


def _magnet() -> dict[str, Any]:
    return {
        "mineral": "testium", "stage": "magnet", "unit": "t", "price_unit": "USD/kg",
        "feeds": {"testium_metal": 0.3},
        "price": {"reference": {2024: {"ex_china": 50.0, "china": 45.0}}, "alpha": 1.0},
        "regions": {
            # 2400 made = 800 exported + 1600 final
            "China": {"capacity": 3000.0, "utilisation": 0.8, "consumption": 1600.0, "cover_days": 30.0},
            # 800 made + 300 imported - 100 exported = 1000 final
            "Japan": {"capacity": 1000.0, "utilisation": 0.8, "consumption": 1000.0, "cover_days": 60.0},
            # 500 + 100 imported = 600 final
            "US": {"consumption": 600.0, "cover_days": 45.0},
        },
        "edges": {"China_to_Japan": _edge(300.0, 10.0), "China_to_US": _edge(500.0, 30.0),
                  "Japan_to_US": _edge(100.0, 20.0)},
    }


def _industries() -> dict[str, Any]:
    return {"sectors": {
        "jp_motors": {"region": "Japan", "unit": "units", "capacity_per_year": 1000.0 * Y, "utilisation": 1.0,
                      "unit_value_usd": 100.0,
                      "inputs": {"testium_magnet": {"dependent_share": 0.6, "cost_share": 0.05},
                                 "testium_metal": {"dependent_share": 0.0, "cost_share": 0.1}}},
        "jp_coatings": {"region": "Japan", "unit": "USD", "capacity_per_year": 500.0 * Y, "utilisation": 1.0,
                        "unit_value_usd": 1.0,
                        "inputs": {"testium_metal": {"dependent_share": 0.0, "cost_share": 0.1}}},
        "us_motors": {"region": "US", "unit": "units", "capacity_per_year": 2000.0 * Y, "utilisation": 1.0,
                      "unit_value_usd": 100.0,
                      "inputs": {"testium_magnet": {"dependent_share": 1.0, "cost_share": 0.05}}},
    }}


_COMMON: dict[str, Any] | None = None


def common() -> dict[str, Any]:
    """A copy of the default world's ``minerals.common`` (behavioural parameters)."""
    global _COMMON
    if _COMMON is None:
        _COMMON = load_world("default").values["minerals"]["common"]
    return copy.deepcopy(_COMMON)


def world(industries: bool = True) -> dict[str, Any]:
    """A fresh tiny world (plain values, as ``load_world(...).values`` gives)."""
    w: dict[str, Any] = {"minerals": {"common": common(), "testium_ore": _ore(), "testium_metal": _metal(),
                                      "testium_magnet": _magnet()}}
    if industries:
        w["industries"] = _industries()
    return w


def measure(**kw: Any) -> dict[str, Any]:
    """A countermeasure (a metal ban on Japan, announced day 5, in force from day 31) with ``kw`` overriding."""
    m = {"id": "cm", "against": ["Japan"], "mineral": "testium", "items": ["testium_metal"], "kind": "ban",
         "announced": "2026-01-06", "effective": "2026-02-01"}
    m.update(kw)
    return {k: v for k, v in m.items() if v is not None}


def scenario(measures: list[dict], horizon: str = "1y", start: str = START) -> Scenario:
    return Scenario.model_validate({"name": "t", "start": start, "horizon": horizon, "countermeasures": measures})


def run(w: dict[str, Any], measures: list[dict], horizon: str = "1y", seed: int = 1,
        start: str = START) -> tuple[Recorder, Recorder]:
    """The paired baseline and scenario runs of ``measures`` on world ``w``."""
    sc = scenario(measures, horizon, start)
    base = simulate(sc, w, np.random.SeedSequence(seed), 0, True)
    return base, simulate(sc, w, np.random.SeedSequence(seed), 0, False, base)


def events(rec: Recorder, event: str, entity: str | None = None) -> list[float]:
    """Days of the recorded events named ``event`` (of ``entity`` if given)."""
    return [e.day for e in rec.events if e.event == event and (entity is None or e.entity == entity)]


def no_spot(w: dict[str, Any]) -> dict[str, Any]:
    """``w`` without the ex-China spot market."""
    w["minerals"]["common"]["spot"]["capacity_share"] = 0.0
    return w


def _set(w: dict[str, Any], path: str, value: Any) -> None:
    node = w
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value


_CACHE: dict[str, tuple[Recorder, Recorder]] = {}


def run_tw(measures: list[dict], tweaks: dict[str, Any] | None = None, horizon: str = "1y", seed: int = 1,
           industries: bool = True) -> tuple[Recorder, Recorder]:
    """:func:`run` on the tiny world with ``tweaks`` (dotted path → value) applied, cached by its arguments
    (callers must not modify the returned recorders)."""
    import json
    key = json.dumps([measures, tweaks or {}, horizon, seed, industries], sort_keys=True, default=str)
    if key not in _CACHE:
        w = world(industries)
        for path, value in (tweaks or {}).items():
            _set(w, path, value)
        _CACHE[key] = run(w, measures, horizon, seed)
    return _CACHE[key]


def default_world(*sections: str) -> dict[str, Any]:
    """The default world's plain values, restricted to ``sections`` (all if none given)."""
    v = load_world("default").values
    return copy.deepcopy({k: v[k] for k in (sections or tuple(v))})
