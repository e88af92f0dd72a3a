"""Exponent fits and verdict rules on tables with a known answer."""

import numpy as np
import pandas as pd
import pytest

from theory_check.analysis import (analyze, band_margin, baseline_verdict, claim_verdict,
                                   log_exponent_fits,
                                   fit_exponent, fit_point_means, span_text)
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
    inside, wide = (0.95, 1.08), (0.7, 1.3)
    assert claim_verdict("sharp", 1.02, (0.95, 1.05), ci=inside).startswith("sharp")
    assert claim_verdict("sharp", 1.02, (0.95, 1.05), ci=wide).startswith("rate not resolved")
    assert claim_verdict("sharp", 1.02, (0.5, 1.05), ci=inside).startswith("rate confirmed, constant off")
    assert claim_verdict("sharp", 1.3, (0.95, 1.05), ci=inside).startswith("rate not confirmed")
    assert claim_verdict("upper_bound", 1.6, (np.nan, np.nan), ci=(1.5, 1.7)).startswith("bound holds")
    assert claim_verdict("upper_bound", 0.7, (np.nan, np.nan), ci=(0.6, 0.8)).startswith("bound violated")
    assert claim_verdict("upper_bound", 0.7, (np.nan, np.nan), ci=(0.4, 1.0)).startswith("not resolved")
    assert claim_verdict("tight", 1.05, (np.nan, np.nan), ci=inside).startswith("tight")
    assert claim_verdict("tight", 1.05, (np.nan, np.nan), ci=wide).startswith("tight not resolved")
    assert "not tight here" in claim_verdict("tight", 1.5, (np.nan, np.nan), ci=(1.4, 1.6))
    # When the rate grows along the sweep (σ, r) the constant decides and a rise is remarked on.
    rising = claim_verdict("upper_bound", 1.4, (np.nan, np.nan), direction=1.0, constant=0.3,
                           ci=(1.3, 1.5), bound=0.5, where="sigma = 2")
    assert rising.startswith("bound holds with the pre-registered C = 0.5") and "rises along it" in rising
    scatter = claim_verdict("upper_bound", 1.4, (np.nan, np.nan), direction=1.0, constant=0.3,
                            ci=(0.8, 2.0), bound=0.5, where="sigma = 2")
    assert "may rise along it (exponent 1.40 [0.80, 2.00], not resolved)" in scatter
    assert claim_verdict("tight", 0.5, (np.nan, np.nan), ci=(0.4, 0.6)).startswith("bound violated")
    assert claim_verdict("outside", 1.0, (1.5, 4.8), ci=inside).startswith("outside the theorem")
    assert baseline_verdict(0.02).startswith("does not follow the rate: plateau")
    assert baseline_verdict(0.6).startswith("changes slower")
    assert baseline_verdict(1.05).startswith("follows the rate")
    assert baseline_verdict(1.6).startswith("changes faster")


@pytest.mark.parametrize("direction, b", [(1.0, -3.0), (1.0, 1.0), (-1.0, 1.0), (-1.0, 1.5)])
@pytest.mark.parametrize("claim", ["upper_bound", "tight", "sharp"])
def test_an_excess_over_the_registered_constant_fails_whatever_the_exponent(claim, direction, b):
    # Issue 12.1: claim_verdict('upper_bound', b=-3, direction=+1, constant=1e6) used to pass.
    verdict = claim_verdict(claim, b, (1.0, 1.0), direction, 1e6, ci=(b - 0.01, b + 0.01),
                            bound=0.5, where="sigma = 2")
    assert verdict == "bound violated: MSE / rate = 1e+06 at sigma = 2 exceeds the pre-registered C = 0.5"
    assert claim_verdict(claim, b, (1.0, 1.0), direction, 0.49, ci=(b - 0.01, b + 0.01),
                         bound=0.5) != verdict


def test_a_narrow_sweep_is_indicative_only():
    assert span_text(0.45, 4, "default").startswith("indicative only (0.45 decades of rate, 4 points")
    assert span_text(0.6, 5, "default") == ""
    assert span_text(0.8, 7, "paper").startswith("indicative only")
    span = span_text(0.45, 4, "default")
    assert claim_verdict("tight", 1.0, (np.nan, np.nan), ci=(0.95, 1.05), span=span).startswith(
        "indicative only (0.45 decades")
    # A violated constant is not softened by a narrow sweep.
    assert claim_verdict("tight", 1.0, (np.nan, np.nan), constant=2.0, bound=1.0, ci=(0.95, 1.05),
                         span=span).startswith("bound violated")


def simulated_sweep(rng, *, point_sd, seed_sd, b=1.0, points=5, seeds=10):
    """log MSE = b log rate + u_point + e_seed: a point effect u is lack of fit of the power law."""
    log_rate = np.log(np.geomspace(0.01, 0.1, points))
    u = point_sd * rng.standard_normal(points)
    log_mse = (b * log_rate + u)[:, None] + seed_sd * rng.standard_normal((points, seeds))
    rate = np.repeat(np.exp(log_rate), seeds)
    return rate, np.exp(log_mse).ravel(), np.tile(np.arange(seeds), points)


@pytest.mark.parametrize("point_sd, min_coverage, boot_max_coverage", [
    (0.0, 0.9, 1.0),   # no lack of fit: both intervals are fine
    (0.15, 0.9, 0.6),  # lack of fit: the seed bootstrap misses the truth most of the time
])
def test_point_mean_interval_covers_the_true_exponent(point_sd, min_coverage, boot_max_coverage):
    rng = np.random.default_rng(1)
    hits, boot_hits, trials = 0, 0, 300
    for _ in range(trials):
        rate, mse, seeds = simulated_sweep(rng, point_sd=point_sd, seed_sd=0.1)
        points = pd.DataFrame({"rate": rate, "mse": mse}).groupby("rate", as_index=False).mean()
        _, lo, hi = fit_point_means(points["rate"], points["mse"])
        _, blo, bhi = fit_exponent(rate, mse, seeds, n_boot=200)
        hits += lo <= 1.0 <= hi
        boot_hits += blo <= 1.0 <= bhi
    assert min_coverage <= hits / trials <= 0.99
    assert boot_hits / trials <= boot_max_coverage


def test_point_mean_fit_needs_three_points_for_an_interval():
    b, lo, hi = fit_point_means([0.1, 0.01], [0.2, 0.02])
    assert b == pytest.approx(1.0) and np.isnan(lo) and np.isnan(hi)
    assert np.isnan(fit_point_means([0.1, 0.1, 0.1], [1, 2, 3])[0])


def test_band_margin_sign():
    assert band_margin("tight", 0.95, 1.05) == pytest.approx(0.05)
    assert band_margin("tight", 0.59, 1.26) == pytest.approx(-0.31)
    assert band_margin("upper_bound", 0.95, 2.0) == pytest.approx(0.05)


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


def test_a_baseline_a_sweep_does_not_run_gets_no_verdict_row_but_a_missing_estimator_does():
    df = synthetic_rows(1.0)
    fig = Figure(figure="f", title="t", theorem="3.1", rate="rate_thm31", reference="dof_thm31",
                 estimator="data_svd", baselines=("weight_svd", "relu_em"), sweeps=(Sweep("sw", "sharp"),))
    verdicts, _ = analyze(df, [fig])
    assert list(verdicts["estimator"]) == ["data_svd", "weight_svd"]
    verdicts, _ = analyze(df[df["estimator"] == "weight_svd"], [fig])
    assert list(verdicts["estimator"]) == ["data_svd", "weight_svd"]
    assert verdicts.iloc[0]["verdict"].startswith("no fit")


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


def log_factor_rows(ns, Ns, p_true):
    rows = []
    for n, N in zip(ns, Ns):
        rate = np.sqrt(2 * (n + N) / (n * N))
        rows.append(dict(n=n, N=N, r=2, seed=0, rate_sqrt=rate, mse=rate * np.log(n * N) ** p_true))
    return pd.DataFrame(rows)


def test_log_factor_is_not_identified_when_it_moves_with_the_rate():
    # n = N = 64…512 (issue 12.5): log(nN)^½ correlates −0.998 with the rate.
    sizes = [64, 128, 256, 512]
    best, text = log_exponent_fits(log_factor_rows(sizes, sizes, 0.5), [0, 0.5, 1])
    assert np.isnan(best) and text.startswith("p not identified by this sweep")
    assert "correlation -0.99" in text


def test_log_factor_is_identified_when_n_moves_alone():
    # N fixed small and n over decades: the √ rate is nearly flat while log(nN) moves.
    ns = [256, 1024, 4096, 16384, 65536]
    best, text = log_exponent_fits(log_factor_rows(ns, [8] * 5, 0.5), [0, 0.5, 1])
    assert best == 0.5 and "not identified" not in text


def test_a_constant_is_checked_only_against_the_rate_it_was_registered_for():
    df = synthetic_rows(1.0, scale=2.0)
    df["rate_sqrt"] = df["rate_thm31"]
    registered = Figure(figure="f", title="t", theorem="3.1", rate="rate_thm31", reference="dof_thm31",
                        estimator="data_svd", sweeps=(Sweep("sw", "sharp"),), constant={"value": 1.25})
    other_rate = Figure(figure="g", title="t", theorem="3.1", rate="rate_sqrt",
                        estimator="data_svd", sweeps=(Sweep("sw", "upper_bound"),))
    verdicts, _ = analyze(df, [registered, other_rate])
    checked, unchecked = verdicts.iloc[0], verdicts.iloc[1]
    assert checked["verdict"].startswith("bound violated")  # MSE = 2 × rate > 1.25 × rate
    assert checked["constant_bound"] == 1.25
    assert np.isnan(unchecked["constant_bound"]) and "not checked" in unchecked["verdict"]


def test_a_falling_exponent_below_the_band_says_whether_the_constant_held_over_the_sweep():
    verdict = claim_verdict("tight", 0.84, (np.nan, np.nan), direction=-1, constant=0.28,
                            ci=(0.81, 0.87), bound=0.5, where="n = 512")
    assert verdict.startswith("bound violated: MSE / rate grows as the rate falls")
    assert "stays below the pre-registered C = 0.5 (max 0.28 at n = 512)" in verdict
