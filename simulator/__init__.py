"""Retaliation scenario simulator: chip-tool export controls, Chinese mineral countermeasures, and their
knock-on effects on wafer output, mineral prices and downstream production.

Public API: :func:`load_scenario`, :func:`run` (see ``simulator.api``), :func:`compare` (two result folders),
and the sweep runner in :mod:`simulator.sweep`.
"""
from .api import VERSION as __version__
from .api import Result, run
from .report.compare import compare
from .scenario.load import load_scenario
from . import model_checks  # noqa: F401  (registers the checks that need the model with the loader)

__all__ = ["run", "load_scenario", "compare", "Result", "__version__"]
