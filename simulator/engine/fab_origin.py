"""Where a tool's content comes from, and which share of each flow to a tool cohort the controls stop.

Module-origin bill: for each vendor country (where the tool maker is) and tool class, the value share of the
tool's key modules by country of origin (``fabs.module_origin.<vendor_country>.<tool_class or default>``), e.g.
a Japanese etch tool whose RF generators, vacuum pumps and valves are partly US-made. A control scoped by
``content_origin: [US]`` with ``min_share: 0.25`` reaches every tool whose US share is at least 25% (as a
foreign-direct-product rule does), whatever the vendor's country; below that share it still reaches the spare
parts of that origin (the US-made modules themselves), i.e. that share of the ``parts`` flow.

Flows, each stopped once per control (``compliance`` is applied once per flow, never once per measure, so a
control with compliance 0.9 on ``servicing`` and ``spare_parts`` leaves 10% of the parts flow, not 1%):

========================  ==================================  ============================================
flow                      stopped by a control naming          licence purpose that exempts it
========================  ==================================  ============================================
``expansion``             ``sales`` or ``servicing``           ``expansion`` (new tools beyond the fleet)
``replacement``           ``sales`` or ``servicing``           ``operation`` (like-for-like replacements)
``service``               ``servicing``                        ``operation`` (field service, vendor PM)
``parts``                 ``servicing`` or ``spare_parts``     ``operation`` (kits, modules, locked items)
``software``              ``software_updates``                 ``operation``
========================  ==================================  ============================================

A servicing ban stops new installations (``expansion``) because a tool is installed and qualified by its
vendor. Several controls covering the same flow compound: stopped share ``1 − Π(1 − compliance × coverage)``.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

FLOWS: dict[str, tuple[frozenset[str], str]] = {
    "expansion": (frozenset({"sales", "servicing"}), "expansion"),
    "replacement": (frozenset({"sales", "servicing"}), "operation"),
    "service": (frozenset({"servicing"}), "operation"),
    "parts": (frozenset({"servicing", "spare_parts"}), "operation"),
    "software": (frozenset({"software_updates"}), "operation"),
}
FLOW_NAMES = tuple(FLOWS)


def origin_bill(module_origin: Mapping[str, Any], vendor_country: str, tool_class: str) -> dict[str, float]:
    """Value shares (summing to 1) of a tool's key modules by origin country, for this vendor country and tool
    class; a vendor country without a bill is taken as all its own content."""
    by_country = module_origin.get(vendor_country)
    if not by_country:
        return {vendor_country: 1.0}
    bill = by_country.get(tool_class, by_country.get("default"))
    if not bill:
        return {vendor_country: 1.0}
    total = float(sum(float(v) for v in bill.values()))
    if total <= 0:
        raise ValueError(f"fabs.module_origin.{vendor_country}: shares sum to {total}; need > 0")
    return {k: float(v) / total for k, v in bill.items()}


def content_share(bill: Mapping[str, float], origins: Iterable[str]) -> float:
    """Share of the bill from ``origins``."""
    return float(sum(bill.get(o, 0.0) for o in origins))


def coverage(scope: Any, flow: str, row: Mapping[str, Any]) -> float:
    """How much of ``flow`` to cohort ``row`` a control's ``scope`` reaches (0..1)."""
    if scope.vendor_countries is not None and row["country"] not in scope.vendor_countries:
        return 0.0
    if scope.vendors is not None and row["vendor"] not in scope.vendors:
        return 0.0
    if scope.tool_classes is not None and row["tc"] not in scope.tool_classes:
        return 0.0
    if scope.fab_classes is not None and row["fab"] not in scope.fab_classes:
        return 0.0
    origins = getattr(scope, "content_origin", None)
    if not origins:
        return 1.0
    share = content_share(row["bill"], origins)
    if share > 0 and share >= float(getattr(scope, "min_share", 0.0)):
        return 1.0
    return share if flow == "parts" else 0.0


def flow_shares(board: Any, rows: list[Mapping[str, Any]], pending: bool = False,
                seen: dict[tuple[int, str], tuple[Any, np.ndarray]] | None = None) -> dict[str, np.ndarray]:
    """Stopped share (0..1) of every flow to every cohort under the controls in force (or, with
    ``pending=True``, announced and not yet effective) on the policy ``board``. ``seen``: the coverage of
    ``rows`` by each scope object and flow worked out so far (the caller's, for the same ``rows``; a lane's
    board is looked at again at each of its policy changes, ~40 µs a scope and flow for the headline's
    cohorts)."""
    keep = {f: np.ones(len(rows)) for f in FLOWS}
    for st in board.controls:
        if not (st.pending if pending else st.in_force) or not st.targets("China"):
            continue
        spec = st.spec
        measures = set(spec.measures)
        licensed = set(getattr(spec, "licensed_for", ()) or ())
        for flow, (by, purpose) in FLOWS.items():
            if not measures & by or purpose in licensed:
                continue
            got = None if seen is None else seen.get((id(spec.scope), flow))
            if got is None or got[0] is not spec.scope:
                got = (spec.scope, np.array([coverage(spec.scope, flow, r) for r in rows]))
                if seen is not None:
                    seen[id(spec.scope), flow] = got       # the scope held: its id is not reused
            keep[flow] *= 1.0 - spec.compliance * got[1]
    return {f: 1.0 - k for f, k in keep.items()}
