"""Model A (Theorem 4.4, Corollary 4.7): approximately rank-r ground truth, bounded noise.

Three generators of ``Z* = X̃W* ∈ K(α, r) = {‖M‖_* <= α√(rnN), ‖M‖_∞ <= α}``:

* :func:`low_rank` — exactly rank r, scaled so that ``‖Z*‖_∞ = α`` (then ``‖Z*‖_* <=
  √r‖Z*‖_F <= α√(rnN)``, so it is in K for every draw, well inside the nuclear ball);
* :func:`power_law` — singular values ``s_i ∝ i^(−gamma)``, scaled so that ``‖Z*‖_∞ = α``;
* :func:`hadamard` — the hard family of THEORY.md, ``c·(S ⊗ 1)`` with ``‖Z*‖_* = α√(rnN)``
  and its q equal singular values at the noise level, on which the square-root rate is tight.

Column space. Z* must equal X̃W*. When ``d >= n`` (X̃ of full row rank) every Z* does, and
``W* = X̃⁺Z*``. When ``d < n``, col(X̃) is a d-dimensional subspace of R^n: the low-rank and
power-law generators draw Z* inside it (``Z* = X̃AB`` and ``Z* = U_X C`` with U_X an orthonormal
basis of col(X̃)), so their definitions carry over with ``k = d`` in place of n for the spectrum.
The Hadamard pattern cannot lie in a random col(X̃) of dimension d < n, so :func:`hadamard`
requires ``d >= n``.

Every generator records ``meta.alpha`` (α of K), ``meta.noise_bound`` (β), ``meta.r_eff`` =
‖Z*‖_*²/(‖Z*‖_∞² nN), ``meta.z_inf`` and ``meta.z_nuc``, and checks ``Z* ∈ K`` before returning;
its problem keeps the noise G and declares Theorem 4.4's proof chain for ``convex_linear``
(:func:`theory_check.proofs.thm44_chain`).

Each generator is its noiseless ground-truth draw (``low_rank_truth``, ``power_law_truth``,
``hadamard_truth``: X̃, W*, Z* and the records, as a :class:`Truth`; Model R observes these
through ReLU) followed by the noise and the pretrained side. A draw that solves for W* keeps
the factorization of X̃ (its ``ColumnSpace``) for the later solves with X̃: one QR per problem.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
import scipy.linalg

from .. import proofs, rates
from ..designs import orthonormal
from ..linalg import ColumnSpace, nuclear_norm
from ..problem import Problem
from ..validation import check_int, check_real
from .strong import check_sizes, pretrained_from

#: Relative slack of the membership check ``Z* ∈ K`` (Z* = X̃W* is recomputed in floating point).
MEMBERSHIP_RTOL = 1e-9


class Truth(NamedTuple):
    """A drawn ground truth of a Model-A family, checked in K(α, r): ``col`` is the
    :class:`~theory_check.linalg.ColumnSpace` of X̃ when the draw factored X̃ (None
    otherwise), so that later solves with X̃ reuse it; ``meta`` holds α, ‖Z*‖_∞, ‖Z*‖_*,
    r_eff and the family's own records; ``r`` and ``sigma`` are the checked arguments."""

    X_tilde: np.ndarray
    W_star: np.ndarray
    Z_star: np.ndarray
    col: ColumnSpace | None
    meta: dict
    r: int
    sigma: float


def _truth(X_tilde, W_star, col=None, *, alpha, r, sigma, rank=None, **extra) -> Truth:
    """``Z* = X̃W*``, checked in K(α, r), with its norms recorded; ``rank``: the rank of Z* by
    construction, when the family knows it (then ‖Z*‖_* costs no full spectrum at large sizes:
    :func:`~theory_check.linalg.nuclear_norm`, an upper bound within 1e-11 of it)."""
    n, N = X_tilde.shape[0], W_star.shape[1]
    Z_star = X_tilde @ W_star
    z_inf = float(np.abs(Z_star).max())
    z_nuc = nuclear_norm(Z_star, rank)
    radius = alpha * np.sqrt(r * n * N)
    if z_inf > alpha * (1 + MEMBERSHIP_RTOL) or z_nuc > radius * (1 + MEMBERSHIP_RTOL):
        raise ValueError(
            f"Z* is not in K(alpha={alpha}, r={r}): ‖Z*‖_∞ = {z_inf:.4g} (bound {alpha:.4g}), "
            f"‖Z*‖_* = {z_nuc:.4g} (bound α√(rnN) = {radius:.4g}); increase r")
    meta = dict(alpha=alpha, z_inf=z_inf, z_nuc=z_nuc,
                r_eff=z_nuc**2 / (z_inf**2 * n * N) if z_inf > 0 else 0.0, **extra)
    return Truth(X_tilde, W_star, Z_star, col, meta, r, sigma)


def _finish(rng, truth: Truth, *, delta, noise) -> Problem:
    """Add the noise and the pretrained side to a drawn truth."""
    X_tilde, W_star, Z_star, r, sigma = (truth.X_tilde, truth.W_star, truth.Z_star, truth.r,
                                         truth.sigma)
    n, N = Z_star.shape
    alpha = truth.meta["alpha"]
    G, bound = noise(rng, (n, N), sigma)
    # Made here when the draw did not: the estimators and the proof chain reuse it.
    col = ColumnSpace(X_tilde) if truth.col is None else truth.col
    X, W, Y, meta = pretrained_from(rng, X_tilde, Z_star, G, delta, col=col)
    meta.update(alpha=alpha, noise_bound=bound)
    meta.update(truth.meta)
    predicted = rates.thm31_columns(n, N, r, sigma, meta["k"])
    if np.isfinite(bound):  # Theorem 4.4 needs bounded noise, β = max |G_ij|
        predicted["rate_thm44"] = rates.thm44_bound(n, N, r, alpha, bound)
    chain = partial(proofs.thm44_chain, alpha=alpha, r=r, beta=bound)
    return Problem(X_tilde=X_tilde, X=X, Y=Y, W=W, W_star=W_star, Z_star=Z_star, meta=meta,
                   rates=predicted, noise=G, proofs={"convex_linear": chain},
                   column_spaces={None: col})


def low_rank(rng, *, n, d, N, r, sigma, delta=0.0, design, noise, alpha=1.0) -> Problem:
    """Exactly rank-r ``Z* = X̃AB`` (A (d, r), B (r, N) Gaussian) scaled so ``‖Z*‖_∞ = alpha``.

    Parameters
    ----------
    n, d, N : int
        Calibration samples, input width, output width.
    r : int
        Rank of Z* and rank parameter of K, ``1 <= r <= min(d, N)``.
    sigma : float, ``>= 0``
        Noise standard deviation (the bound β follows from the noise law).
    delta : float, ``>= 0``
        Downstream perturbation ``X = X̃ + Δ``, ``‖Δ‖_F = delta·‖X̃‖_F`` (Corollary 4.7).
    design, noise : callables
        ``design(rng, n, d)`` and ``noise(rng, shape, sigma)``.
    alpha : float, ``> 0``
        Entry bound of K, attained by Z*.

    Returns
    -------
    Problem
        With ``meta.alpha``, ``meta.noise_bound``, ``meta.r_eff``, ``meta.z_inf``, ``meta.z_nuc``.
    """
    truth = low_rank_truth(rng, n=n, d=d, N=N, r=r, sigma=sigma, design=design, alpha=alpha)
    return _finish(rng, truth, delta=delta, noise=noise)


def low_rank_truth(rng, *, n, d, N, r, sigma, design, alpha=1.0) -> Truth:
    """The ground truth of :func:`low_rank` alone (its arguments), without noise."""
    n, d, N, r, sigma = check_sizes(n, d, N, r, sigma)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    X_tilde = design(rng, n, d)
    W_star = rng.standard_normal((d, r)) @ rng.standard_normal((r, N))
    W_star *= alpha / np.abs(X_tilde @ W_star).max()
    return _truth(X_tilde, W_star, alpha=alpha, r=r, sigma=sigma, rank=r)


def power_law(rng, *, n, d, N, r, sigma, delta=0.0, design, noise, alpha=1.0,
              gamma=1.0) -> Problem:
    """Z* with singular values ``s_i ∝ i^(−gamma)``, i = 1…min(k, N), Haar singular vectors
    inside col(X̃) (k = min(n, d)), scaled so that ``‖Z*‖_∞ = alpha``.

    Its effective rank ``r_eff`` (recorded) must not exceed r; a flat spectrum (small gamma)
    with small r is refused with a ``ValueError``.

    Parameters
    ----------
    n, d, N, r, sigma, delta, design, noise, alpha
        As in :func:`low_rank`; r is the rank parameter of K (Z* has full rank).
    gamma : float, ``>= 0``
        Decay exponent of the spectrum.

    Returns
    -------
    Problem
    """
    truth = power_law_truth(rng, n=n, d=d, N=N, r=r, sigma=sigma, design=design, alpha=alpha,
                            gamma=gamma)
    return _finish(rng, truth, delta=delta, noise=noise)


def power_law_truth(rng, *, n, d, N, r, sigma, design, alpha=1.0, gamma=1.0) -> Truth:
    """The ground truth of :func:`power_law` alone (its arguments), without noise."""
    n, d, N, r, sigma = check_sizes(n, d, N, r, sigma)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    gamma = check_real("gamma", gamma, low=0.0)
    X_tilde = design(rng, n, d)
    # Haar singular vectors inside col(X̃) in any orthonormal frame F of it are Haar there
    # (F·O is Haar for O Haar): the frame of X̃'s QR serves, none when it is all of R^n. (A
    # full SVD of X̃ made it until issue 23: 5 s at n = d = 2048, other draws of the same law.)
    col = ColumnSpace(X_tilde)
    k = n if col.frame is None else col.frame.shape[1]
    m = min(k, N)
    s = np.arange(1, m + 1, dtype=float) ** (-gamma)
    Z = (orthonormal(rng, k, m) * s) @ orthonormal(rng, N, m).T
    if col.frame is not None:
        Z = col.frame @ Z
    Z *= alpha / np.abs(Z).max()
    return _truth(X_tilde, col.weight(Z), col, alpha=alpha, r=r, sigma=sigma, gamma=gamma)


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % f for f in range(2, int(p**0.5) + 1))


def _paley_order(q: int):
    """The odd factor's construction of order q = 2^a·(p + 1), p a prime ≡ 3 (mod 4), as
    ``(2^a, p)``; ``(q, None)`` for a power of two; None when neither applies."""
    a = 1
    while q % (2 * a) == 0:
        a *= 2
    if q == a:
        return a, None
    for two in (a // 2 ** j for j in range(a.bit_length())):
        p = q // two - 1
        if q % two == 0 and p % 4 == 3 and _is_prime(p):
            return two, p
    return None


def hadamard_matrix(q: int) -> np.ndarray:
    """A q×q ±1 matrix S with ``S Sᵀ = q I``, for q a power of two (Sylvester,
    ``scipy.linalg.hadamard``) or ``2^a·(p + 1)`` with p a prime ≡ 3 (mod 4) (Paley's first
    construction, then Kronecker with Sylvester): orders 1, 2, 4, 8, 12, 16, 20, 24, 32, 40, 44, 48, ...

    Raises ``ValueError`` for other orders."""
    q = check_int("q", q, low=1)
    order = _paley_order(q)
    if order is None:
        raise ValueError(f"no Hadamard construction here for order q = {q}: q must be a power "
                         "of two or 2^a·(p + 1) with p a prime ≡ 3 (mod 4)")
    two, p = order
    if p is None:
        return scipy.linalg.hadamard(q).astype(float)
    # Jacobsthal matrix Q_ij = χ(j − i), χ the quadratic character mod p; with p ≡ 3 (mod 4),
    # [[1, 1ᵀ], [−1, Q + I]] has orthogonal rows (Paley 1933).
    squares = np.zeros(p, dtype=bool)
    squares[(np.arange(1, p) ** 2) % p] = True
    chi = np.where(squares, 1.0, -1.0)
    chi[0] = 0.0
    idx = np.arange(p)
    core = chi[(idx[None, :] - idx[:, None]) % p] + np.eye(p)
    paley = np.block([[np.ones((1, 1)), np.ones((1, p))], [-np.ones((p, 1)), core]])
    return np.kron(scipy.linalg.hadamard(two).astype(float), paley)


def _block_orders(n, N, r):
    """Orders q with a Hadamard matrix (:func:`hadamard_matrix`) dividing n and N, r <= q <= min(n, N)."""
    return [q for q in range(max(r, 1), min(n, N) + 1)
            if n % q == 0 and N % q == 0 and _paley_order(q) is not None]


def hadamard(rng, *, n, d, N, r, sigma, delta=0.0, design, noise, alpha=1.0,
             q=None) -> Problem:
    """The hard family: ``Z* = c·(S ⊗ 1_{(n/q)×(N/q)})``, S a q×q ±1 Hadamard matrix
    (:func:`hadamard_matrix`) with rows and columns randomly permuted, ``c = alpha·√(r/q)`` so
    ``‖Z*‖_* = α√(rnN)`` and ``‖Z*‖_∞ = c <= α``.

    Z* has q equal singular values ``c√(nN/q)``; they equal the noise level ``sigma·(√n + √N)``
    at ``q* = α√(rnN)/(sigma(√n + √N))``. By default q = q* when q* is an order with a Hadamard
    matrix dividing n and N, with ``r <= q <= min(n, N)`` (e.g. n = N = 2q², r = 2, α = σ = 1);
    otherwise the nearest such order in log scale, and the block singular values sit at
    ``q*/q`` times the noise level (recorded: ``meta.block_level``). Requires ``d >= n`` (the
    pattern cannot lie in a random col(X̃) of dimension d < n).

    Parameters
    ----------
    n, d, N, r, sigma, delta, design, noise, alpha
        As in :func:`low_rank`; r is the rank parameter of K.
    q : int, optional
        Size of the Hadamard matrix: an order of :func:`hadamard_matrix` dividing n and N with
        ``r <= q``.

    Returns
    -------
    Problem
        ``meta.q``, ``meta.q_target`` (q*) and ``meta.block_level`` (= q*/q, 1 when exact) are
        recorded too.
    """
    truth = hadamard_truth(rng, n=n, d=d, N=N, r=r, sigma=sigma, design=design, alpha=alpha,
                           q=q)
    return _finish(rng, truth, delta=delta, noise=noise)


def hadamard_truth(rng, *, n, d, N, r, sigma, design, alpha=1.0, q=None) -> Truth:
    """The ground truth of :func:`hadamard` alone (its arguments), without noise."""
    n, d, N, r, sigma = check_sizes(n, d, N, r, sigma)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    if d < n:
        raise ValueError(f"d must be >= n for the Hadamard family (its pattern must lie in "
                         f"col(X̃)), got d = {d} < n = {n}")
    allowed = _block_orders(n, N, r)
    noise_level = sigma * (np.sqrt(n) + np.sqrt(N))
    # A vanishing noise level puts q* beyond every allowed q: the largest is chosen.
    with np.errstate(over="ignore", divide="ignore"):
        q_target = alpha * np.sqrt(r * n * N) / noise_level if noise_level > 0 else np.inf
    if q is None:
        if not allowed:
            raise ValueError(f"r must be <= the largest Hadamard order dividing n = {n} and "
                             f"N = {N} (c = α√(r/q) <= α needs q >= r), got r = {r}")
        q = (min(allowed, key=lambda p: abs(np.log(p) - np.log(q_target)))
             if np.isfinite(q_target) else allowed[-1])
    else:
        q = check_int("q", q, low=1)
        if q not in allowed:
            raise ValueError(f"q must be a Hadamard order (a power of two or 2^a·(p + 1), "
                             f"p prime ≡ 3 mod 4) dividing n and N with r <= q <= min(n, N), "
                             f"i.e. one of {allowed}, got {q}")
    X_tilde = design(rng, n, d)
    S = hadamard_matrix(q)[rng.permutation(q)][:, rng.permutation(q)]
    Z = alpha * np.sqrt(r / q) * np.kron(S, np.ones((n // q, N // q)))
    col = ColumnSpace(X_tilde)
    return _truth(X_tilde, col.weight(Z), col, alpha=alpha, r=r, sigma=sigma, rank=q, q=q,
                  q_target=float(q_target), block_level=float(q_target / q))
