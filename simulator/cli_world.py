"""Commands to explore before a run: ``simulate world``, ``simulate new``, ``simulate list``, ``simulate metrics``.

- ``world [--grep X] [--world NAME]``: the names a scenario may use (regions, minerals, vendors, tool and fab
  classes) and every world parameter with value, unit, range and source (or assumption);
- ``new NAME [--out FILE]``: a commented scenario template that validates as written;
- ``list [FOLDER]``: the shipped scenarios (package data, so it works from any folder) or those in FOLDER;
- ``metrics FILE [--grep X]``: the series a scenario records, also for a file whose ``when:`` metric is wrong
  (the very file it should help fix).
"""
from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

from .report.arguments import EXIT_BAD_INPUT, Parser
from .scenario.errors import ScenarioError


def _parser(prog: str, description: str):
    return Parser(prog=prog, description=description)


# --------------------------------------------------------------------------------------------------- shipped
def shipped_dir() -> Path | None:
    """Folder of the shipped scenarios: ``simulator/scenarios`` (package data; in the source tree a link to
    the top-level ``scenarios/`` folder)."""
    p = Path(str(resources.files("simulator") / "scenarios"))
    if p.is_dir():
        return p
    src = Path(__file__).resolve().parents[1] / "scenarios"
    return src if src.is_dir() else None


def _shown(path: Path) -> str:
    """A path as the user can type it from the current folder."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
        return str(rel)
    except ValueError:
        return str(path)


def cmd_list(argv: list[str]) -> int:
    p = _parser("simulate list", "List the shipped scenarios (or those in FOLDER) with their descriptions.")
    p.add_argument("folder", nargs="?", help="a folder of scenario files (default: the shipped scenarios)")
    args = p.parse_args(argv)
    from .scenario.load import load_scenario
    if args.folder:
        folder = Path(args.folder)
        if not folder.is_dir():
            print(f"simulate list: {folder}: no such folder", file=sys.stderr)
            return EXIT_BAD_INPUT
    else:
        local = Path("scenarios")
        folder = shipped_dir()
        if folder is None:
            print("simulate list: the shipped scenarios are missing from this installation", file=sys.stderr)
            return EXIT_BAD_INPUT
        if local.is_dir() and local.resolve() == folder.resolve():
            folder = local
    files = sorted(folder.glob("*.yaml"))
    width = max([len(_shown(f)) for f in files] + [10])
    for f in files:
        try:
            sc = load_scenario(f).scenario
            print(f"{_shown(f):{width}s}  {sc.description}")
        except ScenarioError as exc:
            print(f"{_shown(f):{width}s}  (invalid: {exc.message})")
    if not args.folder and folder != Path("scenarios"):
        print(f"\n(shipped with the package; copy one to edit it: cp {_shown(folder)}/NAME.yaml .)")
    return 0


# ----------------------------------------------------------------------------------------------------- world
def _value_text(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def world_lines(name: str = "default", grep: str = "") -> list[str]:
    """The names and the parameters of world ``name`` as text lines, filtered by ``grep`` (any part)."""
    from .scenario.vocabulary import world_names
    from .scenario.world_data import load_world
    w = load_world(name)
    pat = re.compile(re.escape(grep), re.IGNORECASE) if grep else None
    lines = []
    names = world_names(w.values)
    for kind in ("region", "mineral", "vendor", "vendor_country", "tool_class", "fab_class"):
        vals = sorted(names.get(kind, ()))
        if vals and (pat is None or pat.search(kind) or any(pat.search(v) for v in vals)):
            shown = [v for v in vals if pat is None or pat.search(kind) or pat.search(v)]
            label = {"vendor_country": "vendor countries:", "tool_class": "tool classes:",
                     "fab_class": "fab classes:"}.get(kind, kind + "s:")
            lines.append(f"{label:18s} {', '.join(shown)}")
    if lines:
        lines.append("")
    rows = []
    for path in w.paths():
        prov = w.provenance.get(path)
        if prov is None:
            continue
        rng = prov.get("range")
        rtext = f"[{_value_text(rng[0])}..{_value_text(rng[1])}]" if isinstance(rng, list) and len(rng) == 2 else ""
        src = f"source: {prov['source']}" if "source" in prov else f"assumption: {prov.get('assumption', '')}"
        text = f"{path} = {_value_text(w.get(path))} {prov.get('unit', '')}".rstrip() + \
            (f" range {rtext}" if rtext else "") + f"  ({src})"
        if pat is None or pat.search(text):
            rows.append(text)
    lines.append(f"{len(rows)} parameter(s)" + (f" matching {grep!r}" if grep else "") +
                 "; set any with overrides: in a scenario, --set PATH=VALUE, or sweep it:")
    return lines + rows


def cmd_world(argv: list[str]) -> int:
    p = _parser("simulate world", "List the world's names (regions, minerals, vendors, tool and fab classes) "
                "and every parameter with value, unit, range and source.")
    p.add_argument("--grep", default="", help="only lines containing this text (case-insensitive)")
    p.add_argument("--world", default="default", help="a packaged world name (default: default)")
    args = p.parse_args(argv)
    from .scenario.world_data import packaged_worlds
    if args.world not in packaged_worlds():
        from .scenario.errors import suggest
        print(f"simulate world: no packaged world {args.world!r}{suggest(args.world, packaged_worlds())}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    for line in world_lines(args.world, args.grep):
        print(line)
    return 0


# ------------------------------------------------------------------------------------------------------- new
TEMPLATE = """\
# What if ... ? (say in two or three lines what this scenario asks: who restricts what, who answers, and
# which outputs the reader cares about.) Dates and shares below are placeholders: replace them and say
# where each one comes from.
name: {name}
description: One line shown by `simulate list`.
start: 2025-01-01                  # ISO date; the report starts here
horizon: 3y                        # durations: 30d, 6w, 18mo, 3y
seed: 20250101                     # same seed -> byte-identical results
replications: 20                   # runs of scenario + no-measure baseline, for the p05..p95 bands
world: default                     # packaged world data; `simulate world` lists every parameter
overrides: {{}}                     # any world parameter by dotted path, e.g.
#  fabs.parts.locked_cover_months: 3      # stocks of locked parts; range 2-12 (`simulate world --grep cover_months`)
controls:                          # chip-tool export controls against Chinese fabs
  - id: my_control
    by: Japan                      # a region of the world (`simulate world --grep region`)
    against: [China]
    measures: [servicing, spare_parts]           # sales, servicing, spare_parts, software_updates
    scope: {{vendor_countries: [Japan], tool_classes: [etch, deposition]}}
    announced: 2025-02-01
    effective: 2025-03-01
    # ends: 2026-03-01
    compliance: 0.9                # share of the restricted flow actually stopped (assumption)
countermeasures:                   # Chinese mineral export restrictions
  - id: my_countermeasure
    by: China
    against: [Japan]               # or [all]
    mineral: gallium               # or a list; `simulate world --grep mineral`
    kind: ban                      # licensing | ban | quota
    trigger: {{after: my_control, delay: 30d, probability: 0.8}}   # or fixed announced/effective dates
    leakage: 0.1                   # share re-routed via third countries (assumption)
    # lift: {{after: my_control, on: ended, delay: 14d}}
output: {{frequency: 7d, replications: mean, xlsx: false, plots: true}}
"""


def cmd_new(argv: list[str]) -> int:
    p = _parser("simulate new", "Write a commented scenario template NAME.yaml (never overwrites a file).")
    p.add_argument("name", help="scenario name: letters, digits, '_' or '-'")
    p.add_argument("--out", help="file to write (default: NAME.yaml in the current folder)")
    args = p.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", args.name):
        print(f"simulate new: {args.name!r}: use letters, digits, '_' or '-' (starting with a letter or digit)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out) if args.out else Path(f"{args.name}.yaml")
    if out.exists():
        print(f"simulate new: {out}: exists; choose another name or --out", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with open(out, "x", encoding="utf-8") as fh:
            fh.write(TEMPLATE.format(name=args.name))
    except OSError as exc:
        print(f"simulate new: {out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"written {out}; edit it, then: simulate validate {out} && simulate {out}")
    return 0


# --------------------------------------------------------------------------------------------------- metrics
def _fallback_build(file: str):
    """Build a run of ``file`` without its measures (whose `when:` metrics may be wrong): the series the world
    records do not depend on them. Raises ScenarioError when even that fails."""
    import numpy as np
    from pydantic import ValidationError
    from .engine.world import build
    from .scenario.load import read_text
    from .scenario.schema import Scenario
    from .scenario.world_data import load_world
    from .scenario.yamlsafe import YamlError, load_text
    text = read_text(file)
    try:
        data = load_text(text).data
    except YamlError as exc:
        raise ScenarioError(file, exc.mark, "", exc.message) from None
    if not isinstance(data, dict):
        raise ScenarioError(file, None, "", "expected a mapping")
    bare = {k: v for k, v in data.items() if k not in ("controls", "countermeasures", "sweep")}
    try:
        sc = Scenario.model_validate(bare)
    except ValidationError:
        raise ScenarioError(file, None, "", "cannot read even the scenario's start, horizon and world; "
                                            "run `simulate validate` on it") from None
    world = load_world(sc.world, Path(file).parent)
    for k, v in sc.overrides.items():
        try:
            world.set(k, v, "override")
        except (KeyError, TypeError):
            pass
    ctx, _ = build(sc, world.values, np.random.SeedSequence(0), 0, True)
    return ctx


def cmd_metrics(argv: list[str]) -> int:
    p = _parser("simulate metrics", "List the series a scenario records (entity.metric [unit]): the names "
                "`when:` triggers and timeseries.csv use. Works on a file whose `when:` metric is wrong.")
    p.add_argument("scenario")
    p.add_argument("--grep", default="", help="only names containing this text")
    args = p.parse_args(argv)
    import numpy as np
    from .engine.world import build
    from .scenario.load import load_scenario
    try:
        loaded = load_scenario(args.scenario)
        ctx, _ = build(loaded.scenario, loaded.world.values, np.random.SeedSequence(0), 0, True)
    except ScenarioError as exc:
        if "metric" not in (exc.path or "") and "metric" not in exc.message:
            raise
        print(f"{exc}\n(listing the series without the file's measures)", file=sys.stderr)
        ctx = _fallback_build(args.scenario)
    for key, info in ctx.recorder.info.items():
        if args.grep in key:
            extra = f"  summary: {', '.join(info.summary)}" if info.summary else ""
            print(f"{key} [{info.unit}]{extra}")
    return 0
