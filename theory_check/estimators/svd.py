"""The closed-form estimators of Theorem 3.1: data-agnostic ``[W]_r`` and data-driven SVD."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..linalg import (blas_threads_by_size, check_representable, column_space_of,
                      scale_exponent, thin_svd, top_singular_triplets, truncate)
from ..problem import Problem
from ..validation import check_int, check_matrix, check_nonzero, check_rank, check_real
from . import cv
from .base import CLOSED_FORM, Estimate, Estimator


@blas_threads_by_size("svd")
def weight_svd(W, rank: int) -> np.ndarray:
    """Best rank-``rank`` approximation of the weight alone, ``[W]_r``.

    Parameters
    ----------
    W : array of shape (d, N)
        W = 0 is accepted (unlike a zero X̃ in :func:`data_svd`): [0]_r = 0 is the unique best
        approximation, nothing is left undetermined.
    rank : int, ``1 <= rank <= min(d, N)``

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    """
    W = check_matrix("W", W)
    rank = check_rank(rank, max_rank=min(W.shape))
    # [W]_r is homogeneous in W: near the float range's limit the singular values overflow
    # (NaN at max|W| = 1.7e308), so extreme W is truncated divided by a power of two.
    exponent = scale_exponent(W)
    if not exponent:
        return truncate(W, rank)
    with np.errstate(over="ignore"):
        W_r = np.ldexp(truncate(np.ldexp(W, -exponent), rank), exponent)
    return check_representable(W_r, "W is too close to the largest float")


@blas_threads_by_size("closed_form")
def data_svd(X_tilde, Y, rank, *, rcond: float | None = None, return_info: bool = False,
             cv_rank_grid=None, cv_folds: int = cv.DEFAULT_FOLDS, cv_seed=0,
             column_space=None):
    """Rank-constrained least squares ``argmin_{rank W' <= r} ‖X̃W' − Y‖_F`` in closed form.

    With F (n, k) an orthonormal basis of col(X̃) (k the numerical rank), the fit is
    ``X̃Ŵ = F [FᵀY]_r`` and Ŵ the minimum-norm weight giving it. F and Ŵ come from the QR
    factorization of X̃ (or of X̃ᵀ when d >= n: then F = I) when its triangular factor
    certifies full rank, else from the thin SVD ``X̃ = U_k Σ_k V_kᵀ`` with its rank cut
    (Ŵ = ``V_k Σ_k⁻¹ [U_kᵀ Y]_r``; :class:`~theory_check.linalg.ColumnSpace`). Either way the
    top r singular triplets of FᵀY (k×N; :func:`closed_form_factors`) and triangular solves with
    r right-hand sides: the Gram matrix ``X̃ᵀX̃`` is never formed, and ``X̃ Ŵ`` stays accurate
    for any condition number of X̃.

    Parameters
    ----------
    X_tilde : array of shape (n, d)
        Not all zero (a zero X̃ leaves every weight equally good: refused with a ValueError,
        as by the other estimators).
    Y : array of shape (n, N)
    rank : int ``1 <= rank <= min(d, N)`` or ``"cv"``
        ``"cv"``: chosen from ``cv_rank_grid`` by K-fold cross-validation over the rows
        (:mod:`theory_check.estimators.cv`; held-out squared error of ``X̃_test Ŵ``).
    rcond : float, optional
        Singular values of ``X̃`` below ``rcond * s_max`` count as zero
        (default ``max(n, d) · eps``).
    return_info : bool
        Also return an info dict (``rank`` and, with ``rank="cv"``, the cross-validation's
        ``cv_curve``, ``cv_ranks``, ``cv_folds``, ``cv_identifiable``).
    cv_rank_grid : sequence of int, optional
        Candidates for ``rank="cv"``; default every rank 1 … min(d, N).
    cv_folds : int, ``2 <= cv_folds <= n``
    cv_seed : int ``>= 0`` or numpy.random.Generator
        Draws the split of the rows.
    column_space : ColumnSpace, optional
        ``ColumnSpace(X_tilde, rcond=rcond)`` of this very array, when the caller has made it
        (:meth:`theory_check.problem.Problem.column_space`); X̃ is not factored again.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    info : dict, only if ``return_info``

    Raises
    ------
    ValueError
        Bad input, or Ŵ beyond the float range (X̃ tiny against Y).
    """
    X_tilde = check_nonzero("X_tilde", check_matrix("X_tilde", X_tilde))
    n, d = X_tilde.shape
    Y = check_matrix("Y", Y, rows=n)
    max_rank = min(d, Y.shape[1])
    rank = cv.check_rank_or_cv(rank, max_rank)
    if rcond is not None:
        rcond = check_real("rcond", rcond, low=0.0, high=1.0)
    col = column_space_of(X_tilde, rcond, column_space) if column_space is not None else None
    info = {**CLOSED_FORM, "rank": rank}
    if cv.is_cv(rank):
        ranks = cv.rank_grid(cv_rank_grid, max_rank, range(1, max_rank + 1))
        cv.check_folds(cv_folds, n)
        seed = cv.check_seed(cv_seed)
        fit = _RankPath(rcond)
        result = cv.cross_validate(fit, X_tilde, Y, ranks, folds=cv_folds, seed=seed)
        rank = result["best"]
        info.update(rank=rank, **cv.summary(result, "ranks", ranks))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused just below
        W_hat = _data_svd(X_tilde, Y, rank, rcond, col)
    check_representable(W_hat)
    return (W_hat, info) if return_info else W_hat


class _RankPath:
    """``fit(X_train, Y_train, rank)`` for the cross-validation of the rank: the two SVDs of a
    training part are made once and truncated at every rank of the grid (the candidates of
    one part are fitted in a row)."""

    def __init__(self, rcond):
        self.rcond, self._key, self._factors = rcond, None, None

    def __call__(self, X_train, Y_train, rank):
        if self._key is not X_train:
            U, s, Vt = thin_svd(X_train, rcond=self.rcond)
            P, c, Qt = scipy.linalg.svd(U.T @ Y_train, full_matrices=False,
                                        lapack_driver="gesdd", check_finite=False)
            self._key, self._factors = X_train, (s, Vt, P, c, Qt)
        s, Vt, P, c, Qt = self._factors
        return Vt.T @ (((P[:, :rank] * c[:rank]) @ Qt[:rank]) / s[:, None])


def _data_svd(X_tilde, Y, rank, rcond, col=None):
    col = column_space_of(X_tilde, rcond, col)
    C = col.coordinates(Y)
    if rank >= min(C.shape):  # nothing to truncate: the least-squares fit itself
        return col.weight_of_coordinates(C)
    P, c, Qt = closed_form_factors(C, rank)
    return col.weight_of_coordinates(P * c) @ Qt


def closed_form_factors(C: np.ndarray, rank: int):
    """The top ``r' = min(rank, k, N)`` singular triplets ``P (k, r'), c (r',), Qt (r', N)`` of
    C (k, N), ``[C]_r = P diag(c) Qt`` (:func:`~theory_check.linalg.top_singular_triplets`:
    one full SVD of C, or at large sizes the top subspace of its Gram matrix).

    With ``C = col.coordinates(Y)`` (:meth:`~theory_check.linalg.ColumnSpace.coordinates`,
    coordinates in an orthonormal frame F of col(X̃)), ``F [C]_r`` is data_svd's fit
    ``X̃Ŵ``: every orthonormal frame of col(X̃) gives the same one, the best rank-r
    approximation of ``P_{col X̃} Y``, and ``Ŵ = col.weight_of_coordinates(P * c) @ Qt``.
    """
    return top_singular_triplets(C, rank)


class WeightSVD(Estimator):
    """Plug-in for :func:`weight_svd` (ignores the calibration data)."""

    def __call__(self, problem: Problem, r: int) -> Estimate:
        return Estimate(weight_svd(problem.W, r), dict(CLOSED_FORM))


class DataSVD(Estimator):
    """Plug-in for :func:`data_svd` on the observed pre-activations ``Y = XW``."""

    def __init__(self, rcond: float | None = None, rank: int | str | None = None,
                 cv_rank_grid=None, cv_folds: int = cv.DEFAULT_FOLDS, cv_seed: int = 0,
                 rank_scale: float = 1.0):
        self.rcond = None if rcond is None else check_real("rcond", rcond,
                                                           low=0.0, high=1.0)
        _, _, self.rank, self.rank_scale = cv.check_alpha_rank(None, 1.0, rank,
                                                            rank_scale)
        self.cv = {"cv_rank_grid": None if cv_rank_grid is None else cv.rank_grid(
                       list(cv_rank_grid), max_rank=np.iinfo(np.int64).max),
                   "cv_folds": check_int("cv_folds", cv_folds, low=2),
                   "cv_seed": check_int("cv_seed", cv_seed, low=0)}

    def __call__(self, problem: Problem, r: int) -> Estimate:
        if self.rank is None and self.rank_scale == 1.0:  # the run's r, as before the options
            return Estimate(data_svd(problem.X_tilde, problem.Y, r, rcond=self.rcond,
                                     column_space=problem.column_space(self.rcond)),
                            dict(CLOSED_FORM))
        rank = cv.resolve_rank(r, self.rank, self.rank_scale)
        W_hat, info = data_svd(problem.X_tilde, problem.Y, rank, rcond=self.rcond,
                               return_info=True, column_space=problem.column_space(self.rcond),
                               **self.cv)
        return Estimate(W_hat, info)
