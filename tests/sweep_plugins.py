"""Plug-ins for the tests: ones that fail on purpose (``tests/test_sweeps.py``), and a model
declaring a rate and a metric of its own (``tests/test_run.py``).

The tests put this folder on ``PYTHONPATH`` and select them by ``_target_`` on the command line,
so the package's estimators and designs stay free of test-only entries.
"""

import dataclasses

import numpy as np

from theory_check.estimators.base import Estimator
from theory_check.models import strong
from theory_check.validation import check_int, check_real


class AlwaysFails(Estimator):
    """An estimator whose every call raises."""

    name = "always_fails"

    def __call__(self, problem, r):
        raise RuntimeError("this estimator always fails")


def failing_design(rng, n, d):
    """A design that passes validation and fails after its first draw: a runtime failure."""
    check_int("n", n, low=1)
    check_int("d", d, low=1)
    rng.standard_normal(1)
    raise FloatingPointError("the design broke down")


def declared_model(rng, **kwargs):
    """Model S with one more rate column and one more error metric, declared on its problem."""
    problem = strong.generate(rng, **kwargs)
    return dataclasses.replace(
        problem, rates={**problem.rates, "rate_custom": 0.125},
        metrics={"max_error": lambda Z_hat, Z: float(np.abs(Z_hat - Z).max())})


def scaled_design(rng, n, d, scale=1.0):
    """An isotropic design times ``scale``; it names its parameter as a library function does."""
    check_int("n", n, low=1)
    check_int("d", d, low=1)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    return scale * rng.standard_normal((n, d))
