"""Every class of scenario error is one located line ``file:line:col: path: message`` and exit code 2."""
from __future__ import annotations

import time

import pytest

from simulator.cli import main
from simulator.scenario.errors import ScenarioError
from simulator.scenario.load import load_scenario

from .conftest import ROOT, run_cli

HEAD = "name: t\nstart: 2025-01-01\nhorizon: 1y\n"
CTRL = ("controls:\n  - id: jp\n    by: Japan\n    measures: [servicing]\n    scope: {vendor_countries: [Japan]}\n"
        "    effective: 2025-03-01\n")


def err(write_yaml, text: str) -> str:
    p = write_yaml(text)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p)
    line = str(ei.value)
    assert line.startswith(str(p)), line
    assert "\n" not in line
    return line[len(str(p)):]


def test_misspelt_top_key_points_at_key_and_suggests(write_yaml):
    assert err(write_yaml, HEAD + "countermesures: []\n") == \
        ":4:1: countermesures: unknown key 'countermesures' (did you mean 'countermeasures'?)"


def test_bad_date_reports_value_position(write_yaml):
    text = HEAD + CTRL.replace("2025-03-01", "2025-13-01")
    assert err(write_yaml, text) == \
        ":9:16: controls[0].effective: expected a date like 2025-03-01, got '2025-13-01'"


def test_duration_without_unit(write_yaml):
    assert err(write_yaml, "name: t\nstart: 2025-01-01\nhorizon: 12\n") == \
        ":3:10: horizon: expected a duration with a unit like 30d, 6w, 18mo or 3y, got 12 (add a unit)"


def test_bad_duration_unit(write_yaml):
    assert "expected a duration like 30d" in err(write_yaml, "name: t\nstart: 2025-01-01\nhorizon: 3 years\n")


def test_missing_required_key(write_yaml):
    assert err(write_yaml, "name: t\nhorizon: 1y\n") == ":1:1: start: missing required key 'start'"


def test_literal_with_suggestion(write_yaml):
    text = HEAD + CTRL.replace("[servicing]", "[servicng]")
    assert err(write_yaml, text) == (":7:16: controls[0].measures[0]: expected one of 'sales', 'servicing', "
                                     "'spare_parts' or 'software_updates', got 'servicng' (did you mean "
                                     "'servicing'?)")


def test_share_out_of_range(write_yaml):
    text = HEAD + CTRL + "    compliance: 1.5\n"
    assert err(write_yaml, text) == ":10:17: controls[0].compliance: expected a value <= 1.0, got 1.5"


def test_effective_before_announced(write_yaml):
    text = HEAD + CTRL + "    announced: 2025-04-01\n"
    assert err(write_yaml, text) == ":5:5: controls[0]: effective 2025-03-01 is before announced 2025-04-01"


def test_after_names_no_measure(write_yaml):
    text = HEAD + CTRL + ("countermeasures:\n  - id: cn\n    mineral: gallium\n    against: [Japan]\n"
                          "    kind: ban\n    trigger: {after: jq}\n")
    assert err(write_yaml, text) == \
        ":15:22: countermeasures[0].trigger.after: names no measure 'jq' (did you mean 'jp'?)"


def test_trigger_cycle_can_never_start(write_yaml):
    cm = "  - id: {a}\n    mineral: gallium\n    against: [Japan]\n    kind: ban\n    trigger: {{after: {b}}}\n"
    text = HEAD + "countermeasures:\n" + cm.format(a="a", b="b") + cm.format(a="b", b="a")
    assert err(write_yaml, text) == ":9:22: countermeasures[0].trigger.after: trigger cycle a -> b -> a can never start"


def test_duplicate_ids(write_yaml):
    text = HEAD + CTRL + CTRL.replace("controls:\n", "")
    assert "id 'jp' is used twice" in err(write_yaml, text)


def test_unknown_override_path_suggests(write_yaml):
    text = HEAD + "overrides:\n  no.such.path: 3\n"
    assert err(write_yaml, text).startswith(":5:3: overrides.no.such.path: no world parameter 'no.such.path'")


def test_date_outside_horizon_is_a_warning(write_yaml):
    p = write_yaml(HEAD + CTRL.replace("2025-03-01", "2027-03-01"))
    loaded = load_scenario(p)
    assert len(loaded.warnings) == 1 and "warning: 2027-03-01 is outside" in loaded.warnings[0]
    assert loaded.warnings[0].startswith(f"{p}:9:16: controls[0].effective: ")


def test_set_reports_unknown_measure(write_yaml):
    p = write_yaml(HEAD + CTRL)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p, ["controls.jq.compliance=0.5"])
    assert str(ei.value) == "--set: controls.jq: no measure with id 'jq' (did you mean 'jp'?)"


def test_set_of_a_misspelt_scenario_field_suggests_the_field(write_yaml):
    """A one-word ``--set`` key that is no scenario field is taken as a world path; when it is near a scenario
    field, the error suggests that field."""
    p = write_yaml(HEAD + CTRL)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p, ["replicatons=3"])
    assert str(ei.value) == ("--set: overrides.replicatons: no world parameter 'replicatons' "
                             "(did you mean 'replications'?)")


def test_set_overrides_a_measure_field(write_yaml):
    p = write_yaml(HEAD + CTRL)
    loaded = load_scenario(p, ["controls.jp.compliance=0.5", "seed=7"])
    assert loaded.scenario.controls[0].compliance == 0.5 and loaded.scenario.seed == 7


def test_python_tag_refused_with_exit_2(write_yaml, capsys):
    p = write_yaml(HEAD + "description: !!python/object/apply:os.system ['echo pwned']\n")
    t0 = time.perf_counter()
    assert main(["validate", str(p)]) == 2
    assert time.perf_counter() - t0 < 1.0
    out = capsys.readouterr().err.strip()
    assert out.startswith(f"{p}:4:14: ") and "not allowed" in out


def test_alias_bomb_refused_within_a_second(write_yaml, capsys):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    p = write_yaml("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    assert main(["validate", str(p)]) == 2
    assert time.perf_counter() - t0 < 1.0
    assert "refused" in capsys.readouterr().err or "too large" in capsys.readouterr().err


def test_cli_validate_misspelt_key_exit_2_no_traceback(write_yaml):
    p = write_yaml(HEAD + "countermesures: []\n")
    proc = run_cli("validate", str(p))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"{p}:4:1: countermesures: unknown key 'countermesures' "
                                   f"(did you mean 'countermeasures'?)")
    assert "Traceback" not in proc.stderr


def test_every_shipped_scenario_validates():
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    assert files
    for f in files:
        load_scenario(f)


def test_set_value_errors_are_blamed_on_set_not_the_file(write_yaml):
    p = write_yaml(HEAD + CTRL)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p, ["controls.jp.compliance=2"])
    assert str(ei.value) == "--set: controls[0].compliance: expected a value <= 1.0, got 2"
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p, ["horizon=60"])
    assert str(ei.value).startswith("--set: horizon: expected a duration")
