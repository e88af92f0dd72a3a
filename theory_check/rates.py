"""Predicted error rates of Theorems 3.1, 4.4 and 4.9 (THEORY.md), constants omitted.

All rates are for the pre-activation MSE ``‖X̃(Ŵ − W*)‖_F² / (nN)``.
"""

from __future__ import annotations

import numpy as np


def thm31_bound(n, N, r, sigma, k=None):
    """Theorem 3.1's bound shape ``σ² r (k + N) / (nN)`` (k = rank X̃, default n)."""
    k = n if k is None else k
    return sigma**2 * r * (k + N) / (n * N)


def thm31_dof(n, N, r, sigma, k=None):
    """Degrees-of-freedom prediction ``σ² r (k + N − r) / (nN)``: the sharp constant-level MSE."""
    k = n if k is None else k
    return sigma**2 * r * (k + N - r) / (n * N)


def sqrt_rate(n, N, r):
    """The square-root rate ``√(r (n + N) / (nN))`` of Theorems 4.4 and 4.9."""
    return np.sqrt(r * (n + N) / (n * N))


def thm44_bound(n, N, r, alpha, beta):
    """Theorem 4.4: ``α (α + β) √(r (n + N) / (nN))``."""
    return alpha * (alpha + beta) * sqrt_rate(n, N, r)


def thm49_bound(n, N, r, alpha, sigma, log_exponent=0.5):
    """Theorem 4.9: ``α (α + σ) √(r (n + N)/(nN)) · log(nN)^p``, p = ``log_exponent`` (½ default).

    The constant C_{α,σ} is written ``α(α + σ)`` to mirror Theorem 4.4; the fit only uses the
    dependence on n, N and r.
    """
    return alpha * (alpha + sigma) * sqrt_rate(n, N, r) * np.log(n * N) ** log_exponent


#: Finite-size corrections of :func:`thm31_asymptotic` (measured in ``make bench``, snr_reference).
ASYMPTOTIC_CORRECTIONS = ("none", "dof", "dof+mp")


def bbp_threshold(k, N, sigma):
    """Detection threshold ``(kN)^{1/4} σ`` of a singular value of a k×N matrix under i.i.d.
    noise of variance σ² (Benaych-Georges & Nadakuditi 2012): above it, the top singular
    vectors of signal + noise correlate with the signal's; below it they do not."""
    return (k * N) ** 0.25 * sigma


def marchenko_pastur_top(k, N, j, sigma=1.0):
    """Typical j-th largest squared singular value of a k×N matrix of i.i.d. variance-σ² noise:
    ``σ² max(k, N) · F⁻¹(1 − (j − ½)/min(k, N))`` with F the Marchenko–Pastur law of ratio
    ``min/max``. It is the bulk edge ``σ²(√k + √N)²`` for ``j ≪ min(k, N)``, lower otherwise."""
    from scipy import integrate, optimize

    small, large = min(k, N), max(k, N)
    if not 1 <= j <= small:
        raise ValueError(f"j must be in [1, min(k, N)] = [1, {small}], got {j}")
    ratio = small / large
    lo, hi = (1 - np.sqrt(ratio)) ** 2, (1 + np.sqrt(ratio)) ** 2

    def density(x):
        return np.sqrt(max((hi - x) * (x - lo), 0.0)) / (2 * np.pi * ratio * x)

    p = (j - 0.5) / small
    edge = optimize.brentq(lambda t: integrate.quad(density, t, hi)[0] - p, lo, hi, xtol=1e-12)
    return sigma**2 * large * edge


def thm31_asymptotic(singular_values, n, N, r, sigma, k=None, correction="dof+mp"):
    """Asymptotic risk of Theorem 3.1's estimator (rank-r truncated SVD of the k×N matrix
    ``QᵀY = QᵀZ* + QᵀG``), in the suite's normalisation ``‖X̃Ŵ − Z*‖_F² / (nN)``.

    Spiked-model limit (Benaych-Georges & Nadakuditi 2012; Gavish & Donoho 2014), with θ = s/(σ√N)
    and β = k/N: an estimated component has squared singular value ``(1+θ²)(β+θ²)/θ²`` and
    singular-vector cosines whose product with it gives, for ``s`` above the threshold
    ``(kN)^{1/4}σ``, the exact loss ``σ²(k + N) + 3kNσ⁴/s²``. Truncation at a fixed rank r keeps
    a component below the threshold too: its signal is lost (``s²``) and a noise direction at the
    bulk edge is added (``σ²(√k + √N)²``); the two cases meet continuously at the threshold.
    Singular values beyond the r-th are lost (``s²``).

    Parameters
    ----------
    singular_values : array
        Nonzero singular values of Z* (any order).
    n, N, r : int
        Rows of X̃, output width, target rank.
    sigma : float
        Noise standard deviation.
    k : int, optional
        rank(X̃) (default n).
    correction : {"none", "dof", "dof+mp"}
        Finite-size correction: "none" is the limit above; "dof" takes ``σ²(k + N − r)`` per
        detected component (so r components at high SNR give the DoF count ``σ²r(k+N−r)``)
        and subtracts the same ``rσ²`` from each undetected one (continuity); "dof+mp" also
        replaces the bulk edge of the j-th noise component by the typical j-th largest squared
        singular value of a ``(k−m)×(N−m)`` noise matrix, m the detected count
        (:func:`marchenko_pastur_top`): with several undetected components the edge
        overestimates all but the first.
    """
    if correction not in ASYMPTOTIC_CORRECTIONS:
        raise ValueError(f"correction must be one of {ASYMPTOTIC_CORRECTIONS}, got {correction!r}")
    k = n if k is None else k
    s = np.sort(np.asarray(singular_values, dtype=float))[::-1]
    if np.any(s < 0):
        raise ValueError("singular_values must be >= 0")
    kept, lost = s[:r], s[r:]
    if sigma == 0:
        return float(np.sum(lost**2) / (n * N))
    shift = r * sigma**2 if correction != "none" else 0.0
    detected = kept[kept > bbp_threshold(k, N, sigma)]
    missed = kept[kept <= bbp_threshold(k, N, sigma)]
    m = detected.size
    total = np.sum(sigma**2 * (k + N) - shift + 3 * k * N * sigma**4 / detected**2)
    for j, s_j in enumerate(missed, start=1):
        if correction == "dof+mp":
            noise_sq = marchenko_pastur_top(k - m, N - m, j, sigma)
        else:
            noise_sq = sigma**2 * (np.sqrt(k) + np.sqrt(N)) ** 2 - shift
        total += s_j**2 + noise_sq
    return float((total + np.sum(lost**2)) / (n * N))


def thm31_columns(n, N, r, sigma, k):
    """The rate columns every model's rows carry: Theorem 3.1's bound and degrees-of-freedom
    prediction (k = rank X̃) and the square-root rate."""
    return {"rate_thm31": thm31_bound(n, N, r, sigma, k), "dof_thm31": thm31_dof(n, N, r, sigma, k),
            "rate_sqrt": sqrt_rate(n, N, r)}
