"""Error measures of an estimate, shared by the runs and the whole-network experiments."""

from __future__ import annotations

import numpy as np


def mse(Z_hat: np.ndarray, Z: np.ndarray) -> float:
    """Mean squared entry error ``‖Ẑ − Z‖_F² / size(Z)`` (``‖Ẑ − Z‖_F²/(nN)`` for (n, N) arrays)."""
    return float(np.linalg.norm(Z_hat - Z) ** 2 / Z.size)


def relu_mse(Z_hat: np.ndarray, Z: np.ndarray) -> float:
    """The MSE after the activation: ``‖ReLU(Ẑ) − ReLU(Z)‖_F² / size(Z)``."""
    return mse(np.maximum(Z_hat, 0.0), np.maximum(Z, 0.0))
