"""Outputs a briefing can use (issue 14): typed notebook frames, impacts.csv in the scenario's order, real
dates in the workbook, tables split at the spreadsheet row limit, progress lines off a terminal, the
terminal table with units and the questions the scenario asks, charts at 150 dpi with SVG twins."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.report import frames, tables
from simulator.report.terminal import headline_rows, headline_table, number
from simulator.sweep.progress import Progress

from .conftest import run_cli

SETS = ["horizon=150d"]


@pytest.fixture(scope="module")
def res():
    return simulator.run("scenarios/japan_servicing_ban.yaml", sets=SETS, replications=3, progress=False)


@pytest.fixture(scope="module")
def folder(res, tmp_path_factory):
    return res.write(tmp_path_factory.mktemp("ux") / "run", xlsx=True, plots=True)


def test_notebook_frames_have_datetime_dates_and_categorical_names(res):
    assert pd.api.types.is_datetime64_any_dtype(res.timeseries["date"])
    assert pd.api.types.is_datetime64_any_dtype(res.timeseries_wide["date"])
    assert pd.api.types.is_datetime64_any_dtype(res.events["date"])
    assert pd.api.types.is_datetime64_any_dtype(res.summary["p50_date"])
    for df, cols in ((res.timeseries, ("entity", "metric", "unit")), (res.summary, ("entity", "metric")),
                     (res.events, ("entity", "event")), (res.impacts, ("entity", "metric", "unit"))):
        for c in cols:
            assert isinstance(df[c].dtype, pd.CategoricalDtype), c
    assert res.timeseries["date"].iloc[0] == pd.Timestamp(res.scenario.start)
    # a pivot draws a time axis: the index is a DatetimeIndex
    wide = res.timeseries.query("entity == 'gallium_primary' and metric == 'price_ex_china'").pivot_table(
        index="date", columns="scenario", values="value", observed=True)
    assert isinstance(wide.index, pd.DatetimeIndex)


def test_typed_frames_write_the_same_csv_text_as_plain_ones(res, tmp_path):
    plain = frames.summary(res.scenario, res.pairs)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    tables.write_table(plain, a)
    tables.write_table(res.summary, b)
    assert a.read_bytes() == b.read_bytes()
    assert ",," in a.read_text()            # empty p50_date stays empty (NaT), not "NaT"
    assert "NaT" not in b.read_text()


def test_impacts_csv_columns_and_scenario_order(res, folder):
    imp = pd.read_csv(folder / "impacts.csv")
    assert list(imp.columns) == frames.IMPACT_COLUMNS
    assert set(imp["statistic"]) <= set(frames.IMPACT_STATISTIC_DOC)
    # the difference is scenario - baseline and its band holds the mean difference
    scale = imp[["scenario", "baseline"]].abs().max(axis=1)
    assert ((imp["difference"] - (imp["scenario"] - imp["baseline"])).abs() <= 1e-8 * scale + 1e-9).all()
    ok = imp["difference_p05"].notna()
    assert (imp.loc[ok, "difference_p05"] <= imp.loc[ok, "difference"] + 1e-6).all()
    assert (imp.loc[ok, "difference"] <= imp.loc[ok, "difference_p95"] + 1e-6).all()
    # what the scenario is about comes first: entities it names (relevance > 0) before the rest,
    # and Japanese cars (a region the countermeasures target) far above the middle of the table
    rel = imp["relevance"].to_numpy()
    named = rel > 0
    assert named[: named.sum()].all()
    cars = imp.index[imp["entity"] == "industries.japan_cars"]
    assert len(cars) and cars[0] < named.sum()
    assert imp.loc[0, "entity"].split(".")[0] in ("gallium_primary", "gallium_refined", "fabs", "graphite_flake",
                                                  "graphite_spherical") or imp.loc[0, "headline"]


def test_relevance_follows_the_measures_not_fixed_names(res):
    from simulator.report.relevance import entity_score, scenario_words
    words = scenario_words(res.scenario)
    assert entity_score("gallium_primary.Japan", words) > entity_score("antimony_refined.Japan", words) > \
        entity_score("antimony_refined.US", words)
    sc2 = res.scenario.model_copy(update={"countermeasures": [], "controls": []})
    assert entity_score("gallium_primary.Japan", scenario_words(sc2)) == 0


def test_xlsx_has_real_date_cells_formats_frozen_header_and_filter(folder):
    import openpyxl
    wb = openpyxl.load_workbook(folder / "japan_servicing_ban.xlsx")
    assert wb.sheetnames[0] == "impacts" and {"summary", "timeseries_wide", "events"} <= set(wb.sheetnames)
    ws = wb["timeseries_wide"]
    assert ws["A1"].value == "date"
    assert ws["A2"].is_date and ws["A2"].value.date().isoformat() == "2025-01-01"
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref.startswith("A1:")
    assert ws["B2"].number_format != "General"
    ev = wb["events"]
    col = [c.value for c in ev[1]].index("date") + 1
    assert ev.cell(row=2, column=col).is_date
    summ = wb["summary"]
    assert summ.freeze_panes == "A2" and summ["A1"].font.bold
    assert summ.column_dimensions["B"].width > 8


def test_tables_over_the_row_limit_are_split_with_a_note(tmp_path):
    df = pd.DataFrame({"a": range(25), "b": [f"x{i}" for i in range(25)]})
    note = tables.write_table(df, tmp_path / "t.csv", max_rows=10)
    assert "3 parts" in note and not (tmp_path / "t.csv").exists()
    parts = [tmp_path / f"t.part{i}.csv" for i in (1, 2, 3)]
    back = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(back, df)
    assert tables.write_table(df, tmp_path / "u.csv", max_rows=25) == "" and (tmp_path / "u.csv").is_file()
    assert tables.MAX_DATA_ROWS == 1_048_575


def test_split_note_reaches_the_manifest_and_terminal(res, tmp_path, monkeypatch):
    import json
    monkeypatch.setattr(tables, "MAX_DATA_ROWS", 5000)
    out = res.write(tmp_path / "r", plots=False)
    assert (out / "timeseries.part1.csv").is_file() and not (out / "timeseries.csv").exists()
    man = json.loads((out / "manifest.json").read_text())
    assert any("timeseries.csv" in n and "parts" in n for n in man["notes"])


def test_progress_lines_on_a_non_terminal_stderr(tmp_path):
    proc = run_cli("scenarios/japan_servicing_ban.yaml", "--out", str(tmp_path / "p"), "--replications", "2",
                   "--set", "horizon=60d", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if "replications" in x]
    assert lines and lines[-1].startswith("japan_servicing_ban: 2/2 replications") and "ETA" in lines[-1]
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stderr
    # --quiet: nothing on stderr, nothing on stdout
    q = run_cli("scenarios/japan_servicing_ban.yaml", "--out", str(tmp_path / "q"), "--replications", "2",
                "--set", "horizon=60d", "--no-plots", "--quiet")
    assert q.returncode == 0 and q.stderr == "" and q.stdout == ""
    # the header's time covers the whole run (simulation is a part of it)
    head = proc.stdout.splitlines()[0]
    assert "(simulation" in head
    total, sim = float(head.split(", ")[-1].split(" s")[0]), float(head.split("(simulation ")[1].split(" s")[0])
    assert total >= sim


def test_progress_plain_lines_are_periodic_not_per_item():
    s = io.StringIO()
    p = Progress(100, stream=s, unit="replications", plain_interval=3600)
    for _ in range(100):
        p.update()
    p.close()
    lines = s.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("0/100") and lines[1].startswith("100/100")


def test_terminal_table_has_units_full_names_and_the_asked_industry(res):
    text = headline_table(res.summary, res.headline_keys, scenario=res.scenario)
    assert "japan_cars.output" in text                       # asked about (Japan is targeted) though unchanged
    assert "USD/kg" in text and "price_ex_china" in text     # the price has its unit
    for line in text.splitlines()[2:]:
        assert "waf " not in line and "veh " not in line     # no cut units
    rows = headline_rows(res.summary, res.headline_keys)     # without the scenario: headline series only
    assert all(not r[0].startswith("gallium_primary.Japan") for r in rows)
    assert number(571234) == "571,000" and number(4.63e6) == "4.63 million" and number(17.4e9) == "17.4 billion"


def test_charts_are_150_dpi_png_with_svg_and_only_moved_panels(folder, res):
    from PIL import Image
    from simulator.report.plots import chart_groups, moved
    pngs = sorted((folder / "plots").glob("*.png"))
    assert pngs
    for p in pngs:
        assert p.with_suffix(".svg").is_file()
        dpi = Image.open(p).info.get("dpi")
        assert dpi and round(dpi[0]) >= 150
        svg = p.with_suffix(".svg").read_text()    # ticks drawn by report.panel_axes: no tick groups, labels
        assert 'id="xtick_' not in svg and 'id="ytick_' not in svg and 'id="LineCollection_' in svg
    for _, (_, panels) in chart_groups(res).items():
        for _, series in panels:
            assert any(moved(res, k) for k, _ in series)
    # an unchanged Japanese industry is not charted
    assert not any(ent == "japan_cars" for _, (_, panels) in chart_groups(res).items() for ent, _ in panels)


def test_chart_text_is_drawn_without_hinting(res, tmp_path, monkeypatch):
    """Every glyph of a chart's PNG is drawn unhinted (``plots.PANEL_STYLE``: FreeType's autohinter is the
    costliest part of drawing the text), and the setting does not outlive the drawing."""
    import matplotlib
    from matplotlib.backends import backend_agg
    from simulator.report import plots
    plots.prepare()
    seen = []
    real = backend_agg.get_hinting_flag

    def flag():
        seen.append(matplotlib.rcParams["text.hinting"])
        return real()
    monkeypatch.setattr(backend_agg, "get_hinting_flag", flag)
    charts = plots.plan(res)[:1]
    assert plots.write_plots(res, tmp_path, charts=charts)
    assert len(seen) > 20 and set(seen) == {"no_hinting"}
    assert matplotlib.rcParams["text.hinting"] != "no_hinting"     # matplotlib's own default again


def test_png_is_the_figure_without_its_alpha_and_svg_text_is_text(tmp_path):
    """An opaque figure is written as RGB (the pixels savefig gives, without the all-255 alpha channel); a
    figure with see-through pixels keeps its alpha. SVG text stays text (editable), not glyph outlines."""
    import matplotlib
    from PIL import Image
    from simulator.report import plots
    plots.prepare()
    import matplotlib.pyplot as plt
    for alpha in (1.0, 0.0):
        fig, ax = plt.subplots(figsize=(3, 2), dpi=plots.DPI)
        fig.patch.set_alpha(alpha)
        ax.plot([0, 1], [0, 1])
        ax.set_title("gallium")
        plots._save_png(fig, tmp_path / "a.png")
        fig.savefig(tmp_path / "b.png", dpi=plots.DPI)
        fig.savefig(tmp_path / "c.svg")
        plt.close(fig)
        a, b = Image.open(tmp_path / "a.png"), Image.open(tmp_path / "b.png")
        assert a.mode == ("RGB" if alpha == 1.0 else "RGBA")
        assert np.array_equal(np.asarray(a.convert("RGBA")), np.asarray(b.convert("RGBA")))
        assert round(a.info["dpi"][0]) == plots.DPI
        assert ">gallium</text>" in (tmp_path / "c.svg").read_text()
    assert matplotlib.rcParams["svg.fonttype"] == "none"


def test_png_writer_keeps_every_pixel_and_the_resolution(tmp_path):
    """``report.png`` (unfiltered rows, zlib): the file decodes to the very pixels given, RGB and RGBA, opens at
    its dpi, names its software, and the same pixels give the same bytes."""
    from PIL import Image
    from simulator.report.png import png_bytes, write_png
    rng = np.random.default_rng(3)
    for channels in (3, 4):
        px = rng.integers(0, 256, size=(37, 53, channels), dtype=np.uint8)
        px[5:9] = 255                                         # a white band, as on a chart
        write_png(tmp_path / "a.png", px, 150, "test")
        im = Image.open(tmp_path / "a.png")
        assert im.mode == ("RGB" if channels == 3 else "RGBA")
        assert np.array_equal(np.asarray(im), px)
        assert round(im.info["dpi"][0]) == 150 and im.info["Software"] == "test"
        assert (tmp_path / "a.png").read_bytes() == png_bytes(px.copy(), 150, "test")
    with pytest.raises(ValueError, match="uint8"):
        png_bytes(np.zeros((4, 4, 3)), 150)


def test_panel_axes_draw_what_matplotlibs_axis_would():
    """The charts' ticks, tick labels, grid lines, axis label and offset texts are drawn by
    ``report.panel_axes`` as a few artists, with the date ticks worked out once per x range
    (``plots._date_ticks``): the very pixels and texts of matplotlib's own axis with
    ``AutoDateLocator(minticks=4, maxticks=8)`` and ``ConciseDateFormatter``, for a range of years and one of
    weeks (its year and month in the offset), with y values written with an offset (``1e9``) and a y label; and no tick
    objects are made at drawing (matplotlib's own axis makes one per tick, and labels ticks out of view)."""
    import matplotlib
    import matplotlib.dates as mdates
    from matplotlib.text import Text
    from simulator.report import plots
    from simulator.report.panel_axes import draw_panel_axes
    plots.prepare()
    import matplotlib.pyplot as plt

    def drawn(lean: bool, days: int) -> tuple[np.ndarray, list[str], int]:
        with matplotlib.rc_context(plots.PANEL_STYLE):
            fig, axes = plt.subplots(1, 2, figsize=(6, 2.4), dpi=80)
            x = np.datetime64("2026-03-01") + np.arange(days)
            for ax in axes:
                ax.plot(x, 3e9 + 1e7 * np.sin(np.arange(days) / 40.0))
                ax.set_ylabel("USD/day", fontsize=10)
                for axis in (ax.xaxis, ax.yaxis):
                    axis.get_offset_text().set_fontsize("medium")
            fig.subplots_adjust(left=0.2, bottom=0.3, wspace=0.6)
            if lean:
                for ax, ticks in zip(axes, plots._date_ticks(list(axes))):
                    draw_panel_axes(ax, ticks)
            else:
                for ax in axes:
                    loc = mdates.AutoDateLocator(minticks=4, maxticks=8)
                    ax.xaxis.set_major_locator(loc)
                    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
            fig.canvas.draw()
            out = np.array(fig.canvas.buffer_rgba())
            texts = sorted(t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text())
            ticks = len(axes[1].xaxis.majorTicks) + len(axes[1].yaxis.majorTicks)
            plt.close(fig)
            return out, texts, ticks

    for days in (1096, 40):
        (mpl_px, mpl_texts, mpl_ticks), (px, texts, ticks) = drawn(False, days), drawn(True, days)
        assert set(texts) <= set(mpl_texts) and "1e9" in texts   # (matplotlib's include ticks out of view)
        assert ("2026-Apr" in texts) == (days == 40)       # the weeks' year and month, in the x offset
        assert np.array_equal(px, mpl_px)
        assert ticks <= 2 < 8 <= mpl_ticks


def test_chart_median_is_numpys_bit_for_bit():
    """``plots.median_of_rows`` (which panels move) gives ``numpy.median(S, axis=0)``'s very bits: odd and even
    counts of replications, ties, signed zeros, one replication."""
    from simulator.report.plots import median_of_rows
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 20, 21):
        S = rng.normal(size=(n, 97)) * 10.0 ** rng.integers(-8, 9, size=(n, 97))
        S[:, :7] = np.round(S[:, :7])                         # ties
        S[:, 7:9] = np.where(rng.random((n, 2)) < 0.5, 0.0, -0.0)
        got, want = median_of_rows(S), np.median(S, axis=0)
        assert got.shape == want.shape and got.tobytes() == want.tobytes()


def test_report_html_written_with_the_run(folder):
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert '<table id="headline">' in text and "japan_servicing_ban" in text
    assert "Where every number came from" in text and "source" in text


def test_impacts_numbers_are_those_of_one_series_at_a_time(res):
    """``frames.impacts`` takes the means and percentiles of all series with finite numbers at once: every
    number equals the series-by-series formula bit for bit, and a series with a NaN or an infinite replication
    still goes the NaN-aware way."""
    import math
    red = frames.reduced(res.scenario, res.runs)
    keys = red.layout.impact_keys
    red.stats[0, 3, 1] = np.nan                      # a replication without the statistic
    red.stats[1, 5, 0] = np.inf
    with np.errstate(invalid="ignore"):              # (the percentiles of an infinite difference)
        imp = frames.impacts(res.scenario, red).set_index(["entity", "metric"])
    for c, key in enumerate(keys):
        s, b = red.stats[0, c], red.stats[1, c]
        d = (s - b)[~np.isnan(s - b)]
        with np.errstate(invalid="ignore"):
            want = [float(np.nanmean(b)) if np.any(~np.isnan(b)) else math.nan,
                    float(np.nanmean(s)) if np.any(~np.isnan(s)) else math.nan,
                    float(d.mean()) if d.size else math.nan,
                    *(np.percentile(d, [5, 95]) if d.size else (math.nan, math.nan))]
        i = red.info[key]
        got = imp.loc[(i.entity, i.metric), ["baseline", "scenario", "difference", "difference_p05",
                                             "difference_p95"]].to_numpy(dtype=float)
        assert np.array(want, dtype=float).tobytes() == got.tobytes(), key


def test_terminal_percent_is_the_medians_own_change():
    """A measure that fires in 11 of 20 replications: the median peak is 4,800 against a baseline of 2,400, the
    mean 3,720. The row shows the median, so its percent is the median's (+100%), not the mean's (+55%)."""
    import pandas as pd
    from simulator.report.frames import SUMMARY_COLUMNS
    base = dict(scenario="s", entity="graphite_spherical", unit="USD/t", p50_date="", wilson_low=float("nan"),
                wilson_high=float("nan"), replications=20)
    rows = [dict(base, metric="price_ex_china.peak", baseline=2400.0, mean=3720.0, p05=2400.0, p50=4800.0,
                 p95=4800.0, change_pct=55.0, probability=float("nan")),
            dict(base, metric="price_ex_china.days_above_50pct", unit="days", baseline=0.0, mean=500.0, p05=0.0,
                 p50=938.0, p95=940.0, change_pct=float("nan"), probability=0.55),
            dict(base, entity="graphite_spherical.Japan", metric="consumption.total", unit="t", baseline=1000.0,
                 mean=900.0, p05=700.0, p50=950.0, p95=1000.0, change_pct=-10.0, probability=float("nan")),
            dict(base, entity="graphite_spherical.Japan", metric="unmet_demand.total", unit="t", baseline=1e-15,
                 mean=7.0, p05=0.0, p50=6.0, p95=13.0, change_pct=float("nan"), probability=float("nan"))]
    summary = pd.DataFrame(rows)[SUMMARY_COLUMNS]
    out = {r[0]: r[1] for r in headline_rows(summary, {"graphite_spherical.price_ex_china",
                                                       "graphite_spherical.Japan.consumption",
                                                       "graphite_spherical.Japan.unmet_demand"})}
    assert out["graphite_spherical.price_ex_china"] == "peak 4,800 USD/t (+100%)"
    assert out["graphite_spherical.Japan.consumption"] == "total 950 t (-5%)"
    assert out["graphite_spherical.Japan.unmet_demand"] == "total 6 t"       # no percent of a baseline of ~0


def test_large_and_tiny_figures_read_as_words_not_exponents():
    """A region's GDP over three years is trillions of USD and its change a few hundredths of a percent: the
    terminal and the report say ``12.6 trillion`` and ``-0.03%`` (they printed ``1.26e+04 billion`` and ``-0.0%``)."""
    from simulator.report.html import _pct
    from simulator.report.terminal import _short
    assert number(1.26e13) == "12.6 trillion" and number(-5.34e13) == "-53.4 trillion"
    assert number(4.29e9) == "4.29 billion"
    assert _short(1.26e13) == "12.6T" and _short(16.8e9) == "16.8G"
    assert _pct(-0.034) == "-0.03%" and _pct(139.546) == "+139.5%" and _pct(0.0) == "+0.0%"


def test_a_targeted_regions_output_losses_are_kept_past_the_row_limit():
    """A scenario of many minerals against Japan: the prices and shortages fill the table's 14 rows before Japan's
    outputs, which used to be cut (``china_minerals_ban_japan``: its cars and GDP ranked 23rd and 27th). Japan's
    headline outputs that lost something are kept past the limit; an unchanged one, another region's and a series
    that is not a headline are not."""
    import pandas as pd
    from simulator import load_scenario
    from simulator.report.frames import SUMMARY_COLUMNS
    from simulator.report.terminal import MAX_ROWS
    sc = load_scenario("scenarios/china_minerals_ban_japan.yaml").scenario     # countermeasures against Japan
    nan = float("nan")
    base = dict(scenario="s", p50_date="", wilson_low=nan, wilson_high=nan, replications=5, probability=nan,
                change_pct=nan)

    def row(entity, metric, unit, baseline, p50):
        return dict(base, entity=entity, metric=metric, unit=unit, baseline=baseline, mean=p50, p05=p50, p50=p50,
                    p95=p50)
    rows = [row(f"gallium_g{i}", "price_ex_china.peak", "USD/kg", 100.0, 150.0 + i) for i in range(MAX_ROWS + 1)]
    rows += [row("industries.japan_cars", "output.lost", "vehicles", 0.0, 1000.0),
             row("industries.japan_optics", "output.lost", "USD", 0.0, 0.0),           # unchanged
             row("industries.eu_cars", "output.lost", "vehicles", 0.0, 500.0),         # a region not named
             row("gallium_g0.Japan", "consumption.lost", "t", 0.0, 5.0)]               # not a headline series
    heads = {f"gallium_g{i}.price_ex_china" for i in range(MAX_ROWS + 1)} | {
        "industries.japan_cars.output", "industries.japan_optics.output", "industries.eu_cars.output"}
    got = [r[0] for r in headline_rows(pd.DataFrame(rows)[SUMMARY_COLUMNS], heads, sc)]
    assert got[:MAX_ROWS] == [f"gallium_g{i}.price_ex_china" for i in range(MAX_ROWS)]
    assert got[MAX_ROWS:] == ["industries.japan_cars.output"]
