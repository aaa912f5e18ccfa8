"""Batch parameter sweeps: a design of parameter points × replications, run on local processes or Dask, into a
resumable store of run files, summarised as spreadsheet tables.

One idea per module: ``design`` (grid, linked factors, Latin hypercube), ``runspec`` (seeds and content-hashed
run ids), ``worker`` (one run → one run file), ``store`` (run files, status, atomic CSVs), ``executors``
(local processes or ``dask.distributed``), ``progress`` (the bar), ``tables`` (runs/summary/EMA CSVs),
``sensitivity`` (SALib Sobol/Morris), ``batch`` (plan and execute), ``cli`` (``simulate sweep``).

>>> from simulator.sweep import DesignSpec, grid_factor, make_plan, execute
>>> plan = make_plan("scenarios/sweep_japan_compliance.yaml", DesignSpec(), out="results/sweep")
>>> execute(plan, "results/sweep", jobs=2)
"""
from .batch import Plan, execute, make_plan
from .design import Design, DesignSpec, expand, from_cli, grid_factor, lhs_factor, link_factor

__all__ = ["Plan", "execute", "make_plan", "Design", "DesignSpec", "expand", "from_cli", "grid_factor",
           "lhs_factor", "link_factor"]
