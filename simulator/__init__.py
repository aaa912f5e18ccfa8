"""Retaliation scenario simulator: chip-tool export controls, Chinese mineral countermeasures, and their
knock-on effects on wafer output, mineral prices and downstream production.

Public API: :func:`load_scenario`, :func:`run` (see ``simulator.api``), :func:`compare` (two result folders),
and the sweep runner in :mod:`simulator.sweep`. Each is imported on first use: importing the package (which
Python does before any of its modules, the ``simulate`` command's included) loads nothing else, so the command
is in its own code within ~0.1 s of starting and reports a Ctrl-C at any point after that as an interruption
(:func:`simulator.cli.main`), and commands that need no tables never load pandas. The model's checks of a
scenario are registered with the loader by :mod:`simulator.model_checks`, which every module that loads
scenarios imports (``simulator.api``, the command line, the sweep's loader).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"   # the same as simulator.api.VERSION
__all__ = ["run", "load_scenario", "compare", "Result", "__version__"]

_LAZY = {"run": ("api", "run"), "Result": ("api", "Result"), "load_scenario": ("api", "load_scenario"),
         "compare": ("report.compare", "compare")}


def __getattr__(name: str) -> Any:
    """``simulator.run`` / ``Result`` / ``load_scenario`` / ``compare``, imported when first asked for."""
    if name in _LAZY:
        import importlib
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
