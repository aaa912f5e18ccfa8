"""What a worker does for one run: load the scenario with the run's values, run it against its baseline, reduce
it to metrics, write its run file, and hand back a small record. A task may carry several runs
(:func:`execute_batch`): runs of one world (a point's replications; points that differ only in measure values)
are then stepped together as lanes of one batch, with the same numbers as one by one, and the per-task overhead
of an executor (Dask's above all) is paid once for them all.

A run that raises does not stop the sweep: the exception becomes data (``status: failed``, the error line and
the traceback in the run file), as desmod and Mesa's scenario runner do. Only metrics leave the worker, never
the daily series, so the memory of the sweep does not grow with the number of runs.
"""
from __future__ import annotations

import math
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable

from .. import day_meter
from . import store
from .runspec import RunSpec

if TYPE_CHECKING:
    from ..report.table import Table


def headline_metrics(summary: "Table", info) -> dict[str, float]:
    """``{entity.metric: value}`` of the summary rows of headline series (p50; a run has one replication)."""
    out: dict[str, float] = {}
    for entity, metric, p50, mean in zip(*(summary.column(c) for c in ("entity", "metric", "p50", "mean"))):
        si = info.get(f"{entity}.{str(metric).rsplit('.', 1)[0]}")
        if si is not None and si.headline:
            out[f"{entity}.{metric}"] = float(p50 if not (isinstance(p50, float) and math.isnan(p50)) else mean)
    return out


SUMMARY_FIELDS = ("entity", "metric", "unit", "baseline", "mean", "change_pct")   #: kept in a run's file


def _summary_rows(summary: "Table") -> store.Encoded:
    """The summary's rows as the run file holds them (a row a mapping of :data:`SUMMARY_FIELDS`; NaN and
    infinities as null), encoded for the store (``store.rows_json``)."""
    return store.rows_json({c: summary.column(c) for c in SUMMARY_FIELDS})


def simulate_runs(specs: list[RunSpec]) -> list[tuple[dict[str, float], store.Encoded]]:
    """Run scenario + baseline pairs, each with its run's seed and one replication, stepped together (the runs
    must share their world and calendar, see :func:`_lane_key`); returns (headline metrics, all summary rows,
    encoded) per run. Same as loading each with ``--set seed=<seed> --set replications=1``."""
    import copy
    from ..engine.streams import replication_seeds
    from ..report import frames
    from ..report.fold import Reduced
    from ..report.reduce import Reducer
    from ..runner import run_runs
    from .cache import load_point
    runs = []
    for s in specs:
        loaded = load_point(s.scenario_file, s.sets)
        sc = loaded.scenario.model_copy(update={"seed": s.seed, "replications": 1})
        runs.append((0, sc, replication_seeds(s.seed, 1)[0]))
    world = copy.deepcopy(load_point(specs[0].scenario_file, specs[0].sets).world.values)
    out = []
    folds = run_runs(runs, world, Reducer(runs[0][1], daily=False))
    day_meter.settle()          # the task's next batch, if any, counts on from these runs' days
    for (_, sc, _), folded in zip(runs, folds):
        summary = frames.summary_table(sc, Reduced(sc, [folded]))    # plain columns: no DataFrame a run
        out.append((headline_metrics(summary, folded.info), _summary_rows(summary)))
    return out


def _store(spec: RunSpec, runtime_s: float, **result: Any) -> dict[str, Any]:
    """Write the run file of ``spec`` with its ``result`` (status, error, metrics, summary[, traceback]) and
    return the small record the parent keeps (status, error and headline metrics, as stored: the sweep's tables
    need no more, so the parent does not read back the run files of this session)."""
    record = {"run_id": spec.run_id, "params": dict(spec.params), "replication": spec.replication,
              "seed": spec.seed, **result, "runtime_s": round(runtime_s, 6)}
    stored = store.write_run(spec.out, record)
    return {"run_id": spec.run_id, "status": stored["status"], "error": stored["error"],
            "metrics": stored["metrics"]}


def execute(spec: RunSpec) -> dict[str, Any]:
    """Do one run, store its record in ``DIR/runs/<id>.json``, return ``{run_id, status, error}``."""
    t0 = time.perf_counter()
    try:
        (metrics, rows), = simulate_runs([spec])
        result = dict(status=store.SUCCEEDED, error="", metrics=metrics, summary=rows)
    except Exception as exc:  # a failing run is a result, not the end of the sweep
        line = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        result = dict(status=store.FAILED, error=line, metrics={}, summary=[], traceback=traceback.format_exc())
    return _store(spec, time.perf_counter() - t0, **result)


def execute_task(specs: list[RunSpec], slot: int, listener: Callable[[], None] | None = None
                 ) -> list[dict[str, Any]]:
    """:func:`execute_batch` of one task, its days counted in ``slot`` of the progress board
    (``simulator.day_meter``: read by the parent where this process was forked from it; ``listener``: called
    after each count, where the task runs in the parent itself)."""
    with day_meter.counting(slot, listener):
        return execute_batch(specs)


def execute_batch(specs: list[RunSpec]) -> list[dict[str, Any]]:
    """Do several runs (one task). Runs that share their world and calendar — the replications of a point, and
    points that differ only in the values of measures (compliance, leakage, dates of the same length...) — are
    stepped together as lanes of one batch, runs with the same seed sharing one baseline lane; the numbers are
    those of the runs one by one. A batch that fails is done again run by run, so each failure lands in its
    own run's file. Returns the records of :func:`execute`, in order."""
    from .cache import load_point
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(specs):
        try:
            key = _lane_key(load_point(s.scenario_file, s.sets))
        except Exception:  # noqa: BLE001 - the run itself will report it
            key = ("alone", i)
        groups.setdefault(key, []).append(i)
    records: list[dict[str, Any]] = [{}] * len(specs)
    for idx in groups.values():
        group = [specs[i] for i in idx]
        done = _execute_together(group) if len(group) > 1 else [execute(group[0])]
        for i, rec in zip(idx, done):
            records[i] = rec
    return records


def _lane_key(loaded) -> tuple:
    """What runs must share to be lanes of one batch: the world's values and the calendar (start, horizon,
    spin-up before start)."""
    from ..runner import spin_up_days
    sc = loaded.scenario
    return (loaded.file, sc.start, sc.horizon, spin_up_days(sc), _world_key(loaded.world.values))


def _world_key(values: Any) -> bytes | str:
    """A key equal for equal world values: the SHA-256 of their pickle (0.3 ms for the default world where its
    canonical JSON took 1.0 ms, 2026-12-07). Equal values pickled apart may differ (the order of a mapping's
    keys, shared references): runs of such worlds go in two batches, with the same numbers. Values that do
    not pickle give their canonical JSON."""
    import hashlib
    import pickle
    try:
        return hashlib.sha256(pickle.dumps(values, protocol=5)).digest()
    except Exception:  # noqa: BLE001 - any value pickle refuses
        from .runspec import _canon
        return _canon(values)


def _execute_together(group: list[RunSpec]) -> list[dict[str, Any]]:
    """Runs of one world and calendar, stepped together; on any failure, run by run."""
    t0 = time.perf_counter()
    try:
        done = simulate_runs(group)
    except Exception:  # noqa: BLE001 - find out which run fails, and record each failure where it belongs
        return [execute(s) for s in group]
    each = (time.perf_counter() - t0) / len(group)
    return [_store(s, each, status=store.SUCCEEDED, error="", metrics=metrics, summary=rows)
            for s, (metrics, rows) in zip(group, done)]
