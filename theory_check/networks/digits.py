"""A small ReLU MLP trained on scikit-learn's offline ``load_digits``, compressed layer by layer."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from ..metrics import mse
from ..validation import check_int, check_matrix, check_real
from .sequential import Layer, compress_sequential, parameter_fraction, preactivations, resolve_target


def split_digits(rng: np.random.Generator, *, calib_fraction: float = 0.2, test_fraction: float = 0.2):
    """The 1797 8×8 digit images (pixels scaled to [0, 1]) split at random into three parts.

    Parameters
    ----------
    rng : numpy.random.Generator
    calib_fraction, test_fraction : float
        Shares of the calibration and test parts; the rest is the training part.

    Returns
    -------
    splits : dict
        ``{"train" | "calibration" | "test": (X (n_part, 64), y (n_part,))}``.
    """
    calib_fraction = check_real("calib_fraction", calib_fraction, low=0.0, low_open=True, high=1.0)
    test_fraction = check_real("test_fraction", test_fraction, low=0.0, low_open=True, high=1.0)
    if calib_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"calib_fraction + test_fraction must be < 1 to leave training data, got "
            f"{calib_fraction} + {test_fraction}"
        )
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    order = rng.permutation(len(y))
    n_calib = int(round(calib_fraction * len(y)))
    n_test = int(round(test_fraction * len(y)))
    parts = {
        "calibration": order[:n_calib],
        "test": order[n_calib : n_calib + n_test],
        "train": order[n_calib + n_test :],
    }
    return {name: (X[idx], y[idx]) for name, idx in parts.items()}


def train_mlp(X, y, *, hidden, seed: int, max_iter: int = 60, alpha: float = 1e-4):
    """Train a ReLU ``MLPClassifier`` (Adam, seeded) and return its layers.

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of shape (n,)
    hidden : sequence of int
        Hidden widths, e.g. ``(256, 256, 256)``.
    seed : int
        ``random_state`` of the initialisation and of the mini-batch order.
    max_iter : int
        Epochs; stopping early only costs a little accuracy, so convergence warnings are muted.
    alpha : float
        L2 penalty.

    Returns
    -------
    layers : list of (ndarray (d_l, N_l), ndarray (N_l,))
        Weights and biases, ReLU between layers; the last layer gives the class scores.
    classes : ndarray of shape (n_classes,)
        Label of each output column.
    """
    X = check_matrix("X", X)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    hidden = tuple(check_int("hidden width", h, low=1) for h in hidden)
    model = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", alpha=alpha,
                          max_iter=check_int("max_iter", max_iter, low=1), random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return [(W.copy(), b.copy()) for W, b in zip(model.coefs_, model.intercepts_)], model.classes_


def accuracy(layers, classes, X, y) -> float:
    """Share of rows of ``X`` (n, d_1) whose largest network output is the label ``y`` (n,)."""
    scores = preactivations(layers, X)[-1]
    return float(np.mean(np.asarray(classes)[np.argmax(scores, axis=1)] == np.asarray(y)))


def energy_rank(M, energy: float = 0.9) -> int:
    """Smallest k with ``Σ_{i<=k} s_i² >= energy · ‖M‖_F²`` (s the singular values of M (m, p))."""
    M = check_matrix("M", M)
    energy = check_real("energy", energy, low=0.0, low_open=True, high=1.0)
    s2 = np.linalg.svd(M, compute_uv=False) ** 2
    # The tolerance keeps energy = 1 from failing on rounding of the cumulative sum.
    return int(np.searchsorted(np.cumsum(s2), energy * s2.sum() * (1 - 1e-12)) + 1)


def effective_rank(M) -> float:
    """``r_eff(M) = ‖M‖_*² / (‖M‖_∞² m p)`` of Definition 4.1, for ``M`` of shape (m, p).

    ``1/(mp) <= r_eff <= rank(M)``; it is large only when M's energy is spread over many
    directions *and* over many entries.
    """
    M = check_matrix("M", M)
    m, p = M.shape
    peak = np.max(np.abs(M))
    if peak == 0:
        return 0.0
    nuclear = np.linalg.svd(M, compute_uv=False).sum()
    return float(nuclear**2 / (peak**2 * m * p))


def spectra(layers: list[Layer], X) -> list[dict]:
    """Per layer: 90%-energy rank and effective rank of the weight and of the pre-activations.

    Parameters
    ----------
    layers : list of (W (d_l, N_l), b (N_l,))
    X : array of shape (n, d_1)
        Inputs on which the pre-activations ``Z_l = X_l W_l + b_l`` (n, N_l) are taken.

    Returns
    -------
    rows : list of dict
        ``layer``, ``d``, ``N``, ``n``, ``weight_energy90``, ``weight_r_eff``,
        ``preact_energy90``, ``preact_r_eff`` and ``preact_centered_energy90`` (of ``Z_l`` minus
        its column means: the rank left once the bias-like mean row is set aside).
    """
    Z = preactivations(layers, X)
    rows = []
    for l, ((W, _), Z_l) in enumerate(zip(layers, Z), start=1):
        rows.append({
            "layer": l, "d": W.shape[0], "N": W.shape[1], "n": Z_l.shape[0],
            "weight_energy90": energy_rank(W), "weight_r_eff": effective_rank(W),
            "preact_energy90": energy_rank(Z_l), "preact_r_eff": effective_rank(Z_l),
            "preact_centered_energy90": energy_rank(Z_l - Z_l.mean(axis=0)),
        })
    return rows


def evaluate_ranks(layers: list[Layer], classes, splits, ranks, estimators) -> tuple[list[dict], list[dict]]:
    """Compress every hidden layer at each rank with each estimator; score on the test part.

    Parameters
    ----------
    layers : list of (W (d_l, N_l), b (N_l,))
        The trained network; its last layer (the class scores) is kept uncompressed.
    classes : ndarray of shape (n_classes,)
    splits : dict
        From :func:`split_digits`; the calibration part feeds the compression.
    ranks : sequence of int
        Ranks r; hidden layer l gets ``min(r, d_l, N_l)``.
    estimators : mapping
        ``{label: {"_target_": estimator, **options}}`` (or ``"name"``, a short name) as in
        :func:`~theory_check.networks.synthetic.evaluate`.

    Returns
    -------
    accuracy_rows : list of dict
        ``estimator`` (the label), ``rank``, ``param_fraction``, ``accuracy``; the uncompressed network as
        estimator ``"original"`` with fraction 1.
    layer_rows : list of dict
        ``estimator``, ``rank``, ``param_fraction``, ``layer``, ``mse`` = ‖Ẑ_l − Z_l‖_F² / (nN)
        and ``rel_error`` = ‖Ẑ_l − Z_l‖_F / ‖Z_l‖_F of the test pre-activations against the
        original network's (the last, uncompressed layer included).
    """
    X_cal, _ = splits["calibration"]
    X_test, y_test = splits["test"]
    Z_test = preactivations(layers, X_test)
    acc_rows = [{"estimator": "original", "rank": max(min(W.shape) for W, _ in layers[:-1]),
                 "param_fraction": 1.0, "accuracy": accuracy(layers, classes, X_test, y_test)}]
    layer_rows = []
    for rank in ranks:
        per_layer = [min(rank, *W.shape) for W, _ in layers[:-1]]
        fraction = parameter_fraction(layers, per_layer, compress_last=False)
        for name, spec in estimators.items():
            estimator, options = resolve_target(spec)
            compressed, diagnostics = compress_sequential(
                layers, X_cal, per_layer, estimator, estimator_params=options,
                compress_last=False)
            acc_rows.append({"estimator": name, "rank": rank, "param_fraction": fraction,
                             "accuracy": accuracy(compressed, classes, X_test, y_test),
                             "converged": all(d["converged"] for d in diagnostics)})
            for l, (Z_hat, Z) in enumerate(zip(preactivations(compressed, X_test), Z_test), start=1):
                err = np.linalg.norm(Z_hat - Z)
                layer_rows.append({"estimator": name, "rank": rank, "param_fraction": fraction,
                                   "layer": l, "mse": mse(Z_hat, Z),
                                   "rel_error": err / np.linalg.norm(Z)})
    return acc_rows, layer_rows
