"""Estimators from ReLU observations ``Y = ReLU(X̃W* + G)`` (Theorem 4.9, Appendix C).

* :func:`relu_mle` — the convex Tobit maximum-likelihood estimator of Theorem 4.9 over
  K(α, r) ∩ col(X̃)⊗R^N, solved by :func:`theory_check.solvers.tobit.tobit_apg`;
* :func:`relu_nonconvex` — the natural non-convex problem ``min ‖ReLU(X̃AB) − Y‖_F²`` over
  A (d, r), B (r, N), by L-BFGS from the closed-form (data_svd) start, with the
  pre-activations kept near the box ``|X̃AB| <= α`` (a penalty; see the function);
* :func:`relu_em` — rank-r Tobit maximum likelihood by EM
  (:func:`theory_check.solvers.tobit_em.tobit_em`): impute the censored entries, truncate the
  SVD in the metric of the data.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.optimize

from ..linalg import binary_exponent, blas_threads_by_size, check_representable, column_space_of
from ..problem import Problem
from ..solvers.tobit import (PROJECTION_TOL, check_activations, check_projection_alpha,
                             tobit_apg)
from ..solvers.tobit_em import _tobit_em
from ..validation import (check_choice, check_int, check_matrix, check_nonzero, check_rank,
                          check_real, check_sigma_relative)
from . import cv
from .base import Estimate, Estimator
from .cv import check_alpha_rank, check_cv_options, resolve_alpha, resolve_rank
from .svd import closed_form_factors, data_svd


def _check_relu_data(X_tilde, Y, rank, allow_cv=False):
    X_tilde = check_nonzero("X_tilde", check_matrix("X_tilde", X_tilde))
    n, d = X_tilde.shape
    Y = check_activations(Y, rows=n)
    rank = (cv.check_rank_or_cv if allow_cv else check_rank)(rank, max_rank=min(d, Y.shape[1]))
    return X_tilde, Y, rank


@blas_threads_by_size("iterative")
def relu_mle(X_tilde, Y, *, alpha, rank, sigma: float, tol: float = 1e-6,
             max_iter: int = 2000, return_info: bool = False, cv_grid=None, cv_rank_grid=None,
             cv_folds: int = cv.DEFAULT_FOLDS, cv_seed=0, cv_score: str = "likelihood",
             cv_tol: float | None = None, column_space=None):
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
    alpha : float ``> 0`` or ``"cv"``
        Entry bound of K (the nuclear bound is ``α√(rank·nN)``); ``"cv"``: chosen from
        ``cv_grid`` by K-fold cross-validation over the rows (:mod:`theory_check.estimators.cv`).
    rank : int ``1 <= rank <= min(d, N)`` or ``"cv"``
        Rank parameter r of K; ``"cv"``: chosen from ``cv_rank_grid`` the same way.
    sigma : float, ``> 0``
        Standard deviation of the Gaussian noise G.
    tol : float in (0, 1)
        Target of the solver's certificate, a bound on the relative suboptimality of M̂.
    max_iter : int, ``>= 1``
        Maximum number of accelerated projected-gradient steps.
    return_info : bool
        Also return the solver's info dict.
    cv_grid : sequence of float > 0, optional
        α candidates for ``alpha="cv"``; default ``max Y · 2^(0…−7)``.
    cv_rank_grid : sequence of int, optional
        Rank candidates for ``rank="cv"``; default 1, 2, 4, … up to min(d, N).
    cv_folds : int, ``2 <= cv_folds <= n``
    cv_seed : int ``>= 0`` or numpy.random.Generator
        Draws the split of the rows.
    cv_score : {"likelihood", "post_activation"}
        Held-out score: the Tobit negative log-likelihood of the held-out activations
        (default: the estimator's own objective, and it still sees how far below zero the
        censored predictions are), or the post-activation squared error
        ``(ReLU(X̃_test Ŵ) − Y_test)²`` (blind there).
    cv_tol : float in (0, 1), optional
        Solver tolerance of the fits inside the cross-validation (default ``tol``).
    column_space : ColumnSpace, optional
        ``ColumnSpace(X_tilde)`` of this very array, when the caller has made it
        (:meth:`theory_check.problem.Problem.column_space`); X̃ is not factored again.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    info : dict, only if ``return_info``
        ``solver``, ``iterations``, ``certificate``, ``converged``, ``objective`` ...
        (see :func:`theory_check.solvers.tobit.tobit_apg`) of the final fit; with
        cross-validation also ``alpha``, ``rank`` (the chosen ones), ``cv_curve``,
        ``cv_grid``, ``cv_folds``, ``cv_identifiable``, ``cv_not_converged``.
    """
    X_tilde, Y, rank = _check_relu_data(X_tilde, Y, rank, allow_cv=True)
    alpha = cv.check_alpha_or_cv(alpha)
    alphas = cv.alpha_grid(Y, cv_grid) if cv.is_cv(alpha) else [alpha]
    alpha_name = "cv_grid" if cv.is_cv(alpha) else "alpha"
    data_scale = float(Y.max())
    sigma = check_sigma_relative(sigma, data_scale=data_scale, alpha=max(alphas),
                                 alpha_name=alpha_name)
    check_projection_alpha(min(alphas), data_scale, sigma, PROJECTION_TOL, name=alpha_name,
                           tol_name="tobit_apg's projection_tol")
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    cv_tol = tol if cv_tol is None else check_real("cv_tol", cv_tol, low=0.0, high=1.0,
                                                   low_open=True)
    col = None if column_space is None else column_space_of(X_tilde, None, column_space)
    if not (cv.is_cv(alpha) or cv.is_cv(rank)):
        W_hat, info = _relu_mle(X_tilde, Y, alpha, rank, sigma, tol, max_iter, col=col)
        return (W_hat, info) if return_info else W_hat
    max_rank = min(X_tilde.shape[1], Y.shape[1])
    ranks = cv.rank_grid(cv_rank_grid, max_rank, cv.powers_of_two(max_rank)) \
        if cv.is_cv(rank) else [rank]
    cv.check_folds(cv_folds, X_tilde.shape[0])
    seed = cv.check_seed(cv_seed)
    score = check_choice("cv_score", cv_score, ("likelihood", "post_activation"))
    candidates = [(float(a), int(k)) for a in alphas for k in ranks]
    failed, last = [], {}

    def fit(X_train, Y_train, candidate):
        if not np.any(Y_train > 0):  # a part with no activation at all: nothing to fit
            failed.append(True)
            return np.zeros((X_train.shape[1], Y_train.shape[1]))
        # Started from the previous candidate's fit on the same part (tobit_apg's first step
        # starts from it, in the new K or not): along the grid the solutions move little.
        start = last.get("M") if last.get("X") is X_train else None
        W, info = _relu_mle(X_train, Y_train, *candidate, sigma, cv_tol, max_iter, M0=start)
        last.update(X=X_train, M=X_train @ W)
        failed.append(not info["converged"])
        return W

    result = cv.cross_validate(fit, X_tilde, Y, candidates, folds=cv_folds, seed=seed,
                               score=score, sigma=sigma)
    alpha, rank = result["best"]
    W_hat, info = _relu_mle(X_tilde, Y, alpha, rank, sigma, tol, max_iter, col=col)
    info = {**info, "alpha": alpha, "rank": rank, "cv_not_converged": int(sum(failed)),
            **cv.summary(result, "grid", candidates)}
    return (W_hat, info) if return_info else W_hat


def _relu_mle(X_tilde, Y, alpha, rank, sigma, tol, max_iter, M0=None, col=None):
    col = column_space_of(X_tilde, None, col)
    M_hat, info = tobit_apg(Y, sigma=sigma, alpha=alpha, r=rank, basis=col.basis, tol=tol,
                            max_iter=max_iter, M0=M0)
    return col.weight(M_hat), info


@blas_threads_by_size("iterative")
def relu_nonconvex(X_tilde, Y, *, rank: int, alpha: float | None = None, tol: float = 1e-9,
                   max_iter: int = 500, return_info: bool = False, column_space=None):
    """Non-convex ReLU least squares ``min_{A, B} ‖ReLU(X̃AB) − Y‖_F²`` (Appendix C's problem),
    kept near the box ``|X̃AB| <= α``.

    The plain objective is flat in every pre-activation Z_ij < 0 where Y_ij = 0, so L-BFGS lets
    those drift without bound (to −5700 in the issue-12 audit), and the pre-activation error
    measures the drift, not the method. The minimized objective is therefore
    ``½‖ReLU(Z) − Y‖_F² + ½‖(|Z| − α)_+‖_F²``, Z = X̃AB: the penalty is zero inside the box,
    so it changes nothing where the problem is well posed and Z* lies in the box (Model R
    draws ‖Z*‖_∞ <= α), and outside it has the data term's own curvature, which makes the flat
    directions coercive. A penalty rather than a hard constraint: |X̃AB| <= α is not a
    constraint L-BFGS-B can impose on the factors A, B. A ridge term on Z would shrink every
    entry, the well-determined ones too.

    Parametrized in an orthonormal frame F (n, k) of col(X̃)
    (:class:`~theory_check.linalg.ColumnSpace`: F = I when X̃ has full row rank, else Q of its
    QR or U_k of its SVD): ``X̃A = FÃ`` with Ã (k, r) free, so the optimization is over
    (Ã, B) and runs in O(nNr) per evaluation. Started from the closed-form estimator
    :func:`~theory_check.estimators.data_svd` (a balanced factorization of its ``[FᵀY]_r``,
    whose SVD is the only one made) and run by L-BFGS; where ReLU is flat the gradient is
    taken as 0 (the usual subgradient).

    Parameters
    ----------
    X_tilde : array of shape (n, d)
    Y : array of shape (n, N)
        Observed activations: non-negative, not all zero.
    rank : int, ``1 <= rank <= min(d, N)``
        Inner dimension r of the factorization.
    alpha : float ``> 0``, optional
        Bound of the box; default ``max Y`` (the data's own scale).
    tol : float in (0, 1)
        L-BFGS stops when the relative decrease of the objective in a step is below ``tol``.
    max_iter : int, ``>= 0``
        Maximum number of L-BFGS iterations (0 returns the data_svd start, not converged).
    return_info : bool
        Also return the solver's info dict.
    column_space : ColumnSpace, optional
        ``ColumnSpace(X_tilde)`` of this very array, when the caller has made it
        (:meth:`theory_check.problem.Problem.column_space`); X̃ is not factored again.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
        ``W_hat = A B`` (the minimum-norm A for the fitted ``X̃A``).
    info : dict, only if ``return_info``
        ``solver``, ``iterations``, ``certificate`` (final gradient norm relative to the
        start's), ``converged`` (L-BFGS ended by its own test after at least one iteration, or
        the start's gradient is exactly 0), ``objective`` and ``objective_start``
        (‖ReLU(X̃AB) − Y‖_F², without the penalty), ``penalty`` (‖(|Z| − α)_+‖_F² at the
        end), ``alpha`` and ``z_inf`` (max |X̃AB|: how far outside the box the estimate
        went), all in the caller's units (objectives beyond the float range are inf).

    Notes
    -----
    L-BFGS-B is not scale-invariant: its stopping test is relative to max(|f|, 1) and its
    first step is set by the gradient's size. With max Y outside
    :data:`NONCONVEX_SCALE_RANGE`, Y and α are therefore divided by a power of two near
    max Y (exactly; the problem is homogeneous: Z and Ŵ scale with Y, the objective with its
    square) and the result multiplied back.
    """
    X_tilde, Y, rank = _check_relu_data(X_tilde, Y, rank)
    alpha = float(Y.max()) if alpha is None else check_real("alpha", alpha, low=0.0,
                                                            low_open=True)
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=0)
    col = column_space_of(X_tilde, None, column_space)
    size = float(Y.max())
    if NONCONVEX_SCALE_RANGE[0] <= size <= NONCONVEX_SCALE_RANGE[1]:
        W_hat, info = _relu_nonconvex(col, Y, rank, alpha, tol, max_iter)
    else:
        e = binary_exponent(size)
        W_hat, info = _relu_nonconvex(col, np.ldexp(Y, -e), rank,
                                      float(np.ldexp(alpha, -e)), tol, max_iter)
        with np.errstate(over="ignore"):
            W_hat = check_representable(np.ldexp(W_hat, e))
            info.update({key: float(np.ldexp(info[key], 2 * e))
                         for key in ("objective", "objective_start", "penalty")})
            info.update({key: float(np.ldexp(info[key], e)) for key in ("alpha", "z_inf")})
    return (W_hat, info) if return_info else W_hat


#: Largest observed activation max Y for which relu_nonconvex runs L-BFGS-B in the caller's
#: units. On a 30×20×12 instance, scales 1e-3 … 1e4 of the same data gave 27–70 iterations and
#: final objectives within 1.5 % of each other (local minima); at 1e-4 the stopping test,
#: relative to max(|f|, 1) with f ~ 1e-7, ended it after 12 iterations 24 % higher; at 1e-20 and
#: 1e30 the first line search failed (0 iterations), and at 1e150 the gradient overflowed.
NONCONVEX_SCALE_RANGE = (2.0**-8, 2.0**8)


def _relu_nonconvex(col, Y, rank, alpha, tol, max_iter):
    """:func:`relu_nonconvex` on checked arguments, with the ColumnSpace ``col`` of X̃."""
    start = time.perf_counter()
    # Coordinates in an orthonormal frame F of col(X̃) (F = I when X̃ has full row rank):
    # X̃A = FÃ. The data_svd start is F[FᵀY]_r, and its SVD factors give the balanced start
    # (singular values split evenly, so neither factor dominates the L-BFGS metric). L-BFGS
    # is invariant under the orthogonal change between two such frames.
    C = col.coordinates(Y)
    k, N = C.shape
    rank = min(rank, k)  # a rank-deficient X̃ leaves rank-k fits only
    P, c, Qt = closed_form_factors(C, rank)
    root = np.sqrt(c)
    x0 = np.concatenate([(P * root).ravel(), (root[:, None] * Qt).ravel()])

    fun = _factored_objective(col.frame, Y, alpha, rank)

    f0, g0 = fun(x0)
    stationary_start = not np.any(g0)
    if max_iter == 0:
        x, f, g, iterations, converged = x0, f0, g0, 0, stationary_start
    else:
        res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                      options={"maxiter": max_iter, "ftol": tol, "gtol": 0.0})
        x, f, iterations = res.x, float(res.fun), int(res.nit)
        g = fun(x)[1]
        # Status 0: ftol met. Status 2 (line search cannot progress) is the normal end on a
        # kink of ReLU: no descent left at machine precision. The iteration limit is a
        # failure, and so is an end before the first iteration (the first line search
        # failed: nothing was checked) unless the start's gradient is exactly 0.
        converged = (res.status in (0, 2) and 1 <= iterations < max_iter) or stationary_start
    A_t = x[: k * rank].reshape(k, rank)
    B = x[k * rank:].reshape(rank, N)
    W_hat = check_representable(col.weight_of_coordinates(A_t) @ B)

    def parts(x_):
        A_, B_ = x_[: k * rank].reshape(k, rank), x_[k * rank:].reshape(rank, N)
        Z = _in_frame(col.frame, A_) @ B_
        excess = np.maximum(np.abs(Z) - alpha, 0.0)
        return (float(np.sum((np.maximum(Z, 0.0) - Y) ** 2)), float(np.vdot(excess, excess)),
                float(np.abs(Z).max()))

    objective, penalty, z_inf = parts(x)
    info = {
        "solver": "lbfgs",
        "iterations": iterations,
        "certificate": float(np.linalg.norm(g) / max(np.linalg.norm(g0), np.finfo(float).tiny)),
        "converged": bool(converged),
        "objective": objective,
        "objective_start": parts(x0)[0],
        "penalty": penalty,
        "alpha": alpha,
        "z_inf": z_inf,
        "time": time.perf_counter() - start,
    }
    return W_hat, info


def _in_frame(F, A):
    """``F A`` for an orthonormal frame F (n, k), ``A`` itself for F = None (the identity)."""
    return A if F is None else F @ A


def _factored_objective(F, Y, alpha, rank):
    """``x = (Ã, B) ↦ (f, ∇f)`` for ``f = ½‖ReLU(Z) − Y‖² + ½‖(|Z| − α)_+‖²``, ``Z = FÃB``,
    F (n, k) an orthonormal frame of col(X̃) or None for the identity (k = n)."""
    k, N = (Y.shape[0] if F is None else F.shape[1]), Y.shape[1]

    def fun(x):
        A_t = x[: k * rank].reshape(k, rank)
        B = x[k * rank:].reshape(rank, N)
        FA = _in_frame(F, A_t)
        Z = FA @ B
        R = np.maximum(Z, 0.0) - Y
        excess = np.maximum(np.abs(Z) - alpha, 0.0)
        value = 0.5 * float(np.vdot(R, R)) + 0.5 * float(np.vdot(excess, excess))
        R[Z <= 0] = 0.0  # ReLU is flat there: no gradient flows back
        R += np.sign(Z) * excess
        RB = R @ B.T
        grad = np.concatenate([(RB if F is None else F.T @ RB).ravel(), (FA.T @ R).ravel()])
        return value, grad

    return fun


def _from_meta(problem: Problem, key: str, configured):
    if configured is not None:
        return configured
    if key not in problem.meta:
        raise ValueError(f"{key} is neither configured for the estimator nor recorded by the "
                         f"generator (problem.meta[{key!r}])")
    return problem.meta[key]


class ReluMLE(Estimator):
    """Plug-in for :func:`relu_mle`; α and σ default to ``problem.meta`` (the generator's),
    α times ``alpha_scale``; ``alpha: cv`` / ``rank: cv`` cross-validate, a number for
    ``rank`` is a fixed r̂ (default: the run's r times ``rank_scale``); see ConvexLinear."""

    def __init__(self, alpha: float | str | None = None, sigma: float | None = None,
                 tol: float = 1e-6, max_iter: int = 2000, alpha_scale: float = 1.0,
                 rank: int | str | None = None, cv_grid=None, cv_rank_grid=None,
                 cv_folds: int = cv.DEFAULT_FOLDS, cv_seed: int = 0,
                 cv_score: str = "likelihood", cv_tol: float | None = None,
                 rank_scale: float = 1.0):
        self.alpha, self.alpha_scale, self.rank, self.rank_scale = check_alpha_rank(
            alpha, alpha_scale, rank, rank_scale)
        if sigma is not None:
            check_real("sigma", sigma, low=0.0, low_open=True)
        self.sigma = sigma
        self.tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self.cv = check_cv_options(cv_grid, cv_rank_grid, cv_folds, cv_seed, cv_tol)
        self.cv["cv_score"] = check_choice("cv_score", cv_score,
                                           ("likelihood", "post_activation"))

    def __call__(self, problem: Problem, r: int) -> Estimate:
        alpha = resolve_alpha(problem, self.alpha, self.alpha_scale, "estimator.relu_mle")
        options = self.cv if cv.is_cv(alpha) or cv.is_cv(self.rank) else {}
        W_hat, info = relu_mle(problem.X_tilde, problem.Y,
                               rank=resolve_rank(r, self.rank, self.rank_scale), alpha=alpha,
                               sigma=_from_meta(problem, "sigma", self.sigma),
                               tol=self.tol, max_iter=self.max_iter, return_info=True,
                               column_space=problem.column_space(), **options)
        return Estimate(W_hat, info)


class ReluNonconvex(Estimator):
    """Plug-in for :func:`relu_nonconvex` on the observed activations; the box bound α is the
    configured one, else the generator's ``problem.meta["alpha"]`` (as relu_mle's), else
    max Y."""

    def __init__(self, tol: float = 1e-9, max_iter: int = 500, alpha: float | None = None):
        self.tol = check_real("tol", tol, low=0.0, high=1.0,
                              low_open=True)
        self.max_iter = check_int("max_iter", max_iter, low=0)
        self.alpha = None if alpha is None else check_real("alpha",
                                                           alpha, low=0.0, low_open=True)

    def __call__(self, problem: Problem, r: int) -> Estimate:
        alpha = self.alpha if self.alpha is not None else problem.meta.get("alpha")
        W_hat, info = relu_nonconvex(problem.X_tilde, problem.Y, rank=r, alpha=alpha,
                                     tol=self.tol, max_iter=self.max_iter, return_info=True,
                                     column_space=problem.column_space())
        return Estimate(W_hat, info)


@blas_threads_by_size("iterative")
def relu_em(X_tilde, Y, *, rank: int, sigma: float, tol: float = 1e-5, max_iter: int = 2000,
            ridge: float = 1e-3, return_info: bool = False, column_space=None):
    """Rank-r Tobit maximum likelihood by EM, mapped to Ŵ: the baseline without α.

    Maximizes the censored-Gaussian likelihood of :func:`relu_mle` over ``M = X̃W'`` with
    rank W' <= ``rank`` (instead of Theorem 4.9's convex K(α, r)), by EM from the data_svd
    start: impute ``E[M + G | M + G <= 0]`` on the censored entries, then truncated SVD in
    the metric of the data (:func:`theory_check.solvers.tobit_em.tobit_em`). The likelihood
    never decreases; the result is a certified fixed point (a stationary point; the rank set
    is not convex) or recorded as not converged. Exactly low-rank truths favour it, the hard
    family (whose Z* is not low rank) does not. A small ridge term keeps blocks of Y censored in
    every entry from drifting to −∞ (``tobit_em``'s docstring).

    Parameters
    ----------
    X_tilde : array of shape (n, d)
    Y : array of shape (n, N)
        Observed activations: non-negative, not all zero.
    rank : int, ``1 <= rank <= min(d, N)``
    sigma : float, ``> 0``
        Standard deviation of the Gaussian noise.
    tol : float in (0, 1)
        Bound on the fixed-point residual ``‖M⁺ − M‖_F/(σ√(nN))``.
    max_iter : int, ``>= 1``
    ridge : float, ``>= 0``
        ρ of the ridge term ``ρ‖M‖_F²/(2σ²)``; 0 for the plain likelihood.
    return_info : bool
    column_space : ColumnSpace, optional
        ``ColumnSpace(X_tilde)`` of this very array, when the caller has made it
        (:meth:`theory_check.problem.Problem.column_space`); X̃ is not factored again.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    info : dict, only if ``return_info``
        ``solver``, ``iterations``, ``certificate``, ``converged``, ``objective``,
        ``objective_start``, ``nll``, ``monotone``, ``exact_steps``, ``restarts``,
        ``certificates`` (attempts at the certificate), ``time`` (see ``tobit_em``; without the
        history).
    """
    X_tilde, Y, rank = _check_relu_data(X_tilde, Y, rank)
    sigma = check_sigma_relative(sigma, data_scale=float(Y.max()))
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    ridge = check_real("ridge", ridge, low=0.0)
    col = column_space_of(X_tilde, None, column_space)
    # A rank-deficient X̃ (k < rank) leaves only rank-k fits in col(X̃): EM works at that rank.
    rank = min(rank, X_tilde.shape[0] if col.basis is None else col.basis.shape[1])
    # Arguments checked above: the solver's core, without its second round of checks.
    # Started from M0 = Y, whose rank-r fit in col(X̃) is the data_svd start X̃Ŵ_svd (up to the
    # ridge's shrinkage), without data_svd's own SVDs of X̃ and Y.
    M, info = _tobit_em(Y, sigma, rank, col.basis, Y, tol, max_iter, ridge)
    info.pop("objective_history")
    W_hat = col.weight(M)
    return (W_hat, info) if return_info else W_hat


class ReluEM(Estimator):
    """Plug-in for :func:`relu_em`; σ defaults to the generator's ``problem.meta["sigma"]``."""

    def __init__(self, sigma: float | None = None, tol: float = 1e-5, max_iter: int = 2000,
                 ridge: float = 1e-3):
        self.sigma = None if sigma is None else check_real("sigma", sigma, low=0.0,
                                                           low_open=True)
        self.ridge = check_real("ridge", ridge, low=0.0)
        self.tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
        self.max_iter = check_int("max_iter", max_iter, low=1)

    def __call__(self, problem: Problem, r: int) -> Estimate:
        W_hat, info = relu_em(problem.X_tilde, problem.Y, rank=r,
                              sigma=_from_meta(problem, "sigma", self.sigma), tol=self.tol,
                              max_iter=self.max_iter, ridge=self.ridge, return_info=True,
                              column_space=problem.column_space())
        return Estimate(W_hat, info)
