"""A batch of runs: plan a sweep (validate every point, derive seeds and ids) and execute it on any executor.

Planning loads the scenario once per parameter point with the point's values, exactly as ``--set`` would, so a
misspelt key or a value out of range is reported before anything runs (an unknown key once, naming the factor
that sweeps it); the checks that build the model run on the first point and on points that set world values
(:func:`_needs_model`). Executing submits tasks of runs (:func:`tasks`) to a ``concurrent.futures``-style
executor, at most a few per slot at a time, and counts completions; each worker writes its own run files and
hands back each run's status, error and headline metrics, which the parent keeps. At the end the tables are
written from those, and from the run files of runs done before a ``--resume`` (``tables.py``).
"""
from __future__ import annotations

import contextlib
import os
import shlex
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import day_meter
from ..scenario.errors import ScenarioError
from ..scenario.load import read_text
from ..scenario.yamlsafe import load_text
from . import store
from .design import Design, DesignSpec, Factor, expand, from_block, plain, set_text
from .cache import load as load_scenario
from .executors import open_executor
from .progress import Progress
from .room import SAMPLE_RUNS, Room
from .runspec import RunSpec, point_digest, replication_seed, run_id

RESERVED = ("seed", "replications", "sweep")


def _version() -> str:
    from ..api import VERSION
    return VERSION


@dataclass
class Plan:
    """A validated sweep: the design, and one :class:`RunSpec` per point × replication."""

    scenario_file: str
    scenario_name: str
    input_hash: str
    root_seed: int
    replications: int
    design: Design
    specs: list[RunSpec]
    days: int = 365             #: days of the longest run (spin-up included): sizes the tasks
    reported_days: int = 365    #: days of the longest run from its start (what a run's progress counts)


def _relabel(exc: ScenarioError, factor: Factor, key: str) -> ScenarioError:
    return ScenarioError(factor.origin, factor.mark, key, exc.message)


def _check_keys(file: str, base_sets: list[str], spec: DesignSpec) -> None:
    """Load once per swept key with its first value: an unknown key is reported once, up front."""
    for f in spec.factors:
        for j, key in enumerate(f.keys):
            if key.split(".")[0] in RESERVED and "." not in key:
                raise ScenarioError(f.origin, f.mark, key, "is set per run by the sweep; use --replications "
                                                          "(and the scenario's seed) instead")
            first = f.levels[0][j] if f.levels else f.bounds[j][0]
            try:
                load_scenario(file, base_sets + [f"{key}={set_text(first)}"])
            except ScenarioError as exc:
                raise _relabel(exc, f, key) from None


def make_plan(scenario_file: str | os.PathLike, cli: DesignSpec, base_sets: list[str] | None = None,
              out: str | os.PathLike = ".") -> Plan:
    """Load the scenario, merge its ``sweep:`` block with the command line's design, validate every point."""
    from ..runner import spin_up_days
    file = str(Path(scenario_file).resolve()) if Path(scenario_file).exists() else str(scenario_file)
    base_sets = list(base_sets or [])
    loaded = load_scenario(file, base_sets)
    sc = loaded.scenario
    doc = load_text(read_text(file))
    spec = from_block(sc.sweep, str(scenario_file), doc.mark_of).merged_with(cli)
    _check_keys(file, base_sets, spec)
    design = expand(spec, sc.seed)
    reps = spec.replications or sc.replications
    seeds = [replication_seed(sc.seed, r) for r in range(reps)]
    version = _version()
    specs: list[RunSpec] = []
    days = reported = 1
    out_abs = str(Path(out).resolve())
    for i in range(len(design)):
        point = {k: plain(v) for k, v in design.point(i).items()}
        sets = base_sets + [f"{k}={set_text(v)}" for k, v in point.items()]
        try:
            pl = load_scenario(file, sets, model_checks=False)
            if i == 0 or _needs_model(point, pl.scenario.overrides, sc.overrides):
                pl = load_scenario(file, sets)      # with the checks that build the model
        except ScenarioError as exc:
            where = ", ".join(f"{k}={v}" for k, v in point.items())
            raise ScenarioError(f"sweep point {i} ({where})", None, exc.path, exc.message) from None
        days = max(days, pl.scenario.days + spin_up_days(pl.scenario))
        reported = max(reported, pl.scenario.days)
        digest = point_digest(pl.scenario.model_dump(mode="json"), pl.world.values, point)
        for r, seed in enumerate(seeds):
            specs.append(RunSpec(run_id(digest, seed, r, version), i, r, seed, tuple(point.items()),
                                 tuple(sets), file, out_abs))
    return Plan(file, sc.name, loaded.input_hash, sc.seed, reps, design, specs, days, reported)


def _needs_model(point: dict[str, Any], overrides: dict[str, Any], base_overrides: dict[str, Any]) -> bool:
    """Whether a point's model checks (a build, and a dry run of world values) can differ from the first
    point's: when its world values differ from the scenario's (its resolved ``overrides``, however the keys were
    written) or it sets a value that is not a number (a name the model must know). Other points differ from the
    first only in numbers the schema validates (compliance, dates, durations...), and skipping their checks
    saves ~20 ms a point."""
    return overrides != base_overrides or any(not isinstance(v, (int, float)) or isinstance(v, bool)
                                              for v in point.values())


class SweepFolderError(Exception):
    """An output folder that holds something other than this sweep (or a sweep without --resume)."""


def check_out(out: Path, resume: bool) -> None:
    """A sweep writes into a new or empty folder, or (``--resume``) into a sweep store of this tool."""
    from ..report.folder_guard import kind_of
    from ..report.writer import OutputError, check_folder_writable
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SweepFolderError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        kind = kind_of(out)
        if not resume:
            if kind == "sweep":
                raise SweepFolderError(f"{out}: holds a sweep already; add --resume to continue it, or choose "
                                       f"another --out")
            raise SweepFolderError(f"{out}: folder exists and is not empty; choose another --out")
        if kind != "sweep":
            raise SweepFolderError(f"{out}: is not a sweep folder of this tool (no runs/ store); --resume "
                                   f"continues a sweep, choose another --out")
        runs = out / store.RUNS
        if runs.exists() and (runs.is_symlink() or not runs.is_dir()):
            raise SweepFolderError(f"{runs}: is not a folder; the run store is damaged")
    try:                # before any run: a folder that cannot be written (read-only, not allowed) is refused
        check_folder_writable(out if out.is_dir() else out.parent, out.name)   # no sweep folder made here
    except OutputError as exc:
        raise SweepFolderError(f"{exc}; choose another --out") from None


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while a sweep's runs ran: ``done`` of its ``total`` runs are stored (and counted in
    ``status.csv``), so the same command with ``--resume`` does the rest. A KeyboardInterrupt still, to any
    caller that does not know it."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} runs")
        self.done, self.total = done, total


class ExecutorError(Exception):
    """An executor that cannot be started (bad scheduler address, scheduler not reachable)."""


def check_scheduler(address: str | None) -> None:
    """A dask scheduler address looks like ``tcp://host:port`` (or tls://, ucx://, ws://, wss://, inproc://)."""
    import re
    if address is None:
        return
    if not re.fullmatch(r"(tcp|tls|ucx|ws|wss|inproc)://[^\s/:]+(:\d{1,5})?/?", address):
        raise ExecutorError(f"--scheduler {address!r}: expected an address like tcp://127.0.0.1:8786")


def execute(plan: Plan, out: str | os.PathLike, executor: str = "local", jobs: int | None = None,
            scheduler: str | None = None, resume: bool = False, progress: bool | None = None,
            command: str = "") -> dict[str, int]:
    """Run every pending run of ``plan`` into ``out`` and write the tables; returns status counts."""
    out = Path(out)
    check_out(out, resume)
    check_scheduler(scheduler)
    status: dict[str, str] = {}
    known: dict[str, dict] = {}   # runs done now: what the tables need, as stored (no need to read them back)
    for s in plan.specs:      # a corrupt run file stops here (StoreError), before anything is written
        st = store.status_of(out, s.run_id) if resume else store.PENDING
        status[s.run_id] = st if st == store.SUCCEEDED else store.PENDING
    todo = [s for s in plan.specs if status[s.run_id] != store.SUCCEEDED]
    seen: set[str] = set()
    todo = [s for s in todo if not (s.run_id in seen or seen.add(s.run_id))]   # identical runs once
    room = Room(out, len(plan.specs))
    if resume and todo:     # the stored runs say how much the rest needs: refused before anything starts
        room.learn([store.run_path(out, s.run_id) for s in plan.specs
                    if status[s.run_id] == store.SUCCEEDED][:SAMPLE_RUNS])
        if not room.fits(len(todo)):
            raise SweepFolderError(room.shortfall(len(todo)))
    if executor == "local":
        day_meter.open_board()   # before the workers fork: they count their tasks' days where this process reads
    made = False
    try:
        with contextlib.ExitStack() as stack:
            if todo:   # started before the folder is made: a bad scheduler leaves no half-started sweep folder
                try:
                    ex, slots = stack.enter_context(open_executor(executor, jobs, scheduler))
                except Exception as exc:  # noqa: BLE001 - dask raises OSError, TimeoutError, ValueError...
                    raise ExecutorError(f"cannot start the {executor} executor"
                                        + (f" at {scheduler}" if scheduler else "") + f": {exc}") from None
            (out / store.RUNS).mkdir(parents=True, exist_ok=True)
            made = True
            for folder in (out, out / store.RUNS):
                store.clean_stale_tmp(folder)
            _write_manifest(plan, out, executor, jobs, command)
            _status(out, plan, status)
            stopped = _run_all(plan, out, todo, ex, slots, status, known, progress, room) if todo else False
        _status(out, plan, status)
        from .tables import write_tables
        counts = write_tables(out, plan.design, plan.specs, plan.scenario_name, plan.root_seed, known)
    except KeyboardInterrupt:   # the runs recorded so far are stored: status.csv says so; --resume does the rest
        if made:
            with contextlib.suppress(OSError):
                _status(out, plan, status)
        raise SweepInterrupted(sum(status[s.run_id] != store.PENDING for s in plan.specs),
                               len(plan.specs)) from None
    if stopped:
        counts["stopped"] = room.shortfall(counts[store.PENDING] + counts[store.FAILED])
    return counts


def _run_all(plan: Plan, out: Path, todo: list[RunSpec], ex: Any, slots: int, status: dict[str, str],
             known: dict[str, dict], progress: bool | None, room: Room) -> bool:
    """Submit ``todo`` to ``ex``, at most a few per slot at a time, and record completions: their status in
    ``status``, their status, error and headline metrics (as stored in their run files) in ``known``. Stops
    handing out runs where those left do not fit on the disk (``room``, learning from the run files stored):
    the tasks in flight are let finish. Returns whether it stopped so."""
    bar = Progress(len(plan.specs), done=len(plan.specs) - len(todo), enabled=progress)
    last_status = time.monotonic()
    from ..runner import WATCH_S
    from .executors import InlineExecutor
    from .worker import execute_task
    queue = iter(tasks(todo, slots, plan.days))
    inflight: dict[Any, tuple[list[RunSpec], int]] = {}     # future → (its task, its slot of the board)
    limit = max(2, 2 * slots)                               # tasks in flight, each with a slot of its own
    running: dict[int, int] = {}                            # slot → runs of its task, submitted and not done
    # how far the tasks running have got, from the board (``simulator.day_meter``): local workers forked from
    # this process, or a task run here (which redraws as it counts); Dask's workers count on boards of their
    # own, and progress moves by task
    inline = isinstance(ex, InlineExecutor)
    watching = bar.enabled and (inline or isinstance(ex, ProcessPoolExecutor))
    finished = 0
    stopped = False

    def look() -> None:
        bar.running(*day_meter.progress(running.items(), plan.reported_days))

    def fill() -> None:
        while len(inflight) < limit and not stopped:    # (also after a wait that timed out with nothing done)
            task = next(queue, None)
            if task is None:
                return
            k = min(set(range(limit)) - running.keys())     # a slot no task in flight holds
            day_meter.clear(k)
            running[k] = len(task)
            args = (task, k, look) if inline and watching else (task, k)
            inflight[ex.submit(execute_task, *args)] = (task, k)

    fill()
    while inflight:
        done, _ = wait(list(inflight), timeout=WATCH_S if watching else None, return_when=FIRST_COMPLETED)
        for fut in done:                # ended: no longer running, then counted run by run below
            del running[inflight[fut][1]]
        if watching:
            look()
        for fut in done:
            task, _ = inflight.pop(fut)
            try:
                recs = fut.result()
            except Exception as exc:  # the worker itself died: record it, go on
                recs = [store.write_run(out, {"run_id": s.run_id, "params": dict(s.params),
                                              "replication": s.replication, "seed": s.seed,
                                              "status": store.FAILED, "metrics": {}, "summary": [],
                                              "error": f"{type(exc).__name__}: {exc}".replace("\n", " ")})
                        for s in task]
            for s, rec in zip(task, recs):
                status[s.run_id] = rec["status"]
                known[s.run_id] = rec
                bar.update(failed=rec["status"] == store.FAILED)
            finished += len(task)
            room.learn(store.run_path(out, s.run_id) for s, rec in zip(task, recs)
                       if rec["status"] == store.SUCCEEDED)
        if done and not stopped:     # the tasks in flight are let finish (a Dask task cancelled ran on all the
            stopped = not room.fits(len(todo) - finished)    # same, storing runs this loop never recorded)
        fill()
        if time.monotonic() - last_status > 2.0:
            _status(out, plan, status)
            last_status = time.monotonic()
    bar.close()
    return stopped


#: lane-days one executor task carries. Runs of one task that share their world step together as lanes, and a
#: lane-day costs less the more lanes step together: one-year runs of the headline cost 178 ms CPU each in tasks
#: of 8, 137 in tasks of 16, 106 in tasks of 32 and 81 in tasks of 64 (measured 2026-12-04). A worker's memory
#: grows ~15 MB a one-year lane (recorder blocks, transit rings, random numbers: 720 MB peak for a task of 32
#: one-year runs, 1.1 GB for 64), so 24,000 lane-days (64 one-year runs, 21 three-year runs) keep a worker near
#: one batch of the headline (10 replications × 3 years × scenario/baseline, ~0.9 GB).
TASK_LANE_DAYS = 24_000
#: most runs a task carries whatever their length; a Dask task's overhead (~10–50 ms) is paid many times over
MAX_TASK_RUNS = 64


def tasks(todo: list[RunSpec], slots: int, days: int = 365) -> list[list[RunSpec]]:
    """``todo`` cut into tasks of consecutive runs (a point's replications stay together where they fit) of
    ``days`` days each: at most :data:`TASK_LANE_DAYS` lane-days and :data:`MAX_TASK_RUNS` runs a task, and at
    least four tasks per slot while there are runs enough (a slow task does not hold the end of a sweep)."""
    size = max(1, min(MAX_TASK_RUNS, TASK_LANE_DAYS // max(1, days), len(todo) // max(1, 4 * slots)))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def _status(out: Path, plan: Plan, status: dict[str, str]) -> None:
    store.write_status(out, ((s.run_id, s.point, s.replication, status[s.run_id]) for s in plan.specs))


def _write_manifest(plan: Plan, out: Path, executor: str, jobs: int | None, command: str) -> None:
    import json
    d = plan.design
    from ..report.folder_guard import TOOL
    manifest = {"tool": TOOL, "kind": "sweep", "simulator_version": _version(), "scenario": plan.scenario_name, "scenario_file": plan.scenario_file,
                "input_sha256": plan.input_hash, "root_seed": plan.root_seed, "replications": plan.replications,
                "keys": list(d.keys), "points": len(d), "runs": len(plan.specs), "sensitivity": d.sensitivity,
                "executor": executor, "jobs": jobs, "command": command,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    store.write_text_atomically(out / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
    from .tables import write_points
    write_points(out, d)


def command_line(argv: list[str]) -> str:
    return "simulate sweep " + " ".join(shlex.quote(a) for a in argv)
