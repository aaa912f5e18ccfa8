"""Fixed costs of the output pipeline (everything outside the engine) and peak memory of big outputs.

    python benchmarks/output_bench.py [--root CHECKOUT] [--jobs N] [--big N] [--skip-big] [--skip-e2e]

Prints, for the checkout ``--root`` (default: this one; point it at an older checkout for before/after):

- import of ``simulator.cli`` and ``simulate --help`` (wall seconds, fresh interpreter; whether pandas or
  matplotlib got imported),
- for the headline ``scenarios/japan_servicing_ban.yaml`` (4 replications, measured in one process): the run
  with its reduction, building the tables, writing the CSVs, drawing the charts (sequentially), writing the
  workbook of ``--xlsx``, and writing the whole folder without and with charts (charts drawn in parallel with
  the CSVs),
- end-to-end ``simulate scenarios/japan_servicing_ban.yaml`` (its 20 replications, ``--jobs N``),
- peak RSS of a ``replications: all``, ``frequency: 1d`` run with ``--big`` replications (default 30; the
  issue's target is 100 within 1.5 GB): the largest resident set of the run's processes
  (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that runs only it),
- 1,000,000 bare SimPy timeouts measured in the same run, as the machine's yardstick, and each figure as a
  ratio of it.

Never asserts on time: machines and neighbours differ.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bare_simpy, machine, table  # noqa: E402

HEADLINE = "scenarios/japan_servicing_ban.yaml"

# Run in a fresh interpreter with the checkout under test first on sys.path; works with the code before and
# after the reduced pipeline (falls back to the old Result that held every pair).
PHASES = r'''
import json, sys, tempfile, time
from pathlib import Path
t = {}
t0 = time.perf_counter()
import simulator.cli, simulator.api as api
from simulator import load_scenario  # the loader with the model's checks registered
t["import_cli_api_s"] = time.perf_counter() - t0
loaded = load_scenario(sys.argv[1], ["replications=4"])
t0 = time.perf_counter()
res = api.run_loaded(loaded, jobs=1, progress=False)
t["run_4_replications_s"] = time.perf_counter() - t0
new = hasattr(res, "runs")
t0 = time.perf_counter()
if new:
    from simulator.report.fold import Reduced
    again = api.Result(loaded, Reduced(loaded.scenario, res.runs.summaries), 0.0, "", res.spool)
    for name in ("summary", "impacts", "events", "by_replication", "gdp_by_quarter"):
        getattr(again, name)
    again.runs.mean_buckets
else:
    again = api.Result(loaded, res.pairs, 0.0, "")
t["tables_s"] = time.perf_counter() - t0
tmp = Path(tempfile.mkdtemp())
t0 = time.perf_counter()
if new:
    from simulator.report.outputs import write_tables
    write_tables(again, tmp)
else:
    from simulator.report.tables import write_table
    from simulator.report.gdp import write_gdp_by_quarter
    for df, name in ((again.impacts, "impacts.csv"), (again.summary, "summary.csv"),
                     (again.timeseries, "timeseries.csv"), (again.timeseries_wide, "timeseries_wide.csv"),
                     (again.events, "events.csv"), (again.by_replication, "metrics_by_replication.csv")):
        write_table(df, tmp / name)
    write_gdp_by_quarter(loaded.scenario.start, again.pairs, tmp)
t["csv_s"] = time.perf_counter() - t0
t["timeseries_csv_mb"] = (tmp / "timeseries.csv").stat().st_size / 1e6
from simulator.report.plots import write_plots
t0 = time.perf_counter()
write_plots(again, tmp / "plots")
t["plots_sequential_s"] = time.perf_counter() - t0
from simulator.report.xlsx import write_xlsx
t0 = time.perf_counter()
write_xlsx(again, tmp / "workbook.xlsx")
t["xlsx_s"] = time.perf_counter() - t0
for plots in (False, True):
    t0 = time.perf_counter()
    again.write(tmp / f"out{int(plots)}", plots=plots)
    t[f"write_folder_plots_{plots}_s"] = time.perf_counter() - t0
print(json.dumps(t))
'''

RSS = r'''
import resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t0)
if p.returncode:
    print(p.stderr[-2000:], file=sys.stderr)
'''


def env_for(root: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(root), SIMULATE_MAX_MEMORY_GB="1000")


def wall(cmd: list[str], root: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=root, env=env_for(root), capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return time.perf_counter() - t0, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--big", type=int, default=30, help="replications of the replications: all, 1d run")
    ap.add_argument("--big-horizon", default="3y")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true")
    args = ap.parse_args()
    root = args.root.resolve()
    py = sys.executable
    ref = bare_simpy()
    rows: list[tuple] = [("1,000,000 bare SimPy timeouts", f"{ref:.2f} s", "1.00")]

    def add(label: str, seconds: float) -> None:
        rows.append((label, f"{seconds:.2f} s", f"{seconds / ref:.2f}"))

    bare, _ = wall([py, "-c", "pass"], root)
    imp, out = wall([py, "-c", "import sys, simulator.cli; print([m for m in ('pandas', 'matplotlib') "
                               "if m in sys.modules])"], root)
    add(f"python -c 'import simulator.cli' (bare python {bare:.2f} s; heavy: {out.strip()})", imp)
    hlp, _ = wall([py, "-m", "simulator", "--help"], root)
    add("simulate --help", hlp)
    _, out = wall([py, "-c", PHASES, HEADLINE], root)
    ph = json.loads(out.strip().splitlines()[-1])
    add("headline, 4 replications: import simulator.cli + api (in process)", ph["import_cli_api_s"])
    add("headline, 4 replications: run (engine + reduction)", ph["run_4_replications_s"])
    add("headline, 4 replications: build tables", ph["tables_s"])
    add(f"headline, 4 replications: write CSVs (timeseries.csv {ph['timeseries_csv_mb']:.0f} MB)", ph["csv_s"])
    add("headline, 4 replications: draw charts, one process", ph["plots_sequential_s"])
    if "xlsx_s" in ph:
        add("headline, 4 replications: write the workbook (--xlsx)", ph["xlsx_s"])
    add("headline, 4 replications: Result.write, no charts", ph["write_folder_plots_False_s"])
    add("headline, 4 replications: Result.write with charts", ph["write_folder_plots_True_s"])
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory() as tmp:
            e2e, _ = wall([py, "-m", "simulator", HEADLINE, "--out", f"{tmp}/h", "--jobs", str(args.jobs),
                           "--quiet"], root)
        add(f"simulate {HEADLINE} (20 replications, --jobs {args.jobs})", e2e)
    if not args.skip_big:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [py, "-c", RSS, py, "-m", "simulator", HEADLINE, "--out", f"{tmp}/big", "--jobs", str(args.jobs),
                   "--no-plots", "--quiet", "--set", f"replications={args.big}", "--set",
                   f"horizon={args.big_horizon}", "--set", "output.replications=all", "--set",
                   "output.frequency=1d"]
            p = subprocess.run(cmd, cwd=root, env=env_for(root), capture_output=True, text=True)
            code, rss_kb, secs = p.stdout.split()
            label = (f"replications: all, 1d, {args.big} replications x {args.big_horizon}, --jobs {args.jobs}: "
                     f"peak RSS {int(rss_kb) / 1024:.0f} MB (exit {code})")
            if int(code):
                label += f" {p.stderr.strip()[-300:]}"
            add(label, float(secs))
    print(f"output pipeline of {root} on {machine()}")
    print(table(rows, ("what", "time", "x bare SimPy")))


if __name__ == "__main__":
    main()
