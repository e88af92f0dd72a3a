"""The closed-form estimators of Theorem 3.1: data-agnostic ``[W]_r`` and data-driven SVD."""

from __future__ import annotations

import numpy as np

from ..linalg import blas_threads_by_size, thin_svd, truncate
from ..problem import Problem
from ..validation import check_matrix, check_rank, check_real
from .base import CLOSED_FORM, Estimate, Estimator


@blas_threads_by_size("svd")
def weight_svd(W, rank: int) -> np.ndarray:
    """Best rank-``rank`` approximation of the weight alone, ``[W]_r``.

    Parameters
    ----------
    W : array of shape (d, N)
    rank : int, ``1 <= rank <= min(d, N)``

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    """
    W = check_matrix("W", W)
    rank = check_rank(rank, max_rank=min(W.shape))
    return truncate(W, rank)


@blas_threads_by_size("closed_form")
def data_svd(X_tilde, Y, rank: int, *, rcond: float | None = None) -> np.ndarray:
    """Rank-constrained least squares ``argmin_{rank W' <= r} ‖X̃W' − Y‖_F`` in closed form.

    With the thin SVD ``X̃ = U_k Σ_k V_kᵀ`` (k the numerical rank), the solution is
    ``V_k Σ_k⁻¹ [U_kᵀ Y]_r``; it is the minimum-norm minimizer when ``X̃`` is rank-deficient.
    Working in the SVD basis keeps ``X̃ Ŵ = U_k [U_kᵀY]_r`` accurate for any condition number
    (the Gram matrix ``X̃ᵀX̃`` is never formed).

    Parameters
    ----------
    X_tilde : array of shape (n, d)
    Y : array of shape (n, N)
    rank : int, ``1 <= rank <= min(d, N)``
    rcond : float, optional
        Singular values of ``X̃`` below ``rcond * s_max`` count as zero
        (default ``max(n, d) · eps``).

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    """
    X_tilde = check_matrix("X_tilde", X_tilde)
    n, d = X_tilde.shape
    Y = check_matrix("Y", Y, rows=n)
    rank = check_rank(rank, max_rank=min(d, Y.shape[1]))
    if rcond is not None:
        rcond = check_real("rcond", rcond, low=0.0, high=1.0)
    U, s, Vt = thin_svd(X_tilde, rcond=rcond)
    B = U.T @ Y
    B_r = truncate(B, rank) if rank < min(B.shape) else B
    return Vt.T @ (B_r / s[:, None])


class WeightSVD(Estimator):
    """Plug-in for :func:`weight_svd` (ignores the calibration data)."""

    def __call__(self, problem: Problem, r: int) -> Estimate:
        return Estimate(weight_svd(problem.W, r), dict(CLOSED_FORM))


class DataSVD(Estimator):
    """Plug-in for :func:`data_svd` on the observed pre-activations ``Y = XW``."""

    def __init__(self, rcond: float | None = None):
        self.rcond = None if rcond is None else check_real("estimator.data_svd.rcond", rcond,
                                                           low=0.0, high=1.0)

    def __call__(self, problem: Problem, r: int) -> Estimate:
        return Estimate(data_svd(problem.X_tilde, problem.Y, r, rcond=self.rcond), dict(CLOSED_FORM))
