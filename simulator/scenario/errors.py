"""Located, one-line errors for scenario files: ``file:line:col: path: what is wrong (did you mean …?)``."""
from __future__ import annotations

import difflib
from typing import Iterable

from .yamlsafe import Mark


class ScenarioError(Exception):
    """Bad input. ``str()`` is the one line the CLI prints before exiting with code 2."""

    def __init__(self, file: str, mark: Mark | None, path: str, message: str):
        self.file, self.mark, self.path, self.message = file, mark, path, message
        super().__init__(str(self))
        self.args = (file, mark, path, message)   # type(e)(*e.args) is e again (SimPy re-raises so)

    def __str__(self) -> str:
        where = self.file + (f":{self.mark.line}:{self.mark.col}" if self.mark else "")
        return one_line(f"{where}: {self.path + ': ' if self.path else ''}{self.message}")


class SimulationError(ScenarioError):
    """A run whose results would be wrong (a recorded series that is not a number): the run stops with one
    line naming the series and the first day, exit 2, and no result folder is written."""

    def __init__(self, message: str):
        super().__init__("simulate", None, "", message)
        self.args = (message,)

    def __str__(self) -> str:
        return one_line(f"simulate: {self.message}")


_BREAKS = {c: repr(chr(c))[1:-1] for c in (*range(0x20), 0x7F, 0x85, 0x2028, 0x2029)}


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``), so it prints as one line."""
    return str(text).translate(_BREAKS)


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    choices = [c for c in choices if isinstance(c, str)]
    near = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.5)
    if not near:
        low = {c.lower(): c for c in choices}
        near = [low[str(word).lower()]] if str(word).lower() in low else []
    return f" (did you mean {near[0]!r}?)" if near else ""


def path_text(loc: Iterable) -> str:
    """``('controls', 0, 'effective')`` → ``controls[0].effective``."""
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out
