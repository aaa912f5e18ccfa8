"""Safe YAML reading that remembers where every value came from.

The scenario loader needs, for each value, the line and column it was written at, so that a validation error
can point at ``file.yaml:LINE:COL``. This module composes the YAML node graph with PyYAML's safe machinery and
builds plain Python values itself, so:

- only the standard YAML tags are accepted (``!!python/object`` and any other application tag is refused);
- aliases are bounded: at most ``MAX_ALIASES`` alias uses and ``MAX_NODES`` constructed values, which stops
  "billion laughs" alias bombs in milliseconds;
- files over ``MAX_BYTES`` are refused before parsing.
"""
from __future__ import annotations

import datetime as _dt
import pickle
import re
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from . import parse_store

MAX_BYTES = 5 * 1024 * 1024
MAX_ALIASES = 200
MAX_NODES = 200_000
MAX_DEPTH = 64

_SCI = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_BOOL, _NULL = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_STD_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
}


@dataclass(frozen=True)
class Mark:
    """A position in a file, 1-based line and column as editors show them."""

    line: int
    col: int


class YamlError(Exception):
    """A YAML file that cannot be read; ``mark`` says where."""

    def __init__(self, message: str, mark: Mark | None = None):
        super().__init__(message)
        self.message = message
        self.mark = mark


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self) -> None:
        self.marks: dict[tuple, Mark] = {}
        self.key_marks: dict[tuple, Mark] = {}
        self.nodes = 0
        self.aliases_seen: dict[int, int] = {}

    def build(self, node: yaml.Node, path: tuple, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(f"document too large: more than {MAX_NODES} values (alias expansion?)", _mark(node))
        if depth > MAX_DEPTH:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", _mark(node))
        if node.tag not in _STD_TAGS:
            raise YamlError(f"tag {node.tag!r} is not allowed: scenario files hold plain data only", _mark(node))
        self.marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                if knode.tag == "tag:yaml.org,2002:merge" or knode.value == "<<" and knode.tag.endswith("merge"):
                    raise YamlError("merge keys '<<' are not supported", _mark(knode))
                if isinstance(knode, yaml.ScalarNode) and knode.tag in (_BOOL, _NULL):
                    key = knode.value  # YAML 1.1 reads `on:`/`no:` keys as booleans; keys are names here
                else:
                    key = self.build(knode, path + ("<key>",), depth + 1)
                if isinstance(key, (dict, list)):
                    raise YamlError("a mapping key must be a plain value", _mark(knode))
                key = key if isinstance(key, str) else str(key)
                if key in out:
                    raise YamlError(f"duplicate key {key!r}", _mark(knode))
                self.key_marks[path + (key,)] = _mark(knode)
                out[key] = self.build(vnode, path + (key,), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, path + (i,), depth + 1) for i, v in enumerate(node.value)]
        return self._scalar(node)

    @staticmethod
    def _scalar(node: yaml.ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag == "tag:yaml.org,2002:str":
            if not node.style and _SCI.match(text):   # YAML 1.1 misses 8.24e6; read it as a number (plain
                # scalars have style None from the Python parser, "" from libyaml)
                return float(text)
            return text
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return text.lower() in ("true", "yes", "on")
        if tag == "tag:yaml.org,2002:int":
            try:
                return int(text.replace("_", ""), 0)
            except ValueError:
                return text
        if tag == "tag:yaml.org,2002:float":
            t = text.replace("_", "").lower()
            if t in (".nan",):
                return float("nan")
            if t in (".inf", "+.inf"):
                return float("inf")
            if t == "-.inf":
                return float("-inf")
            try:
                return float(t)
            except ValueError:
                return text
        if tag == "tag:yaml.org,2002:timestamp":
            try:
                return _dt.date.fromisoformat(text.strip())
            except ValueError:
                return text  # kept as text: the schema reports it as a bad date with its position
        return text


class _CountingComposer(yaml.SafeLoader):
    """SafeLoader whose composer counts alias uses."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_count = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH + 1:  # refuse before Python's recursion limit does
                ev = self.peek_event()
                raise YamlError(f"nesting deeper than {MAX_DEPTH} levels",
                                Mark(ev.start_mark.line + 1, ev.start_mark.column + 1))
            return self._compose_counted(parent, index)
        finally:
            self._depth -= 1

    def _compose_counted(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._alias_count += 1
            if self._alias_count > MAX_ALIASES:
                ev = self.peek_event()
                raise YamlError(f"more than {MAX_ALIASES} aliases: refused (alias bomb?)",
                                Mark(ev.start_mark.line + 1, ev.start_mark.column + 1))
        return super().compose_node(parent, index)


class Document:
    """A YAML document as plain data plus where each value and key was written (``marks``, ``key_marks``:
    path → position); the positions may come from ``positions()``, called when first asked for (a document
    read back from :mod:`.parse_store`, whose positions only an error message needs)."""

    def __init__(self, data: Any, marks: dict[tuple, Mark] | None = None,
                 key_marks: dict[tuple, Mark] | None = None,
                 positions: Callable[[], tuple[dict, dict]] | None = None):
        self.data = data
        self._marks, self._key_marks, self._positions = marks, key_marks, positions

    @property
    def marks(self) -> dict[tuple, Mark]:
        self._read_positions()
        return self._marks

    @property
    def key_marks(self) -> dict[tuple, Mark]:
        self._read_positions()
        return self._key_marks

    def _read_positions(self) -> None:
        if self._marks is None:
            try:
                self._marks, self._key_marks = self._positions() if self._positions else ({}, {})
            except Exception:      # the stored positions are gone: messages go without a line and column
                self._marks, self._key_marks = {}, {}

    def mark_of(self, path: tuple) -> Mark | None:
        """Position of the value at ``path``, else of its nearest written ancestor."""
        p = tuple(path)
        while True:
            if p in self.key_marks and p not in self.marks:
                return self.key_marks[p]
            if p in self.marks:
                return self.marks[p]
            if not p:
                return None
            p = p[:-1]


def load_text(text: str, trusted: bool = False) -> Document:
    """Parse one YAML document from ``text`` safely; raise ``YamlError`` with a position on failure.
    ``trusted`` text (the world files shipped in the package) is parsed by libyaml's C parser where PyYAML
    has it, ~4× faster; any other text by the Python parser, which bounds nesting and aliases as it goes."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlError(f"file larger than {MAX_BYTES // (1024 * 1024)} MB: not a scenario file")
    if "\x00" in text:
        raise YamlError("file holds NUL bytes: binary data, not YAML")
    big = len(text) >= _CACHE_MIN_CHARS
    cached = _CACHE.get(text) if big else None
    if cached is not None:  # big world files are read once per process; callers get their own data copy
        values, doc = cached
        return Document(pickle.loads(values), positions=lambda: (doc.marks, doc.key_marks))
    stored = parse_store.load(text, trusted, Mark) if big else None
    if stored is not None:  # parsed by an earlier command
        data, stored_positions = stored

        def positions() -> tuple[dict, dict]:
            try:
                return stored_positions()
            except Exception:   # removed or damaged since: parse the text again for them
                again = _parse(text, trusted)
                return again.marks, again.key_marks
        doc = Document(data, positions=positions)
        _keep(text, pickle.dumps(data, pickle.HIGHEST_PROTOCOL), doc)
        return doc
    doc = _parse(text, trusted)
    if big and doc.data is not None:
        values = pickle.dumps(doc.data, pickle.HIGHEST_PROTOCOL)
        _keep(text, values, doc)
        parse_store.save(text, trusted, doc.data, doc.marks, doc.key_marks)
    return doc


def _keep(text: str, values: bytes, doc: Document) -> None:
    """Keep a big parsed text for this process: its values pickled (each caller gets its own copy, ~10 ×
    faster to read back than a ``deepcopy``) and its document (for the positions)."""
    if len(_CACHE) >= 16:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[text] = (values, doc)


def _parse(text: str, trusted: bool) -> Document:
    loader = None
    try:
        fast = trusted and getattr(yaml, "__with_libyaml__", False)
        loader = yaml.CSafeLoader(text) if fast else _CountingComposer(text)
        node = loader.get_single_node()
    except YamlError:
        raise
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None
    except yaml.reader.ReaderError as exc:  # a control character or lone surrogate: say where it is
        pos = exc.position if isinstance(exc.position, int) else 0
        before = text[:pos]
        where = Mark(before.count("\n") + 1, pos - (before.rfind("\n") + 1) + 1)
        ch = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise YamlError(f"not valid YAML: control character U+{ch:04X} is not allowed", where) from None
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        where = Mark(m.line + 1, m.column + 1) if m else None
        raise YamlError(f"not valid YAML: {' '.join(str(exc.problem or exc.context).split())}", where) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return Document(None, {}, {})
    if _expanded_size(node, {}, set()) > MAX_NODES:  # refuse alias bombs before expanding them
        raise YamlError(f"document too large: more than {MAX_NODES} values (alias expansion?)", _mark(node))
    b = _Builder()
    data = b.build(node, ())
    return Document(data, b.marks, b.key_marks)


#: parsed texts kept per process (the last 16): world files, and a scenario a sweep loads once per point
#: (~3 ms a parse of a 2 KB scenario against 0.05 ms for the copy)
_CACHE: dict[str, tuple[bytes, Document]] = {}
_CACHE_MIN_CHARS = 1_000


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Number of values ``node`` becomes once aliases are expanded (shared nodes counted once per use)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:  # a recursive alias: the depth limit reports it with its position
        return 1
    active.add(key)
    if isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_size(k, memo, active) + _expanded_size(v, memo, active) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_size(v, memo, active) for v in node.value)
    else:
        n = 1
    active.discard(key)
    memo[key] = n = min(n, MAX_NODES + 1)
    return n
