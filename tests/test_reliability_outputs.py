"""Output folders and sweep stores of issue 15: data loss (1), read-only/full file systems (5, 6), concurrent
writers (7), size limits and --jobs (9), sweep store corruption and bad schedulers (11), temporary files of
killed sweeps (12); and issue 14 part 3 (no silent replacement of a run made from other inputs)."""
from __future__ import annotations

import errno
import json
import threading
import time
from pathlib import Path

import pytest

from simulator.cli import main

from .conftest import one_error
from simulator.report import writer
from simulator.report.folder_guard import TOOL, kind_of

SCEN = """\
name: rel_out
start: 2025-01-01
horizon: 15d
seed: 5
replications: 1
controls:
  - id: jp
    by: Japan
    measures: [servicing]
    scope: {vendor_countries: [Japan]}
    effective: 2025-01-03
"""
RUN = ["--no-plots", "--quiet"]


@pytest.fixture
def scen(tmp_path) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(SCEN)
    return p


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------ 1: data loss
def test_a_made_up_manifest_does_not_make_a_folder_replaceable(scen, tmp_path, capsys):
    f = tmp_path / "f"
    f.mkdir()
    (f / "manifest.json").write_text("{}")
    (f / "thesis.tex").write_text("x")
    line = one_error(capsys, [str(scen), "--out", str(f), *RUN])
    assert "is not a results folder of this tool" in line
    assert (f / "thesis.tex").read_text() == "x"


def test_a_run_never_replaces_a_sweep_store(scen, tmp_path, capsys):
    sw = tmp_path / "sw"
    assert main(["sweep", str(scen), "--out", str(sw), "--grid", "controls.jp.compliance=0.5,1", "--jobs", "1",
                 "--quiet"]) == 0
    assert kind_of(sw) == "sweep"
    before = snapshot(sw)
    line = one_error(capsys, [str(scen), "--out", str(sw), *RUN, "--force"])
    assert "holds a sweep" in line
    assert snapshot(sw) == before


def test_a_file_the_tool_did_not_write_is_never_deleted(scen, tmp_path, capsys):
    out = tmp_path / "o"
    assert main([str(scen), "--out", str(out), *RUN]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["tool"] == TOOL and m["kind"] == "run" and "summary.csv" in m["files"]
    (out / "notes.md").write_text("mine")
    line = one_error(capsys, [str(scen), "--out", str(out), *RUN, "--force"])
    assert "holds files this tool did not write (notes.md)" in line


# ------------------------------------------------------------------------- issue 14.3: other inputs
def test_other_inputs_need_force_and_the_terminal_says_what_happened(scen, tmp_path, capsys):
    out = tmp_path / "o"
    assert main([str(scen), "--out", str(out), *RUN]) == 0
    before = snapshot(out)
    line = one_error(capsys, [str(scen), "--out", str(out), *RUN, "--set", "controls.jp.compliance=0.5"])
    assert line == (f"simulate: --out {out}: holds a run of scenario 'rel_out' (different scenario or settings); "
                    f"add --force to replace it, or choose another --out")
    assert snapshot(out) == before
    assert main([str(scen), "--out", str(out), "--no-plots", "--set", "controls.jp.compliance=0.5",
                 "--force"]) == 0
    assert f"simulate: {out}: replacing a run of a different scenario or settings (--force)" in \
        capsys.readouterr().err
    assert main([str(scen), "--out", str(out), "--no-plots", "--set", "controls.jp.compliance=0.5"]) == 0
    assert "replacing the previous run of the same scenario and settings" in capsys.readouterr().err


# ------------------------------------------------------------------------ 5, 6: failing file systems
def test_read_only_output_is_refused_before_simulating(scen, tmp_path, capsys, monkeypatch):
    import simulator.api as api
    monkeypatch.setattr(api, "run_loaded", lambda *a, **k: pytest.fail("simulated despite a bad --out"))
    real = Path.mkdir

    def read_only(self, *a, **k):
        if ".probe-" in self.name:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, *a, **k)
    monkeypatch.setattr(Path, "mkdir", read_only)
    line = one_error(capsys, [str(scen), "--out", str(tmp_path / "o"), *RUN])
    assert line == f"simulate: --out {tmp_path}: cannot write results there: read-only file system"


def test_disk_full_while_writing_or_plotting_keeps_the_previous_result(scen, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    assert main([str(scen), "--out", str(out), *RUN]) == 0
    before = snapshot(out)
    import simulator.report.plots as plots

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(plots, "write_plots", full)
    code = main([str(scen), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (f"simulate: {out}: cannot write the results: no space left on device; "
                                            f"the previous result (if any) is untouched")
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("failure,why", [
    (OSError("440228 requested and 34800 written"), r"[\d.]+ [KMG]B free there"),     # numpy's short write: no errno
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on device"),
])
def test_a_full_temporary_folder_ends_the_run_with_one_line(failure, why, scen, tmp_path, capsys, monkeypatch):
    """The run's per-replication numbers go to a spool in the temporary folder (report.spool): a write there
    that fails is named as such, with the way out, not an internal error; nothing is written, nothing left."""
    import re
    import tempfile

    import numpy as np
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    def short_write(*a, **k):
        raise failure
    monkeypatch.setattr(np, "save", short_write)
    out = tmp_path / "o"
    line = one_error(capsys, [str(scen), "--out", str(out), "--jobs", "1", *RUN])
    assert re.fullmatch(rf"simulate: {re.escape(str(temp))}: cannot keep the run's per-replication numbers in "
                        rf"this temporary folder \({why}\); free some space there, or set TMPDIR to a folder "
                        rf"with more room", line), line
    assert not out.exists() and list(temp.iterdir()) == []


def test_a_full_temporary_folder_while_writing_parquet_partitions_ends_with_one_line(scen, tmp_path, capsys,
                                                                                    monkeypatch):
    import tempfile

    from simulator.report import parquet
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(parquet, "write_partition", full)
    scen.write_text(scen.read_text() + "output: {replications: all}\n")
    line = one_error(capsys, [str(scen), "--out", str(tmp_path / "o"), "--jobs", "1", *RUN])
    assert line == (f"simulate: {temp}: cannot keep the run's per-replication numbers in this temporary folder (no "
                    f"space left on device); free some space there, or set TMPDIR to a folder with more room")


def test_a_temporary_folder_without_room_is_refused_before_simulating(scen, tmp_path, capsys, monkeypatch):
    import shutil
    import tempfile

    import simulator.api as api
    from simulator.safety import estimate
    monkeypatch.setattr(api, "run_loaded", lambda *a, **k: pytest.fail("simulated without room for the spool"))
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    real = shutil.disk_usage

    def usage(path):
        got = real(path)
        return got._replace(free=3_000_000) if Path(path) == temp else got
    monkeypatch.setattr(shutil, "disk_usage", usage)
    scen.write_text(scen.read_text().replace("replications: 1", "replications: 400"))
    line = one_error(capsys, [str(scen), "--out", str(tmp_path / "o"), *RUN])
    assert line.startswith(f"simulate: {temp}: only 3.0 MB free in the temporary folder, where this run keeps about ")
    assert line.endswith(" MB of per-replication numbers while it runs; free some space there, or set TMPDIR to a "
                         "folder with more room")
    # the bound is what the run's spool holds at least: every replication's period means, scenario and baseline
    est = estimate(2804, 1096, 20, 7, False)
    assert est.spool == 20 * 2 * 2804 * 157 * 8


@pytest.mark.parametrize("n,text", [(512, "512 bytes"), (64_000, "64 KB"), (3_000_000, "3.0 MB"),
                                    (140_900_000, "141 MB"), (1_234_000_000, "1.2 GB")])
def test_sizes_in_messages_keep_two_digits(n, text):
    assert writer.size_text(n) == text


# ------------------------------------------------------------------------------ 7: concurrent writers
def test_concurrent_writers_of_one_folder_all_succeed_and_leave_nothing_behind(tmp_path):
    target = tmp_path / "res"
    errors: list[BaseException] = []

    def fill(i: int):
        def f(d: Path) -> None:
            (d / "summary.csv").write_text(f"writer {i}\n")
            time.sleep(0.01 * (i % 3))
        return f

    def write(i: int) -> None:
        try:
            for _ in range(3):
                writer.write_atomically(target, fill(i))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (target / "summary.csv").read_text().startswith("writer ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


# ------------------------------------------------------------------------------------ 9: size and jobs
def test_huge_runs_are_refused_with_an_estimate_and_the_limit_can_be_raised(scen, tmp_path, capsys, monkeypatch):
    big = ["--set", "horizon=50y", "--set", "replications=10000", "--set", "output.frequency=1d"]
    line = one_error(capsys, [str(scen), "--out", str(tmp_path / "o"), *RUN, *big])
    assert line.startswith("simulate: this run needs about ") and "GB of memory" in line and "--max-memory" in line
    from simulator import safety
    est = safety.estimate(900, 18262, 10000, 1, False)
    assert est.memory > 4e9                                     # two batches of 16 replications × 50 years
    assert safety.estimate(900, 18262, 10000, 1, False, jobs=2).memory > est.memory
    monkeypatch.setenv(safety.ENV_MAX_MEMORY, "1e9")
    assert safety.max_memory_bytes() == 1e18
    safety.check_size(est, safety.max_memory_bytes())          # raised: no error
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("jobs", ["0", "-5"])
def test_jobs_below_one_are_refused(jobs, scen, tmp_path, capsys):
    line = one_error(capsys, [str(scen), "--out", str(tmp_path / "o"), *RUN, "--jobs", jobs])
    assert line == f"simulate: --jobs: expected a whole number >= 1, got {jobs}"


def test_more_jobs_than_cores_are_capped(scen, tmp_path, capsys):
    from simulator.safety import usable_cores
    assert main([str(scen), "--out", str(tmp_path / "o"), "--no-plots", "--jobs", "400"]) == 0
    assert f"--jobs 400 is more than the {usable_cores()} usable core(s)" in capsys.readouterr().err


def test_absurd_sweep_designs_are_refused(scen, tmp_path, capsys):
    line = one_error(capsys, ["sweep", str(scen), "--out", str(tmp_path / "sw"), "--lhs",
                              "controls.jp.compliance=0:1", "--samples", "100000000"])
    assert "--samples 100000000: at most 1,000,000" in line
    line = one_error(capsys, ["sweep", str(scen), "--out", str(tmp_path / "sw"), "--grid",
                              "controls.jp.compliance=0.5,1", "--max-runs", "1"])
    assert "the design has 2 runs, above the limit of 1" in line
    assert not (tmp_path / "sw").exists()


# ------------------------------------------------------------------------------ 11, 12: sweep stores
@pytest.fixture
def sweep(scen, tmp_path, capsys):
    out = tmp_path / "sw"
    args = ["sweep", str(scen), "--out", str(out), "--grid", "controls.jp.compliance=0.5,1", "--jobs", "1",
            "--quiet"]
    assert main(args) == 0
    capsys.readouterr()
    return out, args


def _corrupt_text(f: Path) -> None:
    f.write_text("hello")


def _corrupt_dir(f: Path) -> None:
    f.unlink()
    f.mkdir()


def _corrupt_metric(f: Path) -> None:
    rec = json.loads(f.read_text())
    rec["metrics"][next(iter(rec["metrics"]))] = "lots"
    f.write_text(json.dumps(rec))


def _edit_number(f: Path) -> None:
    rec = json.loads(f.read_text())
    k = next(iter(rec["metrics"]))
    rec["metrics"][k] = rec["metrics"][k] + 1
    f.write_text(json.dumps(rec))


@pytest.mark.parametrize("corrupt, why", [(_corrupt_text, "not JSON"), (_corrupt_dir, "is not a regular file"),
                                          (_corrupt_metric, "is not a number"), (_edit_number, "checksum mismatch")])
def test_corrupt_run_files_are_named_on_resume(corrupt, why, sweep, capsys):
    out, args = sweep
    f = sorted((out / "runs").glob("*.json"))[0]
    corrupt(f)
    line = one_error(capsys, args + ["--resume"])
    assert line.startswith(f"simulate sweep: {f}: ") and why in line and "delete it" in line


def test_bad_scheduler_is_refused_before_the_folder_is_made(scen, tmp_path, capsys):
    out = tmp_path / "sw"
    line = one_error(capsys, ["sweep", str(scen), "--out", str(out), "--executor", "dask", "--scheduler",
                              "no address at all", "--grid", "controls.jp.compliance=0.5,1"])
    assert "--scheduler 'no address at all': expected an address like tcp://127.0.0.1:8786" in line
    assert not out.exists()


def test_temporary_table_files_of_killed_sweeps_are_removed(sweep, capsys):
    out, args = sweep
    stale = [out / ".runs.csv.999999999.abcd1234.tmp", out / "runs" / ".x.json.999999999.abcd1234.tmp"]
    for s in stale:
        s.write_text("half")
    assert main(args + ["--resume"]) == 0
    assert not any(s.exists() for s in stale)
