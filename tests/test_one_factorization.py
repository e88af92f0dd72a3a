"""Issue 23: data_svd and relu_nonconvex factor X̃ once (QR) and make one SVD; the generators
factor X̃ once and still draw bitwise the same numbers; accuracy at huge condition numbers."""

from functools import partial

import numpy as np
import pytest
import scipy.linalg

from theory_check import designs, linalg, noise
from theory_check.estimators import data_svd, relu_nonconvex
from theory_check.models import approx, relu as model_relu

SHAPES = [(40, 40, 30), (60, 25, 30), (25, 60, 30)]  # square, tall, wide


class _Counter:
    """Wraps a function and counts its calls."""

    def __init__(self, func):
        self.func, self.calls = func, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.func(*args, **kwargs)


def _count_svds(monkeypatch):
    counters = (_Counter(scipy.linalg.svd), _Counter(np.linalg.svd))
    monkeypatch.setattr(scipy.linalg, "svd", counters[0])
    monkeypatch.setattr(np.linalg, "svd", counters[1])
    return counters


@pytest.mark.parametrize("shape", SHAPES)
def test_data_svd_makes_one_svd(monkeypatch, shape):
    """One SVD (of the k×N coordinates of Y), X̃ by QR: it used to make two full SVDs."""
    n, d, N = shape
    rng = np.random.default_rng(0)
    X_tilde = designs.condition_number(rng, n, d, kappa=100.0)
    Y = rng.standard_normal((n, N))
    counters = _count_svds(monkeypatch)
    data_svd(X_tilde, Y, 3)
    assert sum(c.calls for c in counters) == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_relu_nonconvex_makes_one_svd(monkeypatch, shape):
    """The data_svd start and its balanced factors come from one SVD: it used to make three."""
    n, d, N = shape
    rng = np.random.default_rng(1)
    X_tilde = designs.condition_number(rng, n, d, kappa=10.0)
    Y = np.maximum(X_tilde @ rng.standard_normal((d, 2)) @ rng.standard_normal((2, N))
                   + 0.3 * rng.standard_normal((n, N)), 0.0)
    counters = _count_svds(monkeypatch)
    _, info = relu_nonconvex(X_tilde, Y, rank=2, return_info=True)
    assert sum(c.calls for c in counters) == 1
    assert info["converged"] and info["objective"] <= info["objective_start"]


def _fit_in_extended_precision(X_tilde, Y, r, iterations=200):
    """X̃Ŵ = P[PY]_r (P the projector on col X̃) in long double (64-bit mantissa on x86):
    modified Gram–Schmidt twice for an orthonormal basis Q of col X̃, then the top-r right
    singular subspace of C = QᵀY by subspace iteration on CᵀC, re-orthonormalized by MGS.
    No LAPACK factorization of X̃ is involved."""
    def mgs(A):
        A = A.copy()
        for _ in range(2):
            for j in range(A.shape[1]):
                for i in range(j):
                    A[:, j] -= (A[:, i] @ A[:, j]) * A[:, i]
                A[:, j] /= np.sqrt(A[:, j] @ A[:, j])
        return A

    Q = mgs(X_tilde.astype(np.longdouble))
    C = Q.T @ Y.astype(np.longdouble)
    V = mgs(np.eye(C.shape[1], r, dtype=np.longdouble) + 0.1)
    G = C.T @ C
    for _ in range(iterations):
        V = mgs(G @ V)
    return Q @ (C @ V) @ V.T


@pytest.mark.parametrize("kappa", [1e6, 1e8])
@pytest.mark.parametrize("shape", [(40, 8, 6), (12, 12, 6)])
def test_data_svd_matches_an_extended_precision_reference(kappa, shape):
    """At κ(X̃) = 1e6 and 1e8 the fit X̃Ŵ is within a backward-stable method's κ·ε of the
    exact fit of the same floating-point X̃ (the reference's own error is κ·1e-19).
    Measured: 6e-14 at 1e6, 8e-12 at 1e8; the normal equations X̃ᵀX̃ gave 1e-8 and 3e-4."""
    if np.finfo(np.longdouble).eps > 1e-18:
        pytest.skip("long double is not extended precision on this platform")
    n, d, N = shape
    r = 2
    rng = np.random.default_rng(7)
    X_tilde = designs.condition_number(rng, n, d, kappa=kappa)
    # A planted rank-r signal keeps the gap s_r/s_{r+1} of the fit wide (fast reference).
    Y = (X_tilde @ rng.standard_normal((d, r)) @ rng.standard_normal((r, N))
         + 0.05 * rng.standard_normal((n, N)))
    expected = _fit_in_extended_precision(X_tilde, Y, r).astype(float)
    got = X_tilde @ data_svd(X_tilde, Y, r)
    error = np.linalg.norm(got - expected) / np.linalg.norm(expected)
    assert error <= 10 * kappa * np.finfo(float).eps, error


@pytest.mark.parametrize("rcond", [1e-3, 1e-9])
def test_data_svd_rcond_cuts_the_same_with_the_qr_path(rcond):
    """A singular value between the default cut and rcond is cut: the QR path is only taken
    when it certifies that the SVD with the same rcond keeps every one."""
    rng = np.random.default_rng(3)
    n, d, N = 30, 6, 8
    U = designs.orthonormal(rng, n, d)
    V = designs.orthonormal(rng, d, d)
    s = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 1e-6])
    X_tilde = (U * s) @ V.T
    Y = rng.standard_normal((n, N))
    U_k, s_k, Vt_k = linalg.thin_svd(X_tilde, rcond=rcond)
    B = U_k.T @ Y
    P, c, Qt = np.linalg.svd(B, full_matrices=False)
    expected = Vt_k.T @ (((P[:, :2] * c[:2]) @ Qt[:2]) / s_k[:, None])
    assert len(s_k) == (5 if rcond == 1e-3 else 6)
    np.testing.assert_allclose(data_svd(X_tilde, Y, 2, rcond=rcond), expected,
                               atol=1e-8 * np.abs(expected).max())


def _kron_truth(seed, n, q, alpha=1.0, r=2):
    """hadamard_truth's draw rebuilt from its definition: X̃ from the design, then S with
    permuted rows and columns, W* = X̃⁺Z (fresh lstsq)."""
    rng = np.random.default_rng(seed)
    X_tilde = designs.condition_number(rng, n, n, kappa=10.0)
    S = approx.hadamard_matrix(q)[rng.permutation(q)][:, rng.permutation(q)]
    Z = alpha * np.sqrt(r / q) * np.kron(S, np.ones((n // q, n // q)))
    return X_tilde, linalg.lstsq(X_tilde, Z), rng


@pytest.mark.parametrize("model", ["hadamard", "relu_hadamard"])
def test_hadamard_generation_is_bitwise_its_definition_with_one_factorization(monkeypatch, model):
    """The generator factors X̃ once (QR) and reuses it for W*, the pretrained W and Model R's
    W = X̃⁺Y, drawing bitwise what fresh solves give (it used to factor X̃ three times)."""
    n, q, seed = 72, 12, 5
    X_ref, W_star_ref, rng_ref = _kron_truth(seed, n, q)
    qr = _Counter(scipy.linalg.qr)
    monkeypatch.setattr(scipy.linalg, "qr", qr)
    design = partial(designs.condition_number, kappa=10.0)
    common = dict(n=n, d=n, N=n, r=2, sigma=0.5, design=design)
    if model == "hadamard":
        p = approx.hadamard(np.random.default_rng(seed), noise=noise.uniform, **common)
        G_ref, _ = noise.uniform(rng_ref, (n, n), 0.5)
    else:
        p = model_relu.generate(np.random.default_rng(seed), family="hadamard",
                                noise=noise.gaussian, **common)
        G_ref, _ = noise.gaussian(rng_ref, (n, n), 0.5)
    assert qr.calls == 1
    monkeypatch.undo()
    assert p.meta["q"] == q
    assert np.array_equal(p.X_tilde, X_ref) and np.array_equal(p.W_star, W_star_ref)
    assert np.array_equal(p.Z_star, X_ref @ W_star_ref) and np.array_equal(p.noise, G_ref)
    Y_ref = (p.Z_star + G_ref) if model == "hadamard" else np.maximum(p.Z_star + G_ref, 0.0)
    W_ref = linalg.lstsq(X_ref, Y_ref)
    assert np.array_equal(p.W, W_ref)
    assert np.array_equal(p.Y, X_ref @ W_ref if model == "hadamard" else Y_ref)
