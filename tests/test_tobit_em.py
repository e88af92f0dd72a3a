"""Rank-r Tobit EM (relu_em) and the bounded non-convex baseline (relu_nonconvex)."""

from unittest import mock

import numpy as np
import pytest
import scipy.optimize
from scipy import stats

from theory_check import designs, noise
from theory_check.estimators import (ReluEM, ReluNonconvex, data_svd, relu_em, relu_mle,
                                     relu_nonconvex)
from theory_check.models import relu
from theory_check.solvers.tobit import tobit_loss
from theory_check.solvers import tobit_em as tobit_em_module
from theory_check.solvers.tobit_em import tobit_em


def model_r(seed, n, d, N, r=2, sigma=0.5, family="low_rank"):
    return relu.generate(np.random.default_rng(seed), n=n, d=d, N=N, r=r, sigma=sigma,
                         design=designs.isotropic, noise=noise.gaussian, family=family)


def exact_em_step(M, Y, sigma, rank, basis=None, ridge=1e-3):
    """One EM step written from the definitions (scipy.stats, numpy's SVD)."""
    filled = Y.astype(float).copy()
    zero = Y == 0
    m = M[zero]
    filled[zero] = m - sigma * stats.norm.pdf(m / sigma) / stats.norm.cdf(-m / sigma)
    B = filled if basis is None else basis.T @ filled
    U, s, Vt = np.linalg.svd(B, full_matrices=False)
    F = (U[:, :rank] * s[:rank]) @ Vt[:rank] / (1 + ridge)
    return F if basis is None else basis @ F


@pytest.mark.parametrize("family, n, d", [("low_rank", 40, 40), ("hadamard", 32, 32),
                                           ("low_rank", 40, 16)])
def test_em_likelihood_never_decreases_and_ends_at_a_fixed_point(family, n, d):
    p = model_r(0, n, d, 32, family=family)
    basis = np.linalg.svd(p.X_tilde, full_matrices=False)[0] if d < n else None
    M, info = tobit_em(p.Y, sigma=0.5, rank=2, basis=basis, tol=1e-8, max_iter=5000)
    history = np.array([info["objective_start"], *info["objective_history"]])
    assert info["monotone"] and np.all(np.diff(history) <= 1e-10 * np.abs(history[:-1]))
    nll = tobit_loss(M, p.Y, sigma=0.5)
    assert info["nll"] == pytest.approx(nll, rel=1e-12)
    assert info["objective"] == pytest.approx(nll + 1e-3 * np.sum(M**2) / 0.5, rel=1e-12)
    assert info["converged"] and info["certificate"] <= 1e-8
    step = exact_em_step(M, p.Y, 0.5, 2, basis)
    assert np.linalg.norm(step - M) <= 1e-7 * 0.5 * np.sqrt(M.size)
    assert np.linalg.matrix_rank(M, tol=1e-8 * np.abs(M).max()) <= 2
    if basis is not None:  # stays in col(X̃)
        np.testing.assert_allclose(basis @ (basis.T @ M), M, atol=1e-10)


def test_em_reaches_the_brute_force_optimum_on_a_tiny_instance():
    # Rank 1, 6×5: the global minimum of the Tobit loss over M = u vᵀ by multi-start BFGS.
    rng = np.random.default_rng(1)
    Z = np.outer(rng.standard_normal(6), rng.standard_normal(5))
    Y = np.maximum(Z + 0.3 * rng.standard_normal(Z.shape), 0.0)
    sigma = 0.3

    def f(x):
        return tobit_loss(np.outer(x[:6], x[6:]), Y, sigma=sigma)

    best = min(scipy.optimize.minimize(f, rng.standard_normal(11), method="BFGS",
                                       options={"gtol": 1e-10}).fun for _ in range(30))
    assert np.all(Y.any(axis=0)) and np.all(Y.any(axis=1))  # a finite maximizer can exist
    M, info = tobit_em(Y, sigma=sigma, rank=1, tol=1e-10, max_iter=20000, ridge=0.0)
    assert info["converged"]
    assert info["objective"] == pytest.approx(best, rel=1e-7)


def test_without_the_ridge_a_censored_block_drifts():
    p = model_r(0, 40, 40, 32)
    M0, free = tobit_em(p.Y, sigma=0.5, rank=2, ridge=0.0, max_iter=3000)
    drifted = np.abs(M0) > 5
    assert not free["converged"] and np.abs(M0).max() > 100
    assert np.all(p.Y[drifted] == 0)  # only censored entries run away
    M, ridged = tobit_em(p.Y, sigma=0.5, rank=2)
    assert ridged["converged"] and ridged["monotone"] and np.abs(M).max() < 20


def test_em_beats_relu_mle_on_exactly_low_rank_truth():
    # Measured 2.5–4.6× at n = 64…512 (see the report); asserted with a wide margin.
    p = model_r(2, 96, 96, 96)
    W_em, info = relu_em(p.X_tilde, p.Y, rank=2, sigma=0.5, return_info=True)
    W_mle = relu_mle(p.X_tilde, p.Y, alpha=1.0, rank=2, sigma=0.5)
    mse = lambda W: np.mean((p.X_tilde @ W - p.Z_star) ** 2)  # noqa: E731
    assert info["converged"] and mse(W_em) < 0.7 * mse(W_mle)


def _planted(seed, shape, top, rank=2):
    """Gaussian noise (edge ~ 2√n) plus ``rank`` components of singular values ``top``."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((shape[0], rank)))[0]
    V = np.linalg.qr(rng.standard_normal((shape[1], rank)))[0]
    return (U * np.asarray(top, dtype=float)) @ V.T + rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(60, 40), (40, 60)])
def test_spectral_bound_is_a_tight_upper_bound(shape):
    for seed in range(5):
        E = np.random.default_rng(seed).standard_normal(shape) * 10.0**(seed - 2)
        norm = np.linalg.norm(E, 2)
        bound = tobit_em_module._spectral_bound(E)
        assert norm <= bound <= norm * (1 + 1e-3)
    assert tobit_em_module._spectral_bound(np.zeros(shape)) == 0.0


@pytest.mark.parametrize("top", [(60.0, 40.0), (40.0, 16.5), (30.0, 15.0)])
def test_certified_fit_bound_holds_after_any_number_of_power_iterations(top):
    # s_r well above, just above and inside the noise edge (~ 2√60 ≈ 15.5 of a 60×80 matrix).
    B = _planted(0, (60, 80), top)
    U, s, Vt = np.linalg.svd(B)
    exact = (U[:, :2] * s[:2]) @ Vt[:2]
    V0 = np.random.default_rng(1).standard_normal((80, 7))
    bounds = []
    for accuracy in (np.inf, 1e-2, 1e-8):  # inf: one power iteration, then the proof
        F, V, bound = tobit_em_module._certified_rank_r_fit(B, 2, V0, accuracy)
        assert np.linalg.norm(F - exact) <= bound  # a proof, also when loose or infinite
        bounds.append(bound)
    if s[1] > 1.3 * s[2]:  # a gap: the iteration proves its fit exact to the accuracy asked
        assert bounds[-1] <= 1e-8 and bounds[-1] <= bounds[0]


def test_relu_em_takes_no_full_svd_and_certifies_the_exact_step():
    # The old relu_em made two to six full SVDs of an n × N matrix (the data_svd start, the
    # fit of the start, every certificate); the certificate is now proven by the power iteration
    # and stays an upper bound on the exact step's residual.
    p = model_r(4, 80, 80, 80, family="hadamard")
    calls = []
    real = tobit_em_module._rank_r_fit

    def counted(B, rank):
        calls.append(B.shape)
        return real(B, rank)

    with mock.patch.object(tobit_em_module, "_rank_r_fit", counted):
        W, info = relu_em(p.X_tilde, p.Y, rank=2, sigma=0.5, tol=1e-6, return_info=True)
    assert calls == [] and info["exact_steps"] == 0
    assert info["converged"] and info["monotone"]
    M = p.X_tilde @ W
    residual = np.linalg.norm(exact_em_step(M, p.Y, 0.5, 2) - M) / (0.5 * np.sqrt(M.size))
    assert residual <= info["certificate"] <= 1e-6
    assert info["certificate"] <= residual + 1e-2 * 1e-6 + 1e-12  # the bound's slack: 1% of tol


def test_relu_em_starts_from_the_data_svd_fit():
    p = model_r(5, 50, 30, 40)  # tall X̃: the start lives in col(X̃)
    _, info = relu_em(p.X_tilde, p.Y, rank=2, sigma=0.5, max_iter=1, return_info=True)
    start = p.X_tilde @ data_svd(p.X_tilde, p.Y, 2) / (1 + 1e-3)
    expected = tobit_loss(start, p.Y, sigma=0.5) + 1e-3 * np.sum(start**2) / (2 * 0.25)
    assert info["objective_start"] == pytest.approx(expected, rel=1e-10)


def test_em_records_non_convergence_and_checks_inputs():
    p = model_r(3, 30, 30, 20, family="hadamard")
    _, info = relu_em(p.X_tilde, p.Y, rank=2, sigma=0.5, max_iter=1, return_info=True)
    assert info["converged"] is False and info["iterations"] == 1
    assert "objective_history" not in info  # not a scalar: kept out of results rows
    est = ReluEM(max_iter=1)(p, 2)
    assert est.info["converged"] is False
    for kwargs, match in [({"rank": 0}, "rank"), ({"sigma": 0.0}, "sigma"),
                          ({"tol": 2.0}, "tol"), ({"max_iter": 0}, "max_iter")]:
        with pytest.raises(ValueError, match=match):
            relu_em(p.X_tilde, p.Y, **{"rank": 2, "sigma": 0.5, **kwargs})
    with pytest.raises(ValueError, match="negative"):
        tobit_em(-p.Y - 1, sigma=0.5, rank=1)
    with pytest.raises(ValueError, match="M0"):
        tobit_em(p.Y, sigma=0.5, rank=1, M0=np.ones((3, 3)))
    with pytest.raises(ValueError, match="^sigma must"):
        ReluEM(sigma=-1.0)


@pytest.mark.parametrize("seed, family", [(0, "low_rank"), (1, "hadamard")])
def test_nonconvex_pre_activations_stay_bounded(seed, family):
    # Without the box (α huge) the flat directions drifted to |Z| of 300…100000 on these
    # instances; with it they stay near α.
    p = model_r(seed, 40, 40, 30, family=family)
    _, free = relu_nonconvex(p.X_tilde, p.Y, rank=2, alpha=1e12, return_info=True)
    W, boxed = relu_nonconvex(p.X_tilde, p.Y, rank=2, alpha=1.0, return_info=True)
    assert free["z_inf"] > 100 and boxed["z_inf"] < 1.6
    assert boxed["converged"] and np.mean((p.X_tilde @ W - p.Z_star) ** 2) < 0.5
    plug = ReluNonconvex()(p, 2)  # α from the generator's meta
    assert plug.info["alpha"] == 1.0 and plug.info["z_inf"] < 1.6


def test_nonconvex_objective_gradient_matches_finite_differences():
    from theory_check.estimators.relu import _factored_objective

    rng = np.random.default_rng(5)
    U = np.linalg.qr(rng.standard_normal((9, 6)))[0]
    Y = np.maximum(rng.standard_normal((9, 7)), 0)
    fun = _factored_objective(U, Y, 0.3, 2)
    for _ in range(3):  # 0.3 < the entries of Z: the penalty is active on many of them
        x = 2 * rng.standard_normal(6 * 2 + 2 * 7)
        g = fun(x)[1]
        g_fd = scipy.optimize.approx_fprime(x, lambda x_: fun(x_)[0], 1e-7)
        np.testing.assert_allclose(g, g_fd, rtol=1e-4, atol=1e-4)


def test_nonconvex_penalty_is_reported():
    p = model_r(4, 12, 12, 10, r=1)
    W, info = relu_nonconvex(p.X_tilde, p.Y, rank=1, alpha=0.2, max_iter=3, return_info=True)
    # The penalty is active (α below ‖Z*‖_∞) and accounted for in what L-BFGS minimized:
    assert info["penalty"] > 0
    Z = p.X_tilde @ W
    excess = np.maximum(np.abs(Z) - 0.2, 0)
    assert info["penalty"] == pytest.approx(np.sum(excess**2), rel=1e-10)
    assert info["z_inf"] == pytest.approx(np.abs(Z).max(), rel=1e-10)


def test_failed_certificates_back_off_and_skip_their_proof():
    # At tol = 1e-9 the first certificate attempts on this instance fail (the exact step's
    # residual is still above tol): the old loop retried, with a proof, at every step below
    # tol (four proofs here). A failed attempt now needs no proof (the fit's own distance
    # already exceeds tol) and the next one waits for the step to shrink by the factor the
    # certificate missed, so the only proof is the one that certifies.
    p = model_r(2, 64, 64, 64, family="hadamard")
    proofs = []
    real = tobit_em_module._spectral_bound

    def counted(E):
        proofs.append(E.shape)
        return real(E)

    with mock.patch.object(tobit_em_module, "_spectral_bound", counted):
        W, info = relu_em(p.X_tilde, p.Y, rank=2, sigma=0.5, tol=1e-9, return_info=True)
    assert info["converged"] and info["monotone"] and len(proofs) == 1
    assert 2 <= info["certificates"] <= 3  # a failed attempt, then the certified one
    M = p.X_tilde @ W
    residual = np.linalg.norm(exact_em_step(M, p.Y, 0.5, 2) - M) / (0.5 * np.sqrt(M.size))
    assert residual <= info["certificate"] <= 1e-9


def test_certificate_at_the_iteration_limit_is_proven():
    # A run stopped by max_iter reports the proven certificate of the point it returns.
    p = model_r(3, 30, 30, 20, family="hadamard")
    W, info = relu_em(p.X_tilde, p.Y, rank=2, sigma=0.5, max_iter=3, return_info=True)
    M = p.X_tilde @ W
    residual = np.linalg.norm(exact_em_step(M, p.Y, 0.5, 2) - M) / (0.5 * np.sqrt(M.size))
    assert not info["converged"] and residual <= info["certificate"]
