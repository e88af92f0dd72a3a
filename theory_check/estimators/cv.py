"""K-fold cross-validation over calibration rows: the data-driven α and rank of the estimators.

The rows of (X̃, Y) are split into ``folds`` parts by a permutation drawn from ``seed`` (an int
or a ``numpy.random.Generator``; no global state). For each candidate value (an α, a rank, or
a pair), the estimator is fitted on all rows but one part and scored on the held-out part's
prediction ``X̃_test Ŵ``; the candidate with the lowest score summed over the parts is chosen
(the first of the grid on a tie), and the estimator is refitted on all rows with it.

Scores (mean over the held-out entries):

* linear observations ``Y = XW``: squared error ``(X̃_test Ŵ − Y_test)²``;
* ReLU observations: by default the Tobit negative log-likelihood of the held-out activations
  (the estimator's own objective, a proper scoring rule for the censored-Gaussian model): it
  still tells candidates apart where the prediction is negative and Y = 0, where the
  post-activation error ``(ReLU(X̃_test Ŵ) − Y_test)²`` (``score="post_activation"``) is flat
  and so cannot see how far below zero the pre-activations are, which the MSE measures.

Held-out rows predict only through W, so what cross-validation can see depends on the regime
(measured in the misspecification sweeps, ``experiments/misspecification.yaml``):

* d >= n (every default sweep): the training rows do not span R^d, a held-out row is predicted
  through its projection on their span only; this works where W* itself is structured (an
  exactly low-rank W*), but on the hard family W* = X̃⁻¹Z* carries no structure from row to
  row, the held-out rows are unpredictable, and cross-validation prefers the smallest α
  (an estimate near 0);
* d < n with ``Y = XW`` (Models S and A): Y lies exactly in col(X), so the unconstrained fit on
  the training rows predicts the held-out ones without error and cross-validation always
  chooses the loosest candidate: it is uninformative there.

``info["cv_identifiable"]`` records whether every training part had full column rank d, and
``info["cv_uninformative"]`` the second case (identifiable, and Y in col(X̃) to 1e-8).
"""

from __future__ import annotations

import json
import numbers

import numpy as np
from scipy.special import log_ndtr

from ..linalg import scale_exponent
from ..problem import Problem
from ..validation import check_int, check_real, check_vector

#: Default α grid, relative to max|Y|: 2^0 … 2^-7, from the loosest K down, so that each fit
#: is warm-started from the previous one's (the small α take the most iterations). At
#: α >= max|Y| the entry bound is inactive and the estimate is (nearly) the unconstrained fit,
#: so larger values add nothing; on exactly low-rank truths the best α sits far below the true
#: ‖Z*‖_∞ (issue 11: α/4 beat α), hence the long lower end.
ALPHA_GRID_EXPONENTS = np.arange(0, -8, -1)
DEFAULT_FOLDS = 5
SCORES = ("squared_error", "likelihood", "post_activation")


def check_seed(seed):
    """An int >= 0 or a ``numpy.random.Generator``; returns a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int("cv_seed", seed, low=0))


def check_folds(folds, n: int) -> int:
    """2 <= folds <= n: every part holds out at least one row and trains on at least one."""
    if n < 2:
        raise ValueError(f"cross-validation needs at least 2 rows of X_tilde, got {n}")
    return check_int("cv_folds", folds, low=2, high=n)


def alpha_grid(Y, grid=None) -> np.ndarray:
    """The α candidates: ``grid`` (positive, finite, distinct) or ``max|Y| · 2^(0…−7)``."""
    if grid is None:
        scale = float(np.abs(Y).max())
        if scale == 0.0:
            raise ValueError("cv_grid: the default α grid is relative to max|Y|, which is 0; "
                             "give cv_grid explicitly")
        return scale * 2.0 ** ALPHA_GRID_EXPONENTS
    grid = check_vector("cv_grid", grid)
    if grid.size == 0 or np.any(grid <= 0):
        raise ValueError(f"cv_grid must be a non-empty list of α > 0, got {grid.tolist()}")
    if np.unique(grid).size != grid.size:
        raise ValueError(f"cv_grid must not repeat a value, got {grid.tolist()}")
    return grid


def rank_grid(grid, max_rank: int, default=None) -> list[int]:
    """The rank candidates: ``grid`` (distinct ints in [1, max_rank]) or ``default``."""
    if grid is None:
        return list(default)
    if isinstance(grid, (str, bytes)) or not hasattr(grid, "__len__") or len(grid) == 0:
        raise ValueError(f"cv_rank_grid must be a non-empty list of ranks, got {grid!r}")
    ranks = [check_int("cv_rank_grid entry", k, low=1, high=max_rank) for k in grid]
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"cv_rank_grid must not repeat a rank, got {ranks}")
    return ranks


def powers_of_two(max_rank: int) -> list[int]:
    """1, 2, 4, … up to max_rank (the default rank grid of the iterative estimators)."""
    out, k = [], 1
    while k <= max_rank:
        out.append(k)
        k *= 2
    return out


def fold_indices(n: int, folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The held-out rows of each part: a random permutation cut into nearly equal parts."""
    return np.array_split(rng.permutation(n), folds)


def squared_error(pred, Y_test, sigma=None) -> float:
    return float(np.sum((pred - Y_test) ** 2))


def post_activation_error(pred, Y_test, sigma=None) -> float:
    return float(np.sum((np.maximum(pred, 0.0) - Y_test) ** 2))


def tobit_nll(pred, Y_test, sigma) -> float:
    """Tobit negative log-likelihood with its constants, so that sums over parts compare."""
    positive = Y_test > 0
    r = (Y_test[positive] - pred[positive]) / sigma
    return float(0.5 * r @ r + positive.sum() * np.log(sigma * np.sqrt(2 * np.pi))
                 - np.sum(log_ndtr(-pred[~positive] / sigma)))


SCORE_FUNCTIONS = {"squared_error": squared_error, "likelihood": tobit_nll,
                   "post_activation": post_activation_error}
#: Scores that are squares in the units of Y: computed on Y divided by a power of two when
#: max|Y| is outside linalg.SCALE_RANGE (at max|Y| = 1e200 every squared error was inf and
#: the first candidate won; at 1e-200 every one was 0), and reported scaled back. The
#: likelihood is in units of σ already.
SQUARED_SCORES = ("squared_error", "post_activation")


def cross_validate(fit, X_tilde, Y, candidates, *, folds, seed, score="squared_error",
                   sigma=None) -> dict:
    """Score every candidate by K-fold cross-validation over the rows of (X̃, Y).

    Parameters
    ----------
    fit : callable
        ``fit(X_train, Y_train, candidate) -> W_hat`` (d, N).
    X_tilde, Y : arrays of shape (n, d), (n, N)
        Already validated.
    candidates : sequence
        The grid; each element is passed to ``fit`` as is.
    folds : int
        Number of parts (validated against n).
    seed : int or numpy.random.Generator
        Draws the permutation of the rows.
    score : {"squared_error", "likelihood", "post_activation"}
        Held-out score (module docstring); "likelihood" needs ``sigma``.

    Returns
    -------
    dict
        ``best`` (the chosen candidate), ``best_index``, ``curve`` (mean held-out score per
        candidate), ``fold_scores`` (array (folds, candidates), sums per part), ``folds``,
        ``identifiable``, ``uninformative`` (identifiable and Y in col(X̃): the loosest
        candidate always wins, module docstring).
    """
    n, d = X_tilde.shape
    parts = fold_indices(n, check_folds(folds, n), check_seed(seed))
    score_fn = SCORE_FUNCTIONS[score]
    # Y's units divided by 2^e in the squared scores and the norms below (0: none).
    exponent = scale_exponent(Y)
    squared = score in SQUARED_SCORES and exponent != 0
    fold_scores = np.empty((len(parts), len(candidates)))
    identifiable = True
    for i, test in enumerate(parts):
        train = np.setdiff1d(np.arange(n), test, assume_unique=True)
        X_train, Y_train = X_tilde[train], Y[train]
        identifiable &= bool(np.linalg.matrix_rank(X_train) == d)
        Y_test = np.ldexp(Y[test], -exponent) if squared else Y[test]
        for j, candidate in enumerate(candidates):
            W = fit(X_train, Y_train, candidate)
            prediction = X_tilde[test] @ W
            if squared:
                prediction = np.ldexp(prediction, -exponent)
            fold_scores[i, j] = score_fn(prediction, Y_test, sigma)
    curve = fold_scores.sum(axis=0) / Y.size
    best = int(np.argmin(curve))  # argmin returns the first minimum: ties go to the grid's order
    if squared:  # back to the caller's units (inf or 0 where they cannot hold the values)
        with np.errstate(over="ignore", under="ignore"):
            curve = np.ldexp(curve, 2 * exponent)
            fold_scores = np.ldexp(fold_scores, 2 * exponent)
    uninformative = False
    if identifiable:  # then n > d, and X̃ has full column rank: Q is a basis of col(X̃)
        Q = np.linalg.qr(X_tilde)[0]
        Y_unit = np.ldexp(Y, -exponent) if exponent else Y
        uninformative = bool(np.linalg.norm(Y_unit - Q @ (Q.T @ Y_unit))
                             <= 1e-8 * np.linalg.norm(Y_unit))
    return {"best": candidates[best], "best_index": best, "curve": curve,
            "fold_scores": fold_scores, "folds": len(parts), "identifiable": identifiable,
            "uninformative": uninformative}


def summary(result: dict, grid_name: str, grid) -> dict:
    """The CV facts that go into an estimator's info: scalars plus the curve as JSON text (so
    that they fit a results row)."""
    values = [c if not isinstance(c, tuple) else list(c) for c in grid]
    return {"cv_folds": result["folds"], "cv_identifiable": result["identifiable"],
            "cv_uninformative": result["uninformative"],
            f"cv_{grid_name}": json.dumps(_plain(values)),
            "cv_curve": json.dumps([float(c) for c in result["curve"]])}


def _plain(values):
    if isinstance(values, list):
        return [_plain(v) for v in values]
    if isinstance(values, numbers.Integral):
        return int(values)
    return float(values)


def is_cv(value) -> bool:
    return isinstance(value, str) and value == "cv"


def check_alpha_or_cv(value, name: str = "alpha"):
    if isinstance(value, str):
        if not is_cv(value):
            raise ValueError(f"{name} must be a real number > 0 or 'cv', got {value!r}")
        return value
    return check_real(name, value, low=0.0, low_open=True)


def check_rank_or_cv(value, max_rank: int, name: str = "rank"):
    if isinstance(value, str):
        if not is_cv(value):
            raise ValueError(f"{name} must be an integer in [1, {max_rank}] or 'cv', got {value!r}")
        return value
    return check_int(name, value, low=1, high=max_rank)


# Plug-in settings shared by ConvexLinear, ReluMLE and DataSVD.

#: The cross-validation facts a plug-in passes on to its results row.
CV_KEYS = ("cv_folds", "cv_identifiable", "cv_uninformative", "cv_grid", "cv_curve",
           "cv_not_converged")


def check_alpha_rank(alpha, alpha_scale, rank, rank_scale):
    """Validate a plug-in's α, α scale, rank and rank scale (rank against the data at the
    call)."""
    if alpha is not None:
        alpha = check_alpha_or_cv(alpha, "alpha")
    alpha_scale = check_real("alpha_scale", alpha_scale, low=0.0, low_open=True)
    if is_cv(alpha) and alpha_scale != 1.0:
        raise ValueError(f"alpha_scale must be 1 with alpha: cv (it scales a given or "
                         f"the generator's α), got {alpha_scale}")
    if rank is not None:
        rank = check_rank_or_cv(rank, max_rank=np.iinfo(np.int64).max, name="rank")
    rank_scale = check_real("rank_scale", rank_scale, low=0.0, low_open=True)
    if rank is not None and rank_scale != 1.0:
        raise ValueError(f"rank_scale must be 1 when rank is set (it scales the run's "
                         f"r), got {rank_scale}")
    return alpha, alpha_scale, rank, rank_scale


def resolve_rank(r: int, rank, rank_scale: float):
    """The rank to pass on: the configured one (a number or ``"cv"``), else round(scale · r),
    at least 1."""
    return rank if rank is not None else max(1, int(round(rank_scale * r)))


def check_cv_options(grid, rank_grid, folds, seed, tol) -> dict:
    """Validate what can be validated without the data (the rest is checked at the call)."""
    if grid is not None:
        grid = [float(a) for a in alpha_grid(None, grid)] if not isinstance(grid, str) else grid
    if rank_grid is not None:
        rank_grid = rank_grid(list(rank_grid) if not isinstance(rank_grid, str) else rank_grid,
                                 max_rank=np.iinfo(np.int64).max)
    folds = check_int("cv_folds", folds, low=2)
    seed = check_int("cv_seed", seed, low=0)
    if tol is not None:
        tol = check_real("cv_tol", tol, low=0.0, high=1.0, low_open=True)
    return {"cv_grid": grid, "cv_rank_grid": rank_grid, "cv_folds": folds, "cv_seed": seed,
            "cv_tol": tol}


def resolve_alpha(problem: Problem, alpha, alpha_scale: float, name: str):
    """The α to pass on: ``"cv"``, or ``alpha_scale`` × (the configured or the generator's α)."""
    if is_cv(alpha):
        return alpha
    if alpha is None:
        alpha = problem.meta.get("alpha")
        if alpha is None:
            raise ValueError(f"{name}.alpha must be set: the model records no meta.alpha (use "
                             "a generator that records it or give alpha in the config)")
    return alpha_scale * alpha
