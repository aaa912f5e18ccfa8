"""Trade edges under Chinese export measures (engine/market/trade.py): bans, quotas, licence queues, leakage,
origin of re-exports, item scopes and front-running. Runs on the tiny world of ``market_world.py``."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.engine.market.data import item_groups, load_market_data
from simulator.engine.market.trade import H_LICENCE, TradeRules
from simulator.scenario.errors import ScenarioError
from simulator.scenario.load import load_scenario

from .market_world import ANNOUNCED_DAY, EFFECTIVE_DAY, START, default_world, measure, run, run_tw

F0 = {"metal.China_to_Japan": 400 / 365.25, "metal.China_to_US": 300 / 365.25,
      "magnet.China_to_Japan": 300 / 365.25}
SETTLED = EFFECTIVE_DAY + 30        # goods shipped before the measure (≤ 20 days' transit) have arrived


def flow(rec, edge: str) -> np.ndarray:
    return rec.get(f"testium_{edge}.flow")


def test_ban_cuts_the_targeted_edge_to_zero_and_spares_the_others():
    base, s = run_tw([measure()])
    assert np.all(flow(s, "metal.China_to_Japan")[EFFECTIVE_DAY:] == 0.0)
    assert flow(s, "metal.China_to_Japan")[EFFECTIVE_DAY - 1] > 0.0
    assert np.all(flow(s, "metal.China_to_US")[EFFECTIVE_DAY:] > 0.5 * F0["metal.China_to_US"])
    assert np.all(flow(s, "magnet.China_to_Japan") > 0.5 * F0["magnet.China_to_Japan"])
    # blocked orders are re-ordered at once from Japan's other suppliers: Southeast Asia refines its own metal
    # and ships more; the US, whose metal is all Chinese, may not re-export it to a banned buyer
    first = slice(EFFECTIVE_DAY, EFFECTIVE_DAY + 10)
    alt, alt0 = flow(s, "metal.Southeast_Asia_to_Japan")[first].sum(), flow(base, "metal.Southeast_Asia_to_Japan")[first].sum()
    assert alt > 1.4 * alt0                      # up to its refinery's capacity
    assert np.all(flow(s, "metal.US_to_Japan")[SETTLED:] == 0.0)


def test_quota_caps_the_edge_at_its_share_of_the_baseline_flow():
    _, s = run_tw([measure(kind="quota", quota_share=0.4)])
    f = flow(s, "metal.China_to_Japan")[EFFECTIVE_DAY:]
    f0 = F0["metal.China_to_Japan"]
    assert np.all(f <= 0.4 * f0 * (1 + 1e-12))
    assert f.mean() > 0.39 * f0                      # a buyer short of stock orders up to the quota


def test_licensing_delays_exports_by_the_review_time_then_approves_a_share():
    lic = dict(kind="licensing", licence_delay="60d", licence_delay_sd="5d")
    _, half = run_tw([measure(approval_share=0.5, **lic)])
    _, full = run_tw([measure(approval_share=1.0, **lic)])
    f = flow(half, "metal.China_to_Japan")
    assert np.all(f[EFFECTIVE_DAY:EFFECTIVE_DAY + 45] == 0.0)          # nothing before the review ends
    assert f[EFFECTIVE_DAY + 75:].mean() > 0.2 * F0["metal.China_to_Japan"]   # approvals flow later
    assert [e.day for e in half.events if e.event == "licences_granted"][0] >= EFFECTIVE_DAY + 45
    late = slice(EFFECTIVE_DAY + 75, None)
    assert f[late].sum() < 0.8 * flow(full, "metal.China_to_Japan")[late].sum()      # refusals


@pytest.mark.parametrize("approval, resubmit", [(0.5, 0.0), (0.5, 0.6), (0.5, 1.0), (0.2, 0.8)])
def test_refused_applications_filed_again_raise_approvals_to_their_long_run_share(approval, resubmit):
    """One licensing edge, one tonne applied for a day, every review 30 days: a refused application filed again
    is decided 30 days later, so approvals rise review by review to ``a / (1 − (1 − a)·r)`` of the applications
    (all of them at r = 1, ``a`` without refiling). Only what is refused for good leaks."""
    days = 720
    tr = TradeRules(load_market_data(default_world(), dt.date.fromisoformat(START), days), days, 1,
                    lambda lane, e: np.zeros(days))
    e = int(tr.e_china[0])
    tr.kind[0, e], tr.approval[0, e], tr.resubmit[0, e], tr.leak[0, e], tr.active[0] = 1, approval, resubmit, 0.5, True
    tr.lic_edges[0] = np.array([e])
    tr.lic_qidx[0] = (((np.arange(days) + 30) % H_LICENCE) * tr.E + e)[None, :]
    approved, leaked = np.zeros(days), np.zeros(days)
    for day in range(days):
        req = np.zeros((1, tr.E))
        req[0, e] = 1.0
        _, leak = tr.apply(day, req, np.full(tr.restricted.shape, 1e9))
        approved[day], leaked[day] = tr.approved_today[0, e], leak[0, e]
    assert approved[:30].sum() == 0.0 and approved[30] == approval          # the first review
    long_run = approval / (1.0 - (1.0 - approval) * resubmit)
    assert approved[-100:].mean() == pytest.approx(long_run, rel=1e-3)      # q = (1 - a)·r per review left
    assert leaked[-100:].mean() == pytest.approx(0.5 * (1.0 - long_run), rel=1e-3, abs=1e-12)
    if resubmit > 0:                                                         # rising, review by review
        assert approved[30] < approved[60] < approved[90] <= long_run + 1e-12
    # a Chinese holder's export parity counts every review's approvals, each discounted over its waits
    tr.lic_mu[0, e], tr.lic_sigma[0, e] = np.log(100.0), 0.0
    disc = np.exp(-tr.d.per["parity_carry"][tr.d.e_m[e]] * 100.0 / 365.25)
    expected = sum(approval * ((1 - approval) * resubmit) ** k * disc ** (k + 1) for k in range(2000))
    assert tr.export_netback(0)[e] == pytest.approx(expected, rel=1e-9)


def _licensing_board(approval: float, resubmit: float = 0.0, delay: float = 30.0) -> SimpleNamespace:
    """A policy board with one licensing measure on every item for Japan (what ``TradeRules.refresh`` reads)."""
    spec = SimpleNamespace(kind="licensing", licence_delay=delay, licence_delay_sd=0.0, approval_share=approval,
                           resubmit_share=resubmit, leakage=0.0, quota_share=0.0)
    st = SimpleNamespace(spec=spec)
    return SimpleNamespace(countermeasures_on_item=lambda item, mineral, imp, pending=False:
                           [st] if imp == "Japan" and not pending else [])


def test_buyers_re_order_elsewhere_what_they_do_not_count_on_and_apply_for_no_more_than_their_use():
    """Japan's primary gallium from China under licensing (reviews of 30 days, a = 0.6, r = 0.5): before any
    decision buyers trust an application half (one day's flow of evidence each way) and re-order the other half at once
    on Japan's other edges; once decisions come, their trust is the approved share of what was decided for good,
    ``a / (1 − (1 − a)·r)``, and the share re-ordered elsewhere falls to ``1 − trust``. An application is at most
    the edge's share of Japan's use: the rest of an order goes elsewhere whole. New terms reset the trust."""
    days = 400
    d = load_market_data(default_world(), dt.date.fromisoformat(START), days)
    tr = TradeRules(d, days, 1, lambda lane, e: np.zeros(days))
    tr.refresh(0, _licensing_board(0.6, 0.5))
    e = int(np.flatnonzero(np.array(d.e_names) == "gallium_primary.China_to_Japan")[0])
    alt = np.flatnonzero((d.e_m == d.e_m[e]) & (d.e_i == d.e_i[e]) & (d.e_x != d.e_x[e]) & (tr.alt_w > 0))
    assert alt.size and tr.trust[0, e] == 0.5
    use = np.full(tr.restricted.shape, 1e9)                    # applications below the importer's use
    f0 = d.e_flow0[e]
    unit = 0.2 * f0                                            # no edge reaches its cap

    def day_(day: int, order: float, demand: np.ndarray = use) -> np.ndarray:
        req = np.zeros((1, tr.E))
        req[0, e] = order
        return tr.apply(day, req, demand)[0][0]

    ship = day_(0, unit)
    assert ship[alt] == pytest.approx(tr.alt_w[alt] * 0.5 * unit, rel=1e-12)      # half re-ordered at once
    for day in range(1, days - 1):
        day_(day, unit)
    long_run = 0.6 / (1.0 - 0.4 * 0.5)
    ok, no = tr.seen_ok[0, e] - f0, tr.seen_no[0, e] - f0     # what was decided, beside the prior
    assert ok / (ok + no) == pytest.approx(long_run, rel=2e-3) and ok > 40 * f0
    assert tr.trust[0, e] == pytest.approx(long_run, rel=2e-2)
    trust = tr.trust[0, e]                                     # (today's decisions move it after the orders)
    ship = day_(days - 1, unit)
    assert ship[alt] == pytest.approx(tr.alt_w[alt] * (1.0 - trust) * unit, rel=1e-9)
    # an order above the edge's share of Japan's use: the application is that share, the rest goes elsewhere
    tr2 = TradeRules(d, days, 1, lambda lane, e: np.zeros(days))
    tr2.refresh(0, _licensing_board(0.6, 0.5))
    tr, small = tr2, use * 0.0
    i_m, i_r = d.e_m[e], d.e_i[e]
    small[0, i_m, i_r] = 0.25 * unit / tr.share[e]             # the edge's share of it: a quarter of the order
    ship = day_(0, unit, small)
    assert tr.pending[0, e] == pytest.approx(0.25 * unit, rel=1e-12)
    assert ship[alt] == pytest.approx(tr.alt_w[alt] * (0.75 + 0.25 * 0.5) * unit, rel=1e-9)
    # new terms: what buyers saw no longer tells
    tr.trust[0, e] = 0.9
    tr.refresh(0, _licensing_board(0.6, 0.5))
    assert tr.trust[0, e] == 0.9                               # the same terms: kept
    tr.refresh(0, _licensing_board(0.3, 0.5))
    assert tr.trust[0, e] == 0.5


def test_buyers_hold_the_pipeline_a_licence_wait_needs_on_top_of_their_stock():
    """Every application approved after a 60-day review: once decisions flow, Japan's buyers count their pending
    licences against the pipeline such a wait needs, so their stock returns to its target (raised by
    front-running) instead of being run down by the licences on the way."""
    lic = dict(kind="licensing", licence_delay="60d", licence_delay_sd="5d", approval_share=1.0)
    base, s = run_tw([measure(**lic)], horizon="2y")
    stock, stock0 = s.get("testium_metal.Japan.industry_stock"), base.get("testium_metal.Japan.industry_stock")
    late = slice(500, None)
    assert stock[late].mean() > 0.97 * stock0[late].mean()


def test_a_measure_that_ends_restores_the_flow():
    _, s = run_tw([measure(ends="2026-06-01")])                    # day 151
    f = flow(s, "metal.China_to_Japan")
    assert f[140:151].max() == 0.0
    assert f[151] > 0.0 and f[152:172].mean() > F0["metal.China_to_Japan"]      # restocking after the ban


def test_a_ban_without_leakage_leaves_the_target_no_chinese_origin_material():
    """Japan's metal comes from China directly, from Southeast Asia's own refinery and from US re-exports of
    Chinese metal. Under a ban with no leakage, no Chinese-origin metal reaches Japan once goods in transit have
    arrived: not directly, not through the US, not on the spot market."""
    _, tight = run_tw([measure(leakage=0.0)])
    _, leaky = run_tw([measure(leakage=0.2)])
    cn = tight.get("testium_metal.Japan.imports_chinese_origin")
    assert cn[:EFFECTIVE_DAY].min() > 0.0
    assert np.all(cn[SETTLED:] == 0.0)
    assert tight.get("testium_metal.Japan.imports")[SETTLED:].sum() > 0.0     # non-Chinese metal still comes
    assert np.all(tight.get("testium_metal.China_to_Japan.leakage") == 0.0)
    # the leakage share of blocked orders arrives from China through third countries
    assert leaky.get("testium_metal.China_to_Japan.leakage")[EFFECTIVE_DAY:].sum() > 0.0
    assert leaky.get("testium_metal.Japan.imports_chinese_origin")[SETTLED:].sum() > 0.0
    assert leaky.get("testium_metal.Japan.unmet_demand").sum() < tight.get("testium_metal.Japan.unmet_demand").sum()


def test_a_region_supplied_only_by_china_re_exports_nothing_to_a_banned_buyer():
    base, s = run_tw([measure(leakage=0.0)])
    us = flow(s, "metal.US_to_Japan")
    assert np.all(us[EFFECTIVE_DAY:] <= 1e-12)


def test_items_scope_narrows_a_measure_to_named_stages():
    _, mag = run_tw([measure(items=["testium_magnet"])])
    assert np.all(flow(mag, "magnet.China_to_Japan")[EFFECTIVE_DAY:] == 0.0)
    assert np.all(flow(mag, "metal.China_to_Japan") > 0.5 * F0["metal.China_to_Japan"])
    _, one = run_tw([measure(mineral="testium_magnet", items=None)])      # an item named as the mineral
    assert np.array_equal(flow(one, "magnet.China_to_Japan"), flow(mag, "magnet.China_to_Japan"))
    assert np.all(flow(one, "metal.China_to_Japan") > 0.0)
    _, every = run_tw([measure(items=None)])                              # the mineral covers all its stages
    for edge in ("magnet.China_to_Japan", "metal.China_to_Japan"):
        assert np.all(flow(every, edge)[EFFECTIVE_DAY:] == 0.0), edge
    assert np.all(flow(every, "metal.China_to_US") > 0.0)


def test_an_unknown_item_in_items_is_a_located_error(write_yaml):
    p = write_yaml("name: t\nstart: 2025-01-01\nhorizon: 1y\ncountermeasures:\n  - id: cn\n    mineral: gallium\n"
                   "    items: [gallium_refind]\n    against: [Japan]\n    kind: ban\n    effective: 2025-02-01\n")
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p)
    line = str(ei.value)
    assert "\n" not in line
    assert line.startswith(f"{p}:7:13: countermeasures[0].items[0]: unknown item 'gallium_refind'"), line
    assert "did you mean 'gallium_refined'" in line


def _japan_totals(rec, item: str) -> tuple[float, float]:
    return rec.get(f"{item}.Japan.consumption").sum(), rec.get(f"{item}.Japan.unmet_demand").sum()


def test_a_ban_never_supplies_the_target_better_than_licensing_of_the_same_scope_tiny_world():
    for leakage in (0.0, 0.2):
        _, ban = run_tw([measure(items=None, leakage=leakage)])
        _, lic = run_tw([measure(items=None, leakage=leakage, kind="licensing")])
        for item in ("testium_metal", "testium_magnet"):
            cb, ub = _japan_totals(ban, item)
            cl, ul = _japan_totals(lic, item)
            assert cb <= cl * (1 + 1e-9) and ub >= ul * (1 - 1e-9) - 1e-12, (item, leakage, cb, cl, ub, ul)
        cb, _ = _japan_totals(ban, "testium_metal")
        cl, _ = _japan_totals(lic, "testium_metal")
        assert cb < cl * (1 - 1e-3)          # and the difference is visible: licensing lets approvals through


def test_a_ban_never_supplies_the_target_better_than_licensing_on_the_default_world():
    w = default_world("minerals", "components")
    groups = item_groups(w)
    names = sorted(groups)
    _, ban = run(w, [measure(mineral=names, items=None)], "1y")
    _, lic = run(w, [measure(mineral=names, items=None, kind="licensing")], "1y")
    checked = 0
    for items in groups.values():
        for item in items:
            if not ban.has(f"{item}.Japan.consumption"):
                continue
            # "supplied" = the share of demand served: consumption alone also moves with demand, which reacts
            # to the price (a ban on everyone can leave an item cheaper ex-China than licensing does)
            cb, ub = _japan_totals(ban, item)
            cl, ul = _japan_totals(lic, item)
            assert ub >= ul * (1 - 1e-9) - 1e-12, (item, ub, ul)
            assert cb / (cb + ub) <= cl / (cl + ul) * (1 + 1e-9) if cb + ub > 0 and cl + ul > 0 else True, item
            checked += 1
    assert checked >= 3


def test_front_running_scales_with_the_expected_gap():
    """Between announcement and effect, Japan raises its target cover by a share of the licence wait it expects:
    a longer wait raises Chinese exports to Japan more; nothing changes before the announcement."""
    base, _ = run_tw([])
    x0 = flow(base, "metal.China_to_Japan")
    window = slice(ANNOUNCED_DAY + 1, EFFECTIVE_DAY)
    surge = {}
    for delay in ("40d", "120d"):
        _, s = run_tw([measure(kind="licensing", licence_delay=delay)])
        x = flow(s, "metal.China_to_Japan")
        assert np.array_equal(x[:ANNOUNCED_DAY], x0[:ANNOUNCED_DAY])
        surge[delay] = x[window].sum() / x0[window].sum()
    assert 1.05 < surge["40d"] < surge["120d"], surge
    _, off = run_tw([measure(kind="licensing", licence_delay="120d")],
                    {"minerals.common.stocks.front_running_share": 0.0})
    assert flow(off, "metal.China_to_Japan")[window].sum() == pytest.approx(x0[window].sum(), rel=1e-9)



@pytest.mark.parametrize("edge_days, ok", [(200.0, True), (270.0, False)])
def test_a_transport_longer_than_the_transit_rings_hold_is_refused(edge_days, ok):
    """The transit rings hold delays up to ``H_TRANSIT`` − 1 days, and every delay written to them is checked
    against that bound: an edge's transport too, not only the leakage and spot delays (here a leakage delay that
    shortens leaked flows' transit leaves transport the longest), so a longer one is refused instead of wrapping
    round the ring."""
    from .market_world import world
    w = world(industries=False)
    w["minerals"]["common"]["trade"]["leakage_delay_days"] = -40.0
    w["minerals"]["testium_ore"]["edges"]["Africa_to_China"]["transport_days"] = edge_days
    if ok:
        run(w, [], horizon="30d")
    else:
        with pytest.raises(ValueError, match="transport, leakage and spot delays must be < 256 days"):
            run(w, [], horizon="30d")


def test_no_edge_carries_more_than_its_cap_so_a_ban_on_one_importer_is_not_deflected_whole():
    """A Chinese magnet ban on the US alone: the US re-orders from Japan, whose magnet makers would ship it all
    and buy Chinese magnets for their own users. An edge carries at most ``edge_cap_multiple`` × its baseline flow
    a day (restored 2026-12-07: the staged markets had dropped it, and the ban left the US's users unharmed with
    their cover rising to 130 days)."""
    w = default_world()
    ban = [{"id": "magnets_us", "against": ["US"], "mineral": "rare_earths", "items": ["ndfeb_magnets"],
            "kind": "ban", "effective": "2026-02-01"}]
    base, s = run(w, ban, "1y")
    cap = w["minerals"]["common"]["trade"]["edge_cap_multiple"]
    japan_us, japan_us0 = s.get("ndfeb_magnets.Japan_to_US.flow"), base.get("ndfeb_magnets.Japan_to_US.flow")
    assert np.allclose(japan_us0, japan_us0[0])                                    # the no-policy flow, a day
    assert japan_us.max() == pytest.approx(cap * japan_us0[0], rel=1e-9)            # the cap binds
    assert japan_us[SETTLED:].mean() > 2.0 * japan_us0[0]
    assert s.get("ndfeb_magnets.US.unmet_demand")[EFFECTIVE_DAY:].sum() > 0.0
    assert s.get("ndfeb_magnets.US.days_of_cover")[-1] < 0.5 * base.get("ndfeb_magnets.US.days_of_cover")[-1]
    w["minerals"]["common"]["trade"]["edge_cap_multiple"] = 1e9                    # no cap: deflected whole
    _, free = run(w, ban, "1y")
    assert free.get("ndfeb_magnets.US.unmet_demand").sum() == 0.0
