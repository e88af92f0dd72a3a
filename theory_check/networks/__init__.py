"""Whole networks: sequential low-rank compression of ReLU layer stacks (issue 5).

:func:`compress_sequential` compresses any stack of (W, b) layers layer by layer, each layer fitted
on the compressed network's inputs; :mod:`.synthetic` and :mod:`.digits` are the two experiments,
run by :mod:`.experiment` (``run_synthetic``, ``run_digits``).
"""

from .sequential import ESTIMATORS, check_layers, compress_sequential, parameter_fraction, preactivations
from .synthetic import SyntheticNetwork, evaluate, make_network

__all__ = [
    "ESTIMATORS", "SyntheticNetwork", "check_layers", "compress_sequential", "evaluate",
    "make_network", "parameter_fraction", "preactivations",
]
