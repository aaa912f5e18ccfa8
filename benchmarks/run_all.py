"""Run every benchmark and print its table (issue 7). A report, never a pass/fail: CI runs ``--quick``.

    python benchmarks/run_all.py            # full mode, several minutes
    python benchmarks/run_all.py --quick    # CI's report mode

Each script prints medians of repeated runs and ratios measured in the same process; recorded figures and
the machine they came from are in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCRIPTS = [
    ("engine, single run, horizon", "engine_bench.py", ["--quick"], []),
    ("fleet scaling", "fleet_scaling.py", ["--repeats", "1"], ["--repeats", "5"]),
    ("minerals step", "minerals_step.py", ["--repeats", "1"], ["--repeats", "5"]),
    ("gallium 2023 calibration", "calibrate_gallium_2023.py", [], []),
    ("validation on observed episodes", "validate_episodes.py", ["--replications", "1"], ["--replications", "5"]),
    ("published estimates", "published_estimates.py", ["--replications", "1"], ["--replications", "5"]),
    ("stage balance of the world data", "check_stage_balance.py", ["--quiet"], ["--quiet"]),
    ("sweeps", "sweep_bench.py", ["--quick"], []),
    ("speed targets (issue 16)", "speed_targets.py", ["--quick"], []),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and one repeat (CI report)")
    args = ap.parse_args()
    failed = 0
    for title, script, quick, full in SCRIPTS:
        print(f"\n=== {title} ({script}) ===", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / script), *(quick if args.quick else full)], cwd=HERE)
        print(f"--- {script}: {time.perf_counter() - t0:.1f} s, exit {proc.returncode}", flush=True)
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
