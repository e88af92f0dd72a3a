"""Plug-ins that fail on purpose, for ``tests/test_sweeps.py``.

The tests put this folder on ``PYTHONPATH`` and select them by ``_target_`` on the command line,
so the package's estimators and designs stay free of test-only entries.
"""

from theory_check.estimators.base import Estimator
from theory_check.validation import check_int


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
