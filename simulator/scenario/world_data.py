"""Packaged world data (fabs, minerals, industries) with the provenance of every number.

World files are YAML mappings. A *parameter* is a mapping with a ``value`` and either a ``source`` (document,
date, grade) or an ``assumption`` (why, with a ``range``), plus an optional ``unit``::

    mtbf_h: {value: 168, unit: h, source: "SMT2020 dataset (Kopp et al. 2020): MTTF about 1 week"}
    p_oem: {value: 0.3, unit: share, assumption: "no public data", range: [0.1, 0.6]}

Everything else is structure (mappings keyed by name; lists only for plain values). :func:`load_world`
returns the plain values tree (parameters replaced by their values), and a provenance table keyed by dotted
path (``fabs.classes.mature_logic.groups.litho.mtbf_h``). Overrides address the same dotted paths.

A user world (``world: path/to/folder``) must be a folder of world YAML files (regular files only, each at most
5 MB) named and sectioned like the packaged ``default`` world's (``fabs.yaml`` holds ``fabs``...; a section no
model part reads is an error; a part left out is absent from the model, and the loader refuses measures that
need it). Each section is validated against the packaged world as its schema: the same structure (fixed mappings need their keys; mappings of named
items — regions, tool classes, minerals — may hold any names, each shaped like the packaged items), a parameter
where the packaged world has one, values of the same type, and the hard limits of
:mod:`simulator.scenario.world_rules`. Every error names the world file, line and column.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .files import _NotRegular, _TooBig, read_regular_file
from .world_rules import check_own_value
from .vocabulary import world_names
from .yamlsafe import MAX_BYTES, Document, YamlError, load_text

PARAM_KEYS = {"value", "unit", "source", "assumption", "range", "note"}


@dataclass
class World:
    """Resolved world data: plain ``values`` and ``provenance`` (dotted path → unit/source/assumption)."""

    values: dict[str, Any]
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    origins: dict[str, tuple[str, Document]] = field(default_factory=dict, repr=False)
    _names: dict[str, set[str]] | None = field(default=None, repr=False, compare=False)
    _paths: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def names(self) -> dict[str, set[str]]:
        """The names a scenario may use, by kind (:func:`.vocabulary.world_names`), worked out once per parsed
        world: copies share them until a value is set. Read-only."""
        if self._names is None:
            self._names = world_names(self.values)
        return self._names

    def leaf_paths(self) -> set[str]:
        """:meth:`paths` as a set, worked out once per parsed world like :meth:`names` (the keys of the tree
        do not change when values are set). Read-only."""
        if self._paths is None:
            self._paths = frozenset(self.paths())
        return self._paths

    def get(self, path: str) -> Any:
        node: Any = self.values
        for part in path.split("."):
            node = node[part]
        return node

    def paths(self) -> list[str]:
        """Every addressable dotted path to a leaf value."""
        out: list[str] = []

        def walk(node: Any, prefix: str) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, f"{prefix}.{k}" if prefix else k)
            else:
                out.append(prefix)
        walk(self.values, "")
        return out

    def set(self, path: str, value: Any, source: str) -> None:
        """Replace the value at an existing ``path`` and record ``source`` as its provenance."""
        parts = path.split(".")
        node = self.values
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
        self._names = None                           # a vendor's country is a value
        if isinstance(value, dict):                  # a mapping where there was none: new paths
            self._paths = None
        prov = dict(self.provenance.get(path, {}))
        prov.pop("assumption", None)
        prov.pop("range", None)
        prov["source"] = source
        self.provenance[path] = prov

    def copy(self) -> "World":
        """A copy whose values can be set without touching this one. Provenance entries are shared: they are
        replaced (:meth:`set`), never changed in place. ~1.5 ms against 6.5 ms for ``copy.deepcopy``."""
        return World(_tree_copy(self.values), dict(self.provenance), list(self.files), dict(self.origins),
                     self._names, self._paths)

    def locate(self, path: str) -> tuple[str, Any]:
        """``(file, mark)`` where the parameter at dotted ``path`` is written (mark None if unknown)."""
        parts = tuple(path.split("."))
        origin = self.origins.get(parts[0])
        if origin is None:
            return (self.files[0] if self.files else "world"), None
        return origin[0], origin[1].mark_of(parts)


def _tree_copy(node: Any) -> Any:
    """A copy of a tree of dicts and lists (the world's values); leaves (numbers, strings) are immutable and
    shared."""
    if type(node) is dict:
        return {k: _tree_copy(v) for k, v in node.items()}
    if type(node) is list:
        return [_tree_copy(v) for v in node]
    return node if isinstance(node, (str, int, float, bool, type(None))) else copy.deepcopy(node)


class WorldError(Exception):
    """A world file that breaks the parameter convention; ``file`` and ``path`` locate it."""

    def __init__(self, file: str, doc: Document | None, path: tuple, message: str):
        self.file, self.path, self.message = file, path, message
        self.mark = doc.mark_of(path) if doc else None
        super().__init__(message)


def is_parameter(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and set(node) <= PARAM_KEYS


def _strip(node: Any, path: tuple, prov: dict, file: str, doc: Document) -> Any:
    if is_parameter(node):
        if "source" not in node and "assumption" not in node:
            raise WorldError(file, doc, path, "a parameter needs a 'source' or an 'assumption'")
        prov[".".join(map(str, path))] = {k: node[k] for k in ("unit", "source", "assumption", "range")
                                          if k in node}
        err = check_own_value(node["value"], node.get("unit") if isinstance(node.get("unit"), str) else None,
                              node.get("range"))
        if err:
            raise WorldError(file, doc, path + (("range",) if err.startswith("range:") else ("value",)), err)
        return node["value"]
    if isinstance(node, dict):
        return {k: _strip(v, path + (k,), prov, file, doc) for k, v in node.items()}
    return node


def _read(text: str, name: str, world: World) -> None:
    """Add the sections of a packaged world file (``name`` for messages) to ``world``."""
    doc = load_text(text, trusted=True)
    if not isinstance(doc.data, dict):
        raise WorldError(name, doc, (), "a world file must be a mapping of sections")
    for section, body in doc.data.items():
        if section in world.values:
            raise WorldError(name, doc, (section,), f"section {section!r} defined in two world files")
        world.values[section] = _strip(body, (section,), world.provenance, name, doc)
        world.origins[section] = (name, doc)
    world.files.append(name)


def packaged_worlds() -> list[str]:
    """Names of the worlds shipped in the package (folders under ``scenario/world``)."""
    root = resources.files("simulator.scenario.world")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


_CACHE: dict[tuple, World] = {}


def _stamp(files: list[Path]) -> tuple:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), 0, 0))
    return tuple(out)


def _folder_of(name: str, base_dir: Path | None) -> Path:
    path = Path(name)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return path


def expected_files() -> list[str]:
    """The YAML file names a world folder must hold: those of the packaged ``default`` world."""
    root = resources.files("simulator.scenario.world") / "default"
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".yaml"))


def load_world(name: str, base_dir: Path | None = None) -> World:
    """Load the packaged world ``name`` (e.g. ``default``), or a world folder path relative to ``base_dir``.

    Parsed worlds are kept per process (keyed by their files' paths, times and sizes) and every call gets
    its own deep copy, so a sweep that loads one scenario many times parses the world once."""
    if name in packaged_worlds():
        folder = Path(str(resources.files("simulator.scenario.world") / name))
        files = sorted(folder.glob("*.yaml"))
    else:
        path = _folder_of(name, base_dir)
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    key = (name, str(base_dir), _stamp(files))
    hit = _CACHE.get(key)
    if hit is None:
        hit = _CACHE[key] = _load_world(name, base_dir)
        hit.names(), hit.leaf_paths()                # worked out once, shared by every copy
    return hit.copy()


def _load_world(name: str, base_dir: Path | None = None) -> World:
    world = World({})
    root = resources.files("simulator.scenario.world")
    folder = root / name
    if name in packaged_worlds():
        for f in sorted(folder.iterdir(), key=lambda p: p.name):
            if f.name.endswith(".yaml"):
                _read(f.read_text(encoding="utf-8"), f"world/{name}/{f.name}", world)
        return world
    path = _folder_of(name, base_dir)
    if not path.exists():
        raise FileNotFoundError(name)
    shown = str(path)
    if not path.is_dir():
        raise WorldError(shown, None, (), "a world must be a folder of world YAML files "
                         f"({', '.join(expected_files())}), not a file")
    want = expected_files()
    have = sorted(p.name for p in path.glob("*.yaml"))
    if not have:
        raise WorldError(shown, None, (), f"holds no world files (a world folder holds {', '.join(want)}; "
                                          f"copy simulator/scenario/world/default to start)")
    template = load_world("default")
    known = list(template.values) + [sec for sec in _mechanism_sections() if sec not in template.values]
    for fname in have:
        f = path / fname
        try:
            raw = read_regular_file(f, MAX_BYTES)
        except _NotRegular as exc:
            raise WorldError(str(f), None, (), f"is {exc.args[0]}, not a regular file") from None
        except _TooBig as exc:
            raise WorldError(str(f), None, (), f"file is {exc.args[0]}; a world file is at most "
                                               f"{MAX_BYTES // (1024 * 1024)} MB") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise WorldError(str(f), None, (), f"not UTF-8 text (byte {exc.start}): binary file?") from None
        try:
            doc = load_text(text)
        except YamlError as exc:
            err = WorldError(str(f), None, (), exc.message)
            err.mark = exc.mark
            raise err from None
        if not isinstance(doc.data, dict):
            raise WorldError(str(f), doc, (), "a world file must be a mapping of sections (fabs:, minerals:...)")
        own = [sec for sec, (tf, _) in template.origins.items() if tf.endswith("/" + fname)]
        from .errors import suggest
        for section in doc.data:
            if section not in known:
                raise WorldError(str(f), doc, (section,), f"unknown world section {section!r}"
                                 f"{suggest(str(section), known)}; known: {', '.join(known)}")
            if own and section not in own:
                raise WorldError(str(f), doc, (section,), f"section {section!r} belongs in "
                                 f"{template.origins[section][0].rsplit('/', 1)[-1]}, not {fname}"
                                 if section in template.origins else f"{fname} holds {', '.join(own)}")
        for section in own:
            if section not in doc.data:
                raise WorldError(str(f), doc, (), f"missing section {section!r}")
        _read(text, str(f), world)
    for section, body in world.values.items():
        if section not in template.values:
            continue     # a part the packaged world does not have (a registered test mechanism): its own rules
        _check_shape(body, _shape(template.values[section], template.provenance, (section,)),
                     (section,), world)
    return world


#: Where the world sections of the registered model parts come from: set by ``simulator.model_checks`` to read
#: the engine's registry when asked (the scenario layer does not import the engine).
SECTIONS_PROVIDER: list = []


def _mechanism_sections() -> list[str]:
    """World sections of the registered model parts (asked each time: tests may register a toy part)."""
    return [sec for provide in SECTIONS_PROVIDER for sec in provide()]


# ------------------------------------------------------------------------------------ schema from the template
@dataclass
class _Shape:
    kind: str                     # param | dict | list | scalar | any
    type: str = ""                # num | str | bool | list | none (params and scalars)
    children: dict[str, "_Shape"] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    collection: bool = False
    elem: "_Shape | None" = None


def _tname(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if v is None:
        return "none"
    return type(v).__name__


def _shape(node: Any, prov: dict, path: tuple) -> _Shape:
    key = ".".join(map(str, path))
    if key in prov:
        return _Shape("param", _tname(node))
    if isinstance(node, dict) and node and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               and ".".join(map(str, path + (k,))) not in prov
                                               for k, v in node.items()):
        # plain numbers by name (a bill of module origins: {US: 0.3, Japan: 0.7}): any names, numbers
        return _Shape("dict", collection=True, elem=_Shape("scalar", "num"))
    if isinstance(node, dict):
        kids = {k: _shape(v, prov, path + (k,)) for k, v in node.items()}
        if _is_collection(node, kids):
            return _Shape("dict", collection=True, elem=_merge(list(kids.values())))
        return _Shape("dict", children=kids, required=set(kids))
    if isinstance(node, list):
        return _Shape("list")
    return _Shape("scalar", _tname(node))


def _is_collection(node: dict, kids: dict[str, _Shape]) -> bool:
    """Named items (regions, tool classes, minerals...): at least two mappings, most pairs of them with much
    the same keys; or any mapping keyed by proper names (countries, regions, vendors: capitalised, as in a bill
    of module origins). Fixed structures (``fabs``: vendors, tool_classes, operations...) have different keys."""
    if node and all(str(k)[:1].isupper() for k in node):
        return True
    if len(kids) < 2 or not all(s.kind == "dict" for s in kids.values()):
        return False
    keysets = [set(v) for v in node.values()]
    pairs = similar = 0
    for i in range(len(keysets)):
        for j in range(i + 1, len(keysets)):
            a, b = keysets[i], keysets[j]
            pairs += 1
            similar += len(a & b) >= 0.5 * len(a | b)
    return similar >= 0.5 * pairs


def _merge(shapes: list[_Shape]) -> _Shape:
    kinds = {s.kind for s in shapes}
    if len(kinds) != 1:
        return _Shape("any")
    kind = kinds.pop()
    if kind in ("param", "scalar"):
        types = {s.type for s in shapes}
        return _Shape(kind, types.pop() if len(types) == 1 else "")
    if kind != "dict":
        return _Shape(kind)
    if any(s.collection for s in shapes):
        elems = [s.elem for s in shapes if s.collection and s.elem is not None]
        return _Shape("dict", collection=True, elem=_merge(elems) if elems else _Shape("any"))
    keys: dict[str, list[_Shape]] = {}
    for s in shapes:
        for k, v in s.children.items():
            keys.setdefault(k, []).append(v)
    required = set.intersection(*(s.required for s in shapes)) if shapes else set()
    return _Shape("dict", children={k: _merge(v) for k, v in keys.items()}, required=required)


_KIND_TEXT = {"param": "a parameter {value: ..., unit: ..., source: ...}", "dict": "a mapping",
              "list": "a list", "num": "a number", "str": "text", "bool": "true or false"}


def _check_shape(node: Any, shape: _Shape, path: tuple, world: World) -> None:
    """Check a user world node against the packaged world's shape; raise a located WorldError."""
    if shape.kind == "any":
        return
    file, doc = world.origins.get(path[0], ("world", None))
    key = ".".join(map(str, path))

    def fail(where: tuple, msg: str) -> None:
        raise WorldError(file, doc, where, msg)

    is_param = key in world.provenance
    if shape.kind == "param":
        if not is_param:
            fail(path, f"expected {_KIND_TEXT['param']} as in the packaged world, got {_brief(node)}")
        if shape.type and _tname(node) != shape.type and not (shape.type == "num" and _tname(node) == "none"):
            fail(path + ("value",), f"expected {_KIND_TEXT.get(shape.type, shape.type)} as in the packaged "
                                    f"world, got {_brief(node)}")
        return
    if is_param:
        fail(path, f"expected {_KIND_TEXT.get(shape.kind, shape.kind)} here (as in the packaged world), "
                   f"got a parameter")
    if shape.kind == "scalar":
        if shape.type and _tname(node) != shape.type:
            fail(path, f"expected {_KIND_TEXT.get(shape.type, shape.type)}, got {_brief(node)}")
        return
    if shape.kind == "list":
        if not isinstance(node, list):
            fail(path, f"expected a list, got {_brief(node)}")
        return
    if not isinstance(node, dict):
        fail(path, f"expected a mapping (key: value lines) as in the packaged world, got {_brief(node)}")
    if shape.collection:
        for k, v in node.items():
            _check_shape(v, shape.elem or _Shape("any"), path + (k,), world)
        return
    from .errors import suggest
    for k, v in node.items():
        if k not in shape.children:
            fail(path + (k,), f"unknown key {k!r}{suggest(k, shape.children)}; expected "
                              f"{', '.join(sorted(shape.children))}")
        _check_shape(v, shape.children[k], path + (k,), world)
    for k in sorted(shape.required):
        if k not in node:
            fail(path, f"missing key {k!r} (the packaged world has it here)")


def _brief(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
