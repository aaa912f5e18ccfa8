"""Two prices per item, China domestic and ex-China, moving towards the level set by inventory cover.

``P_ind = min(ceiling × P_ref(t), P_ref(t) · (cover / target cover)^(−α))`` and ``P += (P_ind − P) / τ_P``, where
``P_ref(t)`` is the dated reference path (so a scenario starting in 2024 starts from 2024's prices and follows the
recorded trend), ``ceiling`` the item's observed extreme ratio, China's cover its own stock over its target, the
ex-China cover the pooled stocks of every other region over their targets. Blocked exports stay in China's stock
and push the domestic price down while the ex-China price rises (the observed wedge), until:

- **export parity**: traders buy at home to export when the domestic price is below the expected netback of an
  export sale (approval share × ex-China price, discounted over the licence wait). Licences ration quantities,
  so only ``export_parity_pass_through`` of that netback's premium over China's reference floors the domestic
  price (1 = full arbitrage; observed episodes show little: gallium 2023 China +8% while Rotterdam +80%,
  antimony 2024 China −11% while Rotterdam +175%, Dy/Tb 2025 China ±10% while Europe ×3);
- **state reserve buying**: while an export restriction on the item is in force and the domestic price is below
  ``buy_below_price_ratio`` × its reference, the state reserve buys up to ``max_purchase_share`` of Chinese
  output a day from the market (China's strategic stock), which lifts China's cover and price;
- **output cuts**: Chinese producers cut output by up to ``max_cut_share`` as the domestic price falls below
  ``cut_below_price_ratio`` × its reference while a restriction is in force (see :mod:`.supply`).
"""
from __future__ import annotations

import numpy as np


def cover_power(cover_ratio: np.ndarray, neg_alpha: np.ndarray) -> np.ndarray:
    """``(cover / target cover) ^ (−α)``, the cover ratio at least 1e-9: the indicated price over its reference
    before the ceiling and floor (numpy's power, which the compiled price step also takes from here)."""
    return np.power(np.maximum(cover_ratio, 1e-9), neg_alpha)


def price_step(P: np.ndarray, ref: np.ndarray, cover_ratio: np.ndarray, neg_alpha: np.ndarray,
               ceiling: np.ndarray, inv_tau: np.ndarray, floor_cn: np.ndarray) -> None:
    """Advance prices ``P`` (2, I) [China; ex-China] in place by one day. ``ref`` (2, I) today's references,
    ``cover_ratio`` (2, I) cover over target, ``floor_cn`` (I,) export-parity floor of China's price. For a
    batch of runs, ``P``, ``cover_ratio`` and ``floor_cn`` carry a leading lane axis."""
    ind = cover_power(cover_ratio, neg_alpha) * ref
    np.minimum(ind, ceiling * ref, out=ind)
    cn = ind[..., 0, :]
    np.maximum(cn, floor_cn, out=cn)
    P += (ind - P) * inv_tau


def reserve_purchases(p_cn_ratio: np.ndarray, restricted: np.ndarray, below: np.ndarray, rate: np.ndarray,
                      production_cn: np.ndarray, stock_cn: np.ndarray) -> np.ndarray:
    """China's state reserve purchases (I,) per day: zero unless a restriction on the item is in force and the
    domestic price ratio is below ``below``; rising linearly to ``rate`` × Chinese production 10% further down,
    and never more than a tenth of the stock on hand in a day."""
    depth = np.clip((below - p_cn_ratio) / 0.1, 0.0, 1.0)
    buy = np.where(restricted, depth * rate * production_cn, 0.0)
    return np.minimum(buy, 0.1 * np.maximum(stock_cn, 0.0))
