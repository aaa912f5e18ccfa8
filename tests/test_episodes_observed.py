"""The observed-episodes table (benchmarks/episodes/observed.csv) is well formed, and its checker catches bad rows."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("episodes_observed", ROOT / "benchmarks" / "episodes_observed.py")
eo = importlib.util.module_from_spec(_spec)
sys.modules["episodes_observed"] = eo  # dataclasses look their module up there
_spec.loader.exec_module(eo)

HEADER = ",".join(eo.COLUMNS) + "\n"


def test_shipped_table_has_no_problems_and_every_row_a_source():
    rows, errors = eo.load(eo.DEFAULT_CSV)
    assert errors == []
    assert len(rows) > 100
    assert all(r.source and r.grade in {"A", "B", "C"} for r in rows)


def test_checker_reports_each_bad_row_with_its_line(tmp_path):
    p = tmp_path / "observed.csv"
    p.write_text(HEADER
                 + 'sb_2024,antimony_refined.china_exports,2024-10,190,190,t/month,"Reuters",B\n'
                 + 'sb_2024,antimony_refined.china_exports,2024-11,900,800,t/month,"Reuters",B\n'
                 + 'sb_2024,antimony_refined.china_exports,2024-12,1721,1721,t,"Reuters",B\n'
                 + 'sb_2024,antimony_refined.price_china,2024-13-01,1,1,CNY/t,"SMM",B\n'
                 + 'sb_2024,antimony_refined.price_china,2024-11-19,1,1,CNY/t,"SMM",D\n'
                 + 'xx_1999,antimony_refined.price_china,2024-11-20,1,1,CNY/t,"",B\n')
    _, errors = eo.load(p)
    text = "\n".join(errors)
    assert "observed.csv:3: low 900.0 > high 800.0" in text
    assert "observed.csv:4: unit 't' differs" in text
    assert "observed.csv:5:" in text and "2024-13-01" in text
    assert "observed.csv:6: grade 'D'" in text
    assert "observed.csv:7: unknown episode" in text and "observed.csv:7: no source" in text


def test_pre_episode_level_is_the_last_period_ending_before_the_announcement():
    rows, _ = eo.load(eo.DEFAULT_CSV)
    ge = [r for r in rows if r.episode == "ge_2023" and r.series == "germanium_refined.china_exports"]
    pre = eo.pre_episode(ge, eo.ANNOUNCED["ge_2023"])
    assert pre.date == "2023-06"  # not July 2023, the month of buying ahead after the 3 July announcement
    summary = {(s[0], s[1]): s for s in eo.summarise(rows)}
    assert summary[("sb_2024", "antimony_refined.china_exports")][5].startswith("0.03x")
