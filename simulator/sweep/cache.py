"""Loading one scenario many times: world files parsed once per process, a point's scenario loaded once.

A sweep loads the scenario once per parameter point to validate it (in the parent) and once per run (in the
worker). Parsing the world's YAML dominates that cost, and it is the same for every point, so
:func:`load_point` keeps one parsed copy of each world per process (keyed by name, folder and file times) and
hands the loader a deep copy, which the loader's overrides then change. In a worker, the loaded scenario of the
last few points is kept too, so the replications of one point load it once; a run's own seed is set on a copy.
Results are the same as with a plain ``load_scenario``: the world is copied, never shared.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ..scenario import load as _load
from ..scenario.load import LoadedScenario
from ..scenario.world_data import World, load_world

_WORLDS: dict[tuple, World] = {}
_POINTS: "OrderedDict[tuple, LoadedScenario]" = OrderedDict()
_LOCK = threading.RLock()
POINTS_KEPT = 8


def _world_key(name: str, base_dir: Path | None) -> tuple:
    p = Path(name)
    if base_dir is not None and not p.is_absolute():
        p = Path(base_dir) / p
    stamp: tuple = ()
    try:
        files = sorted(p.glob("*.yaml")) if p.is_dir() else ([p] if p.is_file() else [])
        stamp = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    except OSError:
        pass
    return (name, str(base_dir), stamp)


def _cached_world(name: str, base_dir: Path | None = None) -> World:
    key = _world_key(name, base_dir)
    w = _WORLDS.get(key)
    if w is None:
        w = _WORLDS[key] = load_world(name, base_dir)   # errors propagate uncached, as without the cache
    return w.copy()


def load(file: str, sets: list[str] | tuple[str, ...]) -> LoadedScenario:
    """``load_scenario(file, sets)`` with the world parsed once per process."""
    with _LOCK:
        saved = _load.load_world
        _load.load_world = _cached_world
        try:
            return _load.load_scenario(file, list(sets))
        finally:
            _load.load_world = saved


def load_point(file: str, point_sets: tuple[str, ...]) -> LoadedScenario:
    """The loaded scenario of one parameter point, kept for the next runs of the same point."""
    key = (file, Path(file).stat().st_mtime_ns if Path(file).exists() else 0, tuple(point_sets))
    with _LOCK:
        hit = _POINTS.get(key)
        if hit is not None:
            _POINTS.move_to_end(key)
            return hit
        loaded = load(file, point_sets)
        _POINTS[key] = loaded
        while len(_POINTS) > POINTS_KEPT:
            _POINTS.popitem(last=False)
        return loaded
