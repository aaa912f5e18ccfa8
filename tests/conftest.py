"""Shared helpers for the tests: write a scenario file, run the CLI in-process or as a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import simulator.model_checks  # noqa: F401  (the model's checks of a scenario, for tests that load one with
#                                           ``simulator.scenario.load`` itself, as simulator.api does)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def write_yaml(tmp_path):
    def _write(text: str, name: str = "s.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return p
    return _write


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m simulator ARGS`` as a user would; returns the completed process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "simulator", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def one_error(capsys, argv: list[str]) -> str:
    """Run the CLI in-process on ``argv`` and return its single error line; exit code 2, no traceback."""
    from simulator.cli import main
    code = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and "warning:" not in ln]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]
