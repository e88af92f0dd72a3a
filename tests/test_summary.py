"""What a run, a sweep and a results folder print (issue 22): the README's examples print their
tables, a resumed sweep is summarized whole, ``quiet=true`` silences them without changing run
keys, and ``theory-check-summary`` reads raw rows and the committed tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from theory_check import summary
from theory_check.results import load_results
from theory_check.run import run_key

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)}
#: The README's single-run example.
SINGLE = ["n=400", "d=100", "N=100", "r=5", "sigma=0.5", "design=condition_number", "design.kappa=1e3"]


def theory_check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "theory_check", *args,
                           f"results_dir={tmp_path / 'raw'}", f"hydra.run.dir={tmp_path / 'run'}",
                           f"hydra.sweep.dir={tmp_path / 'multirun'}"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_the_readme_single_run_prints_its_table(tmp_path):
    out = theory_check(tmp_path, *SINGLE).stdout
    rows = load_results(tmp_path / "raw", ["adhoc"]).set_index("estimator")
    path = tmp_path / "raw" / "adhoc" / f"{rows['run_key'].iloc[0]}.parquet"
    lines = out.splitlines()
    assert lines[0].startswith("Theorem 3.1: strong model, condition_number design, gaussian noise, n=400 d=100")
    assert f"rate rate_thm31 = {rows['rate_thm31'].iloc[0]:.4g}" in out
    assert f"reference dof_thm31 = {rows['dof_thm31'].iloc[0]:.4g}" in out
    assert f"asymptotic reference_asymptotic = {rows['reference_asymptotic'].iloc[0]:.4g}" in out
    header = next(line for line in lines if line.startswith("estimator"))
    assert header.split() == ["estimator", "MSE", "MSE/rate", "MSE/reference", "MSE/asymptotic",
                              "status", "certificate", "wall", "time", "(s)"]
    for est in ("data_svd", "weight_svd"):
        cells = next(line for line in lines if line.startswith(est)).split()
        r = rows.loc[est]
        assert cells[1] == f"{r['mse']:.4g}"
        assert cells[2] == f"{r['mse'] / r['rate_thm31']:.3g}"
        assert cells[3] == f"{r['mse'] / r['dof_thm31']:.3g}"
        assert cells[5] == "ok" and cells[6] == f"{r['solver.certificate']:.2e}"
    assert lines[-1] == f"rows: {path}"

    again = theory_check(tmp_path, *SINGLE).stdout  # stored: nothing recomputed, and it says so
    assert again.splitlines()[-1] == f"rows: {path} (already in the results: nothing recomputed; force=true recomputes)"


def test_quiet_prints_nothing_and_keeps_the_run_key(tmp_path, make_cfg):
    proc = theory_check(tmp_path, *SINGLE, "quiet=true")
    assert proc.stdout == ""
    assert len(load_results(tmp_path / "raw", ["adhoc"])) == 2
    assert run_key(make_cfg(*SINGLE, "quiet=true")) == run_key(make_cfg(*SINGLE))
    sweep = theory_check(tmp_path, "-m", "n=20,40", "d=10", "N=10", "r=2", "quiet=true")
    assert "2 runs: 0 already in the results" in sweep.stdout  # Hydra's log line stays
    assert "==" not in sweep.stdout and "rows:" not in sweep.stdout
    assert not (tmp_path / "multirun" / "summary_verdicts.csv").exists()


def point_lines(out: str, estimator: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.startswith(estimator + " ")]


def test_the_readme_sweep_prints_points_fit_verdict_and_where_a_resumed_sweep_is_whole(tmp_path):
    first = theory_check(tmp_path, "-m", "+experiment=thm31_n", "n=100,200", "seed=range(3)").stdout
    assert "n swept over 2 values × 3 seeds (6 runs)" in first
    out = theory_check(tmp_path, "-m", "+experiment=thm31_n", "n=100,200,400", "seed=range(3)").stdout
    # The resumed sweep ran only n = 400, and summarizes all nine runs.
    assert "== thm31_n: Theorem 3.1, n swept over 3 values × 3 seeds (9 runs)" in out
    assert "claim sharp (as experiments/thm31_rates.yaml judges it)" in out
    rows = load_results(tmp_path / "raw", ["thm31_n"])
    mine = rows[rows["estimator"] == "data_svd"]
    points = point_lines(out, "data_svd")
    assert [p[1] for p in points[:3]] == ["100", "200", "400"]
    for p in points[:3]:
        at = mine[mine["n"] == int(p[1])]
        assert p[2] == "3" and p[3] == f"{at['mse'].mean():.4g}"
        assert p[6] == f"{(at['mse'] / at['rate_thm31']).mean():.3g}"
    fit = points[3]  # the verdict line: exponent, interval, max MSE/rate, verdict
    assert fit[1] == "estimator" and float(fit[2]) == pytest.approx(1.0, abs=0.3)
    assert fit[6] == "indicative"  # three points are too few for an exponent: it says so
    assert f"rows: 9 run files in {tmp_path / 'raw' / 'thm31_n'}/" in out
    tables = pd.read_csv(tmp_path / "multirun" / "summary_verdicts.csv")
    assert set(tables["estimator"]) == {"data_svd", "weight_svd"}


def test_an_adhoc_sweep_is_judged_against_its_swept_parameter(tmp_path):
    out = theory_check(tmp_path, "-m", "n=100,200,400", "seed=range(3)").stdout
    assert "== adhoc: Theorem 3.1, n swept over 3 values × 3 seeds (9 runs)" in out
    assert "rate rate_thm31" in out and "claim sharp (claim and rate of experiments/" in out
    assert len(point_lines(out, "data_svd")) == 4 and len(point_lines(out, "weight_svd")) == 4


@pytest.mark.slow
def test_an_adhoc_sweep_of_two_parameters_is_split_by_the_second(tmp_path):
    two = theory_check(tmp_path, "-m", "sigma=0.5,1", "n=100,200", "d=20", "N=20", "r=2").stdout
    # The first varied override is the x; the other splits the rows into sweeps.
    assert "== adhoc[n=100]: Theorem 3.1, sigma swept over 2 values × 1 seeds (2 runs)" in two
    assert "== adhoc[n=200]: Theorem 3.1, sigma swept over 2 values × 1 seeds (2 runs)" in two


def test_structured_verdicts_are_shown_and_older_tables_fall_back_to_the_prose(monkeypatch, tmp_path, make_cfg):
    from theory_check.run import run

    for n in (40, 80, 160):
        run(make_cfg(f"n={n}", "d=10", "N=10", "r=2"))
    rows = load_results(tmp_path / "raw")
    text, verdicts, _ = summary.summarize(rows, summary._figures(), "n")
    assert "status" in text and "reason" in text
    assert summary.verdict_text(verdicts.iloc[0]) == (verdicts.iloc[0]["status"], verdicts.iloc[0]["reason"])
    analyze = summary.analysis.analyze

    def prose_only(results, figures, scale="default"):  # verdicts.csv written before the codes
        verdicts, points = analyze(results, figures, scale)
        return verdicts.drop(columns=["status", "reason"]), points

    monkeypatch.setattr(summary.analysis, "analyze", prose_only)
    plain, _, _ = summary.summarize(rows, summary._figures(), "n")
    assert "verdict" in plain and "reason" not in plain


def test_summary_command_on_raw_rows_and_on_the_committed_tables(tmp_path, make_cfg, capsys):
    from theory_check.run import run

    for n in (40, 80, 160):
        for seed in (0, 1):
            run(make_cfg(f"n={n}", "d=10", "N=10", "r=2", f"seed={seed}"))
    assert summary.main([str(tmp_path / "raw"), "--plot", str(tmp_path / "p.png"),
                         "--csv", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "== adhoc: Theorem 3.1, n swept over 3 values × 2 seeds (6 runs)" in out
    assert (tmp_path / "p.png").stat().st_size > 0
    assert set(pd.read_csv(tmp_path / "s_points.csv")["x"]) == {40, 80, 160}

    # The committed tables alone (a clone has no raw rows).
    clone = tmp_path / "clone"
    (clone / "tables").mkdir(parents=True)
    shutil.copy(ROOT / "results" / "verdicts.csv", clone / "verdicts.csv")
    shutil.copy(ROOT / "results" / "tables" / "points.csv", clone / "tables" / "points.csv")
    assert summary.main([str(clone), "--experiment", "thm31_n"]) == 0
    out = capsys.readouterr().out
    committed = pd.read_csv(ROOT / "results" / "verdicts.csv").set_index(["sweep", "estimator"])
    assert out.startswith("== thm31_n: Theorem 3.1, n swept (experiments/thm31_rates.yaml)")
    assert committed.loc[("thm31_n", "data_svd"), "reason"] in " ".join(out.split())
    with pytest.raises(SystemExit):
        summary.main([str(tmp_path / "nothing")])


def test_help_introduces_theory_check():
    proc = subprocess.run([sys.executable, "-m", "theory_check", "--help"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("theory-check: simulation checks of the error rates")
    assert "powered by Hydra" not in proc.stdout
    assert "theory-check -m n=100,200,400 seed='range(3)'" in proc.stdout
    assert "estimator: convex_linear, data_svd" in proc.stdout  # the config groups, listed


def test_a_categorical_parameter_splits_the_rows_and_never_is_the_swept_one():
    # The misspecification runs vary the model family (a string) and n: a rate can only be
    # followed along n, and each family is a sweep of its own.
    rows = pd.DataFrame({"experiment_name": "misspec", "sweep": "none", "theorem": "4.4",
                         "model": ["hadamard", "low_rank", "power_law"] * 2, "n": [32] * 3 + [64] * 3})
    parts = summary.split_sweeps(rows)
    assert [(name, varied, len(part)) for name, varied, part in parts] == [
        ("misspec[model=hadamard]", "n", 2), ("misspec[model=low_rank]", "n", 2),
        ("misspec[model=power_law]", "n", 2)]
