"""The simulated compression problem every generator returns and every estimator consumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .linalg import ColumnSpace


@dataclass(frozen=True)
class Problem:
    """One layer's calibration data and its ground truth.

    Attributes
    ----------
    X_tilde : ndarray of shape (n, d)
        Inputs of the layer in the compressed network.
    X : ndarray of shape (n, d)
        Inputs of the layer in the pretrained network (``X = X_tilde`` for a first layer).
    Y : ndarray of shape (n, N)
        Observations: the pretrained pre-activations ``XW`` (Models S and A) or the observed
        activations ``ReLU(Z* + G)`` (Model R).
    W : ndarray of shape (d, N)
        Pretrained weight, ``W = X⁺Y`` (least squares when ``d < n``).
    W_star : ndarray of shape (d, N)
        Ground-truth weight of the compressed model.
    Z_star : ndarray of shape (n, N)
        Ground-truth pre-activations ``X_tilde @ W_star``.
    meta : dict
        Scalars describing the instance (regime, noise bound, norms of ``Z*`` ...); every
        entry becomes a column ``meta.<key>`` of the results table.
    rates : dict of str to float
        The predicted rates and reference predictions that apply to this instance, by column
        name (``rate_thm44``, ``dof_thm31`` ...): the generator declares which theorems cover
        what it drew (:mod:`theory_check.rates`); each becomes a column of its rows, the column
        a figure's ``rate:`` or ``reference:`` names.
    metrics : dict of str to callable
        Error measures beyond ``mse`` and ``rel_error`` that apply to this instance, by column
        name: ``metric(Z_hat, Z_star) -> float`` (e.g. ``mse_relu`` for ReLU observations).
    spectrum : ndarray, optional
        Nonzero singular values of ``Z_star`` when the generator knows them (Model S), for
        references that need the whole spectrum (:func:`theory_check.rates.thm31_asymptotic`);
        not a column.
    noise : ndarray of shape (n, N), optional
        The noise G as drawn (before any projection onto col(X)): the proof chains need it
        where Y does not reveal it (Model R, whose censored entries hide G). Not a column.
    proofs : dict of str to callable
        The proof chain of the theorem this draw satisfies, by the name of the theorem's own
        estimator (``data_svd``, ``convex_linear``, ``relu_mle``):
        ``chain(problem, Z_hat, info) -> dict`` of the ``proof.<key>`` columns of that
        estimator's rows (:mod:`theory_check.proofs`, evaluated by
        :func:`theory_check.proofs.columns`).
    column_spaces : dict, optional
        Factorizations of X̃ the generator already made, ``{rcond: ColumnSpace}`` (``None``
        for the default cut); :meth:`column_space` serves them and caches the ones it makes.
        Not a column.
    """

    X_tilde: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    W: np.ndarray
    W_star: np.ndarray
    Z_star: np.ndarray
    meta: dict = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]] = field(default_factory=dict)
    spectrum: np.ndarray | None = None
    noise: np.ndarray | None = None
    proofs: dict[str, Callable[..., dict]] = field(default_factory=dict)
    column_spaces: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        # A problem of its own dict, without factorizations of another X̃: dataclasses.replace
        # (e.g. the problem in rotated bases) hands the new problem the old one's dict.
        own = {rcond: col for rcond, col in self.column_spaces.items()
               if col.source is self.X_tilde}
        object.__setattr__(self, "column_spaces", own)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n, d, N)``."""
        n, d = self.X_tilde.shape
        return n, d, self.W_star.shape[1]

    def column_space(self, rcond: float | None = None) -> ColumnSpace:
        """The :class:`~theory_check.linalg.ColumnSpace` of X̃ with rank cut ``rcond``, made
        once per problem: the generator, every estimator of a run and the proof chains solve
        with the same X̃, and at n = d = 2048 each factorization of it cost about a fifth of a
        full SVD (one BLAS thread). Cached by ``rcond``; the arrays are never written to."""
        if rcond not in self.column_spaces:
            self.column_spaces[rcond] = ColumnSpace(self.X_tilde, rcond=rcond)
        return self.column_spaces[rcond]
