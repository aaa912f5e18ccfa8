"""Charts of a run in ``plots/``, each as a 150 dpi PNG and an SVG, for a briefing.

One figure per kind of headline series (``wafer_output.png``, ``prices.png`` for ``price_ex_china`` with its
``price_china`` sibling, ``industry_output.png``, ``output_value.png`` ...) and ``stocks.png`` for the days of
cover of the entities the scenario names. Figures are built from whatever series the run recorded (their
``headline`` flag, entity, metric and unit), not from a fixed list, and a panel is drawn only where the
scenario moves its series away from the baseline; panels are ordered by what the scenario is about
(``report.relevance``).

Each panel shows the scenario's replication median (solid), the p05–p95 band across replications (shaded) and
the baseline mean (dashed); a legend under the title says so, and panels with two series (ex-China and China
prices) name them in their own legend. The measures' announcement (dotted) and effect (solid grey)
dates of replication 0 are vertical lines tagged with small numbers; the numbers are explained under the
figure, so labels never collide or run off the edge.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..api import Result

DPI = 150
MAX_PANELS = 8
MOVED = 0.005          # a panel is drawn when the scenario median leaves the baseline by more than 0.5%
FILE_OF_METRIC = {"wafer_output": "wafer_output", "price_ex_china": "prices", "output": "industry_output",
                  "days_of_cover": "stocks"}
TITLE_OF_METRIC = {"wafer_output": "Chinese wafer output by fab class", "price_ex_china": "prices, China vs ex-China",
                   "output": "downstream output", "days_of_cover": "days of cover (regions the scenario names)"}
COLORS = ["tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple"]


def _step(res: "Result") -> int:
    """Plot every n-th day: at most ~400 points a line, plenty for a 6-inch chart."""
    return max(1, res.scenario.days // 400)


def _dates(res: "Result") -> np.ndarray:
    sc = res.scenario
    start = np.datetime64(sc.start.isoformat(), "D")
    return start + np.arange(0, sc.days, _step(res))


def median_of_rows(S: np.ndarray) -> np.ndarray:
    """``numpy.median(S, axis=0)`` of an array without NaN, bit for bit (the middle value, or the two middle
    values' sum halved, a zero median being +0.0 as numpy's mean makes it), from one sort of the days' short rows:
    ~80 µs for 20 replications × 1,096 days against ~330 µs (the headline's chart plan looks at 183 series,
    alone in the parent before the charts start)."""
    n = S.shape[0]
    srt = np.sort(S.T, axis=1)
    mid = srt[:, n // 2] + 0.0 if n % 2 else (srt[:, n // 2 - 1] + 0.0 + srt[:, n // 2]) / 2.0
    return mid


def moved(res: "Result", key: str) -> bool:
    """True when the scenario's median leaves the baseline mean by more than ``MOVED`` of its scale."""
    S, B = res.daily(key), res.daily(key, "baseline")
    if np.isnan(S).all() or np.isnan(B).all():
        return False
    with np.errstate(invalid="ignore"):
        # recorded series hold no NaN (runner.check_numbers): the sorted median is the same, and ~10x faster
        mid = np.nanmedian(S, axis=0) if np.isnan(S).any() else median_of_rows(S)
        base = np.nanmean(B, axis=0)
    scale = max(float(np.nanmax(np.abs(base))) if np.any(~np.isnan(base)) else 0.0, 1e-12)
    return bool(np.nanmax(np.abs(mid - base)) > MOVED * scale) if np.any(~np.isnan(mid - base)) else False


def _panel(ax, res: "Result", key: str, label: str, color: str) -> None:
    k = _step(res)
    S = res.daily(key)[:, ::k]
    B = res.daily(key, "baseline")[:, ::k]
    x = _dates(res)
    with np.errstate(invalid="ignore"):
        if S.shape[0] > 1:
            # recorded series hold no NaN (runner.check_numbers): the plain percentile is the same, and fast
            pct = np.nanpercentile if np.isnan(S).any() else np.percentile
            lo, mid, hi = pct(S, [5, 50, 95], axis=0)
            ax.fill_between(x, lo, hi, color=color, alpha=0.22, linewidth=0)
        else:
            mid = S[0]
        ax.plot(x, mid, color=color, linewidth=1.4, label=label)
        ax.plot(x, np.nanmean(B, axis=0), color=color, linewidth=1.0, linestyle="--", alpha=0.85)


def _key_legend(fig, n: int, y: float) -> None:
    """One legend for the whole figure saying what line, band and dashes are."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Line2D([], [], color="dimgrey", linewidth=1.4,
                      label="scenario median" if n > 1 else "scenario"),
               Line2D([], [], color="dimgrey", linewidth=1.0, linestyle="--", label="baseline (no measures), mean")]
    if n > 1:
        handles.insert(1, Patch(color="dimgrey", alpha=0.25, label=f"p05–p95 across {n} replications"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, y))


def measure_dates(res: "Result") -> list[tuple[np.datetime64, str, str]]:
    """(date, measure id, announced|effective|ended) of replication 0's measures, by date."""
    ev = res.table("events")
    if ev.empty:
        return []
    ids = {m.id for m in res.scenario.measures}
    kinds = {"announced", "effective", "ended"}
    start = np.datetime64(res.scenario.start.isoformat(), "D")
    end = start + res.scenario.days
    out = []
    for r in ev.itertuples():
        if r.scenario == "baseline" or r.replication != 0 or r.entity not in ids or r.event not in kinds:
            continue
        d = np.datetime64(str(r.date)[:10], "D")
        if start <= d < end:
            out.append((d, str(r.entity), str(r.event)))
    return sorted(out, key=lambda t: (t[0], t[1]))


def _tags(marks: list) -> list[tuple[np.datetime64, str, int]]:
    """One numbered tag per distinct date (several events on a day share a tag)."""
    out: list[tuple[np.datetime64, str, int]] = []
    for d, _, ev in marks:
        if not out or out[-1][0] != d:
            out.append((d, ev, len(out) + 1))
        elif ev != "announced":      # a day with an effect or an end is drawn solid
            out[-1] = (d, ev, out[-1][2])
    return out


def _markers(ax, marks: list, span_days: int) -> None:
    tags = _tags(marks)
    last = None
    row = 0
    for d, ev, n in tags:
        ax.axvline(d, color="grey", linewidth=0.8, linestyle=":" if ev == "announced" else "-", alpha=0.8)
        close = last is not None and (d - last).astype(int) < span_days * 0.04
        row = (row + 1) % 3 if close else 0
        last = d
        ax.annotate(str(n), (d, 1.0 - 0.09 * row), xycoords=("data", "axes fraction"), fontsize=7,
                    va="top", ha="center", color="black",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="grey", lw=0.5))


def _footnote(marks: list, max_chars: int = 150) -> str:
    tags = {d: n for d, _, n in _tags(marks)}
    parts = [f"{tags[d]} {mid} {ev} {str(d)}" for d, mid, ev in marks]
    lines, cur = [], ""
    for p in parts:
        if cur and len(cur) + len(p) > max_chars:
            lines.append(cur)
            cur = ""
        cur += ("; " if cur else "") + p
    if cur:
        lines.append(cur)
    return "\n".join(["measures (replication 0; dotted line = announced, solid = in effect):"] + lines) \
        if lines else ""


#: the panels' tick labels and grid, as matplotlib's settings while a figure is made and drawn (read by
#: ``report.panel_axes``, which draws them); text drawn without hinting: FreeType's autohinter (matplotlib's
#: default, ``force_autohint``) reworks every glyph it draws, and at 150 dpi unhinted text reads the same (a
#: label may move by a pixel). The headline's six figures in one process: 1.72 → 1.57 CPU-s (2026-12-06, best of
#: 3; ``native`` 1.70, ``auto`` 1.66). The SVGs hold their text as text, unchanged.
PANEL_STYLE = {"xtick.labelsize": 9, "ytick.labelsize": 9, "axes.grid": True, "axes.grid.which": "major",
               "axes.grid.axis": "both", "grid.alpha": 0.25, "text.hinting": "no_hinting"}


def _figure(res: "Result", groups: list[tuple[str, list[tuple[str, str]]]], unit_of, path: Path,
            title: str) -> list[Path]:
    import matplotlib
    with matplotlib.rc_context(PANEL_STYLE):
        return _draw_figure(res, groups, unit_of, path, title)


def _draw_figure(res: "Result", groups: list[tuple[str, list[tuple[str, str]]]], unit_of, path: Path,
                 title: str) -> list[Path]:
    import matplotlib.pyplot as plt

    from .panel_axes import draw_panel_axes
    n = len(groups)
    if n == 0:
        return []
    marks = measure_dates(res)
    cols = 2 if n > 1 else 1
    note = _footnote(marks, 95 if cols == 1 else 200)
    rows = (n + cols - 1) // cols
    extra = 0.16 * (note.count("\n") + 1) + 0.1 if note else 0.0
    height = 3.3 * rows + extra + 1.4
    fig, axes = plt.subplots(rows, cols, figsize=(7.2 * cols, height), squeeze=False, dpi=DPI)
    for ax, (gtitle, keys) in zip(axes.flat, groups):
        for i, (key, label) in enumerate(keys):
            _panel(ax, res, key, label, COLORS[i % len(COLORS)])
        _markers(ax, marks, res.scenario.days)
        ax.set_title(gtitle, fontsize=11, y=1.0)   # where matplotlib would put it (no ticks on top), unsearched
        ax.set_ylabel(unit_of(keys[0][0]), fontsize=10)
        for axis in (ax.xaxis, ax.yaxis):     # a scale's offset ("1e9") at matplotlib's default size, as before
            axis.get_offset_text().set_fontsize("medium")   # tick labels followed PANEL_STYLE (see there)
        if len(keys) > 1:
            ax.legend(fontsize=8, loc="best", framealpha=0.85)
    x_ticks = _date_ticks(list(axes.flat)[:n])
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{res.scenario.name}: {title}", fontsize=13, y=1 - 0.12 / height, va="top")
    _key_legend(fig, res.n_replications, 1 - 0.42 / height)
    bottom_in = extra + 0.4
    fig.subplots_adjust(left=0.08 if cols == 2 else 0.12, right=0.98, bottom=bottom_in / height,
                        top=1 - 0.95 / height, hspace=0.45, wspace=0.22)
    for ax, x in zip(axes.flat, x_ticks):        # once the panels' limits and places are final
        draw_panel_axes(ax, x)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7.5, ha="left", va="bottom", color="dimgrey")
    png, svg = path.with_suffix(".png"), path.with_suffix(".svg")
    _save_png(fig, png)
    fig.savefig(svg, metadata={"Date": None})   # no timestamp: same run, same bytes
    plt.close(fig)
    return [png, svg]


def _date_ticks(axes: list) -> list[tuple[list[float], list[str], str]]:
    """The date ticks of each panel: (ticks, labels, offset) where ``AutoDateLocator(minticks=4, maxticks=8)``
    puts them and as ``ConciseDateFormatter`` labels them (a year once, in the offset, then months), worked out
    once for the x range all panels share instead of again for every panel at each drawing (PNG, then SVG)."""
    import matplotlib.dates as mdates
    done: dict[tuple[float, float], tuple[list[float], list[str], str]] = {}
    out = []
    for ax in axes:
        lim = tuple(ax.get_xlim())        # the final x range: every artist of the panel is in place
        if lim not in done:
            loc = mdates.AutoDateLocator(minticks=4, maxticks=8)
            fmt = mdates.ConciseDateFormatter(loc)
            ax.xaxis.set_major_locator(loc)
            ax.xaxis.set_major_formatter(fmt)
            ticks = [float(t) for t in ax.xaxis.get_majorticklocs()]
            done[lim] = (ticks, fmt.format_ticks(ticks), fmt.get_offset())
        out.append(done[lim])
    return out


def _save_png(fig, path: Path) -> None:
    """The figure as a PNG at ``DPI``: the pixels ``savefig`` would write, without the alpha channel where every
    pixel is opaque (a white figure: always), written by :mod:`.png` (unfiltered rows: files of the same size as
    Pillow's encoder gives for a chart, in about half the time)."""
    import matplotlib
    from .png import write_png
    fig.canvas.draw()                             # the figure's own dpi (``DPI``), as ``savefig(dpi=DPI)``
    rgba = np.asarray(fig.canvas.buffer_rgba())
    opaque = bool(rgba[..., 3].min() == 255)
    write_png(path, rgba[..., :3] if opaque else rgba, DPI,
              f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")


def chart_groups(res: "Result") -> dict[str, tuple[str, list[tuple[str, list[tuple[str, str]]]]]]:
    """File stem → (title, panels); each panel (title, [(key, label), ...]). Built from the recorded series."""
    from .relevance import order_keys
    info = res.info
    heads = {k for k, i in info.items() if i.headline}
    imp = res.table("impacts")
    named = {str(e) for e, rel in zip(imp.column("entity"), imp.column("relevance")) if rel > 0}
    by_metric: dict[str, list[str]] = {}
    for k, i in info.items():
        if k in heads or (i.metric == "days_of_cover" and i.entity in named and "." in i.entity):
            by_metric.setdefault(i.metric, []).append(k)
    out = {}
    for metric, keys in by_metric.items():
        keys = order_keys(keys, {k: info[k].entity for k in keys}, heads, res.scenario)
        panels = []
        for k in keys:
            ent = info[k].entity
            series = [(k, metric.replace("_", " "))]
            if metric == "price_ex_china" and f"{ent}.price_china" in info:
                series = [(k, "ex-China"), (f"{ent}.price_china", "China")]
            if any(moved(res, key) for key, _ in series):
                panels.append((ent.removeprefix("industries."), series))
        if panels:
            stem = FILE_OF_METRIC.get(metric, metric)
            out[stem] = (TITLE_OF_METRIC.get(metric, metric.replace("_", " ")), panels[:MAX_PANELS])
    return out


#: one figure to draw: (file stem, title, panels) as :func:`chart_groups` gives them
Chart = tuple[str, str, list[tuple[str, list[tuple[str, str]]]]]


def prepare() -> None:
    """Load matplotlib for drawing to files (Agg, stable SVG ids). Called before chart processes are forked,
    so they share the loaded library instead of each importing it (~0.3 s)."""
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "simulator"   # stable ids inside the SVG
    matplotlib.rcParams["svg.fonttype"] = "none"        # SVG text as text: editable, searchable, smaller
    import matplotlib.dates  # noqa: F401
    import matplotlib.pyplot  # noqa: F401


def plan(res: "Result") -> list[Chart]:
    """The figures to draw, the one with most panels (the slowest to draw) first, so that processes sharing
    them (:mod:`.painters`) finish close together."""
    charts = [(stem, title, panels) for stem, (title, panels) in chart_groups(res).items()]
    return sorted(charts, key=lambda c: -len(c[2]))


def write_plots(res: "Result", folder: Path, part: int = 0, parts: int = 1, charts: list[Chart] | None = None,
                queue=None) -> list[Path]:
    """Write the charts where the scenario moves something; returns the files written (PNG and SVG). With
    ``parts`` > 1, only figures ``part``, ``part + parts``, ... of ``charts`` (default :func:`plan`); with a
    ``queue`` (:class:`.painters.ChartQueue`), the figures it hands out, one at a time, until none is left."""
    prepare()
    folder.mkdir(parents=True, exist_ok=True)
    charts = plan(res) if charts is None else charts
    info = res.info
    unit_of = lambda k: info[k].unit  # noqa: E731
    picks = iter(queue.take, None) if queue is not None else range(part, len(charts), parts)
    written: list[Path] = []
    for i in picks:
        stem, title, groups = charts[i]
        written += _figure(res, groups, unit_of, folder / f"{stem}.png", title)
        if queue is not None:
            queue.finish(i)
    return written
