"""The sweep store's run file: the record's canonical JSON with its own checksum, written in one pass."""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from simulator.sweep import store


def _record() -> dict:
    return {"run_id": "r1", "status": store.SUCCEEDED, "error": "", "params": {"controls.jp.compliance": 0.7, "é": "ü"},
            "replication": 0, "seed": 2**63 - 1, "runtime_s": 0.25,
            "metrics": {"a.total": 0.1 + 0.2, "b.peak": float("nan"), "c.lost": -0.0, "d.big": 1e300},
            "summary": [{"entity": "fabs.memory", "mean": float("inf"), "pair": (1, 2)}, {"mean": 5e-324}]}


def test_a_run_file_is_the_canonical_json_of_its_record_and_checksum(tmp_path):
    rec = _record()
    stored = store.write_run(tmp_path, rec)
    clean = store._clean(rec)                     # NaN and infinities as null, tuples as lists
    assert stored["metrics"]["b.peak"] is None and stored["summary"][0]["mean"] is None
    body = json.dumps(clean, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert stored["sha256"] == store.checksum(clean) == hashlib.sha256(body.encode()).hexdigest()
    text = store.run_path(tmp_path, "r1").read_text(encoding="utf-8")
    assert text == json.dumps({**clean, "sha256": stored["sha256"]}, sort_keys=True, separators=(",", ":")) + "\n"
    back = store.read_run(tmp_path, "r1")
    assert back == json.loads(json.dumps(stored))
    assert back["metrics"]["a.total"] == 0.1 + 0.2 and math.copysign(1, back["metrics"]["c.lost"]) == -1


def test_a_finite_record_is_stored_as_given(tmp_path):
    rec = _record()
    rec["metrics"] = {"a.total": 1.0}
    rec["summary"] = [{"mean": 2.5}]
    stored = store.write_run(tmp_path, rec)
    assert stored == {**rec, "sha256": store.checksum(rec)}
    assert store.read_run(tmp_path, "r1") == stored


def test_a_workers_summary_rows_hold_null_where_the_table_holds_nan():
    from simulator.report.frames import SUMMARY_COLUMNS
    from simulator.report.table import Table
    from simulator.sweep.worker import SUMMARY_FIELDS, _summary_rows
    n = 3
    data = {c: [f"{c}{i}" for i in range(n)] for c in SUMMARY_COLUMNS}
    data["mean"] = [1.5, float("nan"), float("inf")]
    data["baseline"] = [np.float64("nan"), np.float64(2.0), -np.inf]
    rows = json.loads(_summary_rows(Table(SUMMARY_COLUMNS, data)).text)
    assert [r["mean"] for r in rows] == [1.5, None, None] and [r["baseline"] for r in rows] == [None, 2.0, None]
    assert sorted(rows[0]) == sorted(SUMMARY_FIELDS) and rows[2]["entity"] == "entity2"


def _oracle(columns: dict) -> str:
    """What the store wrote for such rows before :func:`store.rows_json`: the rows made, cleaned, encoded."""
    rows = [dict(zip(columns, vals)) for vals in zip(*columns.values())]
    return json.dumps(store._clean(rows), sort_keys=True, separators=(",", ":"), allow_nan=False)


def test_rows_encoded_from_columns_are_the_json_of_the_rows():
    """Every kind of cell a summary holds, and some it does not: texts with quotes, escapes, non-ASCII and
    braces, numpy and Python floats (shortest repr, −0.0, subnormal, huge), NaN and infinities (null), None,
    ints, booleans, a tuple and a list holding NaN or an infinity; field names in any order, one with a brace."""
    texts = ['plain', 'quo"te', "back\\slash", "tab\tnew\nline", "é ü 中", "{brace}", "", "\u2028"]
    floats = [0.1 + 0.2, -0.0, 5e-324, 1e300, np.float64(1 / 3), np.float64(-2.5e-7), float("nan"),
              float("inf"), np.float64("-inf"), 1.0]
    others = [None, 0, -7, 2**63 - 1, True, False, np.float64(1e22), 3.0, (float("nan"), 2), [float("inf")]]
    k = max(len(texts), len(floats), len(others))
    columns = {"unit": (texts * 2)[:k], "{odd}": (floats * 2)[:k], "baseline": (others * 2)[:k],
               "a": list(reversed((floats * 2)[:k]))}
    got = store.rows_json(columns).text
    assert got == _oracle(columns)
    assert store.rows_json({"x": []}).text == "[]" == _oracle({"x": []})


def test_a_run_file_with_encoded_rows_is_the_one_of_the_rows(tmp_path):
    """A record whose summary is given encoded is stored, checksummed and read back as with the rows."""
    cols = {"entity": ["a", "b"], "mean": [1.5, float("nan")]}
    rows = [{"entity": "a", "mean": 1.5}, {"entity": "b", "mean": None}]
    rec = {**_record(), "summary": store.rows_json(cols)}
    stored = store.write_run(tmp_path / "x", rec)
    plain = store.write_run(tmp_path / "y", {**_record(), "summary": rows})
    assert stored["sha256"] == plain["sha256"]
    assert (store.run_path(tmp_path / "x", "r1").read_bytes() == store.run_path(tmp_path / "y", "r1").read_bytes())
    assert store.read_run(tmp_path / "x", "r1")["summary"] == rows
