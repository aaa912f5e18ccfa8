"""Fuzzing scenario files (issue 8.1): mutate the shipped scenarios and run ``validate`` and a short run.

Every outcome must be either a valid run (exit 0, a complete result folder) or exit 2 with one located line
``file:line:col: path: message`` — never a traceback or internal error, never a hang, never a partial or
temporary result folder left behind.

CI runs a short mode (``FUZZ_EXAMPLES``, default 25). The long mode is ``python benchmarks/fuzz_long.py
--examples 10000``; it reuses :func:`scenario_cases` and :func:`check_case` from here.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import io
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main
from simulator.scenario.yamlsafe import load_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
SHORT_DAYS = 30           # simulate at most this long: a fuzz run checks outcomes, not results
CASE_TIMEOUT_S = 60       # "never a hang": one case (validate + short run) must finish within this
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<rest>\S.*)$")
RESULT_FILES = ("summary.csv", "timeseries.csv", "timeseries_wide.csv", "events.csv", "manifest.json",
                "scenario.resolved.yaml")


def _shipped_data() -> list[dict]:
    out = []
    for f in SHIPPED:
        d = load_text(f.read_text(encoding="utf-8")).data  # the project's reader: keys like `on` stay text
        d["replications"] = 1
        d["horizon"] = f"{SHORT_DAYS}d"
        out.append(d)
    return out


BASES = _shipped_data()

# ------------------------------------------------------------------------------------------ value strategies
SPECIAL = [
    None, True, False, 0, -1, 1, 2, 0.0, -0.0, 0.5, 1.0000001, -1e-308, 1e308, 10**19, 2**63, -(2**63), 10**400,
    "", " ", "0d", "-5d", "30d", "1d", "0.5d", "18mo", "3y", "50y", "51y", "1e9y", "999999999999d", "30",
    "2025-02-30", "2025-13-01", "9999-12-31", "0001-01-01", "2024-12-31", "2025-03-01", "nan", ".inf", "-.inf",
    "ban", "quota", "licensing", "China", "Japan", "all", "gallium", "germanium", "etch", "servicing",
    "jp_servicing_ban", "../../etc/passwd", "/tmp", "a/b", "..", "CON", "nul\u00e9", "名前", "🚀",
    "x" * 300, _dt.date(2025, 1, 1), _dt.date(1970, 1, 1), _dt.date(2099, 12, 31),
]
_scalar = st.one_of(
    st.sampled_from(SPECIAL),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24),
    st.dates(min_value=_dt.date(1900, 1, 1), max_value=_dt.date(2200, 12, 31)),
)
values = st.recursive(_scalar, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), kids, max_size=3)),
                      max_leaves=8)
KEY_NAMES = st.one_of(
    st.sampled_from(["name", "start", "horizon", "seed", "replications", "world", "overrides", "controls",
                     "countermeasures", "output", "sweep", "id", "by", "against", "measures", "scope",
                     "announced", "effective", "ends", "notice", "duration", "trigger", "lift", "compliance",
                     "mineral", "kind", "leakage", "quota_share", "approval_share", "licence_delay", "after",
                     "when", "metric", "below", "above", "for", "delay", "probability", "date", "on",
                     "vendor_countries", "tool_classes", "fab_classes", "vendors", "frequency", "plots",
                     "xlsx", "contols", "horizn", "<<", "minerals.gallium_refined.price.alpha", "fabs", "__class__"]),
    st.text(max_size=12),
)


# --------------------------------------------------------------------------------------------- mutations
def _paths(node, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def _set(root, path, value):
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


OPS = ("tweak", "tweak", "tweak", "replace", "replace", "replace", "delete", "add_key", "rename_key", "deep_nest", "empty", "swap_dates",
       "duplicate", "negate")


def mutate(draw, data):
    """Apply one random mutation to ``data`` (plain YAML data); returns the new root."""
    paths = _paths(data)
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(OPS))
    target = _get(data, path)
    if op == "tweak":  # a plausible change of the same type: many of these still run
        if isinstance(target, bool):
            return _set(data, path, not target)
        if isinstance(target, float):
            return _set(data, path, draw(st.floats(0, 1)))
        if isinstance(target, int):
            return _set(data, path, draw(st.integers(0, 3 * max(1, target))))
        if isinstance(target, _dt.date):
            return _set(data, path, target + _dt.timedelta(days=draw(st.integers(-400, 400))))
        if isinstance(target, str) and re.fullmatch(r"\d+(\.\d+)?(d|w|mo|y)", target):
            return _set(data, path, f"{draw(st.integers(0, 400))}{draw(st.sampled_from(['d', 'w', 'mo']))}")
        if isinstance(target, list) and target:
            del target[draw(st.integers(0, len(target) - 1))]
            return data
        return data
    if op == "replace":
        return _set(data, path, draw(values))
    if op == "delete" and path:
        parent = _get(data, path[:-1])
        del parent[path[-1]]
        return data
    if op == "add_key" and isinstance(target, dict):
        target[draw(KEY_NAMES)] = draw(values)
        return data
    if op == "rename_key" and path and isinstance(_get(data, path[:-1]), dict):
        parent = _get(data, path[:-1])
        new = draw(KEY_NAMES)
        if new not in parent:
            parent[new] = parent.pop(path[-1])
        return data
    if op == "deep_nest":
        depth = draw(st.integers(1, 120))
        v = target
        for i in range(depth):
            v = [v] if i % 2 else {"k": v}
        return _set(data, path, v)
    if op == "empty":
        return _set(data, path, [] if draw(st.booleans()) else {})
    if op == "swap_dates" and isinstance(target, dict):
        keys = [k for k in ("announced", "effective", "ends", "start") if k in target]
        if len(keys) >= 2:
            a, b = keys[0], keys[1]
            target[a], target[b] = target[b], target[a]
        else:
            target["announced"] = _dt.date(2030, 1, 1)
        return data
    if op == "duplicate" and isinstance(target, list) and target:
        target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
        return data
    if op == "negate" and isinstance(target, (int, float)) and not isinstance(target, bool):
        return _set(data, path, -target if target else -1)
    return _set(data, path, draw(values))


def text_mutate(draw, text: str) -> str:
    """Raw-text damage: truncation, inserted bytes, broken indentation."""
    op = draw(st.sampled_from(["truncate", "insert", "indent", "tab"]))
    pos = draw(st.integers(0, len(text)))
    if op == "truncate":
        return text[:pos]
    if op == "insert":
        junk = draw(st.one_of(st.text(max_size=6),
                              st.sampled_from([":", "- ", "[", "{", "&a", "*a", "!!python/object:os.system ",
                                               "\t", "\x07", "\ufeff", "'", '"', "? ", "%YAML 1.2\n", "---\n",
                                               "<<: *a\n", "!!binary "])))
        return text[:pos] + junk + text[pos:]
    if op == "indent":
        lines = text.split("\n")
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        lines[i] = "   " + lines[i]
        return "\n".join(lines)
    return text.replace("  ", "\t", 1)


SET_KEYS = ["seed", "horizon", "replications", "start", "name", "world", "controls.jp_servicing_ban.compliance",
            "countermeasures.cn_gallium_ban_japan.leakage", "countermeasures.nope.leakage",
            "minerals.gallium_refined.price.alpha", "output.frequency", "no.such.path", "controls", "overrides", "",
            # world values of every kind (issue 15): time constants, shares, prices, quantities, rates
            "minerals.common.price.tau_days", "minerals.common.stocks.restock_days", "fabs.tool_classes.litho.p_locked",
            "minerals.common.spot.transport_days", "minerals.gallium_refined.regions.Japan.consumption",
            "minerals.gallium_refined.price.reference.2023.ex_china", "fabs.operations.capacity_growth_per_y",
            "fabs.tool_classes.etch.pm_interval_d"]


def _set_text(v) -> str:
    return v if isinstance(v, str) else yaml.safe_dump(v, default_flow_style=True, width=10**6).strip() \
        .removesuffix("...").strip()


@dataclass
class Case:
    text: str
    sets: list[str] = field(default_factory=list)
    note: str = ""


@st.composite
def scenario_cases(draw) -> Case:
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    n = draw(st.integers(0, 3))
    notes = []
    for _ in range(n):
        data = mutate(draw, data)
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:  # e.g. keys yaml cannot represent
        text = f"# could not dump: {type(exc).__name__}\nname: x\n"
    if draw(st.integers(0, 9)) == 0:
        text = text_mutate(draw, text)
        notes.append("text")
    sets = []
    if draw(st.integers(0, 4)) == 0:
        for _ in range(draw(st.integers(1, 2))):
            sets.append(f"{draw(st.sampled_from(SET_KEYS))}={_set_text(draw(values))}")
    return Case(text, sets, ",".join(notes))


# ----------------------------------------------------------------------------------------------- checking
class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    def _raise(signum, frame):
        raise Hang(f"no answer within {seconds} s")
    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


class FuzzFailure(AssertionError):
    """A fuzzed input produced an outcome other than a valid run or a located exit 2."""


def _check_error_lines(err: str, file: str, what: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if not lines:
        raise FuzzFailure(f"{what}: exit 2 without a message")
    if "Traceback" in err or "internal error" in err:
        raise FuzzFailure(f"{what}: traceback/internal error: {err.strip()[:500]}")
    *warns, last = lines
    for w in warns:
        if "warning:" not in w:
            raise FuzzFailure(f"{what}: more than one error line: {err.strip()[:500]}")
    if last.startswith("--set"):
        return  # a command-line value: located by its key, there is no file position
    m = LOCATED.match(last)
    if not m or m.group("file") != file:
        raise FuzzFailure(f"{what}: error not located as {file}:LINE:COL: ...: {last[:300]!r}")


def _check_folder(tmp: Path, out: Path, ok: bool, what: str) -> None:
    leftovers = [p.name for p in tmp.iterdir() if p.name.startswith(f".{out.name}.")]
    if leftovers:
        raise FuzzFailure(f"{what}: temporary folders left behind: {leftovers}")
    if ok:
        missing = [f for f in RESULT_FILES if not (out / f).is_file()]
        if missing:
            raise FuzzFailure(f"{what}: exit 0 but result folder lacks {missing}")
    elif out.exists():
        raise FuzzFailure(f"{what}: failed run left a result folder {sorted(p.name for p in out.iterdir())}")


def check_case(case: Case, tmp: Path, plots: bool = False) -> str:
    """Run validate and a short simulate on one case in ``tmp``; raise FuzzFailure on a bad outcome.
    Returns ``"ok"`` (valid run) or ``"rejected"`` (exit 2 with a located line)."""
    tmp.mkdir(parents=True, exist_ok=True)
    f = tmp / "fuzz.yaml"
    f.write_text(case.text, encoding="utf-8", errors="surrogatepass")
    out = tmp / "out"
    sets = [a for s in case.sets for a in ("--set", s)]
    with time_limit(CASE_TIMEOUT_S):
        code, _, err = run_main(["validate", str(f), *sets])
        if code not in (0, 2):
            raise FuzzFailure(f"validate: exit {code}: {err.strip()[:500]}")
        if code == 2:
            _check_error_lines(err, str(f), "validate")
        extra = []
        if code == 0:  # keep the run short; on bad input pass nothing that could mask the error
            from simulator.scenario.load import load_scenario
            extra = ["--replications", "1"]
            if load_scenario(f, case.sets).scenario.days > SHORT_DAYS * 3:
                extra += ["--set", f"horizon={SHORT_DAYS}d"]
        rcode, _, rerr = run_main([str(f), *sets, *extra, *([] if plots else ["--no-plots"]), "--quiet",
                                   "--out", str(out)])
    if rcode not in (0, 2):
        raise FuzzFailure(f"simulate: exit {rcode}: {rerr.strip()[:500]}")
    if rcode == 2:
        _check_error_lines(rerr, str(f), "simulate")
    if (code == 0) != (rcode == 0):
        raise FuzzFailure(f"validate exit {code} but simulate exit {rcode}: {(err + rerr).strip()[:500]}")
    _check_folder(tmp, out, rcode == 0, "simulate")
    return "ok" if rcode == 0 else "rejected"


# -------------------------------------------------------------------------------------------------- tests
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@pytest.mark.skipif(not SHIPPED, reason="no shipped scenarios to mutate")
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=scenario_cases())
def test_fuzzed_scenarios_run_or_fail_located(case, tmp_path_factory):
    check_case(case, tmp_path_factory.mktemp("fz"))


def test_unmutated_short_scenarios_run(tmp_path):
    """The fuzz bases themselves are valid: the harness really exercises the run path."""
    for i, d in enumerate(BASES):
        case = Case(yaml.safe_dump(d, allow_unicode=True, sort_keys=False))
        assert check_case(case, tmp_path / str(i)) == "ok"


@pytest.mark.parametrize("text", [
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\nseed: .nan\n",
    "name: x\nstart: 2025-01-01\nhorizon: .inf\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\ncontrols: [{id: a, by: Japan, measures: [sales], "
    "scope: {vendor_countries: [Japan]}, announced: 2025-03-01, effective: 2025-02-01}]\n",
    "name: 名前\nstart: 2025-01-01\nhorizon: 30d\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\n\"a\\nb\": 1\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\nworld: \"a\\0b\"\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\nworld: \"/\"\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\nworld: \"" + "x" * 5000 + "\"\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\n\x07\n",
    "name: x\nstart: 9999-12-31\nhorizon: 50y\n",
    "name: x\nstart: 0001-01-01\nhorizon: 30d\nreplications: 1\ncountermeasures: [{id: c, mineral: gallium, "
    "kind: ban, against: [Japan], effective: 0001-01-02}]\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\noutput: {frequency: 999999d}\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\noutput: {frequency: 0d}\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\noverrides: {\"\": 1}\n",
    "name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\nsweep: {a: [1, 2]}\n",
], ids=lambda t: re.sub(r"\W+", "_", t[-40:])[:40])
def test_regressions_found_by_fuzzing(text, tmp_path):
    check_case(Case(text), tmp_path)


@pytest.mark.parametrize("text, sets", [
    # --set of a whole measure list went to the overrides and was blamed on the file without a position
    ("name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\n", ["controls=[1, 2]"]),
    ("name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\n", ["overrides={a: 1}"]),
    # a non-mapping item before the measure shifted the index: TypeError
    ("name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\ncontrols: [[], {id: a}]\n",
     ["controls.a.compliance=1"]),
    ("name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\ncontrols: 5\n", ["controls.a.compliance=1"]),
    # integers too large for a float: OverflowError
    ("name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\ncountermeasures: [{id: m, mineral: gallium, "
     "kind: ban, against: [Japan], effective: 2025-01-05, leakage: 1" + "0" * 400 + "}]\n", []),
    ("name: x\nstart: 2025-01-01\nhorizon: 30d\nreplications: 1\n",
     ["minerals.gallium_refined.price.alpha=1" + "0" * 400]),
])
def test_set_regressions_found_by_fuzzing(text, sets, tmp_path):
    assert check_case(Case(text, sets), tmp_path) == "rejected"
