"""Exponent fits and verdict rules on tables with a known answer."""

import numpy as np
import pandas as pd
import pytest

from theory_check.analysis import analyze, baseline_verdict, claim_verdict, fit_exponent
from theory_check.experiments import Figure, Sweep, load_figures


def synthetic_rows(exponent, noise_sd=0.05, seeds=20, scale=1.0):
    rng = np.random.default_rng(0)
    rows = []
    for n in (100, 200, 400, 800, 1600):
        rate = 5 * (100 + 100) / (n * 100)
        for s in range(seeds):
            mse = scale * rate**exponent * np.exp(noise_sd * rng.standard_normal())
            for est in ("data_svd", "weight_svd"):
                rows.append(dict(experiment_name="sw", sweep="n", n=n, seed=s, estimator=est,
                                 status="ok", mse=mse if est == "data_svd" else 0.01,
                                 rate_thm31=rate, dof_thm31=rate))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("exponent", [0.5, 1.0, 1.7])
def test_fit_recovers_known_exponent_and_interval_covers_it(exponent):
    df = synthetic_rows(exponent).query("estimator == 'data_svd'")
    b, lo, hi = fit_exponent(df["rate_thm31"], df["mse"], df["seed"])
    assert b == pytest.approx(exponent, abs=0.03)
    assert lo < exponent < hi and hi - lo < 0.1


def test_fit_is_deterministic_and_nan_without_spread():
    df = synthetic_rows(1.0).query("estimator == 'data_svd'")
    assert fit_exponent(df["rate_thm31"], df["mse"], df["seed"]) == \
        fit_exponent(df["rate_thm31"], df["mse"], df["seed"])
    assert np.isnan(fit_exponent(np.ones(5), np.arange(1, 6), np.arange(5))[0])


def test_verdict_rules():
    assert claim_verdict("sharp", 1.02, (0.95, 1.05)).startswith("sharp")
    assert claim_verdict("sharp", 1.02, (0.5, 1.05)).startswith("rate confirmed, constant off")
    assert claim_verdict("sharp", 1.3, (0.95, 1.05)).startswith("rate not confirmed")
    assert claim_verdict("upper_bound", 1.6, (np.nan, np.nan)) == "bound holds"
    assert claim_verdict("upper_bound", 0.7, (np.nan, np.nan)).startswith("bound violated")
    assert claim_verdict("tight", 1.05, (np.nan, np.nan)).startswith("tight")
    assert claim_verdict("tight", 1.5, (np.nan, np.nan)).startswith("bound holds but not tight")
    # When the rate grows along the sweep (σ, r) the constant is reported and a rise flagged.
    rising = claim_verdict("upper_bound", 1.4, (np.nan, np.nan), direction=1.0, constant=0.3)
    assert rising.startswith("bound holds with C = 0.3") and "rises along it" in rising
    assert claim_verdict("upper_bound", 0.7, (np.nan, np.nan), direction=1.0,
                         constant=0.3) == "bound holds with C = 0.3 over the sweep"
    assert claim_verdict("tight", 0.5, (np.nan, np.nan)).startswith("bound violated")
    assert baseline_verdict(0.02).startswith("does not follow the rate: plateau")
    assert baseline_verdict(0.6).startswith("changes slower")
    assert baseline_verdict(1.05).startswith("follows the rate")
    assert baseline_verdict(1.6).startswith("changes faster")


def test_analyze_gives_one_verdict_row_per_sweep_and_estimator():
    df = synthetic_rows(1.0, scale=2.0)
    df.loc[0, "status"] = "error"
    fig = Figure(figure="f", title="t", theorem="3.1", rate="rate_thm31", reference="dof_thm31",
                 estimator="data_svd", baselines=("weight_svd",), sweeps=(Sweep("sw", "sharp"),))
    verdicts, points = analyze(df, [fig])
    assert list(verdicts["estimator"]) == ["data_svd", "weight_svd"]
    main, base = verdicts.iloc[0], verdicts.iloc[1]
    assert main["fitted_exponent"] == pytest.approx(1.0, abs=0.03)
    assert main["reference_ratio_min"] == pytest.approx(2.0, rel=0.05)  # MSE = 2 × DoF
    assert main["verdict"].startswith("rate confirmed, constant off")
    assert main["n_error"] == 1 and main["n_ok"] == 99
    assert base["verdict"].startswith("does not follow the rate: plateau")
    assert set(points["x"]) == {100, 200, 400, 800, 1600}


def test_every_figure_definition_loads():
    figures = load_figures()
    assert {"thm31_rates", "thm31_baseline"} <= {f.figure for f in figures}
    for f in figures:
        assert f.sweeps or f.runner


def test_a_sweep_whose_runs_all_failed_says_so_with_the_first_message():
    df = synthetic_rows(1.0, seeds=3)
    df["message"] = ""
    failing = df["estimator"] == "data_svd"
    df.loc[failing, "status"] = "error"
    df.loc[failing, "mse"] = np.nan
    df.loc[failing, "message"] = [f"LinAlgError: SVD did not converge (n={n}, seed={s})"
                                  for n, s in zip(df.loc[failing, "n"], df.loc[failing, "seed"])]
    df = df.iloc[::-1]  # the first failure is the first in sweep order, not in the table
    fig = Figure(figure="f", title="t", theorem="3.1", rate="rate_thm31", reference="dof_thm31",
                 estimator="data_svd", baselines=("weight_svd",), sweeps=(Sweep("sw", "sharp"),))
    verdicts, _ = analyze(df, [fig])
    main, base = verdicts.iloc[0], verdicts.iloc[1]
    assert main["verdict"] == ("no fit: every run failed (15 of 15); first failure: "
                               "LinAlgError: SVD did not converge (n=100, seed=0)")
    assert main["n_error"] == 15 and main["n_ok"] == 0
    assert base["verdict"].startswith("does not follow the rate")
