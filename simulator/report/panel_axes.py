"""A chart panel's ticks, tick labels and grid lines, drawn as a few artists where matplotlib would draw each tick
as five.

matplotlib's ``Axis`` draws a tick as two tick marks, a grid line and two labels, artists it creates at the first
drawing of a figure (~0.8 ms a tick; the headline's six figures have 362 ticks), and at every drawing (the PNG,
then the SVG) it works out again which ticks are in view, where their labels' boxes are, and from them where the
axis label and the offset text (``1e9``; a date range's year) go. Here each panel's ticks are worked out once,
with the panel's own locator and formatter as matplotlib's drawing would use them (the same ticks, labels and
offset), and drawn as one collection of grid lines and one line of tick marks per axis, a text per label, and
the axis label and offset texts placed by matplotlib's own rules: labels ``size + pad`` points outside the
spine, the y label ``axes.labelpad`` clear of the widest tick label, the y offset ``OFFSETTEXTPAD`` above the
panel, the x offset that far under the tick labels.

The PNGs are pixel for pixel those matplotlib's own axis draws (the 68 charts of the 14 shipped scenarios,
checked 2026-12-06, and ``tests/test_ux_outputs.py``); the SVGs hold the same texts, a y label possibly a
fraction of a pixel apart (placed with the PNG's font metrics, where the SVG's own drawing would use its own).
The headline's six figures in one process: 2.28 → 1.79 CPU-s (2026-12-06).
"""
from __future__ import annotations

from typing import Any, Sequence

#: matplotlib's ``Axis.OFFSETTEXTPAD``: points between the tick labels (or the panel) and the offset text
OFFSETTEXTPAD = 3.0


def in_view(lo: float, hi: float, value: float, rtol: float = 1e-10) -> bool:
    """Whether a tick at ``value`` is drawn for the view ``lo .. hi`` (matplotlib's test, with its tolerance)."""
    a, b = (lo, hi) if lo <= hi else (hi, lo)
    tol = (b - a) * rtol
    return a - tol <= value <= b + tol


def y_ticks(ax: Any) -> tuple[list[float], list[str], str]:
    """(ticks in view, their labels, the offset text) of ``ax``'s y axis, from its locator and formatter as
    matplotlib's drawing would ask them: every located tick formatted together (the offset and the number of
    digits depend on all of them), then those in view kept."""
    axis = ax.yaxis
    locs = list(axis.get_major_locator()())
    fmt = axis.get_major_formatter()
    labels = fmt.format_ticks(locs)
    lo, hi = axis.get_view_interval()
    keep = [(float(t), s) for t, s in zip(locs, labels) if in_view(lo, hi, t)]
    return [t for t, _ in keep], [s for _, s in keep], fmt.get_offset()


def draw_panel_axes(ax: Any, x: tuple[Sequence[float], Sequence[str], str]) -> None:
    """Replace ``ax``'s tick drawing by a few artists: ``x`` = (ticks, labels, offset) of the x axis (worked out
    once for the x range the panels share, see ``plots._date_ticks``); the y axis's come from its own locator
    and formatter (:func:`y_ticks`). Call once the panel's data, limits and position are final."""
    import matplotlib as mpl
    from matplotlib import lines as mlines
    from matplotlib import transforms as mtrans
    from matplotlib.collections import LineCollection
    from matplotlib.ticker import NullFormatter, NullLocator
    rc = mpl.rcParams
    fig = ax.figure
    lo, hi = ax.get_xlim()
    xs = [(float(t), s) for t, s in zip(x[0], x[1]) if in_view(lo, hi, t)]
    ys, ylabels, y_offset = y_ticks(ax)
    x_offset = x[2]
    y_offset_size = ax.yaxis.get_offset_text().get_fontsize()
    x_offset_size = ax.xaxis.get_offset_text().get_fontsize()
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(NullLocator())
        axis.set_major_formatter(NullFormatter())
        axis.set_minor_locator(NullLocator())
    xtr, ytr = ax.get_xaxis_transform(), ax.get_yaxis_transform()
    grid = dict(colors=rc["grid.color"], linewidths=rc["grid.linewidth"], linestyles=rc["grid.linestyle"],
                alpha=rc["grid.alpha"], capstyle=rc["lines.solid_capstyle"],   # a grid line's Line2D caps
                zorder=1.5)                               # the axis's own place with ``axes.axisbelow: line``
    if rc["axes.grid"]:
        ax.add_collection(LineCollection([[(t, 0.0), (t, 1.0)] for t, _ in xs], transform=xtr, **grid),
                          autolim=False)
        ax.add_collection(LineCollection([[(0.0, t), (1.0, t)] for t in ys], transform=ytr, **grid),
                          autolim=False)
    size, pad = rc["xtick.major.size"], rc["xtick.major.pad"]
    ysize, ypad = rc["ytick.major.size"], rc["ytick.major.pad"]
    # (``add_artist``, not ``add_line``: the marks must not count in the panel's data limits)
    ax.add_artist(mlines.Line2D([t for t, _ in xs], [0.0] * len(xs), transform=xtr, linestyle="none",
                                marker=mlines.TICKDOWN, markersize=size, markeredgewidth=rc["xtick.major.width"],
                                color=rc["xtick.color"], clip_on=False, zorder=1.5))
    ax.add_artist(mlines.Line2D([0.0] * len(ys), ys, transform=ytr, linestyle="none", marker=mlines.TICKLEFT,
                                markersize=ysize, markeredgewidth=rc["ytick.major.width"], color=rc["ytick.color"],
                                clip_on=False, zorder=1.5))
    below = mtrans.offset_copy(xtr, fig, y=-(size + pad), units="points")
    xl = [ax.text(t, 0.0, s, transform=below, ha="center", va="top", fontsize=rc["xtick.labelsize"],
                  clip_on=False) for t, s in xs]
    left = mtrans.offset_copy(ytr, fig, x=-(ysize + ypad), units="points")
    yl = [ax.text(0.0, t, s, transform=left, ha="right", va="center_baseline", fontsize=rc["ytick.labelsize"],
                  clip_on=False) for t, s in zip(ys, ylabels)]
    renderer = fig.canvas.get_renderer()
    to_points = 72.0 / fig.dpi
    if y_offset:
        ax.text(0.0, 1.0, y_offset, transform=mtrans.offset_copy(ax.transAxes, fig, y=OFFSETTEXTPAD, units="points"),
                ha="left", va="baseline", fontsize=y_offset_size, clip_on=False)
    if x_offset:
        depth = max((t.get_window_extent(renderer).height for t in xl), default=0.0) * to_points
        ax.text(1.0, 0.0, x_offset, transform=mtrans.offset_copy(
            ax.transAxes, fig, y=-((size + pad) + depth + OFFSETTEXTPAD) if xl else -OFFSETTEXTPAD, units="points"),
            ha="right", va="top", fontsize=x_offset_size, clip_on=False)
    width = max((t.get_window_extent(renderer).width for t in yl), default=0.0) * to_points
    reach = (ysize + ypad) + width if yl else 0.0          # points left of the spine the tick labels reach
    panel = ax.get_position().width * fig.get_figwidth() * 72.0
    ax.yaxis.set_label_coords(-(reach + rc["axes.labelpad"]) / panel, 0.5)
