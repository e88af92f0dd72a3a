"""Model S (Theorem 3.1): exactly rank-r ground truth plus sub-Gaussian noise."""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import designs, proofs, rates
from ..linalg import ColumnSpace
from ..problem import Problem
from ..validation import check_int, check_rank, check_real


def check_sizes(n, d, N, r, sigma):
    """The sizes, rank and noise level every generator takes, validated."""
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    N = check_int("N", N, low=1)
    r = check_rank(r, max_rank=min(d, N), name="r")
    sigma = check_real("sigma", sigma, low=0.0)
    return n, d, N, r, sigma


def design_meta(n: int, d: int) -> dict:
    """``meta.regime`` and ``meta.k`` of a problem whose X̃ has shape (n, d)."""
    # Designs draw X̃ of full rank, so k = rank(X̃) = min(n, d).
    return {"regime": "d>=n" if d >= n else "d<n", "k": min(n, d)}


def pretrained_from(rng, X_tilde, Z_star, G, delta, *, col: ColumnSpace | None = None):
    """Pretrained side of Models S and A: ``X = X̃ + Δ``, ``W = X⁺(Z* + G)``, ``Y = XW``.

    When ``d ≥ n`` and X has full row rank, ``XW = Z* + G`` exactly; when ``d < n`` the
    observation is the projection ``P_X (Z* + G)`` and the effective noise is ``P_X G``.
    ``col``, the ColumnSpace of X̃ if the caller has it, is reused when X = X̃ (δ = 0):
    the factorization is deterministic, so W is bitwise the one from a fresh one.
    """
    n, d = X_tilde.shape
    X = designs.downstream(rng, X_tilde, delta)
    W = (col if col is not None and X is X_tilde else ColumnSpace(X)).weight(Z_star + G)
    Y = X @ W
    meta = {
        **design_meta(n, d),
        # What the estimator's target deviates from the truth by: ‖G‖_F when d ≥ n and
        # δ = 0, ‖P_X G‖_F when d < n, plus the downstream mismatch when δ > 0.
        "effective_noise_fro": float(np.linalg.norm(Y - Z_star)),
    }
    return X, W, Y, meta


def generate(rng, *, n, d, N, r, sigma, delta=0.0, design, noise, signal=1.0) -> Problem:
    """Draw ``X̃`` from ``design``, ``W* = A B / √(r d)`` (A, B Gaussian) scaled so that ``Z*``
    has entries of standard deviation ``signal``, and ``Y = X W`` with ``W = X⁺(Z* + G)``.

    Parameters
    ----------
    n, d, N : int
        Calibration samples, input width, output width.
    r : int
        Rank of ``W*``, ``1 <= r <= min(d, N)``.
    sigma : float
        Noise standard deviation, ``>= 0``.
    delta : float
        Relative size of the downstream perturbation ``X = X̃ + Δ`` (0: ``X = X̃``).
    signal : float
        Entry scale of ``Z*``; the signal-to-noise ratio is ``signal / sigma``.

    Returns
    -------
    Problem
        With ``noise`` (G), the proof chain of Theorem 3.1 for ``data_svd``
        (:func:`theory_check.proofs.thm31_chain`), ``spectrum`` (the r singular values of Z*)
        and ``meta.snr_min``, the smallest of them over the detection threshold ``(kN)^{1/4}σ`` (:func:`theory_check.rates.bbp_threshold`):
        below 1 a component is not detectable and the DoF count no longer predicts the MSE.
    """
    n, d, N, r, sigma = check_sizes(n, d, N, r, sigma)
    signal = check_real("signal", signal, low=0.0, low_open=True)

    X_tilde = design(rng, n, d)
    A = rng.standard_normal((d, r))
    B = rng.standard_normal((r, N))
    # ‖X̃‖_F² = nd, so Z* = X̃AB/√(rd) has entries of unit variance on average.
    W_star = signal * (A @ B) / np.sqrt(r * d)
    Z_star = X_tilde @ W_star
    G, bound = noise(rng, (n, N), sigma)
    # Made here, not in pretrained_from: the estimators and the proof chain reuse it.
    col = ColumnSpace(X_tilde)
    X, W, Y, meta = pretrained_from(rng, X_tilde, Z_star, G, delta, col=col)
    # Z* = (X̃A)(B)·c has rank r: its singular values from two thin QRs, without an n×N SVD.
    _, R_left = np.linalg.qr(X_tilde @ A)
    _, R_right = np.linalg.qr(B.T)
    spectrum = signal / np.sqrt(r * d) * np.linalg.svd(R_left @ R_right.T, compute_uv=False)
    with np.errstate(divide="ignore"):
        snr_min = spectrum[-1] / rates.bbp_threshold(meta["k"], N, sigma) if sigma > 0 else np.inf
    meta.update(noise_bound=bound, signal=signal, snr_min=float(snr_min))
    return Problem(X_tilde=X_tilde, X=X, Y=Y, W=W, W_star=W_star, Z_star=Z_star, meta=meta,
                   spectrum=spectrum, rates=rates.thm31_columns(n, N, r, sigma, meta["k"]),
                   noise=G, proofs={"data_svd": partial(proofs.thm31_chain, r=r, sigma=sigma)},
                   column_spaces={None: col})
