"""Exponent fits and verdict rules on tables with a known answer."""

import numpy as np
import pandas as pd
import pytest

from theory_check.analysis import (analyze, band_margin, baseline_verdict, bound_claim,
                                   fit_exponent, fit_point_means, log_exponent_fits,
                                   ratio_points, render_verdict, sharp_claim, span_text)
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


def points(ratios, rates=(0.1, 0.05, 0.025, 0.0125, 0.00625), seeds=10, sd=0.02):
    """:func:`ratio_points` of a sweep over n whose MSE / rate is ``ratios`` (× 1 ± sd)."""
    rng = np.random.default_rng(0)
    rows = [dict(n=100 * 2**i, seed=s, rate=rate, mse=rate * ratio * (1 + sd * rng.standard_normal()))
            for i, (rate, ratio) in enumerate(zip(rates, ratios)) for s in range(seeds)]
    return ratio_points(pd.DataFrame(rows), "n", "rate")


def test_sharp_claim_rules():
    inside, wide = (1.02, 0.95, 1.08), (1.02, 0.7, 1.3)
    flat = points([1.0] * 5)
    assert sharp_claim(flat, inside, (0.95, 1.05)).status == "sharp"
    assert render_verdict(sharp_claim(flat, inside, (0.95, 1.05))) == "sharp: rate and constant confirmed"
    assert sharp_claim(flat, wide, (0.95, 1.05)).head == "rate not resolved"
    off = sharp_claim(flat, inside, (0.5, 1.05))
    assert (off.status, off.head) == ("not-confirmed", "rate confirmed, constant off")
    assert sharp_claim(flat, (1.3, 1.25, 1.35), (0.95, 1.05)).status == "not-confirmed"
    assert sharp_claim(flat, inside, (0.95, 1.05), span="indicative only (…)").status == "indicative"


def test_bound_claim_rules_on_a_falling_rate():
    fit = (1.0, 0.9, 1.1)
    assert bound_claim(points([0.3] * 5), "tight", bound=0.5, fit=fit).status == "tight"
    assert bound_claim(points([0.3] * 5), "upper_bound", bound=0.5, fit=fit).status == "holds"
    falling = bound_claim(points([0.4, 0.3, 0.22, 0.16, 0.12]), "tight", bound=0.5, fit=fit)
    assert falling.status == "holds" and "not tight here" in falling.reason
    rising = bound_claim(points([0.1, 0.13, 0.17, 0.22, 0.29]), "tight", bound=0.5, fit=fit)
    assert rising.status == "rising" and rising.growth_low > 0
    slowing = bound_claim(points([0.1, 0.2, 0.26, 0.285, 0.3]), "tight", bound=0.5, fit=fit)
    assert slowing.status == "pre-asymptotic"
    # A narrow sweep keeps its trend in the words but claims nothing about the limit.
    narrow = bound_claim(points([0.3] * 5), "tight", bound=0.5, fit=fit, span="indicative only (x)")
    assert narrow.status == "indicative" and render_verdict(narrow).startswith("indicative only (x): tight")


@pytest.mark.parametrize("direction", [1.0, -1.0])
@pytest.mark.parametrize("claim", ["upper_bound", "tight"])
def test_a_confident_excess_over_the_registered_constant_fails_whatever_the_shape(claim, direction):
    # Issue 12.1: an excess of C failed whatever the exponent; issue 21.3: only with confidence.
    big = bound_claim(points([1e6] * 5), claim, direction=direction, bound=0.5, fit=(-3, -3.1, -2.9),
                      varied="n")
    assert big.status == "violated" and render_verdict(big).startswith("bound violated: MSE / rate = 1.0")
    assert render_verdict(big).endswith("exceeds C = 0.5")
    assert bound_claim(points([0.49] * 5), claim, direction=direction, bound=0.5,
                       fit=(1, 0.9, 1.1)).status != "violated"
    # Above C by less than its interval: not a violation, not a pass either.
    per_seed = [[0.3, 0.31, 0.29]] * 4 + [[0.3, 0.5, 0.8]]  # the last point's mean 0.53
    rows = pd.DataFrame([dict(n=100 * 2**i, seed=s, rate=0.1 / 2**i, mse=0.1 / 2**i * ratio)
                         for i, seeds in enumerate(per_seed) for s, ratio in enumerate(seeds)])
    noisy = bound_claim(ratio_points(rows, "n", "rate"), claim, direction=direction, bound=0.5,
                        fit=(1, 0.9, 1.1))
    assert noisy.status in ("unresolved", "indicative") and "not with confidence" in render_verdict(noisy)


def test_a_narrow_sweep_is_indicative_only():
    assert span_text(0.45, 4, "default").startswith("indicative only (0.45 decades of rate, 4 points")
    assert span_text(0.6, 5, "default") == ""
    assert span_text(0.8, 7, "paper").startswith("indicative only")
    span = span_text(0.45, 4, "default")
    assert render_verdict(bound_claim(points([0.3] * 5), "tight", bound=0.5, fit=(1, 0.95, 1.05),
                                      span=span)).startswith("indicative only (0.45 decades")
    # A violated constant is not softened by a narrow sweep.
    assert bound_claim(points([2.0] * 5), "tight", bound=1.0, fit=(1, 0.95, 1.05),
                       span=span).status == "violated"


def test_baseline_words():
    assert baseline_verdict(0.02).startswith("does not follow the rate: plateau")
    assert baseline_verdict(0.6).startswith("changes slower")
    assert baseline_verdict(1.05).startswith("follows the rate")
    assert baseline_verdict(1.6).startswith("changes faster")


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
    assert main["status"] == "not-confirmed" and base["status"] == "baseline"
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
    assert checked["status"] == "violated"  # MSE = 2 × rate > 1.25 × rate
    assert checked["constant_bound"] == 1.25
    assert np.isnan(unchecked["constant_bound"]) and "not checked" in unchecked["verdict"]


def test_a_falling_exponent_below_the_band_is_not_a_violation_below_the_constant():
    # Issue 21.1: thm44_hadamard_n was "bound violated" from its exponent 0.84 [0.81, 0.87]
    # while every point stayed below C; MSE / rate saturating below C is pre-asymptotic.
    pts = points([0.18, 0.24, 0.27, 0.28, 0.29], rates=(2.0, 1.0, 0.5, 0.33, 0.25))
    verdict = bound_claim(pts, "tight", bound=0.5, fit=(0.84, 0.81, 0.87), varied="n")
    assert verdict.status != "violated" and "C = 0.5 holds at every point" in verdict.detail
