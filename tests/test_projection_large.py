"""Large-size paths: the QR column space, the cheap nuclear-norm bounds of project_K's exits,
the partial (subset) eigendecomposition of the nuclear step, all against the full-SVD paths."""

import numpy as np
import pytest

from theory_check.linalg import ColumnSpace


def _matrix(rng, n, d, kappa=10.0, rank=None):
    k = min(n, d) if rank is None else rank
    U = np.linalg.qr(rng.standard_normal((n, k)))[0]
    V = np.linalg.qr(rng.standard_normal((d, k)))[0]
    return (U * np.geomspace(1.0, 1.0 / kappa, k)) @ V.T


@pytest.mark.parametrize("n,d,kappa,rank,qr_used", [
    (30, 30, 10.0, None, True),     # square, full rank: no column constraint
    (20, 35, 1e6, None, True),      # wide, full row rank
    (40, 15, 100.0, None, True),    # tall: basis of the d-dimensional column space
    (30, 40, 10.0, 12, False),      # rank deficient: the SVD decides the rank
    (30, 30, 1e15, None, False),    # below the rank cut: the SVD decides
])
def test_column_space_qr_agrees_with_svd(n, d, kappa, rank, qr_used):
    rng = np.random.default_rng(n + d)
    X = _matrix(rng, n, d, kappa, rank)
    M = rng.standard_normal((n, 7))
    qr, svd = ColumnSpace(X), ColumnSpace(X, method="svd")
    assert (qr._qr is not None) == qr_used
    assert (qr.basis is None) == (svd.basis is None)
    if svd.basis is not None:  # same subspace (the bases may differ by a rotation)
        np.testing.assert_allclose(qr.basis @ qr.basis.T, svd.basis @ svd.basis.T, atol=1e-12)
    W_qr, W_svd = qr.weight(M), svd.weight(M)
    scale = np.linalg.norm(W_svd)
    assert np.linalg.norm(W_qr - W_svd) <= 1e-12 * min(kappa, 1e3) * scale
    # the defining property: X̃Ŵ is the projection of M onto col(X̃)
    if qr_used:
        P = M if qr.basis is None else qr.basis @ (qr.basis.T @ M)
        np.testing.assert_allclose(X @ W_qr, P, atol=1e-9 * np.linalg.norm(M))


def test_column_space_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        ColumnSpace(np.eye(3), method="lu")


# --- project_K: certified nuclear-norm lower bounds and the partial nuclear step -------------

from theory_check.reference import project_K_cvxpy  # noqa: E402
from theory_check.solvers import project_K  # noqa: E402
from theory_check.solvers import projection  # noqa: E402


def test_exit_checks_agree_with_the_singular_values():
    """_in_nuclear_ball decides as the exact nuclear norm does, on both sides of the radius."""
    rng = np.random.default_rng(7)
    for Z in (rng.standard_normal((70, 90)), np.outer(rng.standard_normal(64), np.ones(64))):
        exact = np.linalg.svd(Z, compute_uv=False).sum()
        for radius in (0.5 * exact, 0.999 * exact, 1.001 * exact, 2 * exact):
            assert projection._in_nuclear_ball(Z, radius) == (exact <= radius)


@pytest.mark.parametrize("n,N,rank,scale", [(70, 70, None, 1.0), (64, 100, None, 1e-150),
                                             (130, 40, 3, 1e50), (120, 120, 16, 1.0),
                                             (10, 5, None, 1.0)])
def test_gram_interval_contains_the_nuclear_norm_and_is_narrow(n, N, rank, scale):
    rng = np.random.default_rng(n + N)
    Z = rng.standard_normal((n, N)) if rank is None else (
        rng.standard_normal((n, rank)) @ rng.standard_normal((rank, N)))
    # a spread of singular values: well-separated large ones and many tiny ones
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    Z = scale * (U * (s * np.logspace(0, -12, s.size))) @ Vt
    exact = np.linalg.svd(Z, compute_uv=False).sum()
    low, high = projection._nuclear_norm_interval(Z, projection._gram(Z))
    assert low <= exact <= high
    assert high - low <= 1e-3 * exact
    # a radius inside the interval goes to the singular values and is still decided right
    for radius in (exact * (1 - 1e-9), exact * (1 + 1e-9), low, high):
        assert projection._in_nuclear_ball(Z, radius) == (exact <= radius)


def test_exit_check_decides_near_overflow_where_the_gram_matrix_is_useless():
    Z = 1e155 * np.random.default_rng(3).standard_normal((40, 30))
    exact = np.linalg.svd(Z, compute_uv=False).sum()
    with np.errstate(over="ignore", invalid="ignore"):  # inf − inf in the product
        assert projection._nuclear_norm_interval(Z, projection._gram(Z)) == (0.0, np.inf)
    for radius in (0.999 * exact, 1.001 * exact):
        assert projection._in_nuclear_ball(Z, radius) == (exact <= radius)


@pytest.mark.parametrize("n,N,rank", [(70, 70, None), (64, 100, None), (130, 40, 3), (10, 5, None)])
def test_nuclear_norm_lower_bounds_are_below_the_nuclear_norm(n, N, rank):
    rng = np.random.default_rng(n * N)
    Z = rng.standard_normal((n, N)) if rank is None else (
        rng.standard_normal((n, rank)) @ rng.standard_normal((rank, N)))
    Z = Z + 3.0  # a dominant rank-one part as well
    exact = np.linalg.svd(Z, compute_uv=False).sum()
    assert 0 <= projection._pinching_bound(Z) <= exact
    assert 0 < projection._holder_bound(Z) <= exact
    # Hölder is within a small factor on noise (the point of computing it)
    noise = rng.standard_normal((n, N))
    assert projection._holder_bound(noise) >= 0.6 * np.linalg.svd(noise, compute_uv=False).sum()


def _binding(seed, n, k=None, noise=2.0):
    rng = np.random.default_rng(seed)
    A, Bm = rng.standard_normal((n, 8)), rng.standard_normal((8, n))
    M = A @ Bm
    M = M / np.abs(M).max() + rng.uniform(-noise, noise, (n, n))
    B = None if k is None else np.linalg.qr(rng.standard_normal((n, k)))[0]
    return M, B


@pytest.mark.parametrize("seed,n,k", [(0, 60, None), (1, 48, 30), (2, 80, None)])
def test_partial_nuclear_steps_give_the_full_spectrum_result(seed, n, k, monkeypatch):
    M, B = _binding(seed, n, k)
    monkeypatch.setattr(projection, "PARTIAL_EIGH_MIN_SIZE", np.inf)
    P_full, info_full = project_K(M, alpha=1.0, r=8, basis=B, tol=1e-10)
    monkeypatch.setattr(projection, "PARTIAL_EIGH_MIN_SIZE", 1)
    P, info = project_K(M, alpha=1.0, r=8, basis=B, tol=1e-10)
    assert info_full["exit"] == info["exit"] == "iterated" and info["converged"]
    assert info_full["partial_eigh"] == 0 and info["partial_eigh"] >= info["iterations"] // 2
    assert np.linalg.norm(P - P_full) <= 1e-10 * np.linalg.norm(P_full)
    assert info["iterations"] == info_full["iterations"]


@pytest.mark.parametrize("theta", [1e6, 1e-3, float("nan"), "junk"])
def test_any_warm_threshold_gives_the_same_projection(theta, monkeypatch):
    """A wrong threshold can only cost time: too high is not certified, too low keeps more."""
    monkeypatch.setattr(projection, "PARTIAL_EIGH_MIN_SIZE", 1)
    M, _ = _binding(3, 40)
    P_ref, warm = project_K(M, alpha=1.0, r=8, tol=1e-11)
    warm = dict(warm["warm_start"], theta=theta)
    P, info = project_K(M, alpha=1.0, r=8, tol=1e-11, warm_start=warm)
    assert info["converged"]
    assert np.linalg.norm(P - P_ref) <= 1e-9 * np.linalg.norm(P_ref)


def test_partial_nuclear_steps_match_cvxpy(monkeypatch):
    monkeypatch.setattr(projection, "PARTIAL_EIGH_MIN_SIZE", 1)
    M, B = _binding(4, 20, 12)
    P, info = project_K(M, alpha=1.0, r=3, basis=B, tol=1e-10)
    P_ref, ref_info = project_K_cvxpy(M, alpha=1.0, r=3, basis=B, tol=1e-10, max_iter=100_000)
    assert ref_info["converged"] and info["partial_eigh"] > 0
    assert np.linalg.norm(P - P_ref) <= 1e-5 * np.linalg.norm(P_ref)
