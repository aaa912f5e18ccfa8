"""``report.html``: a one-page briefing of a run that opens in any browser, offline.

Self-contained: inline CSS, charts embedded as ``data:`` PNG images, no script and no network request. Sections:
the question the scenario asks (its header comment and description), the headline table (the terminal's, with
bands), the impacts most relevant to the scenario (``impacts.csv``), the timeline of measures and triggered
events (replication 0, and how often each measure fired across replications), the charts, the labelled
assumptions behind the series the scenario is about, the scenario's own overrides, and where every number came
from (all world parameters with value, unit and source or assumption and range).
"""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..units import format_duration
from .frames import difference_moved
from .png import png_width
from .relevance import entity_score, scenario_words, tokens
from .terminal import HEAD, headline_rows, legend, number

if TYPE_CHECKING:
    from ..api import Result

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#1b1f24;background:#fff}
main{max-width:1100px;margin:0 auto;padding:1.5rem 1.5rem 4rem}
h1{font-size:1.7rem;margin:.2rem 0 .4rem}h2{font-size:1.25rem;margin:2rem 0 .6rem;border-bottom:1px solid #d0d7de}
.question{background:#f3f6fa;border-left:4px solid #2f6fb0;padding:.7rem 1rem;white-space:pre-wrap}
.facts{color:#57606a;font-size:.92rem}
table{border-collapse:collapse;font-size:.88rem;margin:.4rem 0 1rem;width:100%}
th,td{border-bottom:1px solid #e1e4e8;padding:.28rem .5rem;text-align:right;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
td.l,th.l{text-align:left}.note{color:#57606a;font-size:.85rem;white-space:pre-wrap}
.up{color:#b42318}.down{color:#175cd3}
img{max-width:100%;height:auto;border:1px solid #e1e4e8;margin:.4rem 0 1rem}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}
code{background:#f6f8fa;padding:0 .2rem}
"""
MAX_IMPACT_ROWS = 25
MAX_ASSUMPTIONS = 40


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(head: list[str], rows: list[list[str]], left: int = 1, ident: str = "", raw: bool = False) -> str:
    """An HTML table; the first ``left`` columns are left-aligned text. Cells are escaped unless ``raw``."""
    cls = lambda i: ' class="l"' if i < left else ""  # noqa: E731
    out = [f'<table{f" id={chr(34)}{ident}{chr(34)}" if ident else ""}><thead><tr>'
           + "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(head)) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{c if raw else _e(c)}</td>" for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def question(res: "Result") -> str:
    """The scenario file's leading comment lines (what it asks), else its description."""
    lines = []
    for line in res.loaded.text.splitlines():
        if line.startswith("#"):
            lines.append(line.lstrip("#").strip())
        elif line.strip() == "" and not lines:
            continue
        else:
            break
    text = " ".join(x for x in lines if x)
    return text or res.scenario.description or res.scenario.name


def _pct(x: float) -> str:
    """``+52.8%``; a change under 0.05% with one significant digit (``-0.03%``: a GDP's, which ``-0.0%`` hid)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:+.1g}%" if 0 < abs(x) < 0.05 else f"{x:+.1f}%"


def _impacts_section(res: "Result") -> str:
    df = res.table("impacts")
    if df.empty:
        return "<p>No series with impact metrics.</p>"
    show = df.where(lambda r: difference_moved(r.difference_p05, r.difference_p95)
                    and r.relevance > 0).head(MAX_IMPACT_ROWS)
    rows = []
    for r in show.itertuples():
        cls = "up" if r.difference > 0 else "down"
        rows.append([_e(f"{r.entity}.{r.metric}"), _e(r.statistic), _e(r.unit), _e(number(r.baseline)),
                     _e(number(r.scenario)), f'<span class="{cls}">{_e(number(r.difference))}</span>',
                     _e(_pct(r.change_pct)), _e(f"{number(r.difference_p05)} .. {number(r.difference_p95)}")])
    body = _table(["series", "statistic", "unit", "baseline", "scenario", "difference", "change",
                   "difference p05 .. p95"], rows, left=3, ident="impacts", raw=True)
    return (body + f'<p class="note">{len(show)} of {len(df)} series shown: those the scenario names or the model '
            f"marks as headline, and that moved. statistic: total = sum over the horizon, peak = highest day, "
            f"low = lowest day. All series in impacts.csv.</p>")


def _trigger_text(d: dict) -> str:
    """``after jp_ban, on effective, delay 30d, probability 0.8`` or ``when M below 0.9 ... for 30d``."""
    parts = []
    for k, v in d.items():
        if isinstance(v, dict):
            parts.append(f"{k} " + " ".join(f"{kk} {format_duration(vv) if kk in ('for', 'duration') else vv}"
                                            for kk, vv in v.items()))
        else:
            parts.append(f"{k} {format_duration(v) if k in ('delay', 'for') else v}")
    return ", ".join(parts)


def _timeline(res: "Result") -> str:
    sc = res.scenario
    n = sc.replications
    rows = []
    scen = [r for r in res.table("events").itertuples() if r.scenario != "baseline"]
    for m in sc.measures:
        what = ", ".join(getattr(m, "measures", []) or []) or f"{getattr(m, 'kind', '')} on {', '.join(m.mineral)}"
        when = (f"announced {m.announced_date()}, effective {m.effective}" if m.trigger is None else
                "trigger: " + _trigger_text(m.trigger.model_dump(exclude_none=True, by_alias=True)))
        fired = len({r.replication for r in scen if r.entity == m.id and r.event == "effective"})
        rows.append([m.id, m.by, ", ".join(m.against), what, when, f"{fired}/{n}"])
    out = _table(["measure", "by", "against", "what", "when", "replications in effect"], rows, left=5,
                 ident="measures")
    if scen:
        first: dict[tuple[str, str], list] = {}    # (entity, event) → [first date, count], in order of appearance
        for r in scen:
            if r.replication == 0:
                got = first.setdefault((r.entity, r.event), [r.date, 0])
                got[0], got[1] = min(got[0], r.date), got[1] + 1
        ids = {m.id for m in sc.measures}
        rows = [[str(date)[:10], ent, event, "" if ent in ids else (f"{count} times" if count > 1 else "")]
                for (ent, event), (date, count) in sorted(first.items(), key=lambda kv: kv[1][0])[:40]]
        out += ("<p>Replication 0, first occurrence of each event (all replications with their causes in "
                "events.csv):</p>" + _table(["date", "entity", "event", "occurrences"], rows, left=4))
    return out


#: a chart's pixels per CSS pixel on the page: its 150 dpi drawn at half size, so every chart shows at one
#: scale (a one-panel chart, half as wide as a two-column one, no longer fills the page with text twice as big)
CHART_PIXELS_PER_CSS_PX = 2


def _css_width(png: bytes) -> int:
    """The page width of a PNG chart in CSS pixels: its width over :data:`CHART_PIXELS_PER_CSS_PX`; the page's
    ``max-width: 100%`` narrows it further where needed."""
    return png_width(png) // CHART_PIXELS_PER_CSS_PX


def _charts(folder: Path | None) -> str:
    if folder is None or not folder.is_dir():
        return "<p>No charts (run without --no-plots to draw them).</p>"
    out = []
    for png in sorted(folder.glob("*.png")):
        raw = png.read_bytes()
        data = base64.b64encode(raw).decode("ascii")
        out.append(f'<figure><img alt="{_e(png.stem)}" width="{_css_width(raw)}" src="data:image/png;base64,{data}">'
                   f'<figcaption class="note">plots/{_e(png.name)} (also {_e(png.stem)}.svg)</figcaption></figure>')
    return "".join(out) or "<p>No series moved enough to chart.</p>"


def _param_rows(res: "Result", paths: list[str]) -> list[list[str]]:
    w = res.loaded.world
    rows = []
    for p in paths:
        prov = w.provenance.get(p, {})
        rng = prov.get("range")
        rows.append([p, str(w.get(p)), str(prov.get("unit", "")),
                     f"{rng[0]} .. {rng[1]}" if isinstance(rng, (list, tuple)) and len(rng) == 2 else "",
                     str(prov.get("source") or ("assumption: " + str(prov.get("assumption", ""))))])
    return rows


def _assumptions(res: "Result") -> str:
    """Labelled assumptions (with ranges) on the parts the scenario is about, widest range first, plus the
    scenario's own overrides. Not a sensitivity analysis: ``simulate sweep --sensitivity`` ranks them."""
    sc = res.scenario
    words = scenario_words(sc)
    prov = res.loaded.world.provenance
    scored = []
    for path, pv in prov.items():
        if "assumption" not in pv:
            continue
        s = entity_score(path, words)
        if s <= 0 and not (tokens(path) & {"common", "cutoff"}):
            continue
        rng = pv.get("range")
        width = 0.0
        try:
            v = float(res.loaded.world.get(path))
            if isinstance(rng, (list, tuple)) and len(rng) == 2 and v:
                width = (float(rng[1]) - float(rng[0])) / abs(v)
        except (TypeError, ValueError, KeyError):
            pass
        scored.append((-s, -width, path))
    paths = [p for _, _, p in sorted(scored)][:MAX_ASSUMPTIONS]
    out = ""
    if sc.overrides:
        rows = [[k, str(v), str(prov.get(k, {}).get("source", ""))] for k, v in sc.overrides.items()]
        out += "<p>Set by this scenario (overrides and --set):</p>" + _table(["parameter", "value", "from"], rows,
                                                                            left=3)
    out += ("<p>Labelled assumptions (no public figure) on the parts this scenario is about, the widest relative "
            "range first. These are the first to sweep: <code>simulate sweep FILE --lhs PATH=LO:HI "
            "--sensitivity sobol</code> measures which of them move the result.</p>"
            + _table(["parameter", "value", "unit", "range", "why"], _param_rows(res, paths), left=5,
                     ident="assumptions"))
    return out


def _sources(res: "Result") -> str:
    w = res.loaded.world
    paths = [p for p in w.paths() if p in w.provenance]
    return ("<details><summary>All " + str(len(paths)) + " world parameters with value, unit and source "
            "(also in scenario.resolved.yaml)</summary>"
            + _table(["parameter", "value", "unit", "range", "source or assumption"], _param_rows(res, paths),
                     left=5, ident="sources") + "</details>")


def render(res: "Result", plots: Path | None = None) -> str:
    """The page as one HTML string."""
    sc = res.scenario
    heads = res.headline_keys
    hrows = headline_rows(res.table("summary"), heads, sc)
    headline = (_table(list(HEAD), [list(r) for r in hrows], left=2, ident="headline") if hrows else
                '<p id="headline">No headline series differs from its baseline.</p>')
    notes = "".join(f"<p class=note>Note: {_e(n)}</p>" for n in getattr(res, "notes", []))
    facts = (f"{sc.replications} replication(s) × (scenario + no-measure baseline) · {sc.days} days from "
             f"{sc.start} · seed {sc.seed} · scenario file {_e(Path(res.loaded.file).name)}"
             + (f" · --set {_e(' '.join(res.loaded.sets))}" if res.loaded.sets else ""))
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(sc.name)}: briefing</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(sc.name)}</h1><p class=facts>{facts}</p>",
        f'<h2>The question</h2><div class="question">{_e(question(res))}</div>',
        f"<p>{_e(sc.description)}</p>" if sc.description else "",
        "<h2>Headline impacts</h2>", headline, f'<p class="note">{_e(legend())}</p>', notes,
        "<h2>Impacts on what the scenario is about</h2>", _impacts_section(res),
        "<h2>Timeline of measures and events</h2>", _timeline(res),
        "<h2>Charts</h2>", _charts(plots),
        "<h2>Assumptions behind the result</h2>", _assumptions(res),
        "<h2>Where every number came from</h2>", _sources(res),
        '<p class="note">Written by the retaliation scenario simulator; tables in the same folder '
        "(impacts.csv, summary.csv, timeseries.csv, events.csv).</p>",
        "</main></body></html>\n",
    ]
    return "".join(parts)


def write_report(res: "Result", path: Path, plots: Path | None = None) -> Path:
    """Write ``report.html``; charts are taken from ``plots`` (PNG files) when that folder exists."""
    path.write_text(render(res, plots), encoding="utf-8")
    return path
