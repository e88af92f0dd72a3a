"""Euclidean projection onto K(α, r) ∩ col(B)⊗R^N, the constraint set of Theorems 4.4 and 4.9.

K(α, r) = {M (n, N) : ‖M‖_* ≤ α√(r n N), ‖M‖_∞ ≤ α}. With A = {‖M‖_* ≤ R} ∩ col(B)⊗R^N
(R = α√(rnN)) and the box C = {‖M‖_∞ ≤ α}, the projection of M is

    P* = argmin_{P ∈ A ∩ C} ½‖P − M‖_F².

Both single projections are cheap: onto C by clipping; onto A by projecting on col(B) and then
soft-thresholding the singular values (the ℓ1-ball projection of the spectrum), which stays in
col(B). The intersection is handled through the dual of the box constraint,

    max_Q  D(Q) = ½ dist²(M − Q, A) + ⟨Q, M⟩ − ½‖Q‖_F² − α‖Q‖_1,

whose smooth part has the 1-Lipschitz gradient P_A(M − Q). A proximal-gradient step of length 1
on D is exactly Dykstra's alternating projection (Q is Dykstra's box increment). We take the
over-relaxed step s = 1.9 (any s < 2 converges) and accelerate that fixed-point map with
safeguarded Anderson acceleration. On the benchmark instances (n = 60–480, relative error 1e-5)
this took 4–22 iterations where Dykstra with Nesterov momentum and adaptive restart took 9–46:
AA alone (s = 1) gave 4–27, and FISTA needed 3× fewer iterations than plain Dykstra. ADMM on
the same splitting, at its best penalty (ρ = 3 of 0.03…100), needed 60–90 iterations. But AA
has no rate guarantee, and with a column-space basis and a small α it can stall or drift for
thousands of iterations; the solver therefore continues with FISTA and adaptive restart
(O(1/k²) in the dual objective from wherever it starts) after ``ANDERSON_ITERATIONS``, or with
a basis after ``ANDERSON_REJECTIONS_WITH_BASIS`` rejected extrapolations.

Certificate. Every iterate gives a dual value D(Q̂) and a feasible point P built from
Y = P_A(M − Q̂) ∈ A: min(1, α/‖Y‖_∞)·Y (A is star-shaped around 0 and so is C), or, without a
basis, clip(Y) shrunk back into the nuclear ball, whichever is closer to M (``_certificate``);
hence a duality gap ``gap = ½‖P − M‖² − D(Q̂) ≥ ½‖P − P*‖²``. The returned ``certificate`` is

    ‖Y − clip(Y)‖_F / ‖P‖_F  +  gap / (‖P‖_F ‖M − P‖_F),

the feasibility residual of the A-iterate plus the gap at the scale where a relative error ε of
P along M − P changes the objective by ≈ ε‖P‖‖M − P‖. It usually tracks the relative error of
P, but errors orthogonal to M − P change the gap only to second order: certificates of 1e-8
came with relative errors up to ~5e-6 on some instances. The rigorous bound
‖P − P*‖_F ≤ √(2 gap) is reported as ``error_bound`` (relative to ‖P‖_F).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dasum as _dasum

from ..linalg import blas_threads_by_size, scale_exponent
from ..validation import check_basis, check_int, check_matrix, check_real, check_vector

#: Step of the proximal-gradient map on the dual, in (0, 2): 1.9 took 10–30 % fewer
#: accelerated iterations than 1 or 1.5, and as many as 1.95.
DUAL_STEP = 1.9
#: Anderson memory: 5 and 10 were equally fast; 20 or a larger regularization were slower.
ANDERSON_MEMORY = 5
ANDERSON_REGULARIZATION = 1e-10
#: Anderson iterations before the solver switches to FISTA with restart. Anderson needed
#: 4–22 iterations on the benchmark instances and at most a few hundred on the sweeps, but
#: with a column-space basis and a small α (|M| ≫ α) it stalled: 11 of 200 such random
#: instances (n, N = 5…30) had not converged after 5000 iterations. A switch at 200 took the
#: sweeps' instances (no basis) 27 % fewer iterations in total than no switch.
ANDERSON_ITERATIONS = 200
#: With a column-space basis, rejected extrapolations before the switch to FISTA: a monotone
#: dual with the switch at ANDERSON_ITERATIONS alone stalled (10 of 400 random instances with
#: n = 2…4 and one or two basis columns not converged after 20000 iterations); with the switch
#: after 20 rejections none of ~5800 random instances failed, and 10 or 5 took 9 % or 30 %
#: more iterations on well-posed ones.
ANDERSON_REJECTIONS_WITH_BASIS = 20
#: With a basis, the fall of the dual objective an extrapolation may cause, relative to the
#: dual: rounding only (without it, last-bit differences, e.g. partial against full
#: eigendecompositions, decided rejections and so the switch to FISTA).
ROUNDING_SLACK = 1e-12
#: Largest M (entries) whose Anderson buffers are kept for the next call on the same thread.
#: Fresh buffers (2 × memory × entries doubles, 1.2 MB at 120×120) come from new pages, a page
#: fault per 4 KiB on first touch: ~650 faults and 1.3 ms of a 13.5 ms solve at n = 120.
#: Above this size (5 MB of buffers) the faults cost little against the eigendecompositions.
ANDERSON_REUSE_MAX_ENTRIES = 2**16
#: Smallest kept singular value, relative to the largest, for which the nuclear-ball projection
#: goes through the Gram matrix (rounding error ≈ ε/ratio² ≈ 1e-12 relative) instead of an SVD.
GRAM_MIN_RATIO = 1e-2
#: Smallest Gram matrix (k or N) whose nuclear step computes only the eigenpairs above
#: PARTIAL_THRESHOLD_FRACTION times the last soft threshold (LAPACK's MRRR subset, ``evr``),
#: certified as below. A marginal gain (results/bench/large.md, one BLAS thread, loaded
#: machine, ±10 % noise): whole solves 1.21× faster for convex_linear at n = 2048, 0.93–1.03×
#: for relu_mle at 1448–2048 and convex_linear at 1448, where 25–35 % of a spectrum dense near
#: the threshold is above τ and the subset solver is barely cheaper than ``evd``.
PARTIAL_EIGH_MIN_SIZE = 1400
PARTIAL_THRESHOLD_FRACTION = 0.9
#: Side of the diagonal blocks of the pinching bound on the nuclear norm (_pinching_bound).
PINCHING_BLOCK = 32
#: α below this factor × ε·max|M|/tol is refused (:func:`check_alpha_resolvable`).
ALPHA_ROUNDING_FACTOR = 10.0


def check_alpha_resolvable(alpha: float, size: float, tol: float, *, name: str = "alpha",
                           data: str = "max|M|", tol_name: str = "tol") -> float:
    """Refuse an entry bound α too small, against the data's largest entry ``size``, for a
    certificate to mean anything at accuracy ``tol``.

    The iterates reach P (entries up to α) through differences of matrices of size max|M|,
    so P carries rounding errors of ε·max|M| per entry, and the duality gap (differences of
    terms of size ‖M‖²) errors of ε‖M‖² against a scale of α‖M‖: a certificate below
    ε·max|M|/α says nothing. With α = 1e-300·max|M| the computed nuclear step was exactly 0 and
    the certificate 0 ("converged") for a wrong projection. At the floor,
    :data:`ALPHA_ROUNDING_FACTOR`·ε·max|M|/tol, those errors are a tenth of ``tol`` (a
    factor 1e3 would have refused the tol = 1e-13 references of the tests at α = max|M|/2,
    which converge). Above it, small α is only slow: at α = 1e-4·max|M| the solver did not
    converge in 5000 iterations, and says so.
    """
    floor = ALPHA_ROUNDING_FACTOR * np.finfo(float).eps * size / tol
    if alpha < floor:
        raise ValueError(
            f"{name} must be >= 10 × eps × {data} / {tol_name} = {floor:.3g} ({data} = "
            f"{size:.3g}, {tol_name} = {tol:.3g}), got {alpha:.3g}: below it the rounding "
            f"errors, eps × {data} per entry, exceed {tol_name} relative to {name}, so no "
            "certificate can be trusted")
    return alpha


def project_l1_ball(v, radius: float):
    """Euclidean projection of a vector onto the ℓ1 ball ``{x : ‖x‖_1 <= radius}``.

    Sort-based algorithm (Held et al. 1974; Duchi et al. 2008): with ``u`` the magnitudes in
    decreasing order, the threshold is ``θ = (Σ_{i<=ρ} u_i − radius)/ρ`` for the largest ``ρ``
    with ``u_ρ > θ``, and the projection is ``sign(v)·max(|v| − θ, 0)``. O(k log k).

    Parameters
    ----------
    v : array of shape (k,)
    radius : float, ``>= 0``

    Returns
    -------
    x : ndarray of shape (k,)
        The projection.
    theta : float
        The soft threshold (0 when ``v`` is already in the ball).
    """
    v = check_vector("v", v)
    radius = check_real("radius", radius, low=0.0)
    a = np.abs(v)
    if a.sum() <= radius:
        return v.copy(), 0.0
    if radius == 0.0:
        return np.zeros_like(v), float(a.max())
    _, theta = _l1_threshold(np.sort(a)[::-1], radius)
    return np.sign(v) * np.maximum(a - theta, 0.0), theta


def _l1_threshold(u, radius):
    """``(j, θ)`` of the ℓ1-ball projection of ``u`` (non-negative, decreasing, sum > radius > 0):
    the soft threshold θ and the number j of entries above it."""
    thresholds = (np.cumsum(u) - radius) / np.arange(1, u.size + 1)
    # u_1 > θ_1 holds in exact arithmetic (radius > 0); the guard keeps it under rounding.
    j = max(int(np.count_nonzero(u > thresholds)), 1)
    return j, float(thresholds[j - 1])


def _check_common(M, alpha, r, basis, tol, max_iter):
    M = check_matrix("M", M)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    r = check_real("r", r, low=0.0, low_open=True)
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    B = check_basis(basis, M.shape[0])
    check_alpha_resolvable(alpha, float(np.abs(M).max()), tol)
    return M, alpha, r, B, tol, max_iter


def _check_warm_start(warm_start, shape):
    if warm_start is None:
        return None
    if not isinstance(warm_start, dict) or "Q" not in warm_start:
        raise ValueError("warm_start must be the dict info['warm_start'] of a previous "
                         f"project_K call, got {type(warm_start).__name__}")
    Q = np.asarray(warm_start["Q"], dtype=float)
    if Q.shape != shape:
        # A warm start from a problem of another size carries no information: start cold.
        return None
    if not np.all(np.isfinite(Q)):
        raise ValueError("warm_start['Q'] contains NaN or inf entries")
    return Q


def _in_subspace(Z, B):
    return Z if B is None else B @ (B.T @ Z)


class _NuclearProjector:
    """P_A(Z) = B · P_{‖·‖_* <= R}(BᵀZ): the spectrum runs on the k×N coordinates (k = rank B).

    A spectral decomposition of the smaller Gram matrix CCᵀ or CᵀC of C = BᵀZ:
    P(C) = U_j diag(1 − θ/σ_i) U_jᵀ C with the eigenvectors U_j of the kept singular values.
    The symmetric eigensolver took 15–35 % less time than the thin SVD (gesdd) at n = 60–240
    with the same iterates to a certificate of 1e-12. Forming the Gram matrix squares the
    conditioning: the result is a smooth function of CCᵀ with derivative <= 1/(2θ²), so its
    rounding error is ≈ ε(σ_1/θ)², and the SVD is used instead when a kept singular value is
    below ``GRAM_MIN_RATIO``·σ_1.

    Only the singular values above θ enter P(C), and θ is determined by them: θ is the ℓ1-ball
    threshold of the top m values whenever it is at least the (m+1)-th. So from Gram size
    ``PARTIAL_EIGH_MIN_SIZE`` on, once a threshold θ₀ is known (previous iteration, or the
    warm start), only the eigenpairs above τ = ``PARTIAL_THRESHOLD_FRACTION``·θ₀ are computed
    (exactly, by LAPACK's subset eigensolver), and they are used only if their threshold θ is
    >= τ: every eigenvalue left out is then <= τ² <= θ², and the result is the full-spectrum
    one. Otherwise the full decomposition is computed. A warm-started partial SVD by subspace
    iteration (3× faster at n >= 256) is not used: it left errors of up to 1e-5 at a
    certificate of 1e-8 (errors in the triplets near the threshold barely change the
    objective).
    """

    def __init__(self, B, radius, theta=None):
        self.B = B
        self.radius = radius
        #: last soft threshold (None: unknown; 0: the last point was inside the ball)
        self.theta = theta
        self.partial_calls = 0
        #: Gram matrix and its eigenvalues of the last full decomposition (reused by
        #: project_K's decision on the clip exit)
        self.gram = self.gram_eigenvalues = None

    def __call__(self, Z):
        C = Z if self.B is None else self.B.T @ Z
        wide = C.shape[0] <= C.shape[1]
        G = C @ C.T if wide else C.T @ C
        found = self._partial(G)
        if found is None:
            # numpy calls the same LAPACK routine (syevd) as scipy's driver="evd", 5–10 % faster
            # at k = 120 (less wrapper work per call, which counts at these sizes).
            lam, W = np.linalg.eigh(G)
            self.gram, self.gram_eigenvalues = G, lam
            s = np.sqrt(np.maximum(lam[::-1], 0.0))
            s_proj = _project_spectrum(s, self.radius)
            if s_proj is s:
                self.theta = 0.0
                return Z if self.B is None else self.B @ C, int(np.count_nonzero(s))
        else:
            s, W, s_proj = found
        j = s_proj.size
        self.theta = float(s[j - 1] - s_proj[j - 1])
        if s[j - 1] < GRAM_MIN_RATIO * s[0]:
            Y, j = self._by_svd(C)
        elif 3 * j > 2 * G.shape[0]:
            # Most of the spectrum kept: form H = W diag(f) Wᵀ (numpy calls syrk for A @ Aᵀ,
            # half a product's flops) and apply it once, fewer flops than W(WᵀC) for j > 2k/3
            # (0.14 against 0.15 ms at k = 120, j = 111).
            W = W[:, -j:] * np.sqrt(s_proj[::-1] / s[j - 1::-1])
            H = W @ W.T
            Y = H @ C if wide else C @ H
        else:
            W = W[:, :-j - 1:-1] * np.sqrt(s_proj / s[:j])
            Y = W @ (W.T @ C) if wide else (C @ W) @ W.T
        return (Y if self.B is None else self.B @ Y), j

    def _partial(self, G):
        """``(s, W, s_proj)`` from the eigenpairs of G above (τ = fraction·θ₀)², or None when
        they do not certify the threshold (see the class docstring)."""
        if G.shape[0] < PARTIAL_EIGH_MIN_SIZE or not self.theta:
            return None
        tau = PARTIAL_THRESHOLD_FRACTION * self.theta
        lam, W = scipy.linalg.eigh(G, driver="evr", subset_by_value=(tau * tau, np.inf),
                                   check_finite=False)
        if lam.size == 0:
            return None
        s = np.sqrt(lam[::-1])
        s_proj = _project_spectrum(s, self.radius)
        if s_proj is s or s[s_proj.size - 1] - s_proj[-1] < tau:
            return None
        self.partial_calls += 1
        return s, W, s_proj

    def _by_svd(self, C):
        U, s, Vt = scipy.linalg.svd(C, full_matrices=False, lapack_driver="gesdd",
                                    check_finite=False)
        s_proj = _project_spectrum(s, self.radius)
        j = s_proj.size
        return (U[:, :j] * s_proj) @ Vt[:j], j


def _project_spectrum(s, radius):
    """:func:`project_l1_ball` of singular values (non-negative, decreasing: no sort).

    Returns ``s`` itself when it lies in the ball, else its positive shrunk head.
    """
    if s.sum() <= radius:
        return s
    j, theta = _l1_threshold(s, radius)
    return np.maximum(s[:j] - theta, 0.0)


def _nuclear_norm(Z):
    return float(scipy.linalg.svd(Z, compute_uv=False, lapack_driver="gesdd",
                                  check_finite=False).sum())


def _pinching_bound(Z):
    """Lower bound on ‖Z‖_*, nearly free: the diagonal blocks of Z (any row and column
    partitions) have a total nuclear norm <= ‖Z‖_*, the block-diagonal part being an average
    of the unitary conjugates D₁ZD₂ (D diagonal ±1). Blocks of ``PINCHING_BLOCK``²; it loses a
    factor ≈ √(number of blocks) on noise, but not on the large signal parts."""
    m = PINCHING_BLOCK
    b = min(Z.shape) // m
    if b == 0:
        return 0.0
    blocks = np.stack([Z[i * m:(i + 1) * m, i * m:(i + 1) * m] for i in range(b)])
    # (1 − 1e-10) covers the rounding of the block SVDs and of the sums.
    return (1.0 - 1e-10) * float(np.linalg.svd(blocks, compute_uv=False).sum())


def _gram(Z):
    return Z @ Z.T if Z.shape[0] <= Z.shape[1] else Z.T @ Z


def _holder_bound(Z, G=None):
    """Lower bound on ‖Z‖_* for one Gram product ``G`` (of the smaller side, computed if not
    given): Σσ² <= (Σσ)^{2/3}(Σσ⁴)^{1/3} (Hölder), so ‖Z‖_* >= ‖Z‖_F³/‖ZZᵀ‖_F; within a factor
    1.2 of ‖Z‖_* on square Gaussian noise."""
    G = _gram(Z) if G is None else G
    fro2, quartic = float(np.trace(G)), float(np.linalg.norm(G))
    # (1 − 1e-10): the relative rounding error of both sums is <= n·ε.
    return (1.0 - 1e-10) * fro2 ** 1.5 / quartic if quartic > 0 else 0.0


def _nuclear_norm_interval(Z, G, lam=None):
    """An interval certain to contain ‖Z‖_*, from the eigenvalues ``lam`` (computed if not
    given) of the Gram matrix ``G`` of
    Z (Z m×p, G k×k): forming G errs by at most mε‖Z‖_F² in Frobenius norm, and a backward-stable
    symmetric eigensolver by kε‖G‖_F (both with a factor 4 to spare), so every computed λ̂_i
    is within δ of λ_i = σ_i² (Weyl) and σ_i lies in [√(λ̂_i − δ), √(λ̂_i + δ)]. The interval
    is about k√(δ) wide, 1e-5 to 1e-4 of ‖Z‖_F at k <= 2000: the eigenvalues cost a quarter of
    the singular values at k = 120 and still decide every case not within that of the radius."""
    fro2, quartic = float(np.trace(G)), float(np.linalg.norm(G))
    if not np.isfinite(quartic):  # entries near the overflow threshold: no information
        return 0.0, np.inf
    lam = np.linalg.eigvalsh(G) if lam is None else lam
    delta = 4.0 * np.finfo(float).eps * (max(Z.shape) * fro2 + G.shape[0] * quartic)
    # (1 ∓ 1e-10) covers the rounding of the square roots and of the sums.
    low = (1.0 - 1e-10) * float(np.sqrt(np.maximum(lam - delta, 0.0)).sum())
    high = (1.0 + 1e-10) * float(np.sqrt(np.maximum(lam + delta, 0.0)).sum())
    return low, high


def _excess_nuclear_bound(S):
    """Upper bound on ‖S‖_*: min(Σ|S_ij|, √k‖S‖_F) with k the number of nonzero rows or
    columns of S (S is the sum of its entries times unit rank-one matrices, and has rank
    <= k)."""
    k = min(np.count_nonzero(S.any(axis=1)), np.count_nonzero(S.any(axis=0)))
    # (1 + 1e-10) covers the rounding of the sums and of the norm.
    return (1.0 + 1e-10) * min(_l1_norm(S), np.sqrt(k) * np.linalg.norm(S))


def _clipped_lower_bound(M, clipped, G, lam):
    """Lower bound on ``‖clipped‖_*`` from the Gram eigenvalues of M (no decomposition of the
    clipped matrix): ‖clip M‖_* >= ‖M‖_* − ‖S‖_* for the excess S = M − clip M."""
    low, _ = _nuclear_norm_interval(M, G, lam)
    return low - _excess_nuclear_bound(M - clipped)


def _in_nuclear_ball(Z, radius):
    """``‖Z‖_* <= radius``. Cheap lower bounds first (pinching, Hölder: in Tobit steps and on
    binding instances one of them decides, 0.6–1 of an SVD's time saved at n >= 1000), then
    the interval from the Gram eigenvalues, and the singular values only when the radius
    falls inside that interval."""
    if _pinching_bound(Z) > radius:
        return False
    # Near the overflow threshold the Gram quantities are inf or NaN and decide nothing.
    with np.errstate(over="ignore", invalid="ignore"):
        G = _gram(Z)
        if _holder_bound(Z, G) > radius:
            return False
        low, high = _nuclear_norm_interval(Z, G)
    if high <= radius:
        return True
    if low > radius:
        return False
    return _nuclear_norm(Z) <= radius


def _dual_value(M, Q, Z, Y, alpha):
    """The dual objective of the projection of ``M`` onto A ∩ box at the box multiplier Q, with
    ``Z = M − Q`` and ``Y = P_A(Z)``: a lower bound on ½‖P* − M‖² for any Q."""
    R = Z - Y
    return 0.5 * np.vdot(R, R) + np.vdot(Q, M) - 0.5 * np.vdot(Q, Q) - alpha * _l1_norm(Q)


def _l1_norm(A):
    # BLAS's asum: one pass and no temporary (np.abs(A).sum() makes both), which counts in
    # the certificate's dozen passes per iteration at n = 120.
    return float(_dasum(A.ravel()))


def _certificate(M, Q, Z, Y, alpha, radius, clip_feasible):
    """Feasible point, certificate, feasibility residual, duality gap and dual value at Q.

    ``Y = P_A(Z)`` with ``Z = M − Q``. Two points of A ∩ box are built from Y, and the one
    closer to M is returned: ``Y`` rescaled into the box, and (only with ``clip_feasible``,
    i.e. without a basis, since clipping leaves col(B)) ``clip(Y)`` rescaled into the
    nuclear ball by R/(R + δ), where δ >= ‖Y − clip(Y)‖_*.
    Near the solution only a few entries of Y exceed α, by about the largest excess ε: the
    first point moves all of Y by ε‖Y‖ and so raises the primal value, and the gap, by
    ≈ ε‖P‖‖M − P‖, while the second moves it by the excess only. On the binding benchmark
    instances that took one iteration of 9–10 off, with smaller errors. The distances to M
    are compared through inner products (‖cA − M‖² = c²‖A‖² − 2c⟨A, M⟩ + ‖M‖²), so that
    only the chosen point is formed.
    """
    dual = _dual_value(M, Q, Z, Y, alpha)
    clipped = np.clip(Y, -alpha, alpha)
    excess = Y - clipped
    # ‖Y − clip(Y)‖_* <= Σ|excess| (a sum of unit rank-one matrices): near the solution the
    # excess is sparse, and the tighter _excess_nuclear_bound costs more than it saves.
    excess_l1 = _l1_norm(excess)
    if excess_l1 == 0:
        P = Y
    else:
        scale = alpha / (alpha + max(excess.max(), -excess.min()))  # α/‖Y‖_∞
        clip_scale = radius / (radius + (1.0 + 1e-10) * excess_l1)
        if clip_feasible and (
                clip_scale * (clip_scale * np.vdot(clipped, clipped) - 2.0 * np.vdot(clipped, M))
                < scale * (scale * np.vdot(Y, Y) - 2.0 * np.vdot(Y, M))):
            P = clipped * clip_scale
        else:
            # The clip only undoes rounding: the scaled largest entry can exceed α by an ulp.
            P = np.clip(Y * scale, -alpha, alpha)
    D = P - M
    distance2 = np.vdot(D, D)
    gap = max(0.5 * distance2 - dual, 0.0)
    tiny = np.finfo(float).tiny
    norm_P = max(np.linalg.norm(P), tiny)
    feas = np.linalg.norm(excess) / norm_P
    cert = feas + (gap / (norm_P * max(np.sqrt(distance2), tiny)) if gap > 0 else 0.0)
    return P, float(cert), float(feas), float(gap), float(dual)


@blas_threads_by_size("iterative")
def project_K(M, *, alpha, r, basis=None, tol=1e-8, max_iter=5000, warm_start=None,
              check_input=True):
    """Euclidean projection of ``M`` onto ``K(α, r) ∩ col(basis)⊗R^N``.

    ``K(α, r) = {P : ‖P‖_* <= α√(r n N), ‖P‖_∞ <= α}``. Solved by Dykstra's algorithm
    (over-relaxed, Anderson-accelerated, on the dual of the box constraint), after two exact
    shortcuts: if
    clipping ``M`` to the box lands in the nuclear ball (and in col(basis)), or if the
    nuclear-ball projection lands in the box, that single projection is the answer.

    Parameters
    ----------
    M : array of shape (n, N)
        Matrix to project.
    alpha : float, ``> 0``
        Entry bound; the nuclear-norm radius is ``α√(r n N)``.
    r : float, ``> 0``
        Rank parameter of K (need not be an integer).
    basis : array of shape (n, k) with orthonormal columns, optional
        Basis of the column space the result must lie in (col(X̃) when X̃ has fewer columns
        than rows). None: no column-space constraint (X̃ of full row rank).
    tol : float in (0, 1]
        Target of the certificate (a relative duality gap, see the module docstring).
    max_iter : int, ``>= 1``
        Maximum number of nuclear-ball projections (one SVD of a k×N matrix each).
    warm_start : dict, optional
        ``info["warm_start"]`` of a previous call (same shape): its dual box multiplier
        starts the iteration, and its last soft threshold lets large nuclear steps compute
        only the top of the spectrum. Ignored when the shapes differ.
    check_input : bool
        False skips the checks of ``M``, ``alpha``, ``r``, ``basis``, ``tol`` and
        ``max_iter`` (not of ``warm_start``), for callers that checked them once and project
        many times (``convex_linear``, ``tobit_apg``): ``M`` must then be a finite float
        array and ``basis`` orthonormal.

    Returns
    -------
    P : ndarray of shape (n, N)
        The projection; always feasible (the final rescaling enforces the box exactly).
    info : dict
        ``solver`` ("dykstra"), ``iterations`` (nuclear-ball projections), ``certificate``,
        ``converged`` (certificate <= tol), ``exit`` ("feasible", "clip", "nuclear",
        "iterated", "max_iter"), ``feasibility``, ``gap``, ``error_bound``, ``rank`` (rank of
        the last nuclear-ball projection), ``partial_eigh`` (nuclear steps that used the
        partial eigendecomposition), ``momentum_iterations`` (iterations after the switch
        from Anderson to FISTA), ``time``, ``warm_start`` (``{"Q": dual multiplier,
        "theta": last soft threshold}``), ``scale_exponent`` (e: M and α were divided by
        2^e, max|M| being outside :data:`theory_check.linalg.SCALE_RANGE`; 0 otherwise).
        Everything is in the caller's units: P, ``warm_start`` and ``gap`` (inf when the
        caller's units cannot hold it) scaled back; ``certificate``, ``feasibility`` and
        ``error_bound`` are relative.

    Raises
    ------
    ValueError
        Bad input, or α below 10·ε·max|M|/tol (:func:`check_alpha_resolvable`).
    """
    if check_input:
        M, alpha, r, basis, tol, max_iter = _check_common(M, alpha, r, basis, tol, max_iter)
    Q = _check_warm_start(warm_start, M.shape)
    # The projection is positively homogeneous, P_{K(cα, r)}(cM) = c·P_{K(α, r)}(M): M outside
    # linalg.SCALE_RANGE is projected divided by a power of two (exactly) and multiplied back.
    e = scale_exponent(M)
    if not e:
        P, info = _project_K(M, alpha, r, basis, tol, max_iter, Q, warm_start)
        info["scale_exponent"] = 0
        return P, info
    if Q is not None:
        theta = warm_start.get("theta")
        warm_start = {"Q": np.ldexp(Q, -e),
                      "theta": np.ldexp(theta, -e) if isinstance(theta, (int, float)) else None}
        Q = warm_start["Q"]
    P, info = _project_K(np.ldexp(M, -e), float(np.ldexp(alpha, -e)), r, basis, tol, max_iter,
                         Q, warm_start)
    warm = info["warm_start"]
    theta = warm["theta"]
    with np.errstate(over="ignore"):  # a gap beyond the caller's units is inf there
        gap = float(np.ldexp(info["gap"], 2 * e))
    info.update(gap=gap, scale_exponent=e,
                warm_start={"Q": np.ldexp(warm["Q"], e),
                            "theta": None if theta is None else float(np.ldexp(theta, e))})
    return np.ldexp(P, e), info


def _project_K(M, alpha, r, B, tol, max_iter, Q, warm_start):
    """:func:`project_K` on checked input, in units where max|M| is in linalg.SCALE_RANGE
    (or 0)."""
    start = time.perf_counter()
    n, N = M.shape
    with np.errstate(over="ignore"):  # α near the overflow threshold: an infinite radius
        radius = alpha * np.sqrt(r * n * N)
    # P* = P_{K∩L}(P_L M) for the subspace L = col(B)⊗R^N (Pythagoras), so work with P_L M.
    M = _in_subspace(M, B)
    # The last soft threshold of a warm start (same shape) lets the first nuclear step be partial.
    # Any value is safe (it only decides whether a partial step is tried), NaN and junk aside.
    theta = None if Q is None else warm_start.get("theta")
    theta = float(theta) if isinstance(theta, (int, float)) and np.isfinite(theta) else None
    nuclear = _NuclearProjector(B, radius, theta=theta)

    def done(P, exit_, iterations, cert=0.0, feas=0.0, gap=0.0, rank=None, Q=None,
             momentum=None):
        scale = max(np.linalg.norm(P), np.finfo(float).tiny)
        info = {
            "solver": "dykstra",
            "iterations": iterations,
            "certificate": float(cert),
            "converged": bool(cert <= tol),
            "exit": exit_,
            "feasibility": float(feas),
            "gap": float(gap),
            "error_bound": float(np.sqrt(2.0 * max(gap, 0.0)) / scale),
            "rank": rank,
            "time": time.perf_counter() - start,
            "partial_eigh": nuclear.partial_calls,
            "momentum_iterations": 0 if momentum is None else momentum.iterations,
            "warm_start": {"Q": np.zeros_like(M) if Q is None else Q, "theta": nuclear.theta},
        }
        if anderson is not None:
            anderson.release()
        return P, info

    anderson = None
    clipped = np.clip(M, -alpha, alpha)
    # The clip exit (clip(M) is the projection when it lies in the nuclear ball) needs B = None:
    # clipping leaves col(B) unless nothing was clipped.
    clip_undecided = False
    if np.array_equal(clipped, M):
        if _in_nuclear_ball(M, radius):
            return done(M.copy(), "feasible", 0)
    elif B is None:
        # From a cold start the first nuclear step decomposes M's Gram matrix, and its
        # eigenvalues usually refute the clip exit at no cost (the check of clip(M) itself
        # took 0.6 ms of a 15 ms solve at n = 120); with a warm start, check clip(M) now.
        clip_undecided = Q is None and np.isfinite(np.linalg.norm(M) ** 2)
        if not clip_undecided and _in_nuclear_ball(clipped, radius):
            return done(clipped, "clip", 0)

    if Q is None:
        Q = np.zeros_like(M)
    anderson = _Anderson(ANDERSON_MEMORY, M.shape)
    # With a basis the dual is flat along Q ⊥ col(B) but for α‖Q‖₁ (see the safeguard below),
    # and only a monotone dual keeps Q from drifting there.
    flat = B is not None
    last_dual, last_gap = -np.inf, 0.0
    rejections = 0
    momentum = None
    for it in range(1, max_iter + 1):
        Z = M - Q
        Y, rank = nuclear(Z)
        if clip_undecided:  # first iteration, Z = M, and its decomposition was a full one
            clip_undecided = False
            if (_clipped_lower_bound(M, clipped, nuclear.gram, nuclear.gram_eigenvalues)
                    <= radius and _in_nuclear_ball(clipped, radius)):
                return done(clipped, "clip", 1)
        P, cert, feas, gap, dual = _certificate(M, Q, Z, Y, alpha, radius, B is None)
        if cert <= tol:
            exit_ = "nuclear" if it == 1 and not Q.any() else "iterated"
            return done(P, exit_, it, cert, feas, gap, rank, Q, momentum)
        if it > ANDERSON_ITERATIONS or (flat and rejections >= ANDERSON_REJECTIONS_WITH_BASIS):
            if momentum is None:
                momentum = _Momentum(Q)
            Q = momentum.step(Q, _soft_threshold(Q + Y, alpha))
            continue
        slack = ROUNDING_SLACK * abs(last_dual) if flat else last_gap
        if anderson.extrapolated and dual < last_dual - slack:
            # Safeguard: an extrapolation that lowers the dual objective (with a basis: beyond
            # rounding; without: by more than the duality gap) is replaced by the plain step from the last accepted
            # point (a proximal-gradient step of length < 2 never lowers it). Without a basis
            # the slack lets Anderson take non-monotone steps that save 10 % of the iterations
            # on the sweeps. With a basis it feeds back on itself (a fall of the dual raises
            # the gap, which allows a larger fall) and Q drifted along the flat directions
            # (|Q|₁ to 1e9). A safeguard on the fixed-point residual failed the same way: it
            # stays constant along the drift.
            rejections += 1
            Q = anderson.reject()
            continue
        last_dual, last_gap = dual, gap
        step = _soft_threshold(Q + DUAL_STEP * Y, DUAL_STEP * alpha)
        Q = anderson.update(step, step - Q)
    return done(P, "max_iter", max_iter, cert, feas, gap, rank, Q, momentum)


def _soft_threshold(W, t):
    return W - np.clip(W, -t, t)


class _Momentum:
    """FISTA on the dual (step 1, the inverse Lipschitz constant) with adaptive restart
    (O'Donoghue & Candès 2015): the O(1/k²) rate holds however degenerate the dual is.
    ``step(V, Q_next)`` takes the extrapolated point V and the proximal-gradient step from it,
    and returns the next point to evaluate."""

    def __init__(self, Q):
        self.previous = Q
        self.t = 1.0
        self.iterations = 0

    def step(self, V, Q_next):
        self.iterations += 1
        if np.vdot(V - Q_next, Q_next - self.previous) > 0:
            # The step goes against the momentum: drop it and restart from the last iterate.
            self.t = 1.0
            return self.previous
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * self.t**2))
        V = Q_next + ((self.t - 1.0) / t_next) * (Q_next - self.previous)
        self.previous, self.t = Q_next, t_next
        return V


#: Per-thread scratch memory of :class:`_Anderson` (see ANDERSON_REUSE_MAX_ENTRIES).
_scratch = threading.local()


class _Anderson:
    """Type-II Anderson acceleration of a fixed-point map x ↦ g(x) (Walker & Ni 2011).

    From the last ``memory`` differences of g-values ΔG and of residuals ΔF (F = g(x) − x),
    the next point is g(x) − ΔG γ with γ the (slightly regularized) least-squares fit of F by
    ΔF. ``extrapolated`` tells whether the last returned point came from the fit. The
    differences live in preallocated ring buffers and the Gram matrix ΔFᵀΔF is updated by one
    row per step: rebuilding them every step cost about one SVD per step at n <= 120.

    The ring buffers are taken from the thread's scratch memory and given back by
    :meth:`release` (small problems only): they are always written before they are read,
    so the reuse changes no result, and a call that finds the scratch taken (or never gives
    it back, e.g. after an exception) simply allocates its own.
    """

    def __init__(self, memory, shape):
        size = int(np.prod(shape))
        self.shape = shape
        self._memory = None
        if size <= ANDERSON_REUSE_MAX_ENTRIES:
            self._memory = _scratch.__dict__.pop("anderson", None)
        if self._memory is None or self._memory.size < 2 * memory * size:
            self._memory = np.empty(2 * memory * size)
        self.dG, self.dF = self._memory[:2 * memory * size].reshape(2, memory, size)
        self.gram = np.empty((memory, memory))
        self.count = 0  # differences stored since the last reject
        self.g = self.f = None
        self.extrapolated = False

    def release(self):
        """Give the ring buffers back to the thread's scratch memory (small problems only)."""
        if self.dF.shape[1] <= ANDERSON_REUSE_MAX_ENTRIES:  # as in __init__
            _scratch.anderson = self._memory
        self._memory = self.dG = self.dF = None

    def reject(self):
        """Forget the differences and return the plain step g(x) of the last accepted x."""
        self.count = 0
        self.extrapolated = False
        return self.g.reshape(self.shape)

    def update(self, step, residual):
        """Record g(x) = ``step`` and F = ``residual`` at the accepted x; return the next x."""
        g, f = step.ravel(), residual.ravel()
        if self.g is not None:
            memory = self.dF.shape[0]
            slot = self.count % memory
            np.subtract(g, self.g, out=self.dG[slot])
            np.subtract(f, self.f, out=self.dF[slot])
            self.count += 1
            k = min(self.count, memory)
            self.gram[slot, :k] = self.gram[:k, slot] = self.dF[:k] @ self.dF[slot]
        self.g, self.f = g, f
        k = min(self.count, self.dF.shape[0])
        trace = np.trace(self.gram[:k, :k]) if k else 0.0
        if not trace > 0:
            self.extrapolated = False
            return step
        gram = self.gram[:k, :k].copy()
        gram.flat[::k + 1] += ANDERSON_REGULARIZATION * trace
        gamma = np.linalg.solve(gram, self.dF[:k] @ f)
        self.extrapolated = True
        return (g - gamma @ self.dG[:k]).reshape(self.shape)
