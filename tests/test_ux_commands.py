"""Exploring before a run (issue 14): `world`, `new`, `list` from any folder, `metrics` on a file whose trigger
metric is wrong, `by:`/`against:` checked against the world's regions, and `compare` on sweep folders."""
from __future__ import annotations

import pandas as pd

from simulator.cli import main
from simulator.scenario.vocabulary import world_names
from simulator.scenario.world_data import load_world

from .conftest import ROOT, run_cli

TOY = """
name: toy
start: 2025-01-01
horizon: 30d
replications: 1
controls:
  - id: c1
    by: {by}
    against: [China]
    measures: [servicing]
    scope: {{vendor_countries: [Japan]}}
    effective: 2025-01-10
countermeasures:
  - id: m1
    against: [{against}]
    mineral: gallium
    kind: ban
    trigger: {{when: {{metric: {metric}, below: 0.9, relative_to: baseline, for: 5d}}}}
"""


def test_world_lists_names_and_every_parameter_with_unit_range_and_source(tmp_path):
    proc = run_cli("world", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("regions:") and "Japan" in out.splitlines()[0]
    w = load_world("default")
    n = sum(1 for p in w.paths() if p in w.provenance)
    assert f"{n} parameter(s)" in out
    line = next(x for x in out.splitlines() if x.startswith("fabs.cutoff.parts_wait_median_d ="))
    assert "range [" in line and "assumption:" in line and " d " in line
    assert any("source:" in x for x in out.splitlines())
    g = run_cli("world", "--grep", "locked_cover", cwd=tmp_path)
    params = [x for x in g.stdout.splitlines() if " = " in x]
    assert params and all("locked_cover" in x for x in params)
    assert run_cli("world", "--world", "nope", cwd=tmp_path).returncode == 2


def test_new_writes_a_commented_template_that_validates_and_never_overwrites(tmp_path):
    proc = run_cli("new", "my_case", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    f = tmp_path / "my_case.yaml"
    text = f.read_text()
    assert text.startswith("# What if") and "name: my_case" in text
    assert run_cli("validate", str(f), cwd=tmp_path).returncode == 0
    examples = [ln[1:].split(":")[0].strip() for ln in text.splitlines() if ln.startswith("#  ") and ": " in ln]
    assert examples                                  # commented-out overrides: each a parameter of the world
    for path in examples:
        listed = run_cli("world", "--grep", path, cwd=tmp_path).stdout.splitlines()
        assert any(ln.startswith(f"{path} = ") for ln in listed), (path, listed[:3])
    again = run_cli("new", "my_case", cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr and f.read_text() == text
    assert run_cli("new", "../bad name", cwd=tmp_path).returncode == 2


def test_list_works_from_another_folder(tmp_path):
    proc = run_cli("list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shipped = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    for stem in shipped:
        assert f"{stem}.yaml" in proc.stdout
    assert "invalid" not in proc.stdout
    # a printed path runs from that folder
    first = proc.stdout.split()[0]
    assert run_cli("validate", first, cwd=tmp_path).returncode == 0


def test_by_and_against_must_be_regions_of_the_world(write_yaml, capsys):
    regions = world_names(load_world("default").values)["region"]
    assert {"Japan", "China", "Netherlands", "US"} <= regions
    ok = write_yaml(TOY.format(by="Japan", against="Japan", metric="fabs.mature_logic.wafer_output"))
    assert main(["validate", str(ok)]) == 0
    bad = write_yaml(TOY.format(by="Atlantis", against="Japan", metric="fabs.mature_logic.wafer_output"),
                     "by.yaml")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "by.yaml:7:" in err and "controls[0].by" in err and "unknown region 'Atlantis'" in err
    bad2 = write_yaml(TOY.format(by="Japan", against="Atlantis", metric="fabs.mature_logic.wafer_output"),
                      "against.yaml")
    assert main(["validate", str(bad2)]) == 2
    assert "countermeasures[0].against[0]" in capsys.readouterr().err
    all_ok = write_yaml(TOY.format(by="Japan", against="all", metric="fabs.mature_logic.wafer_output"), "all.yaml")
    assert main(["validate", str(all_ok)]) == 0


def test_metrics_lists_series_of_a_file_whose_trigger_metric_is_wrong(write_yaml):
    f = write_yaml(TOY.format(by="Japan", against="Japan", metric="fabs.mature_logic.wafer_outptu"))
    assert run_cli("validate", str(f)).returncode == 2
    proc = run_cli("metrics", str(f), "--grep", "wafer_output")
    assert proc.returncode == 0, proc.stderr
    assert "fabs.mature_logic.wafer_output [wafers/day]" in proc.stdout
    assert "wafer_outptu" in proc.stderr and "without the file's measures" in proc.stderr


def _sweep(out, extra=()):
    return main(["sweep", "scenarios/japan_servicing_ban.yaml", "--out", str(out), "--quiet", "--jobs", "1",
                 "--grid", "controls.jp_servicing_ban.compliance=0.5,0.9", "--replications", "1",
                 "--set", "horizon=40d", "--set", "countermeasures.cn_gallium_ban_japan.trigger.probability=1",
                 *extra])


def test_compare_sweep_folders_point_by_point_or_refuses(tmp_path, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert _sweep(a) == 0
    assert _sweep(b, ["--set", "fabs.parts.locked_cover_months=2"]) == 0
    capsys.readouterr()
    out = tmp_path / "d.csv"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"A = sweep {a}" in text and "point by point" in text
    df = pd.read_csv(out)
    assert set(df["point"]) == {0, 1} and "controls.jp_servicing_ban.compliance" in df.columns
    assert (df["difference"] - (df["b_mean"] - df["a_mean"])).abs().max() < 1e-6
    # a sweep against a single result folder: a clear refusal, no KeyError
    assert main(["scenarios/japan_servicing_ban.yaml", "--out", str(c), "--replications", "1",
                 "--set", "horizon=40d", "--no-plots", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(c)]) == 2
    err = capsys.readouterr().err
    assert "A is a sweep folder and B is not" in err and "KeyError" not in err


def test_loading_a_scenario_leaves_the_worlds_shared_names_alone():
    """A world's names are worked out once and shared by its copies: a load must not add to them (``all`` is a
    name for measures' targets, not a region a control can be ``by``)."""
    from simulator.scenario.load import load_scenario
    load_scenario(ROOT / "scenarios" / "japan_servicing_ban.yaml")
    again = load_scenario(ROOT / "scenarios" / "japan_servicing_ban.yaml")     # a copy of the same parsed world
    assert "all" not in again.world.names()["region"]


def test_simulate_loads_its_writers_without_collections_then_freezes_them():
    """``simulate``'s process imports the table and chart writers (pandas, matplotlib) while its workers run,
    without cyclic collections, then freezes what it loaded until the run ends: its later full collections do
    not walk the libraries. On the way out the collector is as it was (``cli.main`` called in a longer-lived
    process, as here)."""
    import gc
    from simulator import cli
    seen = []
    assert gc.get_freeze_count() == 0
    with cli._lasting_loads() as load:
        load(lambda x: seen.append((x, gc.isenabled())), "loaded")
        assert seen == [("loaded", False)]
        assert gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
