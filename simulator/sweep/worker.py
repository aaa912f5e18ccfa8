"""What a worker does for one run: load the scenario with the run's values, run it against its baseline, reduce
it to metrics, write its run file, and hand back a small record.

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
