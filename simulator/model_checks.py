"""Checks of a scenario that need the model itself, registered with the scenario loader.

The scenario layer (`simulator.scenario`) never imports the engine. Two checks do need it: building a run
tells which series a ``when:`` trigger may watch, and a short dry run of a user world or of overridden values
reports values the model cannot use as a located error instead of a failure deep in a run. This module sits
above both layers and adds them to :data:`simulator.scenario.load.MODEL_CHECKS` when it is imported (by
``simulator.api``, the command line and the sweep's loader: every module above both layers that loads scenarios).
"""
from __future__ import annotations

import numpy as np

from .engine import kernels
from .engine.registry import MECHANISMS
from .engine.world import build, simulate
from .scenario.errors import ScenarioError
from .scenario.errors import path_text, suggest
from .scenario.load import DRY_RUN_DAYS, MEASURE_LISTS, MODEL_CHECKS, _packaged
from .scenario.schema import Condition, Scenario
from .scenario.world_data import SECTIONS_PROVIDER, World
from .scenario.yamlsafe import Document


def _dry_run(sc: Scenario, world: World, file: str, doc: Document, set_keys: set[str]) -> int:
    """Build the model (and, for a user world or overridden values, play its first days, baseline and
    scenario) so that world values the model cannot use are reported now, naming the world or the overrides,
    instead of failing later as an internal error. Returns the number of recorded series."""

    user_world = sc.world not in _packaged()
    series = 0
    try:
        with np.errstate(all="ignore"), kernels.checks_only():
            ctx, _ = build(sc, world.values, np.random.SeedSequence(0), 0, True)
        series = len(ctx.recorder.info)
        if user_world or sc.overrides:
            short = sc.model_copy(update={"horizon": float(min(sc.days, DRY_RUN_DAYS))})
            with np.errstate(all="ignore"), kernels.checks_only():
                base = simulate(short, world.values, np.random.SeedSequence(0), 0, True)
                scen = simulate(short, world.values, np.random.SeedSequence(0), 0, False, base)
            for rec in (base, scen):
                for key, arr in rec.data.items():
                    if np.isnan(arr[:short.days]).any():
                        raise ValueError(f"series {key} is not a number (NaN) on day 1")
    except ScenarioError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, ZeroDivisionError, OverflowError,
            FloatingPointError) as exc:  # the model refuses these values: say which input to look at
        why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
        if sc.overrides:
            keys = list(sc.overrides)
            first = keys[0]
            origin = "--set" if first in set_keys else file
            mark = None if first in set_keys else doc.key_marks.get(("overrides", first))
            shown = ", ".join(keys[:3]) + (" ..." if len(keys) > 3 else "")
            raise ScenarioError(origin, mark, "overrides", f"the model cannot run with these world values "
                                f"({shown}): {why}") from None
        where = world.files[0] if user_world and world.files else file
        raise ScenarioError(where, None if user_world else doc.mark_of(("world",)), "world",
                            f"the model cannot run on world {sc.world!r}: {why}") from None
    except Exception:  # noqa: BLE001 - any other failure is the run's to report (a failed run in a sweep)
        return series
    return series



def _check_metrics(sc: Scenario, world: World, file: str, doc: Document) -> None:
    """Build one run without running it to learn the series names that `when` conditions may watch."""
    conds: list[tuple[tuple, Condition]] = []
    for kind in MEASURE_LISTS:
        for i, m in enumerate(getattr(sc, kind)):
            for key in ("trigger", "lift"):
                t = getattr(m, key)
                if t is not None and t.when is not None:
                    conds.append(((kind, i, key, "when", "metric"), t.when))
    if not conds:
        return

    ctx, _ = build(sc, world.values, np.random.SeedSequence(0), 0, True)
    keys = list(ctx.recorder.data)
    for loc, c in conds:
        if c.metric not in ctx.recorder.data:
            raise ScenarioError(file, doc.mark_of(loc), path_text(loc),
                                f"no recorded metric {c.metric!r}{suggest(c.metric, keys)}")


def model_checks(sc: Scenario, world: World, file: str, doc: Document, set_keys: set[str]) -> int:
    """Both checks; returns the number of series a run records."""
    series = _dry_run(sc, world, file, doc, set_keys)
    _check_metrics(sc, world, file, doc)
    return series


if model_checks not in MODEL_CHECKS:
    MODEL_CHECKS.append(model_checks)


def _sections() -> list[str]:
    return [m.section for m in MECHANISMS if getattr(m, "section", "")]


if not SECTIONS_PROVIDER:
    SECTIONS_PROVIDER.append(_sections)
