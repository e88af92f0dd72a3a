"""``theory-check-diff``: a result set against itself is unchanged (exit 0); a perturbed copy
fails (exit 1) and names the sweep, on the committed tables and on fresh raw rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from theory_check import diff
from theory_check.results import read_run, write_rows_atomic
from theory_check.run import run

ROOT = Path(__file__).resolve().parents[1]


#: What a clone holds of the default results (the raw rows are not committed).
COMMITTED = ("verdicts.csv", "tables/points.csv", "tables/rows.csv.gz")


def committed_copy(tmp_path: Path, name: str = "results") -> Path:
    """The committed tables only, whatever raw rows this checkout has computed beside them."""
    copy = tmp_path / name
    for rel in COMMITTED:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "results" / rel, copy / rel)
    return copy


def test_the_committed_results_against_themselves_are_unchanged(tmp_path, capsys):
    committed = committed_copy(tmp_path)
    assert diff.main([str(committed), str(committed)]) == 0
    out = capsys.readouterr().out
    rows = pd.read_csv(committed / "tables" / "rows.csv.gz")
    n = len(rows.drop_duplicates(["experiment_name", "estimator"]))
    assert f"{n} of the {n} (sweep, estimator) groups with rows on both sides are bitwise equal" in out
    assert "SAME" in out and "FAIL" not in out


def test_a_perturbed_copy_of_the_committed_results_fails_and_names_the_sweep(tmp_path, capsys):
    committed, copy = committed_copy(tmp_path, "a"), committed_copy(tmp_path, "b")
    rows = pd.read_csv(copy / "tables" / "rows.csv.gz")
    at = rows.index[(rows["experiment_name"] == "thm44_low_rank_r")
                    & (rows["estimator"] == "convex_linear")][0]
    rows.loc[at, "mse"] *= 1 + 1e-3
    diff.write_compact(rows, copy / "tables" / "rows.csv.gz")
    assert diff.main([str(committed), str(copy)]) == 1
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert len(failing) == 1 and failing[0].split()[:2] == ["thm44_low_rank_r", "convex_linear"]
    assert "0.001" in failing[0] and "DIFFERENT: 1 groups fail, in sweeps thm44_low_rank_r" in out
    # Within the tolerance the same copy passes.
    assert diff.main([str(committed), str(copy), "--rtol", "1e-2"]) == 0


def test_without_compact_rows_the_points_are_compared(tmp_path, capsys):
    committed, copy = committed_copy(tmp_path, "a"), committed_copy(tmp_path, "b")
    for root in (committed, copy):
        (root / "tables" / "rows.csv.gz").unlink()
    points = pd.read_csv(copy / "tables" / "points.csv")
    at = points.index[(points["sweep"] == "thm44_low_rank_r") & (points["estimator"] == "convex_linear")][0]
    points.loc[at, "mse_mean"] *= 1 + 1e-3
    points.to_csv(copy / "tables" / "points.csv", index=False)
    assert diff.main([str(committed), str(copy)]) == 1
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert len(failing) == 1 and failing[0].split()[:2] == ["thm44_low_rank_r", "convex_linear"]


def test_a_changed_verdict_fails_whatever_the_tolerance(tmp_path, capsys):
    committed, copy = committed_copy(tmp_path, "a"), committed_copy(tmp_path, "b")
    verdicts = pd.read_csv(copy / "verdicts.csv")
    at = verdicts.index[(verdicts["sweep"] == "thm31_n") & (verdicts["estimator"] == "data_svd")][0]
    assert verdicts.loc[at, "status"] == "sharp"
    verdicts.loc[at, "status"] = "not-confirmed"
    verdicts.to_csv(copy / "verdicts.csv", index=False)
    assert diff.main([str(committed), str(copy), "--rtol", "1"]) == 1
    out = capsys.readouterr().out.replace("\n", " ")
    assert "thm31_n" in out and "not-confirmed" in out and "DIFFERENT" in out
    # Numbers alone moving in a verdict's text are a change of MSE, judged by --rtol, not a new verdict.
    verdicts.loc[at, "status"] = "sharp"
    digits = verdicts["verdict"].str.contains(r"\d")
    verdicts.loc[digits, "verdict"] = verdicts.loc[digits, "verdict"].str.replace("0", "9")
    verdicts.to_csv(copy / "verdicts.csv", index=False)
    assert diff.main([str(committed), str(copy)]) == 0


def adhoc_rows(make_cfg, tmp_path) -> Path:
    for n in (40, 80, 160):
        for seed in (0, 1):
            run(make_cfg(f"n={n}", "d=10", "N=10", "r=2", f"seed={seed}"))
    return tmp_path / "raw"


def test_fresh_raw_rows_matched_by_key(make_cfg, tmp_path, capsys):
    raw = adhoc_rows(make_cfg, tmp_path)
    assert diff.main([str(raw), str(raw)]) == 0
    assert "2 of the 2 (sweep, estimator) groups with rows on both sides are bitwise equal" in capsys.readouterr().out

    copy = tmp_path / "copy"
    shutil.copytree(raw, copy)
    files = sorted((copy / "adhoc").glob("*.parquet"))
    rows = read_run(files[0])
    rows.loc[rows["estimator"] == "data_svd", "mse"] *= 1 + 1e-3
    rows["pkg.numpy"] = "0.0.1"
    write_rows_atomic(files[0], rows.to_dict("records"))
    failed = read_run(files[1])
    failed.loc[failed["estimator"] == "weight_svd", ["mse", "status"]] = [np.nan, "error"]
    write_rows_atomic(files[1], failed.to_dict("records"))
    files[2].unlink()

    assert diff.main([str(raw), str(copy)]) == 1
    out = capsys.readouterr().out
    lines = {tuple(line.split()[:2]): line for line in out.splitlines() if line.startswith("adhoc ")}
    data_svd, weight_svd = lines[("adhoc", "data_svd")], lines[("adhoc", "weight_svd")]
    # matched rows, only in A, only in B, largest relative change
    assert data_svd.split()[2:6] == ["5", "1", "0", "0.001"] and data_svd.endswith("FAIL")
    assert "ok→error ×1" in weight_svd and weight_svd.endswith("FAIL")
    numpy = read_run(raw / "adhoc" / files[0].name)["pkg.numpy"].iloc[0]
    assert f"versions and commits (2 groups, e.g. adhoc): numpy: {numpy} → 0.0.1, {numpy}" in out
    assert "DIFFERENT: 2 groups fail, in sweeps adhoc" in out


def test_bad_arguments_are_refused(tmp_path):
    committed = committed_copy(tmp_path)
    with pytest.raises(SystemExit):
        diff.main([str(tmp_path / "missing"), str(tmp_path)])
    with pytest.raises(SystemExit):
        diff.main([str(committed), str(committed), "--rtol", "-1"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit):
        diff.main([str(tmp_path / "empty"), str(committed)])


def test_a_results_root_without_raw_rows_is_compared_through_its_compact_rows(make_cfg, tmp_path, capsys):
    from theory_check.results import load_results
    from theory_check.summary import _figures, summarize

    raw = adhoc_rows(make_cfg, tmp_path)
    rows = load_results(raw)
    root = tmp_path / "committed"
    _, verdicts, points = summarize(rows, _figures())
    (root / "tables").mkdir(parents=True)
    verdicts.to_csv(root / "verdicts.csv", index=False)
    points.to_csv(root / "tables" / "points.csv", index=False)
    path = diff.write_compact_rows(rows, root)
    first = path.read_bytes()
    assert diff.write_compact_rows(rows, root).read_bytes() == first  # same rows, same bytes

    assert diff.main([str(raw), str(root)]) == 0
    out = capsys.readouterr().out
    assert f"B = {root}: {len(rows)} rows" in out
    assert "2 of the 2 (sweep, estimator) groups with rows on both sides are bitwise equal" in out

    changed = rows.copy()
    changed.loc[changed.index[0], "mse"] = np.nextafter(changed["mse"].iloc[0], 1.0)  # one ulp
    diff.write_compact_rows(changed, root)
    assert diff.main([str(raw), str(root), "--rtol", "0"]) == 1
    assert "DIFFERENT: 1 groups fail, in sweeps adhoc" in capsys.readouterr().out
