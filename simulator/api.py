"""The notebook API: ``simulator.run(path_or_scenario, **overrides)`` → a :class:`Result` of DataFrames.

>>> res = simulator.run("scenarios/japan_servicing_ban.yaml", replications=4, seed=1)
>>> res.summary.head()              # impacts across replications
>>> res.timeseries.query("entity == 'gallium'")
>>> res.impacts                     # one row per series: baseline, scenario, difference, p05..p95

Dates are ``datetime64`` columns and names (scenario, entity, metric, unit, event) are categoricals, so a
pivot-and-plot draws real time axes; written to CSV they print as ISO dates.

``run`` keeps every run's daily series (``res.pairs``, ``res.daily(any key)``); ``keep_daily=False`` keeps
only what the tables and charts need (``res.daily`` then gives the charted series, and with
``output.replications: all`` at ``1d`` any series, read back from the Parquet spool).

Keyword overrides take the same dotted keys as ``--set`` with ``__`` for dots
(``controls__jp_servicing_ban__compliance=0.5``) or a ``sets=["KEY=VALUE", ...]`` list.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import model_checks  # noqa: F401  (registers the checks that need the model with the loader)
from .runner import Pair, batch_replications, run_replications, spin_up_days
from .scenario.load import LoadedScenario, load_scenario

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .report.fold import Reduced
    from .report.spool import Spool
    from .report.table import Table

VERSION = "0.1.0"

@dataclass
class Result:
    """The tables of one scenario run (scenario + baseline, all replications).

    ``runs`` holds the replications reduced to what the tables need (see ``report.reduce``); the full
    daily series are kept only when asked for (``run(..., keep_daily=True)``, the notebook default: then
    ``pairs`` holds them). Tables are built on first use."""

    loaded: LoadedScenario
    runs: Any                      #: a ``report.fold.Reduced``, or a list of ``runner.Pair`` (reduced here)
    runtime_s: float
    started: str
    spool: "Spool | None" = None   #: the run's temporary folder of spooled arrays (and Parquet), if any
    notes: list[str] = field(init=False, default_factory=list)
    _pairs: list[Pair] | None = field(init=False, default=None, repr=False)
    _tables: dict[str, Any] = field(init=False, default_factory=dict, repr=False)   #: see :meth:`table`

    def __post_init__(self) -> None:
        from .report.fold import Reduced
        if not isinstance(self.runs, Reduced):
            self._pairs = list(self.runs)
            self.runs = Reduced.from_pairs(self.loaded.scenario, self._pairs)

    # ------------------------------------------------------------------------------------------ tables
    #: the small tables as plain columns (see :meth:`table`), by name
    TABLES = ("impacts", "summary", "events", "by_replication", "gdp_by_quarter")

    def table(self, name: str) -> "Table":
        """One of :data:`TABLES` as a :class:`~.report.table.Table` (built once): what ``simulate`` writes and
        reads, without loading pandas; the properties of the same names give it as a DataFrame."""
        got = self._tables
        if name not in got:
            if name not in self.TABLES:
                raise KeyError(f"{name}: no such table (one of {', '.join(self.TABLES)})")
            from .report import frames
            got[name] = getattr(frames, f"{name}_table")(self.scenario, self.runs)
        return got[name]

    @cached_property
    def summary(self) -> "pd.DataFrame":
        from .report import frames
        return frames.typed(self.table("summary"))

    @cached_property
    def timeseries(self) -> "pd.DataFrame":
        from .report import frames
        return frames.typed(frames.timeseries(self.scenario, self.runs))

    @cached_property
    def timeseries_wide(self) -> "pd.DataFrame":
        from .report import frames
        return frames.typed(frames.timeseries_wide(self.scenario, self.runs))

    @cached_property
    def events(self) -> "pd.DataFrame":
        from .report import frames
        return frames.typed(self.table("events"))

    @cached_property
    def by_replication(self) -> "pd.DataFrame":
        from .report import frames
        return frames.typed(self.table("by_replication"))

    @cached_property
    def impacts(self) -> "pd.DataFrame":
        from .report import frames
        return frames.typed(self.table("impacts"))

    @cached_property
    def gdp_by_quarter(self) -> "pd.DataFrame":
        """GDP per region and calendar quarter (see ``report.gdp``); empty without an economy part."""
        return self.table("gdp_by_quarter").frame()

    # ------------------------------------------------------------------------------------------ series
    @property
    def info(self) -> dict:
        """``entity.metric`` → ``SeriesInfo`` of every recorded series."""
        return self.runs.info

    @property
    def n_replications(self) -> int:
        return self.runs.n

    @property
    def pairs(self) -> list[Pair]:
        """The full replications (daily series of every run); only kept with ``keep_daily=True``."""
        if self._pairs is None:
            raise AttributeError("this result keeps no daily series of every run; run it with keep_daily=True "
                                 "(simulator.run does by default)")
        return self._pairs

    @property
    def headline_keys(self) -> set[str]:
        """``entity.metric`` of the model's headline series."""
        return {k for k, i in self.info.items() if i.headline}

    @property
    def scenario(self):
        return self.loaded.scenario

    def daily(self, key: str, which: str = "scenario") -> "np.ndarray":
        """Day × replication array of one ``entity.metric`` (``which`` = scenario or baseline): any series when
        the daily series are kept (``keep_daily``) or spooled daily (``replications: all``, ``1d``), else the
        charted ones (headline series and the like)."""
        import numpy as np
        if self._pairs is not None:
            return np.vstack([getattr(p, which).data[key] for p in self._pairs])
        if self.runs.has_daily(key):
            return self.runs.daily(key, which)
        if self.spool is not None and not self.spool.closed and self.scenario.output.replications == "all" \
                and self.runs.layout.step == 1 and key in self.info:
            from .report.parquet import read_series
            return read_series(self.spool.path, key, which)
        if key not in self.info:
            self.runs.layout.info[key]   # KeyError naming the key
        raise KeyError(f"{key}: daily values of every replication were not kept; run with keep_daily=True")

    def manifest(self, command: str) -> dict:
        pkgs = {}
        for name in ("numpy", "pandas", "simpy", "pyyaml", "pydantic", "matplotlib", "openpyxl"):
            try:
                pkgs[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                pass
        sc = self.loaded.scenario
        return {"simulator_version": VERSION, "scenario": sc.name, "scenario_file": self.loaded.file,
                "seed": sc.seed, "replications": sc.replications, "input_sha256": self.loaded.input_hash,
                "sets": list(self.loaded.sets), "command": command, "started": self.started,
                "runtime_s": round(self.runtime_s, 3), "python": platform.python_version(),
                "platform": platform.platform(), "packages": pkgs}

    def write(self, out: str | Path, command: str = "", xlsx: bool | None = None, plots: bool | None = None
              ) -> Path:
        """Write the result folder atomically; returns its path."""
        from .report.writer import write_atomically
        sc = self.loaded.scenario
        xlsx, plots = write_options(self.loaded, xlsx, plots)

        def fill(tmp: Path) -> None:
            started: list = []   # filled while Ctrl-C is held back, so cleanup always knows the chart processes
            try:
                if plots:
                    from .report import painters
                    painters.start(self, tmp / "plots", started)
                _fill_tables(tmp, started[0] if started else None)
            except BaseException:  # interrupted: stop the chart processes before the folder is removed
                for painters_ in started:
                    painters_.stop()
                raise

        def _fill_tables(tmp: Path, painters) -> None:
            from .report.outputs import write_tables
            from .report.resolved import dump, resolved
            from .report.writer import write_json
            self.notes = write_tables(self, tmp)
            (tmp / "scenario.resolved.yaml").write_text(dump(resolved(self.loaded)), encoding="utf-8")
            if xlsx:
                from .report.xlsx import write_xlsx
                write_xlsx(self, tmp / f"{sc.name}.xlsx")
            if painters is not None:
                painters.finish()
            from .report.html import write_report
            write_report(self, tmp / "report.html", tmp / "plots")
            man = self.manifest(command)
            man["notes"] = list(self.notes)
            write_json(man, tmp / "manifest.json")

        return write_atomically(Path(out), fill)


def write_options(loaded: LoadedScenario, xlsx: bool | None = None, plots: bool | None = None
                  ) -> tuple[bool, bool]:
    """(xlsx, plots) of :meth:`Result.write`: the scenario's ``output`` settings where not given."""
    out = loaded.scenario.output
    return (out.xlsx if xlsx is None else xlsx), (out.plots if plots is None else plots)


def prepare_write(loaded: LoadedScenario, xlsx: bool | None = None, plots: bool | None = None) -> None:
    """Load what :meth:`Result.write` will use (the table writers, which need no pandas; matplotlib with
    plots; with xlsx the workbook's writer and pandas, which its tables are read with): imports that the command
    runs while its workers simulate (``run_loaded(..., meanwhile=...)``) instead of after them."""
    xlsx, plots = write_options(loaded, xlsx, plots)
    from .report import html, outputs, resolved  # noqa: F401
    if plots:
        from .report import painters, plots as charts  # noqa: F401
        charts.prepare()
    if xlsx:
        from .report import xlsx as workbook  # noqa: F401


def batch_size(loaded: LoadedScenario) -> int:
    """Replications a batch of this run steps together (see :func:`runner.batch_replications`)."""
    sc = loaded.scenario
    return batch_replications(max(1, getattr(loaded, "series", 0)), sc.days + spin_up_days(sc),
                              sc.output.replications == "all")


def load_for_workers() -> None:
    """What a run's workers load before their first batch, for a zygote to load once (``simulator.zygote``,
    started by ``simulate``): the report's fold, numba (~0.14 s), and numba's machinery for compiled calls (its
    first call refreshes numba's registries, ~0.12 s; measured 2026-12-06)."""
    import numpy as np

    from .engine import kernels
    from .report import fold, reduce  # noqa: F401  (the summaries the workers fold their days into)
    if kernels.available():
        kernels.generator_list([np.random.default_rng(0)])


def run_loaded(loaded: LoadedScenario, jobs: int = 1, progress: bool | None = None, keep_daily: bool = False,
               meanwhile: Callable[[], None] | None = None, zygote: Any = None) -> Result:
    """Run every replication of a loaded scenario with its baseline.

    ``progress``: ``None`` shows progress on stderr (a bar on a terminal, a plain line every 10 s
    elsewhere), ``False`` nothing, ``True`` the bar. ``keep_daily``: keep every run's daily series (sent
    back from the workers; memory grows with replications × days), else each replication is reduced in its
    worker and its bulk numbers spooled to a temporary folder (``report.spool``). ``meanwhile()``: work for
    this process while workers simulate (see ``runner.run_replications``), e.g. :func:`prepare_write`.
    ``zygote`` (a ``simulator.zygote.Zygote`` that ran :func:`load_for_workers`): fork the workers from it."""
    from .report.memory import return_freed_memory, small_pages_meanwhile
    from .sweep.progress import Progress
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t0 = time.perf_counter()
    sc = loaded.scenario
    if sc.output.replications == "all":   # big outputs: memory flat over batches (workers forked below inherit
        return_freed_memory()             # it); not by default: mapping every 1 MB array slows the engine ~5%
    bar = Progress(sc.replications, enabled=progress, unit="replications", label=sc.name)
    watch = bar.running if bar.enabled else None      # how far the batches running have got
    spool = None
    if keep_daily:
        check_kept_days(loaded)
    try:
        if keep_daily:
            with small_pages_meanwhile():      # ~1 GB of fresh daily series for the headline (see report.memory)
                runs = run_replications(sc, loaded.world.values, jobs=jobs, on_done=bar.update,
                                        meanwhile=meanwhile, zygote=zygote, watch=watch)
        else:
            from .report.fold import Reduced
            from .report.reduce import Reducer
            from .report.spool import Spool
            spool = Spool()
            sums = run_replications(sc, loaded.world.values, jobs=jobs, on_done=bar.update,
                                    reduce=Reducer(sc, spool.path), batch_size=batch_size(loaded),
                                    meanwhile=meanwhile, zygote=zygote, watch=watch)
            runs = Reduced(sc, sums)
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    finally:
        bar.close()
    return Result(loaded, runs, time.perf_counter() - t0, started, spool)


def check_kept_days(loaded: LoadedScenario) -> None:
    """ValueError when keeping every replication's daily series (``keep_daily``: scenario and baseline, float64)
    would take more memory than the limit the command line uses (``$SIMULATE_MAX_MEMORY_GB``, default 4 GB): a
    notebook's kernel killed for want of memory loses everything in it."""
    from .safety import ENV_MAX_MEMORY, max_memory_bytes
    sc = loaded.scenario
    series, days = max(1, getattr(loaded, "series", 0)), sc.days + spin_up_days(sc)
    need = sc.replications * 2 * series * days * 8
    limit = max_memory_bytes()
    if need > limit:
        raise ValueError(f"keeping every replication's daily series needs about {_size(need)} "
                         f"({sc.replications} replications x {series} series x {days} days, scenario "
                         f"and baseline), above the limit of {_size(limit)}; run with keep_daily=False (the "
                         f"tables and charts need no more), fewer replications or a shorter horizon, or raise "
                         f"the limit with ${ENV_MAX_MEMORY}")


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def run(path_or_scenario: Any, sets: list[str] | None = None, jobs: int = 1, progress: bool | None = None,
        keep_daily: bool = True, **overrides: Any) -> Result:
    """Load (a path) or take (a LoadedScenario) a scenario, apply overrides, and run it.
    ``progress=False`` keeps stderr quiet (see :func:`run_loaded`); ``keep_daily=False`` keeps only what the
    tables and charts need (``Result.daily`` then gives the charted series only)."""
    sets = list(sets or [])
    for k, v in overrides.items():
        sets.append(f"{k.replace('__', '.')}={v}")
    if isinstance(path_or_scenario, LoadedScenario):
        loaded = path_or_scenario if not sets else load_scenario(path_or_scenario.file, sets)
    else:
        loaded = load_scenario(os.fspath(path_or_scenario), sets)
    return run_loaded(loaded, jobs=jobs, progress=progress, keep_daily=keep_daily)
