"""The convex estimator of Theorem 4.4: least squares over K(α, r) ∩ col(X̃)⊗R^N."""

from __future__ import annotations

from functools import partial, wraps

import numpy as np

from ..linalg import blas_threads_by_size, column_space_of, scale_exponent
from ..problem import Problem
from ..solvers.projection import check_alpha_resolvable, project_K
from ..reference import project_K_cvxpy
from ..validation import (check_choice, check_int, check_matrix, check_nonzero, check_real)
from . import cv
from .cv import CV_KEYS, check_alpha_rank, check_cv_options, resolve_alpha, resolve_rank
from .base import Estimate, Estimator


def _in_scale_range(project):
    """``project`` (signature of ``project_K``) on M and α divided by a power of two when max|M|
    is outside :data:`theory_check.linalg.SCALE_RANGE`, P and the gap multiplied back.

    For the cvxpy reference, which works in the caller's units (project_K does this itself):
    at max|Y| = 1e100 SCS returned a Ŵ of inf, at 1e-200 "optimal" with a NaN certificate.
    """
    @wraps(project)
    def scaled(M, *, alpha, warm_start=None, **options):
        e = scale_exponent(M)
        if not e:
            return project(M, alpha=alpha, warm_start=warm_start, **options)
        if warm_start is not None:
            warm_start = {key: np.ldexp(value, -e) for key, value in warm_start.items()}
        P, info = project(np.ldexp(M, -e), alpha=float(np.ldexp(alpha, -e)),
                          warm_start=warm_start, **options)
        info = dict(info)
        with np.errstate(over="ignore"):  # a gap beyond the caller's units is inf there
            if "gap" in info:
                info["gap"] = float(np.ldexp(info["gap"], 2 * e))
        if "warm_start" in info:
            info["warm_start"] = {key: np.ldexp(value, e)
                                  for key, value in info["warm_start"].items()}
        return np.ldexp(P, e), info

    return scaled


#: solver name → projection onto K ∩ col(X̃)⊗R^N with the signature of ``project_K``.
#: convex_linear has checked Y, α, r, tol and max_iter, and its basis is orthonormal by
#: construction (an SVD), so project_K need not check them again.
SOLVERS = {"dykstra": partial(project_K, check_input=False),
           "cvxpy": _in_scale_range(project_K_cvxpy)}


@blas_threads_by_size("iterative")
def convex_linear(X_tilde, Y, *, alpha, rank, solver="dykstra", tol=1e-8, max_iter=5000,
                  warm_start=None, return_info=False, cv_grid=None, cv_rank_grid=None,
                  cv_folds=cv.DEFAULT_FOLDS, cv_seed=0, cv_tol=None, column_space=None):
    """Theorem 4.4's estimator ``Ŵ = X̃⁺M̂``, ``M̂ = argmin ‖M − Y‖_F²`` over
    ``M ∈ K(α, rank) ∩ col(X̃)⊗R^N``, ``K(α, r) = {‖M‖_* <= α√(r n N), ‖M‖_∞ <= α}``.

    Equivalently ``Ŵ = argmin ‖X̃W' − Y‖_F²`` subject to ``‖X̃W'‖_* <= α√(rnN)`` and
    ``‖X̃W'‖_∞ <= α`` (minimum-norm W' when X̃ has a null space). With the thin SVD
    ``X̃ = U_k Σ_k V_kᵀ``, the column-space constraint is ``M = U_k U_kᵀ M`` (void when k = n,
    i.e. X̃ of full row rank) and ``Ŵ = V_k Σ_k⁻¹ U_kᵀ M̂``; no Gram matrix is formed.

    Parameters
    ----------
    X_tilde : array of shape (n, d)
        Inputs of the layer in the compressed network.
    Y : array of shape (n, N)
        Observed pre-activations ``XW``.
    alpha : float ``> 0`` or ``"cv"``
        Entry bound of K (a bound on ‖Z*‖_∞); ``"cv"``: chosen from ``cv_grid`` by K-fold
        cross-validation over the rows (:mod:`theory_check.estimators.cv`, held-out squared
        error of ``X̃_test Ŵ`` against ``Y_test``).
    rank : int ``1 <= rank <= min(d, N)`` or ``"cv"``
        Rank parameter r of K; ``"cv"``: chosen from ``cv_rank_grid`` the same way (jointly
        with α when both are ``"cv"``).
    solver : {"dykstra", "cvxpy"}
        ``"dykstra"``: :func:`~theory_check.solvers.projection.project_K` (accelerated
        Dykstra with a duality-gap certificate); ``"cvxpy"``: the SCS reference
        :func:`~theory_check.reference.project_K_cvxpy`.
    tol : float in (0, 1]
        Target of the solver's certificate.
    max_iter : int, ``>= 1``
        Iteration limit of the solver.
    warm_start : dict, optional
        ``info["warm_start"]`` of a previous call on data of the same shape.
    return_info : bool
        Also return the solver's info dict.
    cv_grid : sequence of float > 0, optional
        α candidates for ``alpha="cv"``; default ``max|Y| · 2^(0…−7)``.
    cv_rank_grid : sequence of int, optional
        Rank candidates for ``rank="cv"``; default 1, 2, 4, … up to min(d, N).
    cv_folds : int, ``2 <= cv_folds <= n``
        Number of parts of the rows.
    cv_seed : int ``>= 0`` or numpy.random.Generator
        Draws the split of the rows.
    cv_tol : float in (0, 1], optional
        Solver tolerance of the fits inside the cross-validation (default ``tol``): the
        held-out scores need far less accuracy than the final fit, and the small α of the
        grid take the most iterations.
    column_space : ColumnSpace, optional
        ``ColumnSpace(X_tilde)`` of this very array, when the caller has made it
        (:meth:`theory_check.problem.Problem.column_space`); X̃ is not factored again.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    info : dict, only if ``return_info``
        ``solver``, ``iterations``, ``certificate``, ``converged`` and the solver's details
        (of the final fit); with cross-validation also ``alpha``, ``rank`` (the chosen ones),
        ``cv_curve`` (mean held-out score per candidate, JSON), the grid (JSON),
        ``cv_folds``, ``cv_identifiable`` and ``cv_not_converged`` (fits within the
        cross-validation that did not certify convergence).
    """
    X_tilde = check_nonzero("X_tilde", check_matrix("X_tilde", X_tilde))
    n, d = X_tilde.shape
    Y = check_matrix("Y", Y, rows=n)
    max_rank = min(d, Y.shape[1])
    alpha = cv.check_alpha_or_cv(alpha)
    rank = cv.check_rank_or_cv(rank, max_rank)
    check_choice("solver", solver, SOLVERS)
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    cv_tol = tol if cv_tol is None else check_real("cv_tol", cv_tol, low=0.0, high=1.0,
                                                   low_open=True)
    col = None if column_space is None else column_space_of(X_tilde, None, column_space)
    size = float(np.abs(Y).max())
    if not cv.is_cv(alpha):
        check_alpha_resolvable(alpha, size, tol, data="max|Y|")
    if cv.is_cv(alpha) or cv.is_cv(rank):
        alphas = cv.alpha_grid(Y, cv_grid) if cv.is_cv(alpha) else [alpha]
        check_alpha_resolvable(min(alphas), size, cv_tol, name="cv_grid", data="max|Y|",
                               tol_name="cv_tol")
        ranks = cv.rank_grid(cv_rank_grid, max_rank, cv.powers_of_two(max_rank)) \
            if cv.is_cv(rank) else [rank]
        cv.check_folds(cv_folds, n)
        seed = cv.check_seed(cv_seed)
        candidates = [(float(a), int(k)) for a in alphas for k in ranks]
        failed, last = [], {}

        def fit(X_train, Y_train, candidate):
            # Warm start from the previous candidate of the same part (same shape): along the
            # grid the solutions move little, and the small α need the most iterations.
            start = last.get("warm_start") if last.get("X") is X_train else None
            W, info = _solve(X_train, Y_train, *candidate, solver, cv_tol, max_iter, start)
            last.update(X=X_train, warm_start=info.get("warm_start"))
            failed.append(not info["converged"])
            return W

        result = cv.cross_validate(fit, X_tilde, Y, candidates, folds=cv_folds, seed=seed)
        alpha, rank = result["best"]
        W_hat, info = _solve(X_tilde, Y, alpha, rank, solver, tol, max_iter, warm_start, col)
        info = {**info, "alpha": alpha, "rank": rank, "cv_not_converged": int(sum(failed)),
                **cv.summary(result, "grid", candidates)}
        return (W_hat, info) if return_info else W_hat
    W_hat, info = _solve(X_tilde, Y, alpha, rank, solver, tol, max_iter, warm_start, col)
    return (W_hat, info) if return_info else W_hat


def _solve(X_tilde, Y, alpha, rank, solver, tol, max_iter, warm_start, col=None):
    col = column_space_of(X_tilde, None, col)
    M_hat, info = SOLVERS[solver](Y, alpha=alpha, r=rank, basis=col.basis, tol=tol,
                                  max_iter=max_iter, warm_start=warm_start)
    return col.weight(M_hat), info


class ConvexLinear(Estimator):
    """Plug-in for :func:`convex_linear` on the observed pre-activations ``Y = XW``.

    ``alpha`` defaults to the generator's ``problem.meta["alpha"]`` (the α of K it drew Z*
    in) times ``alpha_scale``; give ``alpha`` (a number) or ``alpha_scale`` in the config to
    use a misspecified α, or ``alpha: cv`` for the cross-validated one. ``rank`` defaults to
    the run's r; a number is a misspecified r̂, ``cv`` the cross-validated one.
    """

    def __init__(self, alpha: float | str | None = None, solver: str = "dykstra",
                 tol: float = 1e-8, max_iter: int = 5000, alpha_scale: float = 1.0,
                 rank: int | str | None = None, cv_grid=None, cv_rank_grid=None,
                 cv_folds: int = cv.DEFAULT_FOLDS, cv_seed: int = 0,
                 cv_tol: float | None = None, rank_scale: float = 1.0):
        self.alpha, self.alpha_scale, self.rank, self.rank_scale = check_alpha_rank(
            alpha, alpha_scale, rank, rank_scale)
        self.solver = check_choice("solver", solver, SOLVERS)
        self.tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self.cv = check_cv_options(cv_grid, cv_rank_grid, cv_folds, cv_seed, cv_tol)

    def __call__(self, problem: Problem, r: int) -> Estimate:
        alpha = resolve_alpha(problem, self.alpha, self.alpha_scale, "estimator.convex_linear")
        rank = resolve_rank(r, self.rank, self.rank_scale)
        W_hat, info = convex_linear(problem.X_tilde, problem.Y, alpha=alpha, rank=rank,
                                    solver=self.solver, tol=self.tol, max_iter=self.max_iter,
                                    return_info=True, column_space=problem.column_space(),
                                    **self.cv)
        keep = ("solver", "iterations", "certificate", "converged", "exit", "gap", "time",
                "alpha", "rank", *CV_KEYS)
        return Estimate(W_hat, {k: info[k] for k in keep if k in info})
