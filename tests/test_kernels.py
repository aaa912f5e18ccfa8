"""Compiled loops give the numbers of the numpy code they replace, bit for bit (see simulator.engine.kernels)."""
import numpy as np
import pytest

from simulator.engine import kernels
from simulator.engine.market.stocks import HolderGroups, sourcing_classes

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba not installed")


@needs_numba
@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 64, 128])
def test_pairwise_sum_is_numpys_sum(n):
    rng = np.random.default_rng(n)
    rows = rng.standard_normal((200, n)) * 10.0 ** rng.integers(-8, 8, (200, n))
    fn = kernels.compiled("pairwise_sum")
    got = np.array([fn(r, 0, n) for r in rows])
    assert np.array_equal(got, rows.sum(axis=-1))
    naive = np.array([sum(r.tolist()) for r in rows])          # a plain left-to-right sum differs somewhere
    assert n < 8 or not np.array_equal(naive, got)


def _holders(rng, lanes, I=5, R=4, K=8):
    cover = np.sort(rng.uniform(5, 120, (I, R, K)), axis=2)
    share = rng.uniform(0, 1, (I, R))
    share[0, 0] = 0.0
    w, c, cov = sourcing_classes(cover, share, rng.uniform(0, 1, I))
    demand = rng.uniform(0, 10, (lanes, I, R))
    demand[:, 1, 2] = 0.0                                       # a cell without users
    S = w * cov * demand.mean(axis=0)[:, :, None] * rng.uniform(0, 1.5, (lanes, I, R, 2 * K))
    S[:, 2, 1] = -0.0                                           # a cell run dry (a signed zero, as numpy can make)
    flows = [rng.uniform(0, hi, (lanes, I, R)) * (rng.random((lanes, I, R)) > 0.2) for hi in (10, 10, 400)]
    return HolderGroups(w, c), S, demand, flows


@needs_numba
@pytest.mark.parametrize("lanes", [1, 3])
def test_holder_day_matches_numpy(lanes):
    rng = np.random.default_rng(lanes)
    hg, S, demand, (cn_in, nc_in, outflow) = _holders(rng, lanes)
    ncc = rng.uniform(0, 8, demand.shape[1:])
    cnc = rng.uniform(0, 8, demand.shape[1:])                   # Chinese arrivals above and below their contract
    target = rng.uniform(10, 90, demand.shape)
    restock = rng.uniform(10, 60, (demand.shape[1], 1))
    S1, S2 = S.copy(), S.copy()
    a = hg._consume_numpy(S1, S.sum(axis=-1), cn_in, nc_in, ncc, cnc, outflow, demand, target, restock)
    b = hg._consume_compiled(S2, S.sum(axis=-1), cn_in, nc_in, ncc, cnc, outflow, demand, target, restock)
    assert _same_bits(S1, S2)
    assert len(a) == len(b) == 3 and all(_same_bits(x, y) for x, y in zip(a, b))
    assert (a[1] > 0).any() and (a[1] < 1).any()                # some groups short, not all


def _generators(seed, lanes):
    return [np.random.default_rng([seed, lane]) for lane in range(lanes)]


def _same_streams(a, b):
    """The generators stand at the same place of their streams (the same numbers consumed)."""
    return all(np.array_equal(x.random(4), y.random(4)) for x, y in zip(a, b))


@needs_numba
def test_lanes_poisson_draws_numpys_numbers():
    """Every branch of numpy's Poisson (0, multiplied uniforms below 10, PTRS from 10, where numba's own
    ``Generator.poisson`` draws other numbers), enough draws near 10 for PTRS's rare rejections."""
    rng = np.random.default_rng(1)
    lam = np.concatenate([rng.choice([0.0, 1e-9, 0.4, 9.999, 10.0, 381.0, 1e5], (3, 200)),
                          rng.uniform(0, 12, (3, 5000)), rng.uniform(10, 11, (3, 20000))], axis=1)
    a, b = _generators(2, 3), _generators(2, 3)
    out = np.empty(lam.shape, dtype=np.int64)
    key, consts = np.full(lam.shape, np.nan), np.zeros(lam.shape + (6,))
    draw = kernels.compiled("lanes_poisson")
    gens = kernels.generator_list(a)
    draw(gens, lam, out, key, consts, kernels.poisson_loggam())
    assert np.array_equal(out, [g.poisson(x) for g, x in zip(b, lam)])
    assert _same_streams(a, b)
    # the next days: the constants kept for most means, computed again where the mean changed (a cohort's mean
    # crossing the PTRS threshold either way, too)
    for day in range(3):
        changed = rng.random(lam.shape) < 0.3
        lam = np.where(changed, np.where(lam >= 10, lam * 0.7, lam * 1.6 + 0.5), lam)
        draw(gens, lam, out, key, consts, kernels.poisson_loggam())
        assert np.array_equal(out, [g.poisson(x) for g, x in zip(b, lam)])
    assert _same_streams(a, b)
    # beyond the log-gamma table: numpy's computation
    big = np.full((3, 50), float(kernels.LOGGAM_TABLE) - 20.0)
    out = np.empty(big.shape, dtype=np.int64)
    draw(gens, big, out, np.full(big.shape, np.nan), np.zeros(big.shape + (6,)), kernels.poisson_loggam())
    assert np.array_equal(out, [g.poisson(x) for g, x in zip(b, big)])


@needs_numba
def test_lanes_binomial_draws_numpys_numbers_where_p_is_positive():
    rng = np.random.default_rng(3)
    n = rng.choice([0, 1, 3, 40, 1000, 10 ** 6], (3, 3000))
    p = rng.choice([0.0, 1e-12, 0.2, 0.5, 0.75, 1.0], (3, 3000))
    a, b = _generators(4, 3), _generators(4, 3)
    out = np.full(n.shape, -1.0)
    kernels.compiled("lanes_binomial")(kernels.generator_list(a), n, p, out)
    for lane, g in enumerate(b):
        at = np.flatnonzero(p[lane] > 0)
        assert np.array_equal(out[lane, at], g.binomial(n[lane, at], p[lane, at]))
        assert (out[lane, p[lane] == 0] == -1).all()             # untouched where p is 0
    assert _same_streams(a, b)


@needs_numba
def test_lanes_gamma_draws_numpys_numbers_up_to_each_lanes_width():
    rng = np.random.default_rng(5)
    # whole shapes from the table (2 on), and past it; shapes below 1, between 1 and 2, and between two whole
    # numbers, which numpy's draw takes through other branches or constants computed for the draw
    big = float(kernels.GAMMA_TABLE)
    shape = rng.choice([0.0, 0.3, 1.0, 1.5, 2.0, 3.0, 7.0, 7.5, 250.0, big - 1, big, big + 5], (4, 3000))
    scale = rng.choice([0.0, 0.02, 1.5], (4, 3000))
    width = np.array([3000, 1500, 0, 2999])
    a, b = _generators(6, 4), _generators(6, 4)
    out = np.full(shape.shape, -1.0)
    kernels.compiled("lanes_gamma")(kernels.generator_list(a), shape, scale, width, out, kernels.gamma_constants())
    for lane, (g, w) in enumerate(zip(b, width)):
        assert np.array_equal(out[lane, :w], g.gamma(shape[lane, :w], scale[lane, :w]))
        assert (out[lane, w:] == -1).all()
    assert _same_streams(a, b)


def _lane_rows(rng, lanes: int, rows: int) -> np.ndarray:
    """Bounds of each lane's rows (lanes in order, some with none)."""
    return np.searchsorted(np.sort(rng.integers(0, lanes, rows)), np.arange(lanes + 1))


@needs_numba
@pytest.mark.parametrize("shared", [False, True])
def test_lanes_multinomial_draws_numpys_numbers(shared):
    """Each lane's rows as ``gen.multinomial(n, pvals)`` would draw them: small and large counts (numpy's
    inversion and BTPE binomials), zero counts and zero shares (no draw), one pvals row per row or one shared
    vector (a broadcast view)."""
    rng = np.random.default_rng(7)
    lanes, rows, d = 5, 4000, 4
    bounds = _lane_rows(rng, lanes, rows)
    n = rng.choice([0, 1, 3, 25, 400, 10 ** 5], rows)
    pvals = rng.random((rows, d)) ** 3
    pvals[rng.random(rows) < 0.2, 1] = 0.0
    pvals /= pvals.sum(axis=1, keepdims=True)
    if shared:
        pvals = np.broadcast_to(pvals[0], (rows, d))
    a, b = _generators(8, lanes), _generators(8, lanes)
    out = np.full((rows, d), -1, dtype=np.int64)
    kernels.compiled("lanes_multinomial")(kernels.generator_list(a), n, pvals, bounds, out)
    for lane, g in enumerate(b):
        lo, hi = bounds[lane], bounds[lane + 1]
        assert np.array_equal(out[lo:hi], g.multinomial(n[lo:hi], pvals[lo:hi]))
    assert _same_streams(a, b)


@needs_numba
def test_lanes_binomial_rows_draw_numpys_numbers():
    rng = np.random.default_rng(9)
    lanes, rows = 6, 5000
    bounds = _lane_rows(rng, lanes, rows)
    n = rng.choice([0, 1, 3, 40, 1000, 10 ** 6], rows)
    p = rng.choice([0.0, 1e-12, 0.2, 0.5, 0.75, 1.0], rows)
    a, b = _generators(10, lanes), _generators(10, lanes)
    out = np.full(rows, -1, dtype=np.int64)
    kernels.compiled("lanes_binomial_rows")(kernels.generator_list(a), n, p, bounds, out)
    for lane, g in enumerate(b):
        lo, hi = bounds[lane], bounds[lane + 1]
        assert np.array_equal(out[lo:hi], g.binomial(n[lo:hi], p[lo:hi]))
    assert _same_streams(a, b)


# ----- a day of the mineral markets: each compiled section against its numpy twin --------------------------------
import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

from simulator.engine import world as W  # noqa: E402
from simulator.engine.market.data import CHINA  # noqa: E402
from simulator.engine.market.markets import MineralMarkets  # noqa: E402
from simulator.engine.shared_lanes import SharedBaselines  # noqa: E402
from simulator.engine.streams import replication_seeds  # noqa: E402
from simulator.scenario.load import load_scenario  # noqa: E402

HEADLINE = str(Path(__file__).resolve().parents[1] / "scenarios" / "japan_servicing_ban.yaml")


def _headline_batch(reps, horizon, compiled, monkeypatch):
    """The headline scenario's batch of ``reps`` replications (scenario and baseline lanes), run to its horizon
    with the markets' compiled sections on or off; returns the lanes and the markets."""
    monkeypatch.setattr(kernels, "worth_compiling", lambda *a, **k: compiled)
    loaded = load_scenario(HEADLINE, [f"replications={reps}", f"horizon={horizon}"])
    seeds = replication_seeds(loaded.scenario.seed, reps)
    specs = []
    for i in range(reps):
        specs.append(W.LaneSpec(i, seeds[i], True))
        specs.append(W.LaneSpec(i, seeds[i], False, len(specs) - 1))
    lanes, mechs = W.build_lanes(loaded.scenario, loaded.world.values, specs)
    W.run_lanes(lanes, mechs)
    mm = next(m for m in mechs if isinstance(m, (MineralMarkets, SharedBaselines)))
    return lanes, mm.main if isinstance(mm, SharedBaselines) else mm   # the markets stepping the lanes


@pytest.fixture(scope="module")
def markets():
    """Markets of 4 lanes of the headline after 120 days (a servicing ban in force, stocks drawn down): 3
    replications' scenario lanes and the baseline lane they share (``engine.shared_lanes``)."""
    mp = pytest.MonkeyPatch()
    try:
        yield _headline_batch(3, "120d", True, mp)[1]
    finally:
        mp.undo()


def _state(mm):
    return {k: v.copy() for k, v in vars(mm).items() if isinstance(v, np.ndarray) and not k.startswith("_scratch")}


def _same_bits(a, b) -> bool:
    """The same shape and bytes (``array_equal`` takes -0.0 for 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.ascontiguousarray(a).tobytes() == \
        np.ascontiguousarray(b).tobytes()


def _twins(mm, section, args):
    """Run ``_<section>_numpy`` and ``_<section>_compiled`` from the same state on copies of ``args``; assert
    that every array of the markets and every argument comes out with the same bits."""
    before = _state(mm)
    outs = []
    for kind in ("numpy", "compiled"):
        for k, v in before.items():
            setattr(mm, k, v.copy())
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        ret = getattr(mm, f"_{section}_{kind}")(*a)
        outs.append((_state(mm), a, ret))
    (s1, a1, r1), (s2, a2, r2) = outs
    for k in s1:
        assert _same_bits(s1[k], s2[k]), k
    for x, y in zip(a1, a2):
        assert not isinstance(x, np.ndarray) or _same_bits(x, y)
    if r1 is not None:
        for x, y in zip(r1, r2):
            assert _same_bits(x, y)
    for k, v in before.items():
        setattr(mm, k, v)
    return s1


def _cells(rng, shape, hi=10.0):
    """Random flows with zeros (some -0.0), exact ties and tiny values."""
    x = rng.uniform(0, hi, shape)
    x[rng.random(shape) < 0.2] = 0.0
    x[rng.random(shape) < 0.1] = hi / 2
    x[rng.random(shape) < 0.05] = 1e-300
    x[rng.random(shape) < 0.05] = -0.0
    return x


@needs_numba
@pytest.mark.parametrize("seed", range(4))
def test_market_ship_matches_numpy(markets, seed):
    mm = markets
    rng = np.random.default_rng(seed)
    n, I, R, E = mm.n, mm.I, mm.R, mm.E
    mm.Stot = _cells(rng, (n, I, R), 50)
    mm.Scn = mm.Stot * rng.choice([0.0, 0.3, 1.0, 1.0 - 1e-12, 1.2], (n, I, R))
    mm.restricted = rng.random((n, I, R)) < 0.4
    ship, leak = _cells(rng, (n, E), 3), _cells(rng, (n, E), 1) * (seed % 2)
    dem, prod, imp = _cells(rng, (n, I, R)), _cells(rng, (n, I, R)), _cells(rng, (n, I, R))
    s = _twins(mm, "ship", [7 + seed * 100, dem, prod, imp, ship, leak])
    assert (s["cn_share"] == 1.0).any() and (s["avail"] == 0).any()


@needs_numba
@pytest.mark.parametrize("seed", range(4))
def test_market_stocks_match_numpy(markets, seed):
    mm = markets
    rng = np.random.default_rng(10 + seed)
    n, I, R = mm.n, mm.I, mm.R
    cells = (n, I, R)
    demand = _cells(rng, cells)
    demand[:, 0] = 0.0                                          # an item without users
    demand[:, 1, :] = np.where(np.arange(R) == 0, 0.0, demand[:, 1, :])
    consumption = np.where(rng.random(cells) < 0.5, demand, demand * rng.uniform(0, 1, cells))
    mm.Stot, mm.Scn, mm.G = _cells(rng, cells, 50), _cells(rng, cells, 30), _cells(rng, cells, 20)
    mm.exports_cn = _cells(rng, cells, 3)
    mm.T = rng.uniform(0, 90, cells)
    mm.parity = rng.choice([0.0, 0.5, 0.9, 1.0], (n, I))
    mm.P = rng.uniform(0.5, 3, (n, 2, I))
    S_new = _cells(rng, cells, 50)
    ref = rng.uniform(0.5, 2, (2, I))
    buy, imports_cn = _cells(rng, cells, 1), _cells(rng, cells, 5)
    mm.Scn[:, 2, 3] = imports_cn[:, 2, 3] = -0.0                # origin stock −0.0: clip's lower bound gives +0.0
    base = _cells(rng, cells, 80)
    mm.exports_cn[:, 2, 3] = consumption[:, 2, 3] = buy[:, 2, 3] = base[:, 2, 3] = 0.0
    S_new[:, 2, 3] = 5.0
    s = _twins(mm, "stocks", [S_new, buy, _cells(rng, cells, 1), imports_cn, base, consumption,
                              demand, np.maximum(demand, 1e-300), _cells(rng, cells), ref])
    assert (s["cov"] == 1.0).any() and (s["unmet"] == 0.0).any() and (s["unmet"] > 0).any()


@needs_numba
@pytest.mark.parametrize("seed", range(4))
def test_market_supply_matches_numpy(markets, seed):
    mm = markets
    rng = np.random.default_rng(20 + seed)
    n, I, R, E = mm.n, mm.I, mm.R, mm.E
    cells = (n, I, R)
    slot = (3 + 60 * seed) % mm.H      # a row of the transit rings (as long as the longest delay + 1)
    mm.transit[slot] = _cells(rng, (n, E), 2)
    mm.transit_cn[slot] = mm.transit[slot] * rng.choice([0.0, 0.5, 1.0], (n, E))
    mm.spot[slot] = _cells(rng, cells, 1) * (seed % 2)
    mm.spot_cn[slot] = mm.spot[slot] * rng.choice([0.0, 1.0], cells)
    mm.in_transit, mm.spot_pipe = _cells(rng, (n, E), 30), _cells(rng, cells, 3)
    ratio = rng.choice([0.5, 0.8, 1.0, 1.3, 2.5], (n, 2, I)) * rng.choice([1.0, 1.01], (n, 2, I))
    rel = np.repeat(ratio[:, 1, :, None], R, axis=2)
    rel[:, :, CHINA] = ratio[:, 0]
    mm.L, mm.sigma = rng.uniform(0.5, 1.5, cells), rng.uniform(0, 0.3, mm.sigma.shape)
    mm.extra, mm.cap_now = _cells(rng, cells, 2), _cells(rng, cells, 5)
    mm.follow_own, mm.follow_base = rng.uniform(0, 2, mm.follow_own.shape), _cells(rng, mm.follow_base.shape, 2)
    mm.follow_on = mm.follow_base > 0
    mm.restricted_item = rng.random((n, I)) < 0.5
    mm.Q = _cells(rng, cells, 5)
    mm.served = rng.choice([0.0, 0.3, 0.9, 1.0], cells)
    mm.Stot, mm.G = _cells(rng, cells, 50), _cells(rng, cells, 20)
    mm.releasing = rng.random(cells) < 0.3
    mm.short_prev = rng.choice([0.0, 0.0, 0.05, 0.5], cells)
    mm.x_prev = _cells(rng, cells, 3)
    d0, s0 = mm.d, (mm._s_from, mm._s_to, mm.sigma)
    # substitution pairs (no world has any yet): 0 → 1, 2 → 1, then 1 → 3 after both
    mm.d = dataclasses.replace(d0, s_from=np.array([0, 2, 1]), s_to=np.array([1, 1, 3]),
                               s_max=np.array([0.3, 0.5, 0.2]), s_full_ratio=np.array([2.0, 1.5, 3.0]),
                               s_days=np.array([60.0, 30.0, 90.0]))
    mm._s_from, mm._s_to, mm.sigma = mm.d.s_from, mm.d.s_to, rng.uniform(0, 0.3, (n, 3, R))
    try:
        s = _twins(mm, "supply", [slot, ratio, rel, rel ** mm.el_d, rel ** mm.el_s, rel ** mm.supply_el])
    finally:
        mm.d, (mm._s_from, mm._s_to, mm.sigma) = d0, s0
    assert (s["release"] > 0).any() and (s["release"] == 0).any() and (s["allow"] < 1).any()
    assert len(mm.d.f_down) and len(mm.follow) and s["follow_on"].any() and not s["follow_on"].all()


@needs_numba
@pytest.mark.parametrize("seed", range(6))
def test_market_spot_matches_numpy(markets, seed):
    """Lanes with buyers and sellers, a lane without sellers, a closed lane; every lane closed (seed 5)."""
    mm = markets
    rng = np.random.default_rng(30 + seed)
    n, I, R, E = mm.n, mm.I, mm.R, mm.E
    cells = (n, I, R)
    mm.spot_on = np.resize([True, seed % 2 == 0, True], n) & (seed != 5)
    demand = _cells(rng, cells, 5)
    mm.avail, mm.exports = _cells(rng, cells, 40), _cells(rng, cells, 30)
    mm.avail[1 % n] = 0.0                                       # a lane with nothing to sell
    mm.cn_share = rng.choice([0.0, 0.4, 1.0], cells)
    mm.restricted = rng.random(cells) < 0.4
    mm.exports_cn = mm.exports * mm.cn_share
    mm.spot_pipe = _cells(rng, cells, 2)
    p_spot = rng.choice([0.3, 0.8, 1.0, 1.7], cells)
    s = _twins(mm, "spot", [11 + 50 * seed, p_spot, demand, _cells(rng, cells, 60), _cells(rng, cells, 20),
                            _cells(rng, cells, 4) - 2.0, _cells(rng, (n, E), 1)])
    assert seed == 5 or (s["spot_out"] > 0).any()


@needs_numba
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_trade_rules_kernel_matches_numpy(markets, seed):
    """Every edge kind (free, licensing, quota, ban) in random mixes per lane, a lane with no measure but a live
    licence queue, decisions due and not, zero orders: five days of ``TradeRules.apply``, compiled and numpy,
    give the same bits in shipments, leaks and the queue's state."""
    import copy

    from simulator.engine.market.trade import H_LICENCE
    rng = np.random.default_rng(seed)
    tr = copy.deepcopy(markets.trade)
    n, E = tr.n, tr.E
    tr.kind[:] = rng.choice([0, 1, 2, 3], (n, E), p=[0.4, 0.2, 0.2, 0.2])
    tr.kind[n - 2:] = 0                                 # no measure in force ...
    tr.active[:] = tr.kind.any(axis=1)
    tr.quota_cap[:] = rng.uniform(0, 5, (n, E))
    tr.leak[:] = rng.choice([0.0, 0.1, 0.3], (n, E))
    tr.approval[:] = rng.choice([0.0, 0.5, 1.0], (n, E))
    tr.resubmit[:] = np.where(tr.kind == 1, rng.choice([0.0, 0.5, 1.0], (n, E)), 0.0)   # refusals filed again
    days = np.arange(tr.days)
    for k in range(n):
        lic = tr.lic_edges[k] = np.flatnonzero(tr.kind[k] == 1)
        delay = rng.integers(1, 4, (lic.size, tr.days))
        tr.lic_qidx[k] = k * (H_LICENCE * E) + ((days + delay) % H_LICENCE) * E + lic[:, None]
    tr.queue[:] = np.where(rng.random(tr.queue.shape) < 0.02, rng.uniform(0, 3, tr.queue.shape), 0.0)
    tr.pending[:] = np.where(rng.random((n, E)) < 0.3, rng.uniform(0, 9, (n, E)), 0.0)
    tr.trust[:] = np.where(tr.kind == 1, rng.choice([0.0, 0.5, 0.9], (n, E)), 0.0)    # buyers' trust in licences
    tr.seen_ok[:] = tr.seen_no[:] = np.where(tr.trust > 0, 1.0, 0.0)
    tr.queue_live[:] = rng.random(n) < 0.7
    tr.queue_live[n - 2:] = True                        # ... but licence decisions still due, or none left
    tr.queue[n - 2] = tr.pending[n - 2] = 0.0
    a, b = copy.deepcopy(tr), copy.deepcopy(tr)
    a._kernel, b._kernel = None, kernels.compiled("trade_apply")
    decided = capped = 0
    refiled: list[float] = []                           # what the numpy day filed again, day by day
    numpy_refile = a._refile
    a._refile = lambda day, again: (refiled.append(float(again.sum())), numpy_refile(day, again))
    for day in range(5):
        req = np.where(rng.random((n, E)) < 0.2, 0.0, rng.uniform(0, 10, (n, E)))
        demand = rng.uniform(0, 40, (n,) + tr.restricted.shape[1:])     # some applications above the use
        (sa, la), (sb, lb) = a.apply(day, req.copy(), demand), b.apply(day, req.copy(), demand)
        assert _same_bits(sa, sb) and _same_bits(la, lb), day
        capped += int((sa == tr.edge_cap).any())             # edges held at their cap
        for name in ("pending", "queue", "queue_live", "approved_today", "trust", "seen_ok", "seen_no"):
            assert _same_bits(getattr(a, name), getattr(b, name)), (day, name)
        decided += int((a.approved_today != 0).any())
    assert decided and capped and (tr.kind == 2).any() and (tr.kind == 3).any()   # every branch was taken
    assert max(refiled) > 0                                               # refusals went back into the queue
    assert not b.queue_live[n - 2]                                        # an idle queue stops


@needs_numba
def test_compiled_market_sections_give_the_numbers_of_numpy(monkeypatch):
    """Three replications of the headline, every recorded array and event, numba forced vs off."""
    a = _headline_batch(3, "200d", True, monkeypatch)[0]
    b = _headline_batch(3, "200d", False, monkeypatch)[0]
    assert len(a.runs) == len(b.runs) == 6
    for x, y in zip(a.runs, b.runs):
        assert list(x.recorder.data) == list(y.recorder.data)
        for key in x.recorder.data:
            assert _same_bits(x.recorder.data[key], y.recorder.data[key]), key
        assert [(e.day, e.entity, e.event, e.cause) for e in x.recorder.events] == \
            [(e.day, e.entity, e.event, e.cause) for e in y.recorder.events]


@needs_numba
@pytest.mark.parametrize("seed", range(4))
def test_market_reserve_matches_numpy(seed):
    """``kernels.market_reserve`` against ``prices.reserve_purchases``: restricted and free items, China's price
    above, at and below the buying level and more than 10% below it, the cap of a tenth of the stock binding or
    not, negative stock and signed zeros; only China's column written."""
    from simulator.engine.market.prices import reserve_purchases
    rng = np.random.default_rng(seed)
    n, I, R, china = 8, 16, 4, 2
    ratio = rng.choice([0.5, 0.79, 0.8, 0.85, 1.0, 1.3, -0.0], (n, 2, I))
    restricted = rng.random((n, I)) < 0.6
    below, rate = rng.choice([0.8, 0.9], I), rng.choice([0.0, 0.05, 0.2], I)
    production = rng.choice([0.0, -0.0, 3.0, 50.0], (n, I, R))
    Stot = rng.choice([-5.0, -0.0, 0.0, 10.0, 400.0], (n, I, R))
    want = np.zeros((n, I, R))
    want[:, :, china] = reserve_purchases(ratio[:, 0], restricted, below, rate, production[:, :, china],
                                          Stot[:, :, china])
    got = np.zeros((n, I, R))
    kernels.compiled("market_reserve")(china, ratio, restricted, below, rate, production, Stot, got)
    assert _same_bits(got, want)
    assert (want[:, :, china] > 0).any() and (want[:, :, china] == 0).any()


def test_kernel_min_max_are_numpys_on_signed_zeros_and_nan():
    """The kernels' ``minimum``/``maximum`` give numpy's bits: of two equal values the second (so the sign of a
    zero follows numpy), and NaN wherever either is NaN."""
    from simulator.engine.kernels import _fmax, _fmin
    vals = [0.0, -0.0, 1.0, -1.0, np.inf, np.nan]
    for a in vals:
        for b in vals:
            for ours, theirs in ((_fmin, np.minimum), (_fmax, np.maximum)):
                assert np.float64(ours(a, b)).tobytes() == theirs(np.float64(a), np.float64(b)).tobytes(), (a, b)


@needs_numba
def test_projects_kernels_match_numpy(markets):
    """``kernels.projects_signal`` / ``projects_capacity`` (``Projects._step_compiled``) against
    ``Projects.step`` in numpy: three lanes under their own price paths (a jump in some items from day 10, a
    fall back in one lane), 240 days; smoothed prices, streaks, starts, online dates, events, daily extra
    capacity and new capacity per year all identical, and some projects started and came online."""
    from simulator.engine.market.supply import Projects
    d = markets.d
    N, I = len(d.p_names), d.shape[0]
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3, N)) - 6.0                     # short lead times (30 days at least)
    ref = np.ones(I) * 100.0
    jump = np.where(rng.random(I) < 0.6, 1.6, 1.0)
    out = {}
    for compiled in (False, True):
        events = []
        pr = Projects(d, 240, 3, lambda lane, k: z[lane, k], lambda *e: events.append(e),
                      (kernels.compiled("projects_signal"), kernels.compiled("projects_capacity")) if compiled
                      else None)
        days = []
        for day in range(240):
            p = np.tile(ref, (3, 1)) * (jump if day >= 10 else 1.0)
            if day >= 60:
                p[2] = ref                                   # lane 2: the price falls back, streaks reset
            extra, newcap = pr.step(day, p, ref)
            days.append((extra.copy(), newcap.copy()))
        out[compiled] = (days, events, pr.p_smooth, pr.streak, pr.waiting, pr.start, pr.t_on, pr.online)
    (d0, e0, *s0), (d1, e1, *s1) = out[False], out[True]
    assert e0 == e1 and any("_started" in e[3] for e in e1) and any("_online" in e[3] for e in e1)
    for (x0, n0), (x1, n1) in zip(d0, d1):
        assert _same_bits(x0, x1) and _same_bits(n0, n1)
    assert (d1[-1][0] > 0).any()
    for a, b in zip(s0, s1):
        assert _same_bits(a, b)


@needs_numba
@pytest.mark.parametrize("seed", range(3))
def test_market_orders_match_numpy(markets, seed):
    """``kernels.market_orders`` against ``MineralMarkets._orders``' numpy code: the orders handed to the trade
    rules, from random demand, stocks, goods in transit and flow needs, with and without licences pending."""
    rng = np.random.default_rng(seed)
    n, I, R, E = markets.n, markets.I, markets.R, markets.E
    args = (_cells(rng, (n, I, R)), _cells(rng, (n, I, R), 40.0), _cells(rng, (n, I, R), 5.0),
            _cells(rng, (n, I, R), 3.0))
    pending = _cells(rng, (n, E), 20.0) if seed else np.zeros((n, E))
    trust = np.where(rng.random((n, E)) < 0.5, rng.uniform(0, 1, (n, E)), 0.0) if seed else np.zeros((n, E))
    wait = np.where(trust > 0, rng.uniform(30, 150, (n, E)), 0.0)
    tr = markets.trade
    saved = tr.pending, tr.trust, tr.lic_wait, tr.apply, markets._kernels
    got = []
    try:
        tr.pending, tr.trust, tr.lic_wait = pending, trust, wait
        tr.apply = lambda day, req, demand: (req, None)
        for kern in ({}, saved[-1]):
            markets._kernels = kern
            got.append(markets._orders(50, *[a.copy() for a in args])[0])
    finally:
        tr.pending, tr.trust, tr.lic_wait, tr.apply, markets._kernels = saved
        del tr.apply                                          # back to the class's method
    assert _same_bits(got[0], got[1]) and (got[1] > 0).any() and (got[1] == 0).any()


def test_loading_numba_leaves_scipy_linalg_unimported():
    """numba's import-time probe for scipy's BLAS is made to fail (kernels._no_scipy_blas_probe): a worker that
    loads the compiled loops does not pay for importing scipy.linalg, and can still import it afterwards."""
    import os
    import subprocess
    import sys
    if not kernels.available():
        pytest.skip("numba not installed")
    code = ("import sys\nfrom simulator.engine import kernels\nassert kernels.available()\n"
            "kernels.compiled('holder_day')\n"
            "print('scipy.linalg' in sys.modules, sys.modules.get('scipy.linalg', 0) is None)\n"
            "import scipy.linalg\nprint(scipy.linalg.norm([3.0, 4.0]))\n")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "SIMULATOR_NUMBA": "1"})
    assert got.stdout.split() == ["False", "False", "5.0"]


def test_the_blas_probe_hides_only_an_unimported_scipy_linalg(monkeypatch):
    import sys
    for name in [m for m in sys.modules if m == "scipy.linalg" or m.startswith("scipy.linalg.")]:
        monkeypatch.delitem(sys.modules, name)     # as in a fresh worker (restored after the test)
    with kernels._no_scipy_blas_probe():
        assert sys.modules["scipy.linalg"] is None
        with pytest.raises(ImportError):
            import scipy.linalg.cython_blas  # noqa: F401
    assert "scipy.linalg" not in sys.modules
    marker = object()
    monkeypatch.setitem(sys.modules, "scipy.linalg", marker)
    with kernels._no_scipy_blas_probe():
        assert sys.modules["scipy.linalg"] is marker
    assert sys.modules["scipy.linalg"] is marker


@needs_numba
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_industry_day_matches_numpy_on_ties_nan_and_empty_demand(seed):
    """``kernels.industry_day`` against ``Industries``' numpy methods on crafted readings: allowances within
    1e-12 of each other (the slot-by-slot scan decides), NaN consumption and short shares, demand ≤ 0, a
    non-limiting slot, day-0 prices of 0 (not priced), and chip wafers; every output bit for bit."""
    from types import SimpleNamespace
    from simulator.engine.industries import Industries
    rng = np.random.default_rng(seed)
    J, S, L = 4, 3, 64
    K = 1 + 4 * J * S + 2
    vals = rng.uniform(0.0, 2.0, (K, L))
    vals[0] = 0.0                                            # row 0 reads 0.0 (a missing series)
    rows = np.arange(1, 1 + 4 * J * S, dtype=np.intp).reshape(4, J, S)
    cons, dem = vals[rows[0]], vals[rows[1]]
    dem[:, :, ::5] = 0.0                                     # demand ≤ 0: served 1
    dem[1, 2, ::7] = -1.0
    cons[:, :, 1::9] = np.nan                                # NaN consumption: served 1 (fmin)
    half = rng.uniform(0.3, 0.6, (S, L))
    cons[0], cons[1] = half * dem[0], half * dem[1] * (1 + rng.uniform(-1e-11, 1e-11, (S, L)))
    cons[2:, :, ::2] = dem[2:, :, ::2]                       # every other lane: slots 2, 3 serve all
    vals[rows[0]], vals[rows[1]] = cons, dem                 # slots 0 and 1 within ~1e-12 of each other
    short = vals[rows[2]]
    short[:, :, 3::11] = np.nan
    vals[rows[2]] = short
    d = rng.uniform(0.2, 1.0, (J, S))
    d[1] = d[0]
    limit = np.ones((J, S), dtype=bool)
    limit[3, 1] = False                                      # not critical: d 0, reads row 0
    d[3, 1] = 0.0
    rows[:3, 3, 1] = 0
    cost_share = rng.uniform(0.0, 0.1, (J, S))
    p0 = rng.uniform(0.5, 1.5, (J, S, L))
    p0[2, 0, ::3] = 0.0
    priced = p0 > 0
    p0 = np.where(priced, p0, 1.0)
    price_slots = np.array([0, 2, 3], dtype=np.intp)
    planned, value = rng.uniform(10, 100, S), rng.uniform(1, 5, S)
    lim = [(j, s) for s in range(S) for j in range(J) if limit[j, s]]
    lim_j, lim_s = np.array([j for j, _ in lim], dtype=np.intp), np.array([s for _, s in lim], dtype=np.intp)
    const = rng.uniform(0, 1, (2 * S, L))
    chip_rows = np.array([[1, 1], [2, 2], [5, 5]], dtype=np.intp)
    chip_values = np.array([[1.0, 3.5], [1.0, 7.25], [1.0, 0.5]])
    C = len(lim) + 6 * S + 2
    take = rng.permutation(C).astype(np.intp)

    ns = SimpleNamespace(J=J, d=d[:, :, None], one_minus_d=(1.0 - d)[:, :, None], limit=limit[:, :, None],
                         cost_share=cost_share[:, :, None], priced=priced, p0=p0, price_slots=list(price_slots))
    ns._scan = lambda a: Industries._scan(ns, a)
    c_, d_, sh_, pr_ = vals[rows]
    a = Industries._allowances(ns, c_, d_)
    allow, binding = Industries._binding(ns, a)
    stopped = Industries._stopped(ns, sh_)
    cost = Industries._cost(ns, pr_)
    out = planned[:, None] * allow
    terms = vals[chip_rows] * chip_values[:, :, None]
    chips = np.zeros((2, L))
    for t in terms:
        chips = chips + t
    want = np.concatenate([a[lim_j, lim_s], out, out * value[:, None], const, stopped, cost * 100.0, chips])[take].T

    got = np.empty((L, C))
    g_allow, g_stopped, g_binding = np.empty((S, L)), np.empty((S, L)), np.empty((S, L), dtype=np.int64)
    kernels.compiled("industry_day")(vals, rows, 1.0 - d, d, limit, cost_share, priced, p0, price_slots, planned,
                                     value, const, lim_j, lim_s, chip_rows, chip_values, take, got, g_allow,
                                     g_binding, g_stopped, np.empty((C, L)))
    assert (binding >= 0).any() and (binding == -1).any()
    near = (a > a.min(axis=0)) & (a < a.min(axis=0) + 2e-12)
    assert near.any() and (binding == 1).any()               # ties the scan decides, some in favour of slot 1
    assert got.tobytes() == want.tobytes()
    assert g_allow.tobytes() == allow.tobytes() and g_stopped.tobytes() == stopped.tobytes()
    assert np.array_equal(g_binding, binding)


def test_loading_a_scenario_loads_no_numba_and_counts_no_lane_days():
    """The model checks build the headline over its whole horizon (1,096 lane-days, above
    ``MIN_LANE_DAYS``) only to look at it (``kernels.checks_only``): the parent of ``simulate`` and
    ``simulate validate`` must not load numba for that, nor count those days towards compiling."""
    import os
    import subprocess
    import sys
    code = ("import sys\nfrom simulator import load_scenario\nfrom simulator.engine import kernels\n"
            "load_scenario('scenarios/japan_servicing_ban.yaml', [])\n"
            "load_scenario('scenarios/japan_servicing_ban.yaml', ['seed=3'])\n"   # an override: a dry run plays
            "print('numba' in sys.modules, kernels._lane_days_seen, kernels.worth_compiling(1096))\n")
    env = {k: v for k, v in os.environ.items() if k != "SIMULATOR_NUMBA"}
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert got.stdout.split() == ["False", "0", str(kernels.available())]


def test_group_sums_add_each_groups_cohorts_in_order_from_zero():
    """``fabs.group_sums`` (the fab fleets' numpy twin) sums a group's cohorts one after the other in cohort
    order, starting from 0: visible where the order of additions changes the result."""
    from simulator.engine.fabs import group_members, group_sums
    g_idx = np.array([0, 1, 0, 2, 0, 1])              # groups 0: cohorts 0, 2, 4; 1: 1, 5; 2: 3
    S = np.array([[1.0, 5.0, 1e16, 7.0, -1e16, -0.0]])
    got = group_sums(S, group_members(g_idx, 3), np.full((1, 3), np.nan))
    assert got.tolist() == [[0.0, 5.0, 7.0]]          # (1 + 1e16) − 1e16 is 0; 1 + (1e16 − 1e16) would be 1
    assert not np.signbit(got).any()                  # 5 + (−0) and 0 + … start from +0


@needs_numba
def test_fab_account_states_sums_groups_as_the_numpy_twin():
    """``fab_account_states`` writes the group sums of its states as ``fabs.group_sums`` makes them, bit for
    bit, on values whose order of addition matters."""
    from simulator.engine.fabs import group_members, group_sums
    rng = np.random.default_rng(5)
    L, C, G = 3, 40, 9
    g_idx = np.sort(rng.integers(0, G, C))
    g_idx[:G] = np.arange(G)
    g_idx.sort()
    big = 10.0 ** rng.integers(-3, 17, (L, C))
    elig = rng.uniform(0, 1, (L, C)) * big
    args = [elig, rng.uniform(0, 0.1, C), rng.uniform(0, 0.3, (L, C)) * big, rng.uniform(0, 0.3, (L, C)) * big,
            big, rng.uniform(0, 1, (L, C)) * big, rng.integers(0, 5, (L, C)), rng.uniform(0.5, 1, (L, C)),
            rng.uniform(0.5, 1, (L, C)), rng.uniform(0.5, 1, (L, C))]
    S, SG = np.zeros((L, 7, C)), np.full((L, 7, G), np.nan)
    kernels.compiled("fab_account_states")(*args, g_idx, S, SG)
    want = group_sums(S, group_members(g_idx, G), np.empty((L, 7, G)))
    assert SG.tobytes() == want.tobytes()
    assert not np.array_equal(want, np.matmul(S[:, :, ::-1], np.eye(G)[g_idx][::-1]))   # another order differs
