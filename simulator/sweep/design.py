"""An experimental design: which parameter points a sweep visits.

A *factor* is one way to vary parameters; a *point* is one assignment ``{key: value}`` of the swept keys, where a
key is a ``--set`` dotted path (``controls.jp_servicing_ban.compliance``, ``minerals.gallium.price.alpha``).

- ``grid`` — one key and its levels: ``--grid KEY=V1,V2,V3``. Several grids form a full factorial.
- ``link`` — several keys that move together, level by level: ``--link "a=1,2,3;b=10,20,30"`` is three
  points ``(a=1,b=10), (a=2,b=20), (a=3,b=30)``, one factor of the factorial (all lists the same length).
- ``lhs`` — ranges ``--lhs KEY=LO:HI`` sampled together by a Latin hypercube of ``--samples N`` rows (one
  factor of N levels). Bounds that are both whole numbers give whole-number samples.

Points are the full factorial of the factors, in the order given, the last factor varying fastest. With
``--sensitivity sobol|morris`` the ranges are sampled by SALib's matching design instead (see
``sensitivity.py``) and no grid or link may be given. The same design can be written in a scenario file::

    sweep:
      replications: 2
      grid: {controls.jp_servicing_ban.compliance: [0.7, 0.85, 1.0]}
      link: [{countermeasures.cn_gallium_ban_japan.leakage: [0.0, 0.3],
              countermeasures.cn_graphite_licensing_japan.leakage: [0.0, 0.2]}]
      lhs: {countermeasures.cn_gallium_ban_japan.leakage: [0.0, 0.3]}
      samples: 8
      sensitivity: sobol      # or morris; optional

Factors given on the command line are added to the file's; a key given in both takes the command line's.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..scenario.errors import ScenarioError, suggest
from ..scenario.load import parse_value

SWEEP_KEYS = ("grid", "link", "lhs", "samples", "replications", "sensitivity")
SENSITIVITY_METHODS = ("sobol", "morris")


@dataclass(frozen=True)
class Factor:
    """One factor of the factorial: ``keys`` and its ``levels`` (each level a tuple, one value per key)."""

    kind: str                      # grid | link | lhs
    keys: tuple[str, ...]
    levels: tuple[tuple[Any, ...], ...] = ()
    bounds: tuple[tuple[Any, Any], ...] = ()   # lhs only: (lo, hi) per key
    origin: str = "--grid"         # where the factor was written, for error messages
    mark: Any = None               # its position in the scenario file, if written there


@dataclass
class DesignSpec:
    """The factors of a sweep before sampling, plus the sampling settings."""

    factors: list[Factor] = field(default_factory=list)
    samples: int | None = None
    replications: int | None = None
    sensitivity: str | None = None

    @property
    def keys(self) -> list[str]:
        return [k for f in self.factors for k in f.keys]

    def merged_with(self, cli: "DesignSpec") -> "DesignSpec":
        """This (file) design with the command line's factors and settings taking precedence."""
        cli_keys = set(cli.keys)
        kept = [f for f in self.factors if not (set(f.keys) & cli_keys)]
        return DesignSpec(kept + cli.factors,
                          cli.samples if cli.samples is not None else self.samples,
                          cli.replications if cli.replications is not None else self.replications,
                          cli.sensitivity if cli.sensitivity is not None else self.sensitivity)


# ----------------------------------------------------------------------------------------------- values
def parse_level(text: str) -> Any:
    """A level typed on the command line: a YAML scalar, with ``1e-5`` read as a number."""
    v = parse_value(text.strip())
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def set_text(value: Any) -> str:
    """``value`` as ``--set`` text that the loader reads back as the same value."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        text = repr(float(value))
        if ("e" in text) and "." not in text:       # YAML 1.1 floats need a dot: 1e-05 -> 1.0e-05
            text = text.replace("e", ".0e", 1)
        if text in ("inf", "-inf", "nan"):
            text = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text]
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = value if parse_value(value) == value else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        import json
        text = json.dumps(value, default=str)
    return text


def plain(value: Any) -> Any:
    """numpy scalars → Python scalars (for JSON and hashing)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


# ------------------------------------------------------------------------------------------ command line
def _split_key(text: str, origin: str, example: str) -> tuple[str, str]:
    if "=" not in text:
        raise ScenarioError(origin, None, text, f"expected KEY=..., e.g. {origin} {example}")
    k, v = text.split("=", 1)
    k = k.strip()
    if not k:
        raise ScenarioError(origin, None, text, f"missing KEY before '=', e.g. {origin} {example}")
    return k, v


def _levels(key: str, text: str, origin: str) -> list[Any]:
    parts = [p for p in text.split(",")]
    if not text.strip() or any(not p.strip() for p in parts):
        raise ScenarioError(origin, None, key, f"expected comma-separated values like 0.5,0.7,0.9, got {text!r}")
    return [parse_level(p) for p in parts]


def grid_factor(text: str, origin: str = "--grid") -> Factor:
    """``KEY=V1,V2,...`` → a grid factor."""
    k, v = _split_key(text, origin, "controls.jp_servicing_ban.compliance=0.7,0.85,1")
    return Factor("grid", (k,), tuple((x,) for x in _levels(k, v, origin)), origin=origin)


def link_factor(text: str, origin: str = "--link") -> Factor:
    """``KEY=V1,V2;KEY2=W1,W2`` → one linked factor (keys move together, level by level)."""
    cols: dict[str, list[Any]] = {}
    for part in [p for p in text.split(";") if p.strip()]:
        k, v = _split_key(part, origin, '"a=1,2;b=10,20"')
        if k in cols:
            raise ScenarioError(origin, None, k, "key given twice in one --link")
        cols[k] = _levels(k, v, origin)
    return _link(cols, origin)


def _link(cols: dict[str, list[Any]], origin: str) -> Factor:
    if not cols:
        raise ScenarioError(origin, None, "", 'expected KEY=V1,V2;KEY2=W1,W2, e.g. --link "a=1,2;b=10,20"')
    lens = {k: len(v) for k, v in cols.items()}
    if len(set(lens.values())) != 1:
        raise ScenarioError(origin, None, ",".join(cols), "linked keys need the same number of values, got "
                            + ", ".join(f"{k}: {n}" for k, n in lens.items()))
    keys = tuple(cols)
    n = next(iter(lens.values()))
    return Factor("link", keys, tuple(tuple(cols[k][i] for k in keys) for i in range(n)), origin=origin)


def _bound(key: str, text: Any, origin: str) -> tuple[Any, Any]:
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        parts = [parse_level(p) for p in str(text).split(":")]
    ok = len(parts) == 2 and all(isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p)
                                 for p in parts)
    if not ok:
        raise ScenarioError(origin, None, key, f"expected a range LO:HI of two numbers, got {text!r}")
    lo, hi = parts
    if not lo < hi:
        raise ScenarioError(origin, None, key, f"expected LO < HI, got {lo!r}:{hi!r}")
    return lo, hi


def lhs_factor(texts: list[str], origin: str = "--lhs") -> Factor:
    """``KEY=LO:HI`` ranges → one Latin-hypercube factor (sampled later, when the sample size is known)."""
    keys, bounds = [], []
    for t in texts:
        k, v = _split_key(t, origin, "countermeasures.cn_gallium_ban_japan.leakage=0:0.3")
        if k in keys:
            raise ScenarioError(origin, None, k, "key given twice")
        keys.append(k)
        bounds.append(_bound(k, v, origin))
    return Factor("lhs", tuple(keys), bounds=tuple(bounds), origin=origin)


def from_cli(grids: list[str], links: list[str], lhs: list[str], samples: int | None,
             replications: int | None, sensitivity: str | None) -> DesignSpec:
    """The design written with ``--grid``, ``--link``, ``--lhs``, ``--samples``, ``--sensitivity``."""
    factors = [grid_factor(g) for g in grids] + [link_factor(x) for x in links]
    if lhs:
        factors.append(lhs_factor(lhs))
    return DesignSpec(factors, samples, replications, sensitivity)


# ------------------------------------------------------------------------------------------ scenario file
def from_block(block: dict | None, file: str, mark_of=None) -> DesignSpec:
    """The ``sweep:`` block of a scenario file (see the module docstring); located errors.
    ``mark_of(path)`` gives the file position of a value (``Document.mark_of``)."""
    if not block:
        return DesignSpec()

    def err(loc: tuple, msg: str) -> ScenarioError:
        from ..scenario.errors import path_text
        return ScenarioError(file, mark_of(("sweep",) + loc) if mark_of else None, path_text(("sweep",) + loc),
                             msg)

    for k in block:
        if k not in SWEEP_KEYS:
            raise err((k,), f"unknown key {k!r}{suggest(str(k), SWEEP_KEYS)}")
    factors: list[Factor] = []
    grid = block.get("grid") or {}
    if not isinstance(grid, dict):
        raise err(("grid",), "expected a mapping KEY: [V1, V2, ...]")
    for k, vals in grid.items():
        if not isinstance(vals, list) or not vals:
            raise err(("grid", k), f"expected a list of values like [0.5, 0.7], got {vals!r}")
        factors.append(Factor("grid", (k,), tuple((v,) for v in vals), origin=file,
                              mark=mark_of(("sweep", "grid", k)) if mark_of else None))
    links = block.get("link") or []
    if isinstance(links, dict):
        links = [links]
    if not isinstance(links, list):
        raise err(("link",), "expected a list of mappings {KEY: [V1, V2], KEY2: [W1, W2]}")
    for i, group in enumerate(links):
        if not isinstance(group, dict) or not all(isinstance(v, list) and v for v in group.values()):
            raise err(("link", i), "expected a mapping {KEY: [V1, V2], KEY2: [W1, W2]}")
        try:
            f = _link(dict(group), file)
            factors.append(Factor(f.kind, f.keys, f.levels, origin=file,
                                  mark=mark_of(("sweep", "link", i)) if mark_of else None))
        except ScenarioError as exc:
            raise err(("link", i), exc.message) from None
    lhs = block.get("lhs") or {}
    if not isinstance(lhs, dict):
        raise err(("lhs",), "expected a mapping KEY: [LO, HI]")
    if lhs:
        bounds = []
        for k, v in lhs.items():
            try:
                bounds.append(_bound(k, v, file))
            except ScenarioError as exc:
                raise err(("lhs", k), exc.message) from None
        factors.append(Factor("lhs", tuple(lhs), bounds=tuple(bounds), origin=file,
                              mark=mark_of(("sweep", "lhs")) if mark_of else None))
    samples, reps, sens = block.get("samples"), block.get("replications"), block.get("sensitivity")
    for name, v in (("samples", samples), ("replications", reps)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise err((name,), f"expected a whole number >= 1, got {v!r}")
    if sens is not None and sens not in SENSITIVITY_METHODS:
        raise err(("sensitivity",), f"expected sobol or morris, got {sens!r}{suggest(str(sens), SENSITIVITY_METHODS)}")
    return DesignSpec(factors, samples, reps, sens)


# ------------------------------------------------------------------------------------------------ expand
def _round(v: float) -> float:
    """Round a sampled value to the 10 significant digits the CSVs show, so the table shows what ran."""
    return float(f"{v:.10g}")


def lhs_levels(factor: Factor, samples: int, seed: int) -> tuple[tuple[Any, ...], ...]:
    """``samples`` rows of a Latin hypercube over the factor's ranges (scipy.stats.qmc), seeded from ``seed``."""
    from scipy.stats import qmc
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x4C4853,)))  # "LHS"
    u = qmc.LatinHypercube(d=len(factor.keys), rng=rng).random(samples)
    rows = []
    for r in range(samples):
        row = []
        for j, (lo, hi) in enumerate(factor.bounds):
            if isinstance(lo, int) and isinstance(hi, int):
                row.append(int(min(hi, lo + math.floor(u[r, j] * (hi - lo + 1)))))
            else:
                row.append(_round(lo + u[r, j] * (hi - lo)))
        rows.append(tuple(row))
    return tuple(rows)


@dataclass(frozen=True)
class Design:
    """Expanded design: the swept ``keys`` and the ``points`` (one tuple of values per point, in key order)."""

    keys: tuple[str, ...]
    points: tuple[tuple[Any, ...], ...]
    sensitivity: str | None = None
    bounds: tuple[tuple[Any, Any], ...] = ()     # sensitivity only

    def point(self, i: int) -> dict[str, Any]:
        return dict(zip(self.keys, self.points[i]))

    def __len__(self) -> int:
        return len(self.points)


def expand(spec: DesignSpec, seed: int) -> Design:
    """All points of the design. ``seed`` (the scenario's root seed) seeds the LHS / SALib samplers."""
    keys = spec.keys
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ScenarioError("sweep", None, dup[0], "key is swept by two factors; give it once")
    if spec.sensitivity:
        from .sensitivity import sample
        if any(f.kind != "lhs" for f in spec.factors) or not spec.factors:
            raise ScenarioError("--sensitivity", None, spec.sensitivity,
                                "needs ranges (--lhs KEY=LO:HI ...) and no --grid or --link")
        f = spec.factors[0]
        pts = sample(spec.sensitivity, f.keys, f.bounds, spec.samples or 8, seed)
        return Design(f.keys, pts, spec.sensitivity, f.bounds)
    if not spec.factors:
        return Design((), ((),))
    level_lists = []
    for f in spec.factors:
        if f.kind == "lhs":
            level_lists.append(lhs_levels(f, spec.samples or 10, seed))
        else:
            level_lists.append(f.levels)
    points = tuple(tuple(v for lvl in combo for v in lvl) for combo in itertools.product(*level_lists))
    return Design(tuple(keys), points)
