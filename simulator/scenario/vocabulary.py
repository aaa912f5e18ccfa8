"""The names a scenario may use, read from the world data alone (the scenario layer never imports the engine).

- ``region``: every region of the mineral markets (``minerals.<mineral>.regions``, and the regions of any
  ``stages``/``items`` sub-mapping that holds ``regions``), plus the countries of the tool vendors
  (``fabs.vendors.<vendor>.country``);
- ``mineral``: the minerals (and component families) and their items (``minerals``/``components`` keys);
  ``item``: the items alone;
- ``vendor``, ``vendor_country``, ``tool_class``, ``fab_class``, ``content_origin``: from ``fabs``;
  ``sector``: from ``industries``.

:func:`check_actors` checks a measure's ``by`` and ``against`` against the regions: a control by ``Atlantis``
or a countermeasure against ``Atlantis`` would otherwise be accepted and do nothing.
"""
from __future__ import annotations

from typing import Any, Mapping

ALL = "all"


def _regions_in(node: Any, out: set[str], depth: int = 0) -> None:
    """Collect the keys of every ``regions`` mapping below ``node`` (a mineral's data, maybe by stage)."""
    if not isinstance(node, Mapping) or depth > 4:
        return
    for k, v in node.items():
        if k == "regions" and isinstance(v, Mapping):
            out.update(str(r) for r in v)
        elif isinstance(v, Mapping):
            _regions_in(v, out, depth + 1)


def _items(world: Mapping[str, Any]) -> dict[str, str]:
    """Market items (minerals by stage, components) → the mineral or family they belong to."""
    out: dict[str, str] = {}
    for sec in ("minerals", "components"):
        for k, v in (world.get(sec) or {}).items():
            if k != "common" and isinstance(v, Mapping):
                out[str(k)] = str(v.get("mineral", k))
    return out


def world_names(world: Mapping[str, Any]) -> dict[str, set[str]]:
    """Names by kind, from the plain world values (``World.values``): what each model part publishes about
    itself in its own world data."""
    fabs = world.get("fabs") or {}
    vendors = fabs.get("vendors") or {}
    items = _items(world)
    regions: set[str] = set()
    for sec in ("minerals", "components"):
        for m, body in (world.get(sec) or {}).items():
            if m != "common":
                _regions_in(body, regions)
    countries = {str(v.get("country")) for v in vendors.values() if isinstance(v, Mapping) and v.get("country")}
    origins = {str(o) for vc in (fabs.get("module_origin") or {}).values() if isinstance(vc, Mapping)
               for b in vc.values() if isinstance(b, Mapping) for o in b}
    names = {
        "region": regions | countries,
        "mineral": set(items) | set(items.values()),
        "item": set(items),
        "vendor": {str(v) for v in vendors},
        "vendor_country": countries,
        "tool_class": {str(t) for t in (fabs.get("tool_classes") or {})},
        "fab_class": {str(c) for c in (fabs.get("classes") or {})},
        "content_origin": origins | countries,
        "sector": {str(k) for k in ((world.get("industries") or {}).get("sectors") or {})},
    }
    return {k: v for k, v in names.items() if v}


def unknown_actor(name: str, regions: set[str], allow_all: bool) -> bool:
    """True when ``name`` is neither a known region nor (where allowed) ``all``."""
    return not (name in regions or (allow_all and name == ALL))


def check_actors(scenario, names: Mapping[str, set[str]]) -> list[tuple[tuple, str, set[str]]]:
    """Every ``by``/``against`` name the world does not know (``names``: the world's names by kind, see
    :func:`world_names`): (location, name, known names).

    ``against`` of a countermeasure may be ``all``. Nothing is checked when the world has no regions at all
    (a toy world in a test)."""
    regions = names.get("region", set())
    if not regions:
        return []
    bad = []
    for kind in ("controls", "countermeasures"):
        for i, m in enumerate(getattr(scenario, kind)):
            if unknown_actor(m.by, regions, False):
                bad.append(((kind, i, "by"), m.by, regions))
            for j, a in enumerate(m.against):
                if unknown_actor(a, regions, kind == "countermeasures"):
                    bad.append(((kind, i, "against", j), a, regions | ({ALL} if kind == "countermeasures"
                                                                        else set())))
    return bad
