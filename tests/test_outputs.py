"""Spreadsheet and picture outputs, and `simulate compare` on real result folders."""
from __future__ import annotations

import pandas as pd
import pytest

from simulator.cli import main
from simulator.report.compare import compare

SHORT = ["--replications", "3", "--set", "horizon=150d", "--quiet"]


@pytest.fixture(scope="module")
def two_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    a, b = d / "a", d / "b"
    assert main(["scenarios/japan_servicing_ban.yaml", "--out", str(a), "--xlsx", *SHORT]) == 0
    assert main(["scenarios/japan_servicing_ban.yaml", "--out", str(b), "--no-plots", *SHORT,
                 "--set", "controls.jp_servicing_ban.compliance=0.3",
                 "--set", "countermeasures.cn_gallium_ban_japan.trigger.probability=1"]) == 0
    return a, b


def test_xlsx_round_trips_through_pandas(two_results):
    a, _ = two_results
    book = pd.read_excel(a / "japan_servicing_ban.xlsx", sheet_name=None)
    assert set(book) == {"impacts", "summary", "timeseries_wide", "events"}
    summ = pd.read_csv(a / "summary.csv")
    assert list(book["summary"].columns) == list(summ.columns)
    assert len(book["summary"]) == len(summ)
    pd.testing.assert_series_equal(book["summary"]["p50"], summ["p50"], check_names=False, rtol=1e-9)
    assert book["timeseries_wide"]["date"].iloc[0] == pd.Timestamp("2025-01-01")   # a date cell, not text


def test_pngs_written_and_non_empty(two_results):
    a, b = two_results
    pngs = sorted((a / "plots").glob("*.png"))
    assert pngs, "no plots written"
    for p in pngs:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert not (b / "plots").exists()            # --no-plots


def test_csvs_are_spreadsheet_friendly(two_results):
    a, _ = two_results
    for name in ("summary.csv", "timeseries.csv", "timeseries_wide.csv", "events.csv"):
        text = (a / name).read_text(encoding="utf-8")
        header = text.splitlines()[0]
        assert not header.startswith(",") and "Unnamed" not in header     # no index column
        assert "\r" not in text
    ts = pd.read_csv(a / "timeseries.csv")
    assert pd.to_datetime(ts["date"], format="%Y-%m-%d").notna().all()
    assert "unit" in ts.columns


def test_compare_pairs_replications_sharing_seeds(two_results, tmp_path, capsys):
    a, b = two_results
    df = compare(str(a), str(b))
    assert df["paired"].any()
    both = df[(df["only_in"] == "") & df["diff_low"].notna()]
    assert len(both) > 0
    assert (both["diff_low"] <= both["difference"] + 1e-9).all()
    assert (both["difference"] <= both["diff_high"] + 1e-9).all()
    out = tmp_path / "diff.csv"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    assert pd.read_csv(out).shape[0] == len(df)
    text = capsys.readouterr().out
    assert "series.metric" in text and text.startswith(f"A = {a}") and f"B = {b}" in text
    assert "paired:" in text and "wafers" in text or "USD" in text       # units shown
    assert "e+0" not in text                                              # plain numbers


def test_compare_flags_metrics_present_in_one_only(two_results, tmp_path):
    a, _ = two_results
    summ = pd.read_csv(a / "summary.csv")
    cut = tmp_path / "summary.csv"
    summ.iloc[1:].to_csv(cut, index=False)
    df = compare(str(a / "summary.csv"), str(cut))
    flagged = df[df["only_in"] == "A"]
    assert len(flagged) == 1 and flagged.iloc[0]["metric"] == summ.iloc[0]["metric"]


def test_compare_bad_input_exit_2(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert "no such result folder" in capsys.readouterr().err


def test_compare_out_that_cannot_be_written_is_one_line_exit_2(two_results, tmp_path, capsys):
    a, b = two_results
    out = tmp_path / "missing" / "diff.csv"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"A = {a}")                       # the table is shown all the same
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simulate compare: --out {out}: cannot write it (") \
        and err[0].endswith("the table above is complete: choose another --out"), err
    assert not (tmp_path / "missing").exists()


def test_compare_names_every_row_in_full_and_says_where_the_rest_is(two_results, tmp_path, capsys):
    a, b = two_results
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "more rows in the output file" not in out
    if "more rows that differ" in out:
        assert "--out FILE.csv" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("series.metric")) + 2
    long = max((line.split()[0] for line in lines[start:] if line and not line.startswith(("(", "...", "all "))),
               key=len, default="")
    summ = pd.read_csv(a / "summary.csv")
    assert long in set(summ["entity"] + "." + summ["metric"])       # a full name, not cut


def test_the_big_tables_go_to_disk_while_the_rest_is_written(tmp_path, monkeypatch):
    """``timeseries.csv`` and ``timeseries_wide.csv`` are synced on a thread of their own as soon as they are
    written (``writer.sync_soon``); the folder's final sync still syncs every file."""
    import os
    import threading
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to name the file an fsync is for")
    synced: list[tuple[str, str]] = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append((threading.current_thread().name, os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    assert main(["scenarios/japan_servicing_ban.yaml", "--out", str(tmp_path / "r"), "--no-plots", *SHORT]) == 0
    for t in threading.enumerate():
        if t.name == "sync-soon":
            t.join()
    assert sorted(name for thread, name in synced if thread == "sync-soon") == ["timeseries.csv",
                                                                               "timeseries_wide.csv"]
    final = {name for thread, name in synced if thread != "sync-soon"}
    assert {"timeseries.csv", "timeseries_wide.csv", "summary.csv", "manifest.json"} <= final
