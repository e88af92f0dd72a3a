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


def thm31_columns(n, N, r, sigma, k):
    """The rate columns every model's rows carry: Theorem 3.1's bound and degrees-of-freedom
    prediction (k = rank X̃) and the square-root rate."""
    return {"rate_thm31": thm31_bound(n, N, r, sigma, k), "dof_thm31": thm31_dof(n, N, r, sigma, k),
            "rate_sqrt": sqrt_rate(n, N, r)}
