"""Estimators of the compressed weight Ŵ (d, N): plain functions plus Hydra plug-ins.

Plain functions: :func:`weight_svd`, :func:`data_svd`. Plug-in classes (named in
``conf/estimator/*.yaml``) wrap them for sweeps.
"""

from .base import Estimate, Estimator
from .svd import DataSVD, WeightSVD, data_svd, weight_svd
from .convex import ConvexLinear, convex_linear

__all__ = ["Estimate", "Estimator", "DataSVD", "WeightSVD", "data_svd", "weight_svd"]
__all__ += ["ConvexLinear", "convex_linear"]
from .relu import ReluEM, ReluMLE, ReluNonconvex, relu_em, relu_mle, relu_nonconvex

__all__ += ["ReluEM", "ReluMLE", "ReluNonconvex", "relu_em", "relu_mle", "relu_nonconvex"]
