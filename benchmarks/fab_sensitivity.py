"""Summarise a Morris/Sobol sweep of the fab assumptions (issue 13): which parameters move the headline most,
and the spread of the headline over the sampled ranges. Reads a sweep folder written by ``simulate sweep``.

Headline: China's chip supply value lost (``industries.china_chip_supply.output_value.lost``, USD) and its
largest drop (``.max_drop_pct``), plus total wafers lost over the fab classes.

Usage: python benchmarks/fab_sensitivity.py SWEEP_DIR [SWEEP_DIR ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HEADLINES = ("industries.china_chip_supply.output_value.max_drop_pct",
             "industries.china_chip_supply.output_value.lost")


def summarise(folder: Path) -> str:
    sens = pd.read_csv(folder / "sensitivity.csv")
    out = pd.read_csv(folder / "outcomes.csv")
    lost_cols = [c for c in out.columns if c.startswith("fabs.") and c.endswith(".wafer_output.lost")]
    out["fabs.total.wafer_output.lost"] = out[lost_cols].sum(axis=1)
    lines = [f"== {folder} ({len(out)} runs)"]
    for h in HEADLINES + ("fabs.total.wafer_output.lost",):
        v = out[h].to_numpy(dtype=float) if h in out else np.array([])
        v = v[np.isfinite(v)]
        if v.size:
            q = np.percentile(v, [5, 50, 95])
            lines.append(f"{h}: min {v.min():.4g}  p05 {q[0]:.4g}  p50 {q[1]:.4g}  p95 {q[2]:.4g}  "
                         f"max {v.max():.4g}")
        s = sens[(sens.metric == h) & (sens["index"].isin(["mu_star", "ST"]))]
        if len(s):
            s = s.sort_values("value", ascending=False)
            lines += [f"    {r.parameter:55s} {r['index']} {r.value:.4g}" for _, r in s.iterrows()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    for f in ap.parse_args().folders:
        print(summarise(f))


if __name__ == "__main__":
    main()
