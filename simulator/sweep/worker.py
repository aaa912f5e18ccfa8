"""What a worker does for one run: load the scenario with the run's values, run it against its baseline, reduce
it to metrics, write its run file, and hand back a small record. A task may carry several runs
(:func:`execute_batch`): the runs of one point (its replications) are then stepped together as lanes of one
batch, with the same numbers as one by one, and the per-task overhead of an executor (Dask's above all) is paid
once for them all.

A run that raises does not stop the sweep: the exception becomes data (``status: failed``, the error line and
the traceback in the run file), as desmod and Mesa's scenario runner do. Only metrics leave the worker, never
the daily series, so the memory of the sweep does not grow with the number of runs.
"""
from __future__ import annotations

import math
import time
import traceback
from typing import Any

from . import store
from .runspec import RunSpec


def headline_metrics(summary, info) -> dict[str, float]:
    """``{entity.metric: value}`` of the summary rows of headline series (p50; a run has one replication)."""
    out: dict[str, float] = {}
    for row in summary.itertuples(index=False):
        series_metric = str(row.metric).rsplit(".", 1)[0]
        si = info.get(f"{row.entity}.{series_metric}")
        if si is not None and si.headline:
            v = row.p50 if not (isinstance(row.p50, float) and math.isnan(row.p50)) else row.mean
            out[f"{row.entity}.{row.metric}"] = float(v)
    return out


def _summary_rows(summary) -> list[dict[str, Any]]:
    cols = ["entity", "metric", "unit", "baseline", "mean", "change_pct"]
    return [{c: (getattr(r, c).item() if hasattr(getattr(r, c), "item") else getattr(r, c)) for c in cols}
            for r in summary.itertuples(index=False)]


def simulate_run(spec: RunSpec) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Run one scenario + baseline pair with the run's seed and one replication; returns (headline metrics,
    all summary rows). Same as loading with ``--set seed=<seed> --set replications=1``."""
    import copy
    from ..report import frames
    from ..runner import run_pair
    from .cache import load_point
    loaded = load_point(spec.scenario_file, spec.sets)
    sc = loaded.scenario.model_copy(update={"seed": spec.seed, "replications": 1})
    pair = run_pair(sc, copy.deepcopy(loaded.world.values), 0)
    summary = frames.summary(sc, [pair])
    return headline_metrics(summary, pair.scenario.info), _summary_rows(summary)


def execute(spec: RunSpec) -> dict[str, Any]:
    """Do one run, store its record in ``DIR/runs/<id>.json``, return ``{run_id, status, error}``."""
    t0 = time.perf_counter()
    record: dict[str, Any] = {"run_id": spec.run_id, "params": dict(spec.params), "replication": spec.replication,
                              "seed": spec.seed}
    try:
        metrics, rows = simulate_run(spec)
        record.update(status=store.SUCCEEDED, error="", metrics=metrics, summary=rows)
    except Exception as exc:  # a failing run is a result, not the end of the sweep
        line = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        record.update(status=store.FAILED, error=line, metrics={}, summary=[],
                      traceback=traceback.format_exc())
    record["runtime_s"] = round(time.perf_counter() - t0, 6)
    store.write_run(spec.out, record)
    return {"run_id": spec.run_id, "status": record["status"], "error": record["error"]}


def execute_batch(specs: list[RunSpec]) -> list[dict[str, Any]]:
    """Do several runs (one task); runs of the same point are stepped together as lanes. A batch that fails
    is done again run by run, so each failure lands in its own run's file. Returns the records of
    :func:`execute`, in order."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(specs):
        j = i + 1
        while j < len(specs) and specs[j].sets == specs[i].sets and specs[j].scenario_file == specs[i].scenario_file:
            j += 1
        group = specs[i:j]
        out.extend(_execute_point(group) if len(group) > 1 else [execute(group[0])])
        i = j
    return out


def _execute_point(group: list[RunSpec]) -> list[dict[str, Any]]:
    """The runs of one point (different seeds), stepped together; on any failure, run by run."""
    import copy
    from ..engine.streams import replication_seeds
    from ..report import frames
    from ..runner import run_batch
    from .cache import load_point
    t0 = time.perf_counter()
    try:
        loaded = load_point(group[0].scenario_file, group[0].sets)
        sc = loaded.scenario.model_copy(update={"replications": 1})
        seeds = [replication_seeds(s.seed, 1)[0] for s in group]
        pairs = run_batch(sc, copy.deepcopy(loaded.world.values), [0] * len(group), seeds)
        done = []
        for s, pair in zip(group, pairs):
            summary = frames.summary(sc.model_copy(update={"seed": s.seed}), [pair])
            done.append((s, headline_metrics(summary, pair.scenario.info), _summary_rows(summary)))
    except Exception:  # noqa: BLE001 - find out which run fails, and record each failure where it belongs
        return [execute(s) for s in group]
    each = (time.perf_counter() - t0) / len(group)
    records = []
    for s, metrics, rows in done:
        record = {"run_id": s.run_id, "params": dict(s.params), "replication": s.replication, "seed": s.seed,
                  "status": store.SUCCEEDED, "error": "", "metrics": metrics, "summary": rows,
                  "runtime_s": round(each, 6)}
        store.write_run(s.out, record)
        records.append({"run_id": s.run_id, "status": record["status"], "error": ""})
    return records
