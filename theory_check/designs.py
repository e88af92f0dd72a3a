"""Designs of the compressed-network inputs ``X̃`` (n, d) and of the downstream perturbation.

Every design is a function ``design(rng, n, d, **params) -> X_tilde`` with ``X_tilde`` of
shape (n, d) and full rank ``min(n, d)``; a Hydra config in ``conf/design/`` names it with
``_target_`` and its parameters, so a new design is one function plus one YAML file.
"""

from __future__ import annotations

import numpy as np

from .validation import check_int, check_real


def orthonormal(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """Haar-distributed m×k matrix with orthonormal columns (QR of a Gaussian, signs fixed)."""
    Q, R = np.linalg.qr(rng.standard_normal((m, k)))
    return Q * np.sign(np.diag(R))


def _with_singular_values(rng, n: int, d: int, s: np.ndarray) -> np.ndarray:
    k = min(n, d)
    U = orthonormal(rng, n, k)
    V = orthonormal(rng, d, k)
    # Scaled so that ‖X̃‖_F² = n d, the same energy as an isotropic Gaussian design.
    s = s * np.sqrt(n * d / np.sum(s**2))
    return (U * s) @ V.T


def isotropic(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """I.i.d. standard Gaussian entries."""
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    return rng.standard_normal((n, d))


def condition_number(rng: np.random.Generator, n: int, d: int, *, kappa: float = 10.0) -> np.ndarray:
    """Random singular vectors, singular values log-spaced from ``kappa`` down to 1."""
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    kappa = check_real("design.kappa", kappa, low=1.0)
    s = np.logspace(np.log10(kappa), 0.0, min(n, d))
    return _with_singular_values(rng, n, d, s)


def power_law(rng: np.random.Generator, n: int, d: int, *, decay: float = 1.0) -> np.ndarray:
    """Random singular vectors, singular values ``s_i ∝ i^(-decay)`` as in trained activations."""
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    decay = check_real("design.decay", decay, low=0.0)
    s = np.arange(1, min(n, d) + 1, dtype=float) ** (-decay)
    return _with_singular_values(rng, n, d, s)


def downstream(rng: np.random.Generator, X_tilde: np.ndarray, delta: float) -> np.ndarray:
    """Pretrained inputs ``X = X̃ + Δ`` with ``‖Δ‖_F = delta · ‖X̃‖_F``, Δ Gaussian and independent.

    ``delta = 0`` returns ``X̃`` itself (a first layer).
    """
    delta = check_real("delta", delta, low=0.0)
    if delta == 0.0:
        return X_tilde
    Delta = rng.standard_normal(X_tilde.shape)
    return X_tilde + delta * np.linalg.norm(X_tilde) / np.linalg.norm(Delta) * Delta
