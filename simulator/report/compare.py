"""``simulate compare A B``: per-metric differences between two results (B − A).

A and B are result folders (or their ``summary.csv``). Where both folders hold ``metrics_by_replication.csv``
with the same seed and replication count, replications share random numbers (common random numbers), so the
difference is taken replication by replication and its 95% interval is a paired t interval; otherwise the
interval comes from the two summaries' spreads (unpaired, normal approximation from p05..p95). Metrics present
in only one side are listed with ``only_in``.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .writer import write_csv

COLUMNS = ["entity", "metric", "unit", "a_mean", "b_mean", "difference", "diff_low", "diff_high", "change_pct",
           "paired", "n", "only_in"]
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000, 120: 1.980}


class CompareError(Exception):
    """An input that is not a result folder or summary."""


def _t95(df: int) -> float:
    keys = sorted(T95)
    for k in keys:
        if df <= k:
            return T95[k]
    return 1.96


def _side(path: str) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    p = Path(path)
    if p.is_dir():
        summ = p / "summary.csv"
        if not summ.is_file():
            raise CompareError(f"{p}: no summary.csv here: not a result folder")
        reps = p / "metrics_by_replication.csv"
        man = p / "manifest.json"
        meta = json.loads(man.read_text()) if man.is_file() else {}
        try:
            return pd.read_csv(summ), (pd.read_csv(reps) if reps.is_file() else None), meta
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise CompareError(f"{summ}: not a readable CSV ({exc})") from None
    if p.is_file():
        try:
            df = pd.read_csv(p)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise CompareError(f"{p}: not a readable CSV ({exc})") from None
        if not {"entity", "metric", "mean"} <= set(df.columns):
            raise CompareError(f"{p}: not a summary.csv (needs entity, metric, mean columns)")
        return df, None, {}
    raise CompareError(f"{p}: no such result folder or file")


def compare(a: str, b: str) -> pd.DataFrame:
    """The difference table B − A."""
    sa, ra, ma = _side(a)
    sb, rb, mb = _side(b)
    paired = (ra is not None and rb is not None and ma.get("seed") == mb.get("seed")
              and ma.get("replications") == mb.get("replications") and ma.get("seed") is not None)
    ka = sa.set_index(["entity", "metric"])
    kb = sb.set_index(["entity", "metric"])
    rows = []
    if paired:
        pa = ra.pivot_table(index=["entity", "metric"], columns="replication", values="value", dropna=False)
        pb = rb.pivot_table(index=["entity", "metric"], columns="replication", values="value", dropna=False)
    keys = list(dict.fromkeys(list(ka.index) + list(kb.index)))
    for key in keys:
        ina, inb = key in ka.index, key in kb.index
        unit = (ka.loc[key, "unit"] if ina else kb.loc[key, "unit"]) if "unit" in ka.columns else ""
        row = {"entity": key[0], "metric": key[1], "unit": unit, "a_mean": math.nan, "b_mean": math.nan,
               "difference": math.nan, "diff_low": math.nan, "diff_high": math.nan, "change_pct": math.nan,
               "paired": False, "n": 0, "only_in": ""}
        if not (ina and inb):
            row["only_in"] = "A" if ina else "B"
            row["a_mean" if ina else "b_mean"] = (ka if ina else kb).loc[key, "mean"]
            rows.append(row)
            continue
        am, bm = float(ka.loc[key, "mean"]), float(kb.loc[key, "mean"])
        row.update(a_mean=am, b_mean=bm, difference=bm - am)
        if am and not math.isnan(am):
            row["change_pct"] = (bm - am) / abs(am) * 100
        if paired and key in pa.index and key in pb.index:
            d = (pb.loc[key].to_numpy(float) - pa.loc[key].to_numpy(float))
            d = d[~np.isnan(d)]
            if d.size >= 2:
                half = _t95(d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
                row.update(difference=float(d.mean()), diff_low=float(d.mean() - half),
                           diff_high=float(d.mean() + half), paired=True, n=int(d.size))
            elif d.size == 1:
                row.update(difference=float(d[0]), paired=True, n=1)
        elif {"p05", "p95"} <= set(ka.columns) and {"p05", "p95"} <= set(kb.columns):
            sda = (ka.loc[key, "p95"] - ka.loc[key, "p05"]) / 3.29
            sdb = (kb.loc[key, "p95"] - kb.loc[key, "p05"]) / 3.29
            na = int(ka.loc[key, "replications"]) if "replications" in ka.columns else 1
            nb = int(kb.loc[key, "replications"]) if "replications" in kb.columns else 1
            se = math.sqrt(sda ** 2 / max(na, 1) + sdb ** 2 / max(nb, 1))
            if not math.isnan(se):
                row.update(diff_low=bm - am - 1.96 * se, diff_high=bm - am + 1.96 * se, n=min(na, nb))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def format_table(df: pd.DataFrame, width: int = 100, limit: int = 25) -> str:
    show = df[(df["only_in"] != "") | (df["difference"].abs() > 1e-12)]
    lines = [f"{'entity.metric':44s} {'A':>10s} {'B':>10s} {'B-A':>10s} {'95% interval':>22s}"]
    for r in show.head(limit).itertuples(index=False):
        name = f"{r.entity}.{r.metric}"[:44]
        if r.only_in:
            lines.append(f"{name:44s} only in {r.only_in}")
            continue
        ci = "" if math.isnan(r.diff_low) else f"{r.diff_low:.4g}..{r.diff_high:.4g}" + (" p" if r.paired
                                                                                          else "")
        lines.append(f"{name:44s} {r.a_mean:10.4g} {r.b_mean:10.4g} {r.difference:10.4g} {ci:>22s}")
    if len(show) > limit:
        lines.append(f"... {len(show) - limit} more rows in the output file")
    if show.empty:
        lines.append("(no differences)")
    elif show["paired"].any():
        lines.append("p = paired interval (replications share seeds); full names and units in --out FILE")
    return "\n".join(line[:width] for line in lines)


def main(argv: list[str]) -> int:
    from ..cli import _Parser
    p = _Parser(prog="simulate compare", description="Differences B − A between two results.")
    p.add_argument("a", help="result folder or summary.csv (A)")
    p.add_argument("b", help="result folder or summary.csv (B)")
    p.add_argument("--out", help="write the table to this CSV file")
    args = p.parse_args(argv)
    try:
        df = compare(args.a, args.b)
    except CompareError as exc:
        print(f"simulate compare: {exc}", file=sys.stderr)
        return 2
    print(format_table(df))
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            print(f"simulate compare: --out {out}: is a folder, give a file name", file=sys.stderr)
            return 2
        tmp = out.with_name(f".{out.name}.tmp")
        write_csv(df, tmp)
        tmp.replace(out)
        print(f"written {out}")
    return 0
