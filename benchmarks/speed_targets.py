"""The speed targets of issue 16, each as a ratio to a reference measured in the same run. Never asserts.

Reference: the time of 1,000,000 bare SimPy timeouts (one process yielding ``env.timeout(1)``), measured here.

**Targets as ratios.** The issue gives its targets in seconds on "the idle 2-core machine" and ties one of them to
the reference: a 3 s headline "i.e. ≤ 2.5 × the time of 1 M bare SimPy timeouts in the same run". So the issue's
machine ran the reference in 3 / 2.5 = 1.2 s (:data:`ISSUE_REFERENCE_S`), and every timed target converts the same
way: a target of ``x`` seconds is ``x / 1.2`` × the reference. Machines of the standard kind have run the reference
in 0.5 to 2.2 s (2026-12), and the headline's and engine's times move with it, so only the ratios compare across
runs; the seconds are printed too, and the ``met`` column judges the ratio alone:

- engine: CPU per lane-day (one run, scenario or baseline, one day) of the headline scenario with the whole model,
  folded into summaries as it runs (as ``simulate`` runs it), for batches of 2 lanes (one replication) up to 40
  (its 20 replications); per model part at the largest batch. Ratio: the lane-day's CPU in bare timeouts (the
  reference / 1,000,000); target ≤ 60 µs per run-day at a 1.2 s reference = ≤ 50 timeouts. The issue does not
  say whether its run-day is a lane's day or a pair's (it writes "20 pairs × 1,096 days at ~450 µs per run-day",
  and ``simulate sweep`` counts a run as scenario + baseline): the table judges both, a lane-day (the reading
  used since session 21) and a run-day of two lanes (the stricter one); and, for 40 lanes run once more, the
  CPU inside its compiled loops alone, their calls included (:func:`kernel_time`): the engine's floor, its time
  were there no Python or numpy at all between the loops (their share of the least disturbed of the timed runs,
  applied to the best time of the untimed ones);
- headline: ``simulate scenarios/japan_servicing_ban.yaml`` end to end, CSVs and plots (target ≤ 2.5 ×
  reference, the issue's ≤ 3 s); without ``--quick``, also as the first run after an install (no target);
- sweep: one-year runs of the headline per second with local processes and with Dask (2 workers), from two
  sweep sizes so that start-up (imports, the Dask cluster) is told apart from the per-run rate, and the time
  10,000 such runs would take (target ≤ 10 min at a 1.2 s reference = ≤ 500 × reference; Dask within 20% of
  local for that sweep).

Each engine and headline row is the best of three and two runs (one with ``--quick``): on a shared machine another
process only ever adds time (the engine row at 40 lanes spread over 56.6–63 µs in single runs of one day, session
17). The reference is sampled at the start, between the sections and at the end, and the ratios use the least of
those samples, the machine at its fastest in this run: a reference taken in a slow minute made every ratio look
better than it was (session 22: 1.91 s at the start of a run, 1.49 s in a run minutes later), so a ``met`` now
errs towards "no".

With ``--whole``, the 10,000-run sweep is also timed whole on each executor, one after the other with the
reference sampled after each (~15 minutes): the target as the issue states it, and the Dask comparison without
the fit's noise (session 23: the fits said +21%, +34% and −23% for Dask; timed whole, +11% and +6%).

Usage: python benchmarks/speed_targets.py [--quick] [--no-sweep] [--whole]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from _common import ROOT, bare_simpy, machine, table


from simulator import runner
from simulator.engine import world as W
from simulator.engine.streams import replication_seeds
from simulator.report.memory import keep_freed_memory, small_pages
from simulator.report.reduce import Reducer
from simulator import load_scenario  # the loader with the model's checks registered
from simulator.sweep.batch import MAX_TASK_RUNS

SCENARIO = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")

#: seconds the issue's machine took for the reference: its 3 s headline is "≤ 2.5 × the reference"
ISSUE_REFERENCE_S = 3.0 / 2.5
#: the issue's targets in its own seconds, as ratios to the reference (see the module's docstring)
ENGINE_TARGET_TIMEOUTS = 60e-6 / (ISSUE_REFERENCE_S / 1e6)   # CPU a lane-day, in bare timeouts: 50
HEADLINE_TARGET = 2.5                                        # × reference
SWEEP_TARGET = 10 * 60 / ISSUE_REFERENCE_S                   # 10,000 one-year runs, × reference: 500
DASK_TARGET = 0.20                                           # Dask's 10,000-run sweep against local, at most
#: the sweep the issue's target names, timed whole with ``--whole`` (the fit above estimates it from two smaller ones)
WHOLE_RUNS = 10_000


def met(ratio: float, target: float) -> str:
    """The ``met`` column: whether a ratio is within its target."""
    return "yes" if ratio <= target else "no"


def engine(reps: int, horizon: str | None) -> tuple[float, dict[str, float], int]:
    """(CPU seconds of the batch's run, CPU seconds per model part, lane-days) for ``reps`` replications, run as
    ``simulate`` runs a batch: recording into a ring of days that is checked and folded into the replications'
    summaries as it fills (the fold is a part of its own). The parts also hold "system" (the kernel's share of
    the run's CPU: mostly zeroing fresh memory, which varies with the machine's memory state from run to
    run)."""
    sets = [f"replications={reps}"] + ([f"horizon={horizon}"] if horizon else [])
    loaded = load_scenario(SCENARIO, sets)
    sc = loaded.scenario
    seeds = replication_seeds(sc.seed, reps)
    runs = [(i, sc, seeds[i]) for i in range(reps)]
    specs = runner.lane_specs(runs)                                 # the lanes `simulate` would step
    window = min(runner.ring_days(len(specs) * sc.days), sc.days)   # the ring `simulate` would use
    lanes, mechs = W.build_lanes(sc, loaded.world.values, specs, window=window)
    parts: dict[str, float] = defaultdict(float)
    for m in mechs:
        name = type(m.parts[0]).__name__ + " (per lane)" if isinstance(m, W.PerLane) else type(m).__name__
        if hasattr(m, "part_class"):          # engine.shared_lanes: the part, its baseline lanes stepped once
            name = f"{m.part_class.__name__} (baseline lanes shared)"
        step = m.step

        def timed(day, step=step, name=name):
            t = time.process_time()
            step(day)
            parts[name] += time.process_time() - t
        m.step = timed
    recs = [ctx.recorder for ctx in lanes.runs]
    reducer = Reducer(sc)
    folds = [reducer.fold(recs[0].info) for _ in range(reps)]
    batch = reducer.batch(folds)
    scen_lanes = [i for i, sp in enumerate(specs) if not sp.is_baseline]

    def sink(first: int, n: int) -> None:
        t = time.process_time()
        runner.fold_window(runs, specs, scen_lanes, recs, batch, first, n)
        parts["fold (NaN check, reduction)"] += time.process_time() - t
    t0, r0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    W.run_lanes(lanes, mechs, sink)
    cpu, r1 = time.process_time() - t0, resource.getrusage(resource.RUSAGE_SELF)
    parts["system (of all the above)"] = r1.ru_stime - r0.ru_stime
    return cpu, dict(parts), 2 * reps * sc.days


@contextmanager
def kernel_time() -> Iterator[list[float]]:
    """While open, every compiled loop fetched (``kernels.compiled``, ``kernels.compile_external``) is timed: the
    list yielded holds their CPU seconds, calls included (numba's dispatch, ~1 µs a call). An engine run built
    inside it gives the engine's floor: its time with nothing at all between its compiled loops."""
    from simulator.engine import kernels
    spent = [0.0]

    def timed(f):
        def call(*a, f=f):
            t = time.process_time()
            try:
                return f(*a)
            finally:
                spent[0] += time.process_time() - t
        return call
    orig, orig_ext = kernels.compiled, kernels.compile_external

    def compiled(name: str):
        kernels.compiled = orig          # its helpers fetched inside stay numba's (a kernel calls them compiled)
        try:
            return timed(orig(name))
        finally:
            kernels.compiled = compiled
    kernels.compiled = compiled
    kernels.compile_external = lambda fn, helpers=(): timed(orig_ext(fn, helpers))
    try:
        yield spent
    finally:
        kernels.compiled, kernels.compile_external = orig, orig_ext


#: runs a command and prints the peak resident memory (MB) of its largest process: from a small process of its
#: own, since a child's peak counts the memory of the process it was forked from (this benchmark's, hundreds of
#: MB after the engine rows) until it runs the command
_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")


def headline(out: str, numba_cache: str | None = None) -> tuple[float, float]:
    """(seconds, peak resident MB of its largest process) of the headline command; with ``numba_cache`` (an
    empty folder), as the first run after an install: nothing compiled yet."""
    env = dict(os.environ, NUMBA_CACHE_DIR=numba_cache) if numba_cache else None
    t0 = time.perf_counter()
    got = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "simulator", SCENARIO, "--out", out,
                          "--quiet", "--force"], check=True, cwd=ROOT, capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, float(got.stdout.split()[-1])


def sweep(runs: int, executor: str, out: str) -> float:
    """Seconds for ``runs`` one-year runs of the headline (one replication each, a grid on compliance)."""
    levels = ",".join(f"{0.5 + 0.5 * i / max(1, runs - 1):.6f}" for i in range(runs))   # distinct to 10,000 runs
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simulator", "sweep", SCENARIO, "--out", out, "--quiet",
                    "--set", "horizon=1y", "--grid", f"controls.jp_servicing_ban.compliance={levels}",
                    "--replications", "1", "--jobs", "2", "--executor", executor], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def sweep_fits(sizes: tuple[int, int], executors: list[str], out: str, repeats: int = 1
               ) -> dict[str, tuple[float, float] | None]:
    """(runs per second, fixed seconds) of a sweep on each of ``executors``, from two sweep sizes: the per-run
    rate is the slope, the fixed part (start-up: imports, a Dask cluster, the plan's first point, tables) the
    intercept. A 10,000-run sweep takes about fixed + 10,000 / rate. Each size's time is the best of
    ``repeats`` runs: the slope is a difference of two times, and one slow run on a shared machine moves it a
    lot (session 21: 11.0 and 18.7 runs/s from single runs of the same code minutes apart). The executors'
    runs alternate (each size on each executor in turn, repeat after repeat), so that a machine slower for some
    minutes slows both of them, not the one measured then: they are compared with each other. None for an
    executor whose bigger sweep took no longer than its smaller one (no slope: CI's quick sweeps of a few 30-day
    runs, where the noise is the size of the difference)."""
    small, big = sizes
    best: dict[tuple[str, int], float] = {}
    for k in range(repeats):
        for n in (small, big):
            for ex in executors:
                t = sweep(n, ex, f"{out}/{ex}{n}.{k}")
                best[ex, n] = min(t, best.get((ex, n), t))
    fits = {}
    for ex in executors:
        gap = best[ex, big] - best[ex, small]
        if gap <= 0:
            fits[ex] = None
            continue
        rate = (big - small) / gap
        fits[ex] = rate, max(0.0, best[ex, small] - small / rate)
    return fits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="shorter horizons and fewer runs (CI report)")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--whole", action="store_true",
                    help="also time a 10,000-run sweep whole on each executor (~15 min on the 2-core machine)")
    args = ap.parse_args()
    keep_freed_memory()         # the engine rows run as in `simulate`'s processes (see report/memory.py)
    small_pages()
    refs: list[float] = []      # the reference, sampled at the start, between the sections and at the end

    def sample(k: int) -> None:
        refs.extend(bare_simpy() for _ in range(k))
    per_sample = 1 if args.quick else 2
    sample(1 if args.quick else 3)
    rows: list = []             # (label, value, ratio(ref) -> text, target, met(ref) -> text)
    horizon = "1y" if args.quick else None
    engine(1, "30d")                                        # imports, caches, compiled code loaded
    repeats = 1 if args.quick else 3    # timed rows: the best of `repeats` (another process only ever adds time)
    for reps in (1, 4, 20):
        cpu, parts, lane_days = min((engine(reps, horizon) for _ in range(repeats)), key=lambda got: got[0])
        per = cpu / lane_days

        def timeouts(ref: float, per: float = per) -> float:    # the lane-day's CPU in bare SimPy timeouts
            return per / (ref / 1e6)
        rows.append((f"engine, {2 * reps} lanes ({reps} replication{'s' if reps > 1 else ''})",
                     f"{per * 1e6:.0f} µs/lane-day", lambda ref, f=timeouts: f"{f(ref):.0f} timeouts a lane-day",
                     f"≤ {ENGINE_TARGET_TIMEOUTS:.0f} (60 µs at 1.2 s)",
                     lambda ref, f=timeouts: met(f(ref), ENGINE_TARGET_TIMEOUTS)))
    # The issue's "µs per run-day" read as this tool counts a run (scenario and its baseline: a sweep's run, one
    # pair of lanes): two lane-days, the baseline's markets shared with the other pairs'. The stricter reading.
    rows.append(("engine, 40 lanes, per run-day (a run = scenario + baseline)", f"{2 * per * 1e6:.0f} µs/run-day",
                 lambda ref, f=timeouts: f"{2 * f(ref):.0f} timeouts a run-day",
                 f"≤ {ENGINE_TARGET_TIMEOUTS:.0f} (60 µs at 1.2 s)",
                 lambda ref, f=timeouts: met(2 * f(ref), ENGINE_TARGET_TIMEOUTS)))
    system = parts.pop("system (of all the above)")
    timed_runs = []                      # the same batch again, its compiled loops timed call by call: their
    for _ in range(repeats):             # share of the least disturbed run, applied to the best time above
        with kernel_time() as spent:
            run_cpu = engine(20, horizon)[0]
        timed_runs.append((run_cpu, spent[0] / run_cpu))
    share = min(timed_runs)[1]
    floor = share * per

    def floor_timeouts(ref: float, floor: float = floor) -> float:
        return floor / (ref / 1e6)
    rows.append(("  of which in its compiled loops (the engine's floor: nothing between them)",
                 f"{floor * 1e6:.0f} µs/lane-day ({share:.0%})",
                 lambda ref, f=floor_timeouts: f"{f(ref):.0f} timeouts a lane-day", f"≤ {ENGINE_TARGET_TIMEOUTS:.0f}",
                 lambda ref, f=floor_timeouts: met(f(ref), ENGINE_TARGET_TIMEOUTS)))
    for name, sec in sorted(parts.items(), key=lambda kv: -kv[1]):
        rows.append((f"  of which {name}", f"{sec / lane_days * 1e6:.0f} µs/lane-day", "", "", ""))
    rows.append(("  of all these, system time (zeroing fresh memory)",
                 f"{system / lane_days * 1e6:.0f} µs/lane-day", "", "", ""))
    sample(per_sample)
    with tempfile.TemporaryDirectory() as d:
        t, rss = min(headline(f"{d}/h") for _ in range(min(repeats, 2)))
        rows.append(("headline `simulate` end to end (20 replications, 3 y, CSVs, plots)", f"{t:.2f} s",
                     lambda ref, t=t: f"{t / ref:.2f}", f"≤ {HEADLINE_TARGET} (3 s at 1.2 s)",
                     lambda ref, t=t: met(t / ref, HEADLINE_TARGET)))
        rows.append(("  its largest process, peak resident memory", f"{rss:.0f} MB", "", "", ""))
        if not args.quick:        # ~16 s: its workers compile the loops, sharing them out (engine/first_compile)
            t, _ = headline(f"{d}/h", numba_cache=f"{d}/numba")
            rows.append(("  the same as the first run after an install (numba's cache empty)", f"{t:.1f} s",
                         lambda ref, t=t: f"{t / ref:.1f}", "", ""))
        sample(per_sample)
        if not args.no_sweep:
            # full: every task of both sizes carries MAX_TASK_RUNS runs, as a 10,000-run sweep's do (`batch.tasks`:
            # at least 4 tasks a worker, so 256 runs made tasks of 32, whose runs cost more, and the fit's slope
            # then mixed two task sizes: 27.8 runs/s with a 9.1 s "start", session 22)
            sizes = (4, 12) if args.quick else (8 * MAX_TASK_RUNS, 16 * MAX_TASK_RUNS)
            executors = ["local"] + (["dask"] if shutil.which("dask") or _has_dask() else [])
            fits = sweep_fits(sizes, executors, d, repeats=1 if args.quick else 2)
            sample(per_sample)
            for ex, fit in fits.items():
                label = f"sweep, one-year runs, {ex}, 2 {'jobs' if ex == 'local' else 'workers'}"
                if fit is None:
                    rows.append((label, "no fit: its bigger sweep was not slower", "", "", ""))
                    continue
                rate, fixed = fit
                total = fixed + 10_000 / rate
                note = " (quick: tasks of 1 run, far from a big sweep's rate)" if args.quick else ""
                rows.append((label, f"{rate:.2f} runs/s + {fixed:.1f} s start",
                             lambda ref, rate=rate: f"{1 / rate / ref:.3f} per run", "", ""))
                rows.append((f"  10,000 runs, {ex}", f"{total / 60:.1f} min", lambda ref, t=total: f"{t / ref:.0f}",
                             f"≤ {SWEEP_TARGET:.0f} (10 min at 1.2 s){note}",
                             (lambda ref, t=total: met(t / ref, SWEEP_TARGET)) if ex == "local" and not args.quick
                             else ""))
            if fits.get("dask") and fits.get("local"):
                t = {ex: fit[1] + 10_000 / fit[0] for ex, fit in fits.items()}
                more = t["dask"] / t["local"] - 1
                rows.append(("sweep, 10,000 runs, dask against local", f"{more:+.0%}", "", f"≤ +{DASK_TARGET:.0%}",
                             met(more, DASK_TARGET) if not args.quick else ""))
            if args.whole:       # the target as the issue states it: the sweep itself, once per executor
                whole = {}
                for ex in executors:
                    whole[ex] = sweep(WHOLE_RUNS, ex, f"{d}/whole_{ex}")
                    shutil.rmtree(f"{d}/whole_{ex}", ignore_errors=True)
                    sample(per_sample)
                for ex, t in whole.items():
                    rows.append((f"sweep, {WHOLE_RUNS:,} one-year runs timed whole, {ex}", f"{t / 60:.1f} min",
                                 lambda ref, t=t: f"{t / ref:.0f}", f"≤ {SWEEP_TARGET:.0f} (10 min at 1.2 s)",
                                 lambda ref, t=t: met(t / ref, SWEEP_TARGET)))
                if "dask" in whole:
                    more = whole["dask"] / whole["local"] - 1
                    rows.append((f"sweep, {WHOLE_RUNS:,} runs timed whole, dask against local", f"{more:+.0%}", "",
                                 f"≤ +{DASK_TARGET:.0%}", met(more, DASK_TARGET)))
    ref = min(refs)
    head = ("reference: 1,000,000 bare SimPy timeouts", f"{ref:.3f} s", "1.00",
            f"(the issue's machine: {ISSUE_REFERENCE_S:.1f} s)", "")
    spread = ("  the least of samples through the run (ratios use it)",
              f"{len(refs)}: {min(refs):.3f}–{max(refs):.3f} s", "", "", "")
    print(f"machine: {machine()}, load {os.getloadavg()[0]:.2f}")
    print(table([head, spread] + [tuple(c(ref) if callable(c) else c for c in r) for r in rows],
                ("benchmark", "value", "× reference", "target (× reference)", "met")))


def _has_dask() -> bool:
    try:
        import distributed  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
