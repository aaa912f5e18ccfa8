"""The sweep's tables, from the run files, each read once; what is kept per run is its headline metrics.

- ``runs.csv`` — one row per run: run_id, point, the swept parameters, replication, seed, status, error, then one
  column per headline metric (``entity.metric``, e.g. ``china_mature.wafer_output.lost``).
- ``summary.csv`` — one row per parameter point × metric: the parameters, succeeded and failed runs, mean, p05,
  p50, p95 across replications.
- ``experiments.csv`` / ``outcomes.csv`` — EMA Workbench's layout for scenario discovery (PRIM, CART): one row per
  succeeded run in both files, the same order; experiments hold the parameters plus ``scenario`` (the point),
  ``policy`` (the scenario's name) and ``model``; outcomes one column per metric.
- ``sensitivity.csv`` — with ``--sensitivity``: indices per metric and parameter (see ``sensitivity.py``).

Rows follow the design (point, then replication), metric columns are sorted by name, floats are written
``%.10g``: the same runs give the same bytes whatever executed them.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np

from ..report.metrics import spread
from . import store
from .design import Design
from .runspec import RunSpec

MODEL_NAME = "retaliation_simulator"


def _records(out: Path, specs: Iterable[RunSpec], known: dict[str, dict] | None = None
             ) -> list[tuple[RunSpec, dict]]:
    """Each run's status, error and headline metrics: from ``known`` (the runs of this session, as their
    workers stored them), else from its file, read once (a run file is ~200 KB of JSON with the run's whole
    summary, which the tables do not use). ~1 KB a run is kept in memory; the tables are written from these."""
    known = known or {}
    out_list = []
    for s in specs:
        rec = known.get(s.run_id) or store.read_run(out, s.run_id) or \
            {"status": store.PENDING, "error": "", "metrics": {}}
        out_list.append((s, {k: rec[k] for k in ("status", "error", "metrics") if k in rec}))
    return out_list


def metric_names(records: list[tuple[RunSpec, dict]]) -> list[str]:
    names: set[str] = set()
    for _, rec in records:
        names.update(rec.get("metrics") or {})
    return sorted(names)


def _value(rec: dict, m: str) -> float:
    v = (rec.get("metrics") or {}).get(m)
    return math.nan if v is None else float(v)


def write_tables(out: Path, design: Design, specs: list[RunSpec], scenario_name: str, root_seed: int,
                 known: dict[str, dict] | None = None) -> dict:
    """Write runs, summary, experiments, outcomes (and sensitivity) CSVs; returns status counts, and under
    ``"errors"`` the failed runs' distinct errors in run order. ``known``: the stored records of runs done in
    this session, by run id (others are read from their files)."""
    out = Path(out)
    keys = list(design.keys)
    records = _records(out, specs, known)
    metrics = metric_names(records)
    counts: dict = {store.PENDING: 0, store.SUCCEEDED: 0, store.FAILED: 0}
    errors: dict[str, None] = {}           # the failed runs' distinct errors, in run order
    sens_means = np.full((len(design), len(metrics)), np.nan) if design.sensitivity else None
    run_cols = ["run_id", "point", *keys, "replication", "seed", "status", "error", *metrics]
    sum_cols = ["point", *keys, "metric", "succeeded", "failed", "mean", "p05", "p50", "p95"]
    exp_cols = [*keys, "replication", "seed", "scenario", "policy", "model"]
    with store.CsvOut(out / "runs.csv", run_cols) as runs, \
            store.CsvOut(out / "summary.csv", sum_cols) as summ, \
            store.CsvOut(out / "experiments.csv", exp_cols) as exps, \
            store.CsvOut(out / "outcomes.csv", metrics) as outs:
        cur_point, acc, failed = None, [], 0

        def flush() -> None:
            if cur_point is None:
                return
            params = design.point(cur_point)
            table = np.array([[_value(r, m) for r in acc] for m in metrics], dtype=float)
            table = table.reshape(len(metrics), len(acc))       # (0, runs) where no run has a metric
            stats, plain = spread(table)
            for j, m in enumerate(metrics):
                if plain[j]:
                    mean, q = stats[3, j], stats[:3, j]
                else:                             # some runs without this metric (or with ±inf): its own way
                    vals = table[j]
                    ok = vals[~np.isnan(vals)]
                    q = np.percentile(ok, [5, 50, 95]) if ok.size else [math.nan] * 3
                    mean = float(ok.mean()) if ok.size else math.nan
                summ.row({"point": cur_point, **params, "metric": m, "succeeded": len(acc), "failed": failed,
                          "mean": float(mean), "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2])})
                if sens_means is not None and (plain[j] or (table[j].size and not np.isnan(table[j]).any())):
                    sens_means[cur_point, j] = mean

        for spec, rec in records:
            if spec.point != cur_point:
                flush()
                cur_point, acc, failed = spec.point, [], 0
            status = rec.get("status", store.PENDING)
            counts[status] = counts.get(status, 0) + 1
            params = dict(spec.params)
            row = {"run_id": spec.run_id, "point": spec.point, **params, "replication": spec.replication,
                   "seed": spec.seed, "status": status, "error": rec.get("error", "")}
            row.update({m: _value(rec, m) for m in metrics})
            runs.row(row)
            if status == store.SUCCEEDED:
                acc.append(rec)
                exps.row({**params, "replication": spec.replication, "seed": spec.seed, "scenario": spec.point,
                          "policy": scenario_name, "model": MODEL_NAME})
                outs.row({m: _value(rec, m) for m in metrics})
            elif status == store.FAILED:
                failed += 1
                errors.setdefault(rec.get("error", ""))
        flush()
    if design.sensitivity:
        from .sensitivity import COLUMNS, analyze
        rows = analyze(design.sensitivity, design.keys, design.bounds, np.array(design.points, dtype=float),
                       {m: sens_means[:, j] for j, m in enumerate(metrics)}, root_seed)
        with store.CsvOut(out / "sensitivity.csv", COLUMNS) as sens:
            for r in sorted(rows, key=lambda r: (r["metric"], r["parameter"], r["index"])):
                sens.row(r)
    counts["errors"] = list(errors)
    return counts


def write_points(out: Path, design: Design) -> None:
    """``points.csv``: the design, one row per parameter point."""
    with store.CsvOut(Path(out) / "points.csv", ["point", *design.keys]) as f:
        for i in range(len(design)):
            f.row({"point": i, **design.point(i)})
