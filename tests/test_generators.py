"""Designs, noise and Model S: shapes, spectra, moments, regimes, and the DoF prediction."""

import functools

import numpy as np
import pytest

from theory_check import designs, noise, rates
from theory_check.estimators import data_svd
from theory_check.models import strong


@pytest.mark.parametrize("n, d", [(50, 20), (20, 50)])
def test_designs_have_the_requested_spectrum(n, d):
    rng = np.random.default_rng(0)
    s = np.linalg.svd(designs.condition_number(rng, n, d, kappa=1e4), compute_uv=False)
    assert s[0] / s[-1] == pytest.approx(1e4, rel=1e-8)
    s = np.linalg.svd(designs.power_law(rng, n, d, decay=1.5), compute_uv=False)
    np.testing.assert_allclose(s / s[0], np.arange(1, min(n, d) + 1) ** -1.5, rtol=1e-8)
    for X in (designs.isotropic(rng, n, d), designs.condition_number(rng, n, d),
              designs.power_law(rng, n, d)):
        assert X.shape == (n, d) and np.linalg.matrix_rank(X) == min(n, d)


def test_downstream_perturbation_has_relative_size_delta():
    rng = np.random.default_rng(1)
    X_tilde = designs.isotropic(rng, 30, 10)
    assert designs.downstream(rng, X_tilde, 0.0) is X_tilde
    X = designs.downstream(rng, X_tilde, 0.3)
    assert np.linalg.norm(X - X_tilde) == pytest.approx(0.3 * np.linalg.norm(X_tilde))


@pytest.mark.parametrize("name, bound", [("gaussian", np.inf), ("rademacher", 2.0),
                                         ("uniform", 2.0 * np.sqrt(3))])
def test_noise_moments_and_bounds(name, bound):
    G, beta = getattr(noise, name)(np.random.default_rng(2), (400, 500), 2.0)
    assert beta == pytest.approx(bound)
    assert abs(G.mean()) < 0.02 and G.var() == pytest.approx(4.0, rel=0.02)
    assert np.abs(G).max() <= beta


def draw(n, d, N, r, sigma, delta=0.0, seed=0, design=designs.isotropic):
    return strong.generate(np.random.default_rng(seed), n=n, d=d, N=N, r=r, sigma=sigma,
                           delta=delta, design=design, noise=noise.gaussian)


def test_model_s_structure_in_both_regimes():
    p = draw(60, 20, 15, 3, 0.5)  # d < n: XW = P_X Y
    assert np.linalg.matrix_rank(p.W_star) == 3
    np.testing.assert_allclose(p.Z_star, p.X_tilde @ p.W_star)
    np.testing.assert_allclose(p.Y, p.X @ p.W, atol=1e-10)
    assert p.meta["regime"] == "d<n" and p.meta["k"] == 20
    q = draw(20, 60, 15, 3, 0.5)  # d ≥ n: XW = Y = Z* + G exactly
    assert q.meta["regime"] == "d>=n" and q.meta["k"] == 20
    G = q.Y - q.Z_star
    assert G.std() == pytest.approx(0.5, rel=0.15)


def test_model_s_downstream_keeps_xw_equal_to_noisy_truth_when_square():
    p = draw(40, 40, 10, 2, 0.1, delta=0.5)
    assert not np.allclose(p.X, p.X_tilde)
    assert np.linalg.norm(p.Y - p.Z_star) == pytest.approx(p.meta["effective_noise_fro"])
    assert np.linalg.norm(p.Y - p.Z_star) / np.sqrt(40 * 10) == pytest.approx(0.1, rel=0.2)


@pytest.mark.parametrize("n, d", [(120, 30), (30, 60)])
def test_data_svd_error_matches_degrees_of_freedom_at_high_snr(n, d):
    """E‖X̃(Ŵ − W*)‖² = σ² r(k + N − r) to first order in σ (k = rank X̃), in both regimes."""
    N, r, sigma = 25, 3, 1e-3
    design = functools.partial(designs.condition_number, kappa=5.0)
    mse = [np.linalg.norm(p.X_tilde @ data_svd(p.X_tilde, p.Y, r) - p.Z_star) ** 2 / (n * N)
           for p in (draw(n, d, N, r, sigma, seed=s, design=design) for s in range(300))]
    k = min(n, d)
    assert np.mean(mse) / rates.thm31_dof(n, N, r, sigma, k) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("kwargs, match", [
    (dict(r=0), "r must be >= 1"), (dict(r=16), "r must be <= 15"), (dict(sigma=-0.1), "sigma"),
    (dict(n=0), "n must be >= 1"), (dict(delta=-1.0), "delta"),
])
def test_model_s_bad_parameters(kwargs, match):
    base = dict(n=30, d=20, N=15, r=2, sigma=1.0)
    with pytest.raises(ValueError, match=match):
        draw(**{**base, **kwargs})


def test_rates_closed_forms():
    assert rates.thm31_bound(100, 50, 5, 2.0) == pytest.approx(4 * 5 * 150 / 5000)
    assert rates.thm31_dof(100, 50, 5, 2.0, k=20) == pytest.approx(4 * 5 * 65 / 5000)
    assert rates.sqrt_rate(100, 100, 2) == pytest.approx(0.2)
    assert rates.thm44_bound(100, 100, 2, 1.0, 0.5) == pytest.approx(1.5 * 0.2)
    assert rates.thm49_bound(100, 100, 2, 1.0, 1.0, 0) == pytest.approx(0.4)
    assert rates.thm49_bound(100, 100, 2, 1.0, 1.0) == pytest.approx(0.4 * np.sqrt(np.log(1e4)))
