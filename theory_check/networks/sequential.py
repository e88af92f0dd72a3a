"""Sequential low-rank compression of a stack of ReLU layers (the paper's X̃ ≠ X setting).

Layer ``l`` of the compressed network sees inputs ``X̃_l`` produced by the layers already
compressed, while its target is the original network's pre-activations ``Y_l = X_l W_l + b_l``
computed from the original inputs ``X_l``. Biases are carried by appending a column of ones:
the estimator receives ``X̃ = [X̃_l, 1]`` (n, d + 1), ``X = [X_l, 1]``, the augmented weight
``W_aug = [[W_l], [b_l]]`` (d + 1, N) and ``Y = X W_aug`` (n, N), and returns an augmented
estimate whose last row is the compressed layer's own bias.

An estimator is a callable ``(X_tilde, X, W_aug, Y, rank, **params) -> W_hat_aug`` (or
``(W_hat_aug, info)`` with the solver's ``converged`` and ``certificate``); one that fits the
activations ReLU(Y) says so with an attribute ``fits_activations = True``. The network configs
(``conf/network/*.yaml``) name them by ``_target_``, as every other plug-in; the ``*_layer``
functions here wrap the package's estimators, and :data:`ESTIMATORS` gives them short names for
calls from Python.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence

import numpy as np
from hydra.utils import get_method

from ..estimators import convex_linear, data_svd, relu_mle, relu_nonconvex, weight_svd
from ..metrics import mse
from ..validation import check_int, check_matrix

Layer = tuple[np.ndarray, np.ndarray]


def weight_svd_layer(X_tilde, X, W_aug, Y, rank):
    # The data-agnostic baseline [W]_r: the weight block is truncated, the bias kept as is,
    # which is how the baseline is used in practice (and never hurts it).
    W, b = W_aug[:-1], W_aug[-1:]
    return np.vstack([weight_svd(W, min(rank, min(W.shape))), b])


def _centred(X_tilde, Y):
    # For any weight W' the best free bias is the column mean of the residual, so fitting the
    # centred X̃_l and Y removes the bias exactly and the rank budget is spent on the weight
    # alone (the storage r(d + N) + N of the result).
    X_l = X_tilde[:, :-1]
    x_mean, y_mean = X_l.mean(axis=0), Y.mean(axis=0)
    return X_l - x_mean, Y - y_mean, lambda W_hat: np.vstack([W_hat, (y_mean - x_mean @ W_hat)[None, :]])


def data_svd_layer(X_tilde, X, W_aug, Y, rank, *, rcond=None):
    # min over rank(W') <= r and a free bias b' of ‖X̃_l W' + 1 b'ᵀ − Y‖_F.
    X_c, Y_c, with_bias = _centred(X_tilde, Y)
    return with_bias(data_svd(X_c, Y_c, rank, rcond=rcond))


def convex_linear_layer(X_tilde, X, W_aug, Y, rank, *, alpha=None, **solver_options):
    # Theorem 4.4's estimator on the centred pre-activations. α defaults to their largest
    # entry, the tightest entry bound the target itself satisfies.
    X_c, Y_c, with_bias = _centred(X_tilde, Y)
    alpha = float(np.abs(Y_c).max()) if alpha is None else alpha
    W_hat, info = convex_linear(X_c, Y_c, alpha=alpha, rank=rank, return_info=True,
                                **solver_options)
    return with_bias(W_hat), info


def _relu_rank(X_tilde, Y, rank):
    # Centring does not commute with ReLU, so the ReLU estimators fit [X̃_l, 1] directly and the
    # bias shares the rank budget (the stored r(d + 1 + N) stays within the counted r(d + N) + N).
    return min(rank, X_tilde.shape[1], Y.shape[1])


def relu_mle_layer(X_tilde, X, W_aug, Y, rank, *, sigma, alpha=None, **solver_options):
    # Theorem 4.9's Tobit estimator fitted to the layer's activations ReLU(Y), which is what the
    # next layer consumes; σ (the noise level assumed around the pre-activations) must be given.
    alpha = float(np.abs(Y).max()) if alpha is None else alpha
    return relu_mle(X_tilde, np.maximum(Y, 0.0), alpha=alpha, rank=_relu_rank(X_tilde, Y, rank),
                    sigma=sigma, return_info=True, **solver_options)


def relu_nonconvex_layer(X_tilde, X, W_aug, Y, rank, **solver_options):
    return relu_nonconvex(X_tilde, np.maximum(Y, 0.0), rank=_relu_rank(X_tilde, Y, rank),
                          return_info=True, **solver_options)


relu_mle_layer.fits_activations = True
relu_nonconvex_layer.fits_activations = True

#: Short names of the layer estimators, for calls from Python:
#: ``fit(X_tilde, X, W_aug, Y, rank, **params) -> W_hat_aug``, all arrays augmented with the
#: ones column / bias row as described in the module docstring; ``params`` are the estimator's
#: options (``data_svd``: ``rcond``; ``convex_linear``: ``alpha``, solver options;
#: ``relu_mle``: ``sigma`` (required), ``alpha``, solver options).
ESTIMATORS: dict[str, Callable] = {
    fit.__name__.removesuffix("_layer"): fit
    for fit in (weight_svd_layer, data_svd_layer, convex_linear_layer, relu_mle_layer,
                relu_nonconvex_layer)
}
#: Estimators that fit activations ReLU(Y): they need a ReLU after the layer.
FIT_ACTIVATIONS = {name for name, fit in ESTIMATORS.items() if getattr(fit, "fits_activations", False)}
_SHORT_NAMES = {fit: name for name, fit in ESTIMATORS.items()}


def resolve_target(spec: dict, what: str = "estimator") -> tuple[Callable | str, dict]:
    """A network config's plug-in entry ``{_target_: <dotted path>, **options}`` (or, from
    Python, ``{name: <short name>, **options}``) as ``(function or name, options)``."""
    spec = dict(spec or {})
    if "_target_" in spec:
        target = spec.pop("_target_")
        try:
            return get_method(target), spec
        except Exception as exc:  # Hydra raises its own error types for unknown targets
            raise ValueError(f"{what} _target_ {target!r} cannot be imported: {exc}") from None
    if "name" in spec:
        return spec.pop("name"), spec
    raise ValueError(f"a {what} entry needs a _target_ (or a name), got {spec}")


def _resolve_estimator(estimator) -> tuple[str, Callable]:
    if callable(estimator):
        return _SHORT_NAMES.get(estimator, getattr(estimator, "__name__", type(estimator).__name__)), estimator
    if isinstance(estimator, str) and estimator in ESTIMATORS:
        return estimator, ESTIMATORS[estimator]
    raise ValueError(
        f"estimator must be a callable (X_tilde, X, W_aug, Y, rank, **params) -> W_hat or one of "
        f"{sorted(ESTIMATORS)}, got {estimator!r}"
    )


def check_layers(layers) -> list[Layer]:
    """Validate a stack of dense layers and return it as float arrays.

    Parameters
    ----------
    layers : sequence of (W, b)
        ``W`` of shape (d_l, N_l), ``b`` of shape (N_l,), with ``d_{l+1} = N_l``.

    Returns
    -------
    layers : list of (ndarray (d_l, N_l), ndarray (N_l,))
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError("layers must be a non-empty sequence of (W, b) pairs")
    checked = []
    for l, layer in enumerate(layers, start=1):
        if not isinstance(layer, Sequence) or len(layer) != 2:
            raise ValueError(f"layer {l}: must be a (W, b) pair")
        W = check_matrix(f"layer {l}: W", layer[0])
        b = np.asarray(layer[1], dtype=float)
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"layer {l}: bias b must have shape ({W.shape[1]},) to match W of shape "
                f"{W.shape}, got shape {b.shape}"
            )
        if not np.all(np.isfinite(b)):
            raise ValueError(f"layer {l}: bias b contains NaN or inf entries")
        if checked and checked[-1][0].shape[1] != W.shape[0]:
            raise ValueError(
                f"layer {l}: input width d = {W.shape[0]} does not match the output width "
                f"N = {checked[-1][0].shape[1]} of layer {l - 1} (shapes do not chain)"
            )
        checked.append((W, b))
    return checked


def preactivations(layers, X) -> list[np.ndarray]:
    """Pre-activations ``Z_l = X_l W_l + b_l`` of every layer, ReLU between layers.

    Parameters
    ----------
    layers : sequence of (W (d_l, N_l), b (N_l,))
        No ReLU follows the last layer.
    X : array of shape (n, d_1)
        Network inputs.

    Returns
    -------
    Z : list of ndarray, ``Z[l]`` of shape (n, N_{l+1}); ``Z[-1]`` is the network's output.
    """
    layers = check_layers(layers)
    X = check_matrix("X", X, cols=layers[0][0].shape[0])
    Z = []
    for W, b in layers:
        Z.append(X @ W + b)
        X = np.maximum(Z[-1], 0.0)
    return Z


def _check_ranks(ranks, layers, compress_last: bool) -> list[int]:
    n_compress = len(layers) if compress_last else len(layers) - 1
    if n_compress == 0:
        raise ValueError("compress_last=False leaves no layer to compress in a one-layer network")
    if isinstance(ranks, (str, bytes)):
        raise ValueError(f"ranks must be an integer or a sequence of integers, got {ranks!r}")
    if np.ndim(ranks) == 1:
        ranks = list(ranks)
        if len(ranks) != n_compress:
            raise ValueError(
                f"ranks has {len(ranks)} entries but {n_compress} layers are to be compressed "
                f"({len(layers)} layers, compress_last={compress_last})"
            )
    elif np.ndim(ranks) == 0:
        ranks = [ranks] * n_compress
    else:
        raise ValueError(f"ranks must be an integer or a 1-D sequence, got shape {np.shape(ranks)}")
    checked = []
    for l, (rank, (W, _)) in enumerate(zip(ranks, layers), start=1):
        width = min(W.shape)
        checked.append(check_int(f"layer {l}: rank", rank, low=1, high=width))
    return checked


def compress_sequential(
    layers,
    X_calib,
    ranks,
    estimator="data_svd",
    *,
    estimator_params: dict | None = None,
    compress_last: bool = True,
) -> tuple[list[Layer], list[dict]]:
    """Compress a ReLU network layer by layer, each layer fitted on the compressed network's inputs.

    For layer ``l`` (1-based) with original inputs ``X_l`` and compressed inputs ``X̃_l`` on the
    calibration set, the estimator receives ``X̃ = [X̃_l, 1]``, ``X = [X_l, 1]`` (n, d_l + 1),
    ``W_aug = [[W_l], [b_l]]`` (d_l + 1, N_l) and ``Y = X W_aug`` (n, N_l), and returns the
    augmented estimate, split into the compressed weight and its own bias.

    Parameters
    ----------
    layers : sequence of (W, b)
        ``W`` of shape (d_l, N_l), ``b`` of shape (N_l,), ``d_{l+1} = N_l``; ReLU between layers,
        none after the last.
    X_calib : array of shape (n, d_1)
        Calibration inputs, ``n >= 1``.
    ranks : int or sequence of int
        One rank for every compressed layer, or one per compressed layer;
        ``1 <= rank_l <= min(d_l, N_l)``.
    estimator : str or callable
        A name in :data:`ESTIMATORS` (``"weight_svd"``, ``"data_svd"``, ``"convex_linear"``,
        ``"relu_mle"``, ``"relu_nonconvex"``; the last two fit ReLU activations and need
        ``compress_last=False``) or a callable
        ``(X_tilde, X, W_aug, Y, rank, **estimator_params) -> W_hat_aug`` (or
        ``(W_hat_aug, info)``) returning shape (d_l + 1, N_l).
    estimator_params : dict, optional
        Keyword options of the estimator, e.g. ``{"rcond": 1e-3}`` for ``"data_svd"`` (singular
        values of the centred ``X̃_l`` below ``rcond · s_max`` are cut, which keeps Ŵ from
        amplifying directions the calibration set barely spans).
    compress_last : bool
        If False the last layer is copied unchanged (``ranks`` then covers the others).

    Returns
    -------
    compressed : list of (ndarray (d_l, N_l), ndarray (N_l,))
        The compressed network, same shapes as ``layers``.
    diagnostics : list of dict
        One per compressed layer: ``layer``, ``d``, ``N``, ``rank``, ``estimator``,
        ``input_mismatch`` = ‖X̃_l − X_l‖_F / ‖X_l‖_F, ``mse`` = ‖X̃ Ŵ − Y‖_F² / (nN) and
        ``rel_error`` = ‖X̃ Ŵ − Y‖_F / ‖Y‖_F on the calibration set,
        ``params`` = min(r(d + N), dN) + N (factored or dense weight, plus bias) against
        ``params_full`` = dN + N, ``wall_time`` in seconds, and the solver's ``converged`` and
        ``certificate`` (True and 0.0 for closed forms).
    """
    layers = check_layers(layers)
    X_calib = check_matrix("layer 1: X_calib", X_calib, cols=layers[0][0].shape[0])
    ranks = _check_ranks(ranks, layers, compress_last)
    name, fit = _resolve_estimator(estimator)
    params = dict(estimator_params or {})
    try:  # options are checked against the estimator's signature before any layer is fitted
        inspect.signature(fit).bind(None, None, None, None, 1, **params)
    except TypeError as exc:
        raise ValueError(f"estimator_params {sorted(params)} do not fit estimator {name!r}: "
                         f"{exc}") from None
    if getattr(fit, "fits_activations", False) and len(ranks) == len(layers):
        raise ValueError(f"layer {len(layers)}: estimator {name!r} fits ReLU activations, but no "
                         "ReLU follows the last layer; use compress_last=False")

    n = X_calib.shape[0]
    ones = np.ones((n, 1))
    X, X_tilde = X_calib, X_calib
    compressed, diagnostics = [], []
    for l, (W, b) in enumerate(layers, start=1):
        d, N = W.shape
        W_aug = np.vstack([W, b[None, :]])
        X_aug = np.hstack([X, ones])
        Y = X_aug @ W_aug
        if l <= len(ranks):
            X_tilde_aug = np.hstack([X_tilde, ones])
            start = time.perf_counter()
            W_hat = fit(X_tilde_aug, X_aug, W_aug, Y, ranks[l - 1], **params)
            info = {}
            if isinstance(W_hat, tuple):
                W_hat, info = W_hat
            W_hat = np.asarray(W_hat, dtype=float)
            wall_time = time.perf_counter() - start
            if W_hat.shape != (d + 1, N) or not np.all(np.isfinite(W_hat)):
                raise ValueError(
                    f"layer {l}: estimator {name!r} must return a finite array of shape "
                    f"{(d + 1, N)}, got shape {W_hat.shape}"
                )
            Z_tilde = X_tilde_aug @ W_hat
            err = np.linalg.norm(Z_tilde - Y)
            y_norm = np.linalg.norm(Y)
            x_norm = np.linalg.norm(X)
            diagnostics.append({
                "layer": l, "d": d, "N": N, "rank": ranks[l - 1], "estimator": name,
                "input_mismatch": np.linalg.norm(X_tilde - X) / x_norm if x_norm > 0 else 0.0,
                "mse": mse(Z_tilde, Y),
                "rel_error": err / y_norm if y_norm > 0 else float(err),
                "params": min(ranks[l - 1] * (d + N), d * N) + N,
                "params_full": d * N + N,
                "wall_time": wall_time,
                "converged": bool(info.get("converged", True)),
                "certificate": float(info.get("certificate", 0.0)),
            })
            W_new, b_new = W_hat[:-1], W_hat[-1]
        else:
            W_new, b_new = W.copy(), b.copy()
            Z_tilde = X_tilde @ W_new + b_new
        compressed.append((W_new, b_new))
        X, X_tilde = np.maximum(Y, 0.0), np.maximum(Z_tilde, 0.0)
    return compressed, diagnostics


def parameter_fraction(layers, ranks, *, compress_last: bool = True) -> float:
    """Fraction of parameters kept when layers are stored as rank-r factors plus a dense bias.

    Parameters
    ----------
    layers : sequence of (W (d_l, N_l), b (N_l,))
    ranks : int or sequence of int
        As in :func:`compress_sequential`.
    compress_last : bool
        As in :func:`compress_sequential`; an uncompressed layer counts in full.

    Returns
    -------
    fraction : float
        ``Σ_l min(r_l(d_l + N_l), d_l N_l) + N_l`` over ``Σ_l d_l N_l + N_l``: a factored layer is
        stored densely when that is smaller.
    """
    layers = check_layers(layers)
    ranks = _check_ranks(ranks, layers, compress_last)
    kept = total = 0
    for l, (W, _) in enumerate(layers, start=1):
        d, N = W.shape
        total += d * N + N
        kept += N + (min(ranks[l - 1] * (d + N), d * N) if l <= len(ranks) else d * N)
    return kept / total
