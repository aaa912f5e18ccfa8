"""``simulate sweep SCENARIO --out DIR [design] [execution]``: argument parsing and terminal output only.

Design (added to the scenario file's ``sweep:`` block; a key given in both takes the command line's)::

    --grid KEY=V1,V2,...          one factor of the full factorial (repeatable)
    --link "KEY=V1,V2;KEY2=W1,W2" keys that move together, level by level (repeatable, one factor each)
    --lhs KEY=LO:HI               a range sampled by a Latin hypercube (repeatable; all ranges one factor)
    --samples N                   LHS rows (default 10); with --sensitivity the SALib base sample size
    --sensitivity sobol|morris    sample the --lhs ranges with SALib's design and write sensitivity.csv
    --replications N              runs per point (default: the scenario's replications)

Keys are the dotted ``--set`` paths. Execution: ``--jobs N`` (default: cores), ``--executor local|dask``,
``--scheduler ADDRESS`` (dask; default a local cluster), ``--resume``.
"""
from __future__ import annotations

import argparse
import sys

from ..report.arguments import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from ..scenario.errors import ScenarioError
from .design import SENSITIVITY_METHODS, from_cli

MAX_SAMPLES = 1_000_000
MAX_RUNS = 1_000_000


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="simulate sweep", description="Run a scenario over a design of parameter points and "
                "replications; write runs.csv, summary.csv, experiments.csv, outcomes.csv, status.csv to --out.")
    p.add_argument("scenario", help="scenario YAML file (its `sweep:` block, if any, is the default design)")
    p.add_argument("--out", required=True, help="sweep folder (run files in DIR/runs/, tables in DIR/)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="full-factorial factor, e.g. controls.jp_servicing_ban.compliance=0.7,0.85,1")
    p.add_argument("--link", action="append", default=[], metavar='"KEY=V1,V2;KEY2=W1,W2"',
                   help="keys that move together level by level (same number of values each)")
    p.add_argument("--lhs", action="append", default=[], metavar="KEY=LO:HI", help="range for a Latin hypercube")
    p.add_argument("--samples", type=int, help="Latin hypercube rows (default 10) or SALib base sample size")
    p.add_argument("--sensitivity", choices=SENSITIVITY_METHODS,
                   help="sample the --lhs ranges for SALib and write sensitivity.csv")
    p.add_argument("--replications", type=int, help="runs per parameter point (default: the scenario's)")
    p.add_argument("--seed", type=int, help="root seed (overrides the file's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed value for every run")
    p.add_argument("--jobs", type=int, help="parallel runs (default: number of cores)")
    p.add_argument("--executor", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--resume", action="store_true", help="continue a sweep in --out, skipping finished runs")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no closing summary")
    p.add_argument("--max-runs", type=int, help=f"refuse designs with more runs (default {1_000_000:,})")
    return p


def main(argv: list[str]) -> int:
    """Parse, plan (validating every point), execute, report; returns the exit code."""
    args = parser().parse_args(argv)
    for name in ("samples", "replications", "jobs", "max_runs"):
        v = getattr(args, name)
        if v is not None and v < 1:
            print(f"simulate sweep: --{name.replace('_', '-')}: expected a whole number >= 1, got {v}",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.samples is not None and args.samples > MAX_SAMPLES:
        print(f"simulate sweep: --samples {args.samples}: at most {MAX_SAMPLES:,} (a design that size takes "
              f"memory before any run starts)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.executor == "local" and args.jobs is not None:
        from ..safety import check_jobs
        args.jobs, note = check_jobs(args.jobs)
        if note and not args.quiet:
            print(note.replace("simulate:", "simulate sweep:"), file=sys.stderr)
    if args.scheduler and args.executor != "dask":
        print("simulate sweep: --scheduler needs --executor dask", file=sys.stderr)
        return EXIT_BAD_INPUT
    from .batch import (ExecutorError, SweepFolderError, SweepInterrupted, check_out, check_scheduler, command_line,
                        execute, make_plan)
    from .store import StoreError
    try:
        check_scheduler(args.scheduler)
        cli = from_cli(args.grid, args.link, args.lhs, args.samples, args.replications, args.sensitivity)
        sets = list(args.set) + ([f"seed={args.seed}"] if args.seed is not None else [])
        from pathlib import Path
        check_out(Path(args.out), args.resume)
        plan = make_plan(args.scenario, cli, sets, args.out)
        limit = args.max_runs or MAX_RUNS
        if len(plan.specs) > limit:
            print(f"simulate sweep: the design has {len(plan.specs):,} runs, above the limit of {limit:,}; "
                  f"reduce --samples/--grid/--replications or raise it with --max-runs N", file=sys.stderr)
            return EXIT_BAD_INPUT
    except ExecutorError as exc:
        print(f"simulate sweep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SweepFolderError as exc:
        print(f"simulate sweep: --out {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = False if args.quiet else None
    from ..report.memory import small_pages
    small_pages()    # before the local workers fork (see report.memory.small_pages)
    try:
        counts = execute(plan, args.out, args.executor, args.jobs, args.scheduler, args.resume, progress,
                         command_line(argv))
    except (StoreError, ExecutorError, SweepFolderError) as exc:
        print(f"simulate sweep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SweepInterrupted as exc:
        where = (f"after {exc.done:,} of {exc.total:,} runs; the runs done are kept in {args.out}: run the same "
                 f"command with --resume to do the rest" if exc.done else
                 f"before any of its {exc.total:,} runs ended; run the same command with --resume to do them")
        print(f"simulate sweep: interrupted {where}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        from ..report.writer import FOLDER_ERRNOS, os_error_text
        if exc.errno not in FOLDER_ERRNOS:
            raise
        print(f"simulate sweep: --out {args.out}: cannot write there ({os_error_text(exc)}); the runs stored so far "
              f"are kept: make room (or fix the folder), then run the same command with --resume", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        d = plan.design
        print(f"{plan.scenario_name}: {len(d)} point(s) x {plan.replications} replication(s) = {len(plan.specs)} "
              f"run(s): {counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed, "
              f"{counts.get('pending', 0)} pending")
        extra = ", sensitivity.csv" if d.sensitivity else ""
        print(f"results in {args.out}/ (runs.csv, summary.csv, experiments.csv, outcomes.csv{extra}, status.csv, "
              f"points.csv, runs/)")
    failed, stopped = counts.get("failed", 0), counts.get("stopped")
    if failed:       # on stderr even with --quiet: the exit code alone does not say why
        errors = counts.get("errors") or ["?"]
        more = f" ({len(errors) - 1} other error(s) too)" if len(errors) > 1 else ""
        print(f"simulate sweep: {failed} run(s) failed, the first with {errors[0]}{more}; each run's error is in "
              f"runs.csv (column error). Once the cause is fixed, the same command with --resume runs them again",
              file=sys.stderr)
    if stopped:      # the disk: the runs left were not started (sweep.room)
        print(f"simulate sweep: stopped after {len(plan.specs) - counts.get('pending', 0):,} of "
              f"{len(plan.specs):,} runs: {stopped}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 1 if failed else 0
