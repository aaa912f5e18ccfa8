"""Long fuzz mode (issue 8.1): many mutated scenarios through ``validate`` and a short run, by hand.

    python benchmarks/fuzz_long.py --examples 10000 [--seed 1] [--keep failures/]

Uses the strategies and the checker of ``tests/test_fuzz.py`` (CI runs a short mode of the same). Unlike the
test, a failure does not stop the run: every failing case is recorded, grouped by the kind of failure, and
written to ``--keep`` (one ``.yaml`` per failure, its ``--set`` values in a comment) for a regression test.
Prints examples run, valid runs, located rejections, failures and their kinds; exits 1 if anything failed.
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
            counts[check_case(case, tmp)] += 1
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


if __name__ == "__main__":
    sys.exit(main())
