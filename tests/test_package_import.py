"""What importing the package loads, and where the model's checks of a scenario come from.

The ``simulate`` command imports ``simulator.cli`` (and so the package) before any of its own code runs; a
Ctrl-C during that import cannot be caught by it. The package therefore loads nothing, the command line loads the
model inside :func:`simulator.cli.main`, and every module that loads scenarios registers the model's checks.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "scenarios/japan_servicing_ban.yaml"


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_command_line_module_loads_neither_the_model_nor_numpy():
    """``from simulator.cli import entry`` (the console script's first line) takes the package and the argument
    parser only: ~0.01 s, where the model, numpy and pydantic took ~0.35 s."""
    got = _python("import sys\nimport simulator.cli\n"
                  "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                  "('simulator', 'numpy', 'yaml', 'pydantic', 'simpy')))")
    assert got.returncode == 0, got.stderr
    assert got.stdout.split() == ["['simulator',", "'simulator.cli',", "'simulator.report',",
                                  "'simulator.report.arguments']"]


def test_a_ctrl_c_while_the_command_loads_the_model_is_an_interruption():
    """A Ctrl-C that lands while ``simulate`` imports the model (stood in for by an import finder that raises
    ``KeyboardInterrupt`` when ``simulator.model_checks`` is looked for) gives the one line and exit 130, not
    Python's traceback."""
    got = _python("import sys\n"
                  "class Cut:\n"
                  "    def find_spec(self, name, path, target=None):\n"
                  "        if name == 'simulator.model_checks':\n"
                  "            raise KeyboardInterrupt\n"
                  "        return None\n"
                  "sys.meta_path.insert(0, Cut())\n"
                  "from simulator.cli import entry\n"
                  f"sys.argv = ['simulate', {SCENARIO!r}, '--quiet']\n"
                  "entry()\n")
    assert got.returncode == 130, got.stderr
    assert got.stderr == "simulate: interrupted; earlier results are untouched\n"


def test_the_packages_loader_runs_the_models_checks_and_the_bare_one_says_it_has_none():
    """``simulator.load_scenario`` registers the model's checks (they count the run's recorded series); the
    scenario layer's own loader, imported alone, refuses to load without them instead of skipping them."""
    got = _python(f"import simulator\nprint(simulator.load_scenario({SCENARIO!r}).series > 0)")
    assert got.returncode == 0 and got.stdout.split() == ["True"], got.stderr
    got = _python(f"from simulator.scenario.load import load_scenario\nload_scenario({SCENARIO!r})")
    assert got.returncode == 1
    assert "RuntimeError: the checks of a scenario that need the model are not registered: use " \
           "simulator.load_scenario" in got.stderr
    got = _python(f"from simulator.scenario.load import load_scenario\n"
                  f"print(load_scenario({SCENARIO!r}, model_checks=False).series)")
    assert got.returncode == 0 and got.stdout.split() == ["0"], got.stderr


def test_the_help_loads_no_model_and_a_run_does():
    """``simulate --help`` answers without the model (~0.1 s); any command that may load a scenario loads it
    first, its checks with it."""
    code = ("import sys\nfrom simulator.cli import main\n"
            "main({argv!r})\n"
            "print('simulator.engine.world' in sys.modules, 'simulator.model_checks' in sys.modules)")
    got = _python(code.format(argv=["--help"]))
    assert got.stdout.split()[-2:] == ["False", "False"], got.stderr
    got = _python(code.format(argv=["validate", SCENARIO]))
    assert got.stdout.split()[-2:] == ["True", "True"], got.stderr
