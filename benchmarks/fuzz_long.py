"""Long fuzz mode (issue 8.1): many mutated scenarios through ``validate`` and a short run, by hand.

    python benchmarks/fuzz_long.py --examples 10000 [--seed 1] [--keep failures/]

Uses the strategies and the checker of ``tests/test_fuzz.py`` (CI runs a short mode of the same). Unlike the
test, a failure does not stop the run: every failing case is recorded, grouped by the kind of failure, and
written to ``--keep`` (one ``.yaml`` per failure, its ``--set`` values in a comment) for a regression test.
Prints examples run, valid runs, located rejections, failures and their kinds; exits 1 if anything failed.

Runs draw their charts (``--no-plots`` to skip), the mutated ``--set`` values include world parameters of every
kind, and ``--stores N`` also corrupts N sweep stores at random (a run file replaced by text, a folder, a
non-numeric metric, an edited number, a truncation) and checks that ``--resume`` ends in exit 0 or one located
line with exit 2, never an internal error.
"""
from __future__ import annotations

import argparse
import collections
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed as hseed, settings  # noqa: E402

from tests.test_fuzz import FuzzFailure, Hang, check_case, scenario_cases  # noqa: E402


def _kind(msg: str) -> str:
    first = msg.splitlines()[0] if msg else ""
    first = re.sub(r"/\S+", "PATH", first)
    first = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)
    return re.sub(r"\d+", "N", first)[:160]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    ap.add_argument("--keep", default="fuzz_failures", help="folder for failing cases (default fuzz_failures/)")
    ap.add_argument("--no-plots", action="store_true", help="skip charts in the runs (faster)")
    ap.add_argument("--stores", type=int, default=20, help="corrupted sweep stores to resume (default 20)")
    ap.add_argument("--progress", type=int, default=500, help="print a progress line every N examples")
    args = ap.parse_args(argv)

    counts = collections.Counter()
    kinds: dict[str, list[str]] = collections.defaultdict(list)
    keep = Path(args.keep)
    work = Path(tempfile.mkdtemp(prefix="fuzz_long_"))
    t0 = time.perf_counter()

    def one(case) -> None:
        n = counts["examples"]
        counts["examples"] += 1
        tmp = work / f"c{n}"
        try:
            counts[check_case(case, tmp, plots=not args.no_plots)] += 1
        except (FuzzFailure, Hang, Exception) as exc:  # record every failure and go on
            counts["failures"] += 1
            msg = f"{type(exc).__name__}: {exc}"
            kinds[_kind(msg)].append(msg)
            keep.mkdir(parents=True, exist_ok=True)
            head = "".join(f"# --set {s}\n" for s in case.sets) + "".join(
                f"# {ln}\n" for ln in msg.splitlines()[:3])
            (keep / f"failure_{counts['failures']:04d}.yaml").write_text(
                head + case.text, encoding="utf-8", errors="surrogatepass")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if args.progress and counts["examples"] % args.progress == 0:
            print(f"  {counts['examples']} examples, {counts['ok']} runs, {counts['rejected']} rejected, "
                  f"{counts['failures']} failures, {time.perf_counter() - t0:.0f} s", flush=True)

    test = settings(max_examples=args.examples, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))(given(case=scenario_cases())(one))
    if args.seed is not None:
        test = hseed(args.seed)(test)
    try:
        test()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    store_failures = fuzz_stores(args.stores, args.seed or 0) if args.stores else []
    for msg in store_failures:
        counts["failures"] += 1
        kinds[_kind(msg)].append(msg)
    dt = time.perf_counter() - t0
    print(f"fuzz long mode: {counts['examples']} examples in {dt:.0f} s "
          f"({counts['examples'] / max(dt, 1e-9):.1f}/s): {counts['ok']} valid runs, "
          f"{counts['rejected']} located rejections (exit 2), {counts['failures']} failures "
          f"in {len(kinds)} kind(s)")
    for k, msgs in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(msgs):5d} x {k}")
        print(f"          e.g. {msgs[0][:300]}")
    if kinds:
        print(f"failing cases written to {keep}/")
    return 1 if counts["failures"] else 0


def fuzz_stores(n: int, seed: int) -> list[str]:
    """Corrupt one run file of a small finished sweep in ``n`` seeded ways and resume; return failures."""
    import contextlib
    import io
    import json
    import random
    from simulator.cli import main as simulate
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="fuzz_stores_"))
    scen = ROOT / "scenarios" / "japan_servicing_ban.yaml"
    args = ["sweep", str(scen), "--grid", "controls.jp_servicing_ban.compliance=0.5,1", "--replications", "1",
            "--set", "horizon=30d", "--jobs", "1", "--quiet"]
    base = work / "base"
    with contextlib.redirect_stderr(io.StringIO()):
        if simulate(args + ["--out", str(base)]) != 0:
            return ["sweep store fuzz: the reference sweep failed"]

    def corrupt(f: Path) -> None:
        how = rng.choice(["text", "dir", "metric", "edit", "truncate", "empty", "list"])
        rec = json.loads(f.read_text())
        if how == "text":
            f.write_text("not json at all")
        elif how == "dir":
            f.unlink()
            f.mkdir()
        elif how == "metric" and rec["metrics"]:
            rec["metrics"][rng.choice(sorted(rec["metrics"]))] = rng.choice(["x", [1], {"a": 1}, True])
            f.write_text(json.dumps(rec))
        elif how == "edit" and rec["metrics"]:
            k = rng.choice(sorted(rec["metrics"]))
            rec["metrics"][k] = (rec["metrics"][k] or 0) * 1.01 + 1
            f.write_text(json.dumps(rec))
        elif how == "truncate":
            f.write_text(f.read_text()[: rng.randrange(1, 200)])
        elif how == "list":
            f.write_text("[1, 2, 3]")
        else:
            f.write_text("")

    failures = []
    for i in range(n):
        d = work / f"s{i}"
        shutil.copytree(base, d)
        files = sorted((d / "runs").glob("*.json"))
        corrupt(rng.choice(files))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = simulate(args + ["--out", str(d), "--resume"])
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        if code not in (0, 2) or "internal error" in err.getvalue() or (code == 2 and len(lines) != 1):
            failures.append(f"sweep store fuzz: exit {code}: {err.getvalue().strip()[:300]}")
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return failures


if __name__ == "__main__":
    sys.exit(main())
