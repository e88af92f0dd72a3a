"""Noise distributions, all parametrized by their standard deviation σ.

Every noise is a function ``noise(rng, shape, sigma) -> (G, bound)`` with ``G`` of the given
shape, i.i.d. zero-mean entries of variance σ², and ``bound`` the largest possible |G_ij|
(``inf`` when unbounded): Theorem 4.4's β.
"""

from __future__ import annotations

import numpy as np

from .validation import check_real


def gaussian(rng: np.random.Generator, shape, sigma: float):
    sigma = check_real("sigma", sigma, low=0.0)
    return sigma * rng.standard_normal(shape), float("inf")


def rademacher(rng: np.random.Generator, shape, sigma: float):
    """±σ with equal probability: bounded by β = σ."""
    sigma = check_real("sigma", sigma, low=0.0)
    return sigma * (2.0 * rng.integers(0, 2, size=shape) - 1.0), sigma


def uniform(rng: np.random.Generator, shape, sigma: float):
    """Uniform on [−√3σ, √3σ] (variance σ²): bounded by β = √3σ."""
    sigma = check_real("sigma", sigma, low=0.0)
    beta = np.sqrt(3.0) * sigma
    return rng.uniform(-beta, beta, size=shape), beta
