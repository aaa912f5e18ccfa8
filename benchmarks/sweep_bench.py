"""Sweep benchmarks: parallel speed-up, memory growth with the number of runs, Dask overhead per run.

    python benchmarks/sweep_bench.py            # full: 200 runs, RSS at 100 vs 2,000 runs
    python benchmarks/sweep_bench.py --quick    # small sizes, a minute or so

1. Speed-up: the same 200-run sweep (scenarios/sweep_japan_compliance.yaml, compliance grid × replications) at
   ``--jobs 1`` and ``--jobs 2`` (target >= 1.8x on two free cores).
2. Memory: peak RSS of the sweep's parent process (``ru_maxrss``, in a fresh interpreter, jobs 2) for a sweep of
   100 runs and of 2,000 runs (target growth < 50 MB): results stream to run files, the parent keeps statuses.
3. Dask overhead: the 200-run sweep on an already running LocalCluster of 2 single-threaded worker processes
   versus 2 local processes, as extra wall time per run (target <= 20%).
Prints a table; the figures measured are recorded in the issue note.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCENARIO = ROOT / "scenarios" / "sweep_japan_compliance.yaml"


def grid(n_runs: int, reps: int) -> list[str]:
    points = max(1, n_runs // reps)
    vals = ",".join(f"{0.5 + 0.5 * i / max(1, points - 1):.6g}" for i in range(points))
    # the file's link factor is replaced by a fixed leakage so the design is exactly points × reps
    return ["--grid", f"controls.jp_servicing_ban.compliance={vals}",
            "--grid", "countermeasures.cn_gallium_ban_japan.leakage=0.15",
            "--grid", "countermeasures.cn_graphite_licensing_japan.leakage=0.1",
            "--replications", str(reps)]


def timed_sweep(out: Path, args: list[str]) -> float:
    from simulator.cli import main
    t0 = time.perf_counter()
    code = main(["sweep", str(SCENARIO), "--out", str(out), "--quiet", *args])
    dt = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"sweep failed with exit code {code}: {args}")
    return dt


def peak_rss_mb(out: Path, args: list[str]) -> float:
    code = ("import resource, sys; from simulator.cli import main; c = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024); sys.exit(c)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code, "sweep", str(SCENARIO), "--out", str(out), "--quiet", *args],
                       env=env, capture_output=True, text=True, cwd=str(ROOT))
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return float(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--horizon", default=None, help="scenario horizon (default 90d; quick 30d)")
    ns = ap.parse_args()
    horizon = ns.horizon or ("30d" if ns.quick else "90d")
    n_speed = 40 if ns.quick else 200
    n_small, n_big = (50, 400) if ns.quick else (100, 2000)
    base = ["--set", f"horizon={horizon}"]
    tmp = Path(tempfile.mkdtemp(prefix="sweep_bench_"))
    rows = []
    try:
        t1 = timed_sweep(tmp / "j1", base + grid(n_speed, 10) + ["--jobs", "1"])
        t2 = timed_sweep(tmp / "j2", base + grid(n_speed, 10) + ["--jobs", "2"])
        same = (tmp / "j1" / "runs.csv").read_bytes() == (tmp / "j2" / "runs.csv").read_bytes()
        rows.append((f"{n_speed} runs, --jobs 1", f"{t1:.2f} s", f"{1000 * t1 / n_speed:.1f} ms/run"))
        rows.append((f"{n_speed} runs, --jobs 2", f"{t2:.2f} s", f"speed-up {t1 / t2:.2f}x (target >= 1.8x); "
                                                                 f"runs.csv identical: {same}"))
        m_small = peak_rss_mb(tmp / "m1", ["--set", "horizon=30d", *grid(n_small, 10), "--jobs", "2"])
        m_big = peak_rss_mb(tmp / "m2", ["--set", "horizon=30d", *grid(n_big, 10), "--jobs", "2"])
        rows.append((f"peak RSS, {n_small} runs", f"{m_small:.1f} MB", "parent process, 30d horizon"))
        rows.append((f"peak RSS, {n_big} runs", f"{m_big:.1f} MB", f"growth {m_big - m_small:+.1f} MB (target < 50)"))
        from distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                Client(cl) as client:
            client.wait_for_workers(2)
            addr = cl.scheduler_address
            timed_sweep(tmp / "warm", base + grid(4, 2) + ["--executor", "dask", "--scheduler", addr])
            td = timed_sweep(tmp / "dask", base + grid(n_speed, 10) + ["--executor", "dask", "--scheduler", addr])
        same = (tmp / "dask" / "runs.csv").read_bytes() == (tmp / "j2" / "runs.csv").read_bytes()
        rows.append((f"{n_speed} runs, dask 2 workers", f"{td:.2f} s",
                     f"overhead vs local jobs 2: {100 * (td - t2) / t2:+.1f}% "
                     f"({1000 * (td - t2) / n_speed:+.2f} ms/run; target <= 20%); runs.csv identical: {same}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"sweep benchmark (horizon {horizon}, {os.cpu_count()} cores)")
    print(f"{'case':32s} {'figure':>12s}  note")
    for r in rows:
        print(f"{r[0]:32s} {r[1]:>12s}  {r[2]}")


if __name__ == "__main__":
    main()
