"""Input-output algebra: a small multi-regional table, the Leontief model, and a daily ARIO model.

An *industry* (or *cell*) is one (region, sector) pair; cell ``f = region_index × n_sectors + sector_index``.
A *product* is a sector's output whatever its region of origin. Amounts are in USD per year in the table and
USD per day inside the dynamic model.

The table (:class:`MRIO`) holds ``Z`` (intermediate flows, row = selling cell, column = buying cell), ``Y``
(final demand for each cell's output, all destinations summed), gross output ``X = Z·1 + Y`` and value added
``VA = X − 1ᵀZ``. :func:`build_mrio` assembles it from a few published aggregates (GDP, sector value-added
shares, value-added ratios, an input mix per sector, domestic shares and export-market shares of each
product), see ``scenario/world/default/economy.yaml``.

Two models use it:

- **Leontief / mixed (static)**: ``x = (I − A)⁻¹ y`` with ``A = Z x̂⁻¹``; in the supply-constrained (mixed)
  variant (Miller & Blair 2009, §13.1) some cells' outputs are fixed from outside and the others solve
  ``x_n = (I − A_nn)⁻¹ (y_n + A_nx x_x)``. Value added is ``v ⊙ x`` with ``v = VA ⊘ X``.
- **ARIO (dynamic, one step a day)**, after Hallegatte (2008, 2014) as documented for BoARIO (Juhel 2023):
  firms hold inventories of each input *product* (days of use), produce
  ``min(demand, capacity)`` cut further in proportion when an input's inventory is below ``ψ`` × its target,
  serve their own orders to themselves first (the chain inside a cell is already cut by its capacity) and
  ration all their other customers (firms and final demand) in proportion to what they ordered, and order
  what they used plus ``1/τ`` of the shortfall of inventory below its target (the target follows the day's
  planned output; stocks above target are kept, not run down), spread over suppliers by the table's initial
  shares (no substitution between suppliers). With no shock the table is an exact fixed
  point: every step returns the table's output bit for bit. Many runs can be stepped together
  (:meth:`ARIO.step_runs`, state arrays with a leading run axis), each run's numbers exactly those of a run
  stepped alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class MRIO:
    """A balanced multi-regional input-output table in USD per year."""

    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    Z: np.ndarray          # (n, n) intermediate flows, seller row → buyer column
    Y: np.ndarray          # (n,) final demand for each cell's output
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.regions) * len(self.sectors)

    @property
    def X(self) -> np.ndarray:
        """Gross output: intermediate sales plus final demand."""
        return self.Z.sum(axis=1) + self.Y

    @property
    def VA(self) -> np.ndarray:
        """Value added: gross output minus intermediate purchases (all inputs are inside the table)."""
        return self.X - self.Z.sum(axis=0)

    def cell(self, region: str, sector: str) -> int:
        return self.regions.index(region) * len(self.sectors) + self.sectors.index(sector)

    def labels(self) -> list[tuple[str, str]]:
        return [(r, s) for r in self.regions for s in self.sectors]

    def gdp(self) -> dict[str, float]:
        va = self.VA.reshape(len(self.regions), len(self.sectors)).sum(axis=1)
        return {r: float(v) for r, v in zip(self.regions, va)}


def build_mrio(regions: Sequence[str], sectors: Sequence[str], residual_sector: str,
               gdp_usd: Mapping[str, float], va_share: Mapping[str, Mapping[str, float]],
               va_ratio: Mapping[str, float], input_mix: Mapping[str, Mapping[str, float]],
               domestic_share: Mapping[str, Mapping[str, float]],
               export_share: Mapping[str, Mapping[str, float]], min_final_share: float = 0.0) -> MRIO:
    """Assemble a balanced table from aggregates (all annual, USD).

    - value added of (r, s) = ``gdp_usd[r] × va_share[r][s]``; ``residual_sector`` takes the rest of GDP;
    - gross output = value added ÷ ``va_ratio[s]``;
    - (r, s) buys ``(1 − va_ratio[s]) × input_mix[p][s] × X[r, s]`` of product ``p``, a share
      ``domestic_share[r][p]`` from its own region and the rest from the other regions in proportion to their
      ``export_share[p][o]`` (renormalised without r);
    - final demand is what is left of each cell's output; a ValueError names any cell where it would be
      below ``min_final_share`` of output (the aggregates are then inconsistent).
    """
    R, S = list(regions), list(sectors)
    nr, ns = len(R), len(S)
    if residual_sector not in S:
        raise ValueError(f"residual_sector {residual_sector!r} is not one of the sectors {S}")
    for s in S:
        col = sum(float(input_mix[p][s]) for p in S)
        if abs(col - 1.0) > 1e-6:
            raise ValueError(f"input_mix for sector {s!r} sums to {col:.6g}, must be 1")
        if not 0.0 < float(va_ratio[s]) < 1.0:
            raise ValueError(f"va_ratio[{s!r}](={va_ratio[s]}) must be in (0, 1)")
    VA = np.zeros((nr, ns))
    for i, r in enumerate(R):
        rest = float(gdp_usd[r])
        for j, s in enumerate(S):
            if s != residual_sector:
                VA[i, j] = float(gdp_usd[r]) * float(va_share[r].get(s, 0.0))
                rest -= VA[i, j]
        if rest <= 0:
            raise ValueError(f"{r}: sector value-added shares exceed GDP")
        VA[i, S.index(residual_sector)] = rest
    ratio = np.array([float(va_ratio[s]) for s in S])
    X = VA / ratio                                          # (nr, ns)
    n = nr * ns
    Z = np.zeros((n, n))
    for i, r in enumerate(R):
        for j, s in enumerate(S):
            buyer = i * ns + j
            inputs = (1.0 - ratio[j]) * X[i, j]
            for k, p in enumerate(S):
                use = inputs * float(input_mix[p][s])
                if use == 0.0:
                    continue
                dom = float(domestic_share[r][p])
                others = {o: float(export_share[p][o]) for o in R if o != r}
                tot = sum(others.values())
                for oi, o in enumerate(R):
                    if o == r:
                        share = dom
                    else:
                        share = (1.0 - dom) * (others[o] / tot if tot > 0 else 1.0 / (nr - 1))
                    Z[oi * ns + k, buyer] += use * share
    Y = X.reshape(-1) - Z.sum(axis=1)
    low = [(R[f // ns], S[f % ns], Y[f] / X.reshape(-1)[f]) for f in range(n)
           if Y[f] < min_final_share * X.reshape(-1)[f]]
    if low:
        r, s, share = min(low, key=lambda t: t[2])
        raise ValueError(f"final demand for {r}/{s} would be {share:.1%} of its output (below "
                         f"{min_final_share:.0%}): its intermediate sales exceed its output; check "
                         f"domestic_share/export_share/va_share")
    return MRIO(tuple(R), tuple(S), Z, Y)


def leontief_inverse(A: np.ndarray) -> np.ndarray:
    """``(I − A)⁻¹``: total output needed per unit of final demand."""
    return np.linalg.inv(np.eye(A.shape[0]) - A)


def coefficients(Z: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Technical coefficients ``A = Z x̂⁻¹`` (zero where output is zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(X[None, :] > 0, Z / np.where(X > 0, X, 1.0)[None, :], 0.0)


def mixed_output(A: np.ndarray, Y: np.ndarray, fixed: Mapping[int, float]) -> np.ndarray:
    """Supply-constrained (mixed) Leontief model: cells in ``fixed`` produce the given output, every other
    cell produces what final demand and all buyers' input needs require,
    ``x_n = (I − A_nn)⁻¹ (Y_n + A_nx x_x)``. Returns the full output vector."""
    n = A.shape[0]
    fx = sorted(fixed)
    nx = [i for i in range(n) if i not in fixed]
    x = np.zeros(n)
    x[fx] = [fixed[i] for i in fx]
    rhs = Y[nx] + A[np.ix_(nx, fx)] @ x[fx]
    x[nx] = np.linalg.solve(np.eye(len(nx)) - A[np.ix_(nx, nx)], rhs)
    return x


def value_added(va_coeff: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Value added of each cell at output ``x`` (value-added coefficients fixed)."""
    return va_coeff * x


@dataclass
class ARIOParams:
    """Behaviour of the dynamic model (all in days).

    ``inventory_days[p]`` (or ``[p, s]`` per buying sector ``s``): target stock of input product ``p`` in
    days of use (``inf``: never binds, e.g. services); ``psi``: production falls once an inventory is below ``psi`` × target; ``tau_inventory``: days
    to close an inventory gap by orders; ``alpha_max``/``tau_alpha``: optional overproduction (1 = off)."""

    inventory_days: np.ndarray
    psi: float = 0.8
    tau_inventory: float = 30.0
    alpha_max: float = 1.0
    tau_alpha: float = 365.0

    def __post_init__(self) -> None:
        self.inventory_days = np.asarray(self.inventory_days, dtype=float)
        if np.any(self.inventory_days <= 0):
            raise ValueError(f"inventory_days(={self.inventory_days.tolist()}) must be > 0")
        if not 0.0 < self.psi <= 1.0:
            raise ValueError(f"psi(={self.psi}) must be in (0, 1]")
        if self.tau_inventory < 1.0:
            raise ValueError(f"tau_inventory(={self.tau_inventory}) must be >= 1 day")
        if self.alpha_max < 1.0 or self.tau_alpha < 1.0:
            raise ValueError(f"alpha_max(={self.alpha_max}) and tau_alpha(={self.tau_alpha}) must be >= 1")


@dataclass
class ARIOState:
    """The dynamic state of the ARIO model for ``k`` runs (leading axis): ``inv`` (runs × products × cells)
    inventories of inputs in USD, ``orders`` (runs × cells × cells) the orders placed at the end of the
    previous day (seller row, buyer column), ``alpha`` (runs × cells) overproduction factors,
    ``shortage_share`` (runs × cells) the share of each cell's clients' orders it could not serve."""

    inv: np.ndarray
    orders: np.ndarray
    alpha: np.ndarray
    shortage_share: np.ndarray

    def take(self, other: "ARIOState") -> "ARIOState":
        """This state with the runs of ``other`` appended after its own."""
        return ARIOState(*(np.concatenate([a, b]) for a, b in
                           zip((self.inv, self.orders, self.alpha, self.shortage_share),
                               (other.inv, other.orders, other.alpha, other.shortage_share))))


@dataclass
class ARIO:
    """Adaptive Regional Input-Output model stepped one day at a time, from the table's equilibrium.

    State (:class:`ARIOState` of this run): ``inv`` (products × cells) inventories of inputs in USD,
    ``orders`` (cells × cells) the orders placed at the end of the previous day (seller row, buyer column),
    ``alpha`` overproduction factors. Call :meth:`step` with each cell's remaining production capacity share
    (1 = intact). :meth:`start` and :meth:`step_runs` step the state of many runs at once (leading run axis),
    each run's numbers exactly those of :meth:`step` alone."""

    table: MRIO
    params: ARIOParams
    x0: np.ndarray = field(init=False)
    y: np.ndarray = field(init=False)
    va_coeff: np.ndarray = field(init=False)
    #: (``kernels.ario_serve``, ``kernels.ario_restock``) compiled, to step runs with (None: numpy)
    kernels: tuple | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        t, p = self.table, self.params
        ns = len(t.sectors)
        if p.inventory_days.shape not in ((ns,), (ns, ns)):
            raise ValueError(f"inventory_days needs one value per product ({ns},) or per product and buying "
                             f"sector ({ns}, {ns}), got shape {p.inventory_days.shape}")
        self.Z = t.Z / DAYS_PER_YEAR
        self.y = t.Y / DAYS_PER_YEAR
        self.x0 = self.Z.sum(axis=1) + self.y
        self.va_coeff = np.where(t.X > 0, t.VA / np.where(t.X > 0, t.X, 1.0), 0.0)
        n = t.n
        self.G = np.zeros((ns, n))                    # product aggregation: cell → its product
        self.G[np.arange(n) % ns, np.arange(n)] = 1.0
        self.ZS = self.G @ self.Z                      # (products, cells) inputs used per day at x0
        self.prod_of = np.arange(n) % ns             # product index of each selling cell
        self.diag = np.diag_indices(n)
        d = p.inventory_days
        self.days = (np.repeat(d[:, None], n, axis=1) if d.ndim == 1
                     else d[:, np.arange(n) % ns])          # (products, cells) target days of use
        self.finite = np.isfinite(self.days) & (self.ZS > 0)
        # constant factors of the step, each computed once exactly as the step would; "_z" factors are 0
        # where an inventory never binds, so the products they make are 0 there and masks fall out
        self._x0_pos = self.x0 > 0
        self._x0_safe = np.where(self._x0_pos, self.x0, 1.0)
        self._psi_days_z = np.where(self.finite, p.psi * np.where(self.finite, self.days, 1.0), 0.0)
        self._goal_days_z = np.where(self.finite, self.days, 0.0)
        self._finite_z = self.finite.astype(float)
        self._zs_pos = self.ZS > 0
        self._zs_safe = np.where(self._zs_pos, self.ZS, 1.0)
        self._Z4 = self.Z.reshape(len(t.regions), ns, n)      # (regions, products, buying cells)
        # with ψ × target days ≥ 1 everywhere, cons ≥ need, so the physical limit inv ÷ need is never below
        # inv ÷ cons when the stock is positive, and both clamp the factor to 0 when it is not: skip it
        self._lim_covers_phys = bool(np.all(self._psi_days_z[self.finite] >= 1.0))
        self.state = self.start(1)

    def start(self, runs: int) -> ARIOState:
        """The table's equilibrium for ``runs`` runs: inventories at target, yesterday's orders = the table."""
        inv = np.where(self.finite, np.where(np.isfinite(self.days), self.days, 0.0) * self.ZS, 0.0)
        n = self.table.n
        return ARIOState(np.repeat(inv[None], runs, axis=0), np.repeat(self.Z[None], runs, axis=0),
                         np.ones((runs, n)), np.zeros((runs, n)))

    @property
    def inv(self) -> np.ndarray:
        return self.state.inv[0]

    @property
    def orders(self) -> np.ndarray:
        return self.state.orders[0]

    @property
    def alpha(self) -> np.ndarray:
        return self.state.alpha[0]

    @property
    def shortage_share(self) -> np.ndarray:
        return self.state.shortage_share[0]

    @property
    def gdp0(self) -> np.ndarray:
        """Value added per cell per day at the table's output."""
        return self.va_coeff * self.x0

    def step(self, capacity: np.ndarray) -> np.ndarray:
        """Advance one day with production capacity ``capacity`` (share of the table's output per cell, in
        [0, 1]); returns the day's actual production per cell (USD/day)."""
        return self.step_runs(self.state, np.asarray(capacity, dtype=float)[None])[0]

    def step_runs(self, st: ARIOState, capacity: np.ndarray) -> np.ndarray:
        """Advance the runs of ``st`` one day with capacities ``capacity`` (runs × cells, shares of the table's
        output in [0, 1]); updates ``st`` (its arrays in place) and returns the day's actual production (runs ×
        cells, USD/day). Every number is computed as in a one-run step, in the same floating-point order."""
        if self.kernels is not None and self._lim_covers_phys:
            return self._step_compiled(st, capacity)
        p = self.params
        k, n = capacity.shape
        orders = st.orders
        demand = orders.sum(axis=-1) + self.y
        x_cap = st.alpha * capacity * self.x0
        x_opt = np.minimum(demand, x_cap)
        ratio0 = np.where(self._x0_pos, x_opt / self._x0_safe, 0.0)
        need = self.ZS * ratio0[:, None, :]                # inputs needed per day at x_opt
        with np.errstate(divide="ignore", invalid="ignore"):
            # share of the day's needs the stock allows: above ψ × target days (lim), or at all (phys); inf
            # where the inventory never binds (zero factors there)
            cons = self._psi_days_z * need
            lim = np.where(cons > 0, st.inv / cons, np.inf).min(axis=-2)
            if not self._lim_covers_phys:
                need_f = need * self._finite_z
                lim = np.minimum(lim, np.where(need_f > 0, st.inv / need_f, np.inf).min(axis=-2))
        factor = np.minimum(1.0, lim)
        factor = np.maximum(factor, 0.0)
        x_a = np.where(factor < 1.0, x_opt * factor, x_opt)
        # distribution: a cell first serves its own orders to itself (the integrated chain inside a cell is
        # already cut by its capacity), then every other client, firm or final demand, gets the same share
        own = np.diagonal(orders, axis1=-2, axis2=-1)
        own_served = np.minimum(own, x_a)
        rest = demand - own
        served = np.where(rest > 0, np.minimum(1.0, (x_a - own_served) / np.where(rest > 0, rest, 1.0)), 1.0)
        st.shortage_share = 1.0 - served
        received = self._received(orders, served, own_served)  # (in yesterday's orders: not needed again)
        ratio = np.where(self._x0_pos, x_a / self._x0_safe, 0.0)
        used = self.ZS * ratio[:, None, :]
        delta = self.G @ received - used                   # exactly 0 at the equilibrium
        st.inv = np.where(self.finite, st.inv + delta, 0.0)
        # orders for tomorrow: what was used, plus 1/τ of the shortfall below the target at x_opt (an
        # inventory above target is not run down by ordering less: no destocking bullwhip, as in BoARIO)
        gap = self._goal_days_z * need
        gap -= st.inv
        gap = np.maximum(0.0, gap)
        total = used + gap / p.tau_inventory
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(self._zs_pos, total / self._zs_safe, 0.0)
        # initial supplier shares, no substitution: order of seller (region, product) = Z × scale[product]
        np.multiply(self._Z4, scale[:, None], out=orders.reshape(k, *self._Z4.shape))
        if p.alpha_max > 1.0:
            scarce = np.where(demand > 0, (demand - x_a) / np.where(demand > 0, demand, 1.0), 0.0)
            st.alpha = np.where(scarce > 0,
                                st.alpha + (p.alpha_max - st.alpha) * scarce / p.tau_alpha,
                                st.alpha + (1.0 - st.alpha) / p.tau_alpha)
        return x_a

    def _step_compiled(self, st: ARIOState, capacity: np.ndarray) -> np.ndarray:
        """:meth:`step_runs` in two compiled loops around its one matrix product (the same numbers)."""
        serve, restock = self.kernels
        k, n = capacity.shape
        need, x_a, demand = np.empty((k,) + self.ZS.shape), np.empty((k, n)), np.empty((k, n))
        if st.shortage_share.shape != (k, n):
            st.shortage_share = np.empty((k, n))
        serve(st.orders, self.y, st.alpha, capacity, self.x0, self._x0_pos, self._x0_safe, self.ZS,
              self._psi_days_z, st.inv, need, x_a, demand, st.shortage_share)
        received = self.G @ st.orders                       # what each product's buyers received today
        p = self.params
        restock(received, x_a, self._x0_pos, self._x0_safe, self.ZS, self.finite, st.inv, self._goal_days_z, need,
                p.tau_inventory, self._zs_pos, self._zs_safe, self._Z4, st.orders, demand, st.alpha, p.alpha_max,
                p.tau_alpha)
        return x_a

    def _received(self, orders: np.ndarray, served: np.ndarray, own_served: np.ndarray) -> np.ndarray:
        """What each buyer receives from each seller today (runs × sellers × buyers, USD/day): its orders ×
        the seller's served share, its own orders to itself as served first; computed in place of ``orders``.
        Only sellers that ration (served share ≠ 1) change their rows: ``x × 1.0`` is ``x`` exactly."""
        rows = orders.reshape(-1, orders.shape[-1])
        share = served.reshape(-1)
        cut = np.flatnonzero(share != 1.0)
        if cut.size:
            rows[cut] *= share[cut, None]
        orders[:, self.diag[0], self.diag[1]] = own_served
        return orders


def run_ario(table: MRIO, params: ARIOParams, capacity: np.ndarray) -> np.ndarray:
    """Run the model over ``capacity`` (days × cells) and return actual production (days × cells)."""
    model = ARIO(table, params)
    return np.vstack([model.step(c) for c in np.asarray(capacity, dtype=float)])


def is_finite_days(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
