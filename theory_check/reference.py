"""Reference solvers by cvxpy, for tests and benchmarks: the oracles the fast solvers of
:mod:`theory_check.solvers` are checked and timed against.

* :func:`project_K_cvxpy` — the projection onto K(α, r) ∩ col(B)⊗R^N of
  :func:`theory_check.solvers.projection.project_K` as a conic program (SCS or Clarabel), with
  the same certificate; also ``convex_linear(..., solver="cvxpy")``;
* :func:`tobit_reference` — the Tobit maximum likelihood of
  :func:`theory_check.solvers.tobit.tobit_apg` by damped proximal Newton whose quadratic
  subproblems over K are solved by cvxpy.

cvxpy is imported on first use only.
"""

from __future__ import annotations

import time

import numpy as np

from .linalg import blas_threads_by_size
from .solvers.projection import _check_common, _dual_value, _in_subspace, _nuclear_norm, _NuclearProjector
from .solvers.tobit import _censored_curvature, _check_data, _loss_and_grad
from .validation import check_int, check_matrix, check_real, check_sigma


#: Compiled cvxpy problems, keyed by shape, α, r and basis: re-solving with new data only
#: updates the parameter (cvxpy's best case: no re-canonicalization).
_CVXPY_CACHE: dict = {}
_CVXPY_CACHE_SIZE = 8
CVXPY_SOLVERS = ("SCS", "CLARABEL")


def _cvxpy_problem(n, N, alpha, r, B):
    import cvxpy as cp

    key = (n, N, alpha, r, None if B is None else (B.shape, B.tobytes()))
    if key not in _CVXPY_CACHE:
        k = n if B is None else B.shape[1]
        target = cp.Parameter((k, N))
        C = cp.Variable((k, N))
        P = C if B is None else B @ C
        upper, lower = P <= alpha, -P <= alpha
        # ‖BC‖_* = ‖C‖_* for orthonormal B, and ½‖BC − M‖² = ½‖C − BᵀM‖² + const.
        problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(C - target)),
                             [cp.normNuc(C) <= alpha * np.sqrt(r * n * N), upper, lower])
        if len(_CVXPY_CACHE) >= _CVXPY_CACHE_SIZE:
            _CVXPY_CACHE.pop(next(iter(_CVXPY_CACHE)))
        _CVXPY_CACHE[key] = (problem, target, C, upper, lower)
    return _CVXPY_CACHE[key]


@blas_threads_by_size("iterative")
def project_K_cvxpy(M, *, alpha, r, basis=None, tol=1e-8, max_iter=5000, warm_start=None,
                    solver="SCS"):
    """Reference projection onto ``K(α, r) ∩ col(basis)⊗R^N`` by cvxpy (for tests and benchmarks).

    The problem is compiled once per (shape, α, r, basis) with the data as a ``cp.Parameter``,
    so later calls only re-solve. The certificate is computed as for :func:`project_K`, from
    the solver's dual multiplier of the box constraint (one SVD), plus the violation of the
    nuclear-norm constraint, so both solvers are judged by the same measure.

    Parameters
    ----------
    M, alpha, r, basis, tol, max_iter
        As in :func:`project_K`; ``tol`` is passed as the solver's absolute and relative
        tolerances, ``max_iter`` as its iteration limit.
    warm_start : dict, optional
        ``info["warm_start"]`` of a previous call of the same shape: its solution seeds the solver.
    solver : {"SCS", "CLARABEL"}
        SCS (first-order conic) or Clarabel (interior point, accurate, slow beyond n ≈ 40).

    Returns
    -------
    P : ndarray of shape (n, N)
    info : dict
        ``solver`` ("cvxpy-<solver>"), ``iterations``, ``certificate``, ``converged`` (the
        solver reports "optimal": conic solvers stop on residuals of their conic form, so
        ``certificate`` is the comparable accuracy measure), ``status``, ``feasibility``,
        ``gap``, ``time`` (solve only), ``warm_start``.
    """
    import cvxpy as cp

    M, alpha, r, B, tol, max_iter = _check_common(M, alpha, r, basis, tol, max_iter)
    if solver not in CVXPY_SOLVERS:
        raise ValueError(f"solver must be one of {list(CVXPY_SOLVERS)}, got {solver!r}")
    if warm_start is not None and not isinstance(warm_start, dict):
        raise ValueError("warm_start must be the dict info['warm_start'] of a previous call, "
                         f"got {type(warm_start).__name__}")
    n, N = M.shape
    problem, target, C, upper, lower = _cvxpy_problem(n, N, alpha, r, B)
    target.value = M if B is None else B.T @ M
    warm = warm_start is not None and np.shape(warm_start.get("C")) == C.shape
    if warm:
        C.value = warm_start["C"]
    options = ({"eps_abs": tol, "eps_rel": tol, "max_iters": max_iter} if solver == "SCS" else
               {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol, "max_iter": max_iter})
    try:
        problem.solve(solver=solver, warm_start=warm, **options)
    except cp.error.SolverError as exc:
        raise RuntimeError(f"cvxpy solver {solver} failed: {exc}") from None
    stats = problem.solver_stats
    if C.value is None:
        info = {"solver": f"cvxpy-{solver}", "iterations": stats.num_iters,
                "status": problem.status, "certificate": np.inf, "converged": False,
                "time": stats.solve_time}
        return np.full_like(M, np.nan), info
    P = C.value if B is None else B @ C.value
    M_L = _in_subspace(M, B)
    Q = upper.dual_value - lower.dual_value
    Y, _ = _NuclearProjector(B, alpha * np.sqrt(r * n * N))(M_L - Q)
    # Judge P itself: its constraint violations, and its objective against the dual value.
    radius = alpha * np.sqrt(r * n * N)
    norm_P = max(np.linalg.norm(P), np.finfo(float).tiny)
    feas = (np.linalg.norm(P - np.clip(P, -alpha, alpha)) / norm_P
            + max(_nuclear_norm(P if B is None else C.value) - radius, 0.0) / radius)
    dual = _dual_value(M_L, Q, M_L - Q, Y, alpha)
    gap = abs(0.5 * np.linalg.norm(P - M_L) ** 2 - dual)
    cert = feas + gap / (norm_P * max(np.linalg.norm(P - M_L), np.finfo(float).tiny))
    info = {
        "solver": f"cvxpy-{solver}",
        "iterations": stats.num_iters,
        "certificate": float(cert),
        "converged": problem.status == cp.OPTIMAL,
        "status": problem.status,
        "feasibility": float(feas),
        "gap": float(gap),
        "time": stats.solve_time,
        "warm_start": {"C": C.value.copy()},
    }
    return P, info


def _curvature(M, positive, sigma):
    """Diagonal of ∇²f: 1/σ² on positive entries, ``λ(z)(λ(z) + z)/σ²`` (in (0, 1/σ²)) on zeros."""
    h = np.where(positive, 1.0, _censored_curvature(-M / sigma))
    # Floor the vanishing curvature deep in the censored region so that the quadratic
    # subproblems stay well posed; any positive diagonal still gives a descent direction.
    return np.clip(h, 1e-8, 1.0) / sigma**2


@blas_threads_by_size("iterative")
def tobit_reference(
    Y,
    *,
    sigma: float,
    alpha: float,
    r: float,
    basis=None,
    solver: str = "SCS",
    tol: float = 1e-10,
    max_iter: int = 50,
    solver_options: dict | None = None,
):
    """Reference minimizer of the Tobit likelihood over K: damped proximal Newton with cvxpy.

    Each step minimizes the exact second-order model of f at the current iterate (diagonal
    Hessian, see ``_curvature``) over ``K(α, r) ∩ col(basis)⊗R^N`` with cvxpy (the nuclear-norm
    ball as a semidefinite constraint), then backtracks along the segment to the model's
    minimizer (which stays in K) until the Armijo condition holds. The objective is always
    the exact one (``log_ndtr``); cvxpy never sees ``log Φ``, so its ``log_normcdf``
    approximation plays no role. Meant for small instances (tests, benchmarks).

    Parameters
    ----------
    Y : array of shape (n, N), ``>= 0``
    sigma, alpha, r : float, ``> 0``
    basis : array of shape (n, k), optional
        Orthonormal basis of col(X̃); None for no column constraint.
    solver : str
        cvxpy conic solver for the subproblems ("SCS" or "CLARABEL"; Clarabel is more
        accurate per solve but takes tens of seconds beyond n = N = 30).
    tol : float
        Stop when the Newton decrement ``−⟨∇f, Δ⟩`` falls below ``tol · max(f, 1)``.
    max_iter : int
        Maximum number of Newton steps.
    solver_options : dict, optional
        Passed to ``Problem.solve``; default for SCS ``eps_abs = eps_rel = 1e-9``.

    Returns
    -------
    M_hat : ndarray of shape (n, N)
    info : dict
        ``solver``, ``iterations``, ``certificate`` (last decrement / max(f, 1)), ``converged``,
        ``objective``, ``time``.
    """
    import cvxpy as cp

    Y, sigma = _check_data(Y, sigma, nonzero=True)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    sigma = check_sigma(sigma, scale=max(alpha, float(Y.max())))
    r = check_real("r", r, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    if solver_options is None:
        solver_options = ({"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000}
                          if solver == "SCS" else {})
    n, N = Y.shape
    start = time.perf_counter()
    positive = Y > 0

    if basis is None:
        C = cp.Variable((n, N))
        M_var = C
    else:
        basis = check_matrix("basis", basis, rows=n)
        C = cp.Variable((basis.shape[1], N))
        M_var = basis @ C
    g = cp.Parameter((n, N))
    h_sqrt = cp.Parameter((n, N), nonneg=True)
    center = cp.Parameter((n, N))  # h_sqrt ⊙ x, so the objective stays DPP
    objective = cp.sum(cp.multiply(g, M_var)) + 0.5 * cp.sum_squares(
        cp.multiply(h_sqrt, M_var) - center)
    constraints = [cp.normNuc(C) <= alpha * np.sqrt(r * n * N), cp.abs(M_var) <= alpha]
    qp = cp.Problem(cp.Minimize(objective), constraints)

    x = np.zeros((n, N))  # the centre of K: always feasible
    fx, gx = _loss_and_grad(x, Y, positive, sigma, grad=True)
    decrement = np.inf
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        hs = np.sqrt(_curvature(x, positive, sigma))
        g.value, h_sqrt.value, center.value = gx, hs, hs * x
        qp.solve(solver=solver, **solver_options)
        if M_var.value is None:
            raise RuntimeError(f"cvxpy/{solver} failed on a Newton subproblem: {qp.status}")
        direction = np.asarray(M_var.value) - x
        decrement = -float(np.sum(gx * direction))
        if decrement <= tol * max(fx, 1.0):
            converged = True
            break
        t = 1.0
        while True:
            f_try = _loss_and_grad(x + t * direction, Y, positive, sigma, grad=False)[0]
            if f_try <= fx - 0.25 * t * decrement or t < 1e-12:
                break
            t *= 0.5
        x = x + t * direction
        fx, gx = _loss_and_grad(x, Y, positive, sigma, grad=True)

    info = {
        "solver": f"prox_newton_cvxpy_{solver.lower()}",
        "iterations": it,
        "certificate": float(abs(decrement) / max(fx, 1.0)),
        "converged": converged,
        "objective": float(fx),
        "time": time.perf_counter() - start,
    }
    return x, info
