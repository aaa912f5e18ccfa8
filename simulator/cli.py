"""Command line: ``simulate SCENARIO``, ``simulate validate``, ``simulate list``, ``simulate compare``,
``simulate sweep``. Argument parsing and terminal output only; bad input exits 2 with one located line."""
from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

from .report.arguments import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from .report.arguments import Parser as _Parser

SUBCOMMANDS = ("validate", "list", "metrics", "compare", "sweep", "world", "new")


def _run_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simulate", description="Run a retaliation scenario and write results/<name>/.",
                epilog="Other commands: simulate validate FILE..., simulate list, simulate metrics FILE, "
                       "simulate world [--grep X], simulate new NAME, simulate compare A B, "
                       "simulate sweep FILE --out DIR")
    p.add_argument("scenario", help="scenario YAML file, e.g. scenarios/japan_servicing_ban.yaml")
    p.add_argument("--out", help="result folder (default results/<scenario name>)")
    p.add_argument("--seed", type=int, help="root seed (overrides the file's)")
    p.add_argument("--replications", type=int, help="number of replications (overrides the file's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value by dotted path, e.g. controls.jp_servicing_ban.compliance=0.7")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for replications (default: all cores; results do not depend on it)")
    p.add_argument("--force", action="store_true",
                   help="replace a result folder made from a different scenario or settings")
    p.add_argument("--max-memory", type=float, metavar="GB",
                   help="refuse runs estimated above this memory (default 4, or $SIMULATE_MAX_MEMORY_GB)")
    p.add_argument("--xlsx", action="store_true", help="also write one .xlsx workbook")
    p.add_argument("--no-plots", action="store_true", help="skip PNG charts")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return p


def _cmd_run(argv: list[str]) -> int:
    t_start = time.perf_counter()
    parser = _run_parser()
    args = parser.parse_args(argv)
    if args.out is not None and not args.out.strip():
        print("simulate: --out: empty folder name", file=sys.stderr)
        return EXIT_BAD_INPUT
    from .report.memory import keep_freed_memory, small_pages
    from .safety import one_blas_thread
    one_blas_thread()      # its workers and chart processes share the cores (see safety.one_blas_thread); set
    #                        now, while the scenario loads on one core, as OpenBLAS spins its helper thread ~0.1 s
    keep_freed_memory()    # this process and its workers end with the command: reuse freed memory
    small_pages()          # no huge pages for numpy's big arrays (see report.memory.small_pages)
    from .day_meter import open_board
    open_board()           # the run's progress board, shared with the workers (see simulator.day_meter)
    zygote = _start_zygote(args.jobs)   # forked after these settings: it and its workers inherit them
    try:
        with _lasting_loads() as load:
            return _run(args, argv, t_start, zygote, load)
    finally:
        if zygote is not None:
            zygote.close()


@contextlib.contextmanager
def _lasting_loads() -> Iterator[Callable[..., None]]:
    """A ``load(fn, *args)`` for the run: ``fn(*args)`` imports what lives until the command ends (the
    writers, matplotlib), without cyclic collections on the way, and what is alive then is frozen out of later ones
    (``gc.freeze``) until the run ends. Measured on the headline, 2026-12-06: this process spent 0.07 s in a full
    collection during those imports, beside the workers, and 0.05–0.08 s in one while writing the tables. A
    process that froze objects of its own is left as it is; the collector's state is restored on the way out
    (``cli.main`` called from a longer-lived process)."""
    import gc

    from .engine.world import collections_paused
    ours = gc.get_freeze_count() == 0

    def load(fn: Callable[..., None], *args: Any) -> None:
        with collections_paused():
            try:
                fn(*args)
            finally:     # frozen before collections resume: the first allocation with collections on would walk
                if ours:     # all that was loaded (``world.collections_paused``, then ``frozen_heap``: +0.05 s)
                    gc.freeze()
    try:
        yield load
    finally:
        if ours:
            gc.unfreeze()


def _start_zygote(jobs: int | None) -> Any:
    """A zygote (:mod:`simulator.zygote`) loading numba for the run's workers while this process reads the
    scenario, where the run may have workers (two usable cores or more, ``--jobs`` not 1) that would run
    compiled loops (numba installed and not disabled), on Linux (elsewhere workers come from a process pool, as
    before: macOS advises against forking without exec, Windows has no fork). Measured on the headline,
    2026-12-06: see ``benchmarks/RESULTS.md``, session 14."""
    from .engine import kernels
    from .safety import usable_cores
    if jobs == 1 or not sys.platform.startswith("linux") or usable_cores() < 2 or not kernels.installed():
        return None
    from .zygote import Zygote
    try:
        return Zygote("simulator.api:load_for_workers")
    except OSError:        # no process to spare: the workers are forked from this process, as without numba
        return None


def _say(line: str) -> None:
    """A line for the user on stderr before the run (a warning, a note): one that cannot be written (stderr piped
    into ``head``, which has ended) does not stop the run, whose results are still written."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _run(args: Any, argv: list[str], t_start: float, zygote: Any, load: Callable[..., None]) -> int:
    from .api import prepare_write, run_loaded
    from .report.folder_guard import OutputError
    from .safety import interrupts_raised, raise_swallowed
    from .scenario.load import load_scenario
    interrupts = interrupts_raised()
    sets = list(args.set)
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    if args.replications is not None:
        sets.append(f"replications={args.replications}")
    loaded = load_scenario(args.scenario, sets)
    for w in loaded.warnings:
        _say(w)
    out = Path(args.out) if args.out else Path("results") / loaded.scenario.name
    from .preflight import PreflightError, preflight
    try:   # jobs, size estimate, output folder: all before simulating
        jobs, notes = preflight(loaded, out, args.jobs, args.force, args.max_memory, args.xlsx)
    except PreflightError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for note in notes if not args.quiet else ():
        _say(note)
    xlsx, plots = True if args.xlsx else None, False if args.no_plots else None
    try:   # a disk that fills up, for the run's temporary numbers (report.spool) or its results: one line
        res = run_loaded(loaded, jobs=jobs, progress=False if args.quiet else None,
                         meanwhile=lambda: load(prepare_write, loaded, xlsx, plots), zygote=zygote)
        if zygote is not None:
            zygote.close()     # its workers are done: nothing of it outlives the run
        raise_swallowed(interrupts)   # a Ctrl-C swallowed on the way (see safety.raise_swallowed): nothing written
        command = "simulate " + " ".join(shlex.quote(a) for a in argv)
        folder = res.write(out, command=command, xlsx=xlsx, plots=plots)
    except OutputError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        from .report.terminal import headline_table, legend
        sc = loaded.scenario
        print(f"{sc.name}: {sc.replications} replication(s) x (scenario + baseline), {sc.days} days from "
              f"{sc.start}, seed {sc.seed}, {time.perf_counter() - t_start:.1f} s "
              f"(simulation {res.runtime_s:.1f} s)")
        print(headline_table(res.table("summary"), res.headline_keys, scenario=sc))
        print(legend())
        for note in res.notes:
            print(f"note: {note}")
        files = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
        print(f"\nresults in {folder}/  (open report.html in a browser)\n  " + ", ".join(files))
    return 0


def _cmd_validate(argv: list[str]) -> int:
    p = _Parser(prog="simulate validate", description="Check scenario files without running them.")
    p.add_argument("files", nargs="+")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    from .scenario.errors import ScenarioError
    from .scenario.load import load_scenario
    bad = 0
    for f in args.files:
        try:
            loaded = load_scenario(f, args.set)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            bad += 1
            continue
        for w in loaded.warnings:
            print(w, file=sys.stderr)
        print(f"{f}: ok ({loaded.scenario.name}: {len(loaded.scenario.controls)} control(s), "
              f"{len(loaded.scenario.countermeasures)} countermeasure(s), {loaded.scenario.days} days)")
    return EXIT_BAD_INPUT if bad else 0


def _cmd_list(argv: list[str]) -> int:
    from .cli_world import cmd_list
    return cmd_list(argv)


def _cmd_metrics(argv: list[str]) -> int:
    from .cli_world import cmd_metrics
    return cmd_metrics(argv)


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] == "validate":
        return _cmd_validate(argv[1:])
    if argv and argv[0] == "list":
        return _cmd_list(argv[1:])
    if argv and argv[0] == "metrics":
        return _cmd_metrics(argv[1:])
    if argv and argv[0] in ("world", "new"):
        from .cli_world import cmd_new, cmd_world
        return (cmd_world if argv[0] == "world" else cmd_new)(argv[1:])
    if argv and argv[0] == "compare":
        from .report.compare import main as compare_main
        return compare_main(argv[1:])
    if argv and argv[0] == "sweep":
        from .sweep.cli import main as sweep_main
        return sweep_main(argv[1:])
    return _cmd_run(argv)


def _loads_scenarios(argv: list[str]) -> bool:
    """Whether the command may load a scenario or a world (and so needs the model's checks): all but the help,
    ``compare`` (result folders only) and a missing argument (~0.1 s instead of ~0.45 s for ``simulate -h``)."""
    return bool(argv) and argv[0] not in ("-h", "--help", "compare")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``simulate`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from .safety import handle_sigterm, interrupted
    handle_sigterm()   # `timeout`, schedulers and `kill` stop a run like Ctrl-C: pools shut, temp folders gone
    try:               # the model and the scenario layer (~0.3 s), loaded here so that a Ctrl-C meanwhile is
        if _loads_scenarios(argv):  # an interruption like any other (the package loads nothing)
            from . import model_checks  # noqa: F401  (the model's checks of a scenario, for the loader)
        from .scenario.errors import ScenarioError
        from .zygote import WorkerLost
    except KeyboardInterrupt:
        return _report_interrupt()
    try:
        code = _dispatch(argv)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        code = _report_interrupt()
    except BrokenPipeError:   # output piped into `head` and the like: the results are written, stop quietly
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    except WorkerLost as exc:  # killed from outside (the system short of memory, say): not a bug, not bad input
        if interrupted():
            return _report_interrupt()
        print(f"simulate: {exc}; nothing was written, earlier results are untouched. Run it again; if memory was "
              f"short, use fewer --jobs or replications", file=sys.stderr)
        code = 1
    except Exception as exc:  # a bug, not bad input: short message, traceback on request
        if interrupted():     # the interrupt came out of a C extension's callback as its own error
            return _report_interrupt()
        if os.environ.get("SIMULATE_DEBUG"):
            traceback.print_exc()
        print(f"simulate: internal error: {type(exc).__name__}: {exc} (set SIMULATE_DEBUG=1 for details)",
              file=sys.stderr)
        code = 1
    return code


def _report_interrupt() -> int:
    """Say that the run was interrupted (Ctrl-C, SIGTERM); its exit code."""
    print("simulate: interrupted; earlier results are untouched", file=sys.stderr)
    return EXIT_INTERRUPTED


def entry() -> None:
    """The ``simulate`` console script and ``python -m simulator``: :func:`main`, then :func:`exit_now`."""
    exit_now(main())


def exit_now(code: int) -> None:
    """End the process with ``code`` without tearing the interpreter down (freeing pandas', matplotlib's and
    numba's objects one by one: ~0.2 s after a run). By then every file is written and closed and every child
    joined; the standard streams are flushed first. Where that cannot be made sure (a stream that will not
    flush, a child process still alive), the normal exit and its clean-up run instead."""
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):          # a closed pipe or stream: let Python's own exit deal with it
        sys.exit(code)
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.active_children():
        sys.exit(code)
    os._exit(code)
