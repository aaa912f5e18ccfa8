"""PNG charts of a run in ``plots/``: wafer output, mineral prices (China vs ex-China), stocks and days of cover,
industry output. Each shows the scenario's replication median with its p05–p95 band, the baseline mean as a
dashed line, and dated markers where measures took effect (replication 0)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..api import Result

DPI = 90


def _step(res: "Result") -> int:
    """Plot every n-th day: at most ~400 points a line, plenty for a 6-inch chart."""
    return max(1, res.scenario.days // 400)


def _dates(res: "Result") -> np.ndarray:
    sc = res.scenario
    start = np.datetime64(sc.start.isoformat(), "D")
    return start + np.arange(0, sc.days, _step(res))


def _panel(ax, res: "Result", key: str, label: str, color: str) -> None:
    k = _step(res)
    S = res.daily(key)[:, ::k]
    B = res.daily(key, "baseline")[:, ::k]
    x = _dates(res)
    if S.shape[0] > 1:
        pct = np.nanpercentile if np.isnan(S).any() else np.percentile
        lo, mid, hi = pct(S, [5, 50, 95], axis=0)
        ax.fill_between(x, lo, hi, color=color, alpha=0.25, linewidth=0)
    else:
        mid = S[0]
    ax.plot(x, mid, color=color, linewidth=1.2, label=f"{label}")
    ax.plot(x, np.nanmean(B, axis=0), color=color, linewidth=0.9, linestyle="--", alpha=0.8,
            label=f"{label} baseline")


def _markers(ax, res: "Result") -> None:
    ev = res.events
    if ev.empty:
        return
    eff = ev[(ev["scenario"] != "baseline") & (ev["replication"] == 0) & (ev["event"].isin(["effective",
                                                                                             "ended"]))]
    for i, r in enumerate(eff.itertuples(index=False)):
        d = np.datetime64(r.date, "D")
        ax.axvline(d, color="grey", linewidth=0.7, linestyle=":" if r.event == "ended" else "-")
        ax.annotate(f" {r.entity} {r.event}", (d, 0.96 - 0.07 * (i % 6)), xycoords=("data", "axes fraction"),
                    fontsize=6, va="top", ha="left", color="dimgrey")


def _figure(res: "Result", groups: list[tuple[str, list[tuple[str, str]]]], unit_of, path: Path,
            title: str) -> None:
    import matplotlib.pyplot as plt
    n = len(groups)
    if n == 0:
        return
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 2.8 * rows), squeeze=False, dpi=DPI)
    colors = ["tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple"]
    for ax, (gtitle, keys) in zip(axes.flat, groups):
        for i, (key, label) in enumerate(keys):
            _panel(ax, res, key, label, colors[i % len(colors)])
        _markers(ax, res)
        ax.set_title(gtitle, fontsize=9)
        ax.set_ylabel(unit_of(keys[0][0]), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="lower right")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{res.scenario.name}: {title}", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.08, top=0.86, hspace=0.5, wspace=0.2)
    fig.savefig(path)
    plt.close(fig)


def write_plots(res: "Result", folder: Path) -> list[Path]:
    """Write the charts that the run has series for; returns the files written."""
    import matplotlib
    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    info = res.pairs[0].scenario.info
    unit_of = lambda k: info[k].unit  # noqa: E731
    touched = _touched_minerals(res)
    written = []
    specs = {
        "wafer_output.png": ("Chinese wafer output by fab class",
                             [(k.rsplit(".", 1)[0].removeprefix("fabs."), [(k, "wafer output")])
                              for k in info if k.startswith("fabs.") and k.endswith(".wafer_output")
                              and k.count(".") == 2]),
        "prices.png": ("mineral prices, China vs ex-China",
                       [(m, [(f"{m}.price_ex_china", "ex-China"), (f"{m}.price_china", "China")])
                        for m in touched if f"{m}.price_ex_china" in info and f"{m}.price_china" in info]),
        "stocks.png": ("industry stocks, days of cover (targeted importers)",
                       [(f"{m}.{r}", [(f"{m}.{r}.days_of_cover", "days of cover")])
                        for m, r in _touched_pairs(res) if f"{m}.{r}.days_of_cover" in info]),
        "industry_output.png": ("downstream output",
                                [(k.rsplit(".", 1)[0].removeprefix("industries."), [(k, "output")])
                                 for k in info if k.startswith("industries.") and
                                 (k.endswith(".output") or k.endswith("china_chip_supply.output_value"))]),
    }
    for fname, (title, groups) in specs.items():
        if groups:
            _figure(res, groups[:8], unit_of, folder / fname, title)
            written.append(folder / fname)
    return written


def _touched_pairs(res: "Result") -> list[tuple[str, str]]:
    out = []
    for cm in res.scenario.countermeasures:
        for m in cm.mineral:
            for r in cm.against:
                if r != "all" and (m, r) not in out:
                    out.append((m, r))
    return out


def _touched_minerals(res: "Result") -> list[str]:
    ms = [m for cm in res.scenario.countermeasures for m in cm.mineral]
    return list(dict.fromkeys(ms)) or ["gallium", "germanium", "graphite_natural"]
