"""Retaliation scenario simulator: chip-tool export controls, Chinese mineral countermeasures, and their
knock-on effects on wafer output, mineral prices and downstream production.

Public API: :func:`load_scenario`, :func:`run` (see ``simulator.api``), :func:`compare` (two result folders),
and the sweep runner in :mod:`simulator.sweep`. ``run``, ``Result`` and ``compare`` are imported on first use,
so commands that need no tables (``simulate --help``, ``simulate validate``) never load pandas.
"""
from __future__ import annotations

from typing import Any

from . import model_checks  # noqa: F401  (registers the checks that need the model with the loader)
from .scenario.load import load_scenario

__version__ = "0.1.0"   # the same as simulator.api.VERSION
__all__ = ["run", "load_scenario", "compare", "Result", "__version__"]

_LAZY = {"run": ("api", "run"), "Result": ("api", "Result"), "compare": ("report.compare", "compare")}


def __getattr__(name: str) -> Any:
    """``simulator.run`` / ``Result`` / ``compare``, imported when first asked for."""
    if name in _LAZY:
        import importlib
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
