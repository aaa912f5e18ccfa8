"""Loading one scenario many times: a point's scenario loaded once per worker.

A sweep loads the scenario once per parameter point to validate it (in the parent) and once per run (in the
worker). The world's YAML is parsed once per process by ``world_data.load_world`` (which hands out copies);
in a worker, the loaded scenario of the last few points is kept too, so the replications of one point load it
once; a run's own seed is set on a copy.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from .. import model_checks  # noqa: F401  (registers the checks that need the model with the loader)
from ..scenario import load as _load
from ..scenario.load import LoadedScenario

_POINTS: "OrderedDict[tuple, LoadedScenario]" = OrderedDict()
_LOCK = threading.RLock()
POINTS_KEPT = 64      #: at least a sweep task's runs (batch.MAX_TASK_RUNS), each of which may be a point


def load(file: str, sets: list[str] | tuple[str, ...], model_checks: bool = True) -> LoadedScenario:
    """``load_scenario(file, sets)``; the world itself is parsed once per process by ``load_world``."""
    return _load.load_scenario(file, list(sets), model_checks)


def load_point(file: str, point_sets: tuple[str, ...]) -> LoadedScenario:
    """The loaded scenario of one parameter point, kept for the next runs of the same point. The model checks
    are not run again: the sweep's plan ran them for this point's input (see ``batch.make_plan``)."""
    key = (file, Path(file).stat().st_mtime_ns if Path(file).exists() else 0, tuple(point_sets))
    with _LOCK:
        hit = _POINTS.get(key)
        if hit is not None:
            _POINTS.move_to_end(key)
            return hit
        loaded = load(file, point_sets, model_checks=False)
        _POINTS[key] = loaded
        while len(_POINTS) > POINTS_KEPT:
            _POINTS.popitem(last=False)
        return loaded
