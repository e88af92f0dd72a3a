"""The Tobit likelihood, its gradient in the tails, and the accelerated projected gradient."""

import numpy as np
import pytest
import scipy.stats

from theory_check.reference import tobit_reference
from theory_check.solvers.tobit import inverse_mills, tobit_apg, tobit_loss, tobit_loss_and_grad


def relu_data(rng, n, N, sigma, alpha=1.0, r=2):
    A = rng.standard_normal((n, r)) @ rng.standard_normal((r, N))
    Z = alpha * A / np.abs(A).max()
    return np.maximum(Z + sigma * rng.standard_normal((n, N)), 0.0)


def box(M, *, alpha, r, basis, tol, warm_start):
    """Stand-in projection onto the box ‖M‖_∞ <= α alone (exact: a clip)."""
    return np.clip(M, -alpha, alpha), {"iterations": 1, "certificate": 0.0, "converged": True,
                                       "warm_start": None}


def test_loss_matches_direct_formula():
    rng = np.random.default_rng(0)
    sigma = 0.7
    Y = relu_data(rng, 9, 7, sigma)
    M = rng.uniform(-2.0, 2.0, Y.shape)
    pos = Y > 0
    direct = (np.sum((Y[pos] - M[pos]) ** 2) / (2 * sigma**2)
              - np.sum(np.log(scipy.stats.norm.cdf(-M[~pos] / sigma))))
    assert tobit_loss(M, Y, sigma=sigma) == pytest.approx(direct, rel=1e-12)
    f, _ = tobit_loss_and_grad(M, Y, sigma=sigma)
    assert f == pytest.approx(direct, rel=1e-12)


def test_inverse_mills_matches_pdf_over_cdf_and_its_tail_expansion():
    z = np.linspace(-8.0, 8.0, 33)
    expected = scipy.stats.norm.pdf(z) / scipy.stats.norm.cdf(z)
    np.testing.assert_allclose(inverse_mills(z), expected, rtol=1e-11)
    # Far left tail (Φ(z) ≈ 1e-350 underflows): λ(z) = −z − 1/z + 2/z³ − 10/z⁵ + O(z⁻⁷).
    z = np.array([-40.0, -60.0, -300.0])
    series = -z - 1 / z + 2 / z**3 - 10 / z**5
    np.testing.assert_allclose(inverse_mills(z), series, rtol=1e-10)
    # Far right tail: λ(z) ≈ φ(z), underflowing to 0 without a NaN.
    out = inverse_mills(np.array([40.0, 1e3]))
    assert np.all(np.isfinite(out)) and np.all(out >= 0) and out[0] < 1e-300


@pytest.mark.parametrize("scale", [1.0, 10.0, 40.0])
def test_gradient_matches_finite_differences_into_the_tails(scale):
    rng = np.random.default_rng(1)
    sigma = 0.3
    Y = np.where(rng.random((6, 5)) < 0.5, 0.0, rng.uniform(0.1, 2.0, (6, 5)))
    # Entries up to |M|/σ = scale on both sides, including censored entries with M ≫ 0
    # (log Φ(−40) ≈ −804.6: log(0) for a naive formula) and M ≪ 0 (Φ → 1).
    M = sigma * scale * rng.uniform(-1.0, 1.0, Y.shape)
    M.flat[:4] = sigma * scale * np.array([1.0, -1.0, 1.0, -1.0])
    Y.flat[:4] = 0.0
    f, g = tobit_loss_and_grad(M, Y, sigma=sigma)
    assert np.isfinite(f) and np.all(np.isfinite(g))
    h = 1e-6 * sigma
    fd = np.empty_like(M)
    for idx in np.ndindex(M.shape):
        E = np.zeros_like(M)
        E[idx] = h
        fd[idx] = (tobit_loss(M + E, Y, sigma=sigma) - tobit_loss(M - E, Y, sigma=sigma)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6 / sigma)


def test_apg_with_box_projection_reaches_the_separable_optimum():
    # Over the box alone the problem separates: M = clip(Y) on observed entries, and −α on
    # censored ones (−log Φ(−M/σ) decreases as M decreases).
    rng = np.random.default_rng(2)
    sigma, alpha = 0.5, 0.8
    Y = relu_data(rng, 30, 20, sigma)
    exact = np.where(Y > 0, np.clip(Y, -alpha, alpha), -alpha)
    M, info = tobit_apg(Y, sigma=sigma, alpha=alpha, r=2, project=box, tol=1e-10)
    assert info["converged"] and info["certificate"] <= 1e-10
    f_exact = tobit_loss(exact, Y, sigma=sigma)
    assert abs(info["objective"] - f_exact) <= 1e-9 * f_exact
    assert np.abs(M).max() <= alpha


@pytest.mark.parametrize("with_basis", [False, True])
def test_apg_matches_prox_newton_reference_on_K(with_basis):
    rng = np.random.default_rng(3)
    n, N, sigma, alpha, r = 14, 10, 0.4, 0.6, 1
    Y = relu_data(rng, n, N, sigma)
    basis = np.linalg.qr(rng.standard_normal((n, 6)))[0] if with_basis else None
    M, info = tobit_apg(Y, sigma=sigma, alpha=alpha, r=r, basis=basis, tol=1e-9)
    M_ref, ref = tobit_reference(Y, sigma=sigma, alpha=alpha, r=r, basis=basis)
    assert info["converged"] and ref["converged"]
    radius = alpha * np.sqrt(r * n * N)
    # The instance is chosen so that both constraints bind at the optimum.
    assert np.abs(M_ref).max() >= alpha * (1 - 1e-6)
    assert np.linalg.svd(M_ref, compute_uv=False).sum() >= radius * (1 - 1e-6)
    f, f_ref = tobit_loss(M, Y, sigma=sigma), tobit_loss(M_ref, Y, sigma=sigma)
    assert abs(f - f_ref) <= 1e-6 * f_ref
    assert np.abs(M).max() <= alpha * (1 + 1e-12)
    assert np.linalg.svd(M, compute_uv=False).sum() <= radius * (1 + 1e-8)
    if with_basis:
        np.testing.assert_allclose(basis @ (basis.T @ M), M, atol=1e-10)


def test_apg_flags_non_convergence():
    rng = np.random.default_rng(4)
    Y = relu_data(rng, 20, 15, 0.3)
    _, info = tobit_apg(Y, sigma=0.3, alpha=1.0, r=1, max_iter=1)
    assert not info["converged"] and info["iterations"] == 1 and info["certificate"] > 1e-6


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma": 0.0}, "sigma"),
    ({"sigma": -1.0}, "sigma"),
    ({"alpha": 0.0}, "alpha"),
    ({"r": 0.0}, "r"),
    ({"tol": 0.0}, "tol"),
    ({"max_iter": 0}, "max_iter"),
    ({"basis": np.ones((5, 2))}, "basis must have orthonormal columns"),
    ({"basis": np.eye(4)}, "basis"),
])
def test_apg_bad_parameters(kwargs, match):
    Y = np.abs(np.random.default_rng(5).standard_normal((5, 4)))
    params = {"sigma": 1.0, "alpha": 1.0, "r": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        tobit_apg(Y, project=box, **params)


def test_loss_refuses_negative_observations():
    Y = np.ones((3, 3))
    Y[1, 1] = -0.1
    with pytest.raises(ValueError, match="ReLU outputs are never negative"):
        tobit_loss(np.zeros((3, 3)), Y, sigma=1.0)
