"""Packaged world data (fabs, minerals, industries) with the provenance of every number.

World files are YAML mappings. A *parameter* is a mapping with a ``value`` and either a ``source`` (document,
date, grade) or an ``assumption`` (why, with a ``range``), plus an optional ``unit``::

    mtbf_h: {value: 168, unit: h, source: "SMT2020 dataset (Kopp et al. 2020): MTTF about 1 week"}
    p_oem: {value: 0.3, unit: share, assumption: "no public data", range: [0.1, 0.6]}

Everything else is structure (mappings keyed by name; lists only for plain values). :func:`load_world`
returns the plain values tree (parameters replaced by their values), and a provenance table keyed by dotted
path (``fabs.classes.mature_logic.groups.litho.mtbf_h``). Overrides address the same dotted paths.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .yamlsafe import Document, load_text

PARAM_KEYS = {"value", "unit", "source", "assumption", "range", "note"}


@dataclass
class World:
    """Resolved world data: plain ``values`` and ``provenance`` (dotted path → unit/source/assumption)."""

    values: dict[str, Any]
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

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
        prov = dict(self.provenance.get(path, {}))
        prov.pop("assumption", None)
        prov.pop("range", None)
        prov["source"] = source
        self.provenance[path] = prov

    def copy(self) -> "World":
        return World(copy.deepcopy(self.values), copy.deepcopy(self.provenance), list(self.files))


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
        return node["value"]
    if isinstance(node, dict):
        return {k: _strip(v, path + (k,), prov, file, doc) for k, v in node.items()}
    return node


def _read(text: str, name: str, world: World) -> None:
    doc = load_text(text)
    if not isinstance(doc.data, dict):
        raise WorldError(name, doc, (), "a world file must be a mapping of sections")
    for section, body in doc.data.items():
        if section in world.values:
            raise WorldError(name, doc, (section,), f"section {section!r} defined in two world files")
        world.values[section] = _strip(body, (section,), world.provenance, name, doc)
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


def load_world(name: str, base_dir: Path | None = None) -> World:
    """Load the packaged world ``name`` (e.g. ``default``), or a folder/file path relative to ``base_dir``.

    Parsed worlds are kept per process (keyed by their files' paths, times and sizes) and every call gets
    its own deep copy, so a sweep that loads one scenario many times parses the world once."""
    if name in packaged_worlds():
        folder = Path(str(resources.files("simulator.scenario.world") / name))
        files = sorted(folder.glob("*.yaml"))
    else:
        path = Path(name)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    key = (name, str(base_dir), _stamp(files))
    hit = _CACHE.get(key)
    if hit is None:
        hit = _CACHE[key] = _load_world(name, base_dir)
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
    path = Path(name)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(name)
        _read(f.read_text(encoding="utf-8"), str(f), world)
    return world
