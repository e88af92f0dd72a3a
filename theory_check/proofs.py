"""The proof chains of Theorems 3.1, 4.4 and 4.9, evaluated on one simulated run.

Each theorem's proof is a chain of inequalities between quantities of one run (the noise, Z*,
the estimate Ẑ = X̃Ŵ, α, r, σ) followed by probabilistic steps that bound the last of them in
expectation or with high probability. This module evaluates every step on a row and returns
it as columns with a ``proof.`` prefix (normalized by nN where they are squared-error sizes);
``proof.in_order`` says whether the deterministic steps hold up to a tolerance derived from
the solver's certificate. The reconstruction of each proof, step by step, with the column
that evaluates it, is ``docs/PROOFS.md``.

A generator declares the chain of the theorem its draw satisfies in
:attr:`theory_check.problem.Problem.proofs`, keyed by the name of the theorem's own estimator
(``data_svd``, ``convex_linear``, ``relu_mle``); :func:`columns` is what a run calls for each
row, and it evaluates the chain only for that estimator run with the generator's α, the
run's r and (ReLU) the generator's σ (:func:`own_estimator`).

Cost: one singular-value-only SVD of D = Ẑ − Z* (Theorem 4.4's ‖D‖_*) and Lanczos for the
few largest singular values the operator norms need (:func:`top_singular_values`); Theorem
4.9's chain is entrywise. Measured against the solves in docs/PROOFS.md.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from scipy.special import log_ndtr, ndtr

from .solvers.tobit import inverse_mills, tobit_loss, tobit_loss_and_grad

#: Relative accuracy granted to every computed quantity of a chain on top of the certificate's
#: slack: √u ≈ 1.5e-8. The estimate enters as Ẑ = X̃Ŵ with Ŵ = X̃⁺M̂, so Ẑ reproduces the
#: solver's M̂ only to about u·κ(X̃) (κ = 10 for the condition_number design, min(n, d) for
#: power_law, of order n for square isotropic draws), and where a step is an equality (Y
#: inside K: M̂ = Y, so ‖D‖² = ⟨E, D⟩) that is the whole margin; √u lies far above u·κ at
#: the sweeps' sizes and below the solvers' tolerances (1e-8 relative for convex_linear,
#: 1e-6 for relu_mle). Measured in that equality case: ‖D‖² − ⟨E, D⟩ ≈ 1e-20 per entry.
ROUNDING = float(np.sqrt(np.finfo(float).eps))

#: Smallest matrix side for which :func:`top_singular_values` runs Lanczos instead of an SVD
#: (at 128×128 both took 1.5 ms).
LANCZOS_MIN_SIZE = 128

#: Estimator settings that change the constraint set or the likelihood: the chain of a
#: theorem is that of its own estimator only with these at their defaults (the generator's α
#: and σ, the run's r); a misspecified or cross-validated variant has no chain.
OWN_SETTINGS = {"alpha": None, "alpha_scale": 1.0, "rank": None, "rank_scale": 1.0,
                "sigma": None}


def own_estimator(settings: dict) -> bool:
    """Whether an estimator's config ``settings`` leave α, r and σ to the run (the theorem's
    own estimator), so that Z* lies in its constraint set."""
    return all(settings.get(key, default) == default for key, default in OWN_SETTINGS.items())


def columns(problem, name: str, settings: dict, W_hat: np.ndarray, info: dict,
            Z_hat: np.ndarray | None = None) -> dict:
    """The ``proof.`` columns of one row: the chain the problem declares for estimator
    ``name``, evaluated unless the estimator's settings are not the theorem's own.

    Parameters
    ----------
    problem : Problem
    name : str
        The estimator's name in the run's config (``estimator.<name>``).
    settings : dict
        The estimator's resolved config.
    W_hat : ndarray of shape (d, N)
    info : dict
        The estimator's info (certificate, gap, objective ...).
    Z_hat : ndarray of shape (n, N), optional
        X̃Ŵ, when the caller has computed it (it is not computed twice).

    Returns
    -------
    dict
        ``{"proof.in_order": None}`` when no chain applies but the problem declares one for
        another estimator: every row of such a run has the flag, so that the rows a run returns
        and the rows read back from its parquet file (where a missing bool is None) agree.
    """
    chain = problem.proofs.get(name)
    if chain is None or not own_estimator(settings):
        return {"proof.in_order": None} if problem.proofs else {}
    Z_hat = problem.X_tilde @ W_hat if Z_hat is None else Z_hat
    return {f"proof.{key}": value for key, value in chain(problem, Z_hat, info).items()}


# --------------------------------------------------------------------------- linear algebra

def top_singular_values(A: np.ndarray, count: int = 1) -> np.ndarray:
    """The ``count`` largest singular values of ``A``, in decreasing order (zeros beyond its
    smaller dimension).

    Lanczos bidiagonalization (ARPACK through ``scipy.sparse.linalg.svds``, to machine
    precision, from a fixed random start so that rows are reproducible) when A is larger than
    ``LANCZOS_MIN_SIZE`` on both sides and only a few values are asked for; a
    singular-value-only SVD otherwise. At 512×512 (one BLAS thread) Lanczos took 20 ms, the SVD
    78 ms, the top eigenvalue of the Gram matrix 42 ms; all three agreed to 1e-15.

    Parameters
    ----------
    A : array of shape (m, p)
    count : int, ``>= 1``

    Returns
    -------
    ndarray of shape (count,)
    """
    small = min(A.shape)
    top = min(count, small)
    out = np.zeros(count)
    if small <= LANCZOS_MIN_SIZE or top >= small - 1:
        out[:top] = scipy.linalg.svd(A, compute_uv=False, check_finite=False)[:top]
        return out
    start = np.random.default_rng(0).standard_normal(small)
    values = scipy.sparse.linalg.svds(A, k=top, tol=0, v0=start, solver="arpack",
                                      return_singular_vectors=False)
    out[:top] = np.sort(values)[::-1]
    return out


def _column_coordinates(problem, A: np.ndarray):
    """``FᵀA`` (k, p) in the orthonormal frame F (n, k) of col(X̃) that the problem's
    :meth:`~theory_check.problem.Problem.column_space` carries, or None when that frame is the
    identity (X̃ of full row rank). The run's estimators made that factorization already, so
    the chains only multiply by it."""
    frame = problem.column_space().frame
    return None if frame is None else frame.T @ A


def _membership_excess(meta: dict, alpha: float, r: int, n: int, N: int) -> float:
    """ρ >= 0 with Z*/(1 + ρ) ∈ K(α, r), from the generator's records of ‖Z*‖_∞, ‖Z*‖_*:
    Z* = X̃W* is recomputed in floating point and can leave K by a few ulp."""
    radius = alpha * np.sqrt(r * n * N)
    return max(0.0, meta["z_inf"] / alpha - 1.0, meta["z_nuc"] / radius - 1.0)


# ------------------------------------------------------------- censored Gaussian (Tobit)

def censored_kl(a, b, sigma: float) -> np.ndarray:
    """KL(p_a ‖ p_b) of the censored Gaussian laws p_z of ReLU(z + g), g ~ N(0, σ²), entrywise.

    Closed form (docs/PROOFS.md, Theorem 4.9 step 2), with s = σ:

        Φ(−a/s)·log(Φ(−a/s)/Φ(−b/s)) + (a − b)·φ(a/s)/s + (a − b)²·Φ(a/s)/(2s²):

    the atom at 0 plus the density part, ∫_0^∞ φ_s(y − a)·((y − b)² − (y − a)²)/(2s²) dy.

    Parameters
    ----------
    a, b : array_like of the same shape
        Pre-activations of the true and of the compared law.
    sigma : float, ``> 0``

    Returns
    -------
    ndarray
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    za, zb = a / sigma, b / sigma
    diff = (a - b) / sigma
    atom = ndtr(-za) * (log_ndtr(-za) - log_ndtr(-zb))
    density = diff * np.exp(-0.5 * za * za) / np.sqrt(2 * np.pi) + 0.5 * diff * diff * ndtr(za)
    return atom + density


def bernoulli_kl(a, b, sigma: float) -> np.ndarray:
    """KL of the censoring indicators 1{ReLU(z + g) = 0}: Bernoulli(Φ(−z/σ)) at z = a and
    z = b, entrywise; at most :func:`censored_kl` (chain rule of the KL divergence).

    Parameters
    ----------
    a, b : array_like of the same shape
    sigma : float, ``> 0``

    Returns
    -------
    ndarray
    """
    za, zb = np.asarray(a, dtype=float) / sigma, np.asarray(b, dtype=float) / sigma
    return (ndtr(-za) * (log_ndtr(-za) - log_ndtr(-zb))
            + ndtr(za) * (log_ndtr(za) - log_ndtr(zb)))


def bernoulli_hellinger2(a, b, sigma: float) -> np.ndarray:
    """Squared Hellinger distance of the censoring indicators (Definition A.5, without ½):
    ``(√p − √q)² + (√(1−p) − √(1−q))²`` with p = Φ(−a/σ), q = Φ(−b/σ), entrywise.

    Parameters
    ----------
    a, b : array_like of the same shape
    sigma : float, ``> 0``

    Returns
    -------
    ndarray
    """
    za, zb = np.asarray(a, dtype=float) / sigma, np.asarray(b, dtype=float) / sigma
    root = lambda z: np.exp(0.5 * log_ndtr(z))  # noqa: E731  √Φ(z) without underflow to 0 early
    return (root(-za) - root(-zb)) ** 2 + (root(za) - root(zb)) ** 2


def curvature_constant(alpha: float, sigma: float) -> float:
    """The curvature constant of Theorem 4.9's proof (Lemma B.4, [8] Lemma A.2, with the
    censoring probability f(x) = Φ(−x/σ)): ``inf_{|x|<=α} f'(x)²/(8 f(x)(1 − f(x)))
    = φ(α/σ)² / (8σ²Φ(α/σ)Φ(−α/σ))`` (the ratio is even and decreasing in |x|), so that
    d_H²(Ẑ, Z*) >= c‖Ẑ − Z*‖_F² for ‖Ẑ‖_∞, ‖Z*‖_∞ <= α.

    Parameters
    ----------
    alpha, sigma : float, ``> 0``

    Returns
    -------
    float
    """
    z = alpha / sigma
    log_c = -z * z - np.log(2 * np.pi) - np.log(8 * sigma**2) - log_ndtr(z) - log_ndtr(-z)
    return float(np.exp(log_c))


def tobit_lipschitz(alpha: float, sigma: float, g_inf: float) -> float:
    """Lipschitz constant on [−α, α] of the centered per-entry Tobit losses of Theorem 4.9's
    proof: ``max((2α + ‖G‖_∞)/σ², λ(−α/σ)/σ)`` (observed entries: |t − Y| <= α + Y and
    Y <= α + ‖G‖_∞; censored ones: the inverse Mills ratio λ = φ/Φ at its largest on the box).

    Parameters
    ----------
    alpha, sigma : float, ``> 0``
    g_inf : float
        ``‖G‖_∞`` of the run's noise.

    Returns
    -------
    float
    """
    return float(max((2 * alpha + g_inf) / sigma**2, inverse_mills(-alpha / sigma) / sigma))


# ---------------------------------------------------------------------------- the chains

def thm44_chain(problem, Z_hat: np.ndarray, info: dict, *, alpha: float, r: int,
                beta: float) -> dict:
    """Theorem 4.4's chain for the projection Ẑ of Y onto K(α, r) ∩ col(X̃)⊗R^N.

    With E = Y − Z* (the noise the estimator sees), D = Ẑ − Z*, P the projection onto
    col(X̃) and R = α√(rnN):

        ‖D‖_F² <= ⟨E, D⟩ <= ‖PE‖_op‖D‖_* <= 2R‖PE‖_op     (deterministic)
               ... <= 8·L·R·(√n + √N), L = 2(2α + β)        (the paper's route, in expectation)

    Parameters
    ----------
    problem : Problem
        Of Model A (Z* ∈ K(α, r) ∩ col(X̃)⊗R^N).
    Z_hat : ndarray of shape (n, N)
        The estimate X̃Ŵ.
    info : dict
        The solver's info: ``gap`` (absolute duality gap ½‖·‖²) or, without it,
        ``certificate`` (relative to ‖Ẑ‖‖Y − Ẑ‖).
    alpha : float
        α of K.
    r : int
        Rank parameter of K.
    beta : float
        Noise bound β (``inf``: the paper's route does not apply, ``paper`` is NaN).

    Returns
    -------
    dict
        ``inner``, ``dual``, ``bound``, ``paper``, ``g_op`` (‖PE‖_op), ``tolerance`` (the
        slack granted to the first step, /nN) and ``in_order``.
    """
    Z_star, Y = problem.Z_star, problem.Y
    n, N = Z_star.shape
    size = n * N
    radius = alpha * np.sqrt(r * size)
    E = Y - Z_star
    D = Z_hat - Z_star
    E_col = _column_coordinates(problem, E)
    g_op = float(top_singular_values(E if E_col is None else E_col)[0])
    inner = float(np.vdot(E, D))
    d_fro = float(np.linalg.norm(D))
    d_nuc = float(scipy.linalg.svd(D, compute_uv=False, check_finite=False).sum())
    dual, bound = g_op * d_nuc, 2.0 * radius * g_op
    residual = float(np.linalg.norm(Y - Z_hat))
    z_hat_fro = float(np.linalg.norm(Z_hat))
    gap = info.get("gap")
    if gap is None or not np.isfinite(gap):
        gap = float(info.get("certificate", np.inf)) * z_hat_fro * residual
    # Z* a few ulp outside K: the inequality holds for Z*/(1 + ρ) ∈ K, at distance <= ρ‖Z*‖_F.
    rho = _membership_excess(problem.meta, alpha, r, n, N)
    shift = rho * float(np.linalg.norm(Z_star))
    tol_basic = ((d_fro + shift) * np.sqrt(2.0 * gap) + 2.0 * gap + shift * residual
                 + ROUNDING * z_hat_fro * (residual + d_fro))
    tol_dual = ROUNDING * dual
    tol_bound = ROUNDING * bound + rho * radius * g_op
    in_order = bool(d_fro**2 <= inner + tol_basic and inner <= dual + tol_dual
                    and dual <= bound + tol_bound)
    lipschitz = 2.0 * (2.0 * alpha + beta)
    paper = 8.0 * lipschitz * radius * (np.sqrt(n) + np.sqrt(N)) if np.isfinite(beta) else np.nan
    return {"inner": inner / size, "dual": dual / size, "bound": bound / size,
            "paper": float(paper / size), "g_op": g_op, "tolerance": tol_basic / size,
            "in_order": in_order}


def thm49_chain(problem, Z_hat: np.ndarray, info: dict, *, alpha: float, r: int,
                sigma: float) -> dict:
    """Theorem 4.9's chain for the Tobit maximum-likelihood estimate Ẑ over K(α, r).

    With ℓ the Tobit negative log-likelihood, KL the sum over entries of the censored-Gaussian
    divergence of Z* to Ẑ, and c = :func:`curvature_constant`:

        ℓ(Ẑ) − ℓ(Z*) <= 0                                   (basic inequality, up to the certificate)
        c‖D‖_F² <= H² <= KL_Bernoulli <= KL = [ℓ(Ẑ) − ℓ(Z*)] + Δ <= Δ   (deterministic)
        Δ <= 8·L·α√(rnN)·(√n + √N), L = :func:`tobit_lipschitz`       (the paper's route, in expectation)

    where Δ = [ℓ − Eℓ](Z*) − [ℓ − Eℓ](Ẑ) is the realized empirical-process increment.

    Parameters
    ----------
    problem : Problem
        Of Model R, with ``noise`` (the Gaussian draw G).
    Z_hat : ndarray of shape (n, N)
    info : dict
        The solver's ``certificate`` (relative suboptimality) and ``objective``.
    alpha, r, sigma
        α and r of K, noise standard deviation.

    Returns
    -------
    dict
        ``likelihood_gap``, ``kl``, ``increment``, ``kl_bernoulli``, ``hellinger``,
        ``curvature`` (KL/‖D‖²), ``curvature_paper`` (c), ``lipschitz``, ``g_inf``,
        ``deviation``, ``mse_bound`` (deviation/c), ``tolerance`` and ``in_order``.
    """
    Z_star, Y = problem.Z_star, problem.Y
    n, N = Z_star.shape
    size = n * N
    loss_hat = tobit_loss(Z_hat, Y, sigma=sigma)
    loss_star, grad_star = tobit_loss_and_grad(Z_star, Y, sigma=sigma)
    likelihood_gap = loss_hat - loss_star
    kl = float(censored_kl(Z_star, Z_hat, sigma).sum())
    kl_bernoulli = float(bernoulli_kl(Z_star, Z_hat, sigma).sum())
    hellinger = float(bernoulli_hellinger2(Z_star, Z_hat, sigma).sum())
    d2 = float(np.linalg.norm(Z_hat - Z_star) ** 2)
    c = curvature_constant(alpha, sigma)
    g_inf = float(np.abs(problem.noise).max())
    lipschitz = tobit_lipschitz(alpha, sigma, g_inf)
    deviation = 8.0 * lipschitz * alpha * np.sqrt(r * size) * (np.sqrt(n) + np.sqrt(N))
    # A Z* a few ulp outside K: the solver's optimality holds against Z*/(1 + ρ), whose
    # likelihood differs by at most ‖∇ℓ(Z*)‖e + e²/(2σ²), e = ρ‖Z*‖ (ℓ is 1/σ²-smooth).
    excess = _membership_excess(problem.meta, alpha, r, n, N) * float(np.linalg.norm(Z_star))
    certified = float(info.get("certificate", np.inf)) * max(float(info.get("objective", 1.0)), 1.0)
    tolerance = (certified + float(np.linalg.norm(grad_star)) * excess + excess**2 / (2 * sigma**2)
                 + ROUNDING * (abs(loss_hat) + abs(loss_star)))
    tol_rel = 1.0 + ROUNDING
    in_order = bool(likelihood_gap <= tolerance and kl_bernoulli <= kl * tol_rel
                    and hellinger <= kl_bernoulli * tol_rel and c * d2 <= hellinger * tol_rel)
    return {"likelihood_gap": likelihood_gap / size, "kl": kl / size,
            "increment": (kl - likelihood_gap) / size, "kl_bernoulli": kl_bernoulli / size,
            "hellinger": hellinger / size, "curvature": kl / d2 if d2 > 0 else np.nan,
            "curvature_paper": c, "lipschitz": lipschitz, "g_inf": g_inf,
            "deviation": float(deviation / size), "mse_bound": float(deviation / (c * size)),
            "tolerance": tolerance / size, "in_order": in_order}


def thm31_chain(problem, Z_hat: np.ndarray, info: dict, *, r: int, sigma: float) -> dict:
    """Theorem 3.1's perturbation step for Ẑ = U_k[U_kᵀY]_r, Z* of rank <= r in col(X̃).

    With B = U_kᵀY = U_kᵀZ* + U_kᵀE (E = Y − Z*) and D = Ẑ − Z* = U_k([B]_r − U_kᵀZ*) of
    rank <= 2r:

        ‖D‖_F² <= 2r‖D‖_op² <= 2r(σ_{r+1}(B) + ‖U_kᵀE‖_op)² <= 8r‖U_kᵀE‖_op²   (deterministic)
        ‖U_kᵀE‖_op <= σ(√k + √N)                              (the paper's step, w.h.p., constant 1)

    Parameters
    ----------
    problem : Problem
        Of Model S (rank Z* = r).
    Z_hat : ndarray of shape (n, N)
    info : dict
        Unused (a closed form: its certificate is rounding).
    r : int
        Target rank.
    sigma : float
        Noise standard deviation.

    Returns
    -------
    dict
        ``rank_step`` (2r‖D‖_op²), ``weyl``, ``perturbation`` (8r‖U_kᵀE‖_op²), ``paper``
        (8rσ²(√k + √N)²), all /nN; ``g_op`` (‖U_kᵀE‖_op), ``sigma_r1`` (σ_{r+1}(B)),
        ``in_order``.
    """
    Z_star, Y = problem.Z_star, problem.Y
    n, N = Z_star.shape
    size = n * N
    D = Z_hat - Z_star
    coordinates = _column_coordinates(problem, np.hstack([Y, Z_hat, Z_star]))
    if coordinates is None:
        k, B, BE, BD = n, Y, Y - Z_star, D
    else:  # D and Z* lie in col(X̃): their singular values are those of their coordinates
        B, B_hat, B_star = np.split(coordinates, 3, axis=1)
        k = B.shape[0]
        BE, BD = B - B_star, B_hat - B_star
    sigma_r1 = float(top_singular_values(B, r + 1)[r])
    g_op = float(top_singular_values(BE)[0])
    d_op = float(top_singular_values(BD)[0])
    d2 = float(np.linalg.norm(D) ** 2)
    rank_step = 2 * r * d_op**2
    weyl = 2 * r * (sigma_r1 + g_op) ** 2
    perturbation = 8 * r * g_op**2
    tol_rel = 1.0 + ROUNDING
    in_order = bool(d2 <= rank_step * tol_rel and d_op <= (sigma_r1 + g_op) * tol_rel
                    and sigma_r1 <= g_op * tol_rel)
    return {"rank_step": rank_step / size, "weyl": weyl / size,
            "perturbation": perturbation / size,
            "paper": 8 * r * sigma**2 * (np.sqrt(k) + np.sqrt(N)) ** 2 / size,
            "g_op": g_op, "sigma_r1": sigma_r1, "in_order": in_order}
