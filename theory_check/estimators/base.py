"""What every estimator plug-in returns, and the interface it implements.

A plug-in is a small class whose constructor takes its hyper-parameters (from
``conf/estimator/<name>.yaml`` via Hydra's ``_target_``) and whose call maps a
:class:`~theory_check.problem.Problem` and a target rank to an :class:`Estimate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..problem import Problem


@dataclass
class Estimate:
    """An estimated weight and how it was obtained.

    Attributes
    ----------
    W_hat : ndarray of shape (d, N)
    info : dict
        Solver facts that become columns: ``solver``, ``iterations``, ``certificate``
        (a residual or duality gap; 0.0 for closed forms up to rounding), ``converged``.
    """

    W_hat: np.ndarray
    info: dict = field(default_factory=dict)


class Estimator:
    """Base class of estimator plug-ins; the results name a row's estimator by its config
    (``conf/estimator/<name>.yaml``)."""

    def __call__(self, problem: Problem, r: int) -> Estimate:  # pragma: no cover - interface
        raise NotImplementedError


CLOSED_FORM = {"solver": "closed_form", "iterations": 0, "certificate": 0.0, "converged": True}
