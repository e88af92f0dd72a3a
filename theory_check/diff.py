"""``theory-check-diff A B``: two result sets compared, per (sweep, estimator).

A and B are results folders: a folder of raw rows (``results/raw``, or a results root holding
``raw/``), or a results root with only the committed tables (``verdicts.csv`` and
``tables/points.csv``: the committed results keep no raw rows).

* Both sides with raw rows: rows are matched by their key (run key, estimator and its
  settings). Per (experiment, estimator): rows only in one side, the largest relative change of
  MSE over matched rows, changed row statuses (``ok`` → ``error``, ...), and the package
  versions (``pkg.*``, ``version``, ``python``) and commits (``git_commit``) that differ. The
  verdicts are those :mod:`theory_check.summary` computes from each side's rows, as the report
  does.
* A results root without raw rows offers its compact rows table ``tables/rows.csv.gz`` when
  it has one (:func:`write_compact_rows`: key, MSE, status, versions and commit of each row),
  compared as raw rows are, with the verdicts of its ``verdicts.csv``.
* Otherwise the committed tables are compared: points matched by (figure, sweep, estimator,
  value of the varied parameter), the relative change of their mean MSE, and the verdicts of
  ``verdicts.csv``. These tables record no versions or commits.

A verdict changes when its ``status`` differs (when the analysis writes that column), else when
its text differs in more than its numbers (an exponent 1.02 → 1.03 is a change of MSE, which
``--rtol`` judges, not of verdict). The exit status is 1 when a verdict changes, a row's status
changes, or an MSE changes by more than ``--rtol``; 0 otherwise. Rows or points only in one
side are reported but do not fail the comparison (a grid may grow).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from .results import load_results
from .summary import _figures, raw_folder, summarize, verdict_text

#: Default tolerance on the relative change of an MSE. The committed tables keep 6 significant
#: digits, so a rounding flip alone moves a mean by up to 1e-5 of itself.
DEFAULT_RTOL = 1e-4
PROVENANCE = ("version", "python", "git_commit")
#: A results root's compact table of its rows, for a result set that keeps no raw rows (the
#: committed results): what the comparison of rows needs, written by :func:`write_compact_rows`.
COMPACT_ROWS = Path("tables") / "rows.csv.gz"
COMPACT_COLUMNS = ("key", "run_key", "experiment_name", "estimator", "seed", "mse", "status")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass
class Side:
    """One result set: its raw rows (empty when it has none), verdicts and points."""

    path: Path
    rows: pd.DataFrame
    verdicts: pd.DataFrame
    points: pd.DataFrame

    @property
    def has_rows(self) -> bool:
        return not self.rows.empty

    def describe(self) -> str:
        if self.has_rows:
            return f"{self.path}: {len(self.rows)} rows"
        return f"{self.path}: committed tables ({len(self.points)} points, {len(self.verdicts)} verdicts)"


def load_side(path: Path, experiments=None) -> Side:
    """Read a results folder: its raw rows when it has any, else its committed tables.

    Raises
    ------
    ValueError
        when ``path`` holds neither raw rows nor ``verdicts.csv``.
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder")
    raw = raw_folder(path)
    rows = load_results(raw, experiments) if any(raw.glob("*/*.parquet")) else pd.DataFrame()
    if experiments and not rows.empty:
        rows = rows[rows["experiment_name"].isin(experiments)]
    if not rows.empty:
        _, verdicts, points = summarize(rows, _figures())
        return Side(path, rows, verdicts, points)
    if not (path / "verdicts.csv").is_file():
        raise ValueError(f"{path} has no raw rows (<experiment>/<run key>.parquet, in it or in "
                         f"its raw/) and no verdicts.csv: not a results folder")
    verdicts = pd.read_csv(path / "verdicts.csv")
    points_file = path / "tables" / "points.csv"
    points = pd.read_csv(points_file) if points_file.is_file() else pd.DataFrame()
    compact = path / COMPACT_ROWS
    rows = pd.read_csv(compact, dtype=str).astype({"mse": float}) if compact.is_file() else pd.DataFrame()
    if experiments:
        verdicts = verdicts[verdicts["sweep"].isin(experiments)]
        points = points[points["sweep"].isin(experiments)] if len(points) else points
        rows = rows[rows["experiment_name"].isin(experiments)] if len(rows) else rows
    return Side(path, rows, verdicts, points)


def compact_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Per result row its key, sweep, estimator, seed, MSE, status, versions and commit: what a
    results root without raw rows keeps (``tables/rows.csv.gz``) to be compared row by row.

    Parameters
    ----------
    rows : DataFrame
        Result rows (:func:`theory_check.results.load_results`).
    """
    columns = [c for c in (*COMPACT_COLUMNS, *PROVENANCE) if c in rows]
    columns += sorted(c for c in rows if c.startswith("pkg."))
    return rows[columns].sort_values(["experiment_name", "key"], ignore_index=True)


def write_compact(table: pd.DataFrame, path: Path) -> Path:
    """Write a :func:`compact_rows` table to ``path``: every float with 17 significant digits, so
    equal floats stay equal, and the same rows give the same bytes (git sees no change)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.17g", compression={"method": "gzip", "mtime": 0})
    return path


def write_compact_rows(rows: pd.DataFrame, root: Path) -> Path:
    """Write ``<root>/tables/rows.csv.gz`` from result rows (see :func:`compact_rows`)."""
    return write_compact(compact_rows(rows), Path(root) / COMPACT_ROWS)


def relative_change(a, b) -> np.ndarray:
    """|b − a| / |a| elementwise; 0 where both are equal (both 0, both NaN), inf where a is 0
    and b is not; NaN where only one is NaN (a failed run: its status changed)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(b - a) / np.abs(a)
    change[(a == b) | (np.isnan(a) & np.isnan(b))] = 0.0
    return change


def _largest(change: np.ndarray) -> float:
    return float(np.nanmax(change)) if (~np.isnan(change)).any() else np.nan


def _transitions(before: pd.Series, after: pd.Series) -> str:
    """``ok→error ×2`` for the entries whose value changed (aligned series)."""
    changed = before.astype(str) != after.astype(str)
    pairs = (before[changed].astype(str) + "→" + after[changed].astype(str)).value_counts()
    return ", ".join(f"{t} ×{k}" for t, k in pairs.items())


def _value_sets(rows: pd.DataFrame, column: str) -> str:
    if column not in rows:
        return "—"
    values = sorted(rows[column].dropna().astype(str).unique())
    return ", ".join(v[:12] if column == "git_commit" else v for v in values) or "—"


def provenance_changes(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """``column: values in A → values in B`` for each provenance column that differs."""
    columns = [c for c in dict.fromkeys([*a.columns, *b.columns])
               if c.startswith("pkg.") or c in PROVENANCE]
    return [f"{c.removeprefix('pkg.')}: {_value_sets(a, c)} → {_value_sets(b, c)}"
            for c in columns if _value_sets(a, c) != _value_sets(b, c)]


def compare_rows(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per (experiment, estimator): rows matched by key, and what changed between them."""
    groups = []
    keys = sorted(set(map(tuple, a[["experiment_name", "estimator"]].drop_duplicates().values))
                  | set(map(tuple, b[["experiment_name", "estimator"]].drop_duplicates().values)))
    for experiment, estimator in keys:
        ga = a[(a["experiment_name"] == experiment) & (a["estimator"] == estimator)].set_index("key")
        gb = b[(b["experiment_name"] == experiment) & (b["estimator"] == estimator)].set_index("key")
        both = ga.index.intersection(gb.index)
        change = relative_change(ga.loc[both, "mse"], gb.loc[both, "mse"])
        groups.append({
            "sweep": experiment, "estimator": estimator, "matched": len(both),
            "only_a": len(ga.index.difference(gb.index)), "only_b": len(gb.index.difference(ga.index)),
            "max_rel_change": _largest(change), "n_changed": int((change != 0).sum()),
            "bitwise_equal": bool(len(both)) and bool((change == 0).all()),
            "status_changes": _transitions(ga.loc[both, "status"], gb.loc[both, "status"]),
            "provenance": "; ".join(provenance_changes(ga, gb)),
        })
    return pd.DataFrame(groups)


def compare_points(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per (sweep, estimator) of the point tables: points matched by (figure, sweep,
    estimator, x) and the largest relative change of their mean MSE."""
    on = ["figure", "sweep", "estimator", "x"]
    if a.empty or b.empty:
        a = a if len(a) else pd.DataFrame(columns=[*on, "mse_mean"])
        b = b if len(b) else pd.DataFrame(columns=[*on, "mse_mean"])
    merged = a[[*on, "mse_mean"]].merge(b[[*on, "mse_mean"]], on=on, how="outer",
                                        suffixes=("_a", "_b"), indicator=True)
    groups = []
    for (sweep, estimator), g in merged.groupby(["sweep", "estimator"], sort=True):
        both = g[g["_merge"] == "both"]
        change = relative_change(both["mse_mean_a"], both["mse_mean_b"])
        groups.append({
            "sweep": sweep, "estimator": estimator, "matched": len(both),
            "only_a": int((g["_merge"] == "left_only").sum()),
            "only_b": int((g["_merge"] == "right_only").sum()),
            "max_rel_change": _largest(change), "n_changed": int((change != 0).sum()),
            "bitwise_equal": bool(len(both)) and bool((change == 0).all()),
            "status_changes": "", "provenance": "",
        })
    return pd.DataFrame(groups)


def verdict_class(v) -> str:
    """What a verdict says, without its numbers: its ``status`` when the analysis writes one,
    else its text with every number replaced by ``#``."""
    status, reason = verdict_text(v)
    return status or _NUMBER.sub("#", reason)


def compare_verdicts(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per (sweep, estimator): the verdict on each side and whether it changed."""
    columns = ["sweep", "estimator", "verdict_a", "verdict_b", "verdict_changed"]
    if a.empty and b.empty:
        return pd.DataFrame(columns=columns)
    key = ["sweep", "estimator"]

    def table(v):
        if v.empty:
            return pd.DataFrame(columns=[*key, "text", "cls"])
        return v.assign(text=[verdict_text(r)[0] or verdict_text(r)[1] for r in v.to_dict("records")],
                        cls=[verdict_class(r) for r in v.to_dict("records")])[[*key, "text", "cls"]] \
            .drop_duplicates(key)

    merged = table(a).merge(table(b), on=key, how="outer", suffixes=("_a", "_b"))
    merged["verdict_changed"] = (merged["cls_a"].notna() & merged["cls_b"].notna()
                                 & (merged["cls_a"] != merged["cls_b"]))
    return merged.rename(columns={"text_a": "verdict_a", "text_b": "verdict_b"})[columns]


def compare(a: Side, b: Side, rtol: float = DEFAULT_RTOL) -> tuple[pd.DataFrame, bool]:
    """The per-(sweep, estimator) comparison table and whether it fails.

    Returns
    -------
    table : DataFrame
        One row per (sweep, estimator) of either side: ``matched``, ``only_a``, ``only_b``,
        ``max_rel_change``, ``status_changes``, ``provenance``, ``verdict_a``, ``verdict_b``,
        ``verdict_changed``, ``failed``.
    failed : bool
        A verdict or a row status changed, or an MSE changed by more than ``rtol``.
    """
    groups = (compare_rows(a.rows, b.rows) if a.has_rows and b.has_rows
              else compare_points(a.points, b.points))
    verdicts = compare_verdicts(a.verdicts, b.verdicts)
    table = groups.merge(verdicts, on=["sweep", "estimator"], how="outer")
    table["verdict_changed"] = table["verdict_changed"].fillna(False).astype(bool)
    table["failed"] = (table["verdict_changed"]
                       | (table["status_changes"].fillna("") != "")
                       | (table["max_rel_change"].fillna(0) > rtol))
    return table.sort_values(["sweep", "estimator"], ignore_index=True), bool(table["failed"].any())


def render(table: pd.DataFrame, a: Side, b: Side, rtol: float) -> str:
    """The printed report: the groups that differ, then a one-line account of the rest."""
    unit = "rows" if a.has_rows and b.has_rows else "points"
    lines = [f"A = {a.describe()}", f"B = {b.describe()}"]
    if not (a.has_rows and b.has_rows):
        lines.append("comparing the committed tables (points.csv, verdicts.csv): they record no "
                     "package versions or commits")
    differs = table[table["failed"] | (table["only_a"].fillna(0) > 0) | (table["only_b"].fillna(0) > 0)
                    | (table["n_changed"].fillna(0) > 0) | (table["provenance"].fillna("") != "")]
    if len(differs):
        body = []
        for t in differs.to_dict("records"):
            verdict = (f"{t['verdict_a']} → {t['verdict_b']}" if t["verdict_changed"] else "")
            body.append([t["sweep"], t["estimator"], _int(t["matched"]), _int(t["only_a"]),
                         _int(t["only_b"]), _change(t["max_rel_change"]),
                         t["status_changes"] or "", verdict, "FAIL" if t["failed"] else ""])
        lines.append(tabulate(body, ["sweep", "estimator", f"matched {unit}", "only A", "only B",
                                     "max rel ΔMSE", "status changes", "verdict change", ""],
                              tablefmt="simple", disable_numparse=True,
                              maxcolwidths=[None] * 7 + [60, None]))
        provenance = differs[differs["provenance"].fillna("") != ""]
        for text, g in provenance.groupby("provenance", sort=True):
            lines.append(f"versions and commits ({len(g)} groups, e.g. {g['sweep'].iloc[0]}): {text}")
    matched = table[table["matched"].fillna(0) > 0]
    equal = int(matched["bitwise_equal"].astype(bool).sum())
    largest = matched["max_rel_change"].max() if len(matched) else np.nan
    lines.append(f"{equal} of the {len(matched)} (sweep, estimator) groups with {unit} on both sides "
                 f"are bitwise equal"
                 + (f"; the largest relative change of MSE is {_change(largest)}" if len(matched) else "")
                 + f" (--rtol {rtol:g})")
    failed = table[table["failed"]]
    if len(failed):
        lines.append(f"DIFFERENT: {len(failed)} groups fail, in sweeps "
                     + ", ".join(dict.fromkeys(failed["sweep"])))
    else:
        lines.append("SAME: no verdict or status changed and no MSE moved by more than --rtol")
    return "\n".join(lines)


def _int(x) -> str:
    return "—" if pd.isna(x) else str(int(x))


def _change(x) -> str:
    return "—" if pd.isna(x) else ("0" if x == 0 else f"{x:.2g}")


def main(argv=None) -> int:
    """``theory-check-diff A B [--rtol R] [--experiment NAME] [--csv FILE]``; the exit status."""
    parser = argparse.ArgumentParser(
        prog="theory-check-diff",
        description="Compare two result sets per (sweep, estimator): rows only in one side, the "
                    "largest relative change of MSE, changed statuses and verdicts, changed "
                    "package versions and commits. Exit status 1 when a verdict or a row status "
                    "changes or an MSE moves by more than --rtol.")
    parser.add_argument("a", type=Path, help="results folder A (results/, results/raw/, or a copy)")
    parser.add_argument("b", type=Path, help="results folder B")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                        help=f"largest relative change of an MSE that passes (default {DEFAULT_RTOL:g})")
    parser.add_argument("--experiment", action="append", help="only this sweep (repeatable)")
    parser.add_argument("--csv", type=Path, help="write the per-(sweep, estimator) table here")
    args = parser.parse_args(argv)
    if not (args.rtol >= 0):
        parser.error(f"--rtol must be ≥ 0, got {args.rtol}")
    try:
        a, b = load_side(args.a, args.experiment), load_side(args.b, args.experiment)
    except ValueError as exc:
        parser.error(str(exc))
    table, failed = compare(a, b, args.rtol)
    print(render(table, a, b, args.rtol))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
