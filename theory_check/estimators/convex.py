"""The convex estimator of Theorem 4.4: least squares over K(α, r) ∩ col(X̃)⊗R^N."""

from __future__ import annotations


from ..linalg import ColumnSpace, blas_threads_by_size
from ..problem import Problem
from ..solvers.projection import project_K, project_K_cvxpy
from ..validation import (check_choice, check_int, check_matrix, check_nonzero, check_rank,
                          check_real)
from .base import Estimate, Estimator

#: solver name → projection onto K ∩ col(X̃)⊗R^N with the signature of ``project_K``.
SOLVERS = {"dykstra": project_K, "cvxpy": project_K_cvxpy}


@blas_threads_by_size("iterative")
def convex_linear(X_tilde, Y, *, alpha, rank, solver="dykstra", tol=1e-8, max_iter=5000,
                  warm_start=None, return_info=False):
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
    alpha : float, ``> 0``
        Entry bound of K (a bound on ‖Z*‖_∞).
    rank : int, ``1 <= rank <= min(d, N)``
        Rank parameter r of K.
    solver : {"dykstra", "cvxpy"}
        ``"dykstra"``: :func:`~theory_check.solvers.projection.project_K` (accelerated
        Dykstra with a duality-gap certificate); ``"cvxpy"``: the SCS reference
        :func:`~theory_check.solvers.projection.project_K_cvxpy`.
    tol : float in (0, 1]
        Target of the solver's certificate.
    max_iter : int, ``>= 1``
        Iteration limit of the solver.
    warm_start : dict, optional
        ``info["warm_start"]`` of a previous call on data of the same shape.
    return_info : bool
        Also return the solver's info dict.

    Returns
    -------
    W_hat : ndarray of shape (d, N)
    info : dict, only if ``return_info``
        ``solver``, ``iterations``, ``certificate``, ``converged`` and the solver's details.
    """
    X_tilde = check_nonzero("X_tilde", check_matrix("X_tilde", X_tilde))
    n, d = X_tilde.shape
    Y = check_matrix("Y", Y, rows=n)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    rank = check_rank(rank, max_rank=min(d, Y.shape[1]))
    check_choice("solver", solver, SOLVERS)
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    col = ColumnSpace(X_tilde)
    M_hat, info = SOLVERS[solver](Y, alpha=alpha, r=rank, basis=col.basis, tol=tol,
                                  max_iter=max_iter, warm_start=warm_start)
    W_hat = col.weight(M_hat)
    return (W_hat, info) if return_info else W_hat


class ConvexLinear(Estimator):
    """Plug-in for :func:`convex_linear` on the observed pre-activations ``Y = XW``.

    ``alpha`` defaults to the generator's ``problem.meta["alpha"]`` (the α of K it drew Z*
    in); give it in the config to use a misspecified α.
    """

    def __init__(self, alpha: float | None = None, solver: str = "dykstra", tol: float = 1e-8,
                 max_iter: int = 5000):
        prefix = "estimator.convex_linear."
        self.alpha = None if alpha is None else check_real(prefix + "alpha", alpha, low=0.0,
                                                           low_open=True)
        self.solver = check_choice(prefix + "solver", solver, SOLVERS)
        self.tol = check_real(prefix + "tol", tol, low=0.0, high=1.0, low_open=True)
        self.max_iter = check_int(prefix + "max_iter", max_iter, low=1)

    def __call__(self, problem: Problem, r: int) -> Estimate:
        alpha = self.alpha if self.alpha is not None else problem.meta.get("alpha")
        if alpha is None:
            raise ValueError("estimator.convex_linear.alpha must be set: the model records no "
                             "meta.alpha (use a Model-A generator or give alpha in the config)")
        W_hat, info = convex_linear(problem.X_tilde, problem.Y, alpha=alpha, rank=r,
                                    solver=self.solver, tol=self.tol, max_iter=self.max_iter,
                                    return_info=True)
        keep = ("solver", "iterations", "certificate", "converged", "exit", "gap", "time")
        return Estimate(W_hat, {k: info[k] for k in keep if k in info})
