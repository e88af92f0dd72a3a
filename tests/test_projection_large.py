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
