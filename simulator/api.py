"""The notebook API: ``simulator.run(path_or_scenario, **overrides)`` → a :class:`Result` of DataFrames.

>>> res = simulator.run("scenarios/japan_servicing_ban.yaml", replications=4, seed=1)
>>> res.summary.head()              # impacts across replications
>>> res.timeseries.query("entity == 'gallium'")
>>> res.impacts                     # one row per series: baseline, scenario, difference, p05..p95

Dates are ``datetime64`` columns and names (scenario, entity, metric, unit, event) are categoricals, so a
pivot-and-plot draws real time axes; written to CSV they print as ISO dates.

Keyword overrides take the same dotted keys as ``--set`` with ``__`` for dots
(``controls__jp_servicing_ban__compliance=0.5``) or a ``sets=["KEY=VALUE", ...]`` list.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .report.gdp import write_gdp_by_quarter
from .report import frames
from .report.resolved import dump, resolved
from .report.writer import write_atomically, write_json
from .runner import Pair, run_replications
from .scenario.load import LoadedScenario, load_scenario

VERSION = "0.1.0"


@dataclass
class Result:
    """The tables of one scenario run (scenario + baseline, all replications)."""

    loaded: LoadedScenario
    pairs: list[Pair]
    runtime_s: float
    started: str
    summary: pd.DataFrame = field(init=False)
    timeseries: pd.DataFrame = field(init=False)
    timeseries_wide: pd.DataFrame = field(init=False)
    events: pd.DataFrame = field(init=False)
    by_replication: pd.DataFrame = field(init=False)
    impacts: pd.DataFrame = field(init=False)
    notes: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        sc = self.loaded.scenario
        self.summary = frames.typed(frames.summary(sc, self.pairs))
        keys = list(self.pairs[0].scenario.info)
        means = {w: frames.mean_matrix(self.pairs, w, keys) for w in ("scenario", "baseline")} if keys else {}
        self.timeseries = frames.typed(frames.timeseries(sc, self.pairs, means))
        self.timeseries_wide = frames.typed(frames.timeseries_wide(sc, self.pairs, means))
        self.events = frames.typed(frames.events(sc, self.pairs))
        self.by_replication = frames.typed(frames.by_replication(sc, self.pairs))
        self.impacts = frames.typed(frames.impacts(sc, self.pairs))

    @property
    def headline_keys(self) -> set[str]:
        """``entity.metric`` of the model's headline series."""
        return {k for k, i in self.pairs[0].scenario.info.items() if i.headline}

    @property
    def scenario(self):
        return self.loaded.scenario

    def daily(self, key: str, which: str = "scenario"):
        """Day × replication array of one ``entity.metric`` (``which`` = scenario or baseline)."""
        import numpy as np
        return np.vstack([getattr(p, which).data[key] for p in self.pairs])

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
        sc = self.loaded.scenario
        xlsx = sc.output.xlsx if xlsx is None else xlsx
        plots = sc.output.plots if plots is None else plots

        def fill(tmp: Path) -> None:
            started: list = []   # filled while Ctrl-C is held back, so cleanup always knows the child
            try:
                painter = _start_plots(self, tmp / "plots", started) if plots else None
                _fill_tables(tmp, painter)
            except BaseException:  # interrupted: stop the chart process before the folder is removed
                for proc in started:
                    if proc.is_alive():
                        proc.terminate()
                    proc.join()
                raise

        def _fill_tables(tmp: Path, painter) -> None:
            from .report.tables import write_table
            self.notes = []
            for df, name in ((self.impacts, "impacts.csv"), (self.summary, "summary.csv"),
                             (self.timeseries, "timeseries.csv"), (self.timeseries_wide, "timeseries_wide.csv"),
                             (self.events, "events.csv"), (self.by_replication, "metrics_by_replication.csv")):
                note = write_table(df, tmp / name)
                if note:
                    self.notes.append(note)
            write_gdp_by_quarter(sc.start, self.pairs, tmp)
            (tmp / "scenario.resolved.yaml").write_text(dump(resolved(self.loaded)), encoding="utf-8")
            if xlsx:
                from .report.xlsx import write_xlsx
                write_xlsx(self, tmp / f"{sc.name}.xlsx")
            if painter is not None:
                _finish_plots(painter, self, tmp / "plots")
            from .report.html import write_report
            write_report(self, tmp / "report.html", tmp / "plots")
            man = self.manifest(command)
            man["notes"] = list(self.notes)
            write_json(man, tmp / "manifest.json")

        return write_atomically(Path(out), fill)


def _plot_child(res: "Result", folder: Path) -> None:
    from .report.plots import write_plots
    write_plots(res, folder)


def _chart_process(res: "Result", folder: Path, parent: int) -> None:
    """The forked chart process: Ctrl-C is the parent's to handle (it stops this process and cleans up), and
    it dies with its parent, so a killed run leaves no orphan writing into its temporary folder."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _plot_child(res, folder)


def _start_plots(res: "Result", folder: Path, started: list):
    """Draw the charts in a forked process while the CSVs are written (they take about as long); the process
    is appended to ``started`` before a Ctrl-C can interrupt, so the caller can always stop it."""
    import multiprocessing as mp
    if "fork" not in mp.get_all_start_methods():
        return "inline"
    import signal
    proc = mp.get_context("fork").Process(target=_chart_process, args=(res, folder, os.getpid()),
                                          daemon=True)
    # A Ctrl-C inside fork()'s bookkeeping would be swallowed ("Exception ignored ..."): hold it until after.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc.start()
        started.append(proc)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return proc


def _finish_plots(painter, res: "Result", folder: Path) -> None:
    """Wait for the chart process; draw inline where fork is unavailable or the child failed."""
    if painter != "inline":
        painter.join()
        if painter.exitcode == 0:
            return
        print(f"simulate: warning: chart process failed (exit {painter.exitcode}); drawing inline",
              file=sys.stderr)
    _plot_child(res, folder)


def run_loaded(loaded: LoadedScenario, jobs: int = 1, progress: bool | None = None) -> Result:
    """Run every replication of a loaded scenario with its baseline.

    ``progress``: ``None`` shows progress on stderr (a bar on a terminal, a plain line every 10 s
    elsewhere), ``False`` nothing, ``True`` the bar."""
    from .sweep.progress import Progress
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t0 = time.perf_counter()
    sc = loaded.scenario
    bar = Progress(sc.replications, enabled=progress, unit="replications", label=sc.name)
    try:
        pairs = run_replications(sc, loaded.world.values, jobs=jobs, on_done=bar.update)
    finally:
        bar.close()
    return Result(loaded, pairs, time.perf_counter() - t0, started)


def run(path_or_scenario: Any, sets: list[str] | None = None, jobs: int = 1, progress: bool | None = None,
        **overrides: Any) -> Result:
    """Load (a path) or take (a LoadedScenario) a scenario, apply overrides, and run it.
    ``progress=False`` keeps stderr quiet (see :func:`run_loaded`)."""
    sets = list(sets or [])
    for k, v in overrides.items():
        sets.append(f"{k.replace('__', '.')}={v}")
    if isinstance(path_or_scenario, LoadedScenario):
        loaded = path_or_scenario if not sets else load_scenario(path_or_scenario.file, sets)
    else:
        loaded = load_scenario(os.fspath(path_or_scenario), sets)
    return run_loaded(loaded, jobs=jobs, progress=progress)
