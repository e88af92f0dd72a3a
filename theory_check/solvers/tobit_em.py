"""Rank-r Tobit maximum likelihood by EM: impute the censored entries, truncate the SVD.

Model: ``Y = ReLU(M + G)``, G i.i.d. N(0, σ²), M of rank <= r in col(X̃)⊗R^N (no α: the
constraint is the rank itself, unlike Theorem 4.9's convex set K(α, r)). The negative
log-likelihood is :func:`theory_check.solvers.tobit.tobit_loss`.

EM step at the current M:

* E: the complete data are the latent pre-activations ``M + G``; on an observed entry it is
  Y, on a censored one its conditional mean ``E[M + G | M + G <= 0] = M − σλ(−M/σ)``
  (λ = φ/Φ, the inverse Mills ratio);
* M: the complete-data likelihood is Gaussian, so the new M is the rank-r least-squares fit of
  the imputed matrix Ỹ in col(X̃): ``M⁺ = U [UᵀỸ]_r`` (U an orthonormal basis of col(X̃)).

Ỹ = M − σ²∇f(M) exactly (f the negative log-likelihood, whose gradient is (M − Y)/σ² observed
and λ(−M/σ)/σ censored), so EM is projected gradient with step 1/L = σ² onto the rank-r set:
each step cannot increase f (L-smoothness, and M⁺ minimizes the quadratic upper model over
the set, which contains M), and a fixed point ``M = U[UᵀỸ(M)]_r`` is a stationary point of
the rank-constrained problem. The certificate is that fixed-point residual of the exact step,
``‖M⁺ − M‖_F / (σ√(nN))`` (= σ × the RMS gradient mapping); the set is not convex, so it certifies stationarity, not global
optimality.

A small ridge term ``ρ‖M‖_F²/(2σ²)`` (``ridge`` = ρ, default 1e-3) is added to f. Without it
the rank-r likelihood often has no maximizer: where Y has a block censored in every entry (4
rows × 16 columns on a 40×32 low-rank instance), one rank-one component of M can move towards
−∞ on that block and the likelihood keeps rising (measured: |M| reached 440–1150 on 40×32
low-rank and 32×32 Hadamard instances, none converged in 5000 steps). With the ridge the
M-step is the same truncated SVD shrunk by 1/(1 + ρ), the objective is coercive, and those
instances converged with |M| <= 12; the shrinkage biases M by ρ|M| (an MSE of ~1e-6 at
‖Z*‖_∞ = 1, far below the estimation error). ``ridge=0`` is the plain maximum likelihood.

The exact M-step is a full SVD (0.13 s at 512×512), and EM takes hundreds of steps on the hard
family. The steps are therefore taken inexactly, as generalized EM: one block power iteration
on an oversampled subspace warm-started from the previous step's, which costs a few matrix
products. Any M⁺ with ``‖Ỹ − M⁺‖_F <= ‖Ỹ − M‖_F`` keeps f non-increasing (the quadratic
surrogate majorizes f), so a step that fails that test is redone exactly; and convergence is
only declared when the residual of an exact step at the returned point is below ``tol``.

That exact step is not taken by a full SVD either (three of them took 1.8 s of relu_em's 7.2 s at
n = 1152, one BLAS thread): :func:`_certified_rank_r_fit` runs the
power iteration further and proves how far its fit is from the exact ``[UᵀỸ]_r``, by Wedin's
theorem with a Cholesky-proven bound on the spectral norm of the remainder; the certificate
adds that bound (at most 1% of ``tol`` when the iteration converges), so it stays an upper
bound on the exact step's residual. Only when no bound can be proven (s_r and s_{r+1} of UᵀỸ
nearly tied) is the full SVD taken. A certificate is attempted once the step falls below
``tol``; an attempt whose fit already lies farther than ``tol`` from M has failed without a
proof, and the next waits until the step has shrunk by the factor that attempt missed by. The start is the rank-r fit of ``M0`` by the same power
iteration from a fixed random subspace, not proven (the guarantees hold from any start).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from scipy.special import log_ndtr, ndtr

from ..linalg import binary_exponent, blas_threads_by_size
from ..validation import (check_int, check_matrix, check_rank, check_real, check_sigma_relative,
                          sigma_needs_rescaling)
from .tobit import _check_data, inverse_mills

#: Relative increase of the likelihood objective between EM steps accepted as rounding: f is a
#: sum of nN terms, each exact to a few ulp, so larger increases are a real failure of the
#: monotonicity EM guarantees (recorded in ``info["monotone"]``).
MONOTONE_RTOL = 1e-10


#: Extra columns of the subspace the inexact M-step iterates on (beyond the rank).
OVERSAMPLING = 5

#: Largest number of block power iterations of a certified rank-r fit (the start and every
#: certificate); a fit that is not certified by then is made by the full SVD.
MAX_POWER_ITERATIONS = 40

#: A certified fit iterates until its error bound is below this fraction of the tolerance
#: on the certificate, so that the bound adds at most 1% to it.
CERTIFICATE_SLACK = 1e-2

#: Below this z, Φ(z) = ndtr(z) comes near the underflow threshold (Φ(−37.5) < 1e-307): the
#: censored terms there are evaluated by the special functions of the tails (rare entries).
_TAIL_Z = -30.0
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_EPS = np.finfo(float).eps


def _gamma(k):
    """Higham's γ_k = kε/(1 − kε), the rounding bound of a k-term inner product."""
    return k * _EPS / (1.0 - k * _EPS)


def _mills_at(z):
    """λ(z) = φ(z)/Φ(z) from one ``ndtr`` (about 1.5× faster than ``inverse_mills``' erfcx);
    exact to ~1e-13 relative for z >= _TAIL_Z, ``inverse_mills`` below."""
    with np.errstate(under="ignore"):
        lam = np.square(z)
        lam *= -0.5
        np.exp(lam, out=lam)
        lam /= ndtr(z)
        lam /= _SQRT_2PI
    if z.size and z.min() < _TAIL_Z:  # a reduction first: the tail is rarely there
        tail = np.flatnonzero(z < _TAIL_Z)
        lam[tail] = inverse_mills(z[tail])
    return lam


def _log_cdf_sum(z):
    """Σ log Φ(z) from one ``ndtr`` (``log_ndtr`` took twice as long); log Φ is exact to a
    few ulp of 1 per entry, which is all the sum's own rounding keeps."""
    if not z.size or z.min() >= _TAIL_Z:
        return float(np.sum(np.log(ndtr(z))))
    tail = z < _TAIL_Z
    return float(np.sum(np.log(ndtr(z[~tail]))) + np.sum(log_ndtr(z[tail])))


def _squared_norm(A):
    flat = A.ravel()
    return float(flat @ flat)


def _rank_r_fit(B, rank):
    """Best rank-r fit of B by the full SVD; returns it and the oversampled right subspace."""
    P, c, Qt = scipy.linalg.svd(B, full_matrices=False, lapack_driver="gesdd",
                                check_finite=False)
    return (P[:, :rank] * c[:rank]) @ Qt[:rank], Qt[: rank + OVERSAMPLING].T


def _rank_r_factors_warm(B, rank, V):
    """A rank-r fit ``L @ R`` of B from one block power iteration on the columns V
    (N, rank + p): ``Q = orth(BV)``, then the best rank-r fit of B inside col(Q); returns
    L (k, rank), R (rank, N) and the new V. Factors, so that the caller scales the thin L and
    writes the product where it wants it."""
    Q = np.linalg.qr(B @ V)[0]
    P, c, Qt = scipy.linalg.svd(Q.T @ B, full_matrices=False, lapack_driver="gesdd",
                                check_finite=False)
    return Q @ (P[:, :rank] * c[:rank]), Qt[:rank], Qt.T


def _spectral_bound(E):
    """A proven upper bound on ‖E‖₂, or None.

    ‖E‖₂² <= a is proven by a Cholesky factorization of ``aI − EEᵀ`` (of the smaller Gram
    matrix; about 0.1 of a full SVD): a guess ``a`` slightly above Lanczos' estimate of the
    largest eigenvalue, raised by the rounding bounds of the Gram product (γ_m‖E‖_F²) and of
    the factorization (Demmel: γ_{k+1}·trace(aI − EEᵀ)).
    """
    G = E @ E.T if E.shape[0] <= E.shape[1] else E.T @ E
    k, m = G.shape[0], max(E.shape)
    trace = float(np.trace(G))
    if trace == 0.0:
        return 0.0
    try:
        guess = float(scipy.sparse.linalg.eigsh(G, k=1, which="LA", tol=1e-6,
                                                return_eigenvectors=False)[0])
    except scipy.sparse.linalg.ArpackError:
        guess = float(np.max(np.sum(np.abs(G), axis=1)))  # Gershgorin: never too small
    for factor in (1.0 + 1e-6, 1.0 + 1e-3, 1.05, 1.5):
        a = max(guess, 0.0) * factor + 4.0 * _EPS * trace
        try:
            scipy.linalg.cholesky(a * np.eye(k) - G, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            continue
        rounding = 2.0 * (_gamma(m + 2) * trace + _gamma(k + 1) * (k * a + trace))
        return float(np.sqrt(a + rounding))
    return None


def _certified_rank_r_fit(B, rank, V, accuracy, certify=True):
    """Rank-r fit F of B with a proven bound on ‖F − [B]_r‖_F, by block power iteration.

    Iterates ``Q = orth(BV)``, F = Q[QᵀB]_r from the columns V (N, rank + p) until the bound
    below is estimated under ``accuracy``. With P̂, Σ̂, V̂ the rank-r SVD of F, the residuals
    ``R = BV̂ − P̂Σ̂`` and ``S = BᵀP̂ − V̂Σ̂``, and α >= ‖B − F‖₂ >= s_{r+1}(B)
    (:func:`_spectral_bound`), Wedin's theorem bounds the sines of the angles between col(P̂)
    and the top-r left singular subspace of B by ``‖(R, S)‖_F / δ``, δ = σ̂_r − α > 0; then
    ``‖[B]_r − F‖_F <= sinΘ·(s_1 + s_{r+1}) <= ‖(R, S)‖_F (σ̂_1 + 2α) / δ``.

    Returns
    -------
    F : ndarray like B, V : ndarray (N, rank + p) for warm starts, bound : float
        ``bound`` is inf when no δ > 0 was found (a near-tie of s_r and s_{r+1}), nan
        without ``certify`` (the same iterations, no proof).
    """
    F, V, proof = _power_rank_r_fit(B, rank, V, accuracy)
    return F, V, (proof() if certify else np.nan)


def _power_rank_r_fit(B, rank, V, accuracy):
    """The iterations of :func:`_certified_rank_r_fit`; returns F, V and a function that
    proves its bound (deferred: a caller that learns enough from F alone skips the proof)."""
    scale = np.linalg.norm(B)
    for _ in range(MAX_POWER_ITERATIONS):
        Q = np.linalg.qr(B @ V)[0]
        P, c, Zt = scipy.linalg.svd(Q.T @ B, full_matrices=False, lapack_driver="gesdd",
                                    check_finite=False)
        V = Zt.T
        P_hat, V_hat = Q @ P[:, :rank], Zt[:rank].T
        residual = np.hypot(np.linalg.norm(B @ V_hat - P_hat * c[:rank]),
                            np.linalg.norm(B.T @ P_hat - V_hat * c[:rank]))
        residual += _gamma(max(B.shape) + 3 * V.shape[1]) * 4.0 * scale  # rounding of R, S
        gap = c[rank - 1] - c[rank]
        if gap > 0 and residual * (c[0] + 2.0 * c[rank]) / gap <= accuracy:
            break
    F = P_hat @ (P_hat.T @ B)

    def proof():
        alpha = _spectral_bound(B - F)
        if alpha is None or c[rank - 1] <= alpha:
            return np.inf
        return residual * (c[0] + 2.0 * alpha) / (c[rank - 1] - alpha)

    return F, V, proof


@blas_threads_by_size("iterative")
def tobit_em(Y, *, sigma: float, rank: int, basis=None, M0=None, tol: float = 1e-6,
             max_iter: int = 5000, ridge: float = 1e-3):
    """Rank-r Tobit MLE by EM (module docstring), from ``M0``.

    Parameters
    ----------
    Y : array of shape (n, N)
        Observed activations, ``>= 0``, not all zero.
    sigma : float in [1e-50, 1e8] × max Y
        Noise standard deviation (outside [1e-50, 1e50] the data are rescaled, see
        ``_tobit_em``).
    rank : int, ``1 <= rank <= min(k, N)``
        Rank bound (k = n, or the number of columns of ``basis``).
    basis : array of shape (n, k) with orthonormal columns, optional
        Basis of col(X̃); None when X̃ has full row rank (no column constraint).
    M0 : array of shape (n, N), optional
        Start; default the rank-r fit of Y itself. It is mapped to the rank-r set first.
    tol : float in (0, 1)
        EM stops when the fixed-point residual ``‖M⁺ − M‖_F / (σ√(nN))`` is below it.
    max_iter : int, ``>= 1``
        Maximum number of EM steps; reaching it without the residual below ``tol`` is recorded
        as ``converged = False``.
    ridge : float, ``>= 0``
        ρ of the ridge term ``ρ‖M‖_F²/(2σ²)`` (module docstring); 0 for the plain likelihood.

    Returns
    -------
    M : ndarray of shape (n, N)
    info : dict
        ``solver`` ("tobit_em"), ``iterations``, ``certificate`` (an upper bound on the
        fixed-point residual of the exact EM step at M), ``converged``, ``objective`` and ``objective_start`` (f plus the ridge
        term), ``nll`` (f alone), ``monotone`` (the objective never increased by more than
        rounding), ``objective_history`` (after each step), ``exact_steps``, ``restarts``,
        ``certificates`` (attempted, the returned point's included), ``time``;
        ``exact_steps`` counts the full SVDs.
    """
    Y, sigma = _check_data(Y, sigma, nonzero=True)
    n, N = Y.shape
    if basis is not None:
        basis = check_matrix("basis", basis, rows=n)
    k = n if basis is None else basis.shape[1]
    rank = check_rank(rank, max_rank=min(k, N))
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    ridge = check_real("ridge", ridge, low=0.0)
    M0 = Y if M0 is None else check_matrix("M0", M0, rows=n, cols=N)
    sigma = check_sigma_relative(sigma, data_scale=float(Y.max()))
    return _tobit_em(Y, sigma, rank, basis, M0, tol, max_iter, ridge)


def _tobit_em(Y, sigma, rank, basis, M0, tol, max_iter, ridge):
    """:func:`tobit_em` on checked arguments (callers that checked them, e.g. relu_em).

    With σ outside [1e-50, 1e50] (:func:`~theory_check.validation.sigma_needs_rescaling`),
    Y, σ and M0 are divided by a power of two near max Y first: the likelihood, the ridge
    term and the certificate are invariant under that joint scaling, M is multiplied back.
    """
    if not sigma_needs_rescaling(sigma):
        return _tobit_em_core(Y, sigma, rank, basis, M0, tol, max_iter, ridge)
    e = binary_exponent(float(Y.max()))
    M, info = _tobit_em_core(np.ldexp(Y, -e), float(np.ldexp(sigma, -e)), rank, basis,
                             np.ldexp(M0, -e), tol, max_iter, ridge)
    return np.ldexp(M, e), info


def _tobit_em_core(Y, sigma, rank, basis, M0, tol, max_iter, ridge):
    n, N = Y.shape
    start = time.perf_counter()
    positive = Y > 0
    # Flat indices instead of boolean masks: every step gathers the censored entries twice
    # (imputation and likelihood), and at 512×512 the masked gathers took as long as the
    # special functions.
    censored = np.flatnonzero(~positive)
    observed = np.flatnonzero(positive)
    Y_observed = Y.ravel()[observed]
    scale = sigma * np.sqrt(n * N)
    k = n if basis is None else basis.shape[1]
    # The oversampled subspace would be the whole space: the full SVD is as cheap.
    exact_only = rank + OVERSAMPLING >= min(k, N)
    accuracy = CERTIFICATE_SLACK * tol * scale * (1.0 + ridge)
    # Every step writes its n×N intermediates into these instead of fresh arrays: at n = 2048
    # a fresh 32 MB array is mapped anew by the allocator, and its page faults made a
    # subtraction take 7× as long as into a reused buffer.
    work = np.empty((n, N))
    candidate = np.empty((n, N))

    def impute(M, out):
        """Ỹ(M) written into ``out`` (C-ordered; may be M itself, read before written)."""
        m = M.ravel()[censored]
        filled = _mills_at(m / -sigma)
        filled *= sigma
        np.subtract(m, filled, out=filled)
        np.copyto(out, Y)
        out.ravel()[censored] = filled
        return out

    def coordinates(target):
        return target if basis is None else basis.T @ target

    def to_M(F):
        F = F / (1.0 + ridge)
        return F if basis is None else basis @ F

    def fit(target, out, V=None):
        """The M-step's rank-r fit in col(basis), written into ``out``: exact (V None) or warm
        from V; returns the new V."""
        B = coordinates(target)
        if V is None:
            F, V = _rank_r_fit(B, rank)
            np.copyto(out, to_M(F))
            return V
        L, R, V = _rank_r_factors_warm(B, rank, V)
        L /= 1.0 + ridge
        np.matmul(L if basis is None else basis @ L, R, out=out)
        return V

    def relative(A, B):
        # RMS change per entry in units of σ, not relative to ‖M‖: on instances where the
        # censored entries drift to −∞, ‖M‖ grows and a relative change would look converged.
        return float(np.linalg.norm(A - B) / scale)

    def certificate_at(M, V, proven=True):
        """An upper bound on the exact step's residual ‖M⁺ − M‖_F/(σ√(nN)) at M, and the
        power iteration's V. Unless ``proven``, a residual of the (nearly exact) fit above
        tol is returned as it is, a lower bound: the bound could only add to it."""
        B = coordinates(impute(M, work))
        counts["certificates"] += 1
        if not exact_only:
            F, V, proof = _power_rank_r_fit(B, rank, V, accuracy)
            distance = relative(to_M(F), M)
            if not proven and distance > tol:
                return distance, V
            bound = proof()
            if np.isfinite(bound):
                return distance + bound / ((1.0 + ridge) * scale), V
        counts["exact"] += 1  # no proof possible: the exact step by the full SVD
        F, V = _rank_r_fit(B, rank)
        return relative(to_M(F), M), V

    def surrogate(target, M):  # σ² × the M-step's objective, up to a constant
        return _squared_norm(target - M) + ridge * _squared_norm(M)

    def nll(M):  # tobit_loss without its checks, on the precomputed indices
        flat = M.ravel()
        r = flat[observed]
        r -= Y_observed
        r /= sigma
        z = flat[censored]
        z /= -sigma
        return 0.5 * float(r @ r) - _log_cdf_sum(z)

    def loss(M):
        return nll(M) + 0.5 * ridge * _squared_norm(M) / sigma**2

    counts = {"exact": 0, "restarts": 0, "certificates": 0}
    # The start's rank-r fit by power iteration from a fixed random subspace, to the accuracy
    # of the certificates (no proof needed: any start keeps the guarantees).
    V = np.random.default_rng(0).standard_normal((N, min(rank + OVERSAMPLING, N)))
    B = coordinates(M0)
    if exact_only:
        counts["exact"] += 1
        F, V = _rank_r_fit(B, rank)
    else:
        F, V, _ = _power_rank_r_fit(B, rank, V, accuracy)
    M = np.ascontiguousarray(to_M(F))
    f = loss(M)
    f_start, t = f, 1.0
    step = np.zeros((n, N))  # the last accepted step, M − M_prev
    history, monotone, converged, certificate = [], True, False, np.inf
    # A certificate is attempted once the step falls below this; after a failed attempt it is
    # lowered by the factor the certificate exceeded tol. Near the fixed point the exact
    # step's residual shrinks in proportion to the step, so the next attempt comes about when
    # it can succeed; retrying at every step below tol cost up to ten attempts, each about a
    # fifth of a full SVD, on the hard family at n = 2048.
    attempt_below = tol
    iterations = 0
    for iterations in range(1, max_iter + 1):
        # Nesterov extrapolation, with a restart (a plain EM step from M) whenever the
        # extrapolated step does not decrease f: the accepted iterates stay monotone, and on
        # the hard family this cut the steps several-fold (EM alone converges linearly at the
        # rate of the missing information, slowly where half the entries are censored).
        # The extrapolated step needs no surrogate test (two passes over the matrix fewer): the
        # test of f below rejects it whenever it loses ground, and the restart is guarded.
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        np.multiply(step, (t - 1.0) / t_next, out=work)
        work += M
        V_new = fit(impute(work, work), candidate, V)
        f_new = loss(candidate)
        if f_new > f:
            # A plain EM step from M that never increases the surrogate, hence nor f: an
            # inexact fit that loses ground on the surrogate is redone exactly.
            target = impute(M, work)
            V_new = fit(target, candidate, V)
            if surrogate(target, candidate) > surrogate(target, M):
                V_new = fit(target, candidate)
                counts["exact"] += 1
            f_new, t_next = loss(candidate), 1.0
            counts["restarts"] += 1
        monotone &= bool(f_new <= f + MONOTONE_RTOL * max(abs(f), 1.0))
        np.subtract(candidate, M, out=step)
        M, candidate = candidate, M
        V, f, t = V_new, f_new, t_next
        history.append(f)
        change = float(np.linalg.norm(step) / scale)
        if change <= attempt_below:
            # Converged only if the exact EM map barely moves the point: the certificate.
            certificate, V = certificate_at(M, V, proven=False)
            converged = bool(certificate <= tol)
            if converged:
                break
            attempt_below = change * tol / certificate
    if not converged:  # the (proven) certificate of the last point
        certificate, _ = certificate_at(M, V)
        converged = bool(certificate <= tol)
    info = {"solver": "tobit_em", "iterations": iterations, "certificate": certificate,
            "converged": converged, "objective": f, "objective_start": f_start, "nll": nll(M),
            "monotone": monotone, "exact_steps": counts["exact"], "restarts": counts["restarts"],
            "certificates": counts["certificates"], "objective_history": history,
            "time": time.perf_counter() - start}
    return M, info
