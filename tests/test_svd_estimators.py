"""data_svd and weight_svd against independent references."""

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

from theory_check import designs
from theory_check.estimators import data_svd, weight_svd


def objective(X_tilde, W, Y):
    return np.linalg.norm(X_tilde @ W - Y) ** 2


def brute_force_rank1(X_tilde, Y):
    """min over rank-1 W' of ‖X̃W' − Y‖², searching the direction u of X̃W' = (X̃u)bᵀ directly.

    For a fixed u the best b is the least-squares one, so the objective is
    ‖Y‖² − ‖Yᵀ X̃u‖² / ‖X̃u‖²; a fine grid over the circle and a bounded refinement find the
    global minimum for k = 2, independently of any SVD.
    """
    def loss(theta):
        u = np.array([np.cos(theta), np.sin(theta)])
        v = X_tilde @ u
        return np.sum(Y**2) - np.sum((Y.T @ v) ** 2) / (v @ v)

    grid = np.linspace(0, np.pi, 20001)
    best = grid[np.argmin([loss(t) for t in grid])]
    res = scipy.optimize.minimize_scalar(loss, bounds=(best - 1e-3, best + 1e-3), method="bounded",
                                         options={"xatol": 1e-13})
    return res.fun


@pytest.mark.parametrize("seed", range(5))
def test_data_svd_matches_brute_force_rank1(seed):
    rng = np.random.default_rng(seed)
    X_tilde = rng.standard_normal((7, 2)) @ np.diag([3.0, 0.5])
    Y = rng.standard_normal((7, 4))
    W_hat = data_svd(X_tilde, Y, 1)
    assert np.linalg.matrix_rank(W_hat, tol=1e-10) == 1
    assert objective(X_tilde, W_hat, Y) == pytest.approx(brute_force_rank1(X_tilde, Y), rel=1e-9)


@pytest.mark.parametrize("shape", [(40, 10, 8), (10, 40, 8), (30, 30, 30)])
def test_data_svd_beats_alternating_least_squares(shape):
    """No rank-r matrix found by alternating least squares from many starts does better."""
    n, d, N = shape
    r = 3
    rng = np.random.default_rng(1)
    X_tilde, Y = rng.standard_normal((n, d)), rng.standard_normal((n, N))
    best = objective(X_tilde, data_svd(X_tilde, Y, r), Y)
    X_pinv = np.linalg.pinv(X_tilde)
    for _ in range(10):
        B = rng.standard_normal((r, N))
        for _ in range(100):
            A = X_pinv @ Y @ np.linalg.pinv(B)  # argmin_A ‖X̃AB − Y‖ for fixed B
            B = np.linalg.lstsq(X_tilde @ A, Y, rcond=None)[0]
        assert objective(X_tilde, A @ B, Y) >= best * (1 - 1e-9)


def test_data_svd_first_order_optimality():
    """At the optimum the residual is orthogonal to the tangent space of rank-r matrices at X̃Ŵ."""
    rng = np.random.default_rng(2)
    X_tilde, Y = rng.standard_normal((50, 20)), rng.standard_normal((50, 15))
    Z = X_tilde @ data_svd(X_tilde, Y, 4)
    R = X_tilde.T @ (Z - Y)  # gradient of ½‖X̃W − Y‖² in W
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    U, Vt = U[:, :4], Vt[:4]
    W_left = np.linalg.pinv(X_tilde) @ U  # tangent directions X̃·(W_left M) span U M
    assert np.abs(R @ Vt.T).max() < 1e-9 * np.abs(X_tilde.T @ Y).max()
    assert np.abs(W_left.T @ R).max() < 1e-9 * np.abs(X_tilde.T @ Y).max()


@given(seed=st.integers(0, 2**32 - 1), r=st.integers(1, 5))
def test_data_svd_invariant_to_change_of_basis(seed, r):
    """X̃ → X̃Q (Q orthogonal) maps Ŵ → QᵀŴ; X̃ → X̃R (R invertible) leaves X̃Ŵ unchanged."""
    rng = np.random.default_rng(seed)
    X_tilde, Y = rng.standard_normal((30, 8)), rng.standard_normal((30, 6))
    W_hat = data_svd(X_tilde, Y, r)
    Q = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    np.testing.assert_allclose(data_svd(X_tilde @ Q, Y, r), Q.T @ W_hat, atol=1e-10)
    R = rng.standard_normal((8, 8)) + 4 * np.eye(8)
    np.testing.assert_allclose(X_tilde @ R @ data_svd(X_tilde @ R, Y, r), X_tilde @ W_hat,
                               atol=1e-9)
    O = np.linalg.qr(rng.standard_normal((30, 30)))[0]  # rotating the samples changes nothing
    np.testing.assert_allclose(data_svd(O @ X_tilde, O @ Y, r), W_hat, atol=1e-9)


def test_data_svd_min_norm_when_rank_deficient():
    rng = np.random.default_rng(3)
    X_tilde = rng.standard_normal((20, 4)) @ rng.standard_normal((4, 10))  # rank 4, d = 10
    Y = rng.standard_normal((20, 6))
    W_hat = data_svd(X_tilde, Y, 2)
    _, _, Vt = np.linalg.svd(X_tilde)
    null = Vt[4:]  # Ŵ has no component in X̃'s null space: the minimum-norm minimizer
    assert np.abs(null @ W_hat).max() < 1e-10 * np.abs(W_hat).max()


@pytest.mark.parametrize("kappa", [1e6, 1e9])
def test_data_svd_accurate_when_ill_conditioned(kappa):
    """X̃Ŵ equals [QQᵀY]_r (Q from a Householder QR of X̃) for huge condition numbers."""
    rng = np.random.default_rng(4)
    X_tilde = designs.condition_number(rng, 200, 30, kappa=kappa)
    Y = X_tilde @ rng.standard_normal((30, 20)) + rng.standard_normal((200, 20))
    Q = np.linalg.qr(X_tilde)[0]
    U, s, Vt = np.linalg.svd(Q @ (Q.T @ Y), full_matrices=False)
    expected = (U[:, :5] * s[:5]) @ Vt[:5]
    got = X_tilde @ data_svd(X_tilde, Y, 5)
    assert np.linalg.norm(got - expected) <= 1e-7 * np.linalg.norm(expected)


def test_weight_svd_is_eckart_young():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((12, 9))
    W_r = weight_svd(W, 3)
    s = np.linalg.svd(W, compute_uv=False)
    assert np.linalg.matrix_rank(W_r) == 3
    assert np.linalg.norm(W - W_r) ** 2 == pytest.approx(np.sum(s[3:] ** 2), rel=1e-12)


def test_full_rank_data_svd_is_least_squares():
    rng = np.random.default_rng(6)
    X_tilde, Y = rng.standard_normal((25, 6)), rng.standard_normal((25, 6))
    np.testing.assert_allclose(data_svd(X_tilde, Y, 6), np.linalg.lstsq(X_tilde, Y, rcond=None)[0],
                               atol=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X, Y, W: data_svd(X, Y, 0), "rank must be >= 1"),
        (lambda X, Y, W: data_svd(X, Y, 7), "rank must be <= 6"),
        (lambda X, Y, W: data_svd(X, Y, 2.5), "rank must be an integer"),
        (lambda X, Y, W: data_svd(X, Y[:-1], 2), "Y must have 10 rows"),
        (lambda X, Y, W: data_svd(X[0], Y, 2), "X_tilde must be a 2-D array"),
        (lambda X, Y, W: data_svd(np.where(X > 1, np.nan, X), Y, 2), "X_tilde contains NaN"),
        (lambda X, Y, W: data_svd(X, np.full_like(Y, np.inf), 2), "Y contains NaN or inf"),
        (lambda X, Y, W: weight_svd(W, 0), "rank must be >= 1"),
        (lambda X, Y, W: weight_svd(W, 7), "rank must be <= 6"),
        (lambda X, Y, W: weight_svd(W[None], 2), "W must be a 2-D array"),
    ],
)
def test_bad_input(call, match):
    rng = np.random.default_rng(0)
    X, Y, W = rng.standard_normal((10, 8)), rng.standard_normal((10, 6)), rng.standard_normal((8, 6))
    with pytest.raises(ValueError, match=match):
        call(X, Y, W)
