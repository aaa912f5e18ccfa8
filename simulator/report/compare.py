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

from .writer import os_error_text, write_csv

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


def _describe(path: str) -> str:
    """``folder (scenario, seed N, R replications, --set ...)`` from a result folder's manifest."""
    p = Path(path)
    man = p / "manifest.json" if p.is_dir() else p.parent / "manifest.json"
    try:
        m = json.loads(man.read_text()) if man.is_file() else {}
    except (OSError, ValueError):
        m = {}
    bits = [str(m["scenario"])] if m.get("scenario") else []
    if m.get("seed") is not None:
        bits.append(f"seed {m['seed']}")
    if m.get("replications") is not None:
        bits.append(f"{m['replications']} replication(s)")
    if m.get("sets"):
        bits.append("--set " + " ".join(map(str, m["sets"])))
    return f"{path}" + (f" ({', '.join(bits)})" if bits else "")


def _order(df: pd.DataFrame, a: str) -> pd.DataFrame:
    """Rows in the order of A's ``impacts.csv`` (what the scenario is about first), when there is one."""
    imp = Path(a) / "impacts.csv" if Path(a).is_dir() else Path(a).parent / "impacts.csv"
    if not imp.is_file() or df.empty:
        return df
    try:
        order = pd.read_csv(imp, usecols=["entity", "metric"])
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return df
    rank = {f"{e}.{m}": i for i, (e, m) in enumerate(zip(order["entity"], order["metric"]))}
    series = df["entity"].astype(str) + "." + df["metric"].astype(str).str.rpartition(".")[0]
    key = series.map(lambda s: rank.get(s, len(rank)))
    return df.assign(_k=key).sort_values("_k", kind="stable").drop(columns="_k")


def _plain(x: float) -> str:
    from .terminal import number
    return number(x)


def format_table(df: pd.DataFrame, a: str = "A", b: str = "B", out: str | None = None, limit: int = 25) -> str:
    """The differences as text: A and B named, full names, units, plain numbers, and what was paired."""
    show = df[(df["only_in"] != "") | (df["difference"].abs() > 1e-12)]
    lines = [f"A = {_describe(a)}", f"B = {_describe(b)}"]
    if df["paired"].any():
        n = int(df.loc[df["paired"], "n"].max())
        lines.append(f"paired: both runs share seed and replication count, so B - A is taken replication by "
                     f"replication ({n} pairs); interval = 95% paired t interval")
    else:
        lines.append("unpaired: seeds or replication counts differ (or per-replication files are missing); "
                     "interval = normal approximation from each side's p05..p95")
    lines.append("")
    rows = []
    for r in show.head(limit).itertuples(index=False):
        name = f"{r.entity}.{r.metric}"
        unit = "" if (isinstance(r.unit, float) and math.isnan(r.unit)) else str(r.unit)
        if r.only_in:
            rows.append((name, unit, "", "", f"only in {r.only_in}", ""))
            continue
        ci = "" if math.isnan(r.diff_low) else f"{_plain(r.diff_low)} .. {_plain(r.diff_high)}"
        rows.append((name, unit, _plain(r.a_mean), _plain(r.b_mean), _plain(r.difference), ci))
    head = ("series.metric", "unit", "A", "B", "B - A", "95% interval")
    if rows:
        w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
        fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w[i]}}}" for i in range(len(head)))
        lines += [fmt.format(*head), fmt.format(*("-" * x for x in w))] + [fmt.format(*x).rstrip() for x in rows]
    if len(show) > limit:
        lines.append(f"... {len(show) - limit} more rows that differ: " +
                     (f"all {len(df)} rows are in {out}" if out else "write them all with --out FILE.csv"))
    if show.empty:
        lines.append("(no differences)")
    elif out and len(show) <= limit:
        lines.append(f"all {len(df)} rows (also the unchanged ones) are in {out}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- sweeps
SWEEP_COLUMNS = ["point", "metric", "a_mean", "b_mean", "difference", "change_pct"]


def is_sweep(path: str) -> bool:
    """A ``simulate sweep`` output folder (it holds ``runs/`` and ``points.csv``)."""
    p = Path(path)
    return p.is_dir() and (p / "points.csv").is_file() and ((p / "runs").is_dir() or (p / "runs.csv").is_file())


def compare_sweeps(a: str, b: str) -> pd.DataFrame:
    """Point by point (same design in A and B): per point and metric, the mean over replications, B - A."""
    pa, pb = pd.read_csv(Path(a) / "points.csv"), pd.read_csv(Path(b) / "points.csv")
    if list(pa.columns) != list(pb.columns) or len(pa) != len(pb) or not pa.equals(pb):
        raise CompareError(f"{a} and {b} are sweeps over different points (compare points.csv); compare two "
                           f"sweeps with the same design, or two result folders")
    sa, sb = pd.read_csv(Path(a) / "summary.csv"), pd.read_csv(Path(b) / "summary.csv")
    keys = [c for c in pa.columns if c != "point"]
    m = sa[["point", *keys, "metric", "mean"]].merge(sb[["point", "metric", "mean"]], on=["point", "metric"],
                                                    how="outer", suffixes=("_a", "_b"), sort=False)
    m = m.rename(columns={"mean_a": "a_mean", "mean_b": "b_mean"})
    m["difference"] = m["b_mean"] - m["a_mean"]
    with np.errstate(divide="ignore", invalid="ignore"):
        m["change_pct"] = np.where(m["a_mean"].abs() > 0, m["difference"] / m["a_mean"].abs() * 100, np.nan)
    return m[["point", *keys, "metric", "a_mean", "b_mean", "difference", "change_pct"]]


def format_sweeps(df: pd.DataFrame, a: str, b: str, out: str | None, limit: int = 25) -> str:
    show = df[df["difference"].abs() > 1e-12].copy()
    show = show.reindex(show["change_pct"].abs().sort_values(ascending=False, na_position="last").index)
    keys = [c for c in df.columns if c not in SWEEP_COLUMNS]
    lines = [f"A = sweep {a}", f"B = sweep {b}",
             "point by point (same design): mean over each point's replications, B - A; largest changes first", ""]
    rows = [(str(r["point"]), ", ".join(f"{k}={r[k]}" for k in keys), str(r["metric"]), _plain(r["a_mean"]),
             _plain(r["b_mean"]), _plain(r["difference"]),
             "" if math.isnan(r["change_pct"]) else f"{r['change_pct']:+.1f}%")
            for _, r in show.head(limit).iterrows()]
    head = ("point", "parameters", "metric", "A", "B", "B - A", "change")
    if rows:
        w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
        fmt = "  ".join(f"{{:{'<' if i < 3 else '>'}{w[i]}}}" for i in range(len(head)))
        lines += [fmt.format(*head), fmt.format(*("-" * x for x in w))] + [fmt.format(*x) for x in rows]
    else:
        lines.append("(no differences)")
    if len(show) > limit:
        lines.append(f"... {len(show) - limit} more rows that differ: " +
                     (f"all rows are in {out}" if out else "write them all with --out FILE.csv"))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from .arguments import Parser
    p = Parser(prog="simulate compare", description="Differences B − A between two results (result folders, "
                "summary.csv files, or two sweep folders with the same points).")
    p.add_argument("a", help="result folder or summary.csv (A)")
    p.add_argument("b", help="result folder or summary.csv (B)")
    p.add_argument("--out", help="write the table to this CSV file")
    args = p.parse_args(argv)
    if args.out and Path(args.out).is_dir():
        print(f"simulate compare: --out {args.out}: is a folder, give a file name", file=sys.stderr)
        return 2
    try:
        sweeps = is_sweep(args.a), is_sweep(args.b)
        if any(sweeps) and not all(sweeps):
            which, other = ("A", "B") if sweeps[0] else ("B", "A")
            raise CompareError(f"{which} is a sweep folder and {other} is not: compare two sweeps with the same "
                               f"points, or two result folders (a sweep keeps its runs in runs.csv)")
        if all(sweeps):
            df = compare_sweeps(args.a, args.b)
            text = format_sweeps(df, args.a, args.b, args.out)
        else:
            df = _order(compare(args.a, args.b), args.a)
            text = format_table(df, args.a, args.b, args.out)
    except CompareError as exc:
        print(f"simulate compare: {exc}", file=sys.stderr)
        return 2
    except (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError, UnicodeDecodeError) as exc:
        print(f"simulate compare: cannot read the inputs as results ({type(exc).__name__}: {exc})",
              file=sys.stderr)
        return 2
    print(text)
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            write_csv(df, tmp)
            tmp.replace(out)
        except OSError as exc:      # a missing folder, a full or read-only disk: the table above stands
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            print(f"simulate compare: --out {out}: cannot write it ({os_error_text(exc)}); the table above is "
                  f"complete: choose another --out", file=sys.stderr)
            return 2
        print(f"written {out}")
    return 0
