"""Factorizations shared by estimators and generators (never an inverse of a Gram matrix)."""

from __future__ import annotations

import numpy as np
import scipy.linalg

def default_rcond(shape: tuple[int, int]) -> float:
    """Relative cut below which singular values count as zero: ``max(shape) · eps``.

    Scaled with the size like LAPACK's rank decisions, so condition numbers up to ~1e12 are
    kept while exact rank deficiency (s_i ~ eps · s_max) is cut.
    """
    return max(shape) * np.finfo(float).eps


def thin_svd(A: np.ndarray, *, rcond: float | None = None):
    """Thin SVD of ``A`` restricted to its numerical rank.

    Returns ``U_k (m, k), s_k (k,), Vt_k (k, p)`` with ``s_k > rcond * s_max``.
    """
    U, s, Vt = scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    if rcond is None:
        rcond = default_rcond(A.shape)
    k = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    return U[:, :k], s[:k], Vt[:k]


def truncate(A: np.ndarray, rank: int) -> np.ndarray:
    """Best rank-``rank`` approximation ``[A]_r`` (Eckart–Young)."""
    U, s, Vt = scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    return (U[:, :rank] * s[:rank]) @ Vt[:rank]


def lstsq(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares solution of ``A X = B`` through the SVD of ``A``."""
    return ColumnSpace(A).weight(B)


class ColumnSpace:
    """col(X̃) through the thin SVD ``X̃ = U_k Σ_k V_kᵀ``, for estimators that solve in
    pre-activation space: the orthonormal ``basis`` their constraint ``M ∈ col(X̃)⊗R^N`` needs
    (None when X̃ has full row rank and the constraint is void) and the map ``M ↦ X̃⁺M``.
    """

    def __init__(self, X_tilde: np.ndarray):
        self.U, self.s, self.Vt = thin_svd(X_tilde)
        self.basis = None if self.U.shape[1] == X_tilde.shape[0] else self.U

    def weight(self, M: np.ndarray) -> np.ndarray:
        """Minimum-norm ``Ŵ`` (d, N) with ``X̃Ŵ = P_{col X̃} M``."""
        return self.Vt.T @ ((self.U.T @ M) / self.s[:, None])
