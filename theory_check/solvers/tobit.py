"""Censored-Gaussian (Tobit) maximum likelihood over K(α, r) ∩ col(X̃)⊗R^N (Theorem 4.9).

With ``Y = ReLU(Z* + G)``, G i.i.d. N(0, σ²), the negative log-likelihood of a candidate
pre-activation matrix ``M`` (n, N) is

    f(M) = Σ_{Y_ij > 0} (Y_ij − M_ij)² / (2σ²)  −  Σ_{Y_ij = 0} log Φ(−M_ij / σ),

convex (Φ is log-concave) with a 1/σ²-Lipschitz gradient: ``(M − Y)/σ²`` on the positive
entries and ``λ(z)/σ`` on the zeros, ``z = −M/σ`` and ``λ = φ/Φ`` the inverse Mills ratio.

:func:`tobit_apg` minimizes f over K by accelerated projected gradient (FISTA with step σ²,
restarted whenever the objective increases) with the Theorem-4.4 projection
(:func:`theory_check.solvers.projection.project_K`), warm-started across iterations and
solved only as accurately as the current step needs.
:func:`theory_check.reference.tobit_reference` is an independent path for tests and
benchmarks.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
from scipy.special import erfcx, log_ndtr

from ..linalg import binary_exponent, blas_threads_by_size
from ..validation import (check_basis, check_int, check_matrix, check_real,
                          check_sigma_relative, sigma_needs_rescaling)

_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
#: Below this z, λ(z) + z = 1/|z| + O(|z|⁻³) cancels (relative error ε·z²), and the curvature
#: h(z) = λ(λ + z) is taken from its expansion 1 − 1/z² + 6/z⁴ − …, whose first two terms
#: are a lower bound (error < 6e-16).
_CURVATURE_ASYMPTOTIC_Z = -1e4
#: Steps before the last are projected to min(_LOOSE_PROJECTION_TOL, _PROJECTION_TOL_RATIO ·
#: certificate): on the Model-R benchmark instances (n = N = d = 16…64, three seeds) this took
#: 3.4× fewer SVDs than projecting every step to 1e-9, for 0–3 more outer steps.
_LOOSE_PROJECTION_TOL = 1e-2
#: Default accuracy of the projection the certificate rests on.
PROJECTION_TOL = 1e-9
_PROJECTION_TOL_RATIO = 3e-2


def inverse_mills(z):
    """``λ(z) = φ(z) / Φ(z)`` for any real z, without overflow or 0/0.

    Evaluated as ``√(2/π) / erfcx(−z/√2)`` (Φ(z) = ½·exp(−z²/2)·erfcx(−z/√2), so the Gaussian
    factors cancel exactly): accurate to a few ulp for every z, also for z ≪ 0 where λ(z) ≈ −z
    and the difference ``−z²/2 − log Φ(z)`` of two numbers of size z²/2 would lose all digits
    (|z| up to ~1e100 within the allowed σ range); for z ≫ 0 erfcx overflows and λ = 0, its true
    limit.

    Parameters
    ----------
    z : array_like

    Returns
    -------
    ndarray of the shape of ``z``
    """
    z = np.asarray(z, dtype=float)
    return _SQRT_2_OVER_PI / erfcx(-z * np.sqrt(0.5))


def _censored_curvature(z):
    """``h(z) = λ(z)(λ(z) + z)`` in [0, 1] (σ² × the curvature of −log Φ(−M/σ)), or a lower
    bound within 6e-16 of it where the direct form cancels (z < _CURVATURE_ASYMPTOTIC_Z)."""
    z = np.asarray(z, dtype=float)
    lam = inverse_mills(z)
    # Both branches are evaluated everywhere: 1/z² is inf at z = 0 and overflows for
    # |z| > 1e154 in the branch np.where discards.
    with np.errstate(over="ignore", divide="ignore"):
        h = np.where(z < _CURVATURE_ASYMPTOTIC_Z, 1.0 - 1.0 / (z * z), lam * (lam + z))
    return np.minimum(h, 1.0)


def check_activations(Y, *, rows=None, nonzero=True):
    """``Y`` as observed ReLU activations: a finite matrix (with ``rows`` rows), no negative
    entry, and (``nonzero``) not all zero. The one ReLU data check of the solvers and
    estimators."""
    Y = check_matrix("Y", Y, rows=rows)
    if np.any(Y < 0):
        raise ValueError(
            "Y has negative entries, but ReLU outputs are never negative: "
            "Y must be the observed activations ReLU(Z* + G)"
        )
    if nonzero and not np.any(Y > 0):
        raise ValueError("Y is all zero: every activation is censored, so the data carry no "
                         "information about Z*")
    return Y


def _check_data(Y, sigma, *, nonzero=False):
    Y = check_activations(Y, nonzero=nonzero)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    return Y, sigma


def tobit_loss(M, Y, *, sigma: float) -> float:
    """Tobit negative log-likelihood f(M) (constants dropped).

    Parameters
    ----------
    M : array of shape (n, N)
        Candidate pre-activations.
    Y : array of shape (n, N)
        Observed activations, ``Y >= 0``; exact zeros are the censored entries.
    sigma : float, ``> 0``
        Noise standard deviation.

    Returns
    -------
    float
    """
    Y, sigma = _check_data(Y, sigma)
    M = check_matrix("M", M, rows=Y.shape[0], cols=Y.shape[1])
    return _loss_and_grad(M, Y, Y > 0, sigma, grad=False)[0]


def tobit_loss_and_grad(M, Y, *, sigma: float):
    """Tobit negative log-likelihood f(M) and its gradient.

    Parameters
    ----------
    M : array of shape (n, N)
    Y : array of shape (n, N), ``Y >= 0``
    sigma : float, ``> 0``

    Returns
    -------
    f : float
    grad : ndarray of shape (n, N)
        ``(M − Y)/σ²`` where ``Y > 0``, ``λ(−M/σ)/σ`` where ``Y = 0``.
    """
    Y, sigma = _check_data(Y, sigma)
    M = check_matrix("M", M, rows=Y.shape[0], cols=Y.shape[1])
    return _loss_and_grad(M, Y, Y > 0, sigma, grad=True)


def _loss_and_grad(M, Y, positive, sigma, *, grad):
    zero = ~positive
    r = (M[positive] - Y[positive]) / sigma
    z = -M[zero] / sigma
    log_cdf = log_ndtr(z)
    f = 0.5 * float(r @ r) - float(np.sum(log_cdf))
    if not grad:
        return f, None
    g = np.empty_like(M)
    g[positive] = r / sigma
    g[zero] = inverse_mills(z) / sigma
    return f, g


def _gradient(M, Y, positive, sigma):
    """∇f(M) alone (as :func:`_loss_and_grad`): the solver's extrapolated points need no
    f, and log Φ costs as much as λ (14 against 17 ms on 5e5 censored entries)."""
    g = (M - Y) / sigma / sigma  # as r / σ there
    zero = ~positive
    g[zero] = inverse_mills(M[zero] / -sigma) / sigma
    return g


def _default_projection():
    # Imported on first use so this module (and its tests with a stand-in projection) works
    # independently of the Theorem-4.4 solver module.
    from .projection import project_K

    return project_K


def _box_curvature_floor(positive, alpha, sigma):
    """Entrywise lower bound μ_ij of f's curvature on any segment inside [−α, α]: 1/σ² on
    observed entries; on censored ones h(−M/σ)/σ² with h(z) = λ(z)(λ(z) + z) decreasing in z,
    so its minimum sits at M = −α."""
    return np.where(positive, 1.0, float(_censored_curvature(alpha / sigma))) / sigma**2


def _curvature_floor(y, positive, alpha, sigma, mu_box):
    """Lower bound μ_ij of f's curvature on the segment from y_ij to any point of [−α, α]:
    ``mu_box`` (:func:`_box_curvature_floor`) unless a censored y_ij lies below −α, where the
    minimum of h moves to M = y_ij. Only those entries (momentum can push y out of the box)
    need a new λ."""
    deep = (y < -alpha) & ~positive
    if not deep.any():
        return mu_box
    mu = mu_box.copy()
    mu[deep] = _censored_curvature(-y[deep] / sigma) / sigma**2
    return mu


def _suboptimality_bound(y, x_new, positive, alpha, sigma, mu_box):
    """Upper bound on ``f(x⁺) − f*`` from the gradient mapping ``G = (y − x⁺)/σ²``.

    For every z in K, smoothness, the projection's optimality and the separable curvature
    bound μ give ``f(x⁺) − f(z) <= −σ²‖G‖²/2 + Σ_ij (G_ij δ_ij − μ_ij δ_ij²/2)`` with
    ``δ = y − z``; maximizing over z in the box ``‖z‖_∞ <= α`` (a superset of K) is a
    closed-form one-dimensional problem per entry.
    """
    step = sigma**2
    G = (y - x_new) / step
    mu = _curvature_floor(y, positive, alpha, sigma, mu_box)
    # δ = z − y ranges over [−α − y, α − y]; minimize G δ + μ δ²/2 there.
    # Where μ underflows the minimizer sits at a box edge: the overflow to ±inf is clipped there.
    with np.errstate(over="ignore"):
        delta = np.clip(-G / np.maximum(mu, np.finfo(float).tiny), -alpha - y, alpha - y)
    q_min = float(np.sum(G * delta + 0.5 * mu * delta * delta))
    return max(-0.5 * step * float(np.vdot(G, G)) - q_min, 0.0)


@blas_threads_by_size("iterative")
def tobit_apg(
    Y,
    *,
    sigma: float,
    alpha: float,
    r: float,
    basis=None,
    project=None,
    M0=None,
    tol: float = 1e-7,
    max_iter: int = 2000,
    projection_tol: float = PROJECTION_TOL,
):
    """Minimize the Tobit likelihood over ``K(α, r) ∩ col(basis)⊗R^N`` by restarted FISTA.

    Iteration: ``x⁺ = P(y − σ²∇f(y))`` (σ² = 1/L), Nesterov extrapolation of ``y``, and an
    adaptive restart (momentum reset, step redone from the last iterate) whenever
    ``f(x⁺) > f(x)``, so the accepted iterates after the first decrease f monotonically.

    Stopping certificate: a rigorous upper bound on ``f(x⁺) − f*`` from the gradient mapping
    ``G = (y − x⁺)/σ²`` at each step. For z in K, the 1/σ² smoothness of f, the optimality of
    the projection, and the entrywise curvature floor μ_ij of the separable f on the segment
    [y_ij, z_ij] (1/σ² on observed entries, ``h(max(α, −y_ij)/σ)/σ²`` on censored ones,
    h(z) = λ(z)(λ(z) + z)) give

        f(x⁺) − f(z) <= −σ²‖G‖²/2 + Σ_ij (G_ij δ_ij − μ_ij δ_ij²/2),   δ = y − z;

    the right side is maximized in closed form over z in the box ``‖z‖_∞ <= α`` ⊇ K. It is
    at most ``‖G‖(‖y − x⁺‖ + 2α√(nN))`` and much smaller where f is strongly convex.
    ``certificate`` is the bound divided by ``max(f(x⁺), 1)``: the relative suboptimality of
    the returned point is below it (up to the projection's own accuracy, ``projection_tol``).

    Only the last step's projection enters the bound, so the steps before it are projected
    to a tolerance that follows the certificate (``3e-2·certificate``, at most 1e-2, at least
    ``projection_tol``; the result is always feasible); a step whose bound meets ``tol`` with
    a projection certified only to a looser tolerance finishes that projection to
    ``projection_tol`` and recomputes the bound before it is accepted. The first step starts
    from ``y = M0`` (default Y) unprojected, and is always accepted, so every step costs one
    projection (plus one after each restart).

    Parameters
    ----------
    Y : array of shape (n, N)
        Observed activations (``>= 0``, not all zero).
    sigma : float in [1e-50, 1e8] × max(α, max Y)
        Noise standard deviation; also sets the step σ². Outside [1e-50, 1e50], Y, α, σ and
        M0 are divided by a power of two near max(α, max Y) for the solve (the likelihood is
        invariant under that joint scaling) and M̂ multiplied back.
    alpha : float, ``<= 1e50·sigma`` and ``>= 10·ε·max(max Y, σ)/projection_tol``
        Entry bound of K; the nuclear-norm bound is ``α√(r n N)``. Below that floor the
        projections' rounding exceeds ``projection_tol``
        (:func:`~theory_check.solvers.projection.check_alpha_resolvable`).
    r : float, ``> 0``
        Rank parameter of K.
    basis : array of shape (n, k) with orthonormal columns, optional
        Basis of col(X̃) when X̃ does not have full row rank; None for no column constraint.
    project : callable, optional
        ``project(M, *, alpha, r, basis, tol, warm_start) -> (P, info)`` with ``info`` holding
        ``certificate``, ``converged`` and ``warm_start``; default: the Theorem-4.4 projection
        :func:`theory_check.solvers.projection.project_K`. Must be positively homogeneous
        (it is called on the scaled data when σ is outside [1e-50, 1e50]).
    M0 : array of shape (n, N), optional
        Point the first projected-gradient step starts from (need not lie in K); default Y.
    tol : float in (0, 1)
        Target of the certificate.
    max_iter : int, ``>= 1``
        Maximum number of projected-gradient steps.
    projection_tol : float in (0, 1)
        Tolerance of the projection the certificate rests on (and the floor of the others).

    Returns
    -------
    M_hat : ndarray of shape (n, N)
    info : dict
        ``solver``, ``iterations``, ``certificate``, ``converged``, ``objective``,
        ``restarts``, ``projection_certificate`` (of the last accepted step's projection),
        ``projection_iterations`` (total), ``time``. ``converged`` needs both the
        certificate and that projection within their tolerances.
    """
    Y, sigma = _check_data(Y, sigma, nonzero=True)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    data_scale = float(Y.max())
    sigma = check_sigma_relative(sigma, data_scale=data_scale, alpha=alpha)
    r = check_real("r", r, low=0.0, low_open=True)
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    projection_tol = check_real("projection_tol", projection_tol, low=0.0, high=1.0, low_open=True)
    check_projection_alpha(alpha, data_scale, sigma, projection_tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    n, N = Y.shape
    basis = check_basis(basis, n)
    if M0 is not None:
        M0 = check_matrix("M0", M0, rows=n, cols=N)
    if project is None:
        # Everything it would check is checked above, once instead of at every step.
        project = partial(_default_projection(), check_input=False)
    if not sigma_needs_rescaling(sigma):
        return _tobit_apg(Y, sigma, alpha, r, basis, project, M0, tol, max_iter,
                          projection_tol)
    # The likelihood is invariant under the joint scaling of (Y, α, σ, M), and K(α, r) scales
    # with α: solve with them divided by 2^e ≈ max(α, max Y), where σ lies in the range the
    # computation was measured for; the objective and certificate are the caller's as well.
    e = binary_exponent(max(alpha, data_scale))
    M, info = _tobit_apg(np.ldexp(Y, -e), float(np.ldexp(sigma, -e)),
                         float(np.ldexp(alpha, -e)), r, basis, project,
                         None if M0 is None else np.ldexp(M0, -e), tol, max_iter,
                         projection_tol)
    return np.ldexp(M, e), info


def check_projection_alpha(alpha, data_scale, sigma, projection_tol, *, name="alpha",
                           tol_name="projection_tol"):
    """α against the targets ``y − σ²∇f`` the Tobit solver projects (entries up to about
    max(max Y, σ)): :func:`~theory_check.solvers.projection.check_alpha_resolvable` at the
    accuracy ``projection_tol`` the certificate rests on."""
    from .projection import check_alpha_resolvable

    return check_alpha_resolvable(alpha, max(data_scale, sigma), projection_tol, name=name,
                                  data="max(max Y, sigma)", tol_name=tol_name)


def _tobit_apg(Y, sigma, alpha, r, basis, project, M0, tol, max_iter, projection_tol):
    """:func:`tobit_apg` on checked arguments, with σ in SIGMA_ABSOLUTE_RANGE."""
    start = time.perf_counter()
    positive = Y > 0
    mu_box = _box_curvature_floor(positive, alpha, sigma)
    step = sigma**2
    proj_iters = 0
    warm = None

    def bound(y, x_new, f_new):
        return (_suboptimality_bound(y, x_new, positive, alpha, sigma, mu_box)
                / max(f_new, 1.0))

    def P(A, ptol):
        nonlocal warm, proj_iters
        out, pinfo = project(A, alpha=alpha, r=r, basis=basis, tol=ptol, warm_start=warm)
        warm = pinfo.get("warm_start")
        proj_iters += int(pinfo.get("iterations", 0))
        return out, pinfo

    # The first step starts from y = M0 (default Y) itself, in K or not: the projected-gradient
    # step and its bound hold for any y, so projecting the start first (one nuclear
    # decomposition, an eighth of the solve at n = 1024) bought nothing. It is always accepted
    # (y is x), so the returned point is feasible.
    x = Y if M0 is None else M0
    fx, gx = _loss_and_grad(x, Y, positive, sigma, grad=True)
    x_prev = x
    y, gy = x, gx
    t = 1.0
    restarts = 0
    certificate = np.inf
    proj_cert = np.inf
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        # Steps that cannot end the run need a feasible point (always exact) and only enough
        # accuracy to keep making progress.
        ptol = max(projection_tol,
                   min(_LOOSE_PROJECTION_TOL, _PROJECTION_TOL_RATIO * certificate))
        target = y - step * gy
        x_new, pinfo = P(target, ptol)
        # Only f at x⁺: its gradient is needed only after a restart (from x), so it is
        # computed then.
        f_new = _loss_and_grad(x_new, Y, positive, sigma, grad=False)[0]
        cert_new = bound(y, x_new, f_new)
        if cert_new <= tol and not pinfo["certificate"] <= projection_tol:
            # The bound assumes an exact projection: finish this one to projection_tol (the
            # warm start continues it) before trusting the bound. A projection that already
            # met it (the nuclear or clip exits are exact) is not redone.
            x_new, pinfo = P(target, projection_tol)
            f_new = _loss_and_grad(x_new, Y, positive, sigma, grad=False)[0]
            cert_new = bound(y, x_new, f_new)
        if f_new > fx and y is not x:
            # Momentum overshot: drop it and redo a plain projected-gradient step from x,
            # which cannot increase f (descent lemma with step 1/L).
            restarts += 1
            t = 1.0
            x_prev = x
            if gx is None:
                gx = _gradient(x, Y, positive, sigma)
            y, gy = x, gx
            continue
        certificate = cert_new
        proj_cert = float(pinfo["certificate"])
        x_prev, x, fx, gx = x, x_new, f_new, None
        if certificate <= tol:
            converged = bool(pinfo["converged"]) and proj_cert <= projection_tol
            break
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        y = x + ((t - 1.0) / t_new) * (x - x_prev)
        t = t_new
        gy = _gradient(y, Y, positive, sigma)

    info = {
        "solver": "tobit_apg",
        "iterations": it,
        "certificate": float(certificate),
        "converged": bool(converged),
        "objective": float(fx),
        "restarts": restarts,
        "projection_certificate": proj_cert,
        "projection_iterations": proj_iters,
        "time": time.perf_counter() - start,
    }
    return x, info
