"""The command ends without tearing the interpreter down (``cli.exit_now``), but never loses output or children."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: standard streams buffered as a user's shell has them (PYTHONUNBUFFERED would hide a lost flush)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def test_piped_output_is_complete_and_exit_code_kept():
    """Buffered stdout (a pipe) is flushed before the fast exit; bad input still exits 2 with its message."""
    got = subprocess.run([sys.executable, "-m", "simulator", "list"], cwd=ROOT, capture_output=True, text=True,
                         env=ENV)
    assert got.returncode == 0
    assert "japan_servicing_ban" in got.stdout and got.stdout.endswith("\n")
    bad = subprocess.run([sys.executable, "-m", "simulator", "no_such_file.yaml"], cwd=ROOT, capture_output=True,
                         text=True, env=ENV)
    assert bad.returncode == 2 and "no_such_file.yaml" in bad.stderr


def test_a_live_child_makes_the_exit_wait_for_it(tmp_path):
    """With a child process still running, the normal exit runs (multiprocessing joins it): the child's last
    write is there when the command returns, and the code is kept."""
    mark = tmp_path / "child_done"
    script = textwrap.dedent(f"""
        import multiprocessing as mp, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from simulator.cli import exit_now

        def child():
            time.sleep(0.5)
            open({str(mark)!r}, "w").write("done")

        if __name__ == "__main__":
            mp.get_context("fork").Process(target=child).start()
            print("parent", flush=False)
            exit_now(3)
    """)
    out = tmp_path / "out.txt"
    with open(out, "w") as fh:             # a file, not a pipe: the run returns when the parent exits
        got = subprocess.run([sys.executable, "-c", script], stdout=fh, stderr=subprocess.STDOUT, env=ENV,
                             timeout=60)
    assert got.returncode == 3 and out.read_text() == "parent\n"
    assert mark.exists() and mark.read_text() == "done"
