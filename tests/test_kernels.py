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
    S[:, 2, 1] = 0.0                                            # a cell run dry
    flows = [rng.uniform(0, hi, (lanes, I, R)) * (rng.random((lanes, I, R)) > 0.2) for hi in (10, 10, 400)]
    return HolderGroups(w, c), S, demand, flows


@needs_numba
@pytest.mark.parametrize("lanes", [1, 3])
def test_holder_day_matches_numpy(lanes):
    rng = np.random.default_rng(lanes)
    hg, S, demand, (cn_in, nc_in, outflow) = _holders(rng, lanes)
    ncc = rng.uniform(0, 8, demand.shape[1:])
    target = rng.uniform(10, 90, demand.shape)
    restock = rng.uniform(10, 60, (demand.shape[1], 1))
    S1, S2 = S.copy(), S.copy()
    a = hg._consume_numpy(S1, S.sum(axis=-1), cn_in, nc_in, ncc, outflow, demand, target, restock)
    b = hg._consume_compiled(S2, S.sum(axis=-1), cn_in, nc_in, ncc, outflow, demand, target, restock)
    assert np.array_equal(S1, S2)
    assert len(a) == len(b) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b))
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
    kernels.compiled("lanes_poisson")(kernels.generator_list(a), lam, out)
    assert np.array_equal(out, [g.poisson(x) for g, x in zip(b, lam)])
    assert _same_streams(a, b)


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
    shape = rng.choice([0.0, 1.0, 2.0, 7.0, 250.0], (4, 3000))
    scale = rng.choice([0.0, 0.02, 1.5], (4, 3000))
    width = np.array([3000, 1500, 0, 2999])
    a, b = _generators(6, 4), _generators(6, 4)
    out = np.full(shape.shape, -1.0)
    kernels.compiled("lanes_gamma")(kernels.generator_list(a), shape, scale, width, out)
    for lane, (g, w) in enumerate(zip(b, width)):
        assert np.array_equal(out[lane, :w], g.gamma(shape[lane, :w], scale[lane, :w]))
        assert (out[lane, w:] == -1).all()
    assert _same_streams(a, b)
