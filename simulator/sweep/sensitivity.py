"""Global sensitivity of headline metrics to swept ranges, with SALib.

*Sobol* indices split the variance of a metric into shares due to each parameter alone (``S1``) and with all its
interactions (``ST``); they need a Saltelli-type design of ``N × (D + 2)`` points. *Morris* elementary effects
(``mu_star``: mean absolute effect of a step; ``sigma``: how much the effect depends on the other parameters)
need ``N`` one-at-a-time trajectories of ``D + 1`` points each. The sample is generated here, in the order SALib
expects, and each point's metric is the mean over its successful replications.
"""
from __future__ import annotations

from typing import Any

import numpy as np

SALIB_SEED_KEY = 0x53414C  # "SAL": spawn key of the sampler's seed, derived from the root seed


def _problem(keys: tuple[str, ...], bounds: tuple[tuple[Any, Any], ...]) -> dict:
    return {"num_vars": len(keys), "names": list(keys), "bounds": [[float(lo), float(hi)] for lo, hi in bounds]}


def _seed(seed: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(SALIB_SEED_KEY,)).generate_state(1)[0])


def sample(method: str, keys: tuple[str, ...], bounds: tuple[tuple[Any, Any], ...], n: int, seed: int
           ) -> tuple[tuple[float, ...], ...]:
    """Points of the SALib design for ``method`` (``sobol``: Saltelli/Sobol', first and total order;
    ``morris``: ``n`` trajectories on 4 levels)."""
    import warnings
    problem = _problem(keys, bounds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # SALib warns when n is not a power of two; still valid
        if method == "sobol":
            from SALib.sample import sobol
            x = sobol.sample(problem, n, calc_second_order=False, seed=_seed(seed))
        elif method == "morris":
            from SALib.sample import morris
            x = morris.sample(problem, n, num_levels=4, seed=_seed(seed))
        else:
            raise ValueError(f"method(={method!r}) must be sobol or morris")
    return tuple(tuple(float(f"{v:.10g}") for v in row) for row in x)


COLUMNS = ["metric", "method", "parameter", "index", "value", "confidence"]


def analyze(method: str, keys: tuple[str, ...], bounds: tuple[tuple[Any, Any], ...], points: np.ndarray,
            outcomes: dict[str, np.ndarray], seed: int) -> list[dict]:
    """Sensitivity rows (metric, method, parameter, index, value, confidence) for every metric whose values
    are finite at every point; a metric with gaps (failed runs, NaN) gets one row saying so."""
    import warnings
    problem = _problem(keys, bounds)
    rows: list[dict] = []
    for metric in sorted(outcomes):
        y = np.asarray(outcomes[metric], dtype=float)
        if not np.all(np.isfinite(y)):
            rows.append({"metric": metric, "method": method, "parameter": "", "index": "skipped: missing values",
                         "value": np.nan, "confidence": np.nan})
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if method == "sobol":
                from SALib.analyze import sobol
                res = sobol.analyze(problem, y, calc_second_order=False, seed=_seed(seed))
                pairs = (("S1", "S1_conf"), ("ST", "ST_conf"))
            else:
                from SALib.analyze import morris
                res = morris.analyze(problem, np.asarray(points, dtype=float), y, num_levels=4, seed=_seed(seed))
                pairs = (("mu", None), ("mu_star", "mu_star_conf"), ("sigma", None))
        for j, name in enumerate(keys):
            for idx, conf in pairs:
                rows.append({"metric": metric, "method": method, "parameter": name, "index": idx,
                             "value": float(res[idx][j]),
                             "confidence": float(res[conf][j]) if conf else np.nan})
    return rows
