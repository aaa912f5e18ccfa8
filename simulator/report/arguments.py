"""Command-line parsing shared by ``simulate`` and its subcommands: bad arguments exit 2 with one line.

Lives below the CLI so that subcommands implemented in the report layer (``simulate compare``) parse their
arguments without importing :mod:`simulator.cli`.
"""
from __future__ import annotations

import argparse
import sys

EXIT_BAD_INPUT = 2   #: exit code of bad input (arguments, scenario files)
EXIT_INTERRUPTED = 130   #: exit code of a run or sweep stopped by Ctrl-C or SIGTERM (128 + SIGINT)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors print the usage and one ``prog: error: ...`` line and exit 2."""

    def error(self, message: str) -> None:  # exit 2 with one line, argparse style
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
