"""Hostile input (issue 8.2): each is refused with one clear line and exit code 2, never a traceback, and
nothing outside the chosen result folder is touched."""
from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import pytest

from simulator.cli import main

from .conftest import ROOT, run_cli

GOOD = """\
name: hostile
start: 2025-01-01
horizon: 30d
seed: 1
replications: 1
countermeasures:
  - id: cn_ga
    mineral: gallium
    kind: ban
    against: [Japan]
    effective: 2025-01-10
"""


def one_error(capsys, argv: list[str]) -> str:
    """Run ``simulate ARGV`` in-process; it must exit 2 with exactly one line on stderr; return that line."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and "warning:" not in ln]
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------------------------------- YAML attacks
@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:__main__.X {{}}",
    "!ruby/object:Gem::Installer {{}}",
    "!custom_tag x",
    "!!binary aGVsbG8=",
    "!!set {{a, b}}",
])
def test_python_and_application_tags_refused(payload, write_yaml, tmp_path, capsys):
    marker = tmp_path / "pwned"
    p = write_yaml(GOOD.replace("name: hostile", "name: " + payload.format(marker=marker)))
    line = one_error(capsys, ["validate", str(p)])
    assert re.match(rf"^{re.escape(str(p))}:1:7: .*tag .* is not allowed", line), line
    assert not marker.exists()


def test_python_tag_subprocess_no_traceback_no_side_effect(write_yaml, tmp_path):
    marker = tmp_path / "pwned"
    p = write_yaml(GOOD + f"description: !!python/object/apply:os.system ['touch {marker}']\n")
    proc = run_cli(str(p), "--out", str(tmp_path / "out"), "--no-plots")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"{p}:12:14: ")
    assert not marker.exists() and not (tmp_path / "out").exists()


def _laughs(levels: int, width: int) -> str:
    lines = ['a: &a ["lol"' + ',"lol"' * (width - 1) + "]"]
    for i in range(1, levels):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [
    _laughs(9, 9),                                     # billion laughs, few aliases, huge expansion
    _laughs(5, 60),                                    # many aliases
    "a: &a [*a]\n",                                    # recursive alias
    "a: &a {b: *a}\n",
    GOOD + "x: &x " + "[" * 200 + "]" * 200 + "\n",    # deep nesting without aliases
    "<<: {name: x}\n" + GOOD.split("\n", 1)[1],        # merge keys
])
def test_alias_bombs_and_deep_nesting_refused_fast(text, write_yaml, capsys):
    p = write_yaml(text)
    t0 = time.perf_counter()
    line = one_error(capsys, ["validate", str(p)])
    assert time.perf_counter() - t0 < 1.0
    assert re.match(rf"^{re.escape(str(p))}:\d+:\d+: ", line), line
    assert re.search(r"alias|too large|deeper|merge|not valid YAML", line), line


def test_50_mb_file_refused_without_reading_it(tmp_path, capsys):
    p = tmp_path / "big.yaml"
    with open(p, "wb") as fh:
        fh.write(GOOD.encode())
        fh.truncate(50 * 1024 * 1024)      # sparse: 50 MB on paper, instant to create
    t0 = time.perf_counter()
    line = one_error(capsys, ["validate", str(p)])
    assert time.perf_counter() - t0 < 1.0
    assert line == f"{p}: file is 52 MB; a scenario file is at most 5 MB"


def test_50_mb_of_real_yaml_text_refused(tmp_path, capsys):
    p = tmp_path / "big.yaml"
    p.write_text(GOOD + "description: >\n" + ("  " + "x" * 1000 + "\n") * 50_000, encoding="utf-8")
    t0 = time.perf_counter()
    line = one_error(capsys, [str(p), "--out", str(tmp_path / "out")])
    assert time.perf_counter() - t0 < 2.0
    assert "MB" in line and line.startswith(f"{p}: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, expect", ids=lambda v: str(v)[:20], argvalues=[
    (random.Random(8).randbytes(4096), r"not UTF-8|NUL|not valid YAML"),
    (bytes(random.Random(9).choices(range(32, 127), k=4096)), r"not valid YAML|expected a mapping"),
    (b"[" * 5000, r":1:\d+: nesting deeper than 64 levels"),
    (b"a:\n" + b"".join(b" " * i + b"- x:\n" for i in range(0, 400, 2)), r"nesting deeper|not valid YAML"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), r"not UTF-8|NUL"),
    (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, r"NUL"),
    (b"PK\x03\x04" + b"\x14\x00\x06\x00", r"NUL|not valid YAML"),
    ("name: x\n".encode("utf-16"), r"not UTF-8|NUL"),
    (GOOD.encode() + b"\x00\x00", r"NUL"),
    (b"name: \x07bell\n", r":1:7: not valid YAML: control character U\+0007"),
    (b"name: x\nstart: 2025-01-01\nhorizon: 30d\n\xed\xa0\x80\n", r"not UTF-8"),   # encoded lone surrogate
])
def test_binary_garbage_refused(content, expect, tmp_path, capsys):
    content = content if isinstance(content, bytes) else bytes(content)
    p = tmp_path / "garbage.yaml"
    p.write_bytes(content)
    line = one_error(capsys, ["validate", str(p)])
    assert line.startswith(f"{p}:"), line
    assert re.search(expect, line), line


def test_directory_instead_of_file(tmp_path, capsys):
    d = tmp_path / "scen.yaml"
    d.mkdir()
    assert one_error(capsys, ["validate", str(d)]) == f"{d}: is a directory, expected a scenario .yaml file"
    assert one_error(capsys, [str(d)]) == f"{d}: is a directory, expected a scenario .yaml file"


def test_missing_file_suggests_the_near_name(write_yaml, capsys):
    p = write_yaml(GOOD, "japan.yaml")
    line = one_error(capsys, ["validate", str(p.parent / "japn.yaml")])
    assert line == f"{p.parent / 'japn.yaml'}: no such file (did you mean 'japan.yaml'?)"


def test_unreadable_file_in_process(write_yaml, monkeypatch, capsys):
    p = write_yaml(GOOD)

    def denied(path, limit):
        raise PermissionError(13, "Permission denied", str(path))
    import simulator.scenario.load as load_mod
    monkeypatch.setattr(load_mod, "read_regular_file", denied)
    assert one_error(capsys, ["validate", str(p)]) == f"{p}: cannot read the file: permission denied"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_chmod(write_yaml, capsys):
    p = write_yaml(GOOD)
    p.chmod(0)
    try:
        assert one_error(capsys, ["validate", str(p)]) == f"{p}: cannot read the file: permission denied"
    finally:
        p.chmod(0o644)


def test_fifo_or_device_is_not_a_scenario(capsys):
    line = one_error(capsys, ["validate", "/dev/null"])   # empty: not a mapping
    assert line.startswith("/dev/null:")


# -------------------------------------------------------------------------------------------- --out places
@pytest.fixture
def scen(write_yaml):
    return write_yaml(GOOD)


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.read_bytes() if p.is_file() else b"")
            for p in sorted(folder.rglob("*"))}


def test_out_at_an_existing_file_refused(scen, tmp_path, capsys):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    line = one_error(capsys, [str(scen), "--no-plots", "--out", str(target)])
    assert line == f"simulate: --out {target}: exists and is not a folder; choose another --out"
    assert target.read_text() == "keep me"


def test_out_at_a_folder_that_is_not_a_result_refused(scen, tmp_path, capsys):
    target = tmp_path / "project"
    (target / "src").mkdir(parents=True)
    (target / "src" / "main.py").write_text("print(1)\n")
    before = _snapshot(target)
    line = one_error(capsys, [str(scen), "--no-plots", "--out", str(target)])
    assert "is not a results folder of this tool (no signed manifest.json)" in line
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("where", ["/", "/etc", "/usr", ".", "..", "~"])
def test_out_at_system_or_project_places_refused(where, scen, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    target = os.path.expanduser(where)
    line = one_error(capsys, [str(scen), "--no-plots", "--out", target])
    assert line.startswith(f"simulate: --out {target}: ")
    assert "refusing" in line or "not a folder" in line


def test_out_under_a_file_refused(scen, tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    line = one_error(capsys, [str(scen), "--no-plots", "--out", str(f / "sub")])
    assert line == f"simulate: --out {f}: is not a folder"


def test_out_symlink_refused(scen, tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    line = one_error(capsys, [str(scen), "--no-plots", "--out", str(link)])
    assert line == f"simulate: --out {link}: exists and is not a folder; choose another --out"
    assert link.is_symlink() and list(real.iterdir()) == []


def test_out_empty_refused(scen, capsys):
    line = one_error(capsys, [str(scen), "--no-plots", "--out", ""])
    assert line == "simulate: --out: empty folder name"


def test_out_replaces_only_a_previous_result(scen, tmp_path, capsys):
    out = tmp_path / "res"
    assert main([str(scen), "--no-plots", "--quiet", "--out", str(out)]) == 0
    assert main([str(scen), "--no-plots", "--quiet", "--out", str(out)]) == 0     # a re-run replaces its own
    (out / "note.txt").write_text("old")          # a file the tool did not write: never deleted
    line = one_error(capsys, [str(scen), "--no-plots", "--quiet", "--out", str(out)])
    assert "holds files this tool did not write (note.txt)" in line
    assert (out / "note.txt").read_text() == "old" and (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "s.yaml"]


# ------------------------------------------------------------------------------------------ names and paths
@pytest.mark.parametrize("name", ["../evil", "../../../tmp/evil", "a/../../b", "..", ".hidden", "/etc/cron.d/x",
                                  "a\\\\..\\\\b", "name with spaces", "x" * 81, "", "名前", "a:b", "-rf"])
def test_names_that_would_escape_results_are_refused(name, write_yaml, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = write_yaml(GOOD.replace("name: hostile", f'name: "{name}"'))
    line = one_error(capsys, [str(p), "--no-plots"])
    assert line.startswith(f"{p}:1:7: name: "), line
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.yaml"]


def test_name_with_dotdot_via_set_is_refused(scen, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error(capsys, [str(scen), "--no-plots", "--set", "name=../../escape"])
    assert ": name: expected a name" in line
    assert not (tmp_path.parent / "escape").exists() and not (tmp_path / "results").exists()


def test_measure_id_with_path_characters_refused(write_yaml, capsys):
    p = write_yaml(GOOD.replace("id: cn_ga", "id: ../cn_ga"))
    line = one_error(capsys, ["validate", str(p)])
    assert line.startswith(f"{p}:7:9: countermeasures[0].id: ")


@pytest.mark.parametrize("world, expect", [
    ("/dev/zero", r":\d+:\d+: world: /dev/zero: a world must be a folder"),
    ("/etc", r":\d+:\d+: world: /etc: holds no world files"),
    ("/etc/shadow", r":\d+:\d+: world: /etc/shadow: a world must be a folder"),
    ("x" * 5000, "cannot read world|no world"),
    ("a\\0b", "cannot read world|no world"),
    ("../../../../../../etc/passwd", "a world must be a folder"),
])
def test_hostile_world_paths_fail_cleanly(world, expect, write_yaml, capsys):
    p = write_yaml(GOOD + f'world: "{world}"\n')
    line = one_error(capsys, ["validate", str(p)])
    assert re.search(expect, line), line


def test_control_characters_in_keys_stay_on_one_line(write_yaml, capsys):
    p = write_yaml(GOOD + '"evil\\nkey\\r\\u2028": 1\n')
    line = one_error(capsys, ["validate", str(p)])
    assert line.startswith(f"{p}:12:1: evil\\nkey\\r\\u2028: unknown key")
