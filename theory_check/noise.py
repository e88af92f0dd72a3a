"""Noise distributions, all parametrized by their standard deviation σ.

Every noise is a function ``noise(rng, shape, sigma) -> (G, bound)`` with ``G`` of the given
shape, i.i.d. zero-mean entries of variance σ², and ``bound`` the largest possible |G_ij|
(``inf`` when unbounded): Theorem 4.4's β. The one exception is Student-t with at most 2 degrees
of freedom, whose variance is infinite: there σ is the scale parameter.

Every noise declares its tails (``law.tails(**params) -> Tails``), from which
:func:`assumption` says whether it satisfies a theorem's noise assumption: sub-Gaussian for
Theorem 3.1, bounded for Theorem 4.4, Gaussian for Theorem 4.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_real


@dataclass(frozen=True)
class Tails:
    """What a noise law's tails satisfy; ``label`` names the law in assumption labels."""

    label: str
    bounded: bool
    sub_gaussian: bool
    gaussian: bool
    finite_variance: bool = True


def _declares(tails):
    """Attach ``tails(**params) -> Tails`` to a noise function."""
    def attach(fn):
        fn.tails = tails
        return fn
    return attach


@_declares(lambda: Tails("Gaussian", bounded=False, sub_gaussian=True, gaussian=True))
def gaussian(rng: np.random.Generator, shape, sigma: float):
    sigma = check_real("sigma", sigma, low=0.0)
    return sigma * rng.standard_normal(shape), float("inf")


@_declares(lambda: Tails("Rademacher", bounded=True, sub_gaussian=True, gaussian=False))
def rademacher(rng: np.random.Generator, shape, sigma: float):
    """±σ with equal probability: bounded by β = σ."""
    sigma = check_real("sigma", sigma, low=0.0)
    return sigma * (2.0 * rng.integers(0, 2, size=shape) - 1.0), sigma


@_declares(lambda: Tails("uniform", bounded=True, sub_gaussian=True, gaussian=False))
def uniform(rng: np.random.Generator, shape, sigma: float):
    """Uniform on [−√3σ, √3σ] (variance σ²): bounded by β = √3σ."""
    sigma = check_real("sigma", sigma, low=0.0)
    beta = np.sqrt(3.0) * sigma
    return rng.uniform(-beta, beta, size=shape), beta


@_declares(lambda: Tails("Laplace", bounded=False, sub_gaussian=False, gaussian=False))
def laplace(rng: np.random.Generator, shape, sigma: float):
    """Laplace with scale σ/√2 (variance σ²): exponential tails, sub-exponential but not
    sub-Gaussian."""
    sigma = check_real("sigma", sigma, low=0.0)
    return rng.laplace(0.0, sigma / np.sqrt(2.0), size=shape), float("inf")


@_declares(lambda dof: Tails(f"t, {dof:g} dof", bounded=False, sub_gaussian=False,
                             gaussian=False, finite_variance=dof > 2))
def student_t(rng: np.random.Generator, shape, sigma: float, *, dof: float):
    """Student-t with ``dof`` degrees of freedom: polynomial tails, moments of order < dof.

    For ``dof > 2`` scaled to variance σ² (scale σ√((dof − 2)/dof)); for ``dof <= 2`` the
    variance is infinite and σ is the scale parameter (the t variable times σ).
    """
    sigma = check_real("sigma", sigma, low=0.0)
    dof = check_real("noise.dof", dof, low=0.0, low_open=True)
    scale = sigma * np.sqrt((dof - 2.0) / dof) if dof > 2 else sigma
    return scale * rng.standard_t(dof, size=shape), float("inf")


#: Each theorem's noise assumption, as the ``Tails`` field that must hold, and its wording.
ASSUMPTIONS = {"3.1": ("sub_gaussian", "not sub-Gaussian"),
               "4.4": ("bounded", "unbounded"),
               "4.9": ("gaussian", "not Gaussian")}


def tails(law) -> Tails:
    """The tails of a noise function or of a ``functools.partial`` binding its parameters."""
    fn, params = getattr(law, "func", law), getattr(law, "keywords", {}) or {}
    if not hasattr(fn, "tails"):
        raise ValueError(f"noise {getattr(fn, '__name__', fn)!r} does not declare its tails "
                         "(theory_check.noise: decorate it with _declares)")
    return fn.tails(**params)


def assumption(theorem, law) -> str:
    """``"within"`` when ``law`` satisfies ``theorem``'s noise assumption, else ``"outside: "``
    and why, e.g. ``"outside: heavy tails (t, 3 dof)"``; ``""`` for a theorem without one, and
    ``"unknown: ..."`` for a law that does not declare its tails."""
    if str(theorem) not in ASSUMPTIONS:
        return ""
    if not hasattr(getattr(law, "func", law), "tails"):  # a plug-in written before the contract
        return "unknown: the noise law does not declare its tails"
    field, unmet = ASSUMPTIONS[str(theorem)]
    t = tails(law)
    if getattr(t, field):
        return "within"
    why = "heavy tails" if not t.sub_gaussian else unmet
    detail = t.label + ("" if t.finite_variance else ", infinite variance")
    return f"outside: {why} ({detail})"
