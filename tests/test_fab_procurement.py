"""Specification of tool procurement (``simulator/engine/fab_procurement.py``): vendor split of new tools with a
rising domestic share that jumps under controls, servicing bans blocking installations, domestic replacements
where blocked, redundant tools bought with capex."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.fab_procurement import Procurement

from .test_fabs import control, day, fabs_world, run_pair, scenario

CFG = {"domestic_share_rise_per_y": 0.05, "domestic_share_max": 0.8, "domestic_jump_under_controls": 0.2,
       "redundant_tools_per_y": 0.0}
ROWS = [dict(g=0, vendor="Tokyo_Electron", sub=False, mix=0.6), dict(g=0, vendor="Lam_Research", sub=False, mix=0.2),
        dict(g=0, vendor="domestic", sub=False, mix=0.2), dict(g=0, vendor="domestic", sub=True, mix=0.0)]


def proc(**cfg) -> Procurement:
    return Procurement(ROWS, np.array([60.0, 20.0, 20.0, 0.0]), 1, np.array([0.1]), 60, 3650, dict(CFG, **cfg))


def test_new_tools_split_by_vendor_with_the_installed_domestic_share_at_start():
    p = proc()
    new = p.new_tools(0)
    assert new.sum() == pytest.approx(p.growth[0, 60])
    np.testing.assert_allclose(new / new.sum(), [0.6, 0.2, 0.2, 0.0])


def test_domestic_share_of_new_tools_rises_over_time_to_its_max():
    p = proc()
    assert p.domestic_share(365.25)[0] == pytest.approx(0.25)
    assert p.domestic_share(3650 * 5)[0] == pytest.approx(0.8)
    new = p.new_tools(1461)
    assert new[2] / new.sum() == pytest.approx(0.4)
    assert new[0] / new[1] == pytest.approx(3.0), "the foreign rest keeps the installed foreign mix"
    flat = proc(domestic_share_rise_per_y=0.0)
    assert flat.domestic_share(1461)[0] == pytest.approx(0.2)


def test_domestic_share_jumps_once_a_control_bites_in_the_group():
    p = proc()
    before = p.domestic_share(100)[0]
    p.set_controls(np.array([True, False, False, False]))
    assert p.domestic_share(100)[0] == pytest.approx(before + 0.2)
    p.set_controls(np.zeros(4, dtype=bool))
    assert p.domestic_share(100)[0] == pytest.approx(before + 0.2), "fabs that de-risked stay de-risked"


def test_servicing_ban_blocks_the_banned_vendors_installations():
    """Before, a servicing ban left new Japanese tools arriving; now the vendor no longer installs them."""
    sc = scenario([control("Japan", ["servicing"], ["Japan"], "2025-02-01", "2025-03-01", ["coat_develop"])], "2y")
    base, scen = run_pair(sc, fabs_world(retire_share=0.0, parts_wait_median_d=1.0))
    key = "fabs.mature_logic.coat_develop.tools"
    eff = day("2025-03-01")
    grow_b = base.get(key)[eff + 400] - base.get(key)[eff]
    grow_s = scen.get(key)[eff + 400] - scen.get(key)[eff]
    assert grow_s < 0.5 * grow_b, (grow_s, grow_b)


def test_blocked_tools_and_retirements_are_replaced_by_domestic_tools_after_their_lead_time():
    w = fabs_world()
    sc = scenario([control("Japan", ["sales", "servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01",
                           ["coat_develop"])], "3y")
    _, scen = run_pair(sc, w)
    key = "fabs.mature_logic.coat_develop.tools"
    t = scen.get(key)
    eff, lead = day("2025-03-01"), int(w["domestic"]["lead_time_d"])
    assert t[eff + lead + 60] > t[eff + lead - 10], "domestic substitutes arrive after the domestic lead time"
    no_sub = fabs_world()
    no_sub["tool_classes"]["coat_develop"]["domestic_substitution"] = 0.0
    no_sub["procurement"]["redundant_tools_per_y"] = 0.0
    _, none = run_pair(sc, no_sub)
    assert none.get(key)[-1] < t[-1]


def test_capex_buys_redundant_tools_while_servicing_is_cut():
    sc = scenario([control("Japan", ["servicing", "spare_parts"], ["Japan"], "2025-02-01", "2025-03-01",
                           ["clean"])], "3y")
    end = {}
    for r in (0.0, 0.15):
        _, scen = run_pair(sc, fabs_world(redundant_tools_per_y=r))
        end[r] = scen.get("fabs.mature_logic.clean.tools")[-1]
    assert end[0.15] > end[0.0] + 50, end
