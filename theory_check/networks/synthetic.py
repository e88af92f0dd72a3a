"""A synthetic deep ReLU network with rank-r ground truth and a noisy pretrained copy (Model S per layer).

Ground truth: ``Z*_l = X*_l W*_l + b*_l``, ``X*_{l+1} = ReLU(Z*_l)``, ``W*_l`` of rank r (or
approximately rank r: r unit singular values and a flat tail), each layer scaled so that ``Z*_l``
has unit root-mean-square entry on the calibration inputs and its biases centring every neuron
(plus a small random offset), as batch normalisation does in trained networks.
Pretrained network: each layer is Model S on the ground-truth inputs,
``[W_l; b_l] = [X*_l, 1]⁺ (Z*_l + G_l)`` with ``G_l`` i.i.d. N(0, σ²), so the pretrained
pre-activations on the calibration set are ``P (Z*_l + G_l)`` (P the projection on the columns of
``[X*_l, 1]``) and the pretrained weight is ``W*`` plus noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import designs
from ..linalg import lstsq
from ..metrics import mse
from ..validation import check_choice, check_int, check_rank, check_real
from .sequential import Layer, compress_sequential, preactivations, resolve_target

DESIGNS = ("isotropic", "condition_number", "power_law")


#: Mean square of the ground truth's centred pre-activations at every layer (unit RMS), so σ is a
#: noise-to-signal ratio, and a network whose error exceeds it is no longer a useful target.
SIGNAL_MS = 1.0
#: The estimator label of the uncompressed pretrained network in :func:`evaluate`'s rows.
PRETRAINED = "pretrained"

@dataclass(frozen=True)
class SyntheticNetwork:
    """Ground truth and pretrained network with their inputs.

    Attributes
    ----------
    truth, pretrained : list of (ndarray (d_l, N_l), ndarray (N_l,))
    X_calib : ndarray of shape (n_calib, d_in)
        Inputs on which the pretrained network was fitted and on which it is compressed.
    X_test : ndarray of shape (n_test, d_in)
        Held-out inputs from the same design.
    """

    truth: list[Layer]
    pretrained: list[Layer]
    X_calib: np.ndarray
    X_test: np.ndarray


def make_network(
    rng: np.random.Generator,
    *,
    L: int,
    d_in: int,
    width: int,
    r: int,
    sigma: float,
    n_calib: int,
    n_test: int,
    design: str = "isotropic",
    design_params: dict | None = None,
    tail: float = 0.0,
    bias_scale: float = 0.1,
) -> SyntheticNetwork:
    """Draw an ``L``-layer ReLU network ``d_in → width → … → width`` and its noisy pretrained copy.

    Parameters
    ----------
    rng : numpy.random.Generator
    L : int
        Number of layers, ``>= 1``.
    d_in, width : int
        Input width and width of every layer's output.
    r : int
        Number of unit singular values of every ground-truth weight,
        ``1 <= r <= min(d_in, width)``.
    sigma : float
        Noise standard deviation of the pretrained pre-activations (the truth's are of unit
        root-mean-square), ``>= 0``.
    n_calib, n_test : int
        Calibration and held-out samples; ``n_calib > max(d_in, width)`` so that every
        pretrained weight is determined by its least-squares fit.
    design : {"isotropic", "condition_number", "power_law"} or callable
        Design of the network inputs, ``design(rng, n, d, **design_params)`` or the name of one
        of ``theory_check.designs``; calibration and test rows are
        drawn together and split, so that both come from one distribution.
    design_params : dict, optional
        Keyword parameters of the design.
    tail : float
        The other singular values of the ground-truth weights before scaling, in ``[0, 1]``:
        0 for exactly rank-r weights, > 0 for approximately rank-r ones.
    bias_scale : float
        Standard deviation of the random offset of the ground-truth biases, ``>= 0``.

    Returns
    -------
    SyntheticNetwork
    """
    L = check_int("L", L, low=1)
    d_in = check_int("d_in", d_in, low=1)
    width = check_int("width", width, low=1)
    r = check_rank(r, max_rank=min(d_in, width), name="r")
    sigma = check_real("sigma", sigma, low=0.0)
    n_test = check_int("n_test", n_test, low=1)
    n_calib = check_int("n_calib", n_calib, low=max(d_in, width) + 1)
    draw = design if callable(design) else getattr(designs, check_choice("design", design, DESIGNS))
    tail = check_real("tail", tail, low=0.0, high=1.0)
    bias_scale = check_real("bias_scale", bias_scale, low=0.0)

    X_all = draw(rng, n_calib + n_test, d_in, **(design_params or {}))
    X_all = X_all[rng.permutation(n_calib + n_test)]
    X_calib, X_test = X_all[:n_calib], X_all[n_calib:]

    truth, pretrained = [], []
    X = X_calib
    ones = np.ones((n_calib, 1))
    for _ in range(L):
        d = X.shape[1]
        k = min(d, width)
        U, _ = np.linalg.qr(rng.standard_normal((d, k)))
        V, _ = np.linalg.qr(rng.standard_normal((width, k)))
        s = np.where(np.arange(k) < r, 1.0, tail)
        W_star = (U * s) @ V.T
        Z_star = X @ W_star
        # Centred neurons (each active on about half the inputs) keep the activations of deep
        # layers well conditioned: uncentred ones drift into always-on or dead units whose tiny
        # singular values blow the least-squares noise X⁺G up. Unit RMS pre-activations at every
        # depth keep σ a fixed noise-to-signal ratio.
        Z_star -= Z_star.mean(axis=0)
        scale = np.sqrt(np.mean(Z_star**2) / SIGNAL_MS)
        W_star /= scale
        b_star = -(X @ W_star).mean(axis=0) + bias_scale * rng.standard_normal(width)
        Z_star = X @ W_star + b_star
        G = sigma * rng.standard_normal(Z_star.shape)
        W_aug = lstsq(np.hstack([X, ones]), Z_star + G)
        truth.append((W_star, b_star))
        pretrained.append((W_aug[:-1], W_aug[-1]))
        X = np.maximum(Z_star, 0.0)
    return SyntheticNetwork(truth=truth, pretrained=pretrained, X_calib=X_calib, X_test=X_test)


def evaluate(net: SyntheticNetwork, estimators, rank: int) -> list[dict]:
    """Per-layer errors of the pretrained network and of each sequentially compressed network.

    Every layer of the pretrained network is compressed to ``rank``; the errors are measured
    against the ground-truth network on the calibration and on the held-out inputs.

    Parameters
    ----------
    net : SyntheticNetwork
    estimators : mapping
        ``{label: {"_target_": estimator, **options}}`` (or ``"name"``, a short name): the estimator (name or callable) and the
        ``estimator_params`` of :func:`~theory_check.networks.compress_sequential`.
    rank : int

    Returns
    -------
    rows : list of dict
        One per (network, split, layer): ``estimator`` (the label; "pretrained" for the
        uncompressed network), ``split`` ("calibration" or "test"), ``layer``, ``mse`` = ‖Ẑ_l − Z*_l‖_F² / (nN)
        against the ground-truth network's pre-activations (errors of upstream layers included),
        ``rel_error`` = ‖Ẑ_l − Z*_l‖_F / ‖Z*_l‖_F, ``converged`` (every layer's solve certified),
        ``mse_local`` = ‖[X̃_l, 1]([Ŵ_l; b̂_l] −
        [W*_l; b*_l])‖_F² / (nN), the one-layer metric of the theorems on the network's own
        inputs ``X̃_l``, and ``mse_pretrained`` = ‖Ẑ_l − Z_l‖_F² / (nN) against the pretrained
        network's pre-activations ``Z_l`` (the compression error proper).
    """
    networks = {PRETRAINED: net.pretrained}
    converged = {PRETRAINED: True}
    for label, spec in estimators.items():
        estimator, options = resolve_target(spec)
        networks[label], diagnostics = compress_sequential(
            net.pretrained, net.X_calib, rank, estimator, estimator_params=options)
        converged[label] = all(d["converged"] for d in diagnostics)
    rows = []
    for split, X in (("calibration", net.X_calib), ("test", net.X_test)):
        Z_star = preactivations(net.truth, X)
        Z_pre = preactivations(net.pretrained, X)
        for name, layers in networks.items():
            Z_hat = preactivations(layers, X)
            X_tilde = X
            for l, ((W, b), (W_star, b_star)) in enumerate(zip(layers, net.truth), start=1):
                n, N = Z_hat[l - 1].shape
                err = np.linalg.norm(Z_hat[l - 1] - Z_star[l - 1])
                rows.append({
                    "estimator": name, "split": split, "layer": l, "n": n, "N": N,
                    "converged": converged[name],
                    "mse": mse(Z_hat[l - 1], Z_star[l - 1]),
                    "rel_error": err / np.linalg.norm(Z_star[l - 1]),
                    "mse_pretrained": mse(Z_hat[l - 1], Z_pre[l - 1]),
                    "mse_local": mse(X_tilde @ W + b, X_tilde @ W_star + b_star),
                })
                X_tilde = np.maximum(Z_hat[l - 1], 0.0)
    return rows
