"""Model R (Theorem 4.9): ``Z* = X̃W* ∈ K(α, r)`` from a Model-A family, observed through ReLU.

``Y = ReLU(Z* + G)`` with G i.i.d. N(0, σ²). The ground truth (X̃, W*, Z*, and the Model-A
records α, r_eff, ‖Z*‖_∞, ‖Z*‖_*) comes from the noiseless draw of a generator of
:mod:`theory_check.models.approx` (``family``: low_rank, power_law or hadamard), so the three
Model-A families carry over unchanged; the noise and the observation are Model R's own.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import noise as noise_laws
from .. import proofs, rates
from ..metrics import relu_mse
from ..linalg import ColumnSpace
from ..problem import Problem
from ..validation import check_choice, check_real
from . import approx
from .strong import design_meta

#: The Model-A families by name, as their noiseless ground-truth draws.
FAMILIES = {"low_rank": approx.low_rank_truth, "power_law": approx.power_law_truth,
            "hadamard": approx.hadamard_truth}


def generate(rng, *, n, d, N, r, sigma, delta=0.0, design, noise, family="low_rank",
             alpha=1.0, **params) -> Problem:
    """Draw ``Z* ∈ K(α, r)`` from a Model-A family and observe ``Y = ReLU(Z* + G)``.

    Parameters
    ----------
    n, d, N : int
        Calibration samples, input width, output width.
    r : int
        Rank parameter of K (rank of Z* for the low_rank family), ``1 <= r <= min(d, N)``.
    sigma : float, ``> 0``
        Standard deviation of the Gaussian noise G.
    delta : float
        Must be 0: the observations are the activations themselves, there is no pretrained
        X ≠ X̃ in Model R.
    design : callable
        ``design(rng, n, d)`` drawing X̃.
    noise : callable
        Must be :func:`theory_check.noise.gaussian` (Theorem 4.9 is about Gaussian noise).
    family : {"low_rank", "power_law", "hadamard"}
        Model-A generator of Z* (see :mod:`theory_check.models.approx`).
    alpha : float, ``> 0``
        Entry bound of K, attained by ‖Z*‖_∞.
    **params
        Further parameters of the family (``gamma`` for power_law, ``q`` for hadamard).

    Returns
    -------
    Problem
        ``X = X̃``, ``Y = ReLU(Z* + G)``, ``W = X̃⁺Y``; ``meta`` holds ``observation = "relu"``,
        ``alpha``, ``sigma``, ``zero_fraction`` (fraction of censored entries of Y),
        ``family``, ``noise_bound = inf`` and the family's records (``r_eff``, ``z_inf``,
        ``z_nuc``, ...); ``noise`` (G) and Theorem 4.9's proof chain for ``relu_mle``
        (:func:`theory_check.proofs.thm49_chain`).
    """
    family = check_choice("family", family, FAMILIES)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    delta = check_real("delta", delta, low=0.0)
    if delta != 0.0:
        raise ValueError(f"delta must be 0 for Model R (the activations are observed directly, "
                         f"X = X̃), got {delta}")
    if getattr(noise, "func", noise) is not noise_laws.gaussian:
        raise ValueError("Model R needs Gaussian noise (noise=gaussian): Theorem 4.9's "
                         f"likelihood is the censored Gaussian one, got {noise!r}")
    truth = FAMILIES[family](rng, n=n, d=d, N=N, r=r, sigma=sigma, design=design,
                             alpha=alpha, **params)
    G, bound = noise(rng, truth.Z_star.shape, sigma)
    Y = np.maximum(truth.Z_star + G, 0.0)
    X_tilde = truth.X_tilde
    (n, d), N = X_tilde.shape, Y.shape[1]
    # The key order of Model A's records (the pretrained side's first), then Model R's own.
    meta = {**design_meta(n, d), "alpha": truth.meta["alpha"], "noise_bound": 0.0,
            **truth.meta}
    meta.update(observation="relu", sigma=sigma, noise_bound=bound, family=family,
                zero_fraction=float(np.mean(Y == 0.0)))
    predicted = {**rates.thm31_columns(n, N, r, sigma, meta["k"]),
                 "rate_thm49": rates.thm49_bound(n, N, r, truth.meta["alpha"], sigma)}
    chain = partial(proofs.thm49_chain, alpha=truth.meta["alpha"], r=r, sigma=sigma)
    col = truth.col if truth.col is not None else ColumnSpace(X_tilde)
    return Problem(X_tilde=X_tilde, X=X_tilde, Y=Y, W=col.weight(Y), W_star=truth.W_star,
                   Z_star=truth.Z_star, meta=meta, rates=predicted,
                   metrics={"mse_relu": relu_mse}, noise=G, proofs={"relu_mle": chain},
                   column_spaces={None: col})
