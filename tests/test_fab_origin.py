"""Specification of which flows controls stop (``simulator/engine/fab_origin.py``): compliance once per flow,
scope by origin of content, ``operation``/``expansion`` licences, and the schema that writes them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from pydantic import ValidationError

from simulator.engine.fab_origin import coverage, flow_shares, origin_bill
from simulator.scenario.schema import Control, Scope
from .test_fabs import FABS, control, fabs_world, run_pair, scenario, total_output


@dataclass
class _State:          # what flow_shares reads of a policy board's measure state
    spec: Control
    in_force: bool = True
    pending: bool = False

    def targets(self, country: str) -> bool:
        return country in self.spec.against


@dataclass
class _Board:
    controls: list


def _ctl(measures, scope, compliance=1.0, **kw) -> Control:
    return Control.model_validate({"id": "c", "by": "US", "measures": measures, "scope": scope,
                                   "effective": "2025-01-01", "compliance": compliance, **kw})


ROWS = [dict(fab="memory", tc="etch", vendor="Tokyo_Electron", country="Japan",
             bill={"Japan": 0.75, "US": 0.15, "Germany": 0.05, "China": 0.05}),
        dict(fab="foreign_memory", tc="etch", vendor="Lam_Research", country="US", bill={"US": 0.75, "Japan": 0.25})]


def test_compliance_applies_once_per_flow_so_09_leaves_10_percent_of_parts():
    board = _Board([_State(_ctl(["servicing", "spare_parts"], {"vendor_countries": ["Japan"]}, 0.9))])
    s = flow_shares(board, ROWS)
    assert s["parts"][0] == pytest.approx(0.9), "0.9 on servicing and spare_parts leaves 10% of parts, not 1%"
    assert s["service"][0] == pytest.approx(0.9)
    assert s["parts"][1] == 0.0


def test_two_controls_on_the_same_flow_compound():
    c = _ctl(["spare_parts"], {"vendor_countries": ["Japan"]}, 0.5)
    s = flow_shares(_Board([_State(c), _State(c)]), ROWS)
    assert s["parts"][0] == pytest.approx(0.75)


def test_a_scopes_coverage_is_worked_out_once_and_the_shares_are_the_same(monkeypatch):
    """With ``seen``, each scope object's coverage of the cohorts is worked out once per flow, whatever the
    compliance or the board that holds it; another scope object is worked out afresh."""
    import simulator.engine.fab_origin as fo
    calls = []
    real = fo.coverage
    monkeypatch.setattr(fo, "coverage", lambda *a: calls.append(a[1]) or real(*a))
    scope = {"vendor_countries": ["Japan"], "content_origin": ["US"]}
    a, b = _ctl(["servicing", "spare_parts"], scope, 0.9), _ctl(["servicing", "spare_parts"], scope, 0.6)
    b = b.model_copy(update={"scope": a.scope})                    # two lanes' measures, one scope object
    seen: dict = {}
    for c in (a, b, a):
        want = flow_shares(_Board([_State(c)]), ROWS)
        got = flow_shares(_Board([_State(c)]), ROWS, seen=seen)
        assert {k: v.tolist() for k, v in got.items()} == {k: v.tolist() for k, v in want.items()}
    assert calls.count("parts") == 4 * len(ROWS)                  # 3 without seen, 1 with it
    other = _ctl(["spare_parts"], dict(scope), 0.9)
    assert other.scope is not a.scope
    flow_shares(_Board([_State(other)]), ROWS, seen=seen)
    assert calls.count("parts") == 5 * len(ROWS)


def test_servicing_and_spare_parts_at_09_equal_servicing_alone_in_the_engine():
    """Parts flow is stopped once: adding spare_parts to a servicing control at the same compliance changes
    nothing (before, the two compounded to 99%)."""
    w = fabs_world()
    out = []
    for measures in (["servicing", "spare_parts"], ["servicing"]):
        sc = scenario([control("Japan", measures, ["Japan"], "2025-02-01", "2025-03-01", ["coat_develop"],
                               compliance=0.9)], "1y")
        out.append(total_output(run_pair(sc, w)[1]))
    np.testing.assert_array_equal(out[0], out[1])


def test_content_origin_reaches_tools_over_the_share_and_parts_of_that_origin_below():
    fdpr = Scope.model_validate({"content_origin": ["US"], "min_share": 0.25})
    assert coverage(fdpr, "service", ROWS[0]) == 0.0          # Japanese tool with 15% US content: not reached
    assert coverage(fdpr, "parts", ROWS[0]) == pytest.approx(0.15)   # ... but its US-made parts are
    assert coverage(fdpr, "service", ROWS[1]) == 1.0
    low = Scope.model_validate({"content_origin": ["US"], "min_share": 0.1})
    assert coverage(low, "service", ROWS[0]) == 1.0
    both = Scope.model_validate({"vendor_countries": ["Netherlands"], "content_origin": ["US"]})
    assert coverage(both, "parts", ROWS[0]) == 0.0, "vendor country and content origin must both hold"


def test_origin_bill_by_tool_class_with_default_and_own_content_when_missing():
    bills = {"Netherlands": {"litho": {"Netherlands": 0.45, "US": 0.2, "Germany": 0.35},
                             "default": {"Netherlands": 1.0}}}
    assert origin_bill(bills, "Netherlands", "litho")["US"] == pytest.approx(0.2)
    assert origin_bill(bills, "Netherlands", "etch") == {"Netherlands": 1.0}
    assert origin_bill(bills, "Japan", "etch") == {"Japan": 1.0}


def test_fdpr_style_control_cuts_japanese_tracks_a_vendor_country_control_cannot():
    """TEL coat/develop tracks carry 15% US content (default bill): a US rule scoped by content origin reaches
    them, a US rule scoped by vendor country does not (no US vendor makes tracks in the data)."""
    w = fabs_world()
    loss = {}
    for name, scope in (("origin", {"content_origin": ["US"], "min_share": 0.1, "tool_classes": ["coat_develop"]}),
                        ("vendor", {"vendor_countries": ["US"], "tool_classes": ["coat_develop"]})):
        sc = scenario([{"id": "c", "by": "US", "measures": ["servicing", "spare_parts"], "scope": scope,
                        "announced": "2025-02-01", "effective": "2025-03-01"}], "2y")
        base, scen = run_pair(sc, w)
        loss[name] = float((total_output(base) - total_output(scen)).sum() / total_output(base).sum())
    assert loss["vendor"] == 0.0 and loss["origin"] > 0.01, loss


def test_operation_licence_keeps_foreign_fabs_running_but_blocks_expansion():
    """After validated end-user status ends, Samsung/SK hynix fabs get licences to operate, not to expand."""
    scope = {"vendor_countries": ["US", "Japan", "Netherlands"], "fab_classes": ["foreign_memory"]}
    res = {}
    for lic in ([], ["operation"]):
        sc = scenario([{"id": "veu", "by": "US", "measures": ["sales", "servicing", "spare_parts"], "scope": scope,
                        "announced": "2025-01-15", "effective": "2025-03-01", "licensed_for": lic}], "3y")
        base, scen = run_pair(sc, fabs_world())
        f = "fabs.foreign_memory"
        res[tuple(lic)] = (scen.get(f"{f}.etch.tools")[-1] / base.get(f"{f}.etch.tools")[-1],
                           scen.get(f"{f}.etch.availability")[-200:].mean()
                           / base.get(f"{f}.etch.availability")[-200:].mean(),
                           {fc: abs(scen.get(f"fabs.{fc}.wafer_output").sum()
                                    / base.get(f"fabs.{fc}.wafer_output").sum() - 1)
                            for fc in FABS if fc != "foreign_memory"})
    (tools_lic, avail_lic, other_lic), (_, avail_ban, _) = res[("operation",)], res[()]
    assert tools_lic < 0.999, "expansion stays blocked under an operation licence"
    assert avail_lic == pytest.approx(1.0, abs=0.003), "licensed operation keeps servicing and parts flowing"
    assert avail_ban < avail_lic - 0.01, "without the licence the servicing cut lowers availability"
    assert max(other_lic.values()) < 0.002, "a fab_classes scope leaves the other classes alone (but for noise)"


def test_scope_needs_vendor_countries_or_content_origin_and_min_share_needs_origin():
    with pytest.raises(ValidationError, match="vendor_countries' or 'content_origin"):
        Scope.model_validate({"tool_classes": ["etch"]})
    with pytest.raises(ValidationError, match="min_share"):
        Scope.model_validate({"vendor_countries": ["US"], "min_share": 0.25})
    with pytest.raises(ValidationError):
        _ctl(["servicing"], {"vendor_countries": ["US"]}, licensed_for=["upkeep"])
    assert Scope.model_validate({"vendor_countries": "Japan"}).vendor_countries == ["Japan"]

