"""Estimators of the compressed weight Ŵ (d, N): plain functions plus Hydra plug-ins.

Plain functions: :func:`weight_svd`, :func:`data_svd`. Plug-in classes (named in
``conf/estimator/*.yaml``) wrap them for sweeps.

A config's ``_target_: theory_check.estimators.<Name>`` finds ``<Name>`` in whichever module of
this package defines it (:func:`__getattr__`): a new estimator module needs no export here.
"""

import importlib
import pkgutil

from .base import Estimate, Estimator
from .svd import DataSVD, WeightSVD, data_svd, weight_svd
from .convex import ConvexLinear, convex_linear

__all__ = ["Estimate", "Estimator", "DataSVD", "WeightSVD", "data_svd", "weight_svd"]
__all__ += ["ConvexLinear", "convex_linear"]
from .relu import ReluEM, ReluMLE, ReluNonconvex, relu_em, relu_mle, relu_nonconvex

__all__ += ["ReluEM", "ReluMLE", "ReluNonconvex", "relu_em", "relu_mle", "relu_nonconvex"]


def __getattr__(name: str):
    """The class or function ``name`` defined in a module of this package (PEP 562: called
    only for names not exported above). Names imported into a module from elsewhere do not
    count, so ``np`` is not found; a name two modules define is an error naming both."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        obj = vars(module).get(name)
        if obj is not None and getattr(obj, "__module__", None) == module.__name__:
            found[module.__name__] = obj
    if len(found) > 1:
        raise AttributeError(f"{__name__}.{name} is defined in {sorted(found)}: name its module "
                             f"in the _target_ (e.g. {sorted(found)[0]}.{name})")
    if not found:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} (no module of "
                             f"theory_check/estimators/ defines it)")
    (obj,) = found.values()
    globals()[name] = obj  # found once per process
    return obj
