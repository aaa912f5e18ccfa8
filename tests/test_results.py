"""The results contract: files, byte-identical reruns, atomic replacement of a previous result."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulator.report.writer import OutputError, write_atomically

from .conftest import ROOT, run_cli

CSVS = ("summary.csv", "timeseries.csv", "timeseries_wide.csv", "events.csv")
SHORT = ["--replications", "2", "--set", "horizon=120d", "--no-plots", "--quiet"]


def test_run_writes_the_contract_files_and_reruns_byte_identical(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, extra in ((a, []), (b, []), (c, ["--jobs", "2"])):
        proc = run_cli("scenarios/japan_servicing_ban.yaml", "--out", str(out), *SHORT, *extra)
        assert proc.returncode == 0, proc.stderr
    for name in CSVS + ("scenario.resolved.yaml",):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
        assert (a / name).read_bytes() == (c / name).read_bytes(), name
    ts = pd.read_csv(a / "timeseries.csv")
    assert list(ts.columns) == ["scenario", "replication", "date", "entity", "metric", "unit", "value"]
    ev = pd.read_csv(a / "events.csv")
    assert {"jp_servicing_ban"} <= set(ev["entity"])
    man = json.loads((a / "manifest.json").read_text())
    for key in ("simulator_version", "seed", "input_sha256", "command", "started", "runtime_s", "packages"):
        assert key in man
    resolved = (a / "scenario.resolved.yaml").read_text()
    assert "source" in resolved


def test_different_seed_changes_the_draws(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("scenarios/japan_servicing_ban.yaml", "--out", str(a), *SHORT).returncode == 0
    assert run_cli("scenarios/japan_servicing_ban.yaml", "--out", str(b), *SHORT, "--seed", "5").returncode == 0
    assert (a / "timeseries.csv").read_bytes() != (b / "timeseries.csv").read_bytes() or \
        (a / "events.csv").read_bytes() != (b / "events.csv").read_bytes()


def test_failed_write_keeps_previous_result(tmp_path):
    target = tmp_path / "res"
    write_atomically(target, lambda d: (d / "manifest.json").write_text("{}"))
    (target / "summary.csv").write_text("old")

    def broken(d: Path) -> None:
        (d / "summary.csv").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(target, broken)
    assert (target / "summary.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_sigkill_mid_write_leaves_previous_result_intact(tmp_path):
    target = tmp_path / "res"
    write_atomically(target, lambda d: (d / "manifest.json").write_text('{"old": true}'))
    code = ("import sys, time; from pathlib import Path; from simulator.report.writer import write_atomically\n"
            "def fill(d):\n    (d/'summary.csv').write_text('half'); print('writing', flush=True); time.sleep(60)\n"
            f"write_atomically(Path({str(target)!r}), fill)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((target / "manifest.json").read_text())["old"] is True
    assert not (target / "summary.csv").exists()
    # the next write cleans the dead run's temporary folder
    write_atomically(target, lambda d: (d / "manifest.json").write_text("{}"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_refuses_to_replace_a_folder_that_is_not_a_result(tmp_path):
    precious = tmp_path / "mydata"
    precious.mkdir()
    (precious / "thesis.docx").write_text("x")
    with pytest.raises(OutputError):
        write_atomically(precious, lambda d: None)
    assert (precious / "thesis.docx").exists()
    proc = run_cli("scenarios/japan_servicing_ban.yaml", "--out", str(precious), *SHORT)
    assert proc.returncode == 2 and "not a results folder" in proc.stderr
    f = tmp_path / "file.txt"
    f.write_text("x")
    proc = run_cli("scenarios/japan_servicing_ban.yaml", "--out", str(f), *SHORT)
    assert proc.returncode == 2 and "not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_list_and_validate_shipped_scenarios():
    proc = run_cli("list")
    assert proc.returncode == 0 and "japan_servicing_ban" in proc.stdout
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").glob("*.yaml"))
    proc = run_cli("validate", *files)
    assert proc.returncode == 0, proc.stderr


def test_metrics_command_lists_recorded_series():
    proc = run_cli("metrics", "scenarios/japan_servicing_ban.yaml", "--grep", "wafer_output")
    assert proc.returncode == 0
    assert "fabs.mature_logic.wafer_output [wafers/day]" in proc.stdout
    assert all("wafer_output" in line for line in proc.stdout.splitlines())
