"""Theorem 3.1's asymptotic reference (issue 11.1): the spiked-model formula against its
derivation and against Monte Carlo, and what it may depend on."""

import numpy as np
import pytest

from theory_check import designs, noise, rates
from theory_check.designs import orthonormal
from theory_check.estimators import data_svd
from theory_check.models import strong
from theory_check.run import run


def spiked_loss(s, k, N, sigma):
    """Per-component loss from Benaych-Georges & Nadakuditi's limits, unsimplified: estimated
    singular value y and cosines c (k side), c̃ (N side), loss y² + s² − 2 y s c c̃."""
    theta, beta = s / (sigma * np.sqrt(N)), k / N
    y = np.sqrt((1 + theta**2) * (beta + theta**2)) / theta
    c2 = (theta**4 - beta) / (theta**4 + beta * theta**2)
    ct2 = (theta**4 - beta) / (theta**4 + theta**2)
    return sigma**2 * N * (y**2 + theta**2 - 2 * y * theta * np.sqrt(c2 * ct2))


@pytest.mark.parametrize("k, N", [(50, 50), (40, 300), (300, 40)])
def test_closed_form_matches_the_spiked_limits(k, N):
    sigma = 0.7
    t = rates.bbp_threshold(k, N, sigma)
    for s in t * np.array([1.01, 1.5, 3.0, 20.0]):
        got = rates.thm31_asymptotic([s], n=k, N=N, r=1, sigma=sigma, correction="none") * k * N
        assert got == pytest.approx(spiked_loss(s, k, N, sigma), rel=1e-10)


@pytest.mark.parametrize("correction", ["none", "dof"])
def test_fixed_rank_loss_is_continuous_at_the_threshold(correction):
    k, N, sigma = 100, 400, 1.3
    t = rates.bbp_threshold(k, N, sigma)
    below = rates.thm31_asymptotic([t], k, N, 1, sigma, correction=correction)
    above = rates.thm31_asymptotic([t * (1 + 1e-9)], k, N, 1, sigma, correction=correction)
    assert above == pytest.approx(below, rel=1e-7)


def test_high_snr_limit_is_the_dof_count_and_lost_components_cost_their_energy():
    n, k, N, r = 300, 120, 80, 4
    high = rates.thm31_asymptotic([1e8] * r, n, N, r, 1.0, k=k)
    assert high == pytest.approx(rates.thm31_dof(n, N, r, 1.0, k), rel=1e-9)
    assert rates.thm31_asymptotic([1e8] * r, n, N, r, 1.0, k=k, correction="none") == \
        pytest.approx(rates.thm31_bound(n, N, r, 1.0, k), rel=1e-9)
    # A component beyond the target rank is lost whole; with no noise nothing else is.
    assert rates.thm31_asymptotic([5.0, 2.0], n, N, 1, 0.0, k=k) == pytest.approx(4.0 / (n * N))


def monte_carlo(k, N, s, sigma, reps, rng):
    r, losses = len(s), []
    for _ in range(reps):
        S = (orthonormal(rng, k, r) * s) @ orthonormal(rng, N, r).T
        U, d, Vt = np.linalg.svd(S + sigma * rng.standard_normal((k, N)), full_matrices=False)
        losses.append(np.sum(((U[:, :r] * d[:r]) @ Vt[:r] - S) ** 2))
    return np.mean(losses) / (k * N), np.std(losses) / np.sqrt(reps) / (k * N)


# make bench (snr_reference) measured |MSE / reference − 1| <= 0.016 at k = N = 200 for spikes at
# 0.5× and >= 2× the threshold (up to 0.05 within ±30% of it, left out here); with 40 draws the Monte
# Carlo error is <= 1%, so 6% leaves room for both and still fails a coefficient 2 (or 4) in
# place of 3 in 3kNσ⁴/s² (>= 9% at 2× the threshold) or the bulk edge left out below it (> 40%).
@pytest.mark.parametrize("ratios", [(0.5, 0.5), (2.0, 2.0), (4.0, 2.0), (3.0, 0.5)])
def test_reference_matches_monte_carlo_away_from_the_threshold(ratios):
    k, N, sigma = 200, 200, 0.5
    s = np.array(ratios) * rates.bbp_threshold(k, N, sigma)
    mse, se = monte_carlo(k, N, s, sigma, 40, np.random.default_rng(11))
    assert se < 0.01 * mse
    assert rates.thm31_asymptotic(s, k, N, len(s), sigma) == pytest.approx(mse, rel=0.06)


def test_reference_and_estimator_do_not_depend_on_the_basis_of_col_x_tilde():
    rng = np.random.default_rng(3)
    p = strong.generate(rng, n=80, d=120, N=60, r=3, sigma=1.0, design=designs.condition_number,
                        noise=noise.gaussian, signal=0.3)
    np.testing.assert_allclose(p.spectrum, np.linalg.svd(p.Z_star, compute_uv=False)[:3], rtol=1e-10)
    # Another basis of the same column space (X̃R, R orthogonal) and rotated outputs (Z*O):
    # same estimate X̃Ŵ, same singular values, same reference.
    R, O = orthonormal(rng, 120, 120), orthonormal(rng, 60, 60)
    Z1 = p.X_tilde @ data_svd(p.X_tilde, p.Y, 3)
    Z2 = (p.X_tilde @ R) @ data_svd(p.X_tilde @ R, p.Y @ O, 3) @ O.T
    np.testing.assert_allclose(Z1, Z2, atol=1e-9 * np.abs(Z1).max())
    rotated = np.linalg.svd(p.Z_star @ O, compute_uv=False)[:3]
    assert rates.thm31_asymptotic(rotated, 80, 60, 3, 1.0) == pytest.approx(
        rates.thm31_asymptotic(p.spectrum, 80, 60, 3, 1.0), rel=1e-10)


def test_rows_carry_the_reference_and_the_snr_only_where_it_applies(make_cfg):
    row = run(make_cfg("model.signal=0.1", "estimator=[data_svd]"))[0]
    assert 0 < row["meta.snr_min"] < 1 and row["reference_asymptotic"] > row["dof_thm31"]
    assert row["assumption"] == "within"
    downstream = run(make_cfg("delta=0.3", "estimator=[data_svd]"))[0]
    assert "reference_asymptotic" not in downstream  # X ≠ X̃: the noise is not i.i.d.


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="correction"):
        rates.thm31_asymptotic([1.0], 10, 10, 1, 1.0, correction="tw")
    with pytest.raises(ValueError, match="j must be"):
        rates.marchenko_pastur_top(10, 20, 11)
