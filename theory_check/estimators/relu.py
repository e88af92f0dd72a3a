"""Estimators from ReLU observations ``Y = ReLU(X̃W* + G)`` (Theorem 4.9, Appendix C).

* :func:`relu_mle` — the convex Tobit maximum-likelihood estimator of Theorem 4.9 over
  K(α, r) ∩ col(X̃)⊗R^N, solved by :func:`theory_check.solvers.tobit.tobit_apg`;
* :func:`relu_nonconvex` — the natural non-convex problem ``min ‖ReLU(X̃AB) − Y‖_F²`` over
  A (d, r), B (r, N), by L-BFGS from the closed-form (data_svd) start.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.optimize

from ..linalg import ColumnSpace, blas_threads_by_size, thin_svd
from ..problem import Problem
from ..solvers.tobit import tobit_apg
from ..validation import (check_int, check_matrix, check_nonzero, check_rank, check_real,
                          check_sigma)
from .base import Estimate, Estimator
from .svd import data_svd


def _check_relu_data(X_tilde, Y, rank):
    X_tilde = check_nonzero("X_tilde", check_matrix("X_tilde", X_tilde))
    n, d = X_tilde.shape
    Y = check_matrix("Y", Y, rows=n)
    rank = check_rank(rank, max_rank=min(d, Y.shape[1]))
    if np.any(Y < 0):
        raise ValueError("Y has negative entries, but ReLU outputs are never negative: "
                         "Y must be the observed activations ReLU(Z* + G)")
    if not np.any(Y > 0):
        raise ValueError("Y is all zero: every activation is censored, so the data carry no "
                         "information about Z*")
    return X_tilde, Y, rank


@blas_threads_by_size("iterative")
def relu_mle(X_tilde, Y, *, alpha: float, rank: int, sigma: float, tol: float = 1e-6,
             max_iter: int = 2000, return_info: bool = False):
    """Tobit (censored-Gaussian) maximum likelihood over K(α, r) ∩ col(X̃)⊗R^N, mapped to Ŵ.

    ``M̂ = argmin Σ_{Y>0} (Y − M)²/(2σ²) − Σ_{Y=0} log Φ(−M/σ)`` subject to
    ``‖M‖_* <= α√(rank·nN)``, ``‖M‖_∞ <= α`` and ``M ∈ col(X̃)⊗R^N``; then ``Ŵ = X̃⁺M̂``
    through the thin SVD of X̃ (``X̃Ŵ = M̂`` exactly since M̂ lies in col(X̃)).

    Parameters
    ----------
    X_tilde : array of shape (n, d)
        Inputs of the layer in the compressed network.
    Y : array of shape (n, N)
        Observed activations ``ReLU(Z* + G)``: non-negative, not all zero.
    alpha : float, ``> 0``
        Entry bound of K (the nuclear bound is ``α√(rank·nN)``).
    rank : int, ``1 <= rank <= min(d, N)``
        Rank parameter r of K.
    sigma : float, ``> 0``
        Standard deviation of the Gaussian noise G.
    tol : float in (0, 1)
        Target of the solver's certificate, a bound on the relative suboptimality of M̂.
    max_iter : int, ``>= 1``
        Maximum number of accelerated projected-gradient steps.
    return_info : bool
        Also return the solver's info dict.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    info : dict, only if ``return_info``
        ``solver``, ``iterations``, ``certificate``, ``converged``, ``objective`` ...
        (see :func:`theory_check.solvers.tobit.tobit_apg`).
    """
    X_tilde, Y, rank = _check_relu_data(X_tilde, Y, rank)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    sigma = check_sigma(sigma, scale=max(alpha, float(Y.max())))
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    col = ColumnSpace(X_tilde)
    M_hat, info = tobit_apg(Y, sigma=sigma, alpha=alpha, r=rank, basis=col.basis, tol=tol,
                            max_iter=max_iter)
    W_hat = col.weight(M_hat)
    return (W_hat, info) if return_info else W_hat


@blas_threads_by_size("iterative")
def relu_nonconvex(X_tilde, Y, *, rank: int, tol: float = 1e-9, max_iter: int = 500,
                   return_info: bool = False):
    """Non-convex ReLU least squares ``min_{A, B} ‖ReLU(X̃AB) − Y‖_F²`` (Appendix C's problem).

    Parametrized in the coordinates of the thin SVD ``X̃ = U_k Σ_k V_kᵀ``: ``X̃A = U_k Ã`` with
    Ã (k, r) free, so the optimization is over (Ã, B) and runs in O(nNr) per evaluation.
    Started from the closed-form estimator :func:`~theory_check.estimators.data_svd`
    (a balanced factorization of its ``[U_kᵀY]_r``) and run by L-BFGS; where ReLU is flat
    the gradient is taken as 0 (the usual subgradient).

    Parameters
    ----------
    X_tilde : array of shape (n, d)
    Y : array of shape (n, N)
        Observed activations: non-negative, not all zero.
    rank : int, ``1 <= rank <= min(d, N)``
        Inner dimension r of the factorization.
    tol : float in (0, 1)
        L-BFGS stops when the relative decrease of the objective in a step is below ``tol``.
    max_iter : int, ``>= 0``
        Maximum number of L-BFGS iterations (0 returns the data_svd start).
    return_info : bool
        Also return the solver's info dict.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
        ``W_hat = A B`` (the minimum-norm A for the fitted ``X̃A``).
    info : dict, only if ``return_info``
        ``solver``, ``iterations``, ``certificate`` (final gradient norm relative to the
        start's), ``converged``, ``objective`` and ``objective_start`` (‖ReLU(X̃AB) − Y‖_F²).
    """
    X_tilde, Y, rank = _check_relu_data(X_tilde, Y, rank)
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=0)
    start = time.perf_counter()
    U, s, Vt = thin_svd(X_tilde)
    k, N = U.shape[1], Y.shape[1]
    # The data_svd start in SVD coordinates: Σ_k V_kᵀ Ŵ₀ = [U_kᵀY]_r, factored with balanced
    # singular values so neither factor dominates the L-BFGS metric.
    C0 = s[:, None] * (Vt @ data_svd(X_tilde, Y, rank))
    P, c, Qt = np.linalg.svd(C0, full_matrices=False)
    root = np.sqrt(c[:rank])
    x0 = np.concatenate([(P[:, :rank] * root).ravel(), (root[:, None] * Qt[:rank]).ravel()])

    def fun(x):
        A_t = x[: k * rank].reshape(k, rank)
        B = x[k * rank:].reshape(rank, N)
        UA = U @ A_t
        Z = UA @ B
        R = np.maximum(Z, 0.0) - Y
        value = 0.5 * float(np.vdot(R, R))
        R[Z <= 0] = 0.0  # ReLU is flat there: no gradient flows back
        grad = np.concatenate([(U.T @ (R @ B.T)).ravel(), (UA.T @ R).ravel()])
        return value, grad

    f0, g0 = fun(x0)
    if max_iter == 0:
        x, f, g, iterations, converged = x0, f0, g0, 0, True
    else:
        res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                      options={"maxiter": max_iter, "ftol": tol, "gtol": 0.0})
        x, f, iterations = res.x, float(res.fun), int(res.nit)
        g = fun(x)[1]
        # Status 0: ftol met. Status 2 (line search cannot progress) is the normal end on a
        # kink of ReLU: no descent left at machine precision. Only the iteration limit is a
        # failure.
        converged = res.status in (0, 2) and iterations < max_iter
    A_t = x[: k * rank].reshape(k, rank)
    B = x[k * rank:].reshape(rank, N)
    W_hat = Vt.T @ ((A_t / s[:, None]) @ B)
    info = {
        "solver": "lbfgs",
        "iterations": iterations,
        "certificate": float(np.linalg.norm(g) / max(np.linalg.norm(g0), np.finfo(float).tiny)),
        "converged": bool(converged),
        "objective": 2.0 * f,
        "objective_start": 2.0 * f0,
        "time": time.perf_counter() - start,
    }
    return (W_hat, info) if return_info else W_hat


def _from_meta(problem: Problem, key: str, configured):
    if configured is not None:
        return configured
    if key not in problem.meta:
        raise ValueError(f"{key} is neither configured for the estimator nor recorded by the "
                         f"generator (problem.meta[{key!r}])")
    return problem.meta[key]


class ReluMLE(Estimator):
    """Plug-in for :func:`relu_mle`; α and σ default to ``problem.meta`` (the generator's)."""

    def __init__(self, alpha: float | None = None, sigma: float | None = None,
                 tol: float = 1e-6, max_iter: int = 2000):
        for name, value in (("alpha", alpha), ("sigma", sigma)):
            if value is not None:
                check_real(f"estimator.relu_mle.{name}", value, low=0.0, low_open=True)
        self.alpha, self.sigma = alpha, sigma
        self.tol = check_real("estimator.relu_mle.tol", tol, low=0.0, high=1.0, low_open=True)
        self.max_iter = check_int("estimator.relu_mle.max_iter", max_iter, low=1)

    def __call__(self, problem: Problem, r: int) -> Estimate:
        W_hat, info = relu_mle(problem.X_tilde, problem.Y, rank=r,
                               alpha=_from_meta(problem, "alpha", self.alpha),
                               sigma=_from_meta(problem, "sigma", self.sigma),
                               tol=self.tol, max_iter=self.max_iter, return_info=True)
        return Estimate(W_hat, info)


class ReluNonconvex(Estimator):
    """Plug-in for :func:`relu_nonconvex` on the observed activations."""

    def __init__(self, tol: float = 1e-9, max_iter: int = 500):
        self.tol = check_real("estimator.relu_nonconvex.tol", tol, low=0.0, high=1.0,
                              low_open=True)
        self.max_iter = check_int("estimator.relu_nonconvex.max_iter", max_iter, low=0)

    def __call__(self, problem: Problem, r: int) -> Estimate:
        W_hat, info = relu_nonconvex(problem.X_tilde, problem.Y, rank=r, tol=self.tol,
                                     max_iter=self.max_iter, return_info=True)
        return Estimate(W_hat, info)
