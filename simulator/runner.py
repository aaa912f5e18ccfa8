"""Replications of a scenario, each paired with its no-policy baseline under common random numbers.

Every replication ``i`` is two lanes of a batch (see :mod:`simulator.engine.world`): the baseline (same world,
no controls or countermeasures) and the scenario, with the same seed sequence, so both draw the same random
numbers from the same named streams, and the scenario's ``when`` triggers may compare a metric with the
baseline's value on the same day. A batch steps many replications together; batches may run in worker
processes. Each lane's numbers do not depend on its batch, so the result does not depend on how replications
are batched or on how many workers run them.
"""
from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from . import day_meter
from .engine import kernels
from .engine.recorder import Recorder
from .engine.streams import replication_seeds
from .engine.world import LaneSpec, Lanes, defer_collections, lane_native, simulate_lanes
from .scenario.errors import SimulationError
from .scenario.schema import Scenario
from .zygote import WorkerLost, Zygote


@dataclass
class Pair:
    """One replication: the scenario run and its baseline."""

    replication: int
    seed_entropy: int
    baseline: Recorder
    scenario: Recorder


MAX_SPIN_UP_DAYS = 3653   # ten years


def spin_up_days(scenario: Scenario) -> int:
    """Days before ``start`` from which the run must be played so that measures dated before ``start`` (a
    licensing regime already in force, say) have shaped the state the report starts from; 0 if none."""
    first = min((m.announced_date() for m in scenario.measures if m.announced_date() is not None),
                default=scenario.start)
    return min(MAX_SPIN_UP_DAYS, max(0, (scenario.start - first).days))


#: replications stepped together in one batch (two lanes each): large enough that the model's ~200 numpy
#: calls a day work on many lanes at once (the whole engine, 2026-12-06: ~107 µs a lane-day at 20 lanes, ~95–105
#: at 40), and the headline's 20 replications on 2 workers are two batches of 10. (A batch folded as it runs
#: holds ~8 MB a pair for the default world over 3 years at weekly output: its ring of 16 days (~0.7 MB) and its
#: period sums.)
#: When every replication's daily series are written, batches shrink further (:data:`ALL_BATCH_BYTES`).
#: Measured in benchmarks/speed_targets.py and output_bench.py.
BATCH_REPLICATIONS = 10


#: most memory the daily series of one batch may take when every replication's daily series are written
#: (``output.replications: all``): 10 replications of the default world over 3 years would take ~500 MB in a
#: worker before their Parquet partitions are written; 4 keep 100 such replications within 1.5 GB in all
ALL_BATCH_BYTES = 200_000_000


def batch_replications(series: int, days: int, every_replication: bool) -> int:
    """Replications a batch steps together: :data:`BATCH_REPLICATIONS`, fewer when every replication's daily
    series are written (``every_replication``) and a batch of ``series`` × ``days`` runs would take more than
    :data:`ALL_BATCH_BYTES`."""
    if not every_replication:
        return BATCH_REPLICATIONS
    return max(1, min(BATCH_REPLICATIONS, ALL_BATCH_BYTES // (2 * series * days * 8)))


def played(scenario: Scenario) -> tuple[Scenario, int]:
    """The scenario as played (started ``lead`` days early for measures dated before ``start``) and ``lead``."""
    lead = spin_up_days(scenario)
    if not lead:
        return scenario, 0
    return scenario.model_copy(update={"start": scenario.start - _dt.timedelta(days=lead),
                                       "horizon": scenario.horizon + lead}), lead


def run_batch(scenario: Scenario, world: Mapping[str, Any], replications: list[int],
              reduce: Callable[[Pair], Any] | None = None) -> list[Any]:
    """Replications ``replications`` of ``scenario`` with their baselines, stepped together as one batch;
    each as a :class:`Pair`, or as ``reduce(pair)`` when ``reduce`` is given (applied here, in the process that
    ran the batch, so only what it keeps is sent back to the parent).

    Measures dated before ``start`` are played from their announcement (a *spin-up*, baseline alike), and
    the recorders are then trimmed to the reported period, so the report starts from a state that already
    reflects them instead of switching them all on at day 0."""
    seeds = replication_seeds(scenario.seed, max(replications) + 1)
    runs = [(i, scenario, seeds[i]) for i in replications]
    if reduce is not None and callable(getattr(reduce, "fold", None)):
        return run_runs(runs, world, reduce)
    pairs = run_runs(runs, world)
    if reduce is not None:
        return [reduce(p) for p in pairs]
    return pairs


#: days a batch folded as it runs keeps recorded (a ring, handed to the folds each time it is full); a fold's
#: numbers do not depend on it (``report.day_fold``). With the compiled fold: small, so the ring stays near the
#: cache and is zeroed once at little cost (40 lanes: 14 MB, against 115 MB at 128 days); measured 2026-12-06
#: on the headline against 128: peak RSS 508 → 459 MB, wall 6.13 → 5.99 s (4 alternating runs); a 400-run
#: one-year sweep 16.3 → 15.3 s (8 days: 15.8 s, 32: 15.2 s), the folds' extra calls costing less than the
#: memory they save
FOLD_WINDOW = 16
#: the same for a batch folded by numpy (too small to load numba, or no numba): each fold call costs ~1 ms of
#: numpy calls whatever its days, so 16 days would cost a one-replication run ~50 µs a lane-day more (measured)
NUMPY_FOLD_WINDOW = 128


def ring_days(lane_days: int) -> int:
    """Days of the ring a batch of ``lane_days`` is folded from (:data:`FOLD_WINDOW` when its fold is compiled)."""
    return FOLD_WINDOW if kernels.would_compile(lane_days, "fold") else NUMPY_FOLD_WINDOW


def lane_specs(runs: list[tuple[int, Scenario, np.random.SeedSequence]]) -> list[LaneSpec]:
    """The lanes of a batch of runs ``(replication, scenario, seed sequence)``: one baseline lane per seed, then
    one scenario lane per run, in order. The baselines come first so that the last of them and the scenario
    lanes are contiguous: the lanes a model part steps while its baseline lanes share one run, which then
    records straight into the batch's block (``engine.shared_lanes``)."""
    bases: list[LaneSpec] = []
    scens: list[tuple] = []
    base_lane: dict[tuple, int] = {}
    for rep, sc, seq in runs:
        key = (seq.entropy, tuple(seq.spawn_key))
        if key not in base_lane:
            base_lane[key] = len(bases)
            bases.append(LaneSpec(rep, seq, True))
        scens.append((rep, seq, base_lane[key], tuple(sc.measures)))
    return bases + [LaneSpec(rep, seq, False, b, measures) for rep, seq, b, measures in scens]


def run_runs(runs: list[tuple[int, Scenario, np.random.SeedSequence]], world: Mapping[str, Any],
             reduce: Any = None) -> list[Any]:
    """Runs ``(replication, scenario, seed sequence)`` that share a world and a calendar, stepped together as
    one batch: the replications of a scenario, or the points of a sweep over measure values (each lane plays
    its own scenario's measures). Runs with the same seed share one baseline lane, which is the same run for
    all of them. Returns one pair per run, in order (shared baselines are the same recorder); measures dated
    before ``start`` are played as a spin-up and trimmed off (see :func:`run_batch`).

    With ``reduce`` (a ``report.reduce.Reducer``: ``reduce.fold(info)`` gives a fold of one pair's days,
    ``reduce.batch(folds)`` folds a batch's pairs together, ``reduce.summary(pair, fold)`` gives a pair's
    summary), the lanes keep only a few days recorded (:func:`ring_days`), each window's days are checked for NaN
    and folded as soon as it is full, and one summary per run is returned instead of its pair: the same numbers
    as ``reduce`` applied to the pair, in a fraction of the memory. (A world with single-run model parts records
    every day and is reduced afterwards.)"""
    if reduce is not None and not lane_native(world):
        return [reduce(p) for p in run_runs(runs, world)]
    first, lead = played(runs[0][1])
    for rep, sc, seq in runs:
        if played(sc)[1] != lead or (sc.start, sc.horizon) != (runs[0][1].start, runs[0][1].horizon):
            raise ValueError("runs of one batch must share their start, horizon and spin-up")
    specs = lane_specs(runs)
    scen_lanes = [i for i, sp in enumerate(specs) if not sp.is_baseline]
    folds: list[Any] = []
    if reduce is not None:
        def sink_for(lanes: Lanes) -> Callable[[int, int], None]:
            recs = [ctx.recorder for ctx in lanes.runs]
            folds.extend(reduce.fold(recs[0].info) for _ in runs)
            batch = reduce.batch(folds)

            def sink(first_day: int, n: int) -> None:
                fold_window(runs, specs, scen_lanes, recs, batch, first_day, n)
                day_meter.advance(len(runs) * (first_day + n))     # the run's progress (a batch's slot, if any)
            return sink
        window = ring_days(len(specs) * first.days)
        recs = simulate_lanes(first, world, specs, min(window, first.days - lead), lead, sink_for)
    else:           # every day recorded: the run's progress from the days played (a batch's slot, if any)
        recs = simulate_lanes(first, world, specs,
                              on_days=lambda played: day_meter.advance(len(runs) * max(0, played - lead)))
    for rec in recs:
        rec.trim(lead)
    pairs = []
    for (rep, sc, _), i in zip(runs, scen_lanes):
        base, scen = recs[specs[i].baseline_lane], recs[i]
        if reduce is None:
            for which, rec in (("baseline", base), ("scenario", scen)):
                check_numbers(rec, sc, rep, which)
        pairs.append(Pair(rep, sc.seed, base, scen))
    if reduce is not None:
        return [reduce.summary(p, f) for p, f in zip(pairs, folds)]
    return pairs


def fold_window(runs: list, specs: list[LaneSpec], scen_lanes: list[int], recs: list[Recorder], batch: Any,
                first_day: int, n: int) -> None:
    """Check and fold the ``n`` days from reporting day ``first_day`` on that the ring recorders ``recs`` hold
    in rows ``0 .. n``: each run's scenario lane against its baseline lane, all runs at once (``batch``: the
    runs' folds as ``reduce.batch(folds)`` gives them, a ``report.batch_fold.BatchFold``)."""
    bad = batch.add([recs[i] for i in scen_lanes], [recs[specs[i].baseline_lane] for i in scen_lanes], 0, n)
    if bad is not None:      # the first run with a NaN: the first series (recording order) with one, its first day
        q, which, key, day = bad
        rep, sc, _ = runs[q]
        _not_a_number(sc, key, first_day + day, rep, which)


def _not_a_number(scenario: Scenario, key: str, day: int, replication: int, which: str) -> None:
    date = scenario.start + _dt.timedelta(days=day)
    raise SimulationError(f"{scenario.name}: series {key} is not a number (NaN) from {date} (day {day}) in "
                          f"the {which} of replication {replication}; a world value probably makes the model "
                          f"divide by zero or overflow (check overrides and world data); no results written")


def run_pair(scenario: Scenario, world: Mapping[str, Any], replication: int) -> Pair:
    """Run replication ``replication`` of ``scenario`` and its baseline (a batch of one replication)."""
    return run_batch(scenario, world, [replication])[0]


def batches(replications: int, jobs: int, size: int = BATCH_REPLICATIONS) -> list[list[int]]:
    """Replications ``0..replications-1`` in contiguous batches of at most ``size``, at least one per worker
    when there are fewer replications than ``jobs × size``, so every worker has work."""
    n_batches = max(-(-replications // size), min(jobs, replications))
    bounds = [round(k * replications / n_batches) for k in range(n_batches + 1)]
    return [list(range(bounds[k], bounds[k + 1])) for k in range(n_batches) if bounds[k + 1] > bounds[k]]


def check_numbers(rec: Recorder, scenario: Scenario, replication: int, which: str) -> None:
    """Fail the run (SimulationError) if a recorded series holds NaN, naming the series and its first day."""
    hit = rec.first_nan()
    if hit is not None:
        _not_a_number(scenario, hit[0], hit[1], replication, which)


#: seconds between two looks at the running batches' progress (``simulator.day_meter``) while waiting for them
WATCH_S = 0.25


def _run_batch_args(args: tuple) -> list[Any]:
    """:func:`run_batch` of ``(scenario, world, replications, reduce, batch, folder)`` in a worker; its progress
    goes to the slot of its batch number ``batch`` (``simulator.day_meter``). With a ``folder`` (and no
    ``reduce``), each replication's daily series go back through files there (:func:`_move_days`)."""
    *task, batch, folder = args
    with day_meter.counting(batch):
        got = run_batch(*task)
    if folder is not None:
        _move_days(got, folder, batch)
    return got


def days_folder() -> str | None:
    """A new folder for :func:`_move_days`: in ``/dev/shm`` (memory, not disk) where there is one to write in;
    None where no folder can be made (the days then come back pickled)."""
    shm = "/dev/shm"
    try:
        return tempfile.mkdtemp(prefix="simulate-days-",
                                dir=shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None)
    except OSError:
        return None


def _move_days(pairs: list[Pair], folder: str, batch: int) -> None:
    """Each pair's daily series written to a file in ``folder`` (``Recorder.move_to``), so that only where they
    are is pickled back to the parent, which maps the files: the headline's 20 replications keep ~1 GB of days,
    which a pipe passed as pickles at ~1 s a batch in the parent (2026-12-07: ``simulator.run(..., jobs=2)``
    8.0–8.3 s against 4.8 s in one process). A pair goes back as a pickle instead where its file would leave
    the folder's file system with less than :func:`_room_left` (a container's ``/dev/shm`` is often 64 MB, and
    other processes use it too), or cannot be written."""
    for p in pairs:
        for which, rec in (("scenario", p.scenario), ("baseline", p.baseline)):
            try:
                fs = os.statvfs(folder)
                if fs.f_bavail * fs.f_frsize - rec.nbytes < _room_left(fs.f_blocks * fs.f_frsize):
                    return
                rec.move_to(os.path.join(folder, f"{batch}-{p.replication}-{which}"))
            except OSError:
                return


def _room_left(size: int) -> int:
    """Bytes that moving days to files leaves free on a file system of ``size`` bytes: a tenth, at least 64 MB."""
    return max(64 << 20, size // 10)


def _on_zygote(zygote: Zygote, tasks: list[tuple], jobs: int, tick: Callable[[], None],
               meanwhile: Callable[[], None] | None, watch: Callable[[dict[int, int]], None] | None = None
               ) -> list[Any]:
    """:func:`run_batch` of each task (as :func:`_run_batch_args` takes it) in a worker forked from ``zygote``, at
    most ``jobs`` at a time (the next asked for as one ends); results in task order. ``watch(running)`` (batch
    number → replications, of the batches running) every :data:`WATCH_S` while waiting, and as a batch ends,
    before its replications are ticked. On any exception (Ctrl-C, a failed replication) the zygote and its
    workers are killed at once. A worker runs one batch, so its batch's model is never collected
    (``world.defer_collections``: it would be, before a next batch)."""
    out: list[Any] = [None] * len(tasks)
    together = min(jobs, len(tasks))
    running: dict[int, int] = {}

    def ask(k: int, share: tuple[int, int] | None) -> None:
        day_meter.clear(k)
        zygote.fork(_zygote_worker, (share,), _run_batch_args, (tasks[k],))
        running[k] = len(tasks[k][2])
    try:
        asked = 0
        while asked < together:        # started together: they share out the loops not compiled yet
            ask(asked, (asked, together))
            asked += 1
        if meanwhile is not None:       # the zygote forks the workers meanwhile
            meanwhile()
        while zygote.pending():
            got = zygote.next_result(timeout=WATCH_S if watch is not None else None)
            if got is None:
                watch(running)
                continue
            k, out[k] = got
            del running[k]
            if watch is not None:
                watch(running)
            for _ in out[k]:
                tick()
            if asked < len(tasks):
                ask(asked, None)
                asked += 1
    except BaseException:
        zygote.close()
        raise
    return [p for got in out for p in got]


def _zygote_worker(share: tuple[int, int] | None) -> None:
    """A worker forked from the zygote: its batch's model is never collected (``world.defer_collections``: it
    runs one batch); ``share`` (its slot, the workers started together): on a first run, it compiles its share
    of the loops not cached yet and leaves the rest to the others (``kernels.share_first_compile``)."""
    defer_collections(True)
    if share is not None and share[1] > 1:
        kernels.share_first_compile(*share)


def _worker_init(parent: int, defer: bool = False) -> None:
    """Workers leave Ctrl-C and SIGTERM to the parent, which stops the pool (no tracebacks from every worker),
    and die with the parent, so a killed run leaves no orphan workers (see ``simulator.safety``). With
    ``defer``, a batch's model is collected before the worker's next build, not as its run ends
    (``world.defer_collections``)."""
    from .safety import worker_init
    worker_init(parent)
    defer_collections(defer)


def run_replications(scenario: Scenario, world: Mapping[str, Any], jobs: int = 1,
                     on_done: Callable[[], None] | None = None,
                     batch_size: int = BATCH_REPLICATIONS,
                     reduce: Callable[[Pair], Any] | None = None,
                     meanwhile: Callable[[], None] | None = None,
                     zygote: Zygote | None = None,
                     watch: Callable[[float, bool], None] | None = None) -> list[Any]:
    """All replications, in replication order, in batches of at most ``batch_size``, serially (``jobs=1``)
    or on ``jobs`` processes. ``on_done()`` is called once per replication as its batch completes. With
    ``reduce`` (picklable), each replication is returned as ``reduce(pair)``, applied in its worker.
    ``meanwhile()`` is work for this process while its workers run (once, after the batches are handed out):
    preparing what comes after the run, such as loading the libraries that write the results. With ``jobs``
    above 1, a single batch (one replication) also runs in a worker when there is such work, so that the work
    runs beside it on another core instead of after it (the headline scenario at 1 replication: 3.49 → 3.05 s,
    2026-12-06). A run in this process alone (``jobs=1``) does not call it (nothing would run beside it).
    ``zygote``: where to fork the workers from (:mod:`simulator.zygote`: a process that has loaded numba
    already), instead of a pool of processes forked from this one; one worker per batch, at most ``jobs`` at
    a time. ``watch(partial, compiling)``: how far the batches running have got, in replications' worth of
    their days checked and folded, and whether one of them is compiling the model's loops (see
    :mod:`simulator.day_meter`: batches folded as they run, forked from this process or from a zygote forked
    after the meter's board was opened); called while waiting for them, a few times a second."""
    n = scenario.replications
    tick = on_done or (lambda: None)
    look: Callable[[dict[int, int]], None] | None = None     # batch number → replications, of those running
    if watch is not None:
        day_meter.open_board()          # before any worker is forked: they share it
        look = lambda running: watch(*day_meter.progress(running.items(), scenario.days))  # noqa: E731
    work = batches(n, jobs if jobs > 1 else 1, batch_size)
    pool = jobs > 1 and (len(work) > 1 or meanwhile is not None)    # the batches run in worker processes
    defer = scenario.output.replications != "all"     # every replication's days: memory first
    # the zygote forks the workers, unless it has ended (out of memory, say) or every replication's days are
    # written (those workers are forked here, after return_freed_memory in ``api.run_loaded``, which they
    # inherit); one not used is closed now, so its memory is not held through the run
    if zygote is not None and not (pool and defer and zygote.alive()):
        zygote.close()
        zygote = None
    if not pool:
        out = []
        for k, reps in enumerate(work):
            day_meter.clear(k)
            with day_meter.counting(k, (lambda k=k, r=len(reps): look({k: r})) if look is not None else None):
                got = run_batch(scenario, world, reps, reduce)
            if look is not None:
                look({})
            out.extend(got)
            for _ in got:
                tick()
        return out
    if zygote is not None:
        return _on_zygote(zygote, [(scenario, world, reps, reduce, k, None) for k, reps in enumerate(work)], jobs,
                          tick, meanwhile, look)
    for k in range(len(work)):
        day_meter.clear(k)
    folder = days_folder() if reduce is None else None     # every day of every replication comes back
    tasks = [(scenario, world, reps, reduce, k, folder) for k, reps in enumerate(work)]
    ex = ProcessPoolExecutor(max_workers=min(jobs, len(work)), initializer=_worker_init,
                             initargs=(os.getpid(), defer))
    try:
        return _pool_results(ex, tasks, work, tick, meanwhile, look)
    finally:
        if folder is not None:       # files of results never unpickled (an interrupt, a failed batch)
            shutil.rmtree(folder, ignore_errors=True)


def _pool_results(ex: ProcessPoolExecutor, tasks: list[tuple], work: list[list[int]], tick: Callable[[], None],
                  meanwhile: Callable[[], None] | None, look: Callable[[dict[int, int]], None] | None) -> list[Any]:
    """The results of ``tasks`` run on the pool ``ex``, in task order (see :func:`run_replications`)."""
    from .safety import stop_pool
    try:
        futures = {ex.submit(_run_batch_args, task): k for k, task in enumerate(tasks)}
        if meanwhile is not None:   # the pool has started its workers as the batches were submitted
            meanwhile()
        left = set(futures)
        while left:
            ended, left = wait(left, timeout=WATCH_S if look is not None else None, return_when=FIRST_COMPLETED)
            if look is not None:    # batches not ended: running, or queued (their slot reads 0)
                look({futures[f]: len(work[futures[f]]) for f in left})
            for f in ended:
                for _ in f.result():
                    tick()
        pairs = [p for f in futures for p in f.result()]
    except BrokenProcessPool:   # a worker killed (out of memory, say): the same error as from a zygote's worker
        stop_pool(ex)
        raise WorkerLost("a worker process ended without a result (killed, or out of memory?)") from None
    except BaseException:   # Ctrl-C, SIGTERM, a failed replication: stop the workers now, do not wait
        stop_pool(ex)
        raise
    ex.shutdown()
    return pairs
