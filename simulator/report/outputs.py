"""The tables of a result folder, written from a run's folded replications (``api.Result``).

Small tables (impacts, summary, events, metrics by replication, GDP by quarter) are written from plain columns
(:mod:`.table`), the two big ones straight from arrays (:mod:`.csvfast`); both give the bytes pandas writes. With
``output.replications: all`` every replication's series is also in ``timeseries/`` as Parquet (see
:mod:`.parquet`), linked or copied from the run's spool; ``timeseries.csv`` then holds every replication up to
``CSV_ALL_MAX_ROWS`` data rows, and the replication mean above (with a note saying so).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from . import frames
from .csvfast import write_tidy, write_wide
from .gdp import write_gdp_by_quarter
from .parquet import FOLDER, partition_path, write_partition
from .tables import write_table
from .writer import sync_soon

if TYPE_CHECKING:
    from ..api import Result

#: with ``output.replications: all``, timeseries.csv holds every replication only up to this many data rows
#: (about 0.7 GB of text); above it, the replication mean (every replication stays in ``timeseries/``)
CSV_ALL_MAX_ROWS = 10 * 1_048_575


def write_timeseries_csv(res: "Result", path: Path) -> str:
    """Write ``timeseries.csv`` (rows as in ``frames.timeseries``); returns a note for the user or ``""``."""
    sc, red = res.scenario, res.runs
    lay = red.layout
    keys = lay.keys
    key_fields = [(red.info[k].entity, red.info[k].metric, red.info[k].unit) for k in keys]
    every = sc.output.replications == "all"
    n_blocks = 2 * red.n if every else 2
    note = ""
    if every and n_blocks * len(keys) * len(lay.dates) > CSV_ALL_MAX_ROWS:
        every, n_blocks = False, 2
        note = (f"{path.name} holds the replication mean: every replication would be "
                f"{2 * red.n * len(keys) * len(lay.dates):,} rows; each replication's series are in "
                f"{FOLDER}/replication=<i>/part-0.parquet")

    def blocks():
        for w, label in enumerate((sc.name, "baseline")):
            if not every:
                yield (label, "mean"), red.mean_buckets[w]
            else:
                for i, rep in enumerate(red.replications):
                    yield (label, str(rep)), red.buckets(i)[w]

    split = write_tidy(path, frames.TIMESERIES_COLUMNS, lay.dates, key_fields, blocks, n_blocks)
    return "; ".join(n for n in (split, note) if n)


def write_parquet(res: "Result", folder: Path) -> None:
    """``timeseries/replication=<i>/part-0.parquet`` of every replication: hard links to (or copies of) the
    spooled partitions, or written now when the run kept its series in memory."""
    red = res.runs
    for i, rep in enumerate(red.replications):
        dst = partition_path(folder, rep)
        src = partition_path(Path(res.spool.path), rep) if res.spool is not None and not res.spool.closed \
            else None
        if src is not None and src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        else:
            write_partition(folder, red.layout, rep, red.buckets(i))


def write_tables(res: "Result", folder: Path) -> list[str]:
    """Write every table of ``res`` into ``folder``; returns the notes for the user (split tables)."""
    notes = []
    for table, name in (("impacts", "impacts.csv"), ("summary", "summary.csv")):
        notes.append(write_table(res.table(table), folder / name))
    notes.append(write_timeseries_csv(res, folder / "timeseries.csv"))
    notes.append(write_wide(folder / "timeseries_wide.csv", frames.wide_columns(res.scenario, res.runs)))
    for name in ("timeseries.csv", "timeseries_wide.csv"):   # the big ones, onto the disk while the charts draw
        if (folder / name).is_file():                      # (a table split into parts has none by this name)
            sync_soon(folder / name)
    for table, name in (("events", "events.csv"), ("by_replication", "metrics_by_replication.csv")):
        notes.append(write_table(res.table(table), folder / name))
    write_gdp_by_quarter(res.table("gdp_by_quarter"), folder)
    if res.scenario.output.replications == "all":
        write_parquet(res, folder)
    return [n for n in notes if n]
