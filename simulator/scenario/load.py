"""Scenario YAML → validated :class:`Scenario` plus its resolved :class:`World`, or one located error.

Steps: read the file safely (size, encoding, no Python tags, bounded aliases), apply ``--set`` values, validate
with the typed schema, then cross-check what a schema alone cannot: unique ids, trigger targets that exist,
trigger cycles that can never start, names (countries, minerals, tool classes) the world knows, override paths
that exist, metrics that triggers watch, and dates inside the horizon (a warning only).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ScenarioError, path_text, suggest
from .schema import Control, Countermeasure, Scenario
from .files import _NotRegular, _TooBig, read_regular_file  # noqa: F401  (read_regular_file: tests patch it here)
from .world_data import World, WorldError, load_world
from .world_rules import check_value
from .yamlsafe import MAX_BYTES, Document, Mark, YamlError, load_text

MEASURE_LISTS = ("controls", "countermeasures")


@dataclass
class LoadedScenario:
    """A validated scenario, its world with overrides applied, and where it came from."""

    scenario: Scenario
    world: World
    file: str
    text: str
    sets: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    series: int = 0          # recorded series per run (for size estimates), from the dry run

    @property
    def input_hash(self) -> str:
        """SHA-256 of the scenario text and the ``--set`` values."""
        h = hashlib.sha256(self.text.encode("utf-8"))
        for s in self.sets:
            h.update(b"\0" + s.encode("utf-8"))
        return h.hexdigest()


def read_text(file: str) -> str:
    """Read a scenario file as UTF-8 text, turning every OS problem into a ScenarioError."""
    p = Path(file)
    try:
        if p.is_dir():
            raise ScenarioError(file, None, "", "is a directory, expected a scenario .yaml file")
        if not p.exists():
            near = suggest(p.name, [f.name for f in p.parent.glob("*.y*ml")]) if p.parent.is_dir() else ""
            shipped = Path("scenarios") / p.name
            if not near and shipped.is_file() and not p.is_absolute():
                near = f" (did you mean {str(shipped)!r}?)"
            raise ScenarioError(file, None, "", f"no such file{near}")
        raw = read_regular_file(p, MAX_BYTES)
    except _TooBig as exc:
        raise ScenarioError(file, None, "", f"file is {exc.args[0]}; a scenario file is at most "
                                            f"{MAX_BYTES // (1024 * 1024)} MB") from None
    except _NotRegular as exc:
        raise ScenarioError(file, None, "", f"is {exc.args[0]}, not a regular file; expected a scenario "
                                            f".yaml file") from None
    except PermissionError:
        raise ScenarioError(file, None, "", "cannot read the file: permission denied") from None
    except OSError as exc:
        raise ScenarioError(file, None, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(file, None, "", f"not UTF-8 text (byte {exc.start}): binary file?") from None


# ---------------------------------------------------------------------------------------------------- --set
def parse_value(text: str) -> Any:
    """A ``--set`` value read as a YAML scalar (``0.5`` → float, ``30d`` → text, ``[a, b]`` → list)."""
    try:
        return load_text(text).data
    except YamlError:
        return text


def _measure_index(data: dict, kind: str, mid: str, origin: str) -> int:
    items = data.get(kind) or []
    if not isinstance(items, list):
        raise ScenarioError(origin, None, f"{kind}.{mid}", f"{kind!r} in the file is not a list of measures")
    ids = [m.get("id") if isinstance(m, dict) else None for m in items]  # positions match ``items``
    if mid not in ids:
        raise ScenarioError(origin, None, f"{kind}.{mid}",
                            f"no measure with id {mid!r}{suggest(mid, [i for i in ids if i is not None])}")
    return ids.index(mid)


def apply_set(data: dict, key: str, value: Any, origin: str) -> bool:
    """Apply one dotted ``key`` = ``value``: a top-level field (``seed``), a measure field by id
    (``controls.jp_servicing_ban.compliance``) or a world path (``fabs.classes....``, via overrides).
    Returns True when ``key`` went to the overrides (a world path)."""
    parts = key.split(".")
    if parts[0] in MEASURE_LISTS + ("overrides", "output") and len(parts) < (3 if parts[0] in MEASURE_LISTS
                                                                               else 2):
        example = {"overrides": "overrides.minerals.gallium.price.alpha=1.5 (or just the world path)",
                   "output": "output.frequency=1d"}.get(parts[0], f"{parts[0]}.<id>.<field>=VALUE")
        raise ScenarioError(origin, None, key, f"cannot set a whole section; set one value, e.g. {example}")
    if parts[0] in MEASURE_LISTS:
        idx = _measure_index(data, parts[0], parts[1], origin)
        node = data[parts[0]][idx]
        for p in parts[2:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ScenarioError(origin, None, key, f"{p!r} is not a mapping")
        node[parts[-1]] = value
        return False
    if len(parts) == 1 and parts[0] in Scenario.model_fields and parts[0] not in ("overrides",) + MEASURE_LISTS:
        data[parts[0]] = value
        return False
    if parts[0] == "output" and len(parts) == 2:
        out = data.setdefault("output", {})
        if not isinstance(out, dict):
            raise ScenarioError(origin, None, "output", "expected a mapping of output options")
        out[parts[1]] = value
        return False
    if parts[0] == "overrides":
        key = ".".join(parts[1:])
    ov = data.get("overrides")
    if ov is None:
        ov = data["overrides"] = {}
    if not isinstance(ov, dict):
        raise ScenarioError(origin, None, "overrides", "expected a mapping of dotted paths to values")
    ov[key] = value
    return True


# ------------------------------------------------------------------------------------------- pydantic errors
_CONTEXT_FIELDS = {
    "": Scenario, "controls": Control, "countermeasures": Countermeasure, "output": None,
}


def _allowed_keys(loc: tuple) -> list[str]:
    from . import schema as s
    names = [p for p in loc[:-1] if isinstance(p, str)]
    ctx = names[-1] if names else ""
    model = {"": s.Scenario, "controls": s.Control, "countermeasures": s.Countermeasure, "output": s.Output,
             "scope": s.Scope, "trigger": s.Trigger, "when": s.Condition, "lift": s.Lift}.get(ctx)
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _friendly(err: dict) -> str:
    t, inp, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    loc = err["loc"]
    if t == "extra_forbidden":
        return f"unknown key {loc[-1]!r}{suggest(str(loc[-1]), _allowed_keys(loc))}"
    if t == "missing":
        return f"missing required key {loc[-1]!r}"
    if t == "literal_error":
        expected = ctx.get("expected", "")
        opts = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",")]
        return f"expected one of {expected}, got {inp!r}{suggest(str(inp), opts)}"
    if t in ("int_parsing", "int_type", "float_parsing", "float_type", "int_from_float"):
        return f"expected a {'whole ' if t.startswith('int') else ''}number, got {inp!r}"
    if t in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[t]
        lim = next(iter(ctx.values()), "")
        return f"expected a value {op} {lim}, got {inp!r}"
    if t in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping (key: value lines), got {inp!r}"
    if t == "list_type":
        return f"expected a list like [a, b], got {inp!r}"
    if t in ("string_type",):
        return f"expected text, got {inp!r}"
    if t == "string_pattern_mismatch":
        return f"expected a name of letters, digits, '_' or '-' starting with a letter or digit, got {inp!r}"
    if t == "too_short":
        return f"expected at least {ctx.get('min_length', 1)} item(s), got {inp!r}"
    if t == "bool_type" or t == "bool_parsing":
        return f"expected true or false, got {inp!r}"
    msg = err.get("msg", "invalid value")
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _validation_error(exc: ValidationError, file: str, doc: Document, set_locs: set[tuple] = frozenset()
                      ) -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "lax-"))))
    if any(loc[:len(s)] == s for s in set_locs):     # the value came from --set, not from the file
        return ScenarioError("--set", None, path_text(loc), _friendly(err))
    mark = doc.key_marks.get(loc) if err["type"] == "extra_forbidden" else None
    return ScenarioError(file, mark or doc.mark_of(loc), path_text(loc), _friendly(err))


def _set_loc(data: dict, key: str) -> tuple:
    """Where a non-world ``--set`` key lands in the scenario data, as a validation-error location."""
    parts = key.split(".")
    if parts[0] in MEASURE_LISTS and len(parts) >= 3:
        ids = [m.get("id") if isinstance(m, dict) else None for m in data.get(parts[0]) or []]
        return (parts[0], ids.index(parts[1]), *parts[2:]) if parts[1] in ids else (parts[0],)
    return tuple(parts)


# --------------------------------------------------------------------------------------------- cross-checks
def _mloc(sc: Scenario, mid: str) -> tuple:
    for kind in MEASURE_LISTS:
        for i, m in enumerate(getattr(sc, kind)):
            if m.id == mid:
                return (kind, i)
    return ()


def _cross_check(sc: Scenario, file: str, doc: Document) -> list[str]:
    def fail(loc: tuple, msg: str) -> ScenarioError:
        return ScenarioError(file, doc.mark_of(loc), path_text(loc), msg)

    ids: dict[str, tuple] = {}
    for kind in MEASURE_LISTS:
        for i, m in enumerate(getattr(sc, kind)):
            if m.id in ids:
                raise fail((kind, i, "id"), f"id {m.id!r} is used twice (also {path_text(ids[m.id])})")
            ids[m.id] = (kind, i)
    for mid, loc in ids.items():
        m = sc.controls[loc[1]] if loc[0] == "controls" else sc.countermeasures[loc[1]]
        for key in ("trigger", "lift"):
            t = getattr(m, key)
            if t is not None and t.after is not None:
                if t.after not in ids:
                    raise fail(loc + (key, "after"), f"names no measure {t.after!r}{suggest(t.after, ids)}")
                if t.after == mid and key == "trigger":
                    raise fail(loc + (key, "after"), "a measure cannot be triggered by itself")
    # `after` chains that loop back can never start: every measure in the loop waits for another one.
    cycle = trigger_cycle({m.id: m.trigger.after for m in sc.measures if m.trigger is not None and m.trigger.after})
    if cycle:
        raise fail(ids[cycle[0]] + ("trigger", "after"), f"trigger cycle {' -> '.join(cycle)} can never start")
    warnings = []
    end = sc.start + _dt.timedelta(days=sc.days)
    for mid, loc in ids.items():
        m = sc.controls[loc[1]] if loc[0] == "controls" else sc.countermeasures[loc[1]]
        for key in ("announced", "effective", "ends"):
            d = getattr(m, key)
            if d is not None and not (sc.start <= d < end) and not (key != "ends" and d < sc.start):
                warnings.append(f"{ScenarioError(file, doc.mark_of(loc + (key,)), path_text(loc + (key,)), '')}"
                                f"warning: {d} is outside the simulated period {sc.start} to {end}")
    return warnings


def trigger_cycle(graph: dict[str, str]) -> list[str]:
    """The first loop in ``graph`` (measure id → the id it waits for) as ``[a, b, ..., a]``, or ``[]``.

    Each measure waits for at most one other, so every chain is followed once: measures already known to lead
    out of any loop are marked done and never walked again, which keeps this linear in the number of measures
    (3,000 chained measures take milliseconds; the previous walk was cubic)."""
    done: set[str] = set()
    for first in graph:
        if first in done:
            continue
        pos: dict[str, int] = {}
        path: list[str] = []
        cur: str | None = first
        while cur is not None and cur in graph and cur not in done and cur not in pos:
            pos[cur] = len(path)
            path.append(cur)
            cur = graph[cur]
        if cur is not None and cur in pos:       # came back to a measure of this walk: a loop
            loop = path[pos[cur]:]
            return loop + [loop[0]]
        done.update(path)
    return []


def _check_names(sc: Scenario, world: World, file: str, doc: Document) -> None:
    vocab = dict(world.names())                      # shared by the world's copies: never changed in place
    if "region" in vocab:
        vocab["region"] = vocab["region"] | {"all"}

    def check(kind: str, names: list[str] | None, loc: tuple) -> None:
        known = vocab.get(kind)
        if not names or not known:
            return
        for i, n in enumerate(names):
            if n not in known:
                raise ScenarioError(file, doc.mark_of(loc + (i,)) or doc.mark_of(loc), path_text(loc + (i,)),
                                    f"unknown {kind.replace('_', ' ')} {n!r}{suggest(n, known)}; "
                                    f"known: {', '.join(sorted(known))}")

    parts = {"controls": ("tool_class", "chip-tool fleets (no fabs section)"),
             "countermeasures": ("mineral", "mineral markets (no minerals section)")}
    for kind, (vocab_kind, what) in parts.items():
        if getattr(sc, kind) and vocab_kind not in vocab:
            raise ScenarioError(file, doc.mark_of((kind,)), kind, f"world {sc.world!r} has no {what}, so these "
                                f"measures would do nothing; use a world with that part (e.g. world: default)")
    for i, c in enumerate(sc.controls):
        check("vendor_country", c.scope.vendor_countries, ("controls", i, "scope", "vendor_countries"))
        check("vendor", c.scope.vendors, ("controls", i, "scope", "vendors"))
        check("tool_class", c.scope.tool_classes, ("controls", i, "scope", "tool_classes"))
        check("fab_class", c.scope.fab_classes, ("controls", i, "scope", "fab_classes"))
        check("content_origin", getattr(c.scope, "content_origin", None), ("controls", i, "scope", "content_origin"))
    for i, c in enumerate(sc.countermeasures):
        check("mineral", c.mineral, ("countermeasures", i, "mineral"))
        check("item", c.items, ("countermeasures", i, "items"))
        check("region", c.against, ("countermeasures", i, "against"))


def _apply_overrides(sc: Scenario, world: World, file: str, doc: Document, set_keys: set[str],
                     warnings: list[str]) -> None:
    """Apply ``overrides`` (and world ``--set`` values) with the hard limits of ``world_rules`` (an error) and
    the plausible ``range:`` of each parameter (a warning)."""
    pset = world.leaf_paths()
    for key, value in sc.overrides.items():
        origin = "--set" if key in set_keys else file
        mark = None if key in set_keys else doc.key_marks.get(("overrides", key))
        loc = f"overrides.{key}"
        if key not in pset:
            near = list(world.paths()) + ([] if "." in key else list(Scenario.model_fields))   # a misspelt field
            raise ScenarioError(origin, mark, loc, f"no world parameter {key!r}{suggest(key, near)}")
        old = world.get(key)
        prov = world.provenance.get(key, {})
        if isinstance(old, (int, float)) and not isinstance(old, bool):
            unit = prov.get("unit") if isinstance(prov.get("unit"), str) else None
            err, warn = check_value(value, old, unit, prov.get("range"))
            if err:
                raise ScenarioError(origin, mark, loc, err)
            if warn:
                warnings.append(f"{ScenarioError(origin, mark, loc, '')}warning: {warn}")
        elif type(old) is not type(value) and old is not None:
            raise ScenarioError(origin, mark, loc, f"expected a {type(old).__name__} like {old!r}, got {value!r}")
        src = "--set on the command line" if key in set_keys else f"override in {Path(file).name}"
        world.set(key, value, src + (f" line {mark.line}" if mark else ""))


def _finite_number(v: int | float) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


DRY_RUN_DAYS = 3
FIRST_YEAR, LAST_YEAR = 1900, 2200


def set_locs_world(set_locs: set[tuple]) -> set[str]:
    return {"world"} if ("world",) in set_locs else set()


def _packaged() -> list[str]:
    from .world_data import packaged_worlds
    return packaged_worlds()


def _check_dates(sc: Scenario, file: str, doc: Document, set_locs: set[tuple] = frozenset()) -> None:
    """Calendar years the tool handles (charts and date arithmetic): 1900 to 2200."""
    end = sc.start + _dt.timedelta(days=sc.days)
    if sc.start.year < FIRST_YEAR or end.year > LAST_YEAR:
        key = "horizon" if ("horizon",) in set_locs else "start"
        from_set = ("start",) in set_locs or ("horizon",) in set_locs
        raise ScenarioError("--set" if from_set else file, None if from_set else doc.mark_of((key,)), key,
                            f"expected a start from {FIRST_YEAR}-01-01 with the horizon ending by {LAST_YEAR}, "
                            f"got {sc.start} to {end}")


#: Checks that need the model (building a run to learn its series, a short dry run of overridden values):
#: ``check(scenario, world, file, doc, set_keys) -> number of series or None``. The scenario layer never imports
#: the engine; ``simulator.model_checks`` registers them, imported by every module above both layers that loads
#: scenarios (``simulator.api``, whose ``load_scenario`` is the package's, the command line, the sweep's loader).
MODEL_CHECKS: list = []


def load_scenario(file: str | Path, sets: list[str] | tuple[str, ...] = (), model_checks: bool = True
                  ) -> LoadedScenario:
    """Load, validate and resolve a scenario file; raise :class:`ScenarioError` on any bad input.
    ``model_checks=False`` leaves out the checks that need the model (:data:`MODEL_CHECKS`, ~20 ms): for a
    caller that ran them on the same input already, or on one that differs only in numbers the schema checks
    (a sweep's points)."""
    if model_checks and not MODEL_CHECKS:   # a caller that imported this module alone: say so, do not skip them
        raise RuntimeError("the checks of a scenario that need the model are not registered: use "
                           "simulator.load_scenario (or import simulator.model_checks first)")
    file = str(file)
    text = read_text(file)
    try:
        doc = load_text(text)
    except YamlError as exc:
        raise ScenarioError(file, exc.mark, "", exc.message) from None
    if not isinstance(doc.data, dict):
        raise ScenarioError(file, doc.mark_of(()) or Mark(1, 1), "",
                            "expected a mapping with name, start, horizon, controls, countermeasures...")
    data = doc.data
    set_keys: set[str] = set()
    set_locs: set[tuple] = set()
    for s in sets:
        if "=" not in s:
            raise ScenarioError("--set", None, s, "expected KEY=VALUE, e.g. controls.jp_servicing_ban.compliance=0.7")
        k, v = s.split("=", 1)
        k = k.strip()
        if apply_set(data, k, parse_value(v), "--set"):
            set_keys.add(k.removeprefix("overrides."))
        else:
            set_locs.add(_set_loc(data, k))
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, file, doc, set_locs) from None
    _check_dates(sc, file, doc, set_locs)
    warnings = _cross_check(sc, file, doc)
    try:
        world = load_world(sc.world, Path(file).parent)
    except FileNotFoundError:
        from .world_data import packaged_worlds
        raise ScenarioError(file, doc.mark_of(("world",)), "world",
                            f"no world {sc.world!r}{suggest(sc.world, packaged_worlds())}") from None
    except (OSError, ValueError) as exc:  # a world path the OS refuses: too long, NUL byte, unreadable...
        why = getattr(exc, "strerror", None) or str(exc)
        raise ScenarioError(file, doc.mark_of(("world",)), "world", f"cannot read world {sc.world!r}: {why}") \
            from None
    except (WorldError, YamlError) as exc:
        mark = getattr(exc, "mark", None)
        where = getattr(exc, "file", None) or f"{file}: world {sc.world!r}"
        if mark is None and not getattr(exc, "path", ()) and not str(where).endswith(".yaml"):
            # about the world folder itself: point at the scenario's `world:` line
            raise ScenarioError("--set" if "world" in set_locs_world(set_locs) else file,
                                None if "world" in set_locs_world(set_locs) else doc.mark_of(("world",)),
                                "world", f"{where}: {exc.message}") from None
        raise ScenarioError(where, mark, ".".join(map(str, getattr(exc, "path", ()))), exc.message) from None
    if not world.values:
        raise ScenarioError(file, doc.mark_of(("world",)), "world",
                            f"world {sc.world!r} holds no parameters (no .yaml world files there)")
    _apply_overrides(sc, world, file, doc, set_keys, warnings)
    _check_names(sc, world, file, doc)
    # -- by:/against: must name regions the world knows (issue 14) --
    from .vocabulary import check_actors
    for loc, name, known in check_actors(sc, world.names()):
        raise ScenarioError(file, doc.mark_of(loc) or doc.mark_of(loc[:-1]), path_text(loc),
                            f"unknown region {name!r}{suggest(name, known)}; known: {', '.join(sorted(known))}")
    series = 0
    for check in MODEL_CHECKS if model_checks else ():   # checks that need the model (``simulator.model_checks``)
        series = check(sc, world, file, doc, set_keys) or series
    loaded = LoadedScenario(sc, world, file, text, tuple(sets), warnings)
    loaded.series = series
    return loaded
